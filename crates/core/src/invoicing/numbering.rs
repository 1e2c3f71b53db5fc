//! Invoice numbers from a pattern (`INVOICE_NUMBER_PATTERN`): `{series}-{year}-{seq:6}` makes
//! `INV-1405-000123`. The sequence is gapless per (series, year); the service takes it from the
//! `number_series` row inside the send transaction, this module only writes it out.

use chrono::{Datelike, NaiveDate};

use super::calendar::to_jalali;

pub const DEFAULT_PATTERN: &str = "{series}-{year}-{seq:6}";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error(
        "unknown placeholder {{{0}}}: use {{series}}, {{year}}, {{gyear}} and {{seq}} or {{seq:N}}"
    )]
    Unknown(String),
    #[error("the pattern must contain {{seq}} or {{seq:N}} exactly once")]
    NoSequence,
    #[error("an unclosed {{")]
    Unclosed,
    #[error("the pattern must contain {{year}} or {{gyear}}: numbers restart each year")]
    NoYear,
}

enum Piece<'a> {
    Text(&'a str),
    Series,
    Year,
    GregorianYear,
    Seq(usize),
}

fn pieces(pattern: &str) -> Result<Vec<Piece<'_>>, PatternError> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let close = rest[open..].find('}').ok_or(PatternError::Unclosed)? + open;
        let name = &rest[open + 1..close];
        out.push(match name {
            "series" => Piece::Series,
            "year" => Piece::Year,
            "gyear" => Piece::GregorianYear,
            "seq" => Piece::Seq(1),
            _ => match name
                .strip_prefix("seq:")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(width) if (1..=12).contains(&width) => Piece::Seq(width),
                _ => return Err(PatternError::Unknown(name.to_string())),
            },
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Refuses a pattern that could not number invoices uniquely.
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    let pieces = pieces(pattern)?;
    if pieces.iter().filter(|p| matches!(p, Piece::Seq(_))).count() != 1 {
        return Err(PatternError::NoSequence);
    }
    if !pieces
        .iter()
        .any(|p| matches!(p, Piece::Year | Piece::GregorianYear))
    {
        return Err(PatternError::NoYear);
    }
    Ok(())
}

/// Whether the pattern numbers by the Gregorian year (`{gyear}`) rather than the Jalali one.
pub fn uses_gregorian_year(pattern: &str) -> bool {
    pattern.contains("{gyear}")
}

/// The year an invoice issued on `issue_date` is numbered in.
pub fn numbering_year(pattern: &str, issue_date: NaiveDate) -> i32 {
    if uses_gregorian_year(pattern) {
        issue_date.year()
    } else {
        to_jalali(issue_date).0
    }
}

/// The number of the `seq`-th invoice of `series` in the year of `issue_date`.
pub fn format_number(
    pattern: &str,
    series: &str,
    issue_date: NaiveDate,
    seq: i64,
) -> Result<String, PatternError> {
    let mut out = String::new();
    for piece in pieces(pattern)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Series => out.push_str(series),
            Piece::Year => out.push_str(&to_jalali(issue_date).0.to_string()),
            Piece::GregorianYear => out.push_str(&issue_date.year().to_string()),
            Piece::Seq(width) => out.push_str(&format!("{seq:0width$}")),
        }
    }
    Ok(out)
}

/// The first invoice number-like word in a payment reference (`INV-1405-000007`, any case),
/// upper-cased, for `series` under the default shape `SERIES-digits-digits`. The service
/// confirms it against the stored numbers, so a false match only finds nothing.
pub fn number_in_reference(reference: &str, series: &str) -> Option<String> {
    let upper = reference.to_ascii_uppercase();
    let series = series.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut from = 0;
    while let Some(found) = upper[from..].find(&series) {
        let start = from + found;
        // Not the tail of a longer word ("XINV-…").
        let boundary = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let mut end = start + series.len();
        let mut groups = 0;
        while end < bytes.len() && bytes[end] == b'-' {
            let digits = bytes[end + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits == 0 {
                break;
            }
            end += 1 + digits;
            groups += 1;
        }
        let after_ok = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if boundary && groups >= 2 && after_ok {
            return Some(upper[start..end].to_string());
        }
        from = start + series.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_default_pattern_uses_the_jalali_year() {
        assert_eq!(
            format_number(DEFAULT_PATTERN, "INV", d(2026, 12, 1), 123).unwrap(),
            "INV-1405-000123"
        );
        // 20 March 2026 is still 1404.
        assert_eq!(
            format_number(DEFAULT_PATTERN, "CN", d(2026, 3, 20), 7).unwrap(),
            "CN-1404-000007"
        );
        assert_eq!(numbering_year(DEFAULT_PATTERN, d(2026, 3, 20)), 1404);
        assert_eq!(
            format_number("{series}/{gyear}/{seq:4}", "INV", d(2026, 3, 20), 42).unwrap(),
            "INV/2026/0042"
        );
        assert_eq!(
            numbering_year("{series}/{gyear}/{seq}", d(2026, 3, 20)),
            2026
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(check_pattern(DEFAULT_PATTERN).is_ok());
        assert_eq!(
            check_pattern("{series}-{year}"),
            Err(PatternError::NoSequence)
        );
        assert_eq!(check_pattern("{series}-{seq}"), Err(PatternError::NoYear));
        assert_eq!(
            check_pattern("{seq}-{seq}-{year}"),
            Err(PatternError::NoSequence)
        );
        assert_eq!(
            check_pattern("{series}-{month}-{seq}-{year}"),
            Err(PatternError::Unknown("month".into()))
        );
        assert_eq!(
            check_pattern("{series-{seq}"),
            Err(PatternError::Unknown("series-{seq".into()))
        );
        assert_eq!(check_pattern("{year}-{seq"), Err(PatternError::Unclosed));
    }

    #[test]
    fn references_name_invoice_numbers_in_any_case() {
        assert_eq!(
            number_in_reference("transfer for inv-1405-000007, thanks", "INV").as_deref(),
            Some("INV-1405-000007")
        );
        assert_eq!(number_in_reference("INV-1405", "INV"), None);
        assert_eq!(number_in_reference("XINV-1405-000007", "INV"), None);
        assert_eq!(number_in_reference("paid INV-1405-00000A", "INV"), None);
        assert_eq!(
            number_in_reference("INV-1405-000007INV-1405-000008", "INV"),
            None
        );
        assert_eq!(
            number_in_reference("ref INV-x INV-1405-000009", "INV").as_deref(),
            Some("INV-1405-000009")
        );
    }
}
