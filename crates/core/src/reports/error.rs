//! What a report request is refused for.

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The actor's role may not read this report (see `access::may_read`).
    #[error("you may not read this report")]
    Forbidden,
    /// No such thing of the reader's (an export of another reader's is as unknown).
    #[error("not found")]
    NotFound,
    /// A filter is not acceptable; `field` names the query parameter.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl ReportError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ReportError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
