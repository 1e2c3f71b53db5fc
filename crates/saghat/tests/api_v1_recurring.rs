//! `/api/v1/recurring-invoices/`: templates by role, their schedule, the daily pass's invoices
//! listed under them, and DRF's field errors, on SQLite and PostgreSQL.

use saghat_test_support as common;

use chrono::{Datelike, Duration, NaiveDate};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{Backend, TestApp};
use saghat_core::invoicing::{recurring, reminder_job};

async fn client(app: &TestApp, admin: &str, name: &str, currency: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/v1/clients/",
            admin,
            json!({ "name": name, "country_code": "DE", "currency": currency }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

fn forbidden() -> Value {
    json!({ "detail": "You do not have permission to perform this action." })
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn today(app: &TestApp) -> NaiveDate {
    reminder_job::today(app.state.ctx())
}

/// A monthly template: 1.5 h × 100.00 and 50.00 less 10 %, 9 % tax, as the invoice tests'.
fn template(client: i64, day: u32, next_run: Option<NaiveDate>) -> Value {
    let mut body = json!({
        "client": client,
        "calendar": "gregorian",
        "day_of_month": day,
        "lines": [
            { "description": "Consulting", "unit": "HUR", "quantity": "1.5", "unit_price": "100", "tax_rate": "9" },
            { "description": "Setup", "quantity": "1", "unit_price": "50.00", "tax_rate": "9", "discount": { "percent": "10" } },
        ],
        "due_in_days": 14,
        "notes": "Monthly retainer",
    });
    if let Some(d) = next_run {
        body["next_run"] = json!(date(d));
    }
    body
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.call(method, path, Some(token), body).await
}

common::on_both_databases!(
    templates_are_written_read_and_listed,
    the_daily_pass_makes_each_month_once_and_lists_it,
    field_errors_are_nested_as_the_invoice_endpoints_do,
    roles_on_every_recurring_endpoint,
);

async fn templates_are_written_read_and_listed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let other = client(&app, &admin, "Other", "EUR").await;
    let accountant = app.v1_user(&admin, "sara", "accountant", None).await;
    let today = today(&app);

    let (status, created) = app
        .post(
            "/api/v1/recurring-invoices/",
            &accountant,
            template(acme, 5, None),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["client"], acme);
    assert_eq!(created["client_name"], "Acme");
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["active"], true);
    assert_eq!(created["auto_send"], false);
    assert_eq!(created["invoices_made"], 0);
    // No next run given: the next 5th from today.
    let expected =
        saghat_core::invoicing::calendar::Calendar::Gregorian.first_on_or_after(today, 5);
    assert_eq!(created["next_run"], date(expected));
    // One period's amounts, from the invoice totals: 150.00 + 45.00, 9 % of 195.00 = 17.55.
    assert_eq!(created["lines_net"], "195.00");
    assert_eq!(created["tax"], "17.55");
    assert_eq!(created["total"], "212.55");
    assert_eq!(created["lines"][0]["quantity"], "1.5000");
    assert_eq!(created["lines"][0]["unit_price"], "100.00");
    assert_eq!(created["lines"][0]["net"], "150.00");
    assert_eq!(
        created["lines"][1]["discount"],
        json!({ "percent": "10.00", "amount": null })
    );

    let (status, second) = app
        .post(
            "/api/v1/recurring-invoices/",
            &admin,
            template(other, 20, Some(today + Duration::days(3))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["next_run"], date(today + Duration::days(3)));

    // The list: DRF's page, oldest first; `?client=` keeps one client's.
    let (status, list) = app.get("/api/v1/recurring-invoices/", &accountant).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 2);
    assert_eq!(list["next"], Value::Null);
    assert_eq!(list["previous"], Value::Null);
    assert_eq!(list["results"][0]["id"], id);
    let (_, list) = app
        .get(
            &format!("/api/v1/recurring-invoices/?client={other}&page_size=1"),
            &accountant,
        )
        .await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["client"], other);
    let (status, _) = app
        .get("/api/v1/recurring-invoices/?page=3", &accountant)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let path = format!("/api/v1/recurring-invoices/{id}/");
    let (status, read) = app.get(&path, &accountant).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    // PUT replaces the lines; a new day moves the next run to it.
    let mut body = template(acme, 25, None);
    body["lines"] = json!([{ "description": "Hosting", "quantity": "2", "unit_price": "10.50" }]);
    body["auto_send"] = json!(true);
    let (status, replaced) = call(&app, Method::PUT, &path, &accountant, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["day_of_month"], 25);
    let gregorian = saghat_core::invoicing::calendar::Calendar::Gregorian;
    let moved = gregorian.first_on_or_after(gregorian.month_start(expected).max(today), 25);
    assert_eq!(replaced["next_run"], date(moved));
    assert_eq!(replaced["total"], "21.00");
    assert_eq!(replaced["auto_send"], true);
    assert_eq!(replaced["lines"].as_array().unwrap().len(), 1);

    // PATCH changes only what it names; what it reads back can be written back.
    let (status, patched) = call(
        &app,
        Method::PATCH,
        &path,
        &accountant,
        Some(json!({ "notes": "Hosting, monthly", "discount": { "amount": "1.00" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["notes"], "Hosting, monthly");
    assert_eq!(patched["total"], "20.00");
    assert_eq!(patched["lines"], replaced["lines"]);
    assert_eq!(patched["next_run"], replaced["next_run"]);
    let (status, patched) = call(
        &app,
        Method::PATCH,
        &path,
        &accountant,
        Some(json!({ "discount": null, "calendar": "jalali" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["discount"], Value::Null);
    assert_eq!(patched["calendar"], "jalali");
    assert_eq!(patched["total"], "21.00");

    // Pause and resume.
    let (status, paused) = app
        .post(&format!("{path}pause/"), &accountant, json!({}))
        .await;
    assert_eq!((status, &paused["active"]), (StatusCode::OK, &json!(false)));
    let (status, resumed) = app
        .post(&format!("{path}resume/"), &accountant, json!({}))
        .await;
    assert_eq!((status, &resumed["active"]), (StatusCode::OK, &json!(true)));

    // A template that made nothing is deleted; then it is gone.
    let second_path = format!("/api/v1/recurring-invoices/{}/", second["id"]);
    let (status, _) = call(&app, Method::DELETE, &second_path, &accountant, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&second_path, &accountant).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'recurring_invoice_%'",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    // 2 created, PUT, 2 PATCHes, pause, resume, delete.
    assert_eq!(audited, 8);
}

async fn the_daily_pass_makes_each_month_once_and_lists_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let today = today(&app);
    let day = today.day();
    let (status, created) = app
        .post(
            "/api/v1/recurring-invoices/",
            &admin,
            template(acme, day, Some(today)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/recurring-invoices/{id}/");

    let made = recurring::run_due_recurring(app.state.ctx(), today)
        .await
        .unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    let (status, page) = app.get(&format!("{path}invoices/"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 1);
    let invoice = &page["results"][0];
    assert_eq!(invoice["id"], made[0].invoice_id.as_str());
    assert_eq!(invoice["recurring_id"], id);
    assert_eq!(invoice["status"], "draft");
    assert_eq!(invoice["issue_date"], date(today));
    assert_eq!(invoice["total"], "212.55");

    // The run moved the next run a month on; writing it back unchanged is no new ask, while
    // asking for this month again is refused.
    let (status, read) = app.get(&path, &admin).await;
    assert_eq!(status, StatusCode::OK);
    let after_run = read["next_run"].as_str().unwrap().to_string();
    assert!(after_run > date(today), "{after_run}");
    let mut same = template(acme, day, None);
    same["next_run"] = json!(after_run);
    let (status, answer) = call(&app, Method::PUT, &path, &admin, Some(same)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["next_run"], json!(after_run));
    let (status, answer) = call(
        &app,
        Method::PUT,
        &path,
        &admin,
        Some(template(acme, day, Some(today))),
    )
    .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "next_run": ["The template already made the invoice of that month: choose a later month."] })
        )
    );
    // Moving the day skips the month made, so the pass run again, even for later days, makes
    // nothing more this month.
    let new_day = if day < 28 { day + 1 } else { 1 };
    let (status, moved) = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({ "day_of_month": new_day })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let next = NaiveDate::parse_from_str(moved["next_run"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    assert!(
        (next.year(), next.month()) > (today.year(), today.month()),
        "{next}"
    );
    for later in [today, today + Duration::days(1), next - Duration::days(1)] {
        let made = recurring::run_due_recurring(app.state.ctx(), later)
            .await
            .unwrap();
        assert!(made.is_empty(), "{later}: {made:?}");
    }
    let made = recurring::run_due_recurring(app.state.ctx(), next)
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    let (_, page) = app.get(&format!("{path}invoices/"), &admin).await;
    assert_eq!(page["count"], 2);
    // Newest first.
    assert_eq!(page["results"][0]["issue_date"], date(next));
    let (_, read) = app.get(&path, &admin).await;
    assert_eq!(read["invoices_made"], 2);

    // A template that made invoices is not deleted: paused instead.
    let (status, answer) = call(&app, Method::DELETE, &path, &admin, None).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "non_field_errors": [recurring::TEMPLATE_HAS_INVOICES] })
        )
    );
    let (status, _) = app.get(&path, &admin).await;
    assert_eq!(status, StatusCode::OK);
    // Nor does it move to another client once it invoiced one.
    let other = client(&app, &admin, "Other", "EUR").await;
    let (status, answer) = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({ "client": other })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["client"].is_array(), "{answer}");
    // Paused, it makes nothing.
    let (status, _) = app.post(&format!("{path}pause/"), &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let made = recurring::run_due_recurring(app.state.ctx(), next + Duration::days(200))
        .await
        .unwrap();
    assert!(made.is_empty());
}

async fn field_errors_are_nested_as_the_invoice_endpoints_do(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let rial = client(&app, &admin, "Rial", "IRR").await;

    let (status, body) = app
        .post("/api/v1/recurring-invoices/", &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "client": ["This field is required."],
            "calendar": ["This field is required."],
            "day_of_month": ["This field is required."],
            "lines": ["This field is required."],
        })
    );
    let mut body = template(acme, 32, None);
    body["lines"][1]["quantity"] = json!("many");
    body["lines"][0]["unit_price"] = json!("1.005");
    body["next_run"] = json!("tomorrow");
    let (status, answer) = app.post("/api/v1/recurring-invoices/", &admin, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({
                "day_of_month": ["Must be between 1 and 31."],
                "next_run": ["Date has wrong format. Use YYYY-MM-DD."],
                "lines": [
                    { "unit_price": ["Ensure that there are no more than 2 decimal places."] },
                    { "quantity": ["A valid number is required."] },
                ],
            })
        )
    );
    // The client's currency's places: a rial has none.
    let mut body = template(rial, 5, None);
    body["lines"][1]["unit_price"] = json!("50.5");
    body["lines"][1]["discount"] = Value::Null;
    let (status, answer) = app.post("/api/v1/recurring-invoices/", &admin, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "lines": [{}, { "unit_price": ["Ensure that there are no more than 0 decimal places."] }] })
        )
    );
    let mut body = template(acme, 5, None);
    body["lines"][1]["product"] = json!(999_999);
    let (status, answer) = app.post("/api/v1/recurring-invoices/", &admin, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "lines": [{}, { "product": ["Invalid pk - object does not exist."] }] })
        )
    );
    let mut body = template(acme, 5, None);
    body["lines"] = json!([]);
    let (status, answer) = app.post("/api/v1/recurring-invoices/", &admin, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "lines": ["A template needs at least one line."] })
        )
    );
    let mut body = template(acme, 5, None);
    body["lines"][0]["description"] = json!(" ");
    body["calendar"] = json!("lunar");
    let (status, answer) = app.post("/api/v1/recurring-invoices/", &admin, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["calendar"].is_array(), "{answer}");
    let mut body = template(acme, 5, None);
    body["lines"][0]["description"] = json!(" ");
    let (status, answer) = app.post("/api/v1/recurring-invoices/", &admin, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "lines": [{ "description": ["This field may not be blank."] }] })
        )
    );
    let (status, answer) = app
        .post(
            "/api/v1/recurring-invoices/",
            &admin,
            template(999_999, 5, None),
        )
        .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "client": ["Invalid pk \"999999\" - object does not exist."] })
        )
    );
    // An archived client gets no new template.
    let old = client(&app, &admin, "Old", "EUR").await;
    sqlx::query("UPDATE clients SET archived = 1 WHERE id = $1")
        .bind(old)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (status, answer) = app
        .post(
            "/api/v1/recurring-invoices/",
            &admin,
            template(old, 5, None),
        )
        .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "client": ["The client is archived."] })
        )
    );
    // Nothing was written by any of these.
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recurring_invoices")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    // A path id that is no number is not found, as DRF's router answers it.
    let (status, _) = app.get("/api/v1/recurring-invoices/abc/", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get("/api/v1/recurring-invoices/?client=x", &admin)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn roles_on_every_recurring_endpoint(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let accountant = app.v1_user(&admin, "sara", "accountant", None).await;
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;
    let member = app.v1_user(&admin, "omid", "member", None).await;
    let portal = app.v1_user(&admin, "portal", "client", Some(acme)).await;
    let (status, created) = app
        .post(
            "/api/v1/recurring-invoices/",
            &admin,
            template(acme, 5, None),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let one = format!("/api/v1/recurring-invoices/{id}/");
    let reads = [
        "/api/v1/recurring-invoices/".to_string(),
        one.clone(),
        format!("{one}invoices/"),
    ];
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/recurring-invoices/".into(),
            Some(template(acme, 6, None)),
        ),
        (Method::PUT, one.clone(), Some(template(acme, 7, None))),
        (Method::PATCH, one.clone(), Some(json!({ "notes": "x" }))),
        (Method::POST, format!("{one}pause/"), None),
        (Method::POST, format!("{one}resume/"), None),
    ];
    // Viewers read; clients (even of the template's own client) and members do not.
    for token in [&admin, &accountant, &viewer] {
        for path in &reads {
            let (status, body) = app.get(path, token).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    }
    for token in [&portal, &member] {
        for path in &reads {
            let (status, body) = app.get(path, token).await;
            assert_eq!(
                (status, body),
                (StatusCode::FORBIDDEN, forbidden()),
                "{path}"
            );
        }
    }
    for token in [&viewer, &portal, &member] {
        for (method, path, body) in &writes {
            let (status, answer) = call(&app, method.clone(), path, token, body.clone()).await;
            assert_eq!(
                (status, answer),
                (StatusCode::FORBIDDEN, forbidden()),
                "{method} {path}"
            );
        }
        let (status, _) = call(&app, Method::DELETE, &one, token, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recurring_invoices")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "nothing written by those refused");
    for token in [&admin, &accountant] {
        for (method, path, body) in &writes {
            let (status, answer) = call(&app, method.clone(), path, token, body.clone()).await;
            assert!(status.is_success(), "{method} {path}: {status} {answer}");
        }
    }
    let (status, _) = call(&app, Method::DELETE, &one, &accountant, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
