//! Payment intents and their gateway exchanges, as rows.

use sqlx::AnyConnection;

use super::domain::IntentState;
use crate::gateways::Exchange;
use crate::platform::clock::to_db_time;
use crate::platform::money::Amount;

/// One payment intent. The card number is stored masked by the gateway, and only shown to
/// staff.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct IntentRow {
    /// A UUID: also the capability of its result page, `/pay/{id}`.
    pub id: String,
    /// `invoice` or `installment`.
    pub subject: String,
    pub invoice_id: Option<String>,
    pub client_id: Option<i64>,
    pub ticket_id: Option<String>,
    /// The USDT an installment intent repays.
    pub usdt_amount: Option<Amount>,
    /// In `currency`'s minor units (Rials), fixed when the intent was made.
    pub amount: i64,
    pub currency: String,
    pub gateway: String,
    /// What the gateway is asked to charge, in its unit (`IRR`, or `IRT` Tomans).
    pub gateway_amount: i64,
    pub gateway_currency: String,
    /// `created`, `redirected`, `authorised`, `verified`, `failed`, `expired`, `reversed`.
    pub state: String,
    pub authority: Option<String>,
    /// The gateway's receipt number, once verified.
    pub ref_id: Option<String>,
    #[serde(skip)]
    pub card_pan: Option<String>,
    #[serde(skip)]
    pub card_hash: Option<String>,
    /// The gateway's fee, in its unit.
    pub fee: Option<i64>,
    /// Why it failed, expired or was given back: `cancelled`, `not_completed`, `expired`,
    /// `already_paid`, `given_back`, `kept_as_credit`, `reversed_at_gateway`, or
    /// `gateway:<code>`; empty otherwise.
    pub reason: String,
    /// The reason in English.
    #[sqlx(skip)]
    pub reason_text: String,
    /// The invoice payment the money became.
    pub payment_id: Option<String>,
    /// The ticket repayment the money became.
    pub repayment_id: Option<String>,
    pub settled_at: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
}

impl IntentRow {
    fn explained(mut self) -> IntentRow {
        self.reason_text = super::domain::reason_text(&self.reason);
        self
    }

    pub fn state(&self) -> IntentState {
        IntentState::parse(&self.state).unwrap_or(IntentState::Failed)
    }

    /// Verified, the money applied to nothing.
    pub fn unapplied(&self) -> bool {
        self.state() == IntentState::Verified
            && self.payment_id.is_none()
            && self.repayment_id.is_none()
    }

    /// Verified for something already paid, and not yet given back.
    pub fn awaits_reversal(&self) -> bool {
        self.unapplied() && self.reason != super::domain::reason::REFUND_BY_HAND
    }
}

const COLUMNS: &str = "id, subject, invoice_id, client_id, ticket_id, usdt_amount, amount, \
    currency, gateway, gateway_amount, gateway_currency, state, authority, ref_id, card_pan, \
    card_hash, fee, reason, payment_id, repayment_id, settled_at, created_by, created_at, \
    updated_at, expires_at";

/// What an intent pays.
pub enum Subject<'a> {
    Invoice { invoice_id: &'a str, client_id: i64 },
    Installment { ticket_id: &'a str, usdt: Amount },
}

pub struct NewIntent<'a> {
    pub id: &'a str,
    pub subject: Subject<'a>,
    pub amount: i64,
    pub currency: &'a str,
    pub gateway: &'a str,
    pub gateway_amount: i64,
    pub gateway_currency: &'a str,
    pub created_by: i64,
    pub now: &'a str,
    pub expires_at: &'a str,
}

pub async fn insert(conn: &mut AnyConnection, new: &NewIntent<'_>) -> Result<(), sqlx::Error> {
    let (subject, invoice_id, client_id, ticket_id, usdt) = match new.subject {
        Subject::Invoice {
            invoice_id,
            client_id,
        } => ("invoice", Some(invoice_id), Some(client_id), None, None),
        Subject::Installment { ticket_id, usdt } => {
            ("installment", None, None, Some(ticket_id), Some(usdt))
        }
    };
    sqlx::query(
        "INSERT INTO payment_intents (id, subject, invoice_id, client_id, ticket_id, usdt_amount, \
         amount, currency, gateway, gateway_amount, gateway_currency, state, created_by, \
         created_at, updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'created', $12, $13, $13, $14)",
    )
    .bind(new.id)
    .bind(subject)
    .bind(invoice_id)
    .bind(client_id)
    .bind(ticket_id)
    .bind(usdt)
    .bind(new.amount)
    .bind(new.currency)
    .bind(new.gateway)
    .bind(new.gateway_amount)
    .bind(new.gateway_currency)
    .bind(new.created_by)
    .bind(new.now)
    .bind(new.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<IntentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_intents WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map(|r: Option<IntentRow>| r.map(IntentRow::explained))
}

/// The intent, locked for the rest of the transaction on PostgreSQL (SQLite has one writer).
pub async fn get_for_update(
    conn: &mut AnyConnection,
    id: &str,
    postgres: bool,
) -> Result<Option<IntentRow>, sqlx::Error> {
    let lock = if postgres { " FOR UPDATE" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_intents WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map(|r: Option<IntentRow>| r.map(IntentRow::explained))
}

pub async fn by_authority(
    conn: &mut AnyConnection,
    authority: &str,
) -> Result<Option<IntentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_intents WHERE authority = $1"
    )))
    .bind(authority)
    .fetch_optional(conn)
    .await
    .map(|r: Option<IntentRow>| r.map(IntentRow::explained))
}

