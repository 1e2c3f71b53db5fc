//! `/invoices` (the list with its filters, keyset pages and the totals per status) and
//! `/invoices/{id}` (an invoice's page: status, lines, tax breakdown, totals, what was paid and
//! credited, reminders, files, and the moves its reader may make), with the moves themselves
//! (send, delete, record a payment, use the client's credit, issue a credit note) and the
//! downloads (PDF and Factur-X through the printer the binary installs, UBL and CII).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use super::pick::{client_choices, Choice};
use super::{
    civil, currency_name, frame, may, method_name, money, own_client, page_error, parse_money,
    quantity, refusal, require, status_name, tax_label, today, unit_name, IvDone, RawForm, METHODS,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{Lang, UiText};
use crate::web::pages::{render, View};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebResult};
use saghat_core::auth::Role;
use saghat_core::intents::service as intents;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::einvoice::{cii, ubl, EInvoiceInput};
use saghat_core::invoicing::invoices::DraftLine;
use saghat_core::invoicing::invoices::{self as service, InvoiceDetail, PageAt};
use saghat_core::invoicing::model::{Discount, Percent, Quantity, TaxCategory, TaxCode};
use saghat_core::invoicing::payments::{self, CreditScope, PaymentInput};
use saghat_core::invoicing::state::Status;
use saghat_core::invoicing::store::{self, InvoiceRow, ListFilter};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::lang::Lang as CoreLang;

/// Invoices per page of the list.
const PAGE_SIZE: i64 = 50;

// ---- /invoices ----

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ListQuery {
    pub status: String,
    pub client: String,
    pub currency: String,
    pub from: String,
    pub to: String,
    pub q: String,
    /// What was typed to find the client to filter by.
    pub client_q: String,
    pub cursor: String,
    /// A previous page: the rows newer than this cursor.
    pub before: String,
    pub done: String,
}

impl ListQuery {
    fn filter(&self) -> ListFilter {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let day = |s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .map(|d| d.format("%Y-%m-%d").to_string())
        };
        ListFilter {
            status: some(&self.status).filter(|s| Status::parse(s).is_some()),
            kind: None,
            client_id: self.client.trim().parse().ok(),
            currency: some(&self.currency).filter(|c| Currency::parse(c).is_some()),
            issued_from: day(&self.from),
            issued_to: day(&self.to),
            search: some(&self.q),
            exclude_drafts: false,
        }
    }

    /// The query string of these filters (without the cursor).
    fn query(&self) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &self.status),
            ("client", &self.client),
            ("currency", &self.currency),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            if !v.trim().is_empty() {
                pairs.append_pair(k, v.trim());
            }
        }
        pairs.finish()
    }
}

/// A row of an invoice table.
pub struct InvoiceLine {
    pub id: String,
    pub number: String,
    pub kind: String,
    pub client: String,
    pub issued: String,
    pub due_on: String,
    pub status: String,
    pub status_name: &'static str,
    pub total: String,
    pub due: String,
    pub currency: String,
}

impl InvoiceLine {
    pub fn of(lang: Lang, row: &InvoiceRow, names: &HashMap<i64, String>) -> InvoiceLine {
        InvoiceLine {
            id: row.id.clone(),
            number: row
                .number
                .clone()
                .unwrap_or_else(|| lang.t("iv_no_number").to_string()),
            kind: row.kind.clone(),
            client: names
                .get(&row.client_id)
                .cloned()
                .unwrap_or_else(|| format!("#{}", row.client_id)),
            issued: civil(lang, &row.issue_date),
            due_on: civil(lang, &row.due_date),
            status: row.status.clone(),
            status_name: status_name(lang, &row.status),
            total: money(lang, &row.currency, row.total),
            due: money(lang, &row.currency, row.amount_due()),
            currency: currency_name(lang, &row.currency),
        }
    }
}

/// One status's count and amounts in one currency, for the summary above the list.
pub struct SummaryRow {
    pub status: String,
    pub status_name: &'static str,
    pub count: String,
    pub total: String,
    pub due: String,
    pub currency: String,
}

