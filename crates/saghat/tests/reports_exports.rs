//! Long exports on both databases: a register of every invoice (or payment) of a period asked
//! for over the API, written by the real worker while its progress is followed, downloaded and
//! read back (XLSX by openpyxl, CSV as text) against the invoices this test made; the register
//! read in pages that continue exactly where the last ended; who may export and see which
//! export; refusals; and old exports swept with their files.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use saghat_core::platform::currency::Currency;
use saghat_core::reports::exports::register::{self, Cursor};
use saghat_core::reports::exports::{self, Labels, Register};
use saghat_core::reports::invoicing::Filter;
use saghat_core::reports::period::Period;
use saghat_test_support::files::xlsx_contents;
use saghat_test_support::invoicing::{client, invoice, pay};
use saghat_test_support::{on_both_databases, Backend, TestApp, ADMIN, ADMIN_PASSWORD};

on_both_databases!(
    a_register_is_written_by_its_job_and_downloaded,
    an_export_waits_for_its_job_and_is_its_readers_own,
    the_register_pages_continue_where_the_last_ended,
    old_exports_are_swept_with_their_files,
);

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Today is 1 December 2026. Alpha (EUR): invoices of 10 September, 5 October and 12 November
/// (paid in full on 20 November), and a draft that is in no register; Chabok (IRR): one of 12
/// November. Each is due 120 days on: none is overdue yet. Returns the sent invoices' ids in register order (day, id).
async fn invoices(app: &TestApp) -> Vec<String> {
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap());
    let admin = app.admin_user().await;
    let alpha = client(app, &admin, "Alpha GmbH", Currency::Eur).await;
    let chabok = client(app, &admin, "شرکت چابک", Currency::Irr).await;
    let mut made = vec![];
    for (client_id, issued, net) in [
        (alpha, day(2026, 9, 10), 10_000),
        (alpha, day(2026, 10, 5), 20_000),
        (alpha, day(2026, 11, 12), 30_000),
        (chabok, day(2026, 11, 12), 5_000_000),
    ] {
        let id = invoice(
            app,
            &admin,
            client_id,
            (issued, issued + chrono::Days::new(120)),
            net,
            1900,
            false,
        )
        .await;
        made.push((issued, id));
    }
    invoice(
        app,
        &admin,
        alpha,
        (day(2026, 11, 20), day(2026, 12, 20)),
        99_000,
        1900,
        true,
    )
    .await;
    // 30,000 + 19 % = 35,700: the third invoice paid in full.
    pay(
        app,
        &admin,
        alpha,
        Currency::Eur,
        35_700,
        day(2026, 11, 20),
        Some(&made[2].1),
    )
    .await;
    made.sort();
    made.into_iter().map(|(_, id)| id).collect()
}

