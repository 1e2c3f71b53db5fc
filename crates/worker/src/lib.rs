//! Saghat's background jobs on riverqueue, over the application's own database.
//!
//! Services enqueue with `saghat_core::jobs::enqueue` inside their own transaction; this crate
//! runs the client that claims and works those jobs ([`Worker`]), inside `saghat serve` or as
//! `saghat worker` processes. River needs a typed pool (`PgPool` or `SqlitePool`) beside the
//! services' `AnyPool`: [`JobDatabase`] opens it on the same database URL. River's tables are
//! made by `Db::migrate`, with Saghat's.

mod invoicing;
mod jobs;
mod payments;
mod queue;
mod reports;
mod runtime;
mod schedule;
mod statements;
mod webhooks;

pub use queue::{client, Backoff, JobDatabase, WorkerSettings};
pub use riverqueue;
pub use runtime::Worker;
