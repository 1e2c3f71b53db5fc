//! Paying an invoice online in headless Chromium: the client's user presses "Pay online" on the
//! portal's invoice, the browser follows the redirect to the Zarinpal stand-in, whose StartPay
//! page sends it back to Saghat's callback as the bank does, and lands on the result page,
//! which says the invoice is paid. The invoice and result pages are checked and photographed in
//! English and Persian at 1280 and 375 pixels (`90-payments-*`), and so is a borrower's loan
//! with "Pay online" for its next installment (`92-payments-ticket-*`).
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test is skipped with a message,
//! unless `CI` is set, where that is a failure.

use saghat_test_support as common;

use common::tickets::repaying_ticket;
use common::webdriver::{
    browser_available, check_page_facts, ChromeDriver, Shots, ENTER, PAGE_FACTS,
};
use common::zarinpal::{authority, FakeZarinpal};
use common::{Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_pays_an_invoice_online_in_chromium() {
    if !browser_available() {
        return;
    }
    let zarinpal = FakeZarinpal::start().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        zarinpal.configure(c);
        c.zarinpal.irr_per_usdt = Some(1_050_000);
        c.jwt_expire_minutes = 60 * 24 * 365;
    })
    .await
    .expect("SQLite is always available");
    let admin = app.admin_token().await;
    let (status, client) = app
        .post(
            "/api/v1/clients/",
            &admin,
            json!({ "name": "پارسیان میزبان", "country_code": "IR", "currency": "IRR" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let client = client["id"].as_i64().unwrap();
    app.v1_user(&admin, "dara", "client", Some(client)).await;
    let draft = json!({ "client": client, "issue_date": "2026-11-22",
        "lines": [{ "description": "میزبانی وب", "quantity": "1", "unit_price": "1500000", "tax_rate": "9" }] });
    let (_, created) = app.post("/api/v1/invoices/", &admin, draft).await;
    let invoice = created["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .post(
            &format!("/api/v1/invoices/{invoice}/send/"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The bank's page: paid, back to the callback.
    let a = authority(90);
    zarinpal.gives_authority(&a).await;
    zarinpal.verifies(&a, 1_635_000, 9001).await;
    zarinpal
        .start_pay_returns(&a, &format!("{}/pay/zarinpal/callback", app.base), "OK")
        .await;

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let base = app.base.clone();
    let shots = Shots::new();
    browser.goto(&format!("{base}/login?lang=en")).await;
    browser.type_into("#username", "dara").await;
    browser
        .type_into("#password", &format!("{PASSWORD}{ENTER}"))
        .await;
    browser.wait(".signout button").await;

    let path = format!("/invoices/{invoice}");
    shots
        .tour(
            &browser,
            &base,
            "payments",
            &[(path.as_str(), "invoice", "#iv-pay-online")],
            90,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    browser.goto(&format!("{base}{path}?lang=en")).await;
    assert!(
        browser
            .text("#iv-pay-online-form")
            .await
            .contains("1,635,000"),
        "the amount it charges"
    );
    browser.click("#iv-pay-online").await;
    browser.wait("#pay-outcome").await;
    assert_eq!(browser.text("#pay-outcome").await, "Paid");
    assert_eq!(browser.text("#pay-ref").await, "9001");
    let result = browser
        .script("return location.pathname")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert!(result.starts_with("/pay/"), "{result}");
    shots
        .tour(
            &browser,
            &base,
            "payments",
            &[(result.as_str(), "result", "#pay-outcome")],
            91,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    browser.goto(&format!("{base}{result}?lang=fa")).await;
    assert_eq!(browser.text("#pay-outcome").await, "پرداخت شد");
    assert_eq!(browser.text("#pay-ref").await, "۹۰۰۱");

    // Back on the invoice: paid, and nothing more to pay online.
    browser.click("#pay-back").await;
    browser.wait("#iv-status").await;
    assert_eq!(browser.text("#iv-status").await, "پرداخت‌شده");
    assert!(browser.find("#iv-pay-online").await.is_err());
    browser.click(".signout button").await;
    browser.wait("#username").await;

    // A borrower's loan: "Pay online" for the next installment, photographed.
    let loan = repaying_ticket(&app, &admin, "nima", "کارگاه نجاری", 1_200).await;
    browser.type_into("#username", "nima").await;
    browser
        .type_into("#password", &format!("{PASSWORD}{ENTER}"))
        .await;
    browser.wait(".signout button").await;
    for lang in ["en", "fa"] {
        for (width, device) in [(1280, "desktop"), (375, "phone")] {
            browser.size(width, 1000).await;
            browser
                .goto(&format!("{base}/tickets/{}?lang={lang}", loan.ticket_id))
                .await;
            browser.wait("#act-pay-online").await;
            let overflow = browser
                .script("return document.documentElement.scrollWidth - window.innerWidth")
                .await;
            assert_eq!(
                overflow,
                json!(0),
                "the ticket page scrolls sideways ({lang}, {width})"
            );
            shots
                .full(
                    &browser,
                    &format!("92-payments-ticket-{device}-{lang}"),
                    width,
                )
                .await;
        }
    }
    assert!(
        browser
            .text("#act-pay-online-form")
            .await
            .contains("۱۰۵٬۰۰۰٬۰۰۰"),
        "100 USDT at 1,050,000 Rials, in Persian digits"
    );
    browser.quit().await;
    eprintln!("screenshots in {}", shots.dir.display());
}
