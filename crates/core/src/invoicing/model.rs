//! An invoice as the rules see it: plain values, no I/O. The service builds one from the
//! database, and the totals, the pages, the PDF, the e-invoices and the ledger postings are all
//! computed from it, so they cannot disagree.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::platform::currency::Currency;
use crate::platform::decimal::{format_scaled_short, parse_scaled, DecimalError};

/// A quantity to 4 decimal places, as ten-thousandths (`1.5` is 15000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(pub i64);

impl Quantity {
    pub const SCALE: u32 = 4;
    pub const ONE: Quantity = Quantity(10_000);

    pub fn parse(text: &str) -> Result<Quantity, DecimalError> {
        parse_scaled(text.trim(), Self::SCALE).map(Quantity)
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_scaled_short(i128::from(self.0), Self::SCALE))
    }
}

/// A percentage to 2 decimal places, in hundredths of a percent (`19.6%` is 1960): tax rates
/// and percentage discounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percent(pub i64);

impl Percent {
    pub const SCALE: u32 = 2;
    pub const HUNDRED: Percent = Percent(10_000);

    pub fn parse(text: &str) -> Result<Percent, DecimalError> {
        parse_scaled(text.trim().trim_end_matches('%'), Self::SCALE).map(Percent)
    }
}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_scaled_short(i128::from(self.0), Self::SCALE))
    }
}

/// A discount on a line or on the whole invoice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discount {
    Percent(Percent),
    /// In the invoice currency's minor units.
    Amount(i64),
}

/// The VAT category codes of EN 16931 (UNCL 5305 as the standard restricts it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaxCode {
    /// Standard rate.
    #[serde(rename = "S")]
    Standard,
    /// Zero rated goods.
    #[serde(rename = "Z")]
    ZeroRated,
    /// Exempt from tax.
    #[serde(rename = "E")]
    Exempt,
    /// VAT reverse charge.
    #[serde(rename = "AE")]
    ReverseCharge,
    /// Intra-community supply (EEA).
    #[serde(rename = "K")]
    IntraCommunity,
    /// Export outside the EU.
    #[serde(rename = "G")]
    Export,
    /// Services outside the scope of tax.
    #[serde(rename = "O")]
    OutsideScope,
}

impl TaxCode {
    pub const ALL: [TaxCode; 7] = [
        TaxCode::Standard,
        TaxCode::ZeroRated,
        TaxCode::Exempt,
        TaxCode::ReverseCharge,
        TaxCode::IntraCommunity,
        TaxCode::Export,
        TaxCode::OutsideScope,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TaxCode::Standard => "S",
            TaxCode::ZeroRated => "Z",
            TaxCode::Exempt => "E",
            TaxCode::ReverseCharge => "AE",
            TaxCode::IntraCommunity => "K",
            TaxCode::Export => "G",
            TaxCode::OutsideScope => "O",
        }
    }

    pub fn parse(code: &str) -> Option<TaxCode> {
        TaxCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Only the standard rate carries a percentage; every other category is at 0%
    /// (EN 16931 BR-Z-05, BR-E-05, BR-AE-05, BR-IC-05, BR-G-05; O has no rate at all).
    pub fn takes_a_rate(self) -> bool {
        self == TaxCode::Standard
    }

    /// Categories other than standard and zero-rated must say why no tax is charged
    /// (EN 16931 BT-120/121, BR-E-10, BR-AE-10, ...).
    pub fn exemption_reason(self) -> Option<&'static str> {
        match self {
            TaxCode::Standard | TaxCode::ZeroRated => None,
            TaxCode::Exempt => Some("Exempt from VAT"),
            TaxCode::ReverseCharge => Some("Reverse charge"),
            TaxCode::IntraCommunity => Some("Intra-community supply"),
            TaxCode::Export => Some("Export outside the EU"),
            TaxCode::OutsideScope => Some("Not subject to VAT"),
        }
    }
}

/// A tax category: its code and rate. Lines of the same category are taxed together, once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxCategory {
    pub code: TaxCode,
    pub rate: Percent,
}

/// Units of measure, by their UN/ECE Recommendation 20 code (what e-invoices carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Piece,
    Hour,
    Day,
    Month,
    Kilogram,
    Metre,
    Litre,
    Set,
    ServiceUnit,
    LumpSum,
}

impl Unit {
    pub const ALL: [Unit; 10] = [
        Unit::Piece,
        Unit::Hour,
        Unit::Day,
        Unit::Month,
        Unit::Kilogram,
        Unit::Metre,
        Unit::Litre,
        Unit::Set,
        Unit::ServiceUnit,
        Unit::LumpSum,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Unit::Piece => "C62",
            Unit::Hour => "HUR",
            Unit::Day => "DAY",
            Unit::Month => "MON",
            Unit::Kilogram => "KGM",
            Unit::Metre => "MTR",
            Unit::Litre => "LTR",
            Unit::Set => "SET",
            Unit::ServiceUnit => "E48",
            Unit::LumpSum => "LS",
        }
    }

    pub fn parse(code: &str) -> Option<Unit> {
        Unit::ALL.into_iter().find(|u| u.code() == code)
    }

    /// The unit's name on an English invoice.
    pub fn label_en(self) -> &'static str {
        match self {
            Unit::Piece => "pcs",
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Month => "month",
            Unit::Kilogram => "kg",
            Unit::Metre => "m",
            Unit::Litre => "l",
            Unit::Set => "set",
            Unit::ServiceUnit => "service",
            Unit::LumpSum => "lump sum",
        }
    }

    /// The unit's name on a Persian invoice.
    pub fn label_fa(self) -> &'static str {
        match self {
            Unit::Piece => "عدد",
            Unit::Hour => "ساعت",
            Unit::Day => "روز",
            Unit::Month => "ماه",
            Unit::Kilogram => "کیلوگرم",
            Unit::Metre => "متر",
            Unit::Litre => "لیتر",
            Unit::Set => "دست",
            Unit::ServiceUnit => "خدمت",
            Unit::LumpSum => "مقطوع",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvoiceKind {
    Invoice,
    CreditNote,
}

impl InvoiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceKind::Invoice => "invoice",
            InvoiceKind::CreditNote => "credit_note",
        }
    }
}

/// A postal address as invoices print it and EN 16931 requires it (BG-5, BG-8).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case (`"IR"`, `"DE"`).
    pub country_code: String,
}

/// The seller or the buyer, as the invoice records them when it is sent (a snapshot: a client
/// who moves later does not change an invoice already sent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    pub address: Address,
    /// VAT or national tax id.
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One line of an invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub description: String,
    pub unit: Unit,
    pub quantity: Quantity,
    /// In the invoice currency's minor units, excluding tax (or including it when the invoice's
    /// prices include tax).
    pub unit_price: i64,
    pub discount: Option<Discount>,
    pub tax: TaxCategory,
}

/// The invoice a credit note corrects (EN 16931 BG-3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditedInvoice {
    pub number: String,
    pub issue_date: NaiveDate,
}

/// An invoice or a credit note, whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    pub kind: InvoiceKind,
    /// Assigned when the invoice is sent; a draft has none.
    pub number: Option<String>,
    pub currency: Currency,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub seller: Party,
    pub buyer: Party,
    pub lines: Vec<Line>,
    pub discount: Option<Discount>,
    /// Unit prices and amounts include tax; the net is derived per tax category.
    pub prices_include_tax: bool,
    pub notes: String,
    pub terms: String,
    /// For a credit note: the invoice it credits.
    pub credited: Option<CreditedInvoice>,
    /// The seller's bank account for transfers (IBAN), from configuration.
    pub payee_iban: Option<String>,
}
