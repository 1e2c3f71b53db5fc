//! What an invoice or credit note prints: plain data, every value formatted by the caller.

use serde::Serialize;

/// The language of the document; it also decides the direction of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English, left to right.
    En,
    /// Persian: right-to-left page, Persian labels, Vazirmatn.
    Fa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

/// The seller or the buyer, as printed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Party {
    pub name: String,
    pub address_lines: Vec<String>,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One invoice line; every field already formatted by the caller.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Line {
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub unit_price: String,
    /// `""` when the line has no discount.
    pub discount: String,
    /// For example `"9%"`.
    pub tax_rate: String,
    pub net: String,
}

/// One row of the tax breakdown (EN 16931 BG-23: one per tax category and rate).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaxRow {
    pub category: String,
    pub rate: String,
    pub base: String,
    pub tax: String,
}

/// The totals box, all formatted strings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub lines_net: String,
    pub discount: Option<String>,
    pub tax: String,
    pub total: String,
    pub paid: Option<String>,
    pub amount_due: String,
}

/// Everything printed on an invoice or a credit note.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceDocument {
    pub lang: Lang,
    pub kind: DocumentKind,
    pub number: String,
    pub issue_date: String,
    pub due_date: Option<String>,
    /// `"EUR"`, `"IRR"`, `"USDT"`.
    pub currency: String,
    pub seller: Party,
    pub buyer: Party,
    /// PNG bytes; goes to the template as a virtual file, not through the JSON.
    #[serde(skip)]
    pub logo_png: Option<Vec<u8>>,
    pub lines: Vec<Line>,
    pub tax_rows: Vec<TaxRow>,
    pub totals: Totals,
    pub notes: Option<String>,
    pub terms: Option<String>,
    /// The seller's IBAN to pay to, in groups of four.
    pub payee_iban: Option<String>,
    /// Credit note: `"Credits INV-1405-000007"`.
    pub reference: Option<String>,
    /// An optional stamp, e.g. `"Paid"`.
    pub status: Option<String>,
}
