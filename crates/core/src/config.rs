//! Configuration from the environment (and a `.env` file), using the original Saghat's names
//! where it had them. Every variable is listed in `.env.example` and the README.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use jsonwebtoken::Algorithm;

use crate::notify::kavenegar::{self, KavenegarSettings};
use crate::notify::setup::NotifyConfig;
use crate::notify::smtp::SmtpSettings;
use crate::notify::whatsapp::{self, WhatsAppSettings};
use crate::platform::money::Amount;
use crate::platform::secret::Secret;
use crate::tickets::approval::ApprovalPolicy;
use crate::tickets::fraud::FraudConfig;
use crate::tickets::schedule::Pricing;
use crate::tickets::sla::{parse_holidays, BusinessCalendar, SlaTargets};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Dev,
    Test,
    Prod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct LoginLimits {
    /// Password checks one address may make on one account per window.
    pub max_failures_per_account: i64,
    pub max_failures_per_ip: i64,
    /// Password checks on one account from all addresses per window; past it, only an address
    /// that has not tried this account yet in the window may (once), so its owner can still
    /// sign in while others hammer it.
    pub max_failures_per_account_total: i64,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub app_env: AppEnv,
    pub debug: bool,
    pub bind: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub database_max_connections: u32,
    pub redis_url: Option<String>,
    /// Namespace of Saghat's Redis keys and channel, so several deployments can share a Redis.
    pub redis_prefix: String,
    pub rate_limit_per_minute: u32,
    pub cache_ttl: Duration,
    pub secret_key: Secret,
    pub jwt_secret_key: Secret,
    pub jwt_algorithm: Algorithm,
    pub jwt_expire_minutes: i64,
    pub refresh_token_expire_days: i64,
    /// No refresh token outlives its sign-in by more than this, however often it is refreshed.
    pub refresh_token_max_days: i64,
    /// Argon2 hashes computed at once (each takes 19 MiB), and requests allowed to wait for one;
    /// past both, 503 with `Retry-After`.
    pub password_hash_concurrency: usize,
    pub password_hash_queue: usize,
    pub allowed_hosts: Vec<String>,
    pub cors_origins: Vec<String>,
    pub log_format: LogFormat,
    pub fund_timezone: Tz,
    pub fake_now: Option<DateTime<Utc>>,
    pub bitpin_api_base_url: String,
    pub bitpin_api_key: Option<Secret>,
    pub bitpin_timeout: Duration,
    pub login_limits: LoginLimits,
    pub trust_proxy_headers: bool,
    /// `GET /metrics` is served (`METRICS`; see [`metrics_access`]).
    pub metrics: bool,
    /// `METRICS_TOKEN`: when set, every scrape must send `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// A request's headers must have arrived this long after the server began waiting for them
    /// (slowloris); on HTTP/1 that includes the wait for the next request on a kept-alive
    /// connection.
    pub header_read_timeout: Duration,
    /// A connection whose reads or writes have waited this long on the client is closed.
    pub idle_timeout: Duration,
    pub admin_username: Option<String>,
    pub admin_password: Option<Secret>,
    /// The notification channels (e-mail, SMS, WhatsApp); each is off when not configured.
    pub notify: NotifyConfig,
    /// The background job worker.
    pub jobs: JobsConfig,
    /// When the fund's reminders go out.
    pub fund_notices: FundNoticesConfig,
    /// Loan-request tickets: approval, fraud thresholds, SLA calendar, pricing, attachments.
    pub tickets: TicketsConfig,
    /// Invoicing: the seller's details printed on every invoice, numbering series and pattern.
    pub invoicing: InvoicingConfig,
    /// Reports' long exports: where their files are written and how long they are kept.
    pub reports: ReportsConfig,
    /// OpenID providers to sign in with (`OIDC_<NAME>_ISSUER` and friends).
    pub oidc: Vec<crate::auth::oidc::settings::OidcProvider>,
    /// `WEBHOOK_ALLOW_PRIVATE`: webhook endpoints may be loopback, private or link-local
    /// addresses (a receiver on the same machine or network); off, they are refused.
    pub webhook_allow_private: bool,
    /// Online payments through Zarinpal; off without `ZARINPAL_MERCHANT_ID`.
    pub zarinpal: ZarinpalConfig,
    /// `PUBLIC_BASE_URL`: the address payers reach Saghat at (`https://pay.example.com`), for
    /// the gateway's callback. Unset outside production, the request's own host is used.
    pub public_base_url: Option<String>,
}

/// Zarinpal (`ZARINPAL_*`) and payment intents (`PAYMENT_INTENT_EXPIRY_MINUTES`).
#[derive(Clone, Debug)]
pub struct ZarinpalConfig {
    /// `ZARINPAL_MERCHANT_ID`; none turns online payment off.
    pub merchant_id: Option<Secret>,
    /// `ZARINPAL_BASE_URL`, else the sandbox host with `ZARINPAL_SANDBOX=true`, else
    /// production's.
    pub base_url: String,
    /// `ZARINPAL_CURRENCY`: `IRR` (default) or `IRT` (Tomans).
    pub currency: crate::gateways::zarinpal::ZarinpalCurrency,
    pub timeout: Duration,
    /// An intent not paid by then is expired by reconciliation (default 30 minutes).
    pub intent_expiry: Duration,
    /// `PAYMENT_IRR_PER_USDT`: the Rials a USDT costs, to pay a ticket's installment (in
    /// USDT) online; none turns that off.
    pub irr_per_usdt: Option<i64>,
    /// `SAGHAT_TEST_CRASH_AFTER_VERIFY` (APP_ENV=test only): the process exits right after
    /// Zarinpal verified a payment and before it is recorded, to test that reconciliation
    /// completes it.
    pub crash_after_verify: bool,
}

impl ZarinpalConfig {
    pub fn off() -> ZarinpalConfig {
        ZarinpalConfig {
            merchant_id: None,
            base_url: crate::gateways::zarinpal::SANDBOX_BASE_URL.into(),
            currency: crate::gateways::zarinpal::ZarinpalCurrency::Irr,
            timeout: Duration::from_secs(10),
            intent_expiry: Duration::from_secs(30 * 60),
            irr_per_usdt: None,
            crash_after_verify: false,
        }
    }

