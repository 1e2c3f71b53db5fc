//! The monthly payment's rules, as plain functions: what a member must and may pay this month.

use super::error::PayError;
use crate::platform::money::Amount;

/// The fund's configuration (`saghat setup-fund`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundConfig {
    pub min_membership_fee: Amount,
    pub max_month_for_loan_payment: i64,
    pub min_amount_for_loan_payment: Amount,
}

impl Default for FundConfig {
    fn default() -> Self {
        FundConfig {
            min_membership_fee: Amount::whole(20),
            max_month_for_loan_payment: 24,
            min_amount_for_loan_payment: Amount::whole(20),
        }
    }
}

/// The member's active loan, as the payment rules see it.
#[derive(Debug, Clone)]
pub struct ActiveLoan {
    pub id: String,
    pub amount: Amount,
    pub total_paid: Amount,
    pub min_amount_for_each_payment: Amount,
}

impl ActiveLoan {
    pub fn remaining(&self) -> Amount {
        self.amount
            .checked_sub(self.total_paid)
            .unwrap_or(Amount::ZERO)
    }
}

/// A payment that passed the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPlan {
    pub membership_fee: Amount,
    pub repayment: Option<Repayment>,
    pub total: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repayment {
    pub loan_id: String,
    pub amount: Amount,
    /// This repayment brings the loan's total paid up to its amount.
    pub settles_loan: bool,
}

/// Rules 2 and 3 of `/api/payments/pay` (rule 1, one payment a month, is the database's; rule
/// 4, the gateway, comes after). Each error's text is the 400 sentence the client sees, worded
/// as the original's. A fee or repayment ≤ 0 is the schema's 422 before this runs; it is refused here
/// too so that no caller can record one.
pub fn plan_payment(
    membership_fee: Amount,
    loan: Option<Amount>,
    config: &FundConfig,
    active_loan: Option<&ActiveLoan>,
) -> Result<PaymentPlan, PayError> {
    if !membership_fee.is_positive() {
        return Err(PayError::FeeNotPositive);
    }
    if membership_fee < config.min_membership_fee {
        return Err(PayError::BelowMinimumFee {
            fee: membership_fee,
            min: config.min_membership_fee,
        });
    }
    let repayment = match (active_loan, loan) {
        (None, None) => None,
        (None, Some(_)) => return Err(PayError::NoActiveLoan),
        (Some(_), None) => return Err(PayError::RepaymentRequired),
        (Some(active), Some(amount)) => {
            let remaining = active.remaining();
            // The last installment may be smaller than the minimum: it only has to clear the loan.
            let minimum = active.min_amount_for_each_payment.min(remaining);
            if !amount.is_positive() || amount < minimum {
                return Err(PayError::BelowMinimumRepayment {
                    amount,
                    min: minimum,
                });
            }
            if amount > remaining {
                return Err(PayError::ExceedsBalance { amount, remaining });
            }
            Some(Repayment {
                loan_id: active.id.clone(),
                amount,
                settles_loan: amount == remaining,
            })
        }
    };
    let total = membership_fee
        .checked_add(repayment.as_ref().map_or(Amount::ZERO, |r| r.amount))
        .filter(|total| total.fits_column())
        .ok_or(PayError::TotalTooLarge)?;
    Ok(PaymentPlan {
        membership_fee,
        repayment,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdt(n: &str) -> Amount {
        Amount::parse(n).unwrap()
    }

    fn loan(amount: &str, paid: &str) -> ActiveLoan {
        ActiveLoan {
            id: "L".into(),
            amount: usdt(amount),
            total_paid: usdt(paid),
            min_amount_for_each_payment: usdt("20"),
        }
    }

    #[test]
    fn fee_must_be_positive_and_at_least_the_minimum() {
        let config = FundConfig::default();
        assert!(plan_payment(usdt("0"), None, &config, None)
            .unwrap_err()
            .to_string()
            .contains("greater than 0"));
        assert!(plan_payment(usdt("-5"), None, &config, None).is_err());
        assert!(plan_payment(usdt("19.99999999"), None, &config, None)
            .unwrap_err()
            .to_string()
            .contains("less than minimum required 20.00000000"));
        let plan = plan_payment(usdt("25.5"), None, &config, None).unwrap();
        assert_eq!(plan.total, usdt("25.5"));
        assert_eq!(plan.repayment, None);
    }

    #[test]
    fn repayment_is_required_exactly_when_a_loan_is_active() {
        let config = FundConfig::default();
        assert!(plan_payment(usdt("20"), Some(usdt("20")), &config, None)
            .unwrap_err()
            .to_string()
            .contains("do not have an active loan"));
        let active = loan("100", "0");
        assert!(plan_payment(usdt("20"), None, &config, Some(&active))
            .unwrap_err()
            .to_string()
            .contains("required"));
        assert!(
            plan_payment(usdt("20"), Some(usdt("19")), &config, Some(&active))
                .unwrap_err()
                .to_string()
                .contains("19.00000000 is less than minimum required 20.00000000")
        );
        let plan = plan_payment(usdt("20"), Some(usdt("30")), &config, Some(&active)).unwrap();
        assert_eq!(plan.total, usdt("50"));
        assert!(!plan.repayment.unwrap().settles_loan);
    }

    #[test]
    fn a_total_too_large_for_the_currency_is_refused() {
        let config = FundConfig::default();
        let huge = usdt("92233720368");
        let active = ActiveLoan {
            amount: huge,
            ..loan("1", "0")
        };
        let err = plan_payment(huge, Some(huge), &config, Some(&active))
            .unwrap_err()
            .to_string();
        assert!(err.contains("too large"), "{err}");
    }

    #[test]
    fn the_last_installment_may_be_small_but_never_more_than_what_is_owed() {
        let config = FundConfig::default();
        let nearly = loan("100", "90");
        let plan = plan_payment(usdt("20"), Some(usdt("10")), &config, Some(&nearly)).unwrap();
        assert!(plan.repayment.unwrap().settles_loan);
        let err = plan_payment(
            usdt("20"),
            Some(usdt("10.00000001")),
            &config,
            Some(&nearly),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("exceeds the loan's remaining balance 10.00000000"),
            "{err}"
        );
        assert!(plan_payment(usdt("20"), Some(usdt("0")), &config, Some(&nearly)).is_err());
    }

    #[test]
    fn refusals_carry_the_amounts_they_are_about() {
        let config = FundConfig::default();
        let err = plan_payment(usdt("19.5"), None, &config, None).unwrap_err();
        assert!(
            matches!(err, PayError::BelowMinimumFee { fee, min } if fee == usdt("19.5") && min == usdt("20")),
            "{err:?}"
        );
        let nearly = loan("100", "90");
        let err = plan_payment(usdt("20"), Some(usdt("11")), &config, Some(&nearly)).unwrap_err();
        assert!(
            matches!(err, PayError::ExceedsBalance { amount, remaining } if amount == usdt("11") && remaining == usdt("10")),
            "{err:?}"
        );
    }
}
