//! Webhooks' SQL: one function per query, on the connection or transaction it is given.

use serde::Serialize;
// The column lists are constants of this file: no caller text reaches the SQL.
use sqlx::{AnyConnection, AssertSqlSafe};

/// An endpoint as admins see it: never its secret.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    /// The event names it receives.
    pub events: Vec<String>,
    pub description: String,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: i64,
    url: String,
    events: String,
    description: String,
    active: i64,
    created_by: Option<i64>,
    created_at: String,
}

impl From<EndpointRow> for EndpointView {
    fn from(row: EndpointRow) -> Self {
        EndpointView {
            id: row.id,
            url: row.url,
            // Written by `insert_endpoint` from a checked list only.
            events: serde_json::from_str(&row.events).unwrap_or_default(),
            description: row.description,
            active: row.active != 0,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

const ENDPOINT_COLUMNS: &str = "id, url, events, description, active, created_by, created_at";

pub struct NewEndpointRow<'a> {
    pub url: &'a str,
    pub events: &'a [String],
    pub secret: &'a str,
    pub description: &'a str,
    pub created_by: i64,
    pub created_at: &'a str,
}

pub async fn insert_endpoint(
    conn: &mut AnyConnection,
    row: &NewEndpointRow<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO webhook_endpoints (url, events, secret, description, active, created_by, created_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6) RETURNING id",
    )
    .bind(row.url)
    .bind(serde_json::to_string(row.events).expect("a list of text serialises"))
    .bind(row.secret)
    .bind(row.description)
    .bind(row.created_by)
    .bind(row.created_at)
    .fetch_one(&mut *conn)
    .await
}

pub async fn endpoint(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<EndpointView>, sqlx::Error> {
    let row: Option<EndpointRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(EndpointView::from))
}

pub async fn endpoints(conn: &mut AnyConnection) -> Result<Vec<EndpointView>, sqlx::Error> {
    let rows: Vec<EndpointRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(EndpointView::from).collect())
}

/// The active endpoints' ids with the events each receives.
pub async fn active_subscriptions(
    conn: &mut AnyConnection,
) -> Result<Vec<(i64, Vec<String>)>, sqlx::Error> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, events FROM webhook_endpoints WHERE active = 1 ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, events)| (id, serde_json::from_str(&events).unwrap_or_default()))
        .collect())
}

pub async fn update_endpoint(
    conn: &mut AnyConnection,
    endpoint: &EndpointView,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $1, events = $2, description = $3, active = $4 WHERE id = $5",
    )
    .bind(&endpoint.url)
    .bind(serde_json::to_string(&endpoint.events).expect("a list of text serialises"))
    .bind(&endpoint.description)
    .bind(i64::from(endpoint.active))
    .bind(endpoint.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the endpoint and (by cascade) its deliveries; true when there was one.
pub async fn delete_endpoint(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    // SQLite cascades only with foreign keys on; both databases do with an explicit delete.
    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// A delivery as admins see it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub endpoint_id: i64,
    /// The event's id (the body's `id`): the same in every delivery of one event.
    pub event_id: String,
    pub event: String,
    /// `queued`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// The receiver's last HTTP status, if it answered.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed (with the start of the receiver's answer), or empty.
    pub last_error: String,
    pub last_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    /// The body that is signed and sent.
    pub payload: String,
}

const DELIVERY_COLUMNS: &str =
    "id, endpoint_id, event_id, event, status, attempts, last_status_code, \
     last_error, last_attempt_at, created_at, delivered_at, payload";

pub struct NewDeliveryRow<'a> {
    pub endpoint_id: i64,
    pub event_id: &'a str,
    pub event: &'a str,
    pub payload: &'a str,
    pub created_at: &'a str,
}

/// A queued delivery's id; `None` when this event already has one for this endpoint.
pub async fn insert_delivery(
    conn: &mut AnyConnection,
    row: &NewDeliveryRow<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, event, payload, status, created_at) \
         VALUES ($1, $2, $3, $4, 'queued', $5) ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id",
    )
    .bind(row.endpoint_id)
    .bind(row.event_id)
    .bind(row.event)
    .bind(row.payload)
    .bind(row.created_at)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn delivery(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<DeliveryView>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// An endpoint's deliveries, newest first, and how many it has.
pub async fn deliveries(
    conn: &mut AnyConnection,
    endpoint_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<DeliveryView>, i64), sqlx::Error> {
    let items = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 \
         ORDER BY id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(endpoint_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(endpoint_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok((items, total))
}

/// Where and how to send a delivery: its endpoint's URL, secret and whether it is active.
#[derive(sqlx::FromRow)]
pub struct Target {
    pub url: String,
    pub secret: String,
    pub active: i64,
}

pub async fn target(
    conn: &mut AnyConnection,
    endpoint_id: i64,
) -> Result<Option<Target>, sqlx::Error> {
    sqlx::query_as("SELECT url, secret, active FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint_id)
        .fetch_optional(&mut *conn)
        .await
}

/// One attempt's result: `status` is the delivery's new state.
pub struct AttemptRow<'a> {
    pub status: &'a str,
    pub status_code: Option<i64>,
    pub error: &'a str,
    pub at: &'a str,
}

pub async fn record_attempt(
    conn: &mut AnyConnection,
    id: i64,
    attempt: &AttemptRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2, \
         last_error = $3, last_attempt_at = $4, \
         delivered_at = CASE WHEN $5 = 'delivered' THEN $6 ELSE delivered_at END WHERE id = $7",
    )
    .bind(attempt.status)
    .bind(attempt.status_code)
    .bind(attempt.error)
    .bind(attempt.at)
    .bind(attempt.status)
    .bind(attempt.at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Queues the delivery again (a replay).
pub async fn requeue(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhook_deliveries SET status = 'queued' WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
