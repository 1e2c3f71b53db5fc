//! A month's grouped figures kept once read, so a report over years of data reads only the
//! months that changed since.
//!
//! What the reports sum is written once and not changed afterwards: the ledger is append-only,
//! a fund payment and a sent invoice's totals and taxes are fixed, a received payment or a
//! refund is a row of its own. So a month's figures can change only by rows being added to it
//! (a payment recorded with an earlier date, a draft sent with a backdated issue date). Each
//! kept month carries how many source rows it was computed from; a report counts the rows of
//! its months (cheap: an index-only count) and recomputes exactly the months whose count
//! differs, or that were never kept.
//!
//! Keeping is best effort: a month that cannot be written (a busy SQLite) is simply computed
//! again next time; a kept row that does not read back is recomputed.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::AnyConnection;

use super::sql::{fetch, Binds};

#[derive(sqlx::FromRow)]
struct KeptRow {
    month: String,
    source_rows: i64,
    figures: String,
}

/// The kept figures of `report` (with `params`, what else they depend on) for `months`, those
/// whose source rows still number what `counts` says (a month absent from `counts` has none).
pub async fn fresh<T: DeserializeOwned>(
    conn: &mut AnyConnection,
    report: &str,
    params: &str,
    months: &[String],
    counts: &BTreeMap<String, i64>,
) -> Result<BTreeMap<String, Vec<T>>, sqlx::Error> {
    if months.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut binds = Binds::default();
    let (r, p) = (binds.push(report), binds.push(params));
    let list: Vec<String> = months.iter().map(|m| binds.push(m.clone())).collect();
    let sql = format!(
        "SELECT month, source_rows, figures FROM report_month_figures \
          WHERE report = {r} AND params = {p} AND month IN ({})",
        list.join(", ")
    );
    let rows: Vec<KeptRow> = fetch(conn, sql, &binds).await?;
    let mut out = BTreeMap::new();
    for row in rows {
        if counts.get(&row.month).copied().unwrap_or(0) != row.source_rows {
            continue;
        }
        if let Ok(figures) = serde_json::from_str::<Vec<T>>(&row.figures) {
            out.insert(row.month, figures);
        }
    }
    Ok(out)
}

/// Keeps each month's `figures`, computed from `counts[month]` source rows.
pub async fn keep<T: Serialize>(
    conn: &mut AnyConnection,
    report: &str,
    params: &str,
    figures: &BTreeMap<String, Vec<T>>,
    counts: &BTreeMap<String, i64>,
) {
    for (month, rows) in figures {
        let Ok(json) = serde_json::to_string(rows) else {
            continue;
        };
        let kept = sqlx::query(
            "INSERT INTO report_month_figures (report, params, month, source_rows, figures) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (report, params, month) DO UPDATE \
                SET source_rows = excluded.source_rows, figures = excluded.figures",
        )
        .bind(report)
        .bind(params)
        .bind(month)
        .bind(counts.get(month).copied().unwrap_or(0))
        .bind(json)
        .execute(&mut *conn)
        .await;
        if let Err(e) = kept {
            tracing::debug!(report, month = %month, error = %e, "a month's figures were not kept");
            return;
        }
    }
}

/// The figures of `months` (each named by `key`): those kept and still fresh by `counts`, the
/// others read by `query` (given the months to read) and kept. Without counts, all are read
/// and none kept. `month_of` names the month a figure belongs to.
pub async fn read_through<M, T, Q>(
    conn: &mut AnyConnection,
    (report, params): (&str, &str),
    months: &[M],
    key: impl Fn(&M) -> &str,
    counts: Option<&BTreeMap<String, i64>>,
    month_of: impl Fn(&T) -> &str,
    query: Q,
) -> Result<Vec<T>, sqlx::Error>
where
    M: Clone,
    T: Serialize + DeserializeOwned,
    Q: AsyncFnOnce(&mut AnyConnection, &[M]) -> Result<Vec<T>, sqlx::Error>,
{
    let Some(counts) = counts else {
        return query(conn, months).await;
    };
    let keys: Vec<String> = months.iter().map(|m| key(m).to_owned()).collect();
    let mut kept: BTreeMap<String, Vec<T>> = fresh(conn, report, params, &keys, counts).await?;
    let stale: Vec<M> = months
        .iter()
        .filter(|m| !kept.contains_key(key(m)))
        .cloned()
        .collect();
    if !stale.is_empty() {
        let mut read: BTreeMap<String, Vec<T>> =
            stale.iter().map(|m| (key(m).to_owned(), vec![])).collect();
        for row in query(conn, &stale).await? {
            if let Some(rows) = read.get_mut(month_of(&row)) {
                rows.push(row);
            }
        }
        keep(conn, report, params, &read, counts).await;
        kept.extend(read);
    }
    Ok(kept.into_values().flatten().collect())
}
