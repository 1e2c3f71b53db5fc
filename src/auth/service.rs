//! Signing in and out, shared by the API and the web pages.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::domain::{lockout_remaining, username_key};
use super::password;
use super::store::{self, FailureKey};
use super::tokens::{random_token, token_hash};
use super::CurrentUser;
use crate::app::AppState;
use crate::platform::audit::{self, AuditEntry};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::extract::RequestMeta;

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    pub user_id: i64,
    pub username: String,
    pub is_main: bool,
    /// Single use: exchange it at `/api/auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
}

/// Issues an access token and a refresh token in `family_id`.
pub async fn issue_tokens(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    user: &CurrentUser,
    family_id: &str,
) -> ApiResult<TokenResponse> {
    let now = state.now();
    let refresh_token = random_token();
    let expires_at = now + chrono::Duration::days(state.config.refresh_token_expire_days);
    store::insert_refresh_token(
        conn,
        &token_hash(&refresh_token),
        user.id,
        family_id,
        now,
        expires_at,
    )
    .await?;
    Ok(TokenResponse {
        access_token: state
            .jwt
            .issue(user.id, now, state.config.jwt_expire_minutes),
        token_type: "bearer".into(),
        user_id: user.id,
        username: user.username.clone(),
        is_main: user.is_main,
        refresh_token,
        expires_in: state.config.jwt_expire_minutes * 60,
    })
}

/// Checks a username (any letter case) and password, under the login rate limits, and issues
/// an access token and a refresh token. Failures are counted and audited.
pub async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    username: &str,
    password: String,
) -> ApiResult<TokenResponse> {
    let key = username_key(username);
    let limits = &state.config.login_limits;
    let now = state.now();
    let since = now - chrono::Duration::from_std(limits.window).unwrap_or_default();
    let by_account = store::recent_failures(&state.db, FailureKey::Account(&key), since).await?;
    let by_address =
        store::recent_failures(&state.db, FailureKey::Address(&meta.client_ip), since).await?;
    let locked = lockout_remaining(
        by_account,
        limits.max_failures_per_account,
        limits.window,
        now,
    )
    .into_iter()
    .chain(lockout_remaining(
        by_address,
        limits.max_failures_per_ip,
        limits.window,
        now,
    ))
    .max();
    if let Some(retry_after_secs) = locked {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "Too many failed login attempts. Try again in {retry_after_secs} seconds."
            ),
            retry_after_secs,
        });
    }

    let found = store::credentials(&state.db, &key).await?;
    let (user, valid) = tokio::task::spawn_blocking(move || match found {
        Some(c) => {
            let valid = password::verify_password(&password, &c.password_hash);
            (Some(c.user), valid)
        }
        None => {
            password::burn_verification_time(&password);
            (None, false)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;

    let mut tx = state.db.begin_write().await?;
    match user.filter(|_| valid) {
        Some(user) => {
            store::clear_failures(&mut tx, &key).await?;
            let tokens =
                issue_tokens(state, &mut tx, &user, &uuid::Uuid::new_v4().to_string()).await?;
            tx.commit().await?;
            Ok(tokens)
        }
        None => {
            store::record_failure(&mut tx, &key, &meta.client_ip, now, since).await?;
            let entry = AuditEntry {
                actor_user_id: None,
                action: "login_failed",
                target: key.clone(),
                details: json!({}),
            };
            audit::record(&mut tx, now, meta, entry).await?;
            if by_account.count + 1 >= limits.max_failures_per_account
                || by_address.count + 1 >= limits.max_failures_per_ip
            {
                let details = json!({ "account_failures": by_account.count + 1, "address_failures": by_address.count + 1 });
                let entry = AuditEntry {
                    actor_user_id: None,
                    action: "login_lockout",
                    target: key.clone(),
                    details,
                };
                audit::record(&mut tx, now, meta, entry).await?;
            }
            tx.commit().await?;
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Revokes a refresh token and every token rotated from the same sign-in. Unknown tokens are
/// ignored: signing out twice is not an error.
pub async fn sign_out(state: &AppState, refresh_token: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    if let Some((_, family_id)) = store::family_of(&mut tx, &token_hash(refresh_token)).await? {
        store::revoke_family(&mut tx, &family_id, state.now()).await?;
    }
    tx.commit().await?;
    Ok(())
}
