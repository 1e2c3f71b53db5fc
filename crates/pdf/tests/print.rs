//! A Saghat invoice printed: the PDF shows the amounts of the invoice's one totals computation
//! in the document's language, and its Factur-X form carries an EN 16931 CII XML that the
//! official rules accept.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use common::{ci, pdf_pages, write_temp};
use saghat_core::invoicing::model::{
    Address, Discount, Invoice, InvoiceKind, Line, Party, Percent, Quantity, TaxCategory, TaxCode,
    Unit,
};
use saghat_core::platform::currency::Currency;
use saghat_core::platform::lang::Lang;
use saghat_pdf::print::{invoice_facturx, invoice_pdf, PrintFacts};

fn standard(rate: i64) -> TaxCategory {
    TaxCategory {
        code: TaxCode::Standard,
        rate: Percent(rate),
    }
}

fn line(description: &str, unit: Unit, quantity: i64, price: i64, tax: TaxCategory) -> Line {
    Line {
        description: description.into(),
        unit,
        quantity: Quantity(quantity),
        unit_price: price,
        discount: None,
        tax,
    }
}

/// The hand-computed case of totals.rs: 19% and 7%, line discounts, 5% off; total 220.05 EUR.
fn two_rates() -> Invoice {
    let mut paper = line("Printing paper", Unit::Piece, 30_000, 1999, standard(1900));
    paper.discount = Some(Discount::Percent(Percent(1000)));
    let hours = line("Consulting", Unit::Hour, 15_000, 8000, standard(1900));
    let mut books = line("Books", Unit::Piece, 20_000, 1250, standard(700));
    books.discount = Some(Discount::Amount(200));
    Invoice {
        kind: InvoiceKind::Invoice,
        number: Some("INV-1405-000101".into()),
        currency: Currency::Eur,
        issue_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        due_date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        seller: Party {
            name: "Saghat Lending GmbH".into(),
            address: Address {
                street: "Friedrichstraße 12".into(),
                city: "Berlin".into(),
                postal_code: "10117".into(),
                country_code: "DE".into(),
            },
            tax_id: Some("DE123456789".into()),
            email: Some("billing@saghat.example".into()),
            phone: None,
        },
        buyer: Party {
            name: "Client & Fils SARL".into(),
            address: Address {
                street: "12 rue de la Paix".into(),
                city: "Paris".into(),
                postal_code: "75002".into(),
                country_code: "FR".into(),
            },
            tax_id: Some("FR12345678901".into()),
            email: None,
            phone: None,
        },
        lines: vec![paper, hours, books],
        discount: Some(Discount::Percent(Percent(500))),
        prices_include_tax: false,
        notes: "Thank you for your business.".into(),
        terms: "Payable within 30 days.".into(),
        credited: None,
        payee_iban: Some("DE89370400440532013000".into()),
    }
}

fn facts(lang: Lang, settled: i64) -> PrintFacts<'static> {
    PrintFacts {
        lang,
        settled,
        logo_png: None,
        buyer_reference: None,
    }
}