    fn from_env(app_env: AppEnv) -> anyhow::Result<ZarinpalConfig> {
        use crate::gateways::zarinpal::{ZarinpalCurrency, PRODUCTION_BASE_URL, SANDBOX_BASE_URL};
        let sandbox = flag("ZARINPAL_SANDBOX")?;
        let base_url = match var("ZARINPAL_BASE_URL") {
            Some(url) => base_url_text("ZARINPAL_BASE_URL", &url)?,
            None if sandbox => SANDBOX_BASE_URL.into(),
            None => PRODUCTION_BASE_URL.into(),
        };
        let currency = match var("ZARINPAL_CURRENCY").as_deref() {
            None | Some("IRR") => ZarinpalCurrency::Irr,
            Some("IRT") => ZarinpalCurrency::Irt,
            Some(other) => bail!("ZARINPAL_CURRENCY={other:?} must be IRR or IRT"),
        };
        let crash_after_verify = flag("SAGHAT_TEST_CRASH_AFTER_VERIFY")?;
        if crash_after_verify && app_env != AppEnv::Test {
            bail!("SAGHAT_TEST_CRASH_AFTER_VERIFY is only allowed with APP_ENV=test");
        }
        let expiry_minutes: u64 = parsed("PAYMENT_INTENT_EXPIRY_MINUTES", 30)?;
        if expiry_minutes == 0 {
            bail!("PAYMENT_INTENT_EXPIRY_MINUTES must be at least 1");
        }
        let irr_per_usdt = match var("PAYMENT_IRR_PER_USDT") {
            None => None,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(rate) if rate > 0 => Some(rate),
                _ => bail!("PAYMENT_IRR_PER_USDT={text:?} must be a whole number of Rials above 0"),
            },
        };
        Ok(ZarinpalConfig {
            irr_per_usdt,
            merchant_id: var("ZARINPAL_MERCHANT_ID").map(Secret::from),
            base_url,
            currency,
            timeout: positive_seconds("ZARINPAL_TIMEOUT_SECONDS", 10)?,
            intent_expiry: Duration::from_secs(60 * expiry_minutes),
            crash_after_verify,
        })
    }
}

/// Reports' long exports (`EXPORTS_DIR`, `EXPORT_KEEP_DAYS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportsConfig {
    /// Where the jobs write the registers' files, one per export.
    pub exports_dir: PathBuf,
    /// An export and its file are removed this many days after they were asked for.
    pub export_keep_days: u32,
}

impl ReportsConfig {
    pub fn standard(data_dir: &std::path::Path) -> ReportsConfig {
        ReportsConfig {
            exports_dir: data_dir.join("exports"),
            export_keep_days: 7,
        }
    }

    fn from_env(data_dir: &std::path::Path) -> anyhow::Result<ReportsConfig> {
        let d = ReportsConfig::standard(data_dir);
        let export_keep_days = parsed("EXPORT_KEEP_DAYS", d.export_keep_days)?;
        if export_keep_days == 0 {
            bail!("EXPORT_KEEP_DAYS must be at least 1");
        }
        Ok(ReportsConfig {
            exports_dir: var("EXPORTS_DIR").map_or(d.exports_dir, PathBuf::from),
            export_keep_days,
        })
    }
}

/// Invoicing (`INVOICE_*`, `CREDIT_NOTE_SERIES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoicingConfig {
    /// The seller, snapshotted onto each invoice when it is sent (`INVOICE_SELLER_*`).
    pub seller: crate::invoicing::model::Party,
    /// The seller's IBAN for transfers (`INVOICE_SELLER_IBAN`).
    pub seller_iban: Option<String>,
    /// A logo for the PDF (`INVOICE_SELLER_LOGO`, a file path).
    pub seller_logo: Option<PathBuf>,
    /// `INVOICE_NUMBER_PATTERN`: `{series}`, `{year}` (Jalali year of the issue date),
    /// `{gyear}` (Gregorian year) and `{seq:N}` (the sequence, zero-padded to N digits).
    pub number_pattern: String,
    /// `INVOICE_SERIES` (default `INV`) and `CREDIT_NOTE_SERIES` (default `CN`).
    pub invoice_series: String,
    pub credit_note_series: String,
    /// `INVOICE_REMINDER_DAYS`: when open invoices' clients are reminded, in days relative to
    /// the due date (default `-3,0,7,14,30`; empty turns reminders off).
    pub reminder_days: crate::invoicing::reminders::ReminderSchedule,
}

/// The reminder schedule when `INVOICE_REMINDER_DAYS` is not set.
pub const DEFAULT_REMINDER_DAYS: &str = "-3,0,7,14,30";

impl Default for InvoicingConfig {
    fn default() -> Self {
        InvoicingConfig {
            seller: crate::invoicing::model::Party {
                name: "Saghat".into(),
                address: crate::invoicing::model::Address {
                    street: String::new(),
                    city: String::new(),
                    postal_code: String::new(),
                    country_code: "IR".into(),
                },
                tax_id: None,
                email: None,
                phone: None,
            },
            seller_iban: None,
            seller_logo: None,
            number_pattern: crate::invoicing::numbering::DEFAULT_PATTERN.into(),
            invoice_series: "INV".into(),
            credit_note_series: "CN".into(),
            reminder_days: crate::invoicing::reminders::ReminderSchedule::parse(
                DEFAULT_REMINDER_DAYS,
            )
            .expect("the default reminder schedule parses"),
        }
    }
}

impl InvoicingConfig {
    /// From the variables `var` gives (the environment, or a test's map).
    fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<InvoicingConfig> {
        let d = InvoicingConfig::default();
        let country = var("INVOICE_SELLER_COUNTRY").unwrap_or(d.seller.address.country_code);
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            bail!("INVOICE_SELLER_COUNTRY={country:?} must be an ISO 3166-1 alpha-2 code (IR, DE)");
        }
        let number_pattern = var("INVOICE_NUMBER_PATTERN").unwrap_or(d.number_pattern);
        crate::invoicing::numbering::check_pattern(&number_pattern)
            .map_err(|e| anyhow::anyhow!("INVOICE_NUMBER_PATTERN={number_pattern:?}: {e}"))?;
        let series = |name: &str, default: String| -> anyhow::Result<String> {
            let value = var(name).unwrap_or(default);
            if value.is_empty()
                || value.len() > 16
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                bail!("{name}={value:?} must be 1 to 16 letters, digits or _");
            }
            Ok(value)
        };
        let invoice_series = series("INVOICE_SERIES", d.invoice_series)?;
        let credit_note_series = series("CREDIT_NOTE_SERIES", d.credit_note_series)?;
        if invoice_series == credit_note_series {
            // Credit notes have their own numbering (issue 12): one series would mix them.
            bail!("CREDIT_NOTE_SERIES must differ from INVOICE_SERIES");
        }
        let reminder_days = match var("INVOICE_REMINDER_DAYS") {
            None => d.reminder_days,
            Some(text) => crate::invoicing::reminders::ReminderSchedule::parse(&text)
                .map_err(|e| anyhow::anyhow!("INVOICE_REMINDER_DAYS: {e}"))?,
        };
        Ok(InvoicingConfig {
            seller: crate::invoicing::model::Party {
                name: var("INVOICE_SELLER_NAME").unwrap_or(d.seller.name),
                address: crate::invoicing::model::Address {
                    street: var("INVOICE_SELLER_ADDRESS_STREET").unwrap_or_default(),
                    city: var("INVOICE_SELLER_CITY").unwrap_or_default(),
                    postal_code: var("INVOICE_SELLER_POSTAL_CODE").unwrap_or_default(),
                    country_code: country,
                },
                tax_id: var("INVOICE_SELLER_TAX_ID"),
                email: var("INVOICE_SELLER_EMAIL"),
                phone: var("INVOICE_SELLER_PHONE"),
            },
            seller_iban: var("INVOICE_SELLER_IBAN").map(|v| v.replace(' ', "")),
            seller_logo: var("INVOICE_SELLER_LOGO").map(PathBuf::from),
            number_pattern,
            invoice_series,
            credit_note_series,
            reminder_days,
        })
    }
}

