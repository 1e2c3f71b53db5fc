//! Amounts as DRF's `DecimalField`s: the seed's front end reads `"total": "212.55"`, not the
//! 21255 the services keep. Every amount of an `/api/v1` invoice, line, tax, allocation,
//! payment and statement is written here as a decimal string in its currency's places,
//! quantities to 4 places (`"1.5000"`) and rates and percentage discounts to 2 (`"19.00"`);
//! requests give the same, as a string or as a JSON number read exactly (serde_json's
//! `arbitrary_precision` keeps a number's text, so no value passes through a float).
//! The services keep their integers; the conversion lives here only.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use saghat_core::invoicing::invoices::{AllocationView, InvoiceDetail, ReminderView};
use saghat_core::invoicing::model::{Percent, Quantity};
use saghat_core::invoicing::payments::{
    PaymentDetail, PaymentRow, Statement, StatementCurrency, StatementLine,
};
use saghat_core::invoicing::store::{InvoiceRow, LineRow, TaxRow};
use saghat_core::platform::currency::Currency;
use saghat_core::platform::decimal::{format_scaled, parse_scaled, DecimalError};

/// A decimal as a request wrote it, a string or a JSON number, kept as its exact text until
/// the handler knows the scale (an amount's depends on the currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalText(pub String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(DecimalText(text)),
            // With arbitrary_precision this is the number's text as sent (`1.10`, `1e-5`).
            Value::Number(n) => Ok(DecimalText(n.to_string())),
            _ => Err(serde::de::Error::custom(INVALID)),
        }
    }
}

/// DRF's `DecimalField` sentence for a value that is not a number.
pub const INVALID: &str = "A valid number is required.";

/// DRF's `DecimalField` sentences for a value it refuses.
pub fn message(err: DecimalError) -> String {
    match err {
        DecimalError::NotANumber => INVALID.into(),
        DecimalError::TooPrecise(places) => {
            format!("Ensure that there are no more than {places} decimal places.")
        }
        // An i64 of minor units: 18 digits always fit.
        DecimalError::TooLarge => "Ensure that there are no more than 18 digits in total.".into(),
    }
}

impl DecimalText {
    /// Units of 10^-`scale`, or DRF's sentence for why not.
    pub fn scaled(&self, scale: u32) -> Result<i64, String> {
        parse_scaled(self.0.trim(), scale).map_err(message)
    }

    pub fn amount(&self, currency: Currency) -> Result<i64, String> {
        self.scaled(currency.minor_units())
    }

    pub fn quantity(&self) -> Result<Quantity, String> {
        self.scaled(Quantity::SCALE).map(Quantity)
    }

    pub fn percent(&self) -> Result<Percent, String> {
        // `"19%"` is read as `"19"`, as core's Percent::parse allows.
        parse_scaled(self.0.trim().trim_end_matches('%'), Percent::SCALE)
            .map(Percent)
            .map_err(message)
    }
}

/// Minor units in the currency's places; a currency Saghat does not know (none is stored)
/// keeps the integer's digits rather than guess its places.
pub fn amount(currency: &str, units: i64) -> String {
    Currency::parse(currency).map_or_else(|| units.to_string(), |c| c.format(i128::from(units)))
}

/// A quantity in ten-thousandths, to 4 places.
pub fn quantity(units: i64) -> String {
    format_scaled(i128::from(units), Quantity::SCALE)
}

/// A rate or a percentage in hundredths of a percent, to 2 places.
pub fn percent(units: i64) -> String {
    format_scaled(i128::from(units), Percent::SCALE)
}

/// A stored discount's value: a percentage to 2 places, an amount in the currency's.
fn discount_value(currency: &str, kind: Option<&str>, value: Option<i64>) -> Option<String> {
    let value = value?;
    Some(match kind {
        Some("percent") => percent(value),
        _ => amount(currency, value),
    })
}

