//! `/api/notifications/preferences` (the signed-in user's) and `/api/admin/notifications` (the
//! delivery log, admins only).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::extract::{no_problems, page, query_i64, ApiJson, Paged, Validate};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::notify::outbox::{self, LogFilter, NotificationRecord};
use saghat_core::notify::preferences::{self, PreferencesInput, PreferencesView};
use saghat_core::platform::audit::RequestMeta;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(delivery_log))
}

/// New notification preferences: every field is replaced.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    /// `fa` or `en`.
    pub language: String,
    /// The account's e-mail address, `""` for none (required when `channels` has `email`).
    pub email: String,
    /// A mobile number: E.164 (`+989121234567`) or the Iranian forms (`09121234567`), stored
    /// in E.164; `""` for none (required for `sms` and `whatsapp`).
    pub mobile: String,
    /// Any of `email`, `sms`, `whatsapp`; `[]` turns notifications off.
    pub channels: Vec<String>,
    /// `false` opts out of reminders (the monthly fee reminder and "few left to pay").
    /// Transactional notices cannot be opted out of.
    pub reminders: bool,
}

impl PreferencesRequest {
    fn input(&self) -> PreferencesInput {
        PreferencesInput {
            language: self.language.clone(),
            email: self.email.clone(),
            mobile: self.mobile.clone(),
            channels: self.channels.clone(),
            reminders: self.reminders,
        }
    }
}

impl Validate for PreferencesRequest {
    const REQUIRED: &'static [&'static str] =
        &["language", "email", "mobile", "channels", "reminders"];

    fn validate(&self) -> Vec<FieldError> {
        self.input().check().err().unwrap_or_default()
    }
}

/// The signed-in user's notification preferences (Persian, e-mail only and reminders on until
/// they choose).
#[utoipa::path(get, path = "/api/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = PreferencesView), (status = 401, body = ErrorBody)))]
async fn get_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<PreferencesView>> {
    let mut conn = state.db.pool.acquire().await?;
    let prefs = preferences::load(&mut conn, user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(prefs.view()))
}

/// Replace the signed-in user's notification preferences and e-mail address (audited as
/// `user_changed`). Members are always told when their payment is recorded, their loan is
/// settled and the draw has run (on the channels they chose); only reminders can be turned
/// off. A mobile that is not a valid number, an unknown or repeated channel, or a channel
/// without its address is a 422 naming the field.
#[utoipa::path(put, path = "/api/notifications/preferences", tag = "notifications", request_body = PreferencesRequest,
    security(("bearer" = [])),
    responses((status = 200, body = PreferencesView), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    ApiJson(body): ApiJson<PreferencesRequest>,
) -> ApiResult<Json<PreferencesView>> {
    let saved = preferences::change(&state, &user, &meta, &body.input()).await?;
    Ok(Json(saved.view()))
}

const STATUSES: [&str; 4] = ["queued", "sent", "failed", "skipped"];

/// The notifications delivery log, newest first (admins only): each message to one member on
/// one channel, `queued`, `sent` (with the provider's id), `failed` (with the reason) or
/// `skipped` (with why the member was not told: opted out, no address, channel off).
#[utoipa::path(get, path = "/api/admin/notifications", tag = "notifications", security(("bearer" = [])),
    params(("user_id" = Option<i64>, Query), ("status" = Option<String>, Query, description = "queued, sent, failed or skipped"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 500), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = Paged<NotificationRecord>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delivery_log(
    State(state): State<AppState>,
    _admin: MainUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Paged<NotificationRecord>>> {
    let mut problems = vec![];
    let user_id = query_i64(&params, "user_id", &mut problems);
    let status = params.get("status").cloned();
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        let msg = "Input should be 'queued', 'sent', 'failed' or 'skipped'";
        problems.push(FieldError::query("status", "enum", msg));
    }
    let page = page(&params, &mut problems);
    no_problems(problems)?;
    let mut conn = state.db.pool.acquire().await?;
    let filter = LogFilter { user_id, status };
    let (items, total) = outbox::list(&mut conn, &filter, page.limit, page.offset).await?;
    Ok(Json(Paged::new(items, total, page)))
}
