//! The verifiable draw on the web pages, on SQLite and PostgreSQL: this month's commitment on
//! the fund page (the one `/api/draws/current` publishes), a draw's verification page step by
//! step with its data, the proof as a JSON file equal to `/api/loans/{id}/proof`, who may see
//! them, Persian, and a tampered proof shown failing at the step it breaks.
//!
//! Then in headless Chromium (SQLite): the fund page and the verification page, honest and
//! tampered, checked and photographed in English and Persian at 1280 and 375 pixels
//! (`30-draws-*` in `<target>/debug/web-screenshots/`). Without `/usr/bin/chromium` and
//! `/usr/bin/chromedriver` that test is skipped with a message, unless `CI` is set.

use saghat_test_support as common;

use chrono::Duration;
use chrono_tz::Tz;
use common::webdriver::{browser_available, check_page_facts, ChromeDriver, Shots, ENTER};
use common::{Backend, Page, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::{Method, StatusCode};
use saghat_core::platform::currency::Currency;
use saghat_core::platform::jalali::JalaliMonth;
use serde_json::{json, Value};

common::on_both_databases!(
    the_fund_page_shows_the_commitment_and_the_verify_page_every_step,
    only_members_and_accountants_see_a_draws_proof,
    a_tampered_proof_fails_at_the_step_it_breaks,
    a_draw_nobody_won_verifies_too,
);

/// Tokens last a year: the browser test moves through months.
async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await
}

fn next_month(app: &TestApp) {
    use saghat_core::platform::clock::Clock;
    let month = JalaliMonth::containing(app.clock.now(), Tz::UTC).next();
    app.clock
        .set(month.starts_at(Tz::UTC) + Duration::hours(12));
}

/// Azar 1405: Sara asks for 20 and is the only one who can win; Omid and the admin opt out.
/// Everyone pays 20 and the admin runs the draw. (sara's id, the loan's id, admin's token.)
async fn azar_draw(app: &TestApp) -> (i64, String, String) {
    let admin = app.admin_token().await;
    let (sara_id, sara) = app.member(&admin, "sara", "20").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    for token in [&admin, &sara, &omid] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{drawn}");
    let loan_id = drawn["loan"]["id"].as_str().unwrap().to_string();
    (sara_id, loan_id, admin)
}

fn verify_path(loan_id: &str) -> String {
    format!("/fund/draws/{loan_id}/verify")
}

/// The `<li>` of a step on the verification page.
fn step<'a>(page: &'a Page, code: &str) -> &'a str {
    let id = page
        .body
        .find(&format!("id=\"step-{code}\""))
        .unwrap_or_else(|| panic!("no step {code} in: {}", page.body));
    let start = page.body[..id].rfind("<li").unwrap();
    let rest = &page.body[start..];
    &rest[..rest.find("</li>").unwrap()]
}

/// Whether the page shows `text` (as the templates escape it).
fn shows(page: &Page, text: &str) -> bool {
    page.has(&text.replace('\'', "&#39;"))
}

