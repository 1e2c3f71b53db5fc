//! The fund's report: per Jalali month what came in (fees, repayments) and went out (loans
//! drawn), the books at the month's end (cash with what the gateway holds, contributions, loans
//! outstanding, all from the ledger), payments on time or late; who has not paid this month; the
//! draws with their winners and how much each loan is repaid; loans by state. And a member's
//! statement: their months, balance and loans.
//!
//! A payment is on time when made before `FUND_REMINDER_DAY` of its month (the day the members
//! who have not paid are reminded), late on or after it. Fixed queries whatever the size of the
//! data: the ledger grouped by month and account kind, the period's payments grouped by month,
//! the draws of the period, the loans grouped by state, this month's missing payers.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::AnyConnection;

use super::access::{may_read, reads_every_statement, Report};
use super::cache;
use super::period::Month;
use super::sql::{fetch, units, Binds};
use super::table::Money;
use super::ReportError;
use crate::auth::CurrentUser;
use crate::fund::access::FUND_MEMBER_ROLES_SQL;
use crate::platform::clock::to_db_time;
use crate::platform::currency::Currency;
use crate::platform::db::split_sum;
use crate::platform::jalali::JalaliMonth;
use crate::Ctx;

/// The fund's months (Jalali, inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundPeriod {
    pub from: Month,
    pub to: Month,
}

impl FundPeriod {
    fn months(&self) -> Vec<Month> {
        let mut out = vec![];
        let mut m = self.from;
        while m <= self.to {
            out.push(m);
            m = m.next();
        }
        out
    }

    fn keys(&self) -> (i64, i64) {
        (key(self.from), key(self.to))
    }
}

fn key(m: Month) -> i64 {
    i64::from(m.year) * 100 + i64::from(m.month)
}

fn usdt(units: i128) -> Money {
    Money::new(units, Currency::Usdt)
}

