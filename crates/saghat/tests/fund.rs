//! The fund through HTTP: payments, draws, loans, repayments, on SQLite and PostgreSQL.

use saghat_test_support as common;

use chrono::Duration;
use chrono_tz::Tz;
use common::{Backend, TestApp};
use reqwest::{Method, StatusCode};
use saghat_core::platform::jalali::JalaliMonth;
use serde_json::{json, Value};

common::on_both_databases!(
    member_pays_and_sees_the_payment,
    config_is_served_with_full_scale,
    draw_waits_for_every_member_and_happens_once,
    loans_are_visible_to_their_owner_and_main_users_only,
    a_request_above_the_funds_cash_cannot_win,
    four_months_of_a_real_fund,
    twenty_simultaneous_payments_make_one,
    five_simultaneous_draws_make_one,
    amounts_round_trip_exactly,
    an_accountant_cannot_start_the_draw,
    the_draw_log_gives_a_code_for_each_exclusion,
    one_bitpin_payment_is_claimed_once_however_its_id_is_written,
    existing_payments_get_their_bitpin_key_when_migrating,
);

/// These tests move through months: access tokens live for a year so the members stay signed in.
async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await
}

/// Moves the app's clock to noon on the first day of the next Jalali month.
fn next_month(app: &TestApp) -> JalaliMonth {
    let month = JalaliMonth::containing(app.clock_now(), Tz::UTC).next();
    app.clock
        .set(month.starts_at(Tz::UTC) + Duration::hours(12));
    month
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use saghat_core::platform::clock::Clock;
        self.clock.now()
    }
}

async fn start_draw(app: &TestApp, token: &str) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/loans/start", Some(token), None)
        .await
}

async fn member_pays_and_sees_the_payment(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, token) = app.member(&admin, "sara", "40").await;
    let (status, payment) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["user_id"], id);
    assert_eq!(payment["amount"], "20.00000000");
    assert_eq!(payment["jalali_year"], 1405);
    assert_eq!(payment["jalali_month"], 9);
    assert_eq!(
        payment["membership_fee"],
        json!({ "amount": "20.00000000" })
    );
    assert_eq!(payment["loan_payment"], Value::Null);
    assert!(uuid::Uuid::parse_str(payment["id"].as_str().unwrap()).is_ok());

    let (status, again) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again["detail"], "Payment already submitted for 1405/9");

    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["balance"], "20.00000000");
    let (status, mine) = app.get("/api/payments/my-payments", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["id"], payment["id"]);

    // Rule 2: below the minimum fee; rule 3: no loan to repay.
    next_month(&app);
    let (status, body) = app.pay(&token, "19.99999999", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Membership fee 19.99999999 is less than minimum required 20.00000000"
    );
    let (status, body) = app.pay(&token, "20", Some("5")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A Bitpin payment id is claimed once only, even across months and members.
    let (_, other) = app.member(&admin, "omid", "0").await;
    let reused = json!({ "membership_fee": "20", "bitpin_payment_id": "bp-1" });
    assert_eq!(
        app.post("/api/payments/pay", &token, reused.clone())
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body) = app.post("/api/payments/pay", &other, reused).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["detail"],
        "This Bitpin payment id has already been used"
    );

    // Newest month first, and the payment can carry a new loan request.
    next_month(&app);
    let body =
        json!({ "membership_fee": 25.5, "bitpin_payment_id": "bp-2", "loan_request_amount": "55" });
    let (status, payment) = app.post("/api/payments/pay", &token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["amount"], "25.50000000");
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["loan_request_amount"], "55.00000000");
    assert_eq!(me["balance"], "65.50000000");
    let (_, mine) = app.get("/api/payments/my-payments", &token).await;
    let months: Vec<i64> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["jalali_month"].as_i64().unwrap())
        .collect();
    assert_eq!(months, vec![11, 10, 9]);
}

