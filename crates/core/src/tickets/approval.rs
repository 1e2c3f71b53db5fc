//! Maker-checker: who may approve a ticket, and whether one approval is enough.
//!
//! Above a configurable amount, or with any high-severity fraud flag, a ticket needs two
//! different approvers; the second can be neither the first nor the borrower, and nobody ever
//! approves their own ticket. Whether the approver is a lender at all is the state machine's
//! rule ([`super::state`]); this one counts people. The service asks both: the role first
//! (`transition(UnderReview, Approved, actor)`), then [`approve`]; only
//! [`ApprovalOutcome::Approved`] moves the ticket, and every counted approval is audited.

use serde::{Deserialize, Serialize};

use super::fraud::Severity;
use crate::platform::money::Amount;

/// The approval rule's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    /// Amounts strictly above this need a second approver.
    pub two_approvers_above: Amount,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            two_approvers_above: Amount::whole(5_000),
        }
    }
}

/// What the rule needs to know about the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketFacts {
    pub borrower_id: i64,
    pub amount: Amount,
    /// The highest severity among the ticket's fraud flags, if any fired.
    pub highest_flag: Option<Severity>,
}

/// An approval that counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalOutcome {
    /// Enough approvals: the ticket moves to approved.
    Approved,
    /// Recorded; the ticket stays under review until another lender approves.
    NeedsSecondApproval,
    /// This approver's approval already counted and the ticket has what it needs: a retry.
    AlreadyApproved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefused {
    #[error("a lender cannot approve their own ticket")]
    OwnTicket,
    #[error(
        "you have already approved this ticket; the second approval must come from another lender"
    )]
    SameApprover,
    #[error("this ticket already has the approvals it needs")]
    AlreadyComplete,
}

impl ApprovalRefused {
    /// A stable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalRefused::OwnTicket => "own_ticket",
            ApprovalRefused::SameApprover => "same_approver",
            ApprovalRefused::AlreadyComplete => "already_approved",
        }
    }
}

/// How many different approvers the ticket needs: 2 above the threshold or with a high flag.
pub fn approvals_needed(facts: &TicketFacts, policy: &ApprovalPolicy) -> usize {
    let high_flag = facts.highest_flag == Some(Severity::High);
    if facts.amount > policy.two_approvers_above || high_flag {
        2
    } else {
        1
    }
}

