//! Exact decimals as integers of a fixed scale: `"12.5"` at scale 2 is 1250. Money in every
//! currency (by its minor units), invoice quantities (4 places) and percentages (2 places) are
//! read and written through these two functions, so no value ever passes through a float.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("is not a decimal number")]
    NotANumber,
    #[error("has more than {0} decimal places")]
    TooPrecise(u32),
    #[error("is too large")]
    TooLarge,
}

/// Parses a decimal into units of 10^-`scale`: `"25.5"`, `"-3"`, `"0.00000001"`, and the
/// exponent form JSON encoders write (`1e-05`, `2.5E+3`). No spaces or thousands separators.
/// Trailing zeros beyond the scale are accepted (`"1.000"` at scale 2), other extra digits are
/// not, and the result must fit in an `i64` (one `BIGINT` column). Exact whatever the
/// exponent: `5` followed by 56 zeros `e-100` is too precise, not a small number.
pub fn parse_scaled(text: &str, scale: u32) -> Result<i64, DecimalError> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, parse_exponent(e)?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(DecimalError::NotANumber);
    }
    // The value is `significant` × 10^`shift` units, with `significant` free of leading and
    // trailing zeros, so the shift alone says whether it is a whole number of units and how
    // many digits it has.
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    let trailing_zeros = digits.len() - digits.trim_end_matches('0').len();
    let shift = exponent - fraction.len() as i128 + trailing_zeros as i128 + i128::from(scale);
    if shift < 0 {
        return Err(DecimalError::TooPrecise(scale));
    }
    // i64::MAX has 19 digits.
    if significant.len() as i128 + shift > 19 {
        return Err(DecimalError::TooLarge);
    }
    let units = significant
        .parse::<i128>()
        .map_err(|_| DecimalError::TooLarge)?
        * 10_i128.pow(shift as u32);
    let units = i64::try_from(units).map_err(|_| DecimalError::TooLarge)?;
    Ok(if negative { -units } else { units })
}

/// The exponent of `1e-5`, saturated far beyond any digit count a request can carry (so that
/// `1e99999999999999999999` is simply too large), never clamped to a value that changes the
/// meaning of a number that fits.
fn parse_exponent(text: &str) -> Result<i128, DecimalError> {
    const SATURATED: i128 = 1_000_000_000_000_000_000_000_000_000;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::NotANumber);
    }
    let value = digits.bytes().fold(0_i128, |acc, b| {
        (acc * 10 + i128::from(b - b'0')).min(SATURATED)
    });
    Ok(if text.starts_with('-') { -value } else { value })
}

/// Units of 10^-`scale` written with exactly `scale` decimal places: `format_scaled(1250, 2)`
/// is `"12.50"`, `format_scaled(7, 0)` is `"7"`.
pub fn format_scaled(units: i128, scale: u32) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let per = 10_u128.pow(scale);
    let mut out = format!("{sign}{}", abs / per);
    if scale > 0 {
        let _ = write!(out, ".{:0width$}", abs % per, width = scale as usize);
    }
    out
}

/// [`format_scaled`] without the trailing zeros of the fraction (`"1.5"`, `"2"`), for
/// quantities and rates, which read better short.
pub fn format_scaled_short(units: i128, scale: u32) -> String {
    let full = format_scaled(units, scale);
    if scale == 0 {
        return full;
    }
    full.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `numerator / denominator` rounded half away from zero (EN 16931's rounding, and what an
/// accountant does by hand). `denominator` must be positive.
pub fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0);
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.unsigned_abs() * 2 >= denominator.unsigned_abs() {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_at_each_scale() {
        assert_eq!(parse_scaled("12.5", 2), Ok(1250));
        assert_eq!(parse_scaled("12", 0), Ok(12));
        assert_eq!(parse_scaled("1.2345", 4), Ok(12345));
        assert_eq!(parse_scaled("0.00000001", 8), Ok(1));
        assert_eq!(parse_scaled("-3", 2), Ok(-300));
        assert_eq!(parse_scaled("2.5E+3", 0), Ok(2500));
        assert_eq!(parse_scaled("1.000", 2), Ok(100));
        assert_eq!(parse_scaled("12.5", 0), Err(DecimalError::TooPrecise(0)));
        assert_eq!(parse_scaled("1.23456", 4), Err(DecimalError::TooPrecise(4)));
        assert_eq!(parse_scaled("1,5", 2), Err(DecimalError::NotANumber));
        assert_eq!(parse_scaled("", 2), Err(DecimalError::NotANumber));
        assert_eq!(parse_scaled(".", 2), Err(DecimalError::NotANumber));
        assert_eq!(
            parse_scaled("1e99999999999999999999", 2),
            Err(DecimalError::TooLarge)
        );
        assert_eq!(
            parse_scaled("92233720368547758.08", 2),
            Err(DecimalError::TooLarge)
        );
        assert_eq!(parse_scaled("92233720368547758.07", 2), Ok(i64::MAX));
    }

    #[test]
    fn formats_with_the_scale() {
        assert_eq!(format_scaled(1250, 2), "12.50");
        assert_eq!(format_scaled(-5, 2), "-0.05");
        assert_eq!(format_scaled(7, 0), "7");
        assert_eq!(format_scaled(1, 8), "0.00000001");
        assert_eq!(format_scaled_short(15000, 4), "1.5");
        assert_eq!(format_scaled_short(20000, 4), "2");
        assert_eq!(format_scaled_short(900, 2), "9");
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(div_round_half_away(5, 10), 1);
        assert_eq!(div_round_half_away(4, 10), 0);
        assert_eq!(div_round_half_away(-5, 10), -1);
        assert_eq!(div_round_half_away(-4, 10), 0);
        assert_eq!(div_round_half_away(15, 10), 2);
        assert_eq!(div_round_half_away(25, 10), 3);
        assert_eq!(div_round_half_away(100, 10), 10);
    }
}
