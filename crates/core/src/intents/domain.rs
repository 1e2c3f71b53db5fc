//! The rules of a payment intent, without I/O: its states and moves, what verified money does,
//! and the amount charged.

use crate::platform::money::Amount;

/// `created → redirected → authorised → verified | failed | expired | reversed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentState {
    /// Made, the payer not yet sent to the gateway.
    Created,
    /// The gateway gave an authority and the payer was sent to its page.
    Redirected,
    /// The gateway says the payer paid; Saghat has still to verify it.
    Authorised,
    /// Verified with the gateway: the money is Saghat's (or is being given back).
    Verified,
    Failed,
    Expired,
    /// Verified, then given back to the payer by the gateway.
    Reversed,
}

impl IntentState {
    pub const ALL: [IntentState; 7] = [
        IntentState::Created,
        IntentState::Redirected,
        IntentState::Authorised,
        IntentState::Verified,
        IntentState::Failed,
        IntentState::Expired,
        IntentState::Reversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntentState::Created => "created",
            IntentState::Redirected => "redirected",
            IntentState::Authorised => "authorised",
            IntentState::Verified => "verified",
            IntentState::Failed => "failed",
            IntentState::Expired => "expired",
            IntentState::Reversed => "reversed",
        }
    }

    pub fn parse(text: &str) -> Option<IntentState> {
        IntentState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the intent may move to `to`. A failed or expired intent may still become
    /// authorised: the gateway is the judge of whether the payer paid, and a late "paid"
    /// (a callback after expiry, or reconciliation finding it) must not be lost.
    pub fn can_become(self, to: IntentState) -> bool {
        use IntentState::*;
        matches!(
            (self, to),
            (Created, Redirected | Failed | Expired)
                | (Redirected, Authorised | Failed | Expired)
                | (Authorised, Verified | Failed | Expired)
                | (Failed | Expired, Authorised)
                | (Verified, Reversed)
        )
    }

    /// States from which verified money can still be applied (the conditional update that
    /// makes "exactly once" lists exactly these).
    pub fn may_be_verified(self) -> bool {
        self.can_become(IntentState::Verified) || self.can_become(IntentState::Authorised)
    }

    /// The payer's money has not reached an outcome yet: the result page says "pending".
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            IntentState::Created | IntentState::Redirected | IntentState::Authorised
        )
    }
}

/// What money a gateway verified does to the invoice it was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Pays `allocated` of the invoice; the rest of the amount is the client's credit.
    Apply { allocated: i64 },
    /// The invoice is paid (or void) already: the payment is given back.
    Reverse,
}

/// `amount` verified for an invoice that still owes `due` (or none, when it is void).
pub fn effect_of(amount: i64, due: Option<i64>) -> Effect {
    match due {
        Some(due) if due > 0 => Effect::Apply {
            allocated: amount.min(due),
        },
        _ => Effect::Reverse,
    }
}

/// The gateway's smallest payment, in Rials (Zarinpal: 1,000 Rials, 100 Tomans).
pub const MIN_CHARGE_RIALS: i64 = 1_000;

/// The Rials to charge for `due` Rials when the gateway counts in units of `rials_per_unit`
/// (10 for Tomans): rounded up to a whole unit, so the invoice is paid in full; the few Rials
/// over become the client's credit. None when below the gateway's minimum.
pub fn rials_to_charge(due: i64, rials_per_unit: i64) -> Option<i64> {
    let unit = rials_per_unit.max(1);
    let rounded = due.checked_add(unit - 1)? / unit * unit;
    (rounded >= MIN_CHARGE_RIALS).then_some(rounded)
}

/// The Rials that buy `usdt` at `irr_per_usdt` Rials per USDT, rounded up to a whole Rial
/// (10⁻⁸ USDT units): the fund is never paid less than the installment. None when it does not
/// fit.
pub fn rials_for_usdt(usdt: Amount, irr_per_usdt: i64) -> Option<i64> {
    let units = usdt.units().checked_mul(i128::from(irr_per_usdt))?;
    let per_whole = Amount::whole(1).units();
    let rials = (units + per_whole - 1).div_euclid(per_whole);
    i64::try_from(rials).ok().filter(|r| *r > 0)
}

/// Why an intent failed, expired or was given back: a stable code, stored on the intent, that
/// the API explains in English ([`reason_text`]) and the pages in the reader's language.
pub mod reason {
    /// The payer cancelled at the bank, or the bank refused (`Status=NOK`).
    pub const CANCELLED: &str = "cancelled";
    /// The gateway says the payment did not complete.
    pub const NOT_COMPLETED: &str = "not_completed";
    pub const EXPIRED: &str = "expired";
    /// Verified for an invoice already paid: being given back.
    pub const ALREADY_PAID: &str = "already_paid";
    /// Given back to the payer's card.
    pub const GIVEN_BACK: &str = "given_back";
    /// The gateway could not give it back: it is the client's credit.
    pub const KEPT_AS_CREDIT: &str = "kept_as_credit";
    /// The gateway could not give back an installment's money: the fund refunds it by hand.
    pub const REFUND_BY_HAND: &str = "refund_by_hand";
    pub const REVERSED_AT_GATEWAY: &str = "reversed_at_gateway";

    /// A gateway error code: `gateway:-50`.
    pub fn gateway(code: i64) -> String {
        format!("gateway:{code}")
    }

