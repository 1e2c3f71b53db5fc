//! Accounts and sign-in: users, passwords, access and refresh tokens, login rate limits.

pub mod domain;
pub mod http;
pub mod password;
pub mod service;
pub mod store;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::platform::error::ApiError;

/// The signed-in user: any active account with a valid access token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub is_main: bool,
}

/// A signed-in user with the main (admin) role; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct MainUser(pub CurrentUser);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(ApiError::Unauthorized)?;
        let user_id = state
            .jwt
            .verify(token.trim(), state.now())
            .ok_or(ApiError::Unauthorized)?;
        store::find_active_user(&state.db, user_id)
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

impl FromRequestParts<AppState> for MainUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_main {
            return Err(ApiError::Forbidden(
                "Only the fund's main users may do this".into(),
            ));
        }
        Ok(MainUser(user))
    }
}
