//! Webhooks' use cases: the admins' endpoints (each change one audited transaction), an event's
//! deliveries written in the transaction of its change, and one delivery attempt (the job).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::RngCore;
use serde_json::{json, Value};
use sqlx::AnyConnection;

use super::domain::{
    self, attempt_outcome, check_addresses, parse_target, signature_header, AttemptOutcome, Event,
    UrlRefusal,
};
use super::error::WebhookError;
use super::store::{self, DeliveryView, EndpointView};
use crate::auth::CurrentUser;
use crate::config::AppEnv;
use crate::jobs::{self, NewJob};
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::clock::to_db_time;
use crate::platform::outbound;
use crate::Ctx;

/// The job kind that makes one delivery attempt (its args: `{"delivery_id": id}`).
pub const DELIVERY_JOB: &str = "webhook_delivery";

/// How long a receiver has to answer, connecting included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

pub const DESCRIPTION_MAX_CHARS: usize = 500;
pub const SECRET_MIN_CHARS: usize = 16;
pub const SECRET_MAX_CHARS: usize = 200;

/// An endpoint to register. Without a secret one is generated (32 random bytes, in hex).
#[derive(Clone, Debug, Default)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub secret: Option<String>,
    pub description: String,
}

/// What a change sets; `None` keeps the field as it is.
#[derive(Clone, Debug, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// Registers an endpoint; returns it with its secret, which is never shown again.
pub async fn create(
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    new: NewEndpoint,
) -> Result<(EndpointView, String), WebhookError> {
    let events = checked_events(&new.events)?;
    let description = checked_description(&new.description)?;
    let secret = match new.secret {
        Some(secret) => checked_secret(&secret)?,
        None => generated_secret(),
    };
    let url = checked_url(ctx, &new.url).await?;
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    let row = store::NewEndpointRow {
        url: &url,
        events: &events,
        secret: &secret,
        description: &description,
        created_by: actor.id,
        created_at: &to_db_time(now),
    };
    let id = store::insert_endpoint(&mut tx, &row).await?;
    // The secret is never in the audit log: the URL and events say what was registered.
    let details = json!({ "url": url, "events": events });
    record(&mut tx, ctx, actor, meta, "webhook_created", id, details).await?;
    let endpoint = store::endpoint(&mut tx, id)
        .await?
        .ok_or(WebhookError::NotFound)?;
    tx.commit().await?;
    Ok((endpoint, secret))
}

pub async fn list(ctx: &Ctx) -> Result<Vec<EndpointView>, WebhookError> {
    let mut conn = ctx.db.pool.acquire().await?;
    Ok(store::endpoints(&mut conn).await?)
}

pub async fn get(ctx: &Ctx, id: i64) -> Result<EndpointView, WebhookError> {
    let mut conn = ctx.db.pool.acquire().await?;
    store::endpoint(&mut conn, id)
        .await?
        .ok_or(WebhookError::NotFound)
}

