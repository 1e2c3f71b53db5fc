//! Renders invoices and credit notes and reads them back with poppler's pdftotext / pdfdetach and
//! PyPI's factur-x: what a reader or an e-invoicing tool gets out of the PDF.

mod common;

use std::process::Command;

use common::{credit_note, english_invoice, long_invoice, pdf_pages, persian_invoice};
use saghat_pdf::{render, render_facturx, PdfError};

/// pdftotext's text with every run of white space made one space (the layout puts columns and
/// lines apart).
fn flat(pages: &[String]) -> String {
    pages
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_contains(text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "{needle:?} is not in the PDF text:\n{text}"
    );
}

#[test]
fn english_invoice_shows_number_parties_and_every_amount() {
    let doc = english_invoice();
    let pdf = render(&doc).expect("render");
    assert!(pdf.starts_with(b"%PDF-"));
    let Some(pages) = pdf_pages(&pdf) else { return };
    assert_eq!(pages.len(), 1, "a three-line invoice fits one page");
    let text = flat(&pages);
    for needle in [
        "Invoice",
        doc.number.as_str(),
        "Northwind Traders B.V.",
        "Saghat Lending Ltd.",
        "NL987654321B01",
        "1 December 2026",
        "31 December 2026",
        "BILL TO",
        "Amount due",
        "VAT BREAKDOWN",
        "Loan servicing fee, November 2026",
    ] {
        assert_contains(&text, needle);
    }
    for line in &doc.lines {
        assert_contains(&text, &line.unit_price);
        assert_contains(&text, &line.net);
    }
    assert_contains(&text, "10%"); // the one line discount
    for row in &doc.tax_rows {
        assert_contains(&text, &row.base);
        assert_contains(&text, &row.tax);
    }
    let t = &doc.totals;
    for amount in [&t.lines_net, &t.tax, &t.total, &t.amount_due] {
        assert_contains(&text, amount);
    }
    assert_contains(&text, t.paid.as_deref().expect("sample has a payment"));
    // A single page has no page number.
    assert!(!text.replace(' ', "").contains("1/1"), "{text}");
}

const PERSIAN_LABELS: [&str; 13] = [
    "صورتحساب",
    "شمارهٔ صورتحساب",
    "تاریخ صدور",
    "تاریخ سررسید",
    "فروشنده",
    "خریدار",
    "شرح کالا یا خدمت",
    "بهای واحد",
    "مبلغ خالص",
    "خلاصهٔ مالیات بر ارزش افزوده",
    "جمع کل",
    "جمع اقلام",
    "مبلغ قابل پرداخت",
];

#[test]
fn persian_invoice_has_persian_labels_and_the_callers_persian_digits() {
    let doc = persian_invoice();
    let pdf = render(&doc).expect("render");
    let Some(pages) = pdf_pages(&pdf) else { return };
    let text = flat(&pages);
    for label in PERSIAN_LABELS {
        assert_contains(&text, &common::as_pdftotext_reads(label));
    }
    for needle in [
        "شرکت بازرگانی آریا",
        doc.number.as_str(),
        "۱۴۰۵/۰۹/۱۰",
        "۱۴۰۵/۱۰/۱۰",
        "۱۲٬۵۰۰٬۰۰۰",
        "۵۴۰٬۰۰۰",
        "۴٬۸۶۰٬۰۰۰",
        "۱۷٬۳۶۰٬۰۰۰",
        "۱٬۷۳۶٬۰۰۰",
        "۱۹٬۰۹۶٬۰۰۰",
        "۱۰٪",
    ] {
        assert_contains(&text, needle);
    }
    assert!(
        !text.contains("Invoice"),
        "no English label on a Persian invoice: {text}"
    );

    // The template's own numbers (the row numbers) are Persian digits: with the caller's Latin
    // text (the number, the e-mail, the IBAN in the terms) left out, no Latin digit remains.
    let mut persian_only = doc.clone();
    persian_only.number = "INV-۱۴۰۵-۰۰۰۱۲۳".into();
    persian_only.seller.email = None;
    persian_only.terms = None;
    persian_only.payee_iban = None;
    let Some(pages) = pdf_pages(&render(&persian_only).expect("render")) else {
        return;
    };
    let text = flat(&pages);
    assert_contains(&text, "۲");
    assert!(
        !text.chars().any(|c| c.is_ascii_digit()),
        "a Latin digit: {text}"
    );
}

