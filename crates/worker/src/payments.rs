//! `payment_reconciliation`: every few minutes, finishes online payments left half-way
//! (`saghat_core::intents::reconcile`): verifies what the gateway holds as paid, asks about
//! intents stuck waiting, expires old ones, gives back money for what was already paid. Every
//! move is conditional, so a run beside a callback, or a doubled run, applies nothing twice.

use std::sync::Arc;
use std::time::Duration;

use riverqueue::{
    IntervalSchedule, Job, JobArgs, PeriodicJob, PeriodicJobOpts, WorkContext, WorkOutcome, Workers,
};
use saghat_core::intents::error::IntentError;
use saghat_core::intents::reconcile;
use saghat_core::Ctx;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "payment_reconciliation")]
struct PaymentReconciliation {}

/// How often: a payment whose callback never came is recorded within about this long.
const EVERY: Duration = Duration::from_secs(5 * 60);

pub(crate) fn add_workers(workers: &mut Workers, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let context = ctx.clone();
    workers.add_fn(
        move |_work: WorkContext, _job: Job<PaymentReconciliation>| {
            let ctx = context.clone();
            async move {
                let done = reconcile::reconcile(&ctx, reconcile::MIN_AGE).await?;
                if done.checked > 0 {
                    tracing::info!(?done, "online payments reconciled");
                }
                Ok::<_, IntentError>(WorkOutcome::Complete)
            }
        },
    )?;
    Ok(())
}

/// Only when a gateway is configured.
pub(crate) fn periodic(ctx: &Arc<Ctx>) -> anyhow::Result<Option<PeriodicJob>> {
    if ctx.online.is_none() {
        return Ok(None);
    }
    Ok(Some(PeriodicJob::with_options(
        IntervalSchedule::new(EVERY)?,
        PaymentReconciliation::default,
        PeriodicJobOpts::new()
            .with_id("payment_reconciliation")
            .with_run_on_start(true),
    )))
}
