//! `/api/v1/users/`: the accounts, managed by admins (seed 004's `IsAdminUser`); anyone signed
//! in reads their own at `/api/v1/users/me/`. Over the same user services as `/api/auth/users`.
//!
//! Roles are the core's `Role`: a role added there is accepted and shown here without a change.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::drf::{may, Page, PageQuery, REQUIRED};
use super::drf::{
    path_id, Admin, Authenticated, DrfBody, DrfError, DrfErrorBody, DrfJson, DrfResult,
};
use crate::error::FieldError;
use crate::state::AppState;
use saghat_core::auth::service::{self, UserChanges, UserDetails};
use saghat_core::auth::store::{self, UserProfile};
use saghat_core::auth::Role;
use saghat_core::invoicing;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(me))
        .routes(routes!(retrieve_user, replace_user, update_user))
}

/// A user as `/api/v1` shows one.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
}

impl From<UserProfile> for User {
    fn from(p: UserProfile) -> Self {
        User {
            id: p.id,
            username: p.username,
            email: p.email,
            first_name: p.first_name,
            last_name: p.last_name,
            role: p.role,
        }
    }
}

/// All users, by username (admins only), a page at a time.
#[utoipa::path(get, path = "/users/", tag = "v1", security(("bearer" = [])),
    params(("page" = Option<String>, Query, description = "A page number, or `last`"),
           ("page_size" = Option<String>, Query, description = "Rows per page: a positive integer, default 20; more than 100 is read as 100 and anything else is ignored, as DRF does")),
    responses((status = 200, body = Page<User>), (status = 401, body = DrfErrorBody),
              (status = 403, body = DrfErrorBody), (status = 404, description = "Invalid page.", body = DrfErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
    pages: PageQuery,
) -> DrfResult<Json<Page<User>>> {
    // The users are few (staff and members): read whole, paged here.
    let all = store::list_profiles(&state.db).await?;
    Ok(Json(
        pages.page_of(all.into_iter().map(User::from).collect())?,
    ))
}

/// A new user (`POST /api/v1/users/`); a `client` user is linked to its client.
#[derive(Deserialize, ToSchema)]
pub struct UserCreate {
    /// 3–150 letters (any script), digits, `_`, `.`, `-`; unique regardless of letter case.
    #[schema(min_length = 3, max_length = 150)]
    pub username: String,
    #[schema(min_length = 8, max_length = 256, write_only)]
    pub password: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    #[schema(max_length = 150)]
    pub first_name: String,
    #[serde(default)]
    #[schema(max_length = 150)]
    pub last_name: String,
    pub role: Role,
    /// For role `client`, required: the id of the client whose portal the user sees.
    pub client: Option<i64>,
}

impl UserCreate {
    fn details(&self) -> UserDetails {
        UserDetails {
            username: self.username.clone(),
            password: self.password.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            role: self.role,
            loan_request_amount: Amount::ZERO,
        }
    }
}

impl DrfBody for UserCreate {
    const REQUIRED: &'static [&'static str] = &["username", "password", "role"];
    const NOT_BLANK: &'static [&'static str] = &["username", "password"];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = self.details().problems();
        match (self.role, self.client) {
            (Role::Client, None) => problems.push(FieldError::body("client", "missing", REQUIRED)),
            (role, Some(_)) if role != Role::Client => problems.push(FieldError::body(
                "client",
                "value_error",
                "Only a user with the client role is linked to a client.",
            )),
            _ => {}
        }
        problems
    }
}

/// Create a user (admins only).
#[utoipa::path(post, path = "/users/", tag = "v1", request_body = UserCreate, security(("bearer" = [])),
    responses((status = 201, body = User), (status = 400, body = DrfErrorBody),
              (status = 401, body = DrfErrorBody), (status = 403, body = DrfErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    meta: RequestMeta,
    DrfJson(body): DrfJson<UserCreate>,
) -> DrfResult<(StatusCode, Json<User>)> {
    // The client is looked up first, so a bad id creates no user without a portal.
    if let Some(client) = body.client {
        match invoicing::service::get_client(&state, &admin, client).await {
            Err(InvoicingError::NotFound) => {
                let message = format!("Invalid pk \"{client}\" - object does not exist.");
                return Err(DrfError::field("client", message));
            }
            other => other?,
        };
    }
    let profile = match body.client {
        // The user and its link in one transaction: no user without its portal.
        Some(client) => {
            let id = invoicing::service::create_portal_user(
                &state,
                &admin,
                client,
                body.details(),
                &meta,
            )
            .await?;
            let mut conn = state.db.pool.acquire().await?;
            store::profile_by_id(&mut conn, id)
                .await?
                .ok_or(DrfError::NotFound)?
        }
        None => service::create_user(&state, &admin, &meta, body.details()).await?,
    };
    Ok((StatusCode::CREATED, Json(profile.into())))
}

/// The signed-in user.
#[utoipa::path(get, path = "/users/me/", tag = "v1", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = DrfErrorBody)))]
async fn me(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> DrfResult<Json<User>> {
    let mut conn = state.db.pool.acquire().await?;
    let profile = store::profile_by_id(&mut conn, user.id)
        .await?
        .ok_or(DrfError::InvalidAccessToken)?;
    Ok(Json(profile.into()))
}

/// One user: admins see anyone, others only themselves.
#[utoipa::path(get, path = "/users/{id}/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 401, body = DrfErrorBody),
              (status = 403, body = DrfErrorBody), (status = 404, body = DrfErrorBody)))]