    /// The gateway code in a reason made by [`gateway`].
    pub fn gateway_code(reason: &str) -> Option<i64> {
        reason.strip_prefix("gateway:")?.parse().ok()
    }
}

/// A reason code in English.
pub fn reason_text(code: &str) -> String {
    match code {
        "" => String::new(),
        reason::CANCELLED => "The payment was cancelled or refused at the bank.".into(),
        reason::NOT_COMPLETED => "The payment was not completed at the bank.".into(),
        reason::EXPIRED => "The payment was not completed in time.".into(),
        reason::ALREADY_PAID => {
            "The invoice was already paid; this payment is being given back.".into()
        }
        reason::GIVEN_BACK => {
            "The invoice was already paid; the payment was given back to the card.".into()
        }
        reason::KEPT_AS_CREDIT => "The invoice was already paid and the gateway could not give \
             the payment back; it is the client's credit."
            .into(),
        reason::REVERSED_AT_GATEWAY => "The gateway reversed the payment.".into(),
        reason::REFUND_BY_HAND => "Nothing was owed any more and the gateway could not give the \
             payment back; the fund refunds it by hand."
            .into(),
        other => match reason::gateway_code(other) {
            Some(code) => format!(
                "{} (code {code})",
                crate::gateways::zarinpal::code_message(code)
            ),
            None => other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::IntentState::*;
    use super::*;

    #[test]
    fn the_happy_path_and_its_ends() {
        for (from, to) in [
            (Created, Redirected),
            (Redirected, Authorised),
            (Authorised, Verified),
            (Verified, Reversed),
            (Redirected, Failed),
            (Created, Expired),
        ] {
            assert!(from.can_become(to), "{from:?} → {to:?}");
        }
        for (from, to) in [
            (Verified, Failed),
            (Reversed, Verified),
            (Created, Verified),
            (Verified, Verified),
            (Reversed, Authorised),
            (Failed, Verified),
        ] {
            assert!(!from.can_become(to), "{from:?} → {to:?}");
        }
    }

    #[test]
    fn a_late_payment_revives_a_failed_or_expired_intent() {
        assert!(Failed.can_become(Authorised));
        assert!(Expired.can_become(Authorised));
        for s in [Redirected, Authorised, Failed, Expired] {
            assert!(s.may_be_verified(), "{s:?}");
        }
        for s in [Created, Verified, Reversed] {
            assert!(!s.may_be_verified(), "{s:?}");
        }
    }

    #[test]
    fn states_round_trip() {
        for s in IntentState::ALL {
            assert_eq!(IntentState::parse(s.as_str()), Some(s));
        }
        assert_eq!(IntentState::parse("paid"), None);
    }

    #[test]
    fn verified_money_pays_what_is_owed_and_no_more() {
        assert_eq!(
            effect_of(5_000, Some(5_000)),
            Effect::Apply { allocated: 5_000 }
        );
        assert_eq!(
            effect_of(5_000, Some(4_995)),
            Effect::Apply { allocated: 4_995 }
        );
        assert_eq!(
            effect_of(5_000, Some(2_000)),
            Effect::Apply { allocated: 2_000 }
        );
        assert_eq!(effect_of(5_000, Some(0)), Effect::Reverse);
        assert_eq!(effect_of(5_000, None), Effect::Reverse);
    }

    #[test]
    fn tomans_round_up_and_the_minimum_holds() {
        assert_eq!(rials_to_charge(12_345, 1), Some(12_345));
        assert_eq!(rials_to_charge(12_345, 10), Some(12_350));
        assert_eq!(rials_to_charge(12_340, 10), Some(12_340));
        assert_eq!(rials_to_charge(999, 1), None);
        assert_eq!(rials_to_charge(1_000, 1), Some(1_000));
        assert_eq!(rials_to_charge(991, 10), Some(1_000));
        assert_eq!(rials_to_charge(i64::MAX, 10), None);
    }

    #[test]
    fn every_reason_reads_in_english() {
        for code in [
            reason::CANCELLED,
            reason::NOT_COMPLETED,
            reason::EXPIRED,
            reason::ALREADY_PAID,
            reason::GIVEN_BACK,
            reason::KEPT_AS_CREDIT,
            reason::REVERSED_AT_GATEWAY,
            reason::REFUND_BY_HAND,
        ] {
            assert!(reason_text(code).ends_with('.'), "{code}");
        }
        assert_eq!(reason::gateway_code(&reason::gateway(-50)), Some(-50));
        assert!(reason_text(&reason::gateway(-50)).contains("does not match"));
    }

    #[test]
    fn usdt_becomes_rials_rounded_up() {
        // 20 USDT at 1,050,000 Rials.
        assert_eq!(
            rials_for_usdt(Amount::whole(20), 1_050_000),
            Some(21_000_000)
        );
        // 0.00000001 USDT still costs a Rial.
        assert_eq!(rials_for_usdt(Amount::from_units(1), 1_050_000), Some(1));
        // 12.34567891 USDT × 1,000,000 = 12,345,678.91 → 12,345,679.
        assert_eq!(
            rials_for_usdt(Amount::from_units(1_234_567_891), 1_000_000),
            Some(12_345_679)
        );
        assert_eq!(rials_for_usdt(Amount::ZERO, 1_000_000), None);
        assert_eq!(rials_for_usdt(Amount::from_units(i64::MAX), i64::MAX), None);
    }
}
