//! SQL for tickets: the ticket row, its history, approvals, fraud flags and the fraud rules'
//! inputs. Portable across both databases (see `platform/db.rs`).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use super::fraud::{BorrowerHistory, FraudInput, FraudReport, OtherApplication, Severity};
use super::state::{TicketState, UnknownState};
use crate::platform::clock::{to_db_time, DbTime};
use crate::platform::db::{split_sum, Backend};
use crate::platform::money::Amount;

/// How many of the borrower's past applications and of others' recent ones the fraud rules
/// see: a bound on the submission's cost, whatever the number of tickets.
pub const PAST_APPLICATIONS_LIMIT: i64 = 100;
pub const RECENT_OTHERS_LIMIT: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    pub id: String,
    pub borrower_id: i64,
    pub amount: Amount,
    pub currency: String,
    pub purpose: String,
    pub term_months: i64,
    /// The wallet address the loan is paid out to.
    pub payout_address: String,
    pub state: TicketState,
    /// The highest severity of the latest fraud evaluation.
    pub flag_severity: Option<Severity>,
    /// The running SLA phase's deadline, and when its breach was escalated.
    pub sla_due_at: Option<DateTime<Utc>>,
    pub sla_breached_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct TicketRow {
    id: String,
    borrower_id: i64,
    amount: Amount,
    currency: String,
    purpose: String,
    term_months: i64,
    payout_address: String,
    state: String,
    flag_severity: Option<String>,
    sla_due_at: Option<DbTime>,
    sla_breached_at: Option<DbTime>,
    created_at: DbTime,
    updated_at: DbTime,
}

/// A time written by `to_db_time`; an unreadable one (never expected) reads as the epoch.
fn time(read: DbTime) -> DateTime<Utc> {
    read.0.unwrap_or_default()
}

impl TryFrom<TicketRow> for Ticket {
    type Error = UnknownState;
    fn try_from(r: TicketRow) -> Result<Ticket, UnknownState> {
        Ok(Ticket {
            state: TicketState::parse(&r.state)?,
            flag_severity: r.flag_severity.as_deref().and_then(Severity::parse),
            sla_due_at: r.sla_due_at.and_then(|t| t.0),
            sla_breached_at: r.sla_breached_at.and_then(|t| t.0),
            payout_address: r.payout_address,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
            id: r.id,
            borrower_id: r.borrower_id,
            amount: r.amount,
            currency: r.currency,
            purpose: r.purpose,
            term_months: r.term_months,
        })
    }
}

const TICKET_COLUMNS: &str = "id, borrower_id, amount, currency, purpose, term_months, \
     payout_address, state, flag_severity, sla_due_at, sla_breached_at, created_at, updated_at";

pub async fn insert(conn: &mut AnyConnection, t: &Ticket) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tickets (id, borrower_id, amount, currency, purpose, term_months, payout_address, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&t.id)
    .bind(t.borrower_id)
    .bind(t.amount)
    .bind(&t.currency)
    .bind(&t.purpose)
    .bind(t.term_months)
    .bind(&t.payout_address)
    .bind(t.state.as_str())
    .bind(to_db_time(t.created_at))
    .bind(to_db_time(t.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// The ticket `id`; with `lock`, locked for the rest of the transaction on PostgreSQL (SQLite
/// has one writer at a time, held by the write transaction).
pub async fn find(
    conn: &mut AnyConnection,
    backend: Backend,
    id: &str,
    lock: bool,
) -> Result<Option<Result<Ticket, UnknownState>>, sqlx::Error> {
    let lock = if lock && backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1{lock}");
    let row: Option<TicketRow> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Ticket::try_from))
}

/// Tickets matching `filters` (a `WHERE …` clause, empty for all, whose placeholders take
/// `texts` then `numbers`), in `order`, one page.
pub async fn select(
    conn: &mut AnyConnection,
    filters: &str,
    order: &str,
    limit: i64,
    offset: i64,
    texts: &[String],
    numbers: &[i64],
) -> Result<Vec<Result<Ticket, UnknownState>>, sqlx::Error> {
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets{filters} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    );
    let mut query = sqlx::query_as::<_, TicketRow>(AssertSqlSafe(sql));
    for t in texts {
        query = query.bind(t);
    }
    for n in numbers {
        query = query.bind(n);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(rows.into_iter().map(Ticket::try_from).collect())
}