async fn retrieve_user(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<Json<User>> {
    let id = path_id(&id)?;
    if id != user.id {
        may(&user, Action::ManageUsers)?;
    }
    let mut conn = state.db.pool.acquire().await?;
    let profile = store::profile_by_id(&mut conn, id)
        .await?
        .ok_or(DrfError::NotFound)?;
    Ok(Json(profile.into()))
}

/// Every writable field of a user (`PUT`); the username never changes. `password`, when
/// given, resets it and ends the user's sessions; `is_active: false` deactivates them.
#[derive(Deserialize, ToSchema)]
pub struct UserUpdate {
    pub email: String,
    #[schema(max_length = 150)]
    pub first_name: String,
    #[schema(max_length = 150)]
    pub last_name: String,
    pub role: Role,
    /// A full update says whether the user is active too (`PATCH` may leave it out).
    pub is_active: bool,
    #[schema(min_length = 8, max_length = 256, write_only)]
    pub password: Option<String>,
}

impl DrfBody for UserUpdate {
    const REQUIRED: &'static [&'static str] =
        &["email", "first_name", "last_name", "role", "is_active"];
    const NOT_NULL: &'static [&'static str] = &["password"];

    fn validate(&self) -> Vec<FieldError> {
        UserChanges::from(self).problems()
    }
}

impl From<&UserUpdate> for UserChanges {
    fn from(body: &UserUpdate) -> Self {
        UserChanges {
            is_active: Some(body.is_active),
            role: Some(body.role),
            first_name: Some(body.first_name.clone()),
            last_name: Some(body.last_name.clone()),
            email: Some(body.email.clone()),
            password: body.password.clone(),
        }
    }
}

/// Some fields of a user (`PATCH`), each optional, as in [`UserUpdate`].
#[derive(Deserialize, ToSchema, Clone)]
pub struct PatchedUser {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    #[schema(min_length = 8, max_length = 256, write_only)]
    pub password: Option<String>,
}

impl DrfBody for PatchedUser {
    const NOT_NULL: &'static [&'static str] = &[
        "email",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "password",
    ];
    fn validate(&self) -> Vec<FieldError> {
        UserChanges::from(self.clone()).problems()
    }
}

impl From<PatchedUser> for UserChanges {
    fn from(body: PatchedUser) -> Self {
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

/// Replace a user's fields (admins only). Admins cannot deactivate or demote themselves.
#[utoipa::path(put, path = "/users/{id}/", tag = "v1", request_body = UserUpdate, security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 400, body = DrfErrorBody), (status = 401, body = DrfErrorBody),
              (status = 403, body = DrfErrorBody), (status = 404, body = DrfErrorBody)))]
async fn replace_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    meta: RequestMeta,
    Path(id): Path<String>,
    DrfJson(body): DrfJson<UserUpdate>,
) -> DrfResult<Json<User>> {
    let id = path_id(&id)?;
    let profile = service::update_user(&state, &admin, &meta, id, (&body).into()).await?;
    Ok(Json(profile.into()))
}

/// Change some of a user's fields (admins only), as `PUT` does.
#[utoipa::path(patch, path = "/users/{id}/", tag = "v1", request_body = Option<PatchedUser>, security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 400, body = DrfErrorBody), (status = 401, body = DrfErrorBody),
              (status = 403, body = DrfErrorBody), (status = 404, body = DrfErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    meta: RequestMeta,
    Path(id): Path<String>,
    DrfJson(body): DrfJson<PatchedUser>,
) -> DrfResult<Json<User>> {
    let id = path_id(&id)?;
    let profile = service::update_user(&state, &admin, &meta, id, body.into()).await?;
    Ok(Json(profile.into()))
}
