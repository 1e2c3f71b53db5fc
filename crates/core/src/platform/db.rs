//! The database: one `AnyPool` over PostgreSQL or SQLite, one set of migrations for both.
//!
//! Portability rules the SQL in this crate follows: integers and amounts are `BIGINT`, flags are
//! `BIGINT` 0/1 (SQLite has no boolean the `Any` driver can read back), timestamps and UUIDs are
//! `TEXT`, placeholders are `$1…`, and aggregates are `CAST(… AS BIGINT)` (PostgreSQL's `SUM`
//! of a `BIGINT` is `NUMERIC`).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{
    Any, AnyConnection, AnyPool, AssertSqlSafe, Executor, FromRow, Row, SqlSafeStr, Transaction,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite allows one writer; queueing writers here, instead of letting them fight over the
    /// file lock, keeps concurrent payments from failing with "database is locked".
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// The URL it was opened with, for River's migrator, which needs a typed connection.
    url: Arc<str>,
}

/// A write transaction. On SQLite it also holds the process's writer slot.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Whether opening the database may create it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// `serve` and `migrate`: a missing SQLite file is created (and the schema by migrating).
    CreateIfMissing,
    /// Every other command: the database must exist and have Saghat's schema, so a wrong
    /// folder or URL is an error instead of a new, empty fund.
    Existing,
}

