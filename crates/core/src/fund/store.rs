//! SQL for the fund: configuration, payments, loans and the draw's inputs. The draw reads
//! everything it needs in a fixed number of statements, whatever the number of members.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, FromRow};
use utoipa::ToSchema;

use super::access::FUND_MEMBER_ROLES_SQL;
use super::draw::MemberStats;
use super::rules::{ActiveLoan, FundConfig, PaymentPlan};
use crate::auth::Role;
use crate::platform::clock::to_db_time;
use crate::platform::db::Conditions;
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

// --- configuration ----------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct ConfigRow {
    min_membership_fee: Amount,
    max_month_for_loan_payment: i64,
    min_amount_for_loan_payment: Amount,
}

/// The settings the fund started with (`None` before the first start).
pub async fn base_config(conn: &mut AnyConnection) -> Result<Option<FundConfig>, sqlx::Error> {
    let row: Option<ConfigRow> = sqlx::query_as(
        "SELECT min_membership_fee, max_month_for_loan_payment, min_amount_for_loan_payment FROM fund_config WHERE id = 1",
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(FundConfig::from))
}

impl From<ConfigRow> for FundConfig {
    fn from(r: ConfigRow) -> FundConfig {
        FundConfig {
            min_membership_fee: r.min_membership_fee,
            max_month_for_loan_payment: r.max_month_for_loan_payment,
            min_amount_for_loan_payment: r.min_amount_for_loan_payment,
        }
    }
}

/// The settings in effect in `month`: the latest change from that month or before, else
/// those the fund started with (`None` before the first start).
pub async fn config(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Option<FundConfig>, sqlx::Error> {
    let changed: Option<ConfigRow> = sqlx::query_as(
        "SELECT min_membership_fee, max_month_for_loan_payment, min_amount_for_loan_payment \
           FROM fund_config_changes WHERE from_year * 100 + from_month <= $1 \
          ORDER BY from_year DESC, from_month DESC LIMIT 1",
    )
    .bind(i64::from(month.year) * 100 + i64::from(month.month))
    .fetch_optional(&mut *conn)
    .await?;
    match changed {
        Some(row) => Ok(Some(row.into())),
        None => base_config(conn).await,
    }
}

/// One change of the settings and the month it takes effect from.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ConfigVersion {
    /// `YYYY/MM`, Jalali; `null` for the settings the fund started with.
    pub from: Option<String>,
    pub min_membership_fee: Amount,
    pub max_month_for_loan_payment: i64,
    pub min_amount_for_loan_payment: Amount,
}

/// The settings the fund started with, then every change by its month.
pub async fn config_history(conn: &mut AnyConnection) -> Result<Vec<ConfigVersion>, sqlx::Error> {
    let mut history: Vec<ConfigVersion> = base_config(&mut *conn)
        .await?
        .into_iter()
        .map(|c| ConfigVersion {
            from: None,
            min_membership_fee: c.min_membership_fee,
            max_month_for_loan_payment: c.max_month_for_loan_payment,
            min_amount_for_loan_payment: c.min_amount_for_loan_payment,
        })
        .collect();
    type Row = (i64, i64, Amount, i64, Amount);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT from_year, from_month, min_membership_fee, max_month_for_loan_payment, \
                min_amount_for_loan_payment FROM fund_config_changes ORDER BY from_year, from_month",
    )
    .fetch_all(conn)
    .await?;
    history.extend(
        rows.into_iter()
            .map(|(y, m, fee, months, min)| ConfigVersion {
                from: Some(format!("{y}/{m:02}")),
                min_membership_fee: fee,
                max_month_for_loan_payment: months,
                min_amount_for_loan_payment: min,
            }),
    );
    Ok(history)
}

