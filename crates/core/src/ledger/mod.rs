//! The double-entry ledger beneath every movement of money: accounts, balanced journal
//! transactions, statements, and the verifier of its invariants.

pub mod access;
pub mod domain;
pub mod store;
pub mod verify;