/// Loan-request tickets (`TICKET_*`, `ATTACHMENT*`).
#[derive(Clone, Debug)]
pub struct TicketsConfig {
    /// Amounts above `two_approvers_above` need two lenders (`TICKET_TWO_APPROVERS_ABOVE`).
    pub approval: ApprovalPolicy,
    pub fraud: FraudConfig,
    /// First response and decision targets, in business time of `calendar`.
    pub sla: SlaTargets,
    /// Working hours in `FUND_TIMEZONE` and the holidays of `TICKET_HOLIDAYS`.
    pub calendar: BusinessCalendar,
    /// What a borrower pays on top of the principal (`TICKET_FLAT_FEE` or
    /// `TICKET_MONTHLY_RATE_BPS`; free by default, as in the fund).
    pub pricing: Pricing,
    /// The day of the Jalali month installments fall due (1–29).
    pub due_day: u8,
    /// Borrowers are reminded this many days before an installment falls due.
    pub reminder_days_before: u32,
    /// Where attachments' bytes are kept, one file per SHA-256.
    pub attachments_dir: PathBuf,
    pub attachment_max_bytes: u64,
    /// Content types an attachment may have.
    pub attachment_types: Vec<String>,
}

impl TicketsConfig {
    pub fn standard(data_dir: &std::path::Path, tz: Tz) -> TicketsConfig {
        TicketsConfig {
            approval: ApprovalPolicy::default(),
            fraud: FraudConfig::default(),
            sla: SlaTargets::default(),
            calendar: BusinessCalendar::standard(tz),
            pricing: Pricing::Free,
            due_day: 1,
            reminder_days_before: 3,
            attachments_dir: data_dir.join("attachments"),
            attachment_max_bytes: 10 * 1024 * 1024,
            attachment_types: ["application/pdf", "image/png", "image/jpeg"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn from_env(data_dir: &std::path::Path, tz: Tz) -> anyhow::Result<TicketsConfig> {
        let d = TicketsConfig::standard(data_dir, tz);
        let amount = |name: &str, default: Amount| -> anyhow::Result<Amount> {
            match var(name) {
                None => Ok(default),
                Some(text) => match Amount::parse(&text) {
                    Ok(a) if a.is_positive() && a.fits_column() => Ok(a),
                    _ => bail!("{name} must be a positive amount, like 5000 or 12.5"),
                },
            }
        };
        let approval = ApprovalPolicy {
            two_approvers_above: amount(
                "TICKET_TWO_APPROVERS_ABOVE",
                d.approval.two_approvers_above,
            )?,
        };
        let f = &d.fraud;
        let fraud = FraudConfig {
            history_multiple_bps: parsed(
                "TICKET_FRAUD_HISTORY_MULTIPLE_BPS",
                f.history_multiple_bps,
            )?,
            recent_window_hours: parsed("TICKET_FRAUD_RECENT_HOURS", f.recent_window_hours)?,
            velocity_count: parsed("TICKET_FRAUD_VELOCITY_COUNT", f.velocity_count)?,
            velocity_window_hours: parsed("TICKET_FRAUD_VELOCITY_HOURS", f.velocity_window_hours)?,
            new_account_days: parsed("TICKET_FRAUD_NEW_ACCOUNT_DAYS", f.new_account_days)?,
            new_account_large_amount: amount(
                "TICKET_FRAUD_NEW_ACCOUNT_LARGE_AMOUNT",
                f.new_account_large_amount,
            )?,
            structuring_margin_bps: parsed(
                "TICKET_FRAUD_STRUCTURING_MARGIN_BPS",
                f.structuring_margin_bps,
            )?,
            extra_disposable_domains: lowercase(list("TICKET_FRAUD_DISPOSABLE_DOMAINS", &[])?),
            ..f.clone()
        };
        if fraud.recent_window_hours <= 0
            || fraud.velocity_window_hours <= 0
            || fraud.velocity_count < 2
        {
            bail!("TICKET_FRAUD_RECENT_HOURS and TICKET_FRAUD_VELOCITY_HOURS must be positive, TICKET_FRAUD_VELOCITY_COUNT at least 2");
        }
        let hours = |name: &str, default_minutes: i64| -> anyhow::Result<i64> {
            let h: u32 = parsed(name, (default_minutes / 60) as u32)?;
            if h == 0 {
                bail!("{name} must be at least 1 business hour");
            }
            Ok(i64::from(h) * 60)
        };
        let sla = SlaTargets {
            first_response_minutes: hours(
                "TICKET_SLA_FIRST_RESPONSE_HOURS",
                d.sla.first_response_minutes,
            )?,
            decision_minutes: hours("TICKET_SLA_DECISION_HOURS", d.sla.decision_minutes)?,
        };
        let mut calendar = d.calendar;
        if let Some(text) = var("TICKET_HOLIDAYS") {
            let holidays = parse_holidays(&text).context("TICKET_HOLIDAYS")?;
            calendar.holidays = holidays.dated;
            calendar.yearly_holidays.extend(holidays.yearly);
        }
        calendar.validate().context("the ticket SLA calendar")?;
        let pricing = match (var("TICKET_FLAT_FEE"), var("TICKET_MONTHLY_RATE_BPS")) {
            (Some(_), Some(_)) => bail!("set TICKET_FLAT_FEE or TICKET_MONTHLY_RATE_BPS, not both"),
            (Some(_), None) => Pricing::FlatFee(amount("TICKET_FLAT_FEE", Amount::ZERO)?),
            (None, Some(_)) => Pricing::MonthlyRateBps(parsed("TICKET_MONTHLY_RATE_BPS", 0)?),
            (None, None) => Pricing::Free,
        };
        let due_day: u8 = parsed("TICKET_DUE_DAY", d.due_day)?;
        if !(1..=29).contains(&due_day) {
            bail!("TICKET_DUE_DAY must be a day from 1 to 29 of the Jalali month");
        }
        let default_types: Vec<&str> = d.attachment_types.iter().map(String::as_str).collect();
        let attachment_types = lowercase(list("ATTACHMENT_TYPES", &default_types)?);
        if attachment_types.is_empty() {
            bail!("ATTACHMENT_TYPES must name at least one content type");
        }
        let attachment_max_bytes: u64 = parsed("ATTACHMENT_MAX_BYTES", d.attachment_max_bytes)?;
        if attachment_max_bytes == 0 {
            bail!("ATTACHMENT_MAX_BYTES must be positive");
        }
        Ok(TicketsConfig {
            approval,
            fraud,
            sla,
            calendar,
            pricing,
            due_day,
            reminder_days_before: parsed("TICKET_REMINDER_DAYS_BEFORE", d.reminder_days_before)?,
            attachments_dir: var("ATTACHMENTS_DIR").map_or(d.attachments_dir, PathBuf::from),
            attachment_max_bytes,
            attachment_types,
        })
    }
}

/// How background jobs run (`WORKER_*`, `JOB_*`).
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// `serve` also works the queue (the default); `false` leaves it to `saghat worker`.
    pub in_process: bool,
    /// Jobs one process works at a time.
    pub concurrency: usize,
    /// Attempts before a job is set aside as dead for an admin.
    pub max_attempts: i32,
    /// How long one attempt may run before it is cancelled and counted as failed.
    pub timeout: Duration,
    /// A job still marked running this long after it started belonged to a worker that died
    /// (killed, power lost); it is put back to be run again. At least `timeout`.
    pub rescue_after: Duration,
    /// The first retry's delay; each next one doubles, at most `retry_max`, with ±20% jitter.
    pub retry_first: Duration,
    pub retry_max: Duration,
}

/// The fund's scheduled notices, in `FUND_TIMEZONE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundNoticesConfig {
    /// The day of each Jalali month (1–29) on which members who have not paid are reminded.
    pub reminder_day: u32,
    /// The hour (0–23) at which the day's notices go out.
    pub hour: u32,
    /// When this many members or fewer are left to pay (and at least one), everyone hears it.
    pub few_left: u32,
}

impl Default for FundNoticesConfig {
    fn default() -> Self {
        FundNoticesConfig {
            reminder_day: 20,
            hour: 9,
            few_left: 3,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            in_process: true,
            concurrency: 10,
            max_attempts: 10,
            timeout: Duration::from_secs(60),
            rescue_after: Duration::from_secs(3600),
            retry_first: Duration::from_secs(15),
            retry_max: Duration::from_secs(6 * 3600),
        }
    }
}

impl JobsConfig {
    fn from_env() -> anyhow::Result<JobsConfig> {
        let d = JobsConfig::default();
        let seconds = |name, default: Duration| positive_seconds(name, default.as_secs());
        let timeout = seconds("JOB_TIMEOUT_SECONDS", d.timeout)?;
        let rescue_after = seconds("JOB_RESCUE_AFTER_SECONDS", d.rescue_after)?;
        if rescue_after < timeout {
            // A job rescued while its attempt may still be running could run twice at once.
            bail!("JOB_RESCUE_AFTER_SECONDS must be at least JOB_TIMEOUT_SECONDS");
        }
        let retry_first = seconds("JOB_RETRY_FIRST_SECONDS", d.retry_first)?;
        let retry_max = seconds("JOB_RETRY_MAX_SECONDS", d.retry_max)?;
        if retry_max < retry_first {
            bail!("JOB_RETRY_MAX_SECONDS must be at least JOB_RETRY_FIRST_SECONDS");
        }
        let max_attempts: i32 = parsed("JOB_MAX_ATTEMPTS", d.max_attempts)?;
        if !(1..=100).contains(&max_attempts) {
            bail!("JOB_MAX_ATTEMPTS must be between 1 and 100");
        }
        let concurrency: usize = parsed("WORKER_CONCURRENCY", d.concurrency)?;
        if concurrency == 0 {
            bail!("WORKER_CONCURRENCY must be at least 1");
        }
        Ok(JobsConfig {
            in_process: flag_or("WORKER_IN_PROCESS", d.in_process)?,
            concurrency,
            max_attempts,
            timeout,
            rescue_after,
            retry_first,
            retry_max,
        })
    }

