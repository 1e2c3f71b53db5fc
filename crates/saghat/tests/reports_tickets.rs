//! The tickets' report on both databases, against the tickets this test takes through review
//! with the clock moved between steps: submissions by the state they are in now, approvals
//! and rejections, the time to a first response and to a decision (median, 90th percentile),
//! fraud flags by outcome (counted here from the flags the rules raised), the portfolio by
//! days past due and what was written off; who may read it; its files.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use saghat_core::auth::store::find_active_user;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::loans::{mark_default, repay};
use saghat_core::tickets::service::{approve, create_draft, move_ticket, submit, NewTicket};
use saghat_core::tickets::state::TicketState;
use saghat_test_support::files::pdf_text;
use saghat_test_support::tickets::repaying_ticket;
use saghat_test_support::{on_both_databases, Backend, TestApp, PASSWORD};

on_both_databases!(
    the_tickets_figures_match_what_happened_to_them,
    migrating_fills_each_tickets_milestones_from_its_history,
);

async fn user(app: &TestApp, id: i64) -> CurrentUser {
    find_active_user(&app.state.db, id).await.unwrap().unwrap()
}

async fn the_tickets_figures_match_what_happened_to_them(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let ctx = app.state.ctx();
    let meta = RequestMeta::default();
    // Two loans being repaid (the helper's; one defaults below), applied and decided at once.
    let kept = repaying_ticket(&app, &admin, "kaveh", "a kiln", 120).await;
    let lost = repaying_ticket(&app, &admin, "laleh", "a loom", 240).await;
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username_key = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let reviewer = user(&app, admin_id).await;
    let (status, lender) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "lena", "password": PASSWORD, "role": "lender" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lender}");
    let second = user(&app, lender["id"].as_i64().unwrap()).await;

    let apply = |name: &'static str, whole: i64| {
        let app = &app;
        let admin = &admin;
        async move {
            let (id, _) = app.member(admin, name, "0").await;
            let borrower = user(app, id).await;
            let new = NewTicket {
                amount: Amount::whole(whole),
                purpose: "tools".into(),
                term_months: 6,
                payout_address: format!("TXa1b2c3d4e5f6g7h8i9j0k{name}"),
            };
            let draft = create_draft(app.state.ctx(), &borrower, new, &RequestMeta::default())
                .await
                .unwrap();
            submit(
                app.state.ctx(),
                &borrower,
                &draft.id,
                &RequestMeta::default(),
            )
            .await
            .unwrap();
            draft.id
        }
    };
    // One taken for review after 2 hours and approved 3 hours later.
    let approved = apply("mina", 100).await;
    app.clock.advance(Duration::hours(2));
    move_ticket(
        ctx,
        &reviewer,
        &approved,
        TicketState::UnderReview,
        "",
        &meta,
    )
    .await
    .unwrap();
    app.clock.advance(Duration::hours(3));
    if approve(ctx, &reviewer, &approved, &meta)
        .await
        .unwrap()
        .state
        != TicketState::Approved
    {
        approve(ctx, &second, &approved, &meta).await.unwrap();
    }
    // One reviewed after an hour and rejected an hour later.
    let rejected = apply("nima", 50).await;
    app.clock.advance(Duration::hours(1));
    move_ticket(
        ctx,
        &reviewer,
        &rejected,
        TicketState::UnderReview,
        "",
        &meta,
    )
    .await
    .unwrap();
    app.clock.advance(Duration::hours(1));
    move_ticket(
        ctx,
        &reviewer,
        &rejected,
        TicketState::Rejected,
        "not enough history",
        &meta,
    )
    .await
    .unwrap();
    // One still waiting.
    apply("omid", 70).await;
    // Kaveh repays 30 of 120; Laleh's loan of 240 defaults.
    repay(
        ctx,
        &kept.borrower,
        &kept.ticket_id,
        Amount::whole(30),
        "first",
        &meta,
    )
    .await
    .unwrap();
    mark_default(ctx, &reviewer, &lost.ticket_id, "gone", &meta)
        .await
        .unwrap();

    let (status, report) = app
        .get("/api/reports/tickets?from=1405-09&to=1405-09", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let azar = &report["months"][0];
    assert_eq!(azar["month"], "1405-09");
    assert_eq!(azar["submitted"], 5);
    let now: Vec<(String, i64)> = azar["by_state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["state"].as_str().unwrap().to_string(),
                s["tickets"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        now,
        [
            ("approved", 1),
            ("defaulted", 1),
            ("rejected", 1),
            ("repaying", 1),
            ("submitted", 1)
        ]
        .map(|(s, n)| (s.to_string(), n))
    );
    // Three approved (the two helper loans and mina's), one rejected: 75 %.
    assert_eq!(
        [
            &azar["approved"],
            &azar["rejected"],
            &azar["approval_rate"],
            &azar["defaulted"]
        ],
        [&json!(3), &json!(1), &json!(7500), &json!(1)]
    );
    assert_eq!(report["approval_rate"], 7500);
    // First responses: 0, 0 (the helper's, at once), 60 and 120 minutes; decisions 0, 0, 120
    // and 300. Nearest rank: the median is the 2nd of 4, the 90th percentile the 4th.
    assert_eq!(
        report["first_response"],
        json!({ "tickets": 4, "median_minutes": 0, "p90_minutes": 120, "target_business_minutes": 480 })
    );
    assert_eq!(
        report["decision"],
        json!({ "tickets": 4, "median_minutes": 0, "p90_minutes": 300, "target_business_minutes": 1440 })
    );

    // Flags, counted here from what the rules raised on each ticket and where it stands.
    let raised: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT f.code, f.severity, t.state FROM ticket_flags f JOIN tickets t ON t.id = f.ticket_id",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    let mut expected: std::collections::BTreeMap<(String, String), [i64; 6]> = Default::default();
    for (code, severity, state) in &raised {
        let row = expected
            .entry((code.clone(), severity.clone()))
            .or_default();
        row[0] += 1;
        match state.as_str() {
            "approved" | "disbursed" | "repaying" | "repaid" => row[1] += 1,
            "defaulted" => {
                row[1] += 1;
                row[5] += 1;
            }
            "rejected" => row[2] += 1,
            "withdrawn" => row[3] += 1,
            _ => row[4] += 1,
        }
    }
    let flags: std::collections::BTreeMap<(String, String), [i64; 6]> = report["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let n = |k: &str| f[k].as_i64().unwrap();
            (
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["severity"].as_str().unwrap().to_string(),
                ),
                [
                    n("flagged"),
                    n("approved"),
                    n("rejected"),
                    n("withdrawn"),
                    n("pending"),
                    n("defaulted"),
                ],
            )
        })
        .collect();
    assert!(!raised.is_empty(), "the rules flag new borrowers");
    assert_eq!(flags, expected);

    // The portfolio today: kaveh's 90 still owed, current; laleh's 240 written off.
    let buckets: Vec<(Value, Value, Value)> = report["delinquency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["bucket"].clone(),
                d["loans"].clone(),
                d["outstanding"].clone(),
            )
        })
        .collect();
    assert_eq!(
        buckets[0],
        (json!("current"), json!(1), json!("90.00000000"))
    );
    assert!(buckets[1..].iter().all(|b| b.1 == 0), "{buckets:?}");
    assert_eq!(report["outstanding"], "90.00000000");
    assert_eq!(report["portfolio_at_risk_30"], 0);
    assert_eq!(
        (
            report["written_off"].as_i64(),
            report["written_off_amount"].as_str()
        ),
        (Some(1), Some("240.00000000"))
    );

    // Lenders read it; accountants and members do not.
    let lena = app.login("lena", PASSWORD).await;
    assert_eq!(
        app.get("/api/reports/tickets", &lena).await.0,
        StatusCode::OK
    );
    let accountant = app.v1_user(&admin, "acc", "accountant", None).await;
    assert_eq!(
        app.get("/api/reports/tickets", &accountant).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/reports/tickets", &kept.token).await.0,
        StatusCode::FORBIDDEN
    );

    // As files.
    let get = |query: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let r = app
                .http
                .get(app.url(&format!(
                    "/api/reports/tickets?from=1405-09&to=1405-09&{query}"
                )))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let csv = String::from_utf8(get("format=csv&table=times").await).unwrap();
    assert!(
        csv.contains("\r\nSubmission to decision,4,0.0,5.0,24.0\r\n"),
        "{csv}"
    );
    let csv = String::from_utf8(get("format=csv&table=portfolio").await).unwrap();
    assert!(csv.contains("\r\nWritten off,1,240.00000000\r\n"), "{csv}");
    if let Some(text) = pdf_text(&get("format=pdf").await) {
        for needle in [
            "Tickets report",
            "Azar 1405",
            "Approval rate (%): 75",
            "Fraud flags and their outcome",
            "Portfolio by days past due",
            "240.00",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }
}

