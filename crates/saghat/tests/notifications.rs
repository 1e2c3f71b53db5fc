//! Notifications through the real server, on both databases: the outbox written in the
//! payment's and the draw's own transactions (one row and one delivery job per effect, none for
//! a refused or replayed request), delivery to a real SMTP server (Python's `aiosmtpd`) read
//! back, a provider that is down (retried, then failed and dead-lettered while the payment
//! stands), the reminders opt-out, the preferences API and the admins' delivery log.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use saghat_core::config::Config;
use saghat_core::fund::service::announce_draw;
use saghat_core::notify::outbox::notify_user;
use saghat_core::notify::smtp::SmtpSettings;
use saghat_core::notify::templates::Notice;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;
use saghat_test_support::smtp::SmtpServer;
use saghat_test_support::{self as common, free_port, Backend, TestApp};
use serde_json::{json, Value};

common::on_both_databases!(
    a_payment_queues_one_notification_with_its_job,
    a_refused_or_replayed_payment_notifies_no_more,
    a_channel_that_is_off_is_logged_as_skipped,
    the_email_arrives_at_a_real_smtp_server,
    a_provider_that_is_down_is_retried_then_dead_lettered,
    reminders_can_be_opted_out_of_but_payments_cannot,
    the_draw_tells_every_member_their_result,
    the_worker_announces_the_draw,
    preferences_are_validated_per_field,
    the_delivery_log_is_for_admins_and_filters,
);

fn smtp_to(port: u16) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| {
        config.notify.smtp = Some(
            SmtpSettings::parse(
                &format!("smtp://127.0.0.1:{port}?tls=none"),
                "Saghat <saghat@example.com>",
                None,
                100,
            )
            .unwrap(),
        );
        config.notify.timeout = Duration::from_secs(2);
    }
}

/// A member with an e-mail address (through the preferences API), and their token.
async fn member_with_email(app: &TestApp, admin: &str, name: &str) -> (i64, String) {
    let (id, token) = app.member(admin, name, "0").await;
    let (status, body) = put_preferences(
        app,
        &token,
        json!({ "language": "fa", "email": format!("{name}@example.com"), "mobile": "",
                "channels": ["email"], "reminders": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (id, token)
}

async fn put_preferences(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        "/api/notifications/preferences",
        Some(token),
        Some(body),
    )
    .await
}

/// The delivery log as the admin reads it.
async fn log(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/admin/notifications{query}"), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn scalar(app: &TestApp, sql: &str, key: Option<Vec<u8>>) -> i64 {
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()));
    let query = match key {
        Some(key) => query.bind(key),
        None => query,
    };
    query.fetch_one(&app.state.db.pool).await.unwrap()
}

async fn delivery_jobs(app: &TestApp) -> i64 {
    scalar(
        app,
        "SELECT COUNT(*) FROM river_job WHERE kind = 'notification_delivery'",
        None,
    )
    .await
}

/// The River job of notification `id`, in `state`.
async fn job_in_state(app: &TestApp, id: i64, state: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT COUNT(*) FROM river_job WHERE unique_key = $1 AND state = '{state}'"),
        Some(format!("notification:{id}").into_bytes()),
    )
    .await
}

