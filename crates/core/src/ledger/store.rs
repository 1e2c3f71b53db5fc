//! SQL for the ledger. Only inserts: journal rows are never updated or deleted (the database
//! refuses it too, see migration 0002). Balances are always sums of entries, never stored.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe};
use utoipa::ToSchema;

use super::domain::{balance, Account, JournalTransaction, Side, CURRENCY};
use crate::platform::clock::to_db_time;
use crate::platform::currency::Currency;
use crate::platform::db::{fetch_page, split_sum, Conditions};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// Opens a member's accounts (idempotent: safe to call for an existing member). The ticket
/// receivable is opened with the member's first disbursed ticket.
pub async fn open_member_accounts(
    conn: &mut AnyConnection,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for account in Account::of_member(user_id) {
        open(conn, account, now).await?;
    }
    Ok(())
}

/// Opens a member's ticket receivable, on their first disbursed ticket (idempotent).
pub async fn open_ticket_receivable(
    conn: &mut AnyConnection,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    open(conn, Account::TicketReceivable(user_id), now).await
}

/// Opens the fund's ticket income account, with the first ticket that carries a charge
/// (idempotent; a fund that lends for free never has one).
pub async fn open_ticket_income(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    open(conn, Account::TicketIncome, now).await
}

/// Opens the accounts an invoicing transaction posts to (idempotent).
pub async fn open_accounts(
    conn: &mut AnyConnection,
    tx: &JournalTransaction,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for posting in tx.postings() {
        open(conn, posting.account, now).await?;
    }
    Ok(())
}

/// Entries are stored in the minor units of their currency (USDT's are 10⁻⁸, as `Amount`'s;
/// EUR's are cents): views scale them to `Amount`, so every balance reads as the decimal it is.
pub fn in_currency(currency: &str, stored: Amount) -> Amount {
    let places = Currency::parse(currency).map_or(8, Currency::minor_units);
    Amount::from_sum_units(stored.units() * 10i128.pow(8 - places.min(8)))
}

/// A view's amount (see [`in_currency`]) written with its currency's places: `204.75` EUR,
/// `3300000` IRR, `12.50000000` USDT.
pub fn format_in_currency(currency: &str, amount: Amount) -> String {
    match Currency::parse(currency) {
        Some(c) if c.minor_units() < 8 => {
            c.format(amount.units() / 10i128.pow(8 - c.minor_units()))
        }
        _ => amount.to_string(),
    }
}

async fn open(
    conn: &mut AnyConnection,
    account: Account,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_accounts (code, kind, normal_side, user_id, client_id, currency, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO NOTHING",
    )
    .bind(account.code())
    .bind(account.kind())
    .bind(account.normal_side().as_str())
    .bind(account.user_id())
    .bind(account.client_id())
    .bind(account.currency())
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// What a journal transaction records, besides its entries.
pub struct TxRecord<'a> {
    /// The payment's or loan's own id for their postings, so each is posted at most once.
    pub id: &'a str,
    pub payment_id: Option<&'a str>,
    pub loan_id: Option<&'a str>,
    pub reverses_id: Option<&'a str>,
    pub memo: &'a str,
    pub month: JalaliMonth,
}

/// Writes a balanced transaction and its entries, on the caller's transaction.
pub async fn post(
    conn: &mut AnyConnection,
    tx: &JournalTransaction,
    record: &TxRecord<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    post_with_ticket(conn, tx, record, None, now).await
}

/// [`post`] for a loan-request ticket's disbursement or repayment: the transaction names the
/// ticket (a unique index lets each ticket be disbursed once; a repayment's transaction has
/// the repayment's id, so it is posted once too).
pub async fn post_for_ticket(
    conn: &mut AnyConnection,
    tx: &JournalTransaction,
    record: &TxRecord<'_>,
    ticket_id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    post_with_ticket(conn, tx, record, Some(ticket_id), now).await
}

async fn post_with_ticket(
    conn: &mut AnyConnection,
    tx: &JournalTransaction,
    record: &TxRecord<'_>,
    ticket_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO journal_transactions (id, kind, payment_id, loan_id, ticket_id, reverses_id, memo, jalali_year, jalali_month, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(record.id)
    .bind(tx.kind().as_str())
    .bind(record.payment_id)
    .bind(record.loan_id)
    .bind(ticket_id)
    .bind(record.reverses_id)
    .bind(record.memo)
    .bind(i64::from(record.month.year))
    .bind(i64::from(record.month.month))
    .bind(to_db_time(now))
    .execute(&mut *conn)
    .await?;
    for posting in tx.postings() {
        // Bound as amounts: one that does not fit a column fails the insert (and so the
        // transaction) with `AmountOutOfRange` instead of a panic.
        let (debit, credit) = match posting.side {
            Side::Debit => (posting.amount, Amount::ZERO),
            Side::Credit => (Amount::ZERO, posting.amount),
        };
        let inserted = sqlx::query(
            "INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency) \
             SELECT $1, id, $2, $3, currency FROM ledger_accounts WHERE code = $4",
        )
        .bind(record.id)
        .bind(debit)
        .bind(credit)
        .bind(posting.account.code())
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() != 1 {
            tracing::error!(account = %posting.account.code(), "posting to a ledger account that does not exist");
            return Err(sqlx::Error::RowNotFound);
        }
    }
    Ok(())
}

/// The columns of `split_sum("e.debit", "debits")` and `split_sum("e.credit", "credits")`.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub(crate) struct Totals {
    debits_whole: i64,
    debits_fraction: i64,
    credits_whole: i64,
    credits_fraction: i64,
}

