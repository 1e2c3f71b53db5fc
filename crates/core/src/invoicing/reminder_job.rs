//! Invoicing's daily work and its reminders, run by the worker's `invoice_daily` job (at
//! `FUND_NOTICE_HOUR` in `FUND_TIMEZONE`, and when a worker starts) and `invoice_reminder` job.
//!
//! The daily pass marks overdue invoices, makes the recurring ones due, then logs the reminder
//! step each open invoice has come to (`reminders::ReminderSchedule::due_step`): one row in
//! `invoice_reminders` per (invoice, step), UNIQUE, with its delivery job enqueued in the same
//! transaction, so a retried or doubled pass logs and sends nothing twice. The delivery reads
//! the invoice again (paid or voided meanwhile: the reminder is cancelled, nothing goes), and
//! e-mails the client the text in the client's language with the invoice's PDF attached.

use crate::platform::response_cache::Area;
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::json;
use sqlx::AnyConnection;

use super::error::InvoicingError;
use super::invoices::{self, to_model};
use super::model::Invoice;
use super::recurring;
use super::reminders::{self, ReminderFacts};
use super::service::{audit, now_text};
use super::store::{self, InvoiceRow};
use crate::jobs::{self, NewJob};
use crate::notify::{Attachment, Channel, EmailAddress, Outgoing, Recipient, SendError};
use crate::platform::audit::RequestMeta;
use crate::platform::lang::Lang;
use crate::Ctx;

/// The job kind that delivers one reminder (its args: `{"reminder_id": id}`).
pub const REMINDER_JOB: &str = "invoice_reminder";

/// Statuses of an invoice that still has something to pay.
const OPEN: &str = "'sent', 'partially_paid', 'overdue'";

/// What a daily pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyOutcome {
    /// Invoices that became overdue.
    pub overdue: usize,
    /// Invoices made from recurring templates.
    pub recurring: usize,
    /// Reminders logged, queued for delivery or skipped with their reason.
    pub reminders: usize,
}

/// The invoice's PDF, as `saghat-pdf` renders it: given to the delivery by the worker (the PDF
/// crate builds on this one). Runs on a blocking thread: typst's layout is CPU work.
pub trait InvoicePdf: Send + Sync + 'static {
    /// The PDF of a sent `invoice` in `lang`, `settled` (paid and credited) minor units shown.
    fn render(&self, invoice: &Invoice, lang: Lang, settled: i64) -> Result<Vec<u8>, String>;
}

/// Today in the fund's time zone, the date every invoicing rule counts in.
pub fn today(ctx: &Ctx) -> NaiveDate {
    ctx.now()
        .with_timezone(&ctx.config.fund_timezone)
        .date_naive()
}

/// The daily pass for `today`: overdue, recurring, then the reminders due.
pub async fn run_daily(ctx: &Ctx, today: NaiveDate) -> Result<DailyOutcome, InvoicingError> {
    let overdue = invoices::refresh_overdue(ctx, today).await?.len();
    let recurring = recurring::run_due_recurring(ctx, today).await?.len();
    let reminders = schedule_reminders(ctx, today).await?;
    Ok(DailyOutcome {
        overdue,
        recurring,
        reminders,
    })
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: String,
    due_date: String,
    /// One of its logged steps (NULL: none yet); an invoice has a row per step.
    step: Option<String>,
    /// The client's choice (0: no reminders).
    send_reminders: i64,
}

/// An open invoice with the reminder steps logged for it.
struct Reminded {
    id: String,
    due_date: String,
    steps: Vec<i64>,
    client_wants_reminders: bool,
}

