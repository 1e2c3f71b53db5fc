//! Loan-request tickets: a borrower asks for a loan outside the monthly draw, lenders review it,
//! and the money moves through the ledger. This module holds the rules only (plain Rust, no
//! I/O): the state machine, maker-checker approval, SLA deadlines in business hours, fraud
//! flags and the repayment schedule. The service, API and pages call them.

pub mod approval;
pub mod attachments;
pub mod comments;
pub mod daily;
pub mod error;
pub mod fraud;
pub mod loan_store;
pub mod loans;
pub mod queue;
pub mod schedule;
pub mod service;
pub mod sla;
pub mod sla_watch;
pub mod state;
pub mod store;
