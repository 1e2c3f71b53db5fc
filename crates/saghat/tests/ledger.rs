//! The ledger through HTTP, on SQLite and PostgreSQL: postings under payments and draws, the
//! wallet API, idempotency keys, the audit log, roles, and the verifier.

use saghat_test_support as common;

use chrono::Duration;
use common::{Backend, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use saghat_core::ledger::verify::verify;
use serde_json::{json, Value};

common::on_both_databases!(
    payments_and_draws_post_balanced_transactions,
    statements_filter_and_export_csv,
    members_see_only_their_own_books,
    accountants_read_the_books_but_are_not_fund_members,
    the_same_idempotency_key_never_pays_twice,
    concurrent_retries_with_one_key_make_one_payment,
    a_draw_with_an_idempotency_key_runs_once,
    the_ledger_and_the_audit_log_are_append_only,
    verify_finds_a_broken_ledger,
    the_audit_log_records_critical_actions,
);

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await
}

async fn pay_with_key(app: &TestApp, token: &str, key: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/api/payments/pay"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn amounts(entries: &Value, field: &str) -> Vec<String> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[field].as_str().unwrap().to_string())
        .collect()
}

async fn payments_and_draws_post_balanced_transactions(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (ali_id, ali) = app.member(&admin, "ali", "30").await;
    for (token, fee) in [(&admin, "20"), (&ali, "40")] {
        assert_eq!(app.pay(token, fee, None).await.0, StatusCode::CREATED);
    }
    let (_, fund) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(fund["cash"], "60.00000000");
    assert_eq!(fund["total_contributions"], "60.00000000");
    assert_eq!(fund["outstanding_loans"], "0.00000000");

    let (status, draw) = app
        .call(Method::POST, "/api/loans/start", Some(&ali), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draw}");
    assert_eq!(draw["loan"]["user_id"], ali_id);
    let loan_id = draw["loan"]["id"].as_str().unwrap();
    let (_, fund) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(fund["cash"], "30.00000000", "the loan left the fund's cash");
    assert_eq!(fund["outstanding_loans"], "30.00000000");

    // The disbursement is one balanced transaction, identified by the loan.
    let (status, tx) = app
        .get(&format!("/api/wallet/transactions/{loan_id}"), &ali)
        .await;
    assert_eq!(status, StatusCode::OK, "{tx}");
    assert_eq!(tx["kind"], "loan_disbursement");
    assert_eq!(tx["loan_id"], loan_id);
    assert_eq!(
        amounts(&tx["entries"], "debit"),
        vec!["30.00000000", "0.00000000"]
    );
    assert_eq!(
        amounts(&tx["entries"], "credit"),
        vec!["0.00000000", "30.00000000"]
    );

    // Next month ali repays 25: one transaction with three entries.
    app.clock.advance(Duration::days(31));
    let (status, payment) = app.pay(&ali, "20", Some("25")).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let (_, tx) = app
        .get(
            &format!(
                "/api/wallet/transactions/{}",
                payment["id"].as_str().unwrap()
            ),
            &ali,
        )
        .await;
    assert_eq!(tx["kind"], "payment");
    let codes: Vec<&str> = tx["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![
            "fund:cash:USDT",
            &format!("member:{ali_id}:contributions:USDT"),
            &format!("member:{ali_id}:loan_receivable:USDT")
        ]
    );
    let (_, wallet) = app.get("/api/wallet/me", &ali).await;
    assert_eq!(
        wallet["balances"],
        json!({ "currency": "USDT", "contributions": "60.00000000", "loan_outstanding": "5.00000000" })
    );
    let (_, me) = app.get("/api/auth/me", &ali).await;
    assert_eq!(
        me["balance"], "60.00000000",
        "the profile's balance is the ledger's"
    );
    let (_, loan) = app.get(&format!("/api/loans/{loan_id}"), &ali).await;
    assert_eq!(
        loan["remaining_balance"],
        wallet["balances"]["loan_outstanding"]
    );

    let report = verify(&app.state.db).await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(report.checks.len() >= 6);
}

