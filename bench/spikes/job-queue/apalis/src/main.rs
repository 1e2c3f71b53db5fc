//! Spike: apalis 1.0 (apalis-postgres / apalis-sqlite) under Saghat's constraints.
//!
//! `push_tasks` takes `Executor<Database = Postgres|Sqlite>` only, so the job row is written by
//! our own SQL inside the `AnyConnection` transaction (apalis.jobs on PG, Jobs on SQLite:
//! two different schemas). PG's insert trigger NOTIFYs `apalis::job::insert` for us.
//!
//! cargo run -p spike-apalis -- <tx|retry|multi|worker|bench|graceful> <pg|sqlite>

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apalis::layers::retry::RetryPolicy;
use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use sqlx::{any::AnyPoolOptions, AnyConnection, AnyPool};

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/spike_apalis";
const SQLITE_URL: &str = "sqlite:///work/spike-jobs/apalis.db?mode=rwc";
const QUEUE: &str = "spike";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Spike {
    key: String,
    mode: String,
    enq_us: i64,
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// Enqueue inside Saghat's `Any` transaction by SQL on apalis' own table. The idempotency key
/// is apalis' (job_type, idempotency_key) unique index — permanent, i.e. one job per key ever.
async fn enqueue_any(conn: &mut AnyConnection, backend: Backend, args: &Spike, max_attempts: i32) -> Result<bool, sqlx::Error> {
    let sql = match backend {
        Backend::Postgres => {
            "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, idempotency_key) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, now(), 0, $5) ON CONFLICT DO NOTHING"
        }
        Backend::Sqlite => {
            "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, strftime('%s','now'), 0, '{}', $5) ON CONFLICT DO NOTHING"
        }
    };
    Ok(sqlx::query(sql)
        .bind(serde_json::to_vec(args).unwrap()) // apalis' JsonCodec: JSON bytes
        .bind(ulid::Ulid::generate().to_string())
        .bind(QUEUE)
        .bind(max_attempts)
        .bind(args.key.clone())
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

async fn work(a: Spike, attempt: Attempt, pool: Data<AnyPool>) -> Result<(), BoxDynError> {
    let t0 = now_us();
    match a.mode.as_str() {
        "flaky" if attempt.current() < 3 => return Err(format!("flaky attempt {}", attempt.current()).into()),
        "doomed" => return Err("provider down".into()),
        "sleep" => tokio::time::sleep(Duration::from_millis(2000)).await,
        "ms" => tokio::time::sleep(Duration::from_millis(2)).await,
        _ => {}
    }
    if a.mode != "noop" {
        sqlx::query("INSERT INTO runs (key, attempt, pid, lat_us, t0, t1) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(a.key.clone())
            .bind(attempt.current() as i32)
            .bind(std::process::id() as i32)
            .bind(t0 - a.enq_us)
            .bind(t0)
            .bind(now_us())
            .execute(&*pool)
            .await?;
    }
    Ok(())
}

async fn tick(t: apalis_cron::Tick, pool: Data<AnyPool>) -> Result<(), BoxDynError> {
    sqlx::query("INSERT INTO runs (key, attempt, pid, lat_us, t0, t1) VALUES ($1, 1, $2, 0, 0, 0)")
        .bind(format!("cron:{}", t.get_timestamp()))
        .bind(std::process::id() as i32)
        .execute(&*pool)
        .await?;
    Ok(())
}

struct Dbs {
    any: AnyPool,
    pg: Option<sqlx::PgPool>,
    sl: Option<sqlx::SqlitePool>,
}

async fn setup(backend: Backend) -> anyhow::Result<Dbs> {
    sqlx::any::install_default_drivers();
    let url = if backend == Backend::Postgres { PG_URL } else { SQLITE_URL };
    let (pg, sl) = match backend {
        Backend::Postgres => {
            let pg = sqlx::PgPool::connect(PG_URL).await?;
            PostgresStorage::<()>::setup(&pg).await?;
            (Some(pg), None)
        }
        Backend::Sqlite => {
            let sl = sqlx::SqlitePool::connect(SQLITE_URL).await?;
            SqliteStorage::<()>::setup(&sl).await?;
            (None, Some(sl))
        }
    };
    let any = AnyPoolOptions::new().max_connections(5).connect(url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS runs (key TEXT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL, lat_us BIGINT NOT NULL, t0 BIGINT NOT NULL, t1 BIGINT NOT NULL)")
        .execute(&any)
        .await?;
    Ok(Dbs { any, pg, sl })
}

/// Runs one apalis worker until `stop` resolves.
async fn run_worker(d: &Dbs, name: &str, concurrency: usize, stop: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let batch = std::env::var("BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let cfg = apalis_postgres::Config::default().queue(QUEUE).batch_size(batch);
    let retry = RetryPolicy::retries(4).with_backoff(
        tower::retry::backoff::MakeBackoff::make_backoff(&mut tower::retry::backoff::ExponentialBackoffMaker::new(
            Duration::from_millis(200),
            Duration::from_secs(5),
            0.2,
            tower::util::rng::HasherRng::default(),
        ).unwrap()),
    );
    let sig = async move {
        stop.await;
        Ok::<(), std::io::Error>(())
    };
    if let Some(pg) = &d.pg {
        let backend = PostgresStorage::<Spike>::new(pg).with_config(cfg).with_pubsub().poll_with_interval(Duration::from_secs(1));
        WorkerBuilder::new(name)
            .backend(backend)
            .data(d.any.clone())
            .retry(retry)
            .concurrency(concurrency)
            .parallelize(tokio::spawn)
            .build(work)
            .run_until(sig)
            .await?;
    } else {
        let cfg = apalis_sqlite::Config::default().queue(QUEUE);
        let backend = SqliteStorage::<Spike>::new(d.sl.as_ref().unwrap()).with_config(cfg).poll_with_interval(Duration::from_millis(100));
        WorkerBuilder::new(name)
            .backend(backend)
            .data(d.any.clone())
            .retry(retry)
            .concurrency(concurrency)
            .parallelize(tokio::spawn)
            .build(work)
            .run_until(sig)
            .await?;
    }
    Ok(())
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

fn job(key: &str, mode: &str) -> Spike {
    Spike { key: key.into(), mode: mode.into(), enq_us: now_us() }
}

fn jobs_table(b: Backend) -> &'static str {
    if b == Backend::Postgres { "apalis.jobs" } else { "Jobs" }
}

async fn reset(d: &Dbs, b: Backend) {
    sqlx::query("DELETE FROM runs").execute(&d.any).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", jobs_table(b)))).execute(&d.any).await.unwrap();
}

fn stop_after(ms: u64) -> impl std::future::Future<Output = ()> + Send + 'static {
    tokio::time::sleep(Duration::from_millis(ms))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let backend = match args.get(2).map(String::as_str) {
        Some("sqlite") => Backend::Sqlite,
        _ => Backend::Postgres,
    };
    let d = setup(backend).await?;
    let t = jobs_table(backend);
    match args[1].as_str() {
        "tx" => {
            reset(&d, backend).await;
            let any = d.any.clone();
            let producer = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let mut tx = any.begin().await.unwrap();
                enqueue_any(&mut tx, backend, &job("fee-reminder:m1:1405:9", "ok"), 5).await.unwrap();
                tx.rollback().await.unwrap();
                let mut lats = vec![];
                for i in 0..20 {
                    let key = format!("payment-recorded:{i}");
                    let mut tx = any.begin().await.unwrap();
                    let first = enqueue_any(&mut tx, backend, &job(&key, "ok"), 5).await.unwrap();
                    tx.commit().await.unwrap();
                    let mut tx = any.begin().await.unwrap();
                    let dup = enqueue_any(&mut tx, backend, &job(&key, "ok"), 5).await.unwrap();
                    tx.commit().await.unwrap();
                    assert!(first && !dup);
                    let n = wait_for(&any, &format!("SELECT count(*) FROM runs WHERE key = '{key}'"), 1, 10).await;
                    assert_eq!(n, 1, "{key} not run");
                    lats.push(count(&any, &format!("SELECT max(lat_us) FROM runs WHERE key = '{key}'")).await);
                }
                lats.sort();
                lats
            });
            let any = d.any.clone();
            let done = async move {
                let lats = producer.await.unwrap();
                let rolled = count(&any, "SELECT count(*) FROM runs WHERE key = 'fee-reminder:m1:1405:9'").await;
                println!(
                    "{backend:?} tx: rolled-back runs={rolled} (want 0); committed runs={} (want 20, dup keys ignored); enqueue->start p50={}ms max={}ms",
                    count(&any, "SELECT count(*) FROM runs").await,
                    lats[lats.len() / 2] as f64 / 1000.0,
                    lats[lats.len() - 1] as f64 / 1000.0
                );
            };
            run_worker(&d, &format!("w-tx-{}", std::process::id()), 10, done).await?;
        }
        "retry" => {
            reset(&d, backend).await;
            let mut tx = d.any.begin().await?;
            enqueue_any(&mut tx, backend, &job("flaky", "flaky"), 5).await?;
            enqueue_any(&mut tx, backend, &job("doomed", "doomed"), 2).await?;
            tx.commit().await?;
            run_worker(&d, &format!("w-retry-{}", std::process::id()), 4, stop_after(12000)).await?;
            let rows = sqlx::query_as::<_, (String, String, i32, i32)>(sqlx::AssertSqlSafe(format!(
                "SELECT idempotency_key, status, attempts, max_attempts FROM {t} ORDER BY idempotency_key")))
                .fetch_all(&d.any).await?;
            println!("{backend:?} retry: runs={:?} rows={rows:?}",
                sqlx::query_as::<_, (String, i32)>("SELECT key, attempt FROM runs").fetch_all(&d.any).await?);
        }
        "cronworker" => {
            // One instance with the same cron schedule, piped into the shared PG storage.
            use std::str::FromStr;
            let schedule = cron::Schedule::from_str("*/2 * * * * *")?;
            let storage = PostgresStorage::<apalis_cron::Tick>::new(d.pg.as_ref().unwrap())
                .with_config(apalis_postgres::Config::default().queue("cron"));
            let backend = apalis_cron::CronScheduler::new(schedule).pipe_to(storage);
            WorkerBuilder::new(format!("cron-{}", std::process::id()))
                .backend(backend)
                .data(d.any.clone())
                .build(tick)
                .run_until(async { tokio::time::sleep(Duration::from_secs(9)).await; Ok::<(), std::io::Error>(()) })
                .await?;
        }
        "cron" => {
            reset(&d, backend).await;
            let exe = std::env::current_exe()?;
            let kids: Vec<_> = (0..3)
                .map(|_| std::process::Command::new(&exe).args(["cronworker", "pg"]).spawn().unwrap())
                .collect();
            for mut k in kids {
                k.wait()?;
            }
            println!("apalis-cron */2s, 3 processes, 9 s: runs={} distinct ticks={} (once per period would be ~4)",
                count(&d.any, "SELECT count(*) FROM runs").await,
                count(&d.any, "SELECT count(DISTINCT key) FROM runs").await);
        }
        "worker" => {
            let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(30);
            run_worker(&d, &format!("w-{}", std::process::id()), 10, stop_after(secs * 1000)).await?;
        }
        "multi" => {
            reset(&d, backend).await;
            let total = 3000;
            let mut tx = d.any.begin().await?;
            for i in 0..total {
                enqueue_any(&mut tx, backend, &job(&format!("m{i}"), "ms"), 5).await?;
            }
            tx.commit().await?;
            let exe = std::env::current_exe()?;
            let kids: Vec<_> = (0..3)
                .map(|_| std::process::Command::new(&exe).args(["worker", "pg", "25"]).spawn().unwrap())
                .collect();
            let t0 = Instant::now();
            let n = wait_for(&d.any, "SELECT count(*) FROM runs", total, 60).await;
            println!("multi: {n} runs in {:?}", t0.elapsed());
            for mut k in kids {
                k.wait()?;
            }
            let dups = count(&d.any, "SELECT count(*) FROM (SELECT key FROM runs GROUP BY key HAVING count(*) > 1) d").await;
            let per_pid = sqlx::query_as::<_, (i32, i64)>("SELECT pid, count(*) FROM runs GROUP BY pid ORDER BY pid").fetch_all(&d.any).await?;
            println!("multi: 3 worker processes, {total} jobs: keys run more than once={dups}, per pid={per_pid:?}");
        }
        "bench" => {
            reset(&d, backend).await;
            let total = 5000;
            let mut tx = d.any.begin().await?;
            for i in 0..total {
                enqueue_any(&mut tx, backend, &job(&format!("b{i}"), "noop"), 5).await?;
            }
            tx.commit().await?;
            let any = d.any.clone();
            let t0 = Instant::now();
            let done = async move {
                let n = wait_for(&any, "SELECT count(*) FROM apalis.jobs WHERE status = 'Done'", total, 120).await;
                let el = t0.elapsed();
                println!("bench: {n} no-op jobs, 1 worker (concurrency 100): {el:?} = {:.0} jobs/s", n as f64 / el.as_secs_f64());
            };
            run_worker(&d, &format!("w-bench-{}", std::process::id()), 100, done).await?;
        }
        "graceful" => {
            reset(&d, backend).await;
            let mut tx = d.any.begin().await?;
            enqueue_any(&mut tx, backend, &job("slow", "sleep"), 5).await?;
            tx.commit().await?;
            let any = d.any.clone();
            let t0 = Instant::now();
            let sql = format!("SELECT count(*) FROM {t} WHERE status = 'Running'");
            let stop = async move {
                wait_for(&any, &sql, 1, 10).await;
            };
            run_worker(&d, &format!("w-graceful-{}", std::process::id()), 4, stop).await?;
            let st: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT status FROM {t}"))).fetch_one(&d.any).await?;
            println!("{backend:?} graceful: run_until returned after {:?}; job status={st}, runs={}", t0.elapsed(),
                count(&d.any, "SELECT count(*) FROM runs").await);
        }
        other => anyhow::bail!("unknown {other}"),
    }
    Ok(())
}