#[test]
fn credit_note_has_its_title_reference_and_no_due_date() {
    let doc = credit_note();
    let pdf = render(&doc).expect("render");
    let Some(pages) = pdf_pages(&pdf) else { return };
    let text = flat(&pages);
    for needle in [
        "Credit note",
        "CN-2026-000007",
        "Credits INV-2026-000042",
        "Amount credited",
        "€1,512.50",
        "€262.50",
        "Issued",
    ] {
        assert_contains(&text, needle);
    }
    assert!(!text.contains("Due date"), "{text}");
    assert!(!text.contains("Amount due"), "{text}");
}

#[test]
fn persian_credit_note_has_its_persian_title_and_labels() {
    let doc = common::persian_credit_note();
    let Some(pages) = pdf_pages(&render(&doc).expect("render")) else {
        return;
    };
    let text = flat(&pages);
    for label in [
        "اعلامیهٔ بستانکاری",
        "شمارهٔ اعلامیه",
        "مرجع",
        "مبلغ بستانکاری",
        "صادرشده",
    ] {
        assert_contains(&text, &common::as_pdftotext_reads(label));
    }
    assert_contains(&text, "CN-1405-000007");
    assert_contains(&text, "INV-1405-000123");
    assert!(
        !text.contains("سررسید"),
        "a credit note has no due date: {text}"
    );
    assert!(
        !text.contains(&common::as_pdftotext_reads("مبلغ قابل پرداخت")),
        "{text}"
    );
}

#[test]
fn sixty_lines_break_onto_pages_that_repeat_the_table_header_and_are_numbered() {
    let doc = long_invoice(60);
    let pdf = render(&doc).expect("render");
    let Some(pages) = pdf_pages(&pdf) else { return };
    assert!(
        pages.len() >= 2,
        "60 lines need 2+ pages, got {}",
        pages.len()
    );
    let total = pages.len();
    for (i, page) in pages.iter().enumerate() {
        let text = flat(std::slice::from_ref(page));
        // Every page with lines on it heads them (a last page may hold only the notes).
        if text.contains("loan L-") {
            assert_contains(&text, "Description Qty Unit Unit price Tax Net");
        }
        // pdftotext drops the thin spaces around the slash.
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_contains(&compact, &format!("{}/{total}", i + 1));
    }
    let all = flat(&pages);
    for i in [1, 30, 60] {
        assert_contains(&all, &format!("loan L-{i:05}"));
    }
    // The totals follow the last line (the notes may run onto a page of their own).
    let last_lines = pages
        .iter()
        .rposition(|p| p.contains("loan L-"))
        .expect("lines");
    assert_contains(&flat(&pages[last_lines..]), "Amount due");
}

#[test]
fn a_long_persian_invoice_repeats_its_header_and_numbers_pages_in_persian_digits() {
    let doc = common::long_persian_invoice(60);
    let pdf = render(&doc).expect("render");
    let Some(pages) = pdf_pages(&pdf) else { return };
    assert!(
        pages.len() >= 2,
        "60 lines need 2+ pages, got {}",
        pages.len()
    );
    let total = common::persian_digits(pages.len());
    for (i, page) in pages.iter().enumerate() {
        let text = flat(std::slice::from_ref(page));
        // Every page with lines on it (the terms may run onto a last page of their own).
        if text.contains("قسط") {
            for label in ["ردیف", "شرح کالا یا خدمت", "بهای واحد", "مبلغ خالص"]
            {
                assert_contains(&text, &common::as_pdftotext_reads(label));
            }
        }
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let number = common::persian_digits(i + 1);
        // "۱ / ۳" on a right-to-left page: the page number on the right, which pdftotext prints
        // (in visual order) last.
        assert!(
            compact.contains(&format!("{total}/{number}")),
            "page {number} of {total} is not numbered: {text}"
        );
    }
    assert!(pages[0].contains("قسط") && pages[1].contains("قسط"));
    assert!(!flat(&pages).contains("1/2"), "no Latin page number");
}

