//! The fund's API: payments, the monthly draw, loans.

pub mod api;
pub mod draws;
pub mod membership;
pub mod statements;
pub mod years;