/// Migration 0018 gives each ticket its milestones (first submission, first response, first
/// decision) from the history written before it; a ticket never answered has none.
async fn migrating_fills_each_tickets_milestones_from_its_history(backend: Backend) {
    let Some((db, _dir)) = saghat_test_support::migrated_before(backend, 18).await else {
        return;
    };
    let run = |sql: &'static str| {
        let pool = db.pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.unwrap() }
    };
    run("INSERT INTO users (username, username_key, password_hash, created_at) VALUES ('sara', 'sara', 'x', 't')").await;
    run("INSERT INTO tickets (id, borrower_id, amount, currency, purpose, term_months, payout_address, state, \
                              submitted_at, delinquency, created_at, updated_at) \
         VALUES ('t1', 1, 100, 'USDT', 'p', 12, 'T1', 'approved', '2026-11-03T09:00:00.000000Z', 'current', 't', 't'), \
                ('t2', 1, 100, 'USDT', 'p', 12, 'T2', 'submitted', '2026-11-04T09:00:00.000000Z', 'current', 't', 't')")
    .await;
    // t1: submitted, asked for more, submitted again, reviewed, approved.
    run(
        "INSERT INTO ticket_history (ticket_id, from_state, to_state, at) VALUES \
         ('t1', 'draft', 'submitted', '2026-11-01T09:00:00.000000Z'), \
         ('t1', 'submitted', 'needs_info', '2026-11-01T12:00:00.000000Z'), \
         ('t1', 'needs_info', 'submitted', '2026-11-03T09:00:00.000000Z'), \
         ('t1', 'submitted', 'under_review', '2026-11-03T10:00:00.000000Z'), \
         ('t1', 'under_review', 'approved', '2026-11-04T10:00:00.000000Z'), \
         ('t2', 'draft', 'submitted', '2026-11-04T09:00:00.000000Z')",
    )
    .await;
    db.migrate().await.unwrap();
    type Milestones = (String, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Milestones> = sqlx::query_as(
        "SELECT id, first_submitted_at, first_response_at, decided_at FROM tickets ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let at = |t: &str| Some(format!("2026-11-{t}.000000Z"));
    assert_eq!(
        rows,
        vec![
            (
                "t1".into(),
                at("01T09:00:00"),
                at("01T12:00:00"),
                at("04T10:00:00")
            ),
            ("t2".into(), at("04T09:00:00"), None, None),
        ]
    );
}
