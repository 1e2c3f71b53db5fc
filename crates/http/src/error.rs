//! One error type for every handler. Each variant maps to a status code and a JSON body of the
//! shape the original Saghat API used: `{"detail": "<sentence>"}`, or for schema violations
//! `{"detail": [{"type", "loc", "msg"}, …]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use saghat_core::auth::error::AuthError;
use saghat_core::auth::password::HashingError;
use saghat_core::fund::error::{ConfigError, DrawError, PayError};
use saghat_core::platform::idempotency::IdempotencyError;
pub use saghat_core::platform::validation::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
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
    /// A refused payment, a refused draw, a refused sign-in or user change: the service's own
    /// error, kept whole so the web pages can place it by variant. Never a store failure (the
    /// `From` impls below turn those into `Unavailable`/`Internal`).
    #[error(transparent)]
    Pay(PayError),
    #[error(transparent)]
    Draw(DrawError),
    #[error(transparent)]
    Auth(AuthError),
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

    /// A query parameter refused (`loc: ["query", field]`).
    pub fn invalid_query(field: &str, msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::query(field, "value_error", msg)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Pay(e) => match e {
                PayError::NotAMember | PayError::LeftTheFund => StatusCode::FORBIDDEN,
                PayError::AlreadyPaid { .. } | PayError::BitpinIdUsed => StatusCode::CONFLICT,
                PayError::FeeNotPositive
                | PayError::BelowMinimumFee { .. }
                | PayError::NoActiveLoan
                | PayError::RepaymentRequired
                | PayError::BelowMinimumRepayment { .. }
                | PayError::ExceedsBalance { .. }
                | PayError::ExceedsBalanceNow
                | PayError::TotalTooLarge
                | PayError::GatewayRejected(_) => StatusCode::BAD_REQUEST,
                PayError::GatewayUnavailable(_) => StatusCode::BAD_GATEWAY,
                // Never kept: `From<PayError>` answers these as the platform errors they are.
                PayError::Idempotency(_) | PayError::Store(_) | PayError::Internal(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
            ApiError::Draw(e) => match e {
                DrawError::NotAMember => StatusCode::FORBIDDEN,
                DrawError::AlreadyDrawn { .. }
                | DrawError::NoCommitment { .. }
                | DrawError::CommitmentChanged { .. } => StatusCode::CONFLICT,
                DrawError::NotAllPaid { .. } => StatusCode::BAD_REQUEST,
                // Never kept, as for payments.
                DrawError::Idempotency(_) | DrawError::Store(_) | DrawError::Internal(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
            ApiError::Auth(e) => match e {
                AuthError::InvalidCredentials | AuthError::SessionEnded => StatusCode::UNAUTHORIZED,
                AuthError::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
                AuthError::InvalidUsername(_)
                | AuthError::InvalidPassword(_)
                | AuthError::UsernameTaken
                | AuthError::CannotDemoteSelf
                | AuthError::NotAnAdmin { .. } => StatusCode::BAD_REQUEST,
                AuthError::UserNotFound => StatusCode::NOT_FOUND,
                AuthError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                // Never kept, as for payments.
                AuthError::Hashing(_) | AuthError::Store(_) | AuthError::Internal(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
        }
    }
}

/// The services' errors: refusals keep their variant (the status is chosen in `status`); a
/// store failure is answered like any database error, and a platform piece's error
/// (idempotency, the hashing pool) by its own `From` below.
impl From<PayError> for ApiError {
    fn from(err: PayError) -> Self {
        match err {
            PayError::Store(e) => e.into(),
            PayError::Internal(e) => ApiError::Internal(e),
            PayError::Idempotency(e) => e.into(),
            refused => ApiError::Pay(refused),
        }
    }
}

impl From<DrawError> for ApiError {
    fn from(err: DrawError) -> Self {
        match err {
            DrawError::Store(e) => e.into(),
            DrawError::Internal(e) => ApiError::Internal(e),
            DrawError::Idempotency(e) => e.into(),
            refused => ApiError::Draw(refused),
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Store(e) => e.into(),
            refused @ (ConfigError::NotPositive | ConfigError::PastMonth { .. }) => {
                ApiError::bad_request(refused.to_string())
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(e) => e.into(),
            AuthError::Internal(e) => ApiError::Internal(e),
            AuthError::Hashing(e) => e.into(),
            // The 422 envelope, like any schema problem.
            AuthError::Invalid(problems) => ApiError::Validation(problems),
            refused => ApiError::Auth(refused),
        }
    }
}

/// The `Idempotency-Key` store's refusals, worded and placed as the API has always answered them.
impl From<IdempotencyError> for ApiError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::MalformedKey => ApiError::bad_request(err.to_string()),
            IdempotencyError::KeyReused => ApiError::Validation(vec![FieldError {
                kind: "idempotency_key_reused".into(),
                loc: vec!["header".into(), "Idempotency-Key".into()],
                msg: err.to_string(),
            }]),
            IdempotencyError::InProgress => ApiError::conflict(err.to_string()),
            IdempotencyError::Store(e) => e.into(),
            IdempotencyError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// A saturated password hashing pool sheds the request with 503 and `Retry-After`.
impl From<HashingError> for ApiError {
    fn from(err: HashingError) -> Self {
        match err {
            HashingError::Busy { retry_after_secs } => ApiError::Busy {
                detail: err.to_string(),
                retry_after_secs,
            },
            HashingError::Failed(e) => ApiError::Internal(e),
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
        }
        | ApiError::Auth(AuthError::LockedOut { retry_after_secs }) = self
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

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::platform::jalali::JalaliMonth;
    use saghat_core::platform::money::Amount;

    async fn answer(err: impl Into<ApiError>) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = err.into().into_response();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn service_refusals_get_their_status_and_the_originals_wording() {
        let month = JalaliMonth {
            year: 1405,
            month: 9,
        };
        let (status, _, body) = answer(PayError::AlreadyPaid { month }).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            body,
            json!({ "detail": "Payment already submitted for 1405/9" })
        );
        let fee = PayError::BelowMinimumFee {
            fee: Amount::parse("19.5").unwrap(),
            min: Amount::whole(20),
        };
        let (status, _, body) = answer(fee).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["detail"],
            "Membership fee 19.50000000 is less than minimum required 20.00000000"
        );
        let (status, ..) = answer(PayError::GatewayUnavailable("down".into())).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        let (status, ..) = answer(PayError::NotAMember).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let unpaid = DrawError::NotAllPaid {
            month,
            unpaid: vec!["admin".into(), "omid".into()],
        };
        let (status, _, body) = answer(unpaid).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["detail"],
            "Not all users have paid for 1405/9. Unpaid: admin, omid"
        );
        let (status, retry, body) = answer(AuthError::LockedOut {
            retry_after_secs: 7,
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("7"));
        assert_eq!(
            body["detail"],
            "Too many failed login attempts. Try again in 7 seconds."
        );
        let (status, _, body) = answer(AuthError::InvalidCredentials).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["detail"], "Invalid username or password");
        let problem = FieldError::body("username", "string_too_short", "too short");
        let (status, _, body) = answer(AuthError::Invalid(vec![problem])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "username"]));
    }

    #[tokio::test]
    async fn a_store_failure_inside_a_service_is_answered_like_any_database_error() {
        let (status, ..) = answer(PayError::Store(sqlx::Error::PoolTimedOut)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (status, _, body) = answer(DrawError::Store(sqlx::Error::RowNotFound)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["detail"], "Internal server error");
        let busy = HashingError::Busy {
            retry_after_secs: 2,
        };
        let (status, retry, _) = answer(AuthError::Hashing(busy)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("2"));
    }
}