fn text_of(pdf: &[u8]) -> Option<String> {
    let pages = pdf_pages(pdf)?;
    Some(
        pages
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[test]
fn the_pdf_shows_the_totals_of_the_one_computation() {
    let pdf = invoice_pdf(&two_rates(), &facts(Lang::En, 5000)).unwrap();
    let Some(text) = text_of(&pdf) else { return };
    for needle in [
        "INV-1405-000101",
        "1 Dec 2026",
        "31 Dec 2026",
        "Client & Fils SARL",
        // the lines' nets, the discount, the categories' bases and tax, the total (totals.rs)
        "53.97",
        "120.00",
        "23.00",
        "196.97",
        "9.85",
        "165.27",
        "31.40",
        "21.85",
        "1.53",
        "220.05 EUR",
        // 50.00 paid: 170.05 due
        "50.00",
        "170.05 EUR",
        "S — Standard rate",
    ] {
        assert!(text.contains(needle), "{needle:?} is not in:\n{text}");
    }
}

#[test]
fn a_persian_pdf_has_jalali_dates_and_persian_digits() {
    let pdf = invoice_pdf(&two_rates(), &facts(Lang::Fa, 0)).unwrap();
    let Some(text) = text_of(&pdf) else { return };
    // 1 December 2026 is 10 Azar 1405; 220.05 in Persian digits and separators.
    for needle in ["۱۴۰۵/۰۹/۱۰", "۲۲۰٫۰۵", "۳۱٫۴۰", "یورو"] {
        assert!(text.contains(needle), "{needle:?} is not in:\n{text}");
    }
    assert!(
        !text.contains("220.05"),
        "Latin digits in a Persian invoice:\n{text}"
    );
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Factur-X PDF of a Saghat invoice passes scripts/einvoice-validate.py: the XML is
/// extracted from the PDF, checked against the Factur-X EN16931 XSD and the EN 16931 rules.
#[test]
fn the_facturx_pdf_carries_a_valid_en16931_invoice() {
    let pdf = invoice_facturx(&two_rates(), &facts(Lang::En, 5000)).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let file = write_temp(&pdf, ".pdf");
    let python = std::env::var("SAGHAT_PYTHON").unwrap_or_else(|_| "python3".into());
    let rules = std::env::var("SAGHAT_EINVOICE_RULES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/einvoice"));
    let output = Command::new(&python)
        .arg(repo_root().join("scripts/einvoice-validate.py"))
        .arg(file.path())
        .env("SAGHAT_EINVOICE_RULES", &rules)
        .output();
    let output = match output {
        Ok(out) if out.status.code() == Some(2) && !ci() => {
            eprintln!(
                "SKIPPED: the e-invoice validator's set-up is missing: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        Ok(out) => out,
        Err(e) if !ci() => {
            eprintln!("SKIPPED: {python} does not run: {e}");
            return;
        }
        Err(e) => panic!("{python} is required in CI: {e}"),
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(report.contains("ok   facturx"), "{report}");
    assert!(report.contains("ok   schematron"), "{report}");
    assert!(report.contains("1 of 1 files valid"), "{report}");
}

/// Where each word of the first page is, left to right (`pdftotext -bbox`).
fn word_positions(pdf: &[u8]) -> Option<Vec<(f64, String)>> {
    let file = write_temp(pdf, ".pdf");
    let out = Command::new("pdftotext")
        .args(["-bbox", "-f", "1", "-l", "1"])
        .arg(file.path())
        .arg("-")
        .output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        _ if ci() => panic!("pdftotext -bbox failed"),
        _ => return None,
    };
    let html = String::from_utf8(out.stdout).unwrap();
    Some(
        html.split("<word ")
            .skip(1)
            .filter_map(|w| {
                let x = w.split("xMin=\"").nth(1)?.split('"').next()?.parse().ok()?;
                let text = w.split('>').nth(1)?.split('<').next()?.to_string();
                Some((x, text))
            })
            .collect(),
    )
}

fn x_of(words: &[(f64, String)], word: &str) -> f64 {
    words
        .iter()
        .find(|(_, w)| w == word)
        .unwrap_or_else(|| panic!("{word} is not on the page: {words:?}"))
        .0
}

#[test]
fn a_number_typed_in_groups_keeps_its_order_on_a_persian_page() {
    let mut invoice = two_rates();
    invoice.notes = "واریز به کارت 6037 9911 2345 6789 تا پایان ماه".into();
    let facts = facts(Lang::Fa, 0);
    // Printed as typed, the bidi algorithm would lay the groups out right to left.
    let mut raw = saghat_pdf::print::document(&invoice, &invoice.totals().unwrap(), &facts);
    raw.notes = Some(invoice.notes.clone());
    let Some(words) = word_positions(&saghat_pdf::render(&raw).unwrap()) else {
        return;
    };
    assert!(
        x_of(&words, "6037") > x_of(&words, "6789"),
        "the template alone reverses the groups"
    );
    // Through the printer: left to right, as the card reads.
    let words = word_positions(&invoice_pdf(&invoice, &facts).unwrap()).unwrap();
    let xs: Vec<f64> = ["6037", "9911", "2345", "6789"]
        .iter()
        .map(|w| x_of(&words, w))
        .collect();
    assert!(xs.windows(2).all(|p| p[0] < p[1]), "{xs:?}");
    // The seller's IBAN to pay to, in groups of four, left to right too.
    let iban: Vec<f64> = ["DE89", "3704", "0044", "0532", "0130", "00"]
        .iter()
        .map(|w| x_of(&words, w))
        .collect();
    assert!(iban.windows(2).all(|p| p[0] < p[1]), "{iban:?}");
}
