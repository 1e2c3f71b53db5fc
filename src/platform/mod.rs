//! Shared infrastructure: database, errors, extractors, money, time.

pub mod audit;
pub mod clock;
pub mod db;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod jalali;
pub mod money;
pub mod shared;
pub mod telemetry;
