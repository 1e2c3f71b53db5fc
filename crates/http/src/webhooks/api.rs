//! `/api/webhooks`: the endpoints that receive Saghat's signed events, their deliveries, and
//! replaying one (admins only). The signature is described in `docs/webhooks.md`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{no_problems, page, ApiJson, Paged, Validate};
use crate::state::AppState;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::webhooks::error::WebhookError;
use saghat_core::webhooks::service::{self, EndpointChanges, NewEndpoint};
use saghat_core::webhooks::store::{DeliveryView, EndpointView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(replay_delivery))
}

/// A refused URL is 400 with its reason (an internal address, not https in production); other
/// fields' problems are 422 on their field, as everywhere in /api.
impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::Url(refusal) => ApiError::bad_request(refusal.to_string()),
            WebhookError::Invalid { field, message } => {
                ApiError::invalid(field, "value_error", message)
            }
            WebhookError::NotFound | WebhookError::DeliveryNotFound => {
                ApiError::not_found(err.to_string())
            }
            WebhookError::Store(e) => e.into(),
        }
    }
}

/// A path's id; one that is not a number names nothing.
fn path_id(id: &str, missing: WebhookError) -> Result<i64, ApiError> {
    id.parse().map_err(|_| missing.into())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: `https://` (plain `http://` outside production).
    pub url: String,
    /// Event names: `invoice.sent`, `invoice.paid`, `ticket.state_changed`, `loan.assigned`,
    /// `payment.verified`.
    pub events: Vec<String>,
    /// The signing secret (16–200 characters); without one, 32 random bytes in hex.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub description: String,
}

impl Validate for CreateWebhookRequest {
    const REQUIRED: &'static [&'static str] = &["url", "events"];
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// `false` stops deliveries to it (queued ones fail as disabled).
    #[serde(default)]
    pub active: Option<bool>,
}

impl Validate for UpdateWebhookRequest {}

/// A new endpoint with its secret: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub secret: String,
}

/// Every endpoint (without secrets), oldest first.
#[utoipa::path(get, path = "/api/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<EndpointView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_webhooks(
    State(state): State<AppState>,
    _admin: MainUser,
) -> ApiResult<Json<Vec<EndpointView>>> {
    Ok(Json(service::list(&state).await?))
}

/// Registers an endpoint; its URL must not be (or resolve to) a loopback, private,
/// link-local or metadata address unless `WEBHOOK_ALLOW_PRIVATE=true`. Audited as
/// `webhook_created`.
#[utoipa::path(post, path = "/api/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses((status = 201, body = CreatedWebhook), (status = 400, body = ErrorBody, description = "The URL is refused"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_webhook(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let new = NewEndpoint {
        url: body.url,
        events: body.events,
        secret: body.secret,
        description: body.description,
    };
    let (e, secret) = service::create(&state, &admin, &meta, new).await?;
    let created = CreatedWebhook {
        id: e.id,
        url: e.url,
        events: e.events,
        description: e.description,
        active: e.active,
        created_by: e.created_by,
        created_at: e.created_at,
        secret,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = i64, Path)),
    responses((status = 200, body = EndpointView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_webhook(
    State(state): State<AppState>,
    _admin: MainUser,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    let id = path_id(&id, WebhookError::NotFound)?;
    Ok(Json(service::get(&state, id).await?))
}

/// Changes the URL (checked as when registered), the events, the description or whether it
/// is active; the secret stays. Audited as `webhook_changed`.
#[utoipa::path(patch, path = "/api/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = i64, Path)), request_body = UpdateWebhookRequest,
    responses((status = 200, body = EndpointView), (status = 400, body = ErrorBody, description = "The URL is refused"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_webhook(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> ApiResult<Json<EndpointView>> {
    let id = path_id(&id, WebhookError::NotFound)?;
    let changes = EndpointChanges {
        url: body.url,
        events: body.events,
        description: body.description,
        active: body.active,
    };
    Ok(Json(
        service::update(&state, &admin, &meta, id, changes).await?,
    ))
}

/// Deletes the endpoint and its delivery log. Audited as `webhook_deleted`.
#[utoipa::path(delete, path = "/api/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_webhook(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id, WebhookError::NotFound)?;
    service::delete(&state, &admin, &meta, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's deliveries, newest first: status, attempts, the receiver's last status and
/// the start of its answer.
#[utoipa::path(get, path = "/api/webhooks/{webhook_id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = i64, Path), ("limit" = Option<i64>, Query, minimum = 1, maximum = 500), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = Paged<DeliveryView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    _admin: MainUser,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Paged<DeliveryView>>> {
    let id = path_id(&id, WebhookError::NotFound)?;
    let mut problems = vec![];
    let page = page(&params, &mut problems);
    no_problems(problems)?;
    let (items, total) = service::deliveries(&state, id, page.limit, page.offset).await?;
    Ok(Json(Paged::new(items, total, page)))
}

/// Sends the delivery again (same body and event id) as a new job with attempts of its own.
/// Audited as `webhook_replayed`.
#[utoipa::path(post, path = "/api/webhooks/deliveries/{delivery_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("delivery_id" = i64, Path)),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay_delivery(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let id = path_id(&id, WebhookError::DeliveryNotFound)?;
    let delivery = service::replay(&state, &admin, &meta, id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
