//! `/api/v1/auth/` in simplejwt's shapes, and the DRF conventions every `/api/v1` path shares
//! (trailing slashes, 401/404/405/415 bodies, malformed JSON), on SQLite and PostgreSQL.

use saghat_test_support as common;

use reqwest::header::{ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{Backend, TestApp, ADMIN, ADMIN_PASSWORD};

const TOKEN_NOT_VALID: &str = "token_not_valid";

async fn v1_login(app: &TestApp, username: &str, password: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/api/v1/auth/login/",
        None,
        Some(json!({ "username": username, "password": password })),
    )
    .await
}

/// A request with a raw body and content type, answered as (status, headers, JSON).
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: &'static str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = app
        .http
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, headers, json)
}

async fn get_with(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app.http.get(app.url(path));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, headers, json)
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

common::on_both_databases!(
    login_refresh_and_logout_have_simplejwts_shapes,
    login_refusals_have_drfs_bodies,
    framework_errors_have_drfs_bodies,
);

async fn login_refresh_and_logout_have_simplejwts_shapes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, pair) = v1_login(&app, "ADMIN", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let keys: Vec<&String> = pair.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access", "refresh"], "exactly simplejwt's pair");
    let access = pair["access"].as_str().unwrap();
    let refresh = pair["refresh"].as_str().unwrap();
    // The same tokens as the rest of the API, both ways.
    let (status, me) = app.get("/api/v1/users/me/", access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], ADMIN);
    let (status, _) = app.get("/api/auth/me", access).await;
    assert_eq!(status, StatusCode::OK);
    let old_api_token = app.admin_token().await;
    let (status, _) = app.get("/api/v1/users/me/", &old_api_token).await;
    assert_eq!(status, StatusCode::OK);

    // Refresh rotates: a new pair, and the old refresh token is spent.
    let (status, rotated) = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh/",
            None,
            Some(json!({ "refresh": refresh })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let keys: Vec<&String> = rotated.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access", "refresh"]);
    assert_ne!(rotated["refresh"], pair["refresh"]);
    let new_access = rotated["access"].as_str().unwrap().to_string();
    let new_refresh = rotated["refresh"].as_str().unwrap().to_string();
    let (status, _) = app.get("/api/v1/users/me/", &new_access).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh/",
            None,
            Some(json!({ "refresh": "not-a-token" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({ "detail": "Token is invalid or expired", "code": TOKEN_NOT_VALID })
    );

    // Logout revokes the sign-in: its refresh and access tokens stop working.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/logout/",
            None,
            Some(json!({ "refresh": new_refresh })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({}));
    let (status, body) = app.get("/api/v1/users/me/", &new_access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], TOKEN_NOT_VALID);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh/",
            None,
            Some(json!({ "refresh": new_refresh })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], TOKEN_NOT_VALID);
    // Signing out twice is not an error; a missing field is.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/logout/",
            None,
            Some(json!({ "refresh": new_refresh })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call(Method::POST, "/api/v1/auth/logout/", None, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "refresh": ["This field is required."] }));
    // The other sign-in (through /api/auth) is untouched.
    let (status, _) = app.get("/api/v1/users/me/", &old_api_token).await;
    assert_eq!(status, StatusCode::OK);
}

