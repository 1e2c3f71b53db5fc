//! Which of the fund's scheduled notices are due today: a pure rule, run once a day by the
//! `fund_daily_notices` job at `FUND_NOTICE_HOUR` in `FUND_TIMEZONE`.
//!
//! - On `FUND_REMINDER_DAY` of each Jalali month, every member who has not paid is reminded.
//! - From that day on, once only a few members are left to pay (`FUND_FEW_LEFT_TO_PAY` or
//!   fewer, and at least one), every member hears how many: those who paid can nudge the rest.
//! - Once everyone has paid and the month's draw has not run, the admins hear it is ready.
//!
//! Nothing is due before `FUND_NOTICE_HOUR`: the job also runs whenever a worker starts (to
//! catch up on a day's notices missed while Saghat was down), and a restart at 03:00 must not
//! send them early.
//!
//! Each notice carries its effect key (`fee-reminder:{member}:{1405}:{9}`): the outbox sends a
//! key once, so a day run twice, a retried job or a second instance changes nothing.

use crate::config::FundNoticesConfig;
use crate::platform::jalali::JalaliMonth;

/// The fund as the day's rule sees it.
#[derive(Debug, Clone)]
pub struct FundDay {
    pub month: JalaliMonth,
    /// Today's day of the Jalali month, and the hour of the day, in the fund's time zone.
    pub day: u8,
    pub hour: u32,
    /// Active members (ids), and those of them who have not paid this month.
    pub members: Vec<i64>,
    pub unpaid: Vec<i64>,
    pub admins: Vec<i64>,
    /// This month's draw has run.
    pub drawn: bool,
}

/// A notice due to one person today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotice {
    pub user_id: i64,
    pub kind: DueKind,
    /// The effect's key: the same notice is never sent twice.
    pub effect_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    FeeReminder,
    FewLeftToPay { left: u32 },
    DrawReady,
}

/// The notices due on `today`, in a stable order (reminders, then the "few left", then admins).
pub fn due_today(today: &FundDay, settings: &FundNoticesConfig) -> Vec<DueNotice> {
    let FundDay { month, day, .. } = today;
    let period = format!("{}:{}", month.year, month.month);
    let mut due = Vec::new();
    if today.hour < settings.hour {
        return due;
    }
    let reminder_day = u32::from(*day) == settings.reminder_day;
    if reminder_day {
        due.extend(today.unpaid.iter().map(|&user_id| DueNotice {
            user_id,
            kind: DueKind::FeeReminder,
            effect_key: format!("fee-reminder:{user_id}:{period}"),
        }));
    }
    let left = u32::try_from(today.unpaid.len()).unwrap_or(u32::MAX);
    if u32::from(*day) >= settings.reminder_day && left > 0 && left <= settings.few_left {
        due.extend(today.members.iter().map(|&user_id| DueNotice {
            user_id,
            kind: DueKind::FewLeftToPay { left },
            effect_key: format!("few-left:{user_id}:{period}"),
        }));
    }
    if draw_is_ready(today) {
        due.extend(today.admins.iter().map(|&user_id| DueNotice {
            user_id,
            kind: DueKind::DrawReady,
            effect_key: draw_ready_key(user_id, *month),
        }));
    }
    due
}

/// Everyone has paid (and there is someone to pay) and the month's draw has not run.
pub fn draw_is_ready(today: &FundDay) -> bool {
    !today.drawn && today.unpaid.is_empty() && !today.members.is_empty()
}

/// One "the draw is ready" per admin and month, whether the last payment or the day's job
/// says it first.
pub fn draw_ready_key(admin: i64, month: JalaliMonth) -> String {
    format!("draw-ready:{admin}:{}:{}", month.year, month.month)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> FundNoticesConfig {
        FundNoticesConfig {
            reminder_day: 20,
            hour: 9,
            few_left: 2,
        }
    }

    fn day(day: u8, unpaid: &[i64], drawn: bool) -> FundDay {
        FundDay {
            month: JalaliMonth {
                year: 1405,
                month: 9,
            },
            day,
            hour: 9,
            members: vec![1, 2, 3, 4],
            unpaid: unpaid.to_vec(),
            admins: vec![100],
            drawn,
        }
    }

    fn keys(due: &[DueNotice]) -> Vec<&str> {
        due.iter().map(|d| d.effect_key.as_str()).collect()
    }

    #[test]
    fn before_the_reminder_day_nothing_is_due_while_members_still_owe() {
        assert!(due_today(&day(19, &[1, 2, 3], false), &settings()).is_empty());
        // Two left is "a few", but not before the reminder day.
        assert!(due_today(&day(5, &[1, 2], false), &settings()).is_empty());
    }

    #[test]
    fn nothing_is_due_before_the_notice_hour() {
        let mut early = day(20, &[1, 2, 3], false);
        early.hour = 8;
        assert!(due_today(&early, &settings()).is_empty());
        early.hour = 23;
        assert_eq!(due_today(&early, &settings()).len(), 3);
    }

    #[test]
    fn on_the_reminder_day_those_who_owe_are_reminded_once_per_month() {
        let due = due_today(&day(20, &[1, 2, 3], false), &settings());
        assert_eq!(
            keys(&due),
            [
                "fee-reminder:1:1405:9",
                "fee-reminder:2:1405:9",
                "fee-reminder:3:1405:9"
            ]
        );
        assert!(due.iter().all(|d| d.kind == DueKind::FeeReminder));
        // The day after, no reminder again (three left is more than a few).
        assert!(due_today(&day(21, &[1, 2, 3], false), &settings()).is_empty());
    }

    #[test]
    fn when_only_a_few_are_left_everyone_hears_how_many() {
        let due = due_today(&day(23, &[4, 2], false), &settings());
        assert_eq!(due.len(), 4, "every member, paid or not");
        assert!(due
            .iter()
            .all(|d| d.kind == DueKind::FewLeftToPay { left: 2 }));
        assert_eq!(due[0].effect_key, "few-left:1:1405:9");
        // On the reminder day itself both come, each with its own key.
        let both = due_today(&day(20, &[3], false), &settings());
        assert_eq!(both.len(), 1 + 4);
    }

    #[test]
    fn the_admins_hear_the_draw_is_ready_once_all_have_paid_and_it_has_not_run() {
        let due = due_today(&day(3, &[], false), &settings());
        assert_eq!(keys(&due), ["draw-ready:100:1405:9"]);
        assert_eq!(due[0].kind, DueKind::DrawReady);
        assert!(due_today(&day(3, &[], true), &settings()).is_empty());
        // A fund without members has no draw to run.
        let mut empty = day(3, &[], false);
        empty.members.clear();
        assert!(due_today(&empty, &settings()).is_empty());
    }
}
