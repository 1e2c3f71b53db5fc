//! EN 16931 e-invoices of a sent invoice or credit note, in its two syntaxes: UBL 2.1
//! (`ubl::to_ubl`) and UN/CEFACT CII D16B (`cii::to_cii`). Plain functions from the invoice and
//! its `Totals` to XML text, no I/O. This module holds what both share (the input, the errors,
//! the checks, the XML writer); the writers are its children and are not re-exported here, so
//! that the modules import one way only (scripts/module_cycles.py).
//!
//! Every amount written comes from `Totals`, never recomputed here, so the XML says what the
//! pages, the PDF and the ledger say. What EN 16931 requires and the invoice lacks is refused
//! with an `EInvoiceError` before anything is written. `scripts/einvoice-validate.py` checks the
//! output against the XSDs and the official Schematron (docs/einvoice.md).

pub mod cii;
pub mod ubl;

use super::model::{Invoice, InvoiceKind, Party, Quantity, TaxCategory, TaxCode};
use super::totals::Totals;
use crate::platform::currency::Currency;

/// What an e-invoice is written from.
#[derive(Clone, Copy, Debug)]
pub struct EInvoiceInput<'a> {
    pub invoice: &'a Invoice,
    /// `invoice.totals()`, computed once by the caller.
    pub totals: &'a Totals,
    /// Paid so far (prepaid amount, BT-113), in the invoice currency's minor units.
    pub paid: i64,
    /// The buyer's reference (BT-10), e.g. a purchase order or a public body's routing id.
    pub buyer_reference: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EInvoiceError {
    #[error("{0} is not an ISO 4217 currency: EN 16931 e-invoices (BT-5) need one")]
    NotIso4217Currency(&'static str),
    #[error("the invoice has no number yet: only a sent invoice can be exported (BT-1)")]
    NotSent,
    #[error("an e-invoice needs at least one line (BR-16)")]
    NoLines,
    #[error(
        "the totals given are not this invoice's ({totals} lines of totals for {lines} lines)"
    )]
    TotalsMismatch { lines: usize, totals: usize },
    #[error("the {0}'s name is missing (BR-06, BR-07)")]
    MissingName(&'static str),
    #[error("the {0}'s country is missing (BR-09, BR-11)")]
    MissingCountry(&'static str),
    #[error("the {party}'s country \"{code}\" is not an ISO 3166-1 alpha-2 code")]
    InvalidCountry { party: &'static str, code: String },
    #[error("the seller's tax id is missing: EN 16931 needs a VAT or tax registration id (BR-S-02, BR-CO-26)")]
    MissingSellerTaxId,
    #[error("tax category {0} needs the seller's VAT id with its country prefix (BR-G-02, BR-IC-02), not a national tax number")]
    SellerNeedsVatId(&'static str),
    #[error(
        "tax category {0} needs the buyer's VAT id with its country prefix (BR-AE-02, BR-IC-02)"
    )]
    BuyerNeedsVatId(&'static str),
    #[error("lines outside the scope of tax (O) cannot be mixed with other tax categories on one invoice (BR-O-11, BR-O-12)")]
    OutsideScopeMixed,
    #[error("intra-community supply (K) needs the delivery date and the deliver-to country (BR-IC-11, BR-IC-12), which invoices do not record")]
    IntraCommunityNeedsDelivery,
    #[error("line {0} has no description: it is the item's name (BR-25)")]
    MissingItemName(usize),
    #[error("a credit note must name the invoice it credits (BG-3)")]
    MissingCreditedInvoice,
    #[error("the amount paid cannot be negative or more than the invoice's total")]
    PaidOutOfRange,
}

/// The EN 16931 specification identifier (BT-24): the core standard, no extension.
pub(crate) const SPECIFICATION: &str = "urn:cen.eu:en16931:2017";

/// Allowance reason code (UNCL 5189) and text for discounts (BT-97/98, BT-139/140).
pub(crate) const DISCOUNT_REASON_CODE: &str = "95";
pub(crate) const DISCOUNT_REASON: &str = "Discount";

/// EU member states' VAT prefixes (Greece is EL; XI is Northern Ireland).
const EU_VAT_PREFIXES: [&str; 28] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
];

/// IBAN countries of the SEPA scheme: their transfers are code 58, others 30.
const SEPA_COUNTRIES: [&str; 41] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO", "CH", "GB",
    "MC", "SM", "VA", "AD", "GI", "AL", "MD", "ME", "MK",
];

