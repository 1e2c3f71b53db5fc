//! The ticket state machine: the only moves a ticket can make, and who may make each one.
//!
//! ```text
//! draft → submitted → under_review → approved | rejected | needs_info
//! needs_info → submitted
//! approved → disbursed → repaying → repaid
//! repaying → defaulted
//! draft | submitted | under_review | needs_info | approved → withdrawn   (the borrower)
//! ```
//!
//! A move asked for again once it is done is [`Transition::AlreadyThere`], so a retried request
//! changes nothing and is not an error.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a ticket is. Stored by [`TicketState::as_str`], which never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Draft,
    Submitted,
    UnderReview,
    Approved,
    Rejected,
    NeedsInfo,
    Disbursed,
    Repaying,
    Repaid,
    Defaulted,
    Withdrawn,
}

/// Who asks for a move, as the ticket sees them: its own borrower, a lender, an admin, or a
/// background job. A lender asking about their own ticket is its borrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Borrower,
    Lender,
    Admin,
    System,
}

/// The outcome of an allowed move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The ticket moves from `from` to `to`: record it (who, when, why) and notify.
    Moved { from: TicketState, to: TicketState },
    /// The ticket is already in the asked-for state and the actor may have put it there: a
    /// retry, to answer as success without a second effect.
    AlreadyThere(TicketState),
}

/// A refused move, with a sentence a person can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// No such move exists from this state.
    #[error("{} cannot be {}", .from.described(), .to.done())]
    NotAllowed { from: TicketState, to: TicketState },
    /// The move exists, but not for this actor.
    #[error("only {} may {}", allowed_list(.to), .to.verb())]
    NotPermitted {
        from: TicketState,
        to: TicketState,
        actor: Actor,
    },
}

impl TransitionError {
    /// A stable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::NotAllowed { .. } => "transition_not_allowed",
            TransitionError::NotPermitted { .. } => "transition_not_permitted",
        }
    }
}

/// A stored state name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ticket state {0:?}")]
pub struct UnknownState(pub String);

/// One entry of a ticket's history: the state it entered, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub state: TicketState,
    pub entered_at: DateTime<Utc>,
}

use Actor::{Admin, Borrower, Lender, System};
use TicketState::*;

/// Every move there is, and who may make it. Reviewing is for lenders and admins; money moves
/// (disbursing) need a person; repayment progress is the system's (it follows the ledger), and
/// a default is declared by an admin or the daily delinquency job.
const MOVES: &[(TicketState, TicketState, &[Actor])] = &[
    (Draft, Submitted, &[Borrower]),
    (Submitted, UnderReview, &[Lender, Admin]),
    (UnderReview, Approved, &[Lender, Admin]),
    (UnderReview, Rejected, &[Lender, Admin]),
    (UnderReview, NeedsInfo, &[Lender, Admin]),
    (NeedsInfo, Submitted, &[Borrower]),
    (Approved, Disbursed, &[Lender, Admin]),
    (Disbursed, Repaying, &[System]),
    (Repaying, Repaid, &[System]),
    (Repaying, Defaulted, &[Admin, System]),
    (Draft, Withdrawn, &[Borrower]),
    (Submitted, Withdrawn, &[Borrower]),
    (UnderReview, Withdrawn, &[Borrower]),
    (NeedsInfo, Withdrawn, &[Borrower]),
    (Approved, Withdrawn, &[Borrower]),
];

/// Whether `actor` may move a ticket in `current` to `target`.
pub fn transition(
    current: TicketState,
    target: TicketState,
    actor: Actor,
) -> Result<Transition, TransitionError> {
    if current == target {
        // A retry if the actor could have made the move into this state.
        return match (may_enter(target, actor), entered_by_anyone(target)) {
            (true, _) => Ok(Transition::AlreadyThere(target)),
            (false, true) => Err(TransitionError::NotPermitted {
                from: current,
                to: target,
                actor,
            }),
            (false, false) => Err(TransitionError::NotAllowed {
                from: current,
                to: target,
            }),
        };
    }
    let Some((_, _, who)) = MOVES
        .iter()
        .find(|(from, to, _)| *from == current && *to == target)
    else {
        return Err(TransitionError::NotAllowed {
            from: current,
            to: target,
        });
    };
    if who.contains(&actor) {
        Ok(Transition::Moved {
            from: current,
            to: target,
        })
    } else {
        Err(TransitionError::NotPermitted {
            from: current,
            to: target,
            actor,
        })
    }
}

