//! End to end in a real browser: the real server (the test harness, on SQLite), Debian's
//! headless Chromium driven through chromedriver's WebDriver protocol. A member signs in, pays,
//! starts the draw and reads its log; pages are photographed on a desktop and a 375-pixel phone,
//! in English and Persian, into `<target>/web-screenshots/`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test is skipped with a message,
//! unless `CI` is set (CI installs them, see `.ci/run`), where that is a failure.

use saghat_test_support as common;

use common::webdriver::{browser_available, Browser, ChromeDriver, Shots, ENTER};

use chrono::Duration as Days;
use chrono_tz::Tz;
use common::{Backend, TestApp, ADMIN, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use saghat_core::jobs::{enqueue, NewJob};
use saghat_core::platform::jalali::JalaliMonth;
use serde_json::{json, Value};

/// The WebDriver key code of Enter.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_pays_starts_the_draw_and_reads_its_log_in_chromium() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.jwt_expire_minutes = 60 * 24 * 365)
        .await
        .expect("SQLite is always available");
    // Two months of history through the API. Azar: Sara borrows 40. Dey: she repays half, so
    // nobody can win. Bahman (now): she repays the rest and pays; the admin, in the browser,
    // is the last to pay and starts the draw.
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "40").await;
    let start_draw = |token: String| {
        let app = &app;
        async move {
            let (status, body) = app
                .call(Method::POST, "/api/loans/start", Some(&token), None)
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    };
    assert_eq!(app.pay(&sara, "40", None).await.0, StatusCode::CREATED);
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    start_draw(admin.clone()).await;
    next_month(&app);
    assert_eq!(
        app.pay(&sara, "20", Some("20")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    start_draw(admin.clone()).await;
    next_month(&app);
    assert_eq!(
        app.pay(&sara, "20", Some("20")).await.0,
        StatusCode::CREATED
    );

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let shots = Shots::new();
    let base = app.base.clone();

    // Sign in with the keyboard only: type, then Enter submits.
    browser.size(1280, 900).await;
    browser.goto(&format!("{base}/login")).await;
    browser.wait("#username").await;
    shots.take(&browser, "01-sign-in-desktop").await;
    browser.type_into("#username", ADMIN).await;
    browser
        .type_into("#password", &format!("{ADMIN_PASSWORD}{ENTER}"))
        .await;
    browser.wait("#balance").await;
    assert!(browser.source().await.contains("Not paid yet"));
    // The vendored htmx loads under the pages' Content-Security-Policy.
    assert_eq!(browser.script("return typeof htmx").await, json!("object"));

    // Pay this month: the fee is filled in with the minimum; a payment id is required.
    browser.size(1280, 1400).await;
    shots.take(&browser, "02-dashboard-unpaid-desktop").await;
    browser.click("#pay button[type=submit]").await;
    browser.wait("#bitpin_payment_id-error").await;
    let error = browser.text("#bitpin_payment_id-error").await;
    assert!(
        error.contains("This field is required."),
        "next to its field: {error}"
    );
    shots.take(&browser, "03-dashboard-error-desktop").await;
    browser
        .type_into("#bitpin_payment_id", "bp-browser-1")
        .await;
    browser.submit("#pay button[type=submit]").await;
    browser.wait(".notice").await;
    let page = browser.source().await;
    assert!(page.contains("Your payment was recorded."));
    assert!(page.contains("Paid: 20.00 USDT"));
    assert!(page.contains("This month: Bahman 1405"));
    shots.take(&browser, "04-dashboard-paid-desktop").await;

    // Everyone has paid: start the draw from the fund page and read its log.
    browser.goto(&format!("{base}/fund")).await;
    browser.wait("#start-draw").await;
    shots.take(&browser, "05-fund-ready-desktop").await;
    browser.click("#start-draw").await;
    browser.wait("#this-draw").await;
    let log = browser.text("#this-draw").await;
    assert!(log.contains("Winner: sara"), "{log}");
    assert!(
        log.contains("sara Winner 0."),
        "her score, a decimal: {log}"
    );
    assert!(
        log.contains("Random pool (winner drawn from): sara"),
        "{log}"
    );
    assert!(log.contains("Asked for no loan (request 0)"), "{log}");
    assert!(
        log.contains("“unlimited” means no loan history yet"),
        "{log}"
    );
    assert_eq!(
        app.call(Method::GET, "/api/loans/history", Some(&admin), None)
            .await
            .1[0]["username"],
        "sara"
    );
    browser.size(1280, 2000).await;
    shots.take(&browser, "06-fund-draw-desktop").await;

    for (path, name) in [
        ("/admin/members", "07-members-desktop"),
        ("/admin/config", "08-config-desktop"),
        ("/admin/loans", "09-loans-desktop"),
    ] {
        browser.goto(&format!("{base}{path}")).await;
        browser.wait("main h1").await;
        shots.take(&browser, name).await;
    }

    // Every page, in English and Persian, on a desktop and a 375-pixel phone: nothing scrolls
    // sideways but the tables' own boxes (with a visible hint, no column hidden), amounts line
    // up at their end, Persian pages are right to left with Persian digits, the chart fits with
    // its axis and named months, and errors are pages with the navigation.
    let sara_id = app
        .call(Method::GET, "/api/auth/users", Some(&admin), None)
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "sara")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let member_page = format!("/admin/members/{sara_id}");
    let dead_job = dead_letter(&app).await;
    let pages = [
        ("/dashboard", "dashboard"),
        ("/fund", "fund"),
        ("/admin/members", "members"),
        (member_page.as_str(), "member"),
        ("/admin/config", "config"),
        ("/admin/loans", "loans"),
        ("/notifications", "notifications"),
        ("/no/such/page", "error-404"),
        ("/admin/jobs", "jobs"),
    ];
    for lang in ["en", "fa"] {
        for (width, device) in [(1280, "desktop"), (375, "phone")] {
            browser.size(width, 1200).await;
            assert_eq!(
                browser.script("return window.innerWidth").await,
                json!(width)
            );
            for (i, (path, name)) in pages.iter().enumerate() {
                let sep = if path.contains('?') { '&' } else { '?' };
                browser.goto(&format!("{base}{path}{sep}lang={lang}")).await;
                browser.wait("main h1").await;
                let facts = inspect(&browser).await;
                let at = format!("{path} {lang} {width}px: {facts}");
                check_page(&facts, lang, &at);
                match *name {
                    "dashboard" => {
                        let text = browser.text("#draw-status").await;
                        let expected = if lang == "en" {
                            "you did not win this time"
                        } else {
                            "این بار برنده نشدید"
                        };
                        assert!(text.contains(expected), "{at}: {text}");
                    }
                    "fund" => {
                        assert_eq!(facts["charts"], 1, "one drawing shown: {at}");
                        assert_eq!(facts["chartFits"], true, "{at}");
                        assert_eq!(facts["ticksVisible"], true, "the axis stays: {at}");
                        let month = if lang == "en" { "Bahman" } else { "بهمن" };
                        assert!(
                            facts["chartMonths"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|m| m == month),
                            "{at}"
                        );
                    }
                    "members" if width == 375 => {
                        assert!(facts["overflowing"].as_i64() >= Some(1), "{at}");
                        assert!(facts["hints"].as_i64() >= Some(1), "a visible cue: {at}");
                    }
                    "members" => {
                        assert_eq!(facts["columns"], 9, "every column: {at}");
                        let cash = browser.text("#fund-cash").await;
                        // Fees and repayments 180 in, loans 80 out.
                        let expected = if lang == "en" {
                            "100.00 USDT"
                        } else {
                            "۱۰۰٫۰۰ USDT"
                        };
                        assert_eq!(cash, expected, "the fund's cash: {at}");
                    }
                    "jobs" => {
                        let card = browser.text(&format!("#job-{dead_job}")).await;
                        assert!(
                            card.contains("SMTP server refused the connection"),
                            "{at}: {card}"
                        );
                        let count = browser.text("#count-discarded dd").await;
                        assert_eq!(count, if lang == "en" { "1" } else { "۱" }, "{at}");
                    }
                    "error-404" => {
                        let h1 = browser.text("main h1").await;
                        assert_eq!(
                            h1,
                            if lang == "en" {
                                "Error 404"
                            } else {
                                "خطا ۴۰۴"
                            }
                        );
                    }
                    _ => {}
                }
                shots
                    .full(
                        &browser,
                        &format!("{}-{name}-{device}-{lang}", 20 + i),
                        width,
                    )
                    .await;
            }
        }
    }

    // Retry the dead job from its page: it is waiting to run again.
    browser.goto(&format!("{base}/admin/jobs?lang=en")).await;
    browser
        .submit(&format!("#job-{dead_job} .job-actions button"))
        .await;
    browser.wait(".notice").await;
    assert!(browser
        .text(".notice")
        .await
        .contains("The job will run again shortly."));
    let state: String = sqlx::query_scalar("SELECT state FROM river_job WHERE id = $1")
        .bind(dead_job)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "available");
    shots.take(&browser, "28-jobs-retried-desktop").await;

    // An off-site `next` stays on the site (browsers drop the tab of `/%09/evil.example`).
    browser.size(1280, 900).await;
    browser
        .goto(&format!("{base}/login?next=/%09/evil.example"))
        .await;
    browser.wait("main h1").await;
    // To the dashboard, or an error page if the request itself is refused: never elsewhere.
    let here = browser
        .script(
            "return [location.host, location.pathname, !!document.querySelector('#error-message')]",
        )
        .await;
    assert_eq!(here[0], json!(base.trim_start_matches("http://")), "{here}");
    assert!(here[1] == "/dashboard" || here[2] == true, "{here}");
    // A favicon, served.
    let icon = browser
        .script_async(
            "const done = arguments[0]; fetch('/favicon.ico').then(r => done(r.status + ' ' + r.headers.get('content-type')))",
        )
        .await;
    assert_eq!(icon, json!("200 image/svg+xml"));

    // Sara, who won this month: her loan's schedule, and a member at an admin page.
    browser.goto(&format!("{base}/dashboard?lang=en")).await;
    browser.click(".signout button").await;
    browser.wait("#username").await;
    browser.type_into("#username", "sara").await;
    browser
        .type_into("#password", &format!("{}{ENTER}", common::PASSWORD))
        .await;
    browser.wait("#balance").await;
    for lang in ["en", "fa"] {
        for (width, device) in [(1280, "desktop"), (375, "phone")] {
            browser.size(width, 1200).await;
            browser.goto(&format!("{base}/dashboard?lang={lang}")).await;
            browser.wait("#loan-schedule").await;
            let facts = inspect(&browser).await;
            let at = format!("sara's dashboard {lang} {width}px: {facts}");
            check_page(&facts, lang, &at);
            let (left, due) = if lang == "en" {
                ("2", "Esfand 1405")
            } else {
                ("۲", "اسفند ۱۴۰۵")
            };
            assert_eq!(browser.text("#installments-left").await, left, "{at}");
            assert_eq!(browser.text("#next-due").await, due, "{at}");
            let draw = browser.text("#draw-status").await;
            assert!(
                draw.contains(if lang == "en" {
                    "you won it"
                } else {
                    "شما برنده شدید"
                }),
                "{at}: {draw}"
            );
            shots
                .full(
                    &browser,
                    &format!("40-sara-dashboard-{device}-{lang}"),
                    width,
                )
                .await;
            browser
                .goto(&format!("{base}/admin/members?lang={lang}"))
                .await;
            browser.wait("main h1").await;
            let facts = inspect(&browser).await;
            let at = format!("sara at /admin/members {lang} {width}px: {facts}");
            check_page(&facts, lang, &at);
            assert_eq!(
                browser.text("main h1").await,
                if lang == "en" {
                    "Error 403"
                } else {
                    "خطا ۴۰۳"
                },
                "{at}"
            );
            assert_eq!(
                browser
                    .script("return document.querySelectorAll('a[href=\"/admin/members\"]').length")
                    .await,
                json!(0),
                "no admin links for a member: {at}"
            );
            shots
                .full(
                    &browser,
                    &format!("41-sara-forbidden-{device}-{lang}"),
                    width,
                )
                .await;
        }
    }

    // Sign out, back to English.
    browser.goto(&format!("{base}/dashboard?lang=en")).await;
    browser.click(".signout button").await;
    browser.wait("#username").await;
    browser.goto(&format!("{base}/dashboard")).await;
    browser.wait("#username").await;
    // The sign-in page, both languages, both widths.
    for lang in ["en", "fa"] {
        for (width, device) in [(1280, "desktop"), (375, "phone")] {
            browser.size(width, 900).await;
            browser.goto(&format!("{base}/login?lang={lang}")).await;
            browser.wait("#username").await;
            let facts = inspect(&browser).await;
            assert_eq!(facts["overflow"], 0, "sign-in {lang} {width}px: {facts}");
            assert_eq!(facts["dir"], if lang == "fa" { "rtl" } else { "ltr" });
            shots
                .full(&browser, &format!("50-sign-in-{device}-{lang}"), width)
                .await;
        }
    }
    browser.quit().await;
    eprintln!("screenshots in {}", shots.dir.display());
}

