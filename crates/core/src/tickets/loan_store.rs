//! SQL for disbursed tickets: the installments, the repayments, and the loan columns of the
//! ticket (disbursement time, oldest unpaid due date, delinquency). Portable across both
//! databases (see `platform/db.rs`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, FromRow};

use super::schedule::{Delinquency, Installment};
use crate::platform::clock::{to_db_time, DbTime};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// Dates are stored as `YYYY-MM-DD`, which sorts as it reads.
pub fn to_db_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

pub async fn insert_installments(
    conn: &mut AnyConnection,
    ticket_id: &str,
    installments: &[Installment],
) -> Result<(), sqlx::Error> {
    for i in installments {
        sqlx::query(
            "INSERT INTO ticket_installments (ticket_id, number, jalali_year, jalali_month, due_on, principal, charge, paid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(ticket_id)
        .bind(i64::from(i.number))
        .bind(i64::from(i.due_month.year))
        .bind(i64::from(i.due_month.month))
        .bind(to_db_date(i.due_on))
        .bind(i.principal)
        .bind(i.charge)
        .bind(i.paid)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(FromRow)]
struct InstallmentRow {
    number: i64,
    jalali_year: i64,
    jalali_month: i64,
    due_on: String,
    principal: Amount,
    charge: Amount,
    paid: Amount,
}

/// The ticket's installments, first to last (none before disbursement). A row whose date or
/// month does not read (never written so) is a corrupt database: an error, not a guess.
pub async fn installments(
    conn: &mut AnyConnection,
    ticket_id: &str,
) -> Result<Vec<Installment>, sqlx::Error> {
    let rows: Vec<InstallmentRow> = sqlx::query_as(
        "SELECT number, jalali_year, jalali_month, due_on, principal, charge, paid \
         FROM ticket_installments WHERE ticket_id = $1 ORDER BY number",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let corrupt = || {
                sqlx::Error::Decode(
                    format!("ticket {ticket_id}: installment {} is malformed", r.number).into(),
                )
            };
            Ok(Installment {
                number: u32::try_from(r.number).map_err(|_| corrupt())?,
                due_month: JalaliMonth {
                    year: i32::try_from(r.jalali_year).map_err(|_| corrupt())?,
                    month: u8::try_from(r.jalali_month).map_err(|_| corrupt())?,
                },
                due_on: date(&r.due_on).ok_or_else(corrupt)?,
                principal: r.principal,
                charge: r.charge,
                paid: r.paid,
            })
        })
        .collect()
}

pub async fn set_paid(
    conn: &mut AnyConnection,
    ticket_id: &str,
    number: u32,
    paid: Amount,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE ticket_installments SET paid = $1 WHERE ticket_id = $2 AND number = $3")
        .bind(paid)
        .bind(ticket_id)
        .bind(i64::from(number))
        .execute(conn)
        .await?;
    Ok(())
}

/// The loan columns of a ticket, as its schedule stands.
pub struct LoanStatus {
    pub next_due_on: Option<NaiveDate>,
    pub delinquency: Delinquency,
    pub days_past_due: i64,
}

pub async fn set_disbursed(
    conn: &mut AnyConnection,
    ticket_id: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET disbursed_at = $1 WHERE id = $2")
        .bind(to_db_time(at))
        .bind(ticket_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut AnyConnection,
    ticket_id: &str,
    status: &LoanStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET next_due_on = $1, delinquency = $2, days_past_due = $3 WHERE id = $4",
    )
    .bind(status.next_due_on.map(to_db_date))
    .bind(status.delinquency.as_str())
    .bind(status.days_past_due)
    .bind(ticket_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A recorded repayment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repayment {
    pub id: String,
    pub ticket_id: String,
    pub amount: Amount,
    pub by_user_id: i64,
    pub at: DateTime<Utc>,
}

#[derive(FromRow)]
struct RepaymentRow {
    id: String,
    ticket_id: String,
    amount: Amount,
    by_user_id: i64,
    at: DbTime,
}

impl From<RepaymentRow> for Repayment {
    fn from(r: RepaymentRow) -> Repayment {
        Repayment {
            id: r.id,
            ticket_id: r.ticket_id,
            amount: r.amount,
            by_user_id: r.by_user_id,
            at: r.at.0.unwrap_or_default(),
        }
    }
}

pub async fn repayment_by_key(
    conn: &mut AnyConnection,
    ticket_id: &str,
    key: &str,
) -> Result<Option<Repayment>, sqlx::Error> {
    let row: Option<RepaymentRow> = sqlx::query_as(
        "SELECT id, ticket_id, amount, by_user_id, at FROM ticket_repayments \
         WHERE ticket_id = $1 AND idempotency_key = $2",
    )
    .bind(ticket_id)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Repayment::from))
}

pub async fn insert_repayment(
    conn: &mut AnyConnection,
    repayment: &Repayment,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_repayments (id, ticket_id, amount, idempotency_key, by_user_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&repayment.id)
    .bind(&repayment.ticket_id)
    .bind(repayment.amount)
    .bind(key)
    .bind(repayment.by_user_id)
    .bind(to_db_time(repayment.at))
    .execute(conn)
    .await?;
    Ok(())
}

/// The ticket's repayments, oldest first.
pub async fn repayments(
    conn: &mut AnyConnection,
    ticket_id: &str,
) -> Result<Vec<Repayment>, sqlx::Error> {
    let rows: Vec<RepaymentRow> = sqlx::query_as(
        "SELECT id, ticket_id, amount, by_user_id, at FROM ticket_repayments \
         WHERE ticket_id = $1 ORDER BY at, id",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Repayment::from).collect())
}

