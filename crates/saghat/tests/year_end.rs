//! Closing a Jalali year on both databases: only once it is over and only on books that
//! verify; its cash carried from opening to closing by kind of movement, from the ledger; the
//! year-end report as PDF and XLSX in either language; who may close and read it.

use serde_json::json;

use saghat_test_support::files::{pdf_text, xlsx_contents};
use saghat_test_support::{on_both_databases, Backend, TestApp, PASSWORD};

on_both_databases!(
    a_year_closes_once_over_with_its_report,
    books_that_do_not_verify_cannot_close_a_year,
);

/// With `SAGHAT_TEST_KEEP_FILES=<dir>`, keeps a file this test made there, to look at.
fn keep(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("SAGHAT_TEST_KEEP_FILES") {
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
    }
}

async fn a_year_closes_once_over_with_its_report(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Azar 1405: three members pay 20 + 40 + 30, sara borrows 20.
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "20").await;
    app.member(&admin, "omid", "0").await;
    let sara = app.login("sara", PASSWORD).await;
    let omid = app.login("omid", PASSWORD).await;
    assert_eq!(app.pay(&admin, "20", None).await.0, 201);
    assert_eq!(app.pay(&sara, "40", None).await.0, 201);
    assert_eq!(app.pay(&omid, "30", None).await.0, 201);
    assert_eq!(app.post("/api/loans/start", &admin, json!({})).await.0, 201);
    assert_eq!(
        app.post("/api/fund/years/1405/close", &admin, json!({}))
            .await
            .0,
        409,
        "1405 is not over"
    );

    // Farvardin 1406 (125 days on): the year can close.
    app.advance_days(125);
    assert_eq!(app.state.current_month().year, 1406);
    let admin = app.admin_token().await;
    let sara = app.login("sara", PASSWORD).await;
    assert_eq!(
        app.post("/api/fund/years/1405/close", &sara, json!({}))
            .await
            .0,
        403
    );
    let (status, closed) = app
        .post("/api/fund/years/1405/close", &admin, json!({}))
        .await;
    assert_eq!(status, 201, "{closed}");
    let f = &closed["figures"];
    assert_eq!(f["opening_cash"], "0.00000000");
    assert_eq!(f["cash_in"], "90.00000000");
    assert_eq!(f["cash_out"], "20.00000000");
    assert_eq!(f["closing_cash"], "70.00000000");
    assert_eq!(f["contributions"], "90.00000000");
    assert_eq!(f["loans_outstanding"], "20.00000000");
    assert_eq!(f["members_paying"], 3);
    assert_eq!(f["members_left"], 0);
    let kinds: Vec<(&str, &str, &str)> = f["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap(),
                m["cash_in"].as_str().unwrap(),
                m["cash_out"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("loan_disbursement", "0.00000000", "20.00000000"),
            ("payment", "90.00000000", "0.00000000")
        ]
    );
    assert!(closed["ledger_checks"].as_i64().unwrap() >= 10);
    assert!(
        closed["ledger_report"]
            .as_str()
            .unwrap()
            .contains("0 failed"),
        "{closed}"
    );
    let (_, fund) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(fund["cash"], f["closing_cash"], "nothing moved since");
    // Once; the next year is not over.
    assert_eq!(
        app.post("/api/fund/years/1405/close", &admin, json!({}))
            .await
            .0,
        409
    );
    assert_eq!(
        app.post("/api/fund/years/1406/close", &admin, json!({}))
            .await
            .0,
        409
    );
    for absurd in ["0", "-3", "10000", "9223372036854775807"] {
        let path = format!("/api/fund/years/{absurd}/close");
        let (status, body) = app.post(&path, &admin, json!({})).await;
        assert_eq!(status, 400, "{absurd}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("not a Jalali year"), "{detail}");
    }
    let (_, audit) = app.get("/api/audit?action=year_closed", &admin).await;
    let entries = audit["items"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .clone();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["details"]["closing_cash"], "70.00000000");

    // Read back; 1406's opening is 1405's closing.
    let (status, listed) = app.get("/api/fund/years", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["jalali_year"], 1405);
    assert_eq!(app.get("/api/fund/years/1404", &admin).await.0, 404);
    assert_eq!(app.get("/api/fund/years", &sara).await.0, 403);
    assert_eq!(app.get("/api/fund/years/1405/report", &sara).await.0, 403);

    // The report: PDF by default, in English and Persian; XLSX with the year's sheets.
    let (status, kind, name, pdf) = app.get_file("/api/fund/years/1405/report", &admin).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert!(kind.starts_with("application/pdf"), "{kind}");
    assert!(name.contains("saghat-year-end-1405"), "{name}");
    keep("year-end-1405-en.pdf", &pdf);
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Year-end report 1405"), "{text}");
        assert!(text.contains("Cash at the end of the year"), "{text}");
        assert!(text.contains("70.00"), "{text}");
        assert!(text.contains("Every check holds"), "{text}");
    }
    let (status, _, _, pdf) = app
        .get_file("/api/fund/years/1405/report?lang=fa", &admin)
        .await;
    assert_eq!(status, 200);
    keep("year-end-1405-fa.pdf", &pdf);
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("گزارش پایان سال"), "{text}");
        assert!(text.contains("۱۴۰۵"), "{text}");
    }
    let (status, kind, _, xlsx) = app
        .get_file("/api/fund/years/1405/report?format=xlsx", &admin)
        .await;
    assert_eq!(status, 200);
    assert!(kind.contains("spreadsheetml"), "{kind}");
    if let Some(book) = xlsx_contents(&xlsx) {
        let text = book.to_string();
        let sheets: Vec<&str> = book["sheets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            sheets,
            [
                "The fund by month",
                "Draws and their winners",
                "Loans by state",
                "The fund's cash across the year",
                "The books at closing"
            ],
            "this month's unpaid list is not the year's"
        );
        assert!(text.contains("Cash at the end of the year"), "{book}");
    }
    assert_eq!(
        app.get("/api/fund/years/1405/report?format=csv", &admin)
            .await
            .0,
        422
    );
}

async fn books_that_do_not_verify_cannot_close_a_year(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    assert_eq!(app.pay(&admin, "20", None).await.0, 201);
    app.advance_days(125);
    let admin = app.admin_token().await;
    // A payment with no posting, as a bug or a hand edit could leave.
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, amount, bitpin_payment_id, created_at) VALUES ('ghost', $1, 1405, 8, 100000000, 100000000, 'ghost', 'x')")
        .bind(admin_id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (status, body) = app
        .post("/api/fund/years/1405/close", &admin, json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("do not verify"), "{detail}");
    assert!(detail.contains("every payment is posted once"), "{detail}");
    assert_eq!(app.count("fund_year_closings").await, 0);
}