/// Logs today's reminder of every open invoice that has one due and queues its delivery, in
/// one transaction; returns how many were logged.
pub async fn schedule_reminders(ctx: &Ctx, today: NaiveDate) -> Result<usize, InvoicingError> {
    let schedule = &ctx.config.invoicing.reminder_days;
    let (Some(&first), Some(&last)) = (schedule.steps().first(), schedule.steps().last()) else {
        return Ok(0);
    };
    // Only invoices whose first step has come (due on or before today − first), and not those
    // reminded of the last step already: those will never have another.
    let latest_due = today - chrono::Duration::days(first);
    let mut tx = ctx.db.begin_write().await?;
    let rows: Vec<Candidate> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.id, i.due_date, r.step, c.send_reminders FROM invoices i \
         JOIN clients c ON c.id = i.client_id \
         LEFT JOIN invoice_reminders r ON r.invoice_id = i.id \
         WHERE i.kind = 'invoice' AND i.status IN ({OPEN}) \
         AND i.total - i.amount_paid - i.amount_credited > 0 AND i.due_date <= $1 \
         AND NOT EXISTS (SELECT 1 FROM invoice_reminders l \
                         WHERE l.invoice_id = i.id AND l.step = $2) \
         ORDER BY i.id"
    )))
    .bind(latest_due.format("%Y-%m-%d").to_string())
    .bind(last.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let emailing = ctx.senders.iter().any(|s| s.channel() == Channel::Email);
    let now = now_text(ctx);
    let mut logged = 0;
    for invoice in group(rows) {
        let Ok(due) = NaiveDate::parse_from_str(&invoice.due_date, "%Y-%m-%d") else {
            continue;
        };
        let Some(step) = schedule.due_step(due, today, &invoice.steps) else {
            continue;
        };
        let id = invoice.id;
        // Without SMTP, or for a client who asked for none, the reminder is logged as skipped
        // (as the outbox does): the invoice's page says why none went, and no job could only
        // fail.
        let (status, why) = if !invoice.client_wants_reminders {
            ("skipped", NO_REMINDERS)
        } else if emailing {
            ("queued", "")
        } else {
            ("skipped", "e-mail is not configured on this server")
        };
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO invoice_reminders (invoice_id, step, sent_at, status, last_error) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (invoice_id, step) DO NOTHING RETURNING id",
        )
        .bind(&id)
        .bind(step.to_string())
        .bind(&now)
        .bind(status)
        .bind(why)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(reminder_id) = inserted else {
            continue;
        };
        if status == "queued" {
            let job = NewJob {
                kind: REMINDER_JOB,
                args: json!({ "reminder_id": reminder_id }),
                unique_key: format!("invoice_reminder:{reminder_id}"),
                max_attempts: ctx.config.jobs.max_attempts,
            };
            jobs::enqueue(&mut tx, ctx.db.backend, &job).await?;
        }
        logged += 1;
    }
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(logged)
}

/// Why a client's reminder was not sent.
const NO_REMINDERS: &str = "the client asked for no payment reminders";

/// The joined rows (ordered by invoice) as one entry per invoice with its logged steps.
fn group(rows: Vec<Candidate>) -> Vec<Reminded> {
    let mut out: Vec<Reminded> = Vec::new();
    for row in rows {
        let step = row.step.as_deref().and_then(|s| s.parse::<i64>().ok());
        match out.last_mut() {
            Some(last) if last.id == row.id => last.steps.extend(step),
            _ => out.push(Reminded {
                id: row.id,
                due_date: row.due_date,
                steps: step.into_iter().collect(),
                client_wants_reminders: row.send_reminders != 0,
            }),
        }
    }
    out
}

/// What a delivery attempt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReminderDelivery {
    Sent,
    /// Sent, cancelled, skipped or failed before (a replayed job): nothing to do.
    NothingToDo,
    /// The invoice was paid or voided before the reminder went: nothing sent.
    Cancelled,
    /// No address to send to: marked `skipped` with the reason.
    Skipped(String),
    /// Can never be delivered as it is: marked `failed`, not retried.
    Failed(String),
    /// No such reminder.
    Gone,
}

/// An attempt worth retrying (the e-mail server, the network, this worker's configuration):
/// the job fails and the queue retries it with backoff, as for notifications.
#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    #[error("{0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct ReminderRow {
    invoice_id: String,
    step: String,
    sent_at: String,
    status: String,
}

/// A reminder ready to go.
struct Prepared {
    message: Outgoing,
    invoice: Invoice,
    lang: Lang,
    settled: i64,
    number: String,
}

