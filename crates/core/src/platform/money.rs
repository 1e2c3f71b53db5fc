//! Exact money: an amount of USDT held as an integer count of its smallest unit (10⁻⁸).
//!
//! Amounts are stored as `BIGINT` on both databases, so they round-trip exactly, and they are
//! written in JSON as decimal strings with the currency's full scale (`"20.00000000"`). A single
//! stored amount fits in an `i64` (up to 92,233,720,368.54775807); sums of them are `i128`, so
//! no total can overflow.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};

use super::decimal::{format_scaled, parse_scaled, DecimalError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Decimal places of the fund's currency (USDT).
pub const SCALE: u32 = 8;
const UNITS_PER_WHOLE: i128 = 100_000_000;

/// An exact amount of the fund's currency. May be negative only as the result of arithmetic
/// (a difference); amounts read from requests are validated by the caller's rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i128);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is not a decimal number")]
    NotANumber,
    #[error("has more than {SCALE} decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

/// An amount outside what one `BIGINT` column holds, or an arithmetic result outside what an
/// amount can hold: refused as an error, never a panic or a wrapped value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount out of range")]
pub struct AmountOutOfRange;

impl AmountError {
    /// The original API's (pydantic's) name for this problem in a 422.
    pub fn kind(&self) -> &'static str {
        match self {
            AmountError::NotANumber => "decimal_parsing",
            AmountError::TooPrecise => "decimal_max_places",
            AmountError::TooLarge => "less_than_equal",
        }
    }

    /// The sentence of a 422 for this problem, worded as pydantic words it.
    pub fn message(&self) -> &'static str {
        match self {
            AmountError::NotANumber => "Input should be a valid decimal",
            AmountError::TooPrecise => "Decimal input should have no more than 8 decimal places",
            AmountError::TooLarge => "Input should be less than or equal to 92233720368.54775807",
        }
    }

    /// The problem whose [`AmountError::message`] is `message` (how a 422 finds it back in a
    /// serde error).
    pub fn from_message(message: &str) -> Option<AmountError> {
        [
            AmountError::NotANumber,
            AmountError::TooPrecise,
            AmountError::TooLarge,
        ]
        .into_iter()
        .find(|e| e.message() == message)
    }
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// An amount read from a `BIGINT` column.
    pub const fn from_units(units: i64) -> Self {
        Amount(units as i128)
    }

    /// A total read as two `BIGINT` sums, of whole units and of fractions (see
    /// `platform::db::split_sum`), so that the database never has to hold a sum that overflows.
    pub const fn from_split_sum(whole: i64, fraction_units: i64) -> Self {
        Amount(whole as i128 * UNITS_PER_WHOLE + fraction_units as i128)
    }

    /// An amount of `units` minor units, as computed by sums and splits of amounts (whole units
    /// beyond `i64` saturate, as [`Amount::from_split_sum`] bounds them).
    pub fn from_sum_units(units: i128) -> Self {
        Self::from_split_sum(
            i64::try_from(units / UNITS_PER_WHOLE).unwrap_or(i64::MAX),
            (units % UNITS_PER_WHOLE) as i64,
        )
    }

    /// Whole currency units, e.g. `Amount::whole(20)` is 20 USDT.
    pub const fn whole(n: i64) -> Self {
        Amount(n as i128 * UNITS_PER_WHOLE)
    }

    pub const fn units(self) -> i128 {
        self.0
    }

    /// Whether the amount fits in one `BIGINT` column.
    pub fn fits_column(self) -> bool {
        i64::try_from(self.0).is_ok()
    }

    /// The value for a `BIGINT` column, or [`AmountOutOfRange`] for an amount that does not
    /// fit. Binding the amount itself (`.bind(amount)`) does the same through sqlx.
    pub fn try_db_units(self) -> Result<i64, AmountOutOfRange> {
        i64::try_from(self.0).map_err(|_| AmountOutOfRange)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `self + other`, or [`AmountOutOfRange`] where the sum overflows.
    pub fn try_add(self, other: Amount) -> Result<Amount, AmountOutOfRange> {
        self.checked_add(other).ok_or(AmountOutOfRange)
    }

    /// `self − other`, or [`AmountOutOfRange`] where the difference overflows.
    pub fn try_sub(self, other: Amount) -> Result<Amount, AmountOutOfRange> {
        self.checked_sub(other).ok_or(AmountOutOfRange)
    }

    /// The amount as a float, for the draw's logarithms only (never for money arithmetic).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / UNITS_PER_WHOLE as f64
    }

    /// Parses a decimal: `"25.5"`, `"-3"`, `"0.00000001"`, and the exponent form JSON encoders
    /// write for small and large numbers (`1e-05`, `2.5E+3`). No spaces, no thousands separators.
    /// Trailing zeros beyond the scale are accepted (`"1.000000000"`), other extra digits are not,
    /// and one amount must fit in a `BIGINT` column. The value is computed exactly whatever the
    /// exponent: `5` followed by 56 zeros `e-100` is too precise, not 0.00000005.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        match parse_scaled(text, SCALE) {
            Ok(units) => Ok(Amount::from_units(units)),
            Err(DecimalError::NotANumber) => Err(AmountError::NotANumber),
            Err(DecimalError::TooPrecise(_)) => Err(AmountError::TooPrecise),
            Err(DecimalError::TooLarge) => Err(AmountError::TooLarge),
        }
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(self.0, SCALE))
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        Amount(iter.map(|a| a.0).sum())
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What serde says an amount must be when it gets another JSON type (a 422 recognises it).
pub const EXPECTING: &str = "a decimal number or a decimal string";

