//! SQL and files of the monthly statements: the month's figures from the ledger, the fund's
//! month kept once, the members' jobs enqueued in one statement, each statement's row and its
//! PDF under `SAGHAT_DATA_DIR`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AssertSqlSafe};
use utoipa::ToSchema;

use super::jobs::MEMBER_STATEMENT_JOB;
use super::model::{FundMonth, LedgerTotals};
use crate::fund::access::FUND_MEMBER_ROLES_SQL;
use crate::jobs;
use crate::platform::db::{split_sum, Backend};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

fn key(month: JalaliMonth) -> i64 {
    i64::from(month.year) * 100 + i64::from(month.month)
}

#[derive(sqlx::FromRow)]
struct TotalsRow {
    tx_kind: String,
    account_kind: String,
    debit_whole: i64,
    debit_fraction: i64,
    credit_whole: i64,
    credit_fraction: i64,
}

/// `month`'s movements of the fund's cash, and of the members' accounts by its payments, from
/// the ledger (one statement, grouped by kind of transaction and of account).
pub async fn ledger_totals(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<LedgerTotals, sqlx::Error> {
    let sql = format!(
        "SELECT t.kind AS tx_kind, a.kind AS account_kind, {debit}, {credit} \
           FROM journal_entries e JOIN journal_transactions t ON t.id = e.transaction_id \
           JOIN ledger_accounts a ON a.id = e.account_id \
          WHERE t.jalali_year = $1 AND t.jalali_month = $2 AND a.currency = 'USDT' \
            AND a.kind IN ('fund_cash', 'member_contributions', 'member_loan_receivable') \
          GROUP BY t.kind, a.kind",
        debit = split_sum("e.debit", "debit"),
        credit = split_sum("e.credit", "credit"),
    );
    let rows: Vec<TotalsRow> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(i64::from(month.year))
        .bind(i64::from(month.month))
        .fetch_all(conn)
        .await?;
    let mut units = [0i128; 6];
    for r in rows {
        let debit = Amount::from_split_sum(r.debit_whole, r.debit_fraction).units();
        let credit = Amount::from_split_sum(r.credit_whole, r.credit_fraction).units();
        match (r.account_kind.as_str(), r.tx_kind.as_str()) {
            ("fund_cash", kind) => {
                units[0] += debit;
                units[1] += credit;
                match kind {
                    "loan_disbursement" => units[4] += credit,
                    "member_departure" => units[5] += credit,
                    _ => {}
                }
            }
            ("member_contributions", "payment") => units[2] += credit,
            ("member_loan_receivable", "payment") => units[3] += credit,
            _ => {}
        }
    }
    let [cash_in, cash_out, fees, repayments, lent, refunds] = units.map(Amount::from_sum_units);
    Ok(LedgerTotals {
        cash_in,
        cash_out,
        fees,
        repayments,
        lent,
        refunds,
    })
}

/// The fund's cash when `month` began: every movement of the months before it.
pub async fn cash_before(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Amount, sqlx::Error> {
    let sql = format!(
        "SELECT {debit}, {credit} \
           FROM journal_entries e JOIN journal_transactions t ON t.id = e.transaction_id \
           JOIN ledger_accounts a ON a.id = e.account_id \
          WHERE a.kind = 'fund_cash' AND a.currency = 'USDT' \
            AND t.jalali_year * 100 + t.jalali_month < $1",
        debit = split_sum("e.debit", "debit"),
        credit = split_sum("e.credit", "credit"),
    );
    let (dw, df, cw, cf): (i64, i64, i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(key(month))
        .fetch_one(conn)
        .await?;
    Ok(Amount::from_sum_units(
        Amount::from_split_sum(dw, df).units() - Amount::from_split_sum(cw, cf).units(),
    ))
}

/// A draw's loan, without its log.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DrawnLoan {
    pub id: String,
    pub user_id: Option<i64>,
    pub amount: Option<Amount>,
    pub jalali_year: i64,
    pub jalali_month: i64,
}

impl DrawnLoan {
    pub fn month(&self) -> JalaliMonth {
        JalaliMonth {
            year: i32::try_from(self.jalali_year).unwrap_or_default(),
            month: u8::try_from(self.jalali_month).unwrap_or_default(),
        }
    }
}

pub async fn drawn_loan(
    conn: &mut AnyConnection,
    loan_id: &str,
) -> Result<Option<DrawnLoan>, sqlx::Error> {
    sqlx::query_as("SELECT id, user_id, amount, jalali_year, jalali_month FROM loans WHERE id = $1")
        .bind(loan_id)
        .fetch_optional(conn)
        .await
}

/// The fund's month as kept, if it was.
pub async fn fund_month(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Option<FundMonth>, sqlx::Error> {
    let facts: Option<String> = sqlx::query_scalar(
        "SELECT facts FROM fund_month_statements WHERE jalali_year = $1 AND jalali_month = $2",
    )
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_optional(conn)
    .await?;
    facts
        .map(|f| serde_json::from_str(&f).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

/// Keeps the fund's month unless one is kept already (a run in parallel won).
pub async fn keep_fund_month(
    conn: &mut AnyConnection,
    fund: &FundMonth,
    now: &str,
) -> Result<(), sqlx::Error> {
    let facts = serde_json::to_string(fund).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO fund_month_statements (jalali_year, jalali_month, loan_id, facts, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jalali_year, jalali_month) DO NOTHING",
    )
    .bind(i64::from(fund.month.year))
    .bind(i64::from(fund.month.month))
    .bind(&fund.loan_id)
    .bind(facts)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The `member_statement` job of every active member of the fund for `month`, by one
/// statement, each keyed `member-statement:{user}:{year}:{month}` (taken in every state, so a
/// second run enqueues nothing); with River's insert notification. Returns the jobs enqueued.
pub async fn enqueue_members(
    conn: &mut AnyConnection,
    backend: Backend,
    loan_id: &str,
    month: JalaliMonth,
    max_attempts: i32,
) -> Result<u64, sqlx::Error> {
    let suffix = format!(":{}:{}", month.year, month.month);
    let members = format!(
        "FROM users u WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {FUND_MEMBER_ROLES_SQL} \
         ORDER BY u.id ON CONFLICT DO NOTHING"
    );
    let sql = match backend {
        Backend::Postgres => format!(
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             SELECT jsonb_build_object('loan_id', CAST($1 AS TEXT), 'user_id', u.id), $2, $3, $4, \
             'available', convert_to('member-statement:' || CAST(u.id AS TEXT) || CAST($5 AS TEXT), 'UTF8'), \
             B'11111111' {members}"
        ),
        Backend::Sqlite => format!(
            "INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states) \
             SELECT jsonb(json_object('loan_id', $1, 'user_id', u.id)), $2, $3, $4, 'available', \
             CAST('member-statement:' || CAST(u.id AS TEXT) || $5 AS BLOB), 255 {members}"
        ),
    };
    let inserted = sqlx::query(AssertSqlSafe(sql))
        .bind(loan_id)
        .bind(MEMBER_STATEMENT_JOB)
        .bind(max_attempts)
        .bind(jobs::QUEUE)
        .bind(suffix)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if inserted > 0 {
        jobs::wake_workers(conn, backend).await?;
    }
    Ok(inserted)
}

/// A member as their statement names them, and whether they are still in the fund.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    /// Active, in the fund (not left) and of a role that is.
    pub in_fund: i64,
}

pub async fn member(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT username, first_name, last_name, \
                CASE WHEN is_active = 1 AND left_fund_at IS NULL AND role IN {FUND_MEMBER_ROLES_SQL} \
                     THEN 1 ELSE 0 END AS in_fund \
           FROM users WHERE id = $1"
    )))
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// The first month the member paid for (`YYYYMM`), if any.
pub async fn first_paid(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(MIN(jalali_year * 100 + jalali_month) AS BIGINT) FROM payments WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// The member's loan being repaid, without its log.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RepayingLoan {
    pub id: String,
    pub jalali_year: i64,
    pub jalali_month: i64,
    pub amount: Amount,
    pub min_amount_for_each_payment: Option<Amount>,
    pub repaid: Amount,
}

pub async fn repaying(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<RepayingLoan>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.id, l.jalali_year, l.jalali_month, l.amount, l.min_amount_for_each_payment, \
                CAST(COALESCE((SELECT SUM(p.loan_amount) FROM payments p WHERE p.loan_id = l.id), 0) AS BIGINT) AS repaid \
           FROM loans l WHERE l.user_id = $1 AND l.state = 'active' AND l.amount IS NOT NULL",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// A member's statement as kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatementEntry {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    /// The Jalali year and month it is of.
    pub jalali_year: i64,
    pub jalali_month: i64,
    /// The draw it follows.
    pub loan_id: String,
    /// `fa` or `en`: the member's language when it was made.
    pub language: String,
    #[serde(skip)]
    pub file: String,
    /// SHA-256 of the PDF, hex.
    pub sha256: String,
    pub size_bytes: i64,
    pub created_at: String,
}

impl StatementEntry {
    pub fn month(&self) -> JalaliMonth {
        JalaliMonth {
            year: i32::try_from(self.jalali_year).unwrap_or_default(),
            month: u8::try_from(self.jalali_month).unwrap_or_default(),
        }
    }
}

const COLUMNS: &str =
    "id, user_id, jalali_year, jalali_month, loan_id, language, file, sha256, size_bytes, created_at";

/// The member's statements, newest first.
pub async fn statements_of(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<StatementEntry>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM member_statements WHERE user_id = $1 \
          ORDER BY jalali_year DESC, jalali_month DESC"
    )))
    .bind(user_id)
    .fetch_all(conn)
    .await
}

