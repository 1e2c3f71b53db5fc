//! What Bitpin answers about a payment, and the rule that decides whether it proves a payment:
//! plain Rust, no I/O.

use serde::Deserialize;

use crate::gateways::{normalise_payment_id, VerifiedPayment, VerifyError};
use crate::platform::money::Amount;

/// The statuses the original accepted as "the money arrived".
pub const COMPLETED_STATUSES: [&str; 4] = ["completed", "paid", "confirmed", "done"];

/// Bitpin's answer about one payment.
#[derive(Debug, Deserialize)]
pub struct BitpinPayment {
    /// Bitpin's own id of the payment; absent, the id asked for stands.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    pub status: String,
    pub amount: Amount,
    #[serde(default)]
    pub currency: Option<String>,
}

/// The verification rule itself, apart from the HTTP call: what Bitpin said about
/// `payment_id` must prove a completed USDT payment of at least `total`. The key of the
/// payment is the id Bitpin gave it, normalised.
pub fn check_payment(
    payment_id: &str,
    payment: &BitpinPayment,
    total: Amount,
) -> Result<VerifiedPayment, VerifyError> {
    let status = payment.status.trim();
    if !COMPLETED_STATUSES
        .iter()
        .any(|s| status.eq_ignore_ascii_case(s))
    {
        return Err(VerifyError::Rejected(format!(
            "Payment {payment_id} status is '{status}', not completed"
        )));
    }
    let currency = payment.currency.as_deref().map_or("USDT", str::trim);
    if !currency.eq_ignore_ascii_case("USDT") {
        return Err(VerifyError::Rejected(format!(
            "Payment {payment_id} currency is '{currency}', not USDT"
        )));
    }
    if payment.amount < total {
        return Err(VerifyError::Rejected(format!(
            "Bitpin payment amount {} is less than required {total}",
            payment.amount
        )));
    }
    let bitpin_id = match &payment.id {
        None | Some(serde_json::Value::Null) => payment_id.to_string(),
        Some(serde_json::Value::String(id)) if !id.trim().is_empty() => id.clone(),
        Some(serde_json::Value::Number(id)) => id.to_string(),
        Some(_) => {
            return Err(VerifyError::Unavailable(
                "Bitpin sent an unreadable answer".into(),
            ))
        }
    };
    Ok(VerifiedPayment {
        key: normalise_payment_id(&bitpin_id),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(json: serde_json::Value) -> BitpinPayment {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_completed_usdt_payments_that_cover_the_total_pass() {
        let total = Amount::whole(50);
        let key = |json| check_payment("p-1", &answer(json), total).map(|v| v.key);
        for status in [
            "completed",
            "paid",
            "confirmed",
            "done",
            "COMPLETED",
            "Paid",
        ] {
            assert_eq!(
                key(json!({ "id": "P-1", "status": status, "amount": "50", "currency": "USDT" })),
                Ok("p-1".to_string()),
                "{status}"
            );
        }
        assert_eq!(
            key(json!({ "status": "completed", "amount": 60 })),
            Ok("p-1".to_string()),
            "no currency is USDT, no id is the id asked for"
        );
        assert_eq!(
            key(json!({ "status": "pending", "amount": "50", "currency": "USDT" })),
            Err(VerifyError::Rejected(
                "Payment p-1 status is 'pending', not completed".into()
            ))
        );
        assert_eq!(
            key(json!({ "status": "completed", "amount": "50", "currency": "IRT" })),
            Err(VerifyError::Rejected(
                "Payment p-1 currency is 'IRT', not USDT".into()
            ))
        );
        assert_eq!(
            key(json!({ "status": "completed", "amount": "49.99999999", "currency": "usdt" })),
            Err(VerifyError::Rejected(
                "Bitpin payment amount 49.99999999 is less than required 50.00000000".into()
            ))
        );
    }

    /// The key is Bitpin's own id, normalised: a member cannot claim one payment twice by
    /// writing its id another way.
    #[test]
    fn the_key_is_the_id_bitpin_returns_normalised() {
        let total = Amount::whole(20);
        let paid = |id: serde_json::Value| {
            answer(json!({ "id": id, "status": "completed", "amount": "20", "currency": "USDT" }))
        };
        let key = |asked: &str, id| check_payment(asked, &paid(id), total).unwrap().key;
        assert_eq!(key("04242", json!(4242)), "4242");
        assert_eq!(key("4242", json!("04242")), "4242");
        assert_eq!(key("shared-id", json!("SHARED-ID")), "shared-id");
        assert_eq!(key("alias", json!("Real-Id")), "real-id");
        assert!(matches!(
            check_payment("x", &paid(json!({ "nested": 1 })), total),
            Err(VerifyError::Unavailable(_))
        ));
    }
}
