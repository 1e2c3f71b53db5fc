//! Fraud flags: pure rules over an application, the borrower's history and recent applications
//! by others. Each rule has a stable code, a severity and an explanation in English and Persian
//! that names the numbers behind it. Flags never decide: they route the ticket to review, and a
//! high one calls for a second approver ([`super::approval`]).
//!
//! [`FraudInput`] is everything the rules saw, so it is stored with the [`FraudReport`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::platform::lang::Lang;
use crate::platform::money::Amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// Which rule fired. Stored by [`FlagCode::as_str`], which never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagCode {
    AmountAboveHistory,
    DisposableEmail,
    SharedEmailDomain,
    Velocity,
    NewAccountLargeAmount,
    SharedPhone,
    SharedPayoutAddress,
    SharedClientAddress,
    Structuring,
}

impl FlagCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagCode::AmountAboveHistory => "amount_above_history",
            FlagCode::DisposableEmail => "disposable_email",
            FlagCode::SharedEmailDomain => "shared_email_domain",
            FlagCode::Velocity => "velocity",
            FlagCode::NewAccountLargeAmount => "new_account_large_amount",
            FlagCode::SharedPhone => "shared_phone",
            FlagCode::SharedPayoutAddress => "shared_payout_address",
            FlagCode::SharedClientAddress => "shared_client_address",
            FlagCode::Structuring => "structuring",
        }
    }

    /// How serious the rule is when it fires.
    pub fn severity(self) -> Severity {
        match self {
            FlagCode::DisposableEmail
            | FlagCode::NewAccountLargeAmount
            | FlagCode::SharedPayoutAddress => Severity::High,
            FlagCode::AmountAboveHistory
            | FlagCode::SharedEmailDomain
            | FlagCode::Velocity
            | FlagCode::SharedPhone
            | FlagCode::Structuring => Severity::Medium,
            FlagCode::SharedClientAddress => Severity::Low,
        }
    }
}

/// The application being checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub borrower_id: i64,
    pub amount: Amount,
    pub email: String,
    pub phone: String,
    /// Where the loan would be paid out (a wallet address).
    pub payout_address: String,
    /// The client's network address (IP) when applying.
    pub client_address: String,
    pub at: DateTime<Utc>,
}

/// The borrower's own record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BorrowerHistory {
    pub account_created_at: DateTime<Utc>,
    pub total_contributions: Amount,
    pub past_loans: Vec<Amount>,
    /// When the borrower's earlier applications were made (not this one).
    pub past_applications: Vec<DateTime<Utc>>,
}

/// A recent application by someone (the rules skip the borrower's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherApplication {
    pub borrower_id: i64,
    pub email_domain: String,
    pub phone: String,
    pub payout_address: String,
    pub client_address: String,
    pub at: DateTime<Utc>,
}

/// Everything the rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudInput {
    pub application: Application,
    pub history: BorrowerHistory,
    pub recent: Vec<OtherApplication>,
}

/// The rules' thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudConfig {
    /// Flag an amount above this multiple (in basis points: 30 000 = 3×) of the larger of the
    /// borrower's largest past loan and total contributions.
    pub history_multiple_bps: u32,
    /// Others' applications within this many hours (either side) count as recent.
    pub recent_window_hours: i64,
    /// Flag a shared e-mail domain used by at least this many other borrowers.
    pub shared_domain_min_others: usize,
    /// Flag this many applications (this one included) by one borrower within the window.
    pub velocity_count: usize,
    pub velocity_window_hours: i64,
    /// An account younger than this many days is new; new accounts asking this much or more
    /// are flagged.
    pub new_account_days: i64,
    pub new_account_large_amount: Amount,
    /// Flag a phone, payout address or client address behind at least this many other
    /// borrowers. Client addresses are shared by whole offices and mobile networks.
    pub shared_phone_min_others: usize,
    pub shared_payout_min_others: usize,
    pub shared_client_address_min_others: usize,
    /// Flag amounts at most the two-approver threshold and within this share of it (basis
    /// points: 1 000 = the last 10 % below it).
    pub structuring_margin_bps: u32,
    /// Domains added to the built-in lists.
    pub extra_disposable_domains: Vec<String>,
    pub extra_public_domains: Vec<String>,
}