/// Polls export `id` until it is done (or failed), for at most 20 seconds.
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, export) = app.get(&format!("/api/reports/exports/{id}"), token).await;
        assert_eq!(status, StatusCode::OK, "{export}");
        if export["state"] == "done" || export["state"] == "failed" {
            return export;
        }
        assert!(
            Instant::now() < deadline,
            "export still {}",
            export["state"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The file of export `id`: status, content type, disposition, bytes.
async fn download(app: &TestApp, token: &str, id: &str) -> (StatusCode, String, String, Vec<u8>) {
    app.get_file(&format!("/api/reports/exports/{id}/file"), token)
        .await
}

async fn a_register_is_written_by_its_job_and_downloaded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.jobs.in_process = true).await else {
        return;
    };
    invoices(&app).await;
    let admin = app.admin_token().await;

    let response = app
        .http
        .post(app.url("/api/reports/exports"))
        .bearer_auth(&admin)
        .json(
            &json!({ "register": "invoices", "format": "xlsx", "calendar": "gregorian",
                       "from": "2026-09", "to": "2026-11" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let asked: Value = response.json().await.unwrap();
    let id = asked["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/reports/exports/{id}"));
    assert_eq!(asked["register"], "invoices");
    assert_eq!(asked["file_name"], "saghat-invoices-2026-09_2026-11.xlsx");

    let done = finished(&app, &admin, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    // Four sent invoices; the draft is in no register.
    assert_eq!(
        (done["rows_total"].as_i64(), done["rows_done"].as_i64()),
        (Some(4), Some(4))
    );
    let (status, kind, disposition, bytes) = download(&app, &admin, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        disposition.contains("saghat-invoices-2026-09_2026-11.xlsx"),
        "{disposition}"
    );
    assert_eq!(done["size_bytes"].as_u64(), Some(bytes.len() as u64));

    if let Some(book) = xlsx_contents(&bytes) {
        assert_eq!(book["title"], "Register of invoices");
        let sheet = &book["sheets"][0];
        assert_eq!(sheet["freeze"], "A2");
        let rows = sheet["rows"].as_array().unwrap();
        let text = |r: usize, c: usize| rows[r][c]["value"].clone();
        let header: Vec<Value> = (0..13).map(|c| text(0, c)).collect();
        assert_eq!(
            header,
            [
                "Number",
                "Kind",
                "Status",
                "Client",
                "Issued",
                "Due",
                "Currency",
                "Net",
                "Tax",
                "Total",
                "Paid",
                "Credited",
                "Outstanding"
            ]
            .map(Value::from)
        );
        assert_eq!(rows.len(), 5);
        // In order of issue: September's, October's, then November's two.
        let issued: Vec<Value> = (1..5).map(|r| text(r, 4)).collect();
        assert_eq!(issued[0], "2026-09-10T00:00:00");
        assert_eq!(issued[1], "2026-10-05T00:00:00");
        assert_eq!(rows[1][4]["type"], "d");
        // Alpha's September invoice: 100.00 net, 19.00 tax, all of 119.00 outstanding.
        assert_eq!(
            [text(1, 1), text(1, 2), text(1, 3), text(1, 6)],
            ["Invoice", "Sent", "Alpha GmbH", "EUR"].map(Value::from)
        );
        assert_eq!(
            (7..13)
                .map(|c| text(1, c).as_f64().unwrap())
                .collect::<Vec<_>>(),
            [100.0, 19.0, 119.0, 0.0, 0.0, 119.0]
        );
        assert_eq!(rows[1][9]["format"], "#,##0.00");
        // Numbers as the spreadsheet holds them (openpyxl reads whole ones as integers).
        let november: Vec<(Value, Value, f64)> = (3..5)
            .map(|r| (text(r, 3), text(r, 2), text(r, 12).as_f64().unwrap()))
            .collect();
        assert!(
            november.contains(&(json!("Alpha GmbH"), json!("Paid"), 0.0)),
            "{november:?}"
        );
        // Rials have no minor unit: 5,000,000 + 19 %.
        assert!(
            november.contains(&(json!("شرکت چابک"), json!("Sent"), 5_950_000.0)),
            "{november:?}"
        );
    }

    // The payments as CSV, labelled in Persian, asked for a minute later.
    app.clock.advance(chrono::Duration::minutes(1));
    let (status, asked) = app
        .post(
            "/api/reports/exports",
            &admin,
            json!({ "register": "payments", "format": "csv", "lang": "fa", "calendar": "gregorian",
                    "from": "2026-11", "to": "2026-11" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    let id2 = asked["id"].as_str().unwrap().to_string();
    assert_eq!(finished(&app, &admin, &id2).await["rows_done"], 1);
    let (status, kind, _, bytes) = download(&app, &admin, &id2).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::OK, "text/csv; charset=utf-8")
    );
    let csv = String::from_utf8(bytes).unwrap();
    assert_eq!(
        csv,
        "\u{feff}تاریخ دریافت,مشتری,روش,شناسه,ارز,مبلغ\r\n2026-11-20,Alpha GmbH,حواله بانکی,,EUR,357.00\r\n"
    );

    // Both listed, newest first.
    let (_, list) = app.get("/api/reports/exports", &admin).await;
    let ids: Vec<&str> = list["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id2.as_str(), id.as_str()]);

    // On the pages: the invoicing report's form asks for one with the report's filters, and
    // the exports page follows it to its link, in Persian.
    let mut browser = app.browser();
    browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let report = browser
        .get("/reports/invoicing?calendar=gregorian&from=2026-10&to=2026-11&lang=fa")
        .await;
    assert!(report.has("id=\"rp-export\""), "{}", report.body);
    assert!(report.has("value=\"2026-10\""), "{}", report.body);
    app.clock.advance(chrono::Duration::minutes(1));
    let asked = browser
        .post(
            "/reports/exports",
            &[
                ("csrf", &report.csrf()),
                ("register", "invoices"),
                ("format", "csv"),
                ("calendar", "gregorian"),
                ("from", "2026-10"),
                ("to", "2026-11"),
                ("currency", "EUR"),
                ("client_id", ""),
            ],
        )
        .await;
    assert_eq!(
        (asked.status, asked.location.as_str()),
        (StatusCode::SEE_OTHER, "/reports/exports")
    );
    let (_, list) = app.get("/api/reports/exports", &admin).await;
    let newest = &list["exports"][0];
    assert_eq!(
        (&newest["currency"], &newest["from"], &newest["lang"]),
        (&json!("EUR"), &json!("2026-10"), &json!("fa"))
    );
    let id3 = newest["id"].as_str().unwrap().to_string();
    // Alpha's October and November invoices: Chabok bills in rials.
    assert_eq!(finished(&app, &admin, &id3).await["rows_done"], 2);
    let page = browser.get("/reports/exports").await;
    assert!(page.has("دفتر صورتحساب‌ها"), "{}", page.body);
    assert!(
        page.has(&format!("/reports/exports/{id3}/file")),
        "{}",
        page.body
    );
    let file = browser.get(&format!("/reports/exports/{id3}/file")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(
        file.body.starts_with("\u{feff}شماره,نوع,وضعیت,مشتری"),
        "{}",
        file.body
    );
    // Refused on the page with the reason, not an error page.
    let refused = browser
        .post(
            "/reports/exports",
            &[
                ("csrf", &page.csrf()),
                ("register", "everything"),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(refused.has("id=\"rp-error\""), "{}", refused.body);
}

async fn an_export_waits_for_its_job_and_is_its_readers_own(backend: Backend) {
    // No worker: an export stays queued.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    invoices(&app).await;
    let admin = app.admin_token().await;
    let ask = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move { app.post("/api/reports/exports", admin, body).await }
    };
    let (status, queued) = ask(json!({ "register": "invoices" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["format"], "xlsx");
    let id = queued["id"].as_str().unwrap();
    let (status, _, _, body) = download(&app, &admin, id).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Its job is in the queue, once.
    let jobs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM river_job WHERE kind = 'report_export'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(jobs, 1);

    // Refused: an unknown register or file, a period backwards, a fourth export in waiting.
    for (body, field) in [
        (json!({ "register": "tickets" }), "register"),
        (json!({ "register": "invoices", "format": "pdf" }), "format"),
        (
            json!({ "register": "invoices", "from": "1405-09", "to": "1405-01" }),
            "from",
        ),
        (
            json!({ "register": "invoices", "currency": "XYZ" }),
            "currency",
        ),
    ] {
        let (status, refused) = ask(body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {refused}"
        );
        assert!(refused.to_string().contains(field), "{body}: {refused}");
    }
    // A body that is not JSON is refused as the other JSON requests refuse it (documented).
    let raw = app
        .http
        .post(app.url("/api/reports/exports"))
        .bearer_auth(&admin)
        .body("register=invoices")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    for _ in 0..2 {
        assert_eq!(
            ask(json!({ "register": "payments" })).await.0,
            StatusCode::ACCEPTED
        );
    }
    let (status, refused) = ask(json!({ "register": "payments" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");

    // An accountant may export but does not see the admin's; a lender may not export.
    let accountant = app.v1_user(&admin, "acc", "accountant", None).await;
    let (status, _) = app
        .get(&format!("/api/reports/exports/{id}"), &accountant)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/reports/exports", &accountant).await;
    assert_eq!(list["exports"], json!([]));
    assert_eq!(
        download(&app, &accountant, id).await.0,
        StatusCode::NOT_FOUND
    );
    let lender = app.v1_user(&admin, "lend", "lender", None).await;
    let (status, _) = app
        .post(
            "/api/reports/exports",
            &lender,
            json!({ "register": "invoices" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/reports/exports", &lender).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn the_register_pages_continue_where_the_last_ended(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ids = invoices(&app).await;
    let filter = Filter {
        period: Period::parse(
            Some("gregorian"),
            Some("2026-09"),
            Some("2026-11"),
            day(2026, 12, 1),
        )
        .unwrap(),
        currency: None,
        client_id: None,
    };
    let labels = Labels::default();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let (all, end) = register::page(&mut conn, Register::Invoices, &filter, (None, 100), &labels)
        .await
        .unwrap();
    assert_eq!((all.len(), end), (4, None));
    // Two by two, through the two invoices of one day: each row once, in the same order.
    let mut paged = vec![];
    let mut after: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let (rows, next) = register::page(
            &mut conn,
            Register::Invoices,
            &filter,
            (after.as_ref(), 2),
            &labels,
        )
        .await
        .unwrap();
        pages += 1;
        paged.extend(rows);
        match next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_eq!(pages, 3, "two full pages and an empty one");
    assert_eq!(
        register::count(&mut conn, Register::Invoices, &filter)
            .await
            .unwrap(),
        4
    );
    assert_eq!(ids.len(), 4);
    // One currency, one client: the filter is the report's.
    let euros = Filter {
        currency: Some(Currency::Eur),
        ..filter.clone()
    };
    assert_eq!(
        register::count(&mut conn, Register::Invoices, &euros)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        register::count(&mut conn, Register::Payments, &euros)
            .await
            .unwrap(),
        1
    );
}

async fn old_exports_are_swept_with_their_files(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let exports_dir = dir.path().to_path_buf();
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.jobs.in_process = true;
        c.reports.exports_dir = exports_dir;
        c.reports.export_keep_days = 7;
    })
    .await
    else {
        return;
    };
    invoices(&app).await;
    let admin = app.admin_token().await;
    let (_, asked) = app
        .post(
            "/api/reports/exports",
            &admin,
            json!({ "register": "payments", "format": "csv" }),
        )
        .await;
    let id = asked["id"].as_str().unwrap().to_string();
    assert_eq!(finished(&app, &admin, &id).await["state"], "done");
    let file = exports::file_path(app.state.ctx(), &id);
    assert!(
        file.starts_with(dir.path()) && file.exists(),
        "{}",
        file.display()
    );

    // Six days on it stays; eight days on it goes, with its file.
    app.advance_days(6);
    assert_eq!(exports::sweep(app.state.ctx()).await.unwrap(), 0);
    app.advance_days(2);
    assert_eq!(exports::sweep(app.state.ctx()).await.unwrap(), 1);
    assert!(!file.exists());
    // A token of today: the first one's hour is long past.
    let admin = app.admin_token().await;
    assert_eq!(
        app.get(&format!("/api/reports/exports/{id}"), &admin)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
