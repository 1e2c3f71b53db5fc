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
use crate::platform::db::{fetch_page, Backend, Conditions};
use crate::platform::lang::Lang;
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

/// [`notify_user`] for every active member of the fund at once, in a number of statements that
/// does not grow with the members (the draw runs over 100,000 of them in one transaction): the
/// notice is rendered once per language and per `you_won` (`notice_for(true)` for `winner`
/// only), the rows are written by one `INSERT … SELECT` per channel, and their delivery jobs by
/// one more. Each row's key is `{effect_prefix}:{user_id}:{channel}`. Returns the rows queued.
pub async fn notify_members(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    notice_for: impl Fn(bool) -> Notice,
    winner: Option<i64>,
    effect_prefix: &str,
) -> Result<u64, sqlx::Error> {
    let lost = notice_for(false);
    let won = notice_for(true);
    let topic = lost.topic();
    let variants = [
        won.render(Lang::En),
        lost.render(Lang::En),
        won.render(Lang::Fa),
        lost.render(Lang::Fa),
    ];
    let now = to_db_time(ctx.now());
    for channel in Channel::ALL {
        let configured = ctx.senders.iter().any(|s| s.channel() == channel);
        let sql = members_insert(channel, topic, configured);
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(topic.as_str())
            .bind(lost.kind())
            .bind(format!("{effect_prefix}:"))
            .bind(now.as_str())
            .bind(winner.unwrap_or(-1));
        for rendered in &variants {
            query = query
                .bind(rendered.subject.as_str())
                .bind(rendered.text.as_str())
                .bind(rendered.html.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    enqueue_queued(conn, ctx, &format!("{effect_prefix}:")).await
}

/// The `INSERT … SELECT` of one channel's rows for every active member. Placeholders: $1 topic,
/// $2 kind, $3 key prefix, $4 now, $5 the winner's id, then subject/text/html of the four
/// variants (English won, English, Persian won, Persian) as $6…$17.
fn members_insert(channel: Channel, topic: Topic, configured: bool) -> String {
    let (wanted, recipient, no_address) = match channel {
        Channel::Email => (
            "COALESCE(p.email_on, 1)",
            "u.email",
            "the member has no e-mail address",
        ),
        Channel::Sms => (
            "COALESCE(p.sms_on, 0)",
            "COALESCE(p.mobile, '')",
            "the member has no mobile number",
        ),
        Channel::WhatsApp => (
            "COALESCE(p.whatsapp_on, 0)",
            "COALESCE(p.mobile, '')",
            "the member has no mobile number",
        ),
    };
    let opted_out = if topic == Topic::Reminders {
        "COALESCE(p.reminders_off, 0) = 1"
    } else {
        "1 = 0"
    };
    let not_configured = if configured { "1 = 0" } else { "1 = 1" };
    let variant = |column: usize| {
        format!(
            "CASE WHEN COALESCE(p.language, 'fa') = 'en' AND u.id = $5 THEN ${} \
             WHEN COALESCE(p.language, 'fa') = 'en' THEN ${} WHEN u.id = $5 THEN ${} ELSE ${} END",
            6 + column,
            9 + column,
            12 + column,
            15 + column
        )
    };
    let code = channel.code();
    format!(
        "INSERT INTO notifications (user_id, topic, kind, channel, recipient, language, subject, \
         text, html, unique_key, status, last_error, created_at) \
         SELECT u.id, $1, $2, '{code}', {recipient}, COALESCE(p.language, 'fa'), {subject}, {text}, {html}, \
         $3 || CAST(u.id AS TEXT) || ':{code}', \
         CASE WHEN {opted_out} OR {not_configured} OR {recipient} = '' THEN 'skipped' ELSE 'queued' END, \
         CASE WHEN {opted_out} THEN 'the member opted out of reminders' \
              WHEN {not_configured} THEN '{channel} is not configured on this server' \
              WHEN {recipient} = '' THEN '{no_address}' ELSE '' END, \
         $4 \
         FROM users u LEFT JOIN notification_preferences p ON p.user_id = u.id \
         WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {members} AND {wanted} = 1 \
         ON CONFLICT (unique_key) DO NOTHING",
        subject = variant(0),
        text = variant(1),
        html = variant(2),
        members = crate::fund::access::FUND_MEMBER_ROLES_SQL,
    )
}

/// The delivery jobs of the queued rows whose key starts with `prefix`, by one statement (and
/// River's insert notification), as `jobs::enqueue` writes one: args the row's id only, key
/// `notification:{id}`, taken in every state. A row that has its job already keeps it.
async fn enqueue_queued(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    prefix: &str,
) -> Result<u64, sqlx::Error> {
    let backend = ctx.db.backend;
    let sql = match backend {
        Backend::Postgres => {
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             SELECT jsonb_build_object('notification_id', n.id), $1, $2, $3, 'available', \
             convert_to('notification:' || CAST(n.id AS TEXT), 'UTF8'), B'11111111' \
             FROM notifications n WHERE n.status = 'queued' AND substr(n.unique_key, 1, CAST($4 AS INTEGER)) = $5 \
             ON CONFLICT DO NOTHING"
        }
        Backend::Sqlite => {
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             SELECT jsonb(json_object('notification_id', n.id)), $1, $2, $3, 'available', \
             CAST('notification:' || CAST(n.id AS TEXT) AS BLOB), 255 \
             FROM notifications n WHERE n.status = 'queued' AND substr(n.unique_key, 1, CAST($4 AS INTEGER)) = $5 \
             ON CONFLICT DO NOTHING"
        }
    };
    let inserted = sqlx::query(sql)
        .bind(DELIVERY_JOB)
        .bind(ctx.config.jobs.max_attempts)
        .bind(jobs::QUEUE)
        .bind(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX))
        .bind(prefix)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if inserted > 0 {
        jobs::wake_workers(conn, backend).await?;
    }
    Ok(inserted)
}