async fn the_fund_page_shows_the_commitment_and_the_verify_page_every_step(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let mut browser = app.browser();
    browser.sign_in(ADMIN, ADMIN_PASSWORD).await;

    // No payment yet this month: nothing published, and the page says when it will be.
    let (status, _) = app.get("/api/draws/current", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let page = browser.get("/fund").await;
    assert!(page.has("id=\"commitment-none\""), "{}", page.body);
    assert!(shows(
        &page,
        "This month's commitment is published when the month begins"
    ));

    // The month's first payment publishes it: the page shows the same hash before the draw.
    let (sara_id, sara) = app.member(&admin, "sara", "20").await;
    assert_eq!(app.pay(&sara, "20", None).await.0, StatusCode::CREATED);
    let (status, current) = app.get("/api/draws/current", &admin).await;
    assert_eq!(status, StatusCode::OK, "{current}");
    let commitment = current["commitment"].as_str().unwrap().to_string();
    assert_eq!(commitment.len(), 64);
    assert_eq!(current["seed"], Value::Null, "secret until the draw");
    let page = browser.get("/fund").await;
    assert!(
        page.has(&format!(
            "<code class=\"hash\" id=\"commitment-hash\"><bdi>{commitment}</bdi></code>"
        )),
        "{}",
        page.body
    );
    assert!(shows(
        &page,
        "The seed of this month's draw is fixed: its SHA-256 fingerprint was published before the draw"
    ));
    assert!(page.has("id=\"commitment-published\">1405/09/01 12:00<"));
    assert!(!page.has("/verify\""), "nothing to verify yet");

    // The draw; then the fund page links to its verification, in this month's section and in
    // the draw's log.
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{drawn}");
    let loan_id = drawn["loan"]["id"].as_str().unwrap().to_string();
    let href = format!("href=\"{}\"", verify_path(&loan_id));
    let page = browser.get("/fund").await;
    assert_eq!(page.body.matches(&href).count(), 2, "{}", page.body);
    assert!(page.has("The draw has run and revealed its seed."));
    assert!(page.has(&commitment), "still shown after the draw");

    // The verification: every step checks out, and its data.
    let (_, proof) = app
        .get(&format!("/api/loans/{loan_id}/proof"), &admin)
        .await;
    let seed = proof["seed"].as_str().unwrap();
    let (_, current) = app.get("/api/draws/current", &admin).await;
    assert_eq!(current["seed"], seed, "revealed by the draw");
    let page = browser.get(&verify_path(&loan_id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("<h1>Verify the draw of Azar 1405</h1>"));
    assert!(page.has("Every step checks out"));
    for code in [
        "format",
        "commitment",
        "published",
        "eligibility",
        "scores",
        "pool",
        "inputs",
        "choice",
    ] {
        let li = step(&page, code);
        assert!(
            li.contains("class=\"check ok\"") && li.contains("✓"),
            "{li}"
        );
        assert!(
            li.contains("checks out") && !li.contains("What differs"),
            "{li}"
        );
    }
    assert!(!page.has("class=\"check bad\""));
    assert!(page.has("id=\"vd-winner\"><bdi>sara</bdi>"));
    assert!(page.has("id=\"vd-amount\"><bdi>20.00 USDT</bdi>"));
    assert!(page.has(&format!("id=\"vd-seed\"><bdi>{seed}</bdi>")));
    assert!(page.has(&format!("id=\"vd-commitment\"><bdi>{commitment}</bdi>")));
    // Every member and why they sat out; the scores; the pool; the inputs; the numbers drawn.
    assert!(page.has("<td class=\"name\"><bdi>admin</bdi></td>"));
    assert!(page.has("<td class=\"text\">Asked for no loan (request 0)</td>"));
    assert!(page.has(&format!(
        "<tr class=\"won\"><td class=\"num\">{sara_id}</td><td class=\"name\"><bdi>sara</bdi> <span class=\"badge\">Winner</span></td><td class=\"num\">unlimited</td>"
    )));
    assert!(page.has("id=\"vd-pool\"><bdi>sara</bdi>"));
    let inputs = proof["inputs"].as_str().unwrap();
    assert!(
        inputs.starts_with("saghat-draw 1\nmonth 1405/09\n"),
        "{inputs}"
    );
    assert!(page.has(&format!(
        "<pre class=\"inputs\" dir=\"ltr\" tabindex=\"0\" id=\"vd-inputs\">{inputs}</pre>"
    )));
    let first = &proof["draws"][0];
    assert_eq!(first["accepted"], true);
    assert!(page.has(&format!(
        "<li class=\"accepted\"><span class=\"drawn-counter\">Counter 0</span> <span class=\"drawn-value\"><span class=\"unit\">Number</span> {}</span> <span class=\"drawn-used\"><span aria-hidden=\"true\">✓</span> Accepted</span></li>",
        first["value"].as_str().unwrap()
    )));
    // The file to check it with, and how.
    assert!(page.has(&format!(
        "href=\"/fund/draws/{loan_id}/proof.json\" download=\"saghat-draw-proof-1405-09.json\""
    )));
    assert!(page.has("python3 docs/verify_draw.py saghat-draw-proof-1405-09.json"));
    assert!(page.has("standard library only"));

    // The download is the API's proof.
    let file = browser
        .send(
            Method::GET,
            &format!("/fund/draws/{loan_id}/proof.json"),
            None,
        )
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["content-type"], "application/json");
    assert_eq!(
        file.headers["content-disposition"],
        "attachment; filename=\"saghat-draw-proof-1405-09.json\""
    );
    let downloaded: Value = serde_json::from_str(&file.body).unwrap();
    assert_eq!(downloaded, proof);
    assert_eq!(downloaded["loan_id"], loan_id);

    // In Persian: translated, Persian digits, the Latin fragments isolated.
    let page = browser
        .get(&format!("{}?lang=fa", verify_path(&loan_id)))
        .await;
    assert!(page.has("lang=\"fa\" dir=\"rtl\""));
    assert!(page.has("<h1>بررسی قرعه‌کشی آذر ۱۴۰۵</h1>"));
    assert!(page.has("همهٔ گام‌ها درست است"));
    assert!(step(&page, "eligibility").contains("درست است"));
    assert!(page.has("<td class=\"text\">وامی درخواست نکرده (مبلغ درخواستی صفر)</td>"));
    assert!(page.has("<td class=\"num\">نامحدود</td>"));
    assert!(page.has("id=\"vd-amount\"><bdi>۲۰٫۰۰ تتر</bdi>"));
    assert!(page.has("id=\"vd-committed-at\">۱۴۰۵/۰۹/۰۱ ۱۲:۰۰<"));
    assert!(page.has(&format!("href=\"{}?lang=en\"", verify_path(&loan_id))));
    assert!(!page.has(">?<"), "every text translated");
    let page = browser.get("/fund?lang=fa").await;
    assert!(page.has("تعهد قرعه‌کشی این ماه") && page.has("بررسی این قرعه‌کشی"));
    assert!(page.has("id=\"commitment-published\">۱۴۰۵/۰۹/۰۱ ۱۲:۰۰<"));
    assert!(page.has(&format!("<bdi>{commitment}</bdi>")));
}

async fn only_members_and_accountants_see_a_draws_proof(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (_, loan_id, admin) = azar_draw(&app).await;
    let verify = verify_path(&loan_id);
    let file = format!("/fund/draws/{loan_id}/proof.json");

    // Not signed in: to the sign-in page, and back.
    let mut anonymous = app.browser();
    let page = anonymous.send(Method::GET, &verify, None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location.starts_with("/login?next=/fund/draws/"),
        "{}",
        page.location
    );

    // A member and an accountant see it.
    let mut omid = app.browser();
    omid.sign_in("omid", PASSWORD).await;
    assert_eq!(
        omid.send(Method::GET, &verify, None).await.status,
        StatusCode::OK
    );
    app.v1_user(&admin, "hesab", "accountant", None).await;
    let mut accountant = app.browser();
    accountant.sign_in("hesab", PASSWORD).await;
    assert_eq!(
        accountant.send(Method::GET, &verify, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        accountant.send(Method::GET, &file, None).await.status,
        StatusCode::OK
    );
    assert!(accountant.get("/fund").await.has("id=\"draw-commitment\""));

    // A lender and a client user are refused, with a page saying who may; the fund page shows
    // the lender neither the commitment nor the links.
    app.v1_user(&admin, "vam", "lender", None).await;
    let acme =
        common::invoicing::client(&app, &app.admin_user().await, "Acme", Currency::Eur).await;
    app.v1_user(&admin, "portal", "client", Some(acme)).await;
    for who in ["vam", "portal"] {
        let mut browser = app.browser();
        browser.sign_in(who, PASSWORD).await;
        for path in [&verify, &file] {
            let page = browser.send(Method::GET, path, None).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{who} {path}");
            assert!(
                shows(
                    &page,
                    "Only the fund's members and accountants see its draws."
                ),
                "{who} {path}: {}",
                page.body
            );
            assert!(page.has(">Error 403</h1>"), "an error page: {}", page.body);
        }
        if who == "vam" {
            let fund = browser.get("/fund").await;
            assert!(!fund.has("id=\"draw-commitment\"") && !fund.has("/verify\""));
        }
    }

    // No such loan, or no loan id at all: the 404 page.
    for path in [
        verify_path(&uuid::Uuid::new_v4().to_string()),
        verify_path("not-a-loan"),
        format!("/fund/draws/{}/proof.json", uuid::Uuid::new_v4()),
    ] {
        let page = omid.send(Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.has("There is no such page."), "{path}: {}", page.body);
    }
}

/// Changes the stored proof of `loan_id` past the triggers that keep it as the draw wrote it.
async fn tamper(app: &TestApp, loan_id: &str, change: impl FnOnce(&mut Value)) {
    let pool = &app.state.db.pool;
    let stored: String =
        sqlx::query_scalar("SELECT proof FROM draw_commitments WHERE loan_id = $1")
            .bind(loan_id)
            .fetch_one(pool)
            .await
            .unwrap();
    let mut proof: Value = serde_json::from_str(&stored).unwrap();
    change(&mut proof);
    let unguard = match app.backend {
        Backend::Sqlite => "DROP TRIGGER IF EXISTS draw_commitments_revealed_once",
        Backend::Postgres => "ALTER TABLE draw_commitments DISABLE TRIGGER draw_commitments_fixed",
    };
    sqlx::query(unguard).execute(pool).await.unwrap();
    sqlx::query("UPDATE draw_commitments SET proof = $1 WHERE loan_id = $2")
        .bind(proof.to_string())
        .bind(loan_id)
        .execute(pool)
        .await
        .unwrap();
}

/// Sara's balance in the proof becomes 10, below her request of 20.
fn lower_balance(proof: &mut Value, user_id: i64) {
    let member = proof["members"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["user_id"] == user_id)
        .unwrap();
    member["balance"] = json!("10");
}

async fn a_tampered_proof_fails_at_the_step_it_breaks(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (sara_id, loan_id, admin) = azar_draw(&app).await;
    tamper(&app, &loan_id, |proof| lower_balance(proof, sara_id)).await;
    let (_, verification) = app
        .get(&format!("/api/loans/{loan_id}/proof/verification"), &admin)
        .await;
    assert_eq!(verification["ok"], false, "{verification}");

    let mut browser = app.browser();
    browser.sign_in("omid", PASSWORD).await;
    let page = browser.get(&verify_path(&loan_id)).await;
    assert!(page.has("A step does not check out"), "{}", page.body);
    assert!(page.has("class=\"status bad\""));
    // The seed and its commitment still check out; who took part does not, and why.
    for code in ["format", "commitment", "published"] {
        assert!(step(&page, code).contains("class=\"check ok\""), "{code}");
    }
    let eligibility = step(&page, "eligibility");
    assert!(
        eligibility.contains("class=\"check bad\"") && eligibility.contains("✗"),
        "{eligibility}"
    );
    assert!(eligibility.contains("does not check out"), "{eligibility}");
    assert!(
        eligibility.contains(&format!(
            "What differs:</strong></p>\n        <p class=\"check-detail-text\" dir=\"ltr\" lang=\"en\"><bdi>member {sara_id} sits out (request_above_balance) in one and not the other</bdi>"
        )),
        "{eligibility}"
    );
    // The page shows the data as published: the balance that was changed.
    assert!(page
        .has("<td class=\"name\"><bdi>sara</bdi></td><td class=\"num\">10.00</td><td class=\"num\">20.00</td>"));

    let page = browser
        .get(&format!("{}?lang=fa", verify_path(&loan_id)))
        .await;
    assert!(page.has("گامی درست نیست"));
    let eligibility = step(&page, "eligibility");
    assert!(eligibility.contains("درست نیست") && eligibility.contains("تفاوت:"));
}

async fn a_draw_nobody_won_verifies_too(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    for token in [&admin, &omid] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{drawn}");
    assert_eq!(drawn["loan"]["state"], "no_one");
    let loan_id = drawn["loan"]["id"].as_str().unwrap();
    let mut browser = app.browser();
    browser.sign_in("omid", PASSWORD).await;
    let page = browser.get(&verify_path(loan_id)).await;
    assert!(page.has("Every step checks out"), "{}", page.body);
    assert!(page.has("id=\"vd-winner\">nobody<"));
    assert!(page.has("No number was drawn: the pool is empty."));
    assert!(page.has("Nobody took part."));
    assert!(page.has("id=\"vd-pool\">Nobody: no participant"));
    assert!(!page.has("id=\"vd-pick\""));
    // Uppercase, the id is the same loan's; the links use it as stored.
    let page = browser.get(&verify_path(&loan_id.to_uppercase())).await;
    assert!(page.has(&format!("href=\"/fund/draws/{loan_id}/proof.json\"")));
}

/// What a page looks like to a reader (`webdriver::PAGE_FACTS`), but for what is written as
/// data to be compared as it is: the canonical inputs, the command, hashes and formulas.
const FACTS: &str = r#"
const de = document.documentElement;
const visible = e => e.getClientRects().length > 0;
const text = document.querySelector('main').cloneNode(true);
text.querySelectorAll('td.id, .who, select, option, pre, code').forEach(e => e.remove());
text.querySelectorAll('bdi').forEach(e => { if (/[A-Za-z]/.test(e.textContent)) e.remove(); });
document.body.appendChild(text);
text.style.position = 'absolute'; text.style.left = '-99999px';
const inner = text.innerText;
text.remove();
const wraps = [...document.querySelectorAll('.table-wrap')].filter(visible);
const cutOff = [...document.querySelectorAll('body *')].filter(visible)
  .filter(e => !e.closest('.table-wrap') && !e.closest('.skip') && !e.closest('pre'))
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < -1 || r.right > window.innerWidth + 1); })
  .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''));
