//! The one shape every export is written from: a document of titled tables whose cells keep
//! their type (an amount in its currency, a count, a date, a share), so that a spreadsheet gets
//! numbers it can sum and a CSV gets exact decimals. Labels arrive already in the reader's
//! language; this is plain data.

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

use crate::platform::currency::Currency;

/// An exact amount in a currency's minor units; JSON writes it as a decimal string with the
/// currency's places (`"1190.00"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    pub units: i128,
    pub currency: Currency,
}

impl Money {
    pub fn zero(currency: Currency) -> Money {
        Money { units: 0, currency }
    }

    pub fn new(units: i128, currency: Currency) -> Money {
        Money { units, currency }
    }

    /// `1190.00`.
    pub fn decimal(self) -> String {
        self.currency.format(self.units)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.decimal())
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An exact decimal amount with the currency's places (IRR 0, USD/EUR 2, USDT 8)",
            ))
            .examples([serde_json::json!("1190.00")])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    /// Text that names someone or something (a client, a username), as its owner wrote it:
    /// text everywhere, kept apart from the page's writing direction.
    Name(String),
    Count(i64),
    Money(Money),
    Date(NaiveDate),
    /// Tenths (days outstanding: 123 is 12.3).
    Tenths(i128),
    /// Basis points of a whole (1234 is 12.34 %).
    Share(i64),
    Empty,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    /// The value as plain text, without grouping or a currency sign: what a CSV holds and a
    /// page formats from.
    pub fn plain(&self) -> String {
        match self {
            Cell::Text(t) | Cell::Name(t) => t.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Money(m) => m.decimal(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Tenths(t) => crate::platform::decimal::format_scaled(*t, 1),
            Cell::Share(bp) => crate::platform::decimal::format_scaled(i128::from(*bp), 2),
            Cell::Empty => String::new(),
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Cell::Count(_) | Cell::Money(_) | Cell::Tenths(_) | Cell::Share(_)
        )
    }
}

/// A titled table: one sheet of a workbook, one CSV file, one section of a PDF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// Short and file-name safe (`monthly`): the CSV's file name, the sheet's name.
    pub name: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Per column: whether it holds numbers (any row has one there), to align them.
    pub fn numeric_columns(&self) -> Vec<bool> {
        (0..self.columns.len())
            .map(|i| {
                self.rows
                    .iter()
                    .any(|r| r.get(i).is_some_and(Cell::is_number))
            })
            .collect()
    }
}

/// A report as a file: its title, what it covers (period and filters, already written out),
/// and its tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub subtitle: String,
    /// `fa` documents are written right to left.
    pub rtl: bool,
    pub tables: Vec<Table>,
}

impl Document {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}
