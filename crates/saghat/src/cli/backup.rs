//! `saghat backup FILE` and `saghat restore FILE`: a consistent copy of the whole database taken
//! while Saghat runs, and that copy put into an empty database, upgraded to this version's
//! migrations and checked (the ledger's invariants, the rows restored).
//!
//! SQLite: `VACUUM INTO`, which SQLite documents as a backup method: it reads in one
//! transaction, so the copy is a consistent snapshot however busy the database is, and it is
//! compact. Restoring checks the copy's integrity before it takes the database's place.
//! PostgreSQL: `pg_dump --format=custom` (one snapshot, the whole database) and `pg_restore`
//! in a single transaction. The tools come from PostgreSQL's client package and must be at
//! least the server's version. The password reaches them in `PGPASSWORD`, never on their
//! command line, where any user of the machine could read it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use saghat_core::config::Config;
use saghat_core::platform::db::{sqlite_file, Backend, Db, Open};

/// The tables whose rows are counted after a restore: what an operator checks first.
const COUNTED: [&str; 8] = [
    "users",
    "payments",
    "loans",
    "journal_transactions",
    "journal_entries",
    "tickets",
    "invoices",
    "invoice_payments",
];

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const PG_DUMP_MAGIC: &[u8] = b"PGDMP";

/// `FILE.part`: where a file is written before it takes its name, whole.
fn part(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

pub async fn backup(config: &Config, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        bail!("{} exists: a backup never overwrites a file", to.display());
    }
    let db = Db::open(&config.database_url, 2, Open::Existing).await?;
    let partial = part(to);
    let _ = std::fs::remove_file(&partial);
    let written = match db.backend {
        Backend::Sqlite => sqlx::query("VACUUM INTO $1")
            .bind(partial.to_string_lossy().into_owned())
            .execute(&db.pool)
            .await
            .map(|_| ())
            .context("VACUUM INTO"),
        Backend::Postgres => {
            let mut dump = pg_tool("pg_dump", &config.database_url)?;
            dump.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(&partial);
            run_tool(dump, "pg_dump")
        }
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, to)?;
    let size = std::fs::metadata(to)?.len();
    println!(
        "Backed up {:?} {} to {} ({size} bytes).",
        db.backend,
        saghat_core::platform::db::redact(&config.database_url),
        to.display()
    );
    Ok(())
}

pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    let head = {
        use std::io::Read;
        let mut head = [0u8; 16];
        let mut file =
            std::fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
        let n = file.read(&mut head)?;
        head[..n].to_vec()
    };
    let url = &config.database_url;
    if url.starts_with("postgres") {
        if !head.starts_with(PG_DUMP_MAGIC) {
            bail!(
                "{} is not a PostgreSQL backup (pg_dump's custom format)",
                from.display()
            );
        }
        // Connects only (no SQLite file is made for a PostgreSQL URL).
        let db = Db::open(url, 2, Open::CreateIfMissing).await?;
        refuse_unless_empty(&db).await?;
        db.pool.close().await;
        let mut restore = pg_tool("pg_restore", url)?;
        restore
            .args([
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
            ])
            .arg(from);
        run_tool(restore, "pg_restore")?;
    } else {
        if !head.starts_with(SQLITE_MAGIC) {
            bail!("{} is not a SQLite backup", from.display());
        }
        let Some(target) = sqlite_file(url) else {
            bail!("DATABASE_URL names no database file to restore into");
        };
        if target.exists() {
            let db = Db::open(url, 2, Open::CreateIfMissing).await?;
            refuse_unless_empty(&db).await?;
            db.pool.close().await;
        }
        let partial = part(target);
        std::fs::copy(from, &partial)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        let copy = format!("sqlite://{}", partial.display());
        let checked = check_sqlite(&copy).await;
        if let Err(e) = checked {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        // An empty database file made by an earlier start goes, with its journal files.
        for suffix in ["-wal", "-shm"] {
            let mut side = target.as_os_str().to_owned();
            side.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(side));
        }
        std::fs::rename(&partial, target)?;
    }

    // Restored: upgraded to this version and checked.
    let db = Db::open(url, 2, Open::Existing).await?;
    db.migrate().await?;
    let report = saghat_core::ledger::verify::verify(&db).await?;
    println!(
        "Restored {} into {:?} {}.",
        from.display(),
        db.backend,
        saghat_core::platform::db::redact(url)
    );
    for table in COUNTED {
        println!("  {table}: {}", count(&db, table).await?);
    }
    println!("{report}");
    if !report.is_ok() {
        bail!("the restored ledger is inconsistent");
    }
    Ok(())
}

/// The number of rows of one of [`COUNTED`].
async fn count(db: &Db, table: &str) -> anyhow::Result<i64> {
    // `table` is one of the constants above, never input.
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&db.pool)
            .await?,
    )
}

/// A restore goes only into a database holding no tables: it never mixes two funds' books.
async fn refuse_unless_empty(db: &Db) -> anyhow::Result<()> {
    let sql = match db.backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    let tables: i64 = sqlx::query_scalar(sql).fetch_one(&db.pool).await?;
    if tables > 0 {
        bail!("the database already holds {tables} tables: restore into an empty one");
    }
    Ok(())
}

async fn check_sqlite(url: &str) -> anyhow::Result<()> {
    let db = Db::open(url, 1, Open::Existing).await?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&db.pool)
        .await?;
    db.pool.close().await;
    if verdict != "ok" {
        bail!("the backup is damaged: {verdict}");
    }
    Ok(())
}

/// `tool` for the database `url`, its password in the environment.
fn pg_tool(tool: &str, url: &str) -> anyhow::Result<Command> {
    let mut parsed = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    parsed
        .set_password(None)
        .map_err(|()| anyhow::anyhow!("DATABASE_URL has no host"))?;
    let mut command = Command::new(tool);
    command.arg("--dbname").arg(parsed.as_str());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    Ok(command)
}

fn run_tool(mut command: Command, tool: &str) -> anyhow::Result<()> {
    let output = command.output().with_context(|| {
        format!("cannot run {tool}: install PostgreSQL's client tools (Debian: postgresql-client)")
    })?;
    if !output.status.success() {
        bail!(
            "{tool} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
