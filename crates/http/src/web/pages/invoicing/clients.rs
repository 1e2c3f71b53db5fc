//! `/clients`, `/clients/new`, `/clients/{id}`: the clients list, the client form (company or
//! individual, tax id, address, language, currency, payment terms), its contacts (one primary),
//! its invoices, its credit and its statement.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::invoices::InvoiceLine;
use super::{
    civil, currency_name, frame, may, money, page_error, refusal, require, IvDone, RawForm,
};
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{normalize_number, Lang, UiText};
use crate::web::pages::{render, View};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebResult};
use saghat_core::auth::service::UserDetails;
use saghat_core::auth::Role;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::invoices::{self, PageAt};
use saghat_core::invoicing::model::Address;
use saghat_core::invoicing::payments::{self, Statement};
use saghat_core::invoicing::service::{self, ClientInput, ContactInput, PortalUserError};
use saghat_core::invoicing::store::{ClientRow, ClientUserRow, ContactRow, ListFilter};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::money::Amount;

const FIELDS: &[&str] = &[
    "kind",
    "name",
    "tax_id",
    "email",
    "street",
    "city",
    "postal_code",
    "country_code",
    "language",
    "currency",
    "payment_terms_days",
    "notes",
    // A checkbox: "1" when ticked, absent (read as "") when not.
    "send_reminders",
];

/// The client form as typed.
#[derive(Clone, Default)]
pub struct ClientForm {
    pub values: HashMap<&'static str, String>,
}

impl ClientForm {
    pub fn get(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_default()
    }

    fn of_raw(raw: &RawForm) -> ClientForm {
        ClientForm {
            values: FIELDS
                .iter()
                .map(|f| (*f, raw.get(f).to_string()))
                .collect(),
        }
    }

    fn of_row(lang: Lang, c: &ClientRow) -> ClientForm {
        let pairs: [(&'static str, String); 13] = [
            ("kind", c.kind.clone()),
            ("name", c.name.clone()),
            ("tax_id", c.tax_id.clone().unwrap_or_default()),
            ("email", c.email.clone().unwrap_or_default()),
            ("street", c.street.clone()),
            ("city", c.city.clone()),
            ("postal_code", c.postal_code.clone()),
            ("country_code", c.country_code.clone()),
            ("language", c.language.clone()),
            ("currency", c.currency.clone()),
            (
                "payment_terms_days",
                lang.digits(&c.payment_terms_days.to_string()),
            ),
            ("notes", c.notes.clone()),
            (
                "send_reminders",
                if c.send_reminders { "1" } else { "" }.into(),
            ),
        ];
        ClientForm {
            values: pairs.into_iter().collect(),
        }
    }

    fn input(&self, lang: Lang) -> Result<ClientInput, FormErrors> {
        let mut errors = FormErrors::default();
        let currency = Currency::parse(&self.get("currency"));
        if currency.is_none() {
            errors.add(Some("currency"), lang.t("required"));
        }
        let terms = normalize_number(&self.get("payment_terms_days"));
        let terms = if terms.is_empty() {
            Some(0)
        } else {
            terms.parse::<i64>().ok()
        };
        if terms.is_none() {
            errors.add(Some("payment_terms_days"), lang.t("iv_bad_number"));
        }
        let opt = |s: String| (!s.trim().is_empty()).then_some(s);
        match (currency, terms) {
            (Some(currency), Some(payment_terms_days)) if errors.is_empty() => Ok(ClientInput {
                kind: self.get("kind"),
                name: self.get("name"),
                tax_id: opt(self.get("tax_id")),
                email: opt(self.get("email")),
                address: Address {
                    street: self.get("street"),
                    city: self.get("city"),
                    postal_code: self.get("postal_code"),
                    country_code: self.get("country_code"),
                },
                language: self.get("language"),
                currency,
                payment_terms_days,
                notes: self.get("notes"),
                send_reminders: !self.get("send_reminders").is_empty(),
            }),
            _ => Err(errors),
        }
    }
}

fn place(field: &str) -> Option<String> {
    FIELDS.contains(&field).then(|| field.to_string())
}

// ---- /clients ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ClientsQuery {
    pub q: String,
    pub page: i64,
    pub done: String,
}

pub struct ClientLine {
    pub id: i64,
    pub name: String,
    pub kind: &'static str,
    pub email: String,
    pub currency: String,
    pub terms: String,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "invoicing_clients.html")]
