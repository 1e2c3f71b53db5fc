//! Invoicing's daily job and its reminders on both databases: the step that has come goes
//! once, e-mailed by the worker to a real SMTP server (aiosmtpd) with the invoice's PDF, in the
//! client's language; paying stops them (a reminder queued meanwhile is cancelled); the job
//! marks overdue invoices and makes the recurring ones.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use saghat_core::auth::CurrentUser;
use saghat_core::config::Config;
use saghat_core::invoicing::invoices::{self, DraftInput, DraftLine};
use saghat_core::invoicing::model::{
    Address, Invoice, Percent, Quantity, TaxCategory, TaxCode, Unit,
};
use saghat_core::invoicing::payments::{self, PaymentInput};
use saghat_core::invoicing::recurring::{self, RecurringInput, Template, TemplateLine};
use saghat_core::invoicing::reminder_job::{self, InvoicePdf, ReminderDelivery};
use saghat_core::invoicing::service::{self, ClientInput, ContactInput};
use saghat_core::notify::smtp::SmtpSettings;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::lang::Lang;
use saghat_core::Ctx;
use saghat_test_support::smtp::{self, Security, SmtpServer};
use saghat_test_support::{on_both_databases, Backend, TestApp};

on_both_databases!(
    each_step_is_emailed_once_with_the_pdf_in_the_clients_language,
    a_reminder_queued_before_the_payment_is_cancelled,
    the_daily_job_marks_overdue_invoices_and_makes_the_recurring_ones,
    a_server_that_is_down_is_retried_then_failed_and_no_address_is_skipped,
    a_client_who_asked_for_no_reminders_gets_none,
);

/// An aiosmtpd of our own, so that its Maildir (beside it in `dir`) can be read for the PDFs.
struct Mail {
    server: SmtpServer,
    python: String,
    dir: tempfile::TempDir,
}

impl Mail {
    fn start() -> Option<Mail> {
        let python = smtp::python()?;
        let dir = tempfile::tempdir().unwrap();
        let server = SmtpServer::start(&python, dir.path(), Security::Plain);
        Some(Mail {
            server,
            python,
            dir,
        })
    }

    fn configure(&self) -> impl FnOnce(&mut Config) {
        let port = self.server.port;
        move |config: &mut Config| {
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
        }
    }

    fn messages(&self) -> Vec<serde_json::Value> {
        self.server.messages()
    }

    /// The bytes of the attachment of each delivered message, in the order of `messages`.
    fn attachments(&self) -> Vec<Vec<u8>> {
        const SAVE: &str = r#"
import email.policy, mailbox, os, sys
for i, (_, msg) in enumerate(sorted(mailbox.Maildir(sys.argv[1], create=False).items())):
    msg = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    for p in msg.walk():
        if p.get_filename():
            open(os.path.join(sys.argv[2], f"{i:03}.bin"), "wb").write(p.get_content())
"#;
        let maildir = self
            .dir
            .path()
            .join(format!("maildir-{}", self.server.port));
        let out = tempfile::tempdir().unwrap();
        let status = Command::new(&self.python)
            .args(["-c", SAVE])
            .arg(&maildir)
            .arg(out.path())
            .status()
            .unwrap();
        assert!(status.success());
        let mut files: Vec<PathBuf> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    }
}

/// The text of a PDF, by poppler's `pdftotext`.
fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("invoice.pdf");
    std::fs::write(&file, bytes).unwrap();
    let output = Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The app's clock at 10:00 UTC (the fund's time zone in the tests) on `day`.
fn set_day(app: &TestApp, day: NaiveDate) {
    app.clock
        .set(Utc.from_utc_datetime(&day.and_hms_opt(10, 0, 0).unwrap()));
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Jobs of `kind` in `state`.
async fn jobs(app: &TestApp, kind: &str, state: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM river_job WHERE kind = $1 AND CAST(state AS TEXT) = $2",
    )
    .bind(kind)
    .bind(state)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap()
}

