//! Signing in with OpenID Connect against a real provider: panva's `oidc-provider` (OpenID
//! Certified) on Node, from npm (`tests/oidc/`), driven through headless Chromium. On each
//! database:
//! - the web: an identity no account is linked to is refused; a member signed in with their
//!   password links it from their account page; then signs in with it; a tampered `state` is
//!   refused; a second provider links by verified e-mail (only verified) and maps a group claim
//!   to a role;
//! - an API client (RFC 8252: the code comes to its own redirect URI): signs in; the same state
//!   again, another client's binding, a replayed code, a wrong nonce and an expired ID token are
//!   each refused with their reason.
//!
//! Needs node and npm (the provider's packages are installed here with `npm ci` when missing),
//! Chromium and ChromeDriver: without them the test is skipped with a message, unless `CI` is
//! set, where that is a failure.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use saghat_core::auth::oidc::settings::OidcProvider;
use saghat_core::auth::Role;
use saghat_core::platform::secret::Secret;
use saghat_test_support as common;
use serde_json::{json, Value};

use common::webdriver::{
    browser_available, check_page_facts, Browser, ChromeDriver, Shots, PAGE_FACTS,
};
use common::{Backend, TestApp, PASSWORD};

const SECRET: &str = "saghat-test-client-secret-0123456789";

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Whether node can run the provider (installing its packages if needed).
fn provider_available() -> bool {
    let dir = provider_dir();
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let why = if !has_node {
        "node is not installed".to_string()
    } else if dir.join("node_modules/oidc-provider").exists() {
        return true;
    } else {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status();
        match installed {
            Ok(status) if status.success() => return true,
            other => format!("npm ci in {} failed: {other:?}", dir.display()),
        }
    };
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the OpenID provider cannot run: {why}");
    }
    eprintln!("SKIPPING the OpenID Connect test: {why}");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The provider's process, stopped on drop.
struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_provider(port: u16, clients: Value) -> Provider {
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .current_dir(provider_dir())
        .env("PORT", port.to_string())
        .env("CLIENTS", clients.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts the provider");
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("listening") {
        match out.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!("the provider stopped: {}", String::from_utf8_lossy(&seen)),
        }
    }
    Provider(child)
}

/// An API client's redirect URI: answers every request with "ok", so the browser lands on a
/// page whose URL carries the code and state.
fn native_callback() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            );
        }
    });
    format!("http://127.0.0.1:{port}/native-callback")
}

fn provider_config(name: &str, issuer: &str, client_id: &str) -> OidcProvider {
    OidcProvider {
        name: name.into(),
        label: format!("{name} ID"),
        issuer: issuer.into(),
        client_id: client_id.into(),
        client_secret: Some(Secret::new(SECRET)),
        scopes: vec!["email".into(), "profile".into()],
        link_by_email: false,
        role_claim: None,
        role_map: vec![],
        api_redirect_uris: vec![],
    }
}

async fn current_url(browser: &Browser) -> String {
    browser
        .run(Method::GET, "/url", json!(null))
        .await
        .as_str()
        .unwrap()
        .to_string()
}

