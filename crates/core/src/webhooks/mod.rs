//! Signed outgoing webhooks: admins register endpoints (a URL, the events it wants, a secret);
//! a change that is an event writes one delivery per subscribed endpoint and its job in the
//! change's own transaction; the `webhook_delivery` job POSTs the signed body (see
//! `docs/webhooks.md`), retried with the queue's backoff. Endpoints on internal addresses are
//! refused when registered and again when delivered to (`domain::check_addresses`).

pub mod domain;
pub mod error;
pub mod service;
pub mod store;

pub use domain::Event;
pub use service::emit;
