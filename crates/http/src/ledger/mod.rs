//! The ledger's API: balances, statements, transactions, the verifier.

pub mod api;
