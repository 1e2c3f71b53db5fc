//! Lists of tickets: a borrower's own, and the lenders' review queue, filtered and paged. The
//! queue (tickets whose SLA clock is running) is ordered by deadline through the
//! `tickets_queue` index; other lists newest first.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::error::TicketError;
use super::service::is_reviewer;
use super::state::TicketState;
use super::store::{self, Ticket};
use crate::auth::{CurrentUser, Role};
use crate::platform::clock::to_db_time;
use crate::platform::money::Amount;
use crate::Ctx;

/// The longest page.
pub const MAX_LIMIT: i64 = 100;

/// Matches are counted up to this many: past it a list says "1,000 or more", so that a filter
/// matching most of 100,000 tickets costs a page, not a scan.
pub const COUNT_LIMIT: i64 = 1_000;

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Any of these states (none: every state).
    pub states: Vec<TicketState>,
    /// Only tickets with (true) or without (false) a fraud flag.
    pub flagged: Option<bool>,
    /// Only tickets that have (true) or have not (false) breached an SLA.
    pub breached: Option<bool>,
    pub borrower_id: Option<i64>,
    pub min_amount: Option<Amount>,
    pub max_amount: Option<Amount>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_until: Option<DateTime<Utc>>,
    /// The review queue: only tickets whose SLA clock runs, the nearest deadline first.
    pub by_deadline: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TicketPage {
    pub items: Vec<Ticket>,
    /// How many tickets match, at most [`COUNT_LIMIT`].
    pub total: i64,
    /// Whether `total` is the exact count (false: at least that many match).
    pub total_exact: bool,
}

/// The tickets `viewer` may see that match `filter`: a member sees only their own; lenders,
/// admins and accountants see all.
pub async fn list(
    ctx: &Ctx,
    viewer: &CurrentUser,
    filter: &TicketFilter,
    limit: i64,
    offset: i64,
) -> Result<TicketPage, TicketError> {
    let sees_all = is_reviewer(viewer.role) || viewer.role == Role::Accountant;
    let mut clauses: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut numbers: Vec<i64> = Vec::new();
    // Placeholders are numbered in bind order: texts first, then numbers (see below).
    let mut text = |value: String, clauses: &mut Vec<String>, sql: &str| {
        texts.push(value);
        clauses.push(sql.replace('?', &format!("${}", texts.len())));
    };
    if filter.by_deadline {
        clauses.push("sla_due_at IS NOT NULL".into());
    }
    if !filter.states.is_empty() {
        // State names come from the enum, never from input.
        let list: Vec<String> = filter
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        clauses.push(format!("state IN ({})", list.join(", ")));
    }
    match filter.flagged {
        Some(true) => clauses.push("flag_severity IS NOT NULL".into()),
        Some(false) => clauses.push("flag_severity IS NULL".into()),
        None => {}
    }
    match filter.breached {
        Some(true) => clauses.push("sla_breached_at IS NOT NULL".into()),
        Some(false) => clauses.push("sla_breached_at IS NULL".into()),
        None => {}
    }
    if let Some(from) = filter.created_from {
        text(to_db_time(from), &mut clauses, "created_at >= ?");
    }
    if let Some(until) = filter.created_until {
        text(to_db_time(until), &mut clauses, "created_at < ?");
    }
    let first_number = texts.len();
    let mut number = |value: i64, clauses: &mut Vec<String>, sql: &str| {
        numbers.push(value);
        clauses.push(sql.replace('?', &format!("${}", first_number + numbers.len())));
    };
    let borrower = if sees_all {
        filter.borrower_id
    } else {
        Some(viewer.id)
    };
    if let Some(id) = borrower {
        number(id, &mut clauses, "borrower_id = ?");
    }
    if let Some(min) = filter.min_amount {
        number(column_units(min)?, &mut clauses, "amount >= ?");
    }
    if let Some(max) = filter.max_amount {
        number(column_units(max)?, &mut clauses, "amount <= ?");
    }
    let limit = limit.clamp(1, MAX_LIMIT);
    let offset = offset.max(0);
    let filters = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let order = if filter.by_deadline {
        "sla_due_at, created_at, id"
    } else {
        "created_at DESC, id DESC"
    };
    let mut conn = ctx.db.pool.acquire().await?;
    let count_sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM tickets{filters} LIMIT {}) AS matches",
        COUNT_LIMIT + 1
    );
    let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
    for t in &texts {
        count = count.bind(t);
    }
    for n in &numbers {
        count = count.bind(n);
    }
    let counted = count.fetch_one(&mut *conn).await?;
    let items = store::select(&mut conn, &filters, order, limit, offset, &texts, &numbers).await?;
    Ok(TicketPage {
        items: items.into_iter().collect::<Result<_, _>>()?,
        total: counted.min(COUNT_LIMIT),
        total_exact: counted <= COUNT_LIMIT,
    })
}

/// An amount filter as the column's integer, refusing one no ticket could have.
fn column_units(amount: Amount) -> Result<i64, TicketError> {
    if !amount.fits_column() {
        return Err(TicketError::AmountTooLarge);
    }
    i64::try_from(amount.units()).map_err(|_| TicketError::AmountTooLarge)
}
