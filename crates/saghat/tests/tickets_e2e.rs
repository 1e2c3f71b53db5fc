//! The loan-request pages end to end in headless Chromium (as `web_e2e.rs`, whose WebDriver
//! client this file repeats): a member applies (an error next to its field first), an admin
//! takes the request and gives the first of two approvals, a lender the second; in English and
//! Persian, photographed at 1280 and 375 pixels into `<target>/web-screenshots/` (`6x-tickets-*`).
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test is skipped with a message,
//! unless `CI` is set, where that is a failure.

use saghat_test_support as common;

use common::webdriver::{browser_available, Browser, ChromeDriver, Shots, ENTER};

use common::{Backend, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The WebDriver key code of Enter.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_applies_and_two_reviewers_approve_in_chromium() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.jwt_expire_minutes = 60 * 24 * 365)
        .await
        .expect("SQLite is always available");
    let admin = app.admin_token().await;
    let (status, body) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "lena", "password": PASSWORD, "role": "lender" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, reza) = app.member(&admin, "reza", "0").await;
    // His fee is the fund's cash, enough to pay the loan out.
    assert_eq!(app.pay(&reza, "1600", None).await.0, StatusCode::CREATED);

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let shots = Shots::new();
    let base = app.base.clone();
    browser.size(1280, 1000).await;

    // The member applies: from the navigation to the form; nothing typed is an error next to
    // each field; then the request, submitted at once.
    sign_in(&browser, &base, "reza", PASSWORD).await;
    browser.click("header nav a[href=\"/tickets\"]").await;
    browser.wait("#new-ticket").await;
    assert!(browser
        .text("#no-tickets")
        .await
        .contains("no loan requests"));
    browser.click("#new-ticket").await;
    browser.wait("#apply").await;
    browser.click("#apply-submit").await;
    browser.wait("#amount-error").await;
    assert_eq!(
        browser.text("#amount-error").await,
        "This field is required."
    );
    assert!(browser
        .text("#payout_address-error")
        .await
        .contains("required"));
    shots
        .take(&browser, "60-tickets-new-errors-desktop-en")
        .await;
    browser.type_into("#amount", "1500").await;
    browser.type_into("#term_months", "12").await;
    browser
        .type_into("#purpose", "A new roof before winter: the old one leaks.")
        .await;
    browser
        .type_into("#payout_address", "TXyz1234abcdEFGH5678ijklMNOP9012qr")
        .await;
    browser.click("#apply-submit").await;
    browser.wait("#ticket-summary").await;
    assert!(browser
        .text(".notice")
        .await
        .contains("Your request was sent to the lenders."));
    assert_eq!(browser.text("#ticket-state").await, "Submitted");
    let url = browser.script("return location.pathname").await;
    let path = url.as_str().unwrap().to_string();
    let id = path.trim_start_matches("/tickets/").to_string();
    assert_eq!(id.len(), 36, "{path}");
    // A word to the lenders, on the timeline.
    browser
        .type_into("#body", "I can send the builder's quote.")
        .await;
    browser.submit("#act-comment").await;
    browser.wait(".notice").await;
    assert!(browser
        .text("#ticket-timeline")
        .await
        .contains("reza wrote"));

    // The borrower's pages, both languages, both widths.
    let borrower_pages = [
        ("/tickets/new", "new", "#apply"),
        (path.as_str(), "ticket-borrower", "#ticket-timeline"),
        ("/tickets", "list", "#my-tickets"),
    ];
    shots
        .tour(
            &browser,
            &base,
            "tickets",
            &borrower_pages,
            61,
            INSPECT,
            check_page,
        )
        .await;
    browser.goto(&format!("{base}/tickets/{id}?lang=fa")).await;
    assert_eq!(browser.text("#ticket-state").await, "ارسال‌شده");
    assert!(browser.text("#ticket-amount").await.starts_with("۱٬۵۰۰٫۰۰"));
    sign_out(&browser, &base).await;

    // The admin: the queue shows the request with its high flag; take it, approve it.
    sign_in(&browser, &base, ADMIN, ADMIN_PASSWORD).await;
    browser.click("header nav a[href=\"/review\"]").await;
    browser.wait("#review-queue").await;
    let row = browser.text(&format!("#queue-{id}")).await;
    assert!(
        row.contains("reza") && row.contains("1,500.00") && row.contains("High"),
        "{row}"
    );
    browser.click(&format!("#queue-{id} a")).await;
    browser.wait("#ticket-flags").await;
    let flag = browser.text("#flag-new_account_large_amount").await;
    assert!(flag.contains("New account, large amount"), "{flag}");
    browser.submit("#act-take").await;
    browser.wait(".notice").await;
    // An internal note, for reviewers only.
    browser
        .type_into("#body", "Ask @lena to check the payout address.")
        .await;
    browser.click("#internal").await;
    browser.click("#act-comment").await;
    browser.wait(".tk-internal").await;
    assert_eq!(browser.text("#ticket-state").await, "Under review");
    browser.click("#act-approve").await;
    browser.wait("#you-approved").await;
    assert_eq!(browser.text("#approvals-line").await, "1 of 2 approvals");
    assert!(browser
        .text("#two-approvals-why")
        .await
        .contains("needs two different reviewers"));
    let reviewer_pages = [
        (path.as_str(), "ticket-reviewer", "#ticket-flags"),
        ("/review", "review", "#review-queue"),
    ];
    shots
        .tour(
            &browser,
            &base,
            "tickets",
            &reviewer_pages,
            64,
            INSPECT,
            check_page,
        )
        .await;
    browser.goto(&format!("{base}/tickets/{id}?lang=fa")).await;
    browser.wait("#approvals-line").await;
    assert_eq!(browser.text("#approvals-line").await, "۱ از ۲ تأیید");
    let flag = browser.text("#flag-new_account_large_amount").await;
    assert!(flag.contains("حساب تازه، مبلغ زیاد"), "{flag}");
    browser.goto(&format!("{base}/tickets/{id}?lang=en")).await;
    sign_out(&browser, &base).await;

    // The lender gives the second approval.
    sign_in(&browser, &base, "lena", PASSWORD).await;
    browser.goto(&format!("{base}/tickets/{id}")).await;
    browser.wait("#act-approve").await;
    browser.submit("#act-approve").await;
    browser.wait(".notice").await;
    assert_eq!(browser.text("#ticket-state").await, "Approved");
    assert_eq!(browser.text("#approvals-line").await, "2 of 2 approvals");
    let approved = [(path.as_str(), "ticket-approved", "#ticket-timeline")];
    shots
        .tour(
            &browser, &base, "tickets", &approved, 66, INSPECT, check_page,
        )
        .await;
    let state: String = sqlx::query_scalar("SELECT state FROM tickets WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "approved");
    // She pays it out (the page asks first): the schedule starts.
    browser.goto(&format!("{base}/tickets/{id}?lang=en")).await;
    browser.click("#act-disburse").await;
    browser.accept_alert().await;
    browser.wait("#ticket-schedule").await;
    assert_eq!(browser.text("#ticket-state").await, "Being repaid");
    assert_eq!(browser.text("#loan-outstanding").await, "1,500.00 USDT");
    sign_out(&browser, &base).await;

    // The borrower repays two installments from his page.
    sign_in(&browser, &base, "reza", PASSWORD).await;
    browser.goto(&format!("{base}/tickets/{id}")).await;
    browser.type_into("#repay_amount", "250").await;
    browser.submit("#act-repay").await;
    browser.wait(".notice").await;
    assert_eq!(browser.text("#loan-outstanding").await, "1,250.00 USDT");
    let repaying = [(path.as_str(), "ticket-repaying", "#installments")];
    shots
        .tour(
            &browser, &base, "tickets", &repaying, 67, INSPECT, check_page,
        )
        .await;
    browser.goto(&format!("{base}/tickets/{id}?lang=en")).await;
    sign_out(&browser, &base).await;
    browser.quit().await;
    eprintln!("screenshots in {}", shots.dir.display());
}

