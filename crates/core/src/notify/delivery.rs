//! Delivery of one outbox row through its channel's sender, run by the `notification_delivery`
//! job (at least once). A row already `sent` is not sent again, so a replayed job has one
//! effect; a message whose provider answered but whose row was not yet marked (a crash in
//! between) is sent again with the same e-mail `Message-ID`, so it can be recognised.

use sqlx::AnyConnection;

use super::attachments::{self, Unreadable};
use super::whatsapp::WhatsAppSettings;
use super::{
    Channel, EmailAddress, MobileNumber, Outgoing, Recipient, SendError, WhatsAppTemplate,
};
use crate::platform::clock::to_db_time;
use crate::Ctx;

/// The job kind that delivers a notification (its args: `{"notification_id": id}`).
pub const DELIVERY_JOB: &str = "notification_delivery";

/// What an attempt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Sent before (a replay) or skipped: nothing to do.
    NothingToDo,
    /// Can never be delivered as it is: marked `failed`, not retried.
    Failed(String),
    /// No such notification (removed): nothing to do.
    Gone,
}

/// An attempt that failed and is worth retrying: the job fails, so the queue retries it with
/// backoff (or, on its last attempt, sets it aside as dead).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct Row {
    channel: String,
    recipient: String,
    language: String,
    subject: String,
    text: String,
    html: String,
    status: String,
    created_at: String,
}

/// Attempt `attempt` of `max_attempts` to deliver notification `id`.
pub async fn deliver(
    ctx: &Ctx,
    id: i64,
    attempt: i32,
    max_attempts: i32,
) -> Result<Delivery, DeliveryError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let row: Option<Row> = sqlx::query_as(
        "SELECT channel, recipient, language, subject, text, html, status, created_at \
         FROM notifications WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Delivery::Gone);
    };
    if matches!(row.status.as_str(), "sent" | "skipped") {
        return Ok(Delivery::NothingToDo);
    }
    let mut message = match outgoing(ctx, id, &row) {
        Ok(message) => message,
        Err(why) => {
            mark_failed(&mut conn, id, &why).await?;
            return Ok(Delivery::Failed(why));
        }
    };
    let channel = Channel::parse(&row.channel);
    // An e-mail's files (a monthly statement's PDF), read and checked before it goes.
    let mut unreadable = None;
    if channel == Some(Channel::Email) {
        match attachments::load(&mut conn, &ctx.config.data_dir, id).await? {
            Ok(files) => message.attachments = files,
            Err(Unreadable::Permanent(why)) => unreadable = Some(SendError::Permanent(why)),
            Err(Unreadable::Retryable(why)) => unreadable = Some(SendError::Retryable(why)),
        }
    }
    let sender = ctx.senders.iter().find(|s| Some(s.channel()) == channel);
    // No connection held while the provider answers.
    drop(conn);
    let sent = match (unreadable, sender) {
        (Some(why), _) => Err(why),
        (None, Some(sender)) => sender.send(&message).await,
        // The process that queued it had the channel; this worker lacks its configuration.
        // That is ours to fix, not the message's fault: retried, then a dead letter to retry.
        (None, None) => Err(SendError::Retryable(format!(
            "{} is not configured on this worker",
            row.channel
        ))),
    };
    crate::platform::measure::notification(&row.channel, sent.is_ok());
    let mut conn = ctx.db.pool.acquire().await?;
    match sent {
        Ok(delivered) => {
            sqlx::query(
                "UPDATE notifications SET status = 'sent', attempts = attempts + 1, \
                 last_error = '', provider_id = $1, sent_at = $2 WHERE id = $3",
            )
            .bind(delivered.provider_id)
            .bind(to_db_time(ctx.now()))
            .bind(id)
            .execute(&mut *conn)
            .await?;
            Ok(Delivery::Sent)
        }
        Err(SendError::Permanent(why)) => {
            mark_failed(&mut conn, id, &why).await?;
            Ok(Delivery::Failed(why))
        }
        Err(SendError::Retryable(why)) => {
            // On the last attempt the row fails with the job, which the queue sets aside.
            let status = if attempt >= max_attempts {
                "failed"
            } else {
                "queued"
            };
            sqlx::query(
                "UPDATE notifications SET status = $1, attempts = attempts + 1, last_error = $2 \
                 WHERE id = $3",
            )
            .bind(status)
            .bind(&why)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            Err(DeliveryError::Retry(why))
        }
    }
}

