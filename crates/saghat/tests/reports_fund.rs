//! The fund's report and a member's statement on both databases, against the payments, the
//! draw and the repayment this test makes over three Jalali months: on time (before
//! `FUND_REMINDER_DAY`, 20) and late, the books at each month's end, this month's missing
//! payer, the draw's winner and how much is repaid; who may read which; the files.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use saghat_test_support::files::pdf_text;
use saghat_test_support::{on_both_databases, Backend, TestApp};

on_both_databases!(
    the_fund_by_month_matches_its_payments_and_draw,
    statements_are_the_members_own,
);

/// Azar 1405 (the clock's 1 Azar): the admin pays 20, ali 40 and wins the draw's 30. Then 21
/// Dey: ali pays 20 and repays 25, the admin pays 20, both late; sara joins and does not pay.
/// Returns the app, the admin's token, ali's id and token.
async fn three_months(backend: Backend) -> Option<(TestApp, String, i64, String)> {
    let app = TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await?;
    let admin = app.admin_token().await;
    let (ali_id, ali) = app.member(&admin, "ali", "30").await;
    for (token, fee) in [(&admin, "20"), (&ali, "40")] {
        assert_eq!(app.pay(token, fee, None).await.0, StatusCode::CREATED);
    }
    let (status, draw) = app
        .call(Method::POST, "/api/loans/start", Some(&ali), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draw}");
    assert_eq!(draw["loan"]["user_id"], ali_id);
    // 1 Azar + 50 days = 21 Dey 1405 (11 January 2027).
    app.clock.advance(Duration::days(50));
    assert_eq!(app.pay(&ali, "20", Some("25")).await.0, StatusCode::CREATED);
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    app.member(&admin, "sara", "0").await;
    Some((app, admin, ali_id, ali))
}

