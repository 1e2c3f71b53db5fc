//! What several `saghat serve` processes share through Redis (`REDIS_URL`): request rate
//! limits, and invalidation messages for the in-process caches (users, fund configuration,
//! revoked sign-ins). Redis is optional and may go away at any time: rate limits then fall back
//! to per-process counters and caches to their short lifetime, and the log says so.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

const RECONNECT_EVERY: Duration = Duration::from_secs(5);
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// KEYS[1] the generation of an area, ARGV[1] its entries' prefix, ARGV[2] the entry: the
/// generation and the entry stored under it (nil when missing).
const CACHED_SCRIPT: &str = "local g = redis.call('GET', KEYS[1]) or '0' \
    return {g, redis.call('GET', ARGV[1] .. g .. ':' .. ARGV[2])}";

pub struct Shared {
    redis: Option<RedisLink>,
    /// Namespace of keys and of the channel instances tell each other what changed on.
    prefix: String,
    limit_per_minute: u32,
    /// Per-process fallback: key → (minute, count).
    local_counts: Mutex<HashMap<String, (u64, u32)>>,
}

struct RedisLink {
    client: redis::Client,
    manager: tokio::sync::Mutex<Option<ConnectionManager>>,
    last_attempt: Mutex<Option<Instant>>,
    up: AtomicBool,
}

impl RedisLink {
    /// A connection, (re)connecting at most every few seconds while Redis is away.
    async fn connection(&self) -> Option<ConnectionManager> {
        let mut manager = self.manager.lock().await;
        if let Some(conn) = manager.as_ref() {
            // After a failure, fall back at once instead of handing out the manager, whose own
            // reconnection attempts made every request wait ~145 ms while Redis was down; one
            // request tries Redis again every RECONNECT_EVERY.
            if self.up.load(Ordering::Relaxed) || self.may_retry() {
                return Some(conn.clone());
            }
            return None;
        }
        if !self.may_retry() {
            return None;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        match self.client.get_connection_manager_with_config(config).await {
            Ok(conn) => {
                *manager = Some(conn.clone());
                Some(conn)
            }
            Err(e) => {
                self.mark(false, &e.to_string());
                None
            }
        }
    }

    /// True at most once every RECONNECT_EVERY since the last attempt or failure.
    fn may_retry(&self) -> bool {
        let mut last = self.last_attempt.lock().expect("mutex");
        if last.is_some_and(|t| t.elapsed() < RECONNECT_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Logs each change between reachable and unreachable once.
    fn mark(&self, up: bool, why: &str) {
        if !up {
            *self.last_attempt.lock().expect("mutex") = Some(Instant::now());
        }
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!(
                    "Redis is reachable again: rate limits and cache invalidation are shared"
                );
            } else {
                tracing::warn!(error = why, "Redis is unreachable: rate limits fall back to this process, caches to their lifetime");
            }
        }
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(REDIS_TIMEOUT * 2, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => {
                self.mark(true, "");
                Some(value)
            }
            Ok(Err(e)) => {
                self.mark(false, &e.to_string());
                None
            }
            Err(_) => {
                self.mark(false, "timed out");
                None
            }
        }
    }
}

/// The outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    Allowed,
    Limited { retry_after_secs: u64 },
}

impl Shared {
    pub fn new(
        redis_url: Option<&str>,
        prefix: &str,
        limit_per_minute: u32,
    ) -> anyhow::Result<Shared> {
        let redis = match redis_url {
            Some(url) => Some(RedisLink {
                client: redis::Client::open(url)
                    .map_err(|e| anyhow::anyhow!("REDIS_URL is invalid: {e}"))?,
                manager: tokio::sync::Mutex::new(None),
                last_attempt: Mutex::new(None),
                up: AtomicBool::new(true),
            }),
            None => None,
        };
        Ok(Shared {
            redis,
            prefix: prefix.to_string(),
            limit_per_minute,
            local_counts: Mutex::new(HashMap::new()),
        })
    }

    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Counts one request for `key` in the current minute, across instances when Redis is up.
    pub async fn allow(&self, key: &str, now_unix: u64) -> Allowance {
        if self.limit_per_minute == 0 {
            return Allowance::Allowed;
        }
        let minute = now_unix / 60;
        let retry_after_secs = 60 - now_unix % 60;
        let shared = match &self.redis {
            Some(link) => {
                let redis_key = format!("{}:rl:{key}:{minute}", self.prefix);
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .incr(&redis_key, 1)
                    .expire(&redis_key, 120)
                    .ignore();
                let mut conn = link.connection().await;
                match conn.as_mut() {
                    Some(conn) => match tokio::time::timeout(
                        REDIS_TIMEOUT * 2,
                        pipe.query_async::<(u32,)>(conn),
                    )
                    .await
                    {
                        Ok(Ok((count,))) => {
                            link.mark(true, "");
                            Some(count)
                        }
                        Ok(Err(e)) => {
                            link.mark(false, &e.to_string());
                            None
                        }
                        Err(_) => {
                            link.mark(false, "timed out");
                            None
                        }
                    },
                    None => None,
                }
            }
            None => None,
        };
        let count = shared.unwrap_or_else(|| self.count_locally(key, minute));
        if count > self.limit_per_minute {
            Allowance::Limited { retry_after_secs }
        } else {
            Allowance::Allowed
        }
    }

