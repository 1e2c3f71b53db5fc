//! Spike: riverqueue 0.5 under Saghat's constraints (sqlx 0.9 `Any`, SQLite + PostgreSQL).
//!
//! River's `.tx()` takes only `&mut Transaction<'_, Postgres|Sqlite>` (sealed trait), so the
//! job row is written by our own SQL inside the `AnyConnection` transaction, into River's
//! cross-language `river_job` table, plus River's insert notification (pg_notify on PG, a
//! `river_notification` row on SQLite) so the worker starts at once instead of at its poll.
//!
//! cargo run -p spike-river -- <tx|retry|periodic|multi|worker|bench|graceful> <pg|sqlite>

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use riverqueue::{
    migrate::{PostgresMigrator, SqliteMigrator},
    BoxError, Client, IntervalSchedule, Job, JobArgs, JobListParams, JobRow, JobState,
    MaintenanceConfig, PeriodicJob, PeriodicJobOpts, QueueConfig, Retention, RetryPolicy,
    WorkContext, WorkError, WorkOutcome, Workers,
};
use serde::{Deserialize, Serialize};
use sqlx::{any::AnyPoolOptions, AnyConnection, AnyPool};

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/spike_river";
const SQLITE_URL: &str = "sqlite:///work/spike-jobs/river.db?mode=rwc";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Clone, Debug, Deserialize, JobArgs, Serialize)]
#[river(kind = "spike")]
struct Spike {
    key: String,
    mode: String,
    enq_us: i64,
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// THE KEY PIECE: enqueue inside Saghat's own `Any` transaction, by SQL on River's table.
/// `unique_key` = our effect key; states bitmask 0xFF = unique in every state (one effect
/// per key, ever). `ON CONFLICT DO NOTHING` (no target) works on both databases.
async fn enqueue_any(
    conn: &mut AnyConnection,
    backend: Backend,
    args: &Spike,
    max_attempts: i32,
) -> Result<bool, sqlx::Error> {
    let json = serde_json::to_string(args).unwrap();
    let sql = match backend {
        Backend::Postgres => {
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             VALUES ($1::jsonb, $2, $3, 'default', 'available', $4, B'11111111') ON CONFLICT DO NOTHING"
        }
        Backend::Sqlite => {
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             VALUES (jsonb($1), $2, $3, 'default', 'available', $4, 255) ON CONFLICT DO NOTHING"
        }
    };
    let inserted = sqlx::query(sql)
        .bind(json)
        .bind("spike")
        .bind(max_attempts)
        .bind(args.key.as_bytes().to_vec())
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1;
    // River's insert notification, in the same transaction: delivered only on commit.
    let notify = match backend {
        Backend::Postgres => {
            "SELECT 1 FROM (SELECT pg_notify(current_schema() || '.river_insert', $1)) n"
        }
        Backend::Sqlite => "INSERT INTO river_notification (payload, topic) VALUES ($1, 'river_insert')",
    };
    if std::env::var_os("SKIP_NOTIFY").is_some() {
        return Ok(inserted); // spike only: shows the latency without the notification
    }
    sqlx::query(notify)
        .bind(r#"{"queue":"default"}"#)
        .execute(&mut *conn)
        .await?;
    Ok(inserted)
}

/// Retry policy: 200 ms * 2^attempt with +-20% jitter (River's default is attempt^4 s).
struct FastBackoff;
impl RetryPolicy for FastBackoff {
    fn next_retry(&self, job: &JobRow, _e: &WorkError, _now: riverqueue::jiff::Timestamp) -> Duration {
        let base = 200u64 << job.attempt.clamp(0, 10);
        let jitter = (now_us() as u64 % (base / 5 + 1)) as i64 - (base / 10) as i64;
        Duration::from_millis((base as i64 + jitter).max(1) as u64)
    }
}

async fn setup(backend: Backend) -> anyhow::Result<(AnyPool, Client)> {
    sqlx::any::install_default_drivers();
    let (any, client_db) = match backend {
        Backend::Postgres => {
            let pg = sqlx::postgres::PgPoolOptions::new().max_connections(10).connect(PG_URL).await?;
            PostgresMigrator::new(pg.clone()).migrate_up().await?;
            let any = AnyPoolOptions::new().max_connections(10).connect(PG_URL).await?;
            sqlx::query("CREATE TABLE IF NOT EXISTS runs (key TEXT NOT NULL, job_id BIGINT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL, lat_us BIGINT NOT NULL, t0 BIGINT NOT NULL, t1 BIGINT NOT NULL)").execute(&any).await?;
            (any, riverqueue::database::PostgresDatabase::new(pg).into())
        }
        Backend::Sqlite => {
            use sqlx::sqlite::*;
            use std::str::FromStr;
            let opts = SqliteConnectOptions::from_str(SQLITE_URL)?
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let sl = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
            SqliteMigrator::new(sl.clone()).migrate_up().await?;
            let any = AnyPoolOptions::new().max_connections(4).connect(SQLITE_URL).await?;
            sqlx::query("CREATE TABLE IF NOT EXISTS runs (key TEXT NOT NULL, job_id BIGINT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL, lat_us BIGINT NOT NULL, t0 BIGINT NOT NULL, t1 BIGINT NOT NULL)").execute(&any).await?;
            (any, riverqueue::database::SqliteDatabase::new(sl).into())
        }
    };
    let client = build_client(&any, client_db, 10, None)?;
    Ok((any, client))
}

enum Db {
    Pg(riverqueue::database::PostgresDatabase),
    Sl(riverqueue::database::SqliteDatabase),
}
impl From<riverqueue::database::PostgresDatabase> for Db {
    fn from(d: riverqueue::database::PostgresDatabase) -> Self {
        Db::Pg(d)
    }
}
impl From<riverqueue::database::SqliteDatabase> for Db {
    fn from(d: riverqueue::database::SqliteDatabase) -> Self {
        Db::Sl(d)
    }
}

fn build_client(any: &AnyPool, db: Db, max_workers: usize, periodic: Option<Duration>) -> anyhow::Result<Client> {
    let mut workers = Workers::new();
    let pool = any.clone();
    workers.add_fn(move |ctx: WorkContext, job: Job<Spike>| {
        let pool = pool.clone();
        async move { work(pool, ctx, job).await }
    })?;
    let maint = MaintenanceConfig::default()
        .with_scheduler_interval(Duration::from_millis(200))
        .with_elect_interval(Duration::from_millis(500))
        .with_discarded_job_retention(Retention::Keep);
    let mut queue = QueueConfig::new(max_workers).with_fetch_poll_interval(Duration::from_secs(1));
    // Bench knob: River paces fetches by a cooldown (default 100 ms), which caps throughput.
    if let Some(ms) = std::env::var("FETCH_COOLDOWN_MS").ok().and_then(|v| v.parse().ok()) {
        queue = queue.with_fetch_cooldown(Duration::from_millis(ms));
    }
    let mut b = match db {
        Db::Pg(d) => Client::builder(d),
        Db::Sl(d) => Client::builder(d),
    }
    .workers(workers)
    .queue("default", queue)
    .retry_policy(FastBackoff)
    .maintenance(maint);
    if let Some(every) = periodic {
        b = b.periodic_job(PeriodicJob::with_options(
            IntervalSchedule::new(every)?,
            || Spike { key: "periodic".into(), mode: "periodic".into(), enq_us: now_us() },
            PeriodicJobOpts::new().with_id("periodic_spike"),
        ));
    }
    Ok(b.build()?)
}

async fn work(pool: AnyPool, _ctx: WorkContext, job: Job<Spike>) -> Result<WorkOutcome, BoxError> {
    let t0 = now_us();
    let a = &job.args;
    match a.mode.as_str() {
        "flaky" if job.row.attempt < 3 => return Err(format!("flaky attempt {}", job.row.attempt).into()),
        "doomed" => return Err("provider down".into()),
        "sleep" => tokio::time::sleep(Duration::from_millis(2000)).await,
        "ms" => tokio::time::sleep(Duration::from_millis(2)).await,
        _ => {}
    }
    if a.mode != "noop" {
        sqlx::query("INSERT INTO runs (key, job_id, attempt, pid, lat_us, t0, t1) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(a.key.clone())
            .bind(job.row.id)
            .bind(job.row.attempt)
            .bind(std::process::id() as i32)
            .bind(t0 - a.enq_us)
            .bind(t0)
            .bind(now_us())
            .execute(&pool)
            .await?;
    }
    Ok(WorkOutcome::Complete)
}

async fn count(any: &AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(any).await.unwrap()
}

async fn wait_for(any: &AnyPool, sql: &str, want: i64, secs: u64) -> i64 {
    let start = Instant::now();
    loop {
        let n = count(any, sql).await;
        if n >= want || start.elapsed() > Duration::from_secs(secs) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn reset(any: &AnyPool) {
    for t in ["DELETE FROM runs", "DELETE FROM river_job"] {
        sqlx::query(t).execute(any).await.unwrap();
    }
}

fn job(key: &str, mode: &str) -> Spike {
    Spike { key: key.into(), mode: mode.into(), enq_us: now_us() }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let backend = match args.get(2).map(String::as_str) {
        Some("sqlite") => Backend::Sqlite,
        _ => Backend::Postgres,
    };
    let (any, client) = setup(backend).await?;
    match args[1].as_str() {
        "tx" => {
            reset(&any).await;
            let mut run = client.start()?;
            run.wait_ready().await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Rolled back: nothing enqueued.
            let mut tx = any.begin().await?;
            enqueue_any(&mut tx, backend, &job("fee-reminder:m1:1405:9", "ok"), 5).await?;
            tx.rollback().await?;
            // Committed: runs once; a second commit of the same effect key is a no-op.
            let mut lats = vec![];
            for i in 0..20 {
                let key = format!("payment-recorded:{i}");
                let mut tx = any.begin().await?;
                sqlx::query("SELECT 1").execute(&mut *tx).await?; // stands for the business write
                let first = enqueue_any(&mut tx, backend, &job(&key, "ok"), 5).await?;
                tx.commit().await?;
                let mut tx = any.begin().await?;
                let dup = enqueue_any(&mut tx, backend, &job(&key, "ok"), 5).await?;
                tx.commit().await?;
                assert!(first && !dup, "unique key must dedupe");
                let n = wait_for(&any, &format!("SELECT count(*) FROM runs WHERE key = '{key}'"), 1, 5).await;
                assert_eq!(n, 1);
                lats.push(count(&any, &format!("SELECT max(lat_us) FROM runs WHERE key = '{key}'")).await);
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rolled = count(&any, "SELECT count(*) FROM runs WHERE key = 'fee-reminder:m1:1405:9'").await;
            let rows = count(&any, "SELECT count(*) FROM river_job WHERE kind = 'spike'").await;
            let runs = count(&any, "SELECT count(*) FROM runs").await;
            lats.sort();
            println!(
                "{backend:?} tx: rolled-back runs={rolled} (want 0); committed jobs={rows} runs={runs} (want 20/20, dup keys ignored); enqueue->start latency p50={}ms max={}ms",
                lats[lats.len() / 2] as f64 / 1000.0,
                lats[lats.len() - 1] as f64 / 1000.0
            );
            run.stop().await?;
        }
        "retry" => {
            reset(&any).await;
            let mut run = client.start()?;
            let mut tx = any.begin().await?;
            enqueue_any(&mut tx, backend, &job("flaky", "flaky"), 5).await?;
            enqueue_any(&mut tx, backend, &job("doomed", "doomed"), 2).await?;
            tx.commit().await?;
            let n = wait_for(&any, "SELECT count(*) FROM runs WHERE key = 'flaky'", 1, 20).await;
            let st = sqlx::query_as::<_, (i64, String)>("SELECT CAST(attempt AS BIGINT), CAST(state AS TEXT) FROM river_job WHERE args->>'key' = 'flaky'")
                .fetch_one(&any).await?;
            println!("{backend:?} flaky: runs={n}, attempt={}, state={}", st.0, st.1);
            wait_for(&any, "SELECT count(*) FROM river_job WHERE state = 'discarded'", 1, 20).await;
            let dead = client.jobs().list(JobListParams::default().states([JobState::Discarded]).limit(50)).await?;
            for j in &dead.jobs {
                println!("  dead letter: id={} key={} attempt={}/{} errors={:?}", j.id, j.kind, j.attempt, j.max_attempts,
                    j.errors.iter().map(|e| e.error.clone()).collect::<Vec<_>>());
            }
            let id = dead.jobs[0].id;
            let r = client.jobs().retry(id).await?;
            println!("  retried: state now {:?}", r.state);
            tokio::time::sleep(Duration::from_secs(2)).await;
            let j = client.jobs().get(id).await?;
            println!("  after retry: state={:?} attempt={}", j.state, j.attempt);
            client.jobs().delete(id).await?;
            println!("  discarded (deleted): remaining dead={}", count(&any, "SELECT count(*) FROM river_job WHERE state = 'discarded'").await);
            run.stop().await?;
        }
        "periodic" => {
            reset(&any).await;
            let Db::Pg(db) = pg_db().await? else { unreachable!() };
            // Three clients (standing for three instances) with the same periodic job.
            let mut runs = vec![];
            for _ in 0..3 {
                let c = build_client(&any, Db::Pg(db.clone()), 4, Some(Duration::from_secs(2)))?;
                runs.push(c.start()?);
            }
            tokio::time::sleep(Duration::from_secs(11)).await;
            for mut r in runs {
                r.stop().await?;
            }
            let n = count(&any, "SELECT count(*) FROM river_job WHERE args->>'mode' = 'periodic'").await;
            let ran = count(&any, "SELECT count(*) FROM runs WHERE key = 'periodic'").await;
            println!("periodic @every 2s, 3 clients, 11 s: inserted={n} ran={ran} (once per period ~5, not ~15)");
        }
        "periodicproc" => {
            reset(&any).await;
            let exe = std::env::current_exe()?;
            let kids: Vec<_> = (0..3)
                .map(|_| std::process::Command::new(&exe).args(["worker", "pg", "11", "periodic"]).spawn().unwrap())
                .collect();
            for mut k in kids {
                k.wait()?;
            }
            let per = sqlx::query_as::<_, (i32, i64)>("SELECT pid, count(*) FROM runs GROUP BY pid").fetch_all(&any).await?;
            println!("periodic @every 2s, 3 processes, 11 s: inserted={} ran={} by pid={per:?}",
                count(&any, "SELECT count(*) FROM river_job WHERE args->>'mode' = 'periodic'").await,
                count(&any, "SELECT count(*) FROM runs WHERE key = 'periodic'").await);
        }
        "worker" => {
            // One worker process for the multi test: runs until told to stop via stdin close / time.
            let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(30);
            let periodic = (args.get(4).map(String::as_str) == Some("periodic")).then(|| Duration::from_secs(2));
            let c = build_client(&any, pg_db().await?, 10, periodic)?;
            let mut run = c.start()?;
            tokio::time::sleep(Duration::from_secs(secs)).await;
            run.stop().await?;
        }
        "multi" => {
            reset(&any).await;
            let total = 3000;
            let mut tx = any.begin().await?;
            for i in 0..total {
                enqueue_any(&mut tx, backend, &job(&format!("m{i}"), "ms"), 5).await?;
            }
            tx.commit().await?;
            let exe = std::env::current_exe()?;
            let kids: Vec<_> = (0..3)
                .map(|_| std::process::Command::new(&exe).args(["worker", "pg", "25"]).spawn().unwrap())
                .collect();
            let t = Instant::now();
            let n = wait_for(&any, "SELECT count(*) FROM runs", total, 60).await;
            println!("multi: {n} runs in {:?}", t.elapsed());
            for mut k in kids {
                k.wait()?;
            }
            let dups = count(&any, "SELECT count(*) FROM (SELECT key FROM runs GROUP BY key HAVING count(*) > 1) d").await;
            let overlap = count(&any, "SELECT count(*) FROM runs a JOIN runs b ON a.key = b.key AND a.pid <> b.pid").await;
            let per_pid = sqlx::query_as::<_, (i32, i64)>("SELECT pid, count(*) FROM runs GROUP BY pid ORDER BY pid").fetch_all(&any).await?;
            println!("multi: 3 worker processes, {total} jobs: keys run more than once={dups}, cross-process same key={overlap}, per pid={per_pid:?}");
        }
        "bench" => {
            reset(&any).await;
            let total = 5000;
            let mut tx = any.begin().await?;
            for i in 0..total {
                enqueue_any(&mut tx, backend, &job(&format!("b{i}"), "noop"), 5).await?;
            }
            tx.commit().await?;
            let slots = std::env::var("SLOTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
            let c = build_client(&any, pg_db().await?, slots, None)?;
            let t = Instant::now();
            let mut run = c.start()?;
            let n = wait_for(&any, "SELECT count(*) FROM river_job WHERE state = 'completed'", total, 120).await;
            let el = t.elapsed();
            println!("bench: {n} no-op jobs, 1 client ({slots} slots): {:?} = {:.0} jobs/s", el, n as f64 / el.as_secs_f64());
            run.stop().await?;
        }
        "graceful" => {
            reset(&any).await;
            let mut run = client.start()?;
            let mut tx = any.begin().await?;
            enqueue_any(&mut tx, backend, &job("slow", "sleep"), 5).await?;
            tx.commit().await?;
            wait_for(&any, "SELECT count(*) FROM river_job WHERE state = 'running'", 1, 5).await;
            let t = Instant::now();
            run.stop().await?; // soft stop: no new fetches, running jobs finish
            let st: String = sqlx::query_scalar("SELECT CAST(state AS TEXT) FROM river_job").fetch_one(&any).await?;
            println!("{backend:?} graceful: stop() returned after {:?}; job state={st}, runs={}", t.elapsed(),
                count(&any, "SELECT count(*) FROM runs").await);
        }
        other => anyhow::bail!("unknown {other}"),
    }
    let _ = Arc::new(());
    Ok(())
}

async fn pg_db() -> anyhow::Result<Db> {
    let pg = sqlx::postgres::PgPoolOptions::new().max_connections(10).connect(PG_URL).await?;
    Ok(riverqueue::database::PostgresDatabase::new(pg).into())
}
