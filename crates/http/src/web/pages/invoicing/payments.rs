//! `/payments` (the payments, newest first) and `/payments/new` (a client's payment allocated to
//! its open invoices: an amount per invoice, or none to let the reference's invoice number
//! decide; the rest is the client's credit), with using that credit and refunding it.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;

use super::invoices::client_names;
use super::pick::{client_choices, Choice};
use super::{
    civil, currency_name, frame, may, method_name, money, page_error, parse_money, refusal,
    require, today, IvDone, RawForm, METHODS,
};
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{Lang, UiText};
use crate::web::pages::{render, View};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebResult};
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::invoices::{self, PageAt};
use saghat_core::invoicing::payments::{self, PaymentInput, RefundInput};
use saghat_core::invoicing::service;
use saghat_core::invoicing::state::Status;
use saghat_core::invoicing::store::ListFilter;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;

pub struct PaymentLine {
    pub client: String,
    pub received: String,
    pub method: &'static str,
    pub reference: String,
    pub amount: String,
    pub currency: String,
}

#[derive(Template)]
#[template(path = "invoicing_payments.html")]
pub struct PaymentsPage {
    pub v: View,
    pub payments: Vec<PaymentLine>,
    pub may_write: bool,
}

pub fn payment_lines(
    lang: Lang,
    rows: &[payments::PaymentRow],
    names: &HashMap<i64, String>,
) -> Vec<PaymentLine> {
    rows.iter()
        .map(|p| PaymentLine {
            client: names.get(&p.client_id).cloned().unwrap_or_default(),
            received: civil(lang, &p.received_on),
            method: method_name(lang, &p.method),
            reference: p.reference.clone(),
            amount: money(lang, &p.currency, p.amount),
            currency: currency_name(lang, &p.currency),
        })
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(done): Query<IvDone>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadPayments)?;
    let (rows, _) = payments::list_payments(&state, &session.user, None, 100, 0)
        .await
        .map_err(page_error)?;
    let names = client_names(&state, &session, rows.iter().map(|p| p.client_id)).await?;
    let v = frame(
        &state,
        prefs,
        &session,
        "/payments",
        "payments",
        "iv_payments_title",
        done.notice(),
    );
    render(&PaymentsPage {
        payments: payment_lines(prefs.lang, &rows, &names),
        may_write: may(&session.user, Action::WritePayments),
        v,
    })
}

pub struct OpenInvoice {
    pub id: String,
    pub number: String,
    pub issued: String,
    pub due: String,
    pub value: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "invoicing_payment_new.html")]
pub struct NewPaymentPage {
    pub v: View,
    /// The client chooser: the chosen one and the matches of what was typed to find one.
    pub clients: Vec<Choice>,
    pub client: Option<(i64, String)>,
    pub currency: String,
    pub currency_name: String,
    pub open: Vec<OpenInvoice>,
    pub credit: String,
    pub has_credit: bool,
    pub errors: FormErrors,
    pub credit_errors: FormErrors,
    pub refund_errors: FormErrors,
    pub raw: RawForm,
    pub today: String,
    pub methods: Vec<(&'static str, &'static str)>,
}

