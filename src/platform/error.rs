//! One error type for every handler. Each variant maps to a status code and a JSON body of the
//! shape the original Saghat API used: `{"detail": "<sentence>"}`, or for schema violations
//! `{"detail": [{"type", "loc", "msg"}, …]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

/// One schema problem, in the original API's validation envelope.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: String,
    pub loc: Vec<String>,
    pub msg: String,
}

impl FieldError {
    pub fn body(field: &str, kind: &str, msg: impl Into<String>) -> Self {
        FieldError {
            kind: kind.into(),
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
        }
    }

    pub fn query(field: &str, kind: &str, msg: impl Into<String>) -> Self {
        FieldError {
            kind: kind.into(),
            loc: vec!["query".into(), field.into()],
            msg: msg.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("Invalid username or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("Request body too large")]
    PayloadTooLarge,
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After`: the server is saturated (e.g. password hashing) and sheds load.
    #[error("{detail}")]
    Busy {
        detail: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest(detail.into())
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict(detail.into())
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::NotFound(detail.into())
    }

    pub fn forbidden() -> Self {
        ApiError::Forbidden("You do not have permission to do this".into())
    }

    pub fn invalid(field: &str, kind: &str, msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::body(field, kind, msg)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Database errors: an unreachable database is a 503 the client may retry; anything else is
/// our bug, logged in full and reported as a bare 500.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::Unavailable("Database unavailable, try again shortly".into())
            }
            sqlx::Error::Database(db) if is_connection_failure(db.code().as_deref()) => {
                tracing::warn!(error = %db, "database unavailable");
                ApiError::Unavailable("Database unavailable, try again shortly".into())
            }
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// PostgreSQL's SQLSTATEs for a lost or refused connection (class 08) and for a server that is
/// shutting down or starting (57P01–57P03): the database is away, not our query wrong.
/// SQLite's SQLITE_BUSY (5) after the busy timeout means the same to a client: try again.
fn is_connection_failure(code: Option<&str>) -> bool {
    match code {
        Some(code) => code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "5"),
        None => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::Validation(problems) => json!({ "detail": problems }),
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                json!({ "detail": "Internal server error" })
            }
            other => json!({ "detail": other.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        }
        | ApiError::Busy {
            retry_after_secs, ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}

/// The body of every error response, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub detail: ErrorDetail,
}

/// A human sentence, or for 422 a list of `{type, loc, msg}` problems.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ErrorDetail {
    Message(String),
    Problems(Vec<FieldError>),
}