#[derive(Template)]
#[template(path = "invoicing_list.html")]
pub struct ListPage {
    pub v: View,
    pub q: ListQuery,
    pub rows: Vec<InvoiceLine>,
    pub summary: Vec<SummaryRow>,
    /// The client filter's chooser: the chosen one and the matches of `q.client_q`.
    pub clients: Vec<Choice>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub currencies: Vec<&'static str>,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub first: Option<String>,
    pub may_write: bool,
    pub may_see_recurring: bool,
}

/// The names of the clients `ids` (the rows of a table), by id.
pub async fn client_names(
    state: &AppState,
    session: &Session,
    ids: impl IntoIterator<Item = i64>,
) -> WebResult<HashMap<i64, String>> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let names = saghat_core::invoicing::service::client_names(state, &session.user, &ids)
        .await
        .map_err(page_error)?;
    Ok(names.into_iter().collect())
}

pub async fn list(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    if session.user.role == Role::Client {
        return Ok(see_other("/portal"));
    }
    require(&session.user, Action::ReadInvoices)?;
    let lang = prefs.lang;
    let at = match (q.before.is_empty(), q.cursor.is_empty()) {
        (false, _) => PageAt::Before(&q.before),
        (true, false) => PageAt::After(&q.cursor),
        (true, true) => PageAt::First,
    };
    let page = match service::list(&state, &session.user, q.filter(), at, PAGE_SIZE, true).await {
        Ok(page) => page,
        // A cursor that is not one of ours: the first page.
        Err(saghat_core::invoicing::error::InvoicingError::Invalid { .. }) => service::list(
            &state,
            &session.user,
            q.filter(),
            PageAt::First,
            PAGE_SIZE,
            true,
        )
        .await
        .map_err(page_error)?,
        Err(e) => return Err(page_error(e)),
    };
    let names = client_names(&state, &session, page.results.iter().map(|r| r.client_id)).await?;
    let clients = client_choices(
        &state,
        &session.user,
        q.client.trim().parse().ok(),
        &q.client_q,
    )
    .await?;
    let query = q.query();
    let join = if query.is_empty() { "" } else { "&" };
    let link = |name: &str, c: &String| {
        let cursor: String = form_urlencoded::byte_serialize(c.as_bytes()).collect();
        format!("/invoices?{query}{join}{name}={cursor}")
    };
    let next = page.next_cursor.as_ref().map(|c| link("cursor", c));
    let previous = page.previous_cursor.as_ref().map(|c| link("before", c));
    let first = previous.as_ref().map(|_| format!("/invoices?{query}"));
    let path = if query.is_empty() {
        "/invoices".to_string()
    } else {
        format!("/invoices?{query}")
    };
    let done = IvDone {
        done: q.done.clone(),
    };
    let v = frame(
        &state,
        prefs,
        &session,
        &path,
        "invoices",
        "iv_list_title",
        done.notice(),
    );
    render(&ListPage {
        rows: page
            .results
            .iter()
            .map(|r| InvoiceLine::of(lang, r, &names))
            .collect(),
        summary: page
            .totals
            .iter()
            .map(|t| SummaryRow {
                status: t.status.clone(),
                status_name: status_name(lang, &t.status),
                count: lang.int(t.count),
                total: money(lang, &t.currency, t.total),
                due: money(lang, &t.currency, t.due),
                currency: currency_name(lang, &t.currency),
            })
            .collect(),
        clients,
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str(), status_name(lang, s.as_str())))
            .collect(),
        currencies: Currency::ALL.iter().map(|c| c.code()).collect(),
        next,
        previous,
        first,
        may_write: may(&session.user, Action::WriteInvoices),
        may_see_recurring: may(&session.user, Action::ReadRecurring),
        q,
        v,
    })
}

// ---- /invoices/{id} ----

pub struct LineView {
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub unit_price: String,
    pub discount: String,
    pub tax: String,
    pub amount: String,
}

pub struct TaxView {
    pub label: String,
    pub taxable: String,
    pub tax: String,
}

pub struct MoneyRow {
    pub what: String,
    pub when: String,
    pub amount: String,
    pub href: String,
}

pub struct CreditNoteRow {
    pub id: String,
    pub number: String,
    pub issued: String,
    pub total: String,
}

/// What the reader may do to the invoice now.
#[derive(Default)]
pub struct Moves {
    pub edit: bool,
    pub send: bool,
    pub pay: bool,
    pub use_credit: bool,
    pub credit_note: bool,
    pub files: bool,
}