/// An invoice or credit note in a list (the row of `GET /invoices/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvoiceOut {
    pub id: String,
    /// `invoice` or `credit_note`.
    pub kind: String,
    pub client_id: i64,
    pub number: Option<String>,
    pub series: Option<String>,
    pub number_year: Option<i64>,
    pub number_seq: Option<i64>,
    pub currency: String,
    pub issue_date: String,
    pub due_date: String,
    pub status: String,
    pub language: String,
    pub prices_include_tax: bool,
    /// `percent` or `amount`.
    pub discount_kind: Option<String>,
    /// The invoice discount as written: `"10.00"` percent, or an amount in its currency.
    pub discount_value: Option<String>,
    pub notes: String,
    pub terms: String,
    /// The seller as sent, JSON.
    pub seller: Option<String>,
    /// The buyer as sent, JSON.
    pub buyer: Option<String>,
    pub payee_iban: Option<String>,
    /// Σ the lines' nets, in the currency's places (`"212.55"`).
    pub lines_net: String,
    pub discount: String,
    pub tax: String,
    pub total: String,
    pub amount_paid: String,
    pub amount_credited: String,
    pub credits_invoice_id: Option<String>,
    pub recurring_id: Option<i64>,
    pub recurring_period: Option<String>,
    pub sent_at: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<InvoiceRow> for InvoiceOut {
    fn from(r: InvoiceRow) -> Self {
        let money = |units: i64| amount(&r.currency, units);
        InvoiceOut {
            discount_value: discount_value(
                &r.currency,
                r.discount_kind.as_deref(),
                r.discount_value,
            ),
            lines_net: money(r.lines_net),
            discount: money(r.discount),
            tax: money(r.tax),
            total: money(r.total),
            amount_paid: money(r.amount_paid),
            amount_credited: money(r.amount_credited),
            id: r.id,
            kind: r.kind,
            client_id: r.client_id,
            number: r.number,
            series: r.series,
            number_year: r.number_year,
            number_seq: r.number_seq,
            issue_date: r.issue_date,
            due_date: r.due_date,
            status: r.status,
            language: r.language,
            prices_include_tax: r.prices_include_tax,
            discount_kind: r.discount_kind,
            notes: r.notes,
            terms: r.terms,
            seller: r.seller,
            buyer: r.buyer,
            payee_iban: r.payee_iban,
            credits_invoice_id: r.credits_invoice_id,
            recurring_id: r.recurring_id,
            recurring_period: r.recurring_period,
            sent_at: r.sent_at,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            currency: r.currency,
        }
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineOut {
    pub position: i64,
    pub product_id: Option<i64>,
    pub description: String,
    pub unit: String,
    /// To 4 places (`"1.5000"`).
    pub quantity: String,
    /// In the invoice currency's places.
    pub unit_price: String,
    pub discount_kind: Option<String>,
    pub discount_value: Option<String>,
    pub tax_code: String,
    /// Percent, to 2 places (`"19.00"`).
    pub tax_rate: String,
    pub net: String,
}

impl LineOut {
    fn new(currency: &str, l: LineRow) -> Self {
        LineOut {
            discount_value: discount_value(currency, l.discount_kind.as_deref(), l.discount_value),
            position: l.position,
            product_id: l.product_id,
            description: l.description,
            unit: l.unit,
            quantity: quantity(l.quantity),
            unit_price: amount(currency, l.unit_price),
            discount_kind: l.discount_kind,
            tax_code: l.tax_code,
            tax_rate: percent(l.tax_rate),
            net: amount(currency, l.net),
        }
    }
}

/// One tax category of an invoice's breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaxOut {
    pub tax_code: String,
    /// Percent, to 2 places.
    pub tax_rate: String,
    pub lines_net: String,
    pub discount: String,
    pub taxable: String,
    pub tax: String,
}

/// A payment's or a credit note's part settling the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AllocationOut {
    pub id: i64,
    /// `payment`, `credit_note` or `credit`.
    pub source: String,
    pub payment_id: Option<String>,
    pub credit_note_id: Option<String>,
    pub amount: String,
    pub created_at: String,
}

/// An invoice with its lines, taxes, allocations, credit notes and reminders.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceDetailOut {
    #[serde(flatten)]
    pub invoice: InvoiceOut,
    pub amount_due: String,
    pub lines: Vec<LineOut>,
    pub taxes: Vec<TaxOut>,
    pub allocations: Vec<AllocationOut>,
    /// The ids of the invoice's credit notes.
    pub credit_notes: Vec<String>,
    pub reminders: Vec<ReminderView>,
}

impl From<InvoiceDetail> for InvoiceDetailOut {
    fn from(d: InvoiceDetail) -> Self {
        let currency = d.invoice.currency.clone();
        let money = |units: i64| amount(&currency, units);
        let taxes = d.taxes.into_iter().map(|t: TaxRow| TaxOut {
            tax_rate: percent(t.tax_rate),
            lines_net: money(t.lines_net),
            discount: money(t.discount),
            taxable: money(t.taxable),
            tax: money(t.tax),
            tax_code: t.tax_code,
        });
        let allocations = d
            .allocations
            .into_iter()
            .map(|a: AllocationView| AllocationOut {
                amount: money(a.amount),
                id: a.id,
                source: a.source,
                payment_id: a.payment_id,
                credit_note_id: a.credit_note_id,
                created_at: a.created_at,
            });
        InvoiceDetailOut {
            amount_due: money(d.amount_due),
            lines: d
                .lines
                .into_iter()
                .map(|l| LineOut::new(&currency, l))
                .collect(),
            taxes: taxes.collect(),
            allocations: allocations.collect(),
            credit_notes: d.credit_notes,
            reminders: d.reminders,
            invoice: d.invoice.into(),
        }
    }
}

/// A payment received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentOut {
    pub id: String,
    pub client_id: i64,
    /// In the currency's places.
    pub amount: String,
    pub currency: String,
    pub received_on: String,
    pub method: String,
    pub reference: String,
    pub notes: String,
    pub created_by: Option<i64>,
    pub created_at: String,
}

