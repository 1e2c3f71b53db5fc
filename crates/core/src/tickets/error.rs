//! What the ticket services refuse, as values: the HTTP layer (next step) chooses each one's
//! status, the form the field it belongs next to.

use super::approval::ApprovalRefused;
use super::schedule::ScheduleError;
use super::state::{TicketState, TransitionError, UnknownState};
use crate::ledger::domain::LedgerError;
use crate::platform::money::Amount;

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
    // disbursement and repayment
    /// The fund's cash does not cover the ticket.
    #[error("the fund has {cash} in cash, less than the {amount} to disburse")]
    InsufficientCash { cash: Amount, amount: Amount },
    /// Repayments go to a ticket being repaid.
    #[error("a ticket in state {0} takes no repayment")]
    NotRepaying(TicketState),
    /// The repayment's amount, or the schedule's terms (overpayment, nothing owed).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the idempotency key must be 1 to {max} visible characters")]
    RepaymentKeyInvalid { max: usize },
    /// The key was used on this ticket for a repayment of another amount.
    #[error("this idempotency key was already used for a repayment of {amount}")]
    RepaymentKeyReused { amount: Amount },
    /// Only the borrower, reviewers and accountants read a ticket's schedule.
    #[error("you may not see this ticket's schedule")]
    ScheduleHidden,
    // comments and attachments
    #[error("comment is required")]
    CommentEmpty,
    #[error("comment must be at most {max} characters")]
    CommentTooLong { max: usize },
    /// Internal notes are among reviewers: the borrower may not write one.
    #[error("only reviewers may write internal notes")]
    InternalNoteNotAllowed,
    /// No such comment, or one the viewer may not see (an internal note for a borrower).
    #[error("comment not found")]
    CommentNotFound,
    #[error("only the author may edit a comment")]
    NotCommentAuthor,
    #[error("the file is empty")]
    AttachmentEmpty,
    #[error("the file must be at most {max} bytes")]
    AttachmentTooLarge { max: u64 },
    #[error("files of type {0} are not accepted")]
    AttachmentTypeNotAllowed(String),
    /// The bytes' signature is not that of the declared type (a renamed or disguised file).
    #[error("the file's content is not {0}")]
    AttachmentContentMismatch(String),
    #[error(
        "file_name must be 1 to {max} characters, without path separators or control characters"
    )]
    AttachmentNameInvalid { max: usize },
    #[error("a ticket may have at most {max} attachments")]
    TooManyAttachments { max: usize },
    #[error("attachment not found")]
    AttachmentNotFound,
    /// The stored file is missing or no longer has the SHA-256 it was stored under: not served.
    #[error("attachment {id} is damaged in storage")]
    AttachmentCorrupt { id: String },
    #[error("attachment storage failed: {0}")]
    AttachmentIo(#[from] std::io::Error),
}

impl TicketError {
    /// The input field a validation error belongs to.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TicketError::AmountNotPositive | TicketError::AmountTooLarge => Some("amount"),
            TicketError::PurposeMissing | TicketError::PurposeTooLong { .. } => Some("purpose"),
            TicketError::TermOutOfRange => Some("term_months"),
            TicketError::PayoutAddressInvalid { .. } => Some("payout_address"),
            TicketError::CommentEmpty | TicketError::CommentTooLong { .. } => Some("body"),
            TicketError::InternalNoteNotAllowed => Some("internal"),
            TicketError::AttachmentEmpty
            | TicketError::AttachmentTooLarge { .. }
            | TicketError::AttachmentTypeNotAllowed(_)
            | TicketError::AttachmentContentMismatch(_) => Some("file"),
            TicketError::AttachmentNameInvalid { .. } => Some("file_name"),
            _ => None,
        }
    }
}
