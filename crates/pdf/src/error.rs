//! The crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The template failed on this document (for example a logo that is not a PNG).
    #[error("the invoice template failed: {0}")]
    Compile(String),
    /// typst could not write the PDF (for example a PDF/A rule the document breaks).
    #[error("the PDF export failed: {0}")]
    Export(String),
    /// The Factur-X metadata could not be put into the PDF typst wrote.
    #[error("the Factur-X post-processing failed: {0}")]
    FacturX(String),
}
