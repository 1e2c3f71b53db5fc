//! A client's credit (overpayments and credit notes beyond what they credited) over
//! `/api/v1`: using it on one of its open invoices, and paying it back. Both post to the
//! ledger in the invoicing services; amounts are DRF decimal strings in the currency's places.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::decimal::{self, DecimalText, InvoiceDetailOut};
use super::drf::{may, path_id, Authenticated, DrfBody, DrfError, DrfErrorBody, DrfResult};
use super::drf::{IdempotentJson, LaterJson};
use crate::extract::replay;
use crate::state::AppState;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::invoices;
use saghat_core::invoicing::payments::{self, Refund, RefundInput};
use saghat_core::invoicing::service;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::idempotency::Outcome;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(apply_credit))
        .routes(routes!(refund_credit))
}

/// Credit used on an invoice (`POST /api/v1/invoices/{id}/apply-credit/`).
#[derive(Deserialize, ToSchema)]
pub struct ApplyCreditWrite {
    /// In the invoice's currency's places, above 0 and at most both its amount due and the
    /// client's credit in that currency.
    #[schema(value_type = String)]
    pub amount: DecimalText,
}

impl DrfBody for ApplyCreditWrite {
    const REQUIRED: &'static [&'static str] = &["amount"];
    const NOT_BLANK: &'static [&'static str] = &["amount"];
}

/// Use the client's credit on one of its open invoices (admins and accountants).
#[utoipa::path(post, path = "/invoices/{id}/apply-credit/", tag = "v1", request_body = ApplyCreditWrite, security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = InvoiceDetailOut), (status = 403, body = DrfErrorBody)))]
async fn apply_credit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: LaterJson,
) -> DrfResult<Json<InvoiceDetailOut>> {
    may(&user, Action::WritePayments)?;
    let body = body.parse::<ApplyCreditWrite>()?;
    let invoice = invoices::get(&state, &user, &id).await?;
    let currency = Currency::parse(&invoice.invoice.currency)
        .ok_or_else(|| DrfError::field("amount", "The invoice's currency is unknown."))?;
    let amount = body
        .amount
        .amount(currency)
        .map_err(|e| DrfError::field("amount", e))?;
    let detail = payments::apply_credit(&state, &user, &id, amount, &meta).await?;
    Ok(Json(detail.into()))
}

/// A refund of a client's credit (`POST /api/v1/clients/{id}/refunds/`).
#[derive(Deserialize, ToSchema)]
pub struct RefundWrite {
    /// In `currency`'s places, above 0 and at most the client's credit in it.
    #[schema(value_type = String)]
    pub amount: DecimalText,
    /// Default: the client's currency.
    pub currency: Option<Currency>,
    /// `YYYY-MM-DD`.
    pub refunded_on: String,
    /// `bank_transfer`, `cash`, `card`, `gateway` or `other`.
    pub method: String,
    #[serde(default)]
    pub reference: String,
}

impl DrfBody for RefundWrite {
    const REQUIRED: &'static [&'static str] = &["amount", "refunded_on", "method"];
    const NOT_BLANK: &'static [&'static str] = &["amount", "refunded_on", "method"];
    const NOT_NULL: &'static [&'static str] = &["reference"];
}

/// A refund as recorded.
#[derive(Serialize, ToSchema)]
pub struct RefundOut {
    pub id: String,
    pub client: i64,
    pub amount: String,
    pub currency: String,
    pub refunded_on: String,
    pub method: String,
    pub reference: String,
}

impl From<Refund> for RefundOut {
    fn from(r: Refund) -> Self {
        RefundOut {
            amount: decimal::amount(r.currency.code(), r.amount),
            id: r.id,
            client: r.client_id,
            currency: r.currency.code().into(),
            refunded_on: r.refunded_on.format("%Y-%m-%d").to_string(),
            method: r.method,
            reference: r.reference,
        }
    }
}

/// Pay back (part of) a client's credit (admins and accountants); posted to the ledger. With
/// an `Idempotency-Key`, a retry with the same body gets the first answer
/// (`Idempotent-Replayed: true`) and pays nothing twice; the key with another body is 422.
#[utoipa::path(post, path = "/clients/{id}/refunds/", tag = "v1", request_body = RefundWrite, security(("bearer" = [])),
    params(("id" = i64, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; kept 24 hours")),
    responses((status = 201, body = RefundOut), (status = 403, body = DrfErrorBody),
              (status = 409, description = "A request with this key is still being processed", body = DrfErrorBody),
              (status = 422, description = "The key was used with another request", body = DrfErrorBody)))]
async fn refund_credit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    IdempotentJson { body, idempotency }: IdempotentJson,
) -> DrfResult<Response> {
    may(&user, Action::WritePayments)?;
    let client_id = path_id(&id)?;
    let key = idempotency.key()?;
    let body = body.parse::<RefundWrite>()?;
    let currency = match body.currency {
        Some(currency) => currency,
        None => {
            let (client, _) = match service::get_client(&state, &user, client_id).await {
                Err(InvoicingError::NotFound) => return Err(DrfError::NotFound),
                other => other?,
            };
            Currency::parse(&client.currency)
                .ok_or_else(|| DrfError::field("currency", "Unknown currency."))?
        }
    };
    let mut fields = std::collections::BTreeMap::<String, Vec<String>>::new();
    let amount = body
        .amount
        .amount(currency)
        .map_err(|e| fields.insert("amount".into(), vec![e]))
        .ok();
    let refunded_on = NaiveDate::parse_from_str(body.refunded_on.trim(), "%Y-%m-%d")
        .map_err(|_| {
            let message = "Date has wrong format. Use YYYY-MM-DD.";
            fields.insert("refunded_on".into(), vec![message.into()])
        })
        .ok();
    let (Some(amount), Some(refunded_on)) = (amount, refunded_on) else {
        return Err(DrfError::Fields(fields));
    };
    let input = RefundInput {
        client_id,
        currency,
        amount,
        refunded_on,
        method: body.method,
        reference: body.reference,
    };
    let respond = |r: &Refund| {
        let body = serde_json::to_value(RefundOut::from(r.clone()));
        (StatusCode::CREATED.as_u16(), body.unwrap_or_default())
    };
    let outcome =
        payments::refund_once(&state, &user, &input, &meta, key.as_ref(), &respond).await?;
    Ok(match outcome {
        Outcome::Done(refund) => {
            (StatusCode::CREATED, Json(RefundOut::from(refund))).into_response()
        }
        Outcome::Replayed(stored) => replay(stored),
    })
}
