//! A disbursed ticket's amortisation: equal monthly installments due by Jalali month, repayments
//! settled oldest first, and how late the borrower is.
//!
//! The fund's own [`crate::fund::schedule`] answers a different question (how long a loan lasts
//! at a minimum installment); this one fixes the installments when the money leaves.
//! Everything is integer minor units: the installments add up to the principal plus the charge
//! to the last unit.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// The longest term a ticket can ask for.
pub const MAX_MONTHS: u32 = 360;

/// What the borrower pays on top of the principal. Interest is 0 by default, as in the fund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Pricing {
    #[default]
    Free,
    /// One fee for the whole loan, spread over the installments like the principal.
    FlatFee(Amount),
    /// Basis points of the principal per month (flat: on the amount disbursed, not the
    /// declining balance), so that installments stay equal; 100 = 1 % a month.
    MonthlyRateBps(u32),
}

/// The terms a schedule is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub principal: Amount,
    pub months: u32,
    pub pricing: Pricing,
    /// The day of the Jalali month installments fall due (1–29: every month has one).
    pub due_day: u8,
}

/// One installment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Installment {
    /// 1 for the first.
    pub number: u32,
    pub due_month: JalaliMonth,
    /// The (Gregorian, local) date it falls due in the fund's time zone.
    pub due_on: NaiveDate,
    pub principal: Amount,
    /// Its share of the fee or interest.
    pub charge: Amount,
    /// Paid so far towards `principal + charge`.
    pub paid: Amount,
}

impl Installment {
    pub fn amount(&self) -> Amount {
        Amount::from_sum_units(self.principal.units() + self.charge.units())
    }

    pub fn outstanding(&self) -> Amount {
        Amount::from_sum_units(self.amount().units() - self.paid.units())
    }

    pub fn is_settled(&self) -> bool {
        !self.outstanding().is_positive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the amount must be positive")]
    NotPositive,
    #[error("the term must be between 1 and {MAX_MONTHS} months")]
    BadTerm,
    #[error("the due day must be between 1 and 29")]
    BadDueDay,
    #[error("the fee cannot be negative")]
    NegativeFee,
    #[error("the amount is too large")]
    TooLarge,
    #[error("the repayment is more than the {owed} still owed")]
    Overpayment { owed: Amount },
    #[error("nothing is owed on this loan")]
    NothingOwed,
}

/// The installments of `terms` for money disbursed in `disbursed_in` (the Jalali month of the
/// disbursement in the fund's time zone): the first falls due the month after, then one a
/// month. All but the last are equal; the last takes the exact remainder.
pub fn amortise(
    terms: &Terms,
    disbursed_in: JalaliMonth,
    tz: chrono_tz::Tz,
) -> Result<Vec<Installment>, ScheduleError> {
    if !terms.principal.is_positive() {
        return Err(ScheduleError::NotPositive);
    }
    if terms.months == 0 || terms.months > MAX_MONTHS {
        return Err(ScheduleError::BadTerm);
    }
    if !(1..=29).contains(&terms.due_day) {
        return Err(ScheduleError::BadDueDay);
    }
    let charge = total_charge(terms)?;
    let principals = split(terms.principal.units(), terms.months);
    let charges = split(charge.units(), terms.months);
    let mut month = disbursed_in;
    let mut out = Vec::with_capacity(terms.months as usize);
    for (i, (p, c)) in principals.zip(charges).enumerate() {
        month = month.next();
        out.push(Installment {
            number: i as u32 + 1,
            due_month: month,
            due_on: due_date(month, terms.due_day, tz),
            principal: Amount::from_sum_units(p),
            charge: Amount::from_sum_units(c),
            paid: Amount::ZERO,
        });
    }
    Ok(out)
}

/// The fee or interest over the whole term, rounded half away from zero.
pub fn total_charge(terms: &Terms) -> Result<Amount, ScheduleError> {
    let units_ = match terms.pricing {
        Pricing::Free => 0,
        Pricing::FlatFee(fee) if fee.units() < 0 => return Err(ScheduleError::NegativeFee),
        Pricing::FlatFee(fee) => fee.units(),
        Pricing::MonthlyRateBps(bps) => {
            let numerator = terms
                .principal
                .units()
                .checked_mul(i128::from(bps))
                .and_then(|n| n.checked_mul(i128::from(terms.months)))
                .ok_or(ScheduleError::TooLarge)?;
            div_round_half_away(numerator, 10_000)
        }
    };
    let total = Amount::from_sum_units(units_);
    if !terms
        .principal
        .try_add(total)
        .is_ok_and(Amount::fits_column)
    {
        return Err(ScheduleError::TooLarge);
    }
    Ok(total)
}

/// `n / d` rounded half away from zero (`d > 0`).
pub fn div_round_half_away(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if 2 * r.abs() >= d {
        q + n.signum()
    } else {
        q
    }
}

/// `total` in `count` parts: equal floors, the last takes what is left.
fn split(total: i128, count: u32) -> impl Iterator<Item = i128> {
    let n = i128::from(count);
    let base = total / n;
    (0..count).map(move |i| {
        if i + 1 == count {
            total - base * (n - 1)
        } else {
            base
        }
    })
}

fn due_date(month: JalaliMonth, day: u8, tz: chrono_tz::Tz) -> NaiveDate {
    let first = month.starts_at(tz).with_timezone(&tz).date_naive();
    first + chrono::Days::new(u64::from(day) - 1)
}

/// What a repayment settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// (installment number, amount applied to it), oldest first.
    pub applied: Vec<(u32, Amount)>,
    /// Every installment is paid: the ticket is repaid.
    pub repaid: bool,
}