impl Default for FraudConfig {
    fn default() -> Self {
        FraudConfig {
            history_multiple_bps: 30_000,
            recent_window_hours: 30 * 24,
            shared_domain_min_others: 3,
            velocity_count: 3,
            velocity_window_hours: 24,
            new_account_days: 30,
            new_account_large_amount: Amount::whole(1_000),
            shared_phone_min_others: 1,
            shared_payout_min_others: 1,
            shared_client_address_min_others: 3,
            structuring_margin_bps: 1_000,
            extra_disposable_domains: Vec::new(),
            extra_public_domains: Vec::new(),
        }
    }
}

/// Common throwaway e-mail services.
pub const DISPOSABLE_DOMAINS: &[&str] = &[
    "10minutemail.com",
    "burnermail.io",
    "dispostable.com",
    "emailondeck.com",
    "fakeinbox.com",
    "getnada.com",
    "grr.la",
    "guerrillamail.com",
    "guerrillamail.net",
    "mail.tm",
    "maildrop.cc",
    "mailinator.com",
    "mailnesia.com",
    "mintemail.com",
    "moakt.com",
    "mohmal.com",
    "sharklasers.com",
    "spam4.me",
    "temp-mail.org",
    "tempail.com",
    "tempmail.com",
    "throwawaymail.com",
    "tmpmail.org",
    "trashmail.com",
    "yopmail.com",
];

/// Big public providers: many honest applicants share these.
pub const PUBLIC_DOMAINS: &[&str] = &[
    "aol.com",
    "chmail.ir",
    "gmail.com",
    "gmx.com",
    "googlemail.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "yahoo.com",
    "yandex.com",
    "yandex.ru",
    "zoho.com",
];

/// One fired rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub code: FlagCode,
    pub severity: Severity,
    pub explanation_en: String,
    pub explanation_fa: String,
}

impl Flag {
    pub fn explanation(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.explanation_en,
            Lang::Fa => &self.explanation_fa,
        }
    }
}

/// What fired, and the highest severity among it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudReport {
    pub flags: Vec<Flag>,
    pub highest: Option<Severity>,
}

impl FraudReport {
    pub fn is_flagged(&self) -> bool {
        !self.flags.is_empty()
    }

    pub fn fired(&self, code: FlagCode) -> bool {
        self.flags.iter().any(|f| f.code == code)
    }
}

/// Runs every rule. `two_approvers_above` is maker-checker's threshold
/// (`approval::ApprovalPolicy`), the one structuring stays just under; passed as an amount so
/// that approval, which reads the flags' severity, and fraud do not import each other.
pub fn evaluate(
    input: &FraudInput,
    config: &FraudConfig,
    two_approvers_above: Amount,
) -> FraudReport {
    let sharing = Sharing::find(input, config);
    let rules = [
        amount_above_history(input, config),
        disposable_email(input, config),
        shared_email_domain(input, config, sharing.domain),
        velocity(input, config),
        new_account_large_amount(input, config),
        shared(config, FlagCode::SharedPhone, sharing.phone),
        shared(config, FlagCode::SharedPayoutAddress, sharing.payout),
        shared(config, FlagCode::SharedClientAddress, sharing.client),
        structuring(input, config, two_approvers_above),
    ];
    let flags: Vec<Flag> = rules.into_iter().flatten().collect();
    let highest = flags.iter().map(|f| f.severity).max();
    FraudReport { flags, highest }
}

fn flag(code: FlagCode, en: String, fa: String) -> Option<Flag> {
    Some(Flag {
        code,
        severity: code.severity(),
        explanation_en: en,
        explanation_fa: fa,
    })
}