fn month(report: &Value, key: &str) -> Value {
    report["months"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["month"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

async fn the_fund_by_month_matches_its_payments_and_draw(backend: Backend) {
    let Some((app, admin, _, ali)) = three_months(backend).await else {
        return;
    };
    let (status, report) = app
        .get("/api/reports/fund?from=1405-08&to=1405-10", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["this_month"], "1405-10");
    assert_eq!(report["on_time_before_day"], 20);
    let quiet = month(&report, "1405-08");
    assert_eq!(
        (quiet["payments"].as_i64(), quiet["cash"].as_str()),
        (Some(0), Some("0.00000000"))
    );
    // Azar: 60 in, 30 out to ali; both paid on the 1st, on time.
    let azar = month(&report, "1405-09");
    assert_eq!(
        [&azar["payments"], &azar["on_time"], &azar["late"]],
        [&json!(2), &json!(2), &json!(0)]
    );
    let money = |m: &Value, k: &str| m[k].as_str().unwrap().to_string();
    assert_eq!(
        [
            "fees",
            "repayments",
            "lent",
            "cash",
            "contributions",
            "outstanding"
        ]
        .map(|k| money(&azar, k)),
        [
            "60.00000000",
            "0.00000000",
            "30.00000000",
            "30.00000000",
            "60.00000000",
            "30.00000000"
        ]
    );
    // Dey: 40 in fees and 25 repaid, both on the 21st: late.
    let dey = month(&report, "1405-10");
    assert_eq!([&dey["on_time"], &dey["late"]], [&json!(0), &json!(2)]);
    assert_eq!(
        [
            "fees",
            "repayments",
            "lent",
            "cash",
            "contributions",
            "outstanding"
        ]
        .map(|k| money(&dey, k)),
        [
            "40.00000000",
            "25.00000000",
            "0.00000000",
            "95.00000000",
            "100.00000000",
            "5.00000000"
        ]
    );
    // The month-end books agree with the ledger's own figures today.
    let (_, books) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(dey["cash"], books["cash"]);
    assert_eq!(dey["contributions"], books["total_contributions"]);
    assert_eq!(dey["outstanding"], books["outstanding_loans"]);

    let unpaid: Vec<&str> = report["unpaid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(unpaid, ["sara"]);

    let draws = report["draws"].as_array().unwrap();
    assert_eq!(draws.len(), 1);
    assert_eq!(
        [
            &draws[0]["month"],
            &draws[0]["winner"],
            &draws[0]["amount"],
            &draws[0]["repaid"],
            &draws[0]["repaid_share"]
        ],
        [
            &json!("1405-09"),
            &json!("ali"),
            &json!("30.00000000"),
            &json!("25.00000000"),
            &json!(8333)
        ]
    );
    assert_eq!(
        report["loans_by_state"],
        json!([{ "state": "active", "loans": 1, "amount": "30.00000000", "repaid": "25.00000000", "repaid_share": 8333 }])
    );

    // Who reads it: admins and accountants; not members, lenders or viewers.
    let accountant = app.v1_user(&admin, "acc", "accountant", None).await;
    assert_eq!(
        app.get("/api/reports/fund", &accountant).await.0,
        StatusCode::OK
    );
    for token in [
        ali.clone(),
        app.v1_user(&admin, "lend", "lender", None).await,
        app.v1_user(&admin, "view", "viewer", None).await,
    ] {
        assert_eq!(
            app.get("/api/reports/fund", &token).await.0,
            StatusCode::FORBIDDEN
        );
    }
    let (status, body) = app
        .get("/api/reports/fund?calendar=gregorian", &admin)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "calendar"]));

    // The CSV of the months, and the PDF.
    let csv = app
        .http
        .get(app.url("/api/reports/fund?from=1405-08&to=1405-10&format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(
        text.contains("\r\nAzar 1405,2,2,0,60.00000000,0.00000000,30.00000000,30.00000000,60.00000000,30.00000000\r\n"),
        "{text}"
    );
    let pdf = app
        .http
        .get(app.url("/api/reports/fund?from=1405-08&to=1405-10&format=pdf"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let pdf = pdf.bytes().await.unwrap();
    if let Some(text) = pdf_text(&pdf) {
        for needle in [
            "Fund report",
            "Aban 1405 – Dey 1405",
            "Not paid this month (Dey 1405)",
            "sara",
            "Draws and their winners",
            "83.33",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }

    // Months are kept once read (reports::cache): sara's payment now changes Dey's payments
    // and books in the next report, and leaves Azar as it was.
    let sara = app.login("sara", saghat_test_support::PASSWORD).await;
    assert_eq!(app.pay(&sara, "20", None).await.0, StatusCode::CREATED);
    let (_, again) = app
        .get("/api/reports/fund?from=1405-08&to=1405-10", &admin)
        .await;
    let dey_now = month(&again, "1405-10");
    assert_eq!(
        [&dey_now["payments"], &dey_now["late"]],
        [&json!(3), &json!(3)]
    );
    assert_eq!(
        ["fees", "cash", "contributions"].map(|k| money(&dey_now, k)),
        ["60.00000000", "115.00000000", "120.00000000"]
    );
    assert_eq!(month(&again, "1405-09"), azar);
    assert_eq!(again["unpaid"], json!([]));
}

async fn statements_are_the_members_own(backend: Backend) {
    let Some((app, admin, ali_id, ali)) = three_months(backend).await else {
        return;
    };
    let (status, st) = app
        .get("/api/reports/statement?from=1405-08&to=1405-10", &ali)
        .await;
    assert_eq!(status, StatusCode::OK, "{st}");
    assert_eq!(
        (st["user_id"].as_i64(), st["username"].as_str()),
        (Some(ali_id), Some("ali"))
    );
    let rows: Vec<(Value, Value, Value, Value)> = st["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["fee"].clone(),
                m["repayment"].clone(),
                m["balance"].clone(),
                m["owed"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                Value::Null,
                Value::Null,
                json!("0.00000000"),
                json!("0.00000000")
            ),
            (
                json!("40.00000000"),
                Value::Null,
                json!("40.00000000"),
                json!("30.00000000")
            ),
            (
                json!("20.00000000"),
                json!("25.00000000"),
                json!("60.00000000"),
                json!("5.00000000")
            ),
        ]
    );
    assert!(st["months"][2]["paid_at"]
        .as_str()
        .unwrap()
        .starts_with("2027-01-11"));
    assert_eq!(st["loans"][0]["repaid_share"], 8333);

    // A member reads only their own; admins and accountants anyone's.
    let (_, me) = app.get("/api/auth/me", &admin).await;
    let admin_id = me["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/reports/statement?user_id={admin_id}"), &ali)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let accountant = app.v1_user(&admin, "acc", "accountant", None).await;
    let (status, theirs) = app
        .get(
            &format!("/api/reports/statement?user_id={ali_id}&from=1405-08&to=1405-10"),
            &accountant,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(theirs, st);
    let lender = app.v1_user(&admin, "lend", "lender", None).await;
    assert_eq!(
        app.get(&format!("/api/reports/statement?user_id={ali_id}"), &lender)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = app
        .get("/api/reports/statement?user_id=999999", &admin)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // As a file, in Persian.
    let pdf = app
        .http
        .get(app.url("/api/reports/statement?from=1405-08&to=1405-10&format=pdf&lang=fa"))
        .bearer_auth(&ali)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    let disposition = pdf.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        disposition,
        "attachment; filename=\"saghat-statement-ali-1405-08_1405-10.pdf\""
    );
    if let Some(text) = pdf_text(&pdf.bytes().await.unwrap()) {
        assert!(text.contains("ali") && text.contains("۸۳٫۳۳"), "{text}");
    }
}