/// Sets the settings from `month` on (replacing a change already made for that month); the
/// months before keep theirs. Later changes stay.
pub async fn save_config_from(
    conn: &mut AnyConnection,
    month: JalaliMonth,
    config: &FundConfig,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fund_config_changes (from_year, from_month, min_membership_fee, \
            max_month_for_loan_payment, min_amount_for_loan_payment, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (from_year, from_month) DO UPDATE SET \
            min_membership_fee = excluded.min_membership_fee, \
            max_month_for_loan_payment = excluded.max_month_for_loan_payment, \
            min_amount_for_loan_payment = excluded.min_amount_for_loan_payment, \
            changed_at = excluded.changed_at",
    )
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .bind(config.min_membership_fee)
    .bind(config.max_month_for_loan_payment)
    .bind(config.min_amount_for_loan_payment)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates the settings the fund starts with.
pub async fn save_base_config(
    conn: &mut AnyConnection,
    config: &FundConfig,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    insert_config(conn, config, now).await
}

/// Creates the configuration unless one exists (start-up default; safe to race).
pub async fn ensure_config(
    conn: &mut AnyConnection,
    config: &FundConfig,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if base_config(&mut *conn).await?.is_some() {
        return Ok(());
    }
    match insert_config(conn, config, now).await {
        Err(e) if crate::platform::db::is_unique_violation(&e) => Ok(()),
        other => other,
    }
}

async fn insert_config(
    conn: &mut AnyConnection,
    config: &FundConfig,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fund_config (id, min_membership_fee, max_month_for_loan_payment, min_amount_for_loan_payment, updated_at) \
         VALUES (1, $1, $2, $3, $4)",
    )
    .bind(config.min_membership_fee)
    .bind(config.max_month_for_loan_payment)
    .bind(config.min_amount_for_loan_payment)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

// --- payments ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeePart {
    pub amount: Amount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoanPart {
    pub loan_id: String,
    pub amount: Amount,
}

/// A monthly payment (`Payment` in the original API).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    pub user_id: i64,
    /// Fee plus loan repayment.
    pub amount: Amount,
    pub jalali_year: i64,
    pub jalali_month: i64,
    pub bitpin_payment_id: String,
    pub membership_fee: FeePart,
    pub loan_payment: Option<LoanPart>,
    pub created_at: String,
}

const PAYMENT_COLUMNS: &str =
    "id, user_id, amount, jalali_year, jalali_month, bitpin_payment_id, membership_fee, loan_id, loan_amount, created_at";

/// A row of [`PAYMENT_COLUMNS`].
#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: String,
    user_id: i64,
    amount: Amount,
    jalali_year: i64,
    jalali_month: i64,
    bitpin_payment_id: String,
    membership_fee: Amount,
    loan_id: Option<String>,
    loan_amount: Option<Amount>,
    created_at: String,
}

impl From<PaymentRow> for Payment {
    fn from(r: PaymentRow) -> Self {
        Payment {
            id: r.id,
            user_id: r.user_id,
            amount: r.amount,
            jalali_year: r.jalali_year,
            jalali_month: r.jalali_month,
            bitpin_payment_id: r.bitpin_payment_id,
            membership_fee: FeePart {
                amount: r.membership_fee,
            },
            loan_payment: r
                .loan_id
                .zip(r.loan_amount)
                .map(|(loan_id, amount)| LoanPart { loan_id, amount }),
            created_at: r.created_at,
        }
    }
}

pub async fn has_paid(
    conn: &mut AnyConnection,
    user_id: i64,
    month: JalaliMonth,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM payments WHERE user_id = $1 AND jalali_year = $2 AND jalali_month = $3",
    )
    .bind(user_id)
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Whether a payment already claimed the gateway payment with this key (see
/// `gateways::normalise_payment_id`; `UNIQUE (bitpin_payment_key)` decides races).
pub async fn bitpin_id_used(
    conn: &mut AnyConnection,
    bitpin_payment_key: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE bitpin_payment_key = $1")
        .bind(bitpin_payment_key)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

pub struct NewPayment<'a> {
    pub user_id: i64,
    pub month: JalaliMonth,
    pub plan: &'a PaymentPlan,
    /// The id as the member wrote it, returned to them as `bitpin_payment_id`.
    pub bitpin_payment_id: &'a str,
    /// The gateway payment's normalised id, unique across payments.
    pub bitpin_payment_key: &'a str,
}

pub async fn insert_payment(
    conn: &mut AnyConnection,
    p: &NewPayment<'_>,
    now: DateTime<Utc>,
) -> Result<Payment, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let sql = format!(
        "INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, loan_id, loan_amount, amount, \
         bitpin_payment_id, bitpin_payment_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         RETURNING {PAYMENT_COLUMNS}"
    );
    let row: PaymentRow = sqlx::query_as(AssertSqlSafe(sql))
        .bind(&id)
        .bind(p.user_id)
        .bind(i64::from(p.month.year))
        .bind(i64::from(p.month.month))
        .bind(p.plan.membership_fee)
        .bind(p.plan.repayment.as_ref().map(|r| r.loan_id.clone()))
        .bind(p.plan.repayment.as_ref().map(|r| r.amount))
        .bind(p.plan.total)
        .bind(p.bitpin_payment_id)
        .bind(p.bitpin_payment_key)
        .bind(to_db_time(now))
        .fetch_one(conn)
        .await?;
    Ok(row.into())
}