/// Polls the log until its newest row has `status`, for at most `seconds`; returns the row.
async fn newest_with_status(app: &TestApp, admin: &str, status: &str, seconds: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let row = log(app, admin, "").await.remove(0);
        if row["status"] == status {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {status}: {row}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` until it holds, for at most `seconds`.
async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_payment_queues_one_notification_with_its_job(backend: Backend) {
    // A mail server that is never reached: no worker runs here, only the outbox is looked at.
    let Some(app) = TestApp::spawn_with(backend, smtp_to(free_port())).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (sara, token) = member_with_email(&app, &admin, "sara").await;
    let (status, payment) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");

    let rows = log(&app, &admin, "").await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    assert_eq!(row["user_id"], sara);
    assert_eq!(row["kind"], "payment_recorded");
    assert_eq!(row["channel"], "email");
    assert_eq!(row["recipient"], "sara@example.com");
    assert_eq!(row["status"], "queued");
    assert_eq!(row["language"], "fa");
    assert_eq!(row["subject"], "پرداخت آذر ۱۴۰۵ ثبت شد");
    assert!(
        row["text"].as_str().unwrap().contains("۲۰٫۰۰ USDT"),
        "{row}"
    );
    // Its delivery job, committed with it, carries the id only.
    let id = row["id"].as_i64().unwrap();
    assert_eq!(delivery_jobs(&app).await, 1);
    assert_eq!(job_in_state(&app, id, "available").await, 1);
    let args: String = sqlx::query_scalar(match app.backend {
        Backend::Postgres => {
            "SELECT args::text FROM river_job WHERE kind = 'notification_delivery'"
        }
        Backend::Sqlite => "SELECT json(args) FROM river_job WHERE kind = 'notification_delivery'",
    })
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let args: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(args, json!({ "notification_id": id }));
}

async fn a_refused_or_replayed_payment_notifies_no_more(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, smtp_to(free_port())).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = member_with_email(&app, &admin, "sara").await;
    // Below the minimum fee: refused, nothing written.
    let (status, body) = app.pay(&token, "19.99999999", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(app.count("notifications").await, 0);
    assert_eq!(delivery_jobs(&app).await, 0);

    // The same request twice under one Idempotency-Key: one payment, one notice.
    let body =
        json!({ "membership_fee": "20", "bitpin_payment_id": uuid::Uuid::new_v4().to_string() });
    for _ in 0..2 {
        let response = app
            .http
            .post(app.url("/api/payments/pay"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "pay-once")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    // A second payment this month is refused, and tells no one.
    let (status, body) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.count("notifications").await, 1);
    assert_eq!(delivery_jobs(&app).await, 1);
}

async fn a_channel_that_is_off_is_logged_as_skipped(backend: Backend) {
    // No SMTP_URL: e-mail is off on this server.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = member_with_email(&app, &admin, "sara").await;
    let (status, _) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let rows = log(&app, &admin, "?status=skipped").await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        rows[0]["last_error"],
        "e-mail is not configured on this server"
    );
    assert_eq!(delivery_jobs(&app).await, 0, "nothing to deliver");
}

async fn the_email_arrives_at_a_real_smtp_server(backend: Backend) {
    let Some(smtp) = SmtpServer::start_plain() else {
        return;
    };
    let Some(app) = TestApp::spawn_with(backend, |config| {
        smtp_to(smtp.port)(config);
        config.jobs.in_process = true;
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = member_with_email(&app, &admin, "sara").await;
    let (status, _) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED);

    let row = newest_with_status(&app, &admin, "sent", 20).await;
    assert_eq!(row["attempts"], 1);
    assert!(row["sent_at"].is_string(), "{row}");
    let id = row["id"].as_i64().unwrap();
    eventually(10, "the job completes", || async {
        job_in_state(&app, id, "completed").await == 1
    })
    .await;

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let m = &messages[0];
    assert_eq!(m["to"], "sara@example.com");
    assert_eq!(m["subject"], "پرداخت آذر ۱۴۰۵ ثبت شد");
    assert_eq!(m["content_type"], "multipart/alternative");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parts:#?}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert!(
        parts[0]["content"]
            .as_str()
            .unwrap()
            .contains("پرداخت شما برای آذر ۱۴۰۵ ثبت شد"),
        "{parts:#?}"
    );
    assert_eq!(parts[1]["type"], "text/html");
    assert!(parts[1]["content"]
        .as_str()
        .unwrap()
        .contains("dir=\"rtl\""));
    // The Message-ID is the notification's own, and the log keeps it as the provider id.
    let message_id = m["message_id"].as_str().unwrap();
    assert!(
        message_id.starts_with(&format!("<notification.{id}."))
            && message_id.ends_with("@example.com>"),
        "{message_id}"
    );
    assert_eq!(row["provider_id"], message_id);
}

async fn a_provider_that_is_down_is_retried_then_dead_lettered(backend: Backend) {
    // Nothing listens on the port: every attempt fails as retryable.
    let Some(app) = TestApp::spawn_with(backend, |config| {
        smtp_to(free_port())(config);
        config.jobs.in_process = true;
        config.jobs.max_attempts = 3;
        config.jobs.retry_first = Duration::from_millis(100);
        config.jobs.retry_max = Duration::from_millis(300);
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = member_with_email(&app, &admin, "sara").await;
    let (status, payment) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");

    let row = newest_with_status(&app, &admin, "failed", 30).await;
    assert_eq!(row["attempts"], 3, "{row}");
    assert!(
        row["last_error"].as_str().unwrap().contains("SMTP server"),
        "{row}"
    );
    let id = row["id"].as_i64().unwrap();
    eventually(10, "the job is discarded", || async {
        job_in_state(&app, id, "discarded").await == 1
    })
    .await;
    // The payment itself stands.
    let (status, mine) = app.get("/api/payments/my-payments", &token).await;
    assert_eq!(status, StatusCode::OK);
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0]["id"], payment["id"]);
}

async fn reminders_can_be_opted_out_of_but_payments_cannot(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, smtp_to(free_port())).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (sara, token) = member_with_email(&app, &admin, "sara").await;
    let (status, body) = put_preferences(
        &app,
        &token,
        json!({ "language": "en", "email": "sara@example.com", "mobile": "",
                "channels": ["email"], "reminders": false }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A reminder, as the reminder job will write it in its transaction.
    let ctx = app.state.ctx().clone();
    let reminder = Notice::FeeReminder {
        month: JalaliMonth {
            year: 1405,
            month: 9,
        },
        min_fee: Amount::whole(20),
        day: 20,
    };
    let mut tx = ctx.db.begin_write().await.unwrap();
    let done = notify_user(&mut tx, &ctx, sara, &reminder, "fee-reminder:test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((done.queued.len(), done.skipped), (0, 1));
    let rows = log(&app, &admin, &format!("?user_id={sara}")).await;
    assert_eq!(rows[0]["kind"], "fee_reminder");
    assert_eq!(rows[0]["status"], "skipped");
    assert_eq!(rows[0]["last_error"], "the member opted out of reminders");
    assert_eq!(delivery_jobs(&app).await, 0);

    // The same effect again writes nothing.
    let mut tx = ctx.db.begin_write().await.unwrap();
    let again = notify_user(&mut tx, &ctx, sara, &reminder, "fee-reminder:test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again.already, 1);

    // A payment is still told, in English now.
    let (status, _) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let rows = log(&app, &admin, "?status=queued").await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["subject"], "Payment for Azar 1405 recorded");
    assert_eq!(delivery_jobs(&app).await, 1);
}

async fn the_draw_tells_every_member_their_result(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        smtp_to(free_port())(config);
        // The tokens outlive the month the test moves on by.
        config.jwt_expire_minutes = 60 * 24 * 365;
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let mut members = vec![];
    for name in ["sara", "reza"] {
        let (id, token) = app.member(&admin, name, "100").await;
        let (status, body) = put_preferences(
            &app,
            &token,
            json!({ "language": "en", "email": format!("{name}@example.com"), "mobile": "",
                    "channels": ["email"], "reminders": true }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        members.push((id, token));
    }
    // The admin is a member of the fund too, without an address: told, but skipped.
    let admin_id = scalar(&app, "SELECT id FROM users WHERE username = 'admin'", None).await;
    for token in members.iter().map(|(_, t)| t).chain([&admin]) {
        let (status, body) = app.pay(token, "100", None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, draw) = app
        .call(Method::POST, "/api/loans/start", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draw}");
    let winner = draw["loan"]["user_id"].as_i64();
    let loan_id = draw["loan"]["id"].as_str().unwrap();

    // Committed with the draw: the job that tells everyone (no worker runs here, so it is
    // run by hand, twice, as a retried job would be).
    let announce =
        "SELECT COUNT(*) FROM river_job WHERE kind = 'announce_draw' AND unique_key = $1";
    let key = format!("announce-draw:{loan_id}").into_bytes();
    assert_eq!(scalar(&app, announce, Some(key)).await, 1);
    let ctx = app.state.ctx().clone();
    assert_eq!(announce_draw(&ctx, loan_id).await.unwrap(), 2);
    assert_eq!(announce_draw(&ctx, loan_id).await.unwrap(), 0, "told once");

    let rows: Vec<Value> = log(&app, &admin, "")
        .await
        .into_iter()
        .filter(|r| r["kind"] == "draw_ran")
        .collect();
    let mut told: Vec<i64> = rows
        .iter()
        .map(|r| r["user_id"].as_i64().unwrap())
        .collect();
    told.sort();
    let mut everyone = vec![admin_id, members[0].0, members[1].0];
    everyone.sort();
    assert_eq!(told, everyone, "one notice per member: {rows:#?}");
    for row in &rows {
        let text = row["text"].as_str().unwrap();
        let user = row["user_id"].as_i64();
        let persian = row["language"] == "fa";
        let says = match winner {
            Some(_) if user == winner && persian => "برنده‌ی این ماه شما هستید",
            Some(_) if user == winner => "you won",
            Some(_) if persian => "به شما نرسید",
            Some(_) => "You did not receive",
            None if persian => "وامی به کسی نرسید",
            None => "no one received",
        };
        assert!(text.contains(says), "{says}: {text}");
        if user == Some(admin_id) {
            assert_eq!(row["status"], "skipped");
            assert_eq!(row["language"], "fa");
        } else {
            assert_eq!(row["status"], "queued");
        }
    }
    // Three payments and two draw notices to deliver.
    assert_eq!(delivery_jobs(&app).await, 4);

    // The winner repays the whole loan next month: told that it is settled.
    let Some(winner) = winner else {
        return;
    };
    let (_, token) = members.iter().find(|(id, _)| *id == winner).unwrap();
    app.advance_days(31);
    let loan = draw["loan"]["amount"].as_str().unwrap();
    let (status, body) = app.pay(token, "20", Some(loan)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let settled: Vec<Value> = log(&app, &admin, &format!("?user_id={winner}"))
        .await
        .into_iter()
        .filter(|r| r["kind"] == "loan_settled")
        .collect();
    assert_eq!(settled.len(), 1, "{settled:#?}");
    assert_eq!(settled[0]["status"], "queued");
    assert_eq!(settled[0]["subject"], "Your loan is settled");
    assert!(settled[0]["text"]
        .as_str()
        .unwrap()
        .contains("100.00 USDT is fully repaid"));
}

async fn preferences_are_validated_per_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (sara, token) = app.member(&admin, "sara", "0").await;
    let (status, body) = app.get("/api/notifications/preferences", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "language": "fa", "email": "", "mobile": "", "channels": ["email"], "reminders": true })
    );

    let (status, body) = put_preferences(
        &app,
        &token,
        json!({ "language": "de", "email": "nope", "mobile": "12345",
                "channels": ["email", "pigeon"], "reminders": true }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["loc"][1].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["language", "email", "mobile", "channels"],
        "{body}"
    );

    let (status, body) = put_preferences(
        &app,
        &token,
        json!({ "language": "en", "email": "", "mobile": "", "channels": ["sms"], "reminders": true }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "mobile"]));

    let (status, body) = put_preferences(&app, &token, json!({ "language": "en" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.count("notification_preferences").await,
        0,
        "nothing saved"
    );

    let (status, body) = put_preferences(
        &app,
        &token,
        json!({ "language": "en", "email": "sara@example.com", "mobile": "0912 123 4567",
                "channels": ["whatsapp", "email", "sms"], "reminders": false }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected = json!({ "language": "en", "email": "sara@example.com", "mobile": "+989121234567",
                           "channels": ["email", "sms", "whatsapp"], "reminders": false });
    assert_eq!(body, expected);
    let (_, body) = app.get("/api/notifications/preferences", &token).await;
    assert_eq!(body, expected);
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["email"], "sara@example.com");

    // Audited like other changes of a user, without the addresses.
    let (status, audit) = app
        .get(
            &format!("/api/audit?action=user_changed&target=user:{sara}"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let entry = &audit["items"][0];
    assert_eq!(entry["details"]["source"], "notification_preferences");
    assert!(!entry.to_string().contains("9121234567"), "{entry}");
}

async fn the_delivery_log_is_for_admins_and_filters(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, smtp_to(free_port())).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (sara, sara_token) = member_with_email(&app, &admin, "sara").await;
    let (_, reza_token) = app.member(&admin, "reza", "0").await;
    for token in [&sara_token, &reza_token] {
        let (status, _) = app.pay(token, "20", None).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = app.get("/api/admin/notifications", &sara_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, page) = app.get("/api/admin/notifications?limit=1", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            page["total"].as_i64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    let sara_rows = log(&app, &admin, &format!("?user_id={sara}")).await;
    assert_eq!(sara_rows.len(), 1);
    assert_eq!(sara_rows[0]["status"], "queued");
    // Reza has no e-mail address: told nothing, and the log says why.
    let skipped = log(&app, &admin, "?status=skipped").await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["last_error"], "the member has no e-mail address");
    let (status, body) = app
        .get("/api/admin/notifications?status=lost&user_id=x", &admin)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"].as_array().unwrap().len(), 2, "{body}");
}

async fn the_worker_announces_the_draw(backend: Backend) {
    // No mail server configured: the notices are written (skipped), and nothing is sent.
    let Some(app) = TestApp::spawn_with(backend, |config| config.jobs.in_process = true).await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    for token in [&sara, &admin] {
        let (status, body) = app.pay(token, "20", None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, draw) = app
        .call(Method::POST, "/api/loans/start", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draw}");
    let count = "SELECT COUNT(*) FROM notifications WHERE kind = 'draw_ran'";
    eventually(20, "both members are told", || async {
        scalar(&app, count, None).await == 2
    })
    .await;
    let key = format!("announce-draw:{}", draw["loan"]["id"].as_str().unwrap()).into_bytes();
    let done = "SELECT COUNT(*) FROM river_job WHERE unique_key = $1 AND state = 'completed'";
    eventually(10, "the announcement completes", || async {
        scalar(&app, done, Some(key.clone())).await == 1
    })
    .await;
}

/// A worker without the channel's configuration (say, `saghat worker` started without
/// `SMTP_URL` while `serve` had it) does not fail the message for good: it is retried, and
/// after the last attempt it is a dead letter an admin can retry once the worker is fixed.
async fn a_worker_without_the_channel_retries_instead_of_failing_for_good(backend: Backend) {
    use saghat_core::notify::delivery::{deliver, DeliveryError};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO notifications (user_id, topic, kind, channel, recipient, language, subject, \
         text, html, unique_key, status, created_at) VALUES ($1, 'transactional', \
         'payment_recorded', 'email', 'chief@example.com', 'en', 's', 't', '', 'k:email', \
         'queued', '2026-11-22T12:00:00.000000Z') RETURNING id",
    )
    .bind(user_id)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let status = || async {
        sqlx::query_as::<_, (String, i64, String)>(
            "SELECT status, attempts, last_error FROM notifications WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
    };
    let first = deliver(app.state.ctx(), id, 1, 3).await;
    assert!(matches!(first, Err(DeliveryError::Retry(_))), "{first:?}");
    let (state, attempts, why) = status().await;
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(why.contains("not configured on this worker"), "{why}");
    let last = deliver(app.state.ctx(), id, 3, 3).await;
    assert!(matches!(last, Err(DeliveryError::Retry(_))), "{last:?}");
    assert_eq!(
        status().await.0,
        "failed",
        "the last attempt fails the row with its job"
    );
}

common::on_both_databases!(a_worker_without_the_channel_retries_instead_of_failing_for_good);
