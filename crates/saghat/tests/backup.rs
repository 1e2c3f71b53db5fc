//! `saghat backup` and `saghat restore`, the real binary on both databases: a backup taken while
//! payments keep arriving is one consistent moment of the fund (every payment with its ledger
//! transaction, the books balanced), restored into an empty database with the same rows; and
//! what is refused: overwriting a file, restoring into a database that holds a fund, a backup
//! of the other kind of database.

use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use saghat_test_support::{on_both_databases, own_database, Backend, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_saghat");

on_both_databases!(a_backup_taken_under_load_restores_into_an_empty_database);

/// `saghat <args>` against `database_url`, with a clean environment.
fn saghat(args: &[&str], database_url: &str, dir: &std::path::Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APP_ENV", "test")
        .env("SAGHAT_DATA_DIR", dir)
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .expect("saghat runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn a_backup_taken_under_load_restores_into_an_empty_database(backend: Backend) {
    let Some(source) = own_database(backend, "saghat_cli_backup_from").await else {
        return;
    };
    let Some(target) = own_database(backend, "saghat_cli_backup_to").await else {
        return;
    };
    let url = source.url.clone();
    let Some(app) = TestApp::spawn_with(backend, |c| c.database_url = url).await else {
        return;
    };
    let admin = app.admin_token().await;
    let mut members = vec![];
    for name in ["ali", "sara", "reza", "nika"] {
        members.push(app.member(&admin, name, "0").await.1);
    }
    for token in &members[..2] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fund.backup");
    let file_arg = file.to_str().unwrap().to_owned();

    // The backup runs while the other members pay.
    let backup = {
        let (url, file, dir) = (source.url.clone(), file_arg.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || saghat(&["backup", &file], &url, &dir))
    };
    for token in &members[2..] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let backed_up = backup.await.unwrap();
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    assert!(
        text(&backed_up).contains("Backed up"),
        "{}",
        text(&backed_up)
    );
    let head = std::fs::read(&file).unwrap();
    let magic: &[u8] = match backend {
        Backend::Sqlite => b"SQLite format 3\0",
        Backend::Postgres => b"PGDMP",
    };
    assert!(head.starts_with(magic));

    // A backup never overwrites a file.
    let again = saghat(&["backup", &file_arg], &source.url, dir.path());
    assert!(!again.status.success());
    assert!(text(&again).contains("exists"), "{}", text(&again));

    let restored = saghat(&["restore", &file_arg], &target.url, dir.path());
    assert!(restored.status.success(), "{}", text(&restored));
    let report = text(&restored);
    assert!(report.contains("Restored"), "{report}");

    // One moment of the fund: every payment restored has its ledger transaction, the books
    // verify, and nothing is there that was not in the source.
    let copy = sqlx::AnyPool::connect(&target.url).await.unwrap();
    let payments = count(&copy, "SELECT COUNT(*) FROM payments").await;
    assert!((2..=4).contains(&payments), "{payments} payments");
    assert_eq!(
        count(
            &copy,
            "SELECT COUNT(*) FROM payments p WHERE NOT EXISTS \
             (SELECT 1 FROM journal_transactions t WHERE t.payment_id = p.id)"
        )
        .await,
        0
    );
    assert_eq!(count(&copy, "SELECT COUNT(*) FROM users").await, 5);
    assert!(
        report.contains(&format!("payments: {payments}")),
        "{report}"
    );
    let verified = saghat(&["ledger", "verify"], &target.url, dir.path());
    assert!(verified.status.success(), "{}", text(&verified));
    // The rows are the source's own: the same payments, by id.
    let ids = |pool: sqlx::AnyPool| async move {
        let rows: Vec<String> = sqlx::query_scalar("SELECT id FROM payments ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        rows
    };
    let (restored_ids, source_ids) = (
        ids(copy.clone()).await,
        ids(app.state.db.pool.clone()).await,
    );
    assert!(restored_ids.iter().all(|id| source_ids.contains(id)));
    copy.close().await;

    // Refused: a database that now holds a fund; a backup of the other kind of database.
    let twice = saghat(&["restore", &file_arg], &target.url, dir.path());
    assert!(!twice.status.success());
    assert!(text(&twice).contains("already holds"), "{}", text(&twice));
    let other = dir.path().join("other.backup");
    std::fs::write(
        &other,
        match backend {
            Backend::Sqlite => b"PGDMP\x01\x0e\x00".to_vec(),
            Backend::Postgres => b"SQLite format 3\0\x10\x00".to_vec(),
        },
    )
    .unwrap();
    let Some(empty) = own_database(backend, "saghat_cli_backup_other").await else {
        return;
    };
    let wrong = saghat(
        &["restore", other.to_str().unwrap()],
        &empty.url,
        dir.path(),
    );
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("is not a"), "{}", text(&wrong));
}
