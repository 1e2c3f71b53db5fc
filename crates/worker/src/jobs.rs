//! Saghat's kinds of job: each a thin River worker around a core service, and the periodic
//! ones with their schedules. The work itself (what a job does, and why doing it twice has one
//! effect) is in `saghat-core`.

use std::sync::Arc;
use std::time::Duration;

use riverqueue::{
    IntervalSchedule, Job, JobArgs, PeriodicJob, PeriodicJobOpts, WorkContext, WorkOutcome, Workers,
};
use saghat_core::platform::housekeeping;
use saghat_core::Ctx;
use serde::{Deserialize, Serialize};

/// `housekeeping`: removes expired idempotency keys and refresh tokens. Deleting what is
/// already deleted does nothing, so a retried or doubled run is harmless.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "housekeeping")]
struct Housekeeping {}

/// Every kind Saghat runs, each with the context its service needs.
pub(crate) fn workers(ctx: &Arc<Ctx>) -> anyhow::Result<Workers> {
    let mut workers = Workers::new();
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, _job: Job<Housekeeping>| {
        let ctx = context.clone();
        async move {
            let swept = housekeeping::sweep(&ctx.db, ctx.now(), ctx.access_lifetime()).await?;
            tracing::info!(
                idempotency_keys = swept.idempotency_keys,
                refresh_tokens = swept.refresh_tokens,
                "housekeeping: removed expired rows"
            );
            Ok::<_, sqlx::Error>(WorkOutcome::Complete)
        }
    })?;
    Ok(workers)
}

/// The periodic jobs, enqueued by the leading worker only.
pub(crate) fn periodic(_ctx: &Arc<Ctx>) -> anyhow::Result<Vec<PeriodicJob>> {
    let hourly = IntervalSchedule::new(Duration::from_secs(3600))?;
    Ok(vec![PeriodicJob::with_options(
        hourly,
        Housekeeping::default,
        PeriodicJobOpts::new()
            .with_id("housekeeping")
            .with_run_on_start(true),
    )])
}
