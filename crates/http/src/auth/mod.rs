//! Who is asking: the extractors that turn a bearer token into the signed-in user, and the
//! role checks the API's handlers require.

pub mod api;
pub mod oidc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use saghat_core::auth::service::authenticate;
use saghat_core::auth::CurrentUser;
use saghat_core::ledger::access::sees_all_books;

use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in admin or accountant; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct BooksReader(pub CurrentUser);

impl FromRequestParts<AppState> for BooksReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !sees_all_books(user.role) {
            return Err(ApiError::Forbidden(
                "Only admins and accountants may do this".into(),
            ));
        }
        Ok(BooksReader(user))
    }
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
        authenticate(state, token.trim())
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
