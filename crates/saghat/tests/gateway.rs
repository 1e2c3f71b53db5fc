//! Bitpin verification of `/api/payments/pay` against a fake Bitpin (wiremock), on SQLite and
//! PostgreSQL: what reaches the gateway (the original's `GET /v1/mch/payments/{id}/` with
//! `Authorization: Token …`), and what the member gets back when the gateway says no, is down,
//! or is slow. Also: production refuses to start without a Bitpin key unless told to.

use saghat_test_support as common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{Backend, TestApp};

const KEY: &str = "k";
const TIMEOUT: Duration = Duration::from_millis(500);

common::on_both_databases!(
    completed_payment_covering_the_total_is_recorded,
    amount_may_be_a_json_number,
    unknown_payment_is_rejected,
    pending_payment_is_rejected,
    payment_below_the_fee_is_rejected,
    payment_below_fee_plus_repayment_is_rejected,
    bitpin_errors_are_bad_gateway_and_write_nothing,
    slow_bitpin_times_out_and_writes_nothing,
    unreachable_bitpin_is_bad_gateway,
    payment_id_used_by_another_member_is_a_conflict_without_asking_bitpin,
    one_payment_id_claimed_concurrently_by_two_members_is_recorded_once,
    payment_id_cannot_escape_the_url_path,
    every_completed_status_of_the_original_is_accepted,
    a_payment_in_another_currency_is_rejected,
    the_id_bitpin_returns_is_what_can_be_claimed_once,
);

/// An app whose Bitpin client points at `mock`.
async fn app_with_bitpin(backend: Backend, base_url: String) -> Option<TestApp> {
    TestApp::spawn_with(backend, move |c| {
        c.bitpin_api_key = Some(KEY.into());
        c.bitpin_api_base_url = base_url;
        c.bitpin_timeout = TIMEOUT;
    })
    .await
}

fn payment_path(id: &str) -> String {
    format!("/v1/mch/payments/{id}/")
}

fn bitpin_answer(id: &str, status: &str, amount: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "id": id, "status": status, "amount": amount, "currency": "USDT" }))
}

/// Mounts the answer for `id`, only for a GET carrying our key.
async fn bitpin_says(mock: &MockServer, id: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(payment_path(id)))
        .and(header("authorization", "Token k"))
        .respond_with(response)
        .mount(mock)
        .await;
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn pay_with(
    app: &TestApp,
    token: &str,
    fee: &str,
    loan: Option<&str>,
    id: &str,
) -> (StatusCode, Value) {
    let mut body = json!({ "membership_fee": fee, "bitpin_payment_id": id });
    if let Some(loan) = loan {
        body["loan"] = json!(loan);
    }
    app.post("/api/payments/pay", token, body).await
}

fn assert_verification_failed(status: StatusCode, body: &Value, expected: StatusCode) {
    assert_eq!(status, expected, "{body}");
    let detail = body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {body}"));
    assert!(
        detail.starts_with("Bitpin payment verification failed"),
        "detail: {detail}"
    );
}

/// Nothing of a refused payment may be left behind: no payment, no balance.
async fn assert_nothing_written(app: &TestApp, token: &str) {
    assert_eq!(app.count("payments").await, 0, "a payment row was written");
    let (status, me) = app.get("/api/auth/me", token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["balance"], "0.00000000", "{me}");
    let (_, mine) = app.get("/api/payments/my-payments", token).await;
    assert_eq!(mine, json!([]));
}

async fn completed_payment_covering_the_total_is_recorded(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (user_id, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();
    bitpin_says(
        &mock,
        &id,
        bitpin_answer(&id, "completed", json!("20.00000000")),
    )
    .await;

    let (status, payment) = pay_with(&app, &token, "20", None, &id).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["user_id"], user_id);
    assert_eq!(payment["amount"], "20.00000000");
    assert_eq!(payment["bitpin_payment_id"], id.as_str());
    assert_eq!(app.count("payments").await, 1);

    // Exactly one call, a GET on the original's path, with our key as the original sent it.
    let requests = mock.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "Bitpin called {} times", requests.len());
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), payment_path(&id));
    let authorization = request
        .headers
        .get("authorization")
        .expect("Authorization header sent to Bitpin");
    assert_eq!(authorization.to_str().unwrap(), "Token k");
}

async fn amount_may_be_a_json_number(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();
    bitpin_says(&mock, &id, bitpin_answer(&id, "completed", json!(25.5))).await;

    let (status, payment) = pay_with(&app, &token, "25.5", None, &id).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["amount"], "25.50000000");
}

