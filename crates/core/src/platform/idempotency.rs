//! `Idempotency-Key` for money-moving POSTs: a retried request with the same key and the same
//! body gets the stored response and has no second effect; the same key with another body is
//! refused (422). Keys belong to one user and expire after 24 hours.
//!
//! The response is stored in the same database transaction as the effect it reports, so after
//! a crash either both exist or neither does.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::clock::to_db_time;
use super::db::{is_unique_violation, Db};

pub const HEADER: &str = "idempotency-key";

/// How an API renders what a keyed action did (its status and body), to store under the key
/// in the action's own transaction.
pub type Respond<'a, T> = &'a (dyn Fn(&T) -> (u16, serde_json::Value) + Send + Sync);
pub(crate) const LIFETIME_HOURS: i64 = 24;

/// Why a request under a key was refused, or the key's store failed.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("Idempotency-Key must be 1 to 255 visible ASCII characters")]
    MalformedKey,
    /// The key was used before with a different request (422).
    #[error("This Idempotency-Key was already used with a different request")]
    KeyReused,
    /// A concurrent request with the same key committed first (409).
    #[error("A request with this Idempotency-Key is being processed; retry it")]
    InProgress,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The key a client sent, with the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

impl IdempotencyKey {
    /// The header's value (`None` when absent; a value that is not text counts as malformed)
    /// with the request it came with. A key must be 1–255 visible ASCII characters.
    pub fn from_header(
        value: Option<&[u8]>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Option<Self>, IdempotencyError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let key = std::str::from_utf8(value).unwrap_or_default().trim();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(IdempotencyError::MalformedKey);
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
    /// The HTTP status the first answer had.
    pub status: u16,
    pub body: serde_json::Value,
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
) -> Result<Option<StoredResponse>, IdempotencyError> {
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
        return Err(IdempotencyError::KeyReused);
    }
    Ok(Some(StoredResponse {
        status: u16::try_from(row.status).unwrap_or(200),
        body: serde_json::from_str(&row.response).map_err(anyhow::Error::from)?,
    }))
}

/// Runs `action` unless the key already has a stored response. If the action fails because a
/// concurrent request with the same key won, that request's response is replayed instead.
pub async fn run<T, E, F>(
    db: &Db,
    user_id: i64,
    key: Option<&IdempotencyKey>,
    now: DateTime<Utc>,
    action: F,
) -> Result<Outcome<T>, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<IdempotencyError>,
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
    status: u16,
    body: &impl Serialize,
    now: DateTime<Utc>,
) -> Result<(), IdempotencyError> {
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
    .bind(i64::from(status))
    .bind(body)
    .bind(to_db_time(now))
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(IdempotencyError::InProgress),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fingerprint_the_request() {
        assert!(IdempotencyKey::from_header(None, "POST", "/p", b"{}")
            .unwrap()
            .is_none());
        let key = Some(&b"abc-123"[..]);
        let a = IdempotencyKey::from_header(key, "POST", "/p", b"{}")
            .unwrap()
            .unwrap();
        let b = IdempotencyKey::from_header(key, "POST", "/p", b"{ }")
            .unwrap()
            .unwrap();
        let c = IdempotencyKey::from_header(key, "POST", "/q", b"{}")
            .unwrap()
            .unwrap();
        assert_eq!(a.key, "abc-123");
        assert_ne!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, c.request_hash);
        let spaced = Some(&b"has space"[..]);
        assert!(matches!(
            IdempotencyKey::from_header(spaced, "POST", "/p", b"{}"),
            Err(IdempotencyError::MalformedKey)
        ));
    }
}
