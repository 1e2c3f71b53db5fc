//! Online payments of invoices through payment intents, against a Zarinpal stand-in that
//! speaks v4's documented shapes, on SQLite and PostgreSQL: the happy path with what reaches
//! the gateway, `Status=NOK`, an amount mismatch (-50), an answer of 101, concurrent callbacks
//! (one effect), expiry, a payment for a paid invoice given back (or kept as credit), late
//! payments found by reconciliation, settlement, and who may do what.

use saghat_test_support as common;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::zarinpal::{authority, error, FakeZarinpal, MERCHANT_ID};
use common::{Backend, TestApp, PASSWORD};

common::on_both_databases!(
    an_invoice_is_paid_online_once_and_settled,
    a_cancelled_payment_fails_and_a_late_payment_is_still_recorded,
    an_amount_mismatch_is_refused_and_nothing_is_recorded,
    an_answer_of_101_counts_as_verified,
    concurrent_callbacks_record_the_payment_once,
    intents_not_paid_in_time_expire,
    a_payment_for_a_paid_invoice_is_given_back,
    a_payment_the_gateway_cannot_give_back_is_kept_as_credit,
    who_may_pay_and_what_can_be_paid,
    a_gateway_that_refuses_or_is_down_charges_nothing,
);

/// 1,500,000 Rials + 9% tax.
const TOTAL: i64 = 1_635_000;

struct Setup {
    app: TestApp,
    zarinpal: FakeZarinpal,
    admin: String,
    /// A portal user of the invoice's client, signed in on /api.
    payer: String,
    client: i64,
    invoice: String,
}

async fn setup(backend: Backend) -> Option<Setup> {
    setup_with(backend, |_| {}).await
}

async fn setup_with(
    backend: Backend,
    tweak: impl FnOnce(&mut saghat_core::config::Config),
) -> Option<Setup> {
    let zarinpal = FakeZarinpal::start().await;
    let app = TestApp::spawn_with(backend, |c| {
        zarinpal.configure(c);
        c.webhook_allow_private = true;
        c.zarinpal.timeout = Duration::from_millis(800);
        tweak(c);
    })
    .await?;
    let admin = app.admin_token().await;
    let client = irr_client(&app, &admin, "Parsian").await;
    app.v1_user(&admin, "parsian", "client", Some(client)).await;
    let payer = app.login("parsian", PASSWORD).await;
    let invoice = sent_invoice(&app, &admin, client).await;
    Some(Setup {
        app,
        zarinpal,
        admin,
        payer,
        client,
        invoice,
    })
}

