//! Saghat's background jobs on riverqueue, over the application's own database.
//!
//! Services enqueue with `saghat_core::jobs::enqueue` inside their own transaction; this crate
//! prepares River's tables and runs the client that claims and works those jobs. River needs a
//! typed pool (`PgPool` or `SqlitePool`) beside the services' `AnyPool`: [`JobDatabase`] opens
//! it on the same database URL.

use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use riverqueue::database::{PostgresDatabase, SqliteDatabase};
use riverqueue::migrate::{PostgresMigrator, SqliteMigrator};
use riverqueue::{
    Client, JobRow, MaintenanceConfig, QueueConfig, Retention, RetryPolicy, WorkError, Workers,
};
use saghat_core::jobs::QUEUE;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

pub use riverqueue;

/// River's own connection to the application's database.
pub enum JobDatabase {
    Postgres(PostgresDatabase),
    Sqlite(SqliteDatabase),
}

impl JobDatabase {
    /// Connects to `database_url` (the one `DATABASE_URL` names) and brings River's tables up
    /// to date; safe to run at every start and from several processes.
    pub async fn open(database_url: &str, max_connections: u32) -> anyhow::Result<JobDatabase> {
        if database_url.starts_with("postgres") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .connect(database_url)
                .await?;
            PostgresMigrator::new(pool.clone()).migrate_up().await?;
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
            SqliteMigrator::new(pool.clone()).migrate_up().await?;
            Ok(JobDatabase::Sqlite(SqliteDatabase::new(pool)))
        }
    }
}

/// How the worker runs: how many jobs at once, and how retries are spaced.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub backoff: Backoff,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 10,
            backoff: Backoff::default(),
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

/// The client that works Saghat's queue with `workers`. Jobs that used up their attempts are
/// kept (River's `discarded`) until an admin retries or deletes them; finished ones for a week.
pub fn client(
    database: JobDatabase,
    workers: Workers,
    settings: &WorkerSettings,
) -> anyhow::Result<Client> {
    let maintenance = MaintenanceConfig::default()
        .with_discarded_job_retention(Retention::Keep)
        .with_completed_job_retention(Retention::DeleteAfter(Duration::from_secs(7 * 24 * 3600)));
    let builder = match database {
        JobDatabase::Postgres(database) => Client::builder(database),
        JobDatabase::Sqlite(database) => Client::builder(database),
    };
    Ok(builder
        .workers(workers)
        .queue(QUEUE, QueueConfig::new(settings.concurrency))
        .retry_policy(settings.backoff)
        .maintenance(maintenance)
        .build()?)
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
