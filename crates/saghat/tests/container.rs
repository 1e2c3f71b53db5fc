//! The container's commands without Docker: the Dockerfile's ENTRYPOINT, CMD, ENV and
//! HEALTHCHECK and compose.yml's commands, run as written with the built binary against a fresh
//! PostgreSQL database (skipped with a message without PostgreSQL, a failure with `CI` set).
//! Both files are read with a few lines of parsing (exec-form JSON arrays), no YAML library:
//! keep `command:` and the Dockerfile's instructions on one line each, in JSON form.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use saghat_test_support::{free_port, own_pg_database, ADMIN_PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_saghat");

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Dockerfile's instructions of the final stage, continuation lines joined.
fn final_stage(dockerfile: &str) -> Vec<String> {
    let mut instructions = vec![];
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        if !current.trim().is_empty() {
            instructions.push(std::mem::take(&mut current));
        }
    }
    let last_from = instructions
        .iter()
        .rposition(|i| i.starts_with("FROM "))
        .expect("a FROM");
    instructions.split_off(last_from)
}

/// The JSON array after `keyword` in the one instruction that starts with it.
fn exec_form(stage: &[String], keyword: &str) -> Vec<String> {
    let found: Vec<&String> = stage.iter().filter(|i| i.starts_with(keyword)).collect();
    assert_eq!(
        found.len(),
        1,
        "one {keyword} in the final stage: {found:?}"
    );
    let json = &found[0][found[0].find('[').expect("exec (JSON) form")..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{keyword} {json}: {e}"))
}

/// `ENV A=1 B=2` (values without spaces, as this Dockerfile writes them).
fn env_of(stage: &[String]) -> BTreeMap<String, String> {
    stage
        .iter()
        .filter_map(|i| i.strip_prefix("ENV "))
        .flat_map(|rest| rest.split_whitespace())
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("ENV KEY=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// compose.yml's `command:` of a service: the first one after `  name:`.
fn compose_command(compose: &str, service: &str) -> Vec<String> {
    let header = format!("  {service}:");
    let mut lines = compose.lines().skip_while(|l| *l != header);
    assert!(
        lines.next().is_some(),
        "compose.yml has no service {service}"
    );
    let line = lines
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .find_map(|l| l.trim().strip_prefix("command:").map(str::trim))
        .unwrap_or_else(|| panic!("service {service} has no command"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{service}'s command {line}: {e}"))
}

/// The keys of the `environment:` of compose.yml's `x-saghat` block.
fn compose_saghat_env(compose: &str) -> Vec<String> {
    compose
        .lines()
        .skip_while(|l| !l.starts_with("  environment: &saghat-env"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.trim().split(':').next().unwrap().to_string())
        .collect()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The image's environment, with the paths under `/var/lib/saghat` moved into `home`, the
/// address on a free loopback port, and what compose's `.env` would give.
fn container_env(
    stage: &[String],
    home: &Path,
    database_url: &str,
    port: u16,
) -> BTreeMap<String, String> {
    let mut env = env_of(stage);
    for value in env.values_mut() {
        if let Some(rest) = value.strip_prefix("/var/lib/saghat") {
            *value = format!("{}{rest}", home.display());
        }
    }
    env.insert("BIND".into(), format!("127.0.0.1:{port}"));
    env.insert("DATABASE_URL".into(), database_url.into());
    env.insert(
        "SECRET_KEY".into(),
        "container-test-secret-key-0123456789ab".into(),
    );
    env.insert(
        "JWT_SECRET_KEY".into(),
        "container-test-jwt-secret-0123456789ab".into(),
    );
    env.insert("BITPIN_VERIFY".into(), "off".into());
    env.insert("SAGHAT_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into());
    env.insert("WORKER_IN_PROCESS".into(), "false".into());
    env
}

/// `ENTRYPOINT` + the command, with the image's binary (`saghat` on its PATH) as the built one.
fn command(entrypoint: &[String], args: &[String], env: &BTreeMap<String, String>) -> Command {
    assert_eq!(entrypoint, ["saghat"], "the entry point is the binary");
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env);
    command
}

fn health(healthcheck: &[String], env: &BTreeMap<String, String>) -> std::process::Output {
    Command::new(&healthcheck[0])
        .args(&healthcheck[1..])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .unwrap_or_else(|e| panic!("health check {healthcheck:?}: {e}"))
}

#[test]
fn compose_sets_only_documented_variables() {
    let readme = repo_file("README.md");
    let compose = repo_file("compose.yml");
    let keys = compose_saghat_env(&compose);
    assert!(keys.len() >= 8, "x-saghat's environment: {keys:?}");
    for key in keys {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "compose.yml sets {key}, which README's configuration table does not list"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_containers_commands_run_as_written() {
    let Some((database_url, _db)) = own_pg_database("saghat_test_container").await else {
        return;
    };
    let dockerfile = repo_file("Dockerfile");
    let compose = repo_file("compose.yml");
    let stage = final_stage(&dockerfile);
    let entrypoint = exec_form(&stage, "ENTRYPOINT");
    let cmd = exec_form(&stage, "CMD");
    let healthcheck = exec_form(&stage, "HEALTHCHECK");
    assert_eq!(
        healthcheck[0], "sh",
        "HEALTHCHECK runs a shell: {healthcheck:?}"
    );
    assert_eq!(cmd, ["serve"], "the image serves by default");
    let env_keys = env_of(&stage);
    assert_eq!(env_keys.get("APP_ENV").map(String::as_str), Some("prod"));

    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = container_env(&stage, home.path(), &database_url, port);
    for dir in ["data", "files"] {
        std::fs::create_dir_all(home.path().join(dir)).unwrap();
    }

    // The health check fails while nothing listens, so it can tell.
    let down = health(&healthcheck, &env);
    assert!(
        !down.status.success(),
        "the health check passes with no server"
    );

    // compose: migrate, then serve and the worker, each as its service's command.
    let migrate = compose_command(&compose, "migrate");
    let output = command(&entrypoint, &migrate, &env).output().unwrap();
    assert!(
        output.status.success(),
        "{migrate:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let serve = compose_command(&compose, "saghat-1");
    assert_eq!(serve, cmd, "compose's serve is the image's CMD");
    let log: PathBuf = home.path().join("serve.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut server = Running(
        command(&entrypoint, &serve, &env)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "{serve:?} exited ({status}) with the image's environment:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let output = health(&healthcheck, &env);
        if output.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the health check never passed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let worker_args = compose_command(&compose, "worker");
    let worker_log = home.path().join("worker.log");
    let out = std::fs::File::create(&worker_log).unwrap();
    let mut worker = Running(
        command(&entrypoint, &worker_args, &env)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(3));
    if let Ok(Some(status)) = worker.0.try_wait() {
        panic!(
            "{worker_args:?} exited ({status}):\n{}",
            std::fs::read_to_string(&worker_log).unwrap_or_default()
        );
    }
    assert!(server.0.try_wait().unwrap().is_none(), "serve stopped");
}
