//! Invoicing (seed 004): clients, invoices with exact tax and discounts that cannot change once
//! sent, payments matched to them, credit notes, PDF and EN 16931 e-invoices, reminders. The
//! rules are plain Rust (`model`, `totals`, `state`, `numbering`, `calendar`, `access`); the
//! services (`service`, `invoices`, `payments`, `recurring`) run them over `store`'s SQL.

pub mod access;
pub mod calendar;
pub mod einvoice;
pub mod error;
pub mod invoices;
pub mod model;
pub mod numbering;
pub mod payments;
pub mod recurring;
pub mod reminder_job;
pub mod reminders;
pub mod service;
pub mod state;
pub mod store;
pub mod totals;
