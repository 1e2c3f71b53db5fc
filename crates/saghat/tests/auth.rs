//! Accounts and sign-in through HTTP: login, tokens, roles, members, rate limits, on SQLite and
//! PostgreSQL.

use saghat_test_support as common;

use reqwest::header::RETRY_AFTER;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{Backend, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};

// --- helpers --------------------------------------------------------------------------------

fn unauthorized() -> Value {
    json!({ "detail": "Unauthorized" })
}

fn invalid_credentials() -> Value {
    json!({ "detail": "Invalid username or password" })
}

/// Logs in and returns the whole response: status, `Retry-After` and JSON body.
async fn login_raw(
    app: &TestApp,
    username: &str,
    password: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, retry_after, body)
}

async fn login_body(app: &TestApp, username: &str, password: &str) -> (StatusCode, Value) {
    let (status, _, body) = login_raw(app, username, password).await;
    (status, body)
}

/// GET with an arbitrary `Authorization` header (or none).
async fn get_with_header(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app.http.get(app.url(path));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn refresh(app: &TestApp, refresh_token: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/api/auth/refresh",
        None,
        Some(json!({ "refresh_token": refresh_token })),
    )
    .await
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

/// Deactivates a user the way an admin does: `PATCH /api/auth/users/{id}`.
async fn deactivate(app: &TestApp, id: i64) {
    let admin = app.admin_token().await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/auth/users/{id}"),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn create_user(app: &TestApp, admin: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/auth/users", admin, body).await
}

/// The claims of an access token, checked against the test secret (expiry not checked: the
/// app's clock is not the system's).
fn claims(app: &TestApp, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["sub", "exp"]);
    let key =
        jsonwebtoken::DecodingKey::from_secret(app.state.config.jwt_secret_key.expose().as_bytes());
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("signed with the app's key")
        .claims
}

fn sign(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn assert_validation_error(body: &Value, field: &str) {
    let items = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of problems: {body}"));
    assert!(!items.is_empty(), "{body}");
    let item = items
        .iter()
        .find(|i| i["loc"] == json!(["body", field]))
        .unwrap_or_else(|| panic!("no problem for {field}: {body}"));
    assert!(
        item["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        item["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    for item in items {
        assert_eq!(item["loc"][0], "body", "{body}");
    }
}

// --- login ----------------------------------------------------------------------------------

common::on_both_databases!(
    login_returns_tokens_and_the_user,
    login_refuses_wrong_password_and_unknown_user,
    usernames_are_case_insensitive,
);

async fn login_returns_tokens_and_the_user(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin_id = body["user_id"].as_i64().expect("user_id is an integer");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["username"], ADMIN);
    assert_eq!(body["is_main"], true);
    assert_eq!(body["expires_in"], 3600);
    let refresh_token = body["refresh_token"].as_str().expect("refresh_token");
    assert!(refresh_token.len() >= 32, "{refresh_token}");
    let access = body["access_token"].as_str().expect("access_token");
    let claims = claims(&app, access);
    assert_eq!(
        claims["sub"],
        admin_id.to_string(),
        "sub is the user id as a string"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        common::default_now().timestamp() + 3600
    );
    let (status, me) = app.get("/api/auth/me", access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], admin_id);

    let admin = access.to_string();
    let (member_id, _) = app.member(&admin, "sara", "40").await;
    let (status, body) = login_body(&app, "sara", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], member_id);
    assert_eq!(body["username"], "sara");
    assert_eq!(body["is_main"], false);
    assert_eq!(body["token_type"], "bearer");
    assert_ne!(body["refresh_token"], refresh_token);
    // Each login starts its own session.
    let (_, again) = login_body(&app, "sara", PASSWORD).await;
    assert_ne!(again["refresh_token"], body["refresh_token"]);
}

