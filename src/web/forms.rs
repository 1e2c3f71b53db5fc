//! Form input and errors: reading amounts people type, and putting each API error next to the
//! field it concerns (never showing raw JSON).

use super::i18n::{normalize_number, Lang};
use axum::http::StatusCode;

use crate::auth::error::AuthError;
use crate::platform::error::ApiError;
use crate::platform::money::Amount;

/// Errors of one form: per field, and for the form as a whole.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    fields: Vec<(String, String)>,
    general: Vec<String>,
}

impl FormErrors {
    /// The error shown next to `field`, if any.
    pub fn field(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn general(&self) -> &[String] {
        &self.general
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    /// Adds an error; the first one per field is kept (it is the one to fix first).
    pub fn add(&mut self, field: Option<&str>, message: impl Into<String>) {
        match field {
            Some(f) if self.field(f).is_none() => self.fields.push((f.into(), message.into())),
            Some(_) => {}
            None => self.general.push(message.into()),
        }
    }

    /// The errors of a refused action, each placed next to its field when it names one of
    /// `fields`. Errors that are not about the input (a bug, the database down) are returned
    /// as they are, to be answered like the API would.
    pub fn from_api(
        err: impl Into<ApiError>,
        lang: Lang,
        fields: &[&str],
    ) -> Result<FormErrors, ApiError> {
        let mut errors = FormErrors::default();
        fn place<'a>(fields: &[&str], field: Option<&'a str>) -> Option<&'a str> {
            field.filter(|f| fields.contains(f))
        }
        match err.into() {
            ApiError::Validation(problems) => {
                for p in problems {
                    let field = p.loc.get(1).map(String::as_str);
                    errors.add(place(fields, field), localize(&p.msg, lang));
                }
            }
            ApiError::Auth(AuthError::InvalidCredentials) => {
                errors.add(place(fields, Some("password")), lang.t("invalid_login"))
            }
            e @ (ApiError::Pay(_) | ApiError::Draw(_) | ApiError::Auth(_))
                if !matches!(e.status(), StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED) =>
            {
                let detail = e.to_string();
                errors.add(place(fields, field_of(&detail)), localize(&detail, lang))
            }
            ApiError::BadRequest(detail)
            | ApiError::Conflict(detail)
            | ApiError::BadGateway(detail)
            | ApiError::Unavailable(detail)
            | ApiError::TooManyRequests { detail, .. } => {
                errors.add(place(fields, field_of(&detail)), localize(&detail, lang))
            }
            other => return Err(other),
        }
        Ok(errors)
    }
}

/// The form field an API error sentence is about (see `docs/api-fund.md`).
fn field_of(detail: &str) -> Option<&'static str> {
    if detail.starts_with("Membership fee") {
        Some("membership_fee")
    } else if detail.contains("Bitpin payment") {
        Some("bitpin_payment_id")
    } else if detail.starts_with("Loan repayment")
        || detail.starts_with("Loan payment")
        || detail.contains("active loan")
    {
        Some("loan")
    } else if detail.starts_with("Username") {
        Some("username")
    } else if detail.starts_with("Invalid username or password") {
        Some("password")
    } else {
        None
    }
}

