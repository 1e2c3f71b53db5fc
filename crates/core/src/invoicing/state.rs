//! An invoice's status, derived from the facts (sent? total, paid, credited, due date, today)
//! by one pure function. The store keeps the result only to index and filter by it, and every
//! change recomputes it from here.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::totals::amount_due;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Sent,
    PartiallyPaid,
    Paid,
    Overdue,
    /// Credited in full by credit notes.
    Void,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Draft,
        Status::Sent,
        Status::PartiallyPaid,
        Status::Paid,
        Status::Overdue,
        Status::Void,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Sent => "sent",
            Status::PartiallyPaid => "partially_paid",
            Status::Paid => "paid",
            Status::Overdue => "overdue",
            Status::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still expecting money.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Sent | Status::PartiallyPaid | Status::Overdue)
    }
}

/// What the status depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    pub sent: bool,
    pub total: i64,
    /// Paid, including the client's credit used on it.
    pub paid: i64,
    /// Taken off by credit notes.
    pub credited: i64,
    /// Σ the totals of the credit notes issued on it (the part beyond what was due became the
    /// client's credit); when they reach the total, the invoice is void.
    pub credit_notes: i64,
    pub due_date: NaiveDate,
    pub today: NaiveDate,
}

/// The status of an invoice (credit notes, once sent, are `Sent`: they are not paid).
pub fn status(f: Facts) -> Status {
    if !f.sent {
        return Status::Draft;
    }
    let due = amount_due(f.total, f.paid, f.credited);
    if f.total > 0 && f.credit_notes >= f.total {
        return Status::Void;
    }
    if due <= 0 {
        return Status::Paid;
    }
    if f.today > f.due_date {
        return Status::Overdue;
    }
    if f.paid > 0 || f.credited > 0 {
        Status::PartiallyPaid
    } else {
        Status::Sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(sent: bool, paid: i64, credited: i64, today: u32) -> Facts {
        Facts {
            sent,
            total: 10_000,
            paid,
            credited,
            credit_notes: credited,
            due_date: NaiveDate::from_ymd_opt(2026, 12, 10).unwrap(),
            today: NaiveDate::from_ymd_opt(2026, 12, today).unwrap(),
        }
    }

    #[test]
    fn the_lifecycle_from_the_facts() {
        assert_eq!(status(facts(false, 0, 0, 1)), Status::Draft);
        // A draft past its due date is still a draft.
        assert_eq!(status(facts(false, 0, 0, 20)), Status::Draft);
        assert_eq!(status(facts(true, 0, 0, 1)), Status::Sent);
        assert_eq!(
            status(facts(true, 0, 0, 10)),
            Status::Sent,
            "due today is not late"
        );
        assert_eq!(status(facts(true, 0, 0, 11)), Status::Overdue);
        assert_eq!(status(facts(true, 4_000, 0, 1)), Status::PartiallyPaid);
        assert_eq!(status(facts(true, 4_000, 0, 11)), Status::Overdue);
        assert_eq!(status(facts(true, 10_000, 0, 11)), Status::Paid);
        assert_eq!(status(facts(true, 4_000, 6_000, 11)), Status::Paid);
        assert_eq!(status(facts(true, 0, 3_000, 1)), Status::PartiallyPaid);
        assert_eq!(status(facts(true, 0, 10_000, 11)), Status::Void);
        // Paid in part, then credited in full: the credit note's rest is the client's credit,
        // and the invoice is void.
        let paid_then_credited = Facts {
            credited: 6_000,
            credit_notes: 10_000,
            ..facts(true, 4_000, 0, 1)
        };
        assert_eq!(status(paid_then_credited), Status::Void);
        let partly_credited = Facts {
            credit_notes: 6_000,
            ..facts(true, 4_000, 6_000, 1)
        };
        assert_eq!(status(partly_credited), Status::Paid);
        assert!(Status::Overdue.is_open() && !Status::Paid.is_open() && !Status::Draft.is_open());
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
