//! Bitpin payment verification, as the original Saghat did it: the payment must exist, be
//! completed, be in USDT, and cover the total being paid.
//!
//! Contract (the original's `BitpinClient`): `GET {BITPIN_API_BASE_URL}/v1/mch/payments/{id}/`
//! with `Authorization: Token {BITPIN_API_KEY}` answers `{"id", "amount", "status", "currency"}`
//! (amount as a decimal string or number, id as a string or number); `status` is one of
//! `completed`, `paid`, `confirmed`, `done` once the money arrived; 404 means no such payment.
//! A `currency` left out is USDT, as the original read it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::{normalise_payment_id, PaymentVerifier, VerifiedPayment, VerifyError};
use crate::platform::money::Amount;

/// The statuses the original accepted as "the money arrived".
pub const COMPLETED_STATUSES: [&str; 4] = ["completed", "paid", "confirmed", "done"];

#[derive(Clone)]
pub struct BitpinClient {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

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

impl BitpinClient {
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("saghat/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(BitpinClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
        })
    }

    /// The URL of one payment: the id is one percent-encoded path segment, so no id can point
    /// the request elsewhere (`../`, `?`, `#`).
    pub fn payment_url(&self, payment_id: &str) -> String {
        format!(
            "{}/v1/mch/payments/{}/",
            self.base_url,
            urlencode(payment_id)
        )
    }

    async fn fetch(&self, payment_id: &str) -> Result<BitpinPayment, VerifyError> {
        let response = self
            .http
            .get(self.payment_url(payment_id))
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", self.api_key),
            )
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    "timed out"
                } else {
                    "is unreachable"
                };
                VerifyError::Unavailable(format!(
                    "Bitpin {why}; the payment was not recorded, try again later"
                ))
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(VerifyError::Rejected(format!(
                "Payment {payment_id} not found in Bitpin"
            )));
        }
        if !status.is_success() {
            return Err(VerifyError::Unavailable(format!(
                "Bitpin answered {}; the payment was not recorded, try again later",
                status.as_u16()
            )));
        }
        response
            .json()
            .await
            .map_err(|_| VerifyError::Unavailable("Bitpin sent an unreadable answer".into()))
    }
}

impl PaymentVerifier for BitpinClient {
    fn verify<'a>(
        &'a self,
        payment_id: &'a str,
        total: Amount,
    ) -> BoxFuture<'a, Result<VerifiedPayment, VerifyError>> {
        Box::pin(async move {
            let payment = self.fetch(payment_id).await?;
            check_payment(payment_id, &payment, total)
        })
    }
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

/// Payment ids go into a URL path: keep only characters that cannot change its meaning.
fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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

    #[test]
    fn the_url_is_the_originals() {
        let client =
            BitpinClient::new("https://api.bitpin.ir/", "k", Duration::from_secs(1)).unwrap();
        assert_eq!(
            client.payment_url("abc-123"),
            "https://api.bitpin.ir/v1/mch/payments/abc-123/"
        );
    }

    #[test]
    fn payment_ids_cannot_escape_the_path() {
        assert_eq!(urlencode("abc-123"), "abc-123");
        assert_eq!(urlencode("../x?y"), "%2E%2E%2Fx%3Fy");
    }
}