/// The loan columns as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredStatus {
    pub disbursed_at: Option<DateTime<Utc>>,
    pub next_due_on: Option<NaiveDate>,
    /// [`Delinquency::as_str`]
    pub delinquency: String,
    pub days_past_due: i64,
}

pub async fn status(
    conn: &mut AnyConnection,
    ticket_id: &str,
) -> Result<Option<StoredStatus>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        disbursed_at: Option<DbTime>,
        next_due_on: Option<String>,
        delinquency: String,
        days_past_due: i64,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT disbursed_at, next_due_on, delinquency, days_past_due FROM tickets WHERE id = $1",
    )
    .bind(ticket_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| StoredStatus {
        disbursed_at: r.disbursed_at.and_then(|t| t.0),
        next_due_on: r.next_due_on.as_deref().and_then(date),
        delinquency: r.delinquency,
        days_past_due: r.days_past_due,
    }))
}

// --- the daily job ----------------------------------------------------------------------------

/// The distinct oldest-unpaid due dates before `today` among tickets being repaid: every
/// ticket late since one date is equally late, so the job updates them a date at a time.
pub async fn late_since_dates(
    conn: &mut AnyConnection,
    today: NaiveDate,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    let dates: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT next_due_on FROM tickets \
         WHERE state = 'repaying' AND next_due_on IS NOT NULL AND next_due_on < $1",
    )
    .bind(to_db_date(today))
    .fetch_all(conn)
    .await?;
    Ok(dates.iter().filter_map(|d| date(d)).collect())
}

/// Sets the lateness of every repaying ticket whose oldest unpaid installment fell due on
/// `since`, where it changed; returns how many changed.
pub async fn set_lateness(
    conn: &mut AnyConnection,
    since: NaiveDate,
    days: i64,
    bucket: Delinquency,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE tickets SET days_past_due = $1, delinquency = $2 \
         WHERE state = 'repaying' AND next_due_on = $3 AND (days_past_due <> $4 OR delinquency <> $5)",
    )
    .bind(days)
    .bind(bucket.as_str())
    .bind(to_db_date(since))
    .bind(days)
    .bind(bucket.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Repaying tickets marked late whose oldest unpaid installment is not yet past due (a
/// repayment caught up, or the schedule changed): current again.
pub async fn clear_lateness(
    conn: &mut AnyConnection,
    today: NaiveDate,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE tickets SET days_past_due = 0, delinquency = 'current' \
         WHERE state = 'repaying' AND (days_past_due <> 0 OR delinquency <> 'current') \
         AND (next_due_on IS NULL OR next_due_on >= $1)",
    )
    .bind(to_db_date(today))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// An installment to remind its borrower of.
#[derive(Debug, Clone, FromRow)]
pub struct ToRemind {
    pub ticket_id: String,
    pub borrower_id: i64,
    pub number: i64,
    pub due_on: String,
    pub principal: Amount,
    pub charge: Amount,
    pub paid: Amount,
}

/// Unpaid installments of repaying tickets due from `from` to `to` (inclusive) whose
/// borrower was not reminded yet.
pub async fn to_remind(
    conn: &mut AnyConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ToRemind>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.ticket_id, t.borrower_id, i.number, i.due_on, i.principal, i.charge, i.paid \
         FROM ticket_installments i JOIN tickets t ON t.id = i.ticket_id \
         WHERE i.reminded_at IS NULL AND i.due_on >= $1 AND i.due_on <= $2 \
         AND t.state = 'repaying' AND i.paid < i.principal + i.charge \
         ORDER BY i.due_on, i.ticket_id, i.number",
    )
    .bind(to_db_date(from))
    .bind(to_db_date(to))
    .fetch_all(conn)
    .await
}

pub async fn mark_reminded(
    conn: &mut AnyConnection,
    ticket_id: &str,
    number: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE ticket_installments SET reminded_at = $1 WHERE ticket_id = $2 AND number = $3",
    )
    .bind(to_db_time(now))
    .bind(ticket_id)
    .bind(number)
    .execute(conn)
    .await?;
    Ok(())
}
