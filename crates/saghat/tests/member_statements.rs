//! Monthly statements on both databases (`fund::statements`): after a draw the worker makes one
//! statement per active member (none for a member who left), in their language, holding their
//! payments, balance and loan with its schedule, the fund's month — cash in and out as the
//! ledger has them — and the winner with the draw's commitment and seed; the e-mail arrives at
//! a real SMTP server (aiosmtpd) with the PDF attached; running the jobs again makes and sends
//! nothing new; the member's page lists it and downloads it, and nobody else's is theirs to
//! read. `statement_screenshots` photographs the PDFs and the page (into `web-screenshots/`).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use saghat_core::config::Config;
use saghat_core::fund::statements::{self, FundMonth, Made, StatementPdf};
use saghat_core::ledger::domain::Account;
use saghat_core::notify::smtp::SmtpSettings;
use saghat_core::platform::lang::Lang;
use saghat_core::platform::money::Amount;
use saghat_pdf::statement::Printer;
use saghat_test_support::files::pdf_text;
use saghat_test_support::smtp::SmtpServer;
use saghat_test_support::webdriver::{
    browser_available, check_page_facts, ChromeDriver, Shots, ENTER, PAGE_FACTS,
};
use saghat_test_support::{on_both_databases, Backend, TestApp, PASSWORD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_databases!(statements_follow_the_draw);

const BASE_URL: &str = "https://fund.example";
const SUBJECT_EN: &str = "Your statement for Azar 1405";
const SUBJECT_FA: &str = "صورت‌حساب ماهانه‌ی آذر ۱۴۰۵";

/// The app with a real SMTP server, the worker in process and a data folder of its own.
async fn spawn(backend: Backend, smtp: &SmtpServer, data: &Path) -> Option<TestApp> {
    let port = smtp.port;
    let data = data.to_path_buf();
    TestApp::spawn_with(backend, move |config: &mut Config| {
        config.notify.smtp = Some(
            SmtpSettings::parse(
                &format!("smtp://127.0.0.1:{port}?tls=none"),
                "Saghat <saghat@example.com>",
                None,
                100,
            )
            .unwrap(),
        );
        config.notify.timeout = Duration::from_secs(5);
        config.jobs.in_process = true;
        config.data_dir = data;
        config.public_base_url = Some(BASE_URL.into());
        config.jwt_expire_minutes = 60 * 24;
    })
    .await
}

async fn preferences(app: &TestApp, token: &str, name: &str, language: &str) {
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/notifications/preferences",
            Some(token),
            Some(
                json!({ "language": language, "email": format!("{name}@example.com"),
                         "mobile": "", "channels": ["email"], "reminders": true }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Everyone in the month of Azar 1405, and its draw.
struct Month {
    admin: String,
    sara: (i64, String),
    omid: (i64, String),
    leila: (i64, String),
    loan: String,
}

/// The admin (English) pays 20; sara (Persian) asks for 40 and pays 40; omid (English) asks
/// for nothing and pays 30; leila pays 20, then leaves the fund (her 20 paid back). The draw:
/// sara is the only one asking, and wins 40.
async fn drawn_month(app: &TestApp) -> Month {
    let admin = app.admin_token().await;
    preferences(app, &admin, "admin", "en").await;
    let sara = app.member(&admin, "sara", "40").await;
    preferences(app, &sara.1, "sara", "fa").await;
    let omid = app.member(&admin, "omid", "0").await;
    preferences(app, &omid.1, "omid", "en").await;
    let leila = app.member(&admin, "leila", "0").await;
    preferences(app, &leila.1, "leila", "en").await;

    assert_eq!(app.pay(&leila.1, "20", None).await.0, StatusCode::CREATED);
    let asked = format!("/api/fund/members/{}/leave", leila.0);
    let (status, body) = app.post(&asked, &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post("/api/fund/my-departures/confirm", &leila.1, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (token, fee) in [(&admin, "20"), (&sara.1, "40"), (&omid.1, "30")] {
        assert_eq!(app.pay(token, fee, None).await.0, StatusCode::CREATED);
    }
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{drawn}");
    assert_eq!(drawn["loan"]["user_id"], sara.0, "{drawn}");
    let loan = drawn["loan"]["id"].as_str().unwrap().to_string();
    Month {
        admin,
        sara,
        omid,
        leila,
        loan,
    }
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The statements' e-mails the server received.
fn statement_mails(smtp: &SmtpServer) -> Vec<Value> {
    smtp.messages()
        .into_iter()
        .filter(|m| m["subject"] == SUBJECT_EN || m["subject"] == SUBJECT_FA)
        .collect()
}

/// Each statement's (user, language, sha256), by user.
async fn statement_rows(app: &TestApp) -> Vec<(i64, String, String)> {
    sqlx::query_as(
        "SELECT user_id, language, sha256 FROM member_statements \
         WHERE jalali_year = 1405 AND jalali_month = 9 ORDER BY user_id",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

/// Azar's movements of the fund's cash, straight from the ledger: (debits, credits).
async fn ledger_cash(app: &TestApp) -> (Amount, Amount) {
    let (debits, credits): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(e.debit), 0) AS BIGINT), CAST(COALESCE(SUM(e.credit), 0) AS BIGINT) \
           FROM journal_entries e JOIN journal_transactions t ON t.id = e.transaction_id \
           JOIN ledger_accounts a ON a.id = e.account_id \
          WHERE a.kind = 'fund_cash' AND t.jalali_year = 1405 AND t.jalali_month = 9",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    (Amount::from_units(debits), Amount::from_units(credits))
}

/// Persian text as compared: without the direction marks `pdftotext -layout` puts around runs
/// of digits and Latin, and without zero-width non-joiners (which it moves about within a
/// word, as it reverses ligatures).
fn unmarked(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !matches!(c, '\u{200C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The statement of Azar 1405 as `token` downloads it through the API.
async fn my_pdf(app: &TestApp, token: &str) -> (StatusCode, String, Vec<u8>) {
    let (status, kind, _, bytes) = app.get_file("/api/fund/my-statements/1405/9", token).await;
    (status, kind, bytes)
}

async fn statements_follow_the_draw(backend: Backend) {
    let Some(smtp) = SmtpServer::start_plain() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let Some(app) = spawn(backend, &smtp, data.path()).await else {
        return;
    };
    let m = drawn_month(&app).await;
    let (sara, omid, leila) = (m.sara.0, m.omid.0, m.leila.0);
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();

    // One statement per active member, none for leila; each in its member's language.
    wait_for("three statements e-mailed", || async {
        statement_mails(&smtp).len() >= 3
    })
    .await;
    let rows = statement_rows(&app).await;
    let languages: Vec<(i64, &str)> = rows.iter().map(|(u, l, _)| (*u, l.as_str())).collect();
    let mut expected = vec![(admin_id, "en"), (sara, "fa"), (omid, "en")];
    expected.sort();
    assert_eq!(languages, expected, "{rows:?}");
    assert!(
        rows.iter().all(|(u, _, _)| *u != leila),
        "none for who left"
    );
    let sha_of = |user: i64| rows.iter().find(|r| r.0 == user).unwrap().2.clone();

    // The fund's month, kept once, agrees with the ledger: cash in 110 (fees), out 60 (sara's
    // loan of 40 and leila's 20 paid back), 50 left, as `saghat ledger verify` keeps them.
    app.assert_books_verify().await;
    let (debits, credits) = ledger_cash(&app).await;
    assert_eq!((debits, credits), (Amount::whole(110), Amount::whole(60)));
    let facts: String = sqlx::query_scalar("SELECT facts FROM fund_month_statements")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let fund: FundMonth = serde_json::from_str(&facts).unwrap();
    assert_eq!(fund.loan_id, m.loan);
    assert_eq!(fund.cash.cash_in(), debits);
    assert_eq!(fund.cash.cash_out(), credits);
    assert_eq!(
        (fund.cash.fees, fund.cash.lent, fund.cash.refunds),
        (Amount::whole(110), Amount::whole(40), Amount::whole(20))
    );
    let cash = {
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        saghat_core::ledger::store::balance_of(&mut conn, Account::FundCash)
            .await
            .unwrap()
    };
    assert_eq!(fund.cash.closing(), cash);
    let winner = fund.winner.as_ref().expect("a winner");
    assert_eq!((winner.user_id, winner.name.as_str()), (sara, "sara"));

    // What proves the draw: the commitment published before it and the seed it revealed.
    let (status, proof) = app
        .get(&format!("/api/loans/{}/proof", m.loan), &m.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let commitment = proof["commitment"].as_str().unwrap();
    let seed = proof["seed"].as_str().unwrap();
    let digest = proof["inputs_digest"].as_str().unwrap();
    let verify_page = format!("{BASE_URL}/fund/draws/{}/verify", m.loan);

    // Omid's, in English: his payment and balance, no loan, the fund's month and the draw.
    let (status, kind, pdf) = my_pdf(&app, &m.omid.1).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
    assert_eq!(sha256(&pdf), sha_of(omid));
    if let Some(text) = pdf_text(&pdf) {
        for needle in [
            "Monthly statement",
            "Azar 1405",
            "omid",
            "Your payments",
            "30.00",
            "You have no loan being repaid.",
            "The fund this month",
            "110.00",
            "60.00",
            "50.00",
            "Paid back to members who left",
            "Winner: sara",
            commitment,
            seed,
            digest,
            verify_page.as_str(),
            "python3 docs/verify_draw.py",
        ] {
            assert!(text.contains(needle), "{needle:?} in omid's:\n{text}");
        }
    }

    // Sara's, in Persian with Persian digits: she won, and her loan has its schedule.
    let (status, _, pdf) = my_pdf(&app, &m.sara.1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha256(&pdf), sha_of(sara));
    if let Some(text) = pdf_text(&pdf).map(|t| unmarked(&t)) {
        let fa = |a: &str| Lang::Fa.amount(Amount::parse(a).unwrap());
        for needle in [
            "صورت‌حساب ماهانه".to_string(),
            "آذر ۱۴۰۵".into(),
            "دی ۱۴۰۵".into(),
            "بهمن ۱۴۰۵".into(),
            fa("110"),
            fa("60"),
            fa("50"),
            fa("40"),
            commitment.into(),
            seed.into(),
        ] {
            let needle = unmarked(&needle);
            assert!(text.contains(&needle), "{needle:?} in sara's:\n{text}");
        }
        let mut rest = text.clone();
        for latin in [
            commitment,
            seed,
            digest,
            verify_page.as_str(),
            "python3 docs/verify_draw.py proof.json",
            "sara",
            "Saghat",
        ] {
            rest = rest.replace(latin, "");
        }
        let latin: String = rest.chars().filter(char::is_ascii_alphanumeric).collect();
        assert_eq!(latin, "", "only Persian in sara's:\n{text}");
    }

    // The e-mails: one each, in the member's language, with the very PDF attached.
    let mails = statement_mails(&smtp);
    assert_eq!(mails.len(), 3, "{mails:#?}");
    for (name, user, subject) in [
        ("admin", admin_id, SUBJECT_EN),
        ("sara", sara, SUBJECT_FA),
        ("omid", omid, SUBJECT_EN),
    ] {
        let mail = mails
            .iter()
            .find(|m| m["to"] == format!("{name}@example.com"))
            .unwrap_or_else(|| panic!("{name}'s: {mails:#?}"));
        assert_eq!(mail["subject"], subject);
        assert_eq!(mail["content_type"], "multipart/mixed");
        let parts = mail["parts"].as_array().unwrap();
        let text = parts
            .iter()
            .find(|p| p["type"] == "text/plain")
            .unwrap_or_else(|| panic!("{parts:#?}"));
        assert!(
            text["content"]
                .as_str()
                .unwrap()
                .contains(&format!("{BASE_URL}/dashboard#statements")),
            "{text}"
        );
        let file = parts
            .iter()
            .find(|p| p["type"] == "application/pdf")
            .unwrap_or_else(|| panic!("{parts:#?}"));
        assert_eq!(file["filename"], "saghat-statement-1405-09.pdf");
        assert_eq!(file["disposition"], "attachment");
        assert_eq!(file["sha256"], sha_of(user), "{name}'s attachment");
    }

    // Running the jobs again makes nothing new and sends nothing twice.
    let ctx = app.state.ctx();
    let notices = "SELECT COUNT(*) FROM notifications WHERE kind = 'monthly_statement'";
    let before = count(&app, notices).await;
    assert_eq!(before, 3, "one notice each (e-mail)");
    assert_eq!(statements::prepare_month(ctx, &m.loan).await.unwrap(), 0);
    let pdf: Arc<dyn StatementPdf> = Arc::new(Printer);
    for user in [admin_id, sara, omid] {
        let made = statements::make_statement(ctx, &m.loan, user, pdf.clone())
            .await
            .unwrap();
        assert_eq!(made, Made::Already, "user {user}");
    }
    let made = statements::make_statement(ctx, &m.loan, leila, pdf.clone())
        .await
        .unwrap();
    assert_eq!(made, Made::NotInFund);
    let jobs = "SELECT COUNT(*) FROM river_job WHERE kind = 'member_statement'";
    assert_eq!(count(&app, jobs).await, 3);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM member_statements").await,
        3
    );
    assert_eq!(count(&app, notices).await, before);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(statement_mails(&smtp).len(), 3, "nothing sent twice");

    // The API lists my own; the PDF of someone else's is not mine to read.
    let (status, mine) = app.get("/api/fund/my-statements", &m.sara.1).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["month"], "1405/09");
    assert_eq!(mine[0]["language"], "fa");
    assert_eq!(mine[0]["sha256"], sha_of(sara));
    assert_eq!(mine[0]["download"], "/api/fund/my-statements/1405/9");
    let (status, none) = app.get("/api/fund/my-statements", &m.leila.1).await;
    assert_eq!((status, none), (StatusCode::OK, json!([])));
    assert_eq!(my_pdf(&app, &m.leila.1).await.0, StatusCode::NOT_FOUND);
    let saras = format!("/api/fund/members/{sara}/statements/1405/9");
    let (status, _, _, _) = app.get_file(&saras, &m.omid.1).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a member reads only their own"
    );
    let (status, kind, _, bytes) = app.get_file(&saras, &m.admin).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
    assert_eq!(sha256(&bytes), sha_of(sara), "an admin reads anyone's");
    let (status, _, _, _) = app
        .get_file("/api/fund/my-statements/1405/13", &m.sara.1)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Her page lists it, with its link; the link downloads her PDF.
    let mut browser = app.browser();
    browser.sign_in("sara", PASSWORD).await;
    let page = browser.get("/dashboard").await;
    assert!(page.has("id=\"statements-list\""), "{}", page.body);
    assert!(page.has("href=\"/statements/1405/9.pdf\""), "{}", page.body);
    assert!(page.has("Azar 1405"), "{}", page.body);
    let file = browser.get("/statements/1405/9.pdf").await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["content-type"], "application/pdf");
    assert!(file.body.starts_with("%PDF-"));
    let file = browser
        .send(Method::GET, "/statements/1405/12.pdf", None)
        .await;
    assert_eq!(
        file.status,
        StatusCode::NOT_FOUND,
        "no statement that month"
    );
    // Leila, gone from the fund, has none: the same address is nothing of hers.
    let mut browser = app.browser();
    browser.sign_in("leila", PASSWORD).await;
    let page = browser.get("/dashboard").await;
    assert!(page.has("id=\"no-statements\""), "{}", page.body);
    let file = browser
        .send(Method::GET, "/statements/1405/9.pdf", None)
        .await;
    assert_eq!(file.status, StatusCode::NOT_FOUND);
    // Omid's address is the same and gives his own.
    let (status, _, _, bytes) = app
        .get_file("/api/fund/my-statements/1405/9", &m.omid.1)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(sha256(&bytes), sha_of(sara));
}

/// The statement's PDF pages as PNGs (poppler's `pdftoppm -r 60`) into the screenshots.
fn photograph_pdf(pdf: &[u8], shots: &Shots, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statement.pdf");
    std::fs::write(&file, pdf).unwrap();
    let prefix = shots.dir.join(name);
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "60"])
        .arg(&file)
        .arg(&prefix)
        .status()
        .expect("pdftoppm (poppler-utils) runs");
    assert!(status.success());
}

/// The statements' PDFs in English and Persian, and the page that lists them at 1280 and 375
/// pixels in both languages, each checked as a reader would see it (nothing cut off, every
/// text translated, Persian digits in Persian).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statement_screenshots() {
    if !browser_available() {
        return;
    }
    let Some(smtp) = SmtpServer::start_plain() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let app = spawn(Backend::Sqlite, &smtp, data.path())
        .await
        .expect("SQLite is always available");
    let m = drawn_month(&app).await;
    wait_for("three statements made", || async {
        statement_rows(&app).await.len() == 3
    })
    .await;
    let shots = Shots::new();
    let (_, _, en) = my_pdf(&app, &m.omid.1).await;
    photograph_pdf(&en, &shots, "70-statements-pdf-en");
    let (_, _, fa) = my_pdf(&app, &m.sara.1).await;
    photograph_pdf(&fa, &shots, "70-statements-pdf-fa");

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    browser.size(1280, 900).await;
    browser.goto(&format!("{}/login", app.base)).await;
    browser.wait("#username").await;
    browser.type_into("#username", "sara").await;
    browser
        .type_into("#password", &format!("{PASSWORD}{ENTER}"))
        .await;
    browser.wait("#balance").await;
    let pages = [("/dashboard", "member-page", "#statements-list")];
    shots
        .tour(
            &browser,
            &app.base,
            "statements",
            &pages,
            70,
            PAGE_FACTS,
            check_page_facts,
        )
        .await;
    browser.quit().await;
}