fn amount_above_history(input: &FraudInput, config: &FraudConfig) -> Option<Flag> {
    let (app, history) = (&input.application, &input.history);
    let largest = history
        .past_loans
        .iter()
        .copied()
        .max()
        .unwrap_or(Amount::ZERO);
    let baseline = largest.max(history.total_contributions).max(Amount::ZERO);
    let multiple = i128::from(config.history_multiple_bps);
    if app.amount.units() * 10_000 <= baseline.units() * multiple {
        return None;
    }
    let times = |l: Lang| l.digits(&decimal(config.history_multiple_bps, 10_000));
    let (a, l, c) = (app.amount, largest, history.total_contributions);
    flag(
        FlagCode::AmountAboveHistory,
        format!(
            "Asks for {} USDT, more than {}× the borrower's record (largest past loan {} USDT, contributions {} USDT).",
            Lang::En.amount(a), times(Lang::En), Lang::En.amount(l), Lang::En.amount(c)
        ),
        format!(
            "درخواست {} تتر، بیش از {} برابر سابقهٔ وام‌گیرنده (بزرگ‌ترین وام پیشین {} تتر، مجموع سهم‌های پرداختی {} تتر).",
            Lang::Fa.amount(a), times(Lang::Fa), Lang::Fa.amount(l), Lang::Fa.amount(c)
        ),
    )
}

fn disposable_email(input: &FraudInput, config: &FraudConfig) -> Option<Flag> {
    let domain = email_domain(&input.application.email)?;
    if !is_disposable(&domain, config) {
        return None;
    }
    flag(
        FlagCode::DisposableEmail,
        format!("The e-mail address is on {domain}, a disposable e-mail service."),
        format!("نشانی ایمیل روی {domain} است که یک سرویس ایمیل یک‌بارمصرف است."),
    )
}

fn shared_email_domain(input: &FraudInput, config: &FraudConfig, others: usize) -> Option<Flag> {
    let domain = shareable_domain(&input.application.email, config)?;
    if others < config.shared_domain_min_others.max(1) {
        return None;
    }
    let days = config.recent_window_hours / 24;
    flag(
        FlagCode::SharedEmailDomain,
        format!(
            "{} other borrowers applied with the e-mail domain {domain} in the last {} days.",
            Lang::En.int(others as i64),
            Lang::En.int(days)
        ),
        format!(
            "{} وام‌گیرندهٔ دیگر در {} روز گذشته با دامنهٔ ایمیل {domain} درخواست داده‌اند.",
            Lang::Fa.int(others as i64),
            Lang::Fa.int(days)
        ),
    )
}

fn velocity(input: &FraudInput, config: &FraudConfig) -> Option<Flag> {
    let at = input.application.at;
    let window = Duration::hours(config.velocity_window_hours);
    let earlier = input
        .history
        .past_applications
        .iter()
        .filter(|t| **t <= at && at - **t < window)
        .count();
    let count = earlier + 1;
    if count < config.velocity_count.max(2) {
        return None;
    }
    let (n, h, max) = (
        count as i64,
        config.velocity_window_hours,
        config.velocity_count as i64,
    );
    flag(
        FlagCode::Velocity,
        format!(
            "{} applications from this borrower in the last {} hours; {} or more are flagged.",
            Lang::En.int(n),
            Lang::En.int(h),
            Lang::En.int(max)
        ),
        format!(
            "{} درخواست از این وام‌گیرنده در {} ساعت گذشته؛ {} درخواست یا بیشتر نشانه‌گذاری می‌شود.",
            Lang::Fa.int(n),
            Lang::Fa.int(h),
            Lang::Fa.int(max)
        ),
    )
}

fn new_account_large_amount(input: &FraudInput, config: &FraudConfig) -> Option<Flag> {
    let app = &input.application;
    let age = (app.at - input.history.account_created_at)
        .num_days()
        .max(0);
    if age >= config.new_account_days || app.amount < config.new_account_large_amount {
        return None;
    }
    let (limit, large) = (config.new_account_days, config.new_account_large_amount);
    flag(
        FlagCode::NewAccountLargeAmount,
        format!(
            "The account is {} days old (new under {} days) and asks for {} USDT ({} USDT or more is large).",
            Lang::En.int(age), Lang::En.int(limit), Lang::En.amount(app.amount), Lang::En.amount(large)
        ),
        format!(
            "این حساب {} روز پیش ساخته شده (کمتر از {} روز یعنی تازه) و {} تتر درخواست کرده است ({} تتر یا بیشتر مبلغ بزرگی است).",
            Lang::Fa.int(age), Lang::Fa.int(limit), Lang::Fa.amount(app.amount), Lang::Fa.amount(large)
        ),
    )
}