    /// Fast retries for tests. No worker unless a test asks for one: most tests look only at
    /// what is enqueued.
    pub fn for_tests() -> JobsConfig {
        JobsConfig {
            in_process: false,
            concurrency: 4,
            max_attempts: 3,
            timeout: Duration::from_secs(10),
            rescue_after: Duration::from_secs(10),
            retry_first: Duration::from_millis(100),
            retry_max: Duration::from_millis(500),
        }
    }
}

impl FundNoticesConfig {
    fn from_env() -> anyhow::Result<FundNoticesConfig> {
        let default = FundNoticesConfig::default();
        let notices = FundNoticesConfig {
            reminder_day: parsed("FUND_REMINDER_DAY", default.reminder_day)?,
            hour: parsed("FUND_NOTICE_HOUR", default.hour)?,
            few_left: parsed("FUND_FEW_LEFT_TO_PAY", default.few_left)?,
        };
        // Day 29 exists in every Jalali month (Esfand has 29 in common years).
        if !(1..=29).contains(&notices.reminder_day) {
            bail!("FUND_REMINDER_DAY must be a day from 1 to 29 of the Jalali month");
        }
        if notices.hour > 23 {
            bail!("FUND_NOTICE_HOUR must be an hour from 0 to 23");
        }
        Ok(notices)
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn parsed<T: FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    parse_value(name, var(name), default)
}

/// `value` (the variable `name`, if set) parsed, or `default`.
fn parse_value<T: FromStr>(name: &str, value: Option<String>, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={text:?} is invalid: {e}")),
    }
}

/// `METRICS` (`on`/`off`) and `METRICS_TOKEN`: whether `GET /metrics` is served, and the token
/// a scrape must present. On by default in `dev` and `test`; in `prod` only with a token (unset
/// `METRICS` then means on, and `METRICS=on` without a token is a start-up error).
pub fn metrics_access(
    app_env: AppEnv,
    metrics: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<(bool, Option<Secret>)> {
    let token = token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Secret::from);
    let on = match metrics.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => app_env != AppEnv::Prod || token.is_some(),
        Some("1" | "true" | "yes" | "on") => {
            if app_env == AppEnv::Prod && token.is_none() {
                bail!("METRICS=on with APP_ENV=prod needs METRICS_TOKEN");
            }
            true
        }
        Some("0" | "false" | "no" | "off") => false,
        Some(v) => bail!("METRICS={v:?} is not on or off"),
    };
    Ok((on, token))
}

fn flag(name: &str) -> anyhow::Result<bool> {
    flag_or(name, false)
}

/// A boolean variable, `default` when unset.
fn flag_or(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => bail!("{name}={v:?} is not a boolean (true/false)"),
    }
}

/// A listening address must be `HOST:PORT`: a bare port (`BIND=8000`) is a common slip that
/// the socket layer reports only as "invalid socket address".
pub fn bind_address(name: &str, text: &str) -> anyhow::Result<String> {
    let valid = text
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !valid {
        bail!("{name}={text:?} is not an address: use HOST:PORT, such as 127.0.0.1:8000 or 0.0.0.0:8000");
    }
    Ok(text.to_string())
}