/// The states `actor` may move a ticket in `current` to (the buttons a page shows).
pub fn next_states(current: TicketState, actor: Actor) -> Vec<TicketState> {
    MOVES
        .iter()
        .filter(|(from, _, who)| *from == current && who.contains(&actor))
        .map(|(_, to, _)| *to)
        .collect()
}

fn may_enter(target: TicketState, actor: Actor) -> bool {
    MOVES
        .iter()
        .any(|(_, to, who)| *to == target && who.contains(&actor))
}

fn entered_by_anyone(target: TicketState) -> bool {
    MOVES.iter().any(|(_, to, _)| *to == target)
}

fn allowed_list(target: &TicketState) -> String {
    let mut who: Vec<Actor> = Vec::new();
    for (_, to, actors) in MOVES {
        if to == target {
            for a in actors.iter() {
                if !who.contains(a) {
                    who.push(*a);
                }
            }
        }
    }
    let names: Vec<&str> = who.iter().map(|a| a.described()).collect();
    names.join(" or ")
}

impl TicketState {
    pub const ALL: [TicketState; 11] = [
        Draft,
        Submitted,
        UnderReview,
        Approved,
        Rejected,
        NeedsInfo,
        Disbursed,
        Repaying,
        Repaid,
        Defaulted,
        Withdrawn,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Draft => "draft",
            Submitted => "submitted",
            UnderReview => "under_review",
            Approved => "approved",
            Rejected => "rejected",
            NeedsInfo => "needs_info",
            Disbursed => "disbursed",
            Repaying => "repaying",
            Repaid => "repaid",
            Defaulted => "defaulted",
            Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Result<TicketState, UnknownState> {
        TicketState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| UnknownState(text.to_string()))
    }

    /// The milestones a move into this state reaches, as the ticket's columns that keep the
    /// first time each was reached (what the reports time against the SLA): a submission; a
    /// first response (a review, a question, a decision); a decision.
    pub fn milestones(self) -> &'static [&'static str] {
        match self {
            Submitted => &["first_submitted_at"],
            UnderReview | NeedsInfo => &["first_response_at"],
            Approved | Rejected => &["first_response_at", "decided_at"],
            _ => &[],
        }
    }

    /// No move leaves this state.
    pub fn is_final(self) -> bool {
        !MOVES.iter().any(|(from, _, _)| *from == self)
    }

    /// Waiting on the lenders (the review queue holds these).
    pub fn awaits_lenders(self) -> bool {
        matches!(self, Submitted | UnderReview)
    }

    /// The money has left the fund: from here on the ticket is a loan.
    pub fn is_disbursed(self) -> bool {
        matches!(self, Disbursed | Repaying | Repaid | Defaulted)
    }

    /// "a rejected ticket", for error sentences.
    fn described(self) -> &'static str {
        match self {
            Draft => "a draft ticket",
            Submitted => "a submitted ticket",
            UnderReview => "a ticket under review",
            Approved => "an approved ticket",
            Rejected => "a rejected ticket",
            NeedsInfo => "a ticket waiting for information",
            Disbursed => "a disbursed ticket",
            Repaying => "a ticket being repaid",
            Repaid => "a repaid ticket",
            Defaulted => "a defaulted ticket",
            Withdrawn => "a withdrawn ticket",
        }
    }

    /// "approved" in "cannot be approved".
    fn done(self) -> &'static str {
        match self {
            Draft => "made a draft again",
            Submitted => "submitted",
            UnderReview => "taken under review",
            Approved => "approved",
            Rejected => "rejected",
            NeedsInfo => "sent back for information",
            Disbursed => "disbursed",
            Repaying => "put into repayment",
            Repaid => "marked repaid",
            Defaulted => "marked defaulted",
            Withdrawn => "withdrawn",
        }
    }

    /// "approve" in "only a lender or an admin may approve".
    fn verb(self) -> &'static str {
        match self {
            Draft => "make it a draft",
            Submitted => "submit",
            UnderReview => "take a ticket under review",
            Approved => "approve",
            Rejected => "reject",
            NeedsInfo => "ask for information",
            Disbursed => "disburse",
            Repaying => "start the repayment",
            Repaid => "mark a ticket repaid",
            Defaulted => "mark a ticket defaulted",
            Withdrawn => "withdraw",
        }
    }
}