/// Attempt `attempt` of `max_attempts` to deliver reminder `id`, its PDF from `pdf`.
pub async fn deliver(
    ctx: &Ctx,
    id: i64,
    attempt: i32,
    max_attempts: i32,
    pdf: Arc<dyn InvoicePdf>,
) -> Result<ReminderDelivery, ReminderError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let row: Option<ReminderRow> = sqlx::query_as(
        "SELECT invoice_id, step, sent_at, status FROM invoice_reminders WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(ReminderDelivery::Gone);
    };
    if row.status != "queued" {
        return Ok(ReminderDelivery::NothingToDo);
    }
    let prepared = prepare(ctx, &mut conn, id, &row).await?;
    // No connection held while the PDF renders and the e-mail server answers.
    drop(conn);
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(outcome) => {
            let (status, why, action) = match &outcome {
                ReminderDelivery::Cancelled => (
                    "cancelled",
                    "the invoice was settled before the reminder went".to_string(),
                    "invoice_reminder_cancelled",
                ),
                ReminderDelivery::Skipped(why) => {
                    ("skipped", why.clone(), "invoice_reminder_skipped")
                }
                ReminderDelivery::Failed(why) => ("failed", why.clone(), "invoice_reminder_failed"),
                _ => return Ok(outcome),
            };
            finish(ctx, id, &row, status, &why, None, action).await?;
            return Ok(outcome);
        }
    };
    let Prepared {
        mut message,
        invoice,
        lang,
        settled,
        number,
    } = prepared;
    let rendered = tokio::task::spawn_blocking(move || pdf.render(&invoice, lang, settled))
        .await
        .map_err(|e| ReminderError::Retry(format!("the PDF was not rendered: {e}")))?;
    let bytes = match rendered {
        Ok(bytes) => bytes,
        Err(why) => {
            let why = format!("the invoice's PDF cannot be rendered: {why}");
            let action = "invoice_reminder_failed";
            finish(ctx, id, &row, "failed", &why, None, action).await?;
            return Ok(ReminderDelivery::Failed(why));
        }
    };
    message.attachments.push(Attachment {
        filename: format!("{number}.pdf"),
        content_type: "application/pdf".into(),
        bytes,
    });
    let sender = ctx.senders.iter().find(|s| s.channel() == Channel::Email);
    let sent = match sender {
        Some(sender) => sender.send(&message).await,
        // Queued by an instance with SMTP; this worker lacks it: ours to fix, so retried.
        None => Err(SendError::Retryable(
            "e-mail is not configured on this worker".into(),
        )),
    };
    match sent {
        Ok(delivered) => {
            let provider = delivered.provider_id;
            let action = "invoice_reminder_sent";
            finish(ctx, id, &row, "sent", "", provider, action).await?;
            Ok(ReminderDelivery::Sent)
        }
        Err(SendError::Permanent(why)) => {
            let action = "invoice_reminder_failed";
            finish(ctx, id, &row, "failed", &why, None, action).await?;
            Ok(ReminderDelivery::Failed(why))
        }
        Err(SendError::Retryable(why)) => {
            if attempt >= max_attempts {
                // The last attempt: failed with the job, which the queue sets aside.
                let action = "invoice_reminder_failed";
                finish(ctx, id, &row, "failed", &why, None, action).await?;
            } else {
                sqlx::query(
                    "UPDATE invoice_reminders SET attempts = attempts + 1, last_error = $1 \
                     WHERE id = $2",
                )
                .bind(&why)
                .bind(id)
                .execute(&ctx.db.pool)
                .await?;
            }
            Err(ReminderError::Retry(why))
        }
    }
}

