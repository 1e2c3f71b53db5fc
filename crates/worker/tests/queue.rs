//! The job queue on both databases, through the services' own `Any` transactions: what is
//! enqueued in a rolled-back transaction never runs, what is committed runs once, a key is one
//! effect, a failing job is retried and then set aside.

use std::time::{Duration, Instant};

use riverqueue::{Job, JobArgs, WorkContext, WorkOutcome, Workers};
use saghat_core::jobs::{enqueue, NewJob};
use saghat_core::platform::db::{Db, Open};
use saghat_test_support as common;
use saghat_worker::{client, Backoff, JobDatabase, WorkerSettings};
use serde::{Deserialize, Serialize};

/// A test job: records that it ran, after failing `fail_first` times (or always); its first
/// attempt takes `sleep_ms`, unless cancelled first.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "test_record")]
struct Record {
    key: String,
    fail_first: i32,
    #[serde(default)]
    sleep_ms: u64,
}

struct Setup {
    db: Db,
    url: String,
    _own: common::OwnDatabase,
}

async fn setup(backend: common::Backend) -> Option<Setup> {
    let own = common::own_database(backend, "saghat_test_jobs").await?;
    let db = Db::open(&own.url, 5, Open::CreateIfMissing)
        .await
        .expect("open");
    db.migrate().await.expect("migrate");
    sqlx::query("CREATE TABLE runs (job_key TEXT NOT NULL)")
        .execute(&db.pool)
        .await
        .expect("runs table");
    Some(Setup {
        db,
        url: own.url.clone(),
        _own: own,
    })
}

fn workers(db: &Db) -> Workers {
    let mut workers = Workers::new();
    let pool = db.pool.clone();
    workers
        .add_fn(move |ctx: WorkContext, job: Job<Record>| {
            let pool = pool.clone();
            async move {
                // A long job gives up when its attempt is cancelled (timeout, hard stop).
                let sleep_ms = if job.row.attempt == 1 {
                    job.args.sleep_ms
                } else {
                    0
                };
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
                    () = ctx.cancellation_token().cancelled() => {
                        return Err("cancelled".into());
                    }
                }
                if job.args.fail_first < 0 || job.row.attempt <= job.args.fail_first {
                    return Err::<WorkOutcome, String>("provider down".into());
                }
                sqlx::query("INSERT INTO runs (job_key) VALUES ($1)")
                    .bind(job.args.key.clone())
                    .execute(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(WorkOutcome::Complete)
            }
        })
        .expect("register");
    workers
}

fn job(key: &str, fail_first: i32, max_attempts: i32) -> NewJob<'static> {
    NewJob {
        kind: "test_record",
        args: serde_json::to_value(Record {
            key: key.into(),
            fail_first,
            sleep_ms: 0,
        })
        .unwrap(),
        unique_key: format!("test:{key}"),
        max_attempts,
    }
}

