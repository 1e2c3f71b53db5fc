//! SQL for closing a year: the cash movements of its ledger transactions, and the closings.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, AssertSqlSafe};

use super::{Movement, YearFigures};
use crate::platform::clock::to_db_time;
use crate::platform::db::split_sum;
use crate::platform::money::Amount;

/// The cash accounts: the fund's cash and the money a gateway verified and holds for it.
const CASH: &str = "a.kind IN ('fund_cash', 'gateway_clearing')";

/// The fund's cash after every transaction of the months before `year`, or of `year` too.
pub async fn cash_before(
    conn: &mut AnyConnection,
    year: i64,
    including: bool,
) -> Result<Amount, sqlx::Error> {
    let op = if including { "<=" } else { "<" };
    let sql = format!(
        "SELECT {}, {} FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id \
           JOIN journal_transactions t ON t.id = e.transaction_id \
          WHERE {CASH} AND t.jalali_year {op} $1",
        split_sum("e.debit", "debits"),
        split_sum("e.credit", "credits")
    );
    let totals: crate::ledger::store::Totals = sqlx::query_as(AssertSqlSafe(sql))
        .bind(year)
        .fetch_one(conn)
        .await?;
    Ok(totals.balance(crate::ledger::domain::Side::Debit))
}

/// Per kind of transaction in `year`: what entered and left the cash. Money moving between the
/// two cash accounts (a gateway paying out) shows as both.
pub async fn movements(conn: &mut AnyConnection, year: i64) -> Result<Vec<Movement>, sqlx::Error> {
    let sql = format!(
        "SELECT t.kind, {}, {} FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id \
           JOIN journal_transactions t ON t.id = e.transaction_id \
          WHERE {CASH} AND t.jalali_year = $1 GROUP BY t.kind ORDER BY t.kind",
        split_sum("e.debit", "debits"),
        split_sum("e.credit", "credits")
    );
    #[derive(sqlx::FromRow)]
    struct Row {
        kind: String,
        #[sqlx(flatten)]
        totals: crate::ledger::store::Totals,
    }
    let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(year)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Movement {
            kind: r.kind,
            cash_in: r.totals.debits(),
            cash_out: r.totals.credits(),
        })
        .filter(|m| m.cash_in.is_positive() || m.cash_out.is_positive())
        .collect())
}

/// The members' accounts at the end of `year`: (contributions, loans outstanding).
pub async fn member_balances(
    conn: &mut AnyConnection,
    year: i64,
) -> Result<(Amount, Amount), sqlx::Error> {
    let mut out = [Amount::ZERO, Amount::ZERO];
    for (i, (kind, side)) in [
        ("member_contributions", crate::ledger::domain::Side::Credit),
        ("member_loan_receivable", crate::ledger::domain::Side::Debit),
    ]
    .into_iter()
    .enumerate()
    {
        let sql = format!(
            "SELECT {}, {} FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id \
               JOIN journal_transactions t ON t.id = e.transaction_id \
              WHERE a.kind = $1 AND t.jalali_year <= $2",
            split_sum("e.debit", "debits"),
            split_sum("e.credit", "credits")
        );
        let totals: crate::ledger::store::Totals = sqlx::query_as(AssertSqlSafe(sql))
            .bind(kind)
            .bind(year)
            .fetch_one(&mut *conn)
            .await?;
        out[i] = totals.balance(side);
    }
    Ok((out[0], out[1]))
}

/// Members who paid in `year`, and members who left the fund in it (by the confirmations' month).
pub async fn member_counts(conn: &mut AnyConnection, year: i64) -> Result<(i64, i64), sqlx::Error> {
    let paying: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT user_id) FROM payments WHERE jalali_year = $1")
            .bind(year)
            .fetch_one(&mut *conn)
            .await?;
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM fund_departures d JOIN journal_transactions t ON t.id = d.id \
          WHERE d.state = 'confirmed' AND t.jalali_year = $1",
    )
    .bind(year)
    .fetch_one(conn)
    .await?;
    Ok((paying, left))
}

/// A closed year as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClosingRow {
    pub jalali_year: i64,
    pub closed_at: String,
    pub closed_by: Option<i64>,
    pub figures: String,
    pub ledger_checks: i64,
    pub ledger_report: String,
}

pub async fn closing(
    conn: &mut AnyConnection,
    year: i64,
) -> Result<Option<ClosingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT jalali_year, closed_at, closed_by, figures, ledger_checks, ledger_report \
           FROM fund_year_closings WHERE jalali_year = $1",
    )
    .bind(year)
    .fetch_optional(conn)
    .await
}

pub async fn closings(conn: &mut AnyConnection) -> Result<Vec<ClosingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT jalali_year, closed_at, closed_by, figures, ledger_checks, ledger_report \
           FROM fund_year_closings ORDER BY jalali_year DESC",
    )
    .fetch_all(conn)
    .await
}

pub async fn insert_closing(
    conn: &mut AnyConnection,
    figures: &YearFigures,
    closed_by: i64,
    (checks, report): (i64, &str),
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fund_year_closings (jalali_year, closed_at, closed_by, figures, ledger_checks, ledger_report) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(figures.jalali_year)
    .bind(to_db_time(now))
    .bind(closed_by)
    .bind(serde_json::to_string(figures).expect("figures serialize"))
    .bind(checks)
    .bind(report)
    .execute(conn)
    .await?;
    Ok(())
}
