//! What the invoicing services refuse, as values. Validation errors name the request FIELD
//! they belong to (`lines[2].quantity`), so the API can answer `{"field": ["message"]}`.

use super::numbering::PatternError;
use super::totals::TotalsError;
use crate::ledger::domain::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum InvoicingError {
    /// A value the request sent is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The actor's role may not do this (see `access::allowed`).
    #[error("you may not do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// Sent invoices are immutable: correct them with a credit note.
    #[error("the invoice is sent: it cannot change, only be credited")]
    NotADraft,
    #[error(transparent)]
    Totals(#[from] TotalsError),
    #[error(transparent)]
    Numbering(#[from] PatternError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    /// An `Idempotency-Key` refused, or taken by a concurrent request (`*_once`).
    #[error(transparent)]
    Idempotency(#[from] crate::platform::idempotency::IdempotencyError),
}

impl InvoicingError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        InvoicingError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The request field the error belongs to, if it is about one.
    pub fn field(&self) -> Option<String> {
        match self {
            InvoicingError::Invalid { field, .. } => Some(field.clone()),
            InvoicingError::Totals(t) => Some(match t {
                TotalsError::QuantityNotPositive { line } => {
                    format!("lines[{}].quantity", line - 1)
                }
                TotalsError::NegativePrice { line } => format!("lines[{}].unit_price", line - 1),
                TotalsError::LineDiscountOutOfRange { line }
                | TotalsError::LineDiscountExceedsLine { line } => {
                    format!("lines[{}].discount", line - 1)
                }
                TotalsError::RateNotAllowed { line } => format!("lines[{}].tax_rate", line - 1),
                TotalsError::DiscountOutOfRange | TotalsError::DiscountExceedsBase => {
                    "discount".into()
                }
                TotalsError::TooLarge => "lines".into(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_errors_name_their_field() {
        let e = InvoicingError::from(TotalsError::QuantityNotPositive { line: 3 });
        assert_eq!(e.field().as_deref(), Some("lines[2].quantity"));
        let e = InvoicingError::from(TotalsError::DiscountExceedsBase);
        assert_eq!(e.field().as_deref(), Some("discount"));
        assert_eq!(
            InvoicingError::invalid("name", "required")
                .field()
                .as_deref(),
            Some("name")
        );
        assert_eq!(InvoicingError::NotFound.field(), None);
    }
}
