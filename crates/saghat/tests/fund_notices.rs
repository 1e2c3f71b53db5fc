//! The fund's scheduled notices on both databases: the monthly reminder on its Jalali day to
//! those who have not paid, "only a few left" to everyone, "the draw is ready" to the admins
//! when the last member pays, each once; and the worker's daily job that sends them.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use saghat_core::fund::notices::send_due_notices;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_test_support as common;

/// 10:00 on `day` of the month the tests start in (Azar 1405), in the fund's time zone (UTC).
fn on_day(day: i64, hour: i64) -> DateTime<Utc> {
    let month = JalaliMonth::containing(common::default_now(), chrono_tz::Tz::UTC);
    month.starts_at(chrono_tz::Tz::UTC)
        + chrono::Duration::days(day - 1)
        + chrono::Duration::hours(hour)
}

/// Notices of `kind` written to the outbox, by user id (one row each, e-mail being the
/// default channel: skipped with the reason while no SMTP server is configured).
async fn recipients(app: &common::TestApp, kind: &str) -> Vec<i64> {
    sqlx::query_scalar("SELECT user_id FROM notifications WHERE kind = $1 ORDER BY user_id")
        .bind(kind)
        .fetch_all(&app.state.db.pool)
        .await
        .expect("notifications")
}

async fn admin_id(app: &common::TestApp) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .expect("admin")
}

async fn the_reminder_day_reminds_those_who_have_not_paid_once(backend: common::Backend) {
    let Some(app) = common::TestApp::spawn_with(backend, |config| {
        config.fund_notices.reminder_day = 20;
        config.fund_notices.few_left = 1;
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let admin_id = admin_id(&app).await;
    let (ali, ali_token) = app.member(&admin, "ali", "0").await;
    let (sara, _) = app.member(&admin, "sara", "0").await;
    app.pay(&ali_token, "20", None).await;

    // Before the day, and on it before the notice hour: nothing.
    app.clock.set(on_day(19, 10));
    assert_eq!(send_due_notices(app.state.ctx()).await.unwrap(), 0);
    app.clock.set(on_day(20, 8));
    assert_eq!(send_due_notices(app.state.ctx()).await.unwrap(), 0);
    assert!(recipients(&app, "fee_reminder").await.is_empty());

    // On the day: the admin (a member too) and Sara, who have not paid; not Ali.
    app.clock.set(on_day(20, 10));
    assert_eq!(send_due_notices(app.state.ctx()).await.unwrap(), 2);
    assert_eq!(
        recipients(&app, "fee_reminder").await,
        vec![admin_id.min(sara), admin_id.max(sara)]
    );
    // The job running again that day (a retry, another instance) sends nothing new.
    send_due_notices(app.state.ctx()).await.unwrap();
    assert_eq!(recipients(&app, "fee_reminder").await.len(), 2);
    // Nor the day after.
    app.clock.set(on_day(21, 10));
    send_due_notices(app.state.ctx()).await.unwrap();
    assert_eq!(recipients(&app, "fee_reminder").await.len(), 2);
    assert!(
        recipients(&app, "few_left_to_pay").await.is_empty(),
        "two left is not 'a few' with FUND_FEW_LEFT_TO_PAY=1"
    );

    // Sara pays: one left (the admin), so everyone hears it, once.
    let sara_token = app.login("sara", common::PASSWORD).await;
    app.pay(&sara_token, "20", None).await;
    send_due_notices(app.state.ctx()).await.unwrap();
    send_due_notices(app.state.ctx()).await.unwrap();
    let mut everyone = vec![admin_id, ali, sara];
    everyone.sort();
    assert_eq!(recipients(&app, "few_left_to_pay").await, everyone);
    let text: String = sqlx::query_scalar(
        "SELECT text FROM notifications WHERE kind = 'few_left_to_pay' AND user_id = $1",
    )
    .bind(ali)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert!(
        text.contains('۱'),
        "Persian by default, with the count: {text}"
    );
}

common::on_both_databases!(the_reminder_day_reminds_those_who_have_not_paid_once);

async fn the_last_payment_tells_the_admins_the_draw_is_ready(backend: common::Backend) {
    let Some(app) = common::TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let admin_id = admin_id(&app).await;
    let (_, ali_token) = app.member(&admin, "ali", "0").await;
    app.pay(&ali_token, "20", None).await;
    assert!(
        recipients(&app, "draw_ready").await.is_empty(),
        "the admin has not paid yet"
    );
    // The admin's own payment is the month's last: told in that payment's transaction.
    app.pay(&admin, "20", None).await;
    assert_eq!(recipients(&app, "draw_ready").await, vec![admin_id]);
    // The day's job says it too, but it was said already.
    app.clock.set(on_day(3, 10));
    send_due_notices(app.state.ctx()).await.unwrap();
    assert_eq!(recipients(&app, "draw_ready").await, vec![admin_id]);
    // After the draw, no longer ready (signed in again: days have passed).
    let admin = app.admin_token().await;
    let (status, body) = app
        .post("/api/loans/start", &admin, serde_json::json!({}))
        .await;
    assert!(status.is_success(), "draw: {status} {body}");
    app.clock.set(on_day(4, 10));
    assert_eq!(send_due_notices(app.state.ctx()).await.unwrap(), 0);
}

common::on_both_databases!(the_last_payment_tells_the_admins_the_draw_is_ready);

async fn the_worker_sends_the_days_notices_when_it_starts(backend: common::Backend) {
    let Some(app) = common::TestApp::spawn_with(backend, |config| {
        config.jobs.in_process = true;
        config.fund_notices.reminder_day = 1;
    })
    .await
    else {
        return;
    };
    // The tests' clock starts on 1 Azar 1405 at 12:00, after FUND_NOTICE_HOUR: the worker's
    // start-up run of `fund_daily_notices` reminds the admin, who has not paid.
    let admin_id = admin_id(&app).await;
    let started = Instant::now();
    while recipients(&app, "fee_reminder").await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no reminder from the worker within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(recipients(&app, "fee_reminder").await, vec![admin_id]);
    // River marks the job completed after it returns (its completer batches those updates, and
    // the other start-up jobs run beside it): wait for that too, as long as for the reminder.
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM river_job WHERE kind = 'fund_daily_notices' AND state = 'completed'",
        )
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
        if done == 1 {
            break;
        }
        assert_eq!(done, 0, "the start-up run happens once");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the job was not completed within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

common::on_both_databases!(the_worker_sends_the_days_notices_when_it_starts);
