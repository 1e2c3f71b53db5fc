//! Signed outgoing webhooks on both databases: a receiver (an axum server inside the test)
//! records each request and checks its signature with its own HMAC-SHA256; sending an invoice
//! delivers `invoice.sent` once and paying it `invoice.paid`; a receiver that fails is retried
//! until it answers, the last failure marks the delivery failed, and a replay sends it again;
//! internal addresses are refused when registered and when delivered to; only admins manage.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use reqwest::Method;
use saghat_core::auth::CurrentUser;
use saghat_core::invoicing::invoices::{self, DraftInput, DraftLine};
use saghat_core::invoicing::model::{Address, Percent, Quantity, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::payments::{self, PaymentInput};
use saghat_core::invoicing::service::{self, ClientInput};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::Ctx;
use saghat_test_support::{on_both_databases, Backend, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_databases!(
    sending_an_invoice_delivers_invoice_sent_once_and_paying_it_invoice_paid,
    a_receiver_failing_twice_gets_three_attempts_and_the_delivery_is_delivered,
    the_last_failure_marks_the_delivery_failed_and_a_replay_sends_it_again,
    internal_addresses_are_refused_when_registered_and_when_delivered_to,
    only_admins_manage_webhooks_and_bad_input_is_refused,
    the_admin_page_adds_an_endpoint_lists_its_deliveries_and_replays_one,
    a_tickets_moves_and_the_draw_deliver_their_events,
    the_admin_page_disables_enables_and_deletes_an_endpoint,
);

const SECRET: &str = "whsec_0123456789abcdef";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// An HTTP server on a random port that records every request and answers with the next
/// status of its script (200 once the script is used up).
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (rec, scr) = (received.clone(), script.clone());
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (rec, scr) = (rec.clone(), scr.clone());
                async move {
                    rec.lock().unwrap().push(Received { headers, body });
                    let status = scr.lock().unwrap().pop_front().unwrap_or(200);
                    (StatusCode::from_u16(status).unwrap(), "receiver says hello")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hooks"),
            received,
            script,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
}

/// HMAC-SHA256 written out (RFC 2104) over SHA-256, so the check does not share Saghat's code.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The receiver's side: the signature header is `t=<unix>,v1=<hex>` over `"<t>.<body>"`.
fn signature_ok(request: &Received, secret: &str) -> bool {
    let header = request.headers["saghat-signature"].to_str().unwrap();
    let Some((t, v1)) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let expected = hex(&hmac_sha256(
        secret.as_bytes(),
        format!("{t}.{}", request.body).as_bytes(),
    ));
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    v1 == expected && (0..300).contains(&age)
}

/// Checks the request as a receiver would, and returns its parsed body.
fn verified(request: &Received, secret: &str) -> Value {
    assert!(signature_ok(request, secret), "the signature verifies");
    assert_eq!(request.headers["content-type"], "application/json");
    serde_json::from_str(&request.body).unwrap()
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An app that may reach the receiver on 127.0.0.1, with its worker running.
async fn app_reaching_loopback(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |config| {
        config.webhook_allow_private = true;
        config.jobs.in_process = true;
    })
    .await
}

async fn register(app: &TestApp, token: &str, url: &str, events: &[&str]) -> i64 {
    let (status, body) = app
        .post(
            "/api/webhooks",
            token,
            json!({ "url": url, "events": events, "secret": SECRET, "description": "books" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["secret"], SECRET);
    body["id"].as_i64().unwrap()
}

async fn deliveries(app: &TestApp, token: &str, endpoint: i64) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/webhooks/{endpoint}/deliveries"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// Waits until the endpoint's newest delivery has `status`, and returns it.
async fn delivery_once(app: &TestApp, token: &str, endpoint: i64, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = deliveries(app, token, endpoint).await;
        if let Some(newest) = all.first().filter(|d| d["status"] == status) {
            return newest.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for a delivery {status}: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ctx(app: &TestApp) -> &Ctx {
    app.state.ctx()
}

async fn client(app: &TestApp, admin: &CurrentUser) -> i64 {
    let input = ClientInput {
        kind: "company".into(),
        name: "Acme".into(),
        tax_id: None,
        email: Some("ap@acme.example".into()),
        address: Address {
            street: "Hauptstr. 1".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country_code: "DE".into(),
        },
        language: "en".into(),
        currency: Currency::Eur,
        payment_terms_days: 14,
        notes: String::new(),
        send_reminders: true,
    };
    service::create_client(ctx(app), admin, &input, &RequestMeta::default())
        .await
        .unwrap()
        .id
}

/// A draft of 1,190.00 EUR (1,000.00 and 19% VAT) for `client_id`.
async fn draft(app: &TestApp, admin: &CurrentUser, client_id: i64) -> String {
    let line = DraftLine {
        product_id: None,
        description: "Hosting".into(),
        unit: Unit::Piece,
        quantity: Quantity::parse("1").unwrap(),
        unit_price: 100_000,
        discount: None,
        tax: TaxCategory {
            code: TaxCode::Standard,
            rate: Percent(1_900),
        },
    };
    let input = DraftInput {
        client_id,
        currency: None,
        issue_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        due_date: NaiveDate::from_ymd_opt(2026, 12, 6),
        lines: vec![line],
        discount: None,
        prices_include_tax: false,
        notes: String::new(),
        terms: String::new(),
    };
    invoices::create_draft(ctx(app), admin, &input, &RequestMeta::default())
        .await
        .unwrap()
        .invoice
        .id
}

async fn send(app: &TestApp, admin: &CurrentUser, invoice: &str) -> String {
    invoices::send(ctx(app), admin, invoice, &RequestMeta::default())
        .await
        .unwrap()
        .invoice
        .number
        .unwrap()
}

async fn pay(app: &TestApp, admin: &CurrentUser, client_id: i64, invoice: &str, amount: i64) {
    payments::record_payment(
        ctx(app),
        admin,
        &PaymentInput {
            client_id,
            amount,
            currency: Currency::Eur,
            received_on: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            method: "bank_transfer".into(),
            reference: String::new(),
            notes: String::new(),
            allocations: vec![(invoice.to_string(), amount)],
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();
}

async fn sending_an_invoice_delivers_invoice_sent_once_and_paying_it_invoice_paid(
    backend: Backend,
) {
    let Some(app) = app_reaching_loopback(backend).await else {
        return;
    };
    let receiver = Receiver::start(&[]).await;
    let token = app.admin_token().await;
    let endpoint = register(
        &app,
        &token,
        &receiver.url,
        &["invoice.sent", "invoice.paid"],
    )
    .await;
    // Another endpoint wants tickets only: invoices are not sent to it.
    let elsewhere = Receiver::start(&[]).await;
    register(&app, &token, &elsewhere.url, &["ticket.state_changed"]).await;
    let admin = app.admin_user().await;
    let client_id = client(&app, &admin).await;
    let invoice = draft(&app, &admin, client_id).await;
    let number = send(&app, &admin, &invoice).await;
    // Sending a sent invoice changes nothing and emits nothing.
    send(&app, &admin, &invoice).await;

    let sent = delivery_once(&app, &token, endpoint, "delivered").await;
    assert_eq!(sent["event"], "invoice.sent");
    assert_eq!(sent["attempts"], 1);
    assert_eq!(sent["last_status_code"], 200);
    let requests = receiver.received();
    assert_eq!(requests.len(), 1, "invoice.sent delivered once");
    let body = verified(&requests[0], SECRET);
    assert_eq!(body["event"], "invoice.sent");
    assert_eq!(body["id"], sent["event_id"]);
    assert_eq!(body["data"]["invoice_id"], invoice);
    assert_eq!(body["data"]["number"], number);
    assert_eq!(body["data"]["total"], 119_000);
    assert_eq!(body["data"]["currency"], "EUR");
    assert_eq!(requests[0].headers["saghat-event"], "invoice.sent");
    assert_eq!(
        requests[0].headers["saghat-delivery"].to_str().unwrap(),
        sent["id"].to_string()
    );
    // A wrong secret does not verify: the check can fail.
    assert!(!signature_ok(&requests[0], "whsec_not_the_secret"));
    let mut tampered = requests[0].clone();
    tampered.body = tampered.body.replace("119000", "1");
    assert!(!signature_ok(&tampered, SECRET));

    // Half paid: nothing; paid in full: invoice.paid.
    pay(&app, &admin, client_id, &invoice, 50_000).await;
    pay(&app, &admin, client_id, &invoice, 69_000).await;
    wait_for("invoice.paid", || async { receiver.received().len() == 2 }).await;
    let paid = verified(&receiver.received()[1], SECRET);
    assert_eq!(paid["event"], "invoice.paid");
    assert_eq!(paid["data"]["invoice_id"], invoice);
    assert_eq!(paid["data"]["amount_paid"], 119_000);
    assert_ne!(paid["id"], body["id"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2, "nothing more was sent");
    assert!(elsewhere.received().is_empty());
    assert_eq!(deliveries(&app, &token, endpoint).await.len(), 2);
}

async fn a_receiver_failing_twice_gets_three_attempts_and_the_delivery_is_delivered(
    backend: Backend,
) {
    let Some(app) = app_reaching_loopback(backend).await else {
        return;
    };
    assert_eq!(app.state.config.jobs.max_attempts, 3);
    let receiver = Receiver::start(&[500, 500, 200]).await;
    let token = app.admin_token().await;
    let endpoint = register(&app, &token, &receiver.url, &["invoice.sent"]).await;
    let admin = app.admin_user().await;
    let client_id = client(&app, &admin).await;
    let invoice = draft(&app, &admin, client_id).await;
    send(&app, &admin, &invoice).await;

    let delivery = delivery_once(&app, &token, endpoint, "delivered").await;
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_status_code"], 200);
    let requests = receiver.received();
    assert_eq!(requests.len(), 3);
    // Every attempt is the same delivery with the same body, each signed.
    for request in &requests {
        verified(request, SECRET);
        assert_eq!(request.body, requests[0].body);
        assert_eq!(
            request.headers["saghat-delivery"],
            requests[0].headers["saghat-delivery"]
        );
    }
}

async fn the_last_failure_marks_the_delivery_failed_and_a_replay_sends_it_again(backend: Backend) {
    let Some(app) = app_reaching_loopback(backend).await else {
        return;
    };
    let receiver = Receiver::start(&[500, 503, 500]).await;
    let token = app.admin_token().await;
    let endpoint = register(&app, &token, &receiver.url, &["invoice.sent"]).await;
    let admin = app.admin_user().await;
    let client_id = client(&app, &admin).await;
    let invoice = draft(&app, &admin, client_id).await;
    send(&app, &admin, &invoice).await;

    let failed = delivery_once(&app, &token, endpoint, "failed").await;
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["last_status_code"], 500);
    assert_eq!(failed["last_error"], "HTTP 500: receiver says hello");
    assert_eq!(receiver.received().len(), 3);

    receiver.answer_next(&[200]);
    let id = failed["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/webhooks/deliveries/{id}/replay"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "queued");
    let replayed = delivery_once(&app, &token, endpoint, "delivered").await;
    assert_eq!(replayed["id"], failed["id"]);
    assert_eq!(replayed["attempts"], 4);
    let requests = receiver.received();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[3].body, requests[0].body, "the same event again");
    verified(&requests[3], SECRET);

    let (status, _) = app
        .post("/api/webhooks/deliveries/999999/replay", &token, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn internal_addresses_are_refused_when_registered_and_when_delivered_to(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.jobs.in_process = true).await
    else {
        return;
    };
    let token = app.admin_token().await;
    for url in [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
    ] {
        let (status, body) = app
            .post(
                "/api/webhooks",
                &token,
                json!({ "url": url, "events": ["invoice.sent"] }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("internal address"),
            "{url}: {body}"
        );
    }
    let (status, _) = app
        .post(
            "/api/webhooks",
            &token,
            json!({ "url": "ftp://example.com/", "events": ["invoice.sent"] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("webhook_endpoints").await, 0);

    // An endpoint whose address became internal after it was registered (DNS changed) is
    // checked again when delivered to: nothing reaches it.
    let receiver = Receiver::start(&[]).await;
    sqlx::query(
        "INSERT INTO webhook_endpoints (url, events, secret, description, active, created_at) \
         VALUES ($1, '[\"invoice.sent\"]', $2, '', 1, '2026-11-22T12:00:00.000000Z')",
    )
    .bind(&receiver.url)
    .bind(SECRET)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let endpoint: i64 = sqlx::query_scalar("SELECT id FROM webhook_endpoints")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let admin = app.admin_user().await;
    let client_id = client(&app, &admin).await;
    let invoice = draft(&app, &admin, client_id).await;
    send(&app, &admin, &invoice).await;
    let failed = delivery_once(&app, &token, endpoint, "failed").await;
    assert_eq!(failed["attempts"], 3);
    assert!(failed["last_status_code"].is_null());
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("internal address"),
        "{failed}"
    );
    assert!(receiver.received().is_empty());

    // Allowed, the same loopback address registers.
    let Some(allowed) =
        TestApp::spawn_with(backend, |config| config.webhook_allow_private = true).await
    else {
        return;
    };
    let token = allowed.admin_token().await;
    let (status, body) = allowed
        .post(
            "/api/webhooks",
            &token,
            json!({ "url": "http://127.0.0.1/", "events": ["invoice.sent"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Without a secret given, 32 random bytes in hex; never shown again.
    let secret = body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    let (_, listed) = allowed.get("/api/webhooks", &token).await;
    assert!(!listed.to_string().contains(secret));
    assert!(listed[0].get("secret").is_none());
}

async fn only_admins_manage_webhooks_and_bad_input_is_refused(backend: Backend) {
    let Some(app) =
        TestApp::spawn_with(backend, |config| config.webhook_allow_private = true).await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let id = register(&app, &admin, "http://127.0.0.1:9/hooks", &["loan.assigned"]).await;
    let (_, member) = app.member(&admin, "bob", "100").await;
    let body = json!({ "url": "http://127.0.0.1:9/", "events": ["invoice.sent"] });
    for (method, path) in [
        (Method::GET, "/api/webhooks".to_string()),
        (Method::POST, "/api/webhooks".to_string()),
        (Method::GET, format!("/api/webhooks/{id}")),
        (Method::PATCH, format!("/api/webhooks/{id}")),
        (Method::DELETE, format!("/api/webhooks/{id}")),
        (Method::GET, format!("/api/webhooks/{id}/deliveries")),
        (
            Method::POST,
            "/api/webhooks/deliveries/1/replay".to_string(),
        ),
    ] {
        let (status, _) = app
            .call(method.clone(), &path, Some(&member), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        let (status, _) = app.call(method.clone(), &path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }

    let (status, body) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({ "url": "http://127.0.0.1:9/", "events": ["invoice.deleted"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "events"]));
    let (status, body) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({ "events": ["invoice.sent"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({ "url": "http://127.0.0.1:9/", "events": ["invoice.sent"], "secret": "short" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The admin changes and deletes it, each audited.
    let (status, changed) = app
        .call(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            Some(&admin),
            Some(json!({ "active": false, "events": ["loan.assigned", "payment.verified"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["active"], false);
    assert_eq!(
        changed["events"],
        json!(["loan.assigned", "payment.verified"])
    );
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            Some(&admin),
            Some(json!({ "url": "gopher://example.com/" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/webhooks/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('webhook_created', 'webhook_changed', 'webhook_deleted')",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 3);
}

async fn the_admin_page_adds_an_endpoint_lists_its_deliveries_and_replays_one(backend: Backend) {
    let Some(app) = app_reaching_loopback(backend).await else {
        return;
    };
    let receiver = Receiver::start(&[]).await;
    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let members = boss.get("/admin/members").await;
    assert!(
        members.has("<a href=\"/admin/webhooks\">Webhooks</a>"),
        "{}",
        members.body
    );

    // No event ticked, and a URL that is not http: each error beside its field.
    let refused = boss
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[("url", &receiver.url)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.body);
    assert_eq!(refused.field_error("events"), "Choose at least one event.");
    assert!(refused.has(&receiver.url), "the form keeps what was typed");
    let refused = boss
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[("url", "ftp://example.com/"), ("event:invoice.sent", "on")],
        )
        .await;
    assert_eq!(
        refused.field_error("url"),
        "The URL must be http:// or https://."
    );
    assert_eq!(app.count("webhook_endpoints").await, 0);

    let added = boss
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[
                ("url", &receiver.url),
                ("description", "Accounting"),
                ("event:invoice.sent", "on"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(added.has("id=\"new-secret\""), "{}", added.body);
    let secret: String = sqlx::query_scalar("SELECT secret FROM webhook_endpoints")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(secret.len(), 64);
    assert!(added.has(&secret), "the secret is shown once");
    let endpoint: i64 = sqlx::query_scalar("SELECT id FROM webhook_endpoints")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let listed = boss.get("/admin/webhooks").await;
    assert!(listed.has(&receiver.url));
    assert!(!listed.has(&secret), "and never again");

    let admin = app.admin_user().await;
    let client_id = client(&app, &admin).await;
    let invoice = draft(&app, &admin, client_id).await;
    send(&app, &admin, &invoice).await;
    let token = app.admin_token().await;
    let delivery = delivery_once(&app, &token, endpoint, "delivered").await;
    verified(&receiver.received()[0], &secret);
    let id = delivery["id"].as_i64().unwrap();

    let page = boss
        .get(&format!("/admin/webhooks?endpoint={endpoint}"))
        .await;
    assert!(page.has(&format!("id=\"delivery-{id}\"")), "{}", page.body);
    assert!(page.has("Delivered"));
    assert!(page.has("invoice.sent"));
    let replay = format!("/admin/webhooks/deliveries/{id}/replay");
    let csrf = page.csrf();
    let replayed = boss.post(&replay, &[("csrf", &csrf)]).await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER, "{}", replayed.body);
    assert_eq!(
        replayed.location,
        format!("/admin/webhooks?endpoint={endpoint}&done=replayed")
    );
    wait_for("the replay delivered", || async {
        let newest = deliveries(&app, &token, endpoint).await;
        newest[0]["attempts"] == 2 && newest[0]["status"] == "delivered"
    })
    .await;
    assert_eq!(receiver.received().len(), 2);

    // Persian: right to left, Persian words and digits.
    let fa = boss
        .get(&format!("/admin/webhooks?endpoint={endpoint}&lang=fa"))
        .await;
    for text in ["dir=\"rtl\"", "وب‌هوک‌ها", "ارسال دوباره", "رسیده", "۲۰۰"]
    {
        assert!(fa.has(text), "{text} in {}", fa.body);
    }

    // A member may neither see the page nor replay.
    app.member(&token, "sara", "100").await;
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;
    assert_eq!(
        sara.send(Method::GET, "/admin/webhooks", None).await.status,
        StatusCode::FORBIDDEN
    );
    let sara_csrf = sara.get("/dashboard").await.csrf();
    assert_eq!(
        sara.post(&replay, &[("csrf", &sara_csrf)]).await.status,
        StatusCode::FORBIDDEN
    );
}

/// `ticket.state_changed` for each move of a loan-request ticket, and `loan.assigned` for the
/// draw's winner, signed and delivered like the invoices' events.
async fn a_tickets_moves_and_the_draw_deliver_their_events(backend: Backend) {
    let Some(app) = app_reaching_loopback(backend).await else {
        return;
    };
    let receiver = Receiver::start(&[]).await;
    let token = app.admin_token().await;
    register(
        &app,
        &token,
        &receiver.url,
        &["ticket.state_changed", "loan.assigned"],
    )
    .await;
    let loan =
        saghat_test_support::tickets::repaying_ticket(&app, &token, "reza", "lathe", 1_200).await;
    let moves = [
        ("draft", "submitted"),
        ("submitted", "under_review"),
        ("under_review", "approved"),
        ("approved", "disbursed"),
        ("disbursed", "repaying"),
    ];
    wait_for("the ticket's moves", || async {
        receiver.received().len() == moves.len()
    })
    .await;
    let got: Vec<(String, String)> = receiver
        .received()
        .iter()
        .map(|r| verified(r, SECRET))
        .inspect(|body| {
            assert_eq!(body["event"], "ticket.state_changed");
            assert_eq!(body["data"]["ticket_id"], loan.ticket_id.as_str());
        })
        .map(|body| {
            let text = |k: &str| body["data"][k].as_str().unwrap().to_string();
            (text("from"), text("to"))
        })
        .collect();
    let mut want: Vec<(String, String)> = moves
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    // Each event is its own job: they may arrive in any order.
    let mut got = got;
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // The month's draw: everyone has paid; sara asked for a loan and wins it.
    let (sara, sara_token) = app.member(&token, "sara", "100").await;
    for member in [&sara_token, &loan.token] {
        let (status, body) = app.pay(member, "200", None).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    }
    let (status, drawn) = app.post("/api/loans/start", &token, json!({})).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{drawn}");
    wait_for("loan.assigned", || async {
        receiver.received().len() == moves.len() + 1
    })
    .await;
    let assigned = verified(&receiver.received()[moves.len()], SECRET);
    assert_eq!(assigned["event"], "loan.assigned");
    assert_eq!(assigned["data"]["user_id"], sara);
    assert_eq!(assigned["data"]["loan_id"], drawn["loan"]["id"]);
}

/// Disable stops an endpoint's events (none is written for it), Enable brings them back,
/// Delete removes it; each from its buttons on the admin page, in both languages.
async fn the_admin_page_disables_enables_and_deletes_an_endpoint(backend: Backend) {
    let Some(app) = app_reaching_loopback(backend).await else {
        return;
    };
    let receiver = Receiver::start(&[]).await;
    let token = app.admin_token().await;
    let endpoint = register(&app, &token, &receiver.url, &["invoice.sent"]).await;
    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get("/admin/webhooks?lang=fa").await;
    assert!(
        page.has(&format!("id=\"endpoint-{endpoint}-toggle\">غیرفعال کردن")),
        "{}",
        page.body
    );
    let paused = boss
        .submit(
            "/admin/webhooks",
            &format!("/admin/webhooks/{endpoint}/disable"),
            &[],
        )
        .await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.body);
    let (_, listed) = app.get(&format!("/api/webhooks/{endpoint}"), &token).await;
    assert_eq!(listed["active"], false, "{listed}");
    assert_eq!(
        paused.location,
        format!("/admin/webhooks?done=disabled#endpoint-{endpoint}")
    );
    // The page kept the language chosen (Persian): ask for English.
    let page = boss.get("/admin/webhooks?done=disabled&lang=en").await;
    assert!(page.has("The endpoint is disabled"), "{}", page.body);
    assert!(page.has(&format!("id=\"endpoint-{endpoint}-toggle\">Enable")));
    // Disabled: an invoice sent writes no delivery for it.
    let admin = app.admin_user().await;
    let client_id = client(&app, &admin).await;
    let invoice = draft(&app, &admin, client_id).await;
    send(&app, &admin, &invoice).await;
    assert_eq!(app.count("webhook_deliveries").await, 0);

    let resumed = boss
        .submit(
            "/admin/webhooks",
            &format!("/admin/webhooks/{endpoint}/enable"),
            &[],
        )
        .await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER);
    let (_, listed) = app.get(&format!("/api/webhooks/{endpoint}"), &token).await;
    assert_eq!(listed["active"], true, "{listed}");

    let unknown = boss
        .submit(
            "/admin/webhooks",
            &format!("/admin/webhooks/{endpoint}/explode"),
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let deleted = boss
        .submit(
            "/admin/webhooks",
            &format!("/admin/webhooks/{endpoint}/delete"),
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("webhook_endpoints").await, 0);
    assert_eq!(deleted.location, "/admin/webhooks?done=deleted");
    let page = boss.get("/admin/webhooks?done=deleted&lang=en").await;
    assert!(page.has("The endpoint was deleted."), "{}", page.body);
    // A member may not.
    app.member(&token, "omid", "0").await;
    let mut omid = app.browser();
    omid.sign_in("omid", PASSWORD).await;
    let refused = omid
        .submit(
            "/dashboard",
            &format!("/admin/webhooks/{endpoint}/disable"),
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