/// A share in basis points (`part ÷ whole`, rounded down; 0 of nothing).
fn share(part: i128, whole: i128) -> i64 {
    if whole <= 0 {
        return 0;
    }
    i64::try_from(part.max(0) * 10_000 / whole).unwrap_or(i64::MAX)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FundMonth {
    /// `1405-09`.
    pub month: String,
    pub payments: i64,
    pub on_time: i64,
    pub late: i64,
    pub fees: Money,
    pub repayments: Money,
    /// Paid out to the month's draw winner.
    pub lent: Money,
    /// At the month's end: the fund's cash and what gateways hold for it.
    pub cash: Money,
    /// At the month's end: all membership fees paid in, less any given back.
    pub contributions: Money,
    /// At the month's end: loans (draws and tickets) paid out and not yet repaid.
    pub outstanding: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Unpaid {
    pub user_id: i64,
    pub username: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DrawRow {
    pub month: String,
    pub loan_id: String,
    /// `active`, `settled`, or `no_one` (nobody was eligible).
    pub state: String,
    pub winner: Option<String>,
    pub amount: Option<Money>,
    pub repaid: Money,
    /// Repaid, in hundredths of a percent of the amount.
    pub repaid_share: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LoansInState {
    pub state: String,
    pub loans: i64,
    pub amount: Money,
    pub repaid: Money,
    pub repaid_share: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FundReport {
    pub from: String,
    pub to: String,
    /// This month, whose missing payers are listed.
    pub this_month: String,
    /// Payments made before this day of their month are on time.
    pub on_time_before_day: u32,
    pub months: Vec<FundMonth>,
    pub unpaid: Vec<Unpaid>,
    pub draws: Vec<DrawRow>,
    pub loans_by_state: Vec<LoansInState>,
}

pub async fn report(
    ctx: &Ctx,
    actor: &CurrentUser,
    period: FundPeriod,
) -> Result<FundReport, ReportError> {
    if !may_read(actor.role, Report::Fund) {
        return Err(ReportError::Forbidden);
    }
    let this = ctx.current_month();
    let mut conn = ctx.db.pool.acquire().await?;
    let day = ctx.config.fund_notices.reminder_day;
    let late_from: Vec<(Month, String)> = period
        .months()
        .into_iter()
        .map(|m| {
            let jm = JalaliMonth {
                year: m.year,
                month: m.month,
            };
            let day = u8::try_from(day).unwrap_or(20);
            let at = JalaliMonth::starts_at(jm, ctx.config.fund_timezone)
                + chrono::Duration::days(i64::from(day) - 1);
            (m, to_db_time(at))
        })
        .collect();
    read(
        &mut conn,
        period,
        &late_from,
        Month {
            year: this.year,
            month: this.month,
        },
        day,
    )
    .await
}

/// The figures for `period`, with each month's first late instant (`late_from`, as stored
/// times), and this month's missing payers.
pub async fn read(
    conn: &mut AnyConnection,
    period: FundPeriod,
    late_from: &[(Month, String)],
    this_month: Month,
    on_time_before_day: u32,
) -> Result<FundReport, ReportError> {
    let months = months(conn, period, late_from).await?;
    let unpaid = unpaid(conn, this_month).await?;
    let draws = draws(conn, period).await?;
    let loans_by_state = loans_by_state(conn).await?;
    Ok(FundReport {
        from: period.from.key(),
        to: period.to.key(),
        this_month: this_month.key(),
        on_time_before_day,
        months,
        unpaid,
        draws,
        loans_by_state,
    })
}

#[derive(sqlx::FromRow, serde::Serialize, serde::Deserialize)]
struct BooksRow {
    /// `1405-09`: the month the figures are kept under.
    key: String,
    jalali_year: i64,
    jalali_month: i64,
    kind: String,
    change_whole: i64,
    change_fraction: i64,
}

#[derive(sqlx::FromRow, serde::Serialize, serde::Deserialize)]
struct PaidRow {
    /// `1405-09@<first late instant>`: a month's on-time count depends on the reminder day.
    key: String,
    y: String,
    m: String,
    n: i64,
    on_time: i64,
    fees_whole: i64,
    fees_fraction: i64,
    repaid_whole: i64,
    repaid_fraction: i64,
}

#[derive(sqlx::FromRow)]
struct LentRow {
    jalali_year: i64,
    jalali_month: i64,
    lent_whole: i64,
    lent_fraction: i64,
}

/// `1405-09`.
fn month_key(year: i64, month: i64) -> String {
    format!("{year:04}-{month:02}")
}

/// Per month, how many `table`'s rows it has (`table` has `jalali_year`, `jalali_month`), up
/// to `to` (a `YYYYMM` number) and, with `from`, from it.
async fn month_counts(
    conn: &mut AnyConnection,
    table: &str,
    from: Option<i64>,
    to: i64,
) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Count {
        jalali_year: i64,
        jalali_month: i64,
        n: i64,
    }
    let mut binds = Binds::default();
    let since = from.map_or(String::new(), |from| {
        format!(
            " AND jalali_year * 100 + jalali_month >= CAST({} AS BIGINT)",
            binds.push(from.to_string())
        )
    });
    let sql = format!(
        "SELECT jalali_year, jalali_month, COUNT(*) AS n FROM {table} \
          WHERE jalali_year * 100 + jalali_month <= CAST({} AS BIGINT){since} \
          GROUP BY jalali_year, jalali_month",
        binds.push(to.to_string()),
    );
    let rows: Vec<Count> = fetch(conn, sql, &binds).await?;
    Ok(rows
        .into_iter()
        .map(|r| (month_key(r.jalali_year, r.jalali_month), r.n))
        .collect())
}

/// `expr IN (…)` of the months `keys` (`1405-09`), as `YYYYMM` numbers.
fn months_in(expr: &str, keys: &[String], binds: &mut Binds) -> String {
    let list: Vec<String> = keys
        .iter()
        .map(|k| format!("CAST({} AS BIGINT)", binds.push(k.replace('-', ""))))
        .collect();
    format!("{expr} IN ({})", list.join(", "))
}

/// The books: every USDT movement of the fund's accounts by month, up to the period's end,
/// from the first, so the balances at each month's end are exact. The ledger is append-only
/// and each transaction is posted in the month it is made, so a month's movements are kept
/// (see `cache`) and read again only when its transactions number otherwise.
async fn books(conn: &mut AnyConnection, period: FundPeriod) -> Result<Vec<BooksRow>, sqlx::Error> {
    let (_, to) = period.keys();
    let counts = month_counts(conn, "journal_transactions", None, to).await?;
    let months: Vec<String> = counts.keys().cloned().collect();
    cache::read_through(
        conn,
        ("fund_books", "USDT"),
        &months,
        |m| m,
        Some(&counts),
        |r: &BooksRow| &r.key,
        async |conn, months| {
            let mut binds = Binds::default();
            let sql = format!(
                "SELECT t.jalali_year, t.jalali_month, a.kind, {key} AS key, {change} \
                   FROM journal_entries e JOIN journal_transactions t ON t.id = e.transaction_id \
                   JOIN ledger_accounts a ON a.id = e.account_id \
                  WHERE a.currency = 'USDT' AND a.kind IN ('fund_cash', 'gateway_clearing', \
                        'member_contributions', 'member_loan_receivable', 'member_ticket_receivable') \
                    AND {months} \
                  GROUP BY t.jalali_year, t.jalali_month, a.kind",
                key = month_key_sql("t.jalali_year", "t.jalali_month"),
                change = split_sum("e.debit - e.credit", "change"),
                months = months_in("t.jalali_year * 100 + t.jalali_month", months, &mut binds),
            );
            fetch(conn, sql, &binds).await
        },
    )
    .await
}

/// `1405-09` from a year and month column, in SQL both databases read.
fn month_key_sql(year: &str, month: &str) -> String {
    format!(
        "CAST({year} AS TEXT) || '-' || CASE WHEN {month} < 10 THEN '0' ELSE '' END || CAST({month} AS TEXT)"
    )
}

/// The period's payments per month: how many, how many on time, fees and repayments. A
/// payment is made in the month it pays for, so these are kept like the books.
async fn paid(
    conn: &mut AnyConnection,
    late_from: &[(Month, String)],
) -> Result<Vec<PaidRow>, sqlx::Error> {
    let (Some(first), Some(last)) = (late_from.first(), late_from.last()) else {
        return Ok(vec![]);
    };
    let counts = month_counts(conn, "payments", Some(key(first.0)), key(last.0)).await?;
    // Kept under the month and its first late instant: another reminder day counts otherwise.
    let keyed: Vec<(String, Month, String)> = late_from
        .iter()
        .map(|(m, at)| (format!("{}@{at}", m.key()), *m, at.clone()))
        .collect();
    let counts: BTreeMap<String, i64> = keyed
        .iter()
        .map(|(k, m, _)| (k.clone(), counts.get(&m.key()).copied().unwrap_or(0)))
        .collect();
    cache::read_through(
        conn,
        ("fund_payments", ""),
        &keyed,
        |(k, _, _)| k,
        Some(&counts),
        |r: &PaidRow| &r.key,
        async |conn, months| {
            let mut binds = Binds::default();
            let rows: Vec<String> = months
                .iter()
                .map(|(k, m, at)| {
                    format!(
                        "({}, {}, {}, {})",
                        binds.push(m.year.to_string()),
                        binds.push(m.month.to_string()),
                        binds.push(at.clone()),
                        binds.push(k.clone()),
                    )
                })
                .collect();
            let sql = format!(
                "WITH months(y, m, late_from, k) AS (VALUES {}) \
                 SELECT m.k AS key, m.y, m.m, COUNT(*) AS n, \
                        CAST(SUM(CASE WHEN p.created_at < m.late_from THEN 1 ELSE 0 END) AS BIGINT) AS on_time, \
                        {fees}, {repaid} \
                   FROM months m JOIN payments p ON p.jalali_year = CAST(m.y AS BIGINT) \
                        AND p.jalali_month = CAST(m.m AS BIGINT) \
                  GROUP BY m.k, m.y, m.m",
                rows.join(", "),
                fees = split_sum("p.membership_fee", "fees"),
                repaid = split_sum("COALESCE(p.loan_amount, 0)", "repaid"),
            );
            fetch(conn, sql, &binds).await
        },
    )
    .await
}

async fn months(
    conn: &mut AnyConnection,
    period: FundPeriod,
    late_from: &[(Month, String)],
) -> Result<Vec<FundMonth>, sqlx::Error> {
    let books = books(conn, period).await?;
    let paid = paid(conn, late_from).await?;

    let mut binds = Binds::default();
    let (from, to) = period.keys();
    let sql = format!(
        "SELECT jalali_year, jalali_month, {lent} FROM loans \
          WHERE state IN ('active', 'settled') \
            AND jalali_year * 100 + jalali_month BETWEEN CAST({from} AS BIGINT) AND CAST({to} AS BIGINT) \
          GROUP BY jalali_year, jalali_month",
        lent = split_sum("amount", "lent"),
        from = binds.push(from.to_string()),
        to = binds.push(to.to_string()),
    );
    let lent: Vec<LentRow> = fetch(&mut *conn, sql, &binds).await?;

    // Running balances: month by month from the first movement.
    let mut changes: BTreeMap<i64, [i128; 3]> = BTreeMap::new();
    for b in &books {
        let change = units(b.change_whole, b.change_fraction);
        let slot = changes
            .entry(b.jalali_year * 100 + b.jalali_month)
            .or_default();
        match b.kind.as_str() {
            "fund_cash" | "gateway_clearing" => slot[0] += change,
            // Credit-normal: what the fund owes its members grows with credits.
            "member_contributions" => slot[1] -= change,
            _ => slot[2] += change,
        }
    }
    let mut balance = [0i128; 3];
    let mut changes = changes.into_iter().peekable();
    let mut out = vec![];
    for m in period.months() {
        while let Some((_, c)) = changes.next_if(|(k, _)| *k <= key(m)) {
            for i in 0..3 {
                balance[i] += c[i];
            }
        }
        let p = paid
            .iter()
            .find(|p| p.y == m.year.to_string() && p.m == m.month.to_string());
        let l = lent
            .iter()
            .find(|l| l.jalali_year == i64::from(m.year) && l.jalali_month == i64::from(m.month));
        out.push(FundMonth {
            month: m.key(),
            payments: p.map_or(0, |p| p.n),
            on_time: p.map_or(0, |p| p.on_time),
            late: p.map_or(0, |p| p.n - p.on_time),
            fees: usdt(p.map_or(0, |p| units(p.fees_whole, p.fees_fraction))),
            repayments: usdt(p.map_or(0, |p| units(p.repaid_whole, p.repaid_fraction))),
            lent: usdt(l.map_or(0, |l| units(l.lent_whole, l.lent_fraction))),
            cash: usdt(balance[0]),
            contributions: usdt(balance[1]),
            outstanding: usdt(balance[2]),
        });
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct UnpaidRow {
    id: i64,
    username: String,
    first_name: String,
    last_name: String,
}

async fn unpaid(conn: &mut AnyConnection, month: Month) -> Result<Vec<Unpaid>, sqlx::Error> {
    let mut binds = Binds::default();
    let sql = format!(
        "SELECT u.id, u.username, u.first_name, u.last_name FROM users u \
          WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {FUND_MEMBER_ROLES_SQL} AND NOT EXISTS ( \
                SELECT 1 FROM payments p WHERE p.user_id = u.id \
                   AND p.jalali_year = CAST({y} AS BIGINT) AND p.jalali_month = CAST({m} AS BIGINT)) \
          ORDER BY u.username_key, u.id",
        y = binds.push(month.year.to_string()),
        m = binds.push(month.month.to_string()),
    );
    let rows: Vec<UnpaidRow> = fetch(conn, sql, &binds).await?;
    Ok(rows
        .into_iter()
        .map(|r| Unpaid {
            user_id: r.id,
            username: r.username,
            name: format!("{} {}", r.first_name, r.last_name)
                .trim()
                .to_owned(),
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct DrawSqlRow {
    id: String,
    jalali_year: i64,
    jalali_month: i64,
    state: String,
    username: Option<String>,
    amount: Option<i64>,
    repaid: i64,
}

async fn draws(conn: &mut AnyConnection, period: FundPeriod) -> Result<Vec<DrawRow>, sqlx::Error> {
    let mut binds = Binds::default();
    let (from, to) = period.keys();
    // A loan's repayments are bounded by the loan: they sum plainly.
    let sql = format!(
        "SELECT l.id, l.jalali_year, l.jalali_month, l.state, u.username, l.amount, \
                CAST(COALESCE((SELECT SUM(p.loan_amount) FROM payments p WHERE p.loan_id = l.id), 0) AS BIGINT) AS repaid \
           FROM loans l LEFT JOIN users u ON u.id = l.user_id \
          WHERE l.jalali_year * 100 + l.jalali_month BETWEEN CAST({from} AS BIGINT) AND CAST({to} AS BIGINT) \
          ORDER BY l.jalali_year, l.jalali_month",
        from = binds.push(from.to_string()),
        to = binds.push(to.to_string()),
    );
    let rows: Vec<DrawSqlRow> = fetch(conn, sql, &binds).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let amount = r.amount.map(i128::from);
            DrawRow {
                month: format!("{:04}-{:02}", r.jalali_year, r.jalali_month),
                loan_id: r.id,
                state: r.state,
                winner: r.username,
                amount: amount.map(usdt),
                repaid: usdt(i128::from(r.repaid)),
                repaid_share: amount.map_or(0, |a| share(i128::from(r.repaid), a)),
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct StateRow {
    state: String,
    n: i64,
    amount_whole: i64,
    amount_fraction: i64,
    repaid_whole: i64,
    repaid_fraction: i64,
}

async fn loans_by_state(conn: &mut AnyConnection) -> Result<Vec<LoansInState>, sqlx::Error> {
    let sql = format!(
        "SELECT l.state, COUNT(*) AS n, {amount}, {repaid} FROM loans l \
           LEFT JOIN (SELECT loan_id, CAST(SUM(loan_amount) AS BIGINT) AS repaid FROM payments \
                       WHERE loan_id IS NOT NULL GROUP BY loan_id) r ON r.loan_id = l.id \
          WHERE l.state <> 'no_one' GROUP BY l.state ORDER BY l.state",
        amount = split_sum("l.amount", "amount"),
        repaid = split_sum("COALESCE(r.repaid, 0)", "repaid"),
    );
    let rows: Vec<StateRow> = fetch(conn, sql, &Binds::default()).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (amount, repaid) = (
                units(r.amount_whole, r.amount_fraction),
                units(r.repaid_whole, r.repaid_fraction),
            );
            LoansInState {
                state: r.state,
                loans: r.n,
                amount: usdt(amount),
                repaid: usdt(repaid),
                repaid_share: share(repaid, amount),
            }
        })
        .collect())
}

/// One month of a member's statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatementMonth {
    pub month: String,
    /// The fee paid in the month, if they paid.
    pub fee: Option<Money>,
    pub repayment: Option<Money>,
    /// When they paid (RFC 3339).
    pub paid_at: Option<String>,
    /// At the month's end: their contributions (the fund owes them this).
    pub balance: Money,
    /// At the month's end: what they still owe on loans.
    pub owed: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatementLoan {
    pub month: String,
    pub loan_id: String,
    pub state: String,
    pub amount: Money,
    pub repaid: Money,
    pub repaid_share: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub user_id: i64,
    pub username: String,
    pub from: String,
    pub to: String,
    pub months: Vec<StatementMonth>,
    pub loans: Vec<StatementLoan>,
}

#[derive(sqlx::FromRow)]
struct MemberPaidRow {
    jalali_year: i64,
    jalali_month: i64,
    membership_fee: i64,
    loan_amount: Option<i64>,
    created_at: String,
}

/// A member's statement (`user_id`, or the actor's own); members read only their own.
pub async fn statement(
    ctx: &Ctx,
    actor: &CurrentUser,
    user_id: Option<i64>,
    period: FundPeriod,
) -> Result<Statement, ReportError> {
    let user_id = user_id.unwrap_or(actor.id);
    if !may_read(actor.role, Report::Statement)
        || (user_id != actor.id && !reads_every_statement(actor.role))
    {
        return Err(ReportError::Forbidden);
    }
    let mut conn = ctx.db.pool.acquire().await?;
    statement_of(&mut conn, user_id, period).await
}

/// `user_id`'s statement for `period`, whoever asks.
pub async fn statement_of(
    conn: &mut AnyConnection,
    user_id: i64,
    period: FundPeriod,
) -> Result<Statement, ReportError> {
    let username: Option<String> = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let username = username.ok_or_else(|| ReportError::invalid("user_id", "No such member"))?;
    let (from, to) = period.keys();
    // Their accounts' movements by month (the member's own rows, through the accounts' index).
    let mut binds = Binds::default();
    let sql = format!(
        "SELECT t.jalali_year, t.jalali_month, a.kind, {key} AS key, {change} \
           FROM ledger_accounts a JOIN journal_entries e ON e.account_id = a.id \
           JOIN journal_transactions t ON t.id = e.transaction_id \
          WHERE a.user_id = CAST({user} AS BIGINT) AND a.currency = 'USDT' \
            AND t.jalali_year * 100 + t.jalali_month <= CAST({to} AS BIGINT) \
          GROUP BY t.jalali_year, t.jalali_month, a.kind",
        key = month_key_sql("t.jalali_year", "t.jalali_month"),
        change = split_sum("e.debit - e.credit", "change"),
        user = binds.push(user_id.to_string()),
        to = binds.push(to.to_string()),
    );
    let books: Vec<BooksRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut binds = Binds::default();
    let sql = format!(
        "SELECT jalali_year, jalali_month, membership_fee, loan_amount, created_at FROM payments \
          WHERE user_id = CAST({user} AS BIGINT) \
            AND jalali_year * 100 + jalali_month BETWEEN CAST({from} AS BIGINT) AND CAST({to} AS BIGINT)",
        user = binds.push(user_id.to_string()),
        from = binds.push(from.to_string()),
        to = binds.push(to.to_string()),
    );
    let paid: Vec<MemberPaidRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut binds = Binds::default();
    let sql = format!(
        "SELECT l.id, l.jalali_year, l.jalali_month, l.state, NULL AS username, l.amount, \
                CAST(COALESCE((SELECT SUM(p.loan_amount) FROM payments p WHERE p.loan_id = l.id), 0) AS BIGINT) AS repaid \
           FROM loans l WHERE l.user_id = CAST({user} AS BIGINT) ORDER BY l.jalali_year, l.jalali_month",
        user = binds.push(user_id.to_string()),
    );
    let loans: Vec<DrawSqlRow> = fetch(&mut *conn, sql, &binds).await?;

    let mut changes: BTreeMap<i64, [i128; 2]> = BTreeMap::new();
    for b in &books {
        let change = units(b.change_whole, b.change_fraction);
        let slot = changes
            .entry(b.jalali_year * 100 + b.jalali_month)
            .or_default();
        if b.kind == "member_contributions" {
            slot[0] -= change;
        } else {
            slot[1] += change;
        }
    }
    let mut balance = [0i128; 2];
    let mut changes = changes.into_iter().peekable();
    let mut months = vec![];
    for m in period.months() {
        while let Some((_, c)) = changes.next_if(|(k, _)| *k <= key(m)) {
            balance[0] += c[0];
            balance[1] += c[1];
        }
        let p = paid
            .iter()
            .find(|p| p.jalali_year == i64::from(m.year) && p.jalali_month == i64::from(m.month));
        months.push(StatementMonth {
            month: m.key(),
            fee: p.map(|p| usdt(i128::from(p.membership_fee))),
            repayment: p.and_then(|p| p.loan_amount).map(|a| usdt(i128::from(a))),
            paid_at: p.map(|p| p.created_at.clone()),
            balance: usdt(balance[0]),
            owed: usdt(balance[1]),
        });
    }
    Ok(Statement {
        user_id,
        username,
        from: period.from.key(),
        to: period.to.key(),
        months,
        loans: loans
            .into_iter()
            .filter_map(|l| {
                let amount = i128::from(l.amount?);
                Some(StatementLoan {
                    month: format!("{:04}-{:02}", l.jalali_year, l.jalali_month),
                    loan_id: l.id,
                    state: l.state,
                    amount: usdt(amount),
                    repaid: usdt(i128::from(l.repaid)),
                    repaid_share: share(i128::from(l.repaid), amount),
                })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_are_basis_points_rounded_down() {
        assert_eq!(share(50, 100), 5_000);
        assert_eq!(share(1, 3), 3_333);
        assert_eq!(share(5, 0), 0);
        assert_eq!(share(100, 100), 10_000);
    }
}