/// Applies `amount` to the installments oldest first; a partial payment stays on its
/// installment and the next repayment continues from there. A repayment above what is owed is
/// refused whole, leaving the installments untouched.
pub fn apply_repayment(
    installments: &mut [Installment],
    amount: Amount,
) -> Result<Settlement, ScheduleError> {
    if !amount.is_positive() {
        return Err(ScheduleError::NotPositive);
    }
    let owed = total_outstanding(installments);
    if !owed.is_positive() {
        return Err(ScheduleError::NothingOwed);
    }
    if amount > owed {
        return Err(ScheduleError::Overpayment { owed });
    }
    let mut left = amount.units();
    let mut applied = Vec::new();
    for inst in installments.iter_mut() {
        if left == 0 {
            break;
        }
        let take = inst.outstanding().units().min(left);
        if take > 0 {
            inst.paid = Amount::from_sum_units(inst.paid.units() + take);
            applied.push((inst.number, Amount::from_sum_units(take)));
            left -= take;
        }
    }
    Ok(Settlement {
        applied,
        repaid: installments.iter().all(Installment::is_settled),
    })
}

/// What is still owed over all installments.
pub fn total_outstanding(installments: &[Installment]) -> Amount {
    Amount::from_sum_units(
        installments
            .iter()
            .map(|i| i.outstanding().units().max(0))
            .sum(),
    )
}

/// How late a loan is, by the days its oldest unpaid installment is past due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Delinquency {
    #[serde(rename = "current")]
    Current,
    #[serde(rename = "1-30")]
    Days1To30,
    #[serde(rename = "31-60")]
    Days31To60,
    #[serde(rename = "61-90")]
    Days61To90,
    #[serde(rename = "90+")]
    Over90,
}

impl Delinquency {
    /// The bucket of `days` past due (0 or less: current).
    pub fn of_days(days: i64) -> Delinquency {
        match days {
            ..=0 => Delinquency::Current,
            1..=30 => Delinquency::Days1To30,
            31..=60 => Delinquency::Days31To60,
            61..=90 => Delinquency::Days61To90,
            _ => Delinquency::Over90,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Delinquency::Current => "current",
            Delinquency::Days1To30 => "1-30",
            Delinquency::Days31To60 => "31-60",
            Delinquency::Days61To90 => "61-90",
            Delinquency::Over90 => "90+",
        }
    }
}