impl Db {
    /// Opens the database, creating a missing SQLite file (private to this user).
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Self::open(url, max_connections, Open::CreateIfMissing).await
    }

    pub async fn open(url: &str, max_connections: u32, open: Open) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("DATABASE_URL must start with postgres:// or sqlite:");
        };
        let mut url = Cow::Borrowed(url);
        if let Some(path) = sqlite_file(&url).map(std::path::Path::to_path_buf) {
            match open {
                Open::CreateIfMissing => create_sqlite_file(&path)?,
                Open::Existing if !path.is_file() => anyhow::bail!(
                    "no database at {}: check DATABASE_URL and SAGHAT_DATA_DIR \
                     (`saghat migrate` or `saghat serve` creates a new one)",
                    path.display()
                ),
                // SQLite itself may not create it either.
                Open::Existing => url = Cow::Owned(without_create_mode(&url)),
            }
        }
        // One connection first: a pool only reports "timed out" when it cannot connect, and
        // what was wrong (refused, unknown database, wrong password) is the useful part.
        {
            use sqlx::Connection;
            let conn = sqlx::AnyConnection::connect(&url)
                .await
                .map_err(|e| connect_error(&url, &e))?;
            let _ = conn.close().await;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // As long as SQLite's busy_timeout below: a new connection that waits for the
            // database's lock (WAL set-up on a busy machine) is not given up on before it.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| connect_error(&url, &e))?;
        if let Some(path) = sqlite_file(&url) {
            // SQLite gives the -wal and -shm files the database file's permissions; those of
            // a database made by an older Saghat, or by hand, are narrowed here.
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                make_private(std::path::Path::new(&name))?;
            }
        }
        let sqlite_writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let db = Db {
            pool,
            backend,
            sqlite_writer,
            url: Arc::from(url.as_ref()),
        };
        if open == Open::Existing {
            db.check_schema(&url).await?;
        }
        Ok(db)
    }

    /// For commands that do not migrate: the database has Saghat's tables, and no migration
    /// this build knows is missing.
    async fn check_schema(&self, url: &str) -> anyhow::Result<()> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_all(&self.pool)
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                "{} has no Saghat tables: check DATABASE_URL, or create them with `saghat migrate`",
                redact(url)
            )
                })?;
        let missing = migrator(self.backend)
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count();
        if missing > 0 {
            anyhow::bail!(
                "{} lacks {missing} migration(s) of this Saghat: run `saghat migrate` first",
                redact(url)
            );
        }
        Ok(())
    }

    /// A transaction that will write. On SQLite it queues for this process's writer slot and
    /// then takes the database's write lock at once (`BEGIN IMMEDIATE`): the job queue writes
    /// through connections of its own, and a transaction that only read before writing would be
    /// refused ("database is locked") when one of those committed in between, instead of
    /// waiting (`busy_timeout`) for its turn.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let writer = match &self.sqlite_writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }

    /// Saghat's migrations, then River's (the job queue's tables, which services write jobs
    /// into). Both are safe to run from several processes at once.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        migrator(self.backend)
            .run(&self.pool)
            .await
            .context("migrations failed")?;
        self.migrate_job_queue()
            .await
            .context("the job queue's migrations failed")
    }

    async fn migrate_job_queue(&self) -> anyhow::Result<()> {
        use riverqueue_migrate::{PostgresMigrator, SqliteMigrator};
        match self.backend {
            Backend::Postgres => {
                // River's migrator takes no lock of its own: instances starting together on a
                // new database would race to create its tables. One at a time, then.
                let mut lock = self.pool.acquire().await?;
                sqlx::query("SELECT 1 FROM (SELECT pg_advisory_lock($1)) AS locked")
                    .bind(JOB_QUEUE_MIGRATION_LOCK)
                    .execute(&mut *lock)
                    .await?;
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&self.url)
                    .await?;
                let migrated = PostgresMigrator::new(pool.clone()).migrate_up().await;
                pool.close().await;
                sqlx::query("SELECT 1 FROM (SELECT pg_advisory_unlock($1)) AS unlocked")
                    .bind(JOB_QUEUE_MIGRATION_LOCK)
                    .execute(&mut *lock)
                    .await?;
                migrated?;
            }
            Backend::Sqlite => {
                use std::str::FromStr;
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(&self.url)?
                    .busy_timeout(Duration::from_secs(10));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                SqliteMigrator::new(pool.clone()).migrate_up().await?;
                pool.close().await;
            }
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// The advisory lock that serialises River's migrations across instances ("SAGHATJQ").
const JOB_QUEUE_MIGRATION_LOCK: i64 = 0x5341_4748_4154_4a51;

/// The migrations in `migrations/`, with what the two dialects spell differently filled in:
/// `{{ID}}` (an auto-incrementing integer key) and the optional `NNNN_name.<dialect>.sql`
/// companion file appended to its migration.
pub fn migrator(backend: Backend) -> Migrator {
    let id_column = match backend {
        Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    let migrations = MIGRATIONS
        .iter()
        .map(|m| {
            let dialect = match backend {
                Backend::Postgres => m.postgres,
                Backend::Sqlite => m.sqlite,
            };
            let sql = format!("{}\n{}", m.sql, dialect).replace("{{ID}}", id_column);
            // Our own migration files, not user input.
            Migration::new(
                m.version,
                Cow::Borrowed(m.description),
                MigrationType::Simple,
                AssertSqlSafe(sql).into_sql_str(),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator::with_migrations(migrations)
}

struct MigrationSource {
    version: i64,
    /// The file name without `.sql`; its dialect companions are `{name}.postgres.sql` and
    /// `{name}.sqlite.sql` (see the test `every_migration_file_is_registered`).
    #[cfg_attr(not(test), allow(dead_code))]
    name: &'static str,
    description: &'static str,
    sql: &'static str,
    postgres: &'static str,
    sqlite: &'static str,
}

const MIGRATIONS: &[MigrationSource] = &[
    MigrationSource {
        version: 1,
        name: "0001_fund_core",
        description: "fund core",
        sql: include_str!("../../migrations/0001_fund_core.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 2,
        name: "0002_ledger",
        description: "ledger, roles, idempotency",
        sql: include_str!("../../migrations/0002_ledger.sql"),
        postgres: include_str!("../../migrations/0002_ledger.postgres.sql"),
        sqlite: include_str!("../../migrations/0002_ledger.sqlite.sql"),
    },
    MigrationSource {
        version: 3,
        name: "0003_auth_hardening",
        description: "auth hardening",
        sql: include_str!("../../migrations/0003_auth_hardening.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 4,
        name: "0004_bitpin_payment_key",
        description: "bitpin payment key",
        sql: include_str!("../../migrations/0004_bitpin_payment_key.sql"),
        postgres: include_str!("../../migrations/0004_bitpin_payment_key.postgres.sql"),
        sqlite: include_str!("../../migrations/0004_bitpin_payment_key.sqlite.sql"),
    },
    MigrationSource {
        version: 5,
        name: "0005_role_is_the_only_admin_flag",
        description: "role is the only admin flag",
        sql: include_str!("../../migrations/0005_role_is_the_only_admin_flag.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 6,
        name: "0006_notifications",
        description: "notifications",
        sql: include_str!("../../migrations/0006_notifications.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 7,
        name: "0007_tickets",
        description: "tickets",
        sql: include_str!("../../migrations/0007_tickets.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 8,
        name: "0008_ticket_review",
        description: "ticket review",
        sql: include_str!("../../migrations/0008_ticket_review.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 9,
        name: "0009_ticket_comments",
        description: "ticket comments",
        sql: include_str!("../../migrations/0009_ticket_comments.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 10,
        name: "0010_ticket_loans",
        description: "ticket loans",
        sql: include_str!("../../migrations/0010_ticket_loans.sql"),
        postgres: include_str!("../../migrations/0010_ticket_loans.postgres.sql"),
        sqlite: include_str!("../../migrations/0010_ticket_loans.sqlite.sql"),
    },
    MigrationSource {
        version: 11,
        name: "0011_ticket_queue_on_time",
        description: "ticket queue on time",
        sql: include_str!("../../migrations/0011_ticket_queue_on_time.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 12,
        name: "0012_invoicing",
        description: "invoicing",
        sql: include_str!("../../migrations/0012_invoicing.sql"),
        postgres: include_str!("../../migrations/0012_invoicing.postgres.sql"),
        sqlite: include_str!("../../migrations/0012_invoicing.sqlite.sql"),
    },
    MigrationSource {
        version: 13,
        name: "0013_invoice_reminder_delivery",
        description: "invoice reminder delivery",
        sql: include_str!("../../migrations/0013_invoice_reminder_delivery.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 14,
        name: "0014_client_reminders",
        description: "client reminders opt-out",
        sql: include_str!("../../migrations/0014_client_reminders.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 15,
        name: "0015_webhooks",
        description: "outgoing webhooks",
        sql: include_str!("../../migrations/0015_webhooks.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 16,
        name: "0016_payment_intents",
        description: "payment intents",
        sql: include_str!("../../migrations/0016_payment_intents.sql"),
        postgres: include_str!("../../migrations/0016_payment_intents.postgres.sql"),
        sqlite: include_str!("../../migrations/0016_payment_intents.sqlite.sql"),
    },
    MigrationSource {
        version: 17,
        name: "0017_report_exports",
        description: "report exports",
        sql: include_str!("../../migrations/0017_report_exports.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 18,
        name: "0018_report_figures",
        description: "report figures kept per month, covering indexes",
        sql: include_str!("../../migrations/0018_report_figures.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 19,
        name: "0019_oidc",
        description: "OpenID Connect identities and sign-ins under way",
        sql: include_str!("../../migrations/0019_oidc.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 20,
        name: "0020_draw_commitments",
        description: "Each month's draw commitment, seed and proof",
        sql: include_str!("../../migrations/0020_draw_commitments.sql"),
        postgres: include_str!("../../migrations/0020_draw_commitments.postgres.sql"),
        sqlite: include_str!("../../migrations/0020_draw_commitments.sqlite.sql"),
    },
    MigrationSource {
        version: 21,
        name: "0021_fund_config_months",
        description: "The fund's settings by the month they take effect from",
        sql: include_str!("../../migrations/0021_fund_config_months.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 22,
        name: "0022_fund_departures",
        description: "Members leaving the fund with their refund, and rejoining",
        sql: include_str!("../../migrations/0022_fund_departures.sql"),
        postgres: include_str!("../../migrations/0022_fund_departures.postgres.sql"),
        sqlite: include_str!("../../migrations/0022_fund_departures.sqlite.sql"),
    },
    MigrationSource {
        version: 23,
        name: "0023_member_statements",
        description: "Each member's monthly statement, the fund's month, e-mail attachments",
        sql: include_str!("../../migrations/0023_member_statements.sql"),
        postgres: "",
        sqlite: "",
    },
    MigrationSource {
        version: 24,
        name: "0024_fund_year_closings",
        description: "Closed Jalali years with their figures and ledger verification",
        sql: include_str!("../../migrations/0024_fund_year_closings.sql"),
        postgres: "",
        sqlite: "",
    },
];

/// True when the error is a unique-constraint violation (on either database).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// SQL selecting the exact sum of an amount expression as two `BIGINT` columns, `{alias}_whole`
/// and `{alias}_fraction`: whole units and 10⁻⁸ units summed apart can not overflow where one
/// `SUM` could (SQLite raises "integer overflow", PostgreSQL's `NUMERIC` would not cast back).
/// A row reads the two as `i64` fields and adds them up with
/// [`Amount::from_split_sum`](super::money::Amount::from_split_sum).
pub fn split_sum(expression: &str, alias: &str) -> String {
    format!(
        "CAST(COALESCE(SUM(({expression}) / 100000000), 0) AS BIGINT) AS {alias}_whole, \
         CAST(COALESCE(SUM(({expression}) % 100000000), 0) AS BIGINT) AS {alias}_fraction"
    )
}

/// A 0/1 flag column read as a `bool` (any non-zero value is true), for
/// `#[sqlx(try_from = "Flag")]` on a row's `bool` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl sqlx::Type<Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, Any>>::decode(value).map(|v| Flag(v != 0))
    }
}

/// A WHERE clause built from optional filters, with its values in placeholder order. Each
/// condition is written with `?` for its one value; it becomes `$n`.
#[derive(Debug, Default, Clone)]
pub struct Conditions {
    clauses: Vec<String>,
    values: Vec<BindValue>,
}

#[derive(Debug, Clone)]
pub enum BindValue {
    Int(i64),
    Text(String),
}

impl From<i64> for BindValue {
    fn from(v: i64) -> Self {
        BindValue::Int(v)
    }
}

impl From<String> for BindValue {
    fn from(v: String) -> Self {
        BindValue::Text(v)
    }
}

impl From<&str> for BindValue {
    fn from(v: &str) -> Self {
        BindValue::Text(v.to_string())
    }
}

pub type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

impl Conditions {
    pub fn push(&mut self, condition: &str, value: impl Into<BindValue>) -> &mut Self {
        self.values.push(value.into());
        self.clauses
            .push(condition.replace('?', &format!("${}", self.values.len())));
        self
    }

    /// Adds the condition when the filter is set.
    pub fn push_some<V: Into<BindValue>>(
        &mut self,
        condition: &str,
        value: Option<V>,
    ) -> &mut Self {
        if let Some(value) = value {
            self.push(condition, value);
        }
        self
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The placeholder number the next value appended after these conditions gets.
    pub fn next_placeholder(&self) -> usize {
        self.values.len() + 1
    }

    pub fn bind<'q>(&'q self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        for value in &self.values {
            query = match value {
                BindValue::Int(v) => query.bind(*v),
                BindValue::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }
}

/// One page of a listing, and the number of all its matches: `count_sql` (a `SELECT COUNT(*)`)
/// and `page_sql` (without `LIMIT`/`OFFSET`, which are appended here after `conditions`'
/// placeholders) both carry `conditions`' WHERE clause and get its values.
pub async fn fetch_page<T>(
    conn: &mut AnyConnection,
    conditions: &Conditions,
    count_sql: impl SqlSafeStr,
    page_sql: impl SqlSafeStr,
    limit: i64,
    offset: i64,
) -> Result<(Vec<T>, i64), sqlx::Error>
where
    T: for<'r> FromRow<'r, AnyRow>,
{
    let total: i64 = conditions
        .bind(sqlx::query(count_sql))
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let n = conditions.next_placeholder();
    // Only placeholder numbers are added to SQL the caller already vouched for.
    let sql = format!(
        "{} LIMIT ${n} OFFSET ${}",
        page_sql.into_sql_str().as_str(),
        n + 1
    );
    let rows = conditions
        .bind(sqlx::query(AssertSqlSafe(sql)))
        .bind(limit)
        .bind(offset)
        .fetch_all(conn)
        .await?;
    let items = rows
        .iter()
        .map(T::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total))
}

/// The file of a `sqlite:` URL; `None` for PostgreSQL and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<&std::path::Path> {
    let path = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::Path::new(path))
}

/// The URL with SQLite's `mode=rwc` (create) replaced by `mode=rw`.
fn without_create_mode(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("mode="))
        .collect();
    params.push("mode=rw");
    format!("{base}?{}", params.join("&"))
}

/// Creates the database's folder (0700) and an empty database file (0600) when missing, so
/// that SQLite, which creates its files with the process's umask (often world-readable),
/// never makes them: it gives the -wal and -shm files the main file's permissions.
fn create_sqlite_file(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::config::create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create the database {}", path.display()))?;
    Ok(())
}

/// Takes group and other permissions off an existing file.
fn make_private(path: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(metadata) = std::fs::metadata(path) else {
            return Ok(());
        };
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
                .with_context(|| format!("cannot make {} private", path.display()))?;
            tracing::warn!(file = %path.display(), "the database file was readable by others: now 0600");
        }
    }
    Ok(())
}

/// What went wrong connecting, said once: sqlx's message repeats its source's, which the
/// error chain then prints again.
/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

fn connect_error(url: &str, e: &sqlx::Error) -> anyhow::Error {
    let at = sqlite_file(url)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| server_address(url));
    let reason = match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("connection refused at {at}")
        }
        sqlx::Error::Io(io) => format!("{io} ({at})"),
        sqlx::Error::Database(db) => format!("{} ({at})", db.message()),
        sqlx::Error::Configuration(c) => format!("invalid DATABASE_URL: {c}"),
        sqlx::Error::PoolTimedOut => format!(
            "no connection within {} s ({at})",
            ACQUIRE_TIMEOUT.as_secs()
        ),
        other => format!("{other} ({at})"),
    };
    anyhow::anyhow!("cannot connect to the database {}: {reason}", redact(url))
}

/// `host:port` of a PostgreSQL URL (the default port when none is given).
fn server_address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() {
        "the local socket".to_string()
    } else if host.contains(':') && !host.ends_with(']') {
        host.to_string()
    } else {
        format!("{host}:5432")
    }
}

/// The URL without its password, for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// What is wrong between the files of `migrations/` (name, text) and `registered`: a file
    /// no migration includes, a registered migration whose file is missing or differs, a
    /// version that is not its file's number.
    fn registration_problems(
        files: &[(String, String)],
        registered: &[super::MigrationSource],
    ) -> Vec<String> {
        let mut problems = vec![];
        let text_of = |name: &str| files.iter().find(|(f, _)| f == name).map(|(_, t)| t);
        for (file, _) in files {
            let Some(stem) = file.strip_suffix(".sql") else {
                problems.push(format!("{file}: not a .sql file"));
                continue;
            };
            let (name, dialect) = match stem.rsplit_once('.') {
                Some((name, dialect)) => (name, Some(dialect)),
                None => (stem, None),
            };
            let Some(m) = registered.iter().find(|m| m.name == name) else {
                problems.push(format!("{file}: not registered in MIGRATIONS"));
                continue;
            };
            match dialect {
                None => {}
                Some("postgres") if !m.postgres.is_empty() => {}
                Some("sqlite") if !m.sqlite.is_empty() => {}
                Some(other) => problems.push(format!("{file}: {other} part not registered")),
            }
        }
        for (i, m) in registered.iter().enumerate() {
            let number = m.name.split('_').next().and_then(|n| n.parse::<i64>().ok());
            if number != Some(m.version) || i64::try_from(i + 1) != Ok(m.version) {
                problems.push(format!("{}: registered as version {}", m.name, m.version));
            }
            for (suffix, sql) in [
                ("", m.sql),
                (".postgres", m.postgres),
                (".sqlite", m.sqlite),
            ] {
                let file = format!("{}{suffix}.sql", m.name);
                match text_of(&file) {
                    Some(text) if text == sql => {}
                    // A companion nobody registered: reported above.
                    Some(_) if sql.is_empty() => {}
                    Some(_) => problems.push(format!("{file}: registered with other text")),
                    None if suffix.is_empty() || !sql.is_empty() => {
                        problems.push(format!("{file}: registered but missing"))
                    }
                    None => {}
                }
            }
        }
        problems
    }

    /// A migration file dropped into `migrations/` and never added to MIGRATIONS would never
    /// run; this fails instead.
    #[test]
    fn every_migration_file_is_registered() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files = vec![];
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
        assert!(files.len() >= super::MIGRATIONS.len());
        assert_eq!(
            registration_problems(&files, super::MIGRATIONS),
            Vec::<String>::new()
        );
    }

    #[test]
    fn unregistered_and_missing_migration_files_are_named() {
        let files = |names: &[&str]| -> Vec<(String, String)> {
            names
                .iter()
                .map(|n| (n.to_string(), format!("-- {n}")))
                .collect()
        };
        let registered = [super::MigrationSource {
            version: 1,
            name: "0001_a",
            description: "a",
            sql: "-- 0001_a.sql",
            postgres: "-- 0001_a.postgres.sql",
            sqlite: "",
        }];
        assert_eq!(
            registration_problems(&files(&["0001_a.sql", "0001_a.postgres.sql"]), &registered),
            Vec::<String>::new()
        );
        assert_eq!(
            registration_problems(
                &files(&[
                    "0001_a.sql",
                    "0001_a.postgres.sql",
                    "0001_a.sqlite.sql",
                    "0002_b.sql"
                ]),
                &registered
            ),
            [
                "0001_a.sqlite.sql: sqlite part not registered",
                "0002_b.sql: not registered in MIGRATIONS"
            ]
        );
        assert_eq!(
            registration_problems(&files(&["0001_a.sql"]), &registered),
            ["0001_a.postgres.sql: registered but missing"]
        );
        assert_eq!(
            registration_problems(&files(&["0001_a.postgres.sql"]), &registered),
            ["0001_a.sql: registered but missing"]
        );
        let renumbered = [super::MigrationSource {
            version: 2,
            ..registered[0]
        }];
        assert_eq!(
            registration_problems(&files(&["0001_a.sql", "0001_a.postgres.sql"]), &renumbered),
            ["0001_a: registered as version 2"]
        );
    }

    /// The count sees every match and the page only its slice, with the filter's placeholders
    /// numbered before `LIMIT` and `OFFSET`.
    #[tokio::test]
    async fn a_page_and_the_number_of_all_matches() {
        let db = super::Db::connect("sqlite::memory:", 1).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        sqlx::query("CREATE TABLE t (v BIGINT, tag TEXT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        for v in 1..=6_i64 {
            sqlx::query("INSERT INTO t (v, tag) VALUES ($1, $2)")
                .bind(v)
                .bind(if v % 2 == 0 { "even" } else { "odd" })
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        let mut conditions = super::Conditions::default();
        conditions.push("v >= ?", 2).push("tag = ?", "even");
        let clause = conditions.where_clause();
        let (items, total): (Vec<(i64,)>, i64) = super::fetch_page(
            &mut conn,
            &conditions,
            sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM t{clause}")),
            sqlx::AssertSqlSafe(format!("SELECT v FROM t{clause} ORDER BY v")),
            2,
            1,
        )
        .await
        .unwrap();
        assert_eq!((items, total), (vec![(4,), (6,)], 3));
        let (items, total): (Vec<(i64,)>, i64) = super::fetch_page(
            &mut conn,
            &super::Conditions::default(),
            "SELECT COUNT(*) FROM t",
            "SELECT v FROM t ORDER BY v DESC",
            2,
            0,
        )
        .await
        .unwrap();
        assert_eq!((items, total), (vec![(6,), (5,)], 6));
    }

    #[test]
    fn read_only_opening_never_asks_sqlite_to_create() {
        assert_eq!(
            super::without_create_mode("sqlite://data/saghat.db?mode=rwc"),
            "sqlite://data/saghat.db?mode=rw"
        );
        assert_eq!(
            super::without_create_mode("sqlite:x.db"),
            "sqlite:x.db?mode=rw"
        );
        assert_eq!(
            super::without_create_mode("sqlite://x.db?cache=shared&mode=rwc"),
            "sqlite://x.db?cache=shared&mode=rw"
        );
    }

    #[test]
    fn connection_errors_name_the_server() {
        assert_eq!(
            super::server_address("postgres://app:pw@db.example:5433/saghat?sslmode=require"),
            "db.example:5433"
        );
        assert_eq!(
            super::server_address("postgres://127.0.0.1/saghat"),
            "127.0.0.1:5432"
        );
        assert_eq!(
            super::server_address("postgres://[::1]/saghat"),
            "[::1]:5432"
        );
    }

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/saghat"),
            "postgres://app:***@db:5432/saghat"
        );
        assert_eq!(
            super::redact("sqlite://data/saghat.db"),
            "sqlite://data/saghat.db"
        );
    }

    /// The job queue writes to a SQLite database through connections of its own, outside the
    /// process's writer slot. A write transaction that read first, then wrote after such a
    /// commit, used to fail at once with "database is locked" (SQLite cannot upgrade a read
    /// snapshot that another writer has moved past); it must take the write lock up front and
    /// wait its turn instead.
    #[tokio::test]
    async fn a_write_transaction_waits_for_another_connections_writer() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db?mode=rwc", dir.path().display());
        let db = super::Db::connect(&url, 2).await.unwrap();
        sqlx::query("CREATE TABLE t (v BIGINT)")
            .execute(&db.pool)
            .await
            .unwrap();
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("PRAGMA busy_timeout = 10000")
            .execute(&mut other)
            .await
            .unwrap();

        let mut tx = db.begin_write().await.unwrap();
        let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut **tx)
            .await
            .unwrap();
        // The other writer (River, say) commits while this transaction is open.
        let other_write = tokio::spawn(async move {
            sqlx::query("INSERT INTO t (v) VALUES (2)")
                .execute(&mut other)
                .await
                .map(|_| ())
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        sqlx::query("INSERT INTO t (v) VALUES ($1)")
            .bind(before + 1)
            .execute(&mut **tx)
            .await
            .expect("the write after a read is not refused");
        tx.commit().await.unwrap();
        other_write
            .await
            .unwrap()
            .expect("the other writer waited, then wrote");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(rows, 2);
    }
}