async fn unknown_payment_is_rejected(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();
    bitpin_says(
        &mock,
        &id,
        ResponseTemplate::new(404).set_body_json(json!({ "detail": "Not found." })),
    )
    .await;

    let (status, body) = pay_with(&app, &token, "20", None, &id).await;
    assert_verification_failed(status, &body, StatusCode::BAD_REQUEST);
    assert_nothing_written(&app, &token).await;
    assert_eq!(mock.received_requests().await.unwrap().len(), 1);
}

async fn pending_payment_is_rejected(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();
    bitpin_says(
        &mock,
        &id,
        bitpin_answer(&id, "pending", json!("20.00000000")),
    )
    .await;

    let (status, body) = pay_with(&app, &token, "20", None, &id).await;
    assert_verification_failed(status, &body, StatusCode::BAD_REQUEST);
    assert_nothing_written(&app, &token).await;
}

async fn payment_below_the_fee_is_rejected(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();
    bitpin_says(
        &mock,
        &id,
        bitpin_answer(&id, "completed", json!("19.99999999")),
    )
    .await;

    let (status, body) = pay_with(&app, &token, "20", None, &id).await;
    assert_verification_failed(status, &body, StatusCode::BAD_REQUEST);
    assert_nothing_written(&app, &token).await;
}

