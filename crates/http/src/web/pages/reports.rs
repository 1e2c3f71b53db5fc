//! The report pages: `/reports/invoicing`, `/reports/fund`, `/reports/tickets` and
//! `/reports/statement`. Each shows its report's figures with a bar chart and its tables,
//! filtered by period (and, where they apply, calendar, currency, client or member), and offers
//! the same figures as files (`?format=csv|xlsx|pdf`: the API's own answer, under the page's
//! session). Tabs lead to the other reports the reader may read.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::invoicing::pick::{client_choices, Choice};
use super::{render, Page, View};
use crate::error::ApiError;
use crate::reports::api::{fund_answer, invoicing_answer, statement_answer, tickets_answer};
use crate::reports::documents::{self, month_label};
use crate::reports::files::shown;
use crate::reports::params::{self, Format};
use crate::state::AppState;
use crate::web::bars::{self, Bar, SERIES};
use crate::web::chart::{NARROW, WIDE};
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{Prefs, Session, WebResult};
use saghat_core::auth::CurrentUser;
use saghat_core::invoicing::calendar::Calendar;
use saghat_core::platform::currency::Currency;
use saghat_core::reports::access::{may_read, reads_every_statement, Report};
use saghat_core::reports::invoicing::{self, InvoicingReport};
use saghat_core::reports::period::Month;
use saghat_core::reports::table::{Cell, Document};
use saghat_core::reports::{fund, tickets, ReportError};

/// A table as the page shows it: cells already written out, numbers marked to align.
pub struct ShownTable {
    pub name: String,
    pub title: String,
    pub columns: Vec<(String, bool)>,
    /// (text, a number, a name kept apart from the page's direction).
    pub rows: Vec<Vec<(String, bool, bool)>>,
    pub csv_href: String,
}

/// The filter form's values, as asked (or as defaulted).
#[derive(Default)]
pub struct FilterValues {
    pub calendar: String,
    pub from: String,
    pub to: String,
    pub currency: String,
    pub member: String,
    pub client_id: String,
}

/// Which filters a report's form has.
#[derive(Default)]
pub struct Filters {
    pub calendar: bool,
    pub currency_and_client: bool,
    pub member: bool,
}

pub struct Chart {
    pub title: &'static str,
    /// The currency the bars are amounts of (empty: they count).
    pub unit: String,
    pub svg: String,
    pub svg_narrow: String,
    pub legend: Vec<(&'static str, &'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "reports_page.html")]
pub struct ReportPage {
    pub v: View,
    pub heading: &'static str,
    pub action: &'static str,
    pub tabs: Vec<(&'static str, &'static str, bool)>,
    pub filters: Filters,
    pub f: FilterValues,
    pub clients: Vec<Choice>,
    pub currencies: Vec<(&'static str, &'static str)>,
    pub error: Option<String>,
    pub subtitle: String,
    pub chart: Option<Chart>,
    pub tables: Vec<ShownTable>,
    pub xlsx_href: String,
    pub pdf_href: String,
    /// The long-export form (invoicing's registers), with the report's filters.
    pub export: Option<FilterValues>,
}

/// The reports `user` may read, and their exports, as tabs: (path, title key).
pub fn readable(user: &CurrentUser) -> Vec<(&'static str, &'static str)> {
    [
        (Report::Fund, "/reports/fund", "rp_fund_title"),
        (
            Report::Invoicing,
            "/reports/invoicing",
            "rp_invoicing_title",
        ),
        (Report::Tickets, "/reports/tickets", "rp_tickets_title"),
        (
            Report::Statement,
            "/reports/statement",
            "rp_statement_title",
        ),
    ]
    .into_iter()
    .filter(|(r, _, _)| may_read(user.role, *r))
    .map(|(_, path, key)| (path, key))
    // Long exports are invoicing's registers: for those who read invoicing.
    .chain(
        may_read(user.role, Report::Invoicing).then_some(("/reports/exports", "rp_exports_title")),
    )
    .collect()
}

/// `path?…` with the page's own filters, and `extra` appended.
fn query(path: &str, params: &HashMap<String, String>, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> =
        ["calendar", "from", "to", "currency", "client_id", "member"]
            .iter()
            .filter_map(|k| {
                params
                    .get(*k)
                    .map(|v| (*k, v.as_str()))
                    .filter(|(_, v)| !v.is_empty())
            })
            .collect();
    pairs.extend_from_slice(extra);
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    format!("{path}?{}", out.finish())
}

