//! `/api/reports/exports`: long exports. Asking for one answers at once (202) with the export
//! queued; its job writes the file while `GET …/{id}` tells how far it has got, and
//! `GET …/{id}/file` sends the file once it is done. The page `/reports/exports` shows the
//! same under the session.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::documents::period_text;
use super::files::disposition;
use super::params;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, Validate};
use crate::state::AppState;
use crate::web::i18n::UiText;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::lang::Lang;
use saghat_core::reports::exports::register::columns;
use saghat_core::reports::exports::{
    self, Export, ExportState, FileFormat, Labels, NewExport, Register,
};
use saghat_core::reports::ReportError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ask_export, list_exports))
        .routes(routes!(show_export))
        .routes(routes!(export_file))
}

/// A long export asked for: a register of a period, filtered like invoicing's report.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ExportRequest {
    /// `invoices` (every sent invoice and credit note issued in the period) or `payments`
    /// (every payment received in it).
    pub register: String,
    /// `xlsx` (default) or `csv`.
    pub format: Option<String>,
    /// `jalali` (default) or `gregorian`.
    pub calendar: Option<String>,
    /// First month, `YYYY-MM` (default: eleven months before `to`).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (default: this month).
    pub to: Option<String>,
    /// IRR, USD, EUR or USDT.
    pub currency: Option<String>,
    pub client_id: Option<i64>,
    /// The file's language: `en` (default) or `fa`.
    pub lang: Option<String>,
}

/// Its values are checked where they are read (`new_export`), as a report's query is.
impl Validate for ExportRequest {}

/// The reader's exports, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExportList {
    pub exports: Vec<Export>,
}

/// The labels of a register's file in `lang`: title, what it covers, columns, stored words.
pub fn labels(register: Register, lang: Lang, subtitle: String) -> Labels {
    let title = match register {
        Register::Invoices => "rp_register_invoices",
        Register::Payments => "rp_register_payments",
    };
    let words = [
        ("invoice", "iv_kind_invoice"),
        ("credit_note", "iv_kind_credit_note"),
        ("draft", "iv_status_draft"),
        ("sent", "iv_status_sent"),
        ("partially_paid", "iv_status_partially_paid"),
        ("paid", "iv_status_paid"),
        ("overdue", "iv_status_overdue"),
        ("void", "iv_status_void"),
        ("bank_transfer", "iv_method_bank_transfer"),
        ("cash", "iv_method_cash"),
        ("card", "iv_method_card"),
        ("gateway", "iv_method_gateway"),
        ("other", "iv_method_other"),
    ];
    Labels {
        title: lang.t(title).to_owned(),
        subtitle,
        columns: columns(register)
            .iter()
            .map(|c| lang.t(&format!("rp_col_{c}")).to_owned())
            .collect(),
        values: words
            .iter()
            .map(|(word, key)| ((*word).to_owned(), lang.t(key).to_owned()))
            .collect(),
    }
}

/// The export `request` asks for, read like a report's query (`default_lang` when it names
/// none).
pub fn new_export(
    request: &ExportRequest,
    today: chrono::NaiveDate,
    default_lang: Lang,
    client: Option<&str>,
) -> Result<NewExport, ReportError> {
    let register = Register::parse(request.register.trim())
        .ok_or_else(|| ReportError::invalid("register", "Choose invoices or payments"))?;
    let format = match request.format.as_deref().map(str::trim) {
        None | Some("") => FileFormat::Xlsx,
        Some(text) => FileFormat::parse(text)
            .ok_or_else(|| ReportError::invalid("format", "Choose xlsx or csv"))?,
    };
    let mut query: HashMap<String, String> = [
        ("calendar", &request.calendar),
        ("from", &request.from),
        ("to", &request.to),
        ("currency", &request.currency),
        ("lang", &request.lang),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
    .collect();
    if let Some(id) = request.client_id {
        query.insert("client_id".into(), id.to_string());
    }
    let asked = params::invoicing(&query, today, default_lang)?;
    let lang = asked.out.lang;
    let period = asked.filter.period;
    let mut subtitle = period_text(period.calendar, &period.from.key(), &period.to.key(), lang);
    if let Some(c) = asked.filter.currency {
        subtitle.push_str(&format!(" · {}", lang.currency(c)));
    }
    if let Some(name) = client {
        subtitle.push_str(&format!(" · {name}"));
    }
    Ok(NewExport {
        register,
        format,
        lang,
        filter: asked.filter,
        labels: labels(register, lang, subtitle),
    })
}

/// Asks for `request`'s export as `user`.
pub async fn ask(
    state: &AppState,
    user: &CurrentUser,
    request: &ExportRequest,
    default_lang: Lang,
) -> ApiResult<Export> {
    let today = saghat_core::invoicing::reminder_job::today(state);
    let client = super::api::client_name(state, request.client_id).await?;
    let new = new_export(request, today, default_lang, client.as_deref())?;
    Ok(exports::request(state, user, &new).await?)
}

/// Export `id`'s file as a download: streamed from disk, never held whole.
pub async fn file_response(state: &AppState, user: &CurrentUser, id: &str) -> ApiResult<Response> {
    let export = exports::find(state, user, id).await?;
    if export.state != ExportState::Done {
        return Err(ApiError::Conflict(
            "The file is not written yet: ask again when the export is done".into(),
        ));
    }
    let file = tokio::fs::File::open(exports::file_path(state, &export.id))
        .await
        .map_err(|_| ApiError::not_found("The export's file is gone; ask for it again"))?;
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut chunk = vec![0u8; 64 * 1024];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok::<_, std::io::Error>(chunk), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(export.format.content_type()),
    );
    if let Some(size) = export.size_bytes {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if let Ok(value) = HeaderValue::from_str(&disposition(&export.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Asks for a long export (admins and accountants): every sent invoice and credit note issued
/// in the period (`register: invoices`: number, kind, status, client, dates, currency, net,
/// tax, total, paid, credited, outstanding) or every payment received in it (`payments`), as
/// XLSX or CSV, labelled in `lang`. Answered at once with the export queued; a job writes the
/// file. At most three of a reader's exports are queued or being written at once.
#[utoipa::path(post, path = "/api/reports/exports", tag = "reports", security(("bearer" = [])),
    request_body = ExportRequest,
    responses((status = 202, body = Export, description = "Queued; `GET /api/reports/exports/{id}` follows it"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn ask_export(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(request): ApiJson<ExportRequest>,
) -> ApiResult<Response> {
    let export = ask(&state, &user, &request, Lang::En).await?;
    let location = format!("/api/reports/exports/{}", export.id);
    let mut response = (StatusCode::ACCEPTED, Json(export)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The reader's own exports, newest first (the last fifty), each with its progress.
#[utoipa::path(get, path = "/api/reports/exports", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = ExportList), (status = 403, body = ErrorBody)))]
async fn list_exports(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<ExportList>> {
    Ok(Json(ExportList {
        exports: exports::list(&state, &user).await?,
    }))
}

/// One of the reader's exports: `state` (`queued`, `running`, `done`, `failed`), rows written
/// of the register's total, and once done the file's size.
#[utoipa::path(get, path = "/api/reports/exports/{id}", tag = "reports", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Export), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show_export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Export>> {
    Ok(Json(exports::find(&state, &user, &id).await?))
}

/// An export's file, once done (409 before).
#[utoipa::path(get, path = "/api/reports/exports/{id}/file", tag = "reports", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The XLSX or CSV file", content_type = "application/octet-stream"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn export_file(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    file_response(&state, &user, &id).await
}