/// Moves the intent to `to` only if it is in one of `from` now; false when another request
/// moved it first (the loser does nothing more).
pub async fn move_state(
    conn: &mut AnyConnection,
    id: &str,
    from: &[IntentState],
    to: IntentState,
    reason: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let states: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE payment_intents SET state = $1, reason = $2, updated_at = $3 \
         WHERE id = $4 AND state IN ({})",
        states.join(", ")
    )))
    .bind(to.as_str())
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores the authority the gateway gave, once: false when another request stored one first.
pub async fn set_redirected(
    conn: &mut AnyConnection,
    id: &str,
    authority: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payment_intents SET state = 'redirected', authority = $1, updated_at = $2 \
         WHERE id = $3 AND state = 'created' AND authority IS NULL",
    )
    .bind(authority)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The verification's details, on the intent that just became verified.
pub struct Verified<'a> {
    pub ref_id: &'a str,
    pub card_pan: Option<&'a str>,
    pub card_hash: Option<&'a str>,
    pub fee: Option<i64>,
    pub payment_id: Option<&'a str>,
    pub repayment_id: Option<&'a str>,
    pub reason: &'a str,
}

pub async fn set_verified(
    conn: &mut AnyConnection,
    id: &str,
    v: &Verified<'_>,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_intents SET ref_id = $1, card_pan = $2, card_hash = $3, fee = $4, \
         payment_id = $5, repayment_id = $9, reason = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(v.ref_id)
    .bind(v.card_pan)
    .bind(v.card_hash)
    .bind(v.fee)
    .bind(v.payment_id)
    .bind(v.reason)
    .bind(now)
    .bind(id)
    .bind(v.repayment_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A verified intent the gateway could not give back: what became of its money instead (an
/// invoice payment as the client's credit, or nothing: a refund by hand) and why.
pub async fn set_unreversed(
    conn: &mut AnyConnection,
    id: &str,
    payment_id: Option<&str>,
    reason: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_intents SET payment_id = COALESCE($1, payment_id), reason = $2, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(payment_id)
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a verified, applied intent as paid out by the gateway; false if it was already.
pub async fn set_settled(
    conn: &mut AnyConnection,
    id: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payment_intents SET settled_at = $1, updated_at = $1 \
         WHERE id = $2 AND state = 'verified' AND settled_at IS NULL \
         AND (payment_id IS NOT NULL OR repayment_id IS NOT NULL)",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_exchange(
    conn: &mut AnyConnection,
    intent_id: &str,
    exchange: &Exchange,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_intent_exchanges (intent_id, operation, request, response, \
         http_status, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(intent_id)
    .bind(exchange.operation)
    .bind(exchange.request.to_string())
    .bind(exchange.response.as_ref().map(|r| r.to_string()))
    .bind(exchange.http_status.map(i64::from))
    .bind(to_db_time(at))
    .execute(conn)
    .await?;
    Ok(())
}

/// One exchange with the gateway, as stored (secrets masked).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ExchangeRow {
    pub id: i64,
    pub operation: String,
    /// The JSON sent, with the merchant id cut to its last four characters.
    pub request: String,
    pub response: Option<String>,
    pub http_status: Option<i64>,
    pub created_at: String,
}

pub async fn exchanges(
    conn: &mut AnyConnection,
    intent_id: &str,
) -> Result<Vec<ExchangeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, operation, request, response, http_status, created_at \
         FROM payment_intent_exchanges WHERE intent_id = $1 ORDER BY id",
    )
    .bind(intent_id)
    .fetch_all(conn)
    .await
}

/// Intents, newest first; only `created_by`'s when given, only those for `subject_id` (an
/// invoice's or a ticket's id) when given.
pub async fn list(
    conn: &mut AnyConnection,
    created_by: Option<i64>,
    subject_id: Option<&str>,
    limit: i64,
) -> Result<Vec<IntentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_intents WHERE ($1 IS NULL OR created_by = $1) \
         AND ($2 IS NULL OR invoice_id = $2 OR ticket_id = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    )))
    .bind(created_by)
    .bind(subject_id)
    .bind(limit)
    .fetch_all(conn)
    .await
    .map(|rows: Vec<IntentRow>| rows.into_iter().map(IntentRow::explained).collect())
}

/// Intents reconciliation looks at: not finished and made before `before`, or verified and
/// still to be given back.
pub async fn unfinished(
    conn: &mut AnyConnection,
    before: &str,
) -> Result<Vec<IntentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_intents WHERE \
         (state IN ('created', 'redirected', 'authorised') AND updated_at < $1) \
         OR (state = 'verified' AND payment_id IS NULL AND repayment_id IS NULL \
         AND reason <> 'refund_by_hand') ORDER BY created_at LIMIT 500"
    )))
    .bind(before)
    .fetch_all(conn)
    .await
}
