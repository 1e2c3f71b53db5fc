//! Invoicing's jobs: the daily pass (`invoice_daily`) and the delivery of one reminder with its
//! PDF (`invoice_reminder`). The work is `saghat_core::invoicing::reminder_job`; the PDF is
//! rendered here, where `saghat-pdf` is (it builds on the core).

use std::sync::Arc;

use riverqueue::{Job, JobArgs, PeriodicJob, PeriodicJobOpts, WorkContext, WorkOutcome, Workers};
use saghat_core::invoicing::model::Invoice;
use saghat_core::invoicing::reminder_job::{self, InvoicePdf, ReminderDelivery};
use saghat_core::platform::lang::Lang;
use saghat_core::Ctx;
use saghat_pdf::print::{invoice_pdf, PrintFacts};
use serde::{Deserialize, Serialize};

use crate::schedule::daily_at;

/// `invoice_daily`: open invoices past due become overdue, recurring templates make their
/// invoices, and each open invoice's reminder step that has come is logged and queued. At
/// `FUND_NOTICE_HOUR` in `FUND_TIMEZONE`, and when a worker starts (a day missed is caught up:
/// only the latest step goes). A second run the same day logs and sends nothing.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JobArgs)]
#[river(kind = "invoice_daily")]
struct InvoiceDaily {}

/// `invoice_reminder`: e-mails one logged reminder with the invoice's PDF. Its args are the
/// reminder's id only. Settled meanwhile: cancelled, nothing sent. A retryable failure fails the
/// job (River retries it with backoff); a permanent one marks the reminder failed.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "invoice_reminder")]
struct InvoiceReminder {
    reminder_id: i64,
}

/// The PDF of `saghat_pdf::print`, with the seller's logo read once at start.
struct Printer {
    logo_png: Option<Vec<u8>>,
}

impl InvoicePdf for Printer {
    fn render(&self, invoice: &Invoice, lang: Lang, settled: i64) -> Result<Vec<u8>, String> {
        invoice_pdf(
            invoice,
            &PrintFacts {
                lang,
                settled,
                logo_png: self.logo_png.clone(),
                buyer_reference: None,
            },
        )
        .map_err(|e| e.to_string())
    }
}

fn printer(ctx: &Ctx) -> Printer {
    let logo_png = ctx.config.invoicing.seller_logo.as_ref().and_then(|path| {
        std::fs::read(path)
            .inspect_err(|e| {
                // The reminder still goes, its PDF without the logo.
                tracing::warn!(path = %path.display(), error = %e, "INVOICE_SELLER_LOGO is unreadable");
            })
            .ok()
    });
    Printer { logo_png }
}

pub(crate) fn add_workers(workers: &mut Workers, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, _job: Job<InvoiceDaily>| {
        let ctx = context.clone();
        async move {
            let today = reminder_job::today(&ctx);
            let done = reminder_job::run_daily(&ctx, today).await?;
            tracing::info!(
                overdue = done.overdue,
                recurring = done.recurring,
                reminders = done.reminders,
                "invoicing: overdue marked, recurring invoices made, reminders queued"
            );
            Ok::<_, saghat_core::invoicing::error::InvoicingError>(WorkOutcome::Complete)
        }
    })?;
    let context = ctx.clone();
    let pdf: Arc<dyn InvoicePdf> = Arc::new(printer(ctx));
    workers.add_fn(move |_work: WorkContext, job: Job<InvoiceReminder>| {
        let ctx = context.clone();
        let pdf = pdf.clone();
        async move {
            let id = job.args.reminder_id;
            let outcome =
                reminder_job::deliver(&ctx, id, job.row.attempt, job.row.max_attempts, pdf).await?;
            match &outcome {
                ReminderDelivery::Failed(why) => {
                    tracing::warn!(reminder_id = id, reason = %why, "invoice reminder failed for good");
                }
                ReminderDelivery::Skipped(why) => {
                    tracing::info!(reminder_id = id, reason = %why, "invoice reminder skipped");
                }
                _ => {}
            }
            Ok::<_, reminder_job::ReminderError>(match outcome {
                ReminderDelivery::Failed(_) => WorkOutcome::Discard,
                _ => WorkOutcome::Complete,
            })
        }
    })?;
    Ok(())
}

pub(crate) fn periodic(ctx: &Arc<Ctx>) -> anyhow::Result<PeriodicJob> {
    Ok(PeriodicJob::with_options(
        daily_at(ctx.config.fund_notices.hour, ctx.config.fund_timezone)?,
        InvoiceDaily::default,
        PeriodicJobOpts::new()
            .with_id("invoice_daily")
            .with_run_on_start(true),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reminder_worker_works_the_kind_the_daily_pass_enqueues() {
        assert_eq!(InvoiceReminder::KIND, reminder_job::REMINDER_JOB);
        let args = serde_json::to_value(InvoiceReminder { reminder_id: 7 }).unwrap();
        assert_eq!(args, serde_json::json!({ "reminder_id": 7 }));
    }
}
