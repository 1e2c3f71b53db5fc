//! A report's query parameters, read the same way by the API and the pages.

use std::collections::HashMap;

use chrono::NaiveDate;

use saghat_core::platform::currency::Currency;
use saghat_core::platform::lang::Lang;
use saghat_core::reports::fund::FundPeriod;
use saghat_core::reports::invoicing::Filter;
use saghat_core::reports::period::Period;
use saghat_core::reports::ReportError;

/// What a report is answered as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    Pdf,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Result<Format, ReportError> {
        match text.map(str::trim).unwrap_or("") {
            "" | "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            "pdf" => Ok(Format::Pdf),
            _ => Err(ReportError::invalid(
                "format",
                "Choose json, csv, xlsx or pdf",
            )),
        }
    }
}

/// How a report is answered: its form, the table a CSV holds, the language of a file's labels.
#[derive(Clone, Debug)]
pub struct Output {
    pub format: Format,
    pub table: Option<String>,
    pub lang: Lang,
}

/// A report asked for: its filter and how to answer.
#[derive(Clone, Debug)]
pub struct Asked {
    pub filter: Filter,
    pub out: Output,
}

fn get<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A month as typed, in Latin or Persian digits, with a hyphen or a slash (`۱۴۰۵/۰۹`, as
/// Persian dates are written), as the parser reads it (`1405-09`).
fn latin_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '/' => '-',
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            _ => c,
        })
        .collect()
}

/// The fund's period (`from`, `to`: Jalali months, the fund's own), the answer's form, a
/// CSV's table and a file's language.
pub struct FundAsked {
    pub period: FundPeriod,
    pub out: Output,
}

pub fn fund(
    params: &HashMap<String, String>,
    today: NaiveDate,
    default_lang: Lang,
) -> Result<FundAsked, ReportError> {
    if get(params, "calendar").is_some_and(|c| c != "jalali") {
        return Err(ReportError::invalid(
            "calendar",
            "The fund keeps Jalali months: leave calendar out or write jalali",
        ));
    }
    let asked = invoicing(params, today, default_lang)?;
    Ok(FundAsked {
        period: FundPeriod {
            from: asked.filter.period.from,
            to: asked.filter.period.to,
        },
        out: asked.out,
    })
}

/// `user_id` (a statement's member).
pub fn user_id(params: &HashMap<String, String>) -> Result<Option<i64>, ReportError> {
    match get(params, "user_id") {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or_else(|| ReportError::invalid("user_id", "A member is named by their number")),
    }
}

/// `calendar`, `from`, `to`, `currency`, `client_id`, `format`, `table`, `lang`.
pub fn invoicing(
    params: &HashMap<String, String>,
    today: NaiveDate,
    default_lang: Lang,
) -> Result<Asked, ReportError> {
    let (from, to) = (
        get(params, "from").map(latin_digits),
        get(params, "to").map(latin_digits),
    );
    let period = Period::parse(
        get(params, "calendar"),
        from.as_deref(),
        to.as_deref(),
        today,
    )?;
    let currency = match get(params, "currency") {
        None => None,
        Some(code) => Some(
            Currency::parse(&code.to_ascii_uppercase())
                .ok_or_else(|| ReportError::invalid("currency", "Choose IRR, USD, EUR or USDT"))?,
        ),
    };
    let client_id = match get(params, "client_id") {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    ReportError::invalid("client_id", "A client is named by its number")
                })?,
        ),
    };
    let lang = match get(params, "lang") {
        None => default_lang,
        Some(code) => {
            Lang::parse(code).ok_or_else(|| ReportError::invalid("lang", "Choose en or fa"))?
        }
    };
    Ok(Asked {
        filter: Filter {
            period,
            currency,
            client_id,
        },
        out: Output {
            format: Format::parse(get(params, "format"))?,
            table: get(params, "table").map(str::to_owned),
            lang,
        },
    })
}
