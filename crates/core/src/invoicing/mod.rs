//! Invoicing (seed 004): clients, invoices with exact tax and discounts that cannot change once
//! sent, payments matched to them, credit notes, PDF and EN 16931 e-invoices, reminders. The
//! rules are plain Rust (`model`, `totals`); the service, API and pages call them.

pub mod einvoice;
pub mod model;
pub mod reminders;
pub mod totals;
