//! An invoice printed for a download (the pages' and `/api/v1`'s): the PDF or the Factur-X
//! PDF/A-3 from the invoice's one totals computation, with the seller's logo, typeset on the
//! blocking pool so a render never holds a request thread.

use saghat_core::invoicing::model::Invoice;
use saghat_core::platform::lang::Lang;
use saghat_pdf::print::{invoice_facturx, invoice_pdf, PrintError, PrintFacts};

use crate::error::ApiError;
use crate::state::AppState;

/// `invoice` in `lang`, with `settled` (paid and credited so far) shown; `facturx` for the
/// PDF/A-3 carrying its CII XML. The outer error is the server's (the blocking pool), the inner
/// one the invoice's (what its totals or EN 16931 refuse).
pub async fn print_invoice(
    state: &AppState,
    invoice: Invoice,
    lang: Lang,
    settled: i64,
    facturx: bool,
) -> Result<Result<Vec<u8>, PrintError>, ApiError> {
    let logo_png = match &state.config.invoicing.seller_logo {
        Some(path) => match tokio::fs::read(path).await {
            Ok(bytes) => Some(bytes),
            // A logo gone missing should not stop the invoices going out.
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "seller logo unreadable; printing without it");
                None
            }
        },
        None => None,
    };
    tokio::task::spawn_blocking(move || {
        let facts = PrintFacts {
            lang,
            settled,
            logo_png,
            buyer_reference: None,
        };
        if facturx {
            invoice_facturx(&invoice, &facts)
        } else {
            invoice_pdf(&invoice, &facts)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))
}
