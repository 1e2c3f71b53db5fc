//! Form input and errors: reading amounts people type, and putting each API error next to the
//! field it concerns (never showing raw JSON).

use super::i18n::{normalize_number, Lang};
use crate::error::{ApiError, FieldError};
use crate::web::i18n::UiText;
use saghat_core::auth::error::AuthError;
use saghat_core::fund::error::{DrawError, PayError};
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;

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

    /// `value` when nothing was wrong with the form it was read from, else these errors.
    pub fn into_result<T>(self, value: T) -> Result<T, FormErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
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
        let place = |field: Option<&'static str>| field.filter(|f| fields.contains(f));
        match err.into() {
            ApiError::Validation(problems) => {
                for p in problems {
                    let field = p.loc.get(1).map(String::as_str);
                    errors.add(field.filter(|f| fields.contains(f)), problem_text(&p, lang));
                }
            }
            // Not about the input: the page answers it like the API (403).
            refused @ (ApiError::Pay(PayError::NotAMember)
            | ApiError::Draw(DrawError::NotAMember)) => return Err(refused),
            ApiError::Pay(refused) => {
                let (field, text) = pay_refusal(&refused, lang);
                errors.add(place(field), text)
            }
            ApiError::Draw(refused) => errors.add(None, draw_refusal(&refused, lang)),
            ApiError::Auth(refused) => match auth_refusal(&refused, lang) {
                Some((field, text)) => errors.add(place(field), text),
                None => return Err(ApiError::Auth(refused)),
            },
            // The platform's own refusals (the database away, a limit): for the form as a whole.
            ApiError::BadRequest(detail)
            | ApiError::Conflict(detail)
            | ApiError::BadGateway(detail)
            | ApiError::Unavailable(detail)
            | ApiError::TooManyRequests { detail, .. } => errors.add(None, humanize(&detail, lang)),
            other => return Err(other),
        }
        Ok(errors)
    }
}

/// A schema problem's message in the page's language.
fn problem_text(problem: &FieldError, lang: Lang) -> String {
    match lang {
        Lang::Fa if problem.kind == "missing" => lang.t("required").to_string(),
        _ => humanize(&problem.msg, lang),
    }
}

/// The field a refused payment is about, and what it says in the page's language: in English
/// the API's sentence with the page's numbers (`20.00`, `Azar 1405`), in Persian our own.
fn pay_refusal(err: &PayError, lang: Lang) -> (Option<&'static str>, String) {
    let field = match err {
        PayError::BelowMinimumFee { .. } => Some("membership_fee"),
        PayError::BitpinIdUsed | PayError::GatewayRejected(_) | PayError::GatewayUnavailable(_) => {
            Some("bitpin_payment_id")
        }
        PayError::NoActiveLoan
        | PayError::RepaymentRequired
        | PayError::BelowMinimumRepayment { .. }
        | PayError::ExceedsBalance { .. }
        | PayError::ExceedsBalanceNow => Some("loan"),
        _ => None,
    };
    if lang == Lang::En {
        let text = match err {
            PayError::FeeNotPositive => "Membership fee must be greater than 0".to_string(),
            other => humanize(&other.to_string(), lang),
        };
        return (field, text);
    }
    let text = match err {
        PayError::AlreadyPaid { month } => {
            format!("پرداخت ماه {} قبلاً ثبت شده است", month_name(*month, lang))
        }
        PayError::BitpinIdUsed => "این شناسه پرداخت بیت‌پین قبلاً استفاده شده است".into(),
        PayError::LeftTheFund => {
            "شما از صندوق خارج شده‌اید؛ مدیر می‌تواند شما را دوباره عضو کند".into()
        }
        PayError::GatewayRejected(why) | PayError::GatewayUnavailable(why) => {
            format!("تأیید پرداخت بیت‌پین ناموفق بود: {}", humanize(why, lang))
        }
        PayError::BelowMinimumFee { min, .. } => {
            format!("حق عضویت باید دست‌کم {} باشد", lang.amount(*min))
        }
        PayError::BelowMinimumRepayment { min, .. } => {
            format!("قسط وام باید دست‌کم {} باشد", lang.amount(*min))
        }
        PayError::RepaymentRequired => "وام فعال دارید: مبلغ قسط وام را وارد کنید".into(),
        PayError::NoActiveLoan => "وام فعالی ندارید: قسط وام را خالی بگذارید".into(),
        PayError::ExceedsBalance { amount, remaining } => format!(
            "قسط وام ({}) از مانده وام ({}) بیشتر است",
            lang.amount(*amount),
            lang.amount(*remaining)
        ),
        PayError::ExceedsBalanceNow => "قسط وام از مانده وام بیشتر است".into(),
        other => humanize(&other.to_string(), lang),
    };
    (field, text)
}

