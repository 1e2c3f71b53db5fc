//! What operators and browsers see around the API: health endpoints, the OpenAPI document and
//! Swagger UI (served offline), request ids, CORS and `ALLOWED_HOSTS`.

mod common;

use reqwest::header::{HeaderMap, HOST, LOCATION, ORIGIN};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};

use common::{Backend, TestApp};

crate::on_both_databases!(readyz_follows_the_database);

async fn readyz_follows_the_database(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    app.state.db.pool.close().await;
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let detail = body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {body}"));
    assert!(!detail.is_empty());

    // The process itself is still up.
    let (status, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn sqlite_app() -> TestApp {
    TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available")
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn healthz_says_ok() {
    let app = sqlite_app().await;
    let response = get(&app, "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ok" }));
}

#[tokio::test]
async fn openapi_document_describes_every_endpoint() {
    let app = sqlite_app().await;
    let response = get(&app, "/api/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1"), "openapi {version}");

    let expected = [
        ("/api/auth/login", "post"),
        ("/api/auth/users", "post"),
        ("/api/auth/users", "get"),
        ("/api/auth/me", "get"),
        ("/api/auth/me/loan-request", "patch"),
        ("/api/auth/refresh", "post"),
        ("/api/auth/logout", "post"),
        ("/api/payments/pay", "post"),
        ("/api/payments/config", "get"),
        ("/api/payments/my-payments", "get"),
        ("/api/loans/start", "post"),
        ("/api/loans/history", "get"),
        ("/api/loans/my-history", "get"),
        ("/api/loans/{loan_id}", "get"),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    let missing: Vec<String> = expected
        .iter()
        .filter(|(path, method)| paths.get(*path).and_then(|p| p.get(*method)).is_none())
        .map(|(path, method)| format!("{} {path}", method.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "not in /api/openapi.json: {missing:?}; has {:?}",
        paths.keys().collect::<Vec<_>>()
    );

    // Protected endpoints say how to authenticate.
    let schemes = &doc["components"]["securitySchemes"];
    assert!(
        schemes.as_object().is_some_and(|s| !s.is_empty()),
        "no security scheme: {schemes}"
    );
}

/// The `src="…"` and `href="…"` values of an HTML page.
fn referenced_urls(html: &str) -> Vec<String> {
    let mut urls = vec![];
    for attribute in ["src=", "href="] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let value = &rest[1..];
            let end = value.find(quote).expect("closing quote");
            urls.push(value[..end].to_string());
            rest = &value[end..];
        }
    }
    urls
}

#[tokio::test]
async fn swagger_ui_is_served_offline_from_the_binary() {
    let app = sqlite_app().await;
    let response = get(&app, "/api/docs/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    let assets = referenced_urls(&html);
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "no scripts or stylesheets found in {html}"
    );

    let page = Url::parse(&app.url("/api/docs/")).unwrap();
    let mut initializer = None;
    for asset in &assets {
        let lower = asset.to_ascii_lowercase();
        assert!(
            !lower.starts_with("http:") && !lower.starts_with("https:") && !lower.starts_with("//"),
            "Swagger UI loads {asset} from elsewhere: the docs must work offline"
        );
        let url = page.join(asset).unwrap();
        assert_eq!(url.origin(), page.origin(), "{asset}");
        let response = app.http.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{url} is empty");
        if url.path().ends_with("swagger-initializer.js") {
            initializer = Some(body);
        }
    }
    let initializer = initializer.expect("the page loads swagger-initializer.js");
    assert!(initializer.contains("/api/openapi.json"), "{initializer}");
}

#[tokio::test]
async fn docs_without_a_slash_reach_swagger_ui() {
    let app = sqlite_app().await;
    let response = get(&app, "/api/docs").await;
    let status = response.status();
    if status.is_redirection() {
        assert_eq!(response.headers()[LOCATION], "/api/docs/");
    } else {
        assert_eq!(status, StatusCode::OK);
        assert!(response.text().await.unwrap().contains("swagger"));
    }
}