/// A number of seconds greater than 0 (a 0 timeout would close every connection at once).
/// An http(s) URL without its trailing slash.
fn base_url_text(name: &str, url: &str) -> anyhow::Result<String> {
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || reqwest::Url::parse(url).is_err()
    {
        bail!("{name}={url:?} is not an http(s) URL");
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn positive_seconds(name: &str, default: u64) -> anyhow::Result<Duration> {
    match parsed(name, default)? {
        0 => bail!("{name} must be at least 1"),
        seconds => Ok(Duration::from_secs(seconds)),
    }
}

fn lowercase(items: Vec<String>) -> Vec<String> {
    items.into_iter().map(|i| i.to_ascii_lowercase()).collect()
}

/// A list given as a JSON array (`["a","b"]`, the original's form) or comma-separated.
fn list(name: &str, default: &[&str]) -> anyhow::Result<Vec<String>> {
    match var(name) {
        None => Ok(default.iter().map(|s| s.to_string()).collect()),
        Some(text) if text.starts_with('[') => serde_json::from_str(&text)
            .with_context(|| format!("{name} is not a JSON array of strings")),
        Some(text) => Ok(text
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()),
    }
}

impl Config {
    /// Reads the configuration. Secrets missing in `dev`/`test` are generated and kept in the
    /// data folder, so restarts keep sessions valid; in `prod` they are a start-up error.
    pub fn from_env() -> anyhow::Result<Config> {
        let app_env = match var("APP_ENV")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("dev") | Some("development") => AppEnv::Dev,
            Some("test") => AppEnv::Test,
            Some("prod") | Some("production") => AppEnv::Prod,
            Some(other) => bail!("APP_ENV={other:?} must be dev, test or prod"),
        };
        let data_dir = PathBuf::from(var("SAGHAT_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/saghat.db?mode=rwc", data_dir.display()));
        let secret_key = secret(app_env, &data_dir, "SECRET_KEY")?;
        let jwt_secret_key = secret(app_env, &data_dir, "JWT_SECRET_KEY")?;
        let jwt_algorithm = match var("JWT_ALGORITHM").as_deref().unwrap_or("HS256") {
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            other => bail!("JWT_ALGORITHM={other:?}: only HS256, HS384 and HS512 are supported"),
        };
        let fund_timezone: Tz = var("FUND_TIMEZONE")
            .unwrap_or_else(|| "UTC".into())
            .parse()
            .map_err(|e| anyhow::anyhow!("FUND_TIMEZONE is not an IANA time zone: {e}"))?;
        let tickets = TicketsConfig::from_env(&data_dir, fund_timezone)?;
        let reports = ReportsConfig::from_env(&data_dir)?;
        let fake_now = match var("SAGHAT_FAKE_NOW") {
            None => None,
            Some(_) if app_env == AppEnv::Prod => {
                bail!("SAGHAT_FAKE_NOW is only allowed with APP_ENV=dev or APP_ENV=test")
            }
            Some(text) => Some(
                DateTime::parse_from_rfc3339(&text)
                    .with_context(|| format!("SAGHAT_FAKE_NOW={text:?} is not RFC 3339"))?
                    .with_timezone(&Utc),
            ),
        };
        let log_format = match var("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("LOG_FORMAT={other:?} must be text or json"),
        };
        let request_timeout = Duration::from_secs(parsed("REQUEST_TIMEOUT_SECONDS", 30)?);
        let idle_timeout = positive_seconds("IDLE_TIMEOUT_SECONDS", 60)?;
        // While a request runs, hyper keeps a read pending (to notice a client leaving), so a
        // shorter idle timeout would cut off requests the request timeout still allows.
        if idle_timeout < request_timeout {
            bail!("IDLE_TIMEOUT_SECONDS must be at least REQUEST_TIMEOUT_SECONDS");
        }
        let (metrics, metrics_token) = metrics_access(
            app_env,
            var("METRICS").as_deref(),
            var("METRICS_TOKEN").as_deref(),
        )?;
        let jwt_expire_minutes: i64 = parsed("JWT_EXPIRE_MINUTES", 10080)?;
        if jwt_expire_minutes <= 0 {
            bail!("JWT_EXPIRE_MINUTES must be positive");
        }
        Ok(Config {
            app_env,
            debug: flag("DEBUG")?,
            bind: bind_address(
                "BIND",
                &var("BIND").unwrap_or_else(|| "127.0.0.1:8000".into()),
            )?,
            data_dir,
            database_url,
            database_max_connections: parsed("DATABASE_MAX_CONNECTIONS", 10)?,
            redis_url: var("REDIS_URL"),
            redis_prefix: var("REDIS_PREFIX").unwrap_or_else(|| "saghat".into()),
            rate_limit_per_minute: parsed("RATE_LIMIT_PER_MINUTE", 1200)?,
            cache_ttl: Duration::from_secs(parsed("CACHE_TTL_SECONDS", 5)?),
            secret_key: secret_key.into(),
            jwt_secret_key: jwt_secret_key.into(),
            jwt_algorithm,
            jwt_expire_minutes,
            refresh_token_expire_days: parsed("REFRESH_TOKEN_EXPIRE_DAYS", 30)?,
            refresh_token_max_days: parsed("REFRESH_TOKEN_MAX_DAYS", 90)?,
            password_hash_concurrency: parsed("PASSWORD_HASH_CONCURRENCY", default_cores())?.max(1),
            password_hash_queue: parsed("PASSWORD_HASH_QUEUE", 32)?,
            allowed_hosts: list("ALLOWED_HOSTS", &["*"])?,
            cors_origins: list("CORS_ORIGINS", &[])?,
            log_format,
            fund_timezone,
            fake_now,
            bitpin_api_base_url: var("BITPIN_API_BASE_URL")
                .unwrap_or_else(|| "https://api.bitpin.ir".into()),
            bitpin_api_key: bitpin_api_key(
                app_env,
                var("BITPIN_API_KEY"),
                var("BITPIN_VERIFY").as_deref(),
            )?
            .map(Secret::from),
            bitpin_timeout: Duration::from_secs(parsed("BITPIN_TIMEOUT_SECONDS", 10)?),
            login_limits: LoginLimits {
                max_failures_per_account: parsed("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)?,
                max_failures_per_ip: parsed("LOGIN_MAX_FAILURES_PER_IP", 20)?,
                max_failures_per_account_total: parsed("LOGIN_MAX_FAILURES_PER_ACCOUNT_TOTAL", 50)?,
                window: Duration::from_secs(
                    60 * parsed::<u64>("LOGIN_FAILURE_WINDOW_MINUTES", 15)?,
                ),
            },
            trust_proxy_headers: flag("TRUST_PROXY_HEADERS")?,
            metrics,
            metrics_token,
            max_body_bytes: parsed("MAX_BODY_BYTES", 64 * 1024)?,
            request_timeout,
            header_read_timeout: positive_seconds("HEADER_READ_TIMEOUT_SECONDS", 10)?,
            idle_timeout,
            admin_username: var("SAGHAT_ADMIN_USERNAME"),
            admin_password: var("SAGHAT_ADMIN_PASSWORD").map(Secret::from),
            notify: notify_config(&var)?,
            jobs: JobsConfig::from_env()?,
            fund_notices: FundNoticesConfig::from_env()?,
            tickets,
            invoicing: InvoicingConfig::from_vars(&var)?,
            reports,
            oidc: crate::auth::oidc::settings::providers_from(std::env::vars())?,
            webhook_allow_private: flag("WEBHOOK_ALLOW_PRIVATE")?,
            zarinpal: ZarinpalConfig::from_env(app_env)?,
            public_base_url: match var("PUBLIC_BASE_URL") {
                Some(url) => Some(base_url_text("PUBLIC_BASE_URL", &url)?),
                None => None,
            },
        })
    }

    /// A configuration for tests: SQLite or the given database, fixed secrets, no Bitpin.
    pub fn for_tests(database_url: String) -> Config {
        Config {
            app_env: AppEnv::Test,
            debug: false,
            bind: "127.0.0.1:0".into(),
            data_dir: std::env::temp_dir(),
            database_url,
            database_max_connections: 10,
            redis_url: None,
            redis_prefix: "saghat".into(),
            rate_limit_per_minute: 0,
            cache_ttl: Duration::from_secs(5),
            secret_key: "test-secret-key-not-for-production".into(),
            jwt_secret_key: "test-jwt-secret-not-for-production".into(),
            jwt_algorithm: Algorithm::HS256,
            jwt_expire_minutes: 60,
            refresh_token_expire_days: 30,
            refresh_token_max_days: 90,
            password_hash_concurrency: default_cores(),
            password_hash_queue: 32,
            allowed_hosts: vec!["*".into()],
            cors_origins: vec![],
            log_format: LogFormat::Text,
            fund_timezone: Tz::UTC,
            fake_now: None,
            bitpin_api_base_url: "http://127.0.0.1:9".into(),
            bitpin_api_key: None,
            bitpin_timeout: Duration::from_secs(2),
            login_limits: LoginLimits {
                max_failures_per_account: 5,
                max_failures_per_ip: 20,
                max_failures_per_account_total: 50,
                window: Duration::from_secs(15 * 60),
            },
            trust_proxy_headers: false,
            metrics: true,
            metrics_token: None,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            admin_username: None,
            admin_password: None,
            notify: NotifyConfig::off(),
            jobs: JobsConfig::for_tests(),
            fund_notices: FundNoticesConfig::default(),
            tickets: TicketsConfig::standard(
                &std::env::temp_dir().join("saghat-test-attachments"),
                Tz::UTC,
            ),
            invoicing: InvoicingConfig::default(),
            reports: ReportsConfig::standard(&std::env::temp_dir().join("saghat-test")),
            oidc: Vec::new(),
            webhook_allow_private: false,
            zarinpal: ZarinpalConfig::off(),
            public_base_url: None,
        }
    }
}

/// The cores this process may use (1 when unknown).
fn default_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The Bitpin key payments are verified with, or `None` to record them unverified.
/// `BITPIN_VERIFY`: unset (or `auto`) verifies when the key is set and, in `prod`, requires
/// it; `on` requires it everywhere; `off` never verifies (the explicit way to run a production
/// fund without Bitpin). Errors never include the key.
fn bitpin_api_key(
    app_env: AppEnv,
    key: Option<String>,
    verify: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let verify = verify.map(str::to_ascii_lowercase);
    match verify.as_deref() {
        None | Some("auto") => {
            if key.is_none() && app_env == AppEnv::Prod {
                bail!(
                    "BITPIN_API_KEY must be set when APP_ENV=prod, or payments are recorded without \
                     verification; set BITPIN_VERIFY=off to run without Bitpin on purpose"
                );
            }
            Ok(key)
        }
        Some("1" | "true" | "yes" | "on") => match key {
            Some(key) => Ok(Some(key)),
            None => bail!("BITPIN_VERIFY=on needs BITPIN_API_KEY"),
        },
        Some("0" | "false" | "no" | "off") => {
            if key.is_some() {
                tracing::warn!(
                    "BITPIN_VERIFY=off: BITPIN_API_KEY is ignored, payments are NOT verified"
                );
            }
            Ok(None)
        }
        Some(other) => bail!("BITPIN_VERIFY={other:?} must be auto, on or off"),
    }
}

/// The notification channels from the variables `var` gives. A channel is off when its main
/// A template's name as Meta allows it: lower-case letters, digits and underscores.
fn whatsapp_template(name: Option<String>) -> anyhow::Result<Option<String>> {
    match name {
        Some(name)
            if name.len() > 512
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            bail!("WHATSAPP_TEMPLATE={name:?} must be a template name: lower-case letters, digits and _")
        }
        name => Ok(name),
    }
}

/// variable (`SMTP_URL`, `KAVENEGAR_API_KEY`, `WHATSAPP_TOKEN`) is unset; half a configuration
/// (a sender line without a key, a token without a phone number id) is an error, not a silent
/// "off". Errors name the variable, never a secret's value.
fn notify_config(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<NotifyConfig> {
    let per_second = |name: &str, default: u32| -> anyhow::Result<u32> {
        match parse_value(name, var(name), default)? {
            0 => bail!("{name} must be at least 1"),
            n => Ok(n),
        }
    };
    let base_url = |name: &str, default: &str| -> anyhow::Result<String> {
        base_url_text(name, &var(name).unwrap_or_else(|| default.to_string()))
    };
    let unused = |names: &[&str], needs: &str| -> anyhow::Result<()> {
        match names.iter().find(|name| var(name).is_some()) {
            Some(name) => bail!("{name} is set but {needs} is not: set both, or neither"),
            None => Ok(()),
        }
    };

    let smtp = match var("SMTP_URL") {
        None => {
            unused(&["SMTP_FROM", "SMTP_TLS_CA_FILE"], "SMTP_URL")?;
            None
        }
        Some(url) => {
            let Some(from) = var("SMTP_FROM") else {
                bail!("SMTP_URL is set but SMTP_FROM is not: say who the e-mails are from");
            };
            Some(SmtpSettings::parse(
                &url,
                &from,
                var("SMTP_TLS_CA_FILE").map(PathBuf::from),
                per_second("SMTP_PER_SECOND", 5)?,
            )?)
        }
    };

    let kavenegar = match var("KAVENEGAR_API_KEY") {
        None => {
            unused(&["KAVENEGAR_SENDER"], "KAVENEGAR_API_KEY")?;
            None
        }
        Some(key) => {
            // The key is a path segment of every request: nothing in it may change the URL.
            if !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.=+~".contains(&b))
            {
                bail!("KAVENEGAR_API_KEY holds characters an API key cannot have");
            }
            let sender = var("KAVENEGAR_SENDER");
            if let Some(line) = &sender {
                if !line.bytes().all(|b| b.is_ascii_digit()) {
                    bail!("KAVENEGAR_SENDER={line:?} must be the line's digits (10004346)");
                }
            }
            Some(KavenegarSettings {
                base_url: base_url("KAVENEGAR_BASE_URL", kavenegar::DEFAULT_BASE_URL)?,
                api_key: Secret::new(key),
                sender,
                per_second: per_second("KAVENEGAR_PER_SECOND", 5)?,
            })
        }
    };

    let whatsapp = match (var("WHATSAPP_TOKEN"), var("WHATSAPP_PHONE_NUMBER_ID")) {
        (None, None) => None,
        (Some(_), None) => {
            bail!("WHATSAPP_TOKEN is set but WHATSAPP_PHONE_NUMBER_ID is not: set both, or neither")
        }
        (None, Some(_)) => {
            bail!("WHATSAPP_PHONE_NUMBER_ID is set but WHATSAPP_TOKEN is not: set both, or neither")
        }
        (Some(token), Some(phone_number_id)) => {
            if !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
                bail!("WHATSAPP_PHONE_NUMBER_ID={phone_number_id:?} must be digits (Meta's id of the number, not the number)");
            }
            let api_version =
                var("WHATSAPP_API_VERSION").unwrap_or_else(|| whatsapp::DEFAULT_API_VERSION.into());
            let valid_version = api_version.strip_prefix('v').is_some_and(|v| {
                !v.is_empty()
                    && v.split('.')
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            if !valid_version {
                bail!("WHATSAPP_API_VERSION={api_version:?} must look like v21.0");
            }
            Some(WhatsAppSettings {
                base_url: base_url("WHATSAPP_BASE_URL", whatsapp::DEFAULT_BASE_URL)?,
                api_version,
                phone_number_id,
                token: Secret::new(token),
                per_second: per_second("WHATSAPP_PER_SECOND", 20)?,
                template: whatsapp_template(var("WHATSAPP_TEMPLATE"))?,
            })
        }
    };

    let timeout = match parse_value("NOTIFY_TIMEOUT_SECONDS", var("NOTIFY_TIMEOUT_SECONDS"), 10)? {
        0 => bail!("NOTIFY_TIMEOUT_SECONDS must be at least 1"),
        seconds => Duration::from_secs(seconds),
    };
    Ok(NotifyConfig {
        smtp,
        kavenegar,
        whatsapp,
        timeout,
    })
}

fn secret(app_env: AppEnv, data_dir: &std::path::Path, name: &str) -> anyhow::Result<String> {
    if let Some(value) = var(name) {
        if app_env == AppEnv::Prod && value.len() < 32 {
            bail!("{name} must be at least 32 characters in production");
        }
        return Ok(value);
    }
    if app_env == AppEnv::Prod {
        bail!("{name} must be set when APP_ENV=prod");
    }
    let path = data_dir.join(format!("{}.secret", name.to_ascii_lowercase()));
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if !existing.trim().is_empty() {
            return Ok(existing.trim().to_string());
        }
    }
    create_private_dir(data_dir)?;
    let generated = crate::auth::tokens::random_token();
    write_private(&path, &generated)?;
    tracing::warn!(file = %path.display(), "{name} is not set: generated one for development");
    Ok(generated)
}

/// Creates a folder (and its missing parents) readable only by this user (0700); an existing
/// one is left as it is.
pub fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .with_context(|| format!("cannot create the folder {}", path.display()))
}

pub fn write_private(path: &std::path::Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(content.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::notify::smtp::Security;

    #[test]
    fn metrics_access_defaults_and_prod() {
        let on = |env, m, t| metrics_access(env, m, t).unwrap().0;
        assert!(on(AppEnv::Dev, None, None));
        assert!(on(AppEnv::Test, None, None));
        assert!(!on(AppEnv::Dev, Some("off"), None));
        assert!(!on(AppEnv::Prod, None, None));
        assert!(!on(AppEnv::Prod, None, Some("  ")));
        assert!(on(AppEnv::Prod, None, Some("tok")));
        assert!(!on(AppEnv::Prod, Some("OFF"), Some("tok")));
        assert!(metrics_access(AppEnv::Prod, Some("on"), None).is_err());
        assert!(metrics_access(AppEnv::Dev, Some("maybe"), None).is_err());
        let token = metrics_access(AppEnv::Dev, None, Some(" tok ")).unwrap().1;
        assert_eq!(token.unwrap().expose(), "tok");
    }

    /// The notification configuration from these variables alone (the process's environment is
    /// shared by the tests running at once, so it is not touched).
    fn invoicing_from(vars: &[(&str, &str)]) -> anyhow::Result<InvoicingConfig> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        InvoicingConfig::from_vars(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn invoicing_defaults_and_seller() {
        let d = invoicing_from(&[]).unwrap();
        assert_eq!(d, InvoicingConfig::default());
        assert_eq!(
            (d.invoice_series.as_str(), d.credit_note_series.as_str()),
            ("INV", "CN")
        );
        assert_eq!(d.number_pattern, "{series}-{year}-{seq:6}");
        let c = invoicing_from(&[
            ("INVOICE_SELLER_NAME", "Saghat GmbH"),
            ("INVOICE_SELLER_COUNTRY", "DE"),
            ("INVOICE_SELLER_TAX_ID", "DE123"),
            ("INVOICE_SELLER_IBAN", "DE89 3704 0044 0532 0130 00"),
            ("INVOICE_NUMBER_PATTERN", "{series}/{gyear}/{seq:4}"),
            ("INVOICE_SERIES", "RE"),
            ("CREDIT_NOTE_SERIES", "GS"),
        ])
        .unwrap();
        assert_eq!(c.seller.name, "Saghat GmbH");
        assert_eq!(c.seller.address.country_code, "DE");
        assert_eq!(c.seller.tax_id.as_deref(), Some("DE123"));
        assert_eq!(c.seller_iban.as_deref(), Some("DE89370400440532013000"));
        assert_eq!(
            (c.invoice_series.as_str(), c.credit_note_series.as_str()),
            ("RE", "GS")
        );
    }

    #[test]
    fn the_reminder_schedule_defaults_and_turns_off() {
        assert_eq!(
            invoicing_from(&[]).unwrap().reminder_days.steps(),
            [-3, 0, 7, 14, 30]
        );
        let c = invoicing_from(&[("INVOICE_REMINDER_DAYS", "0, 10")]).unwrap();
        assert_eq!(c.reminder_days.steps(), [0, 10]);
        let off = invoicing_from(&[("INVOICE_REMINDER_DAYS", "")]).unwrap();
        assert!(off.reminder_days.steps().is_empty());
    }

    #[test]
    fn bad_invoicing_values_name_their_variable() {
        for (vars, expected) in [
            (
                vec![("INVOICE_SELLER_COUNTRY", "Germany")],
                "INVOICE_SELLER_COUNTRY",
            ),
            (
                vec![("INVOICE_NUMBER_PATTERN", "{series}-{year}")],
                "INVOICE_NUMBER_PATTERN",
            ),
            (vec![("INVOICE_SERIES", "IN V")], "INVOICE_SERIES"),
            (vec![("CREDIT_NOTE_SERIES", "INV")], "CREDIT_NOTE_SERIES"),
            (
                vec![("INVOICE_REMINDER_DAYS", "-3,soon")],
                "INVOICE_REMINDER_DAYS",
            ),
        ] {
            let err = invoicing_from(&vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    fn notify_from(vars: &[(&str, &str)]) -> anyhow::Result<NotifyConfig> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        notify_config(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn without_variables_every_channel_is_off() {
        let config = notify_from(&[]).unwrap();
        assert!(config.smtp.is_none() && config.kavenegar.is_none() && config.whatsapp.is_none());
        assert_eq!(config.timeout, Duration::from_secs(10));
    }

    #[test]
    fn every_channel_configured() {
        let config = notify_from(&[
            ("SMTP_URL", "smtps://saghat:pw-smtp-secret@mail.example.com"),
            ("SMTP_FROM", "Saghat <saghat@example.com>"),
            ("SMTP_TLS_CA_FILE", "/etc/saghat/ca.pem"),
            ("KAVENEGAR_API_KEY", "KAVE-key-secret"),
            ("KAVENEGAR_SENDER", "10004346"),
            ("KAVENEGAR_PER_SECOND", "2"),
            ("WHATSAPP_TOKEN", "EAAG-token-secret"),
            ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
            ("WHATSAPP_BASE_URL", "http://127.0.0.1:9999/"),
            ("NOTIFY_TIMEOUT_SECONDS", "3"),
        ])
        .unwrap();
        let smtp = config.smtp.as_ref().unwrap();
        assert_eq!(smtp.security, Security::ImplicitTls);
        assert_eq!(
            smtp.tls_ca_file.as_deref(),
            Some(std::path::Path::new("/etc/saghat/ca.pem"))
        );
        assert_eq!(smtp.per_second, 5);
        let kavenegar = config.kavenegar.as_ref().unwrap();
        assert_eq!(kavenegar.base_url, "https://api.kavenegar.com");
        assert_eq!(kavenegar.sender.as_deref(), Some("10004346"));
        assert_eq!(kavenegar.per_second, 2);
        let whatsapp = config.whatsapp.as_ref().unwrap();
        assert_eq!(whatsapp.base_url, "http://127.0.0.1:9999");
        assert_eq!(whatsapp.api_version, "v21.0");
        assert_eq!(whatsapp.per_second, 20);
        assert_eq!(whatsapp.template, None);
        assert_eq!(config.timeout, Duration::from_secs(3));
        // The secrets are in no Debug output, the whole Config's included.
        let mut whole = Config::for_tests("sqlite::memory:".into());
        whole.notify = config.clone();
        whole.secret_key = "csrf-signing-secret".into();
        whole.jwt_secret_key = "jwt-signing-secret".into();
        whole.bitpin_api_key = Some("bitpin-key-secret".into());
        whole.admin_password = Some("first-admin-secret".into());
        for debug in [format!("{config:?}"), format!("{whole:?}")] {
            for secret in [
                "pw-smtp-secret",
                "KAVE-key-secret",
                "EAAG-token-secret",
                "csrf-signing-secret",
                "jwt-signing-secret",
                "bitpin-key-secret",
                "first-admin-secret",
            ] {
                assert!(!debug.contains(secret), "{secret} in {debug}");
            }
        }
        assert_eq!(
            config.summary(),
            [
                "e-mail on: smtps://saghat@mail.example.com:465 (TLS), from Saghat <saghat@example.com>",
                "SMS on: Kavenegar at https://api.kavenegar.com",
                "WhatsApp on: Cloud API at http://127.0.0.1:9999, plain text only (delivered within \
                 24 h of a member's last message; set WHATSAPP_TEMPLATE)",
            ]
        );
    }

    #[test]
    fn half_a_channel_is_an_error_that_names_the_variable() {
        for (vars, expected) in [
            (
                &[("SMTP_FROM", "a@example.com")][..],
                "SMTP_FROM is set but SMTP_URL",
            ),
            (&[("SMTP_URL", "smtp://h")][..], "SMTP_FROM is not"),
            (
                &[("KAVENEGAR_SENDER", "1000")][..],
                "KAVENEGAR_API_KEY is not",
            ),
            (
                &[("WHATSAPP_TOKEN", "t-secret")][..],
                "WHATSAPP_PHONE_NUMBER_ID is not",
            ),
            (
                &[("WHATSAPP_PHONE_NUMBER_ID", "1")][..],
                "WHATSAPP_TOKEN is not",
            ),
        ] {
            let err = notify_from(vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{vars:?}: {err}");
            assert!(!err.contains("t-secret"), "{err}");
        }
    }

    #[test]
    fn bad_notification_values_are_refused() {
        let key = ("KAVENEGAR_API_KEY", "key");
        let wa = [("WHATSAPP_TOKEN", "t"), ("WHATSAPP_PHONE_NUMBER_ID", "123")];
        for (vars, expected) in [
            (
                vec![("KAVENEGAR_API_KEY", "ab/../c-secret")],
                "KAVENEGAR_API_KEY",
            ),
            (
                vec![key, ("KAVENEGAR_SENDER", "+98 1000")],
                "KAVENEGAR_SENDER",
            ),
            (
                vec![key, ("KAVENEGAR_PER_SECOND", "0")],
                "KAVENEGAR_PER_SECOND",
            ),
            (
                vec![key, ("KAVENEGAR_BASE_URL", "api.kavenegar.com")],
                "KAVENEGAR_BASE_URL",
            ),
            (
                vec![wa[0], wa[1], ("WHATSAPP_TEMPLATE", "Saghat Notice")],
                "WHATSAPP_TEMPLATE",
            ),
            (
                vec![
                    ("WHATSAPP_TOKEN", "t"),
                    ("WHATSAPP_PHONE_NUMBER_ID", "+98912"),
                ],
                "WHATSAPP_PHONE_NUMBER_ID",
            ),
            (
                vec![wa[0], wa[1], ("WHATSAPP_API_VERSION", "21.0")],
                "WHATSAPP_API_VERSION",
            ),
            (
                vec![wa[0], wa[1], ("WHATSAPP_PER_SECOND", "x")],
                "WHATSAPP_PER_SECOND",
            ),
            (
                vec![("NOTIFY_TIMEOUT_SECONDS", "0")],
                "NOTIFY_TIMEOUT_SECONDS",
            ),
            (
                vec![
                    ("SMTP_URL", "smtp://h?tls=sometimes"),
                    ("SMTP_FROM", "a@example.com"),
                ],
                "SMTP_URL",
            ),
        ] {
            let err = notify_from(&vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{vars:?}: {err}");
            assert!(!err.contains("c-secret"), "{err}");
        }
    }

    /// Production never records payments unverified by accident: without a key it refuses to
    /// start unless `BITPIN_VERIFY=off` says so.
    #[test]
    fn production_needs_a_bitpin_key_unless_verification_is_off_explicitly() {
        let key = || Some("secret-bitpin-key".to_string());
        let err = bitpin_api_key(AppEnv::Prod, None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("BITPIN_API_KEY") && err.contains("BITPIN_VERIFY=off"),
            "{err}"
        );
        assert!(bitpin_api_key(AppEnv::Prod, None, Some("auto")).is_err());
        assert!(bitpin_api_key(AppEnv::Prod, None, Some("on")).is_err());
        assert_eq!(
            bitpin_api_key(AppEnv::Prod, None, Some("off")).unwrap(),
            None
        );
        assert_eq!(
            bitpin_api_key(AppEnv::Prod, None, Some("OFF")).unwrap(),
            None
        );
        assert_eq!(bitpin_api_key(AppEnv::Prod, key(), None).unwrap(), key());
        // Off wins over a key; elsewhere than prod a missing key just means no verification.
        assert_eq!(
            bitpin_api_key(AppEnv::Prod, key(), Some("off")).unwrap(),
            None
        );
        assert_eq!(bitpin_api_key(AppEnv::Dev, None, None).unwrap(), None);
        assert_eq!(bitpin_api_key(AppEnv::Test, key(), None).unwrap(), key());
        assert!(bitpin_api_key(AppEnv::Dev, None, Some("on")).is_err());
        let err = bitpin_api_key(AppEnv::Dev, key(), Some("maybe")).unwrap_err();
        assert!(!err.to_string().contains("secret-bitpin-key"));
    }
}
