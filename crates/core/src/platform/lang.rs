//! English and Persian as people read them: digits in the language's script, number grouping,
//! Jalali month names and dates. Shared by the web pages and the notifications.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

use super::currency::Currency;
use super::jalali::{jalali_date, jalali_of, JalaliMonth};
use super::money::Amount;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Fa,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "fa" => Some(Lang::Fa),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fa => "fa",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::En => "ltr",
            Lang::Fa => "rtl",
        }
    }

    /// Digits in the language's script (ASCII digits in English, ۰–۹ in Persian).
    pub fn digits(self, text: &str) -> String {
        match self {
            Lang::En => text.to_string(),
            Lang::Fa => text
                .chars()
                .map(|c| match c {
                    '0'..='9' => char::from_u32('۰' as u32 + (c as u32 - '0' as u32)).unwrap_or(c),
                    ',' => '٬',
                    '.' => '٫',
                    '%' => '٪',
                    other => other,
                })
                .collect(),
        }
    }

    /// Names joined as a list: `a, b` / `a، b`.
    pub fn list(self, items: &[String]) -> String {
        items.join(match self {
            Lang::En => ", ",
            Lang::Fa => "، ",
        })
    }

    /// An integer with thousands separators.
    pub fn int(self, n: i64) -> String {
        let sign = if n < 0 { "-" } else { "" };
        self.digits(&format!("{sign}{}", group(&n.unsigned_abs().to_string())))
    }

    /// An amount with thousands separators and at least two decimals: `1,234.50`,
    /// `0.00000001`. Exact: trailing zeros are dropped, never significant digits.
    pub fn amount(self, amount: Amount) -> String {
        self.digits(&plain_grouped(amount))
    }

    /// `Azar 1405` / `آذر ۱۴۰۵`.
    pub fn month(self, year: i64, month: i64) -> String {
        let names = match self {
            Lang::En => &MONTHS_EN,
            Lang::Fa => &MONTHS_FA,
        };
        let name = usize::try_from(month - 1)
            .ok()
            .and_then(|i| names.get(i))
            .copied()
            .unwrap_or("?");
        format!("{name} {}", self.digits(&year.to_string()))
    }

    /// A Gregorian month by name: `Nov 2026` / `نوامبر ۲۰۲۶`.
    pub fn gregorian_month(self, year: i64, month: i64) -> String {
        let names = match self {
            Lang::En => &MONTHS_GREGORIAN_EN,
            Lang::Fa => &MONTHS_GREGORIAN_FA,
        };
        let name = usize::try_from(month - 1)
            .ok()
            .and_then(|i| names.get(i))
            .copied()
            .unwrap_or("?");
        format!("{name} {}", self.digits(&year.to_string()))
    }

    /// A Jalali month by name: `Azar 1405` / `آذر ۱۴۰۵`.
    pub fn jalali_month(self, month: JalaliMonth) -> String {
        self.month(month.year.into(), month.month.into())
    }

    /// An amount of `currency` with thousands separators and all of the currency's places, as
    /// an invoice shows it: `1,234.50` EUR, `1,500,000` IRR, `۱٬۲۳۴٫۵۰` in Persian.
    pub fn money(self, currency: Currency, units: i128) -> String {
        let text = currency.format(units);
        let (sign, unsigned) = match text.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", text.as_str()),
        };
        let grouped = match unsigned.split_once('.') {
            Some((whole, fraction)) => format!("{}.{fraction}", group(whole)),
            None => group(unsigned),
        };
        self.digits(&format!("{sign}{grouped}"))
    }

    /// A currency as documents name it: its code in English, its name in Persian (`ریال`,
    /// `یورو`; USDT is `تتر`, as in the fund).
    pub fn currency(self, currency: Currency) -> &'static str {
        match (self, currency) {
            (Lang::En, c) => c.code(),
            (Lang::Fa, Currency::Irr) => "ریال",
            (Lang::Fa, Currency::Usd) => "دلار",
            (Lang::Fa, Currency::Eur) => "یورو",
            (Lang::Fa, Currency::Usdt) => "تتر",
        }
    }

    /// A calendar day as the language reads it: Gregorian in English (`1 Dec 2026`), Jalali in
    /// Persian (`۱۴۰۵/۰۹/۱۰`).
    pub fn civil_date(self, date: NaiveDate) -> String {
        match self {
            Lang::En => format!(
                "{} {} {}",
                date.day(),
                MONTHS_GREGORIAN_EN[date.month0() as usize],
                date.year()
            ),
            Lang::Fa => {
                let (y, m, d) = jalali_of(date);
                self.digits(&format!("{y}/{m:02}/{d:02}"))
            }
        }
    }

    /// A stored RFC 3339 timestamp as a Jalali date in the fund's time zone: `1405/09/01`.
    pub fn date(self, stored: &str, tz: Tz) -> String {
        match DateTime::parse_from_rfc3339(stored) {
            Ok(at) => {
                let (y, m, d) = jalali_date(at.with_timezone(&Utc), tz);
                self.digits(&format!("{y}/{m:02}/{d:02}"))
            }
            Err(_) => String::new(),
        }
    }
}

