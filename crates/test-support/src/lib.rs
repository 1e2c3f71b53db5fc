//! Test harness shared by the integration tests (`use saghat_test_support as common;`): spawns the real HTTP server on a random port against a fresh database, on
//! SQLite (a temporary file) or PostgreSQL (a fresh schema in a database made for this run).
//!
//! PostgreSQL comes from `SAGHAT_TEST_POSTGRES_URL` (default the local server's `test`
//! database). When it is unreachable the PostgreSQL variant of each test is skipped with a
//! message — unless `CI` is set, where that is a failure.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use saghat_core::config::Config;
use saghat_core::platform::clock::ManualClock;
use saghat_http::app::{self, AppState};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

mod browser;
pub mod files;
pub mod invoicing;
pub use browser::{Browser, Page};
pub mod smtp;
pub mod tickets;
pub mod webdriver;
pub mod zarinpal;
pub use smtp::free_port;

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "member-password-1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// For each `async fn name(backend: Backend)` listed, generates the tests `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    )+};
}

/// 1 Azar 1405, noon UTC.
pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub backend: Backend,
    /// The in-process worker, when the test's configuration asks for one; dropped (stopped)
    /// before the database folder.
    pub worker: Option<saghat_worker::Worker>,
    _dir: Option<tempfile::TempDir>,
}

static PG_DATABASE: OnceCell<Option<String>> = OnceCell::const_new();

fn pg_admin_url() -> String {
    std::env::var("SAGHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The database this process made, dropped when it exits.
static DATABASE_TO_DROP: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Runs at the exit of the test process (after every test, passed or failed): drops its
/// database, ending the connections the tests' pools still hold. Test runtimes are gone by
/// then, so it makes its own. A process killed outright leaves its database behind; `.ci/run`
/// drops those before the suite and fails when the suite itself left one.
extern "C" fn drop_test_database() {
    let Some(name) = DATABASE_TO_DROP.lock().ok().and_then(|mut n| n.take()) else {
        return;
    };
    drop_database(&name);
}

/// Drops a PostgreSQL database made by a test, blocking (at most 60 s: dropping one with the
/// schemas of a whole test binary took 5-10 s on a loaded machine).
pub fn drop_database(name: &str) {
    use sqlx::Connection;
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let dropped = runtime.block_on(async {
        let work = async {
            let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await?;
            Ok::<_, sqlx::Error>(())
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), work).await
    });
    match dropped {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("cannot drop the test database {name}: {e}"),
        Err(_) => eprintln!("cannot drop the test database {name}: timed out"),
    }
}

/// Drops a PostgreSQL database a test made when the guard goes, passed or failed; on its own
/// thread, because a test's runtime cannot be blocked on from inside it.
pub struct DatabaseGuard(String);

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || drop_database(&name)).join();
    }
}

/// A PostgreSQL database of a test's own (`<prefix>_<uuid>`), for a test that runs the binary
/// against it: its URL and the guard that drops it. `None` means "skip": PostgreSQL is
/// unreachable and CI is not set.
pub async fn own_pg_database(prefix: &str) -> Option<(String, DatabaseGuard)> {
    use sqlx::Connection;
    let admin_url = pg_admin_url();
    let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but PostgreSQL is unreachable at {admin_url}: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPING PostgreSQL: cannot reach {admin_url} ({e})");
            return None;
        }
    };
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, _) = admin_url.rsplit_once('/').expect("a database path");
    Some((format!("{base}/{name}"), DatabaseGuard(name)))
}

/// A database of a test's own, for tests that run processes or clients of their own against
/// it (a SQLite file in a temporary folder, or a PostgreSQL database `<prefix>_<uuid>`); it is
/// removed when this goes. `None` means "skip", as for [`own_pg_database`].
pub struct OwnDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _guard: Option<DatabaseGuard>,
}

pub async fn own_database(backend: Backend, prefix: &str) -> Option<OwnDatabase> {
    Some(match backend {
        Backend::Sqlite => {
            let (url, dir) = fresh_database(backend).await?;
            OwnDatabase {
                url,
                _dir: dir,
                _guard: None,
            }
        }
        Backend::Postgres => {
            let (url, guard) = own_pg_database(prefix).await?;
            OwnDatabase {
                url,
                _dir: None,
                _guard: Some(guard),
            }
        }
    })
}

/// A database made once per test process, or `None` when PostgreSQL is unreachable.
async fn pg_database() -> Option<String> {
    PG_DATABASE
        .get_or_init(|| async {
            use sqlx::Connection;
            let admin_url = pg_admin_url();
            let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
                Ok(conn) => conn,
                Err(e) if std::env::var_os("CI").is_some() => panic!("CI is set but PostgreSQL is unreachable at {admin_url}: {e}"),
                Err(e) => {
                    eprintln!("SKIPPING PostgreSQL tests: cannot reach {admin_url} ({e}); set SAGHAT_TEST_POSTGRES_URL");
                    return None;
                }
            };
            let name = format!("saghat_test_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create test database");
            *DATABASE_TO_DROP.lock().unwrap() = Some(name.clone());
            // SAFETY: registers a plain function with no arguments to run at exit.
            unsafe { libc::atexit(drop_test_database) };
            let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
            Some(format!("{base}/{name}"))
        })
        .await
        .clone()
}

