//! The real `saghat` binary changing accounts: `saghat user set-password|set-role|deactivate|
//! activate` and `create-admin --promote`, against a running `saghat serve`, on SQLite and
//! PostgreSQL.

use saghat_test_support as common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_saghat");
const ADMIN: &str = "chief";
const ADMIN_PASSWORD: &str = "chief-password-1";
const PASSWORD: &str = "member-password-1";

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A scratch folder and database for one test; `None` when PostgreSQL is unreachable and CI
/// is not set.
struct Sandbox {
    dir: tempfile::TempDir,
    database_url: String,
    _drop: Option<common::DatabaseGuard>,
}

impl Sandbox {
    async fn new(backend: Backend) -> Option<Sandbox> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, drop) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/x.db?mode=rwc", dir.path().display()),
                None,
            ),
            Backend::Postgres => {
                let (url, guard) = common::own_pg_database("saghat_cli_users").await?;
                (url, Some(guard))
            }
        };
        Some(Sandbox {
            dir,
            database_url,
            _drop: drop,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("APP_ENV", "test")
            .env("SAGHAT_DATA_DIR", self.dir.path())
            .env("DATABASE_URL", &self.database_url)
            .stdin(Stdio::null());
        command
    }

    /// `saghat <args>` to completion.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args)
            .envs(env.iter().copied())
            .output()
            .expect("saghat runs")
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args, &[]);
        assert!(
            output.status.success(),
            "saghat {args:?}: {}",
            describe(&output)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    }

    /// Runs a command that must fail; returns its stderr.
    fn fails(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = self.run(args, env);
        assert!(
            !output.status.success(),
            "saghat {args:?} should fail: {}",
            describe(&output)
        );
        String::from_utf8_lossy(&output.stderr).to_string()
    }
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn collect_lines(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// A running `saghat serve` (caches kept 1 s, no Redis); killed when dropped.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

impl Server {
    async fn start(sandbox: &Sandbox) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bind = format!("127.0.0.1:{port}");
        let mut child = sandbox
            .command(&["serve", "--bind", &bind])
            .env("SAGHAT_ADMIN_USERNAME", ADMIN)
            .env("SAGHAT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CACHE_TTL_SECONDS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("saghat serve starts");
        let stderr = collect_lines(child.stderr.take().unwrap());
        let server = Server {
            child,
            base: format!("http://{bind}"),
            stderr,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = server.http.get(server.url("/readyz")).send().await {
                if r.status() == StatusCode::OK {
                    return server;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "/readyz not 200 within 30 s:\n{}",
                server.stderr.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn call(
        &self,
        method: reqwest::Method,
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
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({ "username": username, "password": password });
        self.call(reqwest::Method::POST, "/api/auth/login", None, Some(body))
            .await
    }

    async fn token(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// Waits (at most 5 s: the server's caches live 1 s) until `token` is refused.
    async fn until_refused(&self, token: &str, what: &str) {
        let started = Instant::now();
        while self.get("/api/auth/me", token).await.0 != StatusCode::UNAUTHORIZED {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{what}: the old token still works"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn create_member(&self, admin: &str, username: &str) -> i64 {
        let body = json!({ "username": username, "password": PASSWORD });
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/auth/users",
                Some(admin),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    )+};
}

on_both_databases!(
    user_commands_change_accounts_and_end_sessions,
    user_commands_name_unknown_users_and_missing_passwords,
    create_admin_promotes_a_member_only_with_promote
);

async fn user_commands_change_accounts_and_end_sessions(backend: Backend) {
    let Some(sandbox) = Sandbox::new(backend).await else {
        return;
    };
    let server = Server::start(&sandbox).await;
    let admin = server.token(ADMIN, ADMIN_PASSWORD).await;
    let id = server.create_member(&admin, "sara").await;
    let (_, login) = server.login("sara", PASSWORD).await;
    let token = login["access_token"].as_str().unwrap().to_string();
    let refresh_token = login["refresh_token"].as_str().unwrap().to_string();

    // set-password (any letter case): the old sessions end, the new password works.
    let said = sandbox.ok(&[
        "user",
        "set-password",
        "SARA",
        "--password",
        "sara-new-password",
    ]);
    assert!(said.contains("password set"), "{said}");
    server.until_refused(&token, "set-password").await;
    let (status, _) = server
        .call(
            reqwest::Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh_token })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old refresh token");
    assert_eq!(
        server.login("sara", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let token = server.token("sara", "sara-new-password").await;

    // set-role: an accountant reads the fund's books.
    assert_eq!(
        server.get("/api/wallet/fund", &token).await.0,
        StatusCode::FORBIDDEN
    );
    let said = sandbox.ok(&["user", "set-role", "sara", "accountant"]);
    assert!(said.contains("accountant"), "{said}");
    let started = Instant::now();
    while server.get("/api/wallet/fund", &token).await.0 != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the new role never applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = sandbox.fails(&["user", "set-role", "sara", "boss"], &[]);
    assert!(refused.contains("boss"), "{refused}");

    // deactivate: no sign-in, no session; activate: sign-in again, the old session stays dead.
    sandbox.ok(&["user", "deactivate", "sara"]);
    server.until_refused(&token, "deactivate").await;
    assert_eq!(
        server.login("sara", "sara-new-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    sandbox.ok(&["user", "activate", "sara"]);
    let fresh = server.token("sara", "sara-new-password").await;
    assert_eq!(server.get("/api/auth/me", &fresh).await.0, StatusCode::OK);
    assert_eq!(
        server.get("/api/auth/me", &token).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Each change is audited, with no actor and the command as its source.
    let (status, audit) = server
        .get(
            &format!("/api/audit?action=user_changed&target=user:{id}"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let mut sources: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor_user_id"], Value::Null, "{e}");
            e["details"]["source"].as_str().unwrap().to_string()
        })
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        [
            "saghat user activate",
            "saghat user deactivate",
            "saghat user set-password",
            "saghat user set-role"
        ]
    );
    assert!(!audit.to_string().contains("sara-new-password"));
}

async fn user_commands_name_unknown_users_and_missing_passwords(backend: Backend) {
    let Some(sandbox) = Sandbox::new(backend).await else {
        return;
    };
    sandbox.ok(&["migrate"]);
    for args in [
        &[
            "user",
            "set-password",
            "ghost",
            "--password",
            "long-enough-pw",
        ][..],
        &["user", "set-role", "ghost", "member"],
        &["user", "deactivate", "ghost"],
        &["user", "activate", "ghost"],
    ] {
        let stderr = sandbox.fails(args, &[]);
        assert!(
            stderr.contains("no user named \"ghost\""),
            "{args:?}: {stderr}"
        );
    }
    sandbox.ok(&[
        "create-admin",
        "--username",
        "boss",
        "--password",
        "long-enough-pw",
    ]);
    let stderr = sandbox.fails(&["user", "set-password", "boss"], &[]);
    assert!(
        stderr.contains("--password") && stderr.contains("SAGHAT_USER_PASSWORD"),
        "{stderr}"
    );
    let stderr = sandbox.fails(
        &["user", "set-password", "boss", "--password", "short"],
        &[],
    );
    assert!(stderr.contains("at least 8"), "{stderr}");
    // The password may come from the environment instead.
    let output = sandbox.run(
        &["user", "set-password", "boss"],
        &[("SAGHAT_USER_PASSWORD", "from-the-environment")],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let server = Server::start(&sandbox).await;
    assert_eq!(
        server.login("boss", "from-the-environment").await.0,
        StatusCode::OK
    );
    assert_eq!(
        server.login("boss", "long-enough-pw").await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn create_admin_promotes_a_member_only_with_promote(backend: Backend) {
    let Some(sandbox) = Sandbox::new(backend).await else {
        return;
    };
    let server = Server::start(&sandbox).await;
    let admin = server.token(ADMIN, ADMIN_PASSWORD).await;
    server.create_member(&admin, "omid").await;
    let token = server.token("omid", PASSWORD).await;

    let stderr = sandbox.fails(
        &[
            "create-admin",
            "--username",
            "omid",
            "--password",
            "omid-admin-pw",
        ],
        &[],
    );
    assert!(stderr.contains("--promote"), "{stderr}");
    // Nothing changed: same password, same role, same session.
    let (status, body) = server.login("omid", PASSWORD).await;
    assert_eq!(
        (status, body["is_main"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{body}"
    );
    assert_eq!(server.get("/api/auth/me", &token).await.0, StatusCode::OK);

    let said = sandbox.ok(&[
        "create-admin",
        "--username",
        "Omid",
        "--password",
        "omid-admin-pw",
        "--promote",
    ]);
    assert!(said.contains("updated"), "{said}");
    server.until_refused(&token, "create-admin --promote").await;
    let (status, body) = server.login("omid", "omid-admin-pw").await;
    assert_eq!(
        (status, body["is_main"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{body}"
    );
    // An existing admin's password is reset without --promote, as before.
    sandbox.ok(&[
        "create-admin",
        "--username",
        ADMIN,
        "--password",
        "chief-password-2",
    ]);
    assert_eq!(
        server.login(ADMIN, "chief-password-2").await.0,
        StatusCode::OK
    );
}
