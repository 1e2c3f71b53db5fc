//! Renders the sample invoices and prints the time per render (median of N).
//!
//! `cargo run --release -p saghat-pdf --example render_sample -- [OUT_DIR] [N]`
//! writes the samples (invoice-en.pdf, invoice-fa.pdf, credit notes, 60-line invoices) into
//! OUT_DIR (when given) and times N renders of each (default 50) after a warm-up render.

use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A different document each time: typst memoises across renders, and the same document twice
/// would time its cache, not a new invoice.
fn varied(doc: &saghat_pdf::InvoiceDocument, i: usize) -> saghat_pdf::InvoiceDocument {
    let mut doc = doc.clone();
    doc.number = format!("{}-{i}", doc.number);
    doc.buyer.name = format!("{} {i}", doc.buyer.name);
    for line in &mut doc.lines {
        line.description = format!("{} ({i})", line.description);
    }
    doc
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out_dir = args.next().filter(|a| !a.is_empty());
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50);

    let samples = [
        ("invoice-en", common::english_invoice()),
        ("invoice-fa", common::persian_invoice()),
        ("credit-note-en", common::credit_note()),
        ("credit-note-fa", common::persian_credit_note()),
        ("invoice-en-60-lines", common::long_invoice(60)),
        ("invoice-fa-60-lines", common::long_persian_invoice(60)),
    ];
    let first = Instant::now();
    saghat_pdf::render(&samples[0].1)?;
    println!(
        "first render (fonts and standard library loaded): {:.1} ms",
        first.elapsed().as_secs_f64() * 1e3
    );
    for (name, doc) in &samples {
        let pdf = saghat_pdf::render(doc)?;
        if let Some(dir) = &out_dir {
            std::fs::write(format!("{dir}/{name}.pdf"), &pdf)?;
        }
        let times: Vec<Duration> = (0..n.max(1))
            .map(|i| {
                let doc = varied(doc, i);
                let start = Instant::now();
                saghat_pdf::render(&doc).map(|_| start.elapsed())
            })
            .collect::<Result<_, _>>()?;
        println!(
            "{name}: {} bytes, median {:.1} ms over {} renders",
            pdf.len(),
            median(times).as_secs_f64() * 1e3,
            n.max(1)
        );
    }
    // The XML is only carried, not read, so a stand-in does for timing.
    let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rsm:CrossIndustryInvoice/>";
    let times: Vec<Duration> = (0..n.max(1))
        .map(|i| {
            let doc = varied(&samples[0].1, i);
            let start = Instant::now();
            saghat_pdf::render_facturx(&doc, xml).map(|_| start.elapsed())
        })
        .collect::<Result<_, _>>()?;
    println!(
        "invoice-en Factur-X (PDF/A-3b): median {:.1} ms over {} renders",
        median(times).as_secs_f64() * 1e3,
        n.max(1)
    );
    Ok(())
}