pub struct ClientsPage {
    pub v: View,
    pub q: String,
    pub clients: Vec<ClientLine>,
    pub count: String,
    pub may_write: bool,
    pub prev: Option<String>,
    pub next: Option<String>,
}

const CLIENTS_PAGE: i64 = 50;

pub async fn list(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(q): Query<ClientsQuery>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadClients)?;
    let lang = prefs.lang;
    let page = q.page.max(0);
    let search = (!q.q.trim().is_empty()).then_some(q.q.trim());
    let (rows, count) = service::list_clients(
        &state,
        &session.user,
        true,
        search,
        CLIENTS_PAGE,
        page * CLIENTS_PAGE,
    )
    .await
    .map_err(page_error)?;
    let query: String = form_urlencoded::byte_serialize(q.q.trim().as_bytes()).collect();
    let href = |p: i64| format!("/clients?q={query}&page={p}");
    let v = frame(
        &state,
        prefs,
        &session,
        "/clients",
        "clients",
        "iv_clients_title",
        IvDone { done: q.done }.notice(),
    );
    render(&ClientsPage {
        clients: rows
            .into_iter()
            .map(|c| ClientLine {
                id: c.id,
                kind: lang.t(if c.kind == "company" {
                    "iv_company"
                } else {
                    "iv_individual"
                }),
                name: c.name,
                email: c.email.unwrap_or_default(),
                currency: currency_name(lang, &c.currency),
                terms: format!("{} {}", lang.int(c.payment_terms_days), lang.t("iv_days")),
                archived: c.archived,
            })
            .collect(),
        count: lang.int(count),
        may_write: may(&session.user, Action::WriteClients),
        prev: (page > 0).then(|| href(page - 1)),
        next: ((page + 1) * CLIENTS_PAGE < count).then(|| href(page + 1)),
        q: q.q,
        v,
    })
}

// ---- /clients/new and /clients/{id} ----

pub struct StatementRow {
    pub date: String,
    pub what: &'static str,
    pub reference: String,
    pub amount: String,
}

pub struct BalanceRow {
    pub currency: String,
    pub opening: String,
    pub invoiced: String,
    pub paid: String,
    pub credited: String,
    pub closing: String,
    pub open_due: String,
    pub credit: String,
}

#[derive(Template)]
#[template(path = "invoicing_client.html")]
pub struct ClientPage {
    pub v: View,
    pub id: Option<i64>,
    pub form: ClientForm,
    pub errors: FormErrors,
    pub may_write: bool,
    pub contacts: Vec<ContactRow>,
    pub contact_errors: FormErrors,
    /// Shown to admins only: the accounts whose portal shows this client.
    pub may_manage_users: bool,
    pub portal_users: Vec<ClientUserRow>,
    pub user_form: PortalUserForm,
    pub user_errors: FormErrors,
    pub rows: Vec<InvoiceLine>,
    pub statement: Vec<StatementRow>,
    pub balances: Vec<BalanceRow>,
    pub period: String,
    pub currencies: Vec<&'static str>,
}

impl ClientPage {
    pub fn val(&self, name: &str) -> String {
        self.form.get(name)
    }
}

/// The statement's rows and balances as people read them.
pub fn statement_rows(lang: Lang, s: &Statement) -> (Vec<StatementRow>, Vec<BalanceRow>) {
    let rows = s
        .lines
        .iter()
        .map(|l| StatementRow {
            date: civil(lang, &l.date),
            what: lang.t(&format!("iv_kind_{}", l.kind)),
            reference: l.reference.clone(),
            amount: format!(
                "{} {}",
                money(lang, &l.currency, l.amount),
                currency_name(lang, &l.currency)
            ),
        })
        .collect();
    let balances = s
        .currencies
        .iter()
        .map(|c| {
            let m = |u: i64| money(lang, &c.currency, u);
            BalanceRow {
                currency: currency_name(lang, &c.currency),
                opening: m(c.opening_balance),
                invoiced: m(c.invoiced),
                paid: m(c.paid),
                credited: m(c.credited + c.refunded),
                closing: m(c.closing_balance),
                open_due: m(c.open_invoices_due),
                credit: m(c.credit),
            }
        })
        .collect();
    (rows, balances)
}

/// This year's statement period: from 1 January (Gregorian) of a year ago to today.
pub fn period(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let from = NaiveDate::from_ymd_opt(today.year() - 1, 1, 1).unwrap_or(today);
    (from, today)
}

