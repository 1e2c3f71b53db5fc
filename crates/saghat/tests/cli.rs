//! The real `saghat` binary: its commands, and `serve` as an operator runs it (environment,
//! fake clock, JSON logs, first-start admin, SIGTERM), on SQLite and PostgreSQL.

use saghat_test_support as common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_saghat");

/// A scratch folder for one run of the binary, with its own SQLite database (unless the
/// database URL is replaced) and a clean environment.
struct Sandbox {
    dir: tempfile::TempDir,
    database_url: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite://{}/x.db?mode=rwc", dir.path().display());
        Sandbox { dir, database_url }
    }

    fn with_database(database_url: String) -> Sandbox {
        Sandbox {
            database_url,
            ..Sandbox::new()
        }
    }

    /// `saghat <args>` in the sandbox, with only the environment given here (no `.env`, no
    /// `RUST_LOG`, nothing inherited from the test runner).
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

    /// Runs a command to completion (at most 60 s).
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        command
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("saghat starts");
        let started = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "saghat {args:?} did not finish in 60 s: {}",
                    describe(&output)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("x.db")
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

type Lines = Arc<Mutex<Vec<String>>>;

fn collect_lines(stream: impl Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => sink.lock().unwrap().push(line),
                Err(_) => break,
            }
        }
    });
    lines
}

/// A running `saghat serve`; killed when dropped if still running.
struct Server {
    child: Child,
    base: String,
    stdout: Lines,
    stderr: Lines,
    http: reqwest::Client,
}

impl Server {
    fn start(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        Server::run(sandbox, &["serve", "--bind", &bind], env, &bind)
    }

    /// `saghat worker`: no address, so only its output and its exit tell what it does.
    fn worker(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
        Server::run(sandbox, &["worker"], env, "127.0.0.1:9")
    }