#[test]
fn discounts_are_shown_only_when_there_are_some() {
    // No line discount and no invoice discount: no discount column, no discount row.
    let mut doc = long_invoice(3);
    let Some(pages) = pdf_pages(&render(&doc).expect("render")) else {
        return;
    };
    let text = flat(&pages);
    assert!(!text.contains("Discount"), "{text}");

    // An invoice-level discount gets its row in the totals box.
    doc.totals.discount = Some("−€0.60".into());
    let Some(pages) = pdf_pages(&render(&doc).expect("render")) else {
        return;
    };
    let text = flat(&pages);
    assert_contains(&text, "Discount");
    assert_contains(&text, "−€0.60");
    assert!(
        !text.contains("Unit price Discount"),
        "no discount column: {text}"
    );
}

#[test]
fn hostile_text_is_printed_literally_not_run_as_typst() {
    let hostile = r#"#exit() ] [ $x$ \ <lbl> @ref // not a comment #let a = 1 *b* _c_"#;
    let mut doc = english_invoice();
    doc.buyer.name = hostile.to_owned();
    doc.lines[0].description = format!("{hostile} line");
    doc.notes = Some(r#"#panic("boom") ]"#.into());
    doc.number = "INV-#1]".into();
    let pdf = render(&doc).expect("hostile text is data, not markup");
    let Some(pages) = pdf_pages(&pdf) else { return };
    let text = flat(&pages);
    assert_contains(&text, hostile);
    assert_contains(&text, &format!("{hostile} line"));
    assert_contains(&text, r#"#panic("boom") ]"#);
    assert_contains(&text, "INV-#1]");
}

#[test]
fn a_logo_that_is_not_an_image_is_a_typed_error() {
    let mut doc = english_invoice();
    doc.logo_png = Some(b"not a png".to_vec());
    match render(&doc) {
        Err(PdfError::Compile(message)) => assert!(!message.is_empty()),
        other => panic!("expected a compile error, got {:?}", other.map(|b| b.len())),
    }
}

#[test]
fn the_same_document_renders_to_the_same_bytes() {
    let doc = persian_invoice();
    assert_eq!(render(&doc).expect("render"), render(&doc).expect("render"));
}

/// A real EN 16931 CII invoice from ../shared/einvoice (the CEN examples; not copied here).
fn cii_example() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/einvoice/cii/examples/CII_example1.xml"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn facturx_pdf_embeds_the_xml_listed_by_pdfdetach_with_the_same_bytes() {
    let xml = cii_example();
    let pdf = render_facturx(&english_invoice(), &xml).expect("render factur-x");
    let file = common::write_temp(&pdf, ".pdf");
    let path = file.path().to_str().expect("utf-8 path");
    let Some(list) = common::run_tool("pdfdetach", &["-list", path]) else {
        return;
    };
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(list.contains("1 embedded files"), "{list}");
    assert!(list.contains("factur-x.xml"), "{list}");

    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("extracted.xml");
    let out_str = out.to_str().expect("utf-8 path");
    common::run_tool("pdfdetach", &["-save", "1", "-o", out_str, path]).expect("pdfdetach ran");
    assert_eq!(std::fs::read(&out).expect("extracted"), xml);

    // A reader follows the incremental update to the new catalog and its XMP.
    let meta = common::run_tool("pdfinfo", &["-meta", path]).expect("pdfinfo ran");
    let meta = String::from_utf8_lossy(&meta.stdout).into_owned();
    assert!(
        meta.contains("<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>"),
        "{meta}"
    );
    assert!(meta.contains("<pdfaid:part>3</pdfaid:part>"), "{meta}");
}

#[test]
fn facturx_pdf_is_pdfa3b_with_the_facturx_xmp_metadata() {
    let xml = cii_example();
    let pdf = render_facturx(&english_invoice(), &xml).expect("render factur-x");
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("<pdfaid:part>3</pdfaid:part>"),
        "PDF/A part 3"
    );
    assert!(
        text.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
        "PDF/A-3b"
    );
    for needle in [
        "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
        "<fx:DocumentType>INVOICE</fx:DocumentType>",
        "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>",
        "<fx:Version>1.0</fx:Version>",
        "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>",
        "/AFRelationship/Alternative",
    ] {
        assert!(text.contains(needle), "{needle} is not in the PDF");
    }
    // The plain render is not PDF/A and carries no XML.
    let plain = render(&english_invoice()).expect("render");
    assert!(!String::from_utf8_lossy(&plain).contains("factur-x"));
}

