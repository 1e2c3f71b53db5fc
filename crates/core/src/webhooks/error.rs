//! Webhooks' typed errors; each message is the sentence the API sends.

use super::domain::UrlRefusal;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("Webhook endpoint not found.")]
    NotFound,
    #[error("Webhook delivery not found.")]
    DeliveryNotFound,
    /// The endpoint's URL (its form, its scheme, or where it resolves).
    #[error("{0}")]
    Url(#[from] UrlRefusal),
    /// Another field's value, with the sentence to show beside it.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl WebhookError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        WebhookError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The request field the error belongs next to, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            WebhookError::Url(_) => Some("url"),
            WebhookError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}