async fn irr_client(app: &TestApp, admin: &str, name: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/v1/clients/",
            admin,
            json!({ "name": name, "country_code": "IR", "currency": "IRR" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn sent_invoice(app: &TestApp, admin: &str, client: i64) -> String {
    let draft = json!({ "client": client, "issue_date": "2026-11-22",
        "lines": [{ "description": "Hosting", "quantity": "1", "unit_price": "1500000", "tax_rate": "9" }] });
    let (status, created) = app.post("/api/v1/invoices/", admin, draft).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, sent) = app
        .post(&format!("/api/v1/invoices/{id}/send/"), admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["total"], TOTAL.to_string(), "{sent}");
    id
}

impl Setup {
    /// Makes an intent for the invoice as the payer and sends them to the gateway, which gives
    /// `authority`; returns the intent's id.
    async fn start(&self, authority: &str) -> String {
        self.zarinpal.gives_authority(authority).await;
        let (status, intent) = self
            .app
            .post(
                "/api/payment-intents",
                &self.payer,
                json!({ "invoice_id": self.invoice }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        let id = intent["id"].as_str().unwrap().to_string();
        let (status, redirect) = self
            .app
            .post(
                &format!("/api/payment-intents/{id}/redirect"),
                &self.payer,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{redirect}");
        assert_eq!(
            redirect["pay_url"],
            format!("{}/pg/StartPay/{authority}", self.zarinpal.url())
        );
        id
    }

    /// The gateway sends the payer back: the callback answers 303 to the result page.
    async fn callback(&self, authority: &str, status: &str) -> String {
        let response = self
            .app
            .http
            .get(self.app.url(&format!(
                "/pay/zarinpal/callback?Authority={authority}&Status={status}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()["location"].to_str().unwrap().to_string()
    }

    async fn intent(&self, id: &str) -> Value {
        let (status, intent) = self
            .app
            .get(&format!("/api/payment-intents/{id}"), &self.admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{intent}");
        intent
    }

    async fn invoice(&self) -> Value {
        let (status, invoice) = self
            .app
            .get(&format!("/api/v1/invoices/{}/", self.invoice), &self.admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{invoice}");
        invoice
    }

    async fn gateway_payments(&self) -> Vec<(i64, String)> {
        sqlx::query_as(
            "SELECT amount, reference FROM invoice_payments WHERE method = 'gateway' ORDER BY created_at",
        )
        .fetch_all(&self.app.state.db.pool)
        .await
        .unwrap()
    }

    /// The balance of a ledger account, by code, on its normal side for an asset.
    async fn debit_balance(&self, code: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(e.debit - e.credit), 0) AS BIGINT) FROM journal_entries e \
             JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = $1",
        )
        .bind(code)
        .fetch_one(&self.app.state.db.pool)
        .await
        .unwrap()
    }

    async fn reconcile(&self) -> Value {
        // Past the two minutes reconciliation leaves to callbacks.
        self.app.clock.advance(chrono::Duration::minutes(3));
        let (status, done) = self
            .app
            .post("/api/payment-intents/reconcile", &self.admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        done
    }

    async fn result_page(&self, location: &str, lang: &str) -> String {
        let page = self
            .app
            .http
            .get(self.app.url(&format!("{location}?lang={lang}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        page.text().await.unwrap()
    }
}

const CLEARING: &str = "invoicing:gateway_clearing:IRR";
const CASH: &str = "invoicing:cash:IRR";

async fn an_invoice_is_paid_online_once_and_settled(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let a = authority(1);
    // Made under a key: the retry gets the same intent.
    let create = |key: &'static str| {
        s.app
            .http
            .post(s.app.url("/api/payment-intents"))
            .bearer_auth(&s.payer)
            .header("idempotency-key", key)
            .json(&json!({ "invoice_id": s.invoice }))
            .send()
    };
    let first: Value = create("k-1").await.unwrap().json().await.unwrap();
    let again = create("k-1").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["state"], "created");
    assert_eq!(first["amount"], TOTAL);
    assert_eq!(first["gateway_amount"], TOTAL);
    assert_eq!(first["gateway_currency"], "IRR");
    let id = first["id"].as_str().unwrap().to_string();

    s.zarinpal.gives_authority(&a).await;
    let (status, redirect) = s
        .app
        .post(
            &format!("/api/payment-intents/{id}/redirect"),
            &s.payer,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{redirect}");
    let pay_url = format!("{}/pg/StartPay/{a}", s.zarinpal.url());
    assert_eq!(redirect["pay_url"], pay_url);
    // A second click goes to the same page without asking the gateway again.
    let (_, twice) = s
        .app
        .post(
            &format!("/api/payment-intents/{id}/redirect"),
            &s.payer,
            json!({}),
        )
        .await;
    assert_eq!(twice["pay_url"], pay_url);
    let requests = s.zarinpal.received("request").await;
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent["merchant_id"], MERCHANT_ID);
    assert_eq!(sent["amount"], TOTAL);
    assert_eq!(sent["currency"], "IRR");
    assert_eq!(sent["metadata"]["order_id"], id.as_str());
    assert!(
        sent["description"]
            .as_str()
            .unwrap()
            .starts_with("Invoice "),
        "{sent}"
    );
    assert_eq!(
        sent["callback_url"],
        format!("{}/pay/zarinpal/callback", s.app.base)
    );
    assert_eq!(s.intent(&id).await["state"], "redirected");

    // An endpoint subscribed to payment.verified gets the event, written with the payment.
    let receiver = wiremock::MockServer::start().await;
    let (status, hook) = s
        .app
        .post(
            "/api/webhooks",
            &s.admin,
            json!({ "url": format!("{}/hook", receiver.uri()), "events": ["payment.verified"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");

    s.zarinpal.verifies(&a, TOTAL, 201).await;
    let location = s.callback(&a, "OK").await;
    assert_eq!(location, format!("/pay/{id}"));
    let intent = s.intent(&id).await;
    assert_eq!(intent["state"], "verified", "{intent}");
    assert_eq!(intent["ref_id"], "201");
    assert_eq!(intent["fee"], 100);
    assert!(intent.get("card_pan").is_none(), "{intent}");
    let verify = s.zarinpal.received("verify").await;
    assert_eq!(
        verify,
        vec![json!({ "merchant_id": MERCHANT_ID, "amount": TOTAL, "authority": a })]
    );

    let invoice = s.invoice().await;
    assert_eq!(invoice["status"], "paid", "{invoice}");
    assert_eq!(
        s.gateway_payments().await,
        vec![(TOTAL, "Zarinpal 201".to_string())]
    );
    assert_eq!(s.debit_balance(CLEARING).await, TOTAL);
    s.app.assert_books_verify().await;

    // A reload of the callback changes nothing.
    assert_eq!(s.callback(&a, "OK").await, location);
    assert_eq!(s.gateway_payments().await.len(), 1);
    assert_eq!(s.debit_balance(CLEARING).await, TOTAL);

    // The result page tells the truth, in both languages, without the card number.
    let en = s.result_page(&location, "en").await;
    assert!(en.contains("data-outcome=\"paid\""), "{en}");
    assert!(en.contains(">Paid<") && en.contains("201"), "{en}");
    assert!(!en.contains("5995") && !en.contains("502229"), "{en}");
    let fa = s.result_page(&location, "fa").await;
    assert!(
        fa.contains("پرداخت شد") && fa.contains("شماره پیگیری"),
        "{fa}"
    );

    // The exchanges are kept, the merchant id masked.
    let (status, exchanges) = s
        .app
        .get(&format!("/api/payment-intents/{id}/exchanges"), &s.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{exchanges}");
    let ops: Vec<&str> = exchanges
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["request", "verify"]);
    let all = exchanges.to_string();
    assert!(!all.contains(MERCHANT_ID), "{all}");
    assert!(all.contains("…05be"), "{all}");
    let (status, _) = s
        .app
        .get(&format!("/api/payment-intents/{id}/exchanges"), &s.payer)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let events: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM webhook_deliveries WHERE event = 'payment.verified'",
    )
    .fetch_all(&s.app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "one event for one payment");
    let event: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(event["data"]["intent_id"], id.as_str());
    assert_eq!(event["data"]["ref_id"], "201");
    assert_eq!(event["data"]["amount"], TOTAL);
    assert!(event["data"]["payment_id"].is_string(), "{event}");
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'payment_intent_verified' AND target = $1",
    )
    .bind(format!("payment_intent:{id}"))
    .fetch_one(&s.app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // The gateway pays out: clearing → cash, once.
    let (status, settled) = s
        .app
        .post(
            &format!("/api/payment-intents/{id}/settle"),
            &s.payer,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{settled}");
    let (status, settled) = s
        .app
        .post(
            &format!("/api/payment-intents/{id}/settle"),
            &s.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settled}");
    assert!(settled["settled_at"].is_string());
    let (status, _) = s
        .app
        .post(
            &format!("/api/payment-intents/{id}/settle"),
            &s.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(s.debit_balance(CLEARING).await, 0);
    assert_eq!(s.debit_balance(CASH).await, TOTAL);
    s.app.assert_books_verify().await;

    // The payer sees their own intents; a paid invoice takes no new one.
    let (_, mine) = s.app.get("/api/payment-intents", &s.payer).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let (status, body) = s
        .app
        .post(
            "/api/payment-intents",
            &s.payer,
            json!({ "invoice_id": s.invoice }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

async fn a_cancelled_payment_fails_and_a_late_payment_is_still_recorded(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let a = authority(2);
    let id = s.start(&a).await;
    let location = s.callback(&a, "NOK").await;
    let intent = s.intent(&id).await;
    assert_eq!(intent["state"], "failed");
    assert_eq!(intent["reason"], "cancelled");
    assert!(s.zarinpal.received("verify").await.is_empty());
    assert!(s.gateway_payments().await.is_empty());
    let page = s.result_page(&location, "en").await;
    assert!(
        page.contains("data-outcome=\"failed\"") && page.contains("cancelled or refused"),
        "{page}"
    );
    let fa = s.result_page(&location, "fa").await;
    assert!(fa.contains("پرداخت نشد"), "{fa}");

    // The bank did take the money after all: Zarinpal lists it as paid and unverified, and
    // reconciliation records it.
    s.zarinpal.unverified(&[&a], TOTAL).await;
    s.zarinpal.verifies(&a, TOTAL, 202).await;
    let done = s.reconcile().await;
    assert_eq!(done["verified"], 1, "{done}");
    assert_eq!(s.intent(&id).await["state"], "verified");
    assert_eq!(s.invoice().await["status"], "paid");
    assert_eq!(s.gateway_payments().await.len(), 1);
    // A second pass finds nothing more to do.
    let done = s.reconcile().await;
    assert_eq!(done["verified"], 0, "{done}");
    assert_eq!(s.gateway_payments().await.len(), 1);
    s.app.assert_books_verify().await;
}

async fn an_amount_mismatch_is_refused_and_nothing_is_recorded(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let a = authority(3);
    let id = s.start(&a).await;
    s.zarinpal
        .answers(
            "verify",
            &a,
            error(-50, "Session is not valid, amounts values is not the same."),
        )
        .await;
    let location = s.callback(&a, "OK").await;
    let intent = s.intent(&id).await;
    assert_eq!(intent["state"], "failed");
    assert_eq!(intent["reason"], "gateway:-50");
    assert!(
        intent["reason_text"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{intent}"
    );
    assert!(s.gateway_payments().await.is_empty());
    assert_eq!(s.invoice().await["status"], "sent");
    assert_eq!(s.debit_balance(CLEARING).await, 0);
    let page = s.result_page(&location, "en").await;
    assert!(page.contains("did not match the invoice"), "{page}");
    s.app.assert_books_verify().await;
}

async fn an_answer_of_101_counts_as_verified(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let a = authority(4);
    let id = s.start(&a).await;
    s.zarinpal
        .answers(
            "verify",
            &a,
            wiremock::ResponseTemplate::new(200).set_body_json(json!({ "data": {
                "code": 101, "message": "Verified", "card_hash": "H", "card_pan": "502229******5995",
                "ref_id": 204, "fee_type": "Merchant", "fee": 100 }, "errors": [] })),
        )
        .await;
    s.callback(&a, "OK").await;
    let intent = s.intent(&id).await;
    assert_eq!(intent["state"], "verified", "{intent}");
    assert_eq!(intent["ref_id"], "204");
    assert_eq!(s.gateway_payments().await.len(), 1);
    assert_eq!(s.invoice().await["status"], "paid");
    s.app.assert_books_verify().await;
}

async fn concurrent_callbacks_record_the_payment_once(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let a = authority(5);
    let id = s.start(&a).await;
    s.zarinpal.verifies(&a, TOTAL, 205).await;
    s.zarinpal.inquiry_says(&a, "PAID").await;
    // The payer's browser, its reload, and reconciliation, all at once.
    let url = s
        .app
        .url(&format!("/pay/zarinpal/callback?Authority={a}&Status=OK"));
    let mut calls = Vec::new();
    for _ in 0..8 {
        let http = s.app.http.clone();
        let url = url.clone();
        calls.push(tokio::spawn(async move {
            http.get(url).send().await.unwrap().status()
        }));
    }
    s.app.clock.advance(chrono::Duration::minutes(3));
    let ctx = s.app.state.ctx().clone();
    let reconciling = tokio::spawn(async move {
        saghat_core::intents::reconcile::reconcile(&ctx, Duration::ZERO).await
    });
    for call in calls {
        assert_eq!(call.await.unwrap(), StatusCode::SEE_OTHER);
    }
    reconciling.await.unwrap().unwrap();
    assert_eq!(s.intent(&id).await["state"], "verified");
    assert_eq!(s.gateway_payments().await.len(), 1);
    let postings: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM journal_transactions WHERE kind = 'invoice_payment'",
    )
    .fetch_one(&s.app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(postings, 1);
    assert_eq!(s.debit_balance(CLEARING).await, TOTAL);
    assert_eq!(s.invoice().await["amount_paid"], TOTAL.to_string());
    s.app.assert_books_verify().await;
}

async fn intents_not_paid_in_time_expire(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    // One sent to the bank and left there, one never sent.
    let a = authority(6);
    let at_bank = s.start(&a).await;
    let (_, never) = s
        .app
        .post(
            "/api/payment-intents",
            &s.payer,
            json!({ "invoice_id": s.invoice }),
        )
        .await;
    let never = never["id"].as_str().unwrap().to_string();
    s.zarinpal.inquiry_says(&a, "IN_BANK").await;
    // Before the expiry the payer may still be paying: nothing moves.
    let done = s.reconcile().await;
    assert_eq!(done["expired"], 0, "{done}");
    assert_eq!(s.intent(&at_bank).await["state"], "redirected");
    s.app.clock.advance(chrono::Duration::minutes(31));
    let done = s.reconcile().await;
    assert_eq!(done["expired"], 2, "{done}");
    for id in [&at_bank, &never] {
        let intent = s.intent(id).await;
        assert_eq!(intent["state"], "expired", "{intent}");
        assert_eq!(intent["reason"], "expired");
    }
    // An expired intent is not sent to the gateway again.
    let (status, body) = s
        .app
        .post(
            &format!("/api/payment-intents/{never}/redirect"),
            &s.payer,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let page = s.result_page(&format!("/pay/{at_bank}"), "en").await;
    assert!(page.contains("data-outcome=\"expired\""), "{page}");
    assert!(s.gateway_payments().await.is_empty());
}

/// Two tabs, both paid: the second payment arrives for a paid invoice.
async fn pay_twice(s: &Setup, first: &str, second: &str) -> (String, String) {
    let one = s.start(first).await;
    let two = s.start(second).await;
    s.zarinpal.verifies(first, TOTAL, 301).await;
    s.zarinpal.verifies(second, TOTAL, 302).await;
    s.callback(first, "OK").await;
    assert_eq!(s.invoice().await["status"], "paid");
    (one, two)
}

async fn a_payment_for_a_paid_invoice_is_given_back(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (a, b) = (authority(7), authority(8));
    s.zarinpal.reverses(&b).await;
    let (one, two) = pay_twice(&s, &a, &b).await;
    let location = s.callback(&b, "OK").await;
    assert_eq!(s.intent(&one).await["state"], "verified");
    let second = s.intent(&two).await;
    assert_eq!(second["state"], "reversed", "{second}");
    assert_eq!(second["reason"], "given_back");
    assert!(second["payment_id"].is_null());
    assert_eq!(s.zarinpal.received("reverse").await.len(), 1);
    assert_eq!(s.gateway_payments().await.len(), 1);
    assert_eq!(s.debit_balance(CLEARING).await, TOTAL);
    let page = s.result_page(&location, "en").await;
    assert!(
        page.contains("data-outcome=\"reversed\"") && page.contains("given back to your card"),
        "{page}"
    );
    s.app.assert_books_verify().await;
}

async fn a_payment_the_gateway_cannot_give_back_is_kept_as_credit(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (a, b) = (authority(9), authority(10));
    let (_, two) = pay_twice(&s, &a, &b).await;
    // The gateway cannot be reached to give it back: it waits for reconciliation.
    s.callback(&b, "OK").await;
    let waiting = s.intent(&two).await;
    assert_eq!(waiting["state"], "verified");
    assert_eq!(waiting["reason"], "already_paid");
    assert!(waiting["payment_id"].is_null());
    s.app.assert_books_verify().await;
    // Then it says it is too late to reverse: the money becomes the client's credit.
    s.zarinpal
        .answers(
            "reverse",
            &b,
            error(-63, "Maximum time for reverse this session is expired."),
        )
        .await;
    let done = s.reconcile().await;
    assert_eq!(done["checked"], 1, "{done}");
    let kept = s.intent(&two).await;
    assert_eq!(kept["reason"], "kept_as_credit", "{kept}");
    assert!(kept["payment_id"].is_string());
    let credit = -s
        .debit_balance(&format!("client:{}:credit:IRR", s.client))
        .await;
    assert_eq!(credit, TOTAL, "the second payment is the client's credit");
    assert_eq!(s.debit_balance(CLEARING).await, 2 * TOTAL);
    s.app.assert_books_verify().await;
}

async fn who_may_pay_and_what_can_be_paid(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let create = |token: String, invoice: String| {
        let app = &s.app;
        async move {
            app.post(
                "/api/payment-intents",
                &token,
                json!({ "invoice_id": invoice }),
            )
            .await
        }
    };
    // Another client's user does not see this invoice; a fund member has no part in it.
    let other = irr_client(&s.app, &s.admin, "Other").await;
    s.app
        .v1_user(&s.admin, "other", "client", Some(other))
        .await;
    let stranger = s.app.login("other", PASSWORD).await;
    let (status, body) = create(stranger.clone(), s.invoice.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, member) = s.app.member(&s.admin, "omid", "0").await;
    let (status, _) = create(member, s.invoice.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .app
        .call(
            Method::POST,
            "/api/payment-intents",
            None,
            Some(json!({ "invoice_id": s.invoice })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Only invoices in Rials; drafts are not payable.
    let (status, euro) = s
        .app
        .post(
            "/api/v1/clients/",
            &s.admin,
            json!({ "name": "Euro", "country_code": "DE", "currency": "EUR" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let euro = euro["id"].as_i64().unwrap();
    let draft = json!({ "client": euro, "issue_date": "2026-11-22",
        "lines": [{ "description": "X", "quantity": "1", "unit_price": "100", "tax_rate": "0" }] });
    let (_, created) = s.app.post("/api/v1/invoices/", &s.admin, draft).await;
    let euro_invoice = created["id"].as_str().unwrap().to_string();
    let (status, _) = create(s.admin.clone(), euro_invoice.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a draft");
    s.app
        .post(
            &format!("/api/v1/invoices/{euro_invoice}/send/"),
            &s.admin,
            json!({}),
        )
        .await;
    let (status, body) = create(s.admin.clone(), euro_invoice).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Rials"), "{body}");
    // Bad input is 422 or 400, never a 500.
    let (status, _) = s
        .app
        .post("/api/payment-intents", &s.payer, json!({ "invoice": 1 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Someone else's intent is not found; so is a malformed authority on the callback.
    let id = s.start(&authority(11)).await;
    let (status, _) = s
        .app
        .get(&format!("/api/payment-intents/{id}"), &stranger)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = s
        .app
        .http
        .get(
            s.app
                .url("/pay/zarinpal/callback?Authority=A000'%20OR%201=1--&Status=OK"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = s
        .app
        .http
        .get(s.app.url("/pay/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Without a merchant id there is no online payment.
    let Some(off) = TestApp::spawn(s.app.backend).await else {
        return;
    };
    let admin = off.admin_token().await;
    let (status, _) = off
        .post("/api/payment-intents", &admin, json!({ "invoice_id": "x" }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_gateway_that_refuses_or_is_down_charges_nothing(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (_, intent) = s
        .app
        .post(
            "/api/payment-intents",
            &s.payer,
            json!({ "invoice_id": s.invoice }),
        )
        .await;
    let id = intent["id"].as_str().unwrap().to_string();
    let redirect_path = format!("/api/payment-intents/{id}/redirect");
    let redirect = || s.app.post(&redirect_path, &s.payer, json!({}));
    // Down (nothing mounted answers 404 with no JSON): 502, and the intent can be retried.
    let (status, body) = redirect().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(s.intent(&id).await["state"], "created");
    // Refused for good: the merchant is not accepted.
    wiremock::Mock::given(wiremock::matchers::path("/pg/v4/payment/request.json"))
        .respond_with(error(
            -10,
            "Terminal is not valid, please check merchant_id or ip address.",
        ))
        .mount(&s.zarinpal.server)
        .await;
    let (status, body) = redirect().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("merchant id"),
        "{body}"
    );
    let intent = s.intent(&id).await;
    assert_eq!(intent["state"], "failed");
    assert_eq!(intent["reason"], "gateway:-10");
    assert!(s.gateway_payments().await.is_empty());
}