impl Moves {
    pub fn any(&self) -> bool {
        self.edit || self.send || self.pay || self.use_credit || self.credit_note
    }
}

/// The invoice page's forms as typed, when one was refused.
#[derive(Default, Clone)]
pub struct Typed {
    pub form: &'static str,
    pub errors: FormErrors,
    pub raw: RawForm,
}

impl Typed {
    pub fn value(&self, form: &str, name: &str) -> String {
        if self.form == form {
            self.raw.get(name).to_string()
        } else {
            String::new()
        }
    }

    pub fn errors_of(&self, form: &str) -> FormErrors {
        if self.form == form {
            self.errors.clone()
        } else {
            FormErrors::default()
        }
    }
}

#[derive(Template)]
#[template(path = "invoicing_show.html")]
pub struct ShowPage {
    pub v: View,
    pub inv: InvoiceRow,
    pub number: String,
    pub kind_name: &'static str,
    pub status_name: &'static str,
    pub client: String,
    pub client_href: String,
    pub issued: String,
    pub due_on: String,
    pub currency: String,
    pub lines: Vec<LineView>,
    pub taxes: Vec<TaxView>,
    pub lines_net: String,
    pub discount: String,
    pub tax: String,
    pub total: String,
    pub paid: String,
    pub credited: String,
    pub amount_due: String,
    pub credit_available: String,
    pub money: Vec<MoneyRow>,
    pub credit_notes: Vec<CreditNoteRow>,
    pub credits: Option<(String, String)>,
    /// Step, day logged, outcome, recipient.
    pub reminders: Vec<(String, String, &'static str, String)>,
    pub moves: Moves,
    pub staff: bool,
    /// "Pay online" for the client, with the amount it charges; empty when not offered (no
    /// gateway, not in Rials, nothing owed).
    pub pay_online: String,
    /// May start a recurring template from this invoice's lines.
    pub may_recur: bool,
    pub today: String,
    pub methods: Vec<(&'static str, &'static str)>,
    pub cn_taxes: Vec<(String, String)>,
    pub pay_errors: FormErrors,
    pub credit_errors: FormErrors,
    pub cn_errors: FormErrors,
    pub errors: FormErrors,
    pub typed: Typed,
}

impl ShowPage {
    pub fn typed(&self, form: &str, name: &str) -> String {
        self.typed.value(form, name)
    }
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path(id): Path<String>,
    Query(done): Query<IvDone>,
) -> WebResult<Response> {
    show_page(
        &state,
        prefs,
        &session,
        &id,
        done.notice(),
        Typed::default(),
    )
    .await
}

fn discount_text(lang: Lang, currency: &str, d: Option<Discount>) -> String {
    match d {
        None => String::new(),
        Some(Discount::Percent(p)) => lang.digits(&format!("{p}%")),
        Some(Discount::Amount(a)) => money(lang, currency, a),
    }
}

pub async fn show_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    id: &str,
    notice: Option<&'static str>,
    typed: Typed,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let user = &session.user;
    let detail: InvoiceDetail = service::get(state, user, id).await.map_err(page_error)?;
    let row = detail.invoice.clone();
    let model = service::to_model(&row, &detail.lines).map_err(page_error)?;
    let totals = model
        .totals()
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    let mut conn = state.db.pool.acquire().await?;
    let client = store::client(&mut conn, row.client_id).await?;
    let credit = payments::client_credit(&mut conn, row.client_id, &row.currency).await?;
    let cur = row.currency.as_str();
    let m = |units: i64| money(lang, cur, units);
    let lines = detail
        .lines
        .iter()
        .zip(&totals.lines)
        .map(|(l, t)| LineView {
            description: l.description.clone(),
            quantity: quantity(lang, l.quantity),
            unit: unit_name(lang, &l.unit),
            unit_price: m(l.unit_price),
            discount: discount_text(
                lang,
                cur,
                store::discount_of(l.discount_kind.as_deref(), l.discount_value),
            ),
            tax: tax_label(lang, &l.tax_code, l.tax_rate),
            amount: m(t.amount),
        })
        .collect();
    let taxes = totals
        .categories
        .iter()
        .map(|c| TaxView {
            label: tax_label(lang, c.category.code.code(), c.category.rate.0),
            taxable: m(c.taxable),
            tax: m(c.tax),
        })
        .collect();
    let mut money_rows = Vec::new();
    for a in &detail.allocations {
        let what = match a.source.as_str() {
            "payment" => lang.t("iv_src_payment"),
            "credit" => lang.t("iv_src_credit"),
            _ => lang.t("iv_src_credit_note"),
        };
        money_rows.push(MoneyRow {
            what: what.to_string(),
            when: day_of(lang, &a.created_at, state.config.fund_timezone),
            amount: m(a.amount),
            href: a
                .credit_note_id
                .as_ref()
                .map(|c| format!("/invoices/{c}"))
                .unwrap_or_default(),
        });
    }
    let mut credit_notes = Vec::new();
    for cn in &detail.credit_notes {
        if let Some(r) = store::invoice(&mut conn, cn).await? {
            credit_notes.push(CreditNoteRow {
                id: r.id.clone(),
                number: r.number.clone().unwrap_or_default(),
                issued: civil(lang, &r.issue_date),
                total: m(r.total),
            });
        }
    }
    // A credit note's page names the invoice it credits.
    let credits = match &row.credits_invoice_id {
        Some(original) => store::invoice(&mut conn, original)
            .await?
            .map(|o| (o.id.clone(), o.number.unwrap_or_default())),
        None => None,
    };
    drop(conn);
    let staff = user.role != Role::Client;
    let draft = row.is_draft();
    let is_invoice = row.kind == "invoice";
    let status = Status::parse(&row.status);
    let open = status.is_some_and(Status::is_open);
    let moves = Moves {
        edit: draft && may(user, Action::WriteInvoices),
        send: draft && may(user, Action::SendInvoices),
        pay: is_invoice && open && may(user, Action::WritePayments),
        use_credit: is_invoice && open && credit > 0 && may(user, Action::WritePayments),
        credit_note: is_invoice
            && !draft
            && status != Some(Status::Void)
            && may(user, Action::IssueCreditNotes),
        files: !draft,
    };
    let path = format!("/invoices/{id}");
    let v = frame(
        state,
        prefs,
        session,
        &path,
        if staff { "invoices" } else { "portal" },
        if is_invoice {
            "iv_invoice"
        } else {
            "iv_credit_note"
        },
        notice,
    );
    let mut response = render(&ShowPage {
        number: row
            .number
            .clone()
            .unwrap_or_else(|| lang.t("iv_no_number").to_string()),
        kind_name: lang.t(if is_invoice {
            "iv_invoice"
        } else {
            "iv_credit_note"
        }),
        status_name: status_name(lang, &row.status),
        client: client.map(|c| c.name).unwrap_or_default(),
        client_href: if staff {
            format!("/clients/{}", row.client_id)
        } else {
            "/portal".into()
        },
        issued: civil(lang, &row.issue_date),
        due_on: civil(lang, &row.due_date),
        currency: currency_name(lang, cur),
        lines,
        taxes,
        lines_net: m(totals.lines_net),
        discount: m(totals.discount),
        tax: m(totals.tax),
        total: m(totals.total),
        paid: m(row.amount_paid),
        credited: m(row.amount_credited),
        amount_due: m(detail.amount_due),
        credit_available: m(credit),
        money: money_rows,
        credit_notes,
        credits,
        reminders: detail
            .reminders
            .iter()
            .map(|r| {
                (
                    reminder_step(lang, &r.step),
                    day_of(lang, &r.sent_at, state.config.fund_timezone),
                    lang.t(match r.status.as_str() {
                        "sent" => "iv_rem_sent",
                        "cancelled" => "iv_rem_cancelled",
                        "skipped" => "iv_rem_skipped",
                        "failed" => "iv_rem_failed",
                        _ => "iv_rem_queued",
                    }),
                    r.recipient.clone(),
                )
            })
            .collect(),
        pay_online: match (staff, is_invoice && open) {
            (false, true) => intents::online_charge(state, cur, detail.amount_due)
                .map(|rials| {
                    lang.t("iv_pay_online_help").replace(
                        "{amount}",
                        &format!("{} {}", m(rials), currency_name(lang, cur)),
                    )
                })
                .unwrap_or_default(),
            _ => String::new(),
        },
        moves,
        staff,
        may_recur: row.kind == "invoice" && may(user, Action::ManageRecurring),
        today: today(state).format("%Y-%m-%d").to_string(),
        methods: METHODS.iter().map(|m| (*m, method_name(lang, m))).collect(),
        cn_taxes: totals
            .categories
            .iter()
            .map(|c| {
                (
                    format!("{}:{}", c.category.code.code(), c.category.rate.0),
                    tax_label(lang, c.category.code.code(), c.category.rate.0),
                )
            })
            .collect(),
        pay_errors: typed.errors_of("pay"),
        credit_errors: typed.errors_of("credit"),
        cn_errors: typed.errors_of("credit_note"),
        errors: typed.errors_of("page"),
        typed,
        inv: row,
        v,
    })?;
    if let Some(origin) = intents::gateway_origin(state) {
        crate::web::layers::allow_form_target(response.headers_mut(), &origin);
    }
    Ok(response)
}