const words = (document.body.innerText.match(/(^|\s)\?(\s|$)/g) || []).length;
const pres = [...document.querySelectorAll('pre')].filter(visible).map(p => {
  const r = p.getBoundingClientRect();
  return { left: r.left >= 0, right: r.right <= window.innerWidth, scrolls: p.scrollWidth > p.clientWidth, dir: getComputedStyle(p).direction };
});
const hashes = [...document.querySelectorAll('code.hash')].filter(visible).map(c => c.getBoundingClientRect().right <= window.innerWidth + 1);
return {
  dir: de.dir,
  lang: de.lang,
  overflow: de.scrollWidth - window.innerWidth,
  nav: document.querySelectorAll('header nav a').length,
  latinDigits: (inner.match(/[0-9]+/g) || []),
  latinInputs: [],
  hiddenCells: [...document.querySelectorAll('.table-wrap th, .table-wrap td')].filter(c => getComputedStyle(c).display === 'none').length,
  overflowing: wraps.filter(w => w.scrollWidth > w.clientWidth + 1).length,
  hints: [...document.querySelectorAll('.scroll-hint')].filter(visible).length,
  cutOff,
  untranslated: words,
  latinWords: de.lang === 'fa' ? (inner.replace(/USDT|SHA/g, '').match(/[A-Za-z]{2,}/g) || []) : [],
  icon: !!document.querySelector('link[rel=icon][href="/static/favicon.svg"]'),
  pres,
  hashes,
  checks: document.querySelectorAll('li.check').length,
  failed: [...document.querySelectorAll('li.check.bad')].map(li => li.id),
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_draw_pages_in_chromium() {
    if !browser_available() {
        return;
    }
    let app = spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    // Azar: Sara borrows 40 and reza asks for more than he paid in. Dey (now): Sara still
    // repays, two newcomers share the pool, and the draw runs.
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "40").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    let (_, reza) = app.member(&admin, "reza", "100").await;
    assert_eq!(app.pay(&sara, "40", None).await.0, StatusCode::CREATED);
    for token in [&admin, &omid, &reza] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, body) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    next_month(&app);
    let (maryam_id, maryam) = app.member(&admin, "maryam_ahmadi_tehrani", "20").await;
    let (_, ali) = app.member(&admin, "ali", "20").await;
    assert_eq!(
        app.pay(&sara, "20", Some("20")).await.0,
        StatusCode::CREATED
    );
    for token in [&omid, &reza, &maryam, &ali] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let shots = Shots::new();
    let base = app.base.clone();
    browser.size(1280, 900).await;
    browser.goto(&format!("{base}/login?lang=en")).await;
    browser.type_into("#username", ADMIN).await;
    browser
        .type_into("#password", &format!("{ADMIN_PASSWORD}{ENTER}"))
        .await;
    browser.wait(".signout button").await;
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);

    let check = |facts: &Value, lang: &str, at: &str| {
        check_page_facts(facts, lang, at);
        for pre in facts["pres"].as_array().unwrap() {
            assert_eq!(pre["left"], true, "a <pre> cut off: {at}");
            assert_eq!(pre["right"], true, "a <pre> cut off: {at}");
            assert_eq!(pre["dir"], "ltr", "{at}");
        }
        for fits in facts["hashes"].as_array().unwrap() {
            assert_eq!(fits, true, "a hash past the edge: {at}");
        }
    };
    // Before the draw: the commitment.
    shots
        .tour(
            &browser,
            &base,
            "draws",
            &[("/fund", "fund-before", "#commitment-hash")],
            30,
            FACTS,
            check,
        )
        .await;

    // The draw from the page, then its verification from the fund page's link.
    browser.goto(&format!("{base}/fund?lang=en")).await;
    browser.submit("#start-draw").await;
    browser.wait("#this-draw").await;
    browser.submit("#verify-this-draw").await;
    browser.wait("#steps-h").await;
    let path = browser.script("return location.pathname").await;
    let path = path.as_str().unwrap().to_string();
    assert!(path.ends_with("/verify"), "{path}");
    assert_eq!(
        browser
            .script("return document.querySelectorAll('li.check.ok').length")
            .await,
        json!(8)
    );
    let winner = browser.text("#vd-winner").await;
    assert!(
        winner == "ali" || winner == "maryam_ahmadi_tehrani",
        "{winner}"
    );
    let members = browser.text("#vd-members").await;
    assert!(members.contains("Still repaying a loan"), "{members}");
    assert!(
        members.contains("Asked for more than their balance (fees paid)"),
        "{members}"
    );
    // The proof downloads under the page's session.
    let file = browser
        .script_async(
            "const done = arguments[arguments.length - 1]; fetch(document.querySelector('#download-proof').href).then(r => r.json().then(j => done([r.status, r.headers.get('content-disposition'), j.month])))",
        )
        .await;
    assert_eq!(
        file,
        json!([
            200,
            "attachment; filename=\"saghat-draw-proof-1405-10.json\"",
            "1405/10"
        ])
    );
    let verify = path.clone();
    shots
        .tour(
            &browser,
            &base,
            "draws",
            &[
                ("/fund", "fund-after", "#verify-this-draw"),
                (verify.as_str(), "verify", "#steps-h"),
            ],
            31,
            FACTS,
            |facts, lang, at| {
                check(facts, lang, at);
                if at.contains("/verify") {
                    assert_eq!(facts["checks"], 8, "{at}");
                    assert_eq!(facts["failed"], json!([]), "{at}");
                }
            },
        )
        .await;

    // Tampered: maryam's balance lowered below her request in the stored proof.
    let loan_id = path
        .trim_start_matches("/fund/draws/")
        .trim_end_matches("/verify")
        .to_string();
    tamper(&app, &loan_id, |proof| lower_balance(proof, maryam_id)).await;
    shots
        .tour(
            &browser,
            &base,
            "draws",
            &[(verify.as_str(), "verify-tampered", "#steps-h")],
            33,
            FACTS,
            |facts, lang, at| {
                check(facts, lang, at);
                let failed = facts["failed"].as_array().unwrap();
                assert_eq!(failed[0], "step-eligibility", "{at}");
            },
        )
        .await;
    let detail = browser.text("#step-eligibility .check-detail-text").await;
    assert!(
        detail.contains(&format!(
            "member {maryam_id} sits out (request_above_balance)"
        )),
        "{detail}"
    );
    browser.quit().await;
    eprintln!("screenshots in {}", shots.dir.display());
}
