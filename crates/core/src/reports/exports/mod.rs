//! Long exports: a register of every sent invoice (or every payment received) of a period,
//! filtered like invoicing's report, written to a CSV or XLSX file by a background job while
//! the page shows how far it has got, then offered for download.
//!
//! Asking for one ([`request`]) checks the reader may read invoicing, records the export with
//! the labels in the reader's language and enqueues its `report_export` job in one transaction.
//! The job (`saghat_export::register::run`) claims it, reads the register page by page
//! ([`register`]), reporting progress, and writes the file under `EXPORTS_DIR`. Each reader sees
//! only their own exports; [`sweep`] removes the old ones with their files.

pub mod register;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::access::{may_read, Report};
use super::invoicing::Filter;
use super::period::{Month, Period};
use super::ReportError;
use crate::auth::{CurrentUser, Role};
use crate::invoicing::calendar::Calendar;
use crate::jobs::{self, NewJob};
use crate::platform::currency::Currency;
use crate::platform::lang::Lang;
use crate::Ctx;

pub use store::Claimed;

/// The job that writes an export's file.
pub const EXPORT_JOB: &str = "report_export";

/// How many exports a reader may have queued or running at once.
pub const MAX_PENDING: i64 = 3;

/// Which register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Register {
    /// Every sent invoice and credit note issued in the period.
    Invoices,
    /// Every payment received in the period.
    Payments,
}

impl Register {
    pub fn as_str(self) -> &'static str {
        match self {
            Register::Invoices => "invoices",
            Register::Payments => "payments",
        }
    }

    pub fn parse(text: &str) -> Option<Register> {
        match text {
            "invoices" => Some(Register::Invoices),
            "payments" => Some(Register::Payments),
            _ => None,
        }
    }
}

/// The file written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }

    pub fn parse(text: &str) -> Option<FileFormat> {
        match text {
            "csv" => Some(FileFormat::Csv),
            "xlsx" => Some(FileFormat::Xlsx),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileFormat::Csv => "text/csv; charset=utf-8",
            FileFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Queued,
    Running,
    Done,
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Queued => "queued",
            ExportState::Running => "running",
            ExportState::Done => "done",
            ExportState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> ExportState {
        match text {
            "running" => ExportState::Running,
            "done" => ExportState::Done,
            "failed" => ExportState::Failed,
            _ => ExportState::Queued,
        }
    }

    /// Still to be written: the page keeps refreshing while any is.
    pub fn pending(self) -> bool {
        matches!(self, ExportState::Queued | ExportState::Running)
    }
}

/// What a file says in the reader's language, fixed when it is asked for: the job that writes
/// it later needs no translations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    pub title: String,
    pub subtitle: String,
    pub columns: Vec<String>,
    /// Names of the stored words the register holds (`sent`, `credit_note`, `bank_transfer`).
    pub values: BTreeMap<String, String>,
}

impl Labels {
    /// The name of a stored word, else the word itself.
    pub fn value(&self, word: &str) -> String {
        self.values
            .get(word)
            .cloned()
            .unwrap_or_else(|| word.to_owned())
    }
}

/// An export asked for.
#[derive(Clone, Debug)]
pub struct NewExport {
    pub register: Register,
    pub format: FileFormat,
    pub lang: Lang,
    pub filter: Filter,
    pub labels: Labels,
}

/// An export and how far its job has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Export {
    pub id: String,
    pub register: Register,
    pub format: FileFormat,
    /// The file's language: `en` or `fa`.
    pub lang: String,
    pub calendar: String,
    pub from: String,
    pub to: String,
    pub currency: Option<Currency>,
    pub client_id: Option<i64>,
    pub state: ExportState,
    /// The rows the register holds, counted when the job starts.
    pub rows_total: Option<i64>,
    pub rows_done: i64,
    /// The file's size once written.
    pub size_bytes: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<DateTime<Utc>>,
    /// The file's name when downloaded.
    pub file_name: String,
    #[serde(skip)]
    pub requested_by: i64,
    #[serde(skip)]
    pub title: String,
}

