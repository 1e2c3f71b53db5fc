//! `webhook_delivery`: one attempt of one webhook delivery (`saghat_core::webhooks::service::
//! deliver`). A failed attempt fails the job, so River retries it with backoff; the last one
//! marks the delivery failed and discards the job, where admins see it.

use std::sync::Arc;

use riverqueue::{Job, JobArgs, WorkContext, WorkOutcome, Workers};
use saghat_core::webhooks::service::{self, AttemptError, Attempted};
use saghat_core::Ctx;
use serde::{Deserialize, Serialize};

/// Its args are the delivery's id only: the body and the secret are read from the database.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "webhook_delivery")]
struct WebhookDelivery {
    delivery_id: i64,
}

pub(crate) fn add_workers(workers: &mut Workers, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, job: Job<WebhookDelivery>| {
        let ctx = context.clone();
        async move {
            let id = job.args.delivery_id;
            let outcome = service::deliver(&ctx, id, job.row.attempt, job.row.max_attempts).await?;
            Ok::<_, AttemptError>(match outcome {
                Attempted::Failed(why) => {
                    tracing::warn!(delivery_id = id, reason = %why, "webhook delivery failed for good");
                    WorkOutcome::Discard
                }
                Attempted::Delivered | Attempted::NothingToDo => WorkOutcome::Complete,
            })
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_works_the_kind_emit_enqueues() {
        assert_eq!(WebhookDelivery::KIND, service::DELIVERY_JOB);
        let args = serde_json::to_value(WebhookDelivery { delivery_id: 7 }).unwrap();
        assert_eq!(args, serde_json::json!({ "delivery_id": 7 }));
    }
}
