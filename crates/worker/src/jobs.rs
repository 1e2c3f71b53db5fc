//! Saghat's kinds of job: each a thin River worker around a core service, and the periodic
//! ones with their schedules. The work itself (what a job does, and why doing it twice has one
//! effect) is in `saghat-core`.

use std::sync::Arc;
use std::time::Duration;

use riverqueue::{
    IntervalSchedule, Job, JobArgs, PeriodicJob, PeriodicJobOpts, WorkContext, WorkOutcome, Workers,
};
use saghat_core::fund::{notices, service};
use saghat_core::notify::delivery::{self, Delivery};
use saghat_core::platform::housekeeping;
use saghat_core::tickets::{daily, sla_watch};
use saghat_core::Ctx;
use serde::{Deserialize, Serialize};

use crate::schedule::daily_at;

/// `housekeeping`: removes expired idempotency keys and refresh tokens, and reports' exports
/// older than `EXPORT_KEEP_DAYS` with their files. Deleting what is already deleted does
/// nothing, so a retried or doubled run is harmless.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "housekeeping")]
struct Housekeeping {}

/// `notification_delivery`: sends one outbox row through its channel. Its args are the row's
/// id only (no address, no text, no secret). A row already sent is not sent again; a retryable
/// failure fails the job (River retries it with backoff, and discards it after the last
/// attempt: the dead letter admins see); a permanent one discards it at once.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "notification_delivery")]
struct NotificationDelivery {
    notification_id: i64,
}

/// `announce_draw`: tells every member the result of a draw (enqueued in the draw's own
/// transaction). Each member's notice has its own key, so a retried run tells no one twice.
/// `fund_daily_notices`: the fund's reminders due today (`fund::notices`), once a day at
/// `FUND_NOTICE_HOUR` in `FUND_TIMEZONE`, and whenever a worker starts, to catch up on a day
/// missed while Saghat was down. Each notice has its effect key, so a second run sends nothing.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "fund_daily_notices")]
struct FundDailyNotices {}

/// `ticket_sla_watch`: escalates loan-request tickets past their SLA deadline
/// (`tickets::sla_watch`), every few minutes. Each deadline is escalated once.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "ticket_sla_watch")]
struct TicketSlaWatch {}

/// `ticket_daily`: each ticket being repaid gets its days past due and delinquency bucket, and
/// borrowers their reminders `TICKET_REMINDER_DAYS_BEFORE` days before an installment falls
/// due (`tickets::daily`). Same time as the fund's notices, and on start to catch up; a second
/// run the same day changes nothing and reminds no one twice.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "ticket_daily")]
struct TicketDaily {}

/// `draw_commitment`: publishes the month's draw commitment (`fund::proof`) when a Jalali
/// month begins (each day at midnight in `FUND_TIMEZONE`, and when a worker starts); a month
/// that has one keeps it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "draw_commitment")]
struct DrawCommitment {}