/// The API's sentences people meet in forms, in the page's language and with the page's
/// numbers: amounts with the page's precision (`20.00`, not `20.00000000`), months by name
/// (`Azar 1405`, not `1405/9`). A sentence we do not know is shown as the API wrote it, with
/// its numbers so written.
pub fn localize(detail: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return humanize(
            &detail.replacen("membership_fee", "Membership fee", 1),
            lang,
        );
    }
    let after = |prefix: &str| detail.strip_prefix(prefix).map(|rest| humanize(rest, lang));
    // The original API's wording: "Membership fee 19 is less than minimum required 20".
    let minimum_of = |subject: &str| {
        detail
            .strip_prefix(subject)
            .and_then(|rest| rest.split_once(" is less than minimum required "))
            .map(|(_, min)| humanize(min, lang))
    };
    let fa = if detail == "Field required" {
        Some(lang.t("required").to_string())
    } else if let Some(month) = after("Payment already submitted for ") {
        Some(format!("پرداخت ماه {month} قبلاً ثبت شده است"))
    } else if detail == "This Bitpin payment id has already been used" {
        Some("این شناسه پرداخت بیت‌پین قبلاً استفاده شده است".into())
    } else if let Some(why) = after("Bitpin payment verification failed: ") {
        Some(format!("تأیید پرداخت بیت‌پین ناموفق بود: {why}"))
    } else if let Some(min) = minimum_of("Membership fee ") {
        Some(format!("حق عضویت باید دست‌کم {min} باشد"))
    } else if let Some(min) = minimum_of("Loan payment ") {
        Some(format!("قسط وام باید دست‌کم {min} باشد"))
    } else if detail.starts_with("You have an active loan") {
        Some("وام فعال دارید: مبلغ قسط وام را وارد کنید".into())
    } else if detail.starts_with("You do not have an active loan") {
        Some("وام فعالی ندارید: قسط وام را خالی بگذارید".into())
    } else if let Some((paid, owed)) = detail
        .strip_prefix("Loan repayment ")
        .and_then(|rest| rest.split_once(" exceeds the loan's remaining balance "))
    {
        Some(format!(
            "قسط وام ({}) از مانده وام ({}) بیشتر است",
            humanize(paid, lang),
            humanize(owed, lang)
        ))
    } else if detail.starts_with("Loan repayment") && detail.contains("exceeds") {
        Some("قسط وام از مانده وام بیشتر است".into())
    } else if let Some(rest) = detail.strip_prefix("Not all users have paid for ") {
        Some(match rest.split_once(". Unpaid: ") {
            Some((month, names)) => format!(
                "همه اعضا برای {} پرداخت نکرده‌اند. پرداخت‌نکرده: {}",
                humanize(month, lang),
                humanize(names, lang)
            ),
            None => format!("همه اعضا پرداخت نکرده‌اند: {}", humanize(rest, lang)),
        })
    } else if let Some(month) = after("Loan assignment already done for ") {
        Some(format!("قرعه‌کشی ماه {month} قبلاً انجام شده است"))
    } else if detail == "Username already exists" {
        Some("این نام کاربری قبلاً ثبت شده است".into())
    } else if detail == "You cannot deactivate or demote yourself" {
        Some("نمی‌توانید خودتان را غیرفعال کنید یا نقش خود را پایین بیاورید".into())
    } else {
        None
    };
    fa.unwrap_or_else(|| humanize(detail, lang))
}

/// The numbers of a sentence as the page writes them: an amount (`20.00000000`) with the
/// page's precision, a Jalali month (`1405/9`) by name, other numbers in the language's digits;
/// in Persian, lists take the Persian comma.
pub fn humanize(text: &str, lang: Lang) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(start);
        out.push_str(&words(before, lang));
        let run = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let whole = run(from);
        let (number, tail) = from.split_at(whole);
        let mut consumed = whole;
        let mut shown = lang.digits(number);
        if let Some(after) = tail.strip_prefix('.').filter(|t| run(t) > 0) {
            let text = &from[..whole + 1 + run(after)];
            if let Ok(amount) = crate::platform::money::Amount::parse(text) {
                (shown, consumed) = (lang.amount(amount), text.len());
            }
        } else if let Some(after) = tail.strip_prefix('/').filter(|t| (1..=2).contains(&run(t))) {
            let month: i64 = after[..run(after)].parse().unwrap_or(0);
            if number.len() == 4 && (1..=12).contains(&month) {
                let year: i64 = number.parse().unwrap_or(0);
                (shown, consumed) = (lang.month(year, month), whole + 1 + run(after));
            }
        }
        out.push_str(&shown);
        rest = &from[consumed..];
    }
    out.push_str(&words(rest, lang));
    out
}

fn words(text: &str, lang: Lang) -> String {
    match lang {
        Lang::En => text.to_string(),
        Lang::Fa => text.replace(", ", "، "),
    }
}

/// Reads an amount field. Empty is `None` (an error too when `required`); a value that is not
/// an amount of the currency gets an error next to the field.
pub fn amount_field(
    errors: &mut FormErrors,
    lang: Lang,
    field: &str,
    raw: &str,
    required: bool,
) -> Option<Amount> {
    let text = normalize_number(raw);
    if text.is_empty() {
        if required {
            errors.add(Some(field), lang.t("required"));
        }
        return None;
    }
    match Amount::parse(&text) {
        Ok(amount) if amount.fits_column() => Some(amount),
        _ => {
            errors.add(Some(field), lang.t("bad_amount"));
            None
        }
    }
}

