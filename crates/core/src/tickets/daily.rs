//! The tickets' daily work, run by the worker's `ticket_daily` job: how late each ticket being
//! repaid is (its delinquency bucket), and the reminders before each installment falls due.
//!
//! Both are bounded by what changes, not by the number of tickets: a ticket stores the due
//! date of its oldest unpaid installment (`next_due_on`, kept by disbursement and repayment),
//! so the late ones are one indexed range, and all tickets late since the same date are
//! equally late (one UPDATE per date). Reminders read the unreminded installments due in the
//! next days, also by index, and mark each once sent.

use crate::platform::response_cache::Area;
use chrono::{Days, NaiveDate};

use super::loan_store;
use super::schedule::{self, Delinquency, Installment};
use crate::notify::outbox::notify_user;
use crate::notify::templates::Notice;
use crate::notify::ticket_notices::TicketNotice;
use crate::platform::jalali::{jalali_date, JalaliMonth};
use crate::platform::money::Amount;
use crate::Ctx;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyOutcome {
    /// Tickets whose days past due or bucket changed.
    pub lateness_changed: u64,
    /// Installments whose borrower was reminded.
    pub reminded: usize,
}

/// How late a ticket is on `today` when its oldest unpaid installment fell due on `due_on`:
/// the schedule's own rule ([`schedule::days_past_due`], [`schedule::delinquency`]) applied
/// to that installment, which is all the rule reads.
pub fn lateness(due_on: NaiveDate, today: NaiveDate) -> (i64, Delinquency) {
    let oldest = [Installment {
        number: 1,
        due_month: JalaliMonth { year: 0, month: 1 },
        due_on,
        principal: Amount::from_units(1),
        charge: Amount::ZERO,
        paid: Amount::ZERO,
    }];
    (
        schedule::days_past_due(&oldest, today),
        schedule::delinquency(&oldest, today),
    )
}

/// The effect key of installment `number`'s reminder: sent once per installment.
pub fn reminder_key(ticket_id: &str, number: i64) -> String {
    format!("ticket_installment_due:{ticket_id}:{number}")
}

/// Recomputes the lateness of the tickets being repaid and sends the reminders due, in one
/// transaction. Running it twice a day does nothing the second time.
pub async fn run(ctx: &Ctx) -> Result<DailyOutcome, sqlx::Error> {
    let now = ctx.now();
    let tz = ctx.config.fund_timezone;
    let today = now.with_timezone(&tz).date_naive();
    let mut tx = ctx.db.begin_write().await?;
    let mut outcome = DailyOutcome {
        lateness_changed: loan_store::clear_lateness(&mut tx, today).await?,
        ..DailyOutcome::default()
    };
    for since in loan_store::late_since_dates(&mut tx, today).await? {
        let (days, bucket) = lateness(since, today);
        outcome.lateness_changed += loan_store::set_lateness(&mut tx, since, days, bucket).await?;
    }
    // From today, so that a day the job missed is caught up while the installment is not
    // yet due; each is reminded once (`reminded_at`, and the notice's effect key).
    let until = today + Days::new(u64::from(ctx.config.tickets.reminder_days_before));
    for due in loan_store::to_remind(&mut tx, today, until).await? {
        let Ok(due_on) = NaiveDate::parse_from_str(&due.due_on, "%Y-%m-%d") else {
            continue;
        };
        let outstanding =
            Amount::from_sum_units(due.principal.units() + due.charge.units() - due.paid.units());
        let local = due_on
            .and_hms_opt(12, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).single())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or(now);
        let (y, m, d) = jalali_date(local, tz);
        let notice = Notice::Ticket(TicketNotice::InstallmentDue {
            ticket: due.ticket_id.chars().take(8).collect(),
            number: u32::try_from(due.number).unwrap_or_default(),
            amount: outstanding,
            due_on: format!("{y:04}/{m:02}/{d:02}"),
        });
        let key = reminder_key(&due.ticket_id, due.number);
        notify_user(&mut tx, ctx, due.borrower_id, &notice, &key).await?;
        loan_store::mark_reminded(&mut tx, &due.ticket_id, due.number, now).await?;
        outcome.reminded += 1;
    }
    tx.commit().await?;
    ctx.changed(Area::Tickets).await;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::schedule::{Pricing, Terms};

    #[test]
    fn lateness_by_date_is_the_schedules_delinquency() {
        let terms = Terms {
            principal: Amount::whole(1200),
            months: 12,
            pricing: Pricing::Free,
            due_day: 5,
        };
        let month = JalaliMonth {
            year: 1405,
            month: 9,
        };
        let mut s = schedule::amortise(&terms, month, chrono_tz::Tz::Asia__Tehran).unwrap();
        schedule::apply_repayment(&mut s, Amount::whole(150)).unwrap();
        let oldest = s.iter().find(|i| !i.is_settled()).unwrap().due_on;
        for days in [-3i64, 0, 1, 30, 31, 60, 61, 90, 91, 400] {
            let today = if days < 0 {
                oldest - Days::new(days.unsigned_abs())
            } else {
                oldest + Days::new(days as u64)
            };
            assert_eq!(
                lateness(oldest, today),
                (
                    schedule::days_past_due(&s, today),
                    schedule::delinquency(&s, today)
                ),
                "{days} days"
            );
        }
        assert_eq!(
            lateness(oldest, oldest + Days::new(91)).1,
            Delinquency::Over90
        );
        assert_eq!(
            reminder_key("t-1", 3),
            "ticket_installment_due:t-1:3".to_string()
        );
    }
}