impl Export {
    /// Done, in hundredths of a percent (the whole when nothing was to be written).
    pub fn progress(&self) -> i64 {
        match (self.state, self.rows_total) {
            (ExportState::Done, _) => 10_000,
            (_, Some(total)) if total > 0 => (self.rows_done.min(total) * 10_000) / total,
            _ => 0,
        }
    }

    pub fn period(&self) -> Option<Period> {
        Some(Period {
            calendar: Calendar::parse(&self.calendar)?,
            from: Month::parse(&self.from)?,
            to: Month::parse(&self.to)?,
        })
    }
}

/// `saghat-invoices-1404-10_1405-09.xlsx`.
fn file_name(register: Register, from: &str, to: &str, format: FileFormat) -> String {
    format!(
        "saghat-{}-{from}_{to}.{}",
        register.as_str(),
        format.as_str()
    )
}

/// Where an export's file is (or will be) kept.
pub fn file_path(ctx: &Ctx, id: &str) -> PathBuf {
    // Ids are UUIDs the store made: no separator can reach the path.
    ctx.config.reports.exports_dir.join(format!("{id}.export"))
}

fn may_export(role: Role) -> bool {
    may_read(role, Report::Invoicing)
}

/// Records the export and enqueues its job, in one transaction.
pub async fn request(
    ctx: &Ctx,
    actor: &CurrentUser,
    new: &NewExport,
) -> Result<Export, ReportError> {
    if !may_export(actor.role) {
        return Err(ReportError::Forbidden);
    }
    let now = ctx.now();
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = ctx.db.begin_write().await?;
    if store::pending_of(&mut tx, actor.id).await? >= MAX_PENDING {
        return Err(ReportError::invalid(
            "register",
            format!("You have {MAX_PENDING} exports being written; wait for one to finish"),
        ));
    }
    store::insert(&mut tx, &id, actor.id, new, now).await?;
    let job = NewJob {
        kind: EXPORT_JOB,
        args: serde_json::json!({ "export_id": id }),
        unique_key: format!("report-export:{id}"),
        max_attempts: 3,
    };
    jobs::enqueue(&mut tx, ctx.db.backend, &job).await?;
    tx.commit().await?;
    find(ctx, actor, &id).await
}

/// The reader's own exports, newest first (the last fifty).
pub async fn list(ctx: &Ctx, actor: &CurrentUser) -> Result<Vec<Export>, ReportError> {
    if !may_export(actor.role) {
        return Err(ReportError::Forbidden);
    }
    let mut conn = ctx.db.pool.acquire().await?;
    Ok(store::of_user(&mut conn, actor.id, 50).await?)
}

/// One of the reader's exports; another's is as unknown as one that never was.
pub async fn find(ctx: &Ctx, actor: &CurrentUser, id: &str) -> Result<Export, ReportError> {
    if !may_export(actor.role) {
        return Err(ReportError::Forbidden);
    }
    let mut conn = ctx.db.pool.acquire().await?;
    store::one(&mut conn, id)
        .await?
        .filter(|e| e.requested_by == actor.id)
        .ok_or(ReportError::NotFound)
}

/// The job's start: the export moves to running with its register's size, unless it is
/// already done (a second delivery of the job) or gone.
pub async fn claim(ctx: &Ctx, id: &str) -> Result<Option<Claimed>, sqlx::Error> {
    let mut conn = ctx.db.pool.acquire().await?;
    let Some(claimed) = store::claimable(&mut conn, id).await? else {
        return Ok(None);
    };
    drop(conn);
    let total = {
        let mut conn = ctx.db.pool.acquire().await?;
        register::count(&mut conn, claimed.register, &claimed.filter).await?
    };
    let mut tx = ctx.db.begin_write().await?;
    store::start(&mut tx, id, total).await?;
    tx.commit().await?;
    Ok(Some(claimed))
}