/// The effect of `approver` approving a ticket already approved by `so_far` (user ids, in
/// order).
pub fn approve(
    facts: &TicketFacts,
    policy: &ApprovalPolicy,
    so_far: &[i64],
    approver: i64,
) -> Result<ApprovalOutcome, ApprovalRefused> {
    if approver == facts.borrower_id {
        return Err(ApprovalRefused::OwnTicket);
    }
    let mut distinct: Vec<i64> = Vec::new();
    for id in so_far {
        if *id != facts.borrower_id && !distinct.contains(id) {
            distinct.push(*id);
        }
    }
    let needed = approvals_needed(facts, policy);
    let already_mine = distinct.contains(&approver);
    match (distinct.len() >= needed, already_mine) {
        (true, true) => Ok(ApprovalOutcome::AlreadyApproved),
        (true, false) => Err(ApprovalRefused::AlreadyComplete),
        (false, true) => Err(ApprovalRefused::SameApprover),
        (false, false) if distinct.len() + 1 >= needed => Ok(ApprovalOutcome::Approved),
        (false, false) => Ok(ApprovalOutcome::NeedsSecondApproval),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BORROWER: i64 = 7;
    const ALI: i64 = 1;
    const SARA: i64 = 2;

    fn facts(amount: i64, flag: Option<Severity>) -> TicketFacts {
        TicketFacts {
            borrower_id: BORROWER,
            amount: Amount::whole(amount),
            highest_flag: flag,
        }
    }

    fn policy() -> ApprovalPolicy {
        ApprovalPolicy {
            two_approvers_above: Amount::whole(1_000),
        }
    }

    #[test]
    fn a_small_clean_ticket_needs_one_lender() {
        let f = facts(1_000, None);
        assert_eq!(
            approvals_needed(&f, &policy()),
            1,
            "at the threshold is not above"
        );
        assert_eq!(
            approve(&f, &policy(), &[], ALI),
            Ok(ApprovalOutcome::Approved)
        );
        // Low and medium flags do not call for a second approver.
        let f = facts(10, Some(Severity::Medium));
        assert_eq!(
            approve(&f, &policy(), &[], ALI),
            Ok(ApprovalOutcome::Approved)
        );
    }

    #[test]
    fn above_the_threshold_two_different_lenders_approve() {
        let f = TicketFacts {
            amount: Amount::whole(1_000).try_add(Amount::from_units(1)).unwrap(),
            ..facts(0, None)
        };
        assert_eq!(approvals_needed(&f, &policy()), 2);
        assert_eq!(
            approve(&f, &policy(), &[], ALI),
            Ok(ApprovalOutcome::NeedsSecondApproval)
        );
        assert_eq!(
            approve(&f, &policy(), &[ALI], ALI),
            Err(ApprovalRefused::SameApprover)
        );
        assert_eq!(
            approve(&f, &policy(), &[ALI], SARA),
            Ok(ApprovalOutcome::Approved)
        );
    }

    #[test]
    fn a_high_severity_flag_needs_two_lenders_whatever_the_amount() {
        let f = facts(5, Some(Severity::High));
        assert_eq!(
            approve(&f, &policy(), &[], SARA),
            Ok(ApprovalOutcome::NeedsSecondApproval)
        );
        assert_eq!(
            approve(&f, &policy(), &[SARA], ALI),
            Ok(ApprovalOutcome::Approved)
        );
    }

    #[test]
    fn nobody_approves_their_own_ticket_first_or_second() {
        for f in [facts(5, None), facts(5_000, None)] {
            let err = approve(&f, &policy(), &[], BORROWER).unwrap_err();
            assert_eq!(err, ApprovalRefused::OwnTicket);
            assert_eq!(err.to_string(), "a lender cannot approve their own ticket");
        }
        let f = facts(5_000, None);
        assert_eq!(
            approve(&f, &policy(), &[ALI], BORROWER),
            Err(ApprovalRefused::OwnTicket)
        );
        // A stray approval by the borrower in the record never counts.
        assert_eq!(
            approve(&f, &policy(), &[BORROWER], ALI),
            Ok(ApprovalOutcome::NeedsSecondApproval)
        );
    }

    #[test]
    fn retries_and_late_approvals_are_told_apart() {
        let f = facts(5_000, None);
        assert_eq!(
            approve(&f, &policy(), &[ALI, SARA], SARA),
            Ok(ApprovalOutcome::AlreadyApproved)
        );
        assert_eq!(
            approve(&f, &policy(), &[ALI, SARA], 3),
            Err(ApprovalRefused::AlreadyComplete)
        );
        let small = facts(5, None);
        assert_eq!(
            approve(&small, &policy(), &[ALI], ALI),
            Ok(ApprovalOutcome::AlreadyApproved)
        );
        // The same lender twice in the record counts once.
        assert_eq!(
            approve(&f, &policy(), &[ALI, ALI], ALI),
            Err(ApprovalRefused::SameApprover)
        );
        assert_eq!(ApprovalRefused::SameApprover.code(), "same_approver");
    }

    proptest::proptest! {
        /// Whatever order lenders (and the borrower) try to approve in, the ticket is approved
        /// exactly when the needed number of different lenders other than the borrower have.
        #[test]
        fn approved_exactly_when_enough_different_lenders_approved(
            amount in 1i64..3_000,
            high in proptest::bool::ANY,
            attempts in proptest::collection::vec(1i64..=7, 0..12),
        ) {
            let f = facts(amount, high.then_some(Severity::High));
            let needed = approvals_needed(&f, &policy());
            let mut recorded: Vec<i64> = Vec::new();
            let mut approved = false;
            for who in attempts {
                match approve(&f, &policy(), &recorded, who) {
                    Ok(ApprovalOutcome::Approved) => {
                        proptest::prop_assert!(!approved);
                        recorded.push(who);
                        approved = true;
                    }
                    Ok(ApprovalOutcome::NeedsSecondApproval) => recorded.push(who),
                    Ok(ApprovalOutcome::AlreadyApproved) => proptest::prop_assert!(approved),
                    Err(_) => {}
                }
                proptest::prop_assert!(!recorded.contains(&BORROWER));
                let mut distinct = recorded.clone();
                distinct.sort_unstable();
                distinct.dedup();
                proptest::prop_assert_eq!(distinct.len(), recorded.len());
                proptest::prop_assert_eq!(approved, recorded.len() >= needed);
            }
        }
    }
}
