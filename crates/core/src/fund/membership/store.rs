//! SQL for members leaving and rejoining.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::platform::clock::to_db_time;
use crate::platform::money::Amount;

/// A request to leave, and what came of it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Departure {
    pub id: String,
    pub user_id: i64,
    /// `asked`, `confirmed` or `cancelled`.
    pub state: String,
    pub asked_by: i64,
    pub asked_at: String,
    pub decided_at: Option<String>,
    pub contributions: Option<Amount>,
    pub owed: Option<Amount>,
    pub refunded: Option<Amount>,
    pub loan_id: Option<String>,
    pub rejoined_at: Option<String>,
}

const COLUMNS: &str = "id, user_id, state, asked_by, asked_at, decided_at, contributions, owed, \
                       refunded, loan_id, rejoined_at";

/// The member's role, whether active, and when they left the fund (if they did).
pub async fn member(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<(String, bool, Option<String>)>, sqlx::Error> {
    let row: Option<(String, i64, Option<String>)> =
        sqlx::query_as("SELECT role, is_active, left_fund_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(role, active, left)| (role, active != 0, left)))
}

pub async fn has_left(conn: &mut AnyConnection, user_id: i64) -> Result<bool, sqlx::Error> {
    Ok(member(conn, user_id)
        .await?
        .is_some_and(|(_, _, left)| left.is_some()))
}

pub async fn open_request(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<Departure>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM fund_departures WHERE user_id = $1 AND state = 'asked'"
    )))
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// A member's requests to leave, newest first.
pub async fn departures(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<Departure>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM fund_departures WHERE user_id = $1 ORDER BY asked_at DESC, id DESC"
    )))
    .bind(user_id)
    .fetch_all(conn)
    .await
}

pub async fn insert_request(
    conn: &mut AnyConnection,
    id: &str,
    user_id: i64,
    asked_by: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fund_departures (id, user_id, state, asked_by, asked_at) VALUES ($1, $2, 'asked', $3, $4)",
    )
    .bind(id)
    .bind(user_id)
    .bind(asked_by)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The member's contributions: their account's balance in the ledger.
pub async fn contributions(conn: &mut AnyConnection, user_id: i64) -> Result<Amount, sqlx::Error> {
    let sum: Option<Amount> = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(e.credit - e.debit), 0) AS BIGINT) FROM journal_entries e \
           JOIN ledger_accounts a ON a.id = e.account_id \
          WHERE a.kind = 'member_contributions' AND a.user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(sum.unwrap_or(Amount::ZERO))
}

/// Records the confirmation and what it settled.
pub async fn confirm(
    conn: &mut AnyConnection,
    id: &str,
    settled: (Amount, Amount, Amount),
    loan_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (contributions, owed, refunded) = settled;
    sqlx::query(
        "UPDATE fund_departures SET state = 'confirmed', decided_at = $1, contributions = $2, \
         owed = $3, refunded = $4, loan_id = $5 WHERE id = $6 AND state = 'asked'",
    )
    .bind(to_db_time(now))
    .bind(contributions)
    .bind(owed)
    .bind(refunded)
    .bind(loan_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET left_fund_at = $1 WHERE id = (SELECT user_id FROM fund_departures WHERE id = $2)")
        .bind(to_db_time(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn cancel(
    conn: &mut AnyConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE fund_departures SET state = 'cancelled', decided_at = $1 WHERE id = $2 AND state = 'asked'")
        .bind(to_db_time(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The loan settled from the contributions.
pub async fn settle_loan(
    conn: &mut AnyConnection,
    loan_id: &str,
    owed: Amount,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE loans SET state = 'settled', settled_from_contributions = $1 WHERE id = $2 AND state = 'active'",
    )
    .bind(owed)
    .bind(loan_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn rejoin(
    conn: &mut AnyConnection,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET left_fund_at = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE fund_departures SET rejoined_at = $1 WHERE user_id = $2 AND state = 'confirmed' AND rejoined_at IS NULL",
    )
    .bind(to_db_time(now))
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}
