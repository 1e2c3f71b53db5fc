//! Closing a Jalali year: the fund's cash across the year, by kind of movement, read from the
//! ledger, with the `ledger verify` report that held at closing. A year closes once it is over
//! and only on books that verify. The year-end report (PDF, XLSX) is the fund report over the
//! year with these figures (`saghat_http::fund::years`).

pub mod service;
pub mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::money::Amount;

/// Money into or out of the fund's cash in the year from one kind of ledger transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Movement {
    /// The ledger transaction kind: `payment`, `loan_disbursement`, `member_departure`, …
    pub kind: String,
    pub cash_in: Amount,
    pub cash_out: Amount,
}

/// A year's figures, all from the ledger (the fund's cash with money at the gateway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct YearFigures {
    pub jalali_year: i64,
    pub opening_cash: Amount,
    pub movements: Vec<Movement>,
    pub cash_in: Amount,
    pub cash_out: Amount,
    pub closing_cash: Amount,
    /// At the year's end: what the fund owes its members (their contributions) and what they
    /// owe it (loans outstanding).
    pub contributions: Amount,
    pub loans_outstanding: Amount,
    /// Members who paid in the year, and those who left the fund in it.
    pub members_paying: i64,
    pub members_left: i64,
}

/// The year's totals from its movements, and whether the cash carries over: opening + in − out
/// must be the closing cash the ledger holds (`None` when it is not).
pub fn totals(
    opening: Amount,
    movements: &[Movement],
    closing: Amount,
) -> Option<(Amount, Amount)> {
    let cash_in: Amount = movements.iter().map(|m| m.cash_in).sum();
    let cash_out: Amount = movements.iter().map(|m| m.cash_out).sum();
    let carried = opening.checked_add(cash_in)?.checked_sub(cash_out)?;
    (carried == closing).then_some((cash_in, cash_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(kind: &str, cash_in: i64, cash_out: i64) -> Movement {
        Movement {
            kind: kind.into(),
            cash_in: Amount::whole(cash_in),
            cash_out: Amount::whole(cash_out),
        }
    }

    #[test]
    fn the_cash_carries_over_the_year() {
        let moves = [
            movement("payment", 900, 0),
            movement("loan_disbursement", 0, 300),
            movement("member_departure", 0, 40),
        ];
        let closing = Amount::whole(100 + 900 - 340);
        assert_eq!(
            totals(Amount::whole(100), &moves, closing),
            Some((Amount::whole(900), Amount::whole(340)))
        );
        assert_eq!(totals(Amount::whole(100), &moves, Amount::whole(661)), None);
    }
}
