//! `Idempotency-Key` for money-moving POSTs: a retried request with the same key and the same
//! body gets the stored response and has no second effect; the same key with another body is
//! refused (422). Keys belong to one user and expire after 24 hours.
//!
//! The response is stored in the same database transaction as the effect it reports, so after
//! a crash either both exist or neither does.

use std::future::Future;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::clock::to_db_time;
use super::db::{is_unique_violation, Db};
use super::error::{ApiError, ApiResult};

pub const HEADER: &str = "idempotency-key";
const LIFETIME_HOURS: i64 = 24;

/// The key a client sent, with the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

impl IdempotencyKey {
    /// Reads the header; `None` when absent. A key must be 1–255 visible ASCII characters.
    pub fn from_request(
        headers: &HeaderMap,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> ApiResult<Option<Self>> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        let key = value.to_str().unwrap_or_default().trim();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            ));
        }
        let mut hasher = Sha256::new();
        for part in [method.as_bytes(), b" ", path.as_bytes(), b"\n", body] {
            hasher.update(part);
        }
        let request_hash = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Some(IdempotencyKey {
            key: key.to_string(),
            request_hash,
        }))
    }
}

/// A response given before, replayed.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl IntoResponse for StoredResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", "true".parse().expect("valid header"));
        response
    }
}

/// The result of a money-moving action run under an optional key.
pub enum Outcome<T> {
    Done(T),
    Replayed(StoredResponse),
}

async fn lookup(
    db: &Db,
    user_id: i64,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> ApiResult<Option<StoredResponse>> {
    #[derive(sqlx::FromRow)]
    struct StoredRow {
        request_hash: String,
        status: i64,
        response: String,
    }
    let row: Option<StoredRow> = sqlx::query_as(
        "SELECT request_hash, status, response FROM idempotency_keys \
         WHERE user_id = $1 AND idempotency_key = $2 AND created_at > $3",
    )
    .bind(user_id)
    .bind(&key.key)
    .bind(to_db_time(now - Duration::hours(LIFETIME_HOURS)))
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.request_hash != key.request_hash {
        return Err(ApiError::Validation(vec![super::error::FieldError {
            kind: "idempotency_key_reused".into(),
            loc: vec!["header".into(), "Idempotency-Key".into()],
            msg: "This Idempotency-Key was already used with a different request".into(),
        }]));
    }
    Ok(Some(StoredResponse {
        status: StatusCode::from_u16(row.status as u16).unwrap_or(StatusCode::OK),
        body: serde_json::from_str(&row.response).map_err(anyhow::Error::from)?,
    }))
}

/// Runs `action` unless the key already has a stored response. If the action fails because a
/// concurrent request with the same key won, that request's response is replayed instead.
pub async fn run<T, F>(
    db: &Db,
    user_id: i64,
    key: Option<&IdempotencyKey>,
    now: DateTime<Utc>,
    action: F,
) -> ApiResult<Outcome<T>>
where
    F: Future<Output = ApiResult<T>>,
{
    let Some(key) = key else {
        return action.await.map(Outcome::Done);
    };
    if let Some(stored) = lookup(db, user_id, key, now).await? {
        return Ok(Outcome::Replayed(stored));
    }
    match action.await {
        Ok(done) => Ok(Outcome::Done(done)),
        Err(err) => match lookup(db, user_id, key, now).await? {
            Some(stored) => Ok(Outcome::Replayed(stored)),
            None => Err(err),
        },
    }
}

/// Stores the response of a successful action, inside the action's own transaction. Fails with
/// a unique violation if a concurrent request with the same key committed first.
pub async fn save(
    conn: &mut AnyConnection,
    user_id: i64,
    key: &IdempotencyKey,
    status: StatusCode,
    body: &impl Serialize,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    // An expired key may be used again.
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 AND created_at <= $3")
        .bind(user_id)
        .bind(&key.key)
        .bind(to_db_time(now - Duration::hours(LIFETIME_HOURS)))
        .execute(&mut *conn)
        .await?;
    let body = serde_json::to_string(body).map_err(anyhow::Error::from)?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, status, response, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(i64::from(status.as_u16()))
    .bind(body)
    .bind(to_db_time(now))
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(ApiError::conflict(
            "A request with this Idempotency-Key is being processed; retry it",
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fingerprint_the_request() {
        let mut headers = HeaderMap::new();
        assert!(IdempotencyKey::from_request(&headers, "POST", "/p", b"{}")
            .unwrap()
            .is_none());
        headers.insert(HEADER, "abc-123".parse().unwrap());
        let a = IdempotencyKey::from_request(&headers, "POST", "/p", b"{}")
            .unwrap()
            .unwrap();
        let b = IdempotencyKey::from_request(&headers, "POST", "/p", b"{ }")
            .unwrap()
            .unwrap();
        let c = IdempotencyKey::from_request(&headers, "POST", "/q", b"{}")
            .unwrap()
            .unwrap();
        assert_eq!(a.key, "abc-123");
        assert_ne!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, c.request_hash);
        headers.insert(HEADER, "has space".parse().unwrap());
        assert!(IdempotencyKey::from_request(&headers, "POST", "/p", b"{}").is_err());
    }
}