async fn sign_in(browser: &Browser, base: &str, username: &str, password: &str) {
    browser.goto(&format!("{base}/login?lang=en")).await;
    browser.type_into("#username", username).await;
    browser
        .type_into("#password", &format!("{password}{ENTER}"))
        .await;
    browser.wait("#balance").await;
}

async fn sign_out(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/dashboard?lang=en")).await;
    browser.click(".signout button").await;
    browser.wait("#username").await;
}

/// What a page looks like to a reader, measured in the browser: as `web_e2e.rs` measures,
/// plus anything cut off at the window's edge (outside the tables' own scrolling boxes) and
/// any untranslated text (`?`).
const INSPECT: &str = r#"
const de = document.documentElement;
const visible = e => e.getClientRects().length > 0;
const text = document.querySelector('main').cloneNode(true);
text.querySelectorAll('td.id, .who').forEach(e => e.remove());
text.querySelectorAll('bdi').forEach(e => { if (/[A-Za-z]/.test(e.textContent.replace(/USDT/g, ''))) e.remove(); });
const wraps = [...document.querySelectorAll('.table-wrap')].filter(visible);
const misaligned = [...document.querySelectorAll('td.num')].filter(visible).filter(td => {
  const range = document.createRange();
  range.selectNodeContents(td);
  const t = range.getBoundingClientRect(), c = td.getBoundingClientRect(), cs = getComputedStyle(td);
  const start = c.left + parseFloat(cs.paddingLeft), end = c.right - parseFloat(cs.paddingRight);
  if (t.width === 0 || t.width >= end - start - 1) return false;
  return de.dir === 'rtl' ? Math.abs(t.left - start) > 2 : Math.abs(end - t.right) > 2;
}).map(td => td.textContent);
const cutOff = [...document.querySelectorAll('body *')].filter(visible)
  .filter(e => !e.closest('.table-wrap') && !e.closest('.skip'))
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < -1 || r.right > window.innerWidth + 1); })
  .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''));
