//! Closing a Jalali year: once it is over, on books that verify, in one transaction with its
//! audit entry.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::store::{self, ClosingRow};
use super::{totals, YearFigures};
use crate::auth::CurrentUser;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::Ctx;

/// Why a year cannot be closed.
#[derive(Debug, thiserror::Error)]
pub enum YearError {
    #[error("{year} is not a Jalali year: write one between 1 and 9999, such as 1405")]
    Invalid { year: i64 },
    #[error("Jalali year {year} is not over yet: it can be closed from Farvardin {next}")]
    NotOver { year: i64, next: i64 },
    #[error("Jalali year {year} is already closed")]
    AlreadyClosed { year: i64 },
    #[error("Jalali year {year} has not been closed")]
    NotClosed { year: i64 },
    #[error("The books do not verify, so the year cannot be closed: {0}")]
    BooksDoNotVerify(String),
    #[error("The fund's cash does not carry over the year: opening + in − out differs from the ledger's closing cash")]
    CashDoesNotCarry,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// A closed year: its figures and the ledger's verification at closing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct YearClosing {
    pub jalali_year: i64,
    pub closed_at: String,
    pub closed_by: Option<i64>,
    pub figures: YearFigures,
    /// How many ledger invariants were checked, all holding, when the year was closed.
    pub ledger_checks: i64,
    /// `saghat ledger verify`'s report at closing.
    pub ledger_report: String,
}

impl TryFrom<ClosingRow> for YearClosing {
    type Error = sqlx::Error;

    fn try_from(r: ClosingRow) -> Result<Self, sqlx::Error> {
        Ok(YearClosing {
            jalali_year: r.jalali_year,
            closed_at: r.closed_at,
            closed_by: r.closed_by,
            figures: serde_json::from_str(&r.figures).map_err(|e| sqlx::Error::Decode(e.into()))?,
            ledger_checks: r.ledger_checks,
            ledger_report: r.ledger_report,
        })
    }
}

/// The year's figures from the ledger as it is now (for a year being closed, or to preview).
pub async fn figures(ctx: &Ctx, year: i64) -> Result<YearFigures, YearError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let opening = store::cash_before(&mut conn, year, false).await?;
    let closing = store::cash_before(&mut conn, year, true).await?;
    let movements = store::movements(&mut conn, year).await?;
    let (cash_in, cash_out) =
        totals(opening, &movements, closing).ok_or(YearError::CashDoesNotCarry)?;
    let (contributions, loans_outstanding) = store::member_balances(&mut conn, year).await?;
    let (members_paying, members_left) = store::member_counts(&mut conn, year).await?;
    Ok(YearFigures {
        jalali_year: year,
        opening_cash: opening,
        movements,
        cash_in,
        cash_out,
        closing_cash: closing,
        contributions,
        loans_outstanding,
        members_paying,
        members_left,
    })
}

/// Closes `year` once it is over and the books verify: its figures and the verification are
/// kept, and audited.
pub async fn close_year(
    ctx: &Ctx,
    admin: &CurrentUser,
    year: i64,
    meta: &RequestMeta,
) -> Result<YearClosing, YearError> {
    if !(1..=9999).contains(&year) {
        return Err(YearError::Invalid { year });
    }
    let current = i64::from(ctx.current_month().year);
    if year >= current {
        return Err(YearError::NotOver {
            year,
            next: year + 1,
        });
    }
    {
        let mut conn = ctx.db.pool.acquire().await?;
        if store::closing(&mut conn, year).await?.is_some() {
            return Err(YearError::AlreadyClosed { year });
        }
    }
    let verified = crate::ledger::verify::verify(&ctx.db).await?;
    let report = verified.to_string();
    if !verified.is_ok() {
        let broken: Vec<String> = verified
            .checks
            .iter()
            .filter(|c| !c.violations.is_empty())
            .map(|c| c.name.to_string())
            .collect();
        return Err(YearError::BooksDoNotVerify(broken.join("; ")));
    }
    let checks = i64::try_from(verified.checks.len()).unwrap_or(i64::MAX);
    let figures = figures(ctx, year).await?;
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    match store::insert_closing(&mut tx, &figures, admin.id, (checks, &report), now).await {
        Err(e) if crate::platform::db::is_unique_violation(&e) => {
            return Err(YearError::AlreadyClosed { year })
        }
        other => other?,
    }
    let entry = AuditEntry {
        actor_user_id: Some(admin.id),
        action: "year_closed",
        target: format!("year:{year}"),
        details: json!({ "opening_cash": figures.opening_cash, "closing_cash": figures.closing_cash,
            "cash_in": figures.cash_in, "cash_out": figures.cash_out, "ledger_checks": checks }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    let closed = store::closing(&mut tx, year)
        .await?
        .ok_or(YearError::NotClosed { year })?;
    tx.commit().await?;
    Ok(closed.try_into()?)
}

pub async fn closing_of(ctx: &Ctx, year: i64) -> Result<YearClosing, YearError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let row = store::closing(&mut conn, year)
        .await?
        .ok_or(YearError::NotClosed { year })?;
    Ok(row.try_into()?)
}

pub async fn closings(ctx: &Ctx) -> Result<Vec<YearClosing>, YearError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let rows = store::closings(&mut conn).await?;
    Ok(rows
        .into_iter()
        .map(YearClosing::try_from)
        .collect::<Result<_, _>>()?)
}