/// What a page looks like to a reader, measured in the browser.
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
const charts = [...document.querySelectorAll('svg.chart')].filter(s => s.getBoundingClientRect().width > 0);
const ticks = charts.flatMap(s => [...s.querySelectorAll('text.tick')]).map(t => t.getBoundingClientRect());
const table = document.querySelector('#members-table');
return {
  dir: de.dir,
  lang: de.lang,
  overflow: de.scrollWidth - window.innerWidth,
  nav: document.querySelectorAll('header nav a').length,
  latinDigits: (text.innerText.match(/[0-9]+/g) || []),
  latinInputs: [...document.querySelectorAll('input[inputmode]')].filter(i => /[0-9]/.test(i.value)).map(i => i.id),
  hiddenCells: [...document.querySelectorAll('.table-wrap th, .table-wrap td')].filter(c => getComputedStyle(c).display === 'none').length,
  columns: table ? [...table.querySelectorAll('thead th')].filter(visible).length : null,
  overflowing: wraps.filter(w => w.scrollWidth > w.clientWidth + 1).length,
  hints: [...document.querySelectorAll('.scroll-hint')].filter(visible).length,
  misaligned,
  charts: charts.length,
  chartFits: charts.every(s => { const r = s.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; }),
  ticksVisible: ticks.length > 0 && ticks.every(r => r.left >= 0 && r.right <= window.innerWidth),
  chartMonths: charts.flatMap(s => [...s.querySelectorAll('text.month tspan:first-child')]).map(t => t.textContent),
  icon: !!document.querySelector('link[rel=icon][href="/static/favicon.svg"]'),
};
"#;

