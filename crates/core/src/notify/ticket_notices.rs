//! The loan-request tickets' notices, in both languages: a move, a comment or a mention for the
//! other side, an SLA breach for the lenders, an installment falling due for the borrower.

use crate::platform::lang::Lang;
use crate::platform::money::Amount;

/// A ticket notice. `ticket` is the ticket's short reference (its id's first 8 characters),
/// states are their codes (`under_review`), dates already written as Jalali dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketNotice {
    /// The ticket moved to `to`; `reason` is what the actor wrote (may be empty).
    Moved {
        ticket: String,
        to: String,
        reason: String,
    },
    /// `author` wrote on the ticket.
    Commented { ticket: String, author: String },
    /// `author` mentioned the recipient.
    Mentioned { ticket: String, author: String },
    /// An SLA deadline passed without the response or decision it was waiting for.
    SlaBreached { ticket: String, phase: String },
    /// Installment `number` of `amount` falls due on `due_on`.
    InstallmentDue {
        ticket: String,
        number: u32,
        amount: Amount,
        due_on: String,
    },
}

impl TicketNotice {
    pub fn kind(&self) -> &'static str {
        match self {
            TicketNotice::Moved { .. } => "ticket_moved",
            TicketNotice::Commented { .. } => "ticket_commented",
            TicketNotice::Mentioned { .. } => "ticket_mentioned",
            TicketNotice::SlaBreached { .. } => "ticket_sla_breached",
            TicketNotice::InstallmentDue { .. } => "ticket_installment_due",
        }
    }

    /// The subject and the paragraphs.
    pub fn paragraphs(
        &self,
        lang: Lang,
        money: impl Fn(Amount) -> String,
    ) -> (String, Vec<String>) {
        let fa = lang == Lang::Fa;
        let t = |ticket: &str| lang.digits(ticket);
        match self {
            TicketNotice::Moved { ticket, to, reason } => {
                let state = state_name(to, lang);
                let subject = if fa {
                    format!("درخواست وام {}: {state}", t(ticket))
                } else {
                    format!("Loan request {ticket}: {state}")
                };
                let mut lines = vec![if fa {
                    format!("وضعیت درخواست وام {} اکنون «{state}» است.", t(ticket))
                } else {
                    format!("Loan request {ticket} is now {state}.")
                }];
                if !reason.is_empty() {
                    lines.push(if fa {
                        format!("توضیح: {reason}")
                    } else {
                        format!("Note: {reason}")
                    });
                }
                (subject, lines)
            }
            TicketNotice::Commented { ticket, author } => {
                if fa {
                    (
                        format!("پیام تازه در درخواست وام {}", t(ticket)),
                        vec![format!("{author} در درخواست وام {} پیامی نوشت.", t(ticket))],
                    )
                } else {
                    (
                        format!("New comment on loan request {ticket}"),
                        vec![format!("{author} wrote on loan request {ticket}.")],
                    )
                }
            }
            TicketNotice::Mentioned { ticket, author } => {
                if fa {
                    (
                        format!("{author} از شما در درخواست وام {} نام برد", t(ticket)),
                        vec![format!(
                            "{author} در درخواست وام {} از شما نام برد.",
                            t(ticket)
                        )],
                    )
                } else {
                    (
                        format!("{author} mentioned you on loan request {ticket}"),
                        vec![format!("{author} mentioned you on loan request {ticket}.")],
                    )
                }
            }
            TicketNotice::SlaBreached { ticket, phase } => {
                let (what_fa, what_en) = match phase.as_str() {
                    "first_response" => ("پاسخ نخست", "first response"),
                    _ => ("تصمیم", "decision"),
                };
                if fa {
                    (
                        format!("مهلت {what_fa} درخواست وام {} گذشت", t(ticket)),
                        vec![format!(
                            "مهلت {what_fa} برای درخواست وام {} گذشته است و هنوز انجام نشده است.",
                            t(ticket)
                        )],
                    )
                } else {
                    (
                        format!("Loan request {ticket}: {what_en} overdue"),
                        vec![format!(
                            "The {what_en} deadline of loan request {ticket} has passed."
                        )],
                    )
                }
            }
            TicketNotice::InstallmentDue {
                ticket,
                number,
                amount,
                due_on,
            } => {
                let n = lang.int(i64::from(*number));
                if fa {
                    (
                        format!("یادآوری قسط {n} وام {}", t(ticket)),
                        vec![format!(
                            "قسط {n} وام {} به مبلغ {} در تاریخ {due_on} سررسید می‌شود.",
                            t(ticket),
                            money(*amount)
                        )],
                    )
                } else {
                    (
                        format!("Reminder: installment {n} of loan {ticket}"),
                        vec![format!(
                            "Installment {n} of loan {ticket}, {}, falls due on {due_on}.",
                            money(*amount)
                        )],
                    )
                }
            }
        }
    }
}

/// A state's name for people.
pub fn state_name(code: &str, lang: Lang) -> &'static str {
    let (en, fa) = match code {
        "draft" => ("draft", "پیش‌نویس"),
        "submitted" => ("submitted", "ارسال‌شده"),
        "under_review" => ("under review", "در حال بررسی"),
        "approved" => ("approved", "تأییدشده"),
        "rejected" => ("rejected", "ردشده"),
        "needs_info" => ("waiting for information", "نیازمند اطلاعات"),
        "disbursed" => ("disbursed", "پرداخت‌شده"),
        "repaying" => ("repaying", "در حال بازپرداخت"),
        "repaid" => ("repaid", "تسویه‌شده"),
        "defaulted" => ("defaulted", "نکول‌شده"),
        "withdrawn" => ("withdrawn", "منصرف‌شده"),
        _ => ("changed", "تغییرکرده"),
    };
    if lang == Lang::Fa {
        fa
    } else {
        en
    }
}
