//! The outbox: a notice for a user, written in the business transaction that causes it. One
//! `notifications` row per channel the user wants, rendered in their language, each `queued`
//! with its delivery job (committed together, or neither), or `skipped` with the reason nobody
//! was told on that channel. The same table is the delivery log that admins read.

use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe};
use utoipa::ToSchema;

use super::delivery::DELIVERY_JOB;
use super::preferences::{self, Preferences};
use super::templates::{Notice, Topic};
use super::Channel;
use crate::jobs::{self, NewJob};
use crate::platform::clock::to_db_time;
use crate::platform::db::{fetch_page, Conditions};
use crate::Ctx;

/// What a notice did for one user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notified {
    /// Rows queued for delivery (each with its job).
    pub queued: Vec<i64>,
    /// Rows written as skipped.
    pub skipped: usize,
    /// Rows not written because this effect was already notified.
    pub already: usize,
}

/// Writes `notice` for `user_id` on `conn` (the caller's transaction): one row per channel the
/// user wants, keyed `{effect_key}:{channel}` so that a second call for the same effect does
/// nothing. A user who does not exist, or wants no channel, gets no row.
pub async fn notify_user(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    user_id: i64,
    notice: &Notice,
    effect_key: &str,
) -> Result<Notified, sqlx::Error> {
    let mut done = Notified::default();
    let Some(prefs) = preferences::load(conn, user_id).await? else {
        return Ok(done);
    };
    let rendered = notice.render(prefs.language);
    let now = to_db_time(ctx.now());
    for channel in &prefs.channels {
        let (recipient, skipped) = route(ctx, &prefs, notice.topic(), *channel);
        let row = NewRow {
            user_id,
            topic: notice.topic().as_str(),
            kind: notice.kind(),
            channel: channel.code(),
            recipient: &recipient,
            language: prefs.language.code(),
            subject: &rendered.subject,
            text: &rendered.text,
            html: &rendered.html,
            unique_key: &format!("{effect_key}:{}", channel.code()),
            status: if skipped.is_some() {
                "skipped"
            } else {
                "queued"
            },
            last_error: skipped.as_deref().unwrap_or(""),
            created_at: &now,
        };
        let Some(id) = insert(conn, &row).await? else {
            done.already += 1;
            continue;
        };
        if skipped.is_some() {
            done.skipped += 1;
            continue;
        }
        let job = NewJob {
            kind: DELIVERY_JOB,
            // The row's id only: the message and its address stay in the row.
            args: serde_json::json!({ "notification_id": id }),
            unique_key: format!("notification:{id}"),
            max_attempts: ctx.config.jobs.max_attempts,
        };
        jobs::enqueue(conn, ctx.db.backend, &job).await?;
        done.queued.push(id);
    }
    Ok(done)
}

/// The recipient on `channel`, and why the message will not go when it will not.
fn route(
    ctx: &Ctx,
    prefs: &Preferences,
    topic: Topic,
    channel: Channel,
) -> (String, Option<String>) {
    let recipient = match channel {
        Channel::Email => prefs.email.as_ref().map(|e| e.as_str().to_string()),
        Channel::Sms | Channel::WhatsApp => prefs.mobile.as_ref().map(|m| m.as_e164().to_string()),
    };
    let why = if topic == Topic::Reminders && !prefs.reminders {
        Some("the member opted out of reminders".to_string())
    } else if !ctx.senders.iter().any(|s| s.channel() == channel) {
        Some(format!("{channel} is not configured on this server"))
    } else if recipient.is_none() {
        Some(match channel {
            Channel::Email => "the member has no e-mail address".to_string(),
            _ => "the member has no mobile number".to_string(),
        })
    } else {
        None
    };
    (recipient.unwrap_or_default(), why)
}

struct NewRow<'a> {
    user_id: i64,
    topic: &'a str,
    kind: &'a str,
    channel: &'a str,
    recipient: &'a str,
    language: &'a str,
    subject: &'a str,
    text: &'a str,
    html: &'a str,
    unique_key: &'a str,
    status: &'a str,
    last_error: &'a str,
    created_at: &'a str,
}

/// The new row's id, `None` when its unique key was already taken.
async fn insert(conn: &mut AnyConnection, row: &NewRow<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO notifications (user_id, topic, kind, channel, recipient, language, subject, \
         text, html, unique_key, status, last_error, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (unique_key) DO NOTHING RETURNING id",
    )
    .bind(row.user_id)
    .bind(row.topic)
    .bind(row.kind)
    .bind(row.channel)
    .bind(row.recipient)
    .bind(row.language)
    .bind(row.subject)
    .bind(row.text)
    .bind(row.html)
    .bind(row.unique_key)
    .bind(row.status)
    .bind(row.last_error)
    .bind(row.created_at)
    .fetch_optional(conn)
    .await
}

/// One notification in the delivery log.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct NotificationRecord {
    pub id: i64,
    pub user_id: i64,
    /// `transactional`, `reminders` or `admin`.
    pub topic: String,
    /// `payment_recorded`, `loan_settled`, `draw_ran`, `fee_reminder`, `few_left_to_pay`, `draw_ready`.
    pub kind: String,
    /// `email`, `sms` or `whatsapp`.
    pub channel: String,
    /// The address or E.164 number, `""` when the member had none.
    pub recipient: String,
    pub language: String,
    pub subject: String,
    pub text: String,
    /// `queued`, `sent`, `failed` or `skipped`.
    pub status: String,
    pub attempts: i64,
    /// Why it was skipped, or its last failure.
    pub last_error: String,
    /// The provider's id for the message (the e-mail's Message-ID, Kavenegar's or WhatsApp's).
    pub provider_id: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// Filters of the delivery log.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub user_id: Option<i64>,
    pub status: Option<String>,
}

/// A page of the delivery log, newest first, and the number of all its matches.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &LogFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NotificationRecord>, i64), sqlx::Error> {
    let mut conditions = Conditions::default();
    conditions
        .push_some("user_id = ?", filter.user_id)
        .push_some("status = ?", filter.status.clone());
    let clause = conditions.where_clause();
    fetch_page(
        conn,
        &conditions,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM notifications{clause}")),
        AssertSqlSafe(format!(
            "SELECT id, user_id, topic, kind, channel, recipient, language, subject, text, status, \
             attempts, last_error, provider_id, created_at, sent_at FROM notifications{clause} \
             ORDER BY id DESC"
        )),
        limit,
        offset,
    )
    .await
}

/// How a notice names a user: their first and last names, `None` when they have neither (or
/// do not exist).
pub async fn display_name(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    let names: Option<(String, String)> =
        sqlx::query_as("SELECT first_name, last_name FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    Ok(names
        .map(|(first, last)| {
            format!("{} {}", first.trim(), last.trim())
                .trim()
                .to_string()
        })
        .filter(|name| !name.is_empty()))
}
