//! `/api/auth`: sign-in, tokens and members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{self, Username};
use super::password;
use super::service::{self, TokenResponse};
use super::store::{self, NewUser, Spend, UserProfile};
use super::tokens::token_hash;
use super::{CurrentUser, MainUser, Role};
use crate::app::AppState;
use crate::platform::audit::{self, AuditEntry};
use crate::platform::db::is_unique_violation;
use crate::platform::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::platform::extract::{ApiJson, RequestMeta, Validate};
use crate::platform::money::Amount;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(create_user, list_users))
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
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
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

impl Validate for CreateUserRequest {
    const REQUIRED: &'static [&'static str] = &["username", "password"];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = vec![];
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(msg) = result {
                problems.push(FieldError::body(field, "value_error", msg));
            }
        };
        check("username", Username::parse(&self.username).map(|_| ()));
        check("password", domain::validate_password(&self.password));
        check("first_name", domain::validate_name(&self.first_name));
        check("last_name", domain::validate_name(&self.last_name));
        if !self.email.is_empty() {
            check("email", domain::validate_email(&self.email));
        }
        check(
            "loan_request_amount",
            non_negative(self.loan_request_amount),
        );
        if self.is_main && self.role.is_some_and(|role| role != Role::Admin) {
            check(
                "role",
                Err("is_main is true only for the admin role".into()),
            );
        }
        problems
    }
}

fn non_negative(amount: Amount) -> Result<(), String> {
    if amount < Amount::ZERO {
        return Err("Input should be greater than or equal to 0".into());
    }
    Ok(())
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
        match non_negative(self.loan_request_amount) {
            Ok(()) => vec![],
            Err(msg) => vec![FieldError::body(
                "loan_request_amount",
                "greater_than_equal",
                msg,
            )],
        }
    }
}

async fn hash_off_executor(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || password::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Sign in with username (any letter case) and password.
///
/// Failed attempts are counted per account and per client address; past the limit the
/// endpoint answers 429 with `Retry-After` until the window has passed.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
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
/// works once; presenting a spent one revokes every token issued from the same sign-in.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let now = state.now();
    let mut tx = state.db.begin_write().await?;
    match store::spend_refresh_token(&mut tx, &token_hash(&body.refresh_token), now).await? {
        Spend::Spent { user_id, family_id } => {
            let user = store::find_active_user(&state.db, user_id)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let tokens = service::issue_tokens(&state, &mut tx, &user, &family_id).await?;
            tx.commit().await?;
            Ok(Json(tokens))
        }
        Spend::Replayed { user_id, family_id } => {
            store::revoke_family(&mut tx, &family_id, now).await?;
            let entry = AuditEntry {
                actor_user_id: Some(user_id),
                action: "refresh_token_reuse",
                target: format!("user:{user_id}"),
                details: json!({ "family_id": family_id }),
            };
            audit::record(&mut tx, now, &meta, entry).await?;
            tx.commit().await?;
            tracing::warn!(user_id, "refresh token reused: its whole family is revoked");
            Err(ApiError::Unauthorized)
        }
        Spend::Unknown => Err(ApiError::Unauthorized),
    }
}

/// Sign out: revokes the refresh token and every token rotated from the same sign-in.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Signed out")))]
async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin_write().await?;
    if let Some((_, family_id)) =
        store::family_of(&mut tx, &token_hash(&body.refresh_token)).await?
    {
        store::revoke_family(&mut tx, &family_id, state.now()).await?;
    }
    tx.commit().await?;
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
    let username = Username::parse(&body.username).map_err(ApiError::bad_request)?;
    let password_hash = hash_off_executor(body.password).await?;
    let now = state.now();
    let mut tx = state.db.begin_write().await?;
    let new_user = NewUser {
        username: &username.display,
        username_key: &username.key,
        password_hash: &password_hash,
        first_name: &body.first_name,
        last_name: &body.last_name,
        email: &body.email,
        is_main: body.is_main || body.role == Some(Role::Admin),
        loan_request_amount: body.loan_request_amount,
    };
    let id = match store::insert_user(&mut tx, &new_user, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::bad_request("Username already exists"))
        }
        Err(e) => return Err(e.into()),
    };
    let role = body.role.unwrap_or(if body.is_main {
        Role::Admin
    } else {
        Role::Member
    });
    if role == Role::Accountant {
        store::set_role(&mut tx, id, role).await?;
    }
    let entry = AuditEntry {
        actor_user_id: Some(admin.id),
        action: "user_created",
        target: format!("user:{id}"),
        details: json!({ "username": username.display, "role": role.as_str() }),
    };
    audit::record(&mut tx, now, &meta, entry).await?;
    let profile = store::profile_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {id} vanished"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(profile)))
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
    let mut tx = state.db.begin_write().await?;
    store::set_loan_request(&mut tx, user.id, body.loan_request_amount).await?;
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "user_changed",
        target: format!("user:{}", user.id),
        details: json!({ "loan_request_amount": body.loan_request_amount }),
    };
    audit::record(&mut tx, state.now(), &meta, entry).await?;
    let profile = store::profile_by_id(&mut tx, user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    tx.commit().await?;
    Ok(Json(profile))
}
