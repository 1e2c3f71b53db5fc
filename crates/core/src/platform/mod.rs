//! Shared infrastructure: database, money, time, the audit log, idempotency, Redis.

pub mod audit;
pub mod clock;
pub mod currency;
pub mod db;
pub mod decimal;
pub mod housekeeping;
pub mod html;
pub mod idempotency;
pub mod jalali;
pub mod lang;
pub mod measure;
pub mod money;
pub mod outbound;
pub mod response_cache;
pub mod secret;
pub mod shared;
pub mod telemetry;
pub mod validation;