/// A party's tax id as EN 16931 classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaxId<'a> {
    /// An EU VAT identifier with its country prefix (BT-31, BT-48).
    Vat(&'a str),
    /// Any other tax number, e.g. an Iranian economic code (BT-32 for the seller).
    Other(&'a str),
}

impl<'a> TaxId<'a> {
    fn of(id: &'a str) -> TaxId<'a> {
        let compact = id.trim();
        let is_vat = compact.len() > 2
            && compact.is_char_boundary(2)
            && EU_VAT_PREFIXES.contains(&&compact[..2])
            && compact[2..].chars().all(|c| c.is_ascii_alphanumeric());
        if is_vat {
            TaxId::Vat(compact)
        } else {
            TaxId::Other(compact)
        }
    }
}

/// What the writers need beyond the invoice, checked once for both syntaxes.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    pub number: &'a str,
    pub currency: Currency,
    pub seller_tax: TaxId<'a>,
    /// `None` when the buyer has none, or when it must not be given (category O, BR-O-02).
    pub buyer_tax: Option<TaxId<'a>>,
    /// UNCL 4461 payment means: 58 SEPA credit transfer, 30 other credit transfer, 1 when
    /// there is no account to pay to.
    pub payment_means: &'static str,
    /// The account to pay to (BT-84).
    pub iban: Option<String>,
    pub due: i64,
}

pub(crate) fn check<'a>(input: &EInvoiceInput<'a>) -> Result<Checked<'a>, EInvoiceError> {
    let invoice = input.invoice;
    let totals = input.totals;
    let currency = invoice.currency;
    if !currency.is_iso_4217() {
        return Err(EInvoiceError::NotIso4217Currency(currency.code()));
    }
    let number = invoice
        .number
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .ok_or(EInvoiceError::NotSent)?;
    if invoice.lines.is_empty() {
        return Err(EInvoiceError::NoLines);
    }
    if totals.lines.len() != invoice.lines.len() {
        return Err(EInvoiceError::TotalsMismatch {
            lines: invoice.lines.len(),
            totals: totals.lines.len(),
        });
    }
    if let Some(index) = invoice
        .lines
        .iter()
        .position(|l| l.description.trim().is_empty())
    {
        return Err(EInvoiceError::MissingItemName(index + 1));
    }
    if invoice.kind == InvoiceKind::CreditNote && invoice.credited.is_none() {
        return Err(EInvoiceError::MissingCreditedInvoice);
    }
    check_party(&invoice.seller, "seller")?;
    check_party(&invoice.buyer, "buyer")?;
    if !(0..=totals.total).contains(&input.paid) {
        return Err(EInvoiceError::PaidOutOfRange);
    }

    let codes: Vec<TaxCode> = totals.categories.iter().map(|c| c.category.code).collect();
    let outside = codes.contains(&TaxCode::OutsideScope);
    if outside && codes.iter().any(|&c| c != TaxCode::OutsideScope) {
        return Err(EInvoiceError::OutsideScopeMixed);
    }
    if codes.contains(&TaxCode::IntraCommunity) {
        return Err(EInvoiceError::IntraCommunityNeedsDelivery);
    }
    let seller_tax = invoice
        .seller
        .tax_id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .map(TaxId::of)
        .ok_or(EInvoiceError::MissingSellerTaxId)?;
    let seller_tax = if outside {
        // Outside the scope of tax the seller's VAT id must not appear (BR-O-02): the id goes
        // as a tax registration instead.
        match seller_tax {
            TaxId::Vat(id) | TaxId::Other(id) => TaxId::Other(id),
        }
    } else {
        seller_tax
    };
    if codes.contains(&TaxCode::Export) && !matches!(seller_tax, TaxId::Vat(_)) {
        return Err(EInvoiceError::SellerNeedsVatId(TaxCode::Export.code()));
    }
    let buyer_tax = if outside {
        None
    } else {
        invoice
            .buyer
            .tax_id
            .as_deref()
            .filter(|id| !id.trim().is_empty())
            .map(TaxId::of)
    };
    if codes.contains(&TaxCode::ReverseCharge) && !matches!(buyer_tax, Some(TaxId::Vat(_))) {
        return Err(EInvoiceError::BuyerNeedsVatId(
            TaxCode::ReverseCharge.code(),
        ));
    }

    // The IBAN without the spaces people write it with.
    let iban: Option<String> = invoice
        .payee_iban
        .as_deref()
        .map(|i| {
            i.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_uppercase()
        })
        .filter(|i| !i.is_empty());
    let payment_means = match iban.as_deref().and_then(|i| i.get(..2)) {
        Some(country) if SEPA_COUNTRIES.contains(&country) => "58",
        Some(_) => "30",
        None => "1",
    };
    Ok(Checked {
        number,
        currency,
        seller_tax,
        buyer_tax,
        payment_means,
        iban,
        due: totals.total - input.paid,
    })
}

