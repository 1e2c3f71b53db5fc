//! `/api/fund/…statements…`: a member's monthly statements (made after each draw by the
//! worker, `saghat_core::fund::statements`) listed and downloaded as their PDFs; the member's
//! own, or, for admins and accountants, any member's.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::BooksReader;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::fund::statements::{self, StatementEntry, StatementError};
use saghat_core::platform::jalali::JalaliMonth;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_statements))
        .routes(routes!(my_statement_pdf))
        .routes(routes!(member_statements))
        .routes(routes!(member_statement_pdf))
}

impl From<StatementError> for ApiError {
    fn from(err: StatementError) -> Self {
        match err {
            StatementError::Store(e) => e.into(),
            // A damaged or missing file is ours: logged, never served.
            other => ApiError::Internal(other.into()),
        }
    }
}

/// One monthly statement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementItem {
    /// `1405/09`, Jalali.
    pub month: String,
    pub jalali_year: i64,
    pub jalali_month: i64,
    /// The draw it follows.
    pub loan_id: String,
    /// `fa` or `en`: the member's language when it was made.
    pub language: String,
    pub size_bytes: i64,
    /// SHA-256 of the PDF, hex.
    pub sha256: String,
    pub created_at: String,
    /// The PDF: `/api/fund/my-statements/1405/9` (or the member's, for an admin).
    pub download: String,
}

fn item(entry: StatementEntry, download: String) -> StatementItem {
    StatementItem {
        month: format!("{}/{:02}", entry.jalali_year, entry.jalali_month),
        jalali_year: entry.jalali_year,
        jalali_month: entry.jalali_month,
        loan_id: entry.loan_id,
        language: entry.language,
        size_bytes: entry.size_bytes,
        sha256: entry.sha256,
        created_at: entry.created_at,
        download,
    }
}

/// The month of a path, or 404 (no statement can be of another).
fn month_of(year: i32, month: u8) -> ApiResult<JalaliMonth> {
    if (1..=12).contains(&month) && (1..=9999).contains(&year) {
        Ok(JalaliMonth { year, month })
    } else {
        Err(no_statement())
    }
}

fn no_statement() -> ApiError {
    ApiError::not_found("No statement for that month")
}

/// The PDF of `user_id`'s statement of `month`, as a download.
pub async fn pdf_answer(state: &AppState, user_id: i64, month: JalaliMonth) -> ApiResult<Response> {
    let (_, bytes) = statements::open(state.ctx(), user_id, month)
        .await?
        .ok_or_else(no_statement)?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    let name = statements::file_name(month);
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// My monthly statements, newest first: one after each draw since I joined.
#[utoipa::path(get, path = "/api/fund/my-statements", tag = "fund", security(("bearer" = [])),
    responses((status = 200, body = Vec<StatementItem>)))]
async fn my_statements(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<StatementItem>>> {
    let entries = statements::statements_of(state.ctx(), user.id).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| {
                let download = format!(
                    "/api/fund/my-statements/{}/{}",
                    e.jalali_year, e.jalali_month
                );
                item(e, download)
            })
            .collect(),
    ))
}

/// My statement of a Jalali month, as its PDF (`application/pdf`); 404 when I have none.
#[utoipa::path(get, path = "/api/fund/my-statements/{year}/{month}", tag = "fund", security(("bearer" = [])),
    params(("year" = i32, Path, description = "Jalali year"), ("month" = u8, Path, description = "Jalali month, 1 to 12")),
    responses((status = 200, content_type = "application/pdf", description = "The statement's PDF"),
              (status = 404, body = ErrorBody)))]
async fn my_statement_pdf(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((year, month)): Path<(i32, u8)>,
) -> ApiResult<Response> {
    pdf_answer(&state, user.id, month_of(year, month)?).await
}

/// A member's monthly statements, newest first (admins and accountants).
#[utoipa::path(get, path = "/api/fund/members/{user_id}/statements", tag = "fund", security(("bearer" = [])),
    params(("user_id" = i64, Path)),
    responses((status = 200, body = Vec<StatementItem>), (status = 403, body = ErrorBody)))]
async fn member_statements(
    State(state): State<AppState>,
    _reader: BooksReader,
    Path(user_id): Path<i64>,
) -> ApiResult<Json<Vec<StatementItem>>> {
    let entries = statements::statements_of(state.ctx(), user_id).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| {
                let download = format!(
                    "/api/fund/members/{user_id}/statements/{}/{}",
                    e.jalali_year, e.jalali_month
                );
                item(e, download)
            })
            .collect(),
    ))
}

/// A member's statement of a Jalali month, as its PDF (admins and accountants).
#[utoipa::path(get, path = "/api/fund/members/{user_id}/statements/{year}/{month}", tag = "fund", security(("bearer" = [])),
    params(("user_id" = i64, Path), ("year" = i32, Path, description = "Jalali year"), ("month" = u8, Path, description = "Jalali month, 1 to 12")),
    responses((status = 200, content_type = "application/pdf", description = "The statement's PDF"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn member_statement_pdf(
    State(state): State<AppState>,
    _reader: BooksReader,
    Path((user_id, year, month)): Path<(i64, i32, u8)>,
) -> ApiResult<Response> {
    pdf_answer(&state, user_id, month_of(year, month)?).await
}