async fn inspect(browser: &Browser) -> Value {
    browser.script(INSPECT).await
}

/// What every page must be, in either language and at either width.
fn check_page(facts: &Value, lang: &str, at: &str) {
    assert_eq!(facts["overflow"], 0, "scrolls sideways: {at}");
    assert!(facts["nav"].as_i64() >= Some(2), "the navigation: {at}");
    assert_eq!(facts["lang"], lang, "{at}");
    assert_eq!(
        facts["dir"],
        if lang == "fa" { "rtl" } else { "ltr" },
        "{at}"
    );
    assert_eq!(facts["hiddenCells"], 0, "no hidden column: {at}");
    assert_eq!(facts["misaligned"], json!([]), "amounts at their end: {at}");
    assert_eq!(facts["icon"], true, "{at}");
    if lang == "fa" {
        assert_eq!(facts["latinDigits"], json!([]), "Persian digits: {at}");
        assert_eq!(
            facts["latinInputs"],
            json!([]),
            "Persian digits in forms: {at}"
        );
    }
}

/// A job set aside after 3 failed attempts, with River's errors (no worker runs in this test,
/// so its row is written as River writes one), and one waiting job; returns the dead one's id.
async fn dead_letter(app: &TestApp) -> i64 {
    let db = &app.state.db;
    let mut tx = db.pool.begin().await.unwrap();
    for (kind, key) in [("notify_email", "dead"), ("housekeeping", "waiting")] {
        let job = NewJob {
            kind,
            args: json!({ "outbox": "payment-recorded" }),
            unique_key: format!("e2e:{key}"),
            max_attempts: 3,
        };
        enqueue(&mut tx, db.backend, &job).await.unwrap();
    }
    tx.commit().await.unwrap();
    let errors = json!([1, 2, 3].map(
        |n| json!({ "at": format!("2026-11-22T08:0{n}:00Z"), "attempt": n,
                         "error": "SMTP server refused the connection", "trace": "" })
    ));
    sqlx::query_scalar(
        "UPDATE river_job SET state = 'discarded', attempt = 3, errors = jsonb($1), \
         attempted_at = '2026-11-22 08:03:00.000', finalized_at = '2026-11-22 08:03:00.000' \
         WHERE kind = 'notify_email' RETURNING id",
    )
    .bind(errors.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// Moves the app's clock to noon on the first day of the next Jalali month.
fn next_month(app: &TestApp) {
    use saghat_core::platform::clock::Clock;
    let month = JalaliMonth::containing(app.clock.now(), Tz::UTC).next();
    app.clock.set(month.starts_at(Tz::UTC) + Days::hours(12));
}