/// A refused draw, for the form as a whole.
fn draw_refusal(err: &DrawError, lang: Lang) -> String {
    match (err, lang) {
        (DrawError::AlreadyDrawn { month }, Lang::Fa) => {
            format!("قرعه‌کشی ماه {} قبلاً انجام شده است", month_name(*month, lang))
        }
        (DrawError::NotAllPaid { month, unpaid }, Lang::Fa) => format!(
            "همه اعضا برای {} پرداخت نکرده‌اند. پرداخت‌نکرده: {}",
            month_name(*month, lang),
            humanize(&unpaid.join(", "), lang)
        ),
        (DrawError::NoCommitment { month }, Lang::Fa) => format!(
            "تعهد قرعه‌کشی ماه {} منتشر نشده است؛ قرعه‌کشی بدون آن انجام نمی‌شود",
            month_name(*month, lang)
        ),
        (DrawError::CommitmentChanged { month }, Lang::Fa) => format!(
            "تعهد قرعه‌کشی ماه {} با تعهد منتشرشده یکی نیست؛ قرعه‌کشی انجام نمی‌شود",
            month_name(*month, lang)
        ),
        (other, _) => humanize(&other.to_string(), lang),
    }
}

/// A refused sign-in or user change: its field and text, or `None` when it is not about the
/// form's input (a session ended, a user gone) and is answered like the API would.
fn auth_refusal(err: &AuthError, lang: Lang) -> Option<(Option<&'static str>, String)> {
    let field = match err {
        AuthError::InvalidCredentials => {
            return Some((Some("password"), lang.t("invalid_login").to_string()))
        }
        AuthError::InvalidUsername(_) | AuthError::UsernameTaken => Some("username"),
        AuthError::LockedOut { .. } | AuthError::CannotDemoteSelf => None,
        _ => return None,
    };
    let text = match (err, lang) {
        (AuthError::UsernameTaken, Lang::Fa) => "این نام کاربری قبلاً ثبت شده است".into(),
        (AuthError::CannotDemoteSelf, Lang::Fa) => {
            "نمی‌توانید خودتان را غیرفعال کنید یا نقش خود را پایین بیاورید".into()
        }
        (other, _) => humanize(&other.to_string(), lang),
    };
    Some((field, text))
}

