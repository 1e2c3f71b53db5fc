//! The queue across worker processes: a worker killed with SIGKILL in the middle of a job, three
//! workers on one PostgreSQL, and periodic jobs with several instances running.
//!
//! Each worker is a separate OS process: this test binary run again as `child_worker` (an
//! ignored test that does nothing unless `PROBE_WORKER_URL` is set), which works the queue with
//! `saghat_worker::client` until it is killed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use riverqueue::{
    IntervalSchedule, Job, JobArgs, PeriodicJob, PeriodicJobOpts, WorkContext, WorkOutcome, Workers,
};
use saghat_core::jobs::{enqueue, NewJob};
use saghat_core::platform::db::{Db, Open};
use saghat_test_support as common;
use saghat_worker::{client, Backoff, JobDatabase, WorkerSettings};
use serde::{Deserialize, Serialize};

/// Has one effect (a row in `effects` under its key, written at most once), records every
/// attempt in `attempts`, and on its first attempt then hangs for `hang_ms`, standing for a
/// worker that dies after the effect and before River hears the job is done.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "probe_effect")]
struct Effect {
    key: String,
    hang_ms: u64,
}

/// Records that it ran, and in which process.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "probe_run")]
struct Run {
    n: i64,
}

/// Enqueued by the leading process every period; records its period's start.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "probe_tick")]
struct Tick {}

const TICK_EVERY: Duration = Duration::from_secs(2);

const TABLES: &[&str] = &[
    "CREATE TABLE effects (effect_key TEXT PRIMARY KEY, pid BIGINT NOT NULL)",
    "CREATE TABLE attempts (effect_key TEXT NOT NULL, attempt BIGINT NOT NULL, pid BIGINT NOT NULL)",
    "CREATE TABLE runs (n BIGINT NOT NULL, pid BIGINT NOT NULL)",
    "CREATE TABLE ticks (job_id BIGINT NOT NULL, scheduled_at TEXT NOT NULL, pid BIGINT NOT NULL)",
];

fn pid() -> i64 {
    i64::from(std::process::id())
}

fn probe_workers(db: &Db) -> Workers {
    let mut workers = Workers::new();
    let pool = db.pool.clone();
    workers
        .add_fn(move |_ctx: WorkContext, job: Job<Effect>| {
            let pool = pool.clone();
            async move {
                sqlx::query("INSERT INTO attempts (effect_key, attempt, pid) VALUES ($1, $2, $3)")
                    .bind(job.args.key.clone())
                    .bind(i64::from(job.row.attempt))
                    .bind(pid())
                    .execute(&pool)
                    .await?;
                // The idempotent effect: a second attempt finds it done.
                sqlx::query(
                    "INSERT INTO effects (effect_key, pid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(job.args.key.clone())
                .bind(pid())
                .execute(&pool)
                .await?;
                if job.row.attempt == 1 {
                    tokio::time::sleep(Duration::from_millis(job.args.hang_ms)).await;
                }
                Ok::<_, sqlx::Error>(WorkOutcome::Complete)
            }
        })
        .expect("register effect");
    let pool = db.pool.clone();
    workers
        .add_fn(move |_ctx: WorkContext, job: Job<Run>| {
            let pool = pool.clone();
            async move {
                sqlx::query("INSERT INTO runs (n, pid) VALUES ($1, $2)")
                    .bind(job.args.n)
                    .bind(pid())
                    .execute(&pool)
                    .await?;
                Ok::<_, sqlx::Error>(WorkOutcome::Complete)
            }
        })
        .expect("register run");
    let pool = db.pool.clone();
    workers
        .add_fn(move |_ctx: WorkContext, job: Job<Tick>| {
            let pool = pool.clone();
            async move {
                sqlx::query("INSERT INTO ticks (job_id, scheduled_at, pid) VALUES ($1, $2, $3)")
                    .bind(job.row.id)
                    .bind(job.row.scheduled_at.to_string())
                    .bind(pid())
                    .execute(&pool)
                    .await?;
                Ok::<_, sqlx::Error>(WorkOutcome::Complete)
            }
        })
        .expect("register tick");
    workers
}

/// The worker process: works the queue until killed.
#[tokio::test]
#[ignore = "a worker process for the other tests, started by them"]
async fn child_worker() {
    let Ok(url) = std::env::var("PROBE_WORKER_URL") else {
        return;
    };
    let db = Db::open(&url, 4, Open::Existing).await.expect("open");
    let settings = WorkerSettings {
        concurrency: 20,
        backoff: Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_secs(1),
        },
        timeout: Duration::from_secs(4),
        stop_timeout: Duration::from_secs(4),
        rescue_after: Duration::from_secs(4),
        rescue_every: Duration::from_secs(1),
    };
    let periodic = if std::env::var_os("PROBE_WORKER_TICKS").is_some() {
        vec![PeriodicJob::with_options(
            IntervalSchedule::new(TICK_EVERY).expect("interval"),
            Tick::default,
            PeriodicJobOpts::new().with_id("probe_tick"),
        )]
    } else {
        Vec::new()
    };
    let river = JobDatabase::open(&url, 24).await.expect("river");
    let queue = client(river, probe_workers(&db), periodic, &settings).expect("client");
    let mut running = queue.start().expect("start");
    running.wait_ready().await.expect("ready");
    eprintln!("probe worker {} ready", pid());
    running.wait().await.expect("runs until killed");
}

