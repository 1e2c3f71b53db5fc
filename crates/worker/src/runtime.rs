//! The worker as `saghat serve` and `saghat worker` run it.

use std::sync::Arc;

use riverqueue::RunHandle;
use saghat_core::Ctx;

use crate::queue::{client, JobDatabase, WorkerSettings};

/// A running worker: stop it to let the jobs in hand finish (or be released for a retry).
pub struct Worker {
    run: RunHandle,
}

impl Worker {
    /// Starts working Saghat's queue on `ctx`'s database with `JOB_*`/`WORKER_*` settings.
    pub async fn start(ctx: Arc<Ctx>) -> anyhow::Result<Worker> {
        let settings = WorkerSettings::from(&ctx.config.jobs);
        // One connection per job in hand, and a few for River's own bookkeeping.
        let connections = u32::try_from(settings.concurrency)
            .unwrap_or(u32::MAX)
            .saturating_add(3);
        let database = JobDatabase::open(&ctx.config.database_url, connections).await?;
        let workers = crate::jobs::workers(&ctx)?;
        let periodic = crate::jobs::periodic(&ctx)?;
        let queue = client(database, workers, periodic, &settings)?;
        let mut run = queue.start()?;
        run.wait_ready().await?;
        tracing::info!(
            concurrency = settings.concurrency,
            "worker started: working the job queue"
        );
        Ok(Worker { run })
    }

    /// Stops fetching, waits for the running jobs (at most `JOB_TIMEOUT_SECONDS`, then cancels
    /// them, which schedules their retry).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.run.stop().await?;
        tracing::info!("worker stopped");
        Ok(())
    }

    /// Waits until the worker stops on its own (an error: it is meant to run until stopped).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        Ok(self.run.wait().await?)
    }
}
