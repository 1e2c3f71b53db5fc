//! `/api/payments` and `/api/loans`: thin handlers over the fund's rules and storage.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::extract::{query_i64, MaybeIdempotencyKey, MoneyJson, Validate};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::fund::service::{self, DrawResult, PaymentClaim};
use saghat_core::fund::store::{self, ConfigVersion, Loan, LoanFilter, Payment};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::idempotency::Outcome;
use saghat_core::platform::money::Amount;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pay))
        .routes(routes!(get_config))
        .routes(routes!(config_history))
        .routes(routes!(my_payments))
        .routes(routes!(start_draw))
        .routes(routes!(loan_history))
        .routes(routes!(my_loans))
        .routes(routes!(get_loan))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// This month's membership fee (≥ the fund's minimum).
    pub membership_fee: Amount,
    /// Loan repayment: required while the member has an active loan, absent otherwise.
    #[serde(default)]
    pub loan: Option<Amount>,
    /// Optionally update the amount requested in the coming draws.
    #[serde(default)]
    pub loan_request_amount: Option<Amount>,
    /// The Bitpin payment that carried the money; each id can be used once.
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub bitpin_payment_id: String,
}

impl Validate for PayRequest {
    const REQUIRED: &'static [&'static str] = &["membership_fee", "bitpin_payment_id"];

    /// The schema's ranges, as the original's validator checked them before any rule: a fee or
    /// a repayment ≤ 0 is 422 whether or not the member has a loan (the rules' minimums are 400).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = vec![];
        let id = self.bitpin_payment_id.trim();
        if id.is_empty() {
            problems.push(FieldError::body(
                "bitpin_payment_id",
                "string_too_short",
                "String should have at least 1 character",
            ));
        } else if id.chars().count() > 128 {
            problems.push(FieldError::body(
                "bitpin_payment_id",
                "string_too_long",
                "String should have at most 128 characters",
            ));
        }
        let greater_than_0 = "Input should be greater than 0";
        if !self.membership_fee.is_positive() {
            problems.push(FieldError::body(
                "membership_fee",
                "greater_than",
                greater_than_0,
            ));
        }
        if self.loan.is_some_and(|loan| !loan.is_positive()) {
            problems.push(FieldError::body("loan", "greater_than", greater_than_0));
        }
        if self.loan_request_amount.is_some_and(|a| a < Amount::ZERO) {
            problems.push(FieldError::body(
                "loan_request_amount",
                "greater_than_equal",
                "Input should be greater than or equal to 0",
            ));
        }
        problems
    }
}

