//! The fund's notices as people read them, in Persian and English: a subject, the plain text
//! (the SMS, the WhatsApp text, the e-mail's text part) and the e-mail's HTML. Pure: no I/O.
//! Months are Jalali, digits are the language's own, amounts are exact (USDT).

use super::ticket_notices::TicketNotice;
use crate::platform::html::escape;
use crate::platform::jalali::JalaliMonth;
use crate::platform::lang::Lang;
use crate::platform::money::Amount;

/// What a notice is about, for the preferences: only `Reminders` can be opted out of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// What happened to the member's own money or loan: always sent.
    Transactional,
    /// The monthly fee reminder and "only a few left to pay".
    Reminders,
    /// Notices for the admins (the draw is ready to run).
    Admin,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Transactional => "transactional",
            Topic::Reminders => "reminders",
            Topic::Admin => "admin",
        }
    }
}

/// One of the fund's notices, with what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The member's monthly payment was recorded.
    PaymentRecorded {
        month: JalaliMonth,
        fee: Amount,
        repayment: Option<Amount>,
    },
    /// The member's loan is paid off.
    LoanSettled { amount: Amount },
    /// The month's draw ran: who won (`None`: no one) and whether it was the recipient.
    DrawRan {
        month: JalaliMonth,
        winner: Option<String>,
        amount: Option<Amount>,
        you_won: bool,
    },
    /// The member has not paid this month's fee yet; `day` is today's day of the month.
    FeeReminder {
        month: JalaliMonth,
        min_fee: Amount,
        day: u32,
    },
    /// Only `left` members are left to pay this month.
    FewLeftToPay { month: JalaliMonth, left: i64 },
    /// Everyone has paid: an admin may run the draw.
    DrawReady { month: JalaliMonth },
    /// A loan-request ticket's notices.
    Ticket(TicketNotice),
    /// The member's monthly statement (a PDF, attached to the e-mail) is ready; `page` is
    /// where to read it (absolute with `PUBLIC_BASE_URL`, else `None`).
    MonthlyStatement {
        month: JalaliMonth,
        page: Option<String>,
    },
}

/// A notice rendered in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Notice {
    pub fn topic(&self) -> Topic {
        match self {
            Notice::PaymentRecorded { .. }
            | Notice::LoanSettled { .. }
            | Notice::DrawRan { .. }
            | Notice::MonthlyStatement { .. } => Topic::Transactional,
            Notice::FeeReminder { .. } | Notice::FewLeftToPay { .. } => Topic::Reminders,
            Notice::DrawReady { .. } => Topic::Admin,
            Notice::Ticket(TicketNotice::InstallmentDue { .. }) => Topic::Reminders,
            Notice::Ticket(TicketNotice::SlaBreached { .. }) => Topic::Admin,
            Notice::Ticket(_) => Topic::Transactional,
        }
    }

    /// The notice's name in the delivery log.
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::PaymentRecorded { .. } => "payment_recorded",
            Notice::LoanSettled { .. } => "loan_settled",
            Notice::DrawRan { .. } => "draw_ran",
            Notice::FeeReminder { .. } => "fee_reminder",
            Notice::FewLeftToPay { .. } => "few_left_to_pay",
            Notice::DrawReady { .. } => "draw_ready",
            Notice::Ticket(notice) => notice.kind(),
            Notice::MonthlyStatement { .. } => "monthly_statement",
        }
    }

    pub fn render(&self, lang: Lang) -> Rendered {
        let (subject, paragraphs) = self.paragraphs(lang);
        let text = format!("{}\n", paragraphs.join("\n\n"));
        let body: String = paragraphs
            .iter()
            .map(|p| format!("<p>{}</p>", escape(p)))
            .collect();
        let html = format!(
            "<!DOCTYPE html><html lang=\"{code}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
             <title>{title}</title></head><body dir=\"{dir}\">{body}</body></html>",
            code = lang.code(),
            dir = lang.dir(),
            title = escape(&subject),
        );
        Rendered {
            subject,
            text,
            html,
        }
    }

    /// The subject and the paragraphs: each notice's layout once, its sentences from `lang`'s
    /// [`Phrases`] (months, digits and amounts already in the language's own writing).
    fn paragraphs(&self, lang: Lang) -> (String, Vec<String>) {
        let p = match lang {
            Lang::Fa => &PERSIAN,
            Lang::En => &ENGLISH,
        };
        let money = |a: Amount| format!("{} USDT", lang.amount(a));
        let sign = p.sign.to_string();
        match self {
            Notice::PaymentRecorded {
                month,
                fee,
                repayment,
            } => {
                let m = lang.jalali_month(*month);
                let mut lines = vec![(p.payment)(&m, &money(*fee))];
                if let Some(r) = repayment {
                    lines.push((p.repayment)(&money(*r)));
                }
                lines.push(sign);
                ((p.payment_subject)(&m), lines)
            }
            Notice::LoanSettled { amount } => (
                p.settled_subject.into(),
                vec![(p.settled)(&money(*amount)), sign],
            ),
            Notice::DrawRan {
                month,
                winner,
                amount,
                you_won,
            } => {
                let m = lang.jalali_month(*month);
                let result = match (winner, amount) {
                    (Some(name), Some(a)) => (p.draw_won_by)(&m, &money(*a), name),
                    _ => (p.draw_no_winner)(&m),
                };
                let yours = if *you_won { p.you_won } else { p.you_lost };
                ((p.draw_subject)(&m), vec![result, yours.into(), sign])
            }
            Notice::FeeReminder {
                month,
                min_fee,
                day,
            } => {
                let m = lang.jalali_month(*month);
                (
                    (p.reminder_subject)(&m),
                    vec![(p.reminder)(*day, &m, &money(*min_fee)), sign],
                )
            }
            Notice::FewLeftToPay { month, left } => {
                let m = lang.jalali_month(*month);
                (
                    (p.few_left_subject)(*left, &m),
                    vec![(p.few_left)(*left, &m), sign],
                )
            }
            Notice::DrawReady { month } => {
                let m = lang.jalali_month(*month);
                ((p.ready_subject)(&m), vec![(p.ready)(&m), sign])
            }
            Notice::Ticket(notice) => {
                let (subject, mut lines) = notice.paragraphs(lang, money);
                lines.push(sign);
                (subject, lines)
            }
            Notice::MonthlyStatement { month, page } => {
                let m = lang.jalali_month(*month);
                let read = match page {
                    Some(url) => (p.statement_at)(url),
                    None => p.statement_on_page.to_string(),
                };
                (
                    (p.statement_subject)(&m),
                    vec![(p.statement)(&m), read, sign],
                )
            }
        }
    }
}