pub async fn new_form(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
) -> WebResult<Response> {
    require(&session.user, Action::WriteClients)?;
    let mut form = ClientForm::default();
    for (k, v) in [
        ("kind", "company"),
        ("language", prefs.lang.code()),
        ("currency", "EUR"),
        ("payment_terms_days", "30"),
        ("country_code", "IR"),
        ("send_reminders", "1"),
    ] {
        form.values.insert(k, prefs.lang.digits(v));
    }
    client_page(
        &state,
        prefs,
        &session,
        None,
        form,
        FormErrors::default(),
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn client_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    id: Option<i64>,
    form: ClientForm,
    errors: FormErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    client_page_with(
        state,
        prefs,
        session,
        id,
        form,
        errors,
        Sections::default(),
        notice,
    )
    .await
}

/// The forms below the client's own, with what was typed and refused in them.
#[derive(Default)]
struct Sections {
    contact_errors: FormErrors,
    user_form: PortalUserForm,
    user_errors: FormErrors,
}

#[allow(clippy::too_many_arguments)]
async fn client_page_with(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    id: Option<i64>,
    mut form: ClientForm,
    errors: FormErrors,
    sections: Sections,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let user = &session.user;
    let may_manage_users = super::may(user, Action::ManageUsers);
    let mut portal_users = Vec::new();
    let mut contacts = Vec::new();
    let mut rows = Vec::new();
    let mut statement = Vec::new();
    let mut balances = Vec::new();
    let mut period_text = String::new();
    if let Some(id) = id {
        let (client, found) = service::get_client(state, user, id)
            .await
            .map_err(page_error)?;
        if errors.is_empty() {
            form = ClientForm::of_row(lang, &client);
        }
        contacts = found;
        if may_manage_users {
            portal_users = service::list_client_users(state, user, id)
                .await
                .map_err(page_error)?;
        }
        let filter = ListFilter {
            client_id: Some(id),
            ..ListFilter::default()
        };
        let page = invoices::list(state, user, filter, PageAt::First, 50, false)
            .await
            .map_err(page_error)?;
        let names: HashMap<i64, String> = [(id, client.name.clone())].into_iter().collect();
        rows = page
            .results
            .iter()
            .map(|r| InvoiceLine::of(lang, r, &names))
            .collect();
        let (from, to) = period(super::today(state));
        let s = payments::statement(state, user, id, from, to)
            .await
            .map_err(page_error)?;
        (statement, balances) = statement_rows(lang, &s);
        period_text = format!("{} – {}", lang.civil_date(from), lang.civil_date(to));
    }
    let path = match id {
        Some(id) => format!("/clients/{id}"),
        None => "/clients/new".into(),
    };
    let title = if id.is_some() {
        "iv_client_title"
    } else {
        "iv_client_new"
    };
    let v = frame(state, prefs, session, &path, "clients", title, notice);
    render(&ClientPage {
        may_write: may(user, Action::WriteClients),
        id,
        form,
        errors,
        contacts,
        contact_errors: sections.contact_errors,
        may_manage_users,
        portal_users,
        user_form: sections.user_form,
        user_errors: sections.user_errors,
        rows,
        statement,
        balances,
        period: period_text,
        currencies: Currency::ALL.iter().map(|c| c.code()).collect(),
        v,
    })
}

pub async fn create(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::WriteClients)?;
    let form = ClientForm::of_raw(&raw);
    let input = match form.input(prefs.lang) {
        Ok(i) => i,
        Err(errors) => return client_page(&state, prefs, &session, None, form, errors, None).await,
    };
    match service::create_client(&state, &session.user, &input, &meta).await {
        Ok(row) => Ok(see_other(&format!("/clients/{}?done=client", row.id))),
        Err(e) => {
            let errors = refusal(e, prefs.lang, place)?;
            client_page(&state, prefs, &session, None, form, errors, None).await
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path(id): Path<i64>,
    Query(done): Query<IvDone>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadClients)?;
    client_page(
        &state,
        prefs,
        &session,
        Some(id),
        ClientForm::default(),
        FormErrors::default(),
        done.notice().or_else(|| portal_notice(&done.done)),
    )
    .await
}

/// The notices after a portal user's redirect.
fn portal_notice(done: &str) -> Option<&'static str> {
    match done {
        "portal_user" => Some("pu_done_created"),
        "portal_user_removed" => Some("pu_done_removed"),
        _ => None,
    }
}

