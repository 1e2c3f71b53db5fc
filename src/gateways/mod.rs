//! Payment gateways. The fund asks a [`PaymentVerifier`] whether a gateway payment proves what a
//! member claims to have paid; each gateway's HTTP contract lives in its own module (Bitpin is
//! the one implementation today), so the fund's service knows none of them.

pub mod bitpin;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::Config;
use crate::platform::money::Amount;

/// A gateway payment the gateway confirmed: complete, in USDT, covering the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPayment {
    /// The id the gateway itself gave the payment, normalised ([`normalise_payment_id`]): one
    /// payment has one key however the member wrote its id, so it can be claimed once.
    pub key: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The payment does not prove what the member claims: the client's mistake (400).
    #[error("{0}")]
    Rejected(String),
    /// The gateway could not be asked: down, slow, or refusing our key (502).
    #[error("{0}")]
    Unavailable(String),
}

/// Verifies that gateway payment `payment_id` exists, is complete, is in USDT and covers
/// `total`. Boxed futures keep the trait object-safe: the application holds one as
/// `Arc<dyn PaymentVerifier>`, and tests may hold another.
pub trait PaymentVerifier: Send + Sync {
    fn verify<'a>(
        &'a self,
        payment_id: &'a str,
        total: Amount,
    ) -> BoxFuture<'a, Result<VerifiedPayment, VerifyError>>;
}

/// The verifier the configuration asks for: Bitpin when `BITPIN_API_KEY` is set, else none
/// (payments are then not verified; `Config::from_env` refuses that in production unless
/// `BITPIN_VERIFY=off`).
pub fn from_config(config: &Config) -> anyhow::Result<Option<Arc<dyn PaymentVerifier>>> {
    Ok(match &config.bitpin_api_key {
        Some(key) => Some(Arc::new(bitpin::BitpinClient::new(
            &config.bitpin_api_base_url,
            key,
            config.bitpin_timeout,
        )?)),
        None => None,
    })
}

/// The form of a gateway payment id that decides whether it was already claimed: trimmed,
/// case-folded, and a numeric id without leading zeros, so `4242`, `04242` and ` 4242 ` are
/// one payment, and so are `SHARED-ID` and `shared-id`.
pub fn normalise_payment_id(id: &str) -> String {
    let id = id.trim();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        let significant = id.trim_start_matches('0');
        return if significant.is_empty() {
            "0".into()
        } else {
            significant.into()
        };
    }
    id.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_payment_has_one_key_however_its_id_is_written() {
        for (a, b) in [
            ("4242", "04242"),
            ("4242", " 0004242 "),
            ("SHARED-ID", "shared-id"),
            ("Shared-Id", " SHARED-id\t"),
            ("0", "000"),
            ("ÄBC", "äbc"),
        ] {
            assert_eq!(
                normalise_payment_id(a),
                normalise_payment_id(b),
                "{a:?} {b:?}"
            );
        }
        assert_eq!(normalise_payment_id("04242"), "4242");
        assert_eq!(normalise_payment_id("SHARED-ID"), "shared-id");
        // Only all-digit ids lose their leading zeros: other ids keep every character.
        assert_eq!(normalise_payment_id("0x42"), "0x42");
        assert_ne!(normalise_payment_id("a-042"), normalise_payment_id("a-42"));
        assert_ne!(normalise_payment_id("4242"), normalise_payment_id("42420"));
    }
}
