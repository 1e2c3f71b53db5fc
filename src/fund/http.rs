//! `/api/payments` and `/api/loans`: thin handlers over the fund's rules and storage.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::draw::run_draw;
use super::rules::plan_payment;
use super::store::{self, Loan, LoanFilter, NewLoan, NewPayment, Payment};
use crate::app::AppState;
use crate::auth::store::set_loan_request;
use crate::auth::{CurrentUser, MainUser};
use crate::gateways::bitpin::BitpinError;
use crate::platform::audit::{self, AuditEntry};
use crate::platform::db::is_unique_violation;
use crate::platform::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::platform::extract::{query_i64, ApiJson, RequestMeta, Validate};
use crate::platform::money::Amount;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pay))
        .routes(routes!(get_config))
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
    pub bitpin_payment_id: String,
}

impl Validate for PayRequest {
    const REQUIRED: &'static [&'static str] = &["membership_fee", "bitpin_payment_id"];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = vec![];
        let id = self.bitpin_payment_id.trim();
        if id.is_empty() || id.len() > 128 {
            problems.push(FieldError::body(
                "bitpin_payment_id",
                "value_error",
                "Must be 1 to 128 characters long",
            ));
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

#[derive(Serialize, ToSchema)]
pub struct ConfigResponse {
    pub min_membership_fee: Amount,
    pub max_month_for_loan_payment: i64,
    pub min_amount_for_loan_payment: Amount,
}

#[derive(Serialize, ToSchema)]
pub struct DrawResponse {
    pub loan: Loan,
    pub message: String,
}

/// Pay this Jalali month's membership fee, and the loan installment when a loan is active.
///
/// Rules, in order, nothing written unless all pass: one payment per member per month (409);
/// fee > 0 and ≥ the minimum (400); repayment present exactly when a loan is active, at least
/// the loan's minimum and at most what is owed (400); the Bitpin payment id unused (409) and,
/// when Bitpin is configured, completed and covering the total (400; 502 if Bitpin is down).
#[utoipa::path(post, path = "/api/payments/pay", tag = "payments", request_body = PayRequest, security(("bearer" = [])),
    responses((status = 201, body = Payment), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn pay(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    ApiJson(body): ApiJson<PayRequest>,
) -> ApiResult<(StatusCode, Json<Payment>)> {
    let month = state.current_month();
    let bitpin_payment_id = body.bitpin_payment_id.trim().to_string();
    let already_paid = || ApiError::conflict(format!("Payment already submitted for {month}"));
    let id_used = || ApiError::conflict("This Bitpin payment id has already been used");

    let mut conn = state.db.pool.acquire().await?;
    if store::has_paid(&mut conn, user.id, month).await? {
        return Err(already_paid());
    }
    let config = store::config(&mut conn).await?.unwrap_or_default();
    let active_loan = store::active_loan(&mut conn, user.id).await?;
    let plan = plan_payment(
        body.membership_fee,
        body.loan,
        &config,
        active_loan.as_ref(),
    )
    .map_err(ApiError::BadRequest)?;
    if store::bitpin_id_used(&mut conn, &bitpin_payment_id).await? {
        return Err(id_used());
    }
    drop(conn);

    // Ask the gateway before opening the transaction: no database lock waits on the network.
    if let Some(bitpin) = &state.bitpin {
        bitpin
            .verify(&bitpin_payment_id, plan.total)
            .await
            .map_err(|e| match e {
                BitpinError::Rejected(why) => {
                    ApiError::bad_request(format!("Bitpin payment verification failed: {why}"))
                }
                BitpinError::Unavailable(why) => {
                    ApiError::BadGateway(format!("Bitpin payment verification failed: {why}"))
                }
            })?;
    }

    let now = state.now();
    let mut tx = state.db.begin_write().await?;
    let new_payment = NewPayment {
        user_id: user.id,
        month,
        plan: &plan,
        bitpin_payment_id: &bitpin_payment_id,
    };
    let payment = match store::insert_payment(&mut tx, &new_payment, now).await {
        Ok(payment) => payment,
        Err(e) if is_unique_violation(&e) => {
            // Lost a race: tell the client which rule the winner took.
            drop(tx);
            let mut conn = state.db.pool.acquire().await?;
            return Err(if store::has_paid(&mut conn, user.id, month).await? {
                already_paid()
            } else {
                id_used()
            });
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(repayment) = &plan.repayment {
        let loan = active_loan
            .as_ref()
            .expect("a repayment implies an active loan");
        let total_paid = store::loan_total_paid(&mut tx, &repayment.loan_id).await?;
        if total_paid > loan.amount {
            return Err(ApiError::bad_request(
                "Loan repayment exceeds the loan's remaining balance",
            ));
        }
        if total_paid == loan.amount {
            store::settle_loan(&mut tx, &repayment.loan_id).await?;
        }
    }
    if let Some(amount) = body.loan_request_amount {
        set_loan_request(&mut tx, user.id, amount).await?;
    }
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "payment",
        target: format!("payment:{}", payment.id),
        details: json!({ "month": month.to_string(), "amount": payment.amount, "bitpin_payment_id": bitpin_payment_id }),
    };
    audit::record(&mut tx, now, &meta, entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(payment)))
}

/// The fund's configuration.
#[utoipa::path(get, path = "/api/payments/config", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = ConfigResponse), (status = 401, body = ErrorBody)))]
async fn get_config(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> ApiResult<Json<ConfigResponse>> {
    let mut conn = state.db.pool.acquire().await?;
    let config = store::config(&mut conn).await?.unwrap_or_default();
    Ok(Json(ConfigResponse {
        min_membership_fee: config.min_membership_fee,
        max_month_for_loan_payment: config.max_month_for_loan_payment,
        min_amount_for_loan_payment: config.min_amount_for_loan_payment,
    }))
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

/// Run this Jalali month's draw. Anyone may start it once every active member has paid.
///
/// Reads its inputs with four statements whatever the number of members (existing draw,
/// unpaid members, every member's statistics, the fund's cash) and writes one loan.
#[utoipa::path(post, path = "/api/loans/start", tag = "loans", security(("bearer" = [])),
    responses((status = 201, body = DrawResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn start_draw(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
) -> ApiResult<(StatusCode, Json<DrawResponse>)> {
    let month = state.current_month();
    let already_drawn = || ApiError::conflict(format!("Loan already assigned for {month}"));
    let now = state.now();
    let mut tx = state.db.begin_write().await?;
    if store::draw_exists(&mut tx, month).await? {
        return Err(already_drawn());
    }
    let unpaid = store::unpaid_members(&mut tx, month).await?;
    if !unpaid.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Not all users have paid for {month}. Unpaid: {}",
            unpaid.join(", ")
        )));
    }
    let members = store::member_stats(&mut tx).await?;
    let cash = store::available_cash(&mut tx).await?;
    let config = store::config(&mut tx).await?.unwrap_or_default();
    let outcome = run_draw(&members, cash, &mut rand::rngs::StdRng::from_entropy());
    let log = serde_json::to_value(&outcome.log).map_err(anyhow::Error::from)?;
    let new_loan = NewLoan {
        month,
        winner: outcome.winner.as_ref().map(|w| (w.user_id, w.amount)),
        min_amount_for_each_payment: outcome
            .winner
            .as_ref()
            .map(|_| config.min_amount_for_loan_payment),
        log: &log,
    };
    let loan_id = match store::insert_loan(&mut tx, &new_loan, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(already_drawn()),
        Err(e) => return Err(e.into()),
    };
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "draw",
        target: format!("loan:{loan_id}"),
        details: json!({ "month": month.to_string(), "selected": outcome.log.selected, "cash": cash }),
    };
    audit::record(&mut tx, now, &meta, entry).await?;
    let filter = LoanFilter {
        id: Some(loan_id),
        ..Default::default()
    };
    let loan = store::loans(&mut tx, &filter)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("new loan vanished"))?;
    tx.commit().await?;
    let message = match &outcome.winner {
        Some(w) => format!(
            "Loan of {} assigned to {} for {month}",
            w.amount, w.username
        ),
        None => format!("No one received a loan for {month}"),
    };
    Ok((StatusCode::CREATED, Json(DrawResponse { loan, message })))
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
    let loan_id = uuid::Uuid::parse_str(&loan_id).map_err(|_| not_found())?;
    let mut conn = state.db.pool.acquire().await?;
    let filter = LoanFilter {
        id: Some(loan_id.to_string()),
        ..Default::default()
    };
    let loan = store::loans(&mut conn, &filter)
        .await?
        .pop()
        .ok_or_else(not_found)?;
    if !user.is_main && loan.user_id != Some(user.id) {
        return Err(ApiError::forbidden());
    }
    Ok(Json(loan))
}