pub async fn update(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<i64>,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::WriteClients)?;
    let form = ClientForm::of_raw(&raw);
    let input = match form.input(prefs.lang) {
        Ok(i) => i,
        Err(errors) => {
            return client_page(&state, prefs, &session, Some(id), form, errors, None).await
        }
    };
    match service::update_client(&state, &session.user, id, &input, &meta).await {
        Ok(_) => Ok(see_other(&format!("/clients/{id}?done=client"))),
        Err(e) => {
            let errors = refusal(e, prefs.lang, place)?;
            client_page(&state, prefs, &session, Some(id), form, errors, None).await
        }
    }
}

/// `POST /clients/{id}/contacts`: adds a contact, or changes the one `contact_id` names;
/// with `remove`, removes it.
pub async fn contact(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<i64>,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::WriteClients)?;
    let contact_id = raw.get("contact_id").parse::<i64>().ok();
    if raw.get("op") == "remove" {
        if let Some(cid) = contact_id {
            service::delete_contact(&state, &session.user, id, cid, &meta)
                .await
                .map_err(page_error)?;
            return Ok(see_other(&format!("/clients/{id}?done=contact_removed")));
        }
    }
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
    let input = ContactInput {
        name: raw.get("contact_name").to_string(),
        email: opt(raw.get("contact_email")),
        phone: opt(raw.get("contact_phone")),
        role: raw.get("contact_role").to_string(),
        is_primary: raw.has("contact_primary"),
    };
    match service::save_contact(&state, &session.user, id, contact_id, &input, &meta).await {
        Ok(_) => Ok(see_other(&format!("/clients/{id}?done=contact"))),
        Err(e) => {
            let errors = refusal(e, prefs.lang, |f| match f {
                "name" | "email" | "phone" => Some(format!("contact_{f}")),
                _ => None,
            })?;
            let sections = Sections {
                contact_errors: errors,
                ..Sections::default()
            };
            client_page_with(
                &state,
                prefs,
                &session,
                Some(id),
                ClientForm::default(),
                FormErrors::default(),
                sections,
                None,
            )
            .await
        }
    }
}

// ---- the client's portal users ----

/// The fields of the portal user form, as `auth::service` names them.
const USER_FIELDS: &[&str] = &["username", "password", "first_name", "last_name", "email"];

/// A new portal user as the admin typed it (the password is never shown again).
#[derive(Clone, Default)]
pub struct PortalUserForm {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// `POST /clients/{id}/users`: creates a `client` user whose portal shows this client (admins
/// only), the account and its link in one transaction.
pub async fn create_user(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<i64>,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::ManageUsers)?;
    let lang = prefs.lang;
    let typed = PortalUserForm {
        username: raw.get("username").trim().to_string(),
        first_name: raw.get("first_name").trim().to_string(),
        last_name: raw.get("last_name").trim().to_string(),
        email: raw.get("email").trim().to_string(),
    };
    let details = UserDetails {
        username: typed.username.clone(),
        password: raw.get("password").to_string(),
        first_name: typed.first_name.clone(),
        last_name: typed.last_name.clone(),
        email: typed.email.clone(),
        role: Role::Client,
        loan_request_amount: Amount::ZERO,
    };
    let user_errors =
        match service::create_portal_user(&state, &session.user, id, details, &meta).await {
            Ok(_) => {
                return Ok(see_other(&format!(
                    "/clients/{id}?done=portal_user#iv-portal-users"
                )))
            }
            Err(PortalUserError::Auth(e)) => FormErrors::from_api(e, lang, USER_FIELDS)?,
            Err(PortalUserError::Invoicing(e)) => refusal(e, lang, |_| None)?,
        };
    let sections = Sections {
        user_form: typed,
        user_errors,
        ..Sections::default()
    };
    client_page_with(
        &state,
        prefs,
        &session,
        Some(id),
        ClientForm::default(),
        FormErrors::default(),
        sections,
        None,
    )
    .await
}

/// `POST /clients/{id}/users/{user}/unlink`: takes the user off this client's portal and
/// deactivates the account (see `service::unlink_client_user` for why).
pub async fn unlink_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path((id, user_id)): Path<(i64, i64)>,
    CsrfForm(session, _raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::ManageUsers)?;
    service::unlink_client_user(&state, &session.user, id, user_id, &meta)
        .await
        .map_err(page_error)?;
    Ok(see_other(&format!(
        "/clients/{id}?done=portal_user_removed#iv-portal-users"
    )))
}