pub async fn set_state(
    conn: &mut AnyConnection,
    id: &str,
    state: TicketState,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(to_db_time(now))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub from_state: Option<TicketState>,
    pub to_state: TicketState,
    pub actor_user_id: Option<i64>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

pub async fn add_history(
    conn: &mut AnyConnection,
    ticket_id: &str,
    entry: &HistoryEntry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_history (ticket_id, from_state, to_state, actor_user_id, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ticket_id)
    .bind(entry.from_state.map(TicketState::as_str))
    .bind(entry.to_state.as_str())
    .bind(entry.actor_user_id)
    .bind(&entry.reason)
    .bind(to_db_time(entry.at))
    .execute(&mut *conn)
    .await?;
    // The first time each milestone is reached stays on the ticket, for the reports.
    for column in entry.to_state.milestones() {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE tickets SET {column} = $1 WHERE id = $2 AND {column} IS NULL"
        )))
        .bind(to_db_time(entry.at))
        .bind(ticket_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(FromRow)]
struct HistoryRow {
    from_state: Option<String>,
    to_state: String,
    actor_user_id: Option<i64>,
    reason: String,
    at: DbTime,
}

/// How many entries the ticket's history has.
pub async fn history_len(conn: &mut AnyConnection, ticket_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM ticket_history WHERE ticket_id = $1")
        .bind(ticket_id)
        .fetch_one(conn)
        .await
}

/// The ticket's history, oldest first.
pub async fn history(
    conn: &mut AnyConnection,
    ticket_id: &str,
) -> Result<Result<Vec<HistoryEntry>, UnknownState>, sqlx::Error> {
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT from_state, to_state, actor_user_id, reason, at FROM ticket_history \
         WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            Ok(HistoryEntry {
                from_state: r
                    .from_state
                    .as_deref()
                    .map(TicketState::parse)
                    .transpose()?,
                to_state: TicketState::parse(&r.to_state)?,
                actor_user_id: r.actor_user_id,
                reason: r.reason,
                at: time(r.at),
            })
        })
        .collect())
}

/// Who approved the ticket so far, in order.
pub async fn approvals(conn: &mut AnyConnection, ticket_id: &str) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT approver_id FROM ticket_approvals WHERE ticket_id = $1 ORDER BY at, approver_id",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await
}

