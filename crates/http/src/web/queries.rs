//! Read-only SQL the pages need beyond the modules' stores. Portable over SQLite and
//! PostgreSQL (see `platform::db`): `$n` placeholders, amounts as BIGINT units, sums split.

use sqlx::{AnyConnection, AssertSqlSafe};

use saghat_core::fund::access::{is_fund_member, FUND_MEMBER_ROLES_SQL};
use saghat_core::platform::db::{split_sum, Flag};
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;

/// One active member and what they paid in a month.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct MonthStatus {
    pub username: String,
    #[sqlx(rename = "amount")]
    pub paid: Option<Amount>,
}

/// Every active fund member (accountants pay no fees) with their payment in `month`, by
/// username (one statement).
pub async fn month_status(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Vec<MonthStatus>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT u.username, p.amount FROM users u \
         LEFT JOIN payments p ON p.user_id = u.id AND p.jalali_year = $1 AND p.jalali_month = $2 \
         WHERE u.is_active = 1 AND u.left_fund_at IS NULL AND u.role IN {FUND_MEMBER_ROLES_SQL} ORDER BY u.username_key"
    )))
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_all(conn)
    .await
}

/// Money that moved in one Jalali month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MonthFlows {
    pub fees: Amount,
    pub repayments: Amount,
    pub lent: Amount,
}

/// Fees and repayments paid in, and loans paid out, per Jalali month, oldest first (one
/// statement).
pub async fn monthly_flows(
    conn: &mut AnyConnection,
) -> Result<Vec<(JalaliMonth, MonthFlows)>, sqlx::Error> {
    let sql = format!(
        "SELECT jalali_year, jalali_month, CAST('fees' AS TEXT) AS kind, {fees} \
           FROM payments GROUP BY jalali_year, jalali_month \
         UNION ALL \
         SELECT jalali_year, jalali_month, CAST('repayments' AS TEXT) AS kind, {repaid} \
           FROM payments WHERE loan_id IS NOT NULL GROUP BY jalali_year, jalali_month \
         UNION ALL \
         SELECT jalali_year, jalali_month, CAST('lent' AS TEXT) AS kind, {lent} \
           FROM loans WHERE state IN ('active', 'settled') GROUP BY jalali_year, jalali_month",
        fees = split_sum("membership_fee", "total"),
        repaid = split_sum("loan_amount", "total"),
        lent = split_sum("amount", "total"),
    );
    #[derive(sqlx::FromRow)]
    struct FlowRow {
        jalali_year: i64,
        jalali_month: i64,
        kind: String,
        total_whole: i64,
        total_fraction: i64,
    }
    let rows: Vec<FlowRow> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?;
    let mut months: std::collections::BTreeMap<JalaliMonth, MonthFlows> = Default::default();
    for row in &rows {
        let total = Amount::from_split_sum(row.total_whole, row.total_fraction);
        let key = JalaliMonth {
            year: i32::try_from(row.jalali_year).map_err(|e| sqlx::Error::Decode(e.into()))?,
            month: u8::try_from(row.jalali_month).map_err(|e| sqlx::Error::Decode(e.into()))?,
        };
        let entry = months.entry(key).or_default();
        match row.kind.as_str() {
            "fees" => entry.fees = total,
            "repayments" => entry.repayments = total,
            _ => entry.lent = total,
        }
    }
    Ok(months.into_iter().collect())
}

/// A member as the members page shows them: the account, this month's payment, the balance
/// (membership fees paid, from the ledger) and the loan being repaid.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: saghat_core::auth::Role,
    pub is_active: bool,
    pub loan_request: Amount,
    pub balance: Amount,
    /// What they paid in the month asked for, if they did.
    pub paid: Option<Amount>,
    /// The active loan: (amount, still owed).
    pub loan: Option<(Amount, Amount)>,
    /// When they left the fund, while they are gone (`fund::membership`).
    pub left_fund_at: Option<String>,
    /// Whether an admin has asked them to leave and they have not answered yet.
    pub asked_to_leave: bool,
}

impl MemberRow {
    /// Members and admins pay fees; accountants do not, nor members who left the fund.
    pub fn pays(&self) -> bool {
        is_fund_member(self.role) && self.left_fund_at.is_none()
    }
}

/// Every user (or only `only`) with their payment in `month`, balance and active loan, by
/// username (one statement). A loan's repayments are bounded by the loan, so they sum plainly.
pub async fn members(
    conn: &mut AnyConnection,
    month: JalaliMonth,
    only: Option<i64>,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    let filter = if only.is_some() {
        " WHERE u.id = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT u.id, u.username, u.first_name, u.last_name, u.email, u.role, u.is_active, \
           u.loan_request_amount, p.amount AS paid, l.amount AS loan_amount, u.left_fund_at, \
           CAST(CASE WHEN EXISTS (SELECT 1 FROM fund_departures d WHERE d.user_id = u.id \
             AND d.state = 'asked') THEN 1 ELSE 0 END AS BIGINT) AS asked_to_leave, \
           CAST(COALESCE((SELECT SUM(r.loan_amount) FROM payments r WHERE r.loan_id = l.id), 0) \
             AS BIGINT) AS loan_repaid, \
           CAST(COALESCE((SELECT SUM((e.credit - e.debit) / 100000000) FROM journal_entries e \
             JOIN ledger_accounts a ON a.id = e.account_id \
             WHERE a.user_id = u.id AND a.kind = 'member_contributions'), 0) AS BIGINT) AS balance_whole, \
           CAST(COALESCE((SELECT SUM((e.credit - e.debit) % 100000000) FROM journal_entries e \
             JOIN ledger_accounts a ON a.id = e.account_id \
             WHERE a.user_id = u.id AND a.kind = 'member_contributions'), 0) AS BIGINT) AS balance_fraction \
         FROM users u \
         LEFT JOIN payments p ON p.user_id = u.id AND p.jalali_year = $1 AND p.jalali_month = $2 \
         LEFT JOIN loans l ON l.user_id = u.id AND l.state = 'active'{filter} \
         ORDER BY u.username_key, u.id"
    );
    #[derive(sqlx::FromRow)]
    struct UserMonthRow {
        id: i64,
        username: String,
        first_name: String,
        last_name: String,
        email: String,
        role: saghat_core::auth::Role,
        #[sqlx(try_from = "Flag")]
        is_active: bool,
        loan_request_amount: Amount,
        paid: Option<Amount>,
        loan_amount: Option<i64>,
        loan_repaid: i64,
        balance_whole: i64,
        balance_fraction: i64,
        left_fund_at: Option<String>,
        #[sqlx(try_from = "Flag")]
        asked_to_leave: bool,
    }
    let mut query = sqlx::query_as::<_, UserMonthRow>(AssertSqlSafe(sql))
        .bind(i64::from(month.year))
        .bind(i64::from(month.month));
    if let Some(id) = only {
        query = query.bind(id);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| MemberRow {
            // Units, so that what is still owed saturates at zero instead of failing.
            loan: r.loan_amount.map(|amount| {
                (
                    Amount::from_units(amount),
                    Amount::from_units(amount.saturating_sub(r.loan_repaid).max(0)),
                )
            }),
            id: r.id,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            role: r.role,
            is_active: r.is_active,
            loan_request: r.loan_request_amount,
            balance: Amount::from_split_sum(r.balance_whole, r.balance_fraction),
            paid: r.paid,
            left_fund_at: r.left_fund_at,
            asked_to_leave: r.asked_to_leave,
        })
        .collect())
}
