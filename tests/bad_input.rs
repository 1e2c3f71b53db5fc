//! Bad input never gives a 500 and never writes a row: every class of malformed or
//! out-of-range request gets its status and a `{"detail": …}` body, on SQLite and PostgreSQL.

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{Backend, TestApp, PASSWORD};

const PAY: &str = "/api/payments/pay";
const LOAN_REQUEST: &str = "/api/auth/me/loan-request";

/// An app with the admin and one member who has not paid yet.
async fn setup(backend: Backend) -> Option<(TestApp, String, String)> {
    let app = TestApp::spawn(backend).await?;
    let admin = app.admin_token().await;
    let (_, member) = app.member(&admin, "sara", "40").await;
    Some((app, admin, member))
}

/// Rows that any of these requests could have written.
async fn rows(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("payments").await,
        app.count("users").await,
        app.count("loans").await,
    )
}

/// The member's profile fields a refused request must not have changed.
async fn profile(app: &TestApp, token: &str) -> (Value, Value) {
    let (status, me) = app.get("/api/auth/me", token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    (me["balance"].clone(), me["loan_request_amount"].clone())
}

async fn patch_raw(app: &TestApp, path: &str, token: &str, body: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .patch(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

fn detail_sentence(body: &Value) -> &str {
    body["detail"]
        .as_str()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| panic!("a detail sentence: {body}"))
}

/// The 422 envelope: a non-empty list of `{type, loc, msg}`; returns the items.
fn problems(body: &Value) -> &Vec<Value> {
    let items = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of problems: {body}"));
    assert!(!items.is_empty(), "{body}");
    for item in items {
        assert!(
            item["type"].as_str().is_some_and(|t| !t.is_empty()),
            "type in {item}"
        );
        assert!(
            item["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "msg in {item}"
        );
        let loc = item["loc"]
            .as_array()
            .unwrap_or_else(|| panic!("loc in {item}"));
        assert!(loc[0] == "body" || loc[0] == "query", "{item}");
    }
    items
}

/// A 422 whose problems include one at `loc`; returns that problem.
fn problem_at(body: &Value, loc: Value) -> &Value {
    problems(body)
        .iter()
        .find(|i| i["loc"] == loc)
        .unwrap_or_else(|| panic!("no problem at {loc}: {body}"))
}

fn bitpin_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

crate::on_both_databases!(
    malformed_json_is_400,
    wrong_types_are_422_with_the_field,
    missing_fields_are_422,
    schema_errors_list_every_problem,
    unknown_fields_are_422,
    non_object_bodies_are_422,
    positional_arrays_are_not_objects,
    syntax_errors_are_400_even_after_schema_errors,
    invalid_bitpin_ids_are_422,
);

/// Each JSON endpoint with a body that is valid for it, without the closing brace.
fn valid_prefixes() -> [(&'static str, &'static str, String); 4] {
    [
        (
            "POST",
            PAY,
            r#"{"membership_fee": "20", "bitpin_payment_id": "x""#.to_string(),
        ),
        (
            "POST",
            "/api/auth/users",
            format!(r#"{{"username": "newbie", "password": "{PASSWORD}""#),
        ),
        (
            "POST",
            "/api/auth/login",
            format!(r#"{{"username": "sara", "password": "{PASSWORD}""#),
        ),
        (
            "PATCH",
            LOAN_REQUEST,
            r#"{"loan_request_amount": "5""#.to_string(),
        ),
    ]
}

/// Sends each body to each endpoint and lists the answers that are not 400 "Cannot parse".
async fn not_400s(
    app: &TestApp,
    admin: &str,
    member: &str,
    cases: Vec<(&str, &str, Vec<u8>)>,
) -> Vec<String> {
    let expected = json!({ "detail": "Cannot parse request body" });
    let mut wrong = vec![];
    for (method, path, body) in cases {
        let token = if path == "/api/auth/users" {
            admin
        } else {
            member
        };
        let shown = String::from_utf8_lossy(&body).to_string();
        let (status, answer) = if method == "PATCH" {
            patch_raw(app, path, token, &shown).await
        } else {
            app.post_raw(path, token, body).await
        };
        if (status, &answer) != (StatusCode::BAD_REQUEST, &expected) {
            wrong.push(format!("{method} {path} {shown:?}: {status} {answer}"));
        }
    }
    wrong
}

async fn malformed_json_is_400(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let mut cases = vec![];
    for (method, path, prefix) in valid_prefixes() {
        for body in [
            String::new(),
            "{".into(),
            "membership_fee=20&bitpin_payment_id=x".into(),
            "{'membership_fee': '20'}".into(),
            "{membership_fee: 20}".into(),
            prefix.clone(),
            format!("{prefix},}}"),
            format!("{prefix}}} trailing"),
            format!("{prefix}}}}}"),
            format!("{prefix} \"x\"}}"),
        ] {
            cases.push((method, path, body.into_bytes()));
        }
        // Invalid UTF-8 is not JSON either.
        cases.push((method, path, vec![b'{', 0xff, 0xfe, b'}']));
    }
    let wrong = not_400s(&app, &admin, &member, cases).await;
    assert!(
        wrong.is_empty(),
        "expected 400 Cannot parse request body:\n{}",
        wrong.join("\n")
    );
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
}

/// A body that is not JSON is a 400 even when the part before the syntax error already breaks
/// the schema (an unknown or mistyped first field).
async fn syntax_errors_are_400_even_after_schema_errors(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let mut cases = vec![];
    for (method, path, _) in valid_prefixes() {
        for body in [
            r#"{"unknown_field": 1,}"#,
            r#"{"unknown_field": 1"#,
            r#"{"unknown_field": 1} trailing"#,
        ] {
            cases.push((method, path, body.as_bytes().to_vec()));
        }
    }
    cases.push(("POST", PAY, br#"{"membership_fee": true,}"#.to_vec()));
    cases.push((
        "POST",
        PAY,
        br#"{"membership_fee": "20", "bitpin_payment_id": 5"#.to_vec(),
    ));
    cases.push((
        "POST",
        "/api/auth/users",
        br#"{"username": "newbie", "is_main": "yes""#.to_vec(),
    ));
    let wrong = not_400s(&app, &admin, &member, cases).await;
    assert!(
        wrong.is_empty(),
        "expected 400 Cannot parse request body:\n{}",
        wrong.join("\n")
    );
    assert_eq!(rows(&app).await, before, "nothing written");
}

async fn wrong_types_are_422_with_the_field(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let cases = [
        (
            json!({ "membership_fee": true, "bitpin_payment_id": bitpin_id() }),
            "membership_fee",
        ),
        (
            json!({ "membership_fee": null, "bitpin_payment_id": bitpin_id() }),
            "membership_fee",
        ),
        (
            json!({ "membership_fee": ["20"], "bitpin_payment_id": bitpin_id() }),
            "membership_fee",
        ),
        (
            json!({ "membership_fee": { "amount": "20" }, "bitpin_payment_id": bitpin_id() }),
            "membership_fee",
        ),
        (
            json!({ "membership_fee": "twenty", "bitpin_payment_id": bitpin_id() }),
            "membership_fee",
        ),
        (
            json!({ "membership_fee": "20", "bitpin_payment_id": 5 }),
            "bitpin_payment_id",
        ),
        (
            json!({ "membership_fee": "20", "bitpin_payment_id": null }),
            "bitpin_payment_id",
        ),
        (
            json!({ "membership_fee": "20", "bitpin_payment_id": bitpin_id(), "loan": "abc" }),
            "loan",
        ),
        (
            json!({ "membership_fee": "20", "bitpin_payment_id": bitpin_id(), "loan_request_amount": false }),
            "loan_request_amount",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post(PAY, &member, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        problem_at(&answer, json!(["body", field]));
    }
    let (status, answer) = app
        .post(
            PAY,
            &member,
            json!({ "membership_fee": true, "bitpin_payment_id": bitpin_id() }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer["detail"][0]["loc"],
        json!(["body", "membership_fee"])
    );

    let (status, answer) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": 42, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "username"]));
    let (status, answer) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "username": "sara", "password": 12345678 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "password"]));
    let (status, answer) = app
        .call(
            Method::PATCH,
            LOAN_REQUEST,
            Some(&member),
            Some(json!({ "loan_request_amount": [1] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "loan_request_amount"]));
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
}

async fn missing_fields_are_422(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let cases = [
        (
            PAY,
            json!({ "bitpin_payment_id": bitpin_id() }),
            "membership_fee",
        ),
        (PAY, json!({ "membership_fee": "20" }), "bitpin_payment_id"),
        (
            "/api/auth/users",
            json!({ "password": PASSWORD }),
            "username",
        ),
        (
            "/api/auth/users",
            json!({ "username": "newbie" }),
            "password",
        ),
    ];
    for (path, body, field) in cases {
        let token = if path == PAY { &member } else { &admin };
        let (status, answer) = app.post(path, token, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {answer}"
        );
        let item = problem_at(&answer, json!(["body", field]));
        assert_eq!(item["type"], "missing", "{answer}");
    }
    for body in [
        json!({}),
        json!({ "membership_fee": null, "bitpin_payment_id": null }),
    ] {
        let (status, answer) = app.post(PAY, &member, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        problems(&answer);
    }
    let (status, answer) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "username": "sara" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        problem_at(&answer, json!(["body", "password"]))["type"],
        "missing"
    );
    assert_eq!(rows(&app).await, before, "nothing written");
}

/// The contract: "one item per problem".
async fn schema_errors_list_every_problem(backend: Backend) {
    let Some((app, _admin, member)) = setup(backend).await else {
        return;
    };
    let (status, answer) = app.post(PAY, &member, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "membership_fee"]));
    problem_at(&answer, json!(["body", "bitpin_payment_id"]));
    let (status, answer) = app
        .post(
            PAY,
            &member,
            json!({ "membership_fee": true, "bitpin_payment_id": 5 }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "membership_fee"]));
    problem_at(&answer, json!(["body", "bitpin_payment_id"]));
    assert_eq!(app.count("payments").await, 0);
}

async fn unknown_fields_are_422(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let (status, answer) = app
        .post(
            PAY,
            &member,
            json!({ "membership_fee": "20", "bitpin_payment_id": bitpin_id(), "user_id": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        problem_at(&answer, json!(["body", "user_id"]))["type"],
        "extra_forbidden"
    );
    let (status, answer) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "newbie", "password": PASSWORD, "balance": "1000" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        problem_at(&answer, json!(["body", "balance"]))["type"],
        "extra_forbidden"
    );
    let (status, answer) = app
        .call(
            Method::PATCH,
            LOAN_REQUEST,
            Some(&member),
            Some(json!({ "loan_request_amount": "5", "balance": "1000" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        problem_at(&answer, json!(["body", "balance"]))["type"],
        "extra_forbidden"
    );
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
}

async fn non_object_bodies_are_422(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    for body in [
        "[]",
        "[{\"membership_fee\": \"20\", \"bitpin_payment_id\": \"x\"}]",
        "\"20\"",
        "20",
        "null",
        "true",
    ] {
        for (path, token) in [
            (PAY, &member),
            ("/api/auth/users", &admin),
            ("/api/auth/login", &member),
        ] {
            let (status, answer) = app.post_raw(path, token, body).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {body}: {answer}"
            );
            let items = problems(&answer);
            assert_eq!(items[0]["loc"][0], "body", "{answer}");
        }
        let (status, answer) = patch_raw(&app, LOAN_REQUEST, &member, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
    }
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
}

/// An array whose items would fill the fields in order is still not an object.
async fn positional_arrays_are_not_objects(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let positional = [
        (
            "POST",
            PAY,
            &member,
            r#"["25", null, null, "positional-1"]"#.to_string(),
        ),
        (
            "POST",
            "/api/auth/login",
            &member,
            format!(r#"["sara", "{PASSWORD}"]"#),
        ),
        (
            "POST",
            "/api/auth/users",
            &admin,
            format!(r#"["newbie", "{PASSWORD}", "", "", "", false, "0"]"#),
        ),
        ("PATCH", LOAN_REQUEST, &member, r#"["7"]"#.to_string()),
    ];
    let mut wrong = vec![];
    for (method, path, token, body) in positional {
        let (status, answer) = if method == "PATCH" {
            patch_raw(&app, path, token, &body).await
        } else {
            app.post_raw(path, token, body.clone()).await
        };
        let ok = status == StatusCode::UNPROCESSABLE_ENTITY && answer["detail"].is_array();
        if !ok {
            wrong.push(format!("{method} {path} {body}: {status} {answer}"));
        }
    }
    assert!(wrong.is_empty(), "expected 422:\n{}", wrong.join("\n"));
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
}

async fn invalid_bitpin_ids_are_422(backend: Backend) {
    let Some((app, _admin, member)) = setup(backend).await else {
        return;
    };
    for id in [String::new(), "   ".into(), "x".repeat(129)] {
        let (status, answer) = app
            .post(
                PAY,
                &member,
                json!({ "membership_fee": "20", "bitpin_payment_id": id }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{id:?}: {answer}");
        problem_at(&answer, json!(["body", "bitpin_payment_id"]));
    }
    assert_eq!(app.count("payments").await, 0);
    let (status, answer) = app
        .post(
            PAY,
            &member,
            json!({ "membership_fee": "20", "bitpin_payment_id": "x".repeat(128) }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "128 characters are allowed: {answer}"
    );
}

// --- amounts --------------------------------------------------------------------------------

crate::on_both_databases!(
    fee_must_be_positive_and_at_least_the_minimum,
    negative_loan_request_amount_is_422,
    amounts_too_large_are_422,
    amounts_too_precise_are_422_but_trailing_zeros_are_fine,
    amounts_as_json_numbers_are_exact,
    json_numbers_in_exponent_form_are_amounts,
    fees_too_large_to_add_up_never_give_500,
);

async fn fee_must_be_positive_and_at_least_the_minimum(backend: Backend) {
    let Some((app, _admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    for fee in [
        json!("-20"),
        json!("0"),
        json!("0.00000000"),
        json!(-5),
        json!(0),
        json!("-0.00000001"),
        json!("19.99999999"),
    ] {
        let body = json!({ "membership_fee": fee, "bitpin_payment_id": bitpin_id() });
        let (status, answer) = app.post(PAY, &member, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "fee {fee}: {answer}");
        detail_sentence(&answer);
    }
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
    let (status, answer) = app.pay(&member, "20", None).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the minimum itself is fine: {answer}"
    );
}

async fn negative_loan_request_amount_is_422(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let body = json!({ "membership_fee": "20", "bitpin_payment_id": bitpin_id(), "loan_request_amount": "-1" });
    let (status, answer) = app.post(PAY, &member, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "loan_request_amount"]));
    for amount in [json!("-1"), json!(-0.5), json!("-0.00000001")] {
        let (status, answer) = app
            .call(
                Method::PATCH,
                LOAN_REQUEST,
                Some(&member),
                Some(json!({ "loan_request_amount": amount })),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{amount}: {answer}"
        );
        problem_at(&answer, json!(["body", "loan_request_amount"]));
    }
    let body = json!({ "username": "newbie", "password": PASSWORD, "loan_request_amount": "-3" });
    let (status, answer) = app.post("/api/auth/users", &admin, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "loan_request_amount"]));
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
}

async fn amounts_too_large_are_422(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let huge = "123456789012345678901234567890";
    let too_large_for_the_currency = "99999999999.99999999"; // 10^19 units: more than an i64 holds
    for fee in [
        json!(huge),
        format!("{huge}.5").into(),
        json!(too_large_for_the_currency),
        json!(format!("-{huge}")),
    ] {
        let body = json!({ "membership_fee": fee, "bitpin_payment_id": bitpin_id() });
        let (status, answer) = app.post(PAY, &member, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fee}: {answer}");
        problem_at(&answer, json!(["body", "membership_fee"]));
    }
    // The same as JSON numbers (raw, so nothing rounds them on the way).
    for raw in [
        format!(r#"{{"membership_fee": {huge}, "bitpin_payment_id": "raw-1"}}"#),
        format!(
            r#"{{"membership_fee": "20", "loan_request_amount": {huge}, "bitpin_payment_id": "raw-2"}}"#
        ),
        format!(r#"{{"membership_fee": 1{huge}.123, "bitpin_payment_id": "raw-3"}}"#),
    ] {
        let (status, answer) = app.post_raw(PAY, &member, raw.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{raw}: {answer}");
        problems(&answer);
    }
    let (status, answer) = patch_raw(
        &app,
        LOAN_REQUEST,
        &member,
        &format!(r#"{{"loan_request_amount": {huge}}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "loan_request_amount"]));
    let body = json!({ "username": "newbie", "password": PASSWORD, "loan_request_amount": huge });
    let (status, answer) = app.post("/api/auth/users", &admin, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "loan_request_amount"]));
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );

    // The largest amount the currency holds is still exact.
    let (status, answer) = app
        .call(
            Method::PATCH,
            LOAN_REQUEST,
            Some(&member),
            Some(json!({ "loan_request_amount": "92233720368.54775807" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["loan_request_amount"], "92233720368.54775807");
}

async fn amounts_too_precise_are_422_but_trailing_zeros_are_fine(backend: Backend) {
    let Some((app, _admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    for fee in [json!("20.123456789"), json!("20.000000001")] {
        let (status, answer) = app
            .post(
                PAY,
                &member,
                json!({ "membership_fee": fee, "bitpin_payment_id": bitpin_id() }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fee}: {answer}");
        problem_at(&answer, json!(["body", "membership_fee"]));
    }
    let (status, answer) = app
        .post_raw(
            PAY,
            &member,
            r#"{"membership_fee": 20.123456789, "bitpin_payment_id": "raw"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    problem_at(&answer, json!(["body", "membership_fee"]));
    for amount in [json!("1.123456789"), json!("0.000000001")] {
        let (status, answer) = app
            .call(
                Method::PATCH,
                LOAN_REQUEST,
                Some(&member),
                Some(json!({ "loan_request_amount": amount })),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{amount}: {answer}"
        );
        problem_at(&answer, json!(["body", "loan_request_amount"]));
    }
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );

    // Zeros past the eighth place change nothing, so they are accepted.
    let (status, answer) = app
        .call(
            Method::PATCH,
            LOAN_REQUEST,
            Some(&member),
            Some(json!({ "loan_request_amount": "1.100000000" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["loan_request_amount"], "1.10000000");
    let (status, payment) = app.pay(&member, "20.100000000", None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["amount"], "20.10000000");
    assert_eq!(
        payment["membership_fee"],
        json!({ "amount": "20.10000000" })
    );
    let (status, answer) = app
        .call(
            Method::PATCH,
            LOAN_REQUEST,
            Some(&member),
            Some(json!({ "loan_request_amount": "0.00000001" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["loan_request_amount"], "0.00000001");
}

async fn amounts_as_json_numbers_are_exact(backend: Backend) {
    let Some((app, _admin, member)) = setup(backend).await else {
        return;
    };
    let (status, payment) = app
        .post_raw(PAY, &member, r#"{"membership_fee": 20.5, "bitpin_payment_id": "numbers-1", "loan_request_amount": 12345678901.12345678}"#)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["amount"], "20.50000000");
    assert_eq!(
        payment["membership_fee"],
        json!({ "amount": "20.50000000" })
    );
    let (status, me) = app.get("/api/auth/me", &member).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["balance"], "20.50000000");
    assert_eq!(
        me["loan_request_amount"], "12345678901.12345678",
        "no rounding through f64"
    );
    for (raw, expected) in [
        ("0.1", "0.10000000"),
        ("7", "7.00000000"),
        ("0.00000001", "0.00000001"),
        ("0", "0.00000000"),
    ] {
        let (status, answer) = patch_raw(
            &app,
            LOAN_REQUEST,
            &member,
            &format!(r#"{{"loan_request_amount": {raw}}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{raw}: {answer}");
        assert_eq!(answer["loan_request_amount"], expected, "{raw}");
    }
}

/// `1e-05` is how Python's `json.dumps` writes 0.00001: a JSON number like any other.
async fn json_numbers_in_exponent_form_are_amounts(backend: Backend) {
    let Some((app, _admin, member)) = setup(backend).await else {
        return;
    };
    for (raw, expected) in [
        ("1e-05", "0.00001000"),
        ("2.5e1", "25.00000000"),
        ("1E+2", "100.00000000"),
    ] {
        let (status, answer) = patch_raw(
            &app,
            LOAN_REQUEST,
            &member,
            &format!(r#"{{"loan_request_amount": {raw}}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{raw}: {answer}");
        assert_eq!(answer["loan_request_amount"], expected, "{raw}");
    }
    // Still too precise in exponent form.
    let (status, answer) = patch_raw(
        &app,
        LOAN_REQUEST,
        &member,
        r#"{"loan_request_amount": 1e-9}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

/// Each fee fits the currency, but their sum does not: the service must refuse, not crash.
async fn fees_too_large_to_add_up_never_give_500(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let (_, other) = app.member(&admin, "omid", "40").await;
    let fee = "90000000000";
    let mut server_errors = vec![];
    let mut trace = vec![];
    let mut check = |what: &str, status: StatusCode, answer: &Value| {
        trace.push(format!("{what}: {status}"));
        if status.is_server_error() {
            server_errors.push(format!("{what}: {status} {answer}"));
        }
    };
    let (status, answer) = app.pay(&member, fee, None).await;
    check("sara pays", status, &answer);
    let (status, answer) = app.pay(&other, fee, None).await;
    check("omid pays", status, &answer);
    let (status, answer) = app.pay(&admin, "20", None).await;
    check("admin pays", status, &answer);
    let (status, answer) = app.post("/api/loans/start", &admin, json!({})).await;
    check("the draw", status, &answer);
    app.advance_days(31);
    let member = app.login("sara", PASSWORD).await;
    let admin = app.admin_token().await;
    let (status, answer) = app.pay(&member, fee, None).await;
    check("sara pays a second month", status, &answer);
    let (status, answer) = app.get("/api/auth/me", &member).await;
    check("sara's profile", status, &answer);
    let (status, answer) = app.get("/api/payments/my-payments", &member).await;
    check("sara's payments", status, &answer);
    let (status, answer) = app.get("/api/auth/users", &admin).await;
    check("the member list", status, &answer);
    assert!(
        server_errors.is_empty(),
        "server errors:\n{}\nall steps: {:?}",
        server_errors.join("\n"),
        trace
    );
}

// --- size, routing, ids, queries ------------------------------------------------------------

crate::on_both_databases!(
    huge_bodies_are_413,
    bad_loan_ids_are_404,
    wrong_method_is_405,
    unknown_paths_are_404,
    bad_query_params_are_422,
);

/// Sends an oversized body on a connection of its own: the server answers before reading the
/// whole body and then closes the connection, which must not be reused for other requests.
async fn send_oversized(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: String,
) -> (StatusCode, Value) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn huge_bodies_are_413(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    let filler = "x".repeat(200 * 1024);
    let cases = [
        (
            Method::POST,
            PAY,
            &member,
            format!(r#"{{"membership_fee": "20", "bitpin_payment_id": "{filler}"}}"#),
        ),
        (
            Method::POST,
            "/api/auth/users",
            &admin,
            format!(
                r#"{{"username": "newbie", "password": "{PASSWORD}", "first_name": "{filler}"}}"#
            ),
        ),
        (
            Method::POST,
            "/api/auth/login",
            &member,
            format!(r#"{{"username": "sara", "password": "{filler}"}}"#),
        ),
        (
            Method::PATCH,
            LOAN_REQUEST,
            &member,
            format!(r#"{{"loan_request_amount": "1{}"}}"#, "0".repeat(100_000)),
        ),
    ];
    for (method, path, token, body) in cases {
        let (status, answer) = send_oversized(&app, method.clone(), path, token, body).await;
        assert_eq!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {path}: {answer}"
        );
        detail_sentence(&answer);
    }
    assert_eq!(rows(&app).await, before, "nothing written");
    assert_eq!(
        profile(&app, &member).await,
        (json!("0.00000000"), json!("40.00000000"))
    );
    // Just under the limit, the body is read and judged on its content.
    let padded = format!(
        r#"{{"membership_fee": "20", "bitpin_payment_id": "{}"}}"#,
        "x".repeat(60 * 1024)
    );
    let (status, answer) = app.post_raw(PAY, &member, padded).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an id of 60 KiB is too long, not too large: {answer}"
    );
    problem_at(&answer, json!(["body", "bitpin_payment_id"]));
    assert_eq!(rows(&app).await, before, "nothing written");
}

async fn bad_loan_ids_are_404(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let not_found = json!({ "detail": "Loan not found" });
    let unknown = uuid::Uuid::new_v4().to_string();
    let unknown_upper = uuid::Uuid::new_v4().to_string().to_uppercase();
    for id in [
        "not-a-uuid",
        "123",
        "00000000-0000-0000-0000-00000000000g",
        "%20",
        "'%20OR%201=1--",
        &unknown,
        &unknown_upper,
    ] {
        for token in [&admin, &member] {
            let (status, answer) = app.get(&format!("/api/loans/{id}"), token).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {answer}");
            assert_eq!(answer, not_found, "{id}");
        }
    }
}

async fn wrong_method_is_405(backend: Backend) {
    let Some((app, admin, member)) = setup(backend).await else {
        return;
    };
    let before = rows(&app).await;
    for (method, path, token) in [
        (Method::DELETE, PAY, &member),
        (Method::GET, PAY, &member),
        (Method::PUT, PAY, &member),
        (Method::DELETE, "/api/auth/users", &admin),
        (Method::GET, "/api/auth/login", &member),
        (Method::POST, "/api/auth/me", &member),
        (Method::POST, LOAN_REQUEST, &member),
    ] {
        let (status, answer) = app.call(method.clone(), path, Some(token), None).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {answer}"
        );
        detail_sentence(&answer);
    }
    let (status, answer) = app
        .call(
            Method::DELETE,
            PAY,
            Some(&member),
            Some(json!({ "membership_fee": "20", "bitpin_payment_id": bitpin_id() })),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
    assert_eq!(rows(&app).await, before, "nothing written");
}

async fn unknown_paths_are_404(backend: Backend) {
    let Some((app, _admin, member)) = setup(backend).await else {
        return;
    };
    for path in [
        "/api/nothing-here",
        "/api/payments/pay/extra",
        "/api/auth",
        "/nope",
    ] {
        let (status, answer) = app.get(path, &member).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
        detail_sentence(&answer);
        let (status, answer) = app.call(Method::GET, path, None, None).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{path} without a token: {answer}"
        );
        detail_sentence(&answer);
    }
    let (status, answer) = app
        .post(
            "/api/payments/pay-now",
            &member,
            json!({ "membership_fee": "20" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    detail_sentence(&answer);
}

async fn bad_query_params_are_422(backend: Backend) {
    let Some((app, admin, _member)) = setup(backend).await else {
        return;
    };
    let (status, answer) = app
        .get("/api/loans/history?jalali_year_gt=abc", &admin)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let items = problems(&answer);
    assert_eq!(items.len(), 1, "{answer}");
    assert_eq!(items[0]["loc"], json!(["query", "jalali_year_gt"]));
    let (status, answer) = app.get("/api/loans/history?jalali_month_lt=1.5&jalali_year_lt=&jalali_month_gt=99999999999999999999", &admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let mut locs: Vec<String> = problems(&answer)
        .iter()
        .map(|i| i["loc"][1].as_str().unwrap().to_string())
        .collect();
    locs.sort();
    assert_eq!(
        locs,
        ["jalali_month_gt", "jalali_month_lt", "jalali_year_lt"],
        "one item per bad parameter: {answer}"
    );
    for query in [
        "",
        "?jalali_year_gt=1400",
        "?jalali_year_gt=1400&jalali_month_lt=12",
        "?unrelated=x",
    ] {
        let (status, answer) = app.get(&format!("/api/loans/history{query}"), &admin).await;
        assert_eq!(status, StatusCode::OK, "{query}: {answer}");
        assert!(answer.is_array(), "{answer}");
    }
}
