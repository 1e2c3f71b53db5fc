//! The invoicing pages (seed 004): the invoices list, the draft editor with totals computed by
//! the server, an invoice's page with its payments, credit notes, reminders and files, the
//! clients, payments with their allocation, and the client portal. Every page asks
//! `saghat_core::invoicing::access::allowed` (through the services) what its reader may do,
//! and every amount on them comes from `Invoice::totals` or the stored totals it wrote.

pub mod clients;
pub mod editor;
pub mod invoices;
pub mod payments;
pub mod pick;
pub mod portal;
pub mod products;
pub mod recurring;

use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::AnyConnection;

use super::{Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::{humanize, FormErrors};
use crate::web::i18n::{normalize_number, Lang, UiText};
use crate::web::session::{Prefs, Session, WebError, WebForm, WebResult};
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::invoicing::access::{allowed, Action};
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::model::{Percent, Quantity, TaxCode, Unit};
use saghat_core::invoicing::store;
use saghat_core::invoicing::totals::TotalsError;
use saghat_core::platform::currency::Currency;

/// A form read as its pairs, for forms whose fields are numbered (`lines[2].quantity`) or named
/// by an invoice (`alloc.<id>`), which a struct cannot name in advance.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(transparent)]
pub struct RawForm(pub Vec<(String, String)>);

impl RawForm {
    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl WebForm for RawForm {
    fn csrf(&self) -> &str {
        self.get("csrf")
    }
}

/// Whether a staff reader (never a client user, whose access depends on its client) may do
/// `action`.
pub fn may(user: &CurrentUser, action: Action) -> bool {
    user.role != Role::Client && allowed(user.role, None, action, None)
}

/// 403 unless the reader may do `action` (staff pages).
pub fn require(user: &CurrentUser, action: Action) -> WebResult<()> {
    if may(user, action) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("you may not do this in invoicing".into()).into())
    }
}

/// The client a `client` user's portal shows.
pub async fn own_client(conn: &mut AnyConnection, user: &CurrentUser) -> WebResult<Option<i64>> {
    if user.role != Role::Client {
        return Ok(None);
    }
    Ok(store::client_of_user(conn, user.id).await?)
}

/// A page's frame whose language switch keeps its own path and query.
pub fn frame(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    path: &str,
    active: &'static str,
    title: &'static str,
    notice: Option<&'static str>,
) -> View {
    let mut v = View::new(
        state,
        prefs,
        Some(session),
        Page {
            path: "/invoices",
            active,
            title,
            notice,
        },
    );
    let other = match prefs.lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    let join = if path.contains('?') { '&' } else { '?' };
    v.switch_href = format!("{path}{join}lang={}", other.code());
    v
}

/// `?done=…` after an invoicing redirect: which success message to show.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct IvDone {
    pub done: String,
}

impl IvDone {
    pub fn notice(&self) -> Option<&'static str> {
        Some(match self.done.as_str() {
            "saved" => "iv_done_saved",
            "sent" => "iv_done_sent",
            "deleted" => "iv_done_deleted",
            "paid" => "iv_done_paid",
            "credit" => "iv_done_credit",
            "credit_note" => "iv_done_credit_note",
            "refund" => "iv_done_refund",
            "client" => "iv_done_client",
            "contact" => "iv_done_contact",
            "contact_removed" => "iv_done_contact_removed",
            _ => return None,
        })
    }
}

/// An invoice status's name (`draft`, `partially_paid`, … as stored).
pub fn status_name(lang: Lang, status: &str) -> &'static str {
    lang.t(&format!("iv_status_{status}"))
}

/// Minor units of the currency `code` with all its places, in the page's digits.
pub fn money(lang: Lang, code: &str, units: i64) -> String {
    match Currency::parse(code) {
        Some(c) => lang.money(c, i128::from(units)),
        None => lang.int(units),
    }
}

/// The currency's name as the pages write it (its code in English, its name in Persian).
pub fn currency_name(lang: Lang, code: &str) -> String {
    match Currency::parse(code) {
        Some(currency) => lang.currency(currency).to_string(),
        None => code.to_string(),
    }
}

/// A stored `YYYY-MM-DD` day as the language reads it (Jalali in Persian).
pub fn civil(lang: Lang, stored: &str) -> String {
    match NaiveDate::parse_from_str(stored.get(..10).unwrap_or(stored), "%Y-%m-%d") {
        Ok(d) => lang.civil_date(d),
        Err(_) => stored.to_string(),
    }
}

pub fn unit_name(lang: Lang, code: &str) -> String {
    match Unit::parse(code) {
        Some(u) => match lang {
            Lang::En => u.label_en().to_string(),
            Lang::Fa => u.label_fa().to_string(),
        },
        None => code.to_string(),
    }
}

pub fn tax_name(lang: Lang, code: &str) -> &'static str {
    lang.t(&format!("iv_tax_{code}"))
}

