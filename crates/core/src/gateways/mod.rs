//! Payment gateways behind two traits. [`PaymentGateway`]: the fund asks whether a gateway
//! payment proves what a member claims to have paid (Bitpin). [`RedirectGateway`]: the payer
//! is sent to the gateway's page and comes back, and Saghat then verifies the payment
//! (Zarinpal, for payment intents). Each provider is one folder holding its adapter (`mod.rs`:
//! the HTTP calls) with its request and response types beside it (`types.rs`, with the pure
//! rules that read them), so the services know none of them.

pub mod bitpin;
pub mod zarinpal;

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

/// One request to a gateway and what came back, with secrets masked: stored with the intent
/// it was for, so every payment can be traced to what the gateway said.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// `request`, `verify`, `inquiry`, `unverified` or `reverse`.
    pub operation: &'static str,
    pub request: serde_json::Value,
    /// The body as the gateway sent it (masked), or none when nothing came back.
    pub response: Option<serde_json::Value>,
    pub http_status: Option<u16>,
}

/// A result with the exchanges that produced it.
#[derive(Debug)]
pub struct Exchanged<T> {
    pub result: Result<T, GatewayFailure>,
    pub exchange: Exchange,
}

/// Why a gateway call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayFailure {
    /// The gateway answered with an error code that settles the question: its meaning in
    /// words, for the payer or the accountant.
    #[error("{message} (code {code})")]
    Refused { code: i64, message: String },
    /// The gateway could not be asked, its answer not read, or it said to try later: the
    /// payment's fate is not known yet, and the same call may succeed later.
    #[error("{0}")]
    Unavailable(String),
}

/// What a payment request asks the gateway for.
#[derive(Debug, Clone)]
pub struct PayRequest {
    /// In the gateway's unit ([`RedirectGateway::charge`]).
    pub amount: i64,
    pub description: String,
    pub callback_url: String,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub order_id: String,
}

/// A payment the gateway verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The gateway's reference for the payment, the payer's receipt number.
    pub ref_id: String,
    /// Masked by the gateway (`502229******5995`); never more of the card is stored.
    pub card_pan: Option<String>,
    pub card_hash: Option<String>,
    pub fee: Option<i64>,
    /// True when the gateway said it was verified before (Zarinpal's 101).
    pub already: bool,
}

/// Where a payment stands at the gateway, asked without verifying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InquiryStatus {
    /// Paid by the payer, waiting for our verification.
    Paid,
    Verified,
    /// The payer is still at the bank's page.
    InBank,
    Failed,
    Reversed,
}

/// A gateway the payer is redirected to. Boxed futures keep it object-safe (the context holds
/// one as `Arc<dyn RedirectGateway>`).
pub trait RedirectGateway: Send + Sync {
    /// Its name, as stored on each intent: `zarinpal`.
    fn name(&self) -> &'static str;
    /// The amount in the gateway's unit for an amount in Rials, and that unit (`IRR`, or
    /// `IRT` for Tomans, tenths of nothing: 1 Toman = 10 Rials). `rials` is a whole number of
    /// the unit (see `intents::domain::rials_to_charge`).
    fn charge(&self, rials: i64) -> (i64, &'static str);
    /// The Rials a gateway unit is worth (1 or 10).
    fn rials_per_unit(&self) -> i64;
    fn request<'a>(&'a self, request: &'a PayRequest) -> BoxFuture<'a, Exchanged<String>>;
    /// The gateway's page the payer is sent to for `authority`.
    fn pay_url(&self, authority: &str) -> String;
    fn verify<'a>(
        &'a self,
        authority: &'a str,
        amount: i64,
    ) -> BoxFuture<'a, Exchanged<Verification>>;
    fn inquire<'a>(&'a self, authority: &'a str) -> BoxFuture<'a, Exchanged<InquiryStatus>>;
    /// The authorities paid but not yet verified.
    fn unverified(&self) -> BoxFuture<'_, Exchanged<Vec<String>>>;
    /// Gives a verified payment back to the payer.
    fn reverse<'a>(&'a self, authority: &'a str) -> BoxFuture<'a, Exchanged<()>>;
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