/// The message of reminder `id` (without its PDF), or the outcome that stops it.
async fn prepare(
    ctx: &Ctx,
    conn: &mut AnyConnection,
    id: i64,
    row: &ReminderRow,
) -> Result<Result<Prepared, ReminderDelivery>, sqlx::Error> {
    let Some(invoice) = store::invoice(conn, &row.invoice_id).await? else {
        return Ok(Err(ReminderDelivery::Failed("the invoice is gone".into())));
    };
    if !is_open(&invoice) {
        return Ok(Err(ReminderDelivery::Cancelled));
    }
    let Some(client) = store::client(conn, invoice.client_id).await? else {
        return Ok(Err(ReminderDelivery::Failed("the client is gone".into())));
    };
    // Asked for none since the reminder was queued.
    if !client.send_reminders {
        return Ok(Err(ReminderDelivery::Skipped(NO_REMINDERS.into())));
    }
    let contacts = store::contacts(conn, client.id).await?;
    let address = contacts
        .iter()
        .find(|c| c.is_primary)
        .and_then(|c| c.email.clone())
        .or(client.email.clone())
        .filter(|e| !e.trim().is_empty());
    let Some(address) = address else {
        return Ok(Err(ReminderDelivery::Skipped(
            "the client has no e-mail address".into(),
        )));
    };
    let to = match EmailAddress::parse(address.trim()) {
        Ok(to) => to,
        Err(e) => {
            return Ok(Err(ReminderDelivery::Failed(format!(
                "the e-mail address cannot be used: {e}"
            ))))
        }
    };
    sqlx::query("UPDATE invoice_reminders SET recipient = $1 WHERE id = $2")
        .bind(to.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let lines = store::lines(conn, &invoice.id).await?;
    let model = match to_model(&invoice, &lines) {
        Ok(model) => model,
        Err(e) => return Ok(Err(ReminderDelivery::Failed(e.to_string()))),
    };
    let (Ok(step), Ok(due)) = (
        row.step.parse::<i64>(),
        NaiveDate::parse_from_str(&invoice.due_date, "%Y-%m-%d"),
    ) else {
        return Ok(Err(ReminderDelivery::Failed(
            "the reminder's step or the invoice's due date is not valid".into(),
        )));
    };
    // The client reads it in the client's language, whatever the invoice was written in.
    let lang = Lang::parse(&client.language).unwrap_or(Lang::En);
    let currency = model.currency;
    let number = invoice.number.clone().unwrap_or_default();
    let amount_due = lang.money(currency, i128::from(invoice.amount_due()));
    let due_date = lang.civil_date(due);
    let days_late = (today(ctx) - due).num_days();
    let text = reminders::render(
        ctx.config.invoicing.reminder_days.tone(step),
        lang,
        &ReminderFacts {
            seller: &model.seller.name,
            client: &client.name,
            number: &number,
            amount_due: &amount_due,
            currency: lang.currency(currency),
            due_date: &due_date,
            days_late,
        },
    );
    let message = Outgoing {
        to: Recipient::Email(to),
        subject: text.subject,
        text: text.text,
        html: None,
        whatsapp_template: None,
        message_id: Some(message_id(ctx, id, &row.sent_at)),
        attachments: Vec::new(),
    };
    Ok(Ok(Prepared {
        message,
        invoice: model,
        lang,
        settled: invoice.amount_paid + invoice.amount_credited,
        number,
    }))
}

/// Whether the invoice still has something to pay (else its reminders stop).
fn is_open(invoice: &InvoiceRow) -> bool {
    matches!(
        invoice.status.as_str(),
        "sent" | "partially_paid" | "overdue"
    ) && invoice.amount_due() > 0
}

/// `<invoice-reminder.{id}.{logged}@{domain of SMTP_FROM}>`: the same for every attempt, and
/// distinct between databases whose ids overlap (by the time it was logged).
fn message_id(ctx: &Ctx, id: i64, logged_at: &str) -> String {
    let domain = ctx
        .config
        .notify
        .smtp
        .as_ref()
        .map(|s| s.from.email.domain().to_string())
        .unwrap_or_else(|| "saghat.invalid".to_string());
    let logged: String = logged_at.chars().filter(char::is_ascii_digit).collect();
    format!("<invoice-reminder.{id}.{logged}@{domain}>")
}

/// Records the reminder's outcome and its audit entry, in one transaction.
#[allow(clippy::too_many_arguments)]
async fn finish(
    ctx: &Ctx,
    id: i64,
    row: &ReminderRow,
    status: &str,
    why: &str,
    provider_id: Option<String>,
    action: &str,
) -> Result<(), sqlx::Error> {
    let now = now_text(ctx);
    let mut tx = ctx.db.begin_write().await?;
    // Only a queued reminder changes: a doubled delivery records one outcome.
    let changed = sqlx::query(
        "UPDATE invoice_reminders SET status = $1, attempts = attempts + $2, last_error = $3, \
         provider_id = $4, delivered_at = $5 WHERE id = $6 AND status = 'queued'",
    )
    .bind(status)
    .bind(i64::from(matches!(status, "sent" | "failed")))
    .bind(why)
    .bind(provider_id)
    .bind((status == "sent").then_some(now))
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 1 {
        audit(
            &mut tx,
            ctx,
            &RequestMeta::default(),
            None,
            action,
            format!("invoice:{}", row.invoice_id),
            json!({ "reminder_id": id, "step": row.step, "reason": why }),
        )
        .await?;
    }
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, step: Option<&str>) -> Candidate {
        Candidate {
            id: id.into(),
            due_date: "2026-12-10".into(),
            step: step.map(str::to_string),
            send_reminders: i64::from(id != "c"),
        }
    }

    #[test]
    fn joined_rows_group_into_each_invoices_steps() {
        let grouped = group(vec![
            candidate("a", None),
            candidate("b", Some("-3")),
            candidate("b", Some("0")),
            candidate("c", Some("7")),
        ]);
        let steps: Vec<(&str, &[i64], bool)> = grouped
            .iter()
            .map(|r| (r.id.as_str(), r.steps.as_slice(), r.client_wants_reminders))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("a", &[][..], true),
                ("b", &[-3, 0][..], true),
                ("c", &[7][..], false)
            ]
        );
    }
}
