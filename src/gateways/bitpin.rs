//! Bitpin payment verification, as the original Saghat did it: the payment must exist, be
//! completed, and cover the total being paid.
//!
//! Contract: `GET {BITPIN_API_BASE_URL}/api/v1/payments/{id}/` with
//! `Authorization: Bearer {BITPIN_API_KEY}` answers `{"id", "status", "amount"}` (amount as a
//! decimal string or number); 404 means no such payment.

use std::time::Duration;

use serde::Deserialize;

use crate::platform::money::Amount;

#[derive(Clone)]
pub struct BitpinClient {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BitpinError {
    /// The payment does not prove what the member claims: the client's mistake (400).
    #[error("{0}")]
    Rejected(String),
    /// Bitpin could not be asked: down, slow, or refusing our key (502).
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct BitpinPayment {
    status: String,
    amount: Amount,
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

    pub async fn verify(&self, payment_id: &str, total: Amount) -> Result<(), BitpinError> {
        let url = format!(
            "{}/api/v1/payments/{}/",
            self.base_url,
            urlencode(payment_id)
        );
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.api_key)
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    "timed out"
                } else {
                    "is unreachable"
                };
                BitpinError::Unavailable(format!(
                    "Bitpin {why}; the payment was not recorded, try again later"
                ))
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(BitpinError::Rejected("payment not found".into()));
        }
        if !status.is_success() {
            return Err(BitpinError::Unavailable(format!(
                "Bitpin answered {}; the payment was not recorded, try again later",
                status.as_u16()
            )));
        }
        let payment: BitpinPayment = response
            .json()
            .await
            .map_err(|_| BitpinError::Unavailable("Bitpin sent an unreadable answer".into()))?;
        check_payment(&payment.status, payment.amount, total)
    }
}

/// The verification rule itself, apart from the HTTP call.
pub fn check_payment(status: &str, paid: Amount, total: Amount) -> Result<(), BitpinError> {
    if !status.eq_ignore_ascii_case("completed") {
        return Err(BitpinError::Rejected(format!(
            "payment status is {status:?}, not completed"
        )));
    }
    if paid < total {
        return Err(BitpinError::Rejected(format!(
            "payment amount {paid} does not cover the total {total}"
        )));
    }
    Ok(())
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
    fn only_completed_payments_that_cover_the_total_pass() {
        let total = Amount::whole(50);
        assert_eq!(check_payment("completed", Amount::whole(50), total), Ok(()));
        assert_eq!(check_payment("COMPLETED", Amount::whole(60), total), Ok(()));
        assert!(matches!(
            check_payment("pending", Amount::whole(50), total),
            Err(BitpinError::Rejected(_))
        ));
        assert!(matches!(
            check_payment("completed", Amount::parse("49.99999999").unwrap(), total),
            Err(BitpinError::Rejected(_))
        ));
    }

    #[test]
    fn payment_ids_cannot_escape_the_path() {
        assert_eq!(urlencode("abc-123"), "abc-123");
        assert_eq!(urlencode("../x?y"), "%2E%2E%2Fx%3Fy");
    }
}