/// Accepts a JSON string or a JSON number. serde_json's `arbitrary_precision` feature hands a
/// number over as its exact text, so `12345678901.12345678` is not rounded through `f64`.
impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AmountVisitor;

        impl<'de> Visitor<'de> for AmountVisitor {
            type Value = Amount;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTING)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v.trim()).map_err(|e| E::custom(e.message()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Amount, A::Error> {
                // The shape serde_json uses for an arbitrary-precision number.
                let key: Option<String> = map.next_key()?;
                if key.as_deref() != Some("$serde_json::private::Number") {
                    return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
                }
                let text: String = map.next_value()?;
                self.visit_str(&text)
            }
        }

        deserializer.deserialize_any(AmountVisitor)
    }
}

/// An amount is a `BIGINT` column of units: it binds as one and reads back from one. An amount
/// that does not fit is refused with [`AmountOutOfRange`] (`try_bind` returns it; `bind` makes
/// the query fail with `sqlx::Error::Encode` before anything is sent).
impl sqlx::Type<sqlx::Any> for Amount {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for Amount {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <i64 as sqlx::Encode<'q, sqlx::Any>>::encode(self.try_db_units()?, buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Amount {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, sqlx::Any>>::decode(value).map(Amount::from_units)
    }
}

impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let as_string = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^-?\d{1,11}(\.\d{1,8})?$"))
            .examples(["20.00000000"]);
        let as_number = ObjectBuilder::new()
            .schema_type(Type::Number)
            .examples([20.5]);
        OneOfBuilder::new()
            .item(as_string)
            .item(as_number)
            .description(Some(
                "Exact USDT amount. Responses always give a decimal string with 8 decimal places; \
                 requests may also send a JSON number, read digit by digit (never through a float)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Amount {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_with_full_scale() {
        assert_eq!(Amount::parse("20").unwrap().to_string(), "20.00000000");
        assert_eq!(Amount::parse("25.5").unwrap().to_string(), "25.50000000");
        assert_eq!(Amount::parse("0.00000001").unwrap().units(), 1);
        assert_eq!(Amount::parse("-3.1").unwrap().to_string(), "-3.10000000");
        assert_eq!(Amount::parse("1.000000000").unwrap(), Amount::whole(1));
        assert_eq!(
            Amount::parse("12345678901.12345678").unwrap().to_string(),
            "12345678901.12345678"
        );
        assert_eq!(Amount::ZERO.to_string(), "0.00000000");
    }

    #[test]
    fn rejects_what_the_currency_cannot_hold() {
        assert_eq!(Amount::parse("0.000000001"), Err(AmountError::TooPrecise));
        assert_eq!(
            Amount::parse("123456789012345678901234567890"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            Amount::parse("99999999999.99999999"),
            Err(AmountError::TooLarge)
        );
        for bad in [
            "", ".", "-", "e5", "1e", "1e+", "1.2.3", " 1", "abc", "1,5", "0x10", "١٢", "1e5.5",
        ] {
            assert_eq!(Amount::parse(bad), Err(AmountError::NotANumber), "{bad:?}");
        }
    }

    #[test]
    fn exponent_forms_are_exact_decimals() {
        assert_eq!(Amount::parse("1e-05").unwrap().to_string(), "0.00001000");
        assert_eq!(Amount::parse("2.5E+3").unwrap(), Amount::whole(2500));
        assert_eq!(Amount::parse("1E2").unwrap(), Amount::whole(100));
        assert_eq!(Amount::parse("-1.5e1").unwrap().to_string(), "-15.00000000");
        assert_eq!(Amount::parse("1e-8").unwrap().units(), 1);
        assert_eq!(Amount::parse("0e999999").unwrap(), Amount::ZERO);
        assert_eq!(Amount::parse("1.20000e-7").unwrap().units(), 12);
        assert_eq!(Amount::parse("1e-9"), Err(AmountError::TooPrecise));
        assert_eq!(Amount::parse("1e10"), Ok(Amount::whole(10_000_000_000)));
        assert_eq!(Amount::parse("1e11"), Err(AmountError::TooLarge));
        assert_eq!(
            Amount::parse("1e99999999999999999999"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            Amount::parse("1e-99999999999999999999"),
            Err(AmountError::TooPrecise)
        );
    }

    /// Exponents used to be clamped to ±64, which moved the point of long mantissas: these two
    /// were read as 0.00000005 and 50000.
    #[test]
    fn large_exponents_are_exact_not_clamped() {
        let tiny = format!("5{}e-100", "0".repeat(56)); // 5 × 10^-44
        assert_eq!(Amount::parse(&tiny), Err(AmountError::TooPrecise));
        let huge = format!("0.{}5e100", "0".repeat(59)); // 5 × 10^40
        assert_eq!(Amount::parse(&huge), Err(AmountError::TooLarge));
        // The same shapes with values that fit are read exactly.
        let fits = format!("5{}e-100", "0".repeat(100)); // 5
        assert_eq!(Amount::parse(&fits), Ok(Amount::whole(5)));
        let fits = format!("0.{}5e100", "0".repeat(99)); // 5
        assert_eq!(Amount::parse(&fits), Ok(Amount::whole(5)));
        let fits = format!("0.{}25e70", "0".repeat(69)); // 2.5
        assert_eq!(Amount::parse(&fits).unwrap().to_string(), "2.50000000");
        assert_eq!(
            Amount::parse("1e0000000000000000000000000002"),
            Ok(Amount::whole(100))
        );
    }

    #[test]
    fn sums_beyond_one_column_stay_exact() {
        let max = Amount::parse("92233720368.54775807").unwrap();
        assert!(max.fits_column());
        let twice = max.checked_add(max).unwrap();
        assert!(!twice.fits_column());
        assert_eq!(twice.to_string(), "184467440737.09551614");
        assert_eq!(
            Amount::from_split_sum(3, 150_000_000).to_string(),
            "4.50000000"
        );
    }

    #[test]
    fn out_of_range_results_are_errors_not_panics() {
        let max = Amount::from_units(i64::MAX);
        let min = Amount::from_units(i64::MIN);
        assert_eq!(max.try_db_units(), Ok(i64::MAX));
        assert_eq!(min.try_db_units(), Ok(i64::MIN));
        let one = Amount::from_units(1);
        assert_eq!(
            max.try_add(one).unwrap().try_db_units(),
            Err(AmountOutOfRange)
        );
        assert_eq!(
            min.try_sub(one).unwrap().try_db_units(),
            Err(AmountOutOfRange)
        );
        let huge = Amount(i128::MAX);
        assert_eq!(huge.try_add(one), Err(AmountOutOfRange));
        assert_eq!(Amount(i128::MIN).try_sub(one), Err(AmountOutOfRange));
        assert_eq!(huge.try_sub(one), Ok(Amount(i128::MAX - 1)));
        assert_eq!(huge.try_db_units(), Err(AmountOutOfRange));
    }

    /// Binding an amount writes its units; one that does not fit fails the query (and writes
    /// nothing) with `AmountOutOfRange` instead of a panic.
    #[tokio::test]
    async fn amounts_bind_and_read_as_bigint_units() {
        use sqlx::Row;
        let db = crate::platform::db::Db::connect("sqlite::memory:", 1)
            .await
            .unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        sqlx::query("CREATE TABLE t (a BIGINT NOT NULL)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let max = Amount::from_units(i64::MAX);
        sqlx::query("INSERT INTO t (a) VALUES ($1)")
            .bind(max)
            .execute(&mut *conn)
            .await
            .unwrap();
        let too_big = max.try_add(Amount::from_units(1)).unwrap();
        let err = sqlx::query("INSERT INTO t (a) VALUES ($1)")
            .bind(too_big)
            .execute(&mut *conn)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, sqlx::Error::Encode(e) if e.to_string() == "Encoding argument $1 failed: amount out of range"),
            "{err:?}"
        );
        let mut query = sqlx::query("INSERT INTO t (a) VALUES ($1)");
        let refused = query.try_bind(too_big).unwrap_err();
        assert_eq!(refused.downcast_ref(), Some(&AmountOutOfRange));
        let rows = sqlx::query("SELECT a FROM t")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let read: Vec<Amount> = rows.iter().map(|r| r.try_get("a").unwrap()).collect();
        assert_eq!(read, [max]);
        let units: i64 = rows[0].try_get("a").unwrap();
        assert_eq!(units, i64::MAX);
    }

    #[test]
    fn json_numbers_keep_every_digit() {
        let a: Amount = serde_json::from_str("12345678901.12345678").unwrap();
        assert_eq!(a.to_string(), "12345678901.12345678");
        let b: Amount = serde_json::from_str("\"0.1\"").unwrap();
        assert_eq!(b.units(), 10_000_000);
        assert!(serde_json::from_str::<Amount>("1.123456789").is_err());
        assert!(serde_json::from_str::<Amount>("true").is_err());
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"0.10000000\"");
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    /// The exact value of `±whole.fraction × 10^exponent` in units of 10⁻⁸, computed with big
    /// integers: what [`Amount::parse`] must answer.
    fn exact(
        negative: bool,
        whole: &str,
        fraction: &str,
        exponent: i32,
    ) -> Result<Amount, AmountError> {
        use num_bigint::BigUint;
        let digits: BigUint = format!("0{whole}{fraction}").parse().unwrap();
        if digits == BigUint::from(0u8) {
            return Ok(Amount::ZERO);
        }
        let ten = BigUint::from(10u8);
        let shift = i64::from(exponent) - fraction.len() as i64 + i64::from(SCALE);
        let units = if shift >= 0 {
            digits * ten.pow(shift as u32)
        } else {
            let divisor = ten.pow((-shift) as u32);
            if &digits % &divisor != BigUint::from(0u8) {
                return Err(AmountError::TooPrecise);
            }
            digits / divisor
        };
        if units > BigUint::from(i64::MAX as u64) {
            return Err(AmountError::TooLarge);
        }
        let units = i128::from(u64::try_from(units).unwrap());
        Ok(Amount(if negative { -units } else { units }))
    }

    proptest! {
        /// Whatever text arrives, parsing answers (never panics), and what it accepts is exact.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,40}") {
            if let Ok(amount) = Amount::parse(&text) {
                prop_assert!(amount.fits_column());
            }
        }

        #[test]
        fn decimal_looking_text_never_panics(text in "[-+]?[0-9]{0,25}(\\.[0-9]{0,12})?([eE][-+]?[0-9]{0,4})?") {
            let _ = Amount::parse(&text);
        }

        /// Every amount a column holds is written and read back unchanged, as text and as JSON.
        #[test]
        fn every_storable_amount_round_trips(units in any::<i64>()) {
            let amount = Amount::from_units(units);
            prop_assert_eq!(Amount::parse(&amount.to_string()), Ok(amount));
            let json = serde_json::to_string(&amount).unwrap();
            prop_assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), amount);
            let number: Amount = serde_json::from_str(&amount.to_string()).unwrap();
            prop_assert_eq!(number, amount);
        }

        /// Against an exact big-number computation: whatever the digits and the exponent, the
        /// parser's answer is the exact value in units, or the right refusal.
        #[test]
        fn parsing_matches_exact_arithmetic(
            negative in any::<bool>(),
            whole in "[0-9]{0,40}",
            fraction in proptest::option::of("[0-9]{0,40}"),
            exponent in proptest::option::of(-160i32..160),
        ) {
            prop_assume!(!(whole.is_empty() && fraction.as_deref().unwrap_or("").is_empty()));
            let mut text = String::new();
            if negative {
                text.push('-');
            }
            text.push_str(&whole);
            if let Some(fraction) = &fraction {
                text.push('.');
                text.push_str(fraction);
            }
            if let Some(exponent) = exponent {
                text.push_str(&format!("e{exponent}"));
            }
            prop_assert_eq!(Amount::parse(&text), exact(negative, &whole, fraction.as_deref().unwrap_or(""), exponent.unwrap_or(0)), "{}", text);
        }

        /// Long mantissas whose exponent brings them back into range: the shapes of the bug.
        #[test]
        fn long_mantissas_with_large_exponents(
            digit in 1u8..=9,
            zeros in 0usize..120,
            exponent in -200i32..200,
            leading in any::<bool>(),
        ) {
            let text = if leading {
                format!("0.{}{digit}e{exponent}", "0".repeat(zeros))
            } else {
                format!("{digit}{}e{exponent}", "0".repeat(zeros))
            };
            let (whole, fraction) = if leading {
                ("0".to_string(), format!("{}{digit}", "0".repeat(zeros)))
            } else {
                (format!("{digit}{}", "0".repeat(zeros)), String::new())
            };
            prop_assert_eq!(Amount::parse(&text), exact(false, &whole, &fraction, exponent), "{}", text);
        }

        /// An amount fits a column exactly when its units are an `i64`; arithmetic answers the
        /// exact result or an error, whatever the operands.
        #[test]
        fn column_range_and_arithmetic_are_exact_or_refused(a in any::<i128>(), b in any::<i128>()) {
            let (x, y) = (Amount(a), Amount(b));
            prop_assert_eq!(x.try_db_units().ok(), i64::try_from(a).ok());
            prop_assert_eq!(x.try_db_units().is_ok(), x.fits_column());
            prop_assert_eq!(x.try_add(y).ok(), a.checked_add(b).map(Amount));
            prop_assert_eq!(x.try_sub(y).ok(), a.checked_sub(b).map(Amount));
        }

        /// Sums of two stored amounts never overflow, and fit a column exactly when the exact
        /// sum does.
        #[test]
        fn sums_of_stored_amounts(a in any::<i64>(), b in any::<i64>()) {
            let sum = Amount::from_units(a).try_add(Amount::from_units(b)).unwrap();
            prop_assert_eq!(sum.try_db_units().ok(), a.checked_add(b));
        }

        /// The exponent form means the same as the plain form.
        #[test]
        fn exponents_shift_the_point(mantissa in 0i64..1_000_000_000, exponent in -8i32..=2) {
            let plain = Amount::parse(&format!("{mantissa}e{exponent}"));
            let expected = if exponent >= 0 {
                Amount::parse(&format!("{}", mantissa as i128 * 10i128.pow(exponent as u32)))
            } else {
                let scale = 10i64.pow((-exponent) as u32);
                Amount::parse(&format!("{}.{:0width$}", mantissa / scale, mantissa % scale, width = (-exponent) as usize))
            };
            prop_assert_eq!(plain, expected);
        }
    }
}
