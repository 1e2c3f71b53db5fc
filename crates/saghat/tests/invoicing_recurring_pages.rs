//! The recurring invoices' pages over HTTP, on SQLite and PostgreSQL: an accountant makes a
//! template through its form (errors next to their fields, typed values kept), pauses and
//! resumes it, and sees the invoices the daily pass made; a viewer reads without forms and is
//! refused every post; the Persian pages show Jalali dates in Persian digits.

use saghat_test_support as common;

use common::{Backend, Browser, Page, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use saghat_core::invoicing::calendar::{from_jalali, to_jalali};
use saghat_core::invoicing::{recurring, reminder_job};
use serde_json::json;

common::on_both_databases!(
    an_accountant_makes_pauses_and_resumes_a_template,
    the_form_puts_errors_next_to_fields_and_keeps_what_was_typed,
    a_viewer_reads_templates_without_forms_and_every_post_is_refused,
    the_recurring_pages_speak_persian_with_jalali_dates,
);

async fn books(backend: Backend) -> Option<TestApp> {
    let app = TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await?;
    let admin = app.admin_token().await;
    for (name, role) in [("ava", "accountant"), ("vic", "viewer")] {
        let (status, body) = app
            .post(
                "/api/auth/users",
                &admin,
                json!({ "username": name, "password": PASSWORD, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    Some(app)
}

async fn signed_in<'a>(app: &'a TestApp, username: &str) -> Browser<'a> {
    let mut browser = app.browser();
    browser.sign_in(username, PASSWORD).await;
    browser
}

fn text_of(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in: {}", page.body));
    let rest = &page.body[at..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find('<').unwrap()].trim().to_string()
}

/// The error shown next to the field `id`.
fn field_error(page: &Page, id: &str) -> String {
    text_of(page, &format!("{id}-error"))
}

async fn new_client(browser: &mut Browser<'_>, name: &str) -> String {
    let page = browser
        .submit(
            "/clients/new",
            "/clients/new",
            &[
                ("kind", "company"),
                ("name", name),
                ("country_code", "DE"),
                ("language", "en"),
                ("currency", "EUR"),
                ("payment_terms_days", "14"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location
        .strip_prefix("/clients/")
        .and_then(|rest| rest.split('?').next())
        .unwrap()
        .to_string()
}

/// A template's form: two lines (1.5 × 100.00 and 50.00 less 10 %) at 9 %.
fn two_lines(client: &str, day: &str, next_run: &str) -> Vec<(String, String)> {
    [
        ("client_id", client),
        ("calendar", "gregorian"),
        ("day_of_month", day),
        ("next_run", next_run),
        ("due_in_days", "14"),
        ("lines[0].description", "Consulting"),
        ("lines[0].quantity", "1.5"),
        ("lines[0].unit", "HUR"),
        ("lines[0].unit_price", "100.00"),
        ("lines[0].tax_code", "S"),
        ("lines[0].tax_rate", "9"),
        ("lines[1].description", "Setup"),
        ("lines[1].quantity", "1"),
        ("lines[1].unit", "C62"),
        ("lines[1].unit_price", "50.00"),
        ("lines[1].discount_kind", "percent"),
        ("lines[1].discount", "10"),
        ("lines[1].tax_code", "S"),
        ("lines[1].tax_rate", "9"),
        ("notes", "Monthly retainer"),
        ("op", "save"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn post_form(
    browser: &mut Browser<'_>,
    from: &str,
    action: &str,
    form: Vec<(String, String)>,
) -> Page {
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.submit(from, action, &fields).await
}

fn template_id(page: &Page) -> i64 {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location
        .strip_prefix("/invoices/recurring/")
        .and_then(|rest| rest.split('?').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{}", page.location))
}

fn today(app: &TestApp) -> chrono::NaiveDate {
    reminder_job::today(app.state.ctx())
}

async fn an_accountant_makes_pauses_and_resumes_a_template(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let client = new_client(&mut ava, "Acme GmbH").await;
    let list = ava.get("/invoices").await;
    assert!(
        list.has("href=\"/invoices/recurring\""),
        "the invoices list links to it"
    );
    let today = today(&app);
    let day = chrono::Datelike::day(&today).to_string();
    let next = today.format("%Y-%m-%d").to_string();
    let saved = post_form(
        &mut ava,
        "/invoices/recurring/new",
        "/invoices/recurring/new",
        two_lines(&client, &day, &next),
    )
    .await;
    let id = template_id(&saved);
    let page = ava.get(&saved.location).await;
    assert!(page.has("The template is saved."));
    assert_eq!(
        text_of(&page, "rec-schedule"),
        format!("Every month on day {day} (Gregorian)")
    );
    // One invoice's totals, from the invoice totals: 150.00 + 45.00, 9 % of 195.00.
    assert_eq!(text_of(&page, "iv-total"), "212.55");
    assert_eq!(app.count("recurring_invoices").await, 1);

    let list = ava.get("/invoices/recurring").await;
    assert!(list.has(&format!("id=\"rec-{id}\"")));
    assert!(list.has("212.55") && list.has("Active"), "{}", list.body);

    // Paused, then resumed, with CSRF.
    let paused = ava
        .submit(
            &format!("/invoices/recurring/{id}"),
            &format!("/invoices/recurring/{id}/pause"),
            &[],
        )
        .await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.body);
    let page = ava.get(&paused.location).await;
    assert_eq!(text_of(&page, "rec-state"), "Paused");
    assert!(page.has("id=\"rec-resume\""));
    assert!(recurring::run_due_recurring(app.state.ctx(), today)
        .await
        .unwrap()
        .is_empty());
    let resumed = ava
        .submit(
            &format!("/invoices/recurring/{id}"),
            &format!("/invoices/recurring/{id}/resume"),
            &[],
        )
        .await;
    let page = ava.get(&resumed.location).await;
    assert_eq!(text_of(&page, "rec-state"), "Active");

    // The daily pass makes this month's invoice; the page lists it and no longer offers delete.
    let made = recurring::run_due_recurring(app.state.ctx(), today)
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    let page = ava.get(&format!("/invoices/recurring/{id}")).await;
    assert!(page.has(&format!("id=\"made-{}\"", made[0].invoice_id)));
    assert!(!page.has("id=\"rec-delete\""));
    // A post to delete anyway is refused on the page, next to nothing but the form.
    let refused = ava
        .submit(
            &format!("/invoices/recurring/{id}"),
            &format!("/invoices/recurring/{id}/delete"),
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(
        refused.has("This template has made invoices"),
        "{}",
        refused.body
    );
    assert_eq!(app.count("recurring_invoices").await, 1);

    // Edited: a new day, and the next run moves past the month made.
    let mut form = two_lines(&client, "1", "");
    form.retain(|(k, _)| k != "next_run");
    let saved = post_form(
        &mut ava,
        &format!("/invoices/recurring/{id}"),
        &format!("/invoices/recurring/{id}"),
        form,
    )
    .await;
    assert_eq!(template_id(&saved), id);
    let row: (i64, String) =
        sqlx::query_as("SELECT day_of_month, next_run FROM recurring_invoices WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(row.0, 1);
    assert!(row.1 > next, "{row:?}");

    // A template that made nothing is deleted from its page.
    let other = post_form(
        &mut ava,
        "/invoices/recurring/new",
        "/invoices/recurring/new",
        two_lines(&client, "5", ""),
    )
    .await;
    let other = template_id(&other);
    let deleted = ava
        .submit(
            &format!("/invoices/recurring/{other}"),
            &format!("/invoices/recurring/{other}/delete"),
            &[],
        )
        .await;
    assert_eq!(deleted.location, "/invoices/recurring?done=deleted");
    assert_eq!(app.count("recurring_invoices").await, 1);
}

async fn the_form_puts_errors_next_to_fields_and_keeps_what_was_typed(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let client = new_client(&mut ava, "Acme GmbH").await;
    let mut form = two_lines(&client, "32", "someday");
    for (k, v) in &mut form {
        if k == "lines[1].quantity" {
            *v = "lots".into();
        }
        if k == "lines[0].description" {
            *v = "Consulting, typed".into();
        }
    }
    let page = post_form(
        &mut ava,
        "/invoices/recurring/new",
        "/invoices/recurring/new",
        form,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "re-shown, not redirected");
    assert_eq!(field_error(&page, "line-1-quantity"), "Enter a number.");
    assert!(page.has("value=\"lots\""));
    assert!(page.has("value=\"Consulting, typed\""));
    assert!(page.has("value=\"someday\""));
    assert_eq!(app.count("recurring_invoices").await, 0);
    // The lines read, the schedule's own fields are next to themselves.
    let page = post_form(
        &mut ava,
        "/invoices/recurring/new",
        "/invoices/recurring/new",
        two_lines(&client, "32", "someday"),
    )
    .await;
    assert_eq!(
        field_error(&page, "day_of_month"),
        "Enter a day from 1 to 31."
    );
    assert_eq!(field_error(&page, "next_run"), "Enter a date.");
    assert!(page.has("value=\"32\""));
    // The service's refusal of a blank line's description, next to its row.
    let mut form = two_lines(&client, "5", "");
    for (k, v) in &mut form {
        if k == "lines[1].description" {
            *v = " ".into();
        }
    }
    let page = post_form(
        &mut ava,
        "/invoices/recurring/new",
        "/invoices/recurring/new",
        form,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("id=\"line-1-description-error\""), "{}", page.body);
    assert_eq!(app.count("recurring_invoices").await, 0);
}

async fn a_viewer_reads_templates_without_forms_and_every_post_is_refused(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let client = new_client(&mut ava, "Acme GmbH").await;
    let saved = post_form(
        &mut ava,
        "/invoices/recurring/new",
        "/invoices/recurring/new",
        two_lines(&client, "5", ""),
    )
    .await;
    let id = template_id(&saved);
    let mut vic = signed_in(&app, "vic").await;
    let list = vic.get("/invoices/recurring").await;
    assert!(list.has(&format!("id=\"rec-{id}\"")) && !list.has("id=\"rec-new\""));
    let page = vic.get(&format!("/invoices/recurring/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(text_of(&page, "iv-total"), "212.55");
    for form in ["rec-form", "rec-pause", "rec-delete"] {
        assert!(!page.has(&format!("id=\"{form}\"")), "{form}");
    }
    let new = vic.send(Method::GET, "/invoices/recurring/new", None).await;
    assert_eq!(new.status, StatusCode::FORBIDDEN);
    let csrf = list.csrf();
    for path in [
        "/invoices/recurring/new".to_string(),
        format!("/invoices/recurring/{id}"),
        format!("/invoices/recurring/{id}/pause"),
        format!("/invoices/recurring/{id}/resume"),
        format!("/invoices/recurring/{id}/delete"),
    ] {
        let page = vic
            .post(
                &path,
                &[("csrf", &csrf), ("client_id", &client), ("op", "save")],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
    }
    let active: i64 = sqlx::query_scalar("SELECT active FROM recurring_invoices WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!((active, app.count("recurring_invoices").await), (1, 1));
}

async fn the_recurring_pages_speak_persian_with_jalali_dates(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let client = new_client(&mut ava, "Acme GmbH").await;
    // The 1st of the Jalali month after today's, typed as a date.
    let (y, m, _) = to_jalali(today(&app));
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let next = from_jalali(y, m, 1).unwrap();
    let mut form = two_lines(&client, "۱", &next.format("%Y-%m-%d").to_string());
    for (k, v) in &mut form {
        if k == "calendar" {
            *v = "jalali".into();
        }
        if k == "lines[0].unit_price" {
            *v = "۱۰۰٫۰۰".into();
        }
    }
    let saved = post_form(
        &mut ava,
        "/invoices/recurring/new?lang=fa",
        "/invoices/recurring/new",
        form,
    )
    .await;
    let id = template_id(&saved);
    let page = ava.get(&format!("/invoices/recurring/{id}?lang=fa")).await;
    assert!(page.has("dir=\"rtl\""));
    assert_eq!(text_of(&page, "rec-schedule"), "هر ماه، روز ۱ (شمسی)");
    let persian = |n: i64, width: usize| {
        saghat_core::platform::lang::Lang::Fa.digits(&format!("{n:0width$}"))
    };
    assert_eq!(
        text_of(&page, "rec-next-run"),
        format!(
            "{}/{}/{}",
            persian(y.into(), 4),
            persian(m.into(), 2),
            persian(1, 2)
        )
    );
    assert_eq!(text_of(&page, "iv-total"), "۲۱۲٫۵۵");
    let list = ava.get("/invoices/recurring?lang=fa").await;
    assert!(list.has("dir=\"rtl\"") && list.has("۲۱۲٫۵۵"));
}