#[test]
fn facturx_post_processing_is_not_misled_by_pdf_keywords_in_caller_text() {
    // The number is in the PDF's title (Info dictionary), unescaped by XMP rules.
    let mut doc = english_invoice();
    doc.number = "/Type/Catalog /Metadata 1 0 R <?xpacket begin trailer startxref 0".into();
    doc.seller.name = "xref 0 1 endobj".into();
    let xml = cii_example();
    let pdf = render_facturx(&doc, &xml).expect("render factur-x");
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("<fx:DocumentType>INVOICE</fx:DocumentType>"));
    let file = common::write_temp(&pdf, ".pdf");
    let path = file.path().to_str().expect("utf-8 path");
    let Some(list) = common::run_tool("pdfdetach", &["-list", path]) else {
        return;
    };
    assert!(String::from_utf8_lossy(&list.stdout).contains("factur-x.xml"));
    let Some(meta) = common::run_tool("pdfinfo", &["-meta", path]) else {
        return;
    };
    let meta = String::from_utf8_lossy(&meta.stdout).into_owned();
    assert!(
        meta.contains("<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>"),
        "{meta}"
    );
}

#[test]
fn facturx_python_library_reads_the_embedded_xml_back() {
    let xml = cii_example();
    let pdf = render_facturx(&english_invoice(), &xml).expect("render factur-x");
    let file = common::write_temp(&pdf, ".pdf");
    let script = r#"
import sys
from facturx import get_facturx_xml_from_pdf, get_level, get_flavor
from lxml import etree
with open(sys.argv[1], "rb") as f:
    filename, xml = get_facturx_xml_from_pdf(f, check_xsd=True)
root = etree.fromstring(xml)
sys.stdout.write(filename + "\n" + get_flavor(root) + "\n" + get_level(root) + "\n")
sys.stdout.flush()
sys.stdout.buffer.write(xml)
"#;
    let out = match Command::new("python3")
        .args(["-c", script])
        .arg(file.path())
        .output()
    {
        Ok(out) => out,
        Err(e) if !common::ci() => {
            eprintln!("SKIPPED: python3 is not available ({e})");
            return;
        }
        Err(e) => panic!("python3 is required in CI: {e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("No module named") && !common::ci() {
        eprintln!(
            "SKIPPED: the factur-x Python package is missing (pip install factur-x): {stderr}"
        );
        return;
    }
    assert!(out.status.success(), "factur-x failed: {stderr}");
    let header_end = out
        .stdout
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .map(|(i, _)| i + 1)
        .expect("three header lines");
    let header = String::from_utf8_lossy(&out.stdout[..header_end]).into_owned();
    assert_eq!(header, "factur-x.xml\nfactur-x\nen16931\n");
    assert_eq!(&out.stdout[header_end..], xml.as_slice());
}
