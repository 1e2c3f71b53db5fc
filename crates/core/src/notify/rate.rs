//! A per-provider rate limit: a token bucket of `per_second` tokens refilled at `per_second`
//! a second (kept as one "next free slot" instant, the generic cell rate algorithm). A send
//! waits for its token rather than failing, so a burst of notifications is spread out instead
//! of getting the account blocked.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimit {
    /// The time between two sends at the sustained rate.
    interval: Duration,
    /// How far ahead of now the slots may be taken: a full bucket's worth, less one.
    burst: Duration,
    /// When the bucket would be full again if no one took a token meanwhile.
    next: Mutex<Instant>,
}

impl RateLimit {
    /// At most `per_second` sends a second, `per_second` of them at once after a quiet spell.
    /// `per_second` is at least 1.
    pub fn per_second(per_second: u32) -> RateLimit {
        let per_second = per_second.max(1);
        let interval = Duration::from_secs(1) / per_second;
        RateLimit {
            interval,
            burst: interval * (per_second - 1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits until this caller may send.
    pub async fn wait(&self) {
        let now = Instant::now();
        let at = {
            // Held only to reserve a slot, never across the sleep.
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let start = (*next).max(now);
            *next = start + self.interval;
            start.checked_sub(self.burst).unwrap_or(now).max(now)
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A burst of a bucket's worth goes at once; the rest are spread at the sustained rate,
    /// waiting rather than failing.
    #[tokio::test]
    async fn a_burst_waits_for_its_turn() {
        let limit = Arc::new(RateLimit::per_second(20));
        let started = Instant::now();
        for _ in 0..20 {
            limit.wait().await;
        }
        // Generous for a loaded machine: a spread-out burst would take a second.
        assert!(started.elapsed() < Duration::from_millis(300));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let limit = Arc::clone(&limit);
                tokio::spawn(async move { limit.wait().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // Ten more at 20 a second take about half a second.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    }

    #[test]
    fn zero_is_one_a_second() {
        let limit = RateLimit::per_second(0);
        assert_eq!(limit.interval, Duration::from_secs(1));
        assert_eq!(limit.burst, Duration::ZERO);
    }
}
