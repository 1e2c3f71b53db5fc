//! River's client over Saghat's database: the connection, the retry policy, the settings.

use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use riverqueue::database::{PostgresDatabase, SqliteDatabase};
use riverqueue::{
    Client, JobRow, MaintenanceConfig, PeriodicJob, QueueConfig, Retention, RetryPolicy, WorkError,
    Workers,
};
use saghat_core::config::JobsConfig;
use saghat_core::jobs::QUEUE;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

/// River's own connection to the application's database.
pub enum JobDatabase {
    Postgres(PostgresDatabase),
    Sqlite(SqliteDatabase),
}

impl JobDatabase {
    /// Connects to `database_url` (the one `DATABASE_URL` names), whose tables — River's among
    /// them — `Db::migrate` has made.
    pub async fn open(database_url: &str, max_connections: u32) -> anyhow::Result<JobDatabase> {
        if database_url.starts_with("postgres") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .connect(database_url)
                .await?;
            Ok(JobDatabase::Postgres(PostgresDatabase::new(pool)))
        } else {
            // River writes beside the services' own writer lock: WAL and a busy timeout let both
            // wait for each other instead of failing with SQLITE_BUSY.
            let options = SqliteConnectOptions::from_str(database_url)?
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await?;
            Ok(JobDatabase::Sqlite(SqliteDatabase::new(pool)))
        }
    }
}

/// How the worker runs: how many jobs at once, how long each may take, and how retries are
/// spaced.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub backoff: Backoff,
    /// One attempt's limit; then it is cancelled and counts as failed.
    pub timeout: Duration,
    /// How long stopping waits for the running jobs before it cancels them (their attempts
    /// fail and they are retried): one attempt's timeout unless a test says otherwise.
    pub stop_timeout: Duration,
    /// A job marked running this long belonged to a worker that died: it is run again.
    pub rescue_after: Duration,
    /// How often the leading worker looks for such jobs.
    pub rescue_every: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings::from(&JobsConfig::default())
    }
}

impl From<&JobsConfig> for WorkerSettings {
    fn from(config: &JobsConfig) -> Self {
        WorkerSettings {
            concurrency: config.concurrency,
            backoff: Backoff {
                first: config.retry_first,
                max: config.retry_max,
            },
            timeout: config.timeout,
            stop_timeout: config.timeout,
            rescue_after: config.rescue_after,
            rescue_every: Duration::from_secs(30).min(config.rescue_after),
        }
    }
}

/// Exponential backoff with jitter: attempt n waits `first × 2^(n-1)`, at most `max`, each
/// delay drawn from ±20% so failed jobs do not all come back at the same instant.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(15),
            max: Duration::from_secs(6 * 3600),
        }
    }
}

impl Backoff {
    /// The delay after failed attempt `attempt` (1 for the first), before jitter.
    pub fn base_delay(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The delay with its jitter, within ±20% of [`Backoff::base_delay`].
    pub fn delay(&self, attempt: i32) -> Duration {
        self.base_delay(attempt)
            .mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
    }
}

impl RetryPolicy for Backoff {
    fn next_retry(
        &self,
        job: &JobRow,
        _error: &WorkError,
        _now: riverqueue::jiff::Timestamp,
    ) -> Duration {
        self.delay(job.attempt)
    }
}

/// The client that works Saghat's queue with `workers`, and enqueues `periodic` jobs (while
/// it is the leader among the running clients, so each period's job is enqueued once however
/// many run). Jobs that used up their attempts are kept (River's `discarded`) until an admin
/// retries or deletes them; finished ones for a week. Stopping lets running jobs finish for up
/// to `stop_timeout` (one attempt's timeout), then cancels them: a cancelled attempt counts as failed and the
/// job is retried, so none is lost.
pub fn client(
    database: JobDatabase,
    workers: Workers,
    periodic: Vec<PeriodicJob>,
    settings: &WorkerSettings,
) -> anyhow::Result<Client> {
    let maintenance = MaintenanceConfig::default()
        .with_discarded_job_retention(Retention::Keep)
        .with_completed_job_retention(Retention::DeleteAfter(Duration::from_secs(7 * 24 * 3600)))
        .with_rescue_after(settings.rescue_after)
        .with_rescuer_interval(settings.rescue_every);
    let mut builder = match database {
        JobDatabase::Postgres(database) => Client::builder(database),
        JobDatabase::Sqlite(database) => Client::builder(database),
    }
    .workers(workers)
    // River's default 100 ms between fetches held the queue to 2-4% of its claim statement's
    // ceiling; at 1 ms three workers reach 70% (BENCHMARKS.md, "Job queue"). An idle worker
    // still fetches only on an insert notification or its poll, so this costs nothing at rest.
    .fetch_cooldown(riverqueue::FETCH_COOLDOWN_MIN)
    .queue(QUEUE, QueueConfig::new(settings.concurrency))
    .retry_policy(settings.backoff)
    .job_timeout(settings.timeout)
    .soft_stop_timeout(settings.stop_timeout)
    .maintenance(maintenance);
    for job in periodic {
        builder = builder.periodic_job(job);
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum_with_bounded_jitter() {
        let backoff = Backoff {
            first: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let base: Vec<u64> = (1..=5).map(|n| backoff.base_delay(n).as_secs()).collect();
        assert_eq!(base, [10, 20, 40, 60, 60]);
        assert_eq!(backoff.base_delay(1000), Duration::from_secs(60));
        for attempt in 1..=5 {
            let delay = backoff.delay(attempt).as_secs_f64();
            let base = backoff.base_delay(attempt).as_secs_f64();
            assert!(
                (base * 0.8..=base * 1.2).contains(&delay),
                "{delay} vs {base}"
            );
        }
    }
}
