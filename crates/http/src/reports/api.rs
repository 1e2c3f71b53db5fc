//! `/api/reports/…`: each report's figures as JSON, or with `format=csv|xlsx|pdf` as a file.
//! Who reads which is `saghat_core::reports::access::may_read`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{self, Format};
use super::{documents, files};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::lang::Lang;
use saghat_core::reports::invoicing::{self, InvoicingReport};
use saghat_core::reports::ReportError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(invoicing_report))
}

impl From<ReportError> for ApiError {
    fn from(err: ReportError) -> Self {
        match err {
            ReportError::Forbidden => ApiError::Forbidden("You may not read this report".into()),
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

/// The answer to an invoicing report asked for by `params`: JSON or the file.
pub async fn invoicing_answer(
    state: &AppState,
    user: &CurrentUser,
    params: &HashMap<String, String>,
    default_lang: Lang,
) -> ApiResult<Response> {
    let today = saghat_core::invoicing::reminder_job::today(state);
    let asked = params::invoicing(params, today, default_lang)?;
    let report = invoicing::report(state, user, &asked.filter).await?;
    if asked.format == Format::Json {
        return Ok(Json(report).into_response());
    }
    let client = client_name(state, asked.filter.client_id).await?;
    let doc = documents::invoicing(&report, asked.lang, client.as_deref());
    let stem = format!("saghat-invoicing-{}_{}", report.from, report.to);
    let made_on = asked.lang.civil_date(today);
    files::respond(
        doc,
        asked.format,
        asked.table.as_deref(),
        &stem,
        asked.lang,
        made_on,
    )
    .await
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