/// The total Bitpin must cover is the fee plus the loan repayment, not the fee alone.
async fn payment_below_fee_plus_repayment_is_rejected(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (sara_id, sara) = app.member(&admin, "sara", "20").await;

    // Month 1: everyone pays (with ids Bitpin confirms), sara wins a loan of 20.
    for token in [&admin, &sara] {
        let id = new_id();
        bitpin_says(&mock, &id, bitpin_answer(&id, "completed", json!("20"))).await;
        let (status, body) = pay_with(&app, token, "20", None, &id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, draw) = app.post("/api/loans/start", &sara, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{draw}");
    assert_eq!(draw["loan"]["state"], "active", "{draw}");
    assert_eq!(draw["loan"]["user_id"], sara_id, "{draw}");
    assert_eq!(draw["loan"]["amount"], "20.00000000", "{draw}");

    // Month 2: fee 20 + repayment 20 = 40; a Bitpin payment of 39.99999999 covers the fee only.
    app.advance_days(31);
    let sara = app.login("sara", common::PASSWORD).await; // access tokens last an hour
    let short = new_id();
    bitpin_says(
        &mock,
        &short,
        bitpin_answer(&short, "completed", json!("39.99999999")),
    )
    .await;
    let (status, body) = pay_with(&app, &sara, "20", Some("20"), &short).await;
    assert_verification_failed(status, &body, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("payments").await,
        2,
        "the refused payment was written"
    );

    let enough = new_id();
    bitpin_says(
        &mock,
        &enough,
        bitpin_answer(&enough, "completed", json!("40.00000000")),
    )
    .await;
    let (status, payment) = pay_with(&app, &sara, "20", Some("20"), &enough).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["amount"], "40.00000000");
    assert_eq!(payment["loan_payment"]["amount"], "20.00000000");
}

async fn bitpin_errors_are_bad_gateway_and_write_nothing(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();

    // A server error, and a refusal of our key: neither is the member's fault.
    for code in [500, 503, 401] {
        mock.reset().await;
        bitpin_says(
            &mock,
            &id,
            ResponseTemplate::new(code).set_body_string("oops"),
        )
        .await;
        let (status, body) = pay_with(&app, &token, "20", None, &id).await;
        assert_verification_failed(status, &body, StatusCode::BAD_GATEWAY);
        assert_eq!(
            mock.received_requests().await.unwrap().len(),
            1,
            "Bitpin {code}"
        );
        assert_nothing_written(&app, &token).await;
    }

    // An answer that is not the documented JSON is also the gateway's failure.
    mock.reset().await;
    bitpin_says(
        &mock,
        &id,
        ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
    )
    .await;
    let (status, body) = pay_with(&app, &token, "20", None, &id).await;
    assert_verification_failed(status, &body, StatusCode::BAD_GATEWAY);
    assert_nothing_written(&app, &token).await;

    // Nothing was recorded, so the same Bitpin payment can be submitted again once Bitpin is back.
    mock.reset().await;
    bitpin_says(
        &mock,
        &id,
        bitpin_answer(&id, "completed", json!("20.00000000")),
    )
    .await;
    let (status, payment) = pay_with(&app, &token, "20", None, &id).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(app.count("payments").await, 1);
}

async fn slow_bitpin_times_out_and_writes_nothing(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();
    let slow =
        bitpin_answer(&id, "completed", json!("20.00000000")).set_delay(Duration::from_secs(5));
    bitpin_says(&mock, &id, slow).await;

    let started = Instant::now();
    let (status, body) = pay_with(&app, &token, "20", None, &id).await;
    let elapsed = started.elapsed();
    assert_verification_failed(status, &body, StatusCode::BAD_GATEWAY);
    assert!(
        elapsed < Duration::from_secs(3),
        "the {TIMEOUT:?} Bitpin timeout was not enforced: the request took {elapsed:?}"
    );
    assert_nothing_written(&app, &token).await;
}

async fn unreachable_bitpin_is_bad_gateway(backend: Backend) {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(app) = app_with_bitpin(backend, format!("http://127.0.0.1:{port}")).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;

    let (status, body) = pay_with(&app, &token, "20", None, &new_id()).await;
    assert_verification_failed(status, &body, StatusCode::BAD_GATEWAY);
    assert_nothing_written(&app, &token).await;
}

async fn payment_id_used_by_another_member_is_a_conflict_without_asking_bitpin(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    let id = new_id();
    Mock::given(method("GET"))
        .and(path(payment_path(&id)))
        .and(header("authorization", "Token k"))
        .respond_with(bitpin_answer(&id, "completed", json!("20.00000000")))
        .expect(1)
        .mount(&mock)
        .await;

    let (status, body) = pay_with(&app, &sara, "20", None, &id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = pay_with(&app, &omid, "20", None, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].is_string(), "{body}");

    // Nor can the owner claim it again in a later month.
    app.advance_days(31);
    let sara = app.login("sara", common::PASSWORD).await; // access tokens last an hour
    let (status, body) = pay_with(&app, &sara, "20", None, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    assert_eq!(app.count("payments").await, 1);
    let omid = app.login("omid", common::PASSWORD).await;
    let (status, me) = app.get("/api/auth/me", &omid).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["balance"], "0.00000000");
    mock.verify().await;
}

/// Both requests pass the "id unused" check while Bitpin answers; the database lets one win.
async fn one_payment_id_claimed_concurrently_by_two_members_is_recorded_once(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    let id = new_id();
    let slowish =
        bitpin_answer(&id, "completed", json!("20")).set_delay(Duration::from_millis(200));
    bitpin_says(&mock, &id, slowish).await;

    let (a, b) = tokio::join!(
        pay_with(&app, &sara, "20", None, &id),
        pay_with(&app, &omid, "20", None, &id)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} / {}",
        a.1,
        b.1
    );
    assert_eq!(app.count("payments").await, 1);
    let loser = if a.0 == StatusCode::CONFLICT {
        &a.1
    } else {
        &b.1
    };
    assert!(
        loser["detail"]
            .as_str()
            .is_some_and(|d| d.to_lowercase().contains("bitpin")),
        "{loser}"
    );
}

/// A payment id is one path segment: it cannot point the request at another Bitpin URL.
async fn payment_id_cannot_escape_the_url_path(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    // Anything else Bitpin serves would say "completed" for a large amount.
    Mock::given(path_regex(".*"))
        .respond_with(bitpin_answer("x", "completed", json!("1000")))
        .mount(&mock)
        .await;

    let id = "../../other?x=1#frag";
    let (status, body) = pay_with(&app, &token, "20", None, id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let requests = mock.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let url = &requests[0].url;
    assert_eq!(
        url.path(),
        "/v1/mch/payments/%2E%2E%2F%2E%2E%2Fother%3Fx%3D1%23frag/"
    );
    assert_eq!(url.query(), None);
}

/// The original accepted `completed`, `paid`, `confirmed` and `done`: an existing fund's Bitpin
/// account keeps working whichever it answers.
async fn every_completed_status_of_the_original_is_accepted(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    for (i, status) in ["completed", "paid", "confirmed", "done"]
        .iter()
        .enumerate()
    {
        let (_, token) = app.member(&admin, &format!("member{i}"), "0").await;
        let id = new_id();
        bitpin_says(&mock, &id, bitpin_answer(&id, status, json!("20"))).await;
        let (code, body) = pay_with(&app, &token, "20", None, &id).await;
        assert_eq!(code, StatusCode::CREATED, "{status}: {body}");
    }
    assert_eq!(app.count("payments").await, 4);
}

async fn a_payment_in_another_currency_is_rejected(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "sara", "0").await;
    let id = new_id();
    let irt = ResponseTemplate::new(200).set_body_json(
        json!({ "id": id, "status": "completed", "amount": "2000000", "currency": "IRT" }),
    );
    bitpin_says(&mock, &id, irt).await;
    let (status, body) = pay_with(&app, &token, "20", None, &id).await;
    assert_verification_failed(status, &body, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        format!("Bitpin payment verification failed: Payment {id} currency is 'IRT', not USDT")
    );
    assert_nothing_written(&app, &token).await;
}

