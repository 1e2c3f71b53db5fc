//! The `report_exports` rows.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::model::{file_name, Export, ExportState, FileFormat, Labels, NewExport, Register};
use crate::invoicing::calendar::Calendar;
use crate::platform::clock::{to_db_time, DbTime};
use crate::platform::currency::Currency;
use crate::platform::lang::Lang;
use crate::reports::invoicing::Filter;
use crate::reports::period::{Month, Period};

/// What the job needs to write an export.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub register: Register,
    pub format: FileFormat,
    pub lang: Lang,
    pub filter: Filter,
    pub labels: Labels,
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    id: String,
    requested_by: i64,
    register: String,
    format: String,
    lang: String,
    calendar: String,
    from_month: String,
    to_month: String,
    currency: Option<String>,
    client_id: Option<i64>,
    labels: String,
    state: String,
    rows_total: Option<i64>,
    rows_done: i64,
    size_bytes: Option<i64>,
    error: Option<String>,
    created_at: DbTime,
    finished_at: Option<DbTime>,
}

const COLUMNS: &str = "id, requested_by, register, format, lang, calendar, from_month, to_month, \
     currency, client_id, labels, state, rows_total, rows_done, size_bytes, error, created_at, finished_at";

fn decode<T>(what: &str, value: Option<T>) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::Decode(format!("an export's {what} is unknown").into()))
}

impl ExportRow {
    fn export(self) -> Result<Export, sqlx::Error> {
        let register = decode("register", Register::parse(&self.register))?;
        let format = decode("format", FileFormat::parse(&self.format))?;
        let labels: Labels =
            serde_json::from_str(&self.labels).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Export {
            file_name: file_name(register, &self.from_month, &self.to_month, format),
            id: self.id,
            register,
            format,
            lang: self.lang,
            calendar: self.calendar,
            from: self.from_month,
            to: self.to_month,
            currency: self.currency.as_deref().and_then(Currency::parse),
            client_id: self.client_id,
            state: ExportState::parse(&self.state),
            rows_total: self.rows_total,
            rows_done: self.rows_done,
            size_bytes: self.size_bytes,
            error: self.error,
            created_at: decode("time", self.created_at.0)?,
            finished_at: self.finished_at.and_then(|t| t.0),
            requested_by: self.requested_by,
            title: labels.title,
        })
    }

    fn claimed(self) -> Result<Claimed, sqlx::Error> {
        let period = Period {
            calendar: decode("calendar", Calendar::parse(&self.calendar))?,
            from: decode("period", Month::parse(&self.from_month))?,
            to: decode("period", Month::parse(&self.to_month))?,
        };
        Ok(Claimed {
            register: decode("register", Register::parse(&self.register))?,
            format: decode("format", FileFormat::parse(&self.format))?,
            lang: Lang::parse(&self.lang).unwrap_or(Lang::En),
            filter: Filter {
                period,
                currency: self.currency.as_deref().and_then(Currency::parse),
                client_id: self.client_id,
            },
            labels: serde_json::from_str(&self.labels)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            id: self.id,
        })
    }
}

pub(super) async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    requested_by: i64,
    new: &NewExport,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let labels =
        serde_json::to_string(&new.labels).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let period = new.filter.period;
    sqlx::query(
        "INSERT INTO report_exports (id, requested_by, register, format, lang, calendar, from_month, \
                                     to_month, currency, client_id, labels, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued', $12)",
    )
    .bind(id)
    .bind(requested_by)
    .bind(new.register.as_str())
    .bind(new.format.as_str())
    .bind(new.lang.code())
    .bind(period.calendar.as_str())
    .bind(period.from.key())
    .bind(period.to.key())
    .bind(new.filter.currency.map(|c| c.code()))
    .bind(new.filter.client_id)
    .bind(labels)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn pending_of(conn: &mut AnyConnection, user: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM report_exports WHERE requested_by = $1 AND state IN ('queued', 'running')",
    )
    .bind(user)
    .fetch_one(conn)
    .await
}

pub(super) async fn one(conn: &mut AnyConnection, id: &str) -> Result<Option<Export>, sqlx::Error> {
    let row: Option<ExportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM report_exports WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(ExportRow::export).transpose()
}

pub(super) async fn of_user(
    conn: &mut AnyConnection,
    user: i64,
    limit: i64,
) -> Result<Vec<Export>, sqlx::Error> {
    let rows: Vec<ExportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM report_exports WHERE requested_by = $1 \
          ORDER BY created_at DESC, id DESC LIMIT $2"
    )))
    .bind(user)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(ExportRow::export).collect()
}

/// The export to write, unless it is done or gone; a failed one is written again (a retry).
pub(super) async fn claimable(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Claimed>, sqlx::Error> {
    let row: Option<ExportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM report_exports WHERE id = $1 AND state <> 'done'"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(ExportRow::claimed).transpose()
}

pub(super) async fn start(
    conn: &mut AnyConnection,
    id: &str,
    total: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE report_exports SET state = 'running', rows_total = $2, rows_done = 0, error = NULL \
          WHERE id = $1 AND state <> 'done'",
    )
    .bind(id)
    .bind(total)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn progress(
    conn: &mut AnyConnection,
    id: &str,
    done: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE report_exports SET rows_done = $2 WHERE id = $1 AND state = 'running'")
        .bind(id)
        .bind(done)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn finish(
    conn: &mut AnyConnection,
    id: &str,
    rows: i64,
    size: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE report_exports SET state = 'done', rows_done = $2, rows_total = $2, size_bytes = $3, \
                finished_at = $4, error = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(rows)
    .bind(size)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn fail(
    conn: &mut AnyConnection,
    id: &str,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE report_exports SET state = 'failed', error = $2, finished_at = $3 \
          WHERE id = $1 AND state <> 'done'",
    )
    .bind(id)
    .bind(why)
    .bind(to_db_time(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn created_before(
    conn: &mut AnyConnection,
    before: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM report_exports WHERE created_at < $1 ORDER BY created_at")
        .bind(to_db_time(before))
        .fetch_all(conn)
        .await
}

pub(super) async fn delete(conn: &mut AnyConnection, ids: &[String]) -> Result<u64, sqlx::Error> {
    let mut removed = 0;
    for id in ids {
        removed += sqlx::query("DELETE FROM report_exports WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(removed)
}