/// One language's sentences for the notices. `m` is the month and amounts come written out,
/// both in the language's digits; counts and days come as numbers, for the language to write.
struct Phrases {
    sign: &'static str,
    payment_subject: fn(m: &str) -> String,
    payment: fn(m: &str, fee: &str) -> String,
    repayment: fn(amount: &str) -> String,
    settled_subject: &'static str,
    settled: fn(amount: &str) -> String,
    draw_subject: fn(m: &str) -> String,
    draw_won_by: fn(m: &str, amount: &str, name: &str) -> String,
    draw_no_winner: fn(m: &str) -> String,
    you_won: &'static str,
    you_lost: &'static str,
    reminder_subject: fn(m: &str) -> String,
    reminder: fn(day: u32, m: &str, min_fee: &str) -> String,
    few_left_subject: fn(left: i64, m: &str) -> String,
    few_left: fn(left: i64, m: &str) -> String,
    ready_subject: fn(m: &str) -> String,
    ready: fn(m: &str) -> String,
    statement_subject: fn(m: &str) -> String,
    statement: fn(m: &str) -> String,
    statement_at: fn(url: &str) -> String,
    statement_on_page: &'static str,
}

static PERSIAN: Phrases = Phrases {
    sign: "صندوق قرض‌الحسنه",
    payment_subject: |m| format!("پرداخت {m} ثبت شد"),
    payment: |m, fee| format!("پرداخت شما برای {m} ثبت شد: حق عضویت {fee}."),
    repayment: |amount| format!("قسط وام: {amount}."),
    settled_subject: "وام شما تسویه شد",
    settled: |amount| format!("وام {amount} شما به‌طور کامل بازپرداخت شد."),
    draw_subject: |m| format!("نتیجه‌ی قرعه‌کشی {m}"),
    draw_won_by: |m, amount, name| format!("قرعه‌کشی {m} انجام شد: وام {amount} به {name} رسید."),
    draw_no_winner: |m| format!("قرعه‌کشی {m} انجام شد: این ماه وامی به کسی نرسید."),
    you_won: "تبریک! برنده‌ی این ماه شما هستید.",
    you_lost: "این ماه وام به شما نرسید.",
    reminder_subject: |m| format!("یادآوری حق عضویت {m}"),
    reminder: |day, m, min_fee| {
        format!(
            "امروز {} {m} است و حق عضویت این ماه شما هنوز پرداخت نشده است. کمترین مبلغ: {min_fee}.",
            Lang::Fa.int(i64::from(day))
        )
    },
    few_left_subject: |left, _| format!("تنها {} نفر مانده‌اند", Lang::Fa.int(left)),
    few_left: |left, m| {
        format!(
            "تنها {} نفر حق عضویت {m} را هنوز نپرداخته‌اند؛ پس از آن قرعه‌کشی انجام می‌شود.",
            Lang::Fa.int(left)
        )
    },
    ready_subject: |m| format!("قرعه‌کشی {m} آماده است"),
    ready: |m| format!("همه‌ی اعضا حق عضویت {m} را پرداخته‌اند؛ قرعه‌کشی را می‌توانید انجام دهید."),
    statement_subject: |m| format!("صورت‌حساب ماهانه‌ی {m}"),
    statement: |m| {
        format!("صورت‌حساب ماهانه‌ی شما برای {m} آماده است: پرداخت‌ها، موجودی و وام شما، و گردش نقدی صندوق در این ماه با برنده‌ی قرعه‌کشی و گواه آن.")
    },
    statement_at: |url| format!("آن را در صفحه‌ی خود ببینید و دریافت کنید: {url}"),
    statement_on_page: "آن را در صفحه‌ی «حساب من» صندوق ببینید و دریافت کنید.",
};

