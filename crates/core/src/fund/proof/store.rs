//! SQL for the verifiable draw: the months' commitments, their seeds and the draws' proofs.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::AnyConnection;

use super::seed::{commitment, Seed};
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::clock::to_db_time;
use crate::platform::jalali::JalaliMonth;

/// The audit action that publishes a month's commitment (immutable, as the whole log).
pub const COMMIT_ACTION: &str = "draw_commitment";

/// The audit target of `month`'s commitment: `draw:1405/09`.
pub fn target(month: JalaliMonth) -> String {
    format!("draw:{}/{:02}", month.year, month.month)
}

/// A month's commitment as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommitmentRow {
    pub jalali_year: i64,
    pub jalali_month: i64,
    pub commitment: String,
    pub seed: String,
    pub committed_at: String,
    pub loan_id: Option<String>,
    pub revealed_at: Option<String>,
}

impl CommitmentRow {
    pub fn month(&self) -> JalaliMonth {
        JalaliMonth {
            year: i32::try_from(self.jalali_year).unwrap_or_default(),
            month: u8::try_from(self.jalali_month).unwrap_or_default(),
        }
    }
}

const COLUMNS: &str =
    "jalali_year, jalali_month, commitment, seed, committed_at, loan_id, revealed_at";

/// Draws `month`'s seed and publishes its commitment (stored, and in the audit log) unless it
/// has one. Returns the new commitment, `None` when the month had one already. Safe to run
/// concurrently: one insert wins, the others do nothing.
pub async fn ensure_commitment(
    conn: &mut AnyConnection,
    month: JalaliMonth,
    now: DateTime<Utc>,
    meta: &RequestMeta,
) -> Result<Option<String>, sqlx::Error> {
    let seed = Seed::generate();
    let published = commitment(&seed, month);
    let inserted = sqlx::query(
        "INSERT INTO draw_commitments (jalali_year, jalali_month, commitment, seed, committed_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jalali_year, jalali_month) DO NOTHING",
    )
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .bind(&published)
    .bind(seed.to_hex())
    .bind(to_db_time(now))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let entry = AuditEntry {
        actor_user_id: None,
        action: COMMIT_ACTION,
        target: target(month),
        details: json!({ "month": format!("{}/{:02}", month.year, month.month), "commitment": published }),
    };
    audit::record(conn, now, meta, entry).await?;
    Ok(Some(published))
}

pub async fn commitment_for(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Option<CommitmentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM draw_commitments WHERE jalali_year = $1 AND jalali_month = $2"
    )))
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_optional(conn)
    .await
}

/// Every month's commitment, newest first.
pub async fn commitments(conn: &mut AnyConnection) -> Result<Vec<CommitmentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM draw_commitments ORDER BY jalali_year DESC, jalali_month DESC"
    )))
    .fetch_all(conn)
    .await
}

/// The commitment the audit log published for `month` (the first, should there be several).
pub async fn published_commitment(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Option<String>, sqlx::Error> {
    let details: Option<String> = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = $1 AND target = $2 ORDER BY id LIMIT 1",
    )
    .bind(COMMIT_ACTION)
    .bind(target(month))
    .fetch_optional(conn)
    .await?;
    Ok(details
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
        .and_then(|d| d["commitment"].as_str().map(str::to_string)))
}

/// Reveals `month`'s seed: the draw that made `loan_id` stores its proof (in its transaction).
pub async fn reveal(
    conn: &mut AnyConnection,
    month: JalaliMonth,
    loan_id: &str,
    proof: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE draw_commitments SET loan_id = $1, revealed_at = $2, proof = $3 \
         WHERE jalali_year = $4 AND jalali_month = $5",
    )
    .bind(loan_id)
    .bind(to_db_time(now))
    .bind(proof)
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored proof of the draw that made `loan_id`, as JSON.
pub async fn proof_of_loan(
    conn: &mut AnyConnection,
    loan_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT proof FROM draw_commitments WHERE loan_id = $1")
        .bind(loan_id)
        .fetch_optional(conn)
        .await
        .map(Option::flatten)
}