impl NewPaymentPage {
    pub fn typed(&self, name: &str) -> String {
        self.raw.get(name).to_string()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    pub client: String,
    /// What was typed to find the client.
    pub client_q: String,
}

pub async fn new_form(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(q): Query<NewQuery>,
) -> WebResult<Response> {
    require(&session.user, Action::WritePayments)?;
    let raw = RawForm(vec![
        ("client_id".into(), q.client),
        ("client_q".into(), q.client_q),
    ]);
    page(&state, prefs, &session, raw, Errors::default()).await
}

#[derive(Default)]
struct Errors {
    payment: FormErrors,
    credit: FormErrors,
    refund: FormErrors,
}

async fn page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    raw: RawForm,
    errors: Errors,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let user = &session.user;
    let client_id = raw.get("client_id").parse::<i64>().ok();
    let clients = client_choices(state, user, client_id, raw.get("client_q")).await?;
    let mut client = None;
    let mut open = Vec::new();
    let mut currency = String::new();
    let mut credit = 0;
    if let Some(id) = client_id {
        let (row, _) = service::get_client(state, user, id)
            .await
            .map_err(page_error)?;
        currency = row.currency.clone();
        let filter = ListFilter {
            client_id: Some(id),
            currency: Some(row.currency.clone()),
            exclude_drafts: true,
            kind: Some("invoice".into()),
            ..ListFilter::default()
        };
        let found = invoices::list(state, user, filter, PageAt::First, 500, false)
            .await
            .map_err(page_error)?;
        for r in found
            .results
            .iter()
            .filter(|r| Status::parse(&r.status).is_some_and(Status::is_open))
        {
            let field = format!("alloc.{}", r.id);
            open.push(OpenInvoice {
                value: raw.get(&field).to_string(),
                error: errors.payment.field(&field).map(str::to_string),
                id: r.id.clone(),
                number: r.number.clone().unwrap_or_default(),
                issued: civil(lang, &r.issue_date),
                due: money(lang, &r.currency, r.amount_due()),
            });
        }
        let mut conn = state.db.pool.acquire().await?;
        credit = payments::client_credit(&mut conn, id, &row.currency).await?;
        client = Some((id, row.name));
    }
    let path = match client_id {
        Some(id) => format!("/payments/new?client={id}"),
        None => "/payments/new".into(),
    };
    let v = frame(
        state,
        prefs,
        session,
        &path,
        "payments",
        "iv_payment_new",
        None,
    );
    render(&NewPaymentPage {
        clients,
        client,
        currency_name: currency_name(lang, &currency),
        credit: money(lang, &currency, credit),
        has_credit: credit > 0,
        currency,
        open,
        errors: errors.payment,
        credit_errors: errors.credit,
        refund_errors: errors.refund,
        raw,
        today: today(state).format("%Y-%m-%d").to_string(),
        methods: METHODS.iter().map(|m| (*m, method_name(lang, m))).collect(),
        v,
    })
}

/// The form's client and its currency (what its amounts are typed in).
async fn client_and_currency(state: &AppState, raw: &RawForm) -> Option<(i64, Currency)> {
    let id = raw.get("client_id").parse::<i64>().ok()?;
    let mut conn = state.db.pool.acquire().await.ok()?;
    let row = saghat_core::invoicing::store::client(&mut conn, id)
        .await
        .ok()??;
    Some((id, Currency::parse(&row.currency)?))
}

/// `POST /payments/new`: the payment, its allocations as typed.
pub async fn create(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::WritePayments)?;
    let lang = prefs.lang;
    let Some((client_id, currency)) = client_and_currency(&state, &raw).await else {
        return Err(crate::error::ApiError::not_found("client not found").into());
    };
    let mut errors = FormErrors::default();
    let amount = parse_money(currency, raw.get("amount")).filter(|a| *a > 0);
    if amount.is_none() {
        errors.add(Some("amount"), lang.t("iv_bad_amount"));
    }
    let received_on = NaiveDate::parse_from_str(raw.get("received_on"), "%Y-%m-%d").ok();
    if received_on.is_none() {
        errors.add(Some("received_on"), lang.t("iv_bad_date"));
    }
    let mut allocations = Vec::new();
    let mut fields = Vec::new();
    for (key, value) in &raw.0 {
        let Some(invoice) = key.strip_prefix("alloc.") else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        match parse_money(currency, value) {
            Some(a) => {
                allocations.push((invoice.to_string(), a));
                fields.push(key.clone());
            }
            None => errors.add(Some(key), lang.t("iv_bad_number")),
        }
    }
    let (Some(amount), Some(received_on)) = (amount, received_on) else {
        let e = Errors {
            payment: errors,
            ..Errors::default()
        };
        return page(&state, prefs, &session, raw, e).await;
    };
    if !errors.is_empty() {
        let e = Errors {
            payment: errors,
            ..Errors::default()
        };
        return page(&state, prefs, &session, raw, e).await;
    }
    let input = PaymentInput {
        client_id,
        amount,
        currency,
        received_on,
        method: raw.get("method").to_string(),
        reference: raw.get("reference").to_string(),
        notes: raw.get("notes").to_string(),
        allocations,
    };
    match payments::record_payment(&state, &session.user, &input, &meta).await {
        Ok(_) => Ok(see_other("/payments?done=paid")),
        Err(e) => {
            let errors = refusal(e, lang, |f| {
                let index = f
                    .strip_prefix("allocations[")
                    .and_then(|r| r.split_once(']'))
                    .and_then(|(i, _)| i.parse::<usize>().ok());
                match (f, index) {
                    (_, Some(i)) => fields.get(i).cloned(),
                    ("amount" | "reference" | "method", None) => Some(f.to_string()),
                    _ => None,
                }
            })?;
            let e = Errors {
                payment: errors,
                ..Errors::default()
            };
            page(&state, prefs, &session, raw, e).await
        }
    }
}

