//! Work done outside a request, enqueued in the transaction of the change that causes it.
//!
//! The queue is riverqueue's (see `bench/spikes/job-queue/DECISION.md`); its worker lives in the
//! `saghat-worker` crate. River's typed insert API takes only a typed `Transaction<Postgres>` or
//! `<Sqlite>`, while services hold an `Any` one, so a job is written here by SQL into River's
//! `river_job` table — the table River documents for other clients — together with River's
//! insert notification, which the database delivers only if the transaction commits: a rolled
//! back change enqueues nothing, a committed one always does.

pub mod admin;

use sqlx::AnyConnection;

use crate::platform::db::Backend;

/// River's queue for everything Saghat enqueues.
pub const QUEUE: &str = "default";

/// A job to run once its transaction commits.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// The worker that runs it (River's `kind`).
    pub kind: &'a str,
    /// Its arguments: ids and keys, never a secret (job rows are readable by admins).
    pub args: serde_json::Value,
    /// One effect, one job, ever: `fee-reminder:{member}:{1405}:{9}`. A second enqueue of the
    /// same key is a no-op, so a retried request or job cannot cause the effect twice.
    pub unique_key: String,
    /// Attempts before the job is set aside (River's `discarded`) for an admin to see.
    pub max_attempts: i32,
}

/// Writes `job` on the caller's transaction; true when it was new, false when its key was
/// already taken.
pub async fn enqueue(
    conn: &mut AnyConnection,
    backend: Backend,
    job: &NewJob<'_>,
) -> Result<bool, sqlx::Error> {
    // unique_states all set: the key stays taken in every state, done or discarded included.
    let insert = match backend {
        Backend::Postgres => {
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             VALUES ($1::jsonb, $2, $3, $4, 'available', $5, B'11111111') ON CONFLICT DO NOTHING"
        }
        Backend::Sqlite => {
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             VALUES (jsonb($1), $2, $3, $4, 'available', $5, 255) ON CONFLICT DO NOTHING"
        }
    };
    let inserted = sqlx::query(insert)
        .bind(job.args.to_string())
        .bind(job.kind)
        .bind(job.max_attempts)
        .bind(QUEUE)
        .bind(job.unique_key.as_bytes().to_vec())
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1;
    if inserted {
        wake_workers(conn, backend).await?;
    }
    Ok(inserted)
}

/// Tells River's workers that jobs were just inserted into [`QUEUE`], in the caller's
/// transaction. Without it a worker finds them only at its next poll (about a second later).
pub(crate) async fn wake_workers(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<(), sqlx::Error> {
    let notify = match backend {
        Backend::Postgres => {
            "SELECT 1 FROM (SELECT pg_notify(current_schema() || '.river_insert', $1)) AS sent"
        }
        Backend::Sqlite => {
            "INSERT INTO river_notification (payload, topic) VALUES ($1, 'river_insert')"
        }
    };
    sqlx::query(notify)
        .bind(serde_json::json!({ "queue": QUEUE }).to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
