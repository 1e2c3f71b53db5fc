//! The `oidc_identities` and `oidc_logins` rows.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::model::{Identity, Purpose};
use crate::platform::clock::{to_db_time, DbTime};

/// A sign-in under way, as its callback finds it again.
#[derive(sqlx::FromRow)]
pub(super) struct LoginRow {
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub purpose: String,
    pub link_user_id: Option<i64>,
    pub next_path: String,
    pub redirect_uri: String,
    pub expires_at: DbTime,
}

pub(super) struct NewLogin<'a> {
    pub state_hash: &'a str,
    pub provider: &'a str,
    pub binding_hash: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub purpose: &'a Purpose,
    pub redirect_uri: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub(super) async fn insert_login(
    conn: &mut AnyConnection,
    login: &NewLogin<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (link_user, next) = match login.purpose {
        Purpose::Web { next } => (None, next.as_str()),
        Purpose::Api => (None, ""),
        Purpose::Link { user_id, next } => (Some(*user_id), next.as_str()),
    };
    sqlx::query(
        "INSERT INTO oidc_logins (state_hash, provider, binding_hash, nonce, pkce_verifier, purpose, \
                                  link_user_id, next_path, redirect_uri, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(login.state_hash)
    .bind(login.provider)
    .bind(login.binding_hash)
    .bind(login.nonce)
    .bind(login.pkce_verifier)
    .bind(login.purpose.as_str())
    .bind(link_user)
    .bind(next)
    .bind(login.redirect_uri)
    .bind(to_db_time(now))
    .bind(to_db_time(login.expires_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the sign-in `state_hash` names, if `binding_hash` is that of the browser or client
/// that began it: the row is gone afterwards, so a second callback with the same state (a
/// replay) finds nothing, while a callback from elsewhere takes nothing.
pub(super) async fn take_login(
    conn: &mut AnyConnection,
    state_hash: &str,
    binding_hash: &str,
) -> Result<Option<LoginRow>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM oidc_logins WHERE state_hash = $1 AND binding_hash = $2 \
         RETURNING provider, nonce, pkce_verifier, purpose, link_user_id, next_path, \
                   redirect_uri, expires_at",
    )
    .bind(state_hash)
    .bind(binding_hash)
    .fetch_optional(conn)
    .await
}

pub(super) async fn user_of(
    conn: &mut AnyConnection,
    provider: &str,
    subject: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM oidc_identities WHERE provider = $1 AND subject = $2")
        .bind(provider)
        .bind(subject)
        .fetch_optional(conn)
        .await
}

/// The active accounts whose e-mail is `email` (any letter case).
pub(super) async fn active_users_with_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE LOWER(email) = LOWER($1) AND is_active = 1 ORDER BY id LIMIT 2",
    )
    .bind(email)
    .fetch_all(conn)
    .await
}

pub(super) async fn link(
    conn: &mut AnyConnection,
    provider: &str,
    subject: &str,
    user_id: i64,
    email: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_identities (provider, subject, user_id, email, linked_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(provider)
    .bind(subject)
    .bind(user_id)
    .bind(email)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn unlink(
    conn: &mut AnyConnection,
    provider: &str,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM oidc_identities WHERE provider = $1 AND user_id = $2")
        .bind(provider)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn touch(
    conn: &mut AnyConnection,
    provider: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_identities SET last_sign_in_at = $3 WHERE provider = $1 AND subject = $2",
    )
    .bind(provider)
    .bind(subject)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct IdentityRow {
    provider: String,
    email: String,
    linked_at: DbTime,
    last_sign_in_at: Option<DbTime>,
}

pub(super) async fn identities_of(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<Identity>, sqlx::Error> {
    let rows: Vec<IdentityRow> = sqlx::query_as(
        "SELECT provider, email, linked_at, last_sign_in_at FROM oidc_identities \
          WHERE user_id = $1 ORDER BY provider",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Identity {
            provider: r.provider,
            email: r.email,
            linked_at: r.linked_at.0,
            last_sign_in_at: r.last_sign_in_at.and_then(|t| t.0),
        })
        .collect())
}
