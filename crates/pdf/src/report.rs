//! A report as a PDF: titled tables of values the caller has already written out in the
//! reader's language (digits, amounts, dates), in A4 landscape, right to left for Persian.

use serde::Serialize;

use crate::document::Lang;
use crate::error::PdfError;

#[derive(Clone, Debug, Serialize)]
pub struct ReportDocument {
    pub lang: Lang,
    pub title: String,
    /// The period and filters.
    pub subtitle: String,
    /// When it was made, as the footer shows it.
    pub generated: String,
    /// Shown for a table without rows.
    pub empty: String,
    pub tables: Vec<ReportTable>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReportTable {
    pub title: String,
    pub columns: Vec<String>,
    /// Per column: numbers align to the end.
    pub numeric: Vec<bool>,
    /// Each row has one value per column.
    pub rows: Vec<Vec<String>>,
}

/// Renders the report to a PDF.
pub fn render_report(doc: &ReportDocument) -> Result<Vec<u8>, PdfError> {
    for t in &doc.tables {
        if t.numeric.len() != t.columns.len() || t.rows.iter().any(|r| r.len() != t.columns.len()) {
            return Err(PdfError::Compile(format!(
                "table {:?}: every row needs one value per column",
                t.title
            )));
        }
    }
    let json = serde_json::to_vec(doc).map_err(|e| PdfError::Compile(e.to_string()))?;
    crate::world::render_template(crate::world::Template::Report, json, "saghat-report")
}
