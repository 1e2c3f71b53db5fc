//! The currencies Saghat keeps books in, each with its ISO 4217 minor units. The fund is in
//! USDT (8 places, see `money`); invoices may be in any of these.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::decimal::{format_scaled, parse_scaled, DecimalError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Currency {
    /// Iranian rial: no minor unit in use.
    Irr,
    Usd,
    Eur,
    /// Tether, as the fund holds it: 8 places. Not an ISO 4217 code, so e-invoices refuse it.
    Usdt,
}

impl Currency {
    pub const ALL: [Currency; 4] = [Currency::Irr, Currency::Usd, Currency::Eur, Currency::Usdt];

    pub fn code(self) -> &'static str {
        match self {
            Currency::Irr => "IRR",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Usdt => "USDT",
        }
    }

    /// Decimal places of the currency's smallest unit.
    pub fn minor_units(self) -> u32 {
        match self {
            Currency::Irr => 0,
            Currency::Usd | Currency::Eur => 2,
            Currency::Usdt => 8,
        }
    }

    /// Whether the code is an ISO 4217 currency (what EN 16931 e-invoices require).
    pub fn is_iso_4217(self) -> bool {
        self != Currency::Usdt
    }

    /// The currency of an upper-case code (`"EUR"`), as requests and the database write it.
    pub fn parse(code: &str) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.code() == code)
    }

    /// An amount written in this currency (`"12.5"` EUR is 1250 cents), refusing more decimal
    /// places than the currency has.
    pub fn parse_amount(self, text: &str) -> Result<i64, DecimalError> {
        parse_scaled(text.trim(), self.minor_units())
    }

    /// Minor units written with the currency's places: 1250 EUR cents is `"12.50"`.
    pub fn format(self, units: i128) -> String {
        format_scaled(units, self.minor_units())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "\"{code}\" is not a supported currency (IRR, USD, EUR, USDT)"
            ))
        })
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Currency::ALL.map(Currency::code)))
            .description(Some(
                "ISO 4217 code (USDT as the fund uses it); amounts in it are decimal strings \
                 with its minor units: IRR 0, USD and EUR 2, USDT 8",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(Currency::Irr.parse_amount("1500000"), Ok(1_500_000));
        assert_eq!(
            Currency::Irr.parse_amount("1.5"),
            Err(DecimalError::TooPrecise(0))
        );
        assert_eq!(Currency::Eur.parse_amount("12.5"), Ok(1250));
        assert_eq!(Currency::Usdt.parse_amount("0.00000001"), Ok(1));
        assert_eq!(Currency::Eur.format(1250), "12.50");
        assert_eq!(Currency::Irr.format(1_500_000), "1500000");
        assert_eq!(Currency::Usdt.format(1), "0.00000001");
    }

    #[test]
    fn codes_round_trip() {
        for c in Currency::ALL {
            assert_eq!(Currency::parse(c.code()), Some(c));
        }
        assert_eq!(Currency::parse("eur"), None);
        assert_eq!(Currency::parse("GBP"), None);
    }
}