/// Reads an optional integer field (the loan history's filters, the repayment months).
pub fn int_field(errors: &mut FormErrors, lang: Lang, field: &str, raw: &str) -> Option<i64> {
    let text = normalize_number(raw);
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(Some(field), lang.t("bad_integer"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::error::FieldError;

    const PAY: &[&str] = &[
        "membership_fee",
        "loan",
        "bitpin_payment_id",
        "loan_request_amount",
    ];

    fn placed(err: ApiError) -> FormErrors {
        FormErrors::from_api(err, Lang::En, PAY).unwrap()
    }

    #[test]
    fn api_errors_go_next_to_their_field() {
        let e = placed(ApiError::bad_request(
            "Membership fee 19.50000000 is less than minimum required 20.00000000",
        ));
        assert_eq!(
            e.field("membership_fee"),
            Some("Membership fee 19.50 is less than minimum required 20.00")
        );
        let e = placed(ApiError::conflict(
            "This Bitpin payment id has already been used",
        ));
        assert!(e.field("bitpin_payment_id").is_some());
        let e = placed(ApiError::bad_request(
            "You have an active loan. Loan repayment amount is required.",
        ));
        assert!(e.field("loan").is_some());
        let e = placed(ApiError::Validation(vec![FieldError::body(
            "loan_request_amount",
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        )]));
        assert!(e.field("loan_request_amount").is_some());
        let e = placed(ApiError::conflict("Payment already submitted for 1405/9"));
        assert_eq!(e.general(), ["Payment already submitted for Azar 1405"]);
        assert!(
            FormErrors::from_api(ApiError::Internal(anyhow::anyhow!("bug")), Lang::En, PAY)
                .is_err()
        );
    }

    #[test]
    fn known_sentences_are_translated() {
        assert_eq!(
            localize("Payment already submitted for 1405/9", Lang::Fa),
            "پرداخت ماه آذر ۱۴۰۵ قبلاً ثبت شده است"
        );
        assert_eq!(localize("Something new", Lang::Fa), "Something new");
        assert_eq!(
            localize(
                "Not all users have paid for 1405/12. Unpaid: admin, omid",
                Lang::Fa
            ),
            "همه اعضا برای اسفند ۱۴۰۵ پرداخت نکرده‌اند. پرداخت‌نکرده: admin، omid"
        );
        assert_eq!(
            localize(
                "Loan repayment 41.00000000 exceeds the loan's remaining balance 40.00000000",
                Lang::Fa
            ),
            "قسط وام (۴۱٫۰۰) از مانده وام (۴۰٫۰۰) بیشتر است"
        );
    }

    #[test]
    fn the_original_apis_wording_is_understood_too() {
        let e = placed(ApiError::bad_request(
            "Membership fee 19.50000000 is less than minimum required 20.00000000",
        ));
        assert_eq!(
            e.field("membership_fee"),
            Some("Membership fee 19.50 is less than minimum required 20.00")
        );
        let e = placed(ApiError::bad_request(
            "Loan payment 5.00000000 is less than minimum required 20.00000000",
        ));
        assert!(e.field("loan").is_some());
        for (api, fa) in [
            (
                "Membership fee 19.50000000 is less than minimum required 20.00000000",
                "حق عضویت باید دست‌کم ۲۰٫۰۰ باشد",
            ),
            (
                "Loan payment 5.00000000 is less than minimum required 20.00000000",
                "قسط وام باید دست‌کم ۲۰٫۰۰ باشد",
            ),
            (
                "You do not have an active loan. Loan payment must be null.",
                "وام فعالی ندارید: قسط وام را خالی بگذارید",
            ),
            (
                "Loan assignment already done for 1405/9",
                "قرعه‌کشی ماه آذر ۱۴۰۵ قبلاً انجام شده است",
            ),
        ] {
            assert_eq!(localize(api, Lang::Fa), fa, "{api}");
        }
    }

    #[test]
    fn numbers_in_sentences_take_the_pages_precision_and_month_names() {
        assert_eq!(
            localize(
                "Membership fee 19.50000000 is less than minimum required 20.00000000",
                Lang::En
            ),
            "Membership fee 19.50 is less than minimum required 20.00"
        );
        assert_eq!(
            localize(
                "Membership fee 19.50000000 is less than minimum required 1234.50000000",
                Lang::Fa
            ),
            "حق عضویت باید دست‌کم ۱٬۲۳۴٫۵۰ باشد"
        );
        assert_eq!(
            localize("Loan assignment already done for 1405/9", Lang::En),
            "Loan assignment already done for Azar 1405"
        );
        assert_eq!(
            humanize(
                "requests above the fund's available cash of 0.00000001: a, b",
                Lang::En
            ),
            "requests above the fund's available cash of 0.00000001: a, b"
        );
        // Not a month, not an amount: only the digits change.
        assert_eq!(
            humanize("1405/13 and 12/3 and 7.", Lang::Fa),
            "۱۴۰۵/۱۳ and ۱۲/۳ and ۷."
        );
        assert_eq!(humanize("bp-2", Lang::Fa), "bp-۲");
    }

    #[test]
    fn amount_fields_accept_what_people_type() {
        let mut e = FormErrors::default();
        assert_eq!(
            amount_field(&mut e, Lang::En, "a", "۲۰٫۵", true),
            Amount::parse("20.5").ok()
        );
        assert_eq!(amount_field(&mut e, Lang::En, "b", "", false), None);
        assert!(e.is_empty());
        assert_eq!(amount_field(&mut e, Lang::En, "c", "", true), None);
        assert_eq!(
            amount_field(&mut e, Lang::En, "d", "1.123456789", true),
            None
        );
        assert_eq!(amount_field(&mut e, Lang::En, "e", "abc", true), None);
        assert!(e.field("c").is_some() && e.field("d").is_some() && e.field("e").is_some());
    }
}
