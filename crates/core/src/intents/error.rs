//! Why a payment-intent request was refused.

use crate::invoicing::error::InvoicingError;
use crate::platform::idempotency::IdempotencyError;

#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    /// No online gateway is configured (`ZARINPAL_MERCHANT_ID` unset, or for installments
    /// `PAYMENT_IRR_PER_USDT`): 404, as for a feature this Saghat does not have.
    #[error("Online payment is not available here")]
    Off,
    /// A value the request sent is not acceptable (422 on that field).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Nothing to pay, or the intent is past what was asked (409).
    #[error("{0}")]
    Conflict(String),
    #[error("Payment not found")]
    NotFound,
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    /// The gateway could not be asked; nothing was lost, try again (502).
    #[error("{0}")]
    Gateway(String),
    #[error(transparent)]
    Invoicing(#[from] InvoicingError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl IntentError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        IntentError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