/// Days the oldest unpaid installment is past due on `today` (the fund's local date): 0 when
/// nothing unpaid is due before today. An installment is late from the day after it is due.
pub fn days_past_due(installments: &[Installment], today: NaiveDate) -> i64 {
    installments
        .iter()
        .find(|i| !i.is_settled())
        .map(|i| (today - i.due_on).num_days().max(0))
        .unwrap_or(0)
}

/// The delinquency bucket on `today`.
pub fn delinquency(installments: &[Installment], today: NaiveDate) -> Delinquency {
    Delinquency::of_days(days_past_due(installments, today))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;
    use proptest::prelude::*;

    const AZAR: JalaliMonth = JalaliMonth {
        year: 1405,
        month: 9,
    };

    fn usdt(n: &str) -> Amount {
        Amount::parse(n).unwrap()
    }

    fn terms(principal: &str, months: u32, pricing: Pricing) -> Terms {
        Terms {
            principal: usdt(principal),
            months,
            pricing,
            due_day: 1,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn sum(s: &[Installment]) -> Amount {
        s.iter().map(Installment::amount).sum()
    }

    #[test]
    fn equal_installments_and_the_last_takes_the_exact_remainder() {
        let s = amortise(&terms("100", 3, Pricing::Free), AZAR, Tz::Asia__Tehran).unwrap();
        let amounts: Vec<_> = s.iter().map(|i| i.amount().to_string()).collect();
        assert_eq!(amounts, ["33.33333333", "33.33333333", "33.33333334"]);
        assert_eq!(sum(&s), usdt("100"));
        assert!(s.iter().all(|i| i.charge == Amount::ZERO));
        let s = amortise(&terms("0.00000002", 3, Pricing::Free), AZAR, Tz::UTC).unwrap();
        let amounts: Vec<_> = s.iter().map(|i| i.amount().units()).collect();
        assert_eq!(amounts, [0, 0, 2]);
    }

    #[test]
    fn due_dates_follow_jalali_months_from_the_month_after_disbursement() {
        let t = Terms {
            due_day: 5,
            ..terms("120", 5, Pricing::Free)
        };
        let s = amortise(&t, AZAR, Tz::Asia__Tehran).unwrap();
        let months: Vec<_> = s
            .iter()
            .map(|i| (i.due_month.year, i.due_month.month))
            .collect();
        assert_eq!(
            months,
            [(1405, 10), (1405, 11), (1405, 12), (1406, 1), (1406, 2)]
        );
        // 1 Dey 1405 is 22 December 2026; the 5th is the 26th. 5 Farvardin 1406 is 25 March 2027.
        assert_eq!(s[0].due_on, date(2026, 12, 26));
        assert_eq!(s[3].due_on, date(2027, 3, 25));
        assert_eq!(
            s.iter().map(|i| i.number).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn a_flat_fee_is_spread_like_the_principal() {
        let s = amortise(
            &terms("1000", 4, Pricing::FlatFee(usdt("10.00000001"))),
            AZAR,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(sum(&s), usdt("1010.00000001"));
        assert_eq!(s[0].charge, usdt("2.5"));
        assert_eq!(s[3].charge, usdt("2.50000001"));
        assert_eq!(s[0].principal, usdt("250"));
        assert_eq!(
            amortise(&terms("1", 1, Pricing::FlatFee(usdt("-1"))), AZAR, Tz::UTC),
            Err(ScheduleError::NegativeFee)
        );
    }

    #[test]
    fn a_monthly_rate_is_exact_and_rounds_half_away_from_zero() {
        // 1 % a month on 1000 over 12 months: 120.
        let t = terms("1000", 12, Pricing::MonthlyRateBps(100));
        assert_eq!(total_charge(&t), Ok(usdt("120")));
        assert_eq!(sum(&amortise(&t, AZAR, Tz::UTC).unwrap()), usdt("1120"));
        // 0.00000050 × 1 bp × 1 month = 0.0000000050 → 0.00000001 (half rounds up)...
        let t = terms("0.0000005", 1, Pricing::MonthlyRateBps(100));
        assert_eq!(total_charge(&t), Ok(Amount::from_units(1)));
        // ...and 0.00000049 gives 0.0000000049 → 0.
        let t = terms("0.00000049", 1, Pricing::MonthlyRateBps(100));
        assert_eq!(total_charge(&t), Ok(Amount::ZERO));
        assert_eq!(div_round_half_away(-15, 10), -2);
        assert_eq!(div_round_half_away(-14, 10), -1);
        assert_eq!(div_round_half_away(15, 10), 2);
        let huge = terms("90000000000", 360, Pricing::MonthlyRateBps(10_000));
        assert_eq!(total_charge(&huge), Err(ScheduleError::TooLarge));
    }

    #[test]
    fn bad_terms_are_refused() {
        assert_eq!(
            amortise(&terms("0", 3, Pricing::Free), AZAR, Tz::UTC),
            Err(ScheduleError::NotPositive)
        );
        assert_eq!(
            amortise(&terms("10", 0, Pricing::Free), AZAR, Tz::UTC),
            Err(ScheduleError::BadTerm)
        );
        assert_eq!(
            amortise(&terms("10", MAX_MONTHS + 1, Pricing::Free), AZAR, Tz::UTC),
            Err(ScheduleError::BadTerm)
        );
        let t = Terms {
            due_day: 30,
            ..terms("10", 3, Pricing::Free)
        };
        assert_eq!(amortise(&t, AZAR, Tz::UTC), Err(ScheduleError::BadDueDay));
    }

    #[test]
    fn repayments_settle_oldest_first_and_partials_carry_over() {
        let mut s = amortise(&terms("300", 3, Pricing::Free), AZAR, Tz::UTC).unwrap();
        let r = apply_repayment(&mut s, usdt("150")).unwrap();
        assert_eq!(r.applied, vec![(1, usdt("100")), (2, usdt("50"))]);
        assert!(!r.repaid);
        assert!(s[0].is_settled() && !s[1].is_settled());
        assert_eq!(s[1].outstanding(), usdt("50"));
        let r = apply_repayment(&mut s, usdt("60")).unwrap();
        assert_eq!(r.applied, vec![(2, usdt("50")), (3, usdt("10"))]);
        assert_eq!(total_outstanding(&s), usdt("90"));
        // More than owed is refused whole.
        let before = s.clone();
        assert_eq!(
            apply_repayment(&mut s, usdt("90.00000001")),
            Err(ScheduleError::Overpayment { owed: usdt("90") })
        );
        assert_eq!(s, before);
        assert_eq!(
            apply_repayment(&mut s, Amount::ZERO),
            Err(ScheduleError::NotPositive)
        );
        let r = apply_repayment(&mut s, usdt("90")).unwrap();
        assert!(r.repaid);
        assert_eq!(
            apply_repayment(&mut s, usdt("1")),
            Err(ScheduleError::NothingOwed)
        );
    }

    #[test]
    fn delinquency_counts_days_past_the_oldest_unpaid_due_date() {
        let mut s = amortise(&terms("300", 3, Pricing::Free), AZAR, Tz::UTC).unwrap();
        let due = s[0].due_on;
        let day = |n: u64| due + chrono::Days::new(n);
        assert_eq!(
            delinquency(&s, due - chrono::Days::new(3)),
            Delinquency::Current
        );
        assert_eq!(
            delinquency(&s, due),
            Delinquency::Current,
            "due today is not late"
        );
        assert_eq!(days_past_due(&s, day(1)), 1);
        assert_eq!(delinquency(&s, day(1)), Delinquency::Days1To30);
        assert_eq!(delinquency(&s, day(30)), Delinquency::Days1To30);
        assert_eq!(delinquency(&s, day(31)), Delinquency::Days31To60);
        assert_eq!(delinquency(&s, day(60)), Delinquency::Days31To60);
        assert_eq!(delinquency(&s, day(61)), Delinquency::Days61To90);
        assert_eq!(delinquency(&s, day(90)), Delinquency::Days61To90);
        assert_eq!(delinquency(&s, day(91)), Delinquency::Over90);
        // A partial payment of the oldest leaves it the oldest unpaid.
        apply_repayment(&mut s, usdt("99")).unwrap();
        assert_eq!(days_past_due(&s, day(40)), 40);
        // Paying it moves the clock to the next one, not yet due.
        apply_repayment(&mut s, usdt("1")).unwrap();
        assert_eq!(delinquency(&s, day(20)), Delinquency::Current);
        let names: Vec<_> = [0, 1, 31, 61, 91]
            .map(|d| Delinquency::of_days(d).as_str())
            .to_vec();
        assert_eq!(names, ["current", "1-30", "31-60", "61-90", "90+"]);
        assert_eq!(
            serde_json::to_string(&Delinquency::Over90).unwrap(),
            "\"90+\""
        );
    }

    fn any_terms() -> impl Strategy<Value = Terms> {
        (
            1i64..1_000_000_000_000,
            1u32..=MAX_MONTHS,
            prop_oneof![
                Just(Pricing::Free),
                (0i64..1_000_000_000_000).prop_map(|f| Pricing::FlatFee(Amount::from_units(f))),
                (0u32..2_000).prop_map(Pricing::MonthlyRateBps),
            ],
        )
            .prop_map(|(p, months, pricing)| Terms {
                principal: Amount::from_units(p),
                months,
                pricing,
                due_day: 1,
            })
    }

    proptest! {
        #[test]
        fn installments_add_up_exactly_and_none_is_negative(t in any_terms()) {
            let s = amortise(&t, AZAR, Tz::UTC).unwrap();
            prop_assert_eq!(s.len(), t.months as usize);
            let principal: Amount = s.iter().map(|i| i.principal).sum();
            let charge: Amount = s.iter().map(|i| i.charge).sum();
            prop_assert_eq!(principal, t.principal);
            prop_assert_eq!(charge, total_charge(&t).unwrap());
            prop_assert!(s.iter().all(|i| i.principal.units() >= 0 && i.charge.units() >= 0));
            // All but the last are equal.
            prop_assert!(s.windows(2).take(s.len().saturating_sub(2)).all(|w| w[0].amount() == w[1].amount()));
        }

        #[test]
        fn the_order_of_repayments_does_not_change_the_settled_state(
            t in any_terms(),
            cuts in proptest::collection::vec(1u64..1_000, 1..8),
            seed in any::<u64>(),
        ) {
            let s = amortise(&Terms { months: t.months.min(24), ..t }, AZAR, Tz::UTC).unwrap();
            let owed = total_outstanding(&s).units();
            // Split a total no larger than what is owed into positive parts.
            let weights: u64 = cuts.iter().sum();
            let total = owed * i128::from(seed % 1_000 + 1) / 1_000;
            let mut parts: Vec<i128> = cuts.iter().map(|c| total * i128::from(*c) / i128::from(weights)).collect();
            let rest = total - parts.iter().sum::<i128>();
            parts[0] += rest;
            let parts: Vec<i128> = parts.into_iter().filter(|p| *p > 0).collect();
            let mut forward = s.clone();
            for p in &parts {
                apply_repayment(&mut forward, Amount::from_sum_units(*p)).unwrap();
            }
            let mut backward = s.clone();
            for p in parts.iter().rev() {
                apply_repayment(&mut backward, Amount::from_sum_units(*p)).unwrap();
            }
            let mut once = s.clone();
            if total > 0 {
                apply_repayment(&mut once, Amount::from_sum_units(total)).unwrap();
            }
            prop_assert_eq!(&forward, &backward);
            prop_assert_eq!(&forward, &once);
            prop_assert_eq!(total_outstanding(&forward).units(), owed - total);
        }
    }
}