impl Totals {
    pub(crate) fn debits(&self) -> Amount {
        Amount::from_split_sum(self.debits_whole, self.debits_fraction)
    }

    pub(crate) fn credits(&self) -> Amount {
        Amount::from_split_sum(self.credits_whole, self.credits_fraction)
    }

    /// The balance on `side`.
    pub(crate) fn balance(&self, side: Side) -> Amount {
        balance(side, self.debits(), self.credits())
    }
}

/// An account's balance on its normal side.
pub async fn balance_of(conn: &mut AnyConnection, account: Account) -> Result<Amount, sqlx::Error> {
    let sql = format!(
        "SELECT {}, {} FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = $1",
        split_sum("e.debit", "debits"),
        split_sum("e.credit", "credits")
    );
    let totals: Totals = sqlx::query_as(AssertSqlSafe(sql))
        .bind(account.code())
        .fetch_one(conn)
        .await?;
    Ok(totals.balance(account.normal_side()))
}

/// Totals of every account of each kind, on their normal sides.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FundSummary {
    pub currency: String,
    /// Money the fund holds and can lend.
    pub cash: Amount,
    /// Money confirmed by a gateway and not yet in the fund's cash.
    pub gateway_clearing: Amount,
    /// What borrowers still owe the fund.
    pub outstanding_loans: Amount,
    /// What the fund owes its members: every membership fee paid.
    pub total_contributions: Amount,
}

pub async fn fund_summary(conn: &mut AnyConnection) -> Result<FundSummary, sqlx::Error> {
    let sql = format!(
        "SELECT a.kind, a.normal_side, {}, {} FROM ledger_accounts a \
         LEFT JOIN journal_entries e ON e.account_id = a.id GROUP BY a.kind, a.normal_side",
        split_sum("e.debit", "debits"),
        split_sum("e.credit", "credits")
    );
    #[derive(sqlx::FromRow)]
    struct KindRow {
        kind: String,
        normal_side: String,
        #[sqlx(flatten)]
        totals: Totals,
    }
    let rows: Vec<KindRow> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?;
    let mut summary = FundSummary {
        currency: CURRENCY.into(),
        ..Default::default()
    };
    for row in rows {
        let total = row.totals.balance(side_of(&row.normal_side));
        match row.kind.as_str() {
            "fund_cash" => summary.cash = total,
            "gateway_clearing" => summary.gateway_clearing = total,
            "member_loan_receivable" => summary.outstanding_loans = total,
            "member_contributions" => summary.total_contributions = total,
            _ => {}
        }
    }
    Ok(summary)
}

fn side_of(normal_side: &str) -> Side {
    if normal_side == "credit" {
        Side::Credit
    } else {
        Side::Debit
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub code: String,
    pub kind: String,
    pub normal_side: String,
    pub user_id: Option<i64>,
    pub currency: String,
    pub debits: Amount,
    pub credits: Amount,
    /// Debits − credits for debit-normal accounts, credits − debits for credit-normal ones.
    pub balance: Amount,
}

/// Accounts (all, or one member's), with their totals, by id.
pub async fn accounts(
    conn: &mut AnyConnection,
    user_id: Option<i64>,
    account_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AccountView>, i64), sqlx::Error> {
    let mut conditions = Conditions::default();
    conditions
        .push_some("a.user_id = ?", user_id)
        .push_some("a.id = ?", account_id);
    let clause = conditions.where_clause();
    let page_sql = format!(
        "SELECT a.id, a.code, a.kind, a.normal_side, a.user_id, a.currency, {}, {} \
         FROM ledger_accounts a LEFT JOIN journal_entries e ON e.account_id = a.id{clause} \
         GROUP BY a.id, a.code, a.kind, a.normal_side, a.user_id, a.currency ORDER BY a.id",
        split_sum("e.debit", "debits"),
        split_sum("e.credit", "credits"),
    );
    #[derive(sqlx::FromRow)]
    struct AccountRow {
        id: i64,
        code: String,
        kind: String,
        normal_side: String,
        user_id: Option<i64>,
        currency: String,
        #[sqlx(flatten)]
        totals: Totals,
    }
    let (rows, total) = fetch_page::<AccountRow>(
        conn,
        &conditions,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM ledger_accounts a{clause}")),
        AssertSqlSafe(page_sql),
        limit,
        offset,
    )
    .await?;
    let views = rows
        .into_iter()
        .map(|r| AccountView {
            balance: in_currency(&r.currency, r.totals.balance(side_of(&r.normal_side))),
            debits: in_currency(&r.currency, r.totals.debits()),
            credits: in_currency(&r.currency, r.totals.credits()),
            id: r.id,
            code: r.code,
            kind: r.kind,
            normal_side: r.normal_side,
            user_id: r.user_id,
            currency: r.currency,
        })
        .collect();
    Ok((views, total))
}

/// One line of a statement.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct EntryView {
    #[sqlx(rename = "id")]
    pub entry_id: i64,
    pub transaction_id: String,
    /// `payment`, `loan_disbursement` or `reversal`.
    pub kind: String,
    pub account_id: i64,
    #[sqlx(rename = "code")]
    pub account_code: String,
    pub debit: Amount,
    pub credit: Amount,
    pub currency: String,
    pub payment_id: Option<String>,
    pub loan_id: Option<String>,
    pub memo: String,
    pub jalali_year: i64,
    pub jalali_month: i64,
    pub created_at: String,
}

