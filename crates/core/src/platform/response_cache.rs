//! Computed read results (the fund page's figures) kept in Redis, shared by every instance, with
//! a generation number per data area: a write bumps its area's generation after its commit
//! (`Ctx::changed`), so every instance's next read looks under the new generation, misses and
//! recomputes; entries live at most `CACHE_TTL_SECONDS`.
//!
//! A reader reads the generation *before* computing and stores its result under that
//! generation, so a result computed from data older than a write is stored where no reader
//! after that write looks.
//!
//! Without Redis, or while it does not answer, results are kept in this process instead, under a
//! local generation that this process's writes (and the invalidation messages of the others,
//! while Redis delivers them) raise: this instance's own changes show at once, other instances'
//! within `CACHE_TTL_SECONDS`. When a bump does not reach Redis, this instance stops reading
//! Redis's entries of that area for `CACHE_TTL_SECONDS` (by then every entry stored before the
//! change has expired), so it never shows figures older than its own write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::shared::Shared;

/// A set of data whose cached results a write makes stale together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Area {
    /// Members, payments, loans, the fund's ledger: the fund page and the fund report.
    Fund,
    /// Clients, invoices, payments received, credit notes.
    Invoicing,
    /// Loan-request tickets and their loans.
    Tickets,
}

impl Area {
    pub const ALL: [Area; 3] = [Area::Fund, Area::Invoicing, Area::Tickets];

    pub fn name(self) -> &'static str {
        match self {
            Area::Fund => "fund",
            Area::Invoicing => "invoicing",
            Area::Tickets => "tickets",
        }
    }

    pub fn parse(name: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

pub struct ResponseCache {
    shared: Arc<Shared>,
    ttl: Duration,
    /// The fallback: `area:generation:key` → the result as JSON.
    local: moka::sync::Cache<String, Arc<str>>,
    local_generations: [AtomicU64; 3],
    /// Per area: until when Redis's entries must not be read (a bump that did not reach it).
    distrust_redis_until: Mutex<[Option<Instant>; 3]>,
    /// How many results were computed rather than read from a cache (for tests and metrics).
    computed: AtomicU64,
}

impl ResponseCache {
    /// `ttl` zero turns caching off (every read computes).
    pub fn new(shared: Arc<Shared>, ttl: Duration) -> ResponseCache {
        ResponseCache {
            shared,
            ttl,
            local: moka::sync::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
            local_generations: Default::default(),
            distrust_redis_until: Mutex::new([None; 3]),
            computed: AtomicU64::new(0),
        }
    }

    /// How many results have been computed (cache misses and uncached reads) so far.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// The result named `key` in `area` (`key` must name everything the result depends on):
    /// from Redis, else from this process, else `compute`d and kept.
    pub async fn get_or_compute<T, E>(
        &self,
        area: Area,
        key: &str,
        compute: impl AsyncFnOnce() -> Result<T, E>,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
    {
        if self.ttl.is_zero() {
            self.computed.fetch_add(1, Ordering::Relaxed);
            return compute().await;
        }
        // Read before anything else: a change after this point raises it.
        let local_generation = self.local_generations[area.index()].load(Ordering::SeqCst);
        if self.shared.has_redis() && self.trusts_redis(area) {
            if let Some((generation, entry)) = self.shared.cached(area.name(), key).await {
                if let Some(value) = entry.and_then(|json| serde_json::from_str(&json).ok()) {
                    return Ok(value);
                }
                let value = self.compute(compute).await?;
                if let Ok(json) = serde_json::to_string(&value) {
                    self.shared
                        .store_cached(area.name(), generation, key, &json, self.ttl)
                        .await;
                }
                return Ok(value);
            }
        }
        let local_key = format!("{}:{local_generation}:{key}", area.name());
        if let Some(value) = self
            .local
            .get(&local_key)
            .and_then(|json| serde_json::from_str(&json).ok())
        {
            return Ok(value);
        }
        let value = self.compute(compute).await?;
        if let Ok(json) = serde_json::to_string(&value) {
            self.local.insert(local_key, json.into());
        }
        Ok(value)
    }

    async fn compute<T, E>(&self, compute: impl AsyncFnOnce() -> Result<T, E>) -> Result<T, E> {
        self.computed.fetch_add(1, Ordering::Relaxed);
        compute().await
    }

    fn trusts_redis(&self, area: Area) -> bool {
        let mut until = self.distrust_redis_until.lock().expect("mutex");
        match until[area.index()] {
            Some(t) if Instant::now() < t => false,
            Some(_) => {
                until[area.index()] = None;
                true
            }
            None => true,
        }
    }

    /// Says that `area`'s data changed (call after the commit): this process's results of it are
    /// dropped at once, and every instance's through Redis.
    pub async fn changed(&self, area: Area) {
        self.apply_changed(area);
        if self.shared.has_redis() && !self.shared.bump_generation(area.name()).await {
            self.distrust_redis_until.lock().expect("mutex")[area.index()] =
                Some(Instant::now() + self.ttl);
        }
    }

    /// Another instance said `area` changed (through the invalidation channel).
    pub fn apply_changed(&self, area: Area) {
        self.local_generations[area.index()].fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn figures(cache: &ResponseCache, value: &AtomicU64) -> u64 {
        cache
            .get_or_compute(Area::Fund, "figures", async || {
                Ok::<_, ()>(value.load(Ordering::SeqCst))
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn shared_without_redis_keeps_results_until_a_local_change() {
        let shared = Arc::new(Shared::new(None, "t", 0).unwrap());
        let cache = ResponseCache::new(shared, Duration::from_secs(60));
        let db = AtomicU64::new(1);
        assert_eq!(figures(&cache, &db).await, 1);
        db.store(2, Ordering::SeqCst);
        assert_eq!(figures(&cache, &db).await, 1, "kept");
        assert_eq!(cache.computed(), 1);
        cache.changed(Area::Fund).await;
        assert_eq!(figures(&cache, &db).await, 2, "a change drops it");
        cache.changed(Area::Tickets).await;
        assert_eq!(figures(&cache, &db).await, 2);
        assert_eq!(cache.computed(), 2, "another area's change does not");
    }

    #[tokio::test]
    async fn shared_unreachable_redis_falls_back_to_the_process() {
        let shared = Arc::new(Shared::new(Some("redis://127.0.0.1:1/"), "t", 0).unwrap());
        let cache = ResponseCache::new(shared, Duration::from_secs(60));
        let db = AtomicU64::new(1);
        assert_eq!(figures(&cache, &db).await, 1);
        assert_eq!(figures(&cache, &db).await, 1);
        assert_eq!(cache.computed(), 1);
        db.store(2, Ordering::SeqCst);
        cache.changed(Area::Fund).await;
        assert_eq!(figures(&cache, &db).await, 2);
    }

    #[tokio::test]
    async fn shared_zero_ttl_computes_every_time() {
        let shared = Arc::new(Shared::new(None, "t", 0).unwrap());
        let cache = ResponseCache::new(shared, Duration::ZERO);
        let db = AtomicU64::new(1);
        figures(&cache, &db).await;
        figures(&cache, &db).await;
        assert_eq!(cache.computed(), 2);
    }

    #[test]
    fn shared_area_names_round_trip() {
        for area in Area::ALL {
            assert_eq!(Area::parse(area.name()), Some(area));
        }
        assert_eq!(Area::parse("nope"), None);
    }
}