    fn run(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)], bind: &str) -> Server {
        let mut command = sandbox.command(args);
        command
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("saghat serve starts");
        let stdout = collect_lines(child.stdout.take().unwrap());
        let stderr = collect_lines(child.stderr.take().unwrap());
        Server {
            child,
            base: format!("http://{bind}"),
            stdout,
            stderr,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }

    /// Waits (at most 30 s) for a line of output containing `text`.
    async fn wait_for_line(&mut self, text: &str) {
        let started = Instant::now();
        while !self.output().contains(text) {
            if let Some(status) = self.child.try_wait().unwrap() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!("saghat exited early ({status}):\n{}", self.output());
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!("no {text:?} within 30 s:\n{}", self.output());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `/readyz` until it answers 200 (at most 30 s).
    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                tokio::time::sleep(Duration::from_millis(200)).await; // let the readers drain
                panic!("saghat serve exited early ({status}):\n{}", self.output());
            }
            if let Ok(response) = self.http.get(self.url("/readyz")).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!("/readyz not 200 within 30 s:\n{}", self.output());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn token(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Sends SIGTERM and waits (at most 10 s) for the process to exit.
    async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(kill.success(), "kill -TERM {pid} failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(10) {
                panic!(
                    "saghat serve still running 10 s after SIGTERM:\n{}",
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `saghat migrate`, which (with `serve`) alone may create a database.
fn migrate(sandbox: &Sandbox) {
    let output = sandbox.run(&["migrate"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
}

const ADMIN_ENV: [(&str, &str); 2] = [
    ("SAGHAT_ADMIN_USERNAME", "chief"),
    ("SAGHAT_ADMIN_PASSWORD", "chief-password-1"),
];

#[test]
fn help_lists_the_commands() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["--help"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "worker", "migrate", "setup-fund", "create-admin"] {
        assert!(
            help.contains(command),
            "--help does not list {command}:\n{help}"
        );
    }
    // Help does not touch the database.
    assert!(!sandbox.db_path().exists());
}

#[tokio::test]
async fn migrate_creates_the_schema_and_can_run_again() {
    use sqlx::Connection;
    let sandbox = Sandbox::new();
    for run in 1..=2 {
        let output = sandbox.run(&["migrate"], &[]);
        assert!(output.status.success(), "run {run}: {}", describe(&output));
    }
    let mut conn = sqlx::SqliteConnection::connect(&sandbox.database_url)
        .await
        .unwrap();
    for table in ["users", "payments", "fund_config"] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("table {table} after migrate: {e}"));
        assert_eq!(n, 0, "{table}");
    }
}

#[tokio::test]
async fn setup_fund_creates_then_updates_and_the_api_serves_it() {
    let sandbox = Sandbox::new();
    migrate(&sandbox);
    let output = sandbox.run(
        &[
            "setup-fund",
            "--min-fee",
            "21",
            "--max-months",
            "12",
            "--min-payment",
            "22",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let said = String::from_utf8_lossy(&output.stdout).to_lowercase();
    assert!(
        said.contains("created") && !said.contains("updated"),
        "{said}"
    );

    let output = sandbox.run(
        &[
            "setup-fund",
            "--min-fee",
            "25",
            "--max-months",
            "36",
            "--min-payment",
            "30",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let said = String::from_utf8_lossy(&output.stdout).to_lowercase();
    assert!(
        said.contains("updated") && !said.contains("created"),
        "{said}"
    );

    // Nonsense values are refused and change nothing.
    let output = sandbox.run(&["setup-fund", "--min-fee", "0"], &[]);
    assert!(!output.status.success(), "{}", describe(&output));
    let output = sandbox.run(&["setup-fund", "--min-fee", "abc"], &[]);
    assert!(!output.status.success(), "{}", describe(&output));

    // `serve` keeps the configuration it finds.
    let mut server = Server::start(&sandbox, &ADMIN_ENV);
    server.wait_ready().await;
    let token = server.token("chief", "chief-password-1").await;
    let (status, config) = server.get("/api/payments/config", &token).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(
        config,
        json!({ "min_membership_fee": "25.00000000", "max_month_for_loan_payment": 36, "min_amount_for_loan_payment": "30.00000000" })
    );
}

#[tokio::test]
async fn create_admin_makes_a_main_user_who_can_log_in() {
    let sandbox = Sandbox::new();
    migrate(&sandbox);
    let output = sandbox.run(
        &[
            "create-admin",
            "--username",
            "boss",
            "--password",
            "long-enough-pw",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", describe(&output));

    let said = String::from_utf8_lossy(&output.stdout).to_lowercase();
    assert!(said.contains("created"), "{said}");

    // Run again for the same user (any letter case): the password is reset.
    let output = sandbox.run(
        &[
            "create-admin",
            "--username",
            "Boss",
            "--password",
            "new-long-enough-pw",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let said = String::from_utf8_lossy(&output.stdout).to_lowercase();
    assert!(said.contains("updated"), "{said}");
    let output = sandbox.run(
        &[
            "create-admin",
            "--username",
            "boss",
            "--password",
            "long-enough-pw",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", describe(&output));

    // Too short a password is refused.
    let output = sandbox.run(
        &[
            "create-admin",
            "--username",
            "shorty",
            "--password",
            "short",
        ],
        &[],
    );
    assert!(!output.status.success(), "{}", describe(&output));

    let mut server = Server::start(&sandbox, &[]);
    server.wait_ready().await;
    let (status, body) = server.login("boss", "long-enough-pw").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_main"], true, "{body}");
    let (status, _) = server.login("shorty", "short").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A main user exists, so serve did not make another one.
    let stdout = server.stdout().join("\n");
    assert!(!stdout.contains("created main user"), "{stdout}");
    let token = server.token("boss", "long-enough-pw").await;
    let (status, users) = server.get("/api/auth/users", &token).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
}

#[test]
fn create_admin_without_flags_or_terminal_fails_with_a_message() {
    let sandbox = Sandbox::new();
    migrate(&sandbox);
    let output = sandbox.run(&["create-admin"], &[]);
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--username"), "{}", describe(&output));
}

/// Every value named `request_id` anywhere in a JSON value.
fn request_ids(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "request_id" {
                    if let Some(id) = value.as_str() {
                        found.push(id.to_string());
                    }
                }
                request_ids(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| request_ids(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn serve_with_a_fake_clock_json_logs_and_a_graceful_sigterm() {
    let sandbox = Sandbox::new();
    let mut env = vec![
        ("SAGHAT_FAKE_NOW", "2026-03-21T10:00:00Z"),
        ("APP_ENV", "dev"),
        ("LOG_FORMAT", "json"),
    ];
    env.extend(ADMIN_ENV);
    let mut server = Server::start(&sandbox, &env);
    server.wait_ready().await;

    let token = server.token("chief", "chief-password-1").await;
    let trace = format!("cli-smoke-{}", uuid::Uuid::new_v4().simple());
    let response = server
        .http
        .post(server.url("/api/payments/pay"))
        .bearer_auth(&token)
        .header("x-request-id", &trace)
        .json(&json!({ "membership_fee": "20", "bitpin_payment_id": "smoke-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], trace.as_str());
    let payment: Value = response.json().await.unwrap();
    // 2026-03-21 is 1 Farvardin 1405.
    assert_eq!(payment["jalali_year"], 1405, "{payment}");
    assert_eq!(payment["jalali_month"], 1, "{payment}");

    // Logs are JSON lines, and the request's log lines carry its id.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stdout = server.stdout();
    let stderr = server.stderr.lock().unwrap().clone();
    let mut logs = vec![];
    for line in stdout.iter().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|_| panic!("LOG_FORMAT=json but stdout has a non-JSON line: {line}"));
        logs.push(value);
    }
    logs.extend(
        stderr
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
    );
    assert!(!logs.is_empty(), "no JSON log lines:\n{}", server.output());
    let mut ids = vec![];
    logs.iter().for_each(|l| request_ids(l, &mut ids));
    assert!(
        ids.iter().any(|id| id == &trace),
        "no log line has request_id {trace}:\n{}",
        server.output()
    );

    // The HTTP client still holds a keep-alive connection: shutdown must not wait on it.
    assert!(
        server.output().contains("worker started"),
        "serve works the job queue by default:\n{}",
        server.output()
    );
    let status = server.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn serve_can_leave_the_jobs_to_a_worker_process_that_stops_on_sigterm() {
    let sandbox = Sandbox::new();
    let mut env = vec![("WORKER_IN_PROCESS", "false")];
    env.extend(ADMIN_ENV);
    let mut server = Server::start(&sandbox, &env);
    server.wait_ready().await;
    assert!(
        server.output().contains("WORKER_IN_PROCESS=false"),
        "serve says who works the jobs:\n{}",
        server.output()
    );
    assert!(
        !server.output().contains("worker started"),
        "{}",
        server.output()
    );

    let mut worker = Server::worker(&sandbox, &[]);
    worker.wait_for_line("worker started").await;
    // The hourly housekeeping job runs once at start, in the worker.
    worker
        .wait_for_line("housekeeping: removed expired rows")
        .await;
    let status = worker.terminate().await;
    assert!(
        status.success(),
        "worker's exit status after SIGTERM: {status}"
    );
    assert!(
        worker.output().contains("worker stopped"),
        "{}",
        worker.output()
    );
    assert!(server.terminate().await.success());
}

fn generated_password(stdout: &[String]) -> Option<String> {
    let line = stdout.iter().find(|l| l.contains("created main user"))?;
    let (_, rest) = line.split_once("with password ")?;
    rest.split_whitespace().next().map(str::to_string)
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn first_start_writes_a_generated_admin_password_to_a_private_file() {
    let sandbox = Sandbox::new();
    let file = sandbox.dir.path().join("initial-admin-password");
    let mut server = Server::start(&sandbox, &[]);
    server.wait_ready().await;
    assert!(file.exists(), "no {}:\n{}", file.display(), server.output());
    assert_eq!(mode(&file), 0o600, "{}", file.display());
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(password.len() >= 12, "weak generated password {password:?}");
    let (status, body) = server.login("admin", &password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_main"], true, "{body}");
    // stdout is not a terminal: the password is in neither stream, the logs name the file.
    let output = server.output();
    assert!(
        !output.contains(&password),
        "password in the output:\n{output}"
    );
    assert!(
        output.contains(&file.display().to_string()),
        "the logs do not say where the password is:\n{output}"
    );
    assert!(server.terminate().await.success());

    // A second start finds the admin: nothing new is written or said.
    std::fs::remove_file(&file).unwrap();
    let mut server = Server::start(&sandbox, &[]);
    server.wait_ready().await;
    let (status, body) = server.login("admin", &password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!file.exists());
    let output = server.output();
    assert!(!output.contains("created the main user"), "{output}");
    assert!(server.terminate().await.success());
}

/// A pseudo-terminal: the controller end, read by a thread into lines, and the end to give a
/// child as its stdout.
#[cfg(unix)]
fn terminal() -> (Lines, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut controller, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new file descriptors into the integers given; no name, no
    // settings, no window size are asked for.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned by nothing else.
    let (controller, terminal) = unsafe {
        (
            std::fs::File::from_raw_fd(controller),
            std::os::fd::OwnedFd::from_raw_fd(terminal),
        )
    };
    (collect_lines(controller), terminal)
}

#[cfg(unix)]
#[tokio::test]
async fn first_start_shows_a_generated_admin_password_on_the_terminal() {
    let sandbox = Sandbox::new();
    let (screen, terminal) = terminal();
    let port = free_port();
    let mut child = sandbox
        .command(&["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::from(terminal))
        .stderr(Stdio::piped())
        .spawn()
        .expect("saghat serve starts");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let password = loop {
        let lines = screen.lock().unwrap().clone();
        if let Some(password) = generated_password(&lines) {
            break password;
        }
        if started.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("no password on the terminal:\n{}", lines.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let login = loop {
        match http
            .post(format!("http://127.0.0.1:{port}/api/auth/login"))
            .json(&json!({ "username": "admin", "password": password }))
            .send()
            .await
        {
            Ok(response) => break response,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("cannot reach the server: {e}"),
        }
    };
    assert_eq!(login.status(), StatusCode::OK);
    assert!(
        !sandbox.dir.path().join("initial-admin-password").exists(),
        "a terminal was there: no file should be written"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_and_database_files_are_private() {
    let sandbox = Sandbox::new();
    // The default database, in a data folder that does not exist yet.
    let data = sandbox.dir.path().join("data");
    let mut command = sandbox.command(&["migrate"]);
    command
        .env("SAGHAT_DATA_DIR", &data)
        .env_remove("DATABASE_URL");
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    let database = data.join("saghat.db");
    assert_eq!(mode(&database), 0o600, "{}", database.display());

    // While a server writes, SQLite's -wal and -shm files exist: private too.
    let sandbox = Sandbox::new();
    let mut server = Server::start(&sandbox, &ADMIN_ENV);
    server.wait_ready().await;
    server.token("chief", "chief-password-1").await;
    for suffix in ["", "-wal", "-shm"] {
        let path = sandbox.dir.path().join(format!("x.db{suffix}"));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn setup_fund_changes_only_the_settings_given() {
    let sandbox = Sandbox::new();
    migrate(&sandbox);
    // No configuration yet: the one setting given, the defaults for the others.
    let output = sandbox.run(&["setup-fund", "--max-months", "12"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("created: min fee 20.00000000, max months 12, min loan payment 20.00000000"),
        "{said}"
    );
    let output = sandbox.run(&["setup-fund", "--min-fee", "25"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
    let output = sandbox.run(&["setup-fund", "--min-payment", "30.5"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("updated: min fee 25.00000000, max months 12, min loan payment 30.50000000"),
        "{said}"
    );
    // Nothing given: nothing changes.
    let output = sandbox.run(&["setup-fund"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("unchanged"),
        "{}",
        describe(&output)
    );
    // From a month already over: refused, history is not rewritten; from a later one: kept
    // for then, this month's settings stay.
    let output = sandbox.run(&["setup-fund", "--min-fee", "40", "--from", "1300/01"], &[]);
    assert!(!output.status.success());
    assert!(
        describe(&output).contains("not from 1300/1"),
        "{}",
        describe(&output)
    );
    let output = sandbox.run(&["setup-fund", "--min-fee", "40", "--from", "soon"], &[]);
    assert!(!output.status.success());
    assert!(
        describe(&output).contains("YYYY/MM"),
        "{}",
        describe(&output)
    );
    let output = sandbox.run(&["setup-fund", "--min-fee", "40", "--from", "9999/01"], &[]);
    assert!(output.status.success(), "{}", describe(&output));

    let mut server = Server::start(&sandbox, &ADMIN_ENV);
    server.wait_ready().await;
    let token = server.token("chief", "chief-password-1").await;
    let (status, config) = server.get("/api/payments/config", &token).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(
        config,
        json!({ "min_membership_fee": "25.00000000", "max_month_for_loan_payment": 12, "min_amount_for_loan_payment": "30.50000000" })
    );
}

#[tokio::test]
async fn only_serve_and_migrate_create_a_database() {
    let sandbox = Sandbox::new();
    let commands: [&[&str]; 3] = [
        &["ledger", "verify"],
        &["setup-fund", "--min-fee", "25"],
        &[
            "create-admin",
            "--username",
            "boss",
            "--password",
            "long-enough-pw",
        ],
    ];
    for args in commands {
        let output = sandbox.run(args, &[]);
        assert!(!output.status.success(), "{args:?}: {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no database at") && stderr.contains("x.db"),
            "{args:?}: {}",
            describe(&output)
        );
        assert!(
            !sandbox.db_path().exists(),
            "{args:?} created {:?}",
            sandbox.db_path()
        );
    }
    // A misspelt folder is not created either.
    let wrong = Sandbox::with_database(format!(
        "sqlite://{}/no-such-folder/x.db?mode=rwc",
        sandbox.dir.path().display()
    ));
    let output = wrong.run(&["ledger", "verify"], &[]);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(!sandbox.dir.path().join("no-such-folder").exists());

    // An existing database without Saghat's tables is not migrated by a reading command.
    let empty = sandbox.dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let other = Sandbox::with_database(format!("sqlite://{}", empty.display()));
    let output = other.run(&["ledger", "verify"], &[]);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no Saghat tables"),
        "{}",
        describe(&output)
    );
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", empty.display()))
            .await
            .unwrap();
        let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(tables, 0, "ledger verify created tables");
    }

    // Once migrated, they work.
    migrate(&sandbox);
    for args in commands {
        let output = sandbox.run(args, &[]);
        assert!(output.status.success(), "{args:?}: {}", describe(&output));
    }
}

#[test]
fn a_database_that_cannot_be_reached_is_named_once() {
    let port = free_port();
    let sandbox = Sandbox::with_database(format!(
        "postgres://postgres:secret-pw@127.0.0.1:{port}/saghat"
    ));
    for args in [&["ledger", "verify"][..], &["migrate"][..], &["serve"][..]] {
        let output = sandbox.run(args, &[]);
        assert!(!output.status.success(), "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!("connection refused at 127.0.0.1:{port}");
        assert!(
            stderr.contains(&expected),
            "{args:?}: {}",
            describe(&output)
        );
        assert_eq!(
            stderr.to_lowercase().matches("connection refused").count(),
            1,
            "{args:?}: said more than once: {stderr}"
        );
        assert!(!stderr.contains("secret-pw"), "{stderr}");
    }
}

#[test]
fn a_bare_port_as_the_address_says_host_port() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["serve"], &[("BIND", "8000")]);
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BIND") && stderr.contains("HOST:PORT"),
        "{}",
        describe(&output)
    );
    let output = sandbox.run(&["serve", "--bind", "8000"], &[]);
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HOST:PORT"), "{}", describe(&output));
}

#[test]
fn timeouts_that_cannot_work_are_refused() {
    let sandbox = Sandbox::new();
    let cases: [&[(&str, &str)]; 8] = [
        &[("HEADER_READ_TIMEOUT_SECONDS", "0")],
        &[("IDLE_TIMEOUT_SECONDS", "0")],
        &[
            ("IDLE_TIMEOUT_SECONDS", "10"),
            ("REQUEST_TIMEOUT_SECONDS", "30"),
        ],
        // A job rescued while its attempt may still run could run twice at once.
        &[
            ("JOB_RESCUE_AFTER_SECONDS", "30"),
            ("JOB_TIMEOUT_SECONDS", "60"),
        ],
        &[("JOB_MAX_ATTEMPTS", "0")],
        &[("WORKER_CONCURRENCY", "0")],
        // Not every Jalali month has a 30th day for the reminder.
        &[("FUND_REMINDER_DAY", "30")],
        &[("FUND_NOTICE_HOUR", "24")],
    ];
    for env in cases {
        let output = sandbox.run(&["serve", "--bind", "127.0.0.1:0"], env);
        assert!(!output.status.success(), "{env:?}: {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("configuration error") && stderr.contains(env[0].0),
            "{env:?}: {}",
            describe(&output)
        );
    }
}

#[tokio::test]
async fn logs_have_no_colour_codes_when_not_on_a_terminal() {
    let sandbox = Sandbox::new();
    let mut server = Server::start(&sandbox, &ADMIN_ENV);
    server.wait_ready().await;
    server.token("chief", "chief-password-1").await;
    let output = server.output();
    assert!(
        output.contains("Saghat is serving"),
        "no log lines to check:\n{output}"
    );
    assert!(
        !output.contains('\u{1b}'),
        "colour codes in the logs:\n{output:?}"
    );
    assert!(server.terminate().await.success());
}

#[test]
fn fake_clock_is_refused_in_production() {
    let sandbox = Sandbox::new();
    let port = free_port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let env = [
        ("APP_ENV", "prod"),
        ("SECRET_KEY", "a-production-secret-of-at-least-32-chars"),
        (
            "JWT_SECRET_KEY",
            "a-production-jwt-secret-of-32-chars-or-more",
        ),
        ("SAGHAT_FAKE_NOW", "2026-03-21T10:00:00Z"),
    ];
    let output = sandbox.run(&["serve", "--bind", &bind], &env);
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("configuration") && stderr.contains("SAGHAT_FAKE_NOW"),
        "{}",
        describe(&output)
    );
    assert!(
        !sandbox.db_path().exists(),
        "the database was touched before the configuration was checked"
    );
}

#[tokio::test]
async fn serve_on_postgresql() {
    let Some((database_url, _drop)) = common::own_pg_database("saghat_cli").await else {
        return;
    };
    let sandbox = Sandbox::with_database(database_url);

    let mut server = Server::start(&sandbox, &ADMIN_ENV);
    server.wait_ready().await;
    let (status, body) = server.login("chief", "chief-password-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let (status, me) = server.get("/api/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "chief");
    assert!(server.terminate().await.success());
    // Nothing was written to SQLite instead.
    assert!(!sandbox.db_path().exists() && !sandbox.dir.path().join("saghat.db").exists());
}

#[tokio::test]
async fn ledger_verify_passes_on_sound_books_and_fails_on_forged_ones() {
    use sqlx::Connection;
    let sandbox = Sandbox::new();
    migrate(&sandbox);
    let output = sandbox.run(&["ledger", "verify"], &[]);
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ok   every journal transaction balances in each currency"),
        "{stdout}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");

    // Forge an entry the guards would refuse through the application: one-sided cash.
    let mut conn = sqlx::SqliteConnection::connect(&sandbox.database_url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO journal_transactions (id, kind, memo, jalali_year, jalali_month, created_at) \
         VALUES ('forged', 'reversal', '', 1405, 9, 'x')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency) \
         SELECT 'forged', id, 100, 0, 'USDT' FROM ledger_accounts WHERE kind = 'fund_cash'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let output = sandbox.run(&["ledger", "verify"], &[]);
    assert!(!output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("FAIL every journal transaction balances in each currency"),
        "{stdout}"
    );
    assert!(stdout.contains("transaction forged"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("the ledger is inconsistent"));
}

/// A crash between Zarinpal's verification and the recording of the payment: `serve` exits
/// right after `verify.json` said 100 (`SAGHAT_TEST_CRASH_AFTER_VERIFY`), so the payer's money
/// is taken and Saghat has written nothing. `saghat payments reconcile` then finds the payment
/// verified at Zarinpal (`inquiry.json`), verifies again (101) and records it once; a second
/// run records nothing more, and the books verify. On SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_verification_is_completed_once_by_reconciliation() {
    use common::zarinpal::{authority, FakeZarinpal, MERCHANT_ID};
    for backend in [common::Backend::Sqlite, common::Backend::Postgres] {
        let Some(database) = common::own_database(backend, "saghat_cli").await else {
            continue;
        };
        let zarinpal = FakeZarinpal::start().await;
        let sandbox = Sandbox::with_database(database.url.clone());
        let zarinpal_url = zarinpal.url();
        let gateway = [
            ("ZARINPAL_MERCHANT_ID", MERCHANT_ID),
            ("ZARINPAL_BASE_URL", zarinpal_url.as_str()),
            ("WORKER_IN_PROCESS", "false"),
        ];
        let mut crashing: Vec<(&str, &str)> = gateway.to_vec();
        crashing.extend(ADMIN_ENV);
        crashing.push(("SAGHAT_TEST_CRASH_AFTER_VERIFY", "true"));
        let mut server = Server::start(&sandbox, &crashing);
        server.wait_ready().await;
        let admin = server.token("chief", "chief-password-1").await;
        let call = |method: reqwest::Method, path: &str, token: &str, body: Value| {
            server
                .http
                .request(method, server.url(path))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        let v1: Value = server
            .http
            .post(server.url("/api/v1/auth/login/"))
            .json(&json!({ "username": "chief", "password": "chief-password-1" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let v1 = v1["access"].as_str().unwrap().to_string();
        let client: Value = call(
            reqwest::Method::POST,
            "/api/v1/clients/",
            &v1,
            json!({ "name": "Parsian", "country_code": "IR", "currency": "IRR" }),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let draft = json!({ "client": client["id"], "issue_date": "2026-11-22",
            "lines": [{ "description": "Hosting", "quantity": "1", "unit_price": "2000000", "tax_rate": "0" }] });
        let invoice: Value = call(reqwest::Method::POST, "/api/v1/invoices/", &v1, draft)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let invoice = invoice["id"].as_str().unwrap().to_string();
        let sent = call(
            reqwest::Method::POST,
            &format!("/api/v1/invoices/{invoice}/send/"),
            &v1,
            json!({}),
        )
        .await
        .unwrap();
        assert_eq!(sent.status(), StatusCode::OK);

        let a = authority(77);
        zarinpal.gives_authority(&a).await;
        zarinpal.verifies(&a, 2_000_000, 777).await;
        zarinpal.inquiry_says(&a, "VERIFIED").await;
        let intent: Value = call(
            reqwest::Method::POST,
            "/api/payment-intents",
            &admin,
            json!({ "invoice_id": invoice }),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let id = intent["id"].as_str().unwrap().to_string();
        let redirect = call(
            reqwest::Method::POST,
            &format!("/api/payment-intents/{id}/redirect"),
            &admin,
            json!({}),
        )
        .await
        .unwrap();
        assert_eq!(redirect.status(), StatusCode::OK);

        // The payer comes back; Saghat verifies with Zarinpal and dies before recording.
        let callback = server
            .http
            .get(server.url(&format!("/pay/zarinpal/callback?Authority={a}&Status=OK")))
            .send()
            .await;
        assert!(callback.is_err(), "the server answered: {callback:?}");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "still running");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status.code(), Some(75), "{}", server.output());
        assert_eq!(zarinpal.received("verify").await.len(), 1);
        drop(server);

        // Reconciliation completes it, once.
        let output = sandbox.run(
            &["payments", "reconcile", "--min-age-minutes", "0"],
            &gateway,
        );
        assert!(output.status.success(), "{}", describe(&output));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("1 verified"), "{said}");
        let again = sandbox.run(
            &["payments", "reconcile", "--min-age-minutes", "0"],
            &gateway,
        );
        assert!(again.status.success(), "{}", describe(&again));
        let said = String::from_utf8_lossy(&again.stdout);
        assert!(said.contains("0 verified"), "{said}");
        let verify = sandbox.run(&["ledger", "verify"], &[]);
        assert!(verify.status.success(), "{}", describe(&verify));

        // What the restarted server says: verified, the invoice paid by one payment.
        let server = Server::start(&sandbox, &gateway);
        let mut server = server;
        server.wait_ready().await;
        let admin = server.token("chief", "chief-password-1").await;
        let (status, intent) = server
            .get(&format!("/api/payment-intents/{id}"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{intent}");
        assert_eq!(intent["state"], "verified", "{intent}");
        assert_eq!(intent["ref_id"], "777");
        let (_, invoice) = server
            .get(&format!("/api/v1/invoices/{invoice}/"), &v1)
            .await;
        assert_eq!(invoice["status"], "paid", "{invoice}");
        let (_, payments) = server.get("/api/v1/payments/", &v1).await;
        assert_eq!(payments["count"], 1, "{payments}");
        assert!(server.terminate().await.success());
    }
}