pub async fn payments_of(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<Payment>, sqlx::Error> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE user_id = $1 ORDER BY jalali_year DESC, jalali_month DESC"
    );
    let rows: Vec<PaymentRow> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(Payment::from).collect())
}

// --- loans ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, sqlx::FromRow)]
pub struct LoanRepayment {
    pub id: String,
    #[sqlx(rename = "loan_amount")]
    pub amount: Amount,
    pub jalali_year: i64,
    pub jalali_month: i64,
}

/// A month's draw result (`Loan` in the original API).
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Loan {
    pub id: String,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub amount: Option<Amount>,
    /// `active` (being repaid), `settled` (fully repaid) or `no_one` (nobody won this month).
    pub state: String,
    pub jalali_year: i64,
    pub jalali_month: i64,
    pub min_amount_for_each_payment: Option<Amount>,
    pub total_paid: Amount,
    pub remaining_balance: Amount,
    /// What the borrower's contributions settled when they left the fund (absent otherwise):
    /// the loan is `settled` with `total_paid` + this = `amount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_from_contributions: Option<Amount>,
    /// The draw's log: who took part, each score, the random pool and the winner.
    #[schema(value_type = Object)]
    pub log: serde_json::Value,
    /// Repayments, oldest first.
    pub payments: Vec<LoanRepayment>,
    pub created_at: String,
}

/// Which loans to list.
#[derive(Debug, Default, Clone)]
pub struct LoanFilter {
    pub user_id: Option<i64>,
    pub jalali_year_gt: Option<i64>,
    pub jalali_year_lt: Option<i64>,
    pub jalali_month_gt: Option<i64>,
    pub jalali_month_lt: Option<i64>,
    pub id: Option<String>,
}

impl LoanFilter {
    /// The WHERE clause over `loans l`.
    fn conditions(&self) -> Conditions {
        let mut c = Conditions::default();
        c.push_some("l.user_id = ?", self.user_id)
            .push_some("l.jalali_year > ?", self.jalali_year_gt)
            .push_some("l.jalali_year < ?", self.jalali_year_lt)
            .push_some("l.jalali_month > ?", self.jalali_month_gt)
            .push_some("l.jalali_month < ?", self.jalali_month_lt)
            .push_some("l.id = ?", self.id.clone());
        c
    }
}

