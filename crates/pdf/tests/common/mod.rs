//! Sample documents and the poppler/Python helpers the tests (and examples/render_sample.rs) use.
#![allow(dead_code)]

use std::io::Write;
use std::process::Command;

use saghat_pdf::{DocumentKind, InvoiceDocument, Lang, Line, Party, TaxRow, Totals};

/// A sample logo (a 120×120 PNG made for these tests).
pub fn logo_png() -> Vec<u8> {
    include_bytes!("../fixtures/logo.png").to_vec()
}

pub fn english_invoice() -> InvoiceDocument {
    InvoiceDocument {
        lang: Lang::En,
        kind: DocumentKind::Invoice,
        number: "INV-2026-000042".into(),
        issue_date: "1 December 2026".into(),
        due_date: Some("31 December 2026".into()),
        currency: "EUR".into(),
        seller: Party {
            name: "Saghat Lending Ltd.".into(),
            address_lines: vec!["12 Harbour Street".into(), "1011 AB Amsterdam".into()],
            tax_id: Some("NL123456789B01".into()),
            email: Some("billing@saghat.example".into()),
            phone: Some("+31 20 123 4567".into()),
        },
        buyer: Party {
            name: "Northwind Traders B.V.".into(),
            address_lines: vec!["Keizersgracht 100".into(), "1015 CS Amsterdam".into()],
            tax_id: Some("NL987654321B01".into()),
            email: Some("ap@northwind.example".into()),
            phone: None,
        },
        logo_png: Some(logo_png()),
        lines: vec![
            Line {
                description: "Loan servicing fee, November 2026".into(),
                quantity: "1".into(),
                unit: "month".into(),
                unit_price: "€1,250.00".into(),
                discount: "".into(),
                tax_rate: "21%".into(),
                net: "€1,250.00".into(),
            },
            Line {
                description: "Credit assessment reports".into(),
                quantity: "3".into(),
                unit: "report".into(),
                unit_price: "€180.00".into(),
                discount: "10%".into(),
                tax_rate: "21%".into(),
                net: "€486.00".into(),
            },
            Line {
                description: "Financial literacy workshop (exempt training)".into(),
                quantity: "2.5".into(),
                unit: "hour".into(),
                unit_price: "€96.00".into(),
                discount: "".into(),
                tax_rate: "9%".into(),
                net: "€240.00".into(),
            },
        ],
        tax_rows: vec![
            TaxRow {
                category: "S — Standard rate".into(),
                rate: "21%".into(),
                base: "€1,736.00".into(),
                tax: "€364.56".into(),
            },
            TaxRow {
                category: "AA — Reduced rate".into(),
                rate: "9%".into(),
                base: "€240.00".into(),
                tax: "€21.60".into(),
            },
        ],
        totals: Totals {
            lines_net: "€1,976.00".into(),
            discount: None,
            tax: "€386.16".into(),
            total: "€2,362.16".into(),
            paid: Some("€500.00".into()),
            amount_due: "€1,862.16".into(),
        },
        notes: Some("Thank you for your business. Please quote the invoice number with your payment.".into()),
        terms: Some("Payment within 30 days to IBAN NL91 ABNA 0417 1643 00. Late payments bear statutory interest.".into()),
        payee_iban: Some("NL91 ABNA 0417 1643 00".into()),
        reference: None,
        status: None,
    }
}

pub fn persian_invoice() -> InvoiceDocument {
    InvoiceDocument {
        lang: Lang::Fa,
        kind: DocumentKind::Invoice,
        number: "INV-1405-000123".into(),
        issue_date: "۱۴۰۵/۰۹/۱۰".into(),
        due_date: Some("۱۴۰۵/۱۰/۱۰".into()),
        currency: "IRR".into(),
        seller: Party {
            name: "صندوق قرض‌الحسنه سقط".into(),
            address_lines: vec![
                "تهران، خیابان ولیعصر، پلاک ۱۲".into(),
                "کد پستی ۱۴۳۳۸۷۶۵۴۳".into(),
            ],
            tax_id: Some("۴۱۱۱۲۲۳۳۴۴۵۵".into()),
            email: Some("billing@saghat.example".into()),
            phone: Some("۰۲۱-۸۸۷۷۶۶۵۵".into()),
        },
        buyer: Party {
            name: "شرکت بازرگانی آریا".into(),
            address_lines: vec!["اصفهان، خیابان چهارباغ عباسی، ساختمان نگین".into()],
            tax_id: Some("۱۰۱۰۲۰۳۰۴۰۵".into()),
            email: None,
            phone: Some("۰۳۱-۳۲۲۲۱۱۱۱".into()),
        },
        logo_png: Some(logo_png()),
        lines: vec![
            Line {
                description: "کارمزد خدمات وام، آبان ۱۴۰۵".into(),
                quantity: "۱".into(),
                unit: "ماه".into(),
                unit_price: "۱۲٬۵۰۰٬۰۰۰".into(),
                discount: "".into(),
                tax_rate: "۱۰٪".into(),
                net: "۱۲٬۵۰۰٬۰۰۰".into(),
            },
            Line {
                description: "گزارش اعتبارسنجی".into(),
                quantity: "۳".into(),
                unit: "گزارش".into(),
                unit_price: "۱٬۸۰۰٬۰۰۰".into(),
                discount: "۵۴۰٬۰۰۰".into(),
                tax_rate: "۱۰٪".into(),
                net: "۴٬۸۶۰٬۰۰۰".into(),
            },
        ],
        tax_rows: vec![TaxRow {
            category: "S — نرخ عمومی".into(),
            rate: "۱۰٪".into(),
            base: "۱۷٬۳۶۰٬۰۰۰".into(),
            tax: "۱٬۷۳۶٬۰۰۰".into(),
        }],
        totals: Totals {
            lines_net: "۱۷٬۳۶۰٬۰۰۰ ریال".into(),
            discount: None,
            tax: "۱٬۷۳۶٬۰۰۰ ریال".into(),
            total: "۱۹٬۰۹۶٬۰۰۰ ریال".into(),
            paid: None,
            amount_due: "۱۹٬۰۹۶٬۰۰۰ ریال".into(),
        },
        notes: Some(
            "از همکاری شما سپاسگزاریم. لطفاً هنگام پرداخت، شمارهٔ صورتحساب را ذکر کنید.".into(),
        ),
        // As the printer passes typed text to a Persian page (print.rs).
        terms: Some(saghat_pdf::print::isolate_ltr_runs(
            "پرداخت ظرف ۳۰ روز به شمارهٔ شبای IR06 0120 0000 0000 1234 5678 90.",
        )),
        payee_iban: Some("IR06 0120 0000 0000 1234 5678 90".into()),
        reference: None,
        status: None,
    }
}