/// `sql`'s one number, with `key` (text for `runs`, bytes for River's `unique_key`) as `$1`.
async fn count<K>(db: &Db, sql: &'static str, key: K) -> i64
where
    K: sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + 'static,
{
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

/// Waits up to `secs` for `sql` (with `key`) to count `want`; returns the last count.
async fn wait_for<K>(db: &Db, sql: &'static str, key: K, want: i64, secs: u64) -> i64
where
    K: sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any> + Clone + Send + 'static,
{
    let start = Instant::now();
    loop {
        let n = count(db, sql, key.clone()).await;
        if n >= want || start.elapsed() > Duration::from_secs(secs) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

const RUNS: &str = "SELECT COUNT(*) FROM runs WHERE job_key = $1";

async fn jobs_enqueue_with_their_transaction_and_run_once(backend: common::Backend) {
    let Some(setup) = setup(backend).await else {
        return;
    };
    let db = &setup.db;
    let river = JobDatabase::open(&setup.url, 4).await.expect("river");
    let fast = WorkerSettings {
        concurrency: 4,
        backoff: Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(400),
        },
        ..WorkerSettings::default()
    };
    let queue = client(river, workers(db), Vec::new(), &fast).expect("client");
    let mut running = queue.start().expect("start");
    running.wait_ready().await.expect("ready");

    // Rolled back: never runs.
    let mut tx = db.pool.begin().await.unwrap();
    assert!(enqueue(&mut tx, db.backend, &job("rolled-back", 0, 3))
        .await
        .unwrap());
    tx.rollback().await.unwrap();
    // Committed: runs once; the same key again is refused, in its own transaction or not.
    let mut tx = db.pool.begin().await.unwrap();
    assert!(enqueue(&mut tx, db.backend, &job("committed", 0, 3))
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    assert!(!enqueue(&mut tx, db.backend, &job("committed", 0, 3))
        .await
        .unwrap());
    tx.commit().await.unwrap();
    assert_eq!(wait_for(db, RUNS, "committed", 1, 10).await, 1);

    // Fails twice, then succeeds on its third attempt.
    let mut tx = db.pool.begin().await.unwrap();
    enqueue(&mut tx, db.backend, &job("flaky", 2, 5))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(wait_for(db, RUNS, "flaky", 1, 20).await, 1);

    // Always fails: after its 2 attempts it is set aside (discarded) with both errors.
    let mut tx = db.pool.begin().await.unwrap();
    enqueue(&mut tx, db.backend, &job("doomed", -1, 2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let discarded =
        "SELECT COUNT(*) FROM river_job WHERE state = 'discarded' AND kind = 'test_record' \
                     AND unique_key = $1";
    let doomed = b"test:doomed".to_vec();
    assert_eq!(
        wait_for(db, discarded, doomed.clone(), 1, 20).await,
        1,
        "the failing job is discarded"
    );
    let attempts = "SELECT CAST(attempt AS BIGINT) FROM river_job WHERE unique_key = $1";
    assert_eq!(count(db, attempts, doomed).await, 2);
    assert_eq!(count(db, RUNS, "doomed").await, 0);

    running.stop().await.expect("graceful stop");
    assert_eq!(
        count(db, RUNS, "rolled-back").await,
        0,
        "a rolled-back job never runs"
    );
    let stored = "SELECT COUNT(*) FROM river_job WHERE unique_key = $1";
    assert_eq!(
        count(db, stored, b"test:rolled-back".to_vec()).await,
        0,
        "nor is it stored"
    );
    assert_eq!(
        count(db, RUNS, "committed").await,
        1,
        "a committed job ran once"
    );
}

common::on_both_databases!(jobs_enqueue_with_their_transaction_and_run_once);

async fn stopping_lets_the_running_job_finish(backend: common::Backend) {
    let Some(setup) = setup(backend).await else {
        return;
    };
    let db = &setup.db;
    let river = JobDatabase::open(&setup.url, 4).await.expect("river");
    let queue = client(river, workers(db), Vec::new(), &WorkerSettings::default()).expect("client");
    let mut running = queue.start().expect("start");
    running.wait_ready().await.expect("ready");
    let mut slow = job("slow", 0, 3);
    slow.args["sleep_ms"] = serde_json::json!(1500);
    let mut tx = db.pool.begin().await.unwrap();
    enqueue(&mut tx, db.backend, &slow).await.unwrap();
    tx.commit().await.unwrap();
    let started = "SELECT COUNT(*) FROM river_job WHERE state = 'running' AND unique_key = $1";
    let key = b"test:slow".to_vec();
    assert_eq!(wait_for(db, started, key.clone(), 1, 10).await, 1);
    // Stopped while the job runs: stop returns once it has finished, not before.
    running.stop().await.expect("graceful stop");
    assert_eq!(count(db, RUNS, "slow").await, 1, "the running job finished");
    let completed = "SELECT COUNT(*) FROM river_job WHERE state = 'completed' AND unique_key = $1";
    assert_eq!(count(db, completed, key).await, 1);
}

common::on_both_databases!(stopping_lets_the_running_job_finish);

async fn stopping_releases_a_job_that_outlasts_the_wait_for_another_worker(
    backend: common::Backend,
) {
    let Some(setup) = setup(backend).await else {
        return;
    };
    let db = &setup.db;
    let settings = WorkerSettings {
        stop_timeout: Duration::from_millis(500),
        backoff: Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(100),
        },
        ..WorkerSettings::default()
    };
    let river = JobDatabase::open(&setup.url, 4).await.expect("river");
    let queue = client(river, workers(db), Vec::new(), &settings).expect("client");
    let mut running = queue.start().expect("start");
    running.wait_ready().await.expect("ready");
    let mut long = job("long", 0, 3);
    long.args["sleep_ms"] = serde_json::json!(30_000);
    let mut tx = db.pool.begin().await.unwrap();
    enqueue(&mut tx, db.backend, &long).await.unwrap();
    tx.commit().await.unwrap();
    let key = b"test:long".to_vec();
    let in_state = |state: &'static str| {
        match state {
        "running" => "SELECT COUNT(*) FROM river_job WHERE state = 'running' AND unique_key = $1",
        _ => "SELECT COUNT(*) FROM river_job WHERE state IN ('retryable', 'available') AND unique_key = $1",
    }
    };
    assert_eq!(
        wait_for(db, in_state("running"), key.clone(), 1, 10).await,
        1
    );
    // The wait for it ends, it is cancelled: released to be run again, not lost.
    let stopped = Instant::now();
    running.stop().await.expect("stop");
    assert!(
        stopped.elapsed() < Duration::from_secs(15),
        "stop waited only so long"
    );
    assert_eq!(
        count(db, in_state("released"), key.clone()).await,
        1,
        "released"
    );
    assert_eq!(count(db, RUNS, "long").await, 0);

    // Another worker takes it up and finishes it (only a first attempt is slow).
    let river = JobDatabase::open(&setup.url, 4).await.expect("river");
    let queue = client(river, workers(db), Vec::new(), &settings).expect("client");
    let mut again = queue.start().expect("start");
    again.wait_ready().await.expect("ready");
    assert_eq!(
        wait_for(db, RUNS, "long", 1, 20).await,
        1,
        "run by the next worker"
    );
    again.stop().await.expect("stop");
}

common::on_both_databases!(stopping_releases_a_job_that_outlasts_the_wait_for_another_worker);