/// Loans matching `filter`, newest month first, each with its repayments: two statements.
pub async fn loans(
    conn: &mut AnyConnection,
    filter: &LoanFilter,
) -> Result<Vec<Loan>, sqlx::Error> {
    let conditions = filter.conditions();
    let clause = conditions.where_clause();
    let sql = format!(
        "SELECT l.id, l.user_id, u.username, l.amount, l.state, l.jalali_year, l.jalali_month, \
         l.min_amount_for_each_payment, l.log, l.created_at, l.settled_from_contributions \
         FROM loans l LEFT JOIN users u ON u.id = l.user_id{clause} \
         ORDER BY l.jalali_year DESC, l.jalali_month DESC"
    );
    let rows = conditions
        .bind(sqlx::query(AssertSqlSafe(sql)))
        .fetch_all(&mut *conn)
        .await?;
    let mut loans = rows
        .iter()
        .map(|r| LoanRow::from_row(r)?.try_into())
        .collect::<Result<Vec<Loan>, sqlx::Error>>()?;
    if loans.is_empty() {
        return Ok(loans);
    }
    let sql = format!(
        "SELECT p.id, p.loan_id, p.loan_amount, p.jalali_year, p.jalali_month FROM payments p \
         WHERE p.loan_id IN (SELECT l.id FROM loans l{clause}) \
         ORDER BY p.jalali_year, p.jalali_month, p.created_at"
    );
    let repayments = conditions
        .bind(sqlx::query(AssertSqlSafe(sql)))
        .fetch_all(conn)
        .await?;
    let index: std::collections::HashMap<String, usize> = loans
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.clone(), i))
        .collect();
    #[derive(sqlx::FromRow)]
    struct RepaymentRow {
        loan_id: String,
        #[sqlx(flatten)]
        repayment: LoanRepayment,
    }
    for row in &repayments {
        let row = RepaymentRow::from_row(row)?;
        if let Some(&i) = index.get(&row.loan_id) {
            loans[i].payments.push(row.repayment);
        }
    }
    for loan in &mut loans {
        loan.total_paid = loan.payments.iter().map(|p| p.amount).sum();
        let settled = loan.settled_from_contributions.unwrap_or(Amount::ZERO);
        loan.remaining_balance = loan
            .amount
            .and_then(|a| a.checked_sub(loan.total_paid))
            .and_then(|a| a.checked_sub(settled))
            .unwrap_or(Amount::ZERO);
    }
    Ok(loans)
}

#[derive(sqlx::FromRow)]
struct LoanRow {
    id: String,
    user_id: Option<i64>,
    username: Option<String>,
    amount: Option<Amount>,
    state: String,
    jalali_year: i64,
    jalali_month: i64,
    min_amount_for_each_payment: Option<Amount>,
    log: String,
    created_at: String,
    settled_from_contributions: Option<Amount>,
}

/// The loan without its repayments, which are read apart.
impl TryFrom<LoanRow> for Loan {
    type Error = sqlx::Error;

    fn try_from(r: LoanRow) -> Result<Self, sqlx::Error> {
        Ok(Loan {
            id: r.id,
            user_id: r.user_id,
            username: r.username,
            amount: r.amount,
            state: r.state,
            jalali_year: r.jalali_year,
            jalali_month: r.jalali_month,
            min_amount_for_each_payment: r.min_amount_for_each_payment,
            total_paid: Amount::ZERO,
            remaining_balance: Amount::ZERO,
            settled_from_contributions: r.settled_from_contributions,
            log: serde_json::from_str(&r.log).map_err(|e| sqlx::Error::Decode(e.into()))?,
            payments: vec![],
            created_at: r.created_at,
        })
    }
}

pub async fn active_loan(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<ActiveLoan>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct ActiveLoanRow {
        id: String,
        amount: Amount,
        total_paid: Amount,
        min_amount_for_each_payment: Amount,
    }
    let row: Option<ActiveLoanRow> = sqlx::query_as(
        "SELECT l.id, l.amount, l.min_amount_for_each_payment, \
         CAST(COALESCE((SELECT SUM(p.loan_amount) FROM payments p WHERE p.loan_id = l.id), 0) AS BIGINT) AS total_paid \
         FROM loans l WHERE l.user_id = $1 AND l.state = 'active'",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| ActiveLoan {
        id: r.id,
        amount: r.amount,
        total_paid: r.total_paid,
        min_amount_for_each_payment: r.min_amount_for_each_payment,
    }))
}

/// Total repaid on a loan, read inside the paying transaction.
pub async fn loan_total_paid(
    conn: &mut AnyConnection,
    loan_id: &str,
) -> Result<Amount, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(loan_amount), 0) AS BIGINT) FROM payments WHERE loan_id = $1",
    )
    .bind(loan_id)
    .fetch_one(conn)
    .await
}

pub async fn settle_loan(conn: &mut AnyConnection, loan_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE loans SET state = 'settled' WHERE id = $1 AND state = 'active'")
        .bind(loan_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn draw_exists(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM loans WHERE jalali_year = $1 AND jalali_month = $2",
    )
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

// --- the draw's inputs ------------------------------------------------------------------------

/// Usernames of active members who have not paid in `month` (one statement).
pub async fn unpaid_members(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT u.username FROM users u WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {FUND_MEMBER_ROLES_SQL} \
         AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id \
         AND p.jalali_year = $1 AND p.jalali_month = $2) ORDER BY u.username_key"
    )))
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_all(conn)
    .await
}

