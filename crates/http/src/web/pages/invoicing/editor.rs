//! The draft editor (`/invoices/new`, `/invoices/{id}/edit`): client, currency, dates, lines and
//! discounts. Its totals are computed by the server with `totals::compute`, the one function
//! every view of an invoice uses: "Recalculate" re-renders the form with them (no script
//! needed), and `POST /invoices/totals` answers the totals box alone for pages that ask as
//! the form changes. Adding and removing line rows are buttons of the same form.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::pick::{self, Choice};
use super::{currency_name, frame, money, parse_money, refusal, require, tax_label, RawForm};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{normalize_number, Lang, UiText};
use crate::web::pages::{render, View};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebResult};
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::invoices::{self as service, DraftInput, DraftLine};
use saghat_core::invoicing::model::{Discount, Percent, Quantity, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::service::{get_client, get_product};
use saghat_core::invoicing::store::{self, ClientRow, ProductRow};
use saghat_core::invoicing::totals::{self, LineInput, Totals, TotalsInput};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;

/// One line row as typed.
#[derive(Clone, Default, Debug)]
pub struct LineForm {
    pub product_id: String,
    /// The product whose values were last filled in (so a new choice fills them again).
    pub product_prev: String,
    /// What was typed to find a product: its matches fill the line's chooser.
    pub product_q: String,
    /// The line's product chooser: the chosen one and the matches (filled for the page).
    pub choices: Vec<Choice>,
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub unit_price: String,
    pub discount_kind: String,
    pub discount: String,
    pub tax_code: String,
    pub tax_rate: String,
    /// The line's amount as the server computed it, when it could.
    pub amount: String,
    /// Ticked "remove": the row is dropped at the next press of any button.
    pub remove: bool,
}

impl LineForm {
    pub(super) fn blank(lang: Lang) -> LineForm {
        LineForm {
            quantity: lang.digits("1"),
            unit: Unit::Piece.code().into(),
            tax_code: TaxCode::Standard.code().into(),
            tax_rate: lang.digits("0"),
            ..LineForm::default()
        }
    }

    /// A row nobody typed into: left out of the invoice.
    fn is_empty(&self) -> bool {
        self.description.trim().is_empty()
            && self.unit_price.trim().is_empty()
            && self.product_id.is_empty()
    }
}

/// The editor's form as typed (numbers as the person wrote them, in either digits).
#[derive(Clone, Default, Debug)]
pub struct EditorForm {
    pub client_id: String,
    /// What was typed to find a client: its matches fill the client chooser.
    pub client_q: String,
    pub currency: String,
    pub issue_date: String,
    pub due_date: String,
    pub prices_include_tax: bool,
    pub discount_kind: String,
    pub discount: String,
    pub notes: String,
    pub terms: String,
    pub lines: Vec<LineForm>,
}

impl EditorForm {
    pub fn from_raw(raw: &RawForm) -> EditorForm {
        let mut lines: BTreeMap<usize, LineForm> = BTreeMap::new();
        for (key, value) in &raw.0 {
            let Some(rest) = key.strip_prefix("lines[") else {
                continue;
            };
            let Some((index, field)) = rest.split_once("].") else {
                continue;
            };
            let Ok(index) = index.parse::<usize>() else {
                continue;
            };
            if index >= MAX_LINES {
                continue;
            }
            let line = lines.entry(index).or_default();
            let slot = match field {
                "product_id" => &mut line.product_id,
                "product_prev" => &mut line.product_prev,
                "product_q" => &mut line.product_q,
                "description" => &mut line.description,
                "quantity" => &mut line.quantity,
                "unit" => &mut line.unit,
                "unit_price" => &mut line.unit_price,
                "discount_kind" => &mut line.discount_kind,
                "discount" => &mut line.discount,
                "tax_code" => &mut line.tax_code,
                "tax_rate" => &mut line.tax_rate,
                "remove" => {
                    line.remove = true;
                    continue;
                }
                _ => continue,
            };
            *slot = value.clone();
        }
        EditorForm {
            client_id: raw.get("client_id").to_string(),
            client_q: raw.get("client_q").to_string(),
            currency: raw.get("currency").to_string(),
            issue_date: raw.get("issue_date").to_string(),
            due_date: raw.get("due_date").to_string(),
            prices_include_tax: raw.has("prices_include_tax"),
            discount_kind: raw.get("discount_kind").to_string(),
            discount: raw.get("discount").to_string(),
            notes: raw.get("notes").to_string(),
            terms: raw.get("terms").to_string(),
            lines: lines.into_values().collect(),
        }
    }

    /// The form of a stored draft (or of any invoice's lines, for a recurring template).
    pub(super) fn of_draft(lang: Lang, detail: &service::InvoiceDetail) -> EditorForm {
        let row = &detail.invoice;
        let currency = Currency::parse(&row.currency).unwrap_or(Currency::Eur);
        let amount = |units: i64| lang.digits(&currency.format(i128::from(units)));
        let (discount_kind, discount) = discount_fields(
            lang,
            currency,
            store::discount_of(row.discount_kind.as_deref(), row.discount_value),
        );
        EditorForm {
            client_id: row.client_id.to_string(),
            client_q: String::new(),
            currency: row.currency.clone(),
            issue_date: row.issue_date.clone(),
            due_date: row.due_date.clone(),
            prices_include_tax: row.prices_include_tax,
            discount_kind,
            discount,
            notes: row.notes.clone(),
            terms: row.terms.clone(),
            lines: detail
                .lines
                .iter()
                .map(|l| {
                    let (discount_kind, discount) = discount_fields(
                        lang,
                        currency,
                        store::discount_of(l.discount_kind.as_deref(), l.discount_value),
                    );
                    let product = l.product_id.map(|p| p.to_string()).unwrap_or_default();
                    LineForm {
                        product_prev: product.clone(),
                        product_id: product,
                        product_q: String::new(),
                        choices: Vec::new(),
                        description: l.description.clone(),
                        quantity: lang.digits(&Quantity(l.quantity).to_string()),
                        unit: l.unit.clone(),
                        unit_price: amount(l.unit_price),
                        discount_kind,
                        discount,
                        tax_code: l.tax_code.clone(),
                        tax_rate: lang.digits(&Percent(l.tax_rate).to_string()),
                        amount: String::new(),
                        remove: false,
                    }
                })
                .collect(),
        }
    }
}

pub(super) fn discount_fields(
    lang: Lang,
    currency: Currency,
    d: Option<Discount>,
) -> (String, String) {
    match d {
        None => (String::new(), String::new()),
        Some(Discount::Percent(p)) => ("percent".into(), lang.digits(&p.to_string())),
        Some(Discount::Amount(a)) => (
            "amount".into(),
            lang.digits(&currency.format(i128::from(a))),
        ),
    }
}

/// At most this many line rows on one invoice page.
pub(super) const MAX_LINES: usize = 200;

/// What the editor read from its form: the draft for the service, the lines' places in the
/// form (blank rows are left out), and the totals when every number could be read. The
/// recurring template form reads its lines with it too.
pub(super) struct Read {
    pub(super) input: Option<DraftInput>,
    pub(super) rows: Vec<usize>,
    pub(super) totals: Option<Totals>,
    pub(super) currency: Currency,
    pub(super) errors: FormErrors,
}

fn bad(errors: &mut FormErrors, lang: Lang, field: &str) {
    errors.add(Some(field), lang.t("iv_bad_number"));
}

pub(super) fn read(form: &EditorForm, lang: Lang, client: Option<&ClientRow>) -> Read {
    let mut errors = FormErrors::default();
    let currency = Currency::parse(&form.currency)
        .or_else(|| client.and_then(|c| Currency::parse(&c.currency)))
        .unwrap_or(Currency::Eur);
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    for (i, line) in form.lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        let field = |name: &str| format!("lines[{i}].{name}");
        let quantity = Quantity::parse(&normalize_number(&line.quantity));
        if quantity.is_err() {
            bad(&mut errors, lang, &field("quantity"));
        }
        let price = parse_money(currency, &line.unit_price);
        if price.is_none() {
            bad(&mut errors, lang, &field("unit_price"));
        }
        let discount = read_discount(
            &mut errors,
            lang,
            currency,
            &field("discount"),
            &line.discount_kind,
            &line.discount,
        );
        let code = TaxCode::parse(&line.tax_code);
        if code.is_none() {
            errors.add(Some(&field("tax_code")), lang.t("required"));
        }
        let rate_text = normalize_number(&line.tax_rate);
        let rate = if rate_text.is_empty() {
            Ok(Percent(0))
        } else {
            Percent::parse(&rate_text)
        };
        if rate.is_err() {
            bad(&mut errors, lang, &field("tax_rate"));
        }
        if let (Ok(quantity), Some(unit_price), Some(code), Ok(rate)) =
            (quantity, price, code, rate)
        {
            lines.push(DraftLine {
                product_id: line.product_id.parse().ok(),
                description: line.description.clone(),
                unit: Unit::parse(&line.unit).unwrap_or(Unit::Piece),
                quantity,
                unit_price,
                discount,
                tax: TaxCategory { code, rate },
            });
            rows.push(i);
        }
    }
    let discount = read_discount(
        &mut errors,
        lang,
        currency,
        "discount",
        &form.discount_kind,
        &form.discount,
    );
    let client_id = form.client_id.parse::<i64>().ok();
    if client_id.is_none() {
        errors.add(Some("client_id"), lang.t("required"));
    }
    let issue_date = NaiveDate::parse_from_str(&form.issue_date, "%Y-%m-%d").ok();
    if issue_date.is_none() {
        errors.add(Some("issue_date"), lang.t("iv_bad_date"));
    }
    let due_date = if form.due_date.trim().is_empty() {
        None
    } else {
        let due = NaiveDate::parse_from_str(&form.due_date, "%Y-%m-%d").ok();
        if due.is_none() {
            errors.add(Some("due_date"), lang.t("iv_bad_date"));
        }
        due
    };
    let mut totals = None;
    if errors.is_empty() {
        let inputs: Vec<LineInput> = lines
            .iter()
            .map(|l| LineInput {
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                tax: l.tax,
            })
            .collect();
        match totals::compute(&TotalsInput {
            lines: &inputs,
            discount,
            prices_include_tax: form.prices_include_tax,
        }) {
            Ok(t) => totals = Some(t),
            Err(e) => {
                let placed = refusal(e.into(), lang, |f| place(f, &rows)).unwrap_or_default();
                errors = placed;
            }
        }
    }
    let input = match (client_id, issue_date) {
        (Some(client_id), Some(issue_date)) if errors.is_empty() => Some(DraftInput {
            client_id,
            currency: Some(currency),
            issue_date,
            due_date,
            lines,
            discount,
            prices_include_tax: form.prices_include_tax,
            notes: form.notes.clone(),
            terms: form.terms.clone(),
        }),
        _ => None,
    };
    Read {
        input,
        rows,
        totals,
        currency,
        errors,
    }
}

