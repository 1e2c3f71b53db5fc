//! The job queue's benchmark (issue 10, item 5), driven by `bench/jobs.sh`. Every job is
//! enqueued with `saghat_core::jobs::enqueue` in a committed transaction and worked by
//! `saghat_worker::client` on a `JobDatabase`, as in production. Each mode prints one JSON line.
//!
//! ```text
//! queue_bench prepare --url U                          Saghat's and River's migrations
//! queue_bench drain   --url U --count N --processes P  [worker options]   (PostgreSQL)
//! queue_bench work    --url U --out FILE [worker options]   (one worker process; drain spawns it)
//! queue_bench latency --url U --count N [--gap-ms G]   enqueue-to-start, worker idle
//! queue_bench smtp    --port P --count N [--concurrency C]   e-mails through SmtpSender
//! ```
//!
//! Worker options: `--concurrency C` (production: `WORKER_CONCURRENCY`, 10) and
//! `--fetch-cooldown-ms MS` (River's default 100 ms; production does not set it). With neither
//! changed from production, the client is `saghat_worker::client` itself.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use riverqueue::{
    Client, Job, JobArgs, MaintenanceConfig, QueueConfig, Retention, WorkContext, WorkOutcome,
    Workers,
};
use saghat_core::jobs::{enqueue, NewJob, QUEUE};
use saghat_core::notify::smtp::{SmtpSender, SmtpSettings};
use saghat_core::notify::{EmailAddress, Outgoing, Recipient, Sender};
use saghat_core::platform::db::{Backend, Db, Open};
use saghat_worker::{client, JobDatabase, WorkerSettings};
use serde::{Deserialize, Serialize};

/// The benchmark's job: does nothing but say it started.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "bench_noop")]
struct Noop {
    seq: u64,
}

const KIND: &str = "bench_noop";

/// `--name value` pairs.
struct Args(HashMap<String, String>);

impl Args {
    fn parse(rest: &[String]) -> anyhow::Result<Args> {
        let mut map = HashMap::new();
        let mut it = rest.iter();
        while let Some(name) = it.next() {
            let Some(name) = name.strip_prefix("--") else {
                bail!("expected --name, got {name:?}");
            };
            let value = it
                .next()
                .with_context(|| format!("--{name} needs a value"))?;
            map.insert(name.to_string(), value.clone());
        }
        Ok(Args(map))
    }

    fn text(&self, name: &str) -> anyhow::Result<String> {
        self.0
            .get(name)
            .cloned()
            .with_context(|| format!("--{name} is required"))
    }

    fn number(&self, name: &str, default: u64) -> anyhow::Result<u64> {
        match self.0.get(name) {
            Some(v) => v.parse().with_context(|| format!("--{name} {v:?}")),
            None => Ok(default),
        }
    }
}

/// How the worker processes are configured; production's unless told otherwise.
#[derive(Clone, Copy, Debug)]
struct Tuning {
    concurrency: usize,
    fetch_cooldown_ms: Option<u64>,
}

impl Tuning {
    fn from_args(args: &Args) -> anyhow::Result<Tuning> {
        let concurrency =
            args.number("concurrency", WorkerSettings::default().concurrency as u64)?;
        let fetch_cooldown_ms = match args.0.get("fetch-cooldown-ms") {
            Some(v) => Some(v.parse()?),
            None => None,
        };
        Ok(Tuning {
            concurrency: usize::try_from(concurrency)?,
            fetch_cooldown_ms,
        })
    }

    fn pass_on(&self, command: &mut Command) {
        command.args(["--concurrency", &self.concurrency.to_string()]);
        if let Some(ms) = self.fetch_cooldown_ms {
            command.args(["--fetch-cooldown-ms", &ms.to_string()]);
        }
    }
}