/// Whether some active member has not paid in `month` (stops at the first one found).
pub async fn anyone_unpaid(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT u.id FROM users u WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {FUND_MEMBER_ROLES_SQL} \
         AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id \
         AND p.jalali_year = $1 AND p.jalali_month = $2) LIMIT 1"
    )))
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// The active admins' ids.
pub async fn admins(conn: &mut AnyConnection) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE is_active = 1 AND role = 'admin' ORDER BY id")
        .fetch_all(conn)
        .await
}

/// Who the day's notices may go to: active members (with whether they paid in `month`) and
/// active admins, in one statement.
pub async fn notice_audience(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<NoticeAudience, sqlx::Error> {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT u.id, u.role, CASE WHEN EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id \
         AND p.jalali_year = $1 AND p.jalali_month = $2) THEN 1 ELSE 0 END \
         FROM users u WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {FUND_MEMBER_ROLES_SQL} ORDER BY u.id"
    )))
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_all(conn)
    .await?;
    let mut audience = NoticeAudience::default();
    for (id, role, paid) in rows {
        audience.members.push(id);
        if paid == 0 {
            audience.unpaid.push(id);
        }
        if role == "admin" {
            audience.admins.push(id);
        }
    }
    Ok(audience)
}

/// See [`notice_audience`]. Admins are members of the fund too (they pay and may win).
#[derive(Debug, Default)]
pub struct NoticeAudience {
    pub members: Vec<i64>,
    pub unpaid: Vec<i64>,
    pub admins: Vec<i64>,
}

