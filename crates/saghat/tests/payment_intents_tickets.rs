//! Paying a ticket's installment online, on SQLite and PostgreSQL, against the Zarinpal
//! stand-in: the installment (USDT) charged in Rials at `PAYMENT_IRR_PER_USDT`, recorded once
//! as the borrower's repayment with the money at the fund's gateway clearing, settled into the
//! fund's cash; "Pay online" on the borrower's ticket page; a payment for what is no longer
//! owed given back.

use saghat_test_support as common;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::tickets::repaying_ticket;
use common::zarinpal::{authority, FakeZarinpal};
use common::{Backend, TestApp, PASSWORD};
use saghat_core::auth::CurrentUser;
use saghat_core::ledger::domain::Account;
use saghat_core::ledger::store::balance_of;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::loans::repay;

common::on_both_databases!(
    a_borrower_pays_the_next_installment_online,
    a_payment_for_what_is_no_longer_owed_is_given_back,
);

/// Rials per USDT.
const RATE: i64 = 1_000_000;
/// One installment of a 1,200 USDT ticket over 12 months: 100 USDT.
const INSTALLMENT_RIALS: i64 = 100 * RATE;

struct Setup {
    app: TestApp,
    zarinpal: FakeZarinpal,
    admin: String,
    borrower: CurrentUser,
    /// The borrower, signed in on /api.
    payer: String,
    ticket: String,
}

async fn setup(backend: Backend) -> Option<Setup> {
    let zarinpal = FakeZarinpal::start().await;
    let app = TestApp::spawn_with(backend, |c| {
        zarinpal.configure(c);
        c.zarinpal.irr_per_usdt = Some(RATE);
    })
    .await?;
    let admin = app.admin_token().await;
    let loan = repaying_ticket(&app, &admin, "reza", "a workshop's lathe", 1_200).await;
    Some(Setup {
        app,
        zarinpal,
        admin,
        borrower: loan.borrower,
        payer: loan.token,
        ticket: loan.ticket_id,
    })
}

impl Setup {
    async fn intent_for_ticket(&self, token: &str) -> (StatusCode, Value) {
        self.app
            .post(
                "/api/payment-intents",
                token,
                json!({ "ticket_id": self.ticket }),
            )
            .await
    }