async fn login_refusals_have_drfs_bodies(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let failures_before = audit_count(&app, "login_failed").await;
    let (status, body) = v1_login(&app, ADMIN, "wrong-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({ "detail": "No active account found with the given credentials" })
    );
    let (status, body) = v1_login(&app, "nobody", "wrong-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["detail"],
        "No active account found with the given credentials"
    );
    // The same audit as /api/auth/login.
    assert_eq!(audit_count(&app, "login_failed").await, failures_before + 2);

    let (status, body) = app
        .call(Method::POST, "/api/v1/auth/login/", None, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "username": ["This field is required."], "password": ["This field is required."] })
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({ "username": "", "password": 12 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "username": ["This field may not be blank."], "password": ["Not a valid string."] })
    );
    let (status, _, body) = raw(
        &app,
        Method::POST,
        "/api/v1/auth/login/",
        "application/json",
        "{\"username\": ",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("JSON parse error - "), "{body}");
    let (status, _, body) = raw(
        &app,
        Method::POST,
        "/api/v1/auth/login/",
        "application/json",
        "[1]",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "non_field_errors": ["Invalid data. Expected a dictionary, but got list."] })
    );
    let (status, _, body) = raw(&app, Method::POST, "/api/v1/auth/login/", "text/plain", "x").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        body,
        json!({ "detail": "Unsupported media type \"text/plain\" in request." })
    );

    // The same lockout as /api/auth/login: five failures per account and address.
    for _ in 0..4 {
        let (status, _) = v1_login(&app, ADMIN, "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = app
        .http
        .post(app.url("/api/v1/auth/login/"))
        .json(&json!({ "username": ADMIN, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        format!("Request was throttled. Expected available in {retry} seconds.")
    );
}

async fn framework_errors_have_drfs_bodies(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let not_found = json!({ "detail": "Not found." });
    // No trailing slash: 404, as DRF's router answers (no redirect).
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "username": ADMIN, "password": ADMIN_PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found);
    let (status, _, body) = get_with(&app, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found);
    let (status, _, body) = get_with(&app, "/api/v1/no-such-thing/", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found);

    // A known path, another method.
    let (status, headers, body) = get_with(&app, "/api/v1/auth/login/", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({ "detail": "Method \"GET\" not allowed." }));
    assert!(
        headers[ALLOW].to_str().unwrap().contains("POST"),
        "{headers:?}"
    );
    let token = app.admin_token().await;
    let (status, body) = app
        .call(Method::DELETE, "/api/v1/users/1/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({ "detail": "Method \"DELETE\" not allowed." }));

    // Authentication: none, a bad header, a bad token.
    let (status, headers, body) = get_with(&app, "/api/v1/users/me/", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({ "detail": "Authentication credentials were not provided." })
    );
    assert_eq!(headers[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
    let (status, _, body) = get_with(&app, "/api/v1/users/me/", Some("Basic YWRtaW46eA==")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["detail"],
        "Authentication credentials were not provided."
    );
    let (status, _, body) = get_with(&app, "/api/v1/users/me/", Some("Bearer a b")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "bad_authorization_header");
    let (status, _, body) = get_with(&app, "/api/v1/users/me/", Some("Bearer not.a.jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "Given token not valid for any token type");
    assert_eq!(body["code"], TOKEN_NOT_VALID);
    assert_eq!(body["messages"][0]["token_type"], "access");
}

/// Every `/api/v1` operation is documented under the `v1` tag with its trailing slash, and its
/// schemas are its own (a name shared with `/api/auth`'s would silently replace one of them).
#[test]
fn every_v1_operation_is_documented_as_v1() {
    let (_, openapi) = saghat_http::app::api();
    let doc = serde_json::to_value(&openapi).unwrap();
    let v1: Vec<(&String, &Value)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/api/v1/"))
        .collect();
    assert!(v1.len() >= 6, "{v1:?}");
    for (path, item) in v1 {
        assert!(path.ends_with('/'), "{path}");
        for (method, operation) in item.as_object().unwrap() {
            assert_eq!(operation["tags"], json!(["v1"]), "{method} {path}");
            let needs_token = !path.starts_with("/api/v1/auth/");
            assert_eq!(
                operation.get("security").is_some(),
                needs_token,
                "{method} {path}"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["TokenRefresh"]["properties"]["refresh"].is_object());
    assert!(schemas["RefreshRequest"]["properties"]["refresh_token"].is_object());
    assert!(schemas["TokenObtainPair"]["properties"]["username"].is_object());
    assert!(schemas["LoginRequest"]["properties"]["username"].is_object());
}