/// The worker's client: production's `saghat_worker::client`, or — only to try a fetch
/// cooldown production does not set — the same configuration with that one change.
async fn worker_client(url: &str, tuning: Tuning, workers: Workers) -> anyhow::Result<Client> {
    let settings = WorkerSettings {
        concurrency: tuning.concurrency,
        ..WorkerSettings::default()
    };
    // As `Worker::start`: a connection per job in hand and a few for River's bookkeeping.
    let connections = u32::try_from(settings.concurrency)?.saturating_add(3);
    let database = JobDatabase::open(url, connections).await?;
    let Some(ms) = tuning.fetch_cooldown_ms else {
        return client(database, workers, Vec::new(), &settings);
    };
    let maintenance = MaintenanceConfig::default()
        .with_discarded_job_retention(Retention::Keep)
        .with_completed_job_retention(Retention::DeleteAfter(Duration::from_secs(7 * 24 * 3600)))
        .with_rescue_after(settings.rescue_after);
    let builder = match database {
        JobDatabase::Postgres(database) => Client::builder(database),
        JobDatabase::Sqlite(database) => Client::builder(database),
    };
    Ok(builder
        .workers(workers)
        .fetch_cooldown(Duration::from_millis(ms))
        .queue(QUEUE, QueueConfig::new(settings.concurrency))
        .retry_policy(settings.backoff)
        .job_timeout(settings.timeout)
        .soft_stop_timeout(settings.timeout)
        .maintenance(maintenance)
        .build()?)
}

fn noop_job(seq: u64, run: &str) -> anyhow::Result<NewJob<'static>> {
    Ok(NewJob {
        kind: KIND,
        args: serde_json::to_value(Noop { seq })?,
        unique_key: format!("bench:{run}:{seq}"),
        max_attempts: 10,
    })
}

async fn open(url: &str) -> anyhow::Result<Db> {
    Db::open(url, 4, Open::Existing).await
}

async fn prepare(args: &Args) -> anyhow::Result<()> {
    let db = Db::open(&args.text("url")?, 4, Open::CreateIfMissing).await?;
    db.migrate().await?;
    println!("{{\"mode\":\"prepare\",\"ok\":true}}");
    Ok(())
}

/// `count` no-op jobs, `batch` to a committed transaction.
async fn enqueue_many(db: &Db, count: u64, batch: u64, run: &str) -> anyhow::Result<()> {
    let mut seq = 0;
    while seq < count {
        let mut tx = db.begin_write().await?;
        for _ in 0..batch.min(count - seq) {
            if !enqueue(&mut tx, db.backend, &noop_job(seq, run)?).await? {
                bail!("job {seq} was not new");
            }
            seq += 1;
        }
        tx.commit().await?;
    }
    Ok(())
}

fn unix_now() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{}", t.as_secs(), t.subsec_nanos())
}

/// One worker process: works the queue until its standard input closes, then writes the ids
/// of the jobs it ran to `--out`.
async fn work(args: &Args) -> anyhow::Result<()> {
    let url = args.text("url")?;
    let out = args.text("out")?;
    let tuning = Tuning::from_args(args)?;
    let ran: Arc<Mutex<Vec<i64>>> = Arc::default();
    let mut workers = Workers::new();
    let record = ran.clone();
    workers.add_fn(move |_ctx: WorkContext, job: Job<Noop>| {
        record.lock().expect("ids").push(job.row.id);
        async { Ok::<_, String>(WorkOutcome::Complete) }
    })?;
    let queue = worker_client(&url, tuning, workers).await?;
    let mut running = queue.start()?;
    running.wait_ready().await?;
    // The driver closes our stdin once every job is completed.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    running.stop().await?;
    let ids = ran.lock().expect("ids").clone();
    let report = serde_json::json!({ "pid": std::process::id(), "ids": ids });
    std::fs::write(&out, report.to_string())?;
    Ok(())
}