/// `POST /payments/credit`: uses the client's credit on one of its open invoices.
pub async fn use_credit(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::WritePayments)?;
    let lang = prefs.lang;
    let Some((_, currency)) = client_and_currency(&state, &raw).await else {
        return Err(crate::error::ApiError::not_found("client not found").into());
    };
    let invoice = raw.get("invoice_id").to_string();
    let Some(amount) = parse_money(currency, raw.get("credit_amount")).filter(|a| *a > 0) else {
        let mut errors = FormErrors::default();
        errors.add(Some("credit_amount"), lang.t("iv_bad_amount"));
        let e = Errors {
            credit: errors,
            ..Errors::default()
        };
        return page(&state, prefs, &session, raw, e).await;
    };
    match payments::apply_credit(&state, &session.user, &invoice, amount, &meta).await {
        Ok(_) => Ok(see_other(&format!("/invoices/{invoice}?done=credit"))),
        Err(e) => {
            let errors = refusal(e, lang, |f| {
                (f == "amount").then(|| "credit_amount".to_string())
            })?;
            let e = Errors {
                credit: errors,
                ..Errors::default()
            };
            page(&state, prefs, &session, raw, e).await
        }
    }
}

/// `POST /payments/refund`: pays back part of the client's credit.
pub async fn refund(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::WritePayments)?;
    let lang = prefs.lang;
    let Some((client_id, currency)) = client_and_currency(&state, &raw).await else {
        return Err(crate::error::ApiError::not_found("client not found").into());
    };
    let mut errors = FormErrors::default();
    let amount = parse_money(currency, raw.get("refund_amount")).filter(|a| *a > 0);
    if amount.is_none() {
        errors.add(Some("refund_amount"), lang.t("iv_bad_amount"));
    }
    let on = NaiveDate::parse_from_str(raw.get("refunded_on"), "%Y-%m-%d").ok();
    if on.is_none() {
        errors.add(Some("refunded_on"), lang.t("iv_bad_date"));
    }
    let (Some(amount), Some(refunded_on)) = (amount, on) else {
        let e = Errors {
            refund: errors,
            ..Errors::default()
        };
        return page(&state, prefs, &session, raw, e).await;
    };
    let input = RefundInput {
        client_id,
        currency,
        amount,
        refunded_on,
        method: raw.get("refund_method").to_string(),
        reference: raw.get("refund_reference").to_string(),
    };
    match payments::refund(&state, &session.user, &input, &meta).await {
        Ok(_) => Ok(see_other(&format!("/clients/{client_id}?done=refund"))),
        Err(e) => {
            let errors = refusal(e, lang, |f| {
                (f == "amount").then(|| "refund_amount".to_string())
            })?;
            let e = Errors {
                refund: errors,
                ..Errors::default()
            };
            page(&state, prefs, &session, raw, e).await
        }
    }
}
