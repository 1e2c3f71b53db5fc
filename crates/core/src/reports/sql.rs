//! What the reports' SQL shares: placeholders written once and bound in order, and exact sums
//! read back from their split halves.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe};

use crate::platform::currency::Currency;

/// A sum read as `split_sum`'s two halves.
pub fn units(whole: i64, fraction: i64) -> i128 {
    i128::from(whole) * 100_000_000 + i128::from(fraction)
}

pub fn currency_of(code: &str) -> Result<Currency, sqlx::Error> {
    Currency::parse(code)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown currency {code:?}").into()))
}

/// Placeholders and their values in order: each filter is written once and may be used by
/// several parts of a statement.
#[derive(Default)]
pub struct Binds(pub Vec<String>);

impl Binds {
    pub fn push(&mut self, value: impl Into<String>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }

    pub fn bind<'q>(
        &'q self,
        mut query: crate::platform::db::AnyQuery<'q>,
    ) -> crate::platform::db::AnyQuery<'q> {
        for v in &self.0 {
            query = query.bind(v.as_str());
        }
        query
    }
}

/// The rows of `sql` with `binds`' values, read as `T`.
pub async fn fetch<T>(
    conn: &mut AnyConnection,
    sql: String,
    binds: &Binds,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
{
    binds
        .bind(sqlx::query(AssertSqlSafe(sql)))
        .try_map(|row| T::from_row(&row))
        .fetch_all(conn)
        .await
}

/// `WITH months(period, starts, ends) AS (VALUES …)`: a period's months as (name, first, first
/// after), dates or stored times, which the queries join by range.
pub fn months_cte(
    spans: impl IntoIterator<Item = (String, String, String)>,
    binds: &mut Binds,
) -> String {
    let rows: Vec<String> = spans
        .into_iter()
        .map(|(month, starts, ends)| {
            format!(
                "({}, {}, {})",
                binds.push(month),
                binds.push(starts),
                binds.push(ends)
            )
        })
        .collect();
    format!(
        "WITH months(period, starts, ends) AS (VALUES {})",
        rows.join(", ")
    )
}
