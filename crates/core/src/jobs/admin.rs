//! The queue as an admin sees it: River's jobs by state, one job with its error history, a set
//! aside (`discarded`) job run again or thrown away, and the queue's depth.
//!
//! Core does not depend on riverqueue, so this is SQL on River's `river_job` table, mirroring
//! River's own `JobRetry` and `JobDelete`: a retry makes the job available now, clears
//! `finalized_at` and grants one more attempt when all are used; a running job is neither
//! retried nor deleted (its worker owns it). Each retry and discard is audited in its own
//! transaction.

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::auth::CurrentUser;
use crate::ctx::Ctx;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::db::{fetch_page, Backend, Conditions};

/// River's job states, in the order a job usually passes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Scheduled,
    Available,
    Running,
    Retryable,
    Completed,
    Cancelled,
    Discarded,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        JobState::Pending,
        JobState::Scheduled,
        JobState::Available,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Cancelled,
        JobState::Discarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Scheduled => "scheduled",
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Cancelled => "cancelled",
            JobState::Discarded => "discarded",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One failed attempt, as River records it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AttemptError {
    /// RFC 3339.
    pub at: String,
    pub attempt: i64,
    pub error: String,
    /// A panic's backtrace; empty for an error the worker returned.
    #[serde(default)]
    pub trace: String,
}

/// A job in a listing: what it is, how far it got and why it last failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobSummary {
    pub id: i64,
    pub kind: String,
    pub state: JobState,
    /// Attempts made so far.
    pub attempt: i64,
    pub max_attempts: i64,
    /// Its arguments: ids and keys, never a secret (see `jobs::NewJob::args`).
    #[schema(value_type = Object)]
    pub args: Value,
    /// The error of its latest failed attempt.
    pub last_error: Option<String>,
    /// RFC 3339 times (UTC); `finalized_at` is set once it is completed, cancelled or discarded.
    pub created_at: String,
    pub scheduled_at: String,
    pub attempted_at: Option<String>,
    pub finalized_at: Option<String>,
}

/// One job with every failed attempt, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: JobSummary,
    pub errors: Vec<AttemptError>,
}

/// How many jobs are in one state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StateCount {
    pub state: JobState,
    pub count: i64,
}

/// The queue's depth: jobs per state (every state, zeros included) and how long the oldest
/// job ready to run has waited.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueSummary {
    pub counts: Vec<StateCount>,
    /// Seconds since the oldest available job became due, by the database's clock; none when
    /// nothing waits.
    pub oldest_available_secs: Option<i64>,
}

impl QueueSummary {
    pub fn count(&self, state: JobState) -> i64 {
        self.counts
            .iter()
            .find(|c| c.state == state)
            .map_or(0, |c| c.count)
    }
}

/// Which jobs a listing shows.
#[derive(Debug, Clone)]
pub struct JobFilter {
    pub state: JobState,
    pub kind: Option<String>,
}

