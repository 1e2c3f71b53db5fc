//! The recurring invoices' pages (`/invoices/recurring`): the templates with their schedule in
//! words, next run in the reader's calendar and one period's total (from `Invoice::totals`
//! through the template's invoice model), a form per template with the invoice editor's line
//! rows and form reading, pause, resume and delete, and the invoices each one made.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;

use super::editor::{self, EditorForm, LineForm, TotalsView};
use super::pick::Choice;
use super::{frame, money, refusal, require, status_name, RawForm};
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{normalize_number, Lang, UiText};
use crate::web::pages::{render, View};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebResult};
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::calendar::Calendar;
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::model::{Percent, Quantity, TaxCode, Unit};
use saghat_core::invoicing::recurring::{
    self, RecurringDetail, RecurringInput, Template as InvoiceTemplate, TemplateLine,
    TEMPLATE_HAS_INVOICES,
};

use saghat_core::invoicing::store;
use saghat_core::platform::audit::RequestMeta;

/// "Every month on day 5 (Jalali)".
fn schedule_words(lang: Lang, calendar: Calendar, day: i64) -> String {
    let calendar = match calendar {
        Calendar::Jalali => lang.t("iv_rec_jalali"),
        Calendar::Gregorian => lang.t("iv_rec_gregorian"),
    };
    format!(
        "{} ({calendar})",
        lang.t("iv_rec_every_month")
            .replace("{day}", &lang.int(day))
    )
}

fn civil(lang: Lang, stored: &str) -> String {
    NaiveDate::parse_from_str(stored, "%Y-%m-%d")
        .map(|d| lang.civil_date(d))
        .unwrap_or_else(|_| stored.to_string())
}

/// A template as its list shows it.
pub struct Row {
    pub id: i64,
    pub client: String,
    pub schedule: String,
    pub next_run: String,
    pub active: bool,
    pub total: String,
    pub made: String,
}

impl Row {
    fn of(lang: Lang, d: &RecurringDetail) -> Row {
        Row {
            id: d.row.id,
            client: d.client_name.clone(),
            schedule: schedule_words(lang, d.calendar, d.row.day_of_month),
            next_run: civil(lang, &d.row.next_run),
            active: d.row.active,
            total: money(lang, d.currency.code(), d.totals.total),
            made: lang.int(d.invoices_made),
        }
    }
}

#[derive(Template)]
#[template(path = "invoicing_recurring_list.html")]
pub struct ListPage {
    pub v: View,
    pub rows: Vec<Row>,
    pub may_write: bool,
}

/// `?done=…` after a recurring page's redirect.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Done {
    pub done: String,
}

