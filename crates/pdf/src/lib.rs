//! Invoice and credit-note PDFs, and reports' PDFs, rendered with typst used as a library.
//!
//! `print` turns a Saghat invoice into its document (amounts from the invoice's one totals
//! computation, formatted in its language); the rest is plain data in, bytes out: the caller formats every value (amounts, dates, digits), this crate
//! owns the layout, the labels and the writing direction. The document reaches the typst template
//! (`invoice.typ`) only as JSON in a virtual file, never as markup, so no caller text can be read
//! as typst code. Fonts are embedded in the binary and no system font is searched, so the output is
//! the same on every machine.
//!
//! Rendering is CPU-bound (tens of milliseconds): async callers should run it on a blocking
//! thread.

mod document;
mod error;
mod facturx;
pub mod print;
mod report;
pub mod statement;
mod world;

pub use document::{DocumentKind, InvoiceDocument, Lang, Line, Party, TaxRow, Totals};
pub use error::PdfError;
pub use report::{render_report, ReportDocument, ReportTable};

/// Renders the document to a PDF.
pub fn render(doc: &InvoiceDocument) -> Result<Vec<u8>, PdfError> {
    world::render(doc, None)
}

/// PDF/A-3b with `xml` embedded as "factur-x.xml" (AFRelationship Alternative, text/xml) and the
/// Factur-X XMP metadata (fx: namespace, DocumentType INVOICE, DocumentFileName factur-x.xml,
/// Version 1.0, ConformanceLevel EN 16931) — the ZUGFeRD/Factur-X hybrid invoice.
pub fn render_facturx(doc: &InvoiceDocument, xml: &[u8]) -> Result<Vec<u8>, PdfError> {
    let pdf = world::render(doc, Some(xml))?;
    facturx::add_xmp(&pdf)
}