/// One Bitpin payment is claimed once: by the id Bitpin returns, normalised, whatever the
/// member typed (`04242` for Bitpin's `4242`, an alias for `REAL-ID`).
async fn the_id_bitpin_returns_is_what_can_be_claimed_once(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = app_with_bitpin(backend, mock.uri()).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    let (_, reza) = app.member(&admin, "reza", "0").await;
    let numeric = |id: &str| {
        ResponseTemplate::new(200).set_body_json(
            json!({ "id": 4242, "status": "completed", "amount": "20", "currency": "USDT", "asked": id }),
        )
    };
    for id in ["04242", "4242"] {
        bitpin_says(&mock, id, numeric(id)).await;
    }
    let (status, payment) = pay_with(&app, &sara, "20", None, "04242").await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(
        payment["bitpin_payment_id"], "04242",
        "the id as the member wrote it"
    );
    let (status, body) = pay_with(&app, &omid, "20", None, "4242").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["detail"],
        "This Bitpin payment id has already been used"
    );
    assert_eq!(
        mock.received_requests().await.unwrap().len(),
        1,
        "the second claim is refused before Bitpin is asked"
    );

    // An id Bitpin knows under another name: its own id is what is stored, so that name is taken.
    let real = ResponseTemplate::new(200).set_body_json(
        json!({ "id": "REAL-ID", "status": "completed", "amount": "20", "currency": "USDT" }),
    );
    bitpin_says(&mock, "alias-of-real", real).await;
    let (status, payment) = pay_with(&app, &omid, "20", None, "alias-of-real").await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let (status, body) = pay_with(&app, &reza, "20", None, "real-id").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(app.count("payments").await, 2);
    let key: String = sqlx::query_scalar(
        "SELECT bitpin_payment_key FROM payments WHERE bitpin_payment_id = 'alias-of-real'",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(key, "real-id");
    let (_, me) = app.get("/api/auth/me", &reza).await;
    assert_eq!(me["balance"], "0.00000000");
}

// --- start-up -------------------------------------------------------------------------------

/// Runs `saghat migrate` in a fresh folder with a production configuration and `extra` env.
fn saghat_in_prod(extra: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_saghat"));
    command
        .arg("migrate")
        .current_dir(dir.path())
        .env_remove("BITPIN_API_KEY")
        .env_remove("BITPIN_VERIFY")
        .env_remove("SAGHAT_FAKE_NOW")
        .env("APP_ENV", "prod")
        .env("SECRET_KEY", "s".repeat(40))
        .env("JWT_SECRET_KEY", "j".repeat(40))
        .env("SAGHAT_DATA_DIR", dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/saghat.db?mode=rwc", dir.path().display()),
        );
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().expect("saghat runs")
}

/// In production a fund that forgot BITPIN_API_KEY would record every claimed payment as paid:
/// that is a start-up error, unless BITPIN_VERIFY=off says it is meant.
#[test]
fn production_without_a_bitpin_key_does_not_start_unless_verification_is_off() {
    let refused = saghat_in_prod(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "started without a key: {stderr}");
    assert!(
        stderr.contains("BITPIN_API_KEY") && stderr.contains("BITPIN_VERIFY=off"),
        "{stderr}"
    );

    let off = saghat_in_prod(&[("BITPIN_VERIFY", "off")]);
    assert!(
        off.status.success(),
        "BITPIN_VERIFY=off: {}",
        String::from_utf8_lossy(&off.stderr)
    );
    let with_key = saghat_in_prod(&[("BITPIN_API_KEY", "a-key-for-this-test")]);
    let stderr = String::from_utf8_lossy(&with_key.stderr);
    assert!(with_key.status.success(), "{stderr}");
    assert!(
        !stderr.contains("a-key-for-this-test"),
        "the key was logged: {stderr}"
    );
}