/// The URL of an empty database: a SQLite file in a temporary folder (returned, so it lives as
/// long as the caller keeps it), or a fresh schema in this process's PostgreSQL database, which
/// is dropped at exit. `None` means "skip": PostgreSQL is unreachable and CI is not set.
pub async fn fresh_database(backend: Backend) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/saghat.db?mode=rwc", dir.path().display());
            Some((url, Some(dir)))
        }
        Backend::Postgres => {
            let database = pg_database().await?;
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&database)
                .await
                .expect("connect test database");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .expect("create schema");
            Some((
                format!("{database}?options=-c%20search_path%3D{schema}"),
                None,
            ))
        }
    }
}

/// A fresh database with the migrations before `version` applied, for testing what migration
/// `version` does to data written under the older schema (`None`: skip, as `fresh_database`).
pub async fn migrated_before(
    backend: Backend,
    version: i64,
) -> Option<(saghat_core::platform::db::Db, Option<tempfile::TempDir>)> {
    use saghat_core::platform::db::{migrator, Db};
    let (url, dir) = fresh_database(backend).await?;
    let db = Db::connect(&url, 2).await.expect("connect");
    let mut older = migrator(db.backend);
    older.migrations = older
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    older.run(&db.pool).await.expect("older migrations");
    Some((db, dir))
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with a configuration adjusted by `tweak`. `None` means "skip": PostgreSQL is not
    /// available on this machine (and CI is not set).
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let (url, dir) = fresh_database(backend).await?;
        let mut config = Config::for_tests(url);
        config.admin_username = Some(ADMIN.into());
        config.admin_password = Some(ADMIN_PASSWORD.into());
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new(default_now()));
        let state = app::prepare(config, clock.clone())
            .await
            .expect("app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().unwrap();
        // The server `saghat serve` runs, with its timeouts, until the test ends.
        tokio::spawn(app::serve_until(
            state.clone(),
            listener,
            std::future::pending(),
        ));
        // And its worker, for the tests that ask for one (`config.jobs.in_process`).
        let worker = if state.config.jobs.in_process {
            Some(
                saghat_worker::Worker::start(state.ctx().clone())
                    .await
                    .expect("worker starts"),
            )
        } else {
            None
        };
        Some(TestApp {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            clock,
            state,
            backend,
            worker,
            _dir: dir,
        })
    }

    /// A browser on the web pages, with no session yet.
    pub fn browser(&self) -> Browser<'_> {
        Browser::new(&self.http, &self.base)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// A file GET with the token: status, content type, content disposition and the bytes.
    pub async fn get_file(&self, path: &str, token: &str) -> (StatusCode, String, String, Vec<u8>) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let (status, kind, disposition) = (
            response.status(),
            header("content-type"),
            header("content-disposition"),
        );
        (
            status,
            kind,
            disposition,
            response.bytes().await.unwrap().to_vec(),
        )
    }

    /// Sends raw bytes as the body, for malformed input.
    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
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

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({ "username": username, "password": password })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN, ADMIN_PASSWORD).await
    }

    /// Signs in through `/api/v1/auth/login/` (simplejwt's shape) with the test password and
    /// returns the access token.
    pub async fn v1_token(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/login/",
                None,
                Some(json!({ "username": username, "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access"].as_str().unwrap().to_string()
    }

    /// Creates a user of `role` (a `client` user linked to `client`) through
    /// `/api/v1/users/` as `admin`, and signs them in.
    pub async fn v1_user(
        &self,
        admin: &str,
        username: &str,
        role: &str,
        client: Option<i64>,
    ) -> String {
        let mut body = json!({ "username": username, "password": PASSWORD, "role": role });
        if let Some(client) = client {
            body["client"] = json!(client);
        }
        let (status, created) = self.post("/api/v1/users/", admin, body).await;
        assert_eq!(status, StatusCode::CREATED, "create {username}: {created}");
        self.v1_token(username).await
    }

    /// Creates a member (through the API, as the admin) and returns (id, token).
    pub async fn member(&self, admin: &str, username: &str, loan_request: &str) -> (i64, String) {
        let (status, body) = self
            .post(
                "/api/auth/users",
                admin,
                json!({ "username": username, "password": PASSWORD, "loan_request_amount": loan_request }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create {username}: {body}");
        (
            body["id"].as_i64().unwrap(),
            self.login(username, PASSWORD).await,
        )
    }

    /// Pays this month's fee (and `loan`, if given) with a fresh Bitpin id.
    pub async fn pay(&self, token: &str, fee: &str, loan: Option<&str>) -> (StatusCode, Value) {
        let mut body =
            json!({ "membership_fee": fee, "bitpin_payment_id": uuid::Uuid::new_v4().to_string() });
        if let Some(loan) = loan {
            body["loan"] = json!(loan);
        }
        self.post("/api/payments/pay", token, body).await
    }

    /// Moves the clock forward by whole days.
    pub fn advance_days(&self, days: i64) {
        self.clock.advance(chrono::Duration::days(days));
    }

    /// The admin as the services see them, for tests that call a service directly.
    pub async fn admin_user(&self) -> saghat_core::auth::CurrentUser {
        let (id, username): (i64, String) =
            sqlx::query_as("SELECT id, username FROM users WHERE role = 'admin'")
                .fetch_one(&self.state.db.pool)
                .await
                .unwrap();
        saghat_core::auth::CurrentUser {
            id,
            username,
            is_main: true,
            role: saghat_core::auth::Role::Admin,
            session_version: 0,
        }
    }

    /// Fails unless `saghat ledger verify` finds every invariant of the books kept.
    pub async fn assert_books_verify(&self) {
        let report = saghat_core::ledger::verify::verify(&self.state.db)
            .await
            .unwrap();
        assert!(report.is_ok(), "{report}");
    }

    /// Counts rows in a table straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
    }
}