/// The worker's start-up run of `invoice_daily` has finished (before the test makes invoices,
/// so that it cannot race with the runs the test makes itself).
async fn startup_run_done(app: &TestApp) {
    wait_for("the start-up invoice_daily run", || async {
        jobs(app, "invoice_daily", "completed").await >= 1
    })
    .await;
}

fn ctx(app: &TestApp) -> &Ctx {
    app.state.ctx()
}

async fn client(app: &TestApp, admin: &CurrentUser, name: &str, language: &str) -> i64 {
    let input = ClientInput {
        kind: "company".into(),
        name: name.into(),
        tax_id: None,
        email: Some(format!("{}@example.com", name.to_lowercase())),
        address: Address {
            street: "Hauptstr. 1".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country_code: "DE".into(),
        },
        language: language.into(),
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

fn hosting() -> DraftLine {
    DraftLine {
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
    }
}

/// A sent invoice of 1,190.00 EUR issued on `issue`, due on `due`: (id, number).
async fn sent_invoice(
    app: &TestApp,
    admin: &CurrentUser,
    client_id: i64,
    issue: NaiveDate,
    due: NaiveDate,
) -> (String, String) {
    let draft = invoices::create_draft(
        ctx(app),
        admin,
        &DraftInput {
            client_id,
            currency: None,
            issue_date: issue,
            due_date: Some(due),
            lines: vec![hosting()],
            discount: None,
            prices_include_tax: false,
            notes: String::new(),
            terms: String::new(),
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();
    let sent = invoices::send(ctx(app), admin, &draft.invoice.id, &RequestMeta::default())
        .await
        .unwrap();
    (sent.invoice.id, sent.invoice.number.unwrap())
}

async fn pay_in_full(app: &TestApp, admin: &CurrentUser, client_id: i64, invoice: &str) {
    payments::record_payment(
        ctx(app),
        admin,
        &PaymentInput {
            client_id,
            amount: 119_000,
            currency: Currency::Eur,
            received_on: reminder_job::today(ctx(app)),
            method: "bank_transfer".into(),
            reference: String::new(),
            notes: String::new(),
            allocations: vec![(invoice.to_string(), 119_000)],
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();
}

/// The invoice's reminders as (step, status, recipient), in the order they were logged.
async fn reminders(app: &TestApp, invoice: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT step, status, recipient FROM invoice_reminders WHERE invoice_id = $1 ORDER BY id",
    )
    .bind(invoice)
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap()
}

async fn run_day(app: &TestApp, day: NaiveDate) -> reminder_job::DailyOutcome {
    set_day(app, day);
    reminder_job::run_daily(ctx(app), day).await.unwrap()
}

async fn each_step_is_emailed_once_with_the_pdf_in_the_clients_language(backend: Backend) {
    let Some(mail) = Mail::start() else {
        return;
    };
    let configure = mail.configure();
    let Some(app) = TestApp::spawn_with(backend, |config| {
        configure(config);
        config.jobs.in_process = true;
    })
    .await
    else {
        return;
    };
    startup_run_done(&app).await;
    let admin = app.admin_user().await;
    // Acme (English) is written to at its primary contact; Pars (Persian) at its own address.
    let acme = client(&app, &admin, "Acme", "en").await;
    service::save_contact(
        ctx(&app),
        &admin,
        acme,
        None,
        &ContactInput {
            name: "Accounts payable".into(),
            email: Some("ap@acme.example".into()),
            phone: None,
            role: "billing".into(),
            is_primary: true,
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();
    let pars = client(&app, &admin, "Pars", "fa").await;
    let issued = date(2026, 11, 22);
    let due = date(2026, 11, 25);
    let (acme_invoice, acme_number) = sent_invoice(&app, &admin, acme, issued, due).await;
    let (pars_invoice, pars_number) = sent_invoice(&app, &admin, pars, issued, due).await;

    // Three days before the due date: the "upcoming" reminder of each, with its PDF.
    assert_eq!(run_day(&app, date(2026, 11, 21)).await.reminders, 0);
    assert_eq!(run_day(&app, issued).await.reminders, 2);
    wait_for("two reminders e-mailed", || async {
        mail.messages().len() == 2
    })
    .await;
    let messages = mail.messages();
    let acme_mail = messages
        .iter()
        .find(|m| m["to"] == "ap@acme.example")
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert_eq!(
        acme_mail["subject"],
        format!("Invoice {acme_number} is due on 25 Nov 2026")
    );
    assert_eq!(acme_mail["content_type"], "multipart/mixed");
    let parts = acme_mail["parts"].as_array().unwrap();
    assert!(
        parts[0]["content"]
            .as_str()
            .unwrap()
            .contains(&format!("invoice {acme_number} for 1,190.00 EUR is due")),
        "{parts:#?}"
    );
    let pdf_part = parts
        .iter()
        .find(|p| p["type"] == "application/pdf")
        .unwrap_or_else(|| panic!("no PDF: {parts:#?}"));
    assert_eq!(pdf_part["filename"], format!("{acme_number}.pdf"));
    assert_eq!(pdf_part["disposition"], "attachment");
    let message_id = acme_mail["message_id"].as_str().unwrap();
    assert!(
        message_id.starts_with("<invoice-reminder.") && message_id.ends_with("@example.com>"),
        "{message_id}"
    );

    let pars_mail = messages
        .iter()
        .find(|m| m["to"] == "pars@example.com")
        .unwrap_or_else(|| panic!("{messages:#?}"));
    let subject = pars_mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("سررسید فاکتور") && subject.contains(&pars_number),
        "{subject}"
    );
    let text = pars_mail["parts"][0]["content"].as_str().unwrap();
    assert!(
        text.contains("Pars گرامی") && text.contains("۱٬۱۹۰") && text.contains("یورو"),
        "Persian text, digits and currency: {text}"
    );

    // The PDFs themselves: each a PDF of its invoice.
    let pdfs = mail.attachments();
    assert_eq!(pdfs.len(), 2);
    for pdf in &pdfs {
        assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    }
    let texts: Vec<String> = pdfs.iter().map(|p| pdf_text(p)).collect();
    assert!(
        texts.iter().any(|t| t.contains(&acme_number)),
        "the English PDF names its invoice: {texts:?}"
    );

    // Logged on the invoice, sent, with the provider's id; and audited.
    wait_for("the reminder rows say sent", || async {
        reminders(&app, &acme_invoice).await
            == vec![("-3".into(), "sent".into(), "ap@acme.example".into())]
    })
    .await;
    let (provider, delivered): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT provider_id, delivered_at FROM invoice_reminders WHERE invoice_id = $1",
    )
    .bind(&acme_invoice)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(provider.as_deref(), Some(message_id));
    assert!(delivered.is_some());
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'invoice_reminder_sent' AND target = $1",
    )
    .bind(format!("invoice:{acme_invoice}"))
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // The day's job again (a retry, another instance), and the day after: nothing more.
    assert_eq!(run_day(&app, issued).await.reminders, 0);
    assert_eq!(run_day(&app, date(2026, 11, 23)).await.reminders, 0);

    // Pars pays; on the due day only Acme hears "due today".
    pay_in_full(&app, &admin, pars, &pars_invoice).await;
    assert_eq!(run_day(&app, due).await.reminders, 1);
    wait_for("the due-today reminder", || async {
        mail.messages().len() == 3
    })
    .await;
    let due_today = mail
        .messages()
        .into_iter()
        .find(|m| m["subject"] == format!("Invoice {acme_number} is due today"))
        .expect("the due-today reminder to Acme");
    assert_eq!(due_today["to"], "ap@acme.example");

    // Acme pays too: the overdue steps never come for either.
    pay_in_full(&app, &admin, acme, &acme_invoice).await;
    assert_eq!(run_day(&app, date(2026, 12, 2)).await.reminders, 0);
    assert_eq!(run_day(&app, date(2026, 12, 30)).await.reminders, 0);
    wait_for("the delivery jobs are done", || async {
        jobs(&app, "invoice_reminder", "completed").await == 3
    })
    .await;
    assert_eq!(mail.messages().len(), 3);
    assert_eq!(
        reminders(&app, &pars_invoice).await,
        vec![("-3".into(), "sent".into(), "pars@example.com".into())]
    );
}

/// A PDF renderer that must not be reached.
struct NoPdf;

impl InvoicePdf for NoPdf {
    fn render(&self, _: &Invoice, _: Lang, _: i64) -> Result<Vec<u8>, String> {
        panic!("a cancelled reminder renders no PDF")
    }
}

async fn a_reminder_queued_before_the_payment_is_cancelled(backend: Backend) {
    let Some(mail) = Mail::start() else {
        return;
    };
    // No worker: the delivery is run by hand, after the payment.
    let Some(app) = TestApp::spawn_with(backend, mail.configure()).await else {
        return;
    };
    let admin = app.admin_user().await;
    let acme = client(&app, &admin, "Acme", "en").await;
    let issued = date(2026, 11, 22);
    let (invoice, _) = sent_invoice(&app, &admin, acme, issued, date(2026, 11, 25)).await;
    assert_eq!(run_day(&app, issued).await.reminders, 1);
    assert_eq!(jobs(&app, "invoice_reminder", "available").await, 1);
    let id: i64 = sqlx::query_scalar("SELECT id FROM invoice_reminders WHERE invoice_id = $1")
        .bind(&invoice)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();

    pay_in_full(&app, &admin, acme, &invoice).await;
    let outcome = reminder_job::deliver(ctx(&app), id, 1, 5, std::sync::Arc::new(NoPdf))
        .await
        .unwrap();
    assert_eq!(outcome, ReminderDelivery::Cancelled);
    assert_eq!(
        reminders(&app, &invoice).await,
        vec![("-3".into(), "cancelled".into(), String::new())]
    );
    // Its job replayed: nothing to do, still nothing sent.
    let again = reminder_job::deliver(ctx(&app), id, 2, 5, std::sync::Arc::new(NoPdf))
        .await
        .unwrap();
    assert_eq!(again, ReminderDelivery::NothingToDo);
    assert!(mail.messages().is_empty());
    // The invoice says so: the step was logged and not sent, because it was paid.
    let detail = saghat_core::invoicing::invoices::get(ctx(&app), &admin, &invoice)
        .await
        .unwrap();
    assert_eq!(detail.reminders.len(), 1);
    assert_eq!(
        (
            detail.reminders[0].step.as_str(),
            detail.reminders[0].status.as_str()
        ),
        ("-3", "cancelled")
    );
    assert_eq!(detail.reminders[0].delivered_at, None);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'invoice_reminder_cancelled'",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

async fn the_daily_job_marks_overdue_invoices_and_makes_the_recurring_ones(backend: Backend) {
    // No SMTP server configured: reminders are logged as skipped, with the reason.
    let Some(app) = TestApp::spawn_with(backend, |config| config.jobs.in_process = true).await
    else {
        return;
    };
    startup_run_done(&app).await;
    let admin = app.admin_user().await;
    let acme = client(&app, &admin, "Acme", "en").await;
    let today = reminder_job::today(ctx(&app));
    let (late, _) = sent_invoice(
        &app,
        &admin,
        acme,
        today - chrono::Duration::days(20),
        today - chrono::Duration::days(2),
    )
    .await;
    let template = Template {
        lines: vec![TemplateLine::from_line(&hosting())],
        discount_kind: None,
        discount_value: None,
        prices_include_tax: false,
        notes: String::new(),
        terms: String::new(),
        due_in_days: Some(10),
    };
    let rec = recurring::create_recurring(
        ctx(&app),
        &admin,
        &RecurringInput {
            client_id: acme,
            template,
            calendar: saghat_core::invoicing::calendar::Calendar::Gregorian,
            day_of_month: u8::try_from(chrono::Datelike::day(&today)).unwrap(),
            first_run: Some(today),
            auto_send: true,
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();

    // The worker's job, enqueued as its schedule would.
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    saghat_core::jobs::enqueue(
        &mut conn,
        app.state.db.backend,
        &saghat_core::jobs::NewJob {
            kind: "invoice_daily",
            args: serde_json::json!({}),
            unique_key: "test:invoice_daily".into(),
            max_attempts: 3,
        },
    )
    .await
    .unwrap();
    drop(conn);
    wait_for("the enqueued invoice_daily run", || async {
        jobs(&app, "invoice_daily", "completed").await >= 2
    })
    .await;

    let status: String = sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1")
        .bind(&late)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "overdue");
    let made: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, number FROM invoices WHERE recurring_id = $1")
            .bind(rec.id)
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].0, "sent", "auto-sent");
    // The late invoice's due-day step, logged once, skipped for want of SMTP.
    let logged: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT step, status, last_error FROM invoice_reminders WHERE invoice_id = $1",
    )
    .bind(&late)
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(
        logged,
        vec![(
            "0".into(),
            "skipped".into(),
            "e-mail is not configured on this server".into()
        )]
    );
    assert_eq!(jobs(&app, "invoice_reminder", "available").await, 0);
}

/// A stand-in PDF: what it holds does not matter to a server that is down.
struct StubPdf;

impl InvoicePdf for StubPdf {
    fn render(&self, _: &Invoice, _: Lang, _: i64) -> Result<Vec<u8>, String> {
        Ok(b"%PDF-1.7 stub".to_vec())
    }
}

/// An app whose SMTP server is configured but nothing listens there, and without a worker:
/// deliveries are attempted by hand.
async fn spawn_with_smtp_down(backend: Backend) -> Option<TestApp> {
    let port = smtp::free_port();
    TestApp::spawn_with(backend, |config| {
        config.notify.smtp = Some(
            SmtpSettings::parse(
                &format!("smtp://127.0.0.1:{port}?tls=none"),
                "Saghat <saghat@example.com>",
                None,
                100,
            )
            .unwrap(),
        );
        config.notify.timeout = Duration::from_secs(2);
    })
    .await
}

async fn a_server_that_is_down_is_retried_then_failed_and_no_address_is_skipped(backend: Backend) {
    let Some(app) = spawn_with_smtp_down(backend).await else {
        return;
    };
    let admin = app.admin_user().await;
    let acme = client(&app, &admin, "Acme", "en").await;
    let nomail = client(&app, &admin, "Nomail", "en").await;
    sqlx::query("UPDATE clients SET email = NULL WHERE id = $1")
        .bind(nomail)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let issued = date(2026, 11, 22);
    let due = date(2026, 11, 25);
    let (down, _) = sent_invoice(&app, &admin, acme, issued, due).await;
    let (unaddressed, _) = sent_invoice(&app, &admin, nomail, issued, due).await;
    assert_eq!(run_day(&app, issued).await.reminders, 2);
    let id_of = |invoice: String| {
        let pool = app.state.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM invoice_reminders WHERE invoice_id = $1")
                .bind(invoice)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let pdf = || -> std::sync::Arc<dyn InvoicePdf> { std::sync::Arc::new(StubPdf) };

    let id = id_of(down.clone()).await;
    let first = reminder_job::deliver(ctx(&app), id, 1, 2, pdf()).await;
    assert!(
        matches!(first, Err(reminder_job::ReminderError::Retry(_))),
        "{first:?}"
    );
    let (status, attempts, error): (String, i64, String) =
        sqlx::query_as("SELECT status, attempts, last_error FROM invoice_reminders WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("queued", 1), "{error}");
    assert!(!error.is_empty());
    // The last attempt fails it for good (the queue sets the job aside).
    let last = reminder_job::deliver(ctx(&app), id, 2, 2, pdf()).await;
    assert!(matches!(last, Err(reminder_job::ReminderError::Retry(_))));
    let (status, attempts): (String, i64) =
        sqlx::query_as("SELECT status, attempts FROM invoice_reminders WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 2));

    let id = id_of(unaddressed.clone()).await;
    let outcome = reminder_job::deliver(ctx(&app), id, 1, 2, pdf())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReminderDelivery::Skipped("the client has no e-mail address".into())
    );
    assert_eq!(
        reminders(&app, &unaddressed).await,
        vec![("-3".into(), "skipped".into(), String::new())]
    );
}

/// A client may ask for no reminders: the daily pass logs its steps as skipped, with the
/// reason, and queues nothing; one queued before it asked is skipped when it would go.
async fn a_client_who_asked_for_no_reminders_gets_none(backend: Backend) {
    let Some(app) = spawn_with_smtp_down(backend).await else {
        return;
    };
    let admin = app.admin_user().await;
    let quiet = client(&app, &admin, "Quiet", "en").await;
    let later = client(&app, &admin, "Later", "en").await;
    let wants = |client_id: i64, on: bool| {
        let (app, admin) = (&app, &admin);
        async move {
            let (row, _) = service::get_client(ctx(app), admin, client_id)
                .await
                .unwrap();
            let input = ClientInput {
                kind: row.kind,
                name: row.name,
                tax_id: row.tax_id,
                email: row.email,
                address: Address {
                    street: row.street,
                    city: row.city,
                    postal_code: row.postal_code,
                    country_code: row.country_code,
                },
                language: row.language,
                currency: Currency::Eur,
                payment_terms_days: row.payment_terms_days,
                notes: row.notes,
                send_reminders: on,
            };
            let saved =
                service::update_client(ctx(app), admin, client_id, &input, &RequestMeta::default())
                    .await
                    .unwrap();
            assert_eq!(saved.send_reminders, on);
        }
    };
    wants(quiet, false).await;
    let issued = date(2026, 11, 22);
    let due = date(2026, 11, 25);
    let (quiet_invoice, _) = sent_invoice(&app, &admin, quiet, issued, due).await;
    let (later_invoice, _) = sent_invoice(&app, &admin, later, issued, due).await;
    let queued_before = jobs(&app, reminder_job::REMINDER_JOB, "available").await;
    assert_eq!(run_day(&app, issued).await.reminders, 2);
    assert_eq!(
        reminders(&app, &quiet_invoice).await,
        vec![("-3".into(), "skipped".into(), String::new())]
    );
    let reason: String =
        sqlx::query_scalar("SELECT last_error FROM invoice_reminders WHERE invoice_id = $1")
            .bind(&quiet_invoice)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(reason, "the client asked for no payment reminders");
    assert_eq!(
        jobs(&app, reminder_job::REMINDER_JOB, "available").await,
        queued_before + 1,
        "only the other client's reminder is queued"
    );

    // Later asks for none after its reminder was queued: the delivery sends nothing.
    wants(later, false).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM invoice_reminders WHERE invoice_id = $1")
        .bind(&later_invoice)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let pdf: std::sync::Arc<dyn InvoicePdf> = std::sync::Arc::new(StubPdf);
    let outcome = reminder_job::deliver(ctx(&app), id, 1, 2, pdf)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReminderDelivery::Skipped("the client asked for no payment reminders".into())
    );
    assert_eq!(
        reminders(&app, &later_invoice).await,
        vec![("-3".into(), "skipped".into(), String::new())]
    );
}