/// How many rows are written so far.
pub async fn progress(ctx: &Ctx, id: &str, rows_done: i64) -> Result<(), sqlx::Error> {
    let mut tx = ctx.db.begin_write().await?;
    store::progress(&mut tx, id, rows_done).await?;
    tx.commit().await
}

/// The file is written: `rows` rows, `size` bytes.
pub async fn finish(ctx: &Ctx, id: &str, rows: i64, size: i64) -> Result<(), sqlx::Error> {
    let mut tx = ctx.db.begin_write().await?;
    store::finish(&mut tx, id, rows, size, ctx.now()).await?;
    tx.commit().await
}

/// The job gave up: why, for the reader.
pub async fn fail(ctx: &Ctx, id: &str, why: &str) -> Result<(), sqlx::Error> {
    let mut tx = ctx.db.begin_write().await?;
    store::fail(&mut tx, id, why, ctx.now()).await?;
    tx.commit().await
}

/// Removes the exports asked for more than `EXPORT_KEEP_DAYS` ago, with their files; how many.
pub async fn sweep(ctx: &Ctx) -> Result<u64, sqlx::Error> {
    let before = ctx.now() - Duration::days(i64::from(ctx.config.reports.export_keep_days));
    let mut conn = ctx.db.pool.acquire().await?;
    let old = store::created_before(&mut conn, before).await?;
    drop(conn);
    for id in &old {
        match std::fs::remove_file(file_path(ctx, id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(export = %id, error = %e, "an old export's file stays"),
        }
    }
    let mut tx = ctx.db.begin_write().await?;
    let removed = store::delete(&mut tx, &old).await?;
    tx.commit().await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(state: ExportState, total: Option<i64>, done: i64) -> Export {
        Export {
            id: "x".into(),
            register: Register::Invoices,
            format: FileFormat::Csv,
            lang: "en".into(),
            calendar: "jalali".into(),
            from: "1405-01".into(),
            to: "1405-09".into(),
            currency: None,
            client_id: None,
            state,
            rows_total: total,
            rows_done: done,
            size_bytes: None,
            error: None,
            created_at: Utc::now(),
            finished_at: None,
            file_name: String::new(),
            requested_by: 1,
            title: String::new(),
        }
    }

    #[test]
    fn progress_is_the_share_of_rows_written_and_whole_when_done() {
        assert_eq!(export(ExportState::Queued, None, 0).progress(), 0);
        assert_eq!(export(ExportState::Running, Some(3), 1).progress(), 3333);
        assert_eq!(export(ExportState::Running, Some(0), 0).progress(), 0);
        assert_eq!(
            export(ExportState::Running, Some(10), 12).progress(),
            10_000
        );
        assert_eq!(export(ExportState::Done, Some(0), 0).progress(), 10_000);
    }

    #[test]
    fn names_round_trip_and_unknown_words_are_refused() {
        for r in [Register::Invoices, Register::Payments] {
            assert_eq!(Register::parse(r.as_str()), Some(r));
        }
        for f in [FileFormat::Csv, FileFormat::Xlsx] {
            assert_eq!(FileFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(Register::parse("pdf"), None);
        assert_eq!(FileFormat::parse("pdf"), None);
        assert_eq!(
            file_name(Register::Payments, "2026-01", "2026-11", FileFormat::Xlsx),
            "saghat-payments-2026-01_2026-11.xlsx"
        );
    }

    #[test]
    fn a_label_names_a_word_or_leaves_it() {
        let labels = Labels {
            values: [("sent".to_owned(), "Sent".to_owned())].into(),
            ..Labels::default()
        };
        assert_eq!(labels.value("sent"), "Sent");
        assert_eq!(labels.value("odd"), "odd");
    }
}
