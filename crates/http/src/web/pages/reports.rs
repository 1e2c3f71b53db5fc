//! `/reports/invoicing`: invoicing's figures with a bar chart and their tables, filtered by
//! period (Jalali or Gregorian months), currency and client, and the same figures as a file
//! (`?format=csv|xlsx|pdf`, the API's own answer, under the page's session).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::invoicing::pick::{client_choices, Choice};
use super::{render, Page, View};
use crate::error::ApiError;
use crate::reports::api::invoicing_answer;
use crate::reports::documents::{self, month_label};
use crate::reports::files::shown;
use crate::reports::params::{self, Format};
use crate::state::AppState;
use crate::web::bars::{self, Bar, SERIES};
use crate::web::chart::{NARROW, WIDE};
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{Prefs, Session, WebResult};
use saghat_core::platform::currency::Currency;
use saghat_core::reports::access::{may_read, Report};
use saghat_core::reports::invoicing::{self, InvoicingReport};
use saghat_core::reports::period::Period;
use saghat_core::reports::table::Document;
use saghat_core::reports::ReportError;

/// A table as the page shows it: cells already written out, numbers marked to align.
pub struct ShownTable {
    pub name: String,
    pub title: String,
    pub columns: Vec<(String, bool)>,
    pub rows: Vec<Vec<(String, bool)>>,
    pub csv_href: String,
}

/// The filter form's values, as asked (or as defaulted).
pub struct FilterValues {
    pub calendar: String,
    pub from: String,
    pub to: String,
    pub currency: String,
}

#[derive(Template)]
#[template(path = "reports_invoicing.html")]
pub struct InvoicingPage {
    pub v: View,
    pub f: FilterValues,
    pub clients: Vec<Choice>,
    pub currencies: Vec<(&'static str, &'static str)>,
    pub error: Option<String>,
    pub subtitle: String,
    pub chart_currency: String,
    pub chart_svg: String,
    pub chart_svg_narrow: String,
    pub legend: Vec<(String, &'static str, &'static str)>,
    pub tables: Vec<ShownTable>,
    pub xlsx_href: String,
    pub pdf_href: String,
}

/// `?…` of the filter, with `extra` appended: the page's own filters in its links.
fn query(params: &HashMap<String, String>, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = ["calendar", "from", "to", "currency", "client_id"]
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
    format!("/reports/invoicing?{}", out.finish())
}

/// A month in its form field: `1405-09`, or in Persian `۱۴۰۵/۰۹` (with a hyphen, Persian
/// digits would be laid out right to left, the month first).
fn month_field(lang: Lang, key: &str) -> String {
    match lang {
        Lang::En => key.to_owned(),
        Lang::Fa => lang.digits(&key.replace('-', "/")),
    }
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

fn shown_tables(doc: &Document, lang: Lang, params: &HashMap<String, String>) -> Vec<ShownTable> {
    doc.tables
        .iter()
        .map(|t| ShownTable {
            name: t.name.clone(),
            title: t.title.clone(),
            columns: t
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let numeric = t
                        .rows
                        .first()
                        .is_some_and(|r| r.get(i).is_some_and(|c| c.is_number()));
                    (c.clone(), numeric)
                })
                .collect(),
            rows: t
                .rows
                .iter()
                .map(|r| r.iter().map(|c| (shown(c, lang), c.is_number())).collect())
                .collect(),
            csv_href: query(
                params,
                &[("format", "csv"), ("table", &t.name), ("lang", lang.code())],
            ),
        })
        .collect()
}

pub async fn invoicing(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(params): Query<HashMap<String, String>>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    if !may_read(session.user.role, Report::Invoicing) {
        return Err(ApiError::Forbidden("You may not read this report".into()).into());
    }
    let asked_format = params.get("format").map(String::as_str).unwrap_or("");
    if !asked_format.is_empty()
        && Format::parse(Some(asked_format)).is_ok_and(|f| f != Format::Json)
    {
        return Ok(invoicing_answer(&state, &session.user, &params, lang).await?);
    }
    let today = saghat_core::invoicing::reminder_job::today(&state);
    let (asked, error) = match params::invoicing(&params, today, lang) {
        Ok(asked) => (asked, None),
        Err(ReportError::Invalid { message, .. }) => {
            let defaults = HashMap::new();
            (
                params::invoicing(&defaults, today, lang).map_err(ApiError::from)?,
                Some(message),
            )
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    let report = invoicing::report(&state, &session.user, &asked.filter)
        .await
        .map_err(ApiError::from)?;
    let client = crate::reports::api::client_name(&state, asked.filter.client_id).await?;
    let doc = documents::invoicing(&report, lang, client.as_deref());
    let calendar = asked.filter.period.calendar;
    let currency = chart_currency(&report);
    let chart_bars: Vec<Bar> = report
        .monthly
        .iter()
        .filter(|r| Some(r.currency) == currency)
        .map(|r| {
            let name = month_label(calendar, &r.month, lang);
            let (month, year) = name
                .rsplit_once(' ')
                .map_or((name.clone(), String::new()), |(m, y)| {
                    (m.to_owned(), y.to_owned())
                });
            Bar {
                label: (month, year),
                values: [r.net_invoiced.units, r.collected.units],
            }
        })
        .collect();
    let title = lang.t("rp_chart_title");
    let (chart_svg, chart_svg_narrow) = match currency {
        Some(c) if !chart_bars.is_empty() => (
            bars::svg(&chart_bars, c, lang, title, WIDE),
            bars::svg(&chart_bars, c, lang, title, NARROW),
        ),
        _ => (String::new(), String::new()),
    };
    let period: &Period = &asked.filter.period;
    let mut v = View::new(
        &state,
        prefs,
        Some(&session),
        Page {
            path: "/reports/invoicing",
            active: "reports",
            title: "rp_invoicing_title",
            notice: None,
        },
    );
    let other = match lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = query(&params, &[("lang", other.code())]);
    render(&InvoicingPage {
        f: FilterValues {
            calendar: calendar.as_str().into(),
            from: month_field(lang, &period.from.key()),
            to: month_field(lang, &period.to.key()),
            currency: asked
                .filter
                .currency
                .map(|c| c.code().to_owned())
                .unwrap_or_default(),
        },
        clients: client_choices(
            &state,
            &session.user,
            asked.filter.client_id,
            params.get("client_q").map_or("", String::as_str),
        )
        .await?,
        currencies: Currency::ALL
            .iter()
            .map(|c| (c.code(), lang.currency(*c)))
            .collect(),
        error,
        subtitle: doc.subtitle.clone(),
        chart_currency: currency
            .map(|c| lang.currency(c).to_owned())
            .unwrap_or_default(),
        chart_svg,
        chart_svg_narrow,
        legend: vec![
            (lang.t("rp_net_invoiced").into(), SERIES[0].0, SERIES[0].1),
            (lang.t("rp_collected").into(), SERIES[1].0, SERIES[1].1),
        ],
        tables: shown_tables(&doc, lang, &params),
        xlsx_href: query(&params, &[("format", "xlsx"), ("lang", lang.code())]),
        pdf_href: query(&params, &[("format", "pdf"), ("lang", lang.code())]),
        v,
    })
}