async fn config_is_served_with_full_scale(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (status, config) = app.get("/api/payments/config", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        config,
        json!({ "min_membership_fee": "20.00000000", "max_month_for_loan_payment": 24, "min_amount_for_loan_payment": "20.00000000" })
    );
    let (status, _) = app
        .call(Method::GET, "/api/payments/config", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn draw_waits_for_every_member_and_happens_once(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, ali) = app.member(&admin, "ali", "20").await;
    let (_, bita) = app.member(&admin, "bita", "20").await;
    app.pay(&ali, "20", None).await;

    let (status, body) = start_draw(&app, &ali).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Not all users have paid for 1405/9. Unpaid: admin, bita"
    );
    assert_eq!(app.count("loans").await, 0);

    app.pay(&bita, "20", None).await;
    app.pay(&admin, "20", None).await;
    let (status, body) = start_draw(&app, &bita).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let loan = &body["loan"];
    assert_eq!(loan["state"], "active");
    assert_eq!(loan["amount"], "20.00000000");
    assert_eq!(loan["min_amount_for_each_payment"], "20.00000000");
    assert_eq!(loan["total_paid"], "0.00000000");
    assert_eq!(loan["remaining_balance"], "20.00000000");
    assert_eq!(
        (loan["jalali_year"].as_i64(), loan["jalali_month"].as_i64()),
        (Some(1405), Some(9))
    );
    let log = &loan["log"];
    let pool: Vec<i64> = log["random_pool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(pool.len(), 2, "{log}");
    assert!(pool.contains(&loan["user_id"].as_i64().unwrap()));
    assert_eq!(log["selected"], loan["user_id"]);
    assert_eq!(log["participated"].as_array().unwrap().len(), 2);
    assert!(log["participated"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["point"] == "unlimited"));
    assert_eq!(
        log["not_participated"][0],
        json!({ "user_id": log["not_participated"][0]["user_id"], "username": "admin", "reason": "loan_request_amount is 0", "code": "no_request" })
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains(loan["username"].as_str().unwrap()));

    let (status, body) = start_draw(&app, &ali).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["detail"], "Loan assignment already done for 1405/9");
    assert_eq!(app.count("loans").await, 1);
}