impl Actor {
    fn described(self) -> &'static str {
        match self {
            Borrower => "the borrower",
            Lender => "a lender",
            Admin => "an admin",
            System => "the system",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Borrower => "borrower",
            Lender => "lender",
            Admin => "admin",
            System => "system",
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketState::parse(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_decision_is_also_a_first_response_and_only_review_moves_are_milestones() {
        assert_eq!(Submitted.milestones(), ["first_submitted_at"]);
        assert_eq!(NeedsInfo.milestones(), ["first_response_at"]);
        assert_eq!(Rejected.milestones(), ["first_response_at", "decided_at"]);
        for state in [Draft, Disbursed, Repaying, Repaid, Defaulted, Withdrawn] {
            assert!(state.milestones().is_empty(), "{state:?}");
        }
    }

    use super::*;
    use proptest::prelude::*;

    const ACTORS: [Actor; 4] = [Borrower, Lender, Admin, System];

    #[test]
    fn the_happy_path_is_allowed_step_by_step_for_the_right_people() {
        let path = [
            (Draft, Submitted, Borrower),
            (Submitted, UnderReview, Lender),
            (UnderReview, NeedsInfo, Lender),
            (NeedsInfo, Submitted, Borrower),
            (Submitted, UnderReview, Admin),
            (UnderReview, Approved, Lender),
            (Approved, Disbursed, Admin),
            (Disbursed, Repaying, System),
            (Repaying, Repaid, System),
        ];
        for (from, to, actor) in path {
            assert_eq!(
                transition(from, to, actor),
                Ok(Transition::Moved { from, to }),
                "{from} → {to} by {actor:?}"
            );
        }
        assert!(transition(UnderReview, Rejected, Lender).is_ok());
        assert!(transition(Repaying, Defaulted, System).is_ok());
        assert!(transition(Repaying, Defaulted, Admin).is_ok());
    }

    #[test]
    fn exactly_the_listed_moves_exist() {
        let mut allowed = 0;
        for from in TicketState::ALL {
            for to in TicketState::ALL {
                let exists = ACTORS
                    .iter()
                    .any(|a| matches!(transition(from, to, *a), Ok(Transition::Moved { .. })));
                if exists {
                    allowed += 1;
                }
            }
        }
        assert_eq!(allowed, 15);
    }

    #[test]
    fn refused_moves_say_why_in_plain_words() {
        let err = transition(Rejected, Approved, Lender).unwrap_err();
        assert_eq!(err.to_string(), "a rejected ticket cannot be approved");
        assert_eq!(err.code(), "transition_not_allowed");
        let err = transition(UnderReview, Withdrawn, Lender).unwrap_err();
        assert_eq!(err.to_string(), "only the borrower may withdraw");
        assert_eq!(err.code(), "transition_not_permitted");
        assert_eq!(
            transition(UnderReview, Approved, Borrower)
                .unwrap_err()
                .to_string(),
            "only a lender or an admin may approve"
        );
        assert_eq!(
            transition(Repaying, Repaid, Admin).unwrap_err().to_string(),
            "only the system may mark a ticket repaid"
        );
        assert_eq!(
            transition(Draft, Approved, Admin).unwrap_err().to_string(),
            "a draft ticket cannot be approved"
        );
        assert_eq!(
            transition(Approved, UnderReview, Lender)
                .unwrap_err()
                .to_string(),
            "an approved ticket cannot be taken under review"
        );
    }

    #[test]
    fn withdrawal_is_the_borrowers_and_only_before_the_money_moves() {
        for from in [Draft, Submitted, UnderReview, NeedsInfo, Approved] {
            assert!(transition(from, Withdrawn, Borrower).is_ok(), "{from}");
            for actor in [Lender, Admin, System] {
                assert!(matches!(
                    transition(from, Withdrawn, actor),
                    Err(TransitionError::NotPermitted { .. })
                ));
            }
        }
        for from in [Rejected, Disbursed, Repaying, Repaid, Defaulted] {
            assert_eq!(
                transition(from, Withdrawn, Borrower),
                Err(TransitionError::NotAllowed {
                    from,
                    to: Withdrawn
                })
            );
        }
        assert_eq!(
            transition(Disbursed, Withdrawn, Borrower)
                .unwrap_err()
                .to_string(),
            "a disbursed ticket cannot be withdrawn"
        );
    }

    #[test]
    fn a_retried_move_is_recognised_as_already_done() {
        assert_eq!(
            transition(Approved, Approved, Lender),
            Ok(Transition::AlreadyThere(Approved))
        );
        assert_eq!(
            transition(Withdrawn, Withdrawn, Borrower),
            Ok(Transition::AlreadyThere(Withdrawn))
        );
        assert_eq!(
            transition(Submitted, Submitted, Borrower),
            Ok(Transition::AlreadyThere(Submitted))
        );
        // Not a retry when the actor could never have made it.
        assert!(matches!(
            transition(Approved, Approved, Borrower),
            Err(TransitionError::NotPermitted { .. })
        ));
        // Nothing enters draft: asking for it again is not a retry.
        assert!(matches!(
            transition(Draft, Draft, Borrower),
            Err(TransitionError::NotAllowed { .. })
        ));
    }

    #[test]
    fn final_states_and_next_moves() {
        let finals: Vec<_> = TicketState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, vec![Rejected, Repaid, Defaulted, Withdrawn]);
        assert_eq!(
            next_states(UnderReview, Lender),
            vec![Approved, Rejected, NeedsInfo]
        );
        assert_eq!(next_states(UnderReview, Borrower), vec![Withdrawn]);
        assert_eq!(next_states(Repaid, Admin), vec![]);
        assert!(Submitted.awaits_lenders() && UnderReview.awaits_lenders());
        assert!(!NeedsInfo.awaits_lenders());
        assert!(Repaying.is_disbursed() && !Approved.is_disbursed());
    }

    #[test]
    fn names_are_stable_snake_case_and_round_trip() {
        let names: Vec<_> = TicketState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "draft",
                "submitted",
                "under_review",
                "approved",
                "rejected",
                "needs_info",
                "disbursed",
                "repaying",
                "repaid",
                "defaulted",
                "withdrawn"
            ]
        );
        for s in TicketState::ALL {
            assert_eq!(TicketState::parse(s.as_str()), Ok(s));
            assert_eq!(s.to_string().parse::<TicketState>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(
            TicketState::parse("Approved"),
            Err(UnknownState("Approved".into()))
        );
        assert!(TicketState::parse("").is_err());
    }

    fn state() -> impl Strategy<Value = TicketState> {
        proptest::sample::select(TicketState::ALL.to_vec())
    }

    fn actor() -> impl Strategy<Value = Actor> {
        proptest::sample::select(ACTORS.to_vec())
    }

    proptest! {
        /// Any sequence of asked-for moves only ever walks the listed edges, and a disbursed
        /// ticket never becomes withdrawn.
        #[test]
        fn random_requests_only_walk_listed_edges(asks in proptest::collection::vec((state(), actor()), 0..40)) {
            let mut current = Draft;
            let mut was_disbursed = false;
            for (target, who) in asks {
                if let Ok(Transition::Moved { from, to }) = transition(current, target, who) {
                    prop_assert!(MOVES.iter().any(|(f, t, a)| *f == from && *t == to && a.contains(&who)));
                    current = to;
                }
                was_disbursed |= current.is_disbursed();
                prop_assert!(!(was_disbursed && current == Withdrawn));
            }
        }
    }
}