/// A tax category with its rate: `Standard 19%`.
pub fn tax_label(lang: Lang, code: &str, rate: i64) -> String {
    match TaxCode::parse(code) {
        Some(c) if c.takes_a_rate() => format!(
            "{} {}",
            tax_name(lang, code),
            lang.digits(&format!("{}%", Percent(rate)))
        ),
        _ => tax_name(lang, code).to_string(),
    }
}

pub fn quantity(lang: Lang, q: i64) -> String {
    lang.digits(&Quantity(q).to_string())
}

/// Parses an amount of `currency` typed in the page's digits.
pub fn parse_money(currency: Currency, raw: &str) -> Option<i64> {
    currency.parse_amount(&normalize_number(raw)).ok()
}

/// Known service messages in Persian (the English is the service's own sentence).
fn persian(message: &str) -> Option<&'static str> {
    Some(match message {
        "This field may not be blank." => "این بخش نباید خالی باشد.",
        "Invalid pk - object does not exist." => "پیدا نشد.",
        "Date has wrong format. Use YYYY-MM-DD." => "تاریخ نادرست است.",
        "The due date cannot be before the issue date." => {
            "سررسید نمی‌تواند پیش از تاریخ صدور باشد."
        }
        "The client is archived." => "این مشتری بایگانی شده است.",
        "An invoice needs at least one line to be sent." => {
            "فاکتور برای ارسال دست‌کم یک ردیف لازم دارد."
        }
        "An invoice's total must be more than zero to be sent." => {
            "جمع فاکتور برای ارسال باید بیشتر از صفر باشد."
        }
        "The draft's totals are stale: save it again." => {
            "جمع‌های پیش‌نویس کهنه است: دوباره ذخیره کنید."
        }
        "Must be company or individual." => "شرکت یا شخص را برگزینید.",
        "Must be fa or en." => "فارسی یا انگلیسی را برگزینید.",
        "Must be between 0 and 365." => "عددی از ۰ تا ۳۶۵ وارد کنید.",
        "Must be an ISO 3166-1 alpha-2 code." => "کد دوحرفی کشور را وارد کنید (مانند IR).",
        "Enter a valid email address." => "یک نشانی ایمیل درست وارد کنید.",
        "Ensure this value is greater than 0." => "مبلغ باید بیشتر از صفر باشد.",
        "Not an invoice of this client." => "فاکتوری از این مشتری نیست.",
        "The invoice is not sent yet." => "فاکتور هنوز ارسال نشده است.",
        "The invoice is in another currency." => "فاکتور به ارز دیگری است.",
        "The invoice is listed twice." => "این فاکتور دو بار آمده است.",
        "The allocations add up to more than the payment." => {
            "جمع تخصیص‌ها از مبلغ پرداخت بیشتر است."
        }
        "The client has invoices in its currency: it cannot change." => {
            "این مشتری به این ارز فاکتور دارد: ارز آن تغییر نمی‌کند."
        }
        "Only a sent invoice is credited (a draft is edited or deleted)." => {
            "فقط فاکتور ارسال‌شده اعتبار می‌گیرد (پیش‌نویس ویرایش یا حذف می‌شود)."
        }
        _ => return None,
    })
}

/// A service sentence in the page's language.
pub fn said(lang: Lang, message: &str) -> String {
    match lang {
        Lang::En => message.to_string(),
        Lang::Fa => match persian(message) {
            Some(text) => text.to_string(),
            None if message.starts_with("Must be more than 0 and at most") => {
                "مبلغ باید بیشتر از صفر و حداکثر برابر مانده باشد.".into()
            }
            None if message.starts_with("The client's credit is") => {
                "مبلغ از اعتبار مشتری بیشتر است.".into()
            }
            None if message.starts_with("The credit notes would credit more than") => {
                "بستانکاری‌ها از جمع فاکتور بیشتر می‌شود.".into()
            }
            None if message.starts_with("The client is invoiced in") => {
                "این مشتری به ارز دیگری فاکتور می‌گیرد.".into()
            }
            None => humanize(message, lang),
        },
    }
}

fn totals_text(lang: Lang, err: &TotalsError) -> &'static str {
    lang.t(match err {
        TotalsError::QuantityNotPositive { .. } => "iv_bad_quantity",
        TotalsError::NegativePrice { .. } => "iv_bad_price",
        TotalsError::LineDiscountOutOfRange { .. } | TotalsError::DiscountOutOfRange => {
            "iv_bad_discount_range"
        }
        TotalsError::LineDiscountExceedsLine { .. } => "iv_bad_discount_line",
        TotalsError::RateNotAllowed { .. } => "iv_bad_rate",
        TotalsError::DiscountExceedsBase => "iv_bad_discount_base",
        TotalsError::TooLarge => "iv_bad_too_large",
    })
}

