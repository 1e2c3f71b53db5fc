//! What a monthly statement says, as plain values: the fund's month (the same for every
//! member) and the member's own part. Pure: the cash flow's arithmetic and the loan's
//! installments are computed here; the reading is in `store`, the printing in `saghat-pdf`.

use serde::{Deserialize, Serialize};

use crate::fund::schedule::Schedule;
use crate::platform::jalali::JalaliMonth;
use crate::platform::lang::Lang;
use crate::platform::money::Amount;

/// The most installments a statement lists; the rest are summed up in one line.
pub const MAX_INSTALLMENTS: usize = 12;

/// How many months of payments a statement lists (this one and the ones before it).
pub const HISTORY_MONTHS: usize = 12;

/// The fund's cash (account `fund_cash`) across a month, from the ledger: what it held when the
/// month began, what came in and went out by kind of movement, what it held at its end (as the
/// statements were made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashFlow {
    pub opening: Amount,
    /// Membership fees of the month's payments.
    pub fees: Amount,
    /// Loan repayments of the month's payments.
    pub repayments: Amount,
    /// Every other movement into the cash (tickets repaid, a gateway paying out).
    pub other_in: Amount,
    /// The draw's loan paid out.
    pub lent: Amount,
    /// Contributions paid back to members who left the fund.
    pub refunds: Amount,
    /// Every other movement out of the cash (tickets lent, reversals).
    pub other_out: Amount,
}

impl CashFlow {
    pub fn cash_in(&self) -> Amount {
        sum(&[self.fees, self.repayments, self.other_in])
    }

    pub fn cash_out(&self) -> Amount {
        sum(&[self.lent, self.refunds, self.other_out])
    }

    /// What the cash held at the month's end: opening + in − out.
    pub fn closing(&self) -> Amount {
        Amount::from_sum_units(
            self.opening.units() + self.cash_in().units() - self.cash_out().units(),
        )
    }

    /// The month's flow from the ledger's totals: the cash's debits (`cash_in`) and credits
    /// (`cash_out`) and the parts named by their kind of transaction; what no kind names is
    /// "other".
    pub fn from_ledger(opening: Amount, totals: &LedgerTotals) -> CashFlow {
        let rest = |total: Amount, parts: &[Amount]| {
            Amount::from_sum_units(total.units() - sum(parts).units())
        };
        CashFlow {
            opening,
            fees: totals.fees,
            repayments: totals.repayments,
            other_in: rest(totals.cash_in, &[totals.fees, totals.repayments]),
            lent: totals.lent,
            refunds: totals.refunds,
            other_out: rest(totals.cash_out, &[totals.lent, totals.refunds]),
        }
    }
}

/// A month's sums from the ledger (`store::ledger_totals`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerTotals {
    /// Every debit of the fund's cash in the month.
    pub cash_in: Amount,
    /// Every credit of the fund's cash in the month.
    pub cash_out: Amount,
    /// Payments: credited to the members' contributions.
    pub fees: Amount,
    /// Payments: credited to the members' loan receivables.
    pub repayments: Amount,
    /// Loan disbursements: credited to the cash.
    pub lent: Amount,
    /// Members' departures: credited to the cash.
    pub refunds: Amount,
}

fn sum(parts: &[Amount]) -> Amount {
    Amount::from_sum_units(parts.iter().map(|a| a.units()).sum())
}

/// Who won the month's draw, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawWinner {
    pub user_id: i64,
    /// Their first and last names, or their username.
    pub name: String,
    pub amount: Amount,
}

/// What proves the draw fair: the commitment published before it, the seed it revealed and the
/// digest of its inputs; with them anyone recomputes the winner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawEvidence {
    pub commitment: String,
    pub seed: String,
    pub inputs_digest: String,
}

/// The fund's side of a month's statements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundMonth {
    pub month: JalaliMonth,
    /// The month's draw (its loan, or its `no_one`).
    pub loan_id: String,
    pub cash: CashFlow,
    /// `None`: nobody won.
    pub winner: Option<DrawWinner>,
    /// `None` for a draw made before draws were verifiable.
    pub evidence: Option<DrawEvidence>,
    /// When the figures were read (a stored time).
    pub as_of: String,
}

/// One month of the member's payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthLine {
    pub month: JalaliMonth,
    pub fee: Option<Amount>,
    pub repayment: Option<Amount>,
    /// When they paid (a stored time).
    pub paid_at: Option<String>,
    /// At the month's end: their contributions.
    pub balance: Amount,
    /// At the month's end: what they owe on loans.
    pub owed: Amount,
}

/// One installment still to pay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Installment {
    pub month: JalaliMonth,
    pub amount: Amount,
    /// Owed once it is paid.
    pub remaining_after: Amount,
}

/// The member's loan being repaid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanPart {
    pub loan_id: String,
    /// The draw that lent it.
    pub month: JalaliMonth,
    pub amount: Amount,
    pub repaid: Amount,
    pub remaining: Amount,
    /// The least each installment must be.
    pub minimum: Amount,
    /// Won in this month's draw.
    pub won_now: bool,
    /// The next installments at the minimum (at most [`MAX_INSTALLMENTS`]).
    pub installments: Vec<Installment>,
    /// Installments beyond those listed.
    pub more: i64,
    /// The month of the last one, when it can be named.
    pub last_due: Option<JalaliMonth>,
}