fn read_discount(
    errors: &mut FormErrors,
    lang: Lang,
    currency: Currency,
    field: &str,
    kind: &str,
    raw: &str,
) -> Option<Discount> {
    let text = normalize_number(raw);
    if text.is_empty() || kind.is_empty() {
        return None;
    }
    let parsed = match kind {
        "percent" => Percent::parse(&text).ok().map(Discount::Percent),
        _ => parse_money(currency, &text).map(Discount::Amount),
    };
    if parsed.is_none() {
        bad(errors, lang, field);
    }
    parsed
}

/// The page's field for a service field: `lines[k].x` of the k-th line sent is the row it came
/// from; invoice-level fields are the page's own.
fn place(field: &str, rows: &[usize]) -> Option<String> {
    if let Some(rest) = field.strip_prefix("lines[") {
        let (index, name) = rest.split_once("].")?;
        let row = rows.get(index.parse::<usize>().ok()?)?;
        return Some(format!("lines[{row}].{name}"));
    }
    matches!(
        field,
        "client_id" | "currency" | "issue_date" | "due_date" | "discount"
    )
    .then(|| field.to_string())
}

/// The totals box.
#[derive(Clone, Default)]
pub struct TotalsView {
    pub shown: bool,
    pub currency: String,
    pub categories: Vec<(String, String, String)>,
    pub lines_net: String,
    pub discount: String,
    pub tax: String,
    pub total: String,
}

