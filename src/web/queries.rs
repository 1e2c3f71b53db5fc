//! Read-only SQL the pages need beyond the modules' stores. Portable over SQLite and
//! PostgreSQL (see `platform::db`): `$n` placeholders, amounts as BIGINT units, sums split.

use sqlx::{AnyConnection, Row};

use crate::platform::db::{split_sum, summed_amount};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// One active member and what they paid in a month.
#[derive(Debug, Clone)]
pub struct MonthStatus {
    pub username: String,
    pub paid: Option<Amount>,
}

/// Every active fund member (accountants pay no fees) with their payment in `month`, by
/// username (one statement).
pub async fn month_status(
    conn: &mut AnyConnection,
    month: JalaliMonth,
) -> Result<Vec<MonthStatus>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.username, p.amount FROM users u \
         LEFT JOIN payments p ON p.user_id = u.id AND p.jalali_year = $1 AND p.jalali_month = $2 \
         WHERE u.is_active = 1 AND u.role IN ('admin', 'member') ORDER BY u.username_key",
    )
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MonthStatus {
                username: r.try_get("username")?,
                paid: r
                    .try_get::<Option<i64>, _>("amount")?
                    .map(Amount::from_units),
            })
        })
        .collect()
}

/// Money that moved in one Jalali month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    let mut months: std::collections::BTreeMap<JalaliMonth, MonthFlows> = Default::default();
    for row in &rows {
        let year: i64 = row.try_get("jalali_year")?;
        let month: i64 = row.try_get("jalali_month")?;
        let kind: String = row.try_get("kind")?;
        let total = summed_amount(row, "total")?;
        let key = JalaliMonth {
            year: i32::try_from(year).map_err(|e| sqlx::Error::Decode(e.into()))?,
            month: u8::try_from(month).map_err(|e| sqlx::Error::Decode(e.into()))?,
        };
        let entry = months.entry(key).or_default();
        match kind.as_str() {
            "fees" => entry.fees = total,
            "repayments" => entry.repayments = total,
            _ => entry.lent = total,
        }
    }
    Ok(months.into_iter().collect())
}