/// Every active member's draw statistics, in two set-based statements whatever the number of
/// members: one row per member from payments and the ledger, and one row per member who ever
/// received a loan (few) from the loans.
///
/// Most of the draw's time over many members is spent turning rows into `AnyRow`s (sqlx builds
/// every row's column list anew), so the statement that returns a row per member carries only
/// the columns every member needs. "Last payment" is found through the unique index on
/// `(user_id, jalali_year, jalali_month)` (a member pays once a month, so the latest month
/// identifies it) instead of a window over every payment.
pub async fn member_stats(conn: &mut AnyConnection) -> Result<Vec<MemberStats>, sqlx::Error> {
    // A row per member: read by position (a tuple), not by column name (see BENCHMARKS.md).
    type MemberRow = (
        i64,
        String,
        Role,
        Amount,
        i64,
        i64,
        i64,
        i64,
        Option<Amount>,
    );
    #[derive(sqlx::FromRow)]
    struct BorrowerRow {
        user_id: i64,
        loans_received_count: i64,
        received_whole: i64,
        received_fraction: i64,
        active_loans: i64,
        last_loan_amount: Option<Amount>,
    }
    let rows: Vec<MemberRow> = sqlx::query_as(AssertSqlSafe(format!(
        "WITH pay AS ( \
           SELECT user_id, \
                  CAST(COUNT(loan_id) AS BIGINT) AS repayment_count, \
                  CAST(SUM(CASE WHEN loan_id IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS months_without_repayment, \
                  MAX(jalali_year * 12 + jalali_month) AS last_month \
           FROM payments GROUP BY user_id), \
         contributions AS ( \
           SELECT a.user_id, \
                  CAST(SUM((e.credit - e.debit) / 100000000) AS BIGINT) AS balance_whole, \
                  CAST(SUM((e.credit - e.debit) % 100000000) AS BIGINT) AS balance_fraction \
           FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id \
           WHERE a.kind = 'member_contributions' GROUP BY a.user_id) \
         SELECT u.id, u.username, u.role, u.loan_request_amount, \
                COALESCE(contributions.balance_whole, 0) AS balance_whole, \
                COALESCE(contributions.balance_fraction, 0) AS balance_fraction, \
                COALESCE(pay.repayment_count, 0) AS repayment_count, \
                COALESCE(pay.months_without_repayment, 0) AS months_without_repayment, \
                last_pay.amount AS last_payment_total \
         FROM users u \
         LEFT JOIN pay ON pay.user_id = u.id \
         LEFT JOIN payments last_pay ON last_pay.user_id = u.id \
              AND last_pay.jalali_year = (pay.last_month - 1) / 12 \
              AND last_pay.jalali_month = pay.last_month - 12 * ((pay.last_month - 1) / 12) \
         LEFT JOIN contributions ON contributions.user_id = u.id \
         WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {FUND_MEMBER_ROLES_SQL} ORDER BY u.id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let mut members: Vec<MemberStats> = rows
        .into_iter()
        .map(
            |(
                user_id,
                username,
                role,
                loan_request,
                balance_whole,
                balance_fraction,
                repayment_count,
                months_without_repayment,
                last_payment_total,
            )| MemberStats {
                user_id,
                username,
                is_main: role.is_main(),
                loan_request,
                balance: Amount::from_split_sum(balance_whole, balance_fraction),
                repayment_count,
                months_without_repayment,
                last_payment_total,
                has_active_loan: false,
                loans_received_count: 0,
                loans_received_total: Amount::ZERO,
                last_loan_amount: None,
            },
        )
        .collect();

    // Loans are one a month: this is one row per member who ever borrowed.
    let loan_rows: Vec<BorrowerRow> = sqlx::query_as(
        "WITH received AS ( \
           SELECT user_id, CAST(COUNT(*) AS BIGINT) AS n, \
                  CAST(SUM(amount / 100000000) AS BIGINT) AS received_whole, \
                  CAST(SUM(amount % 100000000) AS BIGINT) AS received_fraction, \
                  CAST(SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS BIGINT) AS active \
           FROM loans WHERE state IN ('active', 'settled') GROUP BY user_id), \
         last_loan AS ( \
           SELECT user_id, amount FROM ( \
             SELECT user_id, amount, ROW_NUMBER() OVER \
               (PARTITION BY user_id ORDER BY jalali_year DESC, jalali_month DESC) AS rn \
             FROM loans WHERE state IN ('active', 'settled')) ranked WHERE rn = 1) \
         SELECT received.user_id, received.n AS loans_received_count, \
                received.received_whole, received.received_fraction, \
                received.active AS active_loans, last_loan.amount AS last_loan_amount \
         FROM received LEFT JOIN last_loan ON last_loan.user_id = received.user_id",
    )
    .fetch_all(conn)
    .await?;
    let index: std::collections::HashMap<i64, usize> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.user_id, i))
        .collect();
    for r in loan_rows {
        // A borrower who is no longer an active member does not take part.
        let Some(&i) = index.get(&r.user_id) else {
            continue;
        };
        let m = &mut members[i];
        m.loans_received_count = r.loans_received_count;
        m.loans_received_total = Amount::from_split_sum(r.received_whole, r.received_fraction);
        m.has_active_loan = r.active_loans > 0;
        m.last_loan_amount = r.last_loan_amount;
    }
    Ok(members)
}

/// The fund's cash, from the ledger: fees + repayments − loans paid out (one statement).
pub async fn available_cash(conn: &mut AnyConnection) -> Result<Amount, sqlx::Error> {
    crate::ledger::store::balance_of(conn, crate::ledger::domain::Account::FundCash).await
}

pub struct NewLoan<'a> {
    pub month: JalaliMonth,
    pub winner: Option<(i64, Amount)>,
    pub min_amount_for_each_payment: Option<Amount>,
    pub log: &'a serde_json::Value,
}

/// Records a month's draw. A second draw for the month violates `UNIQUE (jalali_year, jalali_month)`.
pub async fn insert_loan(
    conn: &mut AnyConnection,
    loan: &NewLoan<'_>,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO loans (id, user_id, amount, state, jalali_year, jalali_month, min_amount_for_each_payment, log, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(loan.winner.map(|(user_id, _)| user_id))
    .bind(loan.winner.map(|(_, amount)| amount))
    .bind(if loan.winner.is_some() { "active" } else { "no_one" })
    .bind(i64::from(loan.month.year))
    .bind(i64::from(loan.month.month))
    .bind(loan.min_amount_for_each_payment)
    .bind(loan.log.to_string())
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(id)
}