impl Done {
    fn notice(&self) -> Option<&'static str> {
        Some(match self.done.as_str() {
            "saved" => "iv_rec_done_saved",
            "paused" => "iv_rec_done_paused",
            "resumed" => "iv_rec_done_resumed",
            "deleted" => "iv_rec_done_deleted",
            _ => return None,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadRecurring)?;
    let (details, _) = recurring::list_recurring(&state, &session.user, None, 500, 0)
        .await
        .map_err(super::page_error)?;
    let v = frame(
        &state,
        prefs,
        &session,
        "/invoices/recurring",
        "invoices",
        "iv_rec_title",
        done.notice(),
    );
    render(&ListPage {
        rows: details.iter().map(|d| Row::of(prefs.lang, d)).collect(),
        may_write: super::may(&session.user, Action::ManageRecurring),
        v,
    })
}

/// The schedule's fields as typed; the lines, discount and notes are the editor's form.
#[derive(Clone, Default, Debug)]
pub struct ScheduleForm {
    pub calendar: String,
    pub day_of_month: String,
    pub next_run: String,
    pub due_in_days: String,
    pub auto_send: bool,
}

impl ScheduleForm {
    fn from_raw(raw: &RawForm) -> ScheduleForm {
        ScheduleForm {
            calendar: raw.get("calendar").to_string(),
            day_of_month: raw.get("day_of_month").to_string(),
            next_run: raw.get("next_run").to_string(),
            due_in_days: raw.get("due_in_days").to_string(),
            auto_send: raw.has("auto_send"),
        }
    }
}

/// An invoice a template made, as its page lists it.
pub struct MadeRow {
    pub id: String,
    pub number: String,
    pub issued: String,
    pub status: String,
    pub status_name: String,
    pub total: String,
}

#[derive(Template)]
#[template(path = "invoicing_recurring_form.html")]
pub struct FormPage {
    pub v: View,
    pub id: Option<i64>,
    pub action: String,
    pub may_write: bool,
    pub active: bool,
    pub schedule_words: String,
    pub next_run_words: String,
    pub form: EditorForm,
    pub schedule: ScheduleForm,
    pub errors: FormErrors,
    /// The client chooser: the chosen one and the matches of `form.client_q`.
    pub clients: Vec<Choice>,
    pub units: Vec<(&'static str, String)>,
    pub taxes: Vec<(&'static str, &'static str)>,
    pub totals: TotalsView,
    /// Empty: the rows show their amounts in their legends.
    pub line_amounts: Vec<(usize, String)>,
    pub made: Vec<MadeRow>,
}

impl FormPage {
    pub fn line_error(&self, i: &&usize, name: &str) -> Option<String> {
        self.errors
            .field(&format!("lines[{i}].{name}"))
            .map(str::to_string)
    }
}

/// The form of a stored template.
fn form_of(lang: Lang, d: &RecurringDetail) -> (EditorForm, ScheduleForm) {
    let currency = d.currency;
    let t = &d.template;
    let (discount_kind, discount) = editor::discount_fields(
        lang,
        currency,
        store::discount_of(t.discount_kind.as_deref(), t.discount_value),
    );
    let lines = t
        .lines
        .iter()
        .map(|l| {
            let (discount_kind, discount) = editor::discount_fields(
                lang,
                currency,
                store::discount_of(l.discount_kind.as_deref(), l.discount_value),
            );
            let product = l.product_id.map(|p| p.to_string()).unwrap_or_default();
            LineForm {
                product_prev: product.clone(),
                product_id: product,
                description: l.description.clone(),
                quantity: lang.digits(&Quantity(l.quantity).to_string()),
                unit: l.unit.clone(),
                unit_price: lang.digits(&currency.format(i128::from(l.unit_price))),
                discount_kind,
                discount,
                tax_code: l.tax_code.clone(),
                tax_rate: lang.digits(&Percent(l.tax_rate).to_string()),
                amount: String::new(),
                remove: false,
                product_q: String::new(),
                choices: Vec::new(),
            }
        })
        .collect();
    let form = EditorForm {
        client_id: d.row.client_id.to_string(),
        client_q: String::new(),
        currency: currency.code().into(),
        issue_date: d.row.next_run.clone(),
        due_date: String::new(),
        prices_include_tax: t.prices_include_tax,
        discount_kind,
        discount,
        notes: t.notes.clone(),
        terms: t.terms.clone(),
        lines,
    };
    let schedule = ScheduleForm {
        calendar: d.row.calendar.clone(),
        day_of_month: lang.int(d.row.day_of_month),
        next_run: d.row.next_run.clone(),
        due_in_days: t.due_in_days.map(|n| lang.int(n)).unwrap_or_default(),
        auto_send: d.row.auto_send,
    };
    (form, schedule)
}

struct Frame<'a> {
    state: &'a AppState,
    prefs: Prefs,
    session: &'a Session,
    id: Option<i64>,
    notice: Option<&'static str>,
}

/// The template page: the form for those who write, the template read-only for viewers,
/// and (for a stored one) the invoices it made.
async fn page(
    f: Frame<'_>,
    mut form: EditorForm,
    schedule: ScheduleForm,
    mut errors: FormErrors,
) -> WebResult<Response> {
    let lang = f.prefs.lang;
    let user = &f.session.user;
    let may_write = super::may(user, Action::ManageRecurring);
    let stored = match f.id {
        Some(id) => Some(
            recurring::get_recurring(f.state, user, id)
                .await
                .map_err(super::page_error)?,
        ),
        None => None,
    };
    let made = match f.id {
        Some(id) => {
            recurring::recurring_invoices_made(f.state, user, id, 100, 0)
                .await
                .map_err(super::page_error)?
                .0
        }
        None => Vec::new(),
    };
    let (clients, client) = editor::choose(f.state, f.session, lang, &mut form).await?;
    if form.currency.is_empty() {
        if let Some(c) = &client {
            form.currency = c.currency.clone();
        }
    }
    let read = editor::read(&form, lang, client.as_ref());
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
    let path = match f.id {
        Some(id) => format!("/invoices/recurring/{id}"),
        None => "/invoices/recurring/new".to_string(),
    };
    let title = if f.id.is_some() {
        "iv_rec_edit_title"
    } else {
        "iv_rec_new_title"
    };
    let v = frame(
        f.state, f.prefs, f.session, &path, "invoices", title, f.notice,
    );
    render(&FormPage {
        id: f.id,
        action: path,
        may_write,
        active: stored.as_ref().is_some_and(|d| d.row.active),
        schedule_words: stored
            .as_ref()
            .map(|d| schedule_words(lang, d.calendar, d.row.day_of_month))
            .unwrap_or_default(),
        next_run_words: stored
            .as_ref()
            .map(|d| civil(lang, &d.row.next_run))
            .unwrap_or_default(),
        clients,
        units: Unit::ALL
            .iter()
            .map(|u| (u.code(), super::unit_name(lang, u.code())))
            .collect(),
        taxes: TaxCode::ALL
            .iter()
            .map(|c| (c.code(), super::tax_name(lang, c.code())))
            .collect(),
        totals,
        line_amounts: Vec::new(),
        made: made
            .into_iter()
            .map(|i| MadeRow {
                number: i
                    .number
                    .clone()
                    .unwrap_or_else(|| lang.t("iv_status_draft").to_string()),
                issued: civil(lang, &i.issue_date),
                status_name: status_name(lang, &i.status).to_string(),
                total: money(lang, &i.currency, i.total),
                status: i.status,
                id: i.id,
            })
            .collect(),
        form,
        schedule,
        errors,
        v,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    pub client: String,
    /// An invoice whose lines the new template starts from ("Make recurring").
    pub from: String,
}

pub async fn new_form(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(q): Query<NewQuery>,
) -> WebResult<Response> {
    require(&session.user, Action::ManageRecurring)?;
    let lang = prefs.lang;
    let today = super::today(&state);
    let mut form = EditorForm {
        client_id: q.client,
        lines: vec![LineForm::blank(lang)],
        ..EditorForm::default()
    };
    if !q.from.is_empty() {
        let detail = saghat_core::invoicing::invoices::get(&state, &session.user, &q.from)
            .await
            .map_err(super::page_error)?;
        form = EditorForm::of_draft(lang, &detail);
        form.currency.clear();
    }
    form.issue_date = today.format("%Y-%m-%d").to_string();
    let schedule = ScheduleForm {
        calendar: match lang {
            Lang::Fa => "jalali".into(),
            Lang::En => "gregorian".into(),
        },
        day_of_month: lang.int(i64::from(chrono::Datelike::day(&today))),
        ..ScheduleForm::default()
    };
    let f = Frame {
        state: &state,
        prefs,
        session: &session,
        id: None,
        notice: None,
    };
    page(f, form, schedule, FormErrors::default()).await
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadRecurring)?;
    let detail = recurring::get_recurring(&state, &session.user, id)
        .await
        .map_err(super::page_error)?;
    let (form, schedule) = form_of(prefs.lang, &detail);
    let f = Frame {
        state: &state,
        prefs,
        session: &session,
        id: Some(id),
        notice: done.notice(),
    };
    page(f, form, schedule, FormErrors::default()).await
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
    Path(id): Path<i64>,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    submit(&state, prefs, &meta, &session, Some(id), &raw).await
}

/// The page's field for a service field: a line's is the row it came from.
fn place(field: &str, rows: &[usize]) -> Option<String> {
    if let Some(rest) = field.strip_prefix("lines[") {
        let (index, name) = rest.split_once("].")?;
        let row = rows.get(index.parse::<usize>().ok()?)?;
        return Some(format!("lines[{row}].{name}"));
    }
    matches!(
        field,
        "client_id" | "day_of_month" | "next_run" | "due_in_days" | "discount"
    )
    .then(|| field.to_string())
}

/// The schedule's own fields read, each bad one next to itself.
fn read_schedule(
    s: &ScheduleForm,
    lang: Lang,
    errors: &mut FormErrors,
) -> Option<(Calendar, u8, Option<NaiveDate>, Option<i64>)> {
    let calendar = Calendar::parse(&s.calendar);
    if calendar.is_none() {
        errors.add(Some("calendar"), lang.t("required"));
    }
    let day = normalize_number(&s.day_of_month)
        .parse::<u8>()
        .ok()
        .filter(|d| (1..=31).contains(d));
    if day.is_none() {
        errors.add(Some("day_of_month"), lang.t("iv_rec_bad_day"));
    }
    let next_run = if s.next_run.trim().is_empty() {
        Some(None)
    } else {
        NaiveDate::parse_from_str(s.next_run.trim(), "%Y-%m-%d")
            .ok()
            .map(Some)
    };
    if next_run.is_none() {
        errors.add(Some("next_run"), lang.t("iv_bad_date"));
    }
    let due_text = normalize_number(&s.due_in_days);
    let due = if due_text.is_empty() {
        Some(None)
    } else {
        due_text
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=365).contains(d))
            .map(Some)
    };
    if due.is_none() {
        errors.add(Some("due_in_days"), lang.t("iv_rec_bad_due"));
    }
    Some((calendar?, day?, next_run?, due?))
}

