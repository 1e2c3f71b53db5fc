//! `GET /metrics` in Prometheus's text format, on both databases: requests by route template
//! and status with a latency histogram, login failures and lock-outs, notifications sent and
//! failed (through a real SMTP server), the database pool, the job queue's depth per kind, and
//! who may scrape (a token; never in prod without one).
//!
//! The recorder is process-wide, shared by every app this test binary starts, so counters are
//! read as differences before and after, and the cases run one after another in one test.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use saghat_core::config::AppEnv;
use saghat_core::notify::delivery::{deliver, Delivery, DeliveryError};
use saghat_core::notify::smtp::SmtpSettings;
use saghat_core::platform::secret::Secret;
use saghat_test_support as common;
use saghat_test_support::smtp::SmtpServer;
use serde_json::json;

use common::{Backend, TestApp, ADMIN};

async fn scrape(app: &TestApp, token: Option<&str>) -> (StatusCode, String) {
    let mut request = app.http.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The value of the sample of `name` that has every one of `labels` (`key="value"`), or 0.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

async fn counts_what_happens(backend: Backend) -> bool {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.login_limits.max_failures_per_account = 2;
        // Bitpin on a closed port: a payment's verification is a gateway error.
        c.bitpin_api_key = Some("metrics-test-bitpin-key".into());
        c.bitpin_api_base_url = "http://127.0.0.1:9".into();
    })
    .await
    else {
        return false;
    };
    let admin = app.admin_token().await;
    let (status, before) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{before}");

    // A route with a parameter is counted under its template, never the id.
    let (status, _) = app.get("/api/reports/exports/no-such-export", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/no/such/path", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Two wrong passwords: failures, which fill the account's limit (2 here); the third is
    // refused before any password check: a lock-out.
    for expected in [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (status, _) = app
            .post(
                "/api/auth/login",
                "",
                json!({ "username": ADMIN, "password": "wrong-password" }),
            )
            .await;
        assert_eq!(status, expected);
    }
    // An export waits for a worker (none runs here): the queue shows it by kind.
    let (status, asked) = app
        .post(
            "/api/reports/exports",
            &admin,
            json!({ "register": "invoices", "format": "csv", "calendar": "gregorian",
                    "from": "2026-09", "to": "2026-11" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");

    let (_, member) = app.member(&admin, "counted", "0").await;
    let (status, paid) = app.pay(&member, "20", None).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{paid}");

    let (status, after) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    for kind in [
        "# TYPE saghat_http_requests_total counter",
        "# TYPE saghat_http_request_duration_seconds histogram",
        "# TYPE saghat_db_pool_connections gauge",
    ] {
        assert!(after.contains(kind), "{kind} in\n{after}");
    }
    let route = r#"route="/api/reports/exports/{id}""#;
    let delta =
        |name: &str, labels: &[&str]| sample(&after, name, labels) - sample(&before, name, labels);
    assert_eq!(
        delta(
            "saghat_http_requests_total",
            &[route, r#"status="404""#, r#"method="GET""#]
        ),
        1.0,
        "{after}"
    );
    assert!(
        !after.contains("no-such-export"),
        "a raw path became a label"
    );
    assert!(
        delta(
            "saghat_http_requests_total",
            &[r#"route="unmatched""#, r#"status="404""#]
        ) >= 1.0
    );
    assert!(
        delta(
            "saghat_http_requests_total",
            &[r#"route="/api/auth/login""#, r#"status="401""#]
        ) >= 2.0
    );
    // The histogram: buckets, sum and count of the same series.
    let buckets = "saghat_http_request_duration_seconds_bucket{";
    assert!(
        after
            .lines()
            .any(|l| l.starts_with(buckets) && l.contains(route) && l.contains(r#"le="+Inf""#)),
        "{after}"
    );
    assert_eq!(
        delta("saghat_http_request_duration_seconds_count", &[route]),
        1.0
    );
    assert!(sample(&after, "saghat_http_request_duration_seconds_sum", &[route]) > 0.0);
    // Logins: another backend's case ran before in this process, so differences again.
    assert_eq!(delta("saghat_login_failures_total", &[]), 2.0, "{after}");
    assert_eq!(delta("saghat_login_lockouts_total", &[]), 1.0, "{after}");
    // The gateway call that could not be made.
    let bitpin = [r#"gateway="bitpin""#, r#"operation="verify""#];
    assert_eq!(
        delta("saghat_gateway_errors_total", &bitpin),
        1.0,
        "{after}"
    );
    assert_eq!(
        delta(
            "saghat_gateway_calls_total",
            &[bitpin[0], r#"outcome="error""#]
        ),
        1.0
    );
    assert_eq!(
        delta("saghat_gateway_call_duration_seconds_count", &bitpin),
        1.0
    );
    // The pool and the queue, sampled at the scrape.
    assert!(sample(&after, "saghat_db_pool_max_connections", &[]) >= 1.0);
    assert_eq!(
        sample(
            &after,
            "saghat_jobs_waiting",
            &[r#"kind="report_export""#, r#"state="available""#]
        ),
        1.0,
        "{after}"
    );
    assert!(sample(&after, "saghat_jobs", &[r#"state="available""#]) >= 1.0);
    true
}

/// A member with an e-mail address who pays this month's fee: one "payment recorded" e-mail
/// queued (no worker runs here). Its notification's id.
async fn queue_email(app: &TestApp, admin: &str, name: &str) -> i64 {
    let (_, token) = app.member(admin, name, "0").await;
    let address = format!("{name}@example.com");
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/notifications/preferences",
            Some(&token),
            Some(json!({ "language": "fa", "email": address, "mobile": "",
                         "channels": ["email"], "reminders": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, paid) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    sqlx::query_scalar("SELECT id FROM notifications WHERE channel = 'email' AND recipient = $1")
        .bind(address)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn notification_status(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM notifications WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

/// One e-mail delivered to a real SMTP server (aiosmtpd), then one whose server has gone away
/// on its last attempt: one `sent` and one `failed` attempt on the `email` channel.
async fn counts_notifications(backend: Backend) {
    // Without aiosmtpd this skips, saying so (under CI it fails).
    let Some(smtp) = SmtpServer::start_plain() else {
        return;
    };
    let port = smtp.port;
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.notify.smtp = Some(
            SmtpSettings::parse(
                &format!("smtp://127.0.0.1:{port}?tls=none"),
                "Saghat <saghat@example.com>",
                None,
                100,
            )
            .unwrap(),
        );
        c.notify.timeout = Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let delivered = queue_email(&app, &admin, "mailed").await;
    let refused = queue_email(&app, &admin, "unmailed").await;
    let (status, before) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::OK, "{before}");

    let sent = deliver(app.state.ctx(), delivered, 1, 3).await;
    assert!(matches!(sent, Ok(Delivery::Sent)), "{sent:?}");
    assert_eq!(notification_status(&app, delivered).await, "sent");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["to"], "mailed@example.com");

    // The server stops: nothing listens on its port. A retryable failure, counted as failed
    // whatever the attempt; on the last one the row fails with its job.
    drop(smtp);
    let failed = deliver(app.state.ctx(), refused, 3, 3).await;
    assert!(matches!(failed, Err(DeliveryError::Retry(_))), "{failed:?}");
    assert_eq!(notification_status(&app, refused).await, "failed");

    let (status, after) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        after.contains("# TYPE saghat_notifications_total counter"),
        "{after}"
    );
    let delta = |outcome: &str| {
        let labels = [r#"channel="email""#, outcome];
        sample(&after, "saghat_notifications_total", &labels)
            - sample(&before, "saghat_notifications_total", &labels)
    };
    assert_eq!(delta(r#"outcome="sent""#), 1.0, "{after}");
    assert_eq!(delta(r#"outcome="failed""#), 1.0, "{after}");
}

/// With `METRICS_TOKEN` a scrape must send it; in prod without one there is nothing to scrape.
async fn only_the_scraper_reads_it(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.metrics_token = Some(Secret::new("scrape-token-0123456789"));
    })
    .await
    else {
        return;
    };
    let (status, _) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = scrape(&app, Some("scrape-token-0123456780")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let admin = app.admin_token().await;
    let (status, _) = scrape(&app, Some(&admin)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a user's token is not the scraper's"
    );
    let (status, text) = scrape(&app, Some("scrape-token-0123456789")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("saghat_db_pool_connections"), "{text}");

    let Some(prod) = TestApp::spawn_with(backend, |c| {
        c.app_env = AppEnv::Prod;
        c.metrics_token = None;
    })
    .await
    else {
        return;
    };
    let (status, _) = scrape(&prod, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_requests_logins_notifications_pool_and_queue() {
    assert!(counts_what_happens(Backend::Sqlite).await);
    counts_what_happens(Backend::Postgres).await;
    counts_notifications(Backend::Sqlite).await;
    counts_notifications(Backend::Postgres).await;
    only_the_scraper_reads_it(Backend::Sqlite).await;
    only_the_scraper_reads_it(Backend::Postgres).await;
}
