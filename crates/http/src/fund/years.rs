//! `/api/fund/years`: closing a Jalali year (`saghat_core::fund::year_end`) and its year-end
//! report — the fund report over the year with the year's cash movements and the ledger's
//! verification at closing — as PDF or XLSX.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::reports::params::{self, Format};
use crate::reports::{documents, files};
use crate::state::AppState;
use crate::web::i18n::UiText;
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::fund::year_end::service::{self, YearClosing, YearError};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::lang::Lang;
use saghat_core::reports::fund;
use saghat_core::reports::table::{Cell, Document, Money, Table};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(close_year))
        .routes(routes!(list_closings))
        .routes(routes!(get_closing))
        .routes(routes!(year_report))
}

impl From<YearError> for ApiError {
    fn from(err: YearError) -> Self {
        match err {
            YearError::Store(e) => e.into(),
            e @ YearError::NotClosed { .. } => ApiError::not_found(e.to_string()),
            e @ YearError::Invalid { .. } => ApiError::bad_request(e.to_string()),
            e @ (YearError::NotOver { .. }
            | YearError::AlreadyClosed { .. }
            | YearError::BooksDoNotVerify(_)
            | YearError::CashDoesNotCarry) => ApiError::conflict(e.to_string()),
        }
    }
}

/// Admins and accountants read closed years.
fn reads_books(user: &CurrentUser) -> ApiResult<()> {
    if matches!(user.role, Role::Admin | Role::Accountant) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only admins and accountants read the closed years".into(),
        ))
    }
}

/// Close a Jalali year once it is over: `ledger verify` must hold (409 with the checks that
/// fail otherwise), and the year's cash movements are kept with the verification. Once.
#[utoipa::path(post, path = "/api/fund/years/{year}/close", tag = "fund", security(("bearer" = [])),
    params(("year" = i64, Path, description = "The Jalali year, e.g. 1405")),
    responses((status = 201, body = YearClosing), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn close_year(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(year): Path<i64>,
) -> ApiResult<(StatusCode, Json<YearClosing>)> {
    let closed = service::close_year(state.ctx(), &admin, year, &meta).await?;
    Ok((StatusCode::CREATED, Json(closed)))
}

/// The closed years, newest first.
#[utoipa::path(get, path = "/api/fund/years", tag = "fund", security(("bearer" = [])),
    responses((status = 200, body = Vec<YearClosing>), (status = 403, body = ErrorBody)))]
async fn list_closings(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<YearClosing>>> {
    reads_books(&user)?;
    Ok(Json(service::closings(state.ctx()).await?))
}

/// One closed year.
#[utoipa::path(get, path = "/api/fund/years/{year}", tag = "fund", security(("bearer" = [])),
    params(("year" = i64, Path)),
    responses((status = 200, body = YearClosing), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_closing(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(year): Path<i64>,
) -> ApiResult<Json<YearClosing>> {
    reads_books(&user)?;
    Ok(Json(service::closing_of(state.ctx(), year).await?))
}

/// A closed year's report: `format=pdf` (default) or `xlsx` (`lang=fa|en`): the fund by month
/// over the year, then the year's cash from opening to closing by kind of movement, and the
/// ledger's verification at closing.
#[utoipa::path(get, path = "/api/fund/years/{year}/report", tag = "fund", security(("bearer" = [])),
    params(("year" = i64, Path), ("format" = Option<String>, Query), ("lang" = Option<String>, Query)),
    responses((status = 200, description = "The PDF or XLSX file"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn year_report(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(year): Path<i64>,
    Query(mut query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    reads_books(&user)?;
    let closed = service::closing_of(state.ctx(), year).await?;
    query.insert("from".into(), format!("{year}-01"));
    query.insert("to".into(), format!("{year}-12"));
    if query.get("format").is_none_or(|f| f.trim().is_empty()) {
        query.insert("format".into(), "pdf".into());
    }
    let today = saghat_core::invoicing::reminder_job::today(&state);
    let asked = params::fund(&query, today, Lang::En)?;
    if !matches!(asked.out.format, Format::Pdf | Format::Xlsx) {
        return Err(ApiError::invalid_query(
            "format",
            "Choose pdf or xlsx".to_string(),
        ));
    }
    let report = fund::report(state.ctx(), &user, asked.period).await?;
    let lang = asked.out.lang;
    let tz = state.config.fund_timezone;
    let doc = year_end_document(documents::fund(&report, lang), &closed, lang, tz);
    let stem = format!("saghat-year-end-{year}");
    let made_on = lang.civil_date(today);
    files::respond(doc, asked.out.format, None, &stem, lang, made_on).await
}

/// The fund report's document for the year, titled as the year-end report, with the year's
/// cash movements and the verification.
fn year_end_document(
    mut doc: Document,
    closed: &YearClosing,
    lang: Lang,
    tz: chrono_tz::Tz,
) -> Document {
    let usdt = |a: saghat_core::platform::money::Amount| {
        Cell::Money(Money::new(a.units(), Currency::Usdt))
    };
    let f = &closed.figures;
    // Who has not paid *this* month says nothing about the year.
    doc.tables.retain(|t| t.name != "unpaid");
    doc.title = format!(
        "{} {}",
        lang.t("ye_title"),
        lang.digits(&closed.jalali_year.to_string())
    );
    let mut rows = vec![vec![
        Cell::Text(lang.t("ye_opening_cash").into()),
        usdt(f.opening_cash),
        Cell::Empty,
    ]];
    for m in &f.movements {
        let key = format!("ye_kind_{}", m.kind);
        let known = crate::web::i18n::TEXTS.iter().any(|(k, _, _)| *k == key);
        let name = if known {
            lang.t(&key).to_string()
        } else {
            m.kind.clone()
        };
        rows.push(vec![Cell::Text(name), usdt(m.cash_in), usdt(m.cash_out)]);
    }
    rows.push(vec![
        Cell::Text(lang.t("ye_total").into()),
        usdt(f.cash_in),
        usdt(f.cash_out),
    ]);
    rows.push(vec![
        Cell::Text(lang.t("ye_closing_cash").into()),
        usdt(f.closing_cash),
        Cell::Empty,
    ]);
    rows.push(vec![
        Cell::Text(lang.t("ye_contributions").into()),
        usdt(f.contributions),
        Cell::Empty,
    ]);
    rows.push(vec![
        Cell::Text(lang.t("ye_loans_outstanding").into()),
        usdt(f.loans_outstanding),
        Cell::Empty,
    ]);
    rows.push(vec![
        Cell::Text(lang.t("ye_members_paying").into()),
        Cell::Count(f.members_paying),
        Cell::Empty,
    ]);
    rows.push(vec![
        Cell::Text(lang.t("ye_members_left").into()),
        Cell::Count(f.members_left),
        Cell::Empty,
    ]);
    doc.tables.push(Table {
        name: "year".into(),
        title: lang.t("ye_cash_title").into(),
        columns: vec![
            lang.t("ye_item").into(),
            lang.t("ye_cash_in").into(),
            lang.t("ye_cash_out").into(),
        ],
        rows,
    });
    doc.tables.push(Table {
        name: "verification".into(),
        title: lang.t("ye_verify_title").into(),
        columns: vec![
            lang.t("ye_closed_at").into(),
            lang.t("ye_checks").into(),
            lang.t("ye_result").into(),
        ],
        rows: vec![vec![
            Cell::Text(lang.date(&closed.closed_at, tz)),
            Cell::Count(closed.ledger_checks),
            Cell::Text(lang.t("ye_books_verify").into()),
        ]],
    });
    doc
}