/// A stored instant as the day it was in the fund's time zone, written as the invoice's dates
/// are (Gregorian in English, Jalali in Persian).
fn day_of(lang: Lang, stored: &str, tz: chrono_tz::Tz) -> String {
    match chrono::DateTime::parse_from_rfc3339(stored) {
        Ok(at) => lang.civil_date(at.with_timezone(&tz).date_naive()),
        Err(_) => String::new(),
    }
}

/// A reminder's step (days relative to the due date) as people read it.
fn reminder_step(lang: Lang, step: &str) -> String {
    match step.trim().parse::<i64>() {
        Ok(0) => lang.t("iv_rem_on_due").to_string(),
        Ok(d) if d < 0 => format!("{} {}", lang.int(-d), lang.t("iv_rem_before")),
        Ok(d) => format!("{} {}", lang.int(d), lang.t("iv_rem_after")),
        Err(_) => lang.digits(step),
    }
}

async fn again(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    id: &str,
    form: &'static str,
    errors: FormErrors,
    raw: &RawForm,
) -> WebResult<Response> {
    let typed = Typed {
        form,
        errors,
        raw: raw.clone(),
    };
    show_page(state, prefs, session, id, None, typed).await
}

/// `POST /invoices/{id}/{action}`: send, delete, pay, credit, credit-note.
pub async fn act(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path((id, action)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let user = &session.user;
    let here = |done: &str| see_other(&format!("/invoices/{id}?done={done}"));
    match action.as_str() {
        "send" => match service::send(&state, user, &id, &meta).await {
            Ok(_) => Ok(here("sent")),
            Err(e) => {
                let errors = refusal(e, lang, |_| None)?;
                again(&state, prefs, &session, &id, "page", errors, &raw).await
            }
        },
        "delete" => match service::delete_draft(&state, user, &id, &meta).await {
            Ok(()) => Ok(see_other("/invoices?done=deleted")),
            Err(e) => {
                let errors = refusal(e, lang, |_| None)?;
                again(&state, prefs, &session, &id, "page", errors, &raw).await
            }
        },
        "pay" => pay(&state, prefs, &meta, &session, &id, &raw).await,
        "credit" => {
            let detail = service::get(&state, user, &id).await.map_err(page_error)?;
            let currency = Currency::parse(&detail.invoice.currency).unwrap_or(Currency::Eur);
            let Some(amount) = parse_money(currency, raw.get("credit_amount")) else {
                let mut errors = FormErrors::default();
                errors.add(Some("credit_amount"), lang.t("iv_bad_number"));
                return again(&state, prefs, &session, &id, "credit", errors, &raw).await;
            };
            match payments::apply_credit(&state, user, &id, amount, &meta).await {
                Ok(_) => Ok(here("credit")),
                Err(e) => {
                    let errors = refusal(e, lang, |f| {
                        (f == "amount").then(|| "credit_amount".to_string())
                    })?;
                    again(&state, prefs, &session, &id, "credit", errors, &raw).await
                }
            }
        }
        "credit-note" => credit_note(&state, prefs, &meta, &session, &id, &raw).await,
        "pay-online" => pay_online(&state, prefs, &meta, &session, &id, &raw, &headers).await,
        _ => Err(ApiError::not_found("no such action").into()),
    }
}

/// Makes a payment intent for what is owed and sends the payer to the gateway's page.
async fn pay_online(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    session: &Session,
    id: &str,
    raw: &RawForm,
    headers: &axum::http::HeaderMap,
) -> WebResult<Response> {
    let user = &session.user;
    let respond = |_: &_| (201, serde_json::Value::Null);
    let made = intents::create_for_invoice(state, user, id, meta, None, &respond).await;
    match crate::web::pages::pay::to_gateway(state, user, headers, made).await? {
        Ok(pay_url) => Ok(see_other(&pay_url)),
        Err(refusal) => {
            let mut errors = FormErrors::default();
            errors.add(None, prefs.lang.t(refusal));
            again(state, prefs, session, id, "page", errors, raw).await
        }
    }
}

async fn pay(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    session: &Session,
    id: &str,
    raw: &RawForm,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let user = &session.user;
    require(user, Action::WritePayments)?;
    let detail = service::get(state, user, id).await.map_err(page_error)?;
    let row = &detail.invoice;
    let currency = Currency::parse(&row.currency).unwrap_or(Currency::Eur);
    let mut errors = FormErrors::default();
    let amount = parse_money(currency, raw.get("pay_amount")).filter(|a| *a > 0);
    if amount.is_none() {
        errors.add(Some("pay_amount"), lang.t("iv_bad_amount"));
    }
    let received_on = NaiveDate::parse_from_str(raw.get("received_on"), "%Y-%m-%d").ok();
    if received_on.is_none() {
        errors.add(Some("pay_received_on"), lang.t("iv_bad_date"));
    }
    let (Some(amount), Some(received_on)) = (amount, received_on) else {
        return again(state, prefs, session, id, "pay", errors, raw).await;
    };
    // This invoice first, as far as it goes; the rest is the client's credit.
    let input = PaymentInput {
        client_id: row.client_id,
        amount,
        currency,
        received_on,
        method: raw.get("method").to_string(),
        reference: raw.get("reference").to_string(),
        notes: String::new(),
        allocations: vec![(id.to_string(), amount.min(detail.amount_due))],
    };
    match payments::record_payment(state, user, &input, meta).await {
        Ok(_) => Ok(see_other(&format!("/invoices/{id}?done=paid"))),
        Err(e) => {
            let errors = refusal(e, lang, |f| match f {
                "amount" | "allocations[0].amount" | "allocations" => Some("pay_amount".into()),
                "method" => Some("pay_method".into()),
                "reference" => Some("pay_reference".into()),
                _ => None,
            })?;
            again(state, prefs, session, id, "pay", errors, raw).await
        }
    }
}

async fn credit_note(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    session: &Session,
    id: &str,
    raw: &RawForm,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let user = &session.user;
    require(user, Action::IssueCreditNotes)?;
    let detail = service::get(state, user, id).await.map_err(page_error)?;
    let currency = Currency::parse(&detail.invoice.currency).unwrap_or(Currency::Eur);
    let mut errors = FormErrors::default();
    let scope = if raw.get("scope") == "partial" {
        let amount = parse_money(currency, raw.get("cn_amount")).filter(|a| *a > 0);
        if amount.is_none() {
            errors.add(Some("cn_amount"), lang.t("iv_bad_amount"));
        }
        let tax = raw.get("tax").split_once(':').and_then(|(code, rate)| {
            Some(TaxCategory {
                code: TaxCode::parse(code)?,
                rate: Percent(rate.parse().ok()?),
            })
        });
        if tax.is_none() {
            errors.add(Some("cn_tax"), lang.t("required"));
        }
        let description = raw.get("cn_description").trim();
        if description.is_empty() {
            errors.add(Some("cn_description"), lang.t("required"));
        }
        match (amount, tax) {
            (Some(unit_price), Some(tax)) if errors.is_empty() => {
                CreditScope::Lines(vec![DraftLine {
                    product_id: None,
                    description: description.to_string(),
                    unit: saghat_core::invoicing::model::Unit::LumpSum,
                    quantity: Quantity::ONE,
                    unit_price,
                    discount: None,
                    tax,
                }])
            }
            _ => return again(state, prefs, session, id, "credit_note", errors, raw).await,
        }
    } else {
        CreditScope::Whole
    };
    let notes = raw.get("notes");
    match payments::issue_credit_note(state, user, id, scope, today(state), notes, meta).await {
        Ok(_) => Ok(see_other(&format!("/invoices/{id}?done=credit_note"))),
        Err(e) => {
            let partial = raw.get("scope") == "partial";
            let errors = refusal(e, lang, |f| {
                (partial && f.starts_with("lines")).then(|| "cn_amount".to_string())
            })?;
            again(state, prefs, session, id, "credit_note", errors, raw).await
        }
    }
}

/// `GET /invoices/{id}/{file}`: `pdf`, `facturx`, `ubl`, `cii` of a sent invoice.
pub async fn download(
    State(state): State<AppState>,
    session: Session,
    Path((id, file)): Path<(String, String)>,
) -> WebResult<Response> {
    let user = &session.user;
    let model = service::sent_model(&state, user, &id)
        .await
        .map_err(page_error)?;
    let detail = service::get(&state, user, &id).await.map_err(page_error)?;
    let row = &detail.invoice;
    let number = row.number.clone().unwrap_or_else(|| id.clone());
    let safe: String = number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let (bytes, kind, name) = match file.as_str() {
        "ubl" | "cii" => {
            let totals = model
                .totals()
                .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
            let input = EInvoiceInput {
                invoice: &model,
                totals: &totals,
                paid: row.amount_paid,
                buyer_reference: None,
            };
            let xml = if file == "ubl" {
                ubl::to_ubl(&input)
            } else {
                cii::to_cii(&input)
            }
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
            (
                xml.into_bytes(),
                "application/xml",
                format!("{safe}-{file}.xml"),
            )
        }
        "pdf" | "facturx" => {
            let lang = CoreLang::parse(&row.language).unwrap_or(CoreLang::En);
            let settled = row.amount_paid + row.amount_credited;
            let pdf =
                crate::printing::print_invoice(&state, model, lang, settled, file == "facturx")
                    .await?
                    .map_err(|e| ApiError::Conflict(e.to_string()))?;
            let name = if file == "pdf" {
                format!("{safe}.pdf")
            } else {
                format!("{safe}-facturx.pdf")
            };
            (pdf, "application/pdf", name)
        }
        _ => return Err(ApiError::not_found("no such file").into()),
    };
    Ok((
        [
            (CONTENT_TYPE, kind.to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A client user's own client (portal pages), or 404.
pub async fn portal_client(state: &AppState, session: &Session) -> WebResult<i64> {
    let mut conn = state.db.pool.acquire().await?;
    own_client(&mut conn, &session.user)
        .await?
        .ok_or_else(|| ApiError::not_found("no client is linked to this user").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_as_the_funds_day_in_each_calendar() {
        let tz = chrono_tz::Tz::Asia__Tehran;
        // 22:00 UTC on 21 Nov is already 22 Nov (1 Azar) in Tehran.
        assert_eq!(day_of(Lang::En, "2026-11-21T22:00:00Z", tz), "22 Nov 2026");
        assert_eq!(day_of(Lang::Fa, "2026-11-21T22:00:00Z", tz), "۱۴۰۵/۰۹/۰۱");
    }

    #[test]
    fn reminder_steps_read_as_days_around_the_due_date() {
        assert_eq!(reminder_step(Lang::En, "0"), "On the due date");
        assert_eq!(reminder_step(Lang::En, "-3"), "3 days before the due date");
        assert_eq!(reminder_step(Lang::Fa, "7"), "۷ روز پس از سررسید");
    }

    #[test]
    fn list_filters_keep_only_what_they_understand() {
        let q = ListQuery {
            status: "nonsense".into(),
            currency: "EUR".into(),
            from: "2026-01-01".into(),
            to: "junk".into(),
            q: " INV-1405 ".into(),
            ..ListQuery::default()
        };
        let f = q.filter();
        assert_eq!(f.status, None);
        assert_eq!(f.currency.as_deref(), Some("EUR"));
        assert_eq!(f.issued_from.as_deref(), Some("2026-01-01"));
        assert_eq!(f.issued_to, None);
        assert_eq!(f.search.as_deref(), Some("INV-1405"));
        assert_eq!(
            q.query(),
            "status=nonsense&currency=EUR&from=2026-01-01&to=junk&q=INV-1405"
        );
    }
}
