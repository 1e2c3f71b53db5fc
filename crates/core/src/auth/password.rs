//! Argon2id password hashing (OWASP's recommended parameters: 19 MiB, 2 passes, 1 lane).
//! Every function here is CPU- and memory-heavy: a server runs them through its
//! [`HashingLimiter`], a one-shot command through `tokio::task::spawn_blocking`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashing cannot fail with valid parameters")
        .to_string()
}

/// Checks a password against a stored PHC string. A malformed hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Verifies against a throw-away hash, so an unknown username costs as much time as a known
/// one and response times do not reveal which accounts exist.
pub fn burn_verification_time(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("saghat-dummy-password"));
    let _ = verify_password(password, dummy);
}

/// Why the limiter did not run a hash.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// Every permit and queue place is taken: the request is shed (503 with `Retry-After`).
    #[error("The server is busy, try again shortly")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Bounds the Argon2 work of a server: at most `concurrency` hashes at once (each holds 19 MiB
/// while it runs) and `queue` requests waiting for one, in arrival order; a request beyond that
/// gets 503 with `Retry-After` at once, so 500 simultaneous logins cost a few hashes' memory
/// and the blocking pool stays free for everything else.
pub struct HashingLimiter {
    permits: Arc<Semaphore>,
    /// Requests admitted (waiting or hashing).
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

/// Gives an admission back when the work is done (or its request gone before it started).
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashingLimiter {
    pub fn new(concurrency: usize, queue: usize) -> HashingLimiter {
        let concurrency = concurrency.max(1);
        HashingLimiter {
            permits: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: concurrency + queue,
        }
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a permit is free.
    pub async fn run<T, F>(&self, work: F) -> Result<T, HashingError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!("password hashing saturated: request shed with 503");
            return Err(HashingError::Busy {
                retry_after_secs: 1,
            });
        }
        let admission = Admission(self.admitted.clone());
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashingError::Failed(e.into()))?;
        // The permit and admission move into the task: a request that goes away mid-hash still
        // counts until the hash (and its memory) is done.
        tokio::task::spawn_blocking(move || {
            let _held = (permit, admission);
            work()
        })
        .await
        .map_err(|e| HashingError::Failed(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verifiable() {
        let a = hash_password("correct horse");
        let b = hash_password("correct horse");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong horse", &a));
        assert!(!verify_password("correct horse", "not-a-hash"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_limiter_runs_at_most_its_concurrency_and_sheds_past_its_queue() {
        let limiter = Arc::new(HashingLimiter::new(2, 3));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let mut tasks = vec![];
        for _ in 0..5 {
            let (limiter, running, peak, gate) =
                (limiter.clone(), running.clone(), peak.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                limiter
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        gate.lock().unwrap().recv().unwrap();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
        }
        // Five admitted (two running, three queued): the sixth is shed at once.
        while limiter.admitted.load(Ordering::SeqCst) < 5 || running.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        match limiter.run(|| ()).await {
            Err(HashingError::Busy { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected Busy, got {:?}", other.map(|_| ())),
        }
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(limiter.admitted.load(Ordering::SeqCst), 0);
        limiter.run(|| ()).await.expect("free again");
    }
}