pub async fn add_approval(
    conn: &mut AnyConnection,
    ticket_id: &str,
    approver_id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO ticket_approvals (ticket_id, approver_id, at) VALUES ($1, $2, $3)")
        .bind(ticket_id)
        .bind(approver_id)
        .bind(to_db_time(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// A stored fraud flag, with the inputs the rules saw (the `FraudInput` JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct StoredFlag {
    pub code: String,
    pub severity: String,
    pub explanation_en: String,
    pub explanation_fa: String,
    pub inputs: String,
    pub evaluated_at: String,
}

/// Replaces the ticket's flags with those of the latest evaluation.
pub async fn replace_flags(
    conn: &mut AnyConnection,
    ticket_id: &str,
    report: &FraudReport,
    inputs: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM ticket_flags WHERE ticket_id = $1")
        .bind(ticket_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE tickets SET flag_severity = $1 WHERE id = $2")
        .bind(report.highest.map(Severity::as_str))
        .bind(ticket_id)
        .execute(&mut *conn)
        .await?;
    for flag in &report.flags {
        sqlx::query(
            "INSERT INTO ticket_flags (ticket_id, code, severity, explanation_en, explanation_fa, inputs, evaluated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ticket_id)
        .bind(flag.code.as_str())
        .bind(flag.severity.as_str())
        .bind(&flag.explanation_en)
        .bind(&flag.explanation_fa)
        .bind(inputs)
        .bind(to_db_time(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn flags(
    conn: &mut AnyConnection,
    ticket_id: &str,
) -> Result<Vec<StoredFlag>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, severity, explanation_en, explanation_fa, inputs, evaluated_at \
         FROM ticket_flags WHERE ticket_id = $1 ORDER BY code",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await
}

/// The highest severity among the ticket's stored flags.
pub async fn highest_flag(
    conn: &mut AnyConnection,
    ticket_id: &str,
) -> Result<Option<Severity>, sqlx::Error> {
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT severity FROM ticket_flags WHERE ticket_id = $1")
            .bind(ticket_id)
            .fetch_all(conn)
            .await?;
    Ok(stored
        .iter()
        .filter_map(|s| match s.as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        })
        .max())
}

// --- the fraud rules' inputs ------------------------------------------------------------------

/// The borrower's contact data the rules compare.
pub struct Contact {
    pub email: String,
    pub phone: String,
}

#[derive(FromRow)]
struct BorrowerRow {
    created_at: DbTime,
    email: String,
    mobile: Option<String>,
}

#[derive(FromRow)]
struct FeesRow {
    fees_whole: i64,
    fees_fraction: i64,
}

/// The borrower's record as the fraud rules read it: account age, contributions (the fees of
/// their payments), past fund loans and earlier applications (bounded).
pub async fn borrower_history(
    conn: &mut AnyConnection,
    borrower_id: i64,
    ticket_id: &str,
) -> Result<(BorrowerHistory, Contact), sqlx::Error> {
    let row: BorrowerRow = sqlx::query_as(
        "SELECT u.created_at, u.email, p.mobile FROM users u \
         LEFT JOIN notification_preferences p ON p.user_id = u.id WHERE u.id = $1",
    )
    .bind(borrower_id)
    .fetch_one(&mut *conn)
    .await?;
    let sql = format!(
        "SELECT {} FROM payments WHERE user_id = $1",
        split_sum("membership_fee", "fees")
    );
    let fees: FeesRow = sqlx::query_as(AssertSqlSafe(sql))
        .bind(borrower_id)
        .fetch_one(&mut *conn)
        .await?;
    let past_loans: Vec<Amount> = sqlx::query_scalar(
        "SELECT amount FROM loans WHERE user_id = $1 AND amount IS NOT NULL \
         ORDER BY created_at DESC LIMIT $2",
    )
    .bind(borrower_id)
    .bind(PAST_APPLICATIONS_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    let past: Vec<DbTime> = sqlx::query_scalar(
        "SELECT created_at FROM tickets WHERE borrower_id = $1 AND id <> $2 AND state <> 'draft' \
         ORDER BY created_at DESC LIMIT $3",
    )
    .bind(borrower_id)
    .bind(ticket_id)
    .bind(PAST_APPLICATIONS_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    let history = BorrowerHistory {
        account_created_at: time(row.created_at),
        total_contributions: Amount::from_split_sum(fees.fees_whole, fees.fees_fraction),
        past_loans,
        past_applications: past.into_iter().map(time).collect(),
    };
    let contact = Contact {
        email: row.email,
        phone: row.mobile.unwrap_or_default(),
    };
    Ok((history, contact))
}

/// What an application is compared on across borrowers, snapshotted on the ticket when it is
/// submitted. Empty values match nothing.
#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    /// The e-mail domain when sharing it means something (`fraud::shareable_domain`).
    pub email_domain: String,
    pub phone: String,
    pub payout_address: String,
    pub client_address: String,
}

/// Records the submission's fingerprint, so later applications can find this one by index.
pub async fn snapshot_submission(
    conn: &mut AnyConnection,
    ticket_id: &str,
    print: &Fingerprint,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET email_domain = $1, phone = $2, client_address = $3, submitted_at = $4 \
         WHERE id = $5",
    )
    .bind(&print.email_domain)
    .bind(&print.phone)
    .bind(&print.client_address)
    .bind(to_db_time(now))
    .bind(ticket_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct OtherRow {
    borrower_id: i64,
    email_domain: String,
    phone: String,
    payout_address: String,
    client_address: String,
    submitted_at: DbTime,
}

/// Others' submitted applications within `window` of `now` that share something with `print`
/// (domain, phone, payout or client address): one indexed lookup per shared value, each
/// bounded, so the cost does not grow with the number of tickets.
pub async fn recent_by_others(
    conn: &mut AnyConnection,
    borrower_id: i64,
    print: &Fingerprint,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<Vec<OtherApplication>, sqlx::Error> {
    let wanted = [
        ("email_domain", &print.email_domain),
        ("phone", &print.phone),
        ("payout_address", &print.payout_address),
        ("client_address", &print.client_address),
    ];
    let mut branches = Vec::new();
    let mut values = Vec::new();
    for (column, value) in wanted {
        if value.is_empty() {
            continue;
        }
        values.push(value.clone());
        // Column names come from the list above, never from input.
        branches.push(format!(
            "SELECT * FROM (SELECT id, borrower_id, email_domain, phone, payout_address, client_address, submitted_at \
             FROM tickets WHERE {column} = ${} AND submitted_at >= $1 AND borrower_id <> $2 \
             ORDER BY submitted_at DESC LIMIT {RECENT_OTHERS_LIMIT}) AS b{}",
            values.len() + 2,
            values.len()
        ));
    }
    if branches.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT borrower_id, email_domain, phone, payout_address, client_address, submitted_at FROM ({}) AS matches",
        branches.join(" UNION ")
    );
    let mut query = sqlx::query_as::<_, OtherRow>(AssertSqlSafe(sql))
        .bind(to_db_time(now - window))
        .bind(borrower_id);
    for value in &values {
        query = query.bind(value);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| OtherApplication {
            borrower_id: r.borrower_id,
            email_domain: r.email_domain,
            phone: r.phone,
            payout_address: r.payout_address,
            client_address: r.client_address,
            at: time(r.submitted_at),
        })
        .collect())
}

/// Active users who review tickets, for notices to "the lenders": the lenders, or the admins
/// when there are none.
pub async fn reviewer_group(conn: &mut AnyConnection) -> Result<Vec<i64>, sqlx::Error> {
    let lenders: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE is_active = 1 AND role = 'lender' ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    if !lenders.is_empty() {
        return Ok(lenders);
    }
    sqlx::query_scalar("SELECT id FROM users WHERE is_active = 1 AND role = 'admin' ORDER BY id")
        .fetch_all(conn)
        .await
}

/// The reviewers who have acted on the ticket (moved or approved it), oldest first.
pub async fn reviewers_of(
    conn: &mut AnyConnection,
    ticket_id: &str,
    borrower_id: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT actor_user_id FROM ticket_history WHERE ticket_id = $1 \
         AND actor_user_id IS NOT NULL AND actor_user_id <> $2 \
         UNION SELECT approver_id FROM ticket_approvals WHERE ticket_id = $1",
    )
    .bind(ticket_id)
    .bind(borrower_id)
    .fetch_all(conn)
    .await
}

/// Remembers that the ticket's current deadline has been escalated.
pub async fn mark_escalated(conn: &mut AnyConnection, ticket_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET sla_escalated_for = sla_due_at WHERE id = $1")
        .bind(ticket_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The SLA columns after a change: the running deadline, and the breach mark (kept once set).
pub async fn set_sla(
    conn: &mut AnyConnection,
    ticket_id: &str,
    due_at: Option<DateTime<Utc>>,
    breached_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET sla_due_at = $1, \
         sla_breached_at = COALESCE(sla_breached_at, $2) WHERE id = $3",
    )
    .bind(due_at.map(to_db_time))
    .bind(breached_at.map(to_db_time))
    .bind(ticket_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The input the rules saw, as stored with the flags.
pub fn inputs_json(input: &FraudInput) -> String {
    serde_json::to_string(input).unwrap_or_default()
}