/// Who the statement is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub username: String,
    /// First and last names (`""` when they gave none).
    pub name: String,
}

/// Everything one member's statement prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatement {
    pub lang: Lang,
    pub member: Member,
    /// The months of payments, oldest first, this month last.
    pub history: Vec<MonthLine>,
    pub loan: Option<LoanPart>,
    pub fund: FundMonth,
    /// Where the draw can be verified: its page (absolute with `PUBLIC_BASE_URL`).
    pub verify_page: String,
    /// When it was made (a stored time), and the fund's time zone to date things in.
    pub made_at: String,
    pub tz: chrono_tz::Tz,
}

impl MemberStatement {
    pub fn month(&self) -> JalaliMonth {
        self.fund.month
    }

    /// This month's line, if any.
    pub fn this_month(&self) -> Option<&MonthLine> {
        self.history.last().filter(|l| l.month == self.fund.month)
    }

    /// Whether the member won this month's draw.
    pub fn won(&self) -> bool {
        self.fund
            .winner
            .as_ref()
            .is_some_and(|w| w.user_id == self.member.user_id)
    }
}

/// The installments of `schedule` (the rest of a loan owing `remaining`), at most `max`, and
/// how many more there are.
pub fn installments(schedule: &Schedule, remaining: Amount, max: usize) -> (Vec<Installment>, i64) {
    let listed = usize::try_from(schedule.left)
        .unwrap_or(usize::MAX)
        .min(max);
    let mut owed = remaining.units();
    let mut month = schedule.next_due;
    let mut out = Vec::with_capacity(listed);
    for i in 0..listed {
        let last = i64::try_from(i).unwrap_or(i64::MAX) + 1 == schedule.left;
        let amount = if last {
            schedule.last
        } else {
            schedule.minimum
        };
        owed -= amount.units();
        out.push(Installment {
            month,
            amount,
            remaining_after: Amount::from_sum_units(owed.max(0)),
        });
        month = month.next();
    }
    let more = schedule.left - i64::try_from(listed).unwrap_or(i64::MAX);
    (out, more)
}

/// The `count` months ending with `last`, oldest first.
pub fn months_ending(last: JalaliMonth, count: usize) -> Vec<JalaliMonth> {
    let mut out = vec![last];
    let mut m = last;
    while out.len() < count {
        m = if m.month == 1 {
            JalaliMonth {
                year: m.year - 1,
                month: 12,
            }
        } else {
            JalaliMonth {
                year: m.year,
                month: m.month - 1,
            }
        };
        out.push(m);
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fund::schedule::loan_schedule;

    fn usdt(n: &str) -> Amount {
        Amount::parse(n).unwrap()
    }

    const AZAR: JalaliMonth = JalaliMonth {
        year: 1405,
        month: 9,
    };

    #[test]
    fn the_cash_flow_names_the_ledgers_kinds_and_calls_the_rest_other() {
        let totals = LedgerTotals {
            cash_in: usdt("150"),
            cash_out: usdt("100"),
            fees: usdt("100"),
            repayments: usdt("20"),
            lent: usdt("60"),
            refunds: usdt("35"),
        };
        let flow = CashFlow::from_ledger(usdt("500"), &totals);
        assert_eq!(flow.other_in, usdt("30"), "a ticket repaid, say");
        assert_eq!(flow.other_out, usdt("5"));
        assert_eq!(flow.cash_in(), usdt("150"));
        assert_eq!(flow.cash_out(), usdt("100"));
        assert_eq!(flow.closing(), usdt("550"));
    }

    #[test]
    fn installments_list_the_next_ones_and_count_the_rest() {
        // 45 left at 20 a month, this month paid: 20 in Dey, 20 in Bahman, 5 in Esfand.
        let s = loan_schedule(usdt("45"), usdt("20"), AZAR, true).unwrap();
        let (rows, more) = installments(&s, usdt("45"), MAX_INSTALLMENTS);
        assert_eq!(more, 0);
        let listed: Vec<(u8, Amount, Amount)> = rows
            .iter()
            .map(|r| (r.month.month, r.amount, r.remaining_after))
            .collect();
        assert_eq!(
            listed,
            vec![
                (10, usdt("20"), usdt("25")),
                (11, usdt("20"), usdt("5")),
                (12, usdt("5"), Amount::ZERO),
            ]
        );
        // A long loan: twelve listed, the rest counted.
        let s = loan_schedule(usdt("1000"), usdt("10"), AZAR, false).unwrap();
        let (rows, more) = installments(&s, usdt("1000"), MAX_INSTALLMENTS);
        assert_eq!((rows.len(), more), (12, 88));
        assert_eq!(rows[0].month, AZAR);
        assert_eq!(rows[11].remaining_after, usdt("880"));
        assert_eq!(
            rows[11].month,
            JalaliMonth {
                year: 1406,
                month: 8
            }
        );
    }

    #[test]
    fn the_history_is_the_months_up_to_this_one() {
        let months = months_ending(
            JalaliMonth {
                year: 1405,
                month: 2,
            },
            4,
        );
        let keys: Vec<String> = months.iter().map(ToString::to_string).collect();
        assert_eq!(keys, ["1404/11", "1404/12", "1405/1", "1405/2"]);
    }
}
