//! When an open invoice's client is reminded, and what the reminder says: plain rules, no I/O.
//!
//! The schedule is a list of days relative to the due date (`INVOICE_REMINDER_DAYS`, default
//! `-3,0,7,14,30`: three days before, on the day, then one, two and four weeks late). Each step
//! is sent at most once per invoice; a job that did not run for a while sends only the latest
//! step that has come due, never a backlog. The tone escalates: a friendly note before the due
//! date, a due-today notice, overdue notices, and a final notice at the last step.

use chrono::{Duration, NaiveDate};

use crate::platform::lang::Lang;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReminderSchedule {
    /// Days relative to the due date, ascending and distinct.
    steps: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a list of days relative to the due date, such as -3,0,7,14,30")]
pub struct ScheduleError(String);

impl ReminderSchedule {
    /// A comma-separated list of whole days (`-3,0,7`); empty turns reminders off.
    pub fn parse(text: &str) -> Result<ReminderSchedule, ScheduleError> {
        let mut steps = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let day: i64 = part.parse().map_err(|_| ScheduleError(text.to_string()))?;
            if !(-365..=365).contains(&day) {
                return Err(ScheduleError(text.to_string()));
            }
            steps.push(day);
        }
        steps.sort_unstable();
        steps.dedup();
        Ok(ReminderSchedule { steps })
    }

    pub fn steps(&self) -> &[i64] {
        &self.steps
    }

    /// The step to send today for an invoice due on `due`, if any: the latest step whose day
    /// has come, unless it or a later one was already sent.
    pub fn due_step(&self, due: NaiveDate, today: NaiveDate, sent: &[i64]) -> Option<i64> {
        let latest = self
            .steps
            .iter()
            .copied()
            .filter(|&step| due + Duration::days(step) <= today)
            .max()?;
        let already = sent.iter().any(|&s| s >= latest);
        (!already).then_some(latest)
    }

    /// How the reminder of `step` speaks.
    pub fn tone(&self, step: i64) -> Tone {
        match step {
            s if s < 0 => Tone::Upcoming,
            0 => Tone::DueToday,
            s if Some(&s) == self.steps.last() => Tone::FinalNotice,
            _ => Tone::Overdue,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Upcoming,
    DueToday,
    Overdue,
    FinalNotice,
}

/// What a reminder shows, already formatted in the client's language.
pub struct ReminderFacts<'a> {
    pub seller: &'a str,
    pub client: &'a str,
    pub number: &'a str,
    pub amount_due: &'a str,
    pub currency: &'a str,
    pub due_date: &'a str,
    /// Days past the due date (0 or less before it).
    pub days_late: i64,
}

/// A reminder's subject and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReminderText {
    pub subject: String,
    pub text: String,
}