static ENGLISH: Phrases = Phrases {
    sign: "Saghat loan fund",
    payment_subject: |m| format!("Payment for {m} recorded"),
    payment: |m, fee| format!("Your payment for {m} was recorded: membership fee {fee}."),
    repayment: |amount| format!("Loan repayment: {amount}."),
    settled_subject: "Your loan is settled",
    settled: |amount| format!("Your loan of {amount} is fully repaid."),
    draw_subject: |m| format!("The {m} draw result"),
    draw_won_by: |m, amount, name| {
        format!("The {m} draw has run: a loan of {amount} went to {name}.")
    },
    draw_no_winner: |m| format!("The {m} draw has run: no one received a loan this month."),
    you_won: "Congratulations, you won this month's loan.",
    you_lost: "You did not receive the loan this month.",
    reminder_subject: |m| format!("Reminder: membership fee for {m}"),
    reminder: |day, m, min_fee| {
        format!("It is day {day} of {m} and your membership fee for this month is not paid yet. Minimum: {min_fee}.")
    },
    few_left_subject: |left, m| format!("Only {left} left to pay for {m}"),
    few_left: |left, m| {
        let who = if left == 1 {
            "member is"
        } else {
            "members are"
        };
        format!("Only {left} {who} left to pay the membership fee for {m}; then the draw can run.")
    },
    ready_subject: |m| format!("The {m} draw is ready"),
    ready: |m| format!("Every member has paid the fee for {m}: you can run the draw."),
    statement_subject: |m| format!("Your statement for {m}"),
    statement: |m| {
        format!("Your monthly statement for {m} is ready: your payments, balance and loan, and the fund's month, with its cash in and out, the draw's winner and its proof.")
    },
    statement_at: |url| format!("Read or download it on your page: {url}"),
    statement_on_page: "Read or download it on your page in the fund (My account).",
};

#[cfg(test)]
mod tests {
    use super::*;

    const AZAR: JalaliMonth = JalaliMonth {
        year: 1405,
        month: 9,
    };

    fn amount(text: &str) -> Amount {
        Amount::parse(text).unwrap()
    }

    fn every_notice() -> Vec<Notice> {
        vec![
            Notice::PaymentRecorded {
                month: AZAR,
                fee: amount("1250.5"),
                repayment: Some(amount("100")),
            },
            Notice::LoanSettled {
                amount: amount("3000"),
            },
            Notice::DrawRan {
                month: AZAR,
                winner: Some("سارا".into()),
                amount: Some(amount("3000")),
                you_won: false,
            },
            Notice::FeeReminder {
                month: AZAR,
                min_fee: amount("10"),
                day: 20,
            },
            Notice::FewLeftToPay {
                month: AZAR,
                left: 3,
            },
            Notice::DrawReady { month: AZAR },
        ]
    }

    /// No Latin letter left in a Persian text, except the unit.
    fn assert_all_persian(text: &str, what: &str) {
        let rest = text.replace("USDT", "");
        assert!(
            !rest.chars().any(|c| c.is_ascii_alphanumeric()),
            "{what}: {text}"
        );
    }

    #[test]
    fn persian_notices_have_no_english_and_persian_digits() {
        for notice in every_notice() {
            let r = notice.render(Lang::Fa);
            assert_all_persian(&r.subject, notice.kind());
            assert_all_persian(&r.text, notice.kind());
            assert!(r.html.contains("dir=\"rtl\""), "{}", r.html);
            if notice.kind() != "loan_settled" {
                assert!(r.text.contains("آذر ۱۴۰۵"), "{}", r.text);
            }
        }
    }

