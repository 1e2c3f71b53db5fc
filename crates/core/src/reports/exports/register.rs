//! The registers an export writes: every sent invoice and credit note issued in a period, or
//! every payment received in it, filtered by currency and client, read in pages in a fixed
//! order (day, then id) so a job can write a million rows without holding them.
//!
//! Each page is one query continuing after the last row of the one before (keyset, along the
//! `(issue_date, id)` and `(received_on, id)` indexes): a page costs the same however deep in
//! the register it is.

use chrono::NaiveDate;
use sqlx::AnyConnection;

use super::model::{Labels, Register};
use crate::reports::invoicing::Filter;
use crate::reports::sql::{currency_of, fetch, Binds};
use crate::reports::table::{Cell, Money};

/// Rows read per query.
pub const PAGE_ROWS: i64 = 5_000;

/// Where the next page starts: after this day and id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub day: String,
    pub id: String,
}

/// The `WHERE` of a register: its period, currency and client; and its table's day column.
fn scope(register: Register, filter: &Filter, binds: &mut Binds) -> (String, &'static str) {
    let (table, day) = match register {
        Register::Invoices => ("i", "i.issue_date"),
        Register::Payments => ("p", "p.received_on"),
    };
    let mut sql = format!(
        "{day} >= {} AND {day} < {}",
        binds.push(filter.period.starts().to_string()),
        binds.push(filter.period.ends().to_string()),
    );
    if register == Register::Invoices {
        sql.push_str(" AND i.sent_at IS NOT NULL");
    }
    if let Some(c) = filter.currency {
        sql.push_str(&format!(" AND {table}.currency = {}", binds.push(c.code())));
    }
    if let Some(id) = filter.client_id {
        sql.push_str(&format!(
            " AND {table}.client_id = CAST({} AS BIGINT)",
            binds.push(id.to_string())
        ));
    }
    (sql, day)
}

fn from(register: Register) -> &'static str {
    match register {
        Register::Invoices => "invoices i",
        Register::Payments => "invoice_payments p",
    }
}

/// How many rows the register holds.
pub async fn count(
    conn: &mut AnyConnection,
    register: Register,
    filter: &Filter,
) -> Result<i64, sqlx::Error> {
    let mut binds = Binds::default();
    let (scope, _) = scope(register, filter, &mut binds);
    let sql = format!("SELECT COUNT(*) AS n FROM {} WHERE {scope}", from(register));
    let rows: Vec<(i64,)> = fetch(conn, sql, &binds).await?;
    Ok(rows.first().map_or(0, |r| r.0))
}

#[derive(sqlx::FromRow)]
struct InvoiceSqlRow {
    id: String,
    number: Option<String>,
    kind: String,
    status: String,
    client: String,
    issue_date: String,
    due_date: String,
    currency: String,
    tax: i64,
    total: i64,
    amount_paid: i64,
    amount_credited: i64,
}

#[derive(sqlx::FromRow)]
struct PaymentSqlRow {
    id: String,
    received_on: String,
    client: String,
    method: String,
    reference: String,
    currency: String,
    amount: i64,
}

/// The register's columns, in the order [`page`]'s cells come (their labels are the keys
/// `rp_col_<name>`).
pub fn columns(register: Register) -> &'static [&'static str] {
    match register {
        Register::Invoices => &[
            "number",
            "kind",
            "status",
            "client",
            "issued",
            "due",
            "currency",
            "net",
            "tax",
            "total",
            "paid",
            "credited",
            "outstanding",
        ],
        Register::Payments => &[
            "received",
            "client",
            "method",
            "reference",
            "currency",
            "amount",
        ],
    }
}

fn date(text: &str) -> Cell {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_or_else(|_| Cell::text(text), Cell::Date)
}

/// The rows after `after` (from the start without one), at most `limit` (the job reads
/// [`PAGE_ROWS`]), as cells with stored words named by `labels`; and where the next page
/// starts (none after the last).
pub async fn page(
    conn: &mut AnyConnection,
    register: Register,
    filter: &Filter,
    (after, limit): (Option<&Cursor>, i64),
    labels: &Labels,
) -> Result<(Vec<Vec<Cell>>, Option<Cursor>), sqlx::Error> {
    let mut binds = Binds::default();
    let (mut scope, day) = scope(register, filter, &mut binds);
    let (alias, id) = match register {
        Register::Invoices => ("i", "i.id"),
        Register::Payments => ("p", "p.id"),
    };
    if let Some(c) = after {
        let (d, i) = (binds.push(c.day.clone()), binds.push(c.id.clone()));
        // A row value: both databases seek the (day, id) index to it.
        scope.push_str(&format!(" AND ({day}, {id}) > ({d}, {i})"));
    }
    let tail = format!(
        "FROM {} JOIN clients c ON c.id = {alias}.client_id WHERE {scope} \
         ORDER BY {day}, {id} LIMIT {limit}",
        from(register),
        limit = limit.max(1),
    );
    let mut last = None;
    let cells = match register {
        Register::Invoices => {
            let sql = format!(
                "SELECT i.id, i.number, i.kind, i.status, c.name AS client, i.issue_date, i.due_date, \
                        i.currency, i.tax, i.total, i.amount_paid, i.amount_credited {tail}"
            );
            let rows: Vec<InvoiceSqlRow> = fetch(conn, sql, &binds).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let currency = currency_of(&r.currency)?;
                let money = |units: i64| Cell::Money(Money::new(i128::from(units), currency));
                let outstanding = if r.kind == "invoice" && r.status != "void" {
                    r.total - r.amount_paid - r.amount_credited
                } else {
                    0
                };
                out.push(vec![
                    r.number.map_or(Cell::Empty, Cell::Name),
                    Cell::Text(labels.value(&r.kind)),
                    Cell::Text(labels.value(&r.status)),
                    Cell::Name(r.client),
                    date(&r.issue_date),
                    date(&r.due_date),
                    Cell::text(r.currency.clone()),
                    money(r.total - r.tax),
                    money(r.tax),
                    money(r.total),
                    money(r.amount_paid),
                    money(r.amount_credited),
                    money(outstanding),
                ]);
                last = Some(Cursor {
                    day: r.issue_date,
                    id: r.id,
                });
            }
            out
        }
        Register::Payments => {
            let sql = format!(
                "SELECT p.id, p.received_on, c.name AS client, p.method, p.reference, p.currency, \
                        p.amount {tail}"
            );
            let rows: Vec<PaymentSqlRow> = fetch(conn, sql, &binds).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let currency = currency_of(&r.currency)?;
                out.push(vec![
                    date(&r.received_on),
                    Cell::Name(r.client),
                    Cell::Text(labels.value(&r.method)),
                    Cell::Name(r.reference),
                    Cell::text(r.currency.clone()),
                    Cell::Money(Money::new(i128::from(r.amount), currency)),
                ]);
                last = Some(Cursor {
                    day: r.received_on,
                    id: r.id,
                });
            }
            out
        }
    };
    let next = if cells.len() as i64 >= limit {
        last
    } else {
        None
    };
    Ok((cells, next))
}