pub fn render(tone: Tone, lang: Lang, f: &ReminderFacts<'_>) -> ReminderText {
    let days = lang.int(f.days_late.abs());
    let (subject, opening) = match (lang, tone) {
        (Lang::En, Tone::Upcoming) => (
            format!("Invoice {} is due on {}", f.number, f.due_date),
            format!(
                "A friendly reminder that invoice {} for {} {} is due on {}.",
                f.number, f.amount_due, f.currency, f.due_date
            ),
        ),
        (Lang::En, Tone::DueToday) => (
            format!("Invoice {} is due today", f.number),
            format!(
                "Invoice {} for {} {} is due today, {}.",
                f.number, f.amount_due, f.currency, f.due_date
            ),
        ),
        (Lang::En, Tone::Overdue) => (
            format!("Invoice {} is overdue", f.number),
            format!(
                "Invoice {} was due on {} and {} {} is still open ({days} days late).",
                f.number, f.due_date, f.amount_due, f.currency
            ),
        ),
        (Lang::En, Tone::FinalNotice) => (
            format!("Final notice: invoice {} is overdue", f.number),
            format!(
                "Invoice {} was due on {} and {} {} is still unpaid after {days} days. \
                 Please pay it now or contact us; this is our final reminder.",
                f.number, f.due_date, f.amount_due, f.currency
            ),
        ),
        (Lang::Fa, Tone::Upcoming) => (
            format!("سررسید فاکتور {} در {}", f.number, f.due_date),
            format!(
                "یادآوری دوستانه: مهلت پرداخت فاکتور {} به مبلغ {} {} در تاریخ {} است.",
                f.number, f.amount_due, f.currency, f.due_date
            ),
        ),
        (Lang::Fa, Tone::DueToday) => (
            format!("امروز سررسید فاکتور {} است", f.number),
            format!(
                "مهلت پرداخت فاکتور {} به مبلغ {} {} امروز، {}، به پایان می‌رسد.",
                f.number, f.amount_due, f.currency, f.due_date
            ),
        ),
        (Lang::Fa, Tone::Overdue) => (
            format!("فاکتور {} از سررسید گذشته است", f.number),
            format!(
                "سررسید فاکتور {} در تاریخ {} بود و مبلغ {} {} هنوز پرداخت نشده است ({days} روز تأخیر).",
                f.number, f.due_date, f.amount_due, f.currency
            ),
        ),
        (Lang::Fa, Tone::FinalNotice) => (
            format!("آخرین اخطار: فاکتور {} پرداخت نشده است", f.number),
            format!(
                "سررسید فاکتور {} در تاریخ {} بود و مبلغ {} {} پس از {days} روز هنوز پرداخت نشده است. \
                 لطفاً هم‌اکنون آن را بپردازید یا با ما تماس بگیرید؛ این آخرین یادآوری ماست.",
                f.number, f.due_date, f.amount_due, f.currency
            ),
        ),
    };
    let (greeting, closing) = match lang {
        Lang::En => (
            format!("Dear {},", f.client),
            format!(
                "The invoice is attached as a PDF. If you have already paid, thank you, and \
                 please ignore this message.\n\n{}",
                f.seller
            ),
        ),
        Lang::Fa => (
            format!("{} گرامی،", f.client),
            format!(
                "فاکتور به صورت PDF پیوست است. اگر آن را پرداخت کرده‌اید، سپاسگزاریم؛ این پیام را نادیده بگیرید.\n\n{}",
                f.seller
            ),
        ),
    };
    ReminderText {
        subject,
        text: format!("{greeting}\n\n{opening}\n\n{closing}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn parses_sorted_distinct_days() {
        let s = ReminderSchedule::parse(" 7, -3,0,7 ,30").unwrap();
        assert_eq!(s.steps(), [-3, 0, 7, 30]);
        assert_eq!(ReminderSchedule::parse("").unwrap().steps(), [] as [i64; 0]);
        assert!(ReminderSchedule::parse("-3,soon").is_err());
        assert!(ReminderSchedule::parse("1000").is_err());
    }

    #[test]
    fn sends_each_step_once_and_never_a_backlog() {
        let s = ReminderSchedule::parse("-3,0,7,14,30").unwrap();
        let due = day(10);
        assert_eq!(s.due_step(due, day(6), &[]), None);
        assert_eq!(s.due_step(due, day(7), &[]), Some(-3));
        assert_eq!(s.due_step(due, day(8), &[-3]), None);
        assert_eq!(s.due_step(due, day(10), &[-3]), Some(0));
        // the job missed a week: only the latest step that came due goes
        assert_eq!(s.due_step(due, day(25), &[-3]), Some(14));
        assert_eq!(s.due_step(due, day(26), &[-3, 14]), None);
        // a step already sent (or a later one) is never sent again
        assert_eq!(s.due_step(due, day(17), &[14]), None);
    }

    #[test]
    fn the_tone_escalates_to_a_final_notice() {
        let s = ReminderSchedule::parse("-3,0,7,30").unwrap();
        assert_eq!(s.tone(-3), Tone::Upcoming);
        assert_eq!(s.tone(0), Tone::DueToday);
        assert_eq!(s.tone(7), Tone::Overdue);
        assert_eq!(s.tone(30), Tone::FinalNotice);
    }

    #[test]
    fn reminders_speak_the_clients_language() {
        let facts = ReminderFacts {
            seller: "Saghat Ltd",
            client: "Acme",
            number: "INV-1405-000007",
            amount_due: "1,190.00",
            currency: "EUR",
            due_date: "10 Dec 2026",
            days_late: 7,
        };
        let en = render(Tone::Overdue, Lang::En, &facts);
        assert_eq!(en.subject, "Invoice INV-1405-000007 is overdue");
        assert!(en.text.contains("1,190.00 EUR is still open (7 days late)"));
        assert!(en.text.starts_with("Dear Acme,"));
        let fa = render(Tone::FinalNotice, Lang::Fa, &facts);
        assert!(fa.subject.starts_with("آخرین اخطار"));
        assert!(fa.text.contains("۷ روز"));
    }
}