/// The form's buttons: recalculate, add a row, save (rows ticked "remove" dropped first).
async fn submit(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    session: &Session,
    id: Option<i64>,
    raw: &RawForm,
) -> WebResult<Response> {
    require(&session.user, Action::ManageRecurring)?;
    let lang = prefs.lang;
    let mut form = EditorForm::from_raw(raw);
    form.lines.retain(|l| !l.remove);
    let schedule = ScheduleForm::from_raw(raw);
    // The lines are read as an invoice issued on the next run (or today).
    form.issue_date = NaiveDate::parse_from_str(schedule.next_run.trim(), "%Y-%m-%d")
        .unwrap_or_else(|_| super::today(state))
        .format("%Y-%m-%d")
        .to_string();
    form.currency.clear();
    let f = Frame {
        state,
        prefs,
        session,
        id,
        notice: None,
    };
    let op = raw.get("op");
    if op == "add" {
        if form.lines.len() < editor::MAX_LINES {
            form.lines.push(LineForm::blank(lang));
        }
        return page(f, form, schedule, FormErrors::default()).await;
    }
    if op != "save" {
        return page(f, form, schedule, FormErrors::default()).await;
    }
    let client = editor::client_of(state, session, &form.client_id).await;
    let read = editor::read(&form, lang, client.as_ref());
    // Its issue date is always a date and its currency the client's: no error is theirs.
    let mut errors = read.errors.clone();
    let parsed = read_schedule(&schedule, lang, &mut errors);
    let (Some(draft), Some((calendar, day_of_month, next_run, due_in_days))) = (read.input, parsed)
    else {
        return page(f, form, schedule, errors).await;
    };
    if !errors.is_empty() {
        return page(f, form, schedule, errors).await;
    }
    let (discount_kind, discount_value) = store::discount_columns(draft.discount);
    let input = RecurringInput {
        client_id: draft.client_id,
        template: InvoiceTemplate {
            lines: draft.lines.iter().map(TemplateLine::from_line).collect(),
            discount_kind: discount_kind.map(Into::into),
            discount_value,
            prices_include_tax: draft.prices_include_tax,
            notes: draft.notes.trim().to_string(),
            terms: draft.terms.trim().to_string(),
            due_in_days,
        },
        calendar,
        day_of_month,
        first_run: next_run,
        auto_send: schedule.auto_send,
    };
    let saved = match id {
        None => recurring::create_recurring(state, &session.user, &input, meta).await,
        Some(id) => recurring::update_recurring(state, &session.user, id, &input, meta).await,
    };
    match saved {
        Ok(row) => Ok(see_other(&format!(
            "/invoices/recurring/{}?done=saved",
            row.id
        ))),
        Err(e) => {
            let errors = refused(e, lang, |field| place(field, &read.rows))?;
            page(f, form, schedule, errors).await
        }
    }
}