/// Enqueues `--count` jobs, then starts `--processes` worker processes and times them
/// draining the queue; checks every job ran exactly once.
async fn drain(args: &Args) -> anyhow::Result<()> {
    let url = args.text("url")?;
    let count = args.number("count", 20_000)?;
    let processes = args.number("processes", 1)?;
    let tuning = Tuning::from_args(args)?;
    let dir = args.text("dir")?;
    let db = open(&url).await?;
    if db.backend != Backend::Postgres {
        bail!("drain is for PostgreSQL (several worker processes on one database)");
    }
    // A fresh table for every run: no dead rows of the previous one in the claim's index.
    sqlx::query("TRUNCATE river_job").execute(&db.pool).await?;
    let run = unix_now();
    let t = Instant::now();
    enqueue_many(&db, count, 1000, &run).await?;
    let enqueue_s = t.elapsed().as_secs_f64();
    sqlx::query("VACUUM ANALYZE river_job")
        .execute(&db.pool)
        .await?;

    let exe = std::env::current_exe()?;
    let mut children: Vec<(Child, String)> = Vec::new();
    let started = Instant::now();
    for i in 0..processes {
        let out = format!("{dir}/work-{i}.json");
        let mut command = Command::new(&exe);
        command.args(["work", "--url", &url, "--out", &out]);
        tuning.pass_on(&mut command);
        let child = command.stdin(Stdio::piped()).spawn()?;
        children.push((child, out));
    }
    let completed = loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM river_job WHERE kind = $1 AND state = 'completed'",
        )
        .bind(KIND)
        .fetch_one(&db.pool)
        .await?;
        if u64::try_from(done)? >= count || started.elapsed() > Duration::from_secs(300) {
            break done;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wall_s = started.elapsed().as_secs_f64();

    let mut runs_by_id: HashMap<i64, u32> = HashMap::new();
    let mut per_process = Vec::new();
    for (mut child, out) in children {
        drop(child.stdin.take()); // tells the worker to stop
        let status = child.wait()?;
        if !status.success() {
            bail!("worker process exited with {status}");
        }
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
        let ids = report["ids"].as_array().context("ids")?;
        per_process.push(ids.len());
        for id in ids {
            *runs_by_id.entry(id.as_i64().context("id")?).or_default() += 1;
        }
        std::fs::remove_file(&out)?;
    }
    let runs: u64 = per_process.iter().map(|n| *n as u64).sum();
    let twice = runs_by_id.values().filter(|n| **n > 1).count();
    // From the first claim to the last completion, as River recorded them.
    let (max_attempt, window_s): (i32, f64) = sqlx::query_as(
        "SELECT MAX(attempt), CAST(EXTRACT(EPOCH FROM MAX(finalized_at) - MIN(attempted_at)) AS DOUBLE PRECISION) \
         FROM river_job WHERE kind = $1",
    )
    .bind(KIND)
    .fetch_one(&db.pool)
    .await?;
    let report = serde_json::json!({
        "mode": "drain",
        "processes": processes,
        "concurrency": tuning.concurrency,
        "fetch_cooldown_ms": tuning.fetch_cooldown_ms.unwrap_or(100),
        "default_settings": tuning.fetch_cooldown_ms.is_none()
            && tuning.concurrency == WorkerSettings::default().concurrency,
        "jobs": count,
        "enqueue_s": enqueue_s,
        "completed": completed,
        "runs": runs,
        "distinct_jobs_run": runs_by_id.len(),
        "jobs_run_twice": twice,
        "max_attempt": max_attempt,
        "per_process": per_process,
        "window_s": window_s,
        "jobs_per_s": count as f64 / window_s,
        "wall_s": wall_s,
    });
    println!("{report}");
    Ok(())
}