pub fn credit_note() -> InvoiceDocument {
    let mut doc = english_invoice();
    doc.kind = DocumentKind::CreditNote;
    doc.number = "CN-2026-000007".into();
    doc.due_date = None;
    doc.reference = Some("Credits INV-2026-000042".into());
    doc.lines.truncate(1);
    doc.lines[0].description = "Refund of the loan servicing fee, November 2026".into();
    doc.tax_rows.truncate(1);
    doc.tax_rows[0].base = "€1,250.00".into();
    doc.tax_rows[0].tax = "€262.50".into();
    doc.totals = Totals {
        lines_net: "€1,250.00".into(),
        discount: None,
        tax: "€262.50".into(),
        total: "€1,512.50".into(),
        paid: None,
        amount_due: "€1,512.50".into(),
    };
    doc.status = Some("Issued".into());
    doc
}

pub fn persian_credit_note() -> InvoiceDocument {
    let mut doc = persian_invoice();
    doc.kind = DocumentKind::CreditNote;
    doc.number = "CN-1405-000007".into();
    doc.due_date = None;
    doc.reference = Some("بستانکاری صورتحساب INV-1405-000123".into());
    doc.status = Some("صادرشده".into());
    doc
}

/// An invoice with `n` lines, for the page-break tests.
pub fn long_invoice(n: usize) -> InvoiceDocument {
    let mut doc = english_invoice();
    doc.lines = (1..=n)
        .map(|i| Line {
            description: format!("Instalment collection, loan L-{i:05}"),
            quantity: "1".into(),
            unit: "item".into(),
            unit_price: format!("€{i}.00"),
            discount: "".into(),
            tax_rate: "21%".into(),
            net: format!("€{i}.00"),
        })
        .collect();
    doc
}

/// Persian digits for `n`, as the caller passes them.
pub fn persian_digits(n: usize) -> String {
    n.to_string()
        .chars()
        .map(|c| {
            char::from_u32(0x06f0 + c.to_digit(10).expect("a digit")).expect("a Persian digit")
        })
        .collect()
}

/// A Persian invoice with `n` lines.
pub fn long_persian_invoice(n: usize) -> InvoiceDocument {
    let mut doc = persian_invoice();
    doc.lines = (1..=n)
        .map(|i| Line {
            description: format!("وصول قسط، وام شمارهٔ {}", persian_digits(1000 + i)),
            quantity: "۱".into(),
            unit: "قسط".into(),
            unit_price: format!("{}٬۰۰۰", persian_digits(i)),
            discount: "".into(),
            tax_rate: "۱۰٪".into(),
            net: format!("{}٬۰۰۰", persian_digits(i)),
        })
        .collect();
    doc
}

/// Whether the tests may skip when a tool is missing: never in CI.
pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Runs a tool; `None` (after a printed message) when it is missing outside CI, a panic in CI.
pub fn run_tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(out)
        }
        Err(e) if !ci() => {
            eprintln!("SKIPPED: {program} is not available ({e}); install poppler-utils");
            None
        }
        Err(e) => panic!("{program} is required in CI: {e}"),
    }
}

pub fn write_temp(bytes: &[u8], suffix: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(suffix)
        .tempfile()
        .expect("temp file");
    f.write_all(bytes).expect("write temp file");
    f.flush().expect("flush temp file");
    f
}

/// The text of each page as pdftotext reads it, or `None` when pdftotext is missing outside CI.
pub fn pdf_pages(pdf: &[u8]) -> Option<Vec<String>> {
    let file = write_temp(pdf, ".pdf");
    let path = file.path().to_str().expect("utf-8 temp path");
    let out = run_tool("pdftotext", &["-enc", "UTF-8", path, "-"])?;
    let text = String::from_utf8(out.stdout).expect("pdftotext prints UTF-8");
    // pdftotext marks right-to-left runs with bidi embedding controls; the assertions are on
    // the letters.
    let text: String = text
        .chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    // pdftotext ends the last page with a form feed too.
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    Some(pages)
}

/// How pdftotext spells Persian text: its right-to-left reordering also reverses the characters
/// of a glyph that stands for two (the lam-alef ligature, heh with hamza above), so "اقلام"
/// comes out as "اقالم". The PDF's own text is right (a viewer's copy and paste gives "اقلام").
pub fn as_pdftotext_reads(persian: &str) -> String {
    persian.replace("هٔ", "ٔه").replace("لا", "ال")
}