async fn loans_are_visible_to_their_owner_and_main_users_only(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (ali_id, ali) = app.member(&admin, "ali", "20").await;
    let (_, bita) = app.member(&admin, "bita", "0").await;
    for token in [&admin, &ali, &bita] {
        app.pay(token, "20", None).await;
    }
    let (_, body) = start_draw(&app, &ali).await;
    let loan_id = body["loan"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["loan"]["user_id"], ali_id);
    let path = format!("/api/loans/{loan_id}");
    assert_eq!(app.get(&path, &ali).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, &admin).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, &bita).await.0, StatusCode::FORBIDDEN);
    let (_, mine) = app.get("/api/loans/my-history", &ali).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let (_, theirs) = app.get("/api/loans/my-history", &bita).await;
    assert_eq!(theirs, json!([]));

    // A month where nobody wins: the `no_one` loan is for main users only.
    next_month(&app);
    app.call(
        Method::PATCH,
        "/api/auth/me/loan-request",
        Some(&ali),
        Some(json!({ "loan_request_amount": "0" })),
    )
    .await;
    app.pay(&admin, "20", None).await;
    app.pay(&bita, "20", None).await;
    app.pay(&ali, "20", Some("20")).await;
    let (status, body) = start_draw(&app, &bita).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let loan = &body["loan"];
    assert_eq!(loan["state"], "no_one");
    assert_eq!(loan["user_id"], Value::Null);
    assert_eq!(loan["amount"], Value::Null);
    assert_eq!(loan["log"]["selected"], Value::Null);
    let path = format!("/api/loans/{}", loan["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &bita).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&path, &admin).await.0, StatusCode::OK);
    assert_eq!(
        app.get("/api/loans/history", &bita).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn a_request_above_the_funds_cash_cannot_win(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    // Main members may ask for more than their balance, but not for more than the fund holds.
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/auth/me/loan-request",
            Some(&admin),
            Some(json!({ "loan_request_amount": "1000" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.pay(&admin, "20", None).await;
    let (status, body) = start_draw(&app, &admin).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["loan"]["state"], "no_one");
    assert_eq!(body["loan"]["log"]["participated"][0]["username"], "admin");
    let note = body["loan"]["log"]["note"].as_str().unwrap();
    assert!(
        note.contains("20.00000000") && note.contains("admin"),
        "{note}"
    );
}

/// Four Jalali months and more of one fund, with every rule checked on the way.
async fn four_months_of_a_real_fund(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (ali_id, ali) = app.member(&admin, "ali", "20").await;
    let (sara_id, sara) = app.member(&admin, "sara", "20").await;
    let (_, reza) = app.member(&admin, "reza", "0").await;
    let token_of = |id: i64| {
        if id == ali_id {
            ali.clone()
        } else {
            sara.clone()
        }
    };

    // Month 1 (1405/9): everyone pays 20; ali and sara are both new, so both score unlimited.
    for token in [&admin, &ali, &sara, &reza] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, body) = start_draw(&app, &reza).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let first = body["loan"].clone();
    let winner = first["user_id"].as_i64().unwrap();
    let other = if winner == ali_id { sara_id } else { ali_id };
    let (winner_token, other_token) = (token_of(winner), token_of(other));

    // Month 2 (1405/10): the winner must repay at least 20; repaying it all settles the loan.
    assert_eq!(
        next_month(&app),
        JalaliMonth {
            year: 1405,
            month: 10
        }
    );
    let (status, body) = app.pay(&winner_token, "20", None).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "repayment is required: {body}"
    );
    let (status, body) = app.pay(&winner_token, "20", Some("10")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Loan payment 10.00000000 is less than minimum required 20.00000000"
    );
    let (status, body) = app.pay(&winner_token, "20", Some("20.00000001")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, payment) = app.pay(&winner_token, "20", Some("20")).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["amount"], "40.00000000");
    assert_eq!(payment["loan_payment"]["loan_id"], first["id"]);
    assert_eq!(payment["loan_payment"]["amount"], "20.00000000");
    let (_, settled) = app
        .get(
            &format!("/api/loans/{}", first["id"].as_str().unwrap()),
            &winner_token,
        )
        .await;
    assert_eq!(settled["state"], "settled");
    assert_eq!(settled["total_paid"], "20.00000000");
    assert_eq!(settled["remaining_balance"], "0.00000000");
    assert_eq!(settled["payments"][0]["jalali_month"], 10);
    let (_, me) = app.get("/api/auth/me", &winner_token).await;
    assert_eq!(me["has_active_loan"], false);
    assert_eq!(
        me["balance"], "40.00000000",
        "repayments are not contributions"
    );
    for token in [&admin, &other_token, &reza] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    // The settled borrower takes part again, with a finite score; the other still scores unlimited.
    let (status, body) = start_draw(&app, &admin).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let second = body["loan"].clone();
    assert_eq!(second["user_id"], other);
    let points: Vec<(i64, String)> = second["log"]["participated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["user_id"].as_i64().unwrap(),
                p["point"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let winner_point = &points.iter().find(|(id, _)| *id == winner).unwrap().1;
    // ln(20) × ln(40) × 1 / (40 × 1 × ln(20) × 1 × ln(20)) = ln(40) / (40 × ln(20)) = 0.03078...
    let expected = 40f64.ln() / (40.0 * 20f64.ln());
    assert_eq!(winner_point, &format!("{expected:.8}"));
    assert_eq!(second["log"]["random_pool"], json!([other]));

    // Month 3 (1405/11): the other repays in one go; the first winner asks for 40 (a second
    // loan) through the payment itself; the other opts out.
    assert_eq!(
        next_month(&app),
        JalaliMonth {
            year: 1405,
            month: 11
        }
    );
    assert_eq!(
        app.pay(&other_token, "20", Some("20")).await.0,
        StatusCode::CREATED
    );
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/auth/me/loan-request",
            Some(&other_token),
            Some(json!({ "loan_request_amount": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = json!({ "membership_fee": "20", "bitpin_payment_id": "m3-winner", "loan_request_amount": "40" });
    assert_eq!(
        app.post("/api/payments/pay", &winner_token, body).await.0,
        StatusCode::CREATED
    );
    for token in [&admin, &reza] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, body) = start_draw(&app, &winner_token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let third = body["loan"].clone();
    assert_eq!(
        third["user_id"], winner,
        "the only participant wins a second loan"
    );
    assert_eq!(third["amount"], "40.00000000");

    // Month 4 (1405/12): the borrower repays half; nobody else wants a loan: `no_one`.
    assert_eq!(
        next_month(&app),
        JalaliMonth {
            year: 1405,
            month: 12
        }
    );
    assert_eq!(
        app.pay(&winner_token, "20", Some("20")).await.0,
        StatusCode::CREATED
    );
    for token in [&admin, &other_token, &reza] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, body) = start_draw(&app, &admin).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["loan"]["state"], "no_one");
    let reasons: Vec<&str> = body["loan"]["log"]["not_participated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"has an active loan"), "{reasons:?}");

    // Month 5 (1406/1, a new Jalali year): more than what is owed is refused; the rest settles it.
    assert_eq!(
        next_month(&app),
        JalaliMonth {
            year: 1406,
            month: 1
        }
    );
    let (status, body) = app.pay(&winner_token, "20", Some("25")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Loan repayment 25.00000000 exceeds the loan's remaining balance 20.00000000"
    );
    let (status, payment) = app.pay(&winner_token, "20", Some("20")).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["jalali_year"], 1406);
    let (_, loans) = app.get("/api/loans/my-history", &winner_token).await;
    let states: Vec<(&str, &str)> = loans
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["state"].as_str().unwrap(), l["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![("settled", "40.00000000"), ("settled", "20.00000000")]
    );
    let repayments = &loans[0]["payments"];
    assert_eq!(repayments.as_array().unwrap().len(), 2);
    assert_eq!(
        (
            repayments[0]["jalali_month"].as_i64(),
            repayments[1]["jalali_month"].as_i64()
        ),
        (Some(12), Some(1))
    );

    // History for main users, newest first, with the original's filters.
    let (_, history) = app.get("/api/loans/history", &admin).await;
    let months: Vec<(i64, i64)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["jalali_year"].as_i64().unwrap(),
                l["jalali_month"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(months, vec![(1405, 12), (1405, 11), (1405, 10), (1405, 9)]);
    let (_, filtered) = app
        .get(
            "/api/loans/history?jalali_month_gt=9&jalali_month_lt=12",
            &admin,
        )
        .await;
    assert_eq!(filtered.as_array().unwrap().len(), 2);
    let (_, none) = app
        .get("/api/loans/history?jalali_year_gt=1405", &admin)
        .await;
    assert_eq!(none, json!([]));
    let (_, by_year) = app
        .get(
            "/api/loans/history?jalali_year_lt=1406&jalali_year_gt=1404",
            &admin,
        )
        .await;
    assert_eq!(by_year.as_array().unwrap().len(), 4);
}

async fn twenty_simultaneous_payments_make_one(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, token) = app.member(&admin, "racer", "0").await;
    let attempts = (0..20).map(|_| app.pay(&token, "20", None));
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 19), "{results:?}");
    assert_eq!(app.count("payments").await, 1);
}

async fn five_simultaneous_draws_make_one(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let mut tokens = vec![admin.clone()];
    for name in ["member1", "member2", "member3", "member4"] {
        tokens.push(app.member(&admin, name, "20").await.1);
    }
    for token in &tokens {
        app.pay(token, "20", None).await;
    }
    let draws = tokens.iter().map(|t| start_draw(&app, t));
    let results = futures::future::join_all(draws).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 4), "{results:?}");
    assert_eq!(app.count("loans").await, 1);
}

async fn amounts_round_trip_exactly(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, token) = app.member(&admin, "whale", "12345678901.12345678").await;
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["loan_request_amount"], "12345678901.12345678");
    let stored: i64 = sqlx::query_scalar("SELECT loan_request_amount FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1_234_567_890_112_345_678);
    // As a JSON number too, without a trip through f64.
    let (status, me) = app
        .call(
            Method::PATCH,
            "/api/auth/me/loan-request",
            Some(&token),
            Some(serde_json::from_str(r#"{"loan_request_amount": 12345678901.12345679}"#).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["loan_request_amount"], "12345678901.12345679");
}

/// An accountant reads the books but is not a member of the fund: the draw is not theirs to
/// start (nor do they hold it up: they pay no fees).
async fn an_accountant_cannot_start_the_draw(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, ali) = app.member(&admin, "ali", "20").await;
    let (status, body) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "books", "password": common::PASSWORD, "role": "accountant" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let accountant = app.login("books", common::PASSWORD).await;
    for token in [&admin, &ali] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }

    let (status, body) = start_draw(&app, &accountant).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["detail"], "Only fund members may start the draw");
    assert_eq!(app.count("loans").await, 0);
    assert_eq!(
        app.count("journal_transactions").await,
        2,
        "only the two payments"
    );

    let (status, body) = start_draw(&app, &ali).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Each member left out of a draw is listed with the reason (naming the original's field) and a
/// stable code the web pages and clients translate.
async fn the_draw_log_gives_a_code_for_each_exclusion(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (ali_id, ali) = app.member(&admin, "ali", "40").await;
    let (bita_id, bita) = app.member(&admin, "bita", "1000").await;
    let admin_id = 1;
    // Month 1: ali pays 40 so that a loan of 40 fits their balance; bita asks for more than hers.
    assert_eq!(app.pay(&ali, "40", None).await.0, StatusCode::CREATED);
    for token in [&admin, &bita] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, body) = start_draw(&app, &ali).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["loan"]["user_id"], ali_id, "{body}");
    assert_eq!(
        body["loan"]["log"]["not_participated"],
        json!([
            { "user_id": admin_id, "username": "admin", "reason": "loan_request_amount is 0", "code": "no_request" },
            { "user_id": bita_id, "username": "bita", "reason": "loan_request_amount exceeds balance", "code": "request_above_balance" },
        ])
    );

    // Month 2: ali repays half and still owes the rest.
    next_month(&app);
    assert_eq!(app.pay(&ali, "20", Some("20")).await.0, StatusCode::CREATED);
    for token in [&admin, &bita] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, body) = start_draw(&app, &bita).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let excluded = &body["loan"]["log"]["not_participated"];
    assert!(
        excluded.as_array().unwrap().contains(&json!(
            { "user_id": ali_id, "username": "ali", "reason": "has an active loan", "code": "active_loan" }
        )),
        "{excluded}"
    );
    // The stored log says the same when read back.
    let (_, history) = app.get("/api/loans/history", &admin).await;
    assert_eq!(&history[0]["log"]["not_participated"], excluded);
}