/// A month in its form field: `1405-09`, or in Persian `۱۴۰۵/۰۹` (with a hyphen, Persian
/// digits would be laid out right to left, the month first).
fn month_field(lang: Lang, month: Month) -> String {
    let key = month.key();
    match lang {
        Lang::En => key,
        Lang::Fa => lang.digits(&key.replace('-', "/")),
    }
}

fn shown_tables(
    path: &str,
    doc: &Document,
    lang: Lang,
    params: &HashMap<String, String>,
) -> Vec<ShownTable> {
    doc.tables
        .iter()
        .map(|t| {
            let numeric = t.numeric_columns();
            ShownTable {
                name: t.name.clone(),
                title: t.title.clone(),
                columns: t
                    .columns
                    .iter()
                    .cloned()
                    .zip(numeric.iter().copied())
                    .collect(),
                rows: t
                    .rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .zip(&numeric)
                            .map(|(c, num)| (shown(c, lang), *num, matches!(c, Cell::Name(_))))
                            .collect()
                    })
                    .collect(),
                csv_href: query(
                    path,
                    params,
                    &[("format", "csv"), ("table", &t.name), ("lang", lang.code())],
                ),
            }
        })
        .collect()
}

/// Two bars a month, `places` decimal places in the values.
fn chart(
    lang: Lang,
    title: &'static str,
    unit: String,
    legend: [&'static str; 2],
    places: u32,
    months: Vec<(String, [i128; 2])>,
) -> Option<Chart> {
    if months.is_empty() || months.iter().all(|(_, v)| v[0] == 0 && v[1] == 0) {
        return None;
    }
    let bars: Vec<Bar> = months
        .into_iter()
        .map(|(name, values)| {
            let (month, year) = name
                .rsplit_once(' ')
                .map_or((name.clone(), String::new()), |(m, y)| {
                    (m.to_owned(), y.to_owned())
                });
            Bar {
                label: (month, year),
                values,
            }
        })
        .collect();
    Some(Chart {
        title,
        unit,
        svg: bars::svg(&bars, places, lang, lang.t(title), WIDE),
        svg_narrow: bars::svg(&bars, places, lang, lang.t(title), NARROW),
        legend: [
            (legend[0], SERIES[0].0, SERIES[0].1),
            (legend[1], SERIES[1].0, SERIES[1].1),
        ]
        .to_vec(),
    })
}

/// A file asked for (`format` other than JSON): the API's answer.
fn wants_file(params: &HashMap<String, String>) -> bool {
    params
        .get("format")
        .filter(|f| !f.is_empty())
        .is_some_and(|f| Format::parse(Some(f)).is_ok_and(|f| f != Format::Json))
}

/// What `parse` reads from `params`, or, when a filter is refused, its defaults and the
/// refusal to show above the form.
fn asked_or_default<T>(
    params: &HashMap<String, String>,
    parse: impl Fn(&HashMap<String, String>) -> Result<T, ReportError>,
) -> WebResult<(T, Option<String>)> {
    match parse(params) {
        Ok(asked) => Ok((asked, None)),
        Err(ReportError::Invalid { message, .. }) => Ok((
            parse(&HashMap::new()).map_err(ApiError::from)?,
            Some(message),
        )),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// The page around a report's document.
fn page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    (path, heading): (&'static str, &'static str),
    params: &HashMap<String, String>,
    doc: Document,
    error: Option<String>,
) -> ReportPage {
    let lang = prefs.lang;
    let mut v = View::new(
        state,
        prefs,
        Some(session),
        Page {
            path,
            active: "reports",
            title: heading,
            notice: None,
        },
    );
    let other = match lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = query(path, params, &[("lang", other.code())]);
    ReportPage {
        v,
        heading,
        action: path,
        tabs: readable(&session.user)
            .into_iter()
            .map(|(p, key)| (p, key, p == path))
            .collect(),
        filters: Filters::default(),
        f: FilterValues::default(),
        clients: vec![],
        currencies: vec![],
        error,
        subtitle: doc.subtitle.clone(),
        chart: None,
        tables: shown_tables(path, &doc, lang, params),
        xlsx_href: query(path, params, &[("format", "xlsx"), ("lang", lang.code())]),
        pdf_href: query(path, params, &[("format", "pdf"), ("lang", lang.code())]),
        export: None,
    }
}

fn forbidden() -> crate::web::session::WebError {
    ApiError::Forbidden("You may not read this report".into()).into()
}

/// The chart's currency: the one filtered to, else the one with the most invoices.
fn chart_currency(report: &InvoicingReport) -> Option<Currency> {
    report.currency.or_else(|| {
        let mut counts: HashMap<Currency, i64> = HashMap::new();
        for r in &report.monthly {
            *counts.entry(r.currency).or_default() += r.invoices + r.payments;
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(c, _)| c)
    })
}

pub async fn invoicing(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(params): Query<HashMap<String, String>>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    if !may_read(session.user.role, Report::Invoicing) {
        return Err(forbidden());
    }
    if wants_file(&params) {
        return Ok(invoicing_answer(&state, &session.user, &params, lang).await?);
    }
    let today = saghat_core::invoicing::reminder_job::today(&state);
    let (asked, error) = asked_or_default(&params, |p| params::invoicing(p, today, lang))?;
    let report = invoicing::report(&state, &session.user, &asked.filter)
        .await
        .map_err(ApiError::from)?;
    let client = crate::reports::api::client_name(&state, asked.filter.client_id).await?;
    let doc = documents::invoicing(&report, lang, client.as_deref());
    let calendar = asked.filter.period.calendar;
    let currency = chart_currency(&report);
    let mut page = page(
        &state,
        prefs,
        &session,
        ("/reports/invoicing", "rp_invoicing_title"),
        &params,
        doc,
        error,
    );
    page.chart = currency.and_then(|c| {
        chart(
            lang,
            "rp_chart_title",
            lang.currency(c).to_owned(),
            ["rp_net_invoiced", "rp_collected"],
            c.minor_units(),
            report
                .monthly
                .iter()
                .filter(|r| r.currency == c)
                .map(|r| {
                    (
                        month_label(calendar, &r.month, lang),
                        [r.net_invoiced.units, r.collected.units],
                    )
                })
                .collect(),
        )
    });
    page.filters = Filters {
        calendar: true,
        currency_and_client: true,
        member: false,
    };
    let period = asked.filter.period;
    page.f = FilterValues {
        calendar: calendar.as_str().into(),
        from: month_field(lang, period.from),
        to: month_field(lang, period.to),
        currency: asked
            .filter
            .currency
            .map(|c| c.code().to_owned())
            .unwrap_or_default(),
        ..FilterValues::default()
    };
    page.export = Some(FilterValues {
        calendar: calendar.as_str().into(),
        from: period.from.key(),
        to: period.to.key(),
        currency: page.f.currency.clone(),
        member: String::new(),
        client_id: asked
            .filter
            .client_id
            .map_or_else(String::new, |id| id.to_string()),
    });
    page.clients = client_choices(
        &state,
        &session.user,
        asked.filter.client_id,
        params.get("client_q").map_or("", String::as_str),
    )
    .await?;
    page.currencies = Currency::ALL
        .iter()
        .map(|c| (c.code(), lang.currency(*c)))
        .collect();
    render(&page)
}

pub async fn fund(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(params): Query<HashMap<String, String>>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    if !may_read(session.user.role, Report::Fund) {
        return Err(forbidden());
    }
    if wants_file(&params) {
        return Ok(fund_answer(&state, &session.user, &params, lang).await?);
    }
    let today = saghat_core::invoicing::reminder_job::today(&state);
    let (asked, error) = asked_or_default(&params, |p| params::fund(p, today, lang))?;
    let report = fund::report(&state, &session.user, asked.period)
        .await
        .map_err(ApiError::from)?;
    let doc = documents::fund(&report, lang);
    let mut page = page(
        &state,
        prefs,
        &session,
        ("/reports/fund", "rp_fund_title"),
        &params,
        doc,
        error,
    );
    page.chart = chart(
        lang,
        "rp_fund_chart",
        lang.currency(Currency::Usdt).to_owned(),
        ["rp_paid_in", "rp_lent"],
        Currency::Usdt.minor_units(),
        report
            .months
            .iter()
            .map(|m| {
                (
                    month_label(Calendar::Jalali, &m.month, lang),
                    [m.fees.units + m.repayments.units, m.lent.units],
                )
            })
            .collect(),
    );
    page.f = FilterValues {
        from: month_field(lang, asked.period.from),
        to: month_field(lang, asked.period.to),
        ..FilterValues::default()
    };
    render(&page)
}

pub async fn tickets(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(params): Query<HashMap<String, String>>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    if !may_read(session.user.role, Report::Tickets) {
        return Err(forbidden());
    }
    if wants_file(&params) {
        return Ok(tickets_answer(&state, &session.user, &params, lang).await?);
    }
    let today = saghat_core::invoicing::reminder_job::today(&state);
    let (asked, error) = asked_or_default(&params, |p| params::invoicing(p, today, lang))?;
    let period = asked.filter.period;
    let report = tickets::report(&state, &session.user, &period)
        .await
        .map_err(ApiError::from)?;
    let doc = documents::tickets(&report, lang);
    let mut page = page(
        &state,
        prefs,
        &session,
        ("/reports/tickets", "rp_tickets_title"),
        &params,
        doc,
        error,
    );
    page.chart = chart(
        lang,
        "rp_tickets_chart",
        String::new(),
        ["rp_submitted", "rp_approved"],
        0,
        report
            .months
            .iter()
            .map(|m| {
                (
                    month_label(period.calendar, &m.month, lang),
                    [i128::from(m.submitted), i128::from(m.approved)],
                )
            })
            .collect(),
    );
    page.filters.calendar = true;
    page.f = FilterValues {
        calendar: period.calendar.as_str().into(),
        from: month_field(lang, period.from),
        to: month_field(lang, period.to),
        ..FilterValues::default()
    };
    render(&page)
}

/// The member a statement page is for: `member` (a username, for those who read everyone's),
/// else the reader.
async fn statement_member(
    state: &AppState,
    user: &CurrentUser,
    params: &mut HashMap<String, String>,
) -> WebResult<Result<(), String>> {
    let Some(name) = params
        .get("member")
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
    else {
        return Ok(Ok(()));
    };
    if !reads_every_statement(user.role) {
        return Err(forbidden());
    }
    let mut conn = state.db.pool.acquire().await?;
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username_key = $1")
        .bind(name.to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match id {
        Some(id) => {
            params.insert("user_id".into(), id.to_string());
            Ok(())
        }
        None => Err(name),
    })
}

pub async fn statement(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(mut params): Query<HashMap<String, String>>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    if !may_read(session.user.role, Report::Statement) {
        return Err(forbidden());
    }
    // The API's `user_id` is set from the page's `member`, never taken from the page's query.
    params.remove("user_id");
    let unknown = statement_member(&state, &session.user, &mut params).await?;
    if wants_file(&params) && unknown.is_ok() {
        return Ok(statement_answer(&state, &session.user, &params, lang).await?);
    }
    let today = saghat_core::invoicing::reminder_job::today(&state);
    let (asked, mut error) = asked_or_default(&params, |p| params::fund(p, today, lang))?;
    if let Err(name) = &unknown {
        params.remove("member");
        error = Some(format!("{} {name}", lang.t("rp_no_member")));
    }
    let member = params.get("user_id").and_then(|id| id.parse().ok());
    let st = fund::statement(&state, &session.user, member, asked.period)
        .await
        .map_err(ApiError::from)?;
    let doc = documents::statement(&st, lang, state.config.fund_timezone);
    let mut page = page(
        &state,
        prefs,
        &session,
        ("/reports/statement", "rp_statement_title"),
        &params,
        doc,
        error,
    );
    page.chart = chart(
        lang,
        "rp_statement_chart",
        lang.currency(Currency::Usdt).to_owned(),
        ["rp_balance", "rp_owed"],
        Currency::Usdt.minor_units(),
        st.months
            .iter()
            .map(|m| {
                (
                    month_label(Calendar::Jalali, &m.month, lang),
                    [m.balance.units, m.owed.units],
                )
            })
            .collect(),
    );
    page.filters.member = reads_every_statement(session.user.role);
    page.f = FilterValues {
        from: month_field(lang, asked.period.from),
        to: month_field(lang, asked.period.to),
        member: if st.user_id == session.user.id {
            String::new()
        } else {
            st.username.clone()
        },
        ..FilterValues::default()
    };
    render(&page)
}