#[tokio::test]
async fn swagger_redirects_to_the_docs() {
    let app = sqlite_app().await;
    for path in ["/swagger", "/swagger/"] {
        let response = get(&app, path).await;
        assert!(
            response.status().is_redirection(),
            "{path}: {}",
            response.status()
        );
        assert_eq!(response.headers()[LOCATION], "/api/docs/", "{path}");
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .expect("x-request-id header")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = sqlite_app().await;
    let mut seen = std::collections::HashSet::new();
    let requests = [
        (Method::GET, "/healthz", StatusCode::OK),
        (Method::GET, "/api/openapi.json", StatusCode::OK),
        (Method::GET, "/api/docs/", StatusCode::OK),
        (Method::GET, "/swagger", StatusCode::PERMANENT_REDIRECT),
        (Method::GET, "/api/auth/me", StatusCode::UNAUTHORIZED),
        (Method::GET, "/no/such/page", StatusCode::NOT_FOUND),
        (Method::DELETE, "/healthz", StatusCode::METHOD_NOT_ALLOWED),
    ];
    for (method, path, expected) in requests {
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let status = response.status();
        if path == "/swagger" {
            assert!(status.is_redirection(), "{path}: {status}");
        } else {
            assert_eq!(status, expected, "{method} {path}");
        }
        let id = request_id(response.headers());
        assert!(!id.is_empty(), "{method} {path}: empty x-request-id");
        assert!(
            seen.insert(id.clone()),
            "{method} {path}: x-request-id {id} reused"
        );
    }
    // A failed login (an error produced by our handler) too.
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "username": "nobody", "password": "wrong-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!request_id(response.headers()).is_empty());
}

#[tokio::test]
async fn an_incoming_request_id_is_echoed_back() {
    let app = sqlite_app().await;
    for path in ["/healthz", "/api/auth/me", "/no/such/page"] {
        let response = app
            .http
            .get(app.url(path))
            .header("x-request-id", "trace-abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(request_id(response.headers()), "trace-abc-123", "{path}");
    }
}

fn allow_origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url("/api/payments/pay"))
        .header(ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.cors_origins = vec!["https://fund.example".into()]
    })
    .await
    else {
        unreachable!()
    };

    let response = preflight(&app, "https://fund.example").await;
    assert!(
        response.status().is_success(),
        "preflight: {}",
        response.status()
    );
    assert_eq!(
        allow_origin(response.headers()).as_deref(),
        Some("https://fund.example")
    );
    let methods = response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    assert!(!request_id(response.headers()).is_empty());

    let response = preflight(&app, "https://evil.example").await;
    assert_eq!(allow_origin(response.headers()), None);

    // An actual request from the allowed origin can read the answer and its request id.
    let response = app
        .http
        .get(app.url("/healthz"))
        .header(ORIGIN, "https://fund.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        allow_origin(response.headers()).as_deref(),
        Some("https://fund.example")
    );
    let exposed = response
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("x-request-id"), "exposed: {exposed:?}");

    let response = app
        .http
        .get(app.url("/healthz"))
        .header(ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(response.headers()), None);
}

#[tokio::test]
async fn cors_is_closed_by_default() {
    let app = sqlite_app().await;
    let response = preflight(&app, "https://fund.example").await;
    assert_eq!(allow_origin(response.headers()), None);
}

#[tokio::test]
async fn allowed_hosts_refuses_other_host_names() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.allowed_hosts = vec!["fund.example".into()]
    })
    .await
    else {
        unreachable!()
    };
    let with_host =
        |host: &'static str| app.http.get(app.url("/healthz")).header(HOST, host).send();

    let response = with_host("other.example").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );

    // A host name that merely contains or extends the allowed one is another host.
    for host in ["evil-fund.example", "fund.example.evil.com"] {
        let response = with_host(host).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{host}");
    }

    for host in ["fund.example", "fund.example:8443", "FUND.example"] {
        let response = with_host(host).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "status": "ok" }), "{host}");
    }
}