/// Enqueue-to-start with the worker idle: one job at a time, each in its own committed
/// transaction, the next only after the previous one started and a pause.
async fn latency(args: &Args) -> anyhow::Result<()> {
    let url = args.text("url")?;
    let count = args.number("count", 200)?;
    let gap = Duration::from_millis(args.number("gap-ms", 150)?);
    let db = open(&url).await?;
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = Workers::new();
    workers.add_fn(move |_ctx: WorkContext, job: Job<Noop>| {
        let _ = started_tx.send((job.args.seq, Instant::now()));
        async { Ok::<_, String>(WorkOutcome::Complete) }
    })?;
    let tuning = Tuning::from_args(args)?;
    let queue = worker_client(&url, tuning, workers).await?;
    let mut running = queue.start()?;
    running.wait_ready().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let run = unix_now();
    let mut millis = Vec::new();
    for seq in 0..count {
        let job = noop_job(seq, &run)?;
        // From before the transaction begins: the caller's whole enqueue, commit included.
        let t0 = Instant::now();
        let mut tx = db.begin_write().await?;
        enqueue(&mut tx, db.backend, &job).await?;
        tx.commit().await?;
        let (got, at) = tokio::time::timeout(Duration::from_secs(10), started_rx.recv())
            .await
            .context("a job did not start within 10 s")?
            .context("worker gone")?;
        if got != seq {
            bail!("job {got} started while waiting for {seq}");
        }
        millis.push(at.duration_since(t0).as_secs_f64() * 1000.0);
        // Jitter the pause so the enqueues do not lock step with River's poll.
        tokio::time::sleep(gap + Duration::from_millis(seq * 37 % 50)).await;
    }
    running.stop().await?;
    millis.sort_by(f64::total_cmp);
    let pick =
        |q: f64| millis[((millis.len() as f64 * q).ceil() as usize).clamp(1, millis.len()) - 1];
    let report = serde_json::json!({
        "mode": "latency",
        "backend": if db.backend == Backend::Postgres { "postgres" } else { "sqlite" },
        "jobs": count,
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": millis.last().copied().unwrap_or(0.0),
        "min_ms": millis.first().copied().unwrap_or(0.0),
    });
    println!("{report}");
    Ok(())
}

/// `--count` e-mails (text + HTML, Persian) through `SmtpSender`, `--concurrency` in flight.
async fn smtp(args: &Args) -> anyhow::Result<()> {
    let port = args.number("port", 2525)?;
    let count = args.number("count", 500)?;
    let concurrency = args.number("concurrency", 1)?;
    // Production's SMTP_PER_SECOND (5) would be what is measured: lifted, to see the sender.
    let per_second = u32::try_from(args.number("per-second", 1_000_000)?)?;
    let settings = SmtpSettings::parse(
        &format!("smtp://127.0.0.1:{port}?tls=none"),
        "صندوق ساغت <saghat@example.com>",
        None,
        per_second,
    )?;
    let sender = Arc::new(SmtpSender::new(&settings, Duration::from_secs(10))?);
    let message = Arc::new(Outgoing {
        to: Recipient::Email(EmailAddress::parse("member@example.com")?),
        subject: "پرداخت شما ثبت شد".into(),
        text: "سلام علی،\nپرداخت ۱٬۰۰۰٬۰۰۰ تومانی شما در تاریخ ۱۴۰۵/۰۹/۱۰ ثبت شد.\n".into(),
        html: Some(
            "<p dir=\"rtl\">سلام علی،<br>پرداخت <b>۱٬۰۰۰٬۰۰۰</b> تومانی شما ثبت شد.</p>".into(),
        ),
        whatsapp_template: None,
        message_id: None,
        attachments: Vec::new(),
    });
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (sender, message, next) = (sender.clone(), message.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0u64;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                if sender.send(&message).await.is_err() {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for task in tasks {
        failed += task.await?;
    }
    let seconds = t.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "mode": "smtp",
        "emails": count,
        "concurrency": concurrency,
        "failed": failed,
        "seconds": seconds,
        "emails_per_s": (count - failed) as f64 / seconds,
    });
    println!("{report}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = argv.split_first() else {
        bail!("usage: queue_bench prepare|drain|work|latency|smtp --url … (see the source)");
    };
    let args = Args::parse(rest)?;
    match mode.as_str() {
        "prepare" => prepare(&args).await,
        "drain" => drain(&args).await,
        "work" => work(&args).await,
        "latency" => latency(&args).await,
        "smtp" => smtp(&args).await,
        other => bail!("unknown mode {other:?}"),
    }
}