impl TotalsView {
    pub fn of(lang: Lang, currency: Currency, t: &Totals) -> TotalsView {
        let m = |units: i64| money(lang, currency.code(), units);
        TotalsView {
            shown: true,
            currency: currency_name(lang, currency.code()),
            categories: t
                .categories
                .iter()
                .map(|c| {
                    (
                        tax_label(lang, c.category.code.code(), c.category.rate.0),
                        m(c.taxable),
                        m(c.tax),
                    )
                })
                .collect(),
            lines_net: m(t.lines_net),
            discount: m(t.discount),
            tax: m(t.tax),
            total: m(t.total),
        }
    }
}

#[derive(Template)]
#[template(path = "invoicing_editor.html")]
pub struct EditorPage {
    pub v: View,
    pub form: EditorForm,
    pub errors: FormErrors,
    /// The client chooser: the chosen one and the matches of `form.client_q`.
    pub clients: Vec<Choice>,
    pub totals: TotalsView,
    pub action: String,
    pub id: Option<String>,
    pub may_send: bool,
    pub due_hint: String,
    /// Empty: the editor's rows show their amounts in their legends.
    pub line_amounts: Vec<(usize, String)>,
    pub units: Vec<(&'static str, String)>,
    pub taxes: Vec<(&'static str, &'static str)>,
    pub currencies: Vec<&'static str>,
}

impl EditorPage {
    pub fn err(&self, name: &str) -> Option<String> {
        self.errors.field(name).map(str::to_string)
    }