impl From<PayRequest> for PaymentClaim {
    fn from(body: PayRequest) -> Self {
        PaymentClaim {
            membership_fee: body.membership_fee,
            loan: body.loan,
            loan_request_amount: body.loan_request_amount,
            bitpin_payment_id: body.bitpin_payment_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConfigResponse {
    pub min_membership_fee: Amount,
    pub max_month_for_loan_payment: i64,
    pub min_amount_for_loan_payment: Amount,
}

/// Pay this Jalali month's membership fee, and the loan installment when a loan is active.
///
/// Rules, in order, nothing written unless all pass: the schema first (a fee or a repayment
/// ≤ 0 is 422, like any field out of range); one payment per member per month (409); fee ≥ the
/// minimum (400); repayment present exactly when a loan is active, at least the loan's minimum
/// and at most what is owed (400); the Bitpin payment unused whatever the case or leading zeros
/// of its id (409) and, when Bitpin is configured, completed, in USDT and covering the total
/// (400; 502 if Bitpin is down).
#[utoipa::path(post, path = "/api/payments/pay", tag = "payments", request_body = PayRequest, security(("bearer" = [])),
    responses((status = 201, body = Payment), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn pay(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    MoneyJson { body, idempotency }: MoneyJson<PayRequest>,
) -> ApiResult<Response> {
    let claim = PaymentClaim::from(body);
    let outcome =
        service::submit_payment_once(&state, &user, &meta, claim, idempotency.as_ref()).await?;
    Ok(created_or_replayed(outcome))
}

/// The fund's configuration.
#[utoipa::path(get, path = "/api/payments/config", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = ConfigResponse), (status = 401, body = ErrorBody)))]
async fn get_config(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> ApiResult<Json<ConfigResponse>> {
    let config = service::current_config(&state).await?;
    Ok(Json(ConfigResponse {
        min_membership_fee: config.min_membership_fee,
        max_month_for_loan_payment: config.max_month_for_loan_payment,
        min_amount_for_loan_payment: config.min_amount_for_loan_payment,
    }))
}

/// The fund's settings over time: those it started with (`from` null), then each change with
/// the Jalali month it takes effect from (a change applies from its month on; the months
/// before keep theirs). A change may be scheduled for a later month.
#[utoipa::path(get, path = "/api/payments/config/history", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = Vec<ConfigVersion>), (status = 401, body = ErrorBody)))]
async fn config_history(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> ApiResult<Json<Vec<ConfigVersion>>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(store::config_history(&mut conn).await?))
}

/// The signed-in member's payments, newest month first.
#[utoipa::path(get, path = "/api/payments/my-payments", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = Vec<Payment>)))]
async fn my_payments(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<Payment>>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(store::payments_of(&mut conn, user.id).await?))
}

/// Run this Jalali month's draw. Any fund member (not an accountant: 403) may start it once
/// every active member has paid.
///
/// Reads its inputs with six statements whatever the number of members (existing draw,
/// unpaid members, every member's payments and balance, the borrowers' loans, the fund's cash,
/// the configuration) and writes one loan.
#[utoipa::path(post, path = "/api/loans/start", tag = "loans", security(("bearer" = [])),
    responses((status = 201, body = DrawResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn start_draw(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    MaybeIdempotencyKey(idempotency): MaybeIdempotencyKey,
) -> ApiResult<Response> {
    let outcome =
        service::run_monthly_draw_once(&state, &user, &meta, idempotency.as_ref()).await?;
    Ok(created_or_replayed(outcome))
}

fn created_or_replayed<T: Serialize>(outcome: Outcome<T>) -> Response {
    match outcome {
        Outcome::Done(value) => (StatusCode::CREATED, Json(value)).into_response(),
        Outcome::Replayed(stored) => crate::extract::replay(stored),
    }
}

/// Every month's draw result, newest first (main users only). Filters compare the Jalali year
/// and the month number separately, as the original did.
#[utoipa::path(get, path = "/api/loans/history", tag = "loans", security(("bearer" = [])),
    params(("jalali_year_gt" = Option<i64>, Query), ("jalali_year_lt" = Option<i64>, Query),
           ("jalali_month_gt" = Option<i64>, Query), ("jalali_month_lt" = Option<i64>, Query)),
    responses((status = 200, body = Vec<Loan>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn loan_history(
    State(state): State<AppState>,
    _admin: MainUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<Loan>>> {
    let mut problems = vec![];
    let filter = LoanFilter {
        jalali_year_gt: query_i64(&params, "jalali_year_gt", &mut problems),
        jalali_year_lt: query_i64(&params, "jalali_year_lt", &mut problems),
        jalali_month_gt: query_i64(&params, "jalali_month_gt", &mut problems),
        jalali_month_lt: query_i64(&params, "jalali_month_lt", &mut problems),
        ..Default::default()
    };
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(store::loans(&mut conn, &filter).await?))
}

/// The signed-in member's loans, newest first.
#[utoipa::path(get, path = "/api/loans/my-history", tag = "loans", security(("bearer" = [])),
    responses((status = 200, body = Vec<Loan>)))]
async fn my_loans(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Vec<Loan>>> {
    let mut conn = state.db.pool.acquire().await?;
    let filter = LoanFilter {
        user_id: Some(user.id),
        ..Default::default()
    };
    Ok(Json(store::loans(&mut conn, &filter).await?))
}

/// One loan: its owner and main users may see it.
#[utoipa::path(get, path = "/api/loans/{loan_id}", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = String, Path, description = "The loan's UUID")),
    responses((status = 200, body = Loan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_loan(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(loan_id): Path<String>,
) -> ApiResult<Json<Loan>> {
    let not_found = || ApiError::not_found("Loan not found");
    let loan_id = uuid::Uuid::parse_str(&loan_id)
        .map_err(|_| ApiError::not_found("Invalid loan ID format"))?;
    let mut conn = state.db.pool.acquire().await?;
    let filter = LoanFilter {
        id: Some(loan_id.to_string()),
        ..Default::default()
    };
    let loan = store::loans(&mut conn, &filter)
        .await?
        .pop()
        .ok_or_else(not_found)?;
    if !saghat_core::fund::access::may_see_loan(&user, loan.user_id) {
        return Err(ApiError::Forbidden(
            "You do not have permission to view this loan".into(),
        ));
    }
    Ok(Json(loan))
}