/// The same phone, payout address or client address behind `others` other borrowers.
fn shared(config: &FraudConfig, code: FlagCode, others: usize) -> Option<Flag> {
    let (min, what_en, what_fa) = match code {
        FlagCode::SharedPhone => (config.shared_phone_min_others, "phone number", "شماره تلفن"),
        FlagCode::SharedPayoutAddress => (
            config.shared_payout_min_others,
            "payout address",
            "نشانی دریافت وجه",
        ),
        _ => (
            config.shared_client_address_min_others,
            "client address (IP)",
            "نشانی شبکهٔ کاربر (IP)",
        ),
    };
    if others < min.max(1) {
        return None;
    }
    let days = config.recent_window_hours / 24;
    flag(
        code,
        format!(
            "The {what_en} is also used by {} other borrowers in the last {} days.",
            Lang::En.int(others as i64),
            Lang::En.int(days)
        ),
        format!(
            "این {what_fa} در {} روز گذشته از سوی {} وام‌گیرندهٔ دیگر هم به کار رفته است.",
            Lang::Fa.int(days),
            Lang::Fa.int(others as i64)
        ),
    )
}

fn structuring(input: &FraudInput, config: &FraudConfig, threshold: Amount) -> Option<Flag> {
    let amount = input.application.amount;
    if !threshold.is_positive() || amount > threshold {
        return None;
    }
    let margin = threshold.units() * i128::from(config.structuring_margin_bps) / 10_000;
    if amount.units() < threshold.units() - margin {
        return None;
    }
    let pct = |l: Lang| l.digits(&decimal(config.structuring_margin_bps, 100));
    flag(
        FlagCode::Structuring,
        format!(
            "Asks for {} USDT, just under the {} USDT above which two lenders must approve (within {}%).",
            Lang::En.amount(amount), Lang::En.amount(threshold), pct(Lang::En)
        ),
        format!(
            "درخواست {} تتر، کمی کمتر از {} تتر که بالاتر از آن تأیید دو وام‌دهنده لازم است (در فاصلهٔ {}٪).",
            Lang::Fa.amount(amount), Lang::Fa.amount(threshold), pct(Lang::Fa)
        ),
    )
}

/// How many other borrowers share this application's e-mail domain (when it is neither public
/// nor disposable), phone, payout address and client address among the recent applications:
/// one pass without allocating per application, as the service may pass many.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sharing {
    domain: usize,
    phone: usize,
    payout: usize,
    client: usize,
}

impl Sharing {
    fn find(input: &FraudInput, config: &FraudConfig) -> Sharing {
        let app = &input.application;
        let domain = shareable_domain(&app.email, config);
        let phone = phone_key(&app.phone);
        let (payout, client) = (app.payout_address.trim(), app.client_address.trim());
        let (at, window) = (
            app.at.timestamp(),
            config.recent_window_hours.saturating_mul(3600),
        );
        let mut found: [Vec<i64>; 4] = Default::default();
        for o in &input.recent {
            if o.borrower_id == app.borrower_id
                || at.abs_diff(o.at.timestamp()) > window.unsigned_abs()
            {
                continue;
            }
            let same = [
                domain.as_deref().is_some_and(|d| {
                    same_ignoring_case(o.email_domain.trim().trim_end_matches('.'), d)
                }),
                phone.len > 0 && phone_key(&o.phone) == phone,
                !payout.is_empty() && same_payout(payout, &o.payout_address),
                !client.is_empty() && same_ignoring_case(client, &o.client_address),
            ];
            for (list, hit) in found.iter_mut().zip(same) {
                if hit {
                    list.push(o.borrower_id);
                }
            }
        }
        let [domain, phone, payout, client] = found.map(|mut ids| {
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        });
        Sharing {
            domain,
            phone,
            payout,
            client,
        }
    }
}