async fn login_refuses_wrong_password_and_unknown_user(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "40").await;
    for (username, password) in [
        ("sara", "wrong-password"),
        ("sara", ""),
        ("sara", &format!("{PASSWORD} ")),
        ("nobody", PASSWORD),
        (ADMIN, PASSWORD),
    ] {
        let (status, body) = login_body(&app, username, password).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{username}/{password}: {body}"
        );
        assert_eq!(body, invalid_credentials(), "{username}/{password}");
    }
    assert_eq!(audit_count(&app, "login_failed").await, 5);
    // Below the lockout limit: the right password still works.
    let (status, _) = login_body(&app, "sara", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

async fn usernames_are_case_insensitive(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, _) = app.member(&admin, "Sam", "0").await;
    for spelling in ["sam", "SAM", "Sam", "sAm"] {
        let (status, body) = login_body(&app, spelling, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {body}");
        assert_eq!(body["user_id"], id);
        assert_eq!(
            body["username"], "Sam",
            "the username keeps the letter case it was created with"
        );
    }
    let users = app.count("users").await;
    for taken in ["sam", "SAM", "Sam"] {
        let (status, body) = create_user(
            &app,
            &admin,
            json!({ "username": taken, "password": PASSWORD }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{taken}: {body}");
        assert_eq!(body, json!({ "detail": "Username already exists" }));
    }
    let (status, body) = create_user(
        &app,
        &admin,
        json!({ "username": "Admin", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["detail"], "Username already exists");
    assert_eq!(app.count("users").await, users, "no account was created");
}

// --- the profile ----------------------------------------------------------------------------

common::on_both_databases!(me_returns_the_profile, created_users_get_defaults);

async fn me_returns_the_profile(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (status, created) = create_user(
        &app,
        &admin,
        json!({
            "username": "Leila.K", "password": PASSWORD, "first_name": "Leila", "last_name": "Karimi",
            "email": "leila@example.com", "loan_request_amount": "150.5",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("integer id");
    let expected = json!({
        "id": id, "username": "Leila.K", "first_name": "Leila", "last_name": "Karimi",
        "email": "leila@example.com", "is_main": false, "balance": "0.00000000",
        "loan_request_amount": "150.50000000", "has_active_loan": false,
    });
    let expected = expected.as_object().unwrap();
    for (key, value) in expected {
        assert_eq!(&created[key], value, "created user: {key}");
    }
    let token = app.login("leila.k", PASSWORD).await;
    let (status, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    for (key, value) in expected {
        assert_eq!(&me[key], value, "/me: {key}");
    }
    // The balance is the fees paid.
    let (status, payment) = app.pay(&token, "25.5", None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["balance"], "25.50000000");
    let (_, admin_me) = app.get("/api/auth/me", &admin).await;
    assert_eq!(admin_me["username"], ADMIN);
    assert_eq!(admin_me["is_main"], true);
    assert_eq!(admin_me["balance"], "0.00000000");
}

async fn created_users_get_defaults(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (status, created) = create_user(
        &app,
        &admin,
        json!({ "username": "omid", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["id"].is_i64(), "{created}");
    assert_eq!(created["username"], "omid");
    assert_eq!(created["first_name"], "");
    assert_eq!(created["last_name"], "");
    assert_eq!(created["email"], "");
    assert_eq!(created["is_main"], false);
    assert_eq!(created["balance"], "0.00000000");
    assert_eq!(created["loan_request_amount"], "0.00000000");
    assert_eq!(created["has_active_loan"], false);
    assert!(
        created.get("password").is_none() && created.get("password_hash").is_none(),
        "{created}"
    );
}

// --- tokens ---------------------------------------------------------------------------------

common::on_both_databases!(
    bad_tokens_are_unauthorized,
    expired_tokens_are_unauthorized,
    deactivated_users_are_unauthorized
);

async fn bad_tokens_are_unauthorized(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (member_id, member) = app.member(&admin, "sara", "40").await;
    let admin_id = claims(&app, &admin)["sub"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let now = common::default_now().timestamp();

    let mut parts: Vec<String> = member.split('.').map(str::to_string).collect();
    assert_eq!(parts.len(), 3);
    // The member's signature on a payload that claims to be the admin.
    parts[1] = b64url(
        json!({ "sub": admin_id.to_string(), "iat": now, "exp": now + 3600 })
            .to_string()
            .as_bytes(),
    );
    let forged_payload = parts.join(".");
    // A flipped character in the signature.
    let mut bad_signature = member.clone();
    let last = bad_signature.pop().unwrap();
    bad_signature.push(if last == 'A' { 'B' } else { 'A' });
    let wrong_secret = sign(
        "not-the-secret",
        &json!({ "sub": member_id.to_string(), "iat": now, "exp": now + 3600 }),
    );
    let unsigned = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(
            json!({ "sub": admin_id.to_string(), "iat": now, "exp": now + 3600 })
                .to_string()
                .as_bytes()
        )
    );
    let secret = app.state.config.jwt_secret_key.expose().to_string();
    let unknown_user = sign(
        &secret,
        &json!({ "sub": "987654", "iat": now, "exp": now + 3600 }),
    );
    let non_numeric_sub = sign(
        &secret,
        &json!({ "sub": "admin", "iat": now, "exp": now + 3600 }),
    );
    let no_exp = sign(
        &secret,
        &json!({ "sub": member_id.to_string(), "iat": now }),
    );

    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some("Bearer not-a-jwt".into())),
        ("token without scheme", Some(member.clone())),
        ("basic scheme", Some(format!("Basic {member}"))),
        ("forged payload", Some(format!("Bearer {forged_payload}"))),
        ("bad signature", Some(format!("Bearer {bad_signature}"))),
        ("wrong secret", Some(format!("Bearer {wrong_secret}"))),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        ("unknown user", Some(format!("Bearer {unknown_user}"))),
        ("non-numeric sub", Some(format!("Bearer {non_numeric_sub}"))),
        ("no exp", Some(format!("Bearer {no_exp}"))),
        (
            "refresh token as bearer",
            Some(format!(
                "Bearer {}",
                login_body(&app, "sara", PASSWORD).await.1["refresh_token"]
                    .as_str()
                    .unwrap()
            )),
        ),
    ];
    for (what, header) in &cases {
        for path in [
            "/api/auth/me",
            "/api/payments/my-payments",
            "/api/auth/users",
        ] {
            let (status, body) = get_with_header(&app, path, header.as_deref()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} on {path}: {body}");
            assert_eq!(body, unauthorized(), "{what} on {path}");
        }
    }
    // The real token still works, and a well-signed token for the same user too.
    let (status, _) =
        get_with_header(&app, "/api/auth/me", Some(&format!("Bearer {member}"))).await;
    assert_eq!(status, StatusCode::OK);
    let resigned = sign(
        &secret,
        &json!({ "sub": member_id.to_string(), "iat": now, "exp": now + 3600 }),
    );
    let (status, me) =
        get_with_header(&app, "/api/auth/me", Some(&format!("Bearer {resigned}"))).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], member_id);

    // A write without a valid token is refused before the body is looked at, and writes nothing.
    let payments = app.count("payments").await;
    let body = json!({ "membership_fee": "20", "bitpin_payment_id": "no-token" });
    let (status, answer) = app
        .call(Method::POST, "/api/payments/pay", None, Some(body.clone()))
        .await;
    assert_eq!((status, answer), (StatusCode::UNAUTHORIZED, unauthorized()));
    let (status, answer) = app.post("/api/payments/pay", &forged_payload, body).await;
    assert_eq!((status, answer), (StatusCode::UNAUTHORIZED, unauthorized()));
    let (status, answer) = app
        .call(Method::POST, "/api/payments/pay", None, Some(json!({})))
        .await;
    assert_eq!((status, answer), (StatusCode::UNAUTHORIZED, unauthorized()));
    assert_eq!(app.count("payments").await, payments);
}

async fn expired_tokens_are_unauthorized(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, member) = app.member(&admin, "sara", "40").await;
    app.clock.advance(chrono::Duration::minutes(59));
    let (status, body) = app.get("/api/auth/me", &member).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "still valid after 59 minutes: {body}"
    );
    app.clock.advance(chrono::Duration::minutes(2));
    for (who, token) in [("member", &member), ("admin", &admin)] {
        let (status, body) = app.get("/api/auth/me", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}: {body}");
        assert_eq!(body, unauthorized());
    }
    let (status, body) = app.get("/api/auth/users", &admin).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    // A fresh login works at the new time.
    let member = app.login("sara", PASSWORD).await;
    let (status, _) = app.get("/api/auth/me", &member).await;
    assert_eq!(status, StatusCode::OK);
    app.advance_days(1);
    let (status, body) = app.get("/api/auth/me", &member).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
}

async fn deactivated_users_are_unauthorized(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, token) = app.member(&admin, "sara", "40").await;
    let (_, login) = login_body(&app, "sara", PASSWORD).await;
    let refresh_token = login["refresh_token"].as_str().unwrap().to_string();
    let (status, _) = app.get("/api/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK);

    deactivate(&app, id).await;
    for path in [
        "/api/auth/me",
        "/api/payments/my-payments",
        "/api/loans/my-history",
    ] {
        let (status, body) = app.get(path, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body, unauthorized(), "{path}");
    }
    let payments = app.count("payments").await;
    let (status, body) = app.pay(&token, "20", None).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    assert_eq!(app.count("payments").await, payments);
    let (status, body) = login_body(&app, "sara", PASSWORD).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, invalid_credentials())
    );
    let (status, body) = refresh(&app, &refresh_token).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    // The deactivated member is no longer a member of the fund's lists either way: the admin
    // is unaffected.
    let (status, _) = app.get("/api/auth/me", &admin).await;
    assert_eq!(status, StatusCode::OK);
}

// --- roles ----------------------------------------------------------------------------------

common::on_both_databases!(
    members_get_403_on_main_only_endpoints,
    users_are_listed_by_username,
    main_users_created_through_the_api_can_administer,
);

async fn members_get_403_on_main_only_endpoints(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, member) = app.member(&admin, "sara", "40").await;
    let users = app.count("users").await;
    let (status, body) = create_user(
        &app,
        &member,
        json!({ "username": "intruder", "password": PASSWORD, "is_main": true }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert_eq!(app.count("users").await, users, "nothing written");
    for path in [
        "/api/auth/users",
        "/api/loans/history",
        "/api/loans/history?jalali_year_gt=1400",
    ] {
        let (status, body) = app.get(path, &member).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{path}: {body}"
        );
    }
    // The member's own endpoints work.
    let (status, _) = app.get("/api/auth/me", &member).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/loans/my-history", &member).await;
    assert_eq!(status, StatusCode::OK);
    // And the admin may do what the member may not.
    for path in ["/api/auth/users", "/api/loans/history"] {
        let (status, body) = app.get(path, &admin).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

async fn users_are_listed_by_username(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let mut ids = std::collections::HashMap::new();
    for name in ["zohreh", "mina", "bahar", "karim", "amir"] {
        let (id, _) = app.member(&admin, name, "10").await;
        ids.insert(name, id);
    }
    let (status, body) = app.get("/api/auth/users", &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body.as_array().expect("a list");
    let names: Vec<&str> = list
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "amir", "bahar", "karim", "mina", "zohreh"]);
    for user in list {
        for key in [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_main",
            "balance",
            "loan_request_amount",
            "has_active_loan",
        ] {
            assert!(user.get(key).is_some(), "{key} missing in {user}");
        }
        let name = user["username"].as_str().unwrap();
        if name != ADMIN {
            assert_eq!(user["id"], ids[name]);
            assert_eq!(user["is_main"], false);
            assert_eq!(user["loan_request_amount"], "10.00000000");
        }
    }
}

async fn main_users_created_through_the_api_can_administer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (status, body) = create_user(
        &app,
        &admin,
        json!({ "username": "boss", "password": PASSWORD, "is_main": true }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["is_main"], true);
    let (status, login) = login_body(&app, "boss", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login["is_main"], true);
    let boss = login["access_token"].as_str().unwrap();
    let (status, body) = app.get("/api/auth/users", boss).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 2);
    let (status, body) = app.get("/api/loans/history", boss).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = create_user(
        &app,
        boss,
        json!({ "username": "junior", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["is_main"], false);
    let junior = app.login("junior", PASSWORD).await;
    let (status, _) = app.get("/api/auth/users", &junior).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

// --- the loan request -----------------------------------------------------------------------

common::on_both_databases!(loan_request_can_be_changed);

async fn loan_request_can_be_changed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, member) = app.member(&admin, "sara", "40").await;
    let patch = |body: Value| {
        app.call(
            Method::PATCH,
            "/api/auth/me/loan-request",
            Some(&member),
            Some(body),
        )
    };

    let (status, body) = patch(json!({ "loan_request_amount": "55.5" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id);
    assert_eq!(body["username"], "sara");
    assert_eq!(body["loan_request_amount"], "55.50000000");
    assert_eq!(body["balance"], "0.00000000");
    let (_, me) = app.get("/api/auth/me", &member).await;
    assert_eq!(me["loan_request_amount"], "55.50000000");

    let (status, body) = patch(json!({ "loan_request_amount": "-1" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_validation_error(&body, "loan_request_amount");
    let (status, body) = patch(json!({ "loan_request_amount": "-0.00000001" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = patch(json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_validation_error(&body, "loan_request_amount");
    assert_eq!(body["detail"][0]["type"], "missing");
    let (_, me) = app.get("/api/auth/me", &member).await;
    assert_eq!(
        me["loan_request_amount"], "55.50000000",
        "refused updates changed nothing"
    );

    let (status, body) = patch(json!({ "loan_request_amount": "0" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["loan_request_amount"], "0.00000000");
    let (status, body) = patch(json!({ "loan_request_amount": 70 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["loan_request_amount"], "70.00000000");

    // Only the caller's own request changes.
    let (_, admin_me) = app.get("/api/auth/me", &admin).await;
    assert_eq!(admin_me["loan_request_amount"], "0.00000000");
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/auth/me/loan-request",
            None,
            Some(json!({ "loan_request_amount": "5" })),
        )
        .await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
}

// --- refresh and logout ---------------------------------------------------------------------

common::on_both_databases!(
    refresh_rotates_tokens_and_reuse_revokes_the_family,
    refresh_outlives_the_access_token_but_expires,
    logout_revokes_the_session,
);

async fn refresh_rotates_tokens_and_reuse_revokes_the_family(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, _) = app.member(&admin, "sara", "40").await;
    let (_, first) = login_body(&app, "sara", PASSWORD).await;
    let (_, other_session) = login_body(&app, "sara", PASSWORD).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_string();

    let (status, second) = refresh(&app, &r1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["token_type"], "bearer");
    assert_eq!(second["user_id"], id);
    assert_eq!(second["username"], "sara");
    assert_eq!(second["is_main"], false);
    assert_eq!(second["expires_in"], 3600);
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r2, r1, "a new refresh token");
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(claims(&app, access)["sub"], id.to_string());
    let (status, me) = app.get("/api/auth/me", access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], id);
    assert_eq!(audit_count(&app, "refresh_token_reuse").await, 0);

    // The spent token again: refused, and the whole family is revoked.
    let (status, body) = refresh(&app, &r1).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    assert_eq!(audit_count(&app, "refresh_token_reuse").await, 1);
    let (status, body) = refresh(&app, &r2).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, unauthorized()),
        "r2 belongs to the revoked family"
    );

    // Another sign-in of the same member is its own family and still works.
    let (status, body) = refresh(&app, other_session["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An unknown token is simply refused.
    let (status, body) = refresh(&app, "0123456789abcdef").await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    let (status, body) = app
        .call(Method::POST, "/api/auth/refresh", None, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_validation_error(&body, "refresh_token");
}

async fn refresh_outlives_the_access_token_but_expires(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, login) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    let access = login["access_token"].as_str().unwrap();
    app.clock.advance(chrono::Duration::minutes(61));
    let (status, _) = app.get("/api/auth/me", access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, renewed) = refresh(&app, login["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let (status, _) = app
        .get("/api/auth/me", renewed["access_token"].as_str().unwrap())
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the new access token is valid at the new time"
    );
    // Refresh tokens live 30 days in tests.
    app.advance_days(31);
    let (status, body) = refresh(&app, renewed["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
}

async fn logout_revokes_the_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, first) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    let (_, other) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_string();
    let (status, rotated) = refresh(&app, &r1).await;
    assert_eq!(status, StatusCode::OK);
    let r2 = rotated["refresh_token"].as_str().unwrap().to_string();

    let (status, body) = app
        .call(
            Method::POST,
            "/api/auth/logout",
            None,
            Some(json!({ "refresh_token": r2 })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "204 has no body");
    let (status, body) = refresh(&app, &r2).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    // The other session is not signed out.
    let (status, body) = refresh(&app, other["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// --- login rate limits ----------------------------------------------------------------------

common::on_both_databases!(
    login_is_rate_limited_per_account,
    login_is_rate_limited_per_address
);

async fn login_is_rate_limited_per_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "rita", "0").await;
    app.member(&admin, "neda", "0").await;
    // Five failures, in any letter case, count for the one account.
    for spelling in ["rita", "Rita", "RITA", "rita", "rItA"] {
        let (status, body) = login_body(&app, spelling, "wrong-password").await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, invalid_credentials())
        );
    }
    assert_eq!(
        audit_count(&app, "login_lockout").await,
        1,
        "the fifth failure is audited as a lockout"
    );

    for password in [PASSWORD, "wrong-password"] {
        let (status, retry_after, body) = login_raw(&app, "rita", password).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let retry_after: u64 = retry_after
            .expect("Retry-After header")
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=900).contains(&retry_after), "{retry_after}");
        let detail = body["detail"].as_str().expect("detail sentence");
        assert!(detail.to_lowercase().contains("try again"), "{detail}");
    }

    // The same address may still sign in to another account (its limit is 20).
    let (status, body) = login_body(&app, "neda", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);

    app.clock.advance(chrono::Duration::minutes(14));
    let (status, _, _) = login_raw(&app, "rita", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "still locked within the 15-minute window"
    );
    app.clock.advance(chrono::Duration::minutes(2));
    let (status, body) = login_body(&app, "rita", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "unlocked after the window: {body}");
    assert_eq!(body["username"], "rita");
}

async fn login_is_rate_limited_per_address(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // 20 failures from one address, spread over accounts so that none is locked on its own.
    for i in 0..20 {
        let (status, body) = login_body(&app, &format!("ghost{}", i % 5), "wrong-password").await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, invalid_credentials()),
            "attempt {i}"
        );
    }
    let (status, retry_after, body) = login_raw(&app, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(retry_after.is_some(), "Retry-After header");
    assert!(audit_count(&app, "login_lockout").await >= 1);
    app.clock.advance(chrono::Duration::minutes(16));
    let (status, body) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// --- creating members -----------------------------------------------------------------------

common::on_both_databases!(create_user_validates_fields, unicode_usernames_are_accepted);

async fn create_user_validates_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let users = app.count("users").await;
    let long = "x".repeat(151);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "short password",
            json!({ "username": "valid_name", "password": "1234567" }),
            "password",
        ),
        (
            "emoji",
            json!({ "username": "emoji😀", "password": PASSWORD }),
            "username",
        ),
        (
            "space",
            json!({ "username": "has space", "password": PASSWORD }),
            "username",
        ),
        (
            "semicolon",
            json!({ "username": "semi;colon", "password": PASSWORD }),
            "username",
        ),
        (
            "too short",
            json!({ "username": "ab", "password": PASSWORD }),
            "username",
        ),
        (
            "empty",
            json!({ "username": "", "password": PASSWORD }),
            "username",
        ),
        (
            "too long",
            json!({ "username": long, "password": PASSWORD }),
            "username",
        ),
        (
            "email without @",
            json!({ "username": "valid_name", "password": PASSWORD, "email": "not-an-email" }),
            "email",
        ),
        (
            "email without domain dot",
            json!({ "username": "valid_name", "password": PASSWORD, "email": "a@b" }),
            "email",
        ),
        (
            "email with space",
            json!({ "username": "valid_name", "password": PASSWORD, "email": "a b@example.com" }),
            "email",
        ),
        (
            "negative loan request",
            json!({ "username": "valid_name", "password": PASSWORD, "loan_request_amount": "-5" }),
            "loan_request_amount",
        ),
        (
            "missing password",
            json!({ "username": "valid_name" }),
            "password",
        ),
        (
            "missing username",
            json!({ "password": PASSWORD }),
            "username",
        ),
        (
            "is_main not a bool",
            json!({ "username": "valid_name", "password": PASSWORD, "is_main": "yes" }),
            "is_main",
        ),
    ];
    for (what, body, field) in cases {
        let (status, answer) = create_user(&app, &admin, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {answer}");
        assert_validation_error(&answer, field);
    }
    // Several problems: one item each.
    let (status, answer) = create_user(
        &app,
        &admin,
        json!({ "username": "x y", "password": "short", "email": "nope" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let mut fields: Vec<String> = answer["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["loc"][1].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "password", "username"], "{answer}");
    assert_eq!(
        app.count("users").await,
        users,
        "no invalid user was written"
    );

    // The edges that are allowed.
    for (username, password) in [
        ("abc", "12345678"),
        ("a.b-c_9", "رمزعبور۱۲۳"),
        (&*"y".repeat(150), PASSWORD),
    ] {
        let (status, answer) = create_user(
            &app,
            &admin,
            json!({ "username": username, "password": password }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{username}: {answer}");
        let (status, _) = login_body(&app, username, password).await;
        assert_eq!(status, StatusCode::OK, "{username} logs in");
    }
    assert_eq!(app.count("users").await, users + 3);
}

async fn unicode_usernames_are_accepted(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    for name in ["علی", "رضا_۱۲", "Ñandú", "Жанна"] {
        let (status, body) = create_user(
            &app,
            &admin,
            json!({ "username": name, "password": PASSWORD }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(body["username"], name);
        let (status, login) = login_body(&app, name, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{name}: {login}");
        assert_eq!(login["username"], name);
        assert_eq!(login["user_id"], body["id"]);
        let (status, me) = app
            .get("/api/auth/me", login["access_token"].as_str().unwrap())
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["username"], name);
    }
    // Case folding applies to other scripts too.
    let (status, login) = login_body(&app, "ñandú", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let (status, body) = create_user(
        &app,
        &admin,
        json!({ "username": "жанна", "password": PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "detail": "Username already exists" })
        )
    );
}

// --- admins change users --------------------------------------------------------------------

common::on_both_databases!(
    admins_change_and_deactivate_users,
    signing_out_revokes_the_access_token_at_once
);

async fn patch_user(app: &TestApp, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PATCH,
        &format!("/api/auth/users/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

async fn admins_change_and_deactivate_users(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let admin_id = app.get("/api/auth/me", &admin).await.1["id"]
        .as_i64()
        .unwrap();
    let (id, member) = app.member(&admin, "sara", "0").await;
    let (other_id, other) = app.member(&admin, "omid", "0").await;
    let id_text = id.to_string();

    assert_eq!(
        patch_user(&app, &other, &id_text, json!({ "is_active": false }))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch_user(&app, &admin, "999999", json!({ "is_active": false }))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        patch_user(&app, &admin, "abc", json!({ "is_active": false }))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = patch_user(
        &app,
        &admin,
        &admin_id.to_string(),
        json!({ "is_active": false }),
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("You cannot deactivate or demote yourself")
        )
    );
    let (status, body) = patch_user(
        &app,
        &admin,
        &id_text,
        json!({ "email": "not-an-email", "colour": "red" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, profile) = patch_user(
        &app,
        &admin,
        &id_text,
        json!({ "first_name": "Sara", "role": "accountant" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(
        (profile["first_name"].as_str(), profile["role"].as_str()),
        (Some("Sara"), Some("accountant"))
    );
    assert_eq!(
        app.get("/api/wallet/fund", &member).await.0,
        StatusCode::OK,
        "the new role applies at once"
    );

    let (status, profile) = patch_user(&app, &admin, &id_text, json!({ "is_active": false })).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(
        app.get("/api/auth/me", &member).await.0,
        StatusCode::UNAUTHORIZED,
        "refused at once, cache or not"
    );
    assert_eq!(
        login_body(&app, "sara", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The draw no longer waits for a deactivated member.
    app.pay(&admin, "20", None).await;
    app.pay(&other, "20", None).await;
    assert_eq!(
        app.call(Method::POST, "/api/loans/start", Some(&other), None)
            .await
            .0,
        StatusCode::CREATED
    );

    assert_eq!(
        patch_user(&app, &admin, &id_text, json!({ "is_active": true }))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(login_body(&app, "sara", PASSWORD).await.0, StatusCode::OK);
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'user_changed' AND target = $1",
    )
    .bind(format!("user:{id}"))
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audit, 3);
    let _ = other_id;
}

async fn signing_out_revokes_the_access_token_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, login) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    let access = login["access_token"].as_str().unwrap();
    let (_, other_login) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    let other_access = other_login["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/auth/me", access).await.0, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/logout",
            None,
            Some(json!({ "refresh_token": login["refresh_token"] })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/auth/me", access).await.0,
        StatusCode::UNAUTHORIZED,
        "the signed-out access token"
    );
    assert_eq!(
        app.get("/api/auth/me", other_access).await.0,
        StatusCode::OK,
        "another sign-in is untouched"
    );
}

// --- sessions end when they should (password reset, deactivation, absolute lifetime) ---------

common::on_both_databases!(
    an_admin_password_reset_ends_every_session,
    deactivation_ends_sessions_and_reactivation_does_not_revive_them,
    sign_ins_have_an_absolute_lifetime,
    tokens_of_the_original_api_without_iat_are_accepted,
    tokens_not_valid_yet_are_unauthorized
);

/// Every kind of access token a member can hold: from two sign-ins, one without a family, and
/// one of the original API's `{sub, exp}` tokens.
async fn every_kind_of_token(app: &TestApp, id: i64, username: &str) -> Vec<(String, String)> {
    let secret = app.state.config.jwt_secret_key.expose().to_string();
    let now = app.state.now().timestamp();
    let mut tokens = vec![];
    for i in 0..2 {
        tokens.push((format!("sign-in {i}"), app.login(username, PASSWORD).await));
    }
    tokens.push((
        "without a family".into(),
        sign(
            &secret,
            &json!({ "sub": id.to_string(), "iat": now, "exp": now + 3600 }),
        ),
    ));
    tokens.push((
        "without iat".into(),
        sign(
            &secret,
            &json!({ "sub": id.to_string(), "exp": now + 3600 }),
        ),
    ));
    for (what, token) in &tokens {
        assert_eq!(
            app.get("/api/auth/me", token).await.0,
            StatusCode::OK,
            "{what}"
        );
    }
    tokens
}

async fn an_admin_password_reset_ends_every_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, _) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    let tokens = every_kind_of_token(&app, id, "sara").await;
    let refresh_token = login_body(&app, "sara", PASSWORD).await.1["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();

    // Validated like a new user's password; a refused change changes nothing.
    let (status, body) = patch_user(
        &app,
        &admin,
        &id.to_string(),
        json!({ "password": "short" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_validation_error(&body, "password");
    assert_eq!(
        app.get("/api/auth/me", &tokens[0].1).await.0,
        StatusCode::OK
    );

    let new_password = "a-brand-new-password-1";
    let (status, profile) = patch_user(
        &app,
        &admin,
        &id.to_string(),
        json!({ "password": new_password }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["username"], "sara");
    for (what, token) in &tokens {
        let (status, body) = app.get("/api/auth/me", token).await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, unauthorized()),
            "{what} after the reset"
        );
    }
    assert_eq!(
        refresh(&app, &refresh_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_body(&app, "sara", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED,
        "the old password"
    );
    let fresh = app.login("sara", new_password).await;
    assert_eq!(app.get("/api/auth/me", &fresh).await.0, StatusCode::OK);
    assert_eq!(
        app.get("/api/auth/me", &omid).await.0,
        StatusCode::OK,
        "other users keep their sessions"
    );
    // Audited, without the password.
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'user_changed' AND target = $1",
    )
    .bind(format!("user:{id}"))
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(details.len(), 1, "{details:?}");
    let entry: Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(entry["password_changed"], true, "{entry}");
    assert_eq!(entry["sessions_revoked"], true, "{entry}");
    let everything: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_log")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert!(everything.iter().all(|d| !d.contains(new_password)));
}

async fn deactivation_ends_sessions_and_reactivation_does_not_revive_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, _) = app.member(&admin, "sara", "0").await;
    let tokens = every_kind_of_token(&app, id, "sara").await;
    let refresh_token = login_body(&app, "sara", PASSWORD).await.1["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id_text = id.to_string();
    let (status, body) = patch_user(&app, &admin, &id_text, json!({ "is_active": false })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = patch_user(&app, &admin, &id_text, json!({ "is_active": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (what, token) in &tokens {
        assert_eq!(
            app.get("/api/auth/me", token).await.0,
            StatusCode::UNAUTHORIZED,
            "{what} after deactivation and reactivation"
        );
    }
    assert_eq!(
        refresh(&app, &refresh_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Not even from a fresh cache (the database says the same as the cache).
    app.state.users.invalidate_all();
    assert_eq!(
        app.get("/api/auth/me", &tokens[0].1).await.0,
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.login("sara", PASSWORD).await;
    assert_eq!(app.get("/api/auth/me", &fresh).await.0, StatusCode::OK);
}

async fn sign_ins_have_an_absolute_lifetime(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.refresh_token_expire_days = 30;
        c.refresh_token_max_days = 50;
    })
    .await
    else {
        return;
    };
    let (_, login) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    let mut refresh_token = login["refresh_token"].as_str().unwrap().to_string();
    // Refreshed every 16 days, each token well inside its 30 days...
    for day in [16, 32, 48] {
        app.advance_days(16);
        let (status, body) = refresh(&app, &refresh_token).await;
        assert_eq!(status, StatusCode::OK, "day {day}: {body}");
        refresh_token = body["refresh_token"].as_str().unwrap().to_string();
    }
    // ...but the sign-in is 51 days old: its family ends at 50 days.
    app.advance_days(3);
    let (status, body) = refresh(&app, &refresh_token).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    let (status, _) = login_body(&app, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a new sign-in starts a new lifetime"
    );
}

async fn tokens_of_the_original_api_without_iat_are_accepted(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (id, _) = app.member(&admin, "sara", "0").await;
    let (other, _) = app.member(&admin, "omid", "0").await;
    // Another user's sessions were revoked: that must not touch sara's.
    patch_user(
        &app,
        &admin,
        &other.to_string(),
        json!({ "password": "omid-new-password" }),
    )
    .await;
    let now = app.state.now().timestamp();
    let original = sign(
        app.state.config.jwt_secret_key.expose(),
        &json!({ "sub": id.to_string(), "exp": now + 3600 }),
    );
    let (status, me) = app.get("/api/auth/me", &original).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], id);
    let expired = sign(
        app.state.config.jwt_secret_key.expose(),
        &json!({ "sub": id.to_string(), "exp": now - 1 }),
    );
    assert_eq!(
        app.get("/api/auth/me", &expired).await.0,
        StatusCode::UNAUTHORIZED
    );
    let forged = sign(
        "not-the-secret",
        &json!({ "sub": id.to_string(), "exp": now + 3600 }),
    );
    assert_eq!(
        app.get("/api/auth/me", &forged).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn tokens_not_valid_yet_are_unauthorized(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let id = claims(&app, &admin)["sub"].as_str().unwrap().to_string();
    let now = app.state.now().timestamp();
    let secret = app.state.config.jwt_secret_key.expose().to_string();
    let future = sign(
        &secret,
        &json!({ "sub": id, "iat": now, "nbf": now + 600, "exp": now + 3600 }),
    );
    let (status, body) = app.get("/api/auth/me", &future).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    let past = sign(
        &secret,
        &json!({ "sub": id, "iat": now, "nbf": now - 600, "exp": now + 3600 }),
    );
    assert_eq!(app.get("/api/auth/me", &past).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(11));
    assert_eq!(
        app.get("/api/auth/me", &future).await.0,
        StatusCode::OK,
        "valid from nbf on"
    );
}

// --- login attempts are reserved before the password is checked ------------------------------

common::on_both_databases!(
    concurrent_wrong_logins_check_at_most_the_account_limit,
    concurrent_wrong_logins_check_at_most_the_address_limit,
    the_account_ceiling_still_lets_a_fresh_address_sign_in,
    a_success_clears_its_own_failures_only
);

/// A login from `ip` (the test server trusts `X-Forwarded-For`): status and `Retry-After`.
/// `times` wrong passwords for `username` from `ip`, each checked (401, not locked out yet).
async fn fail_logins_from(app: &TestApp, ip: &str, username: &str, times: usize) {
    for attempt in 1..=times {
        assert_eq!(
            login_from(app, ip, username, "wrong").await.0,
            StatusCode::UNAUTHORIZED,
            "wrong password {attempt} of {times} from {ip}"
        );
    }
}

async fn login_from(
    app: &TestApp,
    ip: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Option<String>) {
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("request sent");
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    (response.status(), retry_after)
}

/// How many of the answers have each status.
fn tally(statuses: &[StatusCode]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for status in statuses {
        *counts.entry(status.as_u16()).or_insert(0) += 1;
    }
    counts
}

async fn concurrent_wrong_logins_check_at_most_the_account_limit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "rita", "0").await;
    let attempts = (0..60).map(|_| login_raw(&app, "rita", "wrong-password"));
    let answers = futures::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|a| a.0).collect();
    // Each 401 is one password checked: exactly the limit, however many arrive at once.
    assert_eq!(
        tally(&statuses),
        [(401, 5), (429, 55)].into(),
        "{answers:?}"
    );
    for (status, retry_after, _) in &answers {
        if *status == StatusCode::TOO_MANY_REQUESTS {
            let secs: u64 = retry_after
                .as_deref()
                .expect("Retry-After")
                .parse()
                .unwrap();
            assert!((1..=900).contains(&secs), "{secs}");
        }
    }
    assert_eq!(audit_count(&app, "login_failed").await, 5);
    assert_eq!(audit_count(&app, "login_lockout").await, 1);
    let (status, _, _) = login_raw(&app, "rita", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked for this address"
    );
}

async fn concurrent_wrong_logins_check_at_most_the_address_limit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // 60 accounts at once from one address (none reaches its own limit): the address's is 20.
    let names: Vec<String> = (0..60).map(|i| format!("ghost{i}")).collect();
    let attempts = names.iter().map(|name| login_raw(&app, name, "wrong"));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(tally(&statuses), [(401, 20), (429, 40)].into());
    let (status, retry_after, _) = login_raw(&app, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.is_some());
    // A window later the same burst gets the same answer, while the ended windows are cleaned
    // up under it.
    app.clock.advance(chrono::Duration::minutes(16));
    let attempts = names.iter().map(|name| login_raw(&app, name, "wrong"));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(tally(&statuses), [(401, 20), (429, 40)].into());
}

async fn the_account_ceiling_still_lets_a_fresh_address_sign_in(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.trust_proxy_headers = true;
        c.login_limits.max_failures_per_account_total = 10;
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "rita", "0").await;
    // Two addresses use up their own limit, and with it the account's ceiling.
    for ip in ["10.0.0.1", "10.0.0.2"] {
        fail_logins_from(&app, ip, "rita", 5).await;
        assert_eq!(
            login_from(&app, ip, "rita", PASSWORD).await.0,
            StatusCode::TOO_MANY_REQUESTS,
            "{ip} is locked out of rita"
        );
    }
    // The owner, from an address that has not failed on the account, still signs in.
    let (status, _) = login_from(&app, "10.0.0.3", "rita", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    // Past the ceiling a fresh address gets one check, however many it sends at once.
    let attempts = (0..10).map(|_| login_from(&app, "10.0.0.4", "rita", "wrong"));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(tally(&statuses), [(401, 1), (429, 9)].into());
    let (status, retry_after) = login_from(&app, "10.0.0.4", "rita", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.is_some());
    // Other accounts are untouched from the locked addresses.
    assert_eq!(
        login_from(&app, "10.0.0.1", ADMIN, ADMIN_PASSWORD).await.0,
        StatusCode::OK
    );
    assert!(audit_count(&app, "login_lockout").await >= 2);
    // After the window everything is open again.
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        login_from(&app, "10.0.0.1", "rita", PASSWORD).await.0,
        StatusCode::OK
    );
    // Ended windows are forgotten: what is left is this sign-in's account and address keys.
    assert_eq!(app.count("login_attempts").await, 2);
}

async fn a_success_clears_its_own_failures_only(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.trust_proxy_headers = true).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "rita", "0").await;
    for ip in ["10.0.0.1", "10.0.0.2"] {
        fail_logins_from(&app, ip, "rita", 4).await;
    }
    assert_eq!(
        login_from(&app, "10.0.0.1", "rita", PASSWORD).await.0,
        StatusCode::OK
    );
    // 10.0.0.1 starts afresh (five more checks); 10.0.0.2 still has one left.
    fail_logins_from(&app, "10.0.0.1", "rita", 5).await;
    assert_eq!(
        login_from(&app, "10.0.0.1", "rita", "wrong").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "10.0.0.2", "rita", "wrong").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_from(&app, "10.0.0.2", "rita", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Successful sign-ins do not use up an address: many members behind one address sign in.
    for _ in 0..25 {
        assert_eq!(
            login_from(&app, "10.0.0.9", ADMIN, ADMIN_PASSWORD).await.0,
            StatusCode::OK
        );
    }
}

// --- password hashing is bounded -------------------------------------------------------------

common::on_both_databases!(password_hashing_is_bounded_and_sheds_load_with_503);

async fn password_hashing_is_bounded_and_sheds_load_with_503(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.password_hash_concurrency = 1;
        c.password_hash_queue = 1;
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "rita", "0").await;
    // Two long hashes take the one slot and the one place in the queue.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Arc::new(std::sync::Mutex::new(gate));
    let mut busy = vec![];
    for _ in 0..2 {
        let (state, gate) = (app.state.clone(), gate.clone());
        busy.push(tokio::spawn(async move {
            state
                .password_hashing
                .run(move || gate.lock().unwrap().recv().unwrap())
                .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // Every Argon2 use is shed: logins (right, wrong, unknown user), creating a user, a reset.
    let logins = [
        (ADMIN, ADMIN_PASSWORD),
        ("rita", "wrong-password"),
        ("nobody", "wrong-password"),
    ];
    for (username, password) in logins {
        let (status, retry_after, body) = login_raw(&app, username, password).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{username}: {body}"
        );
        assert_eq!(retry_after.as_deref(), Some("1"), "{username}");
        assert!(body["detail"].as_str().unwrap().contains("busy"), "{body}");
    }
    let (status, body) = create_user(
        &app,
        &admin,
        json!({ "username": "neda", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) =
        patch_user(&app, &admin, "2", json!({ "password": "another-password" })).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // Everything else still answers at once.
    for path in ["/healthz", "/api/auth/me"] {
        let started = std::time::Instant::now();
        let (status, _) = app.get(path, &admin).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{path}"
        );
    }

    for _ in 0..2 {
        release.send(()).unwrap();
    }
    for task in busy {
        task.await.unwrap().unwrap();
    }
    // Nothing refused was half-done, and the shed attempts did not count as failures: rita's
    // address still has all five checks.
    assert_eq!(app.count("users").await, 2);
    for _ in 0..5 {
        assert_eq!(
            login_body(&app, "rita", "wrong-password").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_body(&app, "rita", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_body(&app, ADMIN, ADMIN_PASSWORD).await.0,
        StatusCode::OK
    );
}

// --- what an unauthenticated request can make the server store is bounded --------------------

common::on_both_databases!(a_huge_failed_login_stores_a_bounded_row);

async fn a_huge_failed_login_stores_a_bounded_row(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let huge = "ж".repeat(30 * 1024); // 60 KiB of UTF-8
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .header("x-request-id", "r".repeat(4000))
        .json(&json!({ "username": huge, "password": "wrong-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT target, request_id, details FROM audit_log WHERE action = 'login_failed'",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    let (target, request_id, details) = &rows[0];
    assert!(
        target.starts_with("sha256:") && target.len() <= 200,
        "{target}"
    );
    assert!(request_id.len() <= 128, "{}", request_id.len());
    assert!(details.len() < 100, "{details}");
    let keys: Vec<String> = sqlx::query_scalar("SELECT limit_key FROM login_attempts")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.len() < 200), "{keys:?}");
    // The same huge name is still one account for the limits: the fifth failure locks it.
    for _ in 0..4 {
        assert_eq!(
            login_body(&app, &huge, "wrong-password").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_body(&app, &huge, "wrong-password").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A name at the longest a username may be is kept as typed.
    let longest = "ж".repeat(150);
    assert_eq!(
        login_body(&app, &longest, "wrong-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE target = $1")
        .bind(&longest)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(kept, 1);
}

// --- usernames: NFKC, one script, no bidirectional controls ----------------------------------

common::on_both_databases!(
    usernames_are_normalised_and_look_alikes_refused,
    accounts_created_before_nfkc_keys_still_sign_in
);

async fn usernames_are_normalised_and_look_alikes_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sam", "0").await;
    let (status, body) = login_body(&app, "ｓａｍ", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "full-width letters find sam: {body}"
    );
    assert_eq!(body["username"], "sam");
    assert_eq!(login_body(&app, "ＳＡＭ", PASSWORD).await.0, StatusCode::OK);
    let (status, body) = create_user(
        &app,
        &admin,
        json!({ "username": "ＳＡＭ", "password": PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Username already exists"))
    );
    let (status, body) = create_user(
        &app,
        &admin,
        json!({ "username": "ｆｉｏｎａ", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["username"], "fiona", "stored in NFKC form");
    for bad in ["pаypal", "gοogle", "sam\u{202E}nimda", "ali\u{2067}x"] {
        let (status, body) = create_user(
            &app,
            &admin,
            json!({ "username": bad, "password": PASSWORD }),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {body}");
        assert_validation_error(&body, "username");
    }
    for good in ["иван", "علی۱۲", "Σωκράτης"] {
        let (status, body) = create_user(
            &app,
            &admin,
            json!({ "username": good, "password": PASSWORD }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{good:?}: {body}");
        assert_eq!(
            login_body(&app, good, PASSWORD).await.0,
            StatusCode::OK,
            "{good:?}"
        );
    }
}

async fn accounts_created_before_nfkc_keys_still_sign_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Rows as the previous version stored them: key = lower-cased name, no NFKC, no script rule.
    let hash = saghat_core::auth::password::hash_password(PASSWORD);
    let mut tx = app.state.db.begin_write().await.unwrap();
    for name in ["ｍｉｎａ", "pаypal"] {
        let user = saghat_core::auth::store::NewUser {
            username: name,
            username_key: &name.to_lowercase(),
            password_hash: &hash,
            first_name: "",
            last_name: "",
            email: "",
            is_main: false,
            loan_request_amount: saghat_core::platform::money::Amount::ZERO,
        };
        saghat_core::auth::store::insert_user(&mut tx, &user, app.state.now())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    for name in ["ｍｉｎａ", "ＭＩＮＡ", "pаypal", "PАYPAL"] {
        let (status, body) = login_body(&app, name, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{name:?}: {body}");
    }
    // The look-alike spelled with Latin letters only is another (unknown) name.
    assert_eq!(
        login_body(&app, "paypal", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
}

// --- a revocation reaches every instance -----------------------------------------------------

common::on_both_databases!(a_password_reset_reaches_another_instance_at_once);

/// A second instance on the first one's database (and Redis), serving on its own port.
async fn second_instance(first: &TestApp) -> String {
    let config = (*first.state.config).clone();
    let state = saghat_http::app::prepare(config, first.clock.clone())
        .await
        .expect("second instance starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = saghat_http::app::router(state);
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    base
}

async fn a_password_reset_reaches_another_instance_at_once(backend: Backend) {
    let redis =
        std::env::var("SAGHAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let prefix = format!("saghat-test-{}", uuid::Uuid::new_v4().simple());
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.redis_url = Some(redis);
        c.redis_prefix = prefix;
        // Long enough that only the message, not the cache's expiry, can explain a quick 401.
        c.cache_ttl = std::time::Duration::from_secs(300);
    })
    .await
    else {
        return;
    };
    let second = second_instance(&app).await;
    let admin = app.admin_token().await;
    let (id, member) = app.member(&admin, "sara", "0").await;
    let me_on_second = || async {
        app.http
            .get(format!("{second}/api/auth/me"))
            .bearer_auth(&member)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        me_on_second().await,
        StatusCode::OK,
        "cached on the second instance"
    );
    let (status, body) = patch_user(
        &app,
        &admin,
        &id.to_string(),
        json!({ "password": "a-new-password-1" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while me_on_second().await != StatusCode::UNAUTHORIZED {
        assert!(
            std::time::Instant::now() < deadline,
            "the second instance still accepts the reset user's token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

common::on_both_databases!(the_role_is_the_only_admin_flag_after_migrating);

/// Migration 0005 drops the `is_main` column that repeated the role: whoever either flag made
/// an admin stays one, nobody else becomes one, and the column is gone, so no write can let
/// the two disagree again.
async fn the_role_is_the_only_admin_flag_after_migrating(backend: Backend) {
    use saghat_core::platform::db::migrator;
    let Some((db, _dir)) = common::migrated_before(backend, 5).await else {
        return;
    };
    for (name, is_main, role) in [
        ("flagged", 1, "member"),
        ("admin", 1, "admin"),
        ("role_only", 0, "admin"),
        ("member", 0, "member"),
        ("books", 0, "accountant"),
    ] {
        sqlx::query(
            "INSERT INTO users (username, username_key, password_hash, created_at, is_main, role) \
             VALUES ($1, $1, 'x', 't', $2, $3)",
        )
        .bind(name)
        .bind(is_main as i64)
        .bind(role)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    migrator(db.backend).run(&db.pool).await.unwrap();
    let roles: Vec<(String, String)> =
        sqlx::query_as("SELECT username, role FROM users ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let expected = [
        ("flagged", "admin"),
        ("admin", "admin"),
        ("role_only", "admin"),
        ("member", "member"),
        ("books", "accountant"),
    ];
    assert_eq!(
        roles,
        expected
            .map(|(u, r)| (u.to_string(), r.to_string()))
            .to_vec()
    );
    assert!(
        sqlx::query("SELECT is_main FROM users")
            .fetch_all(&db.pool)
            .await
            .is_err(),
        "the column is gone"
    );
}
