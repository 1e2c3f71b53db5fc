//! The invoicing report's page in headless Chromium: an accountant filters it, sees the bar
//! chart and the tables with the figures of the invoices made here, and finds the files' links
//! carrying the filter, then asks for every invoice as a long export and follows it on the
//! exports page to its download. Checked and photographed in English and Persian at 1280 and 375 pixels
//! (`95-reports-*`): nothing cut off, everything translated, Persian digits.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test is skipped with a message,
//! unless `CI` is set, where that is a failure.

use saghat_test_support as common;

use common::webdriver::{
    browser_available, check_page_facts, Browser, ChromeDriver, Shots, ENTER, PAGE_FACTS,
};
use common::{Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What fetching `href` (a JSON string) from the page answers: status and content type.
async fn fetched(browser: &Browser, href: &serde_json::Value) -> (i64, String) {
    browser
        .script_async(&format!(
            "const done = arguments[arguments.length - 1]; fetch({href}).then(r => done([r.status, r.headers.get('content-type')]))"
        ))
        .await
        .as_array()
        .map(|a| (a[0].as_i64().unwrap(), a[1].as_str().unwrap().to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_accountant_reads_the_invoicing_report_in_chromium() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.jwt_expire_minutes = 60 * 24 * 365;
        c.jobs.in_process = true;
    })
    .await
    .expect("SQLite is always available");
    let admin = app.admin_token().await;
    app.v1_user(&admin, "hesab", "accountant", None).await;
    // Two clients in Rials, invoices in Mehr, Aban and Azar 1405, one partly paid.
    let mut invoices = vec![];
    let mut clients = std::collections::HashMap::new();
    for (name, issue, price) in [
        ("پارسیان میزبان", "2026-10-01", "12000000"),
        ("پارسیان میزبان", "2026-11-01", "8000000"),
        ("نگار طراحان", "2026-11-22", "25000000"),
    ] {
        if !clients.contains_key(name) {
            let (status, client) = app
                .post(
                    "/api/v1/clients/",
                    &admin,
                    json!({ "name": name, "country_code": "IR", "currency": "IRR" }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{client}");
            clients.insert(name, client["id"].as_i64().unwrap());
        }
        let client = clients[name];
        let draft = json!({ "client": client, "issue_date": issue,
            "lines": [{ "description": "میزبانی وب", "quantity": "1", "unit_price": price, "tax_rate": "10" }] });
        let (status, created) = app.post("/api/v1/invoices/", &admin, draft).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let (status, sent) = app
            .post(&format!("/api/v1/invoices/{id}/send/"), &admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        invoices.push((client, id));
    }
    let (status, paid) = app
        .post(
            "/api/v1/payments/",
            &admin,
            json!({ "client": invoices[0].0, "amount": "5000000", "currency": "IRR", "received_on": "2026-10-20",
                    "method": "bank_transfer", "allocations": [{ "invoice": invoices[0].1, "amount": "5000000" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let base = app.base.clone();
    browser.goto(&format!("{base}/login?lang=en")).await;
    browser.type_into("#username", "hesab").await;
    browser
        .type_into("#password", &format!("{PASSWORD}{ENTER}"))
        .await;
    browser.wait(".signout button").await;

    // From the navigation, then filtered through the form.
    browser.goto(&format!("{base}/invoices?lang=en")).await;
    browser.click("header nav a[href='/reports/fund']").await;
    browser.wait("#rp-filters").await;
    // The accountant's reports as tabs: the fund's, invoicing's, statements and exports, not
    // tickets'.
    let tabs = browser
        .script(
            "return [...document.querySelectorAll('.rp-tabs a')].map(a => a.getAttribute('href'))",
        )
        .await;
    assert_eq!(
        tabs,
        json!([
            "/reports/fund",
            "/reports/invoicing",
            "/reports/statement",
            "/reports/exports"
        ])
    );
    browser.click(".rp-tabs a[href='/reports/invoicing']").await;
    browser.wait("#rp-aging").await;
    browser
        .script("document.querySelector('#f-from').value = ''")
        .await;
    browser.type_into("#f-from", "1405-07").await;
    browser
        .script("document.querySelector('#f-to').value = ''")
        .await;
    browser.type_into("#f-to", "1405-09").await;
    browser.click("#rp-show").await;
    browser.wait("#rp-aging").await;
    let url = browser.script("return location.search").await;
    assert!(url.as_str().unwrap().contains("from=1405-07"), "{url}");
    assert_eq!(
        browser
            .text("#rp-subtitle")
            .await
            .split(" · ")
            .next()
            .unwrap(),
        "Mehr 1405 – Azar 1405"
    );
    let monthly = browser.text("#rp-monthly").await;
    // Mehr: 13,200,000 invoiced, 5,000,000 collected; Azar: 27,500,000. Parsian owes
    // 8,200,000 + 8,800,000.
    assert!(
        monthly.contains("13,200,000")
            && monthly.contains("5,000,000")
            && monthly.contains("27,500,000"),
        "{monthly}"
    );
    let aging = browser.text("#rp-aging").await;
    assert!(
        aging.contains("پارسیان میزبان") && aging.contains("17,000,000"),
        "{aging}"
    );
    let bars = browser
        .script("return document.querySelectorAll('svg.chart-wide rect[class^=series-]').length")
        .await;
    assert_eq!(bars, 6, "two bars for each of three months");
    let xlsx = browser
        .script("return document.querySelector('#rp-xlsx').getAttribute('href')")
        .await;
    assert!(
        xlsx.as_str().unwrap().contains("from=1405-07")
            && xlsx.as_str().unwrap().contains("format=xlsx"),
        "{xlsx}"
    );
    // The link answers the file under the page's session.
    assert_eq!(fetched(&browser, &xlsx).await, (200, XLSX.to_string()));

    // Every invoice of the period as a long export: asked for from the page, followed on the
    // exports page (it refreshes itself) until its download link is there.
    browser.click("#rp-export-ask").await;
    browser.wait("#rp-exports").await;
    browser
        .wait("#rp-exports li[data-state='done'] a.rp-export-file")
        .await;
    let link = browser
        .script("return document.querySelector('a.rp-export-file').getAttribute('href')")
        .await;
    assert_eq!(fetched(&browser, &link).await, (200, XLSX.to_string()));

    // Typed with Persian digits on the Persian page, the period is read the same.
    browser
        .goto(&format!(
            "{base}/reports/invoicing?lang=fa&from=۱۴۰۵/۰۷&to=۱۴۰۵-۰۹"
        ))
        .await;
    browser.wait("#rp-aging").await;
    assert!(browser
        .text("#rp-subtitle")
        .await
        .starts_with("مهر ۱۴۰۵ – آذر ۱۴۰۵"));

    let shots = Shots::new();
    shots
        .tour(
            &browser,
            &base,
            "reports",
            &[
                (
                    "/reports/invoicing?from=1405-07&to=1405-09",
                    "invoicing",
                    "#rp-aging",
                ),
                ("/reports/fund?from=1405-07&to=1405-09", "fund", "#rp-draws"),
                (
                    "/reports/statement?member=admin&from=1405-07&to=1405-09",
                    "statement",
                    "#rp-loans",
                ),
                ("/reports/exports", "exports", "#rp-exports"),
            ],
            95,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    // A lender reads the tickets' report (and only it: no tabs).
    browser.quit().await;
    app.v1_user(&admin, "vam", "lender", None).await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    browser.goto(&format!("{base}/login?lang=en")).await;
    browser.type_into("#username", "vam").await;
    browser
        .type_into("#password", &format!("{PASSWORD}{ENTER}"))
        .await;
    browser.wait(".signout button").await;
    browser.click("header nav a[href='/reports/tickets']").await;
    browser.wait("#rp-portfolio").await;
    assert_eq!(
        browser
            .script("return document.querySelectorAll('.rp-tabs').length")
            .await,
        0
    );
    shots
        .tour(
            &browser,
            &base,
            "reports",
            &[("/reports/tickets", "tickets", "#rp-portfolio")],
            99,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    eprintln!("screenshots in {}", shots.dir.display());
    browser.quit().await;
}