#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "announce_draw")]
struct AnnounceDraw {
    loan_id: String,
}

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
            let exports = saghat_core::reports::exports::sweep(&ctx).await?;
            if exports > 0 {
                tracing::info!(exports, "housekeeping: removed old exports and their files");
            }
            Ok::<_, sqlx::Error>(WorkOutcome::Complete)
        }
    })?;
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, job: Job<NotificationDelivery>| {
        let ctx = context.clone();
        async move {
            let id = job.args.notification_id;
            let outcome = delivery::deliver(&ctx, id, job.row.attempt, job.row.max_attempts).await?;
            Ok::<_, delivery::DeliveryError>(match outcome {
                Delivery::Failed(why) => {
                    tracing::warn!(notification_id = id, reason = %why, "notification failed for good");
                    WorkOutcome::Discard
                }
                Delivery::Sent | Delivery::NothingToDo | Delivery::Gone => WorkOutcome::Complete,
            })
        }
    })?;
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, job: Job<AnnounceDraw>| {
        let ctx = context.clone();
        async move {
            let queued = service::announce_draw(&ctx, &job.args.loan_id).await?;
            tracing::info!(loan_id = %job.args.loan_id, queued, "draw announced to the members");
            Ok::<_, sqlx::Error>(WorkOutcome::Complete)
        }
    })?;
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, _job: Job<DrawCommitment>| {
        let ctx = context.clone();
        async move {
            saghat_core::fund::proof::service::commit_current_month(&ctx).await?;
            Ok::<_, sqlx::Error>(WorkOutcome::Complete)
        }
    })?;
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, _job: Job<FundDailyNotices>| {
        let ctx = context.clone();
        async move {
            let due = notices::send_due_notices(&ctx).await?;
            tracing::info!(due, "fund notices: today's reminders written to the outbox");
            Ok::<_, sqlx::Error>(WorkOutcome::Complete)
        }
    })?;
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, _job: Job<TicketSlaWatch>| {
        let ctx = context.clone();
        async move {
            let escalated = sla_watch::escalate_breaches(&ctx).await?;
            if escalated > 0 {
                tracing::info!(escalated, "tickets: SLA breaches escalated to the lenders");
            }
            Ok::<_, saghat_core::tickets::error::TicketError>(WorkOutcome::Complete)
        }
    })?;
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, _job: Job<TicketDaily>| {
        let ctx = context.clone();
        async move {
            let done = daily::run(&ctx).await?;
            tracing::info!(
                lateness_changed = done.lateness_changed,
                reminded = done.reminded,
                "tickets: delinquency recomputed and installment reminders written"
            );
            Ok::<_, sqlx::Error>(WorkOutcome::Complete)
        }
    })?;
    crate::invoicing::add_workers(&mut workers, ctx)?;
    crate::webhooks::add_workers(&mut workers, ctx)?;
    crate::payments::add_workers(&mut workers, ctx)?;
    crate::reports::add_workers(&mut workers, ctx)?;
    crate::statements::add_workers(&mut workers, ctx)?;
    Ok(workers)
}

/// How often SLA breaches are looked for: a breach is escalated within this long.
const SLA_WATCH_EVERY: Duration = Duration::from_secs(5 * 60);

/// The periodic jobs, enqueued by the leading worker only.
pub(crate) fn periodic(ctx: &Arc<Ctx>) -> anyhow::Result<Vec<PeriodicJob>> {
    let hourly = IntervalSchedule::new(Duration::from_secs(3600))?;
    let notice_time = daily_at(ctx.config.fund_notices.hour, ctx.config.fund_timezone)?;
    let mut jobs = vec![
        PeriodicJob::with_options(
            hourly,
            Housekeeping::default,
            PeriodicJobOpts::new()
                .with_id("housekeeping")
                .with_run_on_start(true),
        ),
        PeriodicJob::with_options(
            daily_at(0, ctx.config.fund_timezone)?,
            DrawCommitment::default,
            PeriodicJobOpts::new()
                .with_id("draw_commitment")
                .with_run_on_start(true),
        ),
        PeriodicJob::with_options(
            notice_time,
            FundDailyNotices::default,
            PeriodicJobOpts::new()
                .with_id("fund_daily_notices")
                .with_run_on_start(true),
        ),
        PeriodicJob::with_options(
            IntervalSchedule::new(SLA_WATCH_EVERY)?,
            TicketSlaWatch::default,
            PeriodicJobOpts::new()
                .with_id("ticket_sla_watch")
                .with_run_on_start(true),
        ),
        PeriodicJob::with_options(
            daily_at(ctx.config.fund_notices.hour, ctx.config.fund_timezone)?,
            TicketDaily::default,
            PeriodicJobOpts::new()
                .with_id("ticket_daily")
                .with_run_on_start(true),
        ),
        crate::invoicing::periodic(ctx)?,
    ];
    jobs.extend(crate::payments::periodic(ctx)?);
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_worker_works_the_kind_the_outbox_enqueues() {
        assert_eq!(NotificationDelivery::KIND, delivery::DELIVERY_JOB);
        assert_eq!(AnnounceDraw::KIND, service::ANNOUNCE_DRAW_JOB);
        let args = serde_json::to_value(NotificationDelivery { notification_id: 7 }).unwrap();
        assert_eq!(args, serde_json::json!({ "notification_id": 7 }));
    }
}