/// A refusal as the form's errors, in the reader's language for the messages only this
/// module's service gives.
fn refused(
    err: InvoicingError,
    lang: Lang,
    place: impl Fn(&str) -> Option<String>,
) -> WebResult<FormErrors> {
    if let InvoicingError::Invalid { field, message } = &err {
        let key = match message.as_str() {
            TEMPLATE_HAS_INVOICES => Some("iv_rec_has_invoices"),
            "A template needs at least one line." => Some("iv_rec_no_lines"),
            "The client is archived." => Some("iv_rec_client_archived"),
            m if m.starts_with("The template already made the invoice") => {
                Some("iv_rec_month_made")
            }
            m if m.starts_with("The template has made invoices for its client") => {
                Some("iv_rec_client_fixed")
            }
            _ => None,
        };
        if let Some(key) = key {
            let mut errors = FormErrors::default();
            errors.add(place(field).as_deref(), lang.t(key));
            return Ok(errors);
        }
    }
    refusal(err, lang, place)
}

/// `POST /invoices/recurring/{id}/{pause|resume|delete}`.
pub async fn act(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path((id, action)): Path<(i64, String)>,
    CsrfForm(session, _raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::ManageRecurring)?;
    let user = &session.user;
    let done = match action.as_str() {
        "pause" | "resume" => {
            recurring::set_recurring_active(&state, user, id, action == "resume", &meta).await
        }
        "delete" => recurring::delete_recurring(&state, user, id, &meta).await,
        _ => return Err(crate::error::ApiError::not_found("not found").into()),
    };
    match done {
        Ok(()) if action == "delete" => Ok(see_other("/invoices/recurring?done=deleted")),
        Ok(()) => Ok(see_other(&format!(
            "/invoices/recurring/{id}?done={}",
            if action == "pause" {
                "paused"
            } else {
                "resumed"
            }
        ))),
        Err(e) => {
            let errors = refused(e, prefs.lang, |_| None)?;
            let detail = recurring::get_recurring(&state, user, id)
                .await
                .map_err(super::page_error)?;
            let (form, schedule) = form_of(prefs.lang, &detail);
            let f = Frame {
                state: &state,
                prefs,
                session: &session,
                id: Some(id),
                notice: None,
            };
            page(f, form, schedule, errors).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_in_words_in_either_language() {
        assert_eq!(
            schedule_words(Lang::En, Calendar::Jalali, 5),
            "Every month on day 5 (Jalali)"
        );
        assert_eq!(
            schedule_words(Lang::Fa, Calendar::Jalali, 15),
            "هر ماه، روز ۱۵ (شمسی)"
        );
    }

    #[test]
    fn bad_schedule_fields_are_errors_next_to_them() {
        let mut errors = FormErrors::default();
        let s = ScheduleForm {
            calendar: "jalali".into(),
            day_of_month: "۳۲".into(),
            next_run: "soon".into(),
            due_in_days: "۱۰".into(),
            auto_send: false,
        };
        assert!(read_schedule(&s, Lang::Fa, &mut errors).is_none());
        assert!(errors.field("day_of_month").is_some());
        assert!(errors.field("next_run").is_some());
        assert!(errors.field("due_in_days").is_none());
        let mut errors = FormErrors::default();
        let s = ScheduleForm {
            day_of_month: "۵".into(),
            next_run: String::new(),
            ..s
        };
        assert_eq!(
            read_schedule(&s, Lang::Fa, &mut errors),
            Some((Calendar::Jalali, 5, None, Some(10)))
        );
    }
}
