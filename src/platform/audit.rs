//! The append-only audit log of critical actions.

use serde_json::Value;
use sqlx::AnyConnection;

use super::clock::to_db_time;
use super::extract::RequestMeta;

pub struct AuditEntry<'a> {
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target: String,
    pub details: Value,
}

/// Writes one entry, on the caller's connection or transaction so it commits (or not) with
/// the action it records.
pub async fn record(
    conn: &mut AnyConnection,
    at: chrono::DateTime<chrono::Utc>,
    meta: &RequestMeta,
    entry: AuditEntry<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, action, target, client_ip, request_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(to_db_time(at))
    .bind(entry.actor_user_id)
    .bind(entry.action)
    .bind(entry.target)
    .bind(&meta.client_ip)
    .bind(&meta.request_id)
    .bind(entry.details.to_string())
    .execute(conn)
    .await?;
    Ok(())
}
