//! The Bitpin adapter: payment verification, as the original Saghat did it: the payment must exist, be
//! completed, be in USDT, and cover the total being paid.
//!
//! Contract (the original's `BitpinClient`): `GET {BITPIN_API_BASE_URL}/v1/mch/payments/{id}/`
//! with `Authorization: Token {BITPIN_API_KEY}` answers `{"id", "amount", "status", "currency"}`
//! (amount as a decimal string or number, id as a string or number); `status` is one of
//! `completed`, `paid`, `confirmed`, `done` once the money arrived; 404 means no such payment.
//! A `currency` left out is USDT, as the original read it.
//!
//! This file is the HTTP call; `types.rs` holds Bitpin's answer and the rule that reads it.

use std::time::Duration;

use futures_util::future::BoxFuture;

pub use types::{check_payment, BitpinPayment, COMPLETED_STATUSES};

use super::{PaymentGateway, VerifiedPayment, VerifyError};
use crate::platform::money::Amount;

mod types;

#[derive(Clone)]
pub struct BitpinClient {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl BitpinClient {
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = crate::platform::outbound::client_builder(timeout).build()?;
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

impl PaymentGateway for BitpinClient {
    fn verify_payment<'a>(
        &'a self,
        payment_id: &'a str,
        total: Amount,
    ) -> BoxFuture<'a, Result<VerifiedPayment, VerifyError>> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let fetched = self.fetch(payment_id).await;
            let answered = !matches!(fetched, Err(VerifyError::Unavailable(_)));
            crate::platform::measure::gateway_call("bitpin", "verify", answered, started.elapsed());
            let payment = fetched?;
            check_payment(payment_id, &payment, total)
        })
    }
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
    use super::*;

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