/// A refused invoicing action as a form's errors: each next to its field when the page has
/// it (`place` turns the service's field name into the page's, or `None`), else for the whole
/// form. Not about the input: an error page (404, 403, 500).
pub fn refusal(
    err: InvoicingError,
    lang: Lang,
    place: impl Fn(&str) -> Option<String>,
) -> WebResult<FormErrors> {
    let mut errors = FormErrors::default();
    let field = err.field().and_then(|f| place(&f));
    let text = match err {
        InvoicingError::NotFound => return Err(ApiError::not_found("not found").into()),
        InvoicingError::Forbidden => {
            return Err(ApiError::Forbidden("you may not do this in invoicing".into()).into())
        }
        InvoicingError::Store(e) => return Err(WebError::from(e)),
        // The pages send no Idempotency-Key: such an error is not theirs to explain.
        InvoicingError::Ledger(_)
        | InvoicingError::Numbering(_)
        | InvoicingError::Idempotency(_) => {
            return Err(ApiError::Internal(anyhow::Error::new(err)).into())
        }
        InvoicingError::NotADraft => lang.t("iv_not_a_draft").to_string(),
        InvoicingError::Totals(t) => totals_text(lang, &t).to_string(),
        InvoicingError::Invalid { message, .. } => said(lang, &message),
    };
    errors.add(field.as_deref(), text);
    Ok(errors)
}

/// An invoicing error that is not about a form: the error page it is.
pub fn page_error(err: InvoicingError) -> WebError {
    match err {
        InvoicingError::NotFound => ApiError::not_found("not found").into(),
        InvoicingError::Forbidden => {
            ApiError::Forbidden("you may not do this in invoicing".into()).into()
        }
        InvoicingError::Store(e) => WebError::from(e),
        InvoicingError::Invalid { field, message } => {
            ApiError::bad_request(format!("{field}: {message}")).into()
        }
        other => ApiError::Internal(anyhow::Error::new(other)).into(),
    }
}

/// The methods of a payment, with their names.
pub const METHODS: [&str; 5] = saghat_core::invoicing::payments::METHODS;

pub fn method_name(lang: Lang, method: &str) -> &'static str {
    lang.t(&format!("iv_method_{method}"))
}

/// Today in the fund's time zone (the services' today).
pub fn today(state: &AppState) -> NaiveDate {
    state
        .now()
        .with_timezone(&state.config.fund_timezone)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::invoicing::state::Status;

    #[test]
    fn every_status_tax_unit_method_and_notice_is_translated() {
        let mut keys: Vec<String> = Status::ALL
            .iter()
            .map(|s| format!("iv_status_{}", s.as_str()))
            .collect();
        keys.extend(TaxCode::ALL.iter().map(|c| format!("iv_tax_{}", c.code())));
        keys.extend(METHODS.iter().map(|m| format!("iv_method_{m}")));
        for done in [
            "saved",
            "sent",
            "deleted",
            "paid",
            "credit",
            "credit_note",
            "refund",
            "client",
            "contact",
            "contact_removed",
        ] {
            let notice = IvDone { done: done.into() }.notice();
            keys.push(notice.unwrap_or("missing").to_string());
        }
        for lang in [Lang::En, Lang::Fa] {
            for key in &keys {
                assert_ne!(lang.t(key), "?", "{key} in {lang:?}");
            }
        }
    }

    #[test]
    fn refusals_land_next_to_the_pages_fields_in_its_language() {
        let err = InvoicingError::from(TotalsError::QuantityNotPositive { line: 2 });
        let errors = refusal(err, Lang::Fa, |f| Some(f.to_string())).unwrap();
        assert_eq!(
            errors.field("lines[1].quantity"),
            Some(Lang::Fa.t("iv_bad_quantity"))
        );
        let err =
            InvoicingError::invalid("due_date", "The due date cannot be before the issue date.");
        let errors = refusal(err, Lang::En, |_| None).unwrap();
        assert_eq!(
            errors.general(),
            ["The due date cannot be before the issue date."]
        );
        assert!(refusal(InvoicingError::NotFound, Lang::En, |_| None).is_err());
        assert!(refusal(InvoicingError::Forbidden, Lang::En, |_| None).is_err());
    }

    #[test]
    fn amounts_and_days_as_each_language_writes_them() {
        assert_eq!(money(Lang::En, "EUR", 123_450), "1,234.50");
        assert_eq!(money(Lang::Fa, "IRR", 1_500_000), "۱٬۵۰۰٬۰۰۰");
        assert_eq!(civil(Lang::En, "2026-12-01"), "1 Dec 2026");
        assert_eq!(civil(Lang::Fa, "2026-12-01"), "۱۴۰۵/۰۹/۱۰");
        assert_eq!(tax_label(Lang::En, "S", 1900), "Standard 19%");
        assert_eq!(parse_money(Currency::Eur, "۱۲٫۵"), Some(1250));
    }
}