/// The application's e-mail domain when sharing it means something: not a big public
/// provider, and not disposable (flagged on its own).
pub fn shareable_domain(email: &str, config: &FraudConfig) -> Option<String> {
    email_domain(email).filter(|d| !is_public(d, config) && !is_disposable(d, config))
}

/// The lower-cased domain of an e-mail address, if it has one.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, domain) = email.trim().rsplit_once('@')?;
    let domain = normalise_domain(domain);
    (!domain.is_empty()).then_some(domain)
}

fn normalise_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_lowercase()
}

/// On a listed domain or a subdomain of one.
fn listed(domain: &str, builtin: &[&str], extra: &[String]) -> bool {
    let matches = |d: &str| {
        let d = normalise_domain(d);
        domain == d || domain.ends_with(&format!(".{d}"))
    };
    builtin.iter().any(|d| matches(d)) || extra.iter().any(|d| matches(d))
}

pub fn is_disposable(domain: &str, config: &FraudConfig) -> bool {
    listed(domain, DISPOSABLE_DOMAINS, &config.extra_disposable_domains)
}

pub fn is_public(domain: &str, config: &FraudConfig) -> bool {
    listed(domain, PUBLIC_DOMAINS, &config.extra_public_domains)
}

/// The last ten digits of a phone number (any script), so that `+98 912…`, `0098912…` and
/// `0912…` are one number.
#[derive(Debug, PartialEq, Eq)]
struct PhoneKey {
    digits: [u8; 10],
    len: usize,
}

fn phone_key(phone: &str) -> PhoneKey {
    let mut key = PhoneKey {
        digits: [0; 10],
        len: 0,
    };
    for c in phone.chars().rev() {
        if key.len == key.digits.len() {
            break;
        }
        let digit = match c {
            '0'..='9' => c as u32 - '0' as u32,
            '۰'..='۹' => c as u32 - '۰' as u32,
            '٠'..='٩' => c as u32 - '٠' as u32,
            _ => continue,
        };
        key.digits[key.len] = digit as u8;
        key.len += 1;
    }
    key
}

