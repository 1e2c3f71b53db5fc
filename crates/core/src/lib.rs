//! Saghat's core: the domain rules (plain Rust, no I/O), the services that apply them in one
//! transaction each, and their storage. Nothing here knows HTTP or HTML: the API and the web
//! pages (`saghat-http`), the CLI (`saghat`) and later the background jobs all call the
//! services with a [`Ctx`].
//!
//! Each business module (`auth`, `fund`, `ledger`) keeps its rules (`domain`, `rules`) apart
//! from its storage (`store`) and its use cases (`service`); `platform` holds what they share.

pub mod auth;
pub mod config;
pub mod ctx;
pub mod fund;
pub mod gateways;
pub mod intents;
pub mod invoicing;
pub mod jobs;
pub mod ledger;
pub mod notify;
pub mod platform;
pub mod reports;
pub mod tickets;
pub mod webhooks;

pub use ctx::Ctx;
