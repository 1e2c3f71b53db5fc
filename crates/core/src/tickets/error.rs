//! What the ticket services refuse, as values: the HTTP layer (next step) chooses each one's
//! status, the form the field it belongs next to.

use super::approval::ApprovalRefused;
use super::state::{TicketState, TransitionError, UnknownState};

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("amount must be greater than 0")]
    AmountNotPositive,
    #[error("amount is too large")]
    AmountTooLarge,
    #[error("purpose is required")]
    PurposeMissing,
    #[error("purpose must be at most {max} characters")]
    PurposeTooLong { max: usize },
    #[error("term_months must be between 1 and 360")]
    TermOutOfRange,
    #[error("payout_address must be a wallet address of letters, digits and : _ - . (at most {max} characters)")]
    PayoutAddressInvalid { max: usize },
    #[error("ticket not found")]
    NotFound,
    /// Neither the ticket's borrower nor a reviewer.
    #[error("you may not act on this ticket")]
    NotYours,
    /// Submitting and approving have their own services (fraud rules, maker-checker), and
    /// disbursing needs the ledger: `move_ticket` does not make these moves.
    #[error("a ticket is not {} this way", .0)]
    NotAMove(TicketState),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Approval(#[from] ApprovalRefused),
    #[error(transparent)]
    Corrupt(#[from] UnknownState),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl TicketError {
    /// The input field a validation error belongs to.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TicketError::AmountNotPositive | TicketError::AmountTooLarge => Some("amount"),
            TicketError::PurposeMissing | TicketError::PurposeTooLong { .. } => Some("purpose"),
            TicketError::TermOutOfRange => Some("term_months"),
            TicketError::PayoutAddressInvalid { .. } => Some("payout_address"),
            _ => None,
        }
    }
}
