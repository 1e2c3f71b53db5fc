//! Online payment pages: the gateway's callback (it processes the payment, then sends the payer
//! to the result page) and the result page, which says what truly happened: paid (with the
//! gateway's receipt number), failed (and why), still being confirmed, or given back. Its URL
//! holds the intent's UUID, the payer's capability; it shows no card number.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::invoicing::RawForm;
use super::invoicing::{currency_name, money};
use super::tickets;
use super::{render, Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebError, WebResult};
use saghat_core::auth::CurrentUser;
use saghat_core::intents::domain::{reason, IntentState};
use saghat_core::intents::error::IntentError;
use saghat_core::intents::service;
use saghat_core::intents::store::IntentRow;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::idempotency::Outcome;

/// Zarinpal's callback query: `?Authority=…&Status=OK|NOK`.
#[derive(Deserialize)]
pub struct Callback {
    #[serde(rename = "Authority", default)]
    authority: String,
    #[serde(rename = "Status", default)]
    status: String,
}

fn not_found() -> WebError {
    ApiError::not_found("No such payment").into()
}

fn page_error(err: IntentError) -> WebError {
    match err {
        IntentError::NotFound => not_found(),
        IntentError::Store(e) => e.into(),
        other => ApiError::from(other).into(),
    }
}

/// Sends the payer of a newly `made` intent to the gateway's page: its URL, or the text key
/// of why not (the gateway down or refusing, nothing payable), for the page's form.
pub async fn to_gateway(
    state: &AppState,
    user: &CurrentUser,
    headers: &axum::http::HeaderMap,
    made: Result<Outcome<IntentRow>, IntentError>,
) -> Result<Result<String, &'static str>, WebError> {
    let started = async {
        let base =
            crate::intents::api::callback_base(state, headers).map_err(|_| IntentError::Off)?;
        let intent = match made? {
            Outcome::Done(intent) => intent,
            Outcome::Replayed(_) => return Err(IntentError::NotFound),
        };
        service::redirect(state, user, &intent.id, &base).await
    };
    match started.await {
        Ok(pay_url) => Ok(Ok(pay_url)),
        Err(IntentError::Store(e)) => Err(e.into()),
        Err(IntentError::Forbidden) => Err(ApiError::forbidden().into()),
        Err(e) => {
            tracing::info!(error = %e, "online payment not started");
            Ok(Err(match e {
                IntentError::Gateway(_) | IntentError::Off => "iv_pay_online_unavailable",
                _ => "iv_pay_online_refused",
            }))
        }
    }
}

/// `POST /tickets/{id}/pay-online`: the borrower pays the next installment online; sent to
/// the gateway's page.
pub async fn pay_installment(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    CsrfForm(session, _): CsrfForm<RawForm>,
) -> WebResult<Response> {
    let user = &session.user;
    let respond = |_: &IntentRow| (201, serde_json::Value::Null);
    let made = service::create_for_installment(&state, user, &id, &meta, None, &respond).await;
    match to_gateway(&state, user, &headers, made).await? {
        Ok(pay_url) => Ok(see_other(&pay_url)),
        Err(refusal) => {
            tickets::show_with_error(&state, prefs, &session, &id, prefs.lang.t(refusal)).await
        }
    }
}

/// `GET /pay/zarinpal/callback`: verifies (once, however often it is loaded) and sends the
/// payer to the result page.
pub async fn callback(
    State(state): State<AppState>,
    Query(query): Query<Callback>,
) -> WebResult<Response> {
    let intent = service::callback(&state, &query.authority, query.status == "OK")
        .await
        .map_err(page_error)?;
    Ok(see_other(&format!("/pay/{}", intent.id)))
}

#[derive(askama::Template)]
#[template(path = "pay_result.html")]
struct ResultPage {
    v: View,
    /// `paid`, `failed`, `pending`, `reversed`, `expired`.
    outcome: &'static str,
    headline: &'static str,
    explanation: String,
    amount: String,
    ref_id: String,
    invoice_href: String,
    invoice_number: String,
    /// Where the payer came from: the invoice or the ticket.
    back_href: String,
    /// The USDT an installment's payment repays.
    usdt: String,
}