    fn count_locally(&self, key: &str, minute: u64) -> u32 {
        let mut counts = self.local_counts.lock().expect("mutex");
        // Forget finished minutes so the map stays as small as the set of active clients.
        if counts.len() > 10_000 || counts.values().next().is_some_and(|(m, _)| *m != minute) {
            counts.retain(|_, (m, _)| *m == minute);
        }
        let entry = counts.entry(key.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1
    }

    /// Tells every instance (including this one, through its subscription) what changed.
    pub async fn publish(&self, message: &str) {
        if let Some(link) = &self.redis {
            let channel = format!("{}:invalidate", self.prefix);
            let _: Option<i64> = link
                .run(redis::cmd("PUBLISH").arg(channel).arg(message))
                .await;
        }
    }

    /// The current generation of the cached `area` and the entry `key` stored under it, in one
    /// round trip (see `platform::response_cache`). `None` without Redis or while it is away.
    pub async fn cached(&self, area: &str, key: &str) -> Option<(u64, Option<String>)> {
        let link = self.redis.as_ref()?;
        let (generation, entry): (String, Option<String>) = link
            .run(
                redis::cmd("EVAL")
                    .arg(CACHED_SCRIPT)
                    .arg(1)
                    .arg(format!("{}:gen:{area}", self.prefix))
                    .arg(format!("{}:rc:{area}:", self.prefix))
                    .arg(key),
            )
            .await?;
        Some((generation.parse().ok()?, entry))
    }

    /// Stores `value` as `key` of `area` under `generation` (read before it was computed, so a
    /// result computed before a change is stored where no reader after the change looks).
    pub async fn store_cached(
        &self,
        area: &str,
        generation: u64,
        key: &str,
        value: &str,
        ttl: Duration,
    ) {
        if let Some(link) = &self.redis {
            let entry = format!("{}:rc:{area}:{generation}:{key}", self.prefix);
            let _: Option<()> = link
                .run(
                    redis::cmd("SET")
                        .arg(entry)
                        .arg(value)
                        .arg("PX")
                        .arg(ttl.as_millis().max(1) as u64),
                )
                .await;
        }
    }

    /// Starts a new generation of `area` (every instance's next read misses) and tells the
    /// instances through the invalidation channel. False when Redis is off or did not answer.
    pub async fn bump_generation(&self, area: &str) -> bool {
        let Some(link) = &self.redis else {
            return false;
        };
        let bumped: Option<u64> = link
            .run(redis::cmd("INCR").arg(format!("{}:gen:{area}", self.prefix)))
            .await;
        if bumped.is_some() {
            self.publish(&format!("changed:{area}")).await;
        }
        bumped.is_some()
    }

    /// Calls `handle` for every invalidation message, resubscribing after Redis comes back.
    pub fn subscribe(self: &Arc<Self>, handle: impl Fn(&str) + Send + Sync + 'static) {
        let Some(link) = &self.redis else { return };
        let client = link.client.clone();
        let channel = format!("{}:invalidate", self.prefix);
        tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&channel).await.is_ok() {
                            let mut messages = pubsub.on_message();
                            while let Some(msg) = messages.next().await {
                                if let Ok(payload) = msg.get_payload::<String>() {
                                    handle(&payload);
                                }
                            }
                        }
                        tracing::warn!("lost the Redis invalidation channel; resubscribing");
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot subscribe to Redis yet"),
                }
                tokio::time::sleep(RECONNECT_EVERY).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_redis_each_process_counts_its_own_minute() {
        let shared = Shared::new(None, "t", 3).unwrap();
        let t = 60 * 1000 + 10;
        for _ in 0..3 {
            assert_eq!(shared.allow("ip:1", t).await, Allowance::Allowed);
        }
        assert_eq!(
            shared.allow("ip:1", t).await,
            Allowance::Limited {
                retry_after_secs: 50
            }
        );
        assert_eq!(
            shared.allow("ip:2", t).await,
            Allowance::Allowed,
            "another client has its own count"
        );
        assert_eq!(
            shared.allow("ip:1", t + 60).await,
            Allowance::Allowed,
            "a new minute starts over"
        );
        let unlimited = Shared::new(None, "t", 0).unwrap();
        for _ in 0..100 {
            assert_eq!(unlimited.allow("ip:1", t).await, Allowance::Allowed);
        }
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_the_process() {
        let shared = Shared::new(Some("redis://127.0.0.1:1/"), "t", 2).unwrap();
        let t = 120 * 1000;
        assert_eq!(shared.allow("ip:1", t).await, Allowance::Allowed);
        assert_eq!(shared.allow("ip:1", t).await, Allowance::Allowed);
        assert!(matches!(
            shared.allow("ip:1", t).await,
            Allowance::Limited { .. }
        ));
    }
}
