//! `/api/v1/auth/`: simplejwt's `TokenObtainPairView`, `TokenRefreshView` and
//! `TokenBlacklistView`, over the same sign-in service, tokens, lockout and audit as
//! `/api/auth`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::drf::{DrfBody, DrfErrorBody, DrfJson, DrfResult};
use crate::state::AppState;
use saghat_core::auth::service::{self, TokenResponse};
use saghat_core::platform::audit::RequestMeta;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenObtainPair {
    pub username: String,
    pub password: String,
}

impl DrfBody for TokenObtainPair {
    const REQUIRED: &'static [&'static str] = &["username", "password"];
    const NOT_BLANK: &'static [&'static str] = &["username", "password"];
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRefresh {
    pub refresh: String,
}

impl DrfBody for TokenRefresh {
    const REQUIRED: &'static [&'static str] = &["refresh"];
    const NOT_BLANK: &'static [&'static str] = &["refresh"];
}

/// simplejwt's pair. Saghat rotates refresh tokens, so a refresh answers a new `refresh` too
/// (`ROTATE_REFRESH_TOKENS` with `BLACKLIST_AFTER_ROTATION`).
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub access: String,
    /// Single use: exchange it at `/api/v1/auth/refresh/` for a new pair.
    pub refresh: String,
}

impl From<TokenResponse> for TokenPair {
    fn from(tokens: TokenResponse) -> Self {
        TokenPair {
            access: tokens.access_token,
            refresh: tokens.refresh_token,
        }
    }
}

/// Nothing: simplejwt's blacklist view answers `{}`.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// Sign in with username (any letter case) and password (simplejwt's `TokenObtainPairView`).
///
/// Under the same login limits as `/api/auth/login`: past one, 429 with `Retry-After`.
#[utoipa::path(post, path = "/auth/login/", tag = "v1", request_body = TokenObtainPair,
    responses((status = 200, body = TokenPair),
              (status = 400, description = "A field is missing or blank", body = DrfErrorBody),
              (status = 401, description = "No active account found with the given credentials", body = DrfErrorBody),
              (status = 429, body = DrfErrorBody)))]
async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    DrfJson(body): DrfJson<TokenObtainPair>,
) -> DrfResult<Json<TokenPair>> {
    let tokens = service::sign_in(&state, &meta, &body.username, body.password).await?;
    Ok(Json(tokens.into()))
}

/// Exchange a refresh token for a new access token and refresh token. Each refresh token works
/// once; presenting a spent one revokes every token issued from the same sign-in.
#[utoipa::path(post, path = "/auth/refresh/", tag = "v1", request_body = TokenRefresh,
    responses((status = 200, body = TokenPair),
              (status = 400, body = DrfErrorBody),
              (status = 401, description = "Token is invalid or expired (`token_not_valid`)", body = DrfErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    DrfJson(body): DrfJson<TokenRefresh>,
) -> DrfResult<Json<TokenPair>> {
    Ok(Json(
        service::refresh(&state, &meta, &body.refresh).await?.into(),
    ))
}

/// Sign out (simplejwt's `TokenBlacklistView`): revokes the refresh token, every token rotated
/// from the same sign-in, and their access tokens, on every instance. An unknown or already
/// revoked token is not an error: signing out twice answers 200 too.
#[utoipa::path(post, path = "/auth/logout/", tag = "v1", request_body = TokenRefresh,
    responses((status = 200, description = "Signed out", body = Empty),
              (status = 400, body = DrfErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    DrfJson(body): DrfJson<TokenRefresh>,
) -> DrfResult<Json<Empty>> {
    service::sign_out(&state, &body.refresh).await?;
    Ok(Json(Empty {}))
}