    /// An intent as the borrower, sent to the gateway with `authority`, paid and back.
    async fn pay_online(&self, authority: &str, ref_id: i64) -> String {
        let (status, intent) = self.intent_for_ticket(&self.payer).await;
        assert_eq!(status, StatusCode::CREATED, "{intent}");
        let id = intent["id"].as_str().unwrap().to_string();
        self.zarinpal.gives_authority(authority).await;
        let (status, body) = self
            .app
            .post(
                &format!("/api/payment-intents/{id}/redirect"),
                &self.payer,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.zarinpal
            .verifies(authority, INSTALLMENT_RIALS, ref_id)
            .await;
        let response = self
            .app
            .http
            .get(self.app.url(&format!(
                "/pay/zarinpal/callback?Authority={authority}&Status=OK"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        id
    }

    async fn intent(&self, id: &str) -> Value {
        let (status, intent) = self
            .app
            .get(&format!("/api/payment-intents/{id}"), &self.admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{intent}");
        intent
    }

    async fn balance(&self, account: Account) -> Amount {
        let mut conn = self.app.state.db.pool.acquire().await.unwrap();
        balance_of(&mut conn, account).await.unwrap()
    }

    async fn repayments(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM ticket_repayments WHERE ticket_id = $1")
            .bind(&self.ticket)
            .fetch_one(&self.app.state.db.pool)
            .await
            .unwrap()
    }
}

async fn a_borrower_pays_the_next_installment_online(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    // Only the borrower pays their installments online.
    let (_, stranger) = s.app.member(&s.admin, "mina", "0").await;
    let (status, _) = s.intent_for_ticket(&stranger).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The ticket page offers it, and its policy lets the form lead to the gateway.
    let mut browser = s.app.browser();
    browser.sign_in("reza", PASSWORD).await;
    let page = browser.get(&format!("/tickets/{}?lang=en", s.ticket)).await;
    assert!(page.has("act-pay-online"), "{}", page.body);
    assert!(
        page.has("100.00 USDT") && page.has("100,000,000 Rials"),
        "the installment and its Rials: {}",
        page.body
    );
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains(&format!("form-action 'self' {}", s.zarinpal.url())),
        "{policy}"
    );
    let fa = browser.get(&format!("/tickets/{}?lang=fa", s.ticket)).await;
    assert!(fa.has("پرداخت قسط بعدی"), "{}", fa.body);
    // The other pages keep the strict policy.
    let other = browser.get("/dashboard").await;
    let policy = other.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("form-action 'self';"), "{policy}");
    // Pressing it sends the borrower to the gateway.
    s.zarinpal.gives_authority(&authority(20)).await;
    let sent = browser
        .submit(
            &format!("/tickets/{}", s.ticket),
            &format!("/tickets/{}/pay-online", s.ticket),
            &[],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert_eq!(
        sent.location,
        format!("{}/pg/StartPay/{}", s.zarinpal.url(), authority(20))
    );
    let requested = s.zarinpal.received("request").await;
    assert_eq!(requested[0]["amount"], INSTALLMENT_RIALS);
    assert!(
        requested[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("Loan installment"),
        "{}",
        requested[0]
    );

    // Paid through the API's flow: one repayment, the money at the gateway.
    let id = s.pay_online(&authority(21), 5001).await;
    let intent = s.intent(&id).await;
    assert_eq!(intent["state"], "verified", "{intent}");
    assert_eq!(intent["usdt_amount"], "100.00000000");
    assert!(intent["repayment_id"].is_string(), "{intent}");
    assert_eq!(s.repayments().await, 1);
    assert_eq!(
        s.balance(Account::TicketReceivable(s.borrower.id)).await,
        Amount::whole(1_100)
    );
    assert_eq!(
        s.balance(Account::GatewayClearing).await,
        Amount::whole(100)
    );
    s.app.assert_books_verify().await;
    let (_, plan) = s
        .app
        .get(&format!("/api/tickets/{}/schedule", s.ticket), &s.payer)
        .await;
    assert_eq!(
        plan["installments"][0]["outstanding"], "0.00000000",
        "{plan}"
    );

    // The gateway pays out: clearing → the fund's cash.
    let cash = s.balance(Account::FundCash).await;
    let (status, body) = s
        .app
        .post(
            &format!("/api/payment-intents/{id}/settle"),
            &s.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.balance(Account::GatewayClearing).await, Amount::ZERO);
    assert_eq!(
        s.balance(Account::FundCash).await,
        cash.checked_add(Amount::whole(100)).unwrap()
    );
    s.app.assert_books_verify().await;

    // Without a rate, installments are not offered online.
    let Some(off) = TestApp::spawn_with(s.app.backend, |c| s.zarinpal.configure(c)).await else {
        return;
    };
    let admin = off.admin_token().await;
    let (status, _) = off
        .post("/api/payment-intents", &admin, json!({ "ticket_id": "x" }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_payment_for_what_is_no_longer_owed_is_given_back(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    // Everything but the last installment repaid.
    let ctx = s.app.state.ctx();
    repay(
        ctx,
        &s.borrower,
        &s.ticket,
        Amount::whole(1_100),
        "by-hand",
        &RequestMeta::default(),
    )
    .await
    .unwrap();
    // Two tabs, both paid: the first repays the ticket, the second is given back.
    let (status, first) = s.intent_for_ticket(&s.payer).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (a, b) = (authority(30), authority(31));
    s.zarinpal.reverses(&b).await;
    let one = s.pay_online(&a, 6001).await;
    assert_eq!(s.intent(&one).await["state"], "verified");
    let (_, ticket) = s
        .app
        .get(&format!("/api/tickets/{}", s.ticket), &s.payer)
        .await;
    assert_eq!(ticket["ticket"]["state"], "repaid", "{ticket}");
    // The second was made before the first was paid.
    let second = first["id"].as_str().unwrap().to_string();
    s.zarinpal.gives_authority(&b).await;
    let (status, _) = s
        .app
        .post(
            &format!("/api/payment-intents/{second}/redirect"),
            &s.payer,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.zarinpal.verifies(&b, INSTALLMENT_RIALS, 6002).await;
    s.app
        .http
        .get(
            s.app
                .url(&format!("/pay/zarinpal/callback?Authority={b}&Status=OK")),
        )
        .send()
        .await
        .unwrap();
    let given_back = s.intent(&second).await;
    assert_eq!(given_back["state"], "reversed", "{given_back}");
    assert!(given_back["repayment_id"].is_null());
    assert_eq!(s.repayments().await, 2, "by hand and the first online");
    assert_eq!(
        s.balance(Account::GatewayClearing).await,
        Amount::whole(100)
    );
    s.app.assert_books_verify().await;
}