    pub fn line_error(&self, i: &&usize, name: &str) -> Option<String> {
        self.err(&format!("lines[{i}].{name}"))
    }
}

#[derive(Template)]
#[template(path = "invoicing_totals.html")]
pub struct TotalsFragment {
    pub v: View,
    pub totals: TotalsView,
    /// Each row's amount, swapped into its legend (htmx out of band).
    pub line_amounts: Vec<(usize, String)>,
}

struct Frame<'a> {
    state: &'a AppState,
    prefs: Prefs,
    session: &'a Session,
    id: Option<&'a str>,
}

pub(super) async fn client_of(state: &AppState, session: &Session, id: &str) -> Option<ClientRow> {
    let id = id.parse::<i64>().ok()?;
    get_client(state, &session.user, id)
        .await
        .ok()
        .map(|(c, _)| c)
}

/// The choosers of a form with lines (the editor's, a recurring template's): the client's
/// (the chosen one and the matches of `form.client_q`) and each line's products (the matches
/// of its `product_q` in the invoice's currency); a product chosen since the last render fills
/// in its line. Returns the client choices and the chosen client.
pub(super) async fn choose(
    state: &AppState,
    session: &Session,
    lang: Lang,
    form: &mut EditorForm,
) -> WebResult<(Vec<Choice>, Option<ClientRow>)> {
    let user = &session.user;
    let clients =
        pick::client_choices(state, user, form.client_id.parse().ok(), &form.client_q).await?;
    let client = client_of(state, session, &form.client_id).await;
    if form.lines.is_empty() {
        form.lines.push(LineForm::blank(lang));
    }
    let currency = pick::invoice_currency(state, user, &form.currency, &form.client_id).await;
    // The lines' searches, each run once however many lines typed it.
    let mut matches: HashMap<String, Vec<ProductRow>> = HashMap::new();
    for line in &mut form.lines {
        let search = line.product_q.trim().to_string();
        if !matches.contains_key(&search) {
            let found = pick::product_matches(state, user, &search, currency).await?;
            matches.insert(search.clone(), found);
        }
        let selected = line.product_id.parse::<i64>().ok();
        line.choices = pick::product_choices(state, user, selected, &matches[&search]).await?;
    }
    // A product chosen since the last render fills in its line.
    for line in &mut form.lines {
        if !line.product_id.is_empty() && line.product_id != line.product_prev {
            let chosen = match line.product_id.parse::<i64>() {
                Ok(id) => get_product(state, user, id).await.ok(),
                Err(_) => None,
            };
            if let Some(p) = chosen {
                let currency = Currency::parse(&p.currency).unwrap_or(Currency::Eur);
                line.description = if p.description.trim().is_empty() {
                    p.name.clone()
                } else {
                    format!("{}: {}", p.name, p.description)
                };
                line.unit = p.unit.clone();
                line.unit_price = lang.digits(&currency.format(i128::from(p.unit_price)));
                line.tax_code = p.tax_code.clone();
                line.tax_rate = lang.digits(&Percent(p.tax_rate).to_string());
            }
            line.product_prev = line.product_id.clone();
        }
    }
    Ok((clients, client))
}