const words = (document.body.innerText.match(/(^|\s)\?(\s|$)/g) || []).length;
return {
  dir: de.dir,
  lang: de.lang,
  overflow: de.scrollWidth - window.innerWidth,
  nav: document.querySelectorAll('header nav a').length,
  latinDigits: (text.innerText.match(/[0-9]+/g) || []),
  latinInputs: [...document.querySelectorAll('input[inputmode]')].filter(i => /[0-9]/.test(i.value)).map(i => i.id),
  hiddenCells: [...document.querySelectorAll('.table-wrap th, .table-wrap td')].filter(c => getComputedStyle(c).display === 'none').length,
  overflowing: wraps.filter(w => w.scrollWidth > w.clientWidth + 1).length,
  hints: [...document.querySelectorAll('.scroll-hint')].filter(visible).length,
  misaligned,
  cutOff,
  untranslated: words,
  // The currency and file formats are written in Latin letters in Persian too.
  latinWords: de.lang === 'fa' ? (text.innerText.replace(/USDT|PDF|PNG|JPEG/g, '').match(/[A-Za-z]{2,}/g) || []) : [],
  icon: !!document.querySelector('link[rel=icon][href="/static/favicon.svg"]'),
};
"#;

/// What every page must be, in either language and at either width.
fn check_page(facts: &Value, lang: &str, at: &str) {
    assert_eq!(facts["overflow"], 0, "scrolls sideways: {at}");
    assert_eq!(facts["cutOff"], json!([]), "cut off at the edge: {at}");
    assert!(facts["nav"].as_i64() >= Some(2), "the navigation: {at}");
    assert_eq!(facts["lang"], lang, "{at}");
    assert_eq!(
        facts["dir"],
        if lang == "fa" { "rtl" } else { "ltr" },
        "{at}"
    );
    assert_eq!(facts["hiddenCells"], 0, "no hidden column: {at}");
    assert_eq!(facts["misaligned"], json!([]), "amounts at their end: {at}");
    assert_eq!(facts["untranslated"], 0, "every text translated: {at}");
    if facts["overflowing"].as_i64() > Some(0) {
        assert!(facts["hints"].as_i64() >= Some(1), "a visible cue: {at}");
    }
    assert_eq!(facts["icon"], true, "{at}");
    if lang == "fa" {
        assert_eq!(facts["latinDigits"], json!([]), "Persian digits: {at}");
        assert_eq!(facts["latinWords"], json!([]), "Persian words: {at}");
        assert_eq!(
            facts["latinInputs"],
            json!([]),
            "Persian digits in forms: {at}"
        );
    }
}
