//! Payment gateways behind one trait, [`PaymentGateway`]. The fund asks it whether a gateway
//! payment proves what a member claims to have paid; each provider is one folder holding its
//! adapter (`mod.rs`: the HTTP calls) with its request and response types beside it
//! (`types.rs`, with the pure rules that read them), so the services know none of them.
//! Bitpin is the first adapter; Zarinpal's payment intents come next.

pub mod bitpin;

use futures_util::future::BoxFuture;

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

/// A payment provider. Boxed futures keep the trait object-safe: the context holds one as
/// `Arc<dyn PaymentGateway>`, and tests may hold another.
pub trait PaymentGateway: Send + Sync {
    /// Verifies that the gateway's payment `payment_id` exists, is complete, is in USDT and
    /// covers `total`.
    fn verify_payment<'a>(
        &'a self,
        payment_id: &'a str,
        total: Amount,
    ) -> BoxFuture<'a, Result<VerifiedPayment, VerifyError>>;
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
