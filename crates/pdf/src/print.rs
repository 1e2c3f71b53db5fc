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
    // What the caller typed, kept readable inside a right-to-left page.
    let typed = |text: &str| match lang {
        CoreLang::En => text.to_string(),
        CoreLang::Fa => isolate_ltr_runs(text),
    };
    let currency = invoice.currency;
    let money = |units: i64| lang.money(currency, i128::from(units));
    let with_code = |units: i64| format!("{} {}", money(units), lang.currency(currency));
    let lines = invoice
        .lines
        .iter()
        .zip(&totals.lines)
        .map(|(line, t)| Line {
            description: typed(&line.description),
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
        seller: party(&invoice.seller, &typed),
        buyer: party(&invoice.buyer, &typed),
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
        notes: non_empty(&invoice.notes).map(|t| typed(&t)),
        terms: non_empty(&invoice.terms).map(|t| typed(&t)),
        // Where to pay an invoice (a credit note pays nothing).
        payee_iban: invoice
            .payee_iban
            .as_deref()
            .filter(|_| kind == DocumentKind::Invoice)
            .map(grouped_iban),
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

fn party(p: &Party, typed: &dyn Fn(&str) -> String) -> PrintedParty {
    let mut address_lines = Vec::new();
    if !p.address.street.is_empty() {
        address_lines.push(typed(&p.address.street));
    }
    let city = [p.address.postal_code.as_str(), p.address.city.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !city.is_empty() {
        address_lines.push(typed(&city));
    }
    if !p.address.country_code.is_empty() {
        address_lines.push(p.address.country_code.clone());
    }
    PrintedParty {
        name: typed(&p.name),
        address_lines,
        tax_id: p.tax_id.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
    }
}

/// An IBAN as it is read aloud and typed: in groups of four (`DE89 3704 0044 …`).
fn grouped_iban(iban: &str) -> String {
    let compact: Vec<char> = iban.chars().filter(|c| !c.is_whitespace()).collect();
    compact
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Left-to-right isolate and its end (Unicode's bidi algorithm, rules X5a–X6a).
const LRI: char = '\u{2066}';
const PDI: char = '\u{2069}';

/// A letter of a left-to-right script, or a Latin digit.
fn is_ltr(c: char) -> bool {
    let rtl = matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF);
    c.is_ascii_digit() || (c.is_alphabetic() && !rtl)
}

/// In a right-to-left page, each run of left-to-right words that holds a space (an IBAN or a
/// card number typed in groups, `Acme GmbH`, `Order 2026 11`) is isolated, so the groups keep
/// their order: left alone, the bidi algorithm lays out `6037 9911` as `9911 6037` between
/// Persian words. A single word needs no help and is left as it is.
pub fn isolate_ltr_runs(text: &str) -> String {
    const JOINERS: &str = " -./:@_+,#";
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_ltr(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: left-to-right characters and the joiners between them (never trailing).
        let mut end = i + 1;
        let mut j = i + 1;
        while j < chars.len() && (is_ltr(chars[j]) || JOINERS.contains(chars[j])) {
            j += 1;
            if is_ltr(chars[j - 1]) {
                end = j;
            }
        }
        let run: String = chars[i..end].iter().collect();
        if run.contains(' ') {
            out.push(LRI);
            out.push_str(&run);
            out.push(PDI);
        } else {
            out.push_str(&run);
        }
        i = end;
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_latin_words_are_isolated_in_persian_text() {
        assert_eq!(
            isolate_ltr_runs("واریز به IR06 0170 0000 0012 تا پایان ماه"),
            "واریز به \u{2066}IR06 0170 0000 0012\u{2069} تا پایان ماه"
        );
        // A card number alone, and a phrase ending with punctuation outside the run.
        assert_eq!(
            isolate_ltr_runs("کارت 6037 9911 2345."),
            "کارت \u{2066}6037 9911 2345\u{2069}."
        );
        assert_eq!(isolate_ltr_runs("Acme GmbH"), "\u{2066}Acme GmbH\u{2069}");
    }

    #[test]
    fn single_words_and_persian_text_are_left_as_they_are() {
        for text in [
            "شرکت آلفا",
            "INV-1405-000123",
            "مبلغ ۱۲۳ ریال",
            "a",
            "",
            "قسط 3 از 12",
        ] {
            assert_eq!(isolate_ltr_runs(text), text);
        }
    }

    #[test]
    fn ibans_print_in_groups_of_four() {
        assert_eq!(
            grouped_iban("DE89370400440532013000"),
            "DE89 3704 0044 0532 0130 00"
        );
        assert_eq!(grouped_iban("DE89 3704 0044"), "DE89 3704 0044");
    }
}