/// Changes an endpoint's URL (checked as when registered), events, description or whether it
/// is active. Its secret stays: a new secret is a new endpoint.
pub async fn update(
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    id: i64,
    changes: EndpointChanges,
) -> Result<EndpointView, WebhookError> {
    let events = changes.events.as_deref().map(checked_events).transpose()?;
    let description = changes
        .description
        .as_deref()
        .map(checked_description)
        .transpose()?;
    let url = match &changes.url {
        Some(url) => Some(checked_url(ctx, url).await?),
        None => None,
    };
    let mut tx = ctx.db.begin_write().await?;
    let before = store::endpoint(&mut tx, id)
        .await?
        .ok_or(WebhookError::NotFound)?;
    let after = EndpointView {
        url: url.unwrap_or_else(|| before.url.clone()),
        events: events.unwrap_or_else(|| before.events.clone()),
        description: description.unwrap_or_else(|| before.description.clone()),
        active: changes.active.unwrap_or(before.active),
        ..before.clone()
    };
    store::update_endpoint(&mut tx, &after).await?;
    let details = json!({
        "before": { "url": before.url, "events": before.events, "active": before.active },
        "after": { "url": after.url, "events": after.events, "active": after.active },
    });
    record(&mut tx, ctx, actor, meta, "webhook_changed", id, details).await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes an endpoint with its delivery log; its queued jobs then find nothing to send.
pub async fn delete(
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    id: i64,
) -> Result<(), WebhookError> {
    let mut tx = ctx.db.begin_write().await?;
    let endpoint = store::endpoint(&mut tx, id)
        .await?
        .ok_or(WebhookError::NotFound)?;
    store::delete_endpoint(&mut tx, id).await?;
    let details = json!({ "url": endpoint.url });
    record(&mut tx, ctx, actor, meta, "webhook_deleted", id, details).await?;
    tx.commit().await?;
    Ok(())
}

/// An endpoint's deliveries, newest first, with their total.
pub async fn deliveries(
    ctx: &Ctx,
    endpoint_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<DeliveryView>, i64), WebhookError> {
    let mut conn = ctx.db.pool.acquire().await?;
    if store::endpoint(&mut conn, endpoint_id).await?.is_none() {
        return Err(WebhookError::NotFound);
    }
    Ok(store::deliveries(&mut conn, endpoint_id, limit, offset).await?)
}

/// Sends a delivery again, as a new job (with the queue's attempts of its own), whatever
/// became of it: the same body and event id, so a receiver can tell it is the same event.
pub async fn replay(
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    delivery_id: i64,
) -> Result<DeliveryView, WebhookError> {
    let mut tx = ctx.db.begin_write().await?;
    let delivery = store::delivery(&mut tx, delivery_id)
        .await?
        .ok_or(WebhookError::DeliveryNotFound)?;
    store::requeue(&mut tx, delivery_id).await?;
    let key = format!(
        "webhook-delivery:{delivery_id}:replay:{}",
        uuid::Uuid::new_v4()
    );
    enqueue_delivery(&mut tx, ctx, delivery_id, key).await?;
    let details = json!({ "delivery_id": delivery_id, "event": delivery.event });
    let endpoint_id = delivery.endpoint_id;
    record(
        &mut tx,
        ctx,
        actor,
        meta,
        "webhook_replayed",
        endpoint_id,
        details,
    )
    .await?;
    let delivery = store::delivery(&mut tx, delivery_id)
        .await?
        .ok_or(WebhookError::DeliveryNotFound)?;
    tx.commit().await?;
    Ok(delivery)
}

/// Emits `event` on the caller's transaction: one delivery and its job per active endpoint
/// subscribed to it, so a change rolled back emits nothing. Returns the deliveries written.
pub async fn emit(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    event: Event,
    data: Value,
) -> Result<usize, sqlx::Error> {
    let subscribed: Vec<i64> = store::active_subscriptions(conn)
        .await?
        .into_iter()
        .filter(|(_, events)| events.iter().any(|e| e == event.as_str()))
        .map(|(id, _)| id)
        .collect();
    if subscribed.is_empty() {
        return Ok(0);
    }
    let now = ctx.now();
    let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let body = json!({
        "id": event_id,
        "event": event.as_str(),
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": data,
    })
    .to_string();
    let created_at = to_db_time(now);
    let mut written = 0;
    for endpoint_id in subscribed {
        let row = store::NewDeliveryRow {
            endpoint_id,
            event_id: &event_id,
            event: event.as_str(),
            payload: &body,
            created_at: &created_at,
        };
        if let Some(id) = store::insert_delivery(conn, &row).await? {
            enqueue_delivery(conn, ctx, id, format!("webhook-delivery:{id}")).await?;
            written += 1;
        }
    }
    Ok(written)
}

async fn enqueue_delivery(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    delivery_id: i64,
    unique_key: String,
) -> Result<bool, sqlx::Error> {
    let job = NewJob {
        kind: DELIVERY_JOB,
        args: json!({ "delivery_id": delivery_id }),
        unique_key,
        max_attempts: ctx.config.jobs.max_attempts,
    };
    jobs::enqueue(conn, ctx.db.backend, &job).await
}

/// What a delivery attempt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempted {
    Delivered,
    /// Failed on the job's last attempt (or the endpoint is disabled): marked failed.
    Failed(String),
    /// Delivered before, or its endpoint deleted: nothing sent.
    NothingToDo,
}