    #[test]
    fn payment_recorded_in_both_languages() {
        let notice = &every_notice()[0];
        let fa = notice.render(Lang::Fa);
        assert_eq!(fa.subject, "پرداخت آذر ۱۴۰۵ ثبت شد");
        assert!(fa.text.contains("۱٬۲۵۰٫۵۰ USDT"), "{}", fa.text);
        assert!(fa.text.contains("قسط وام: ۱۰۰٫۰۰ USDT"), "{}", fa.text);
        let en = notice.render(Lang::En);
        assert_eq!(en.subject, "Payment for Azar 1405 recorded");
        assert!(
            en.text.contains("membership fee 1,250.50 USDT"),
            "{}",
            en.text
        );
        assert!(
            en.text.contains("Loan repayment: 100.00 USDT"),
            "{}",
            en.text
        );
        let no_loan = Notice::PaymentRecorded {
            month: AZAR,
            fee: amount("10"),
            repayment: None,
        };
        assert!(!no_loan.render(Lang::En).text.contains("repayment"));
    }

    #[test]
    fn loan_settled_in_both_languages() {
        let notice = &every_notice()[1];
        assert!(notice.render(Lang::Fa).text.contains("۳٬۰۰۰٫۰۰ USDT"));
        let en = notice.render(Lang::En);
        assert_eq!(en.subject, "Your loan is settled");
        assert!(
            en.text.contains("loan of 3,000.00 USDT is fully repaid"),
            "{}",
            en.text
        );
    }

    #[test]
    fn draw_ran_says_who_won_and_the_recipients_own_result() {
        let lost = &every_notice()[2];
        let en = lost.render(Lang::En);
        assert!(en.text.contains("went to سارا"), "{}", en.text);
        assert!(en.text.contains("You did not receive"), "{}", en.text);
        let won = Notice::DrawRan {
            month: AZAR,
            winner: Some("سارا".into()),
            amount: Some(amount("3000")),
            you_won: true,
        };
        let fa = won.render(Lang::Fa);
        assert!(fa.text.contains("به سارا رسید"), "{}", fa.text);
        assert!(fa.text.contains("برنده‌ی این ماه شما هستید"), "{}", fa.text);
        let no_one = Notice::DrawRan {
            month: AZAR,
            winner: None,
            amount: None,
            you_won: false,
        };
        assert!(no_one
            .render(Lang::En)
            .text
            .contains("no one received a loan"));
        assert!(no_one.render(Lang::Fa).text.contains("وامی به کسی نرسید"));
    }

    #[test]
    fn reminders_and_admin_notices_in_both_languages() {
        let [_, _, _, reminder, few, ready] = every_notice().try_into().unwrap();
        assert!(reminder.render(Lang::Fa).text.contains("امروز ۲۰ آذر ۱۴۰۵"));
        assert!(reminder
            .render(Lang::En)
            .text
            .contains("day 20 of Azar 1405"));
        assert!(reminder
            .render(Lang::En)
            .text
            .contains("Minimum: 10.00 USDT"));
        assert_eq!(few.render(Lang::Fa).subject, "تنها ۳ نفر مانده‌اند");
        assert!(few
            .render(Lang::En)
            .text
            .contains("Only 3 members are left"));
        assert_eq!(
            ready.render(Lang::En).subject,
            "The Azar 1405 draw is ready"
        );
        assert_eq!(reminder.topic(), Topic::Reminders);
        assert_eq!(few.topic(), Topic::Reminders);
        assert_eq!(ready.topic(), Topic::Admin);
    }

    #[test]
    fn the_monthly_statement_says_where_to_read_it() {
        let on_page = Notice::MonthlyStatement {
            month: AZAR,
            page: None,
        };
        let fa = on_page.render(Lang::Fa);
        assert_all_persian(&fa.subject, "monthly_statement");
        assert_all_persian(&fa.text, "monthly_statement");
        assert_eq!(fa.subject, "صورت‌حساب ماهانه‌ی آذر ۱۴۰۵");
        let linked = Notice::MonthlyStatement {
            month: AZAR,
            page: Some("https://fund.example/dashboard#statements".into()),
        };
        let en = linked.render(Lang::En);
        assert_eq!(en.subject, "Your statement for Azar 1405");
        assert!(
            en.text
                .contains("on your page: https://fund.example/dashboard#statements"),
            "{}",
            en.text
        );
        assert_eq!(linked.topic(), Topic::Transactional);
        assert_eq!(linked.kind(), "monthly_statement");
    }

    #[test]
    fn a_winners_name_is_escaped_in_the_html() {
        let notice = Notice::DrawRan {
            month: AZAR,
            winner: Some("<script>alert('x')</script> & co".into()),
            amount: Some(amount("1")),
            you_won: false,
        };
        for lang in [Lang::Fa, Lang::En] {
            let r = notice.render(lang);
            assert!(!r.html.contains("<script>"), "{}", r.html);
            assert!(r
                .html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
            // The plain text keeps the name as it is.
            assert!(r.text.contains("<script>"));
        }
    }
}