pub async fn statement(
    conn: &mut AnyConnection,
    user_id: i64,
    month: JalaliMonth,
) -> Result<Option<StatementEntry>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM member_statements \
          WHERE user_id = $1 AND jalali_year = $2 AND jalali_month = $3"
    )))
    .bind(user_id)
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_optional(conn)
    .await
}

/// A statement to record.
pub struct NewStatement<'a> {
    pub user_id: i64,
    pub month: JalaliMonth,
    pub loan_id: &'a str,
    pub language: &'a str,
    pub file: &'a StoredPdf,
    pub created_at: &'a str,
}

/// The new row's id; `None` when the member has this month's statement already.
pub async fn insert_statement(
    conn: &mut AnyConnection,
    new: &NewStatement<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO member_statements (user_id, jalali_year, jalali_month, loan_id, language, \
         file, sha256, size_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (user_id, jalali_year, jalali_month) DO NOTHING RETURNING id",
    )
    .bind(new.user_id)
    .bind(i64::from(new.month.year))
    .bind(i64::from(new.month.month))
    .bind(new.loan_id)
    .bind(new.language)
    .bind(&new.file.path)
    .bind(&new.file.sha256)
    .bind(new.file.size)
    .bind(new.created_at)
    .fetch_optional(conn)
    .await
}

/// A PDF kept under the data folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPdf {
    /// Relative to `SAGHAT_DATA_DIR`: `statements/ab/ab12….pdf`.
    pub path: String,
    pub sha256: String,
    pub size: i64,
}

/// Writes `bytes` under `data_dir` by their SHA-256 unless an intact copy is there: a
/// temporary file in the same folder, flushed, then renamed over, so a reader never sees part
/// of one. The same PDF twice is one file; two runs racing write the same bytes.
pub fn keep_pdf(data_dir: &Path, bytes: &[u8]) -> std::io::Result<StoredPdf> {
    let sha = hex::encode(Sha256::digest(bytes));
    let relative = format!("statements/{}/{sha}.pdf", &sha[..2]);
    let stored = StoredPdf {
        path: relative.clone(),
        sha256: sha.clone(),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
    };
    let path = data_dir.join(&relative);
    if std::fs::read(&path).is_ok_and(|existing| hex::encode(Sha256::digest(existing)) == sha) {
        return Ok(stored);
    }
    let folder = path.parent().expect("a statement's path has a folder");
    std::fs::create_dir_all(folder)?;
    let temp = folder.join(format!(".{sha}.{}.tmp", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)?;
        std::fs::File::open(folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map(|()| stored)
}
