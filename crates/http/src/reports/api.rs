//! `/api/reports/…`: each report's figures as JSON, or with `format=csv|xlsx|pdf` as a file.
//! Who reads which is `saghat_core::reports::access::may_read`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{self, Format, Output};
use super::{documents, files};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::lang::Lang;
use saghat_core::platform::response_cache::Area;
use saghat_core::reports::access::{may_read, Report};
use saghat_core::reports::fund::{self, FundReport, Statement};
use saghat_core::reports::invoicing::{self, InvoicingReport};
use saghat_core::reports::table::Document;
use saghat_core::reports::tickets::{self, TicketsReport};
use saghat_core::reports::ReportError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invoicing_report))
        .routes(routes!(fund_report))
        .routes(routes!(member_statement))
        .routes(routes!(tickets_report))
}

impl From<ReportError> for ApiError {
    fn from(err: ReportError) -> Self {
        match err {
            ReportError::Forbidden => ApiError::Forbidden("You may not read this report".into()),
            ReportError::NotFound => ApiError::NotFound("No such export of yours".into()),
            ReportError::Invalid { field, message } => ApiError::invalid_query(&field, message),
            ReportError::Store(e) => e.into(),
        }
    }
}

/// The client's name, for a file's subtitle.
pub async fn client_name(state: &AppState, id: Option<i64>) -> ApiResult<Option<String>> {
    let Some(id) = id else { return Ok(None) };
    let mut conn = state.db.pool.acquire().await?;
    Ok(saghat_core::invoicing::store::client(&mut conn, id)
        .await?
        .map(|c| c.name))
}

/// `report` as JSON, or as the file `out` asks for, written from the document `doc` makes.
async fn answer<R: serde::Serialize>(
    report: R,
    out: Output,
    today: chrono::NaiveDate,
    stem: String,
    doc: impl FnOnce(&R, Lang) -> Document,
) -> ApiResult<Response> {
    if out.format == Format::Json {
        return Ok(Json(report).into_response());
    }
    let made_on = out.lang.civil_date(today);
    let doc = doc(&report, out.lang);
    files::respond(
        doc,
        out.format,
        out.table.as_deref(),
        &stem,
        out.lang,
        made_on,
    )
    .await
}

fn today(state: &AppState) -> chrono::NaiveDate {
    saghat_core::invoicing::reminder_job::today(state)
}

/// The answer to an invoicing report asked for by `params`: JSON or the file.
pub async fn invoicing_answer(
    state: &AppState,
    user: &CurrentUser,
    params: &HashMap<String, String>,
    default_lang: Lang,
) -> ApiResult<Response> {
    let today = today(state);
    let asked = params::invoicing(params, today, default_lang)?;
    if asked.out.format == Format::Json {
        if !may_read(user.role, Report::Invoicing) {
            return Err(ReportError::Forbidden.into());
        }
        // Receivables are aged and DSO counted as of today; the figures are the same for
        // everyone who may read them, so the key is the filter and the day.
        let f = &asked.filter;
        let key = format!(
            "report:{}:{:?}:{:?}:{}",
            period_key(&f.period),
            f.currency,
            f.client_id,
            today,
        );
        let filter = asked.filter.clone();
        return cached_json(state, Area::Invoicing, &key, async || {
            Ok(invoicing::report(state, user, &filter).await?)
        })
        .await;
    }
    let report = invoicing::report(state, user, &asked.filter).await?;
    let client = client_name(state, asked.filter.client_id).await?;
    let stem = format!("saghat-invoicing-{}_{}", report.from, report.to);
    answer(report, asked.out, today, stem, |r, lang| {
        documents::invoicing(r, lang, client.as_deref())
    })
    .await
}

/// The answer to a fund report asked for by `params`.
pub async fn fund_answer(
    state: &AppState,
    user: &CurrentUser,
    params: &HashMap<String, String>,
    default_lang: Lang,
) -> ApiResult<Response> {
    let today = today(state);
    let asked = params::fund(params, today, default_lang)?;
    if asked.out.format == Format::Json {
        return cached_fund_json(state, user, asked.period).await;
    }
    let report = fund::report(state, user, asked.period).await?;
    let stem = format!("saghat-fund-{}_{}", report.from, report.to);
    answer(report, asked.out, today, stem, documents::fund).await
}

