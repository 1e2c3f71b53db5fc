//! `/api/v1/payments/`: payments received from clients, allocated to their invoices (or, by a
//! reference naming an invoice number, automatically; the rest becomes the client's credit),
//! over the invoicing services, which post each one to the ledger. Amounts are DRF decimal
//! strings in the currency's places, both ways (see `decimal`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::decimal::{DecimalText, PaymentDetailOut, PaymentOut};
use super::drf::{may, Authenticated, DrfBody, DrfError, DrfErrorBody, DrfResult, IdempotentJson};
use super::drf::{Page, PageQuery};
use crate::extract::replay;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::payments::{self, PaymentDetail, PaymentInput};
use saghat_core::invoicing::service;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::idempotency::Outcome;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_payments, record_payment))
        .routes(routes!(retrieve_payment))
}

/// A part of a payment settling one invoice.
#[derive(Deserialize, ToSchema)]
pub struct AllocationWrite {
    /// The invoice's id.
    pub invoice: String,
    /// In the payment's currency's places.
    #[schema(value_type = String)]
    pub amount: DecimalText,
}

/// A payment received (`POST`).
#[derive(Deserialize, ToSchema)]
pub struct PaymentWrite {
    /// The client's id.
    pub client: i64,
    /// In `currency`'s places, above 0 (`"212.55"`).
    #[schema(value_type = String)]
    pub amount: DecimalText,
    /// Default: the client's currency.
    pub currency: Option<Currency>,
    /// `YYYY-MM-DD`.
    pub received_on: String,
    /// `bank_transfer`, `cash`, `card`, `gateway` or `other`.
    pub method: String,
    /// The payer's reference; one naming an invoice number allocates to it when no
    /// `allocations` are given.
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub allocations: Vec<AllocationWrite>,
}

impl DrfBody for PaymentWrite {
    const REQUIRED: &'static [&'static str] = &["client", "amount", "received_on", "method"];
    const NOT_BLANK: &'static [&'static str] = &["amount", "received_on", "method"];
    const NOT_NULL: &'static [&'static str] = &["reference", "notes", "allocations"];
}

impl PaymentWrite {
    fn input(self, currency: Currency) -> DrfResult<PaymentInput> {
        let mut fields = std::collections::BTreeMap::<String, Vec<String>>::new();
        let mut add =
            |field: String, message: String| fields.entry(field).or_default().push(message);
        let amount = self
            .amount
            .amount(currency)
            .map_err(|e| add("amount".into(), e))
            .ok();
        let received_on = NaiveDate::parse_from_str(self.received_on.trim(), "%Y-%m-%d")
            .map_err(|_| {
                add(
                    "received_on".into(),
                    "Date has wrong format. Use YYYY-MM-DD.".into(),
                )
            })
            .ok();
        let allocations: Vec<Option<(String, i64)>> = self
            .allocations
            .into_iter()
            .enumerate()
            .map(|(i, a)| match a.amount.amount(currency) {
                Ok(amount) => Some((a.invoice, amount)),
                Err(e) => {
                    add(format!("allocations[{i}].amount"), e);
                    None
                }
            })
            .collect();
        match (
            amount,
            received_on,
            allocations.into_iter().collect::<Option<Vec<_>>>(),
        ) {
            (Some(amount), Some(received_on), Some(allocations)) => Ok(PaymentInput {
                client_id: self.client,
                amount,
                currency,
                received_on,
                method: self.method,
                reference: self.reference,
                notes: self.notes,
                allocations,
            }),
            _ => Err(DrfError::Fields(fields)),
        }
    }
}

/// Payments, newest first, a page at a time; `?client=`. A client user sees only its own.
#[utoipa::path(get, path = "/payments/", tag = "v1", security(("bearer" = [])),
    params(("page" = Option<String>, Query, description = "A page number, or `last`"),
           ("page_size" = Option<String>, Query, description = "Rows per page: a positive integer, default 20; more than 100 is read as 100 and anything else is ignored, as DRF does"),
           ("client" = Option<i64>, Query)),
    responses((status = 200, body = Page<PaymentOut>), (status = 403, body = DrfErrorBody),
              (status = 404, description = "Invalid page.", body = DrfErrorBody)))]
async fn list_payments(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    pages: PageQuery,
) -> DrfResult<Json<Page<PaymentOut>>> {
    let client = match pages.url.param("client") {
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| DrfError::field("client", "Select a valid choice."))?,
        ),
        None => None,
    };
    let page = pages
        .fetch(|limit, offset| payments::list_payments(&state, &user, client, limit, offset))
        .await?;
    Ok(Json(Page {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results: page.results.into_iter().map(Into::into).collect(),
    }))
}

/// Record a payment and allocate it (admins and accountants); posted to the ledger. With an
/// `Idempotency-Key`, a retry with the same body gets the first answer (`Idempotent-Replayed:
/// true`) and records nothing; the key with another body is 422.
#[utoipa::path(post, path = "/payments/", tag = "v1", request_body = PaymentWrite, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; kept 24 hours")),
    responses((status = 201, body = PaymentDetailOut), (status = 403, body = DrfErrorBody),
              (status = 409, description = "A request with this key is still being processed", body = DrfErrorBody),
              (status = 422, description = "The key was used with another request", body = DrfErrorBody)))]
async fn record_payment(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    IdempotentJson { body, idempotency }: IdempotentJson,
) -> DrfResult<Response> {
    may(&user, Action::WritePayments)?;
    let key = idempotency.key()?;
    let body = body.parse::<PaymentWrite>()?;
    let currency = match body.currency {
        Some(currency) => currency,
        None => {
            let (client, _) = match service::get_client(&state, &user, body.client).await {
                Err(InvoicingError::NotFound) => {
                    let message =
                        format!("Invalid pk \"{}\" - object does not exist.", body.client);
                    return Err(DrfError::field("client", message));
                }
                other => other?,
            };
            Currency::parse(&client.currency)
                .ok_or_else(|| DrfError::field("currency", "Unknown currency."))?
        }
    };
    let input = body.input(currency)?;
    let respond = |d: &PaymentDetail| {
        let body = serde_json::to_value(PaymentDetailOut::from(d.clone()));
        (StatusCode::CREATED.as_u16(), body.unwrap_or_default())
    };
    let outcome =
        payments::record_payment_once(&state, &user, &input, &meta, key.as_ref(), &respond).await?;
    Ok(match outcome {
        Outcome::Done(detail) => {
            (StatusCode::CREATED, Json(PaymentDetailOut::from(detail))).into_response()
        }
        Outcome::Replayed(stored) => replay(stored),
    })
}

/// One payment with its allocations and the part that became credit.
#[utoipa::path(get, path = "/payments/{id}/", tag = "v1", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PaymentDetailOut)))]
async fn retrieve_payment(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<Json<PaymentDetailOut>> {
    Ok(Json(
        payments::get_payment(&state, &user, &id).await?.into(),
    ))
}
