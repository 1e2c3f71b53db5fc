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

/// Clients and invoices, written set-based: 70 % of clients in EUR, 30 % in IRR; invoices
/// spread over the three years before 1 Dec 2026, 5 % drafts, the rest sent and numbered in
/// their year's series, a third of them paid, a tenth overdue, some partly paid.
#[allow(dead_code)] // not every benchmark seeds invoices
pub async fn seed_invoices(db: &Db, invoices: i64, clients: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO clients (kind, name, tax_id, email, street, city, postal_code, country_code, \
                              language, currency, payment_terms_days, created_at, updated_at) \
         SELECT 'company', 'Client ' || i, 'DE' || lpad(i::text, 9, '0'), 'c' || i || '@example.com', \
                'Street ' || i, 'Berlin', '10115', 'DE', CASE WHEN i % 10 < 7 THEN 'en' ELSE 'fa' END, \
                CASE WHEN i % 10 < 7 THEN 'EUR' ELSE 'IRR' END, 30, \
                '2023-01-01T00:00:00.000000Z', '2023-01-01T00:00:00.000000Z' \
         FROM generate_series(1, $1::bigint) AS i",
    )
    .bind(clients)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO invoices (id, kind, client_id, number, series, number_year, number_seq, currency, \
                               issue_date, due_date, status, language, lines_net, discount, tax, total, \
                               amount_paid, sent_at, created_at, updated_at) \
         SELECT md5('inv' || i)::uuid::text, 'invoice', c.id, \
                CASE WHEN i % 20 <> 0 THEN 'INV-' || g.y || '-' || lpad(i::text, 7, '0') END, \
                CASE WHEN i % 20 <> 0 THEN 'INV' END, CASE WHEN i % 20 <> 0 THEN g.y END, \
                CASE WHEN i % 20 <> 0 THEN i END, c.currency, \
                to_char(g.d, 'YYYY-MM-DD'), to_char(g.d + 30, 'YYYY-MM-DD'), \
                CASE WHEN i % 20 = 0 THEN 'draft' WHEN i % 3 = 0 THEN 'paid' WHEN i % 10 = 1 THEN 'overdue' \
                     WHEN i % 10 = 2 THEN 'partially_paid' ELSE 'sent' END, \
                c.language, g.net, 0, g.net * 19 / 100, g.net + g.net * 19 / 100, \
                CASE WHEN i % 20 = 0 THEN 0 WHEN i % 3 = 0 THEN g.net + g.net * 19 / 100 \
                     WHEN i % 10 = 2 THEN g.net / 2 ELSE 0 END, \
                CASE WHEN i % 20 <> 0 THEN to_char(g.d, 'YYYY-MM-DD') || 'T09:00:00.000000Z' END, \
                to_char(g.d, 'YYYY-MM-DD') || 'T08:00:00.000000Z', to_char(g.d, 'YYYY-MM-DD') || 'T09:00:00.000000Z' \
         FROM (SELECT i, DATE '2026-12-01' - (i * 7919 % 1095)::int AS d, \
                      1404 - (i * 7919 % 1095) / 365 AS y, 10000 + (i * 104729 % 990000) AS net \
               FROM generate_series(1, $1::bigint) AS i) AS g \
         JOIN clients c ON c.id = 1 + (g.i % $2::bigint)",
    )
    .bind(invoices)
    .bind(clients)
    .execute(&db.pool)
    .await?;
    Ok(())
}