/// Without Bitpin there is no gateway answer: the id given is normalised (trimmed, case-folded,
/// a numeric id without its leading zeros) and that form is claimed once.
async fn one_bitpin_payment_is_claimed_once_however_its_id_is_written(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    let pay = |token: String, id: &str| {
        let body = json!({ "membership_fee": "20", "bitpin_payment_id": id });
        let app = &app;
        async move { app.post("/api/payments/pay", &token, body).await }
    };
    let (status, payment) = pay(sara.clone(), "4242").await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let (status, payment) = pay(omid.clone(), "SHARED-ID").await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["bitpin_payment_id"], "SHARED-ID");

    next_month(&app);
    for (token, id) in [
        (&sara, "04242"),
        (&omid, "0004242"),
        (&sara, " 4242 "),
        (&omid, "shared-id"),
        (&sara, "Shared-Id"),
        (&admin, "  SHARED-ID"),
    ] {
        let (status, body) = pay(token.clone(), id).await;
        assert_eq!(status, StatusCode::CONFLICT, "{id:?}: {body}");
        assert_eq!(
            body["detail"],
            "This Bitpin payment id has already been used"
        );
    }
    assert_eq!(app.count("payments").await, 2);
    // Ids that only look alike are other payments.
    let (status, body) = pay(sara.clone(), "42420").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = pay(omid.clone(), "shared-id-2").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Migration 0004 gives every payment recorded before it its key; of earlier claims of one
