//! Online payments: a payment intent is one attempt to pay something (an invoice today)
//! through a redirect gateway (Zarinpal): made with its amount fixed, the payer sent to the
//! gateway, the callback verified, the money applied once (however often the callback comes
//! and whatever reconciliation does at the same time), and settled when the gateway pays out.
//!
//! `domain` holds the rules (states, what verified money does, amounts) as plain Rust;
//! `store` the rows; `service` the flow; `reconcile` the periodic pass that completes what a
//! browser, the network or a crash left half-way.

pub mod domain;
pub mod error;
pub mod reconcile;
pub mod service;
pub mod store;
