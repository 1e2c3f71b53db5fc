//! The invoicing pages end to end in headless Chromium (with `tickets_e2e.rs`'s WebDriver
//! client): an accountant writes an invoice in the editor (a product from the picker, a line
//! added, the server's totals by "Recalculate" and again as a field changes), saves it, sends it
//! and records a partial payment; the client's user reads it in the portal. Every page in
//! English and Persian at 1280 and 375 pixels, checked (nothing cut off, nothing untranslated,
//! Persian digits) and photographed into `<target>/debug/web-screenshots/` (`7x-invoicing-*`).
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test is skipped with a message,
//! unless `CI` is set, where that is a failure.

use saghat_test_support as common;

use common::webdriver::{
    browser_available, check_page_facts, Browser, ChromeDriver, Shots, ENTER, PAGE_FACTS,
};

use std::time::{Duration, Instant};

use common::{Backend, TestApp, ADMIN, PASSWORD};
use reqwest::StatusCode;
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::invoicing::model::{Address, Party, Percent, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::service::{self, ProductInput};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_accountant_writes_sends_and_is_paid_and_the_client_reads_it_in_chromium() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.jwt_expire_minutes = 60 * 24 * 365;
        c.invoicing.seller = Party {
            name: "Saghat GmbH".into(),
            address: Address {
                street: "Alexanderplatz 1".into(),
                city: "Berlin".into(),
                postal_code: "10178".into(),
                country_code: "DE".into(),
            },
            tax_id: Some("DE999999999".into()),
            email: None,
            phone: None,
        };
    })
    .await
    .expect("SQLite is always available");
    let admin = app.admin_token().await;
    for (name, role) in [("ava", "accountant"), ("carol", "client")] {
        let (status, body) = app
            .post(
                "/api/auth/users",
                &admin,
                json!({ "username": name, "password": PASSWORD, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The client (its invoices in Persian) and a product of the catalogue, by the services.
    let admin_user = CurrentUser {
        id: user_id(&app, ADMIN).await,
        username: ADMIN.into(),
        is_main: true,
        role: Role::Admin,
        session_version: 0,
    };
    let meta = RequestMeta::default();
    let client = service::create_client(
        &app.state,
        &admin_user,
        &service::ClientInput {
            kind: "company".into(),
            name: "شرکت آلفا".into(),
            tax_id: Some("DE123456789".into()),
            email: Some("billing@example.com".into()),
            address: Address {
                street: "Hauptstr. 1".into(),
                city: "Berlin".into(),
                postal_code: "10115".into(),
                country_code: "DE".into(),
            },
            language: "fa".into(),
            currency: Currency::Eur,
            payment_terms_days: 14,
            notes: String::new(),
            send_reminders: true,
        },
        &meta,
    )
    .await
    .unwrap();
    let product = service::create_product(
        &app.state,
        &admin_user,
        &ProductInput {
            name: "مشاوره".into(),
            description: String::new(),
            unit: Unit::Hour,
            unit_price: 12_000,
            currency: Currency::Eur,
            tax: TaxCategory {
                code: TaxCode::Standard,
                rate: Percent(1900),
            },
        },
        &meta,
    )
    .await
    .unwrap();
    let carol = user_id(&app, "carol").await;
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    saghat_core::invoicing::store::link_client_user(&mut conn, carol, client.id)
        .await
        .unwrap();
    drop(conn);

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let shots = Shots::new();
    let base = app.base.clone();
    browser.size(1280, 1000).await;

    // The editor: from the navigation; a product from the picker fills its line.
    sign_in(&browser, &base, "ava").await;
    browser.goto(&format!("{base}/dashboard?lang=en")).await;
    browser.click("header nav a[href=\"/invoices\"]").await;
    browser.wait("#iv-new").await;
    browser.click("#iv-new").await;
    browser.wait("#iv-editor").await;
    browser
        .click(&format!("#client_id option[value=\"{}\"]", client.id))
        .await;
    browser
        .click(&format!(
            "#line-0-product_id option[value=\"{}\"]",
            product.id
        ))
        .await;
    browser.click("#iv-recalc").await;
    browser.wait("#line-0-amount").await;
    assert_eq!(value(&browser, "#line-0-description").await, "مشاوره");
    assert_eq!(value(&browser, "#line-0-unit_price").await, "120.00");
    assert_eq!(value(&browser, "#line-0-tax_rate").await, "19");
    browser.type_into("#line-0-quantity", "3").await;
    browser.click("#iv-add-line").await;
    browser.wait("#line-1").await;
    browser.type_into("#line-1-description", "سفر").await;
    browser.type_into("#line-1-unit_price", "250").await;
    browser.type_into("#line-1-tax_rate", "19").await;
    browser.click("#iv-recalc").await;
    browser.wait("#line-1-amount").await;
    // 3 × 120.00 + 250.00 = 610.00; 19% once: 115.90.
    assert_eq!(browser.text("#iv-tax-total").await, "115.90");
    assert_eq!(browser.text("#iv-total").await, "725.90 EUR");
    // As a field changes, the page asks the server for the totals again (no arithmetic in
    // the browser): two trips instead of one.
    browser.type_into("#line-1-quantity", "2").await;
    browser.click("#iv-lines-h").await;
    wait_text(&browser, "#iv-total", "1,023.40 EUR").await;
    assert_eq!(browser.text("#line-1-amount").await, "500.00");
    shots
        .take(&browser, "70-invoicing-editor-live-desktop-en")
        .await;
    browser.click("#iv-save").await;
    browser.wait("#iv-status").await;
    assert_eq!(browser.text("#iv-status").await, "Draft");
    let path = browser
        .script("return location.pathname")
        .await
        .as_str()
        .unwrap()
        .to_string();
    let id = path.trim_start_matches("/invoices/").to_string();
    let edit = format!("{path}/edit");
    let new = format!("/invoices/new?client={}", client.id);
    let drafts = [
        (new.as_str(), "new", "#iv-editor"),
        (edit.as_str(), "edit", "#iv-editor"),
        (path.as_str(), "draft", "#iv-status"),
    ];
    shots
        .tour(
            &browser,
            &base,
            "invoicing",
            &drafts,
            71,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;

    // Sent from its page, then paid in part.
    browser.goto(&format!("{base}{path}?lang=en")).await;
    browser.submit("#iv-send").await;
    browser.wait(".notice").await;
    assert_eq!(browser.text("#iv-status").await, "Sent");
    let number = browser.text("#iv-number").await;
    assert!(number.starts_with("INV-"), "{number}");
    browser.type_into("#pay_amount", "300").await;
    browser.submit("#iv-pay").await;
    browser.wait(".notice").await;
    assert_eq!(browser.text("#iv-status").await, "Partially paid");
    assert_eq!(browser.text("#iv-amount-due").await, "723.40");
    let client_path = format!("/clients/{}", client.id);
    let pay_path = format!("/payments/new?client={}", client.id);
    let staff = [
        (path.as_str(), "invoice", "#iv-allocations"),
        ("/invoices", "list", "#iv-invoices"),
        (client_path.as_str(), "client", "#iv-statement"),
        (pay_path.as_str(), "payment", "#iv-open"),
        ("/payments", "payments", "#iv-payments"),
        ("/clients", "clients", "#iv-clients"),
    ];
    shots
        .tour(
            &browser,
            &base,
            "invoicing",
            &staff,
            74,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    // The catalogue: the products list, a product's form and a new one (`82-…` to `84-…`).
    let product_path = format!("/products/{}", product.id);
    let catalogue = [
        ("/products", "products", "#pr-list"),
        (product_path.as_str(), "product", "#pr-form"),
        ("/products/new", "product-new", "#pr-form"),
    ];
    shots
        .tour(
            &browser,
            &base,
            "invoicing",
            &catalogue,
            82,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    browser.goto(&format!("{base}{path}?lang=fa")).await;
    assert_eq!(browser.text("#iv-status").await, "بخشی پرداخت‌شده");
    assert_eq!(browser.text("#iv-amount-due").await, "۷۲۳٫۴۰");
    assert_eq!(browser.text("#iv-issued").await, "۱۴۰۵/۰۹/۰۱");
    sign_out(&browser, &base).await;

    // The client's user: its portal, the invoice without any of the staff's forms.
    sign_in(&browser, &base, "carol").await;
    browser.goto(&format!("{base}/portal?lang=en")).await;
    browser.wait(&format!("#inv-{id}")).await;
    assert!(browser.find("#iv-new").await.is_err());
    browser.click(&format!("#inv-{id} a")).await;
    browser.wait("#iv-status").await;
    assert!(browser.find("#iv-moves").await.is_err());
    let portal = [
        ("/portal", "portal", "#iv-invoices"),
        (path.as_str(), "portal-invoice", "#iv-ubl"),
    ];
    shots
        .tour(
            &browser,
            &base,
            "invoicing",
            &portal,
            80,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    sign_out(&browser, &base).await;
    browser.quit().await;
    eprintln!("screenshots in {}", shots.dir.display());
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn value(browser: &Browser, css: &str) -> String {
    browser.wait(css).await;
    let script = format!("return document.querySelector('{css}').value");
    browser
        .script(&script)
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits up to ten seconds for `css` to read `want` (a part of the page the server replaces).
async fn wait_text(browser: &Browser, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = browser.text(css).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{css} reads {got}, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(browser: &Browser, base: &str, username: &str) {
    browser.goto(&format!("{base}/login?lang=en")).await;
    browser.type_into("#username", username).await;
    browser
        .type_into("#password", &format!("{PASSWORD}{ENTER}"))
        .await;
    browser.wait(".signout button").await;
}

async fn sign_out(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/invoices?lang=en")).await;
    browser.click(".signout button").await;
    browser.wait("#username").await;
}