/// An attempt that failed and will be retried: the job fails, so the queue retries it with
/// backoff.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("{0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// Attempt `attempt` of `max_attempts` of delivery `id`: POSTs its signed body to its
/// endpoint, checking the endpoint's addresses again (DNS may have changed since it was
/// registered) and connecting to the address checked.
pub async fn deliver(
    ctx: &Ctx,
    id: i64,
    attempt: i32,
    max_attempts: i32,
) -> Result<Attempted, AttemptError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let Some(delivery) = store::delivery(&mut conn, id).await? else {
        return Ok(Attempted::NothingToDo);
    };
    if delivery.status == "delivered" {
        return Ok(Attempted::NothingToDo);
    }
    let Some(target) = store::target(&mut conn, delivery.endpoint_id).await? else {
        return Ok(Attempted::NothingToDo);
    };
    drop(conn);
    let at = to_db_time(ctx.now());
    if target.active == 0 {
        let why = "The endpoint is disabled.";
        let row = store::AttemptRow {
            status: "failed",
            status_code: None,
            error: why,
            at: &at,
        };
        let mut conn = ctx.db.pool.acquire().await?;
        store::record_attempt(&mut conn, id, &row).await?;
        return Ok(Attempted::Failed(why.into()));
    }
    let (status_code, error) = match post(ctx, &target, &delivery).await {
        Ok((code, _)) if (200..300).contains(&code) => (Some(code), String::new()),
        Ok((code, answer)) => (Some(code), format!("HTTP {code}: {answer}")),
        Err(why) => (None, why),
    };
    let outcome = attempt_outcome(status_code, attempt, max_attempts);
    let row = store::AttemptRow {
        status: match outcome {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "queued",
            AttemptOutcome::Failed => "failed",
        },
        status_code: status_code.map(i64::from),
        error: &error,
        at: &at,
    };
    let mut conn = ctx.db.pool.acquire().await?;
    store::record_attempt(&mut conn, id, &row).await?;
    match outcome {
        AttemptOutcome::Delivered => Ok(Attempted::Delivered),
        AttemptOutcome::Retry => Err(AttemptError::Retry(error)),
        AttemptOutcome::Failed => Ok(Attempted::Failed(error)),
    }
}

/// One POST of the delivery's body: the receiver's status and the start of its answer, or why
/// there was none.
async fn post(
    ctx: &Ctx,
    target: &store::Target,
    delivery: &DeliveryView,
) -> Result<(u16, String), String> {
    let url = parse_target(&target.url, https_only(ctx)).map_err(|e| e.to_string())?;
    let addresses = resolve(&url).await.map_err(|e| e.to_string())?;
    let ips: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
    check_addresses(&ips, ctx.config.webhook_allow_private).map_err(|e| e.to_string())?;
    let mut builder =
        outbound::client_builder(DELIVERY_TIMEOUT).redirect(reqwest::redirect::Policy::none());
    // Pinned to the address just checked, so a second lookup cannot answer another one.
    if let Some(domain) = domain_of(&url) {
        builder = builder.resolve(domain, addresses[0]);
    }
    let client = builder.build().map_err(|e| describe(&e))?;
    // The receiver compares the timestamp with its own clock: the real time, not Saghat's
    // (which tests and demos may set).
    let signed_at = chrono::Utc::now().timestamp();
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Saghat-Event", &delivery.event)
        .header("Saghat-Delivery", delivery.id.to_string())
        .header(
            "Saghat-Signature",
            signature_header(&target.secret, signed_at, &delivery.payload),
        )
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    Ok((status, answer_start(response).await))
}