/// payment under several spellings (possible until then) the first keeps the key, so nobody
/// can claim it again, and no payment is changed or lost.
async fn existing_payments_get_their_bitpin_key_when_migrating(backend: Backend) {
    let Some((db, _dir)) = common::migrated_before(backend, 4).await else {
        return;
    };
    sqlx::query(
        "INSERT INTO users (username, username_key, password_hash, created_at) VALUES ('sara', 'sara', 'x', 't')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let claims = [
        ("p1", 1, "4242", "2026-01-01T00:00:00Z"),
        ("p2", 2, "04242", "2026-02-01T00:00:00Z"),
        ("p3", 3, "SHARED-ID", "2026-03-01T00:00:00Z"),
        ("p4", 4, "shared-id", "2026-04-01T00:00:00Z"),
        ("p5", 5, "Other", "2026-05-01T00:00:00Z"),
        ("p6", 6, "000", "2026-06-01T00:00:00Z"),
    ];
    for (id, month, bitpin, at) in claims {
        sqlx::query(
            "INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, amount, bitpin_payment_id, created_at) \
             VALUES ($1, 1, 1405, $2, 2000000000, 2000000000, $3, $4)",
        )
        .bind(id)
        .bind(month as i64)
        .bind(bitpin)
        .bind(at)
        .execute(&db.pool)
        .await
        .unwrap();
    }

    db.migrate().await.unwrap();
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, bitpin_payment_id, bitpin_payment_key FROM payments ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let key = |k: &str| Some(k.to_string());
    assert_eq!(
        rows,
        vec![
            ("p1".into(), "4242".into(), key("4242")),
            ("p2".into(), "04242".into(), None),
            ("p3".into(), "SHARED-ID".into(), key("shared-id")),
            ("p4".into(), "shared-id".into(), None),
            ("p5".into(), "Other".into(), key("other")),
            ("p6".into(), "000".into(), key("0")),
        ]
    );
    // The keys are the server's own normalisation, and the index refuses a new claim.
    for (_, _, stored) in rows.iter().filter(|r| r.2.is_some()) {
        let stored = stored.as_deref().unwrap();
        assert_eq!(saghat_core::gateways::normalise_payment_id(stored), stored);
    }
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(saghat_core::fund::store::bitpin_id_used(&mut conn, "4242")
        .await
        .unwrap());
    let again = sqlx::query(
        "INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, amount, bitpin_payment_id, bitpin_payment_key, created_at) \
         VALUES ('p7', 1, 1405, 7, 2000000000, 2000000000, 'x', 'shared-id', 't')",
    )
    .execute(&mut *conn)
    .await;
    assert!(saghat_core::platform::db::is_unique_violation(
        &again.unwrap_err()
    ));
}