/// The amount without grouping and with trailing zeros trimmed: the value a form field shows.
pub fn plain(amount: Amount) -> String {
    let text = amount.to_string();
    let trimmed = text.trim_end_matches('0');
    match trimmed.strip_suffix('.') {
        Some(whole) => whole.to_string(),
        None => trimmed.to_string(),
    }
}

fn plain_grouped(amount: Amount) -> String {
    let text = amount.to_string();
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let mut fraction = fraction.trim_end_matches('0').to_string();
    while fraction.len() < 2 {
        fraction.push('0');
    }
    format!("{sign}{}.{fraction}", group(whole))
}

fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a person may type into an amount field: Persian or Arabic-Indic digits, the Persian
/// decimal separator, and grouping separators are turned into what `Amount::parse` reads.
pub fn normalize_number(input: &str) -> String {
    input
        .trim()
        .chars()
        .filter(|c| !matches!(c, '٬' | ' ' | '\u{a0}' | '_'))
        .map(|c| match c {
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            '٫' => '.',
            other => other,
        })
        .collect()
}

const MONTHS_GREGORIAN_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

const MONTHS_GREGORIAN_FA: [&str; 12] = [
    "ژانویه",
    "فوریه",
    "مارس",
    "آوریل",
    "مه",
    "ژوئن",
    "ژوئیه",
    "اوت",
    "سپتامبر",
    "اکتبر",
    "نوامبر",
    "دسامبر",
];

const MONTHS_EN: [&str; 12] = [
    "Farvardin",
    "Ordibehesht",
    "Khordad",
    "Tir",
    "Mordad",
    "Shahrivar",
    "Mehr",
    "Aban",
    "Azar",
    "Dey",
    "Bahman",
    "Esfand",
];

const MONTHS_FA: [&str; 12] = [
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_exact_and_in_the_languages_digits() {
        let a = Amount::parse("1234567.5").unwrap();
        assert_eq!(Lang::En.amount(a), "1,234,567.50");
        assert_eq!(Lang::Fa.amount(a), "۱٬۲۳۴٬۵۶۷٫۵۰");
        assert_eq!(Lang::En.amount(Amount::from_units(1)), "0.00000001");
        assert_eq!(Lang::En.amount(Amount::ZERO), "0.00");
        assert_eq!(Lang::En.amount(Amount::whole(-1000)), "-1,000.00");
        assert_eq!(Lang::En.int(1405), "1,405");
        assert_eq!(Lang::Fa.int(20), "۲۰");
        assert_eq!(plain(Amount::parse("20.5").unwrap()), "20.5");
        assert_eq!(plain(Amount::whole(20)), "20");
    }

    #[test]
    fn money_keeps_the_currencys_places() {
        assert_eq!(Lang::En.money(Currency::Eur, 123_450), "1,234.50");
        assert_eq!(Lang::En.money(Currency::Irr, 1_500_000), "1,500,000");
        assert_eq!(Lang::Fa.money(Currency::Irr, 1_500_000), "۱٬۵۰۰٬۰۰۰");
        assert_eq!(Lang::En.money(Currency::Usdt, 1), "0.00000001");
        assert_eq!(Lang::En.money(Currency::Usd, -5), "-0.05");
    }

    #[test]
    fn currencies_are_codes_in_english_and_names_in_persian() {
        assert_eq!(Lang::En.currency(Currency::Eur), "EUR");
        assert_eq!(Lang::Fa.currency(Currency::Irr), "ریال");
        assert_eq!(Lang::Fa.currency(Currency::Usdt), "تتر");
    }

    #[test]
    fn civil_dates_are_gregorian_in_english_and_jalali_in_persian() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(Lang::En.civil_date(day), "1 Dec 2026");
        assert_eq!(Lang::Fa.civil_date(day), "۱۴۰۵/۰۹/۱۰");
    }

    #[test]
    fn persian_input_is_read_as_a_number() {
        assert_eq!(normalize_number(" ۲۰٫۵ "), "20.5");
        assert_eq!(normalize_number("١٢٣"), "123");
        assert_eq!(normalize_number("۱٬۰۰۰"), "1000");
        assert_eq!(
            Amount::parse(&normalize_number("۲۵")),
            Ok(Amount::whole(25))
        );
    }

    #[test]
    fn months_and_dates_are_jalali() {
        assert_eq!(Lang::En.month(1405, 9), "Azar 1405");
        assert_eq!(Lang::Fa.month(1405, 9), "آذر ۱۴۰۵");
        assert_eq!(
            Lang::En.date("2026-11-22T12:00:00.000000Z", Tz::UTC),
            "1405/09/01"
        );
        assert_eq!(
            Lang::Fa.date("2026-11-22T12:00:00.000000Z", Tz::UTC),
            "۱۴۰۵/۰۹/۰۱"
        );
    }
}