/// A worker process, killed (SIGKILL) when dropped.
struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(url: &str, ticks: bool) -> WorkerProcess {
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args(["--exact", "child_worker", "--ignored", "--nocapture"])
            .env("PROBE_WORKER_URL", url)
            .stdout(Stdio::null());
        if ticks {
            command.env("PROBE_WORKER_TICKS", "1");
        }
        WorkerProcess(command.spawn().expect("spawn worker"))
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn setup(backend: common::Backend) -> Option<(Db, common::OwnDatabase)> {
    let own = common::own_database(backend, "saghat_test_workers").await?;
    let db = Db::open(&own.url, 5, Open::CreateIfMissing)
        .await
        .expect("open");
    db.migrate().await.expect("migrate");
    for table in TABLES {
        sqlx::query(*table).execute(&db.pool).await.expect(table);
    }
    Some((db, own))
}

async fn number(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&db.pool)
        .await
        .expect(sql)
}

/// Waits (at most `secs`) until `sql` counts at least `want`; returns the last count.
async fn wait_for(db: &Db, sql: &str, want: i64, secs: u64) -> i64 {
    let start = Instant::now();
    loop {
        let n = number(db, sql).await;
        if n >= want || start.elapsed() > Duration::from_secs(secs) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn enqueue_committed(db: &Db, job: NewJob<'_>) {
    let mut tx = db.pool.begin().await.expect("begin");
    assert!(enqueue(&mut tx, db.backend, &job).await.expect("enqueue"));
    tx.commit().await.expect("commit");
}

async fn a_job_killed_mid_way_runs_again_with_one_effect(backend: common::Backend) {
    let Some((db, own)) = setup(backend).await else {
        return;
    };
    let mut first = WorkerProcess::start(&own.url, false);
    let effect = Effect {
        key: "fee-reminder:7:1405:9".into(),
        hang_ms: 60_000,
    };
    enqueue_committed(
        &db,
        NewJob {
            kind: "probe_effect",
            args: serde_json::to_value(&effect).unwrap(),
            unique_key: format!("probe:{}", effect.key),
            max_attempts: 3,
        },
    )
    .await;
    // The first worker has done the effect and hangs before it can finish the job.
    assert_eq!(
        wait_for(&db, "SELECT COUNT(*) FROM attempts", 1, 30).await,
        1
    );
    first.kill();
    let running = "SELECT COUNT(*) FROM river_job WHERE state = 'running'";
    assert_eq!(
        number(&db, running).await,
        1,
        "left running by the dead worker"
    );

    // Another worker rescues the job (it waits to become the leader first) and runs it again.
    let _second = WorkerProcess::start(&own.url, false);
    let done = "SELECT COUNT(*) FROM river_job WHERE kind = 'probe_effect' AND state = 'completed'";
    assert_eq!(
        wait_for(&db, done, 1, 60).await,
        1,
        "the rescued job completes"
    );
    assert_eq!(number(&db, "SELECT COUNT(*) FROM attempts").await, 2);
    assert_eq!(
        number(&db, "SELECT COUNT(*) FROM effects").await,
        1,
        "two attempts, one effect"
    );
    let pids = "SELECT COUNT(DISTINCT pid) FROM attempts";
    assert_eq!(number(&db, pids).await, 2, "each worker made one attempt");
}

common::on_both_databases!(a_job_killed_mid_way_runs_again_with_one_effect);

#[tokio::test]
async fn three_workers_on_postgres_never_run_a_job_twice() {
    let Some((db, own)) = setup(common::Backend::Postgres).await else {
        return;
    };
    const JOBS: i64 = 3000;
    // Enqueued in batches first, so all three workers compete for the same rows.
    for batch in 0..JOBS / 500 {
        let mut tx = db.pool.begin().await.expect("begin");
        for n in batch * 500..(batch + 1) * 500 {
            let job = NewJob {
                kind: "probe_run",
                args: serde_json::json!({ "n": n }),
                unique_key: format!("probe-run:{n}"),
                max_attempts: 3,
            };
            enqueue(&mut tx, db.backend, &job).await.expect("enqueue");
        }
        tx.commit().await.expect("commit");
    }
    let workers: Vec<WorkerProcess> = (0..3)
        .map(|_| WorkerProcess::start(&own.url, false))
        .collect();
    let runs = "SELECT COUNT(*) FROM runs";
    assert_eq!(wait_for(&db, runs, JOBS, 120).await, JOBS);
    // Let a late duplicate, if any, land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(workers);
    assert_eq!(number(&db, runs).await, JOBS, "no job ran twice");
    assert_eq!(
        number(&db, "SELECT COUNT(DISTINCT n) FROM runs").await,
        JOBS,
        "every job ran"
    );
    assert!(
        number(&db, "SELECT COUNT(DISTINCT pid) FROM runs").await >= 2,
        "the work was shared between the processes"
    );
}

async fn a_periodic_job_runs_once_per_period_across_instances(backend: common::Backend) {
    let Some((db, own)) = setup(backend).await else {
        return;
    };
    // SQLite: one process works, as documented; PostgreSQL: three instances.
    let instances = match backend {
        common::Backend::Sqlite => 1,
        common::Backend::Postgres => 3,
    };
    let workers: Vec<WorkerProcess> = (0..instances)
        .map(|_| WorkerProcess::start(&own.url, true))
        .collect();
    let ticks = "SELECT COUNT(*) FROM ticks";
    assert!(wait_for(&db, ticks, 1, 40).await >= 1, "the first tick ran");
    let first = Instant::now();
    let counted_from = number(&db, ticks).await;
    tokio::time::sleep(TICK_EVERY * 5).await;
    let elapsed = first.elapsed();
    drop(workers);
    let ran = number(&db, ticks).await - counted_from;
    let periods = (elapsed.as_secs_f64() / TICK_EVERY.as_secs_f64()).ceil() as i64;
    assert!(
        (periods - 2..=periods + 1).contains(&ran),
        "{ran} ticks in {periods} periods with {instances} instances"
    );
    assert_eq!(
        number(&db, "SELECT COUNT(DISTINCT scheduled_at) FROM ticks").await,
        number(&db, ticks).await,
        "no period's job was enqueued twice"
    );
}

common::on_both_databases!(a_periodic_job_runs_once_per_period_across_instances);