fn month_name(month: JalaliMonth, lang: Lang) -> String {
    lang.month(i64::from(month.year), i64::from(month.month))
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
            if let Ok(amount) = saghat_core::platform::money::Amount::parse(text) {
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

/// Reads the fields of one form in the page's language, keeping what is wrong with each.
pub struct FormReader {
    lang: Lang,
    pub errors: FormErrors,
}

impl FormReader {
    pub fn new(lang: Lang) -> FormReader {
        FormReader {
            lang,
            errors: FormErrors::default(),
        }
    }

    /// [`amount_field`] of this form.
    pub fn amount(&mut self, field: &str, raw: &str, required: bool) -> Option<Amount> {
        amount_field(&mut self.errors, self.lang, field, raw, required)
    }

    /// [`int_field`] of this form.
    pub fn int(&mut self, field: &str, raw: &str) -> Option<i64> {
        int_field(&mut self.errors, self.lang, field, raw)
    }

    /// Says `field` is required (unless it has an error already).
    pub fn missing(&mut self, field: &str) {
        self.errors.add(Some(field), self.lang.t("required"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAY: &[&str] = &[
        "membership_fee",
        "loan",
        "bitpin_payment_id",
        "loan_request_amount",
    ];

    fn placed(err: impl Into<ApiError>) -> FormErrors {
        FormErrors::from_api(err, Lang::En, PAY).unwrap()
    }

    fn usdt(n: &str) -> Amount {
        Amount::parse(n).unwrap()
    }

    /// What a refusal says in `lang`, wherever it is placed.
    fn said(err: impl Into<ApiError>, lang: Lang) -> String {
        let e = FormErrors::from_api(err, lang, PAY).unwrap();
        let mut all = e
            .fields
            .iter()
            .map(|(_, m)| m.clone())
            .chain(e.general.clone());
        all.next().unwrap()
    }

    const AZAR: JalaliMonth = JalaliMonth {
        year: 1405,
        month: 9,
    };

    fn below_minimum_fee() -> PayError {
        PayError::BelowMinimumFee {
            fee: usdt("19.5"),
            min: usdt("20"),
        }
    }

    #[test]
    fn api_errors_go_next_to_their_field() {
        let e = placed(below_minimum_fee());
        assert_eq!(
            e.field("membership_fee"),
            Some("Membership fee 19.50 is less than minimum required 20.00")
        );
        let e = placed(PayError::BitpinIdUsed);
        assert!(e.field("bitpin_payment_id").is_some());
        let e = placed(PayError::GatewayUnavailable("timed out".into()));
        assert!(e.field("bitpin_payment_id").is_some());
        let e = placed(PayError::RepaymentRequired);
        assert!(e.field("loan").is_some());
        let e = placed(ApiError::Validation(vec![FieldError::body(
            "loan_request_amount",
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        )]));
        assert!(e.field("loan_request_amount").is_some());
        let e = placed(PayError::AlreadyPaid { month: AZAR });
        assert_eq!(e.general(), ["Payment already submitted for Azar 1405"]);
        assert!(
            FormErrors::from_api(ApiError::Internal(anyhow::anyhow!("bug")), Lang::En, PAY)
                .is_err()
        );
        // Not about the input: answered like the API.
        assert!(FormErrors::from_api(PayError::NotAMember, Lang::En, PAY).is_err());
        assert!(FormErrors::from_api(DrawError::NotAMember, Lang::En, &[]).is_err());
        assert!(FormErrors::from_api(AuthError::SessionEnded, Lang::En, PAY).is_err());
        // A store failure inside a service is the database's, not the form's.
        let down = PayError::Store(sqlx::Error::PoolTimedOut);
        assert_eq!(
            said(down, Lang::En),
            "Database unavailable, try again shortly"
        );
    }

    #[test]
    fn sign_in_and_user_refusals_go_next_to_their_field() {
        let fields = &["username", "password"];
        let e = FormErrors::from_api(AuthError::InvalidCredentials, Lang::Fa, fields).unwrap();
        assert_eq!(e.field("password"), Some(Lang::Fa.t("invalid_login")));
        let e = FormErrors::from_api(AuthError::UsernameTaken, Lang::Fa, fields).unwrap();
        assert_eq!(e.field("username"), Some("این نام کاربری قبلاً ثبت شده است"));
        let e = FormErrors::from_api(AuthError::CannotDemoteSelf, Lang::En, fields).unwrap();
        assert_eq!(e.general(), ["You cannot deactivate or demote yourself"]);
        let e = FormErrors::from_api(
            AuthError::LockedOut {
                retry_after_secs: 30,
            },
            Lang::Fa,
            fields,
        )
        .unwrap();
        assert_eq!(
            e.general(),
            ["Too many failed login attempts. Try again in ۳۰ seconds."]
        );
    }

    #[test]
    fn known_refusals_are_translated() {
        assert_eq!(
            said(PayError::AlreadyPaid { month: AZAR }, Lang::Fa),
            "پرداخت ماه آذر ۱۴۰۵ قبلاً ثبت شده است"
        );
        assert_eq!(
            said(ApiError::conflict("Something new"), Lang::Fa),
            "Something new"
        );
        let unpaid = DrawError::NotAllPaid {
            month: JalaliMonth {
                year: 1405,
                month: 12,
            },
            unpaid: vec!["admin".into(), "omid".into()],
        };
        assert_eq!(
            said(unpaid, Lang::Fa),
            "همه اعضا برای اسفند ۱۴۰۵ پرداخت نکرده‌اند. پرداخت‌نکرده: admin، omid"
        );
        let over = PayError::ExceedsBalance {
            amount: usdt("41"),
            remaining: usdt("40"),
        };
        assert_eq!(
            said(over, Lang::Fa),
            "قسط وام (۴۱٫۰۰) از مانده وام (۴۰٫۰۰) بیشتر است"
        );
        assert_eq!(
            said(PayError::ExceedsBalanceNow, Lang::Fa),
            "قسط وام از مانده وام بیشتر است"
        );
        let missing = ApiError::Validation(vec![FieldError::body(
            "membership_fee",
            "missing",
            "Field required",
        )]);
        assert_eq!(said(missing, Lang::Fa), Lang::Fa.t("required"));
    }

    #[test]
    fn the_original_apis_wording_is_understood_too() {
        let e = placed(below_minimum_fee());
        assert_eq!(
            e.field("membership_fee"),
            Some("Membership fee 19.50 is less than minimum required 20.00")
        );
        let small = || PayError::BelowMinimumRepayment {
            amount: usdt("5"),
            min: usdt("20"),
        };
        assert!(placed(small()).field("loan").is_some());
        assert!(placed(PayError::NoActiveLoan).field("loan").is_some());
        let cases: [(ApiError, &str); 4] = [
            (below_minimum_fee().into(), "حق عضویت باید دست‌کم ۲۰٫۰۰ باشد"),
            (small().into(), "قسط وام باید دست‌کم ۲۰٫۰۰ باشد"),
            (
                PayError::NoActiveLoan.into(),
                "وام فعالی ندارید: قسط وام را خالی بگذارید",
            ),
            (
                DrawError::AlreadyDrawn { month: AZAR }.into(),
                "قرعه‌کشی ماه آذر ۱۴۰۵ قبلاً انجام شده است",
            ),
        ];
        for (err, fa) in cases {
            let api = err.to_string();
            assert_eq!(said(err, Lang::Fa), fa, "{api}");
        }
    }

    #[test]
    fn numbers_in_sentences_take_the_pages_precision_and_month_names() {
        assert_eq!(
            said(below_minimum_fee(), Lang::En),
            "Membership fee 19.50 is less than minimum required 20.00"
        );
        let fee = PayError::BelowMinimumFee {
            fee: usdt("19.5"),
            min: usdt("1234.5"),
        };
        assert_eq!(said(fee, Lang::Fa), "حق عضویت باید دست‌کم ۱٬۲۳۴٫۵۰ باشد");
        assert_eq!(
            said(DrawError::AlreadyDrawn { month: AZAR }, Lang::En),
            "Loan assignment already done for Azar 1405"
        );
        assert_eq!(
            said(PayError::FeeNotPositive, Lang::En),
            "Membership fee must be greater than 0"
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
