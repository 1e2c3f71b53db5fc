//! `/api/auth`: sign-in, tokens and members.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::extract::{ApiJson, Validate};
use crate::state::AppState;
use saghat_core::auth::domain;
use saghat_core::auth::service::{self, TokenResponse, UserChanges, UserDetails};
use saghat_core::auth::store::{self, UserProfile};
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(create_user, list_users))
        .routes(routes!(update_user))
        .routes(routes!(me))
        .routes(routes!(update_loan_request))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}
impl Validate for LoginRequest {
    const REQUIRED: &'static [&'static str] = &["username", "password"];
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}
impl Validate for RefreshRequest {
    const REQUIRED: &'static [&'static str] = &["refresh_token"];
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoanRequestUpdate {
    /// The amount to ask for in the next draws; 0 opts out.
    pub loan_request_amount: Amount,
}

impl Validate for LoanRequestUpdate {
    const REQUIRED: &'static [&'static str] = &["loan_request_amount"];

    fn validate(&self) -> Vec<FieldError> {
        match domain::non_negative(self.loan_request_amount) {
            Ok(()) => vec![],
            Err(msg) => vec![FieldError::body(
                "loan_request_amount",
                "greater_than_equal",
                msg,
            )],
        }
    }
}

/// Sign in with username (any letter case) and password.
///
/// Each attempt reserves a password check per account and address, per address, and per
/// account, before the password is checked; past a limit the endpoint answers 429 with
/// `Retry-After` until the window has passed. When the server is busy hashing passwords it
/// answers 503 with `Retry-After`.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(
        service::sign_in(&state, &meta, &body.username, body.password).await?,
    ))
}

/// Exchange a refresh token for a new access token and refresh token. Each refresh token
/// works once; presenting a spent one revokes every token issued from the same sign-in. No
/// refresh token outlives its sign-in by more than `REFRESH_TOKEN_MAX_DAYS`.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(
        service::refresh(&state, &meta, &body.refresh_token).await?,
    ))
}

/// Sign out: revokes the refresh token, every token rotated from the same sign-in, and their
/// access tokens, on every instance.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Signed out")))]
async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    service::sign_out(&state, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a fund member (main users only).
#[utoipa::path(post, path = "/api/auth/users", tag = "auth", request_body = CreateUserRequest, security(("bearer" = [])),
    responses((status = 201, body = UserProfile), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserProfile>)> {
    let profile = service::create_user(&state, &admin, &meta, body.details()).await?;
    Ok((StatusCode::CREATED, Json(profile)))
}

/// Change a user (main users only): deactivate or reactivate them, change their role or names,
/// or reset their password. A deactivated user can no longer sign in, their tokens stop working
/// on every instance (and stay dead after a reactivation), and the draw no longer waits for
/// them; a password reset likewise ends every session. Admins cannot deactivate or demote
/// themselves.
#[utoipa::path(patch, path = "/api/auth/users/{user_id}", tag = "auth", request_body = UpdateUserRequest, security(("bearer" = [])),
    params(("user_id" = i64, Path)),
    responses((status = 200, body = UserProfile), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserProfile>> {
    let user_id: i64 = user_id
        .parse()
        .map_err(|_| ApiError::not_found("User not found"))?;
    Ok(Json(
        service::update_user(&state, &admin, &meta, user_id, body.into()).await?,
    ))
}

/// All members, ordered by username (main users only).
#[utoipa::path(get, path = "/api/auth/users", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserProfile>), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    _admin: MainUser,
) -> ApiResult<Json<Vec<UserProfile>>> {
    Ok(Json(store::list_profiles(&state.db).await?))
}

/// The signed-in member's profile.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserProfile), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<UserProfile>> {
    let mut conn = state.db.pool.acquire().await?;
    let profile = store::profile_by_id(&mut conn, user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(profile))
}

/// Change the amount the member asks for in the coming draws (0 opts out).
#[utoipa::path(patch, path = "/api/auth/me/loan-request", tag = "auth", request_body = LoanRequestUpdate, security(("bearer" = [])),
    responses((status = 200, body = UserProfile), (status = 422, body = ErrorBody)))]
async fn update_loan_request(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoanRequestUpdate>,
) -> ApiResult<Json<UserProfile>> {
    Ok(Json(
        service::change_loan_request(&state, &user, &meta, body.loan_request_amount).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
/// A new user (`POST /api/auth/users`).
pub struct CreateUserRequest {
    /// 3–150 letters (any script), digits, `_`, `.`, `-`; unique regardless of letter case.
    #[schema(min_length = 3, max_length = 150, pattern = r"^[\w.-]+$")]
    pub username: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[serde(default)]
    #[schema(max_length = 150)]
    pub first_name: String,
    #[serde(default)]
    #[schema(max_length = 150)]
    pub last_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub is_main: bool,
    #[serde(default)]
    pub loan_request_amount: Amount,
    /// `admin`, `accountant` or `member` (added). Defaults to `admin` when `is_main`, else `member`.
    #[serde(default)]
    pub role: Option<Role>,
}

impl CreateUserRequest {
    /// What the service creates: the role defaults to `admin` when `is_main`, else `member`.
    fn details(&self) -> UserDetails {
        let role = self.role.unwrap_or(if self.is_main {
            Role::Admin
        } else {
            Role::Member
        });
        UserDetails {
            username: self.username.clone(),
            password: self.password.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            role,
            loan_request_amount: self.loan_request_amount,
        }
    }
}

impl Validate for CreateUserRequest {
    const REQUIRED: &'static [&'static str] = &["username", "password"];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = self.details().problems();
        if self.is_main && self.role.is_some_and(|role| role != Role::Admin) {
            problems.push(FieldError::body(
                "role",
                "value_error",
                "is_main is true only for the admin role",
            ));
        }
        problems
    }
}

/// Changes to a user, each optional.
#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// `false` deactivates the user and ends all their sessions; `true` does not revive them.
    pub is_active: Option<bool>,
    pub role: Option<Role>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// A new password (an admin's reset): validated like a new user's, and ends all the user's
    /// sessions. Never stored or audited in clear.
    #[schema(min_length = 8, max_length = 256)]
    pub password: Option<String>,
}

impl From<UpdateUserRequest> for UserChanges {
    fn from(body: UpdateUserRequest) -> Self {
        UserChanges {
            is_active: body.is_active,
            role: body.role,
            first_name: body.first_name,
            last_name: body.last_name,
            email: body.email,
            password: body.password,
        }
    }
}

impl Validate for UpdateUserRequest {
    fn validate(&self) -> Vec<FieldError> {
        UserChanges::from(self.clone()).problems()
    }
}