async fn editor(f: Frame<'_>, mut form: EditorForm, mut errors: FormErrors) -> WebResult<Response> {
    let lang = f.prefs.lang;
    let (clients, client) = choose(f.state, f.session, lang, &mut form).await?;
    let read = read(&form, lang, client.as_ref());
    if errors.is_empty() {
        errors = read.errors.clone();
    }
    let mut totals = TotalsView::default();
    if let Some(t) = &read.totals {
        totals = TotalsView::of(lang, read.currency, t);
        for (k, row) in read.rows.iter().enumerate() {
            if let (Some(line), Some(lt)) = (form.lines.get_mut(*row), t.lines.get(k)) {
                line.amount = money(lang, read.currency.code(), lt.amount);
            }
        }
    }
    let mut due_hint = String::new();
    if let (Some(client), Ok(issue)) = (
        client.as_ref(),
        NaiveDate::parse_from_str(&form.issue_date, "%Y-%m-%d"),
    ) {
        let due = match NaiveDate::parse_from_str(&form.due_date, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => issue + Duration::days(client.payment_terms_days),
        };
        if form.due_date.trim().is_empty() {
            form.due_date = due.format("%Y-%m-%d").to_string();
        }
        due_hint = format!(
            "{} {} · {} {}",
            lang.t("iv_issued"),
            lang.civil_date(issue),
            lang.t("iv_due"),
            lang.civil_date(due)
        );
    }
    if form.currency.is_empty() {
        if let Some(c) = &client {
            form.currency = c.currency.clone();
        }
    }
    let (path, title) = match f.id {
        Some(id) => (format!("/invoices/{id}/edit"), "iv_edit_title"),
        None => ("/invoices/new".to_string(), "iv_new_title"),
    };
    let v = frame(f.state, f.prefs, f.session, &path, "invoices", title, None);
    render(&EditorPage {
        may_send: super::may(&f.session.user, Action::SendInvoices),
        clients,
        totals,
        action: path,
        id: f.id.map(str::to_string),
        due_hint,
        line_amounts: Vec::new(),
        units: Unit::ALL
            .iter()
            .map(|u| (u.code(), super::unit_name(lang, u.code())))
            .collect(),
        taxes: TaxCode::ALL
            .iter()
            .map(|c| (c.code(), super::tax_name(lang, c.code())))
            .collect(),
        currencies: Currency::ALL.iter().map(|c| c.code()).collect(),
        form,
        errors,
        v,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    pub client: String,
}

pub async fn new_form(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(q): Query<NewQuery>,
) -> WebResult<Response> {
    require(&session.user, Action::WriteInvoices)?;
    let form = EditorForm {
        client_id: q.client,
        issue_date: super::today(&state).format("%Y-%m-%d").to_string(),
        lines: vec![LineForm::blank(prefs.lang)],
        ..EditorForm::default()
    };
    let f = Frame {
        state: &state,
        prefs,
        session: &session,
        id: None,
    };
    editor(f, form, FormErrors::default()).await
}

pub async fn edit_form(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    require(&session.user, Action::WriteInvoices)?;
    let detail = service::get(&state, &session.user, &id)
        .await
        .map_err(super::page_error)?;
    if !detail.invoice.is_draft() {
        return Ok(see_other(&format!("/invoices/{id}")));
    }
    let form = EditorForm::of_draft(prefs.lang, &detail);
    let f = Frame {
        state: &state,
        prefs,
        session: &session,
        id: Some(&id),
    };
    editor(f, form, FormErrors::default()).await
}

pub async fn create(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    submit(&state, prefs, &meta, &session, None, &raw).await
}

pub async fn update(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<String>,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    submit(&state, prefs, &meta, &session, Some(&id), &raw).await
}

/// The editor's buttons: recalculate, add a row, save, save and send (rows ticked "remove"
/// are dropped first, whichever was pressed).
async fn submit(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    session: &Session,
    id: Option<&str>,
    raw: &RawForm,
) -> WebResult<Response> {
    require(&session.user, Action::WriteInvoices)?;
    let lang = prefs.lang;
    let mut form = EditorForm::from_raw(raw);
    form.lines.retain(|l| !l.remove);
    let op = raw.get("op");
    let f = Frame {
        state,
        prefs,
        session,
        id,
    };
    if op == "add" {
        if form.lines.len() < MAX_LINES {
            form.lines.push(LineForm::blank(lang));
        }
        return editor(f, form, FormErrors::default()).await;
    }
    if op != "save" && op != "send" {
        return editor(f, form, FormErrors::default()).await;
    }
    let client = client_of(state, session, &form.client_id).await;
    let read = read(&form, lang, client.as_ref());
    let Some(input) = read.input else {
        return editor(f, form, read.errors).await;
    };
    if input.lines.is_empty() {
        let mut errors = FormErrors::default();
        errors.add(None, lang.t("iv_no_lines"));
        return editor(f, form, errors).await;
    }
    let saved = match id {
        None => service::create_draft(state, &session.user, &input, meta).await,
        Some(id) => service::update_draft(state, &session.user, id, &input, meta).await,
    };
    let detail = match saved {
        Ok(d) => d,
        Err(e) => {
            let errors = refusal(e, lang, |field| place(field, &read.rows))?;
            return editor(f, form, errors).await;
        }
    };
    let id = detail.invoice.id.clone();
    if op == "send" {
        if let Err(e) = service::send(state, &session.user, &id, meta).await {
            let errors = refusal(e, lang, |field| place(field, &read.rows))?;
            let f = Frame {
                state,
                prefs,
                session,
                id: Some(&id),
            };
            return editor(f, form, errors).await;
        }
        return Ok(see_other(&format!("/invoices/{id}?done=sent")));
    }
    Ok(see_other(&format!("/invoices/{id}?done=saved")))
}

/// `POST /invoices/totals`: the totals box of the form as it is now (progressive enhancement
/// of the editor; the same computation as "Recalculate").
pub async fn totals_fragment(
    State(state): State<AppState>,
    prefs: Prefs,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::WriteInvoices)?;
    let form = EditorForm::from_raw(&raw);
    let client = client_of(&state, &session, &form.client_id).await;
    let read = read(&form, prefs.lang, client.as_ref());
    let totals = read
        .totals
        .as_ref()
        .map(|t| TotalsView::of(prefs.lang, read.currency, t))
        .unwrap_or_default();
    let v = frame(
        &state,
        prefs,
        &session,
        "/invoices/new",
        "invoices",
        "iv_new_title",
        None,
    );
    let line_amounts = match &read.totals {
        Some(t) => read
            .rows
            .iter()
            .zip(&t.lines)
            .map(|(row, lt)| (*row, money(prefs.lang, read.currency.code(), lt.amount)))
            .collect(),
        None => Vec::new(),
    };
    let page = TotalsFragment {
        v,
        totals,
        line_amounts,
    };
    Ok(Html(page.render().map_err(|e| ApiError::Internal(e.into()))?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawForm {
        RawForm(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn numbered_rows_are_read_in_order_and_blank_ones_left_out() {
        let form = EditorForm::from_raw(&raw(&[
            ("client_id", "3"),
            ("currency", "EUR"),
            ("issue_date", "2026-12-01"),
            ("lines[1].description", "Second"),
            ("lines[1].quantity", "۲"),
            ("lines[1].unit_price", "10"),
            ("lines[1].tax_code", "S"),
            ("lines[1].tax_rate", "19"),
            ("lines[0].description", "First"),
            ("lines[0].quantity", "1.5"),
            ("lines[0].unit_price", "۱۰۰٫۰۰"),
            ("lines[0].tax_code", "S"),
            ("lines[0].tax_rate", "19"),
            ("lines[2].quantity", "1"),
            ("lines[2].tax_code", "S"),
        ]));
        assert_eq!(form.lines.len(), 3);
        assert_eq!(form.lines[0].description, "First");
        let read = read(&form, Lang::Fa, None);
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        assert_eq!(read.rows, vec![0, 1]);
        let totals = read.totals.unwrap();
        // 1.5 × 100.00 + 2 × 10.00 = 170.00, 19% tax once: 32.30.
        assert_eq!(totals.lines_net, 17_000);
        assert_eq!(totals.tax, 3_230);
        assert_eq!(totals.total, 20_230);
    }

    #[test]
    fn a_bad_number_is_an_error_next_to_its_row() {
        let form = EditorForm::from_raw(&raw(&[
            ("client_id", "3"),
            ("currency", "IRR"),
            ("issue_date", "2026-12-01"),
            ("lines[0].description", "Rial work"),
            ("lines[0].quantity", "1"),
            ("lines[0].unit_price", "10.5"),
            ("lines[0].tax_code", "S"),
        ]));
        let read = read(&form, Lang::En, None);
        assert!(read.errors.field("lines[0].unit_price").is_some());
        assert!(read.totals.is_none() && read.input.is_none());
    }

    #[test]
    fn service_fields_map_back_to_the_rows_they_came_from() {
        assert_eq!(
            place("lines[1].quantity", &[0, 2]).as_deref(),
            Some("lines[2].quantity")
        );
        assert_eq!(place("due_date", &[]).as_deref(), Some("due_date"));
        assert_eq!(place("lines", &[]), None);
    }
}
