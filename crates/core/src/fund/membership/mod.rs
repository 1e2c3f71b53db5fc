//! Members leaving the fund and rejoining it. An admin asks a member to leave; the member
//! confirms (or declines). On confirmation their contributions settle what their loan still
//! owes and the rest is paid back, posted to the ledger in the same transaction, and they sit
//! out the payments and draws until an admin lets them rejoin (starting again from nothing).
//! The rule itself is [`settle`], plain arithmetic.

pub mod service;
pub mod store;

use crate::platform::money::Amount;

/// What leaving gives a member back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Settlement {
    /// The fees they paid in (their contributions' balance).
    pub contributions: Amount,
    /// What their loan still owed, settled from the contributions.
    pub owed: Amount,
    /// Paid back to them: contributions − owed.
    pub refund: Amount,
}

/// Why a member cannot leave, or rejoin.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("Only fund members can leave the fund")]
    NotAMember,
    #[error("This member has already left the fund")]
    AlreadyLeft,
    #[error("This member has already been asked to leave")]
    AlreadyAsked,
    #[error("You have not been asked to leave the fund")]
    NothingAsked,
    #[error("The loan still owes {owed}, more than the {contributions} paid in: it must be repaid down to {contributions} first")]
    OwesMore { owed: Amount, contributions: Amount },
    #[error("This member has not left the fund")]
    NotLeft,
    #[error("No such user")]
    NoSuchUser,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Contributions back less what the loan owes; refused when the loan owes more than them.
pub fn settle(contributions: Amount, owed: Amount) -> Result<Settlement, MembershipError> {
    match contributions.checked_sub(owed) {
        Some(refund) if refund >= Amount::ZERO => Ok(Settlement {
            contributions,
            owed,
            refund,
        }),
        _ => Err(MembershipError::OwesMore {
            owed,
            contributions,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributions_come_back_less_the_loan() {
        let s = settle(Amount::whole(240), Amount::whole(90)).unwrap();
        assert_eq!(s.refund, Amount::whole(150));
        assert_eq!(
            settle(Amount::whole(240), Amount::ZERO).unwrap().refund,
            Amount::whole(240)
        );
        assert_eq!(
            settle(Amount::whole(90), Amount::whole(90)).unwrap().refund,
            Amount::ZERO
        );
        assert_eq!(
            settle(Amount::ZERO, Amount::ZERO).unwrap().refund,
            Amount::ZERO
        );
    }

    #[test]
    fn a_loan_owing_more_than_the_contributions_must_be_repaid_first() {
        let refused = settle(Amount::whole(40), Amount::parse("40.00000001").unwrap());
        assert!(matches!(refused, Err(MembershipError::OwesMore { .. })));
        assert!(refused.unwrap_err().to_string().contains("40.00000001"));
    }
}
