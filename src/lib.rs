//! Saghat: a cooperative USDT loan fund and lending backend.
//!
//! Layout: `platform` holds shared infrastructure; each business module (`auth`, `fund`) keeps
//! its rules (plain Rust, no I/O) apart from its storage (`store`) and HTTP handlers (`http`).

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod fund;
pub mod gateways;
pub mod ledger;
pub mod ops;
pub mod platform;
pub mod web;