fn check_party(party: &Party, role: &'static str) -> Result<(), EInvoiceError> {
    if party.name.trim().is_empty() {
        return Err(EInvoiceError::MissingName(role));
    }
    let code = party.address.country_code.trim();
    if code.is_empty() {
        return Err(EInvoiceError::MissingCountry(role));
    }
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(EInvoiceError::InvalidCountry {
            party: role,
            code: code.to_string(),
        });
    }
    Ok(())
}

impl Checked<'_> {
    /// An amount with the currency's decimal places (BR-DEC: at most 2).
    pub fn amount(&self, units: i64) -> String {
        self.currency.format(i128::from(units))
    }
}

/// A line's price (BT-146) and its allowance (BG-27), chosen so that quantity × price − allowance
/// is the line net of `Totals` (BT-131).
pub(crate) struct LinePrice {
    pub amount: i64,
    /// The price base quantity (BT-149) when the price is not per one unit.
    pub base_quantity: Option<Quantity>,
    pub allowance: i64,
}

pub(crate) fn line_price(invoice: &Invoice, totals: &Totals, index: usize) -> LinePrice {
    let line = &invoice.lines[index];
    let line_totals = &totals.lines[index];
    if invoice.prices_include_tax {
        // The net of an inclusive line is its share of the category's net (totals.rs), not a
        // unit price times the quantity: the net price is given for the whole quantity, so the
        // product is the line net exactly. Its discount is already inside the net.
        LinePrice {
            amount: line_totals.net,
            base_quantity: Some(line.quantity),
            allowance: 0,
        }
    } else {
        LinePrice {
            amount: line.unit_price,
            base_quantity: None,
            allowance: line_totals.discount,
        }
    }
}

/// The rate as EN 16931 writes it (`19`, `9.5`), or none for category O (BR-O-05, BR-O-09).
pub(crate) fn rate(category: &TaxCategory) -> Option<String> {
    (category.code != TaxCode::OutsideScope).then(|| category.rate.to_string())
}

/// A minimal XML writer: escaped text and attributes, two-space indentation.
pub(crate) struct Xml {
    out: String,
    open: Vec<&'static str>,
}

impl Xml {
    pub fn new() -> Xml {
        Xml {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            open: Vec::new(),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn start(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(tag);
        for (name, value) in attrs {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value, true);
            self.out.push('"');
        }
    }

    pub fn open(&mut self, tag: &'static str) -> &mut Xml {
        self.open_with(tag, &[])
    }

    pub fn open_with(&mut self, tag: &'static str, attrs: &[(&str, &str)]) -> &mut Xml {
        self.start(tag, attrs);
        self.out.push_str(">\n");
        self.open.push(tag);
        self
    }

    pub fn empty(&mut self, tag: &str) -> &mut Xml {
        self.start(tag, &[]);
        self.out.push_str("/>\n");
        self
    }

    pub fn close(&mut self) -> &mut Xml {
        let tag = self.open.pop().expect("close matches an open element");
        self.indent();
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push_str(">\n");
        self
    }

    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Xml {
        self.leaf_with(tag, &[], text)
    }

    pub fn leaf_with(&mut self, tag: &str, attrs: &[(&str, &str)], text: &str) -> &mut Xml {
        self.start(tag, attrs);
        self.out.push('>');
        escape_into(&mut self.out, text, false);
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push_str(">\n");
        self
    }

    pub fn finish(self) -> String {
        assert!(self.open.is_empty(), "unclosed elements: {:?}", self.open);
        self.out
    }
}

/// Escapes markup characters and drops the control characters XML 1.0 cannot carry.
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        let mut xml = Xml::new();
        xml.leaf_with("a", &[("b", "\"x\" & <y>")], "1 < 2 & \u{1}شرکت > 0");
        let text = xml.finish();
        assert!(
            text.contains(r#"<a b="&quot;x&quot; &amp; &lt;y&gt;">1 &lt; 2 &amp; شرکت &gt; 0</a>"#)
        );
    }

    #[test]
    fn tells_eu_vat_ids_from_other_tax_numbers() {
        assert_eq!(TaxId::of("DE123456789"), TaxId::Vat("DE123456789"));
        assert_eq!(TaxId::of(" EL123456789 "), TaxId::Vat("EL123456789"));
        assert_eq!(TaxId::of("411111111111"), TaxId::Other("411111111111"));
        // Iran is not in the EU: its prefix does not make a VAT id
        assert_eq!(TaxId::of("IR1234"), TaxId::Other("IR1234"));
        assert_eq!(TaxId::of("DE 123"), TaxId::Other("DE 123"));
        assert_eq!(TaxId::of("شناسه"), TaxId::Other("شناسه"));
    }
}
