//! A Saghat invoice as its PDF prints it: every amount from the invoice's one totals
//! computation, formatted in the document's language (Persian digits and Jalali dates in
//! Persian, Gregorian dates in English), so the PDF can never disagree with the pages, the API
//! or the e-invoice.

use saghat_core::invoicing::einvoice::{cii::to_cii, EInvoiceError, EInvoiceInput};
use saghat_core::invoicing::model::{Discount, Invoice, InvoiceKind, Party, TaxCode};
use saghat_core::invoicing::totals::{Totals as InvoiceTotals, TotalsError};
use saghat_core::platform::lang::Lang as CoreLang;

use crate::document::{DocumentKind, InvoiceDocument, Lang, Line, Party as PrintedParty};
use crate::document::{TaxRow, Totals};
use crate::PdfError;

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error(transparent)]
    Totals(#[from] TotalsError),
    #[error(transparent)]
    EInvoice(#[from] EInvoiceError),
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// What the PDF needs beyond the invoice itself.
pub struct PrintFacts<'a> {
    pub lang: CoreLang,
    /// Paid and credited so far, in the invoice currency's minor units.
    pub settled: i64,
    /// PNG bytes of the seller's logo.
    pub logo_png: Option<Vec<u8>>,
    /// The buyer's reference (BT-10) for the Factur-X XML.
    pub buyer_reference: Option<&'a str>,
}

/// The invoice's PDF.
pub fn invoice_pdf(invoice: &Invoice, facts: &PrintFacts<'_>) -> Result<Vec<u8>, PrintError> {
    let totals = invoice.totals()?;
    Ok(crate::render(&document(invoice, &totals, facts))?)
}

/// The invoice as a Factur-X PDF/A-3: the PDF with its EN 16931 CII XML embedded.
pub fn invoice_facturx(invoice: &Invoice, facts: &PrintFacts<'_>) -> Result<Vec<u8>, PrintError> {
    let totals = invoice.totals()?;
    let xml = to_cii(&EInvoiceInput {
        invoice,
        totals: &totals,
        paid: facts.settled,
        buyer_reference: facts.buyer_reference,
    })?;
    Ok(crate::render_facturx(
        &document(invoice, &totals, facts),
        xml.as_bytes(),
    )?)
}

/// The printed document of `invoice` with its `totals`.
pub fn document(
    invoice: &Invoice,
    totals: &InvoiceTotals,
    facts: &PrintFacts<'_>,
) -> InvoiceDocument {
    let lang = facts.lang;
    let currency = invoice.currency;
    let money = |units: i64| lang.money(currency, i128::from(units));
    let with_code = |units: i64| format!("{} {}", money(units), lang.currency(currency));
    let lines = invoice
        .lines
        .iter()
        .zip(&totals.lines)
        .map(|(line, t)| Line {
            description: line.description.clone(),
            quantity: lang.digits(&line.quantity.to_string()),
            unit: match lang {
                CoreLang::En => line.unit.label_en(),
                CoreLang::Fa => line.unit.label_fa(),
            }
            .to_string(),
            unit_price: money(line.unit_price),
            discount: match line.discount {
                None => String::new(),
                Some(Discount::Percent(p)) => lang.digits(&format!("{p}%")),
                Some(Discount::Amount(_)) => money(t.discount),
            },
            tax_rate: lang.digits(&format!("{}%", line.tax.rate)),
            net: money(t.net),
        })
        .collect();
    let tax_rows = totals
        .categories
        .iter()
        .map(|c| TaxRow {
            category: format!(
                "{} — {}",
                c.category.code.code(),
                tax_name(lang, c.category.code)
            ),
            rate: lang.digits(&format!("{}%", c.category.rate)),
            base: money(c.taxable),
            tax: money(c.tax),
        })
        .collect();
    let due = totals.total - facts.settled;
    let kind = match invoice.kind {
        InvoiceKind::Invoice => DocumentKind::Invoice,
        InvoiceKind::CreditNote => DocumentKind::CreditNote,
    };
    InvoiceDocument {
        lang: match lang {
            CoreLang::En => Lang::En,
            CoreLang::Fa => Lang::Fa,
        },
        kind,
        number: invoice.number.clone().unwrap_or_default(),
        issue_date: lang.civil_date(invoice.issue_date),
        due_date: (kind == DocumentKind::Invoice).then(|| lang.civil_date(invoice.due_date)),
        currency: lang.currency(currency).to_string(),
        seller: party(&invoice.seller),
        buyer: party(&invoice.buyer),
        logo_png: facts.logo_png.clone(),
        lines,
        tax_rows,
        totals: Totals {
            lines_net: money(totals.lines_net),
            discount: (totals.discount != 0).then(|| money(totals.discount)),
            tax: money(totals.tax),
            total: with_code(totals.total),
            paid: (facts.settled != 0).then(|| money(facts.settled)),
            amount_due: with_code(due),
        },
        notes: non_empty(&invoice.notes),
        terms: non_empty(&invoice.terms),
        reference: invoice.credited.as_ref().map(|c| match lang {
            CoreLang::En => format!(
                "Credits invoice {} of {}",
                c.number,
                lang.civil_date(c.issue_date)
            ),
            CoreLang::Fa => format!(
                "اصلاحیهٔ صورتحساب {} مورخ {}",
                c.number,
                lang.civil_date(c.issue_date)
            ),
        }),
        status: None,
    }
}

fn party(p: &Party) -> PrintedParty {
    let mut address_lines = Vec::new();
    if !p.address.street.is_empty() {
        address_lines.push(p.address.street.clone());
    }
    let city = [p.address.postal_code.as_str(), p.address.city.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !city.is_empty() {
        address_lines.push(city);
    }
    if !p.address.country_code.is_empty() {
        address_lines.push(p.address.country_code.clone());
    }
    PrintedParty {
        name: p.name.clone(),
        address_lines,
        tax_id: p.tax_id.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A tax category's name (its code is printed beside it).
pub fn tax_name(lang: CoreLang, code: TaxCode) -> &'static str {
    match (lang, code) {
        (CoreLang::En, TaxCode::Standard) => "Standard rate",
        (CoreLang::En, TaxCode::ZeroRated) => "Zero rated",
        (CoreLang::En, TaxCode::Exempt) => "Exempt",
        (CoreLang::En, TaxCode::ReverseCharge) => "Reverse charge",
        (CoreLang::En, TaxCode::IntraCommunity) => "Intra-community supply",
        (CoreLang::En, TaxCode::Export) => "Export",
        (CoreLang::En, TaxCode::OutsideScope) => "Outside the scope of tax",
        (CoreLang::Fa, TaxCode::Standard) => "نرخ عمومی",
        (CoreLang::Fa, TaxCode::ZeroRated) => "نرخ صفر",
        (CoreLang::Fa, TaxCode::Exempt) => "معاف",
        (CoreLang::Fa, TaxCode::ReverseCharge) => "پرداخت معکوس",
        (CoreLang::Fa, TaxCode::IntraCommunity) => "عرضهٔ درون‌اتحادیه",
        (CoreLang::Fa, TaxCode::Export) => "صادرات",
        (CoreLang::Fa, TaxCode::OutsideScope) => "خارج از شمول مالیات",
    }
}