/// The row as a message for its sender, or why it can never be one.
fn outgoing(ctx: &Ctx, id: i64, row: &Row) -> Result<Outgoing, String> {
    let to = match Channel::parse(&row.channel) {
        Some(Channel::Email) => EmailAddress::parse(&row.recipient)
            .map(Recipient::Email)
            .map_err(|e| format!("the e-mail address cannot be used: {e}"))?,
        Some(Channel::Sms | Channel::WhatsApp) => MobileNumber::parse(&row.recipient)
            .map(Recipient::Mobile)
            .map_err(|e| format!("the mobile number cannot be used: {e}"))?,
        None => return Err(format!("unknown channel {:?}", row.channel)),
    };
    Ok(Outgoing {
        to,
        subject: row.subject.clone(),
        text: row.text.clone(),
        html: (!row.html.is_empty()).then(|| row.html.clone()),
        whatsapp_template: whatsapp_template(ctx.config.notify.whatsapp.as_ref(), row),
        message_id: Some(message_id(ctx, id, &row.created_at)),
        attachments: Vec::new(),
    })
}

/// For WhatsApp with `WHATSAPP_TEMPLATE`: the template in the row's language, the text its one
/// parameter. Meta refuses line breaks, tabs and runs of spaces in a parameter: the text's
/// lines are joined with single spaces.
fn whatsapp_template(settings: Option<&WhatsAppSettings>, row: &Row) -> Option<WhatsAppTemplate> {
    if Channel::parse(&row.channel) != Some(Channel::WhatsApp) {
        return None;
    }
    let name = settings?.template.clone()?;
    Some(WhatsAppTemplate {
        name,
        language_code: row.language.clone(),
        parameters: vec![row.text.split_whitespace().collect::<Vec<_>>().join(" ")],
    })
}

/// `<notification.{id}.{created}@{domain of SMTP_FROM}>`: the same for every attempt of a
/// notification, and distinct between databases whose ids overlap (by the creation time).
fn message_id(ctx: &Ctx, id: i64, created_at: &str) -> String {
    let domain = ctx
        .config
        .notify
        .smtp
        .as_ref()
        .map(|s| s.from.email.domain().to_string())
        .unwrap_or_else(|| "saghat.invalid".to_string());
    let created: String = created_at.chars().filter(char::is_ascii_digit).collect();
    format!("<notification.{id}.{created}@{domain}>")
}

async fn mark_failed(conn: &mut AnyConnection, id: i64, why: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET status = 'failed', attempts = attempts + 1, last_error = $1 \
         WHERE id = $2",
    )
    .bind(why)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(channel: &str) -> Row {
        Row {
            channel: channel.into(),
            recipient: "+989121234567".into(),
            language: "fa".into(),
            subject: String::new(),
            text: "پرداخت شما ثبت شد.\n\nمبلغ:   ۲۰ USDT".into(),
            html: String::new(),
            status: "queued".into(),
            created_at: String::new(),
        }
    }

    #[test]
    fn whatsapp_goes_as_the_configured_template_with_the_text_on_one_line() {
        let mut settings = WhatsAppSettings {
            base_url: "http://127.0.0.1:9".into(),
            api_version: "v21.0".into(),
            phone_number_id: "1".into(),
            token: crate::platform::secret::Secret::new("t"),
            per_second: 1,
            template: Some("saghat_notice".into()),
        };
        let sent = whatsapp_template(Some(&settings), &row("whatsapp")).expect("a template");
        assert_eq!(sent.name, "saghat_notice");
        assert_eq!(sent.language_code, "fa");
        assert_eq!(sent.parameters, ["پرداخت شما ثبت شد. مبلغ: ۲۰ USDT"]);
        assert_eq!(
            whatsapp_template(Some(&settings), &row("sms")),
            None,
            "only WhatsApp uses templates"
        );
        settings.template = None;
        assert_eq!(
            whatsapp_template(Some(&settings), &row("whatsapp")),
            None,
            "plain text without one"
        );
    }
}
