//! What operators and browsers see around the API: health endpoints, the OpenAPI document and
//! Swagger UI (served offline), request ids, CORS and `ALLOWED_HOSTS`.

use saghat_test_support as common;

use reqwest::header::{HeaderMap, HOST, LOCATION, ORIGIN};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};

use common::{Backend, TestApp};

common::on_both_databases!(readyz_follows_the_database);

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

#[tokio::test]
async fn the_docs_page_may_not_be_framed() {
    let app = sqlite_app().await;
    for path in ["/api/docs/", "/api/docs/swagger-initializer.js"] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = response
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn an_unfit_request_id_is_replaced_by_a_generated_one() {
    let app = sqlite_app().await;
    let huge = "a".repeat(10 * 1024);
    let too_long = "b".repeat(65);
    let unfit: [&[u8]; 6] = [
        huge.as_bytes(),
        too_long.as_bytes(),
        b"has spaces in it",
        b"tab\there",
        b"semi;colon",
        "caf\u{e9}".as_bytes(),
    ];
    let mut seen = std::collections::HashSet::new();
    for sent in unfit {
        let response = app
            .http
            .get(app.url("/healthz"))
            .header(
                "x-request-id",
                reqwest::header::HeaderValue::from_bytes(sent).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let id = request_id(response.headers());
        assert_ne!(id.as_bytes(), sent);
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "sent {:?}, got {id:?}: not a generated id",
            String::from_utf8_lossy(&sent[..sent.len().min(40)])
        );
        assert!(seen.insert(id), "a generated id was reused");
    }

    // The longest accepted id, with every allowed kind of character, is kept.
    let longest = format!("Ab9._-{}", "z".repeat(58));
    assert_eq!(longest.len(), 64);
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", &longest)
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(response.headers()), longest);
}

/// A raw TCP connection to the test server, for what an HTTP client library would not do.
async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    let address = app.base.trim_start_matches("http://");
    tokio::net::TcpStream::connect(address).await.unwrap()
}

/// Reads until the server closes the connection, at most `limit`; returns what was read and
/// whether the connection was closed (end of stream or reset) in time.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut received = vec![];
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (received, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

common::on_both_databases!(
    headers_sent_a_byte_a_second_are_cut_off,
    an_idle_kept_alive_connection_is_closed,
    a_declared_oversized_body_gets_413_before_it_is_sent,
);

async fn headers_sent_a_byte_a_second_are_cut_off(backend: Backend) {
    use tokio::io::AsyncWriteExt;
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.header_read_timeout = std::time::Duration::from_secs(2)
    })
    .await
    else {
        return;
    };
    let mut stream = connect(&app).await;
    let request =
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        // The pause between bytes doubles as the check that the server hung up.
        let (received, hung_up) =
            read_until_closed(&mut stream, std::time::Duration::from_secs(1)).await;
        let received = String::from_utf8_lossy(&received).to_string();
        assert!(
            !received.contains(" 200 "),
            "the slow request was served: {received}"
        );
        if hung_up {
            closed = true;
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(
        closed,
        "the server waited {elapsed:?} for headers sent a byte a second"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "closed only after {elapsed:?} (header read timeout 2 s)"
    );
    // Other clients are still served.
    let (status, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// Sends one complete keep-alive request and reads its whole answer (headers and a
/// `Content-Length` body), leaving the connection open.
async fn one_request(stream: &mut tokio::net::TcpStream, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = vec![];
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "closed before answering");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return text;
            }
        }
    }
}

async fn an_idle_kept_alive_connection_is_closed(backend: Backend) {
    use std::time::Duration;
    // Each timeout alone closes a kept-alive connection that sends nothing more: the idle
    // timeout (socket level), and the header timeout (hyper, waiting for the next request).
    for (header_read, idle) in [(30, 1), (1, 30)] {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.header_read_timeout = Duration::from_secs(header_read);
            c.idle_timeout = Duration::from_secs(idle);
        })
        .await
        else {
            return;
        };
        let mut stream = connect(&app).await;
        for _ in 0..2 {
            let answer = one_request(&mut stream, "/healthz").await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        let started = std::time::Instant::now();
        let (received, closed) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
        let elapsed = started.elapsed();
        assert!(
            closed,
            "header {header_read} s, idle {idle} s: an idle connection still open after {elapsed:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(900),
            "closed after {elapsed:?}, before either timeout"
        );
        assert!(
            received.is_empty() || String::from_utf8_lossy(&received).contains(" 408 "),
            "{}",
            String::from_utf8_lossy(&received)
        );
    }
}

async fn a_declared_oversized_body_gets_413_before_it_is_sent(backend: Backend) {
    use tokio::io::AsyncWriteExt;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.admin_token().await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/payments/pay HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Not a byte of the body is sent: the answer must come anyway, and the connection close.
    let (received, closed) =
        read_until_closed(&mut stream, std::time::Duration::from_secs(3)).await;
    let received = String::from_utf8_lossy(&received).to_string();
    assert!(
        received.starts_with("HTTP/1.1 413"),
        "no 413 within 3 s: {received:?}"
    );
    assert!(received.contains("Request body too large"), "{received}");
    assert!(
        received.to_ascii_lowercase().contains("x-request-id:"),
        "{received}"
    );
    assert!(closed, "the connection stayed open after the 413");
    assert_eq!(app.count("payments").await, 0);
}
