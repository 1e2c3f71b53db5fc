//! What the account services refuse, as values: the HTTP layer (`saghat_http::error`) chooses each
//! one's status, the web layer the form field it belongs next to. Each variant's text is the
//! sentence the API sends.

use crate::auth::password::HashingError;
use crate::platform::validation::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Invalid username or password")]
    InvalidCredentials,
    /// A login limit is full: 429 with `Retry-After`.
    #[error("Too many failed login attempts. Try again in {retry_after_secs} seconds.")]
    LockedOut { retry_after_secs: u64 },
    /// A refresh token unknown, spent or past its sign-in's lifetime, or a user gone: 401.
    #[error("Unauthorized")]
    SessionEnded,
    #[error("{0}")]
    InvalidUsername(String),
    #[error("Username already exists")]
    UsernameTaken,
    #[error("You cannot deactivate or demote yourself")]
    CannotDemoteSelf,
    #[error("User not found")]
    UserNotFound,
    #[error("{0}")]
    InvalidPassword(String),
    /// `upsert_admin` found a non-admin of that name and was not asked to promote them.
    #[error("{username:?} is an existing {role}")]
    NotAnAdmin {
        username: String,
        role: &'static str,
    },
    /// Schema problems, answered in the 422 envelope.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// The password hashing pool is saturated (503) or failed.
    #[error(transparent)]
    Hashing(#[from] HashingError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}