impl Default for JobFilter {
    /// The dead letters.
    fn default() -> Self {
        JobFilter {
            state: JobState::Discarded,
            kind: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobAdminError {
    #[error("Job not found")]
    NotFound,
    #[error("The job is running; wait until its attempt ends")]
    Running,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The columns every read takes, as text and big integers so both databases read alike:
/// PostgreSQL's `jsonb`/`jsonb[]`, enum and `timestamptz`, SQLite's jsonb blobs and time text.
fn columns(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "id, kind, CAST(state AS TEXT) AS state, CAST(attempt AS BIGINT) AS attempt, \
             CAST(max_attempts AS BIGINT) AS max_attempts, COALESCE(args::text, '{}') AS args, \
             COALESCE(array_to_json(errors)::text, '[]') AS errors, \
             to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS created_at, \
             to_char(scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS scheduled_at, \
             to_char(attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS attempted_at, \
             to_char(finalized_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS finalized_at"
        }
        Backend::Sqlite => {
            "id, kind, state, CAST(attempt AS BIGINT) AS attempt, \
             CAST(max_attempts AS BIGINT) AS max_attempts, json(args) AS args, \
             COALESCE(json(errors), '[]') AS errors, \
             strftime('%Y-%m-%dT%H:%M:%fZ', created_at) AS created_at, \
             strftime('%Y-%m-%dT%H:%M:%fZ', scheduled_at) AS scheduled_at, \
             strftime('%Y-%m-%dT%H:%M:%fZ', attempted_at) AS attempted_at, \
             strftime('%Y-%m-%dT%H:%M:%fZ', finalized_at) AS finalized_at"
        }
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    state: String,
    attempt: i64,
    max_attempts: i64,
    args: String,
    errors: String,
    created_at: String,
    scheduled_at: String,
    attempted_at: Option<String>,
    finalized_at: Option<String>,
}

impl JobRow {
    fn into_detail(self) -> Result<JobDetail, sqlx::Error> {
        let state = JobState::parse(&self.state).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown job state {}", self.state).into())
        })?;
        // River writes errors itself; one it could not have written is shown, not hidden.
        let errors: Vec<AttemptError> = serde_json::from_str(&self.errors).unwrap_or_else(|_| {
            vec![AttemptError {
                at: String::new(),
                attempt: self.attempt,
                error: self.errors.clone(),
                trace: String::new(),
            }]
        });
        let job = JobSummary {
            id: self.id,
            kind: self.kind,
            state,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            args: serde_json::from_str(&self.args).unwrap_or(Value::String(self.args)),
            last_error: errors.last().map(|e| e.error.clone()),
            created_at: self.created_at,
            scheduled_at: self.scheduled_at,
            attempted_at: self.attempted_at,
            finalized_at: self.finalized_at,
        };
        Ok(JobDetail { job, errors })
    }
}

/// Jobs matching `filter`, newest first, a page at a time, with the number of matches.
pub async fn list(
    conn: &mut AnyConnection,
    backend: Backend,
    filter: &JobFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<JobSummary>, i64), sqlx::Error> {
    let mut conditions = Conditions::default();
    conditions
        .push("CAST(state AS TEXT) = ?", filter.state.as_str())
        .push_some("kind = ?", filter.kind.clone());
    let clause = conditions.where_clause();
    let (rows, total) = fetch_page::<JobRow>(
        conn,
        &conditions,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM river_job{clause}")),
        AssertSqlSafe(format!(
            "SELECT {} FROM river_job{clause} ORDER BY id DESC",
            columns(backend)
        )),
        limit,
        offset,
    )
    .await?;
    let jobs = rows
        .into_iter()
        .map(|row| row.into_detail().map(|d| d.job))
        .collect::<Result<_, _>>()?;
    Ok((jobs, total))
}

/// One job with its error history.
pub async fn get(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
) -> Result<JobDetail, JobAdminError> {
    find(conn, backend, id, false)
        .await?
        .ok_or(JobAdminError::NotFound)
}

/// The job `id`, locked against workers for the rest of the transaction when `lock` (on
/// PostgreSQL; SQLite has one writer at a time).
async fn find(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    lock: bool,
) -> Result<Option<JobDetail>, sqlx::Error> {
    let lock = if lock && backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {} FROM river_job WHERE id = $1{lock}",
        columns(backend)
    );
    sqlx::query_as::<_, JobRow>(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(JobRow::into_detail)
        .transpose()
}

/// Runs the job again now, as River's `JobRetry` does: available, due now, not finalized, with
/// one more attempt if it used all of them (its attempt count and error history are kept).
/// Retrying a job that is already available and due changes nothing. A running job is refused.
pub async fn retry(
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    id: i64,
) -> Result<JobDetail, JobAdminError> {
    let backend = ctx.db.backend;
    let mut tx = ctx.db.begin_write().await?;
    let before = find_idle(&mut tx, backend, id).await?;
    let retry = match backend {
        Backend::Postgres => {
            "UPDATE river_job SET state = 'available', \
                 max_attempts = CASE WHEN attempt = max_attempts THEN max_attempts + 1 ELSE max_attempts END, \
                 finalized_at = NULL, metadata = metadata - 'cancel_attempted_at', scheduled_at = now() \
             WHERE id = $1 AND state != 'running' AND NOT (state = 'available' AND scheduled_at <= now())"
        }
        Backend::Sqlite => {
            "UPDATE river_job SET state = 'available', \
                 max_attempts = CASE WHEN attempt = max_attempts THEN max_attempts + 1 ELSE max_attempts END, \
                 finalized_at = NULL, metadata = jsonb_remove(metadata, '$.cancel_attempted_at'), \
                 scheduled_at = strftime('%Y-%m-%d %H:%M:%f', 'now') \
             WHERE id = $1 AND state != 'running' \
               AND NOT (state = 'available' AND julianday(scheduled_at) <= julianday('now'))"
        }
    };
    sqlx::query(retry).bind(id).execute(&mut **tx).await?;
    let after = find(&mut tx, backend, id, false)
        .await?
        .ok_or(JobAdminError::NotFound)?;
    // SQLite's worker writes beside our writer lock and may have claimed it meanwhile.
    if after.job.state == JobState::Running {
        return Err(JobAdminError::Running);
    }
    record(
        &mut tx,
        ctx,
        actor,
        meta,
        "job_retried",
        &before,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes the job, as River's `JobDelete` does; a running job is refused. Returns what it was.
pub async fn discard(
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    id: i64,
) -> Result<JobDetail, JobAdminError> {
    let backend = ctx.db.backend;
    let mut tx = ctx.db.begin_write().await?;
    let job = find_idle(&mut tx, backend, id).await?;
    let deleted = sqlx::query("DELETE FROM river_job WHERE id = $1 AND state != 'running'")
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(JobAdminError::Running);
    }
    record(&mut tx, ctx, actor, meta, "job_discarded", &job, None).await?;
    tx.commit().await?;
    Ok(job)
}

/// The job, locked for the rest of the transaction, unless it is missing or running.
async fn find_idle(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
) -> Result<JobDetail, JobAdminError> {
    let job = find(conn, backend, id, true)
        .await?
        .ok_or(JobAdminError::NotFound)?;
    if job.job.state == JobState::Running {
        return Err(JobAdminError::Running);
    }
    Ok(job)
}

async fn record(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    actor: &CurrentUser,
    meta: &RequestMeta,
    action: &str,
    before: &JobDetail,
    after: Option<&JobDetail>,
) -> Result<(), sqlx::Error> {
    let mut details = json!({
        "kind": before.job.kind,
        "state": before.job.state,
        "attempt": before.job.attempt,
        "max_attempts": before.job.max_attempts,
        "last_error": before.job.last_error,
    });
    if let Some(after) = after {
        details["new_max_attempts"] = json!(after.job.max_attempts);
    }
    audit::record(
        conn,
        ctx.now(),
        meta,
        AuditEntry {
            actor_user_id: Some(actor.id),
            action,
            target: format!("job:{}", before.job.id),
            details,
        },
    )
    .await
}

/// Jobs per state and the oldest waiting job's age.
pub async fn summary(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<QueueSummary, sqlx::Error> {
    let rows = sqlx::query("SELECT CAST(state AS TEXT), COUNT(*) FROM river_job GROUP BY state")
        .fetch_all(&mut *conn)
        .await?;
    let mut counts: Vec<StateCount> = JobState::ALL
        .into_iter()
        .map(|state| StateCount { state, count: 0 })
        .collect();
    for row in rows {
        let state: String = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        if let Some(slot) = counts.iter_mut().find(|c| c.state.as_str() == state) {
            slot.count = count;
        }
    }
    let oldest = match backend {
        Backend::Postgres => {
            "SELECT CAST(GREATEST(0, EXTRACT(EPOCH FROM now() - MIN(scheduled_at))) AS BIGINT) \
             FROM river_job WHERE state = 'available' HAVING COUNT(*) > 0"
        }
        Backend::Sqlite => {
            "SELECT CAST(MAX(0, (julianday('now') - julianday(MIN(scheduled_at))) * 86400) AS BIGINT) \
             FROM river_job WHERE state = 'available' HAVING COUNT(*) > 0"
        }
    };
    let oldest_available_secs: Option<i64> = sqlx::query_scalar(oldest)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    Ok(QueueSummary {
        counts,
        oldest_available_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::JobState;

    #[test]
    fn states_read_back_as_written() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        assert_eq!(JobState::parse("dead"), None);
    }
}