async fn statements_filter_and_export_csv(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    app.pay(&sara, "20", None).await; // 1405/9
    app.clock.advance(Duration::days(31));
    app.pay(&sara, "21.5", None).await; // 1405/10
    let (_, all) = app.get("/api/wallet/me", &sara).await;
    assert_eq!(all["statement"]["total"], 2);
    assert_eq!(
        amounts(&all["statement"]["items"], "credit"),
        vec!["20.00000000", "21.50000000"]
    );
    let (_, azar) = app
        .get("/api/wallet/me?jalali_year=1405&jalali_month=10", &sara)
        .await;
    assert_eq!(
        amounts(&azar["statement"]["items"], "credit"),
        vec!["21.50000000"]
    );
    let (_, page) = app.get("/api/wallet/me?limit=1&offset=1", &sara).await;
    assert_eq!(
        (
            page["statement"]["total"].as_i64(),
            page["statement"]["items"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    let (_, later) = app.get("/api/wallet/me?from=2026-12-01", &sara).await;
    assert_eq!(later["statement"]["total"], 1);
    let (_, none) = app
        .get("/api/wallet/me?to=2026-11-22T00:00:00Z", &sara)
        .await;
    assert_eq!(none["statement"]["total"], 0);
    let (status, bad) = app
        .get(
            "/api/wallet/me?jalali_month=13&from=yesterday&limit=0",
            &sara,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = bad["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["loc"][1].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["from", "jalali_month", "limit"]);

    let response = app
        .http
        .get(app.url("/api/wallet/me?format=csv"))
        .bearer_auth(&sara)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("entry_id,transaction_id,kind,account,debit,credit"));
    assert!(
        lines[2].contains(",0.00000000,21.50000000,USDT,"),
        "{}",
        lines[2]
    );
    assert!(lines[2].contains(",1405,10,"), "{}", lines[2]);
}

async fn members_see_only_their_own_books(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (ali_id, ali) = app.member(&admin, "ali", "0").await;
    let (_, bita) = app.member(&admin, "bita", "0").await;
    let (_, payment) = app.pay(&ali, "20", None).await;

    let (_, mine) = app.get("/api/wallet/accounts", &bita).await;
    assert_eq!(mine["total"], 2, "a member has two accounts");
    assert!(mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["user_id"] != ali_id));
    let (_, everything) = app.get("/api/wallet/accounts", &admin).await;
    assert_eq!(
        everything["total"],
        2 + 2 * 3,
        "fund cash and clearing, two per user"
    );
    let alis = everything["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == format!("member:{ali_id}:contributions:USDT"))
        .unwrap();
    assert_eq!(alis["balance"], "20.00000000");
    let path = format!("/api/wallet/accounts/{}/entries", alis["id"]);
    assert_eq!(app.get(&path, &bita).await.0, StatusCode::FORBIDDEN);
    let (status, entries) = app.get(&path, &ali).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entries["total"], 1);
    assert_eq!(app.get(&path, &admin).await.0, StatusCode::OK);
    assert_eq!(
        app.get("/api/wallet/accounts/999999/entries", &admin)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/wallet/accounts/abc/entries", &admin).await.0,
        StatusCode::NOT_FOUND
    );

    let tx_path = format!(
        "/api/wallet/transactions/{}",
        payment["id"].as_str().unwrap()
    );
    assert_eq!(app.get(&tx_path, &bita).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&tx_path, &ali).await.0, StatusCode::OK);
    assert_eq!(
        app.get("/api/wallet/transactions/nope", &admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/wallet/fund", &bita).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::GET, "/api/wallet/me", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn accountants_read_the_books_but_are_not_fund_members(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let body = json!({ "username": "hesab", "password": PASSWORD, "role": "accountant" });
    let (status, user) = app.post("/api/auth/users", &admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(
        (user["role"].as_str(), user["is_main"].as_bool()),
        (Some("accountant"), Some(false))
    );
    let accountant = app.login("hesab", PASSWORD).await;
    assert_eq!(
        app.get("/api/wallet/fund", &accountant).await.0,
        StatusCode::OK
    );
    let (_, accounts) = app.get("/api/wallet/accounts", &accountant).await;
    assert_eq!(accounts["total"], 2 + 2 * 2);
    let (status, body) = app.pay(&accountant, "20", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        app.get("/api/auth/users", &accountant).await.0,
        StatusCode::FORBIDDEN,
        "not an admin"
    );
    assert_eq!(
        app.get("/api/audit", &accountant).await.0,
        StatusCode::FORBIDDEN
    );
    // The draw does not wait for the accountant to pay.
    app.pay(&admin, "20", None).await;
    assert_eq!(
        app.call(Method::POST, "/api/loans/start", Some(&admin), None)
            .await
            .0,
        StatusCode::CREATED
    );

    let contradiction =
        json!({ "username": "both", "password": PASSWORD, "role": "member", "is_main": true });
    assert_eq!(
        app.post("/api/auth/users", &admin, contradiction).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let unknown = json!({ "username": "who", "password": PASSWORD, "role": "king" });
    assert_eq!(
        app.post("/api/auth/users", &admin, unknown).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn the_same_idempotency_key_never_pays_twice(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, ali) = app.member(&admin, "ali", "0").await;
    let (_, bita) = app.member(&admin, "bita", "0").await;
    let body = json!({ "membership_fee": "20", "bitpin_payment_id": "bp-ali-1" });
    let first = pay_with_key(&app, &ali, "key-1", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = pay_with_key(&app, &ali, "key-1", body.clone()).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.count("journal_transactions").await, 1);

    let different = json!({ "membership_fee": "21", "bitpin_payment_id": "bp-ali-1" });
    let response = pay_with_key(&app, &ali, "key-1", different).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail: Value = response.json().await.unwrap();
    assert_eq!(
        detail["detail"][0]["loc"],
        json!(["header", "Idempotency-Key"])
    );

    // Keys are per user: bita's key-1 is her own.
    let hers = pay_with_key(
        &app,
        &bita,
        "key-1",
        json!({ "membership_fee": "20", "bitpin_payment_id": "bp-bita-1" }),
    )
    .await;
    assert_eq!(hers.status(), StatusCode::CREATED);
    assert_eq!(app.count("payments").await, 2);

    // Keys expire after 24 hours; a malformed key is refused.
    app.clock.advance(Duration::days(31));
    let next_month = json!({ "membership_fee": "20", "bitpin_payment_id": "bp-ali-2" });
    let reused = pay_with_key(&app, &ali, "key-1", next_month).await;
    assert_eq!(reused.status(), StatusCode::CREATED);
    assert!(reused.headers().get("idempotent-replayed").is_none());
    let bad = pay_with_key(
        &app,
        &ali,
        "",
        json!({ "membership_fee": "20", "bitpin_payment_id": "x" }),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

async fn concurrent_retries_with_one_key_make_one_payment(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "racer", "0").await;
    let body = json!({ "membership_fee": "20", "bitpin_payment_id": "bp-race" });
    let responses = futures::future::join_all(
        (0..10).map(|_| pay_with_key(&app, &token, "race-key", body.clone())),
    )
    .await;
    let mut ids = std::collections::BTreeSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.insert(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(ids.len(), 1, "every retry got the one payment: {ids:?}");
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.count("journal_transactions").await, 1);
}

async fn a_draw_with_an_idempotency_key_runs_once(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, ali) = app.member(&admin, "ali", "20").await;
    app.pay(&admin, "20", None).await;
    app.pay(&ali, "20", None).await;
    let draw = || {
        app.http
            .post(app.url("/api/loans/start"))
            .bearer_auth(&ali)
            .header("Idempotency-Key", "draw-1")
            .send()
    };
    let first = draw().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = draw().await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(
        second.json::<Value>().await.unwrap()["loan"]["id"],
        first["loan"]["id"]
    );
    // Without the key the month's draw is a conflict, as always.
    assert_eq!(
        app.call(Method::POST, "/api/loans/start", Some(&ali), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(app.count("loans").await, 1);
}

async fn the_ledger_and_the_audit_log_are_append_only(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.pay(&admin, "20", None).await;
    for statement in [
        "UPDATE journal_entries SET credit = credit + 1",
        "DELETE FROM journal_entries",
        "UPDATE journal_transactions SET memo = 'edited'",
        "DELETE FROM journal_transactions",
        "UPDATE audit_log SET action = 'nothing'",
        "DELETE FROM audit_log",
    ] {
        let result = sqlx::query(statement).execute(&app.state.db.pool).await;
        let message = result.expect_err(statement).to_string();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
    if backend == Backend::Postgres {
        // PostgreSQL also refuses to commit a transaction whose entries do not balance.
        let mut tx = app.state.db.pool.begin().await.unwrap();
        sqlx::query("INSERT INTO journal_transactions (id, kind, memo, jalali_year, jalali_month, created_at) VALUES ('t-bad', 'reversal', '', 1405, 9, 'x')")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency) SELECT 't-bad', id, 5, 0, 'USDT' FROM ledger_accounts WHERE kind = 'fund_cash'")
            .execute(&mut *tx)
            .await
            .unwrap();
        let refused = tx
            .commit()
            .await
            .expect_err("an unbalanced transaction cannot commit")
            .to_string();
        assert!(refused.contains("does not balance"), "{refused}");
    }
    assert_eq!(app.count("journal_entries").await, 2);
    assert!(verify(&app.state.db).await.unwrap().is_ok());
}

async fn verify_finds_a_broken_ledger(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.pay(&admin, "20", None).await;
    assert!(verify(&app.state.db).await.unwrap().is_ok());
    // Forge what the guards forbid, as a bug or a hand edit could: an unbalanced, one-entry
    // transaction, and a payment with no posting.
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    if backend == Backend::Postgres {
        sqlx::query("SET session_replication_role = replica")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO journal_transactions (id, kind, memo, jalali_year, jalali_month, created_at) VALUES ('forged', 'reversal', '', 1405, 9, 'x')")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency) SELECT 'forged', id, 700000000, 0, 'USDT' FROM ledger_accounts WHERE kind = 'fund_cash'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, amount, bitpin_payment_id, created_at) VALUES ('ghost', $1, 1405, 8, 100000000, 100000000, 'ghost', 'x')")
        .bind(admin_id)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let report = verify(&app.state.db).await.unwrap();
    assert!(!report.is_ok());
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.violations.is_empty())
        .map(|c| c.name)
        .collect();
    assert_eq!(
        failed,
        vec![
            "every journal transaction balances in each currency",
            "every journal transaction has at least two entries",
            "every payment is posted once with its amounts",
            "member balances and the fund's cash equal fees + repayments − loans paid out − refunds",
        ],
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("transaction forged"), "{text}");
    assert!(
        text.contains("payment ghost is not in the ledger"),
        "{text}"
    );
}

async fn the_audit_log_records_critical_actions(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (ali_id, ali) = app.member(&admin, "ali", "20").await;
    app.call(
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({ "username": "ali", "password": "wrong-password" })),
    )
    .await;
    app.call(
        Method::PATCH,
        "/api/auth/me/loan-request",
        Some(&ali),
        Some(json!({ "loan_request_amount": "10" })),
    )
    .await;
    app.pay(&admin, "20", None).await;
    app.pay(&ali, "20", None).await;
    app.call(Method::POST, "/api/loans/start", Some(&ali), None)
        .await;

    let (status, log) = app.get("/api/audit", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // The first admin, created at start-up, comes first.
    assert_eq!(
        actions,
        vec![
            "draw",
            "payment",
            // The month's first payment published its draw commitment.
            "payment",
            "draw_commitment",
            "user_changed",
            "login_failed",
            "user_created",
            "user_created"
        ]
    );
    assert_eq!(log["items"][7]["details"]["source"], "first start");
    let created = &log["items"][6];
    assert_eq!(created["target"], format!("user:{ali_id}"));
    assert_eq!(created["client_ip"], "127.0.0.1");
    assert!(!created["request_id"].as_str().unwrap().is_empty());
    assert!(!created["at"].as_str().unwrap().is_empty());

    let (_, payments) = app
        .get(
            &format!("/api/audit?action=payment&actor_user_id={ali_id}"),
            &admin,
        )
        .await;
    assert_eq!(payments["total"], 1);
    assert_eq!(payments["items"][0]["details"]["amount"], "20.00000000");
    let (_, paged) = app.get("/api/audit?limit=2&offset=1", &admin).await;
    assert_eq!(
        (
            paged["total"].as_i64(),
            paged["items"].as_array().unwrap().len()
        ),
        (Some(8), 2)
    );
    let (_, future) = app.get("/api/audit?since=2027-01-01", &admin).await;
    assert_eq!(future["total"], 0);
    assert_eq!(app.get("/api/audit", &ali).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/audit?limit=9999", &admin).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
