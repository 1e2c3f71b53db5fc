//! `/api/payment-intents`: pay an invoice online. Make an intent (`Idempotency-Key`
//! accepted), get the gateway's page to send the payer to, read where it stands; staff see
//! the gateway exchanges, settle what the gateway paid out, and run reconciliation.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::extract::{MoneyJson, Validate};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::config::AppEnv;
use saghat_core::intents::error::IntentError;
use saghat_core::intents::reconcile::{self, Reconciled};
use saghat_core::intents::service;
use saghat_core::intents::store::{ExchangeRow, IntentRow};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::idempotency::Outcome;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_intents, create_intent))
        .routes(routes!(get_intent))
        .routes(routes!(redirect_intent))
        .routes(routes!(intent_exchanges))
        .routes(routes!(settle_intent))
        .routes(routes!(run_reconciliation))
}

impl From<IntentError> for ApiError {
    fn from(err: IntentError) -> Self {
        match err {
            // Not a server fault: this Saghat takes no online payments (nothing configured).
            IntentError::Off => ApiError::not_found(err.to_string()),
            IntentError::Invalid { field, message } => {
                ApiError::invalid(&field, "value_error", message)
            }
            IntentError::Conflict(m) => ApiError::conflict(m),
            IntentError::NotFound => ApiError::not_found(err.to_string()),
            IntentError::Forbidden => ApiError::forbidden(),
            IntentError::Gateway(m) => ApiError::BadGateway(m),
            IntentError::Invoicing(e) => ApiError::Internal(e.into()),
            IntentError::Idempotency(e) => e.into(),
            IntentError::Store(e) => e.into(),
        }
    }
}

/// Where Saghat is reached, for the gateway's callback: `PUBLIC_BASE_URL`, or (outside
/// production only) the request's own `Host`.
pub fn callback_base(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    public_base(state, headers, "Online payment")
}

/// Where Saghat is reached, for `what` (a provider's callback): `PUBLIC_BASE_URL`, or (outside
/// production only) the request's own `Host`.
pub fn public_base(state: &AppState, headers: &HeaderMap, what: &str) -> Result<String, ApiError> {
    if let Some(base) = &state.config.public_base_url {
        return Ok(base.clone());
    }
    if state.config.app_env == AppEnv::Prod {
        return Err(ApiError::Unavailable(format!(
            "{what} needs PUBLIC_BASE_URL in production"
        )));
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("The request has no Host"))?;
    Ok(format!("http://{host}"))
}

/// What to pay: one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntentRequest {
    /// A sent invoice in Rials: what is still owed on it is charged.
    pub invoice_id: Option<String>,
    /// A ticket being repaid, by its borrower: its next installment (what is still owed on
    /// it, in USDT) is charged in Rials at `PAYMENT_IRR_PER_USDT`.
    pub ticket_id: Option<String>,
}

impl Validate for CreateIntentRequest {
    fn validate(&self) -> Vec<FieldError> {
        match (&self.invoice_id, &self.ticket_id) {
            (Some(_), None) | (None, Some(_)) => vec![],
            _ => vec![FieldError::body(
                "invoice_id",
                "value_error",
                "Give invoice_id or ticket_id, one of them",
            )],
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redirect {
    /// The gateway's page: send the payer there (HTTP 302 or a link).
    pub pay_url: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only this invoice's or ticket's intents.
    pub invoice_id: Option<String>,
    pub ticket_id: Option<String>,
}

/// Makes an intent to pay what is still owed on an invoice (its client's users and the staff
/// who record payments), or a ticket's next installment (its borrower), with the amount fixed
/// now; a retry with the same `Idempotency-Key` and body gets the first intent back.
#[utoipa::path(post, path = "/api/payment-intents", tag = "payment-intents", security(("bearer" = [])),
    request_body = CreateIntentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first intent")),
    responses((status = 201, body = IntentRow), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_intent(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    MoneyJson { body, idempotency }: MoneyJson<CreateIntentRequest>,
) -> ApiResult<Response> {
    let respond = |row: &IntentRow| (201, serde_json::to_value(row).unwrap_or_default());
    let key = idempotency.as_ref();
    // Validated: exactly one of the two.
    let outcome = match (&body.ticket_id, body.invoice_id.as_deref()) {
        (Some(ticket), _) => {
            service::create_for_installment(&state, &user, ticket, &meta, key, &respond).await?
        }
        (None, invoice) => {
            let invoice = invoice.unwrap_or_default();
            service::create_for_invoice(&state, &user, invoice, &meta, key, &respond).await?
        }
    };
    Ok(match outcome {
        Outcome::Done(row) => (StatusCode::CREATED, Json(row)).into_response(),
        Outcome::Replayed(stored) => crate::extract::replay(stored),
    })
}

/// The signed-in user's intents (staff: everyone's), newest first.
#[utoipa::path(get, path = "/api/payment-intents", tag = "payment-intents", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = Vec<IntentRow>)))]
async fn list_intents(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<IntentRow>>> {
    Ok(Json(
        service::list(
            &state,
            &user,
            query.invoice_id.or(query.ticket_id).as_deref(),
        )
        .await?,
    ))
}

/// One intent: where the payment stands, and why when it failed.
#[utoipa::path(get, path = "/api/payment-intents/{id}", tag = "payment-intents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = IntentRow), (status = 404, body = ErrorBody)))]
async fn get_intent(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<IntentRow>> {
    Ok(Json(service::get(&state, &user, &id).await?))
}

/// Asks the gateway for the payment page (once: again gives the same page). The gateway
/// sends the payer back to `/pay/zarinpal/callback`.
#[utoipa::path(post, path = "/api/payment-intents/{id}/redirect", tag = "payment-intents", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Redirect), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 502, body = ErrorBody)))]
async fn redirect_intent(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Redirect>> {
    let base = callback_base(&state, &headers)?;
    let pay_url = service::redirect(&state, &user, &id, &base).await?;
    Ok(Json(Redirect { pay_url }))
}

/// Every request made to the gateway for an intent and its answer, secrets masked (admins
/// and accountants).
#[utoipa::path(get, path = "/api/payment-intents/{id}/exchanges", tag = "payment-intents", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ExchangeRow>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn intent_exchanges(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ExchangeRow>>> {
    Ok(Json(service::exchanges(&state, &user, &id).await?))
}

/// The gateway paid out this verified payment: its money moves from the gateway clearing
/// account into cash (admins and accountants; once).
#[utoipa::path(post, path = "/api/payment-intents/{id}/settle", tag = "payment-intents", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = IntentRow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn settle_intent(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<Json<IntentRow>> {
    Ok(Json(service::settle(&state, &user, &id, &meta).await?))
}

/// Runs reconciliation now (admins): what the worker does every few minutes. Intents changed
/// in the last two minutes are left to their callbacks.
#[utoipa::path(post, path = "/api/payment-intents/reconcile", tag = "payment-intents", security(("bearer" = [])),
    responses((status = 200, body = Reconciled), (status = 403, body = ErrorBody)))]
async fn run_reconciliation(
    State(state): State<AppState>,
    _admin: MainUser,
) -> ApiResult<Json<Reconciled>> {
    Ok(Json(
        reconcile::reconcile(&state, reconcile::MIN_AGE).await?,
    ))
}