/// Goes through the provider's pages (sign-in as `login`, consent) until the browser leaves
/// the provider; returns where it landed.
async fn through_provider(browser: &Browser, issuer: &str, login: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = current_url(browser).await;
        if !url.starts_with(issuer) {
            return url;
        }
        assert!(Instant::now() < deadline, "stuck at the provider: {url}");
        if browser.find("input[name=login]").await.is_ok() {
            browser.type_into("input[name=login]", login).await;
            browser.type_into("input[name=password]", "any").await;
            browser.submit("button[type=submit]").await;
        } else if browser.find("button[type=submit]").await.is_ok() {
            browser.submit("button[type=submit]").await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A fresh browser (no session at the provider or here).
async fn fresh(driver: &ChromeDriver) -> (Browser, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    browser.size(1280, 900).await;
    (browser, profile)
}

fn query_param(url: &str, name: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

/// Begins an API sign-in and takes the browser through the provider to the client's redirect
/// URI: (state, binding, code).
async fn api_code(
    app: &TestApp,
    browser: &Browser,
    issuer: &str,
    redirect: &str,
    login: &str,
    before_provider: impl std::future::Future<Output = ()>,
) -> (String, String, String) {
    let (status, started) = app
        .post(
            "/api/auth/oidc/test/start",
            "",
            json!({ "redirect_uri": redirect }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    before_provider.await;
    let authorize = started["authorization_url"].as_str().unwrap();
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(authorize.contains("nonce="), "{authorize}");
    browser.goto(authorize).await;
    let landed = through_provider(browser, issuer, login).await;
    assert!(landed.starts_with(redirect), "{landed}");
    assert_eq!(
        query_param(&landed, "state"),
        started["state"].as_str().unwrap()
    );
    (
        started["state"].as_str().unwrap().to_string(),
        started["client_binding"].as_str().unwrap().to_string(),
        query_param(&landed, "code"),
    )
}

async fn api_callback(
    app: &TestApp,
    state: &str,
    binding: &str,
    code: &str,
) -> (StatusCode, Value) {
    app.post(
        "/api/auth/oidc/test/callback",
        "",
        json!({ "code": code, "state": state, "client_binding": binding }),
    )
    .await
}

async fn error_text(browser: &Browser) -> String {
    browser.wait("#error-message").await;
    browser.text("#error-message").await
}

async fn identities_of(app: &TestApp, user_id: i64) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT provider, subject FROM oidc_identities WHERE user_id = $1 ORDER BY provider",
    )
    .bind(user_id)
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap()
}

async fn signs_in_with_openid_connect(backend: Backend) {
    if !browser_available() || !provider_available() {
        return;
    }
    let provider_port = free_port();
    let issuer = format!("http://127.0.0.1:{provider_port}");
    let redirect = native_callback();
    let app_issuer = issuer.clone();
    let app_redirect = redirect.clone();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        let mut test = provider_config("test", &app_issuer, "saghat");
        test.api_redirect_uris = vec![app_redirect];
        let mut corp = provider_config("corp", &app_issuer, "saghat-corp");
        corp.scopes.push("groups".into());
        corp.link_by_email = true;
        corp.role_claim = Some("groups".into());
        corp.role_map = vec![("fund-admins".into(), Role::Accountant)];
        c.oidc = vec![corp, test];
    })
    .await
    else {
        return;
    };
    // The provider's tokens carry the real time: Saghat's clock must agree.
    app.clock.set(chrono::Utc::now());
    let client = |id: &str, name: &str, extra: Vec<String>| {
        let mut uris = vec![format!("{}/auth/oidc/{name}/callback", app.base)];
        uris.extend(extra);
        json!({ "client_id": id, "client_secret": SECRET, "redirect_uris": uris,
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "scope": "openid email profile groups" })
    };
    let _provider = start_provider(
        provider_port,
        json!([
            client("saghat", "test", vec![redirect.clone()]),
            client("saghat-corp", "corp", vec![])
        ]),
    );
    let admin = app.admin_token().await;
    let (status, amir) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "amir", "password": PASSWORD, "email": "amir@example.test" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{amir}");
    let amir_id = amir["id"].as_i64().unwrap();

    let (status, listed) = app.get("/api/auth/oidc/providers", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed,
        json!([{ "name": "corp", "label": "corp ID" }, { "name": "test", "label": "test ID" }])
    );

    let driver = ChromeDriver::start();
    let shots = Shots::new();
    let (browser, _profile) = fresh(&driver).await;

    // 1. Not linked yet: the provider signs "amir" in, Saghat does not (no e-mail linking here).
    if backend == Backend::Sqlite {
        let pages = [("/login", "login", "#oidc-start-test")];
        // Before sign-in the navigation is the language switch alone.
        let signed_out = |facts: &Value, lang: &str, at: &str| {
            assert_eq!(facts["nav"], 1, "{at}");
            let mut facts = facts.clone();
            facts["nav"] = json!(2);
            check_page_facts(&facts, lang, at)
        };
        shots
            .tour(
                &browser, &app.base, "oidc", &pages, 60, PAGE_FACTS, signed_out,
            )
            .await;
    }
    browser.goto(&app.url("/login?lang=en")).await;
    browser.wait("#oidc-start-test").await;
    browser.submit("#oidc-start-test").await;
    let landed = through_provider(&browser, &issuer, "amir").await;
    assert!(
        landed.starts_with(&app.url("/auth/oidc/test/callback")),
        "{landed}"
    );
    let said = error_text(&browser).await;
    assert!(said.contains("No account here is linked"), "{said}");
    assert!(identities_of(&app, amir_id).await.is_empty());

    // 2. amir signs in with the password and links the identity from the account page.
    browser.goto(&app.url("/login")).await;
    browser.type_into("#username", "amir").await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .submit("form[action='/login'] button[type=submit]")
        .await;
    browser.wait("form.signout").await;
    browser.goto(&app.url("/account/sign-in")).await;
    browser.wait("#oidc-test").await;
    assert!(browser.text("#oidc-test").await.contains("Not linked"));
    browser.submit("#oidc-test button[type=submit]").await;
    let landed = through_provider(&browser, &issuer, "amir").await;
    assert!(landed.contains("/account/sign-in?done=linked"), "{landed}");
    browser.wait("#oidc-test").await;
    let linked = browser.text("#oidc-test").await;
    assert!(
        linked.contains("Linked") && linked.contains("amir@example.test"),
        "{linked}"
    );
    if backend == Backend::Sqlite {
        let pages = [("/account/sign-in", "account", "#oidc-test")];
        shots
            .tour(
                &browser,
                &app.base,
                "oidc",
                &pages,
                61,
                PAGE_FACTS,
                check_page_facts,
            )
            .await;
        browser.goto(&app.url("/account/sign-in?lang=en")).await;
    }
    assert_eq!(
        identities_of(&app, amir_id).await,
        [("test".to_string(), "amir".to_string())]
    );

    // 3. Signed out, amir signs in with the provider alone and lands on the dashboard.
    browser.submit("form.signout button").await;
    browser.wait("#oidc-start-test").await;
    browser.submit("#oidc-start-test").await;
    let landed = through_provider(&browser, &issuer, "amir").await;
    assert!(landed.ends_with("/dashboard"), "{landed}");
    browser.wait("form.signout").await;
    assert!(browser.text("form.signout .who").await.contains("amir"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'login_oidc' AND actor_user_id = $1",
    )
    .bind(amir_id)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // 4. A tampered state signs nobody in.
    browser
        .goto(&app.url("/auth/oidc/test/callback?code=forged&state=tampered"))
        .await;
    let said = error_text(&browser).await;
    assert!(said.contains("not started in this browser"), "{said}");

    // 5. The second provider links by verified e-mail and maps the group claim to a role: boss1
    //    (in fund-admins at the provider) becomes an accountant; unverified1 is not linked.
    for (name, email) in [
        ("boss1", "boss1@example.test"),
        ("unverified1", "unverified1@example.test"),
    ] {
        let (status, made) = app
            .post(
                "/api/auth/users",
                &admin,
                json!({ "username": name, "password": PASSWORD, "email": email }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
    }
    let (boss_browser, _boss_profile) = fresh(&driver).await;
    boss_browser.goto(&app.url("/login")).await;
    boss_browser.submit("#oidc-start-corp").await;
    let landed = through_provider(&boss_browser, &issuer, "boss1").await;
    assert!(landed.ends_with("/dashboard"), "{landed}");
    let boss = app.login("boss1", PASSWORD).await;
    let (_, me) = app.get("/api/auth/me", &boss).await;
    assert_eq!(me["role"], "accountant", "{me}");
    boss_browser.quit().await;
    let (unverified_browser, _unverified_profile) = fresh(&driver).await;
    unverified_browser.goto(&app.url("/login")).await;
    unverified_browser.submit("#oidc-start-corp").await;
    through_provider(&unverified_browser, &issuer, "unverified1").await;
    let said = error_text(&unverified_browser).await;
    assert!(said.contains("No account here is linked"), "{said}");
    unverified_browser.quit().await;

    // 6. An API client signs amir in; the provider still has amir's session in `browser`.
    let (state, binding, code) =
        api_code(&app, &browser, &issuer, &redirect, "amir", async {}).await;
    let (status, refused) = api_callback(&app, &state, "another-clients-binding", &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, tokens) = api_callback(&app, &state, &binding, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["user_id"], amir_id);
    let (_, me) = app
        .get("/api/auth/me", tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me["username"], "amir", "{me}");
    // The same state again: this sign-in is over.
    let (status, replay) = api_callback(&app, &state, &binding, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{replay}");
    assert!(
        replay["detail"].as_str().unwrap().contains("already used"),
        "{replay}"
    );
    // The used code with a new sign-in's state: the provider refuses it.
    let (status, again) = app
        .post(
            "/api/auth/oidc/test/start",
            "",
            json!({ "redirect_uri": redirect }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, replay) = api_callback(
        &app,
        again["state"].as_str().unwrap(),
        again["client_binding"].as_str().unwrap(),
        &code,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{replay}");
    assert!(
        replay["detail"]
            .as_str()
            .unwrap()
            .contains("refused the sign-in code"),
        "{replay}"
    );

    // 7. A nonce other than the one sent (as if another sign-in's ID token were slipped in).
    let pool = app.state.db.pool.clone();
    let (state, binding, code) = api_code(&app, &browser, &issuer, &redirect, "amir", async {
        sqlx::query("UPDATE oidc_logins SET nonce = 'not-the-nonce-sent'")
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
    let (status, refused) = api_callback(&app, &state, &binding, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("ID token is not valid") && detail.to_lowercase().contains("nonce"),
        "{detail}"
    );

    // 8. An ID token past its expiry (the provider gives them 60 s) when it reaches Saghat.
    let (state, binding, code) =
        api_code(&app, &browser, &issuer, &redirect, "amir", async {}).await;
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, refused) = api_callback(&app, &state, &binding, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("ID token is not valid") && detail.to_lowercase().contains("expire"),
        "{detail}"
    );

    // 9. amir unlinks: the provider no longer signs them in.
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/auth/oidc/test/identity",
            tokens["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(identities_of(&app, amir_id).await.is_empty());
    browser.quit().await;
    app.assert_books_verify().await;
}

common::on_both_databases!(signs_in_with_openid_connect);
