//! `/api/auth/oidc`: signing in with an OpenID provider from an API client (authorization code
//! with PKCE, RFC 8252): the client begins, sends its user to the provider, receives the code at
//! its own redirect URI, and brings it back with the secret it was given at the start.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, Validate};
use crate::state::AppState;
use saghat_core::auth::oidc::{
    self, service, Finished, Identity, OidcError, ProviderInfo, Purpose,
};
use saghat_core::auth::service::TokenResponse;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::audit::RequestMeta;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(providers))
        .routes(routes!(start))
        .routes(routes!(finish))
        .routes(routes!(identities))
        .routes(routes!(unlink))
}

impl From<OidcError> for ApiError {
    fn from(err: OidcError) -> Self {
        let detail = err.to_string();
        match err {
            OidcError::UnknownProvider => ApiError::NotFound(detail),
            OidcError::InvalidState
            | OidcError::Expired
            | OidcError::Denied(_)
            | OidcError::CodeRefused(_)
            | OidcError::InvalidIdToken(_)
            | OidcError::RedirectNotAllowed => ApiError::BadRequest(detail),
            OidcError::NotLinked { .. } => ApiError::Forbidden(detail),
            OidcError::LinkConflict(_) => ApiError::Conflict(detail),
            OidcError::Unreachable(_) => ApiError::BadGateway(detail),
            OidcError::Auth(e) => e.into(),
            OidcError::Store(e) => e.into(),
        }
    }
}

/// The OpenID providers one may sign in with (`OIDC_<NAME>_ISSUER`).
#[utoipa::path(get, path = "/api/auth/oidc/providers", tag = "auth",
    responses((status = 200, body = [ProviderInfo])))]
async fn providers(State(state): State<AppState>) -> Json<Vec<ProviderInfo>> {
    Json(service::providers(&state))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// Where the provider is to send the code: one of the provider's
    /// `OIDC_<NAME>_API_REDIRECT_URIS`, exactly.
    pub redirect_uri: String,
}
impl Validate for StartRequest {
    const REQUIRED: &'static [&'static str] = &["redirect_uri"];
}

#[derive(Serialize, ToSchema)]
pub struct StartResponse {
    /// Send the user here (a browser).
    pub authorization_url: String,
    /// Comes back with the code at the redirect URI.
    pub state: String,
    /// Keep it: `…/callback` needs it, so only this client can finish this sign-in.
    pub client_binding: String,
    /// Seconds left to finish.
    pub expires_in: i64,
}

/// Begin a sign-in at a provider, for an API client. The authorization request carries a
/// PKCE challenge (S256), a `state` and a `nonce`; Saghat keeps the verifier and the nonce.
#[utoipa::path(post, path = "/api/auth/oidc/{provider}/start", tag = "auth", request_body = StartRequest,
    params(("provider" = String, Path)),
    responses((status = 200, body = StartResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 502, body = ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    ApiJson(body): ApiJson<StartRequest>,
) -> ApiResult<Json<StartResponse>> {
    let started = service::start(&state, &provider, Purpose::Api, &body.redirect_uri).await?;
    Ok(Json(StartResponse {
        authorization_url: started.authorization_url,
        state: started.state,
        client_binding: started.binding,
        expires_in: started.expires_in,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    /// The `code` the provider sent to the redirect URI.
    pub code: String,
    /// The `state` that came with it.
    pub state: String,
    /// `client_binding` from the start.
    pub client_binding: String,
}
impl Validate for CallbackRequest {
    const REQUIRED: &'static [&'static str] = &["code", "state", "client_binding"];
}

/// Finish a sign-in begun with `…/start`: Saghat exchanges the code, validates the ID token
/// (signature by the provider's keys, issuer, audience, expiry, nonce) and answers the same
/// tokens as `/api/auth/login`. Each sign-in finishes once; a state used, unknown or from
/// another client is 400, an identity no account is linked to 403.
#[utoipa::path(post, path = "/api/auth/oidc/{provider}/callback", tag = "auth", request_body = CallbackRequest,
    params(("provider" = String, Path)),
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn finish(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CallbackRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let finished = service::finish(
        &state,
        &meta,
        &provider,
        &body.code,
        &body.state,
        &body.client_binding,
    )
    .await?;
    match finished {
        Finished::SignedIn { tokens, .. } => Ok(Json(tokens)),
        // An API start is always a sign-in; a link is begun on the web only.
        Finished::Linked { .. } => Err(OidcError::InvalidState.into()),
    }
}

/// The provider identities linked to the signed-in account.
#[utoipa::path(get, path = "/api/auth/oidc/identities", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [Identity]), (status = 401, body = ErrorBody)))]
async fn identities(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<Identity>>> {
    Ok(Json(oidc::service::identities(&state, user.id).await?))
}

/// Unlink the signed-in account's identity at a provider.
#[utoipa::path(delete, path = "/api/auth/oidc/{provider}/identity", tag = "auth", security(("bearer" = [])),
    params(("provider" = String, Path)),
    responses((status = 204, description = "Unlinked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unlink(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(provider): Path<String>,
) -> ApiResult<StatusCode> {
    if service::unlink(&state, &meta, &user, &provider).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "No identity of this provider is linked to your account",
        ))
    }
}
