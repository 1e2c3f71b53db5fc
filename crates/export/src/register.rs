//! The `report_export` job's work: one register export written to its file, page by page,
//! with its progress recorded as it goes (`saghat_core::reports::exports`).
//!
//! The file is written beside its final name and renamed when whole, so a download never gets
//! half a file; a retried job starts the file again.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use saghat_core::reports::exports::register::{self, Cursor};
use saghat_core::reports::exports::{self, Claimed, FileFormat};
use saghat_core::reports::table::Cell;
use saghat_core::Ctx;

use crate::csv::CsvWriter;
use crate::xlsx::{ExportError, XlsxWriter};

/// Progress is recorded at least this often (in rows).
const PROGRESS_EVERY: i64 = 20_000;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written: so many rows, so many bytes.
    Written { rows: i64, bytes: u64 },
    /// Nothing to do: already written (a second delivery of the job) or removed.
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    File(#[from] std::io::Error),
    #[error(transparent)]
    Xlsx(#[from] ExportError),
}

enum Writer {
    Csv(CsvWriter<BufWriter<File>>),
    Xlsx(Box<XlsxWriter>, File),
}

impl Writer {
    fn open(claimed: &Claimed, path: &Path) -> Result<Writer, RunError> {
        let file = File::create(path)?;
        let labels = &claimed.labels;
        Ok(match claimed.format {
            FileFormat::Csv => Writer::Csv(CsvWriter::new(BufWriter::new(file), &labels.columns)?),
            FileFormat::Xlsx => {
                let rtl = claimed.lang == saghat_core::platform::lang::Lang::Fa;
                let mut xlsx = XlsxWriter::new(&labels.title, &labels.subtitle, rtl);
                xlsx.start_sheet(&labels.title, &labels.columns)?;
                Writer::Xlsx(Box::new(xlsx), file)
            }
        })
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), RunError> {
        match self {
            Writer::Csv(csv) => csv.row(cells)?,
            Writer::Xlsx(xlsx, _) => xlsx.row(cells)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<(), RunError> {
        match self {
            Writer::Csv(csv) => csv
                .finish()?
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()?,
            Writer::Xlsx(xlsx, mut file) => {
                xlsx.finish(&mut file)?;
                file.flush()?;
                file.sync_all()?;
            }
        }
        Ok(())
    }
}

/// Writes export `id`. A failure of the job's `last_attempt` marks the export failed with
/// the reason; an earlier one leaves it to the retry.
pub async fn run(ctx: &Ctx, id: &str, last_attempt: bool) -> Result<Outcome, RunError> {
    let Some(claimed) = exports::claim(ctx, id).await? else {
        return Ok(Outcome::Skipped);
    };
    let path = exports::file_path(ctx, id);
    let part = path.with_extension("part");
    match write(ctx, &claimed, &part).await {
        Ok(rows) => {
            std::fs::rename(&part, &path)?;
            let bytes = std::fs::metadata(&path)?.len();
            exports::finish(ctx, id, rows, i64::try_from(bytes).unwrap_or(i64::MAX)).await?;
            Ok(Outcome::Written { rows, bytes })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            tracing::warn!(export = %id, error = %e, last_attempt, "an export could not be written");
            if last_attempt {
                exports::fail(ctx, id, "The file could not be written; ask for it again").await?;
            }
            Err(e)
        }
    }
}

async fn write(ctx: &Ctx, claimed: &Claimed, part: &Path) -> Result<i64, RunError> {
    if let Some(dir) = part.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut writer = Writer::open(claimed, part)?;
    let mut after: Option<Cursor> = None;
    let (mut rows, mut reported) = (0i64, 0i64);
    loop {
        // A connection per page: the pool is not held while the file is written.
        let (cells, next) = {
            let mut conn = ctx.db.pool.acquire().await?;
            register::page(
                &mut conn,
                claimed.register,
                &claimed.filter,
                (after.as_ref(), register::PAGE_ROWS),
                &claimed.labels,
            )
            .await?
        };
        for row in &cells {
            writer.row(row)?;
        }
        rows += cells.len() as i64;
        if rows - reported >= PROGRESS_EVERY {
            exports::progress(ctx, &claimed.id, rows).await?;
            reported = rows;
        }
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    writer.finish()?;
    Ok(rows)
}