/// `GET /pay/{id}`.
pub async fn result(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Result<Session, WebError>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let intent = service::get_by_capability(&state, &id)
        .await
        .map_err(page_error)?;
    let lang = prefs.lang;
    let session = session.ok();
    let mut v = View::new(
        &state,
        prefs,
        session.as_ref(),
        Page {
            path: "/pay",
            active: "portal",
            title: "online_title",
            notice: None,
        },
    );
    let other = match lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = format!("/pay/{}?lang={}", intent.id, other.code());
    let number = match &intent.invoice_id {
        Some(invoice_id) => {
            let mut conn = state.db.pool.acquire().await?;
            saghat_core::invoicing::store::invoice(&mut conn, invoice_id)
                .await?
                .and_then(|i| i.number)
                .unwrap_or_default()
        }
        None => String::new(),
    };
    let giving_back = intent.awaits_reversal();
    let (outcome, headline) = match intent.state() {
        IntentState::Verified if giving_back => ("reversed", "online_giving_back"),
        IntentState::Verified if intent.reason == reason::KEPT_AS_CREDIT => {
            ("paid", "online_kept_as_credit")
        }
        IntentState::Verified => ("paid", "online_paid"),
        IntentState::Failed => ("failed", "online_failed"),
        IntentState::Expired => ("expired", "online_expired"),
        IntentState::Reversed => ("reversed", "online_reversed"),
        IntentState::Created | IntentState::Redirected | IntentState::Authorised => {
            ("pending", "online_pending")
        }
    };
    let page = ResultPage {
        outcome,
        headline,
        explanation: explain(lang, &intent),
        amount: format!(
            "{} {}",
            money(lang, &intent.currency, intent.amount),
            currency_name(lang, &intent.currency)
        ),
        ref_id: intent.ref_id.clone().unwrap_or_default(),
        back_href: match (&intent.invoice_id, &intent.ticket_id, &session) {
            (Some(id), _, Some(_)) => format!("/invoices/{id}"),
            (None, Some(id), Some(_)) => format!("/tickets/{id}"),
            _ => String::new(),
        },
        invoice_href: match (&intent.invoice_id, &session) {
            (Some(id), Some(_)) => format!("/invoices/{id}"),
            _ => String::new(),
        },
        usdt: intent
            .usdt_amount
            .map(|u| lang.amount(u))
            .unwrap_or_default(),
        invoice_number: number,
        v,
    };
    render(&page)
}

/// The reason in the reader's language; a gateway code the pages do not name is given with
/// its number.
fn explain(lang: Lang, intent: &IntentRow) -> String {
    let key = match intent.reason.as_str() {
        "" if intent.state().is_pending() => "online_why_pending",
        "" => return String::new(),
        reason::CANCELLED => "online_why_cancelled",
        reason::NOT_COMPLETED => "online_why_not_completed",
        reason::EXPIRED => "online_why_expired",
        reason::ALREADY_PAID => "online_why_already_paid",
        reason::GIVEN_BACK => "online_why_given_back",
        reason::KEPT_AS_CREDIT => "online_why_kept_as_credit",
        reason::REVERSED_AT_GATEWAY => "online_why_reversed_at_gateway",
        reason::REFUND_BY_HAND => "online_why_refund_by_hand",
        other => match reason::gateway_code(other) {
            Some(-50) => "online_why_amount_mismatch",
            Some(-51) => "online_why_not_completed",
            Some(-54) | Some(-55) => "online_why_unknown_payment",
            Some(-9) | Some(-10) | Some(-11) | Some(-15) | Some(-16) | Some(-17) => {
                "online_why_merchant"
            }
            Some(code) => {
                return lang
                    .t("online_why_gateway_code")
                    .replace("{code}", &lang.digits(&code.to_string()))
            }
            None => return String::new(),
        },
    };
    lang.t(key).to_string()
}