/// Hex (0x…) addresses ignore case; others (e.g. TRON's base58) are compared exactly.
fn same_payout(mine: &str, theirs: &str) -> bool {
    let (a, b) = (mine.trim(), theirs.trim());
    if a.starts_with("0x") || a.starts_with("0X") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn same_ignoring_case(mine: &str, theirs: &str) -> bool {
    mine.trim().eq_ignore_ascii_case(theirs.trim())
}

/// `value / per` as a short decimal: 30 000 / 10 000 → "3", 25 000 / 10 000 → "2.5".
fn decimal(value: u32, per: u32) -> String {
    let (whole, frac) = (value / per, value % per);
    if frac == 0 {
        return whole.to_string();
    }
    let width = per.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ME: i64 = 10;

    fn t(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn usdt(n: i64) -> Amount {
        Amount::whole(n)
    }

    /// An established borrower asking for a modest amount: nothing fires.
    fn clean() -> FraudInput {
        FraudInput {
            application: Application {
                borrower_id: ME,
                amount: usdt(300),
                email: "sara@example.ir".into(),
                phone: "+98 912 111 2233".into(),
                payout_address: "TXYZ1234abcd".into(),
                client_address: "203.0.113.7".into(),
                at: t(20, 12),
            },
            history: BorrowerHistory {
                account_created_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
                total_contributions: usdt(200),
                past_loans: vec![usdt(150), usdt(250)],
                past_applications: vec![t(1, 12)],
            },
            recent: vec![other(11), other(12)],
        }
    }

    fn other(id: i64) -> OtherApplication {
        OtherApplication {
            borrower_id: id,
            email_domain: format!("company{id}.com"),
            phone: format!("0912 000 {id:04}"),
            payout_address: format!("TOTHER{id}"),
            client_address: format!("198.51.100.{id}"),
            at: t(19, 12),
        }
    }

    /// Maker-checker's threshold in these tests.
    fn policy() -> Amount {
        usdt(1_000)
    }

    fn run(input: &FraudInput) -> FraudReport {
        evaluate(input, &FraudConfig::default(), policy())
    }

    fn only(input: &FraudInput, code: FlagCode) -> Flag {
        let report = run(input);
        let codes: Vec<_> = report.flags.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![code], "exactly {code:?} fires");
        report.flags[0].clone()
    }

    #[test]
    fn a_clean_application_raises_nothing() {
        let report = run(&clean());
        assert_eq!(report.flags, vec![]);
        assert_eq!(report.highest, None);
        assert!(!report.is_flagged());
    }

    #[test]
    fn amount_far_above_history_fires_and_names_the_numbers() {
        let mut input = clean();
        input.application.amount = usdt(751); // 3 × 250 = 750
        let f = only(&input, FlagCode::AmountAboveHistory);
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(
            f.explanation(Lang::En),
            "Asks for 751.00 USDT, more than 3× the borrower's record (largest past loan 250.00 USDT, contributions 200.00 USDT)."
        );
        assert!(
            f.explanation(Lang::Fa).contains("۷۵۱٫۰۰"),
            "{}",
            f.explanation_fa
        );
        assert!(f.explanation(Lang::Fa).contains("۳ برابر"));
        // Exactly three times is not "more than".
        input.application.amount = usdt(750);
        assert!(!run(&input).fired(FlagCode::AmountAboveHistory));
        // Contributions count as record too.
        input.history.total_contributions = usdt(400);
        input.application.amount = usdt(900);
        assert!(!run(&input).fired(FlagCode::AmountAboveHistory));
        // A configurable multiple: 2.5×.
        let config = FraudConfig {
            history_multiple_bps: 25_000,
            ..FraudConfig::default()
        };
        input.application.amount = usdt(1_001);
        let r = evaluate(&input, &config, policy());
        assert!(r.fired(FlagCode::AmountAboveHistory));
        assert!(r.flags[0].explanation_en.contains("2.5×"));
    }

    #[test]
    fn a_disposable_email_fires_and_a_company_one_does_not() {
        let mut input = clean();
        input.application.email = "x@Mailinator.COM".into();
        let f = only(&input, FlagCode::DisposableEmail);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.explanation_en,
            "The e-mail address is on mailinator.com, a disposable e-mail service."
        );
        input.application.email = "x@eu.yopmail.com".into();
        assert!(
            run(&input).fired(FlagCode::DisposableEmail),
            "subdomains too"
        );
        input.application.email = "x@notyopmail.com".into();
        assert!(!run(&input).fired(FlagCode::DisposableEmail));
        let config = FraudConfig {
            extra_disposable_domains: vec!["notyopmail.com".into()],
            ..FraudConfig::default()
        };
        assert!(evaluate(&input, &config, policy()).fired(FlagCode::DisposableEmail));
    }

    #[test]
    fn a_domain_shared_by_several_recent_applicants_fires_but_public_ones_do_not() {
        let mut input = clean();
        input.application.email = "me@shady.biz".into();
        for id in [21, 22, 23, 23] {
            input.recent.push(OtherApplication {
                email_domain: "SHADY.biz".into(),
                ..other(id)
            });
        }
        let f = only(&input, FlagCode::SharedEmailDomain);
        assert_eq!(
            f.explanation_en,
            "3 other borrowers applied with the e-mail domain shady.biz in the last 30 days."
        );
        assert!(f.explanation_fa.starts_with("۳ وام‌گیرندهٔ دیگر در ۳۰ روز"));
        // Two others is not several; an old application is not recent; my own do not count.
        let mut fewer = input.clone();
        fewer.recent.retain(|o| o.borrower_id != 23);
        fewer.recent.push(OtherApplication {
            email_domain: "shady.biz".into(),
            at: t(20, 12) - Duration::days(31),
            ..other(24)
        });
        fewer.recent.push(OtherApplication {
            email_domain: "shady.biz".into(),
            ..other(ME)
        });
        assert!(!run(&fewer).fired(FlagCode::SharedEmailDomain));
        // Many gmail.com applicants are normal.
        let mut gmail = input.clone();
        gmail.application.email = "me@gmail.com".into();
        for o in gmail.recent.iter_mut() {
            o.email_domain = "gmail.com".into();
        }
        assert!(!run(&gmail).fired(FlagCode::SharedEmailDomain));
    }

    #[test]
    fn several_applications_in_a_short_window_fire_velocity() {
        let mut input = clean();
        input.history.past_applications = vec![t(19, 13), t(20, 11)];
        let f = only(&input, FlagCode::Velocity);
        assert_eq!(
            f.explanation_en,
            "3 applications from this borrower in the last 24 hours; 3 or more are flagged."
        );
        // The same three spread over more than a day do not.
        input.history.past_applications = vec![t(19, 12), t(20, 11)];
        assert!(!run(&input).fired(FlagCode::Velocity));
    }

    #[test]
    fn a_new_account_asking_a_large_amount_fires() {
        let mut input = clean();
        input.history.account_created_at = t(20, 12) - Duration::days(5);
        input.history.total_contributions = usdt(1_000);
        input.application.amount = usdt(1_000);
        let report = run(&input);
        assert!(report.fired(FlagCode::NewAccountLargeAmount));
        assert_eq!(report.highest, Some(Severity::High));
        let f = report
            .flags
            .iter()
            .find(|f| f.code == FlagCode::NewAccountLargeAmount)
            .unwrap();
        assert_eq!(
            f.explanation_en,
            "The account is 5 days old (new under 30 days) and asks for 1,000.00 USDT (1,000.00 USDT or more is large)."
        );
        assert!(f.explanation_fa.contains("۵ روز"));
        // A small amount from a new account, or a large one from an old account, does not.
        input.application.amount = usdt(999);
        assert!(!run(&input).fired(FlagCode::NewAccountLargeAmount));
        input.application.amount = usdt(1_000);
        input.history.account_created_at = t(20, 12) - Duration::days(30);
        assert!(!run(&input).fired(FlagCode::NewAccountLargeAmount));
    }

    #[test]
    fn the_same_phone_payout_or_client_address_behind_other_borrowers_fires() {
        // Phone: the same number written three ways.
        let mut input = clean();
        input.recent.push(OtherApplication {
            phone: "۰۹۱۲۱۱۱۲۲۳۳".into(),
            ..other(30)
        });
        let f = only(&input, FlagCode::SharedPhone);
        assert_eq!(
            f.explanation_en,
            "The phone number is also used by 1 other borrowers in the last 30 days."
        );
        input.recent.last_mut().unwrap().phone = "00989121112234".into();
        assert!(!run(&input).fired(FlagCode::SharedPhone));

        let mut input = clean();
        input.application.payout_address = "0xAbC123".into();
        input.recent.push(OtherApplication {
            payout_address: "0xabc123 ".into(),
            ..other(31)
        });
        let f = only(&input, FlagCode::SharedPayoutAddress);
        assert_eq!(f.severity, Severity::High);
        // Base58 addresses are case-sensitive.
        let mut input = clean();
        input.recent.push(OtherApplication {
            payout_address: "txyz1234abcd".into(),
            ..other(31)
        });
        assert!(!run(&input).fired(FlagCode::SharedPayoutAddress));

        let mut input = clean();
        for id in [40, 41] {
            input.recent.push(OtherApplication {
                client_address: "203.0.113.7".into(),
                ..other(id)
            });
        }
        assert!(
            !run(&input).fired(FlagCode::SharedClientAddress),
            "two is an office"
        );
        input.recent.push(OtherApplication {
            client_address: "203.0.113.7".into(),
            ..other(42)
        });
        let f = only(&input, FlagCode::SharedClientAddress);
        assert_eq!(f.severity, Severity::Low);
        assert!(f.explanation_fa.contains("۳ وام‌گیرندهٔ دیگر"));
    }

    #[test]
    fn an_amount_just_under_the_approval_threshold_fires_structuring() {
        let mut input = clean();
        input.history.past_loans = vec![usdt(900)];
        input.application.amount = usdt(950);
        let f = only(&input, FlagCode::Structuring);
        assert_eq!(
            f.explanation_en,
            "Asks for 950.00 USDT, just under the 1,000.00 USDT above which two lenders must approve (within 10%)."
        );
        assert!(f.explanation_fa.contains("۱۰٪"));
        input.application.amount = usdt(900);
        assert!(
            run(&input).fired(FlagCode::Structuring),
            "the edge of the margin"
        );
        input.application.amount = Amount::whole(900)
            .checked_sub(Amount::from_units(1))
            .unwrap();
        assert!(!run(&input).fired(FlagCode::Structuring));
        input.application.amount = usdt(1_001);
        assert!(
            !run(&input).fired(FlagCode::Structuring),
            "above it two approve anyway"
        );
    }

    #[test]
    fn the_report_gives_the_highest_severity_and_round_trips_with_its_input() {
        let mut input = clean();
        input.application.amount = usdt(960);
        input.application.email = "a@yopmail.com".into();
        let report = run(&input);
        let codes: Vec<_> = report.flags.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(
            codes,
            ["amount_above_history", "disposable_email", "structuring"]
        );
        assert_eq!(report.highest, Some(Severity::High));
        let stored = serde_json::to_string(&(&input, &report)).unwrap();
        let (back_input, back_report): (FraudInput, FraudReport) =
            serde_json::from_str(&stored).unwrap();
        assert_eq!((back_input, back_report), (input, report));
        assert_eq!(decimal(1_000, 100), "10");
        assert_eq!(decimal(250, 100), "2.5");
        assert_eq!(decimal(30_500, 10_000), "3.05");
        assert_eq!(email_domain("no-at-sign"), None);
        assert_eq!(email_domain(" A@B.Example. "), Some("b.example".into()));
    }

    #[test]
    fn many_recent_applications_are_counted_by_distinct_borrower() {
        let mut input = clean();
        input.recent = (0..100_000).map(|i| other(1_000 + i)).collect();
        // Five applications by two other borrowers share my phone, written differently.
        for (id, phone) in [
            (50, "09121112233"),
            (50, "+989121112233"),
            (51, "9121112233"),
        ] {
            input.recent.push(OtherApplication {
                phone: phone.into(),
                ..other(id)
            });
        }
        let started = std::time::Instant::now();
        let report = run(&input);
        eprintln!("100 000 recent applications: {:?}", started.elapsed());
        let codes: Vec<_> = report.flags.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![FlagCode::SharedPhone]);
        assert!(report.flags[0]
            .explanation_en
            .contains("by 2 other borrowers"));
    }

    proptest::proptest! {
        /// The highest severity is the top of what fired, and every flag's severity is its
        /// rule's.
        #[test]
        fn the_highest_severity_is_the_maximum_of_the_flags(
            amount in 1i64..5_000,
            age_days in 0i64..100,
            past in proptest::collection::vec(0i64..60, 0..5),
            disposable in proptest::bool::ANY,
        ) {
            let mut input = clean();
            input.application.amount = usdt(amount);
            input.history.account_created_at = t(20, 12) - Duration::days(age_days);
            input.history.past_applications = past.iter().map(|h| t(20, 12) - Duration::hours(*h)).collect();
            if disposable {
                input.application.email = "x@yopmail.com".into();
            }
            let report = run(&input);
            proptest::prop_assert_eq!(report.highest, report.flags.iter().map(|f| f.severity).max());
            proptest::prop_assert!(report.flags.iter().all(|f| f.severity == f.code.severity()));
            proptest::prop_assert_eq!(report.fired(FlagCode::DisposableEmail), disposable);
        }
    }
}
