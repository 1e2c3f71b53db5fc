//! What the benchmarks share: percentiles, the JSON line of a timed figure beside its target
//! and floor, and the floor itself.

use std::time::{Duration, Instant};

use serde_json::json;

use saghat_core::platform::db::Db;

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

pub fn summary(
    name: &str,
    mut samples: Vec<Duration>,
    floor: &[Duration],
    target_ms: f64,
) -> String {
    samples.sort();
    let mut floor = floor.to_vec();
    floor.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    let (f50, f99) = (percentile(&floor, 0.50), percentile(&floor, 0.99));
    json!({
        "figure": name,
        "runs": samples.len(),
        "p50_ms": p50,
        "p99_ms": p99,
        "target_p99_ms": target_ms,
        "p99_over_target": p99 / target_ms,
        "floor_p50_ms": f50,
        "floor_p99_ms": f99,
        "p50_over_floor": p50 / f50,
    })
    .to_string()
}

/// `round_trips` `SELECT 1`s on one pooled connection: the least any request of that many
/// queries could cost here.
pub async fn floor(db: &Db, round_trips: usize, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut conn = db.pool.acquire().await?;
        for _ in 0..round_trips {
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
        }
        out.push(started.elapsed());
    }
    Ok(out)
}