/// At most [`domain::RESPONSE_KEPT_BYTES`] of the answer: the rest is never read.
async fn answer_start(mut response: reqwest::Response) -> String {
    let mut kept: Vec<u8> = Vec::new();
    while kept.len() < domain::RESPONSE_KEPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&kept);
    domain::clip(&text, domain::RESPONSE_KEPT_BYTES).to_string()
}

/// A client error with its causes ("error sending request for url (…): connection
/// refused"), at most as long as a kept answer.
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    domain::clip(&text, domain::RESPONSE_KEPT_BYTES).to_string()
}

fn https_only(ctx: &Ctx) -> bool {
    ctx.config.app_env == AppEnv::Prod
}

/// The URL's host when it is a name (not an address).
fn domain_of(url: &reqwest::Url) -> Option<&str> {
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_err().then_some(host)
}

/// Every address the URL's host stands for (itself, when it is one).
async fn resolve(url: &reqwest::Url) -> Result<Vec<SocketAddr>, UrlRefusal> {
    let host = url.host_str().ok_or(UrlRefusal::Invalid)?;
    let port = url.port_or_known_default().ok_or(UrlRefusal::Invalid)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|_| UrlRefusal::Unresolvable)?
        .collect();
    if found.is_empty() {
        return Err(UrlRefusal::Unresolvable);
    }
    Ok(found)
}

/// The URL as registered: well formed, https in prod, and not on an internal address.
async fn checked_url(ctx: &Ctx, url: &str) -> Result<String, WebhookError> {
    let url = url.trim();
    let parsed = parse_target(url, https_only(ctx))?;
    let addresses = resolve(&parsed).await?;
    let ips: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
    check_addresses(&ips, ctx.config.webhook_allow_private)?;
    Ok(url.to_string())
}

fn checked_events(names: &[String]) -> Result<Vec<String>, WebhookError> {
    if names.is_empty() {
        return Err(WebhookError::invalid(
            "events",
            "Choose at least one event.",
        ));
    }
    let mut events: Vec<String> = Vec::new();
    for name in names {
        let Some(event) = Event::parse(name.trim()) else {
            let known: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
            return Err(WebhookError::invalid(
                "events",
                format!(
                    "\"{name}\" is not an event; the events are {}.",
                    known.join(", ")
                ),
            ));
        };
        if !events.iter().any(|e| e == event.as_str()) {
            events.push(event.as_str().to_string());
        }
    }
    Ok(events)
}

fn checked_description(text: &str) -> Result<String, WebhookError> {
    let text = text.trim();
    if text.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(WebhookError::invalid(
            "description",
            format!("Ensure this field has no more than {DESCRIPTION_MAX_CHARS} characters."),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(WebhookError::invalid(
            "description",
            "The description may not hold control characters.",
        ));
    }
    Ok(text.to_string())
}

fn checked_secret(secret: &str) -> Result<String, WebhookError> {
    let length = secret.chars().count();
    if !(SECRET_MIN_CHARS..=SECRET_MAX_CHARS).contains(&length)
        || secret.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(WebhookError::invalid(
            "secret",
            format!(
                "The secret must be {SECRET_MIN_CHARS} to {SECRET_MAX_CHARS} characters, without spaces."
            ),
        ));
    }
    Ok(secret.to_string())
}

fn generated_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    domain::hex(&bytes)
}

async fn record(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    action: &str,
    endpoint_id: i64,
    details: Value,
) -> Result<(), sqlx::Error> {
    let entry = AuditEntry {
        actor_user_id: Some(actor.id),
        action,
        target: format!("webhook:{endpoint_id}"),
        details,
    };
    audit::record(conn, ctx.now(), meta, entry).await
}
