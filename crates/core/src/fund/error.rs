//! What the fund's services refuse, as values: the HTTP layer (`saghat_http::error`) chooses each
//! one's status, the web layer the form field it belongs next to. Each variant's text is the
//! sentence the API sends, worded as the original's.

use crate::platform::idempotency::IdempotencyError;
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// Why a monthly payment was refused.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("Only fund members pay membership fees")]
    NotAMember,
    /// The member left the fund; an admin can let them rejoin.
    #[error("You have left the fund; an admin can let you rejoin")]
    LeftTheFund,
    #[error("Payment already submitted for {month}")]
    AlreadyPaid { month: JalaliMonth },
    #[error("membership_fee must be greater than 0")]
    FeeNotPositive,
    #[error("Membership fee {fee} is less than minimum required {min}")]
    BelowMinimumFee { fee: Amount, min: Amount },
    #[error("You do not have an active loan. Loan payment must be null.")]
    NoActiveLoan,
    #[error("You have an active loan. Loan repayment amount is required.")]
    RepaymentRequired,
    #[error("Loan payment {amount} is less than minimum required {min}")]
    BelowMinimumRepayment { amount: Amount, min: Amount },
    #[error("Loan repayment {amount} exceeds the loan's remaining balance {remaining}")]
    ExceedsBalance { amount: Amount, remaining: Amount },
    /// A concurrent repayment of the same loan committed first: the balance is known only as
    /// exceeded.
    #[error("Loan repayment exceeds the loan's remaining balance")]
    ExceedsBalanceNow,
    #[error("The payment's total is too large")]
    TotalTooLarge,
    #[error("This Bitpin payment id has already been used")]
    BitpinIdUsed,
    /// Bitpin answered, and the payment does not qualify (400).
    #[error("Bitpin payment verification failed: {0}")]
    GatewayRejected(String),
    /// Bitpin could not be asked (502).
    #[error("Bitpin payment verification failed: {0}")]
    GatewayUnavailable(String),
    /// The `Idempotency-Key` was reused with another request, or is in use right now.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Why the monthly draw was refused.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    #[error("Only fund members may start the draw")]
    NotAMember,
    #[error("Loan assignment already done for {month}")]
    AlreadyDrawn { month: JalaliMonth },
    #[error("Not all users have paid for {month}. Unpaid: {}", unpaid.join(", "))]
    NotAllPaid {
        month: JalaliMonth,
        unpaid: Vec<String>,
    },
    /// The month's seed was never committed to: a draw without one could not be verified.
    #[error("No draw commitment was published for {month}; the draw cannot run without one")]
    NoCommitment { month: JalaliMonth },
    /// The stored seed or commitment is not what was published when the month began.
    #[error(
        "The draw commitment for {month} does not match the one published; the draw refuses to run"
    )]
    CommitmentChanged { month: JalaliMonth },
    /// The `Idempotency-Key` was reused with another request, or is in use right now.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Why a change of the fund's configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The schema's CHECKs: every setting is positive.
    #[error("Every fund setting must be greater than 0")]
    NotPositive,
    /// Settings of a month already over would rewrite the fund's history.
    #[error("A change can take effect from this month or a later one, not from {month}")]
    PastMonth { month: JalaliMonth },
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}