/// Which entries a statement shows.
#[derive(Debug, Default, Clone)]
pub struct EntryFilter {
    pub account_id: Option<i64>,
    pub user_id: Option<i64>,
    pub transaction_id: Option<String>,
    /// Inclusive lower and exclusive upper bound on the transaction's time (RFC 3339 text).
    pub from: Option<String>,
    pub to: Option<String>,
    pub jalali_year: Option<i64>,
    pub jalali_month: Option<i64>,
}

impl EntryFilter {
    fn conditions(&self) -> Conditions {
        let mut c = Conditions::default();
        c.push_some("e.account_id = ?", self.account_id)
            .push_some("a.user_id = ?", self.user_id)
            .push_some("e.transaction_id = ?", self.transaction_id.clone())
            .push_some("t.created_at >= ?", self.from.clone())
            .push_some("t.created_at < ?", self.to.clone())
            .push_some("t.jalali_year = ?", self.jalali_year)
            .push_some("t.jalali_month = ?", self.jalali_month);
        c
    }
}

/// Entries matching `filter`, oldest first, a page at a time, with the number of matches.
pub async fn entries(
    conn: &mut AnyConnection,
    filter: &EntryFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<EntryView>, i64), sqlx::Error> {
    let conditions = filter.conditions();
    let (mut rows, total): (Vec<EntryView>, i64) =
        entries_as_stored(conn, &conditions, limit, offset).await?;
    for row in &mut rows {
        row.debit = in_currency(&row.currency, row.debit);
        row.credit = in_currency(&row.currency, row.credit);
    }
    Ok((rows, total))
}

async fn entries_as_stored(
    conn: &mut AnyConnection,
    conditions: &Conditions,
    limit: i64,
    offset: i64,
) -> Result<(Vec<EntryView>, i64), sqlx::Error> {
    let from = format!(
        "FROM journal_entries e JOIN journal_transactions t ON t.id = e.transaction_id \
         JOIN ledger_accounts a ON a.id = e.account_id{}",
        conditions.where_clause()
    );
    fetch_page(
        conn,
        conditions,
        AssertSqlSafe(format!("SELECT COUNT(*) {from}")),
        AssertSqlSafe(format!(
            "SELECT e.id, e.transaction_id, t.kind, e.account_id, a.code, e.debit, e.credit, e.currency, \
             t.payment_id, t.loan_id, t.memo, t.jalali_year, t.jalali_month, t.created_at \
             {from} ORDER BY t.created_at, e.id"
        )),
        limit,
        offset,
    )
    .await
}

/// The users whose accounts a transaction touches (to decide who may see it).
pub async fn transaction_users(
    conn: &mut AnyConnection,
    transaction_id: &str,
) -> Result<Option<Vec<Option<i64>>>, sqlx::Error> {
    let users: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT a.user_id FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE e.transaction_id = $1",
    )
    .bind(transaction_id)
    .fetch_all(conn)
    .await?;
    Ok((!users.is_empty()).then_some(users))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_minor_units_read_as_their_currency() {
        let eur = in_currency("EUR", Amount::from_units(20_475));
        assert_eq!(eur.to_string(), "204.75000000");
        assert_eq!(format_in_currency("EUR", eur), "204.75");
        let irr = in_currency("IRR", Amount::from_units(3_300_000));
        assert_eq!(format_in_currency("IRR", irr), "3300000");
        let usdt = in_currency("USDT", Amount::from_units(1_250_000_000));
        assert_eq!(
            usdt,
            Amount::from_units(1_250_000_000),
            "the fund's amounts unchanged"
        );
        assert_eq!(format_in_currency("USDT", usdt), "12.50000000");
    }
}
