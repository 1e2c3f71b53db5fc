//! `GET /metrics`: Prometheus's text format. Counters and histograms are recorded through the
//! `metrics` facade (here: HTTP requests; in core: `platform::measure`) into one recorder per
//! process, installed as the global one the first time a router is built; gauges (the database
//! pool, the job queue, the outboxes) are sampled from the database at each scrape.
//!
//! Served when `METRICS` is on (never in `prod` without `METRICS_TOKEN`); with a token every
//! scrape must send `Authorization: Bearer <token>`. Not rate limited, not in the OpenAPI
//! document. Names and labels are listed in the README's "Metrics".

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use saghat_core::config::AppEnv;
use saghat_core::jobs::admin;

use crate::state::AppState;

/// The path scraped.
pub const PATH: &str = "/metrics";

/// Request latency buckets, in seconds: 5 ms to 30 s (the request timeout's default).
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed as the global one on first use. Several applications in
/// one process (the integration tests) share it: a recorder is process-wide.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder installed first (an embedding program's) keeps its place: then
        // only the sampled gauges appear here.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "a metrics recorder was already installed; /metrics shows only its gauges"
            );
        }
        handle
    })
}

/// The route label of a request: the matched route's template (`/api/loans/{id}`), never the
/// raw path, so an id or a probe does not make a new series; `unmatched` when no route took it.
pub fn route_label(matched: Option<&MatchedPath>) -> String {
    matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string())
}

/// Counts every request by route, method and status, and its latency.
pub async fn track(req: Request, next: Next) -> Response {
    let route = route_label(req.extensions().get::<MatchedPath>());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("saghat_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("saghat_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(scrape))
}

/// Whether `/metrics` is served at all: never in `prod` without a token, whatever else says.
pub fn served(metrics: bool, app_env: AppEnv, token: Option<&str>) -> bool {
    metrics && (app_env != AppEnv::Prod || token.is_some())
}

/// Whether the request carries `Authorization: Bearer <token>`, compared in constant time (of
/// the digests, so neither the token's length nor its first differing byte shows).
pub fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let a = Sha256::digest(given.trim().as_bytes());
    let b = Sha256::digest(token.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = state.config.metrics_token.as_ref().map(|t| t.expose());
    if !served(state.config.metrics, state.config.app_env, token) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "detail": "Not Found" })),
        )
            .into_response();
    }
    if let Some(token) = token {
        if !authorized(&headers, token) {
            return (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Bearer")],
                Json(json!({ "detail": "Authentication credentials were not provided." })),
            )
                .into_response();
        }
    }
    let handle = handle();
    // Gauges are process-wide too: one scrape samples and renders at a time, so what it shows
    // is what it sampled.
    static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = SCRAPE.lock().await;
    sample_pool(&state);
    if let Err(e) = sample_queue(&state).await {
        tracing::warn!(error = %e, "metrics: the job queue could not be read");
    }
    if let Err(e) = sample_outbox(&state).await {
        tracing::warn!(error = %e, "metrics: the outboxes could not be read");
    }
    handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}

fn sample_pool(state: &AppState) {
    let pool = &state.db.pool;
    let size = pool.size() as f64;
    let idle = pool.num_idle() as f64;
    metrics::gauge!("saghat_db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
    metrics::gauge!("saghat_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("saghat_db_pool_max_connections")
        .set(pool.options().get_max_connections() as f64);
}

/// Label sets a gauge was given at an earlier scrape: set to 0 when the database no longer
/// returns them, rather than showing a stale depth forever.
fn seen() -> &'static Mutex<HashSet<(String, String)>> {
    static SEEN: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// Sets `name{a=…, b=…}` to each row's value, and to 0 the label sets seen before but absent.
fn set_gauges(
    name: &'static str,
    labels: (&'static str, &'static str),
    rows: Vec<(String, String, i64)>,
) {
    let mut seen = seen().lock().unwrap_or_else(|e| e.into_inner());
    let mut now: HashSet<(String, String)> = HashSet::new();
    for (a, b, value) in rows {
        metrics::gauge!(name, labels.0 => a.clone(), labels.1 => b.clone()).set(value as f64);
        now.insert((format!("{name}|{a}"), b));
    }
    for (key, b) in seen.iter() {
        if let Some(a) = key.strip_prefix(name).and_then(|k| k.strip_prefix('|')) {
            if !now.contains(&(key.clone(), b.clone())) {
                metrics::gauge!(name, labels.0 => a.to_string(), labels.1 => b.clone()).set(0.0);
            }
        }
    }
    seen.extend(now);
}

/// The job queue's depth per state (the admins' summary) and per kind for the states that
/// wait, and the age of the oldest available job.
async fn sample_queue(state: &AppState) -> Result<(), sqlx::Error> {
    let mut conn = state.db.pool.acquire().await?;
    let summary = admin::summary(&mut conn, state.db.backend).await?;
    for count in &summary.counts {
        metrics::gauge!("saghat_jobs", "state" => count.state.as_str()).set(count.count as f64);
    }
    metrics::gauge!("saghat_jobs_oldest_available_seconds")
        .set(summary.oldest_available_secs.unwrap_or(0) as f64);
    let rows = sqlx::query(
        "SELECT kind, CAST(state AS TEXT) AS state, COUNT(*) AS n FROM river_job \
         WHERE CAST(state AS TEXT) IN ('available', 'scheduled', 'retryable') GROUP BY kind, state",
    )
    .fetch_all(&mut *conn)
    .await?;
    let rows = rows
        .iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("state")?, r.try_get("n")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    set_gauges("saghat_jobs_waiting", ("kind", "state"), rows);
    Ok(())
}

/// What the outboxes hold undelivered: notifications per channel, webhook deliveries.
async fn sample_outbox(state: &AppState) -> Result<(), sqlx::Error> {
    let mut conn = state.db.pool.acquire().await?;
    let rows = sqlx::query(
        "SELECT 'notifications' AS outbox, channel, COUNT(*) AS n FROM notifications \
         WHERE status = 'queued' GROUP BY channel \
         UNION ALL SELECT 'webhooks' AS outbox, 'webhook' AS channel, COUNT(*) AS n \
         FROM webhook_deliveries WHERE status = 'queued'",
    )
    .fetch_all(&mut *conn)
    .await?;
    let rows = rows
        .iter()
        .map(|r| Ok((r.try_get("outbox")?, r.try_get("channel")?, r.try_get("n")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    set_gauges("saghat_outbox_pending", ("outbox", "channel"), rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_is_the_template_or_unmatched() {
        assert_eq!(route_label(None), "unmatched");
    }

    #[test]
    fn served_only_with_a_token_in_prod() {
        assert!(served(true, AppEnv::Dev, None));
        assert!(!served(false, AppEnv::Dev, Some("t")));
        assert!(!served(true, AppEnv::Prod, None));
        assert!(served(true, AppEnv::Prod, Some("t")));
    }

    #[test]
    fn bearer_token_must_match() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(authorized(&with("Bearer s3cret"), "s3cret"));
        assert!(!authorized(&with("Bearer s3cres"), "s3cret"));
        assert!(!authorized(&with("Bearer s3cret2"), "s3cret"));
        assert!(!authorized(&with("Basic s3cret"), "s3cret"));
        assert!(!authorized(&HeaderMap::new(), "s3cret"));
    }
}
