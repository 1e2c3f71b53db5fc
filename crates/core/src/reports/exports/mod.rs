//! Long exports: a register of every sent invoice (or every payment received) of a period,
//! filtered like invoicing's report, written to a CSV or XLSX file by a background job while
//! the page shows how far it has got, then offered for download.
//!
//! Asking for one ([`request`]) checks the reader may read invoicing, records the export with
//! the labels in the reader's language and enqueues its `report_export` job in one transaction.
//! The job (`saghat_export::register::run`) claims it, reads the register page by page
//! ([`register`]), reporting progress, and writes the file under `EXPORTS_DIR`. Each reader sees
//! only their own exports; [`sweep`] removes the old ones with their files.

mod model;
pub mod register;
mod store;

use std::path::PathBuf;

use chrono::Duration;

use super::access::{may_read, Report};
use super::ReportError;
use crate::auth::{CurrentUser, Role};
use crate::jobs::{self, NewJob};
use crate::Ctx;

pub use model::{Export, ExportState, FileFormat, Labels, NewExport, Register};
pub use store::Claimed;

/// The job that writes an export's file.
pub const EXPORT_JOB: &str = "report_export";

/// How many exports a reader may have queued or running at once.
pub const MAX_PENDING: i64 = 3;

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