impl From<PaymentRow> for PaymentOut {
    fn from(p: PaymentRow) -> Self {
        PaymentOut {
            amount: amount(&p.currency, p.amount),
            id: p.id,
            client_id: p.client_id,
            currency: p.currency,
            received_on: p.received_on,
            method: p.method,
            reference: p.reference,
            notes: p.notes,
            created_by: p.created_by,
            created_at: p.created_at,
        }
    }
}

/// The part of a payment that settles one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentAllocationOut {
    /// The invoice's id.
    pub invoice: String,
    pub amount: String,
}

/// A payment with its allocations and the part that became the client's credit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentDetailOut {
    #[serde(flatten)]
    pub payment: PaymentOut,
    pub allocations: Vec<PaymentAllocationOut>,
    pub unallocated: String,
}

impl From<PaymentDetail> for PaymentDetailOut {
    fn from(d: PaymentDetail) -> Self {
        let currency = d.payment.currency.clone();
        PaymentDetailOut {
            allocations: d
                .allocations
                .into_iter()
                .map(|(invoice, units)| PaymentAllocationOut {
                    invoice,
                    amount: amount(&currency, units),
                })
                .collect(),
            unallocated: amount(&currency, d.unallocated),
            payment: d.payment.into(),
        }
    }
}

/// One currency of a client's statement over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatementCurrencyOut {
    pub currency: String,
    /// What the client owed (positive) or was owed (negative) when the period began.
    pub opening_balance: String,
    pub invoiced: String,
    pub paid: String,
    pub credited: String,
    pub refunded: String,
    pub closing_balance: String,
    /// Σ the amounts due of its open invoices, and its credit, now.
    pub open_invoices_due: String,
    pub credit: String,
}

impl From<StatementCurrency> for StatementCurrencyOut {
    fn from(s: StatementCurrency) -> Self {
        let money = |units: i64| amount(&s.currency, units);
        StatementCurrencyOut {
            opening_balance: money(s.opening_balance),
            invoiced: money(s.invoiced),
            paid: money(s.paid),
            credited: money(s.credited),
            refunded: money(s.refunded),
            closing_balance: money(s.closing_balance),
            open_invoices_due: money(s.open_invoices_due),
            credit: money(s.credit),
            currency: s.currency,
        }
    }
}

/// One movement of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatementLineOut {
    pub date: String,
    /// `invoice`, `credit_note`, `payment` or `refund`.
    pub kind: String,
    pub reference: String,
    pub currency: String,
    /// What the line adds to the client's balance (an invoice adds, a payment subtracts).
    pub amount: String,
}

impl From<StatementLine> for StatementLineOut {
    fn from(l: StatementLine) -> Self {
        StatementLineOut {
            amount: amount(&l.currency, l.amount),
            date: l.date,
            kind: l.kind,
            reference: l.reference,
            currency: l.currency,
        }
    }
}

/// A client's statement: its movements and, per currency, its balances.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementOut {
    pub client_id: i64,
    pub from: String,
    pub to: String,
    pub lines: Vec<StatementLineOut>,
    pub currencies: Vec<StatementCurrencyOut>,
}

impl From<Statement> for StatementOut {
    fn from(s: Statement) -> Self {
        StatementOut {
            client_id: s.client_id,
            from: s.from,
            to: s.to,
            lines: s.lines.into_iter().map(Into::into).collect(),
            currencies: s.currencies.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> Result<DecimalText, String> {
        serde_json::from_str::<DecimalText>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn amounts_are_written_in_each_currencys_places() {
        assert_eq!(amount("EUR", 21255), "212.55");
        assert_eq!(amount("EUR", -5), "-0.05");
        assert_eq!(amount("IRR", 1_500_000), "1500000");
        assert_eq!(amount("USDT", 150_000_000), "1.50000000");
        assert_eq!(quantity(15_000), "1.5000");
        assert_eq!(percent(1900), "19.00");
    }

    #[test]
    fn requests_give_strings_or_exact_numbers_and_too_many_places_is_drfs_sentence() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(text("\"212.55\"").unwrap().amount(eur), Ok(21255));
        // A JSON number is read from its text: 0.1 + 0.2 style float error cannot happen.
        assert_eq!(text("0.30").unwrap().amount(eur), Ok(30));
        assert_eq!(text("1e2").unwrap().amount(eur), Ok(10_000));
        assert_eq!(
            text("1.005").unwrap().amount(eur),
            Err("Ensure that there are no more than 2 decimal places.".into())
        );
        assert_eq!(
            text("\"12x\"").unwrap().amount(eur),
            Err(INVALID.to_string())
        );
        assert_eq!(text("\"1.5\"").unwrap().quantity(), Ok(Quantity(15_000)));
        assert_eq!(text("19").unwrap().percent(), Ok(Percent(1900)));
        assert!(text("true").unwrap_err().contains(INVALID));
        assert!(text("[1]").unwrap_err().contains(INVALID));
    }
}
