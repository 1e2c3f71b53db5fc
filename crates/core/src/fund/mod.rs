//! The cooperative loan fund: monthly payments, the monthly draw, repayments.

pub mod access;
pub mod draw;
pub mod error;
pub mod membership;
pub mod notices;
pub mod proof;
pub mod reminders;
pub mod rules;
pub mod schedule;
pub mod service;
pub mod statements;
pub mod store;
pub mod year_end;