/// The fund report as JSON, shared by the instances through the response cache (`Area::Fund`,
/// dropped by every write to the fund): the same figures for everyone who may read them, so the
/// key is what they depend on — the months, this month and the settings that place payments.
async fn cached_fund_json(
    state: &AppState,
    user: &CurrentUser,
    period: fund::FundPeriod,
) -> ApiResult<Response> {
    if !may_read(user.role, Report::Fund) {
        return Err(ReportError::Forbidden.into());
    }
    let key = format!(
        "report:{}_{}:{}:{}:{}",
        period.from.key(),
        period.to.key(),
        state.current_month(),
        state.config.fund_notices.reminder_day,
        state.config.fund_timezone,
    );
    cached_json(state, Area::Fund, &key, async || {
        Ok(fund::report(state, user, period).await?)
    })
    .await
}

/// A period as part of a cache key: its calendar and months.
fn period_key(p: &saghat_core::reports::period::Period) -> String {
    format!("{:?}:{}_{}", p.calendar, p.from.key(), p.to.key())
}

/// `compute`'s report as JSON, shared by the instances through the response cache under `key`
/// in `area` (dropped by every write to it). The caller checks access first, and `key` holds
/// everything the figures depend on.
async fn cached_json<R: serde::Serialize>(
    state: &AppState,
    area: Area,
    key: &str,
    compute: impl AsyncFnOnce() -> ApiResult<R>,
) -> ApiResult<Response> {
    let body: String = state
        .responses
        .get_or_compute(area, key, async || {
            let report = compute().await?;
            Ok::<_, ApiError>(serde_json::to_string(&report).expect("a report serializes"))
        })
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// The answer to a member's statement asked for by `params`.
pub async fn statement_answer(
    state: &AppState,
    user: &CurrentUser,
    params: &HashMap<String, String>,
    default_lang: Lang,
) -> ApiResult<Response> {
    let today = today(state);
    let asked = params::fund(params, today, default_lang)?;
    let member = params::user_id(params)?;
    let st = fund::statement(state, user, member, asked.period).await?;
    let stem = format!("saghat-statement-{}-{}_{}", st.username, st.from, st.to);
    let tz = state.config.fund_timezone;
    answer(st, asked.out, today, stem, |st, lang| {
        documents::statement(st, lang, tz)
    })
    .await
}

/// The answer to a tickets report asked for by `params`.
pub async fn tickets_answer(
    state: &AppState,
    user: &CurrentUser,
    params: &HashMap<String, String>,
    default_lang: Lang,
) -> ApiResult<Response> {
    let today = today(state);
    let asked = params::invoicing(params, today, default_lang)?;
    if asked.out.format == Format::Json {
        if !may_read(user.role, Report::Tickets) {
            return Err(ReportError::Forbidden.into());
        }
        // The same figures for everyone who may read them: the months (spanned in the fund's
        // time zone) and the SLA's targets. "Now" enters only through stored states (SLA
        // breaches, delinquency), which the jobs that set them drop; otherwise staleness is
        // bounded by the cache's TTL.
        let sla = &state.config.tickets.sla;
        let key = format!(
            "report:{}:{}:{}:{}:{}",
            period_key(&asked.filter.period),
            state.config.fund_timezone,
            sla.first_response_minutes,
            sla.decision_minutes,
            today,
        );
        let period = asked.filter.period;
        return cached_json(state, Area::Tickets, &key, async || {
            Ok(tickets::report(state, user, &period).await?)
        })
        .await;
    }
    let report = tickets::report(state, user, &asked.filter.period).await?;
    let stem = format!("saghat-tickets-{}_{}", report.from, report.to);
    answer(report, asked.out, today, stem, documents::tickets).await
}

/// The fund's figures (admins and accountants), Jalali months `from`–`to` (default the twelve
/// to this one): per month the payments (on time: before `FUND_REMINDER_DAY`; late), fees,
/// repayments and the draw's loan, and at each month's end the cash (with what gateways hold),
/// the contributions and the loans outstanding, from the ledger; this month's members who have
/// not paid; the draws with their winners and how much of each loan is repaid; loans by state.
/// `format=csv` (`table`: `months`, `unpaid`, `draws`, `loans`), `xlsx` or `pdf` for a file.
#[utoipa::path(get, path = "/api/reports/fund", tag = "reports", security(("bearer" = [])),
    params(("from" = Option<String>, Query, description = "First Jalali month, `YYYY-MM`"),
           ("to" = Option<String>, Query, description = "Last Jalali month, `YYYY-MM` (default: this month)"),
           ("format" = Option<String>, Query, description = "`json` (default), `csv`, `xlsx` or `pdf`"),
           ("table" = Option<String>, Query, description = "For CSV: `months` (default), `unpaid`, `draws` or `loans`"),
           ("lang" = Option<String>, Query, description = "A file's language: `en` (default) or `fa`")),
    responses((status = 200, body = FundReport, description = "The figures; a file with `format`"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn fund_report(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    fund_answer(&state, &user, &params, Lang::En).await
}

/// A fund member's statement: per Jalali month the fee and repayment paid and when, and at the
/// month's end their balance (contributions) and what they owe on loans; their loans with how
/// much is repaid. Members read their own (`user_id` left out); admins and accountants anyone's.
/// `format=csv` (`table`: `months`, `loans`), `xlsx` or `pdf` for a file.
#[utoipa::path(get, path = "/api/reports/statement", tag = "reports", security(("bearer" = [])),
    params(("user_id" = Option<i64>, Query, minimum = 1, description = "Whose (default: mine)"),
           ("from" = Option<String>, Query, description = "First Jalali month, `YYYY-MM`"),
           ("to" = Option<String>, Query, description = "Last Jalali month, `YYYY-MM` (default: this month)"),
           ("format" = Option<String>, Query, description = "`json` (default), `csv`, `xlsx` or `pdf`"),
           ("table" = Option<String>, Query, description = "For CSV: `months` (default) or `loans`"),
           ("lang" = Option<String>, Query, description = "A file's language: `en` (default) or `fa`")),
    responses((status = 200, body = Statement, description = "The statement; a file with `format`"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn member_statement(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    statement_answer(&state, &user, &params, Lang::En).await
}

/// Invoicing's figures (admins and accountants): invoiced, credited, collected and refunded per
/// month and currency; receivables today aged per client (not yet due, 1–30, 31–60, 61–90,
/// over 90 days past due); days sales outstanding over the last 90 days; the top clients of
/// the period; tax per month, currency and rate, net of credit notes. With `format=csv` (one
/// table: `monthly`, `aging`, `dso`, `clients` or `tax`), `xlsx` or `pdf`, the same figures
/// as a file, labelled in `lang`.
#[utoipa::path(get, path = "/api/reports/invoicing", tag = "reports", security(("bearer" = [])),
    params(("calendar" = Option<String>, Query, description = "`jalali` (default) or `gregorian`"),
           ("from" = Option<String>, Query, description = "First month, `YYYY-MM` of the calendar (default: eleven months before `to`)"),
           ("to" = Option<String>, Query, description = "Last month, `YYYY-MM` (default: this month)"),
           ("currency" = Option<String>, Query, description = "IRR, USD, EUR or USDT"),
           ("client_id" = Option<i64>, Query, minimum = 1),
           ("format" = Option<String>, Query, description = "`json` (default), `csv`, `xlsx` or `pdf`"),
           ("table" = Option<String>, Query, description = "For CSV: `monthly` (default), `aging`, `dso`, `clients` or `tax`"),
           ("lang" = Option<String>, Query, description = "A file's language: `en` (default) or `fa`")),
    responses((status = 200, body = InvoicingReport, description = "The figures; a file with `format`"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn invoicing_report(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    invoicing_answer(&state, &user, &params, Lang::En).await
}

/// The tickets' figures (admins and lenders), months `from`–`to` of `calendar`: per month the
/// tickets submitted by the state they are in now, approvals, rejections and the approval rate,
/// SLA breaches and defaults; the time from submission to a first response and to a decision
/// (median and 90th percentile in wall-clock minutes, beside the SLA's targets in business
/// minutes); fraud flags per rule and what became of the tickets; the portfolio today by days
/// past due (current, 1–30, 31–60, 61–90, 90+) with the portfolio at risk over 30 days; what
/// was written off. `format=csv` (`table`: `months`, `times`, `flags`, `portfolio`), `xlsx` or
/// `pdf` for a file.
#[utoipa::path(get, path = "/api/reports/tickets", tag = "reports", security(("bearer" = [])),
    params(("calendar" = Option<String>, Query, description = "`jalali` (default) or `gregorian`"),
           ("from" = Option<String>, Query, description = "First month, `YYYY-MM`"),
           ("to" = Option<String>, Query, description = "Last month, `YYYY-MM` (default: this month)"),
           ("format" = Option<String>, Query, description = "`json` (default), `csv`, `xlsx` or `pdf`"),
           ("table" = Option<String>, Query, description = "For CSV: `months` (default), `times`, `flags` or `portfolio`"),
           ("lang" = Option<String>, Query, description = "A file's language: `en` (default) or `fa`")),
    responses((status = 200, body = TicketsReport, description = "The figures; a file with `format`"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn tickets_report(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    tickets_answer(&state, &user, &params, Lang::En).await
}
