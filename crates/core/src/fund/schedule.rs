//! A loan's repayment schedule at the minimum installment: how many installments are left,
//! the last one's size and the months they fall in. Plain Rust, no I/O.

use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// What is left of a loan paid at the minimum installment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Installments still to pay.
    pub left: i64,
    /// The minimum installment, and the last one (smaller when it clears the loan exactly).
    pub minimum: Amount,
    pub last: Amount,
    /// The month the next installment is due, and the month of the last one.
    pub next_due: JalaliMonth,
    pub last_due: Option<JalaliMonth>,
}

/// The rest of a loan at the minimum installment: `remaining ÷ minimum` installments, rounded
/// up; the next one is due this month if this month is not paid yet, else next month; one a
/// month after that. `None` when nothing is owed (or there is no positive minimum).
pub fn loan_schedule(
    remaining: Amount,
    minimum: Amount,
    this_month: JalaliMonth,
    paid_this_month: bool,
) -> Option<Schedule> {
    if !remaining.is_positive() || !minimum.is_positive() {
        return None;
    }
    let (owed, step) = (remaining.units(), minimum.units());
    let left = (owed + step - 1) / step;
    let last = owed - (left - 1) * step;
    let next_due = if paid_this_month {
        this_month.next()
    } else {
        this_month
    };
    let left = i64::try_from(left).ok()?;
    Some(Schedule {
        left,
        minimum,
        last: Amount::from_sum_units(last),
        next_due,
        last_due: months_after(next_due, left - 1),
    })
}

/// The month `count` months after `month`, if it is a year we can name.
fn months_after(month: JalaliMonth, count: i64) -> Option<JalaliMonth> {
    let index = i64::from(month.year)
        .checked_mul(12)?
        .checked_add(i64::from(month.month) - 1)?
        .checked_add(count)?;
    Some(JalaliMonth {
        year: i32::try_from(index.div_euclid(12)).ok()?,
        month: u8::try_from(index.rem_euclid(12) + 1).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdt(n: &str) -> Amount {
        Amount::parse(n).unwrap()
    }

    const AZAR: JalaliMonth = JalaliMonth {
        year: 1405,
        month: 9,
    };

    #[test]
    fn installments_left_are_rounded_up_and_the_last_one_clears_the_loan() {
        let s = loan_schedule(usdt("45"), usdt("20"), AZAR, false).unwrap();
        assert_eq!((s.left, s.last, s.minimum), (3, usdt("5"), usdt("20")));
        assert_eq!(s.next_due, AZAR, "this month is not paid yet");
        assert_eq!(
            s.last_due,
            Some(JalaliMonth {
                year: 1405,
                month: 11
            })
        );
        let s = loan_schedule(usdt("40"), usdt("20"), AZAR, true).unwrap();
        assert_eq!((s.left, s.last), (2, usdt("20")));
        assert_eq!(
            s.next_due,
            JalaliMonth {
                year: 1405,
                month: 10
            },
            "paid: next month"
        );
        assert_eq!(
            s.last_due,
            Some(JalaliMonth {
                year: 1405,
                month: 11
            })
        );
        // Exact to the last unit, across the year's end.
        let s = loan_schedule(
            usdt("20.00000001"),
            usdt("20"),
            JalaliMonth {
                year: 1405,
                month: 12,
            },
            true,
        )
        .unwrap();
        assert_eq!((s.left, s.last), (2, Amount::from_units(1)));
        assert_eq!(
            s.next_due,
            JalaliMonth {
                year: 1406,
                month: 1
            }
        );
        assert_eq!(
            s.last_due,
            Some(JalaliMonth {
                year: 1406,
                month: 2
            })
        );
        let s = loan_schedule(usdt("5"), usdt("20"), AZAR, false).unwrap();
        assert_eq!((s.left, s.last, s.last_due), (1, usdt("5"), Some(AZAR)));
    }

    #[test]
    fn nothing_owed_has_no_schedule() {
        assert_eq!(loan_schedule(Amount::ZERO, usdt("20"), AZAR, false), None);
        assert_eq!(loan_schedule(usdt("20"), Amount::ZERO, AZAR, false), None);
        // A tiny minimum: many installments, still computed without counting them one by one.
        let s = loan_schedule(usdt("1000000"), Amount::from_units(1), AZAR, false).unwrap();
        assert_eq!(s.left, 100_000_000_000_000);
        assert_eq!(s.last_due, None, "too far to name");
    }
}
