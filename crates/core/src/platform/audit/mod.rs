//! The append-only audit log of critical actions: who did what to what, when, from where, in
//! which request. Written in the transaction of the action it records; read by admins through
//! `GET /api/audit`.

use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::clock::to_db_time;
use super::db::{fetch_page, Conditions};

/// Who sent the request an action came in, and under which id (empty for the CLI and jobs).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub client_ip: String,
    pub request_id: String,
}

pub struct AuditEntry<'a> {
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target: String,
    pub details: Value,
}

/// The longest target, client address and request id an entry keeps: some come from
/// unauthenticated requests (a failed login's typed name, a client's `x-request-id`), which must
/// not make the server store whatever they send.
pub const MAX_TARGET_CHARS: usize = 200;
pub const MAX_CLIENT_IP_CHARS: usize = 64;
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// `text` cut to at most `max` characters, on a character boundary.
fn bounded(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Writes one entry, on the caller's connection or transaction so it commits (or not) with
/// the action it records. Free-text fields are bounded (see [`MAX_TARGET_CHARS`]).
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
    .bind(bounded(&entry.target, MAX_TARGET_CHARS))
    .bind(bounded(&meta.client_ip, MAX_CLIENT_IP_CHARS))
    .bind(bounded(&meta.request_id, MAX_REQUEST_ID_CHARS))
    .bind(entry.details.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// One recorded action.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub client_ip: String,
    pub request_id: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_user_id: Option<i64>,
    pub target: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// Entries matching `filter`, newest first, a page at a time, with the number of matches.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditRecord>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct AuditRow {
        id: i64,
        at: String,
        actor_user_id: Option<i64>,
        action: String,
        target: String,
        client_ip: String,
        request_id: String,
        details: String,
    }
    let mut conditions = Conditions::default();
    conditions
        .push_some("action = ?", filter.action.clone())
        .push_some("actor_user_id = ?", filter.actor_user_id)
        .push_some("target = ?", filter.target.clone())
        .push_some("at >= ?", filter.since.clone())
        .push_some("at < ?", filter.until.clone());
    let clause = conditions.where_clause();
    let (rows, total) = fetch_page::<AuditRow>(
        conn,
        &conditions,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM audit_log{clause}")),
        AssertSqlSafe(format!(
            "SELECT id, at, actor_user_id, action, target, client_ip, request_id, details \
             FROM audit_log{clause} ORDER BY at DESC, id DESC"
        )),
        limit,
        offset,
    )
    .await?;
    let records = rows
        .into_iter()
        .map(|r| AuditRecord {
            id: r.id,
            at: r.at,
            actor_user_id: r.actor_user_id,
            action: r.action,
            target: r.target,
            client_ip: r.client_ip,
            request_id: r.request_id,
            details: serde_json::from_str(&r.details).unwrap_or(Value::String(r.details)),
        })
        .collect();
    Ok((records, total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_fields_are_cut_on_a_character_boundary() {
        assert_eq!(super::bounded("abc", 5), "abc");
        assert_eq!(super::bounded("abcdef", 3), "abc");
        assert_eq!(super::bounded("ژژژژ", 2), "ژژ");
        assert_eq!(super::bounded("", 2), "");
    }
}
