//! SLA deadlines in business time: a calendar of working hours in the fund's time zone (with
//! Jalali holidays), arithmetic on business minutes, and each review phase's deadline computed
//! from a ticket's history.
//!
//! Phases: *first response* runs from the first `submitted` until a lender first takes the
//! ticket `under_review`; *decision* runs from the first `under_review` until `approved` or
//! `rejected`. Both clocks stop for good at `withdrawn` and pause while `needs_info`; the
//! decision clock keeps running while a resubmitted ticket waits to be taken again.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::state::{StateChange, TicketState};
use crate::platform::jalali::jalali_date;

/// A Jalali date: (year, month, day).
pub type JalaliDate = (i32, u8, u8);

/// Opening hours of one day, in local time; `open < close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

/// When the lenders work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    pub tz: Tz,
    /// Hours by weekday, Monday first (`Weekday::num_days_from_monday`); `None` is a day off.
    pub week: [Option<DayHours>; 7],
    /// Holidays of one year only (e.g. the lunar ones, which move).
    pub holidays: Vec<JalaliDate>,
    /// Holidays every year, as (month, day): Nowruz is 1/1–1/4.
    pub yearly_holidays: Vec<(u8, u8)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the calendar has no working hours in the week")]
    NoWorkingHours,
    #[error("opening hours must open before they close")]
    ClosesBeforeOpening,
    #[error("a holiday is not a Jalali date: {0}/{1}")]
    BadHoliday(u8, u8),
    #[error("not a holiday: {0:?} (write 1405/1/13 for one year, 1/13 for every year, 1/1-1/4 for a run of days)")]
    BadHolidayText(String),
}

/// Holidays as an operator writes them (e.g. in an environment variable): comma-separated
/// `1405/1/13` (that year only), `1/13` (every year) or runs within one month, `1/1-1/4` or
/// `1405/2/10-1405/2/12`. Persian digits are accepted.
pub fn parse_holidays(text: &str) -> Result<Holidays, CalendarError> {
    let (mut dated, mut yearly) = (Vec::new(), Vec::new());
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let bad = || CalendarError::BadHolidayText(item.to_string());
        let ascii = crate::platform::lang::normalize_number(item);
        let (first, last) = ascii.split_once('-').unwrap_or((&ascii, &ascii));
        let (a, b) = (
            parse_day(first).ok_or_else(bad)?,
            parse_day(last).ok_or_else(bad)?,
        );
        if (a.0, a.1) != (b.0, b.1) || a.2 > b.2 {
            return Err(bad());
        }
        for day in a.2..=b.2 {
            match a.0 {
                Some(year) => dated.push((year, a.1, day)),
                None => yearly.push((a.1, day)),
            }
        }
    }
    let check = BusinessCalendar {
        holidays: dated,
        yearly_holidays: yearly,
        ..BusinessCalendar::standard(Tz::UTC)
    };
    check.validate()?;
    Ok(Holidays {
        dated: check.holidays,
        yearly: check.yearly_holidays,
    })
}

/// Parsed holidays, for [`BusinessCalendar::holidays`] and [`BusinessCalendar::yearly_holidays`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holidays {
    pub dated: Vec<JalaliDate>,
    pub yearly: Vec<(u8, u8)>,
}

/// `1405/1/13` or `1/13`.
fn parse_day(text: &str) -> Option<(Option<i32>, u8, u8)> {
    let parts: Vec<&str> = text.trim().split('/').collect();
    match parts.as_slice() {
        [y, m, d] => Some((Some(y.parse().ok()?), m.parse().ok()?, d.parse().ok()?)),
        [m, d] => Some((None, m.parse().ok()?, d.parse().ok()?)),
        _ => None,
    }
}

/// The longest run of days without business time before arithmetic gives up (a calendar of
/// nothing but holidays).
const MAX_IDLE_DAYS: u32 = 800;

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("a valid time of day")
}

impl BusinessCalendar {
    /// Saturday–Wednesday 08:00–16:00, Thursday 08:00–12:00, Friday off; the fixed solar
    /// holidays of Iran every year (Nowruz 1/1–1/4, 1/12, 1/13, 3/14, 3/15, 11/22, 12/29).
    /// The moving lunar holidays are the operator's to list in `holidays`.
    pub fn standard(tz: Tz) -> BusinessCalendar {
        let full = Some(DayHours {
            open: hm(8, 0),
            close: hm(16, 0),
        });
        let half = Some(DayHours {
            open: hm(8, 0),
            close: hm(12, 0),
        });
        BusinessCalendar {
            tz,
            // Mon, Tue, Wed, Thu, Fri, Sat, Sun
            week: [full, full, full, half, None, full, full],
            holidays: Vec::new(),
            yearly_holidays: vec![
                (1, 1),
                (1, 2),
                (1, 3),
                (1, 4),
                (1, 12),
                (1, 13),
                (3, 14),
                (3, 15),
                (11, 22),
                (12, 29),
            ],
        }
    }

    /// Refuses a calendar the arithmetic cannot use.
    pub fn validate(&self) -> Result<(), CalendarError> {
        if self.week.iter().flatten().any(|h| h.open >= h.close) {
            return Err(CalendarError::ClosesBeforeOpening);
        }
        if self.week.iter().all(Option::is_none) {
            return Err(CalendarError::NoWorkingHours);
        }
        let days = self.holidays.iter().map(|(_, m, d)| (*m, *d));
        for (m, d) in days.chain(self.yearly_holidays.iter().copied()) {
            if !(1..=12).contains(&m) || !(1..=31).contains(&d) || (m > 6 && d > 30) {
                return Err(CalendarError::BadHoliday(m, d));
            }
        }
        Ok(())
    }

    /// Whether the local `date` is a holiday.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        let (y, m, d) = jalali_of(date);
        self.holidays.contains(&(y, m, d)) || self.yearly_holidays.contains(&(m, d))
    }

    /// The business hours of the local `date` as instants, or `None` on a day off.
    pub fn hours_on(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let hours = self.week[date.weekday().num_days_from_monday() as usize]?;
        if self.is_holiday(date) {
            return None;
        }
        let open = local_instant(date, hours.open, self.tz);
        let close = local_instant(date, hours.close, self.tz);
        (open < close).then_some((open, close))
    }

    /// The instant `minutes` business minutes after `start` (`start` itself for 0 or less).
    /// `None` only for a calendar without business time for years.
    pub fn add_business_minutes(
        &self,
        start: DateTime<Utc>,
        minutes: i64,
    ) -> Option<DateTime<Utc>> {
        self.add_business_time(start, Duration::minutes(minutes))
    }

    /// The instant `span` of business time after `start`.
    pub fn add_business_time(&self, start: DateTime<Utc>, span: Duration) -> Option<DateTime<Utc>> {
        if span <= Duration::zero() {
            return Some(start);
        }
        let mut left = span;
        let mut date = self.local_date(start);
        let mut idle = 0;
        while idle < MAX_IDLE_DAYS {
            match self.hours_on(date) {
                Some((open, close)) if close > start => {
                    idle = 0;
                    let from = open.max(start);
                    let available = close - from;
                    if left <= available {
                        return Some(from + left);
                    }
                    left -= available;
                }
                _ => idle += 1,
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Whole business minutes from `from` to `to` (0 when `to` is not later).
    pub fn business_minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.business_time_between(from, to).num_minutes()
    }

    /// Business time from `from` to `to` (zero when `to` is not later).
    pub fn business_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if to <= from {
            return total;
        }
        let (mut date, last) = (self.local_date(from), self.local_date(to));
        while date <= last {
            if let Some((open, close)) = self.hours_on(date) {
                let (a, b) = (open.max(from), close.min(to));
                if b > a {
                    total += b - a;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }
}

/// The Jalali date of a Gregorian calendar date.
fn jalali_of(date: NaiveDate) -> JalaliDate {
    jalali_date(date.and_time(hm(12, 0)).and_utc(), Tz::UTC)
}

/// The instant the clocks in `tz` read `time` on `date`: the earlier one when the clocks go
/// back, and when they skip it, the first minute after the gap.
fn local_instant(date: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let naive = date.and_time(time);
    (0..=240)
        .find_map(|m| {
            tz.from_local_datetime(&(naive + Duration::minutes(m)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

/// A review phase with an SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    FirstResponse,
    Decision,
}

impl Phase {
    pub const ALL: [Phase; 2] = [Phase::FirstResponse, Phase::Decision];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::FirstResponse => "first_response",
            Phase::Decision => "decision",
        }
    }

    fn starts(self, s: TicketState) -> bool {
        match self {
            Phase::FirstResponse => s == TicketState::Submitted,
            Phase::Decision => s == TicketState::UnderReview,
        }
    }

    fn met_by(self, s: TicketState) -> bool {
        match self {
            Phase::FirstResponse => s == TicketState::UnderReview,
            Phase::Decision => matches!(s, TicketState::Approved | TicketState::Rejected),
        }
    }
}

/// Business time allowed per phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTargets {
    pub first_response_minutes: i64,
    pub decision_minutes: i64,
}

impl Default for SlaTargets {
    /// A first response within one full working day, a decision within three.
    fn default() -> Self {
        SlaTargets {
            first_response_minutes: 8 * 60,
            decision_minutes: 3 * 8 * 60,
        }
    }
}

impl SlaTargets {
    pub fn for_phase(&self, phase: Phase) -> Duration {
        Duration::minutes(match phase {
            Phase::FirstResponse => self.first_response_minutes,
            Phase::Decision => self.decision_minutes,
        })
    }
}

/// Where a phase's clock is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    /// Counting now.
    Running,
    /// Stopped while the ticket waits for the borrower (`needs_info`).
    Paused,
    /// The phase ended as it should (at `met_at`).
    Met,
    /// The ticket was withdrawn before the phase ended.
    Stopped,
}

/// One phase's deadline as of `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseDeadline {
    pub phase: Phase,
    pub status: PhaseStatus,
    pub started_at: DateTime<Utc>,
    /// When the allowed business time runs (or ran) out. While paused, when it would if the
    /// clock restarted now. `None` only for a calendar without business time.
    pub due_at: Option<DateTime<Utc>>,
    pub met_at: Option<DateTime<Utc>>,
    /// More business time was used than allowed.
    pub breached: bool,
    /// Business time used so far (until `met_at` once met).
    pub elapsed: Duration,
    /// Business time left; negative by how much it is overdue.
    pub remaining: Duration,
}

/// The deadline of every phase the ticket has started, from its history of (state, entered at)
/// as of `now`. Entries after `now` are ignored; the history need not be sorted.
pub fn deadlines(
    history: &[StateChange],
    targets: &SlaTargets,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Vec<PhaseDeadline> {
    let mut changes: Vec<StateChange> = history
        .iter()
        .copied()
        .filter(|c| c.entered_at <= now)
        .collect();
    changes.sort_by_key(|c| c.entered_at);
    Phase::ALL
        .into_iter()
        .filter_map(|phase| {
            phase_deadline(phase, &changes, targets.for_phase(phase), calendar, now)
        })
        .collect()
}

fn phase_deadline(
    phase: Phase,
    changes: &[StateChange],
    allowed: Duration,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Option<PhaseDeadline> {
    let first = changes.iter().position(|c| phase.starts(c.state))?;
    let started_at = changes[first].entered_at;
    let mut used = Duration::zero();
    let mut due_at = None;
    let mut end = None;
    for (i, change) in changes.iter().enumerate().skip(first) {
        if i > first && phase.met_by(change.state) {
            end = Some((PhaseStatus::Met, change.entered_at));
            break;
        }
        if change.state == TicketState::Withdrawn {
            end = Some((PhaseStatus::Stopped, change.entered_at));
            break;
        }
        if change.state == TicketState::NeedsInfo {
            continue;
        }
        let until = changes.get(i + 1).map_or(now, |next| next.entered_at);
        let segment = calendar.business_time_between(change.entered_at, until);
        if due_at.is_none() && used + segment >= allowed {
            due_at = calendar.add_business_time(change.entered_at, allowed - used);
        }
        used += segment;
    }
    let (status, clock_stopped) = end.unwrap_or_else(|| {
        let paused = changes.last().map(|c| c.state) == Some(TicketState::NeedsInfo);
        let status = if paused {
            PhaseStatus::Paused
        } else {
            PhaseStatus::Running
        };
        (status, now)
    });
    let remaining = allowed - used;
    if due_at.is_none() {
        due_at = calendar.add_business_time(clock_stopped, remaining);
    }
    Some(PhaseDeadline {
        phase,
        status,
        started_at,
        due_at,
        met_at: (status == PhaseStatus::Met).then_some(clock_stopped),
        breached: used > allowed,
        elapsed: used,
        remaining,
    })
}

/// The earliest deadline still counting: what the review queue orders by.
pub fn next_due(deadlines: &[PhaseDeadline]) -> Option<DateTime<Utc>> {
    deadlines
        .iter()
        .filter(|d| d.status == PhaseStatus::Running)
        .filter_map(|d| d.due_at)
        .min()
}

/// Whether any phase is past its allowed time.
pub fn any_breached(deadlines: &[PhaseDeadline]) -> bool {
    deadlines.iter().any(|d| d.breached)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;
    use proptest::prelude::*;
    use TicketState::*;

    const TEHRAN: Tz = Tz::Asia__Tehran;

    /// An instant given as local time in `tz`.
    fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn tehran(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        at(TEHRAN, 2026, 12, d, h, mi)
    }

    fn change(state: TicketState, entered_at: DateTime<Utc>) -> StateChange {
        StateChange { state, entered_at }
    }

    fn cal() -> BusinessCalendar {
        BusinessCalendar::standard(TEHRAN)
    }

    #[test]
    fn the_standard_week_is_saturday_to_a_half_thursday() {
        let c = cal();
        c.validate().unwrap();
        // 1 December 2026 is a Tuesday.
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        assert_eq!(day(1).weekday(), Weekday::Tue);
        let length = |d: u32| c.hours_on(day(d)).map(|(o, cl)| (cl - o).num_hours());
        assert_eq!(length(1), Some(8));
        assert_eq!(length(3), Some(4), "Thursday is half");
        assert_eq!(length(4), None, "Friday is off");
        assert_eq!(length(5), Some(8), "Saturday works");
        // Tehran keeps +03:30 all year now.
        assert_eq!(
            c.hours_on(day(1)).unwrap().0,
            at(Tz::UTC, 2026, 12, 1, 4, 30)
        );
        let june = NaiveDate::from_ymd_opt(2026, 6, 23).unwrap();
        assert_eq!(c.hours_on(june).unwrap().0, at(Tz::UTC, 2026, 6, 23, 4, 30));
    }

    #[test]
    fn thursday_afternoon_plus_two_hours_lands_on_saturday_morning() {
        let c = cal();
        let start = tehran(3, 11, 0); // Thursday 11:00, an hour before closing
        assert_eq!(c.add_business_minutes(start, 120), Some(tehran(5, 9, 0)));
        assert_eq!(c.business_minutes_between(start, tehran(5, 9, 0)), 120);
        // Starting after hours on Thursday: nothing counts until Saturday 08:00.
        let late = tehran(3, 14, 0);
        assert_eq!(c.add_business_minutes(late, 30), Some(tehran(5, 8, 30)));
        assert_eq!(c.business_minutes_between(late, tehran(5, 8, 0)), 0);
        // Ending exactly at closing stays on the same day.
        assert_eq!(
            c.add_business_minutes(tehran(3, 8, 0), 240),
            Some(tehran(3, 12, 0))
        );
        assert_eq!(c.add_business_minutes(start, 0), Some(start));
    }

    #[test]
    fn holidays_of_one_year_and_every_year_are_skipped() {
        // 5 December 2026 is 14 Azar 1405, a Saturday.
        assert_eq!(
            jalali_of(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()),
            (1405, 9, 14)
        );
        let mut c = cal();
        c.holidays.push((1405, 9, 14));
        c.validate().unwrap();
        assert_eq!(
            c.add_business_minutes(tehran(3, 11, 0), 120),
            Some(tehran(6, 9, 0))
        );
        assert_eq!(
            c.business_minutes_between(tehran(3, 8, 0), tehran(6, 16, 0)),
            4 * 60 + 8 * 60
        );
        // Nowruz 1406 is 21–24 March 2027 (Sunday–Wednesday), off every year, and the day
        // before, 29 Esfand, too; Friday the 19th is off anyway.
        let c = cal();
        let day = |d: u32| NaiveDate::from_ymd_opt(2027, 3, d).unwrap();
        assert_eq!(jalali_of(day(20)), (1405, 12, 29));
        assert_eq!(jalali_of(day(21)), (1406, 1, 1));
        assert!((20..=24).all(|d| c.is_holiday(day(d))));
        assert!(!c.is_holiday(day(25)));
        assert_eq!(
            c.add_business_minutes(at(TEHRAN, 2027, 3, 17, 15, 0), 60 + 4 * 60 + 60),
            Some(at(TEHRAN, 2027, 3, 25, 9, 0)),
            "Wednesday 15:00: 1 h, Thursday the 18th 4 h, then nothing until Thursday the 25th"
        );
        assert_eq!(
            c.business_minutes_between(
                at(TEHRAN, 2027, 3, 18, 12, 0),
                at(TEHRAN, 2027, 3, 25, 8, 0)
            ),
            0
        );
    }

    #[test]
    fn hours_are_local_in_a_zone_with_daylight_saving() {
        // London moves to BST on Sunday 29 March 2026 at 01:00, a working day in this week.
        let c = BusinessCalendar {
            yearly_holidays: vec![],
            ..BusinessCalendar::standard(Tz::Europe__London)
        };
        let saturday_noon = at(Tz::UTC, 2026, 3, 28, 12, 0); // 12:00 GMT
        let sunday_noon = at(Tz::UTC, 2026, 3, 29, 11, 0); // 12:00 BST
        assert_eq!(
            c.business_minutes_between(saturday_noon, sunday_noon),
            8 * 60
        );
        assert_eq!(
            c.hours_on(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()),
            Some((
                at(Tz::UTC, 2026, 3, 29, 7, 0),
                at(Tz::UTC, 2026, 3, 29, 15, 0)
            ))
        );
        assert_eq!(
            c.add_business_minutes(saturday_noon, 8 * 60),
            Some(sunday_noon)
        );
        // A Monday-to-Friday 09:00–17:00 office across the change.
        let nine_to_five = Some(DayHours {
            open: hm(9, 0),
            close: hm(17, 0),
        });
        let office = BusinessCalendar {
            tz: Tz::Europe__London,
            week: [
                nine_to_five,
                nine_to_five,
                nine_to_five,
                nine_to_five,
                nine_to_five,
                None,
                None,
            ],
            holidays: vec![],
            yearly_holidays: vec![],
        };
        let friday = at(Tz::Europe__London, 2026, 3, 27, 16, 0);
        let monday = at(Tz::Europe__London, 2026, 3, 30, 10, 0);
        assert_eq!(office.add_business_minutes(friday, 120), Some(monday));
        assert_eq!(monday, at(Tz::UTC, 2026, 3, 30, 9, 0));
    }

    #[test]
    fn a_calendar_that_cannot_work_is_refused() {
        let mut c = cal();
        c.week = [None; 7];
        assert_eq!(c.validate(), Err(CalendarError::NoWorkingHours));
        assert_eq!(c.add_business_minutes(tehran(1, 8, 0), 1), None);
        let mut c = cal();
        c.week[0] = Some(DayHours {
            open: hm(16, 0),
            close: hm(8, 0),
        });
        assert_eq!(c.validate(), Err(CalendarError::ClosesBeforeOpening));
        let mut c = cal();
        c.yearly_holidays.push((13, 1));
        assert_eq!(c.validate(), Err(CalendarError::BadHoliday(13, 1)));
    }

    #[test]
    fn holidays_are_read_as_operators_write_them() {
        let Holidays { dated, yearly } =
            parse_holidays("1/1-1/4, 1405/9/14,۱۴۰۵/۲/۱۰-۱۴۰۵/۲/۱۱ ,12/29").unwrap();
        assert_eq!(dated, vec![(1405, 9, 14), (1405, 2, 10), (1405, 2, 11)]);
        assert_eq!(yearly, vec![(1, 1), (1, 2), (1, 3), (1, 4), (12, 29)]);
        assert_eq!(parse_holidays(""), Ok(Holidays::default()));
        for bad in [
            "1/32",
            "13/1",
            "1/4-1/1",
            "1/30-2/2",
            "1405/1/1-1/2",
            "Nowruz",
            "1//2",
            "7/31",
        ] {
            assert!(parse_holidays(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_holidays("x").unwrap_err().to_string(),
            "not a holiday: \"x\" (write 1405/1/13 for one year, 1/13 for every year, 1/1-1/4 for a run of days)"
        );
    }

    fn targets(first: i64, decision: i64) -> SlaTargets {
        SlaTargets {
            first_response_minutes: first,
            decision_minutes: decision,
        }
    }

    #[test]
    fn a_fresh_submission_runs_its_first_response_clock() {
        let history = [
            change(Draft, tehran(1, 7, 0)),
            change(Submitted, tehran(1, 9, 0)),
        ];
        let now = tehran(1, 10, 0);
        let d = deadlines(&history, &targets(240, 960), &cal(), now);
        assert_eq!(d.len(), 1, "no decision phase before review starts");
        let first = d[0];
        assert_eq!(first.phase, Phase::FirstResponse);
        assert_eq!(first.status, PhaseStatus::Running);
        assert_eq!(first.due_at, Some(tehran(1, 13, 0)));
        assert_eq!(first.remaining, Duration::minutes(180));
        assert!(!first.breached);
        assert_eq!(next_due(&d), Some(tehran(1, 13, 0)));
        // A draft has no SLA at all.
        assert!(deadlines(&history[..1], &SlaTargets::default(), &cal(), now).is_empty());
    }

    #[test]
    fn first_response_met_late_is_breached_and_the_decision_clock_starts() {
        let history = [
            change(Submitted, tehran(3, 10, 0)),   // Thursday
            change(UnderReview, tehran(5, 10, 0)), // Saturday
        ];
        let now = tehran(5, 11, 0);
        let d = deadlines(&history, &targets(60, 120), &cal(), now);
        let (first, decision) = (d[0], d[1]);
        assert_eq!(first.status, PhaseStatus::Met);
        assert_eq!(first.met_at, Some(tehran(5, 10, 0)));
        assert_eq!(first.due_at, Some(tehran(3, 11, 0)));
        assert!(first.breached);
        assert_eq!(first.elapsed, Duration::minutes(2 * 60 + 2 * 60));
        assert_eq!(first.remaining, Duration::minutes(-180));
        assert_eq!(decision.status, PhaseStatus::Running);
        assert_eq!(decision.due_at, Some(tehran(5, 12, 0)));
        assert!(!decision.breached);
        assert!(any_breached(&d));
        assert_eq!(
            next_due(&d),
            Some(tehran(5, 12, 0)),
            "met phases do not order the queue"
        );
    }

    #[test]
    fn needs_info_pauses_the_decision_clock() {
        let history = [
            change(Submitted, tehran(1, 8, 0)),
            change(UnderReview, tehran(1, 9, 0)),
            change(NeedsInfo, tehran(1, 10, 0)), // 1 h of decision used
            change(Submitted, tehran(2, 15, 0)), // back a day later: the pause counts nothing
            change(UnderReview, tehran(2, 15, 30)),
            change(Approved, tehran(2, 16, 0)),
        ];
        let paused_now = tehran(2, 12, 0);
        let d = deadlines(&history, &targets(60, 180), &cal(), paused_now);
        let decision = d[1];
        assert_eq!(decision.status, PhaseStatus::Paused);
        assert_eq!(decision.elapsed, Duration::minutes(60));
        assert_eq!(decision.remaining, Duration::minutes(120));
        assert_eq!(
            decision.due_at,
            Some(tehran(2, 14, 0)),
            "if it restarted now"
        );
        assert_eq!(next_due(&d), None, "a paused ticket does not press");
        let d = deadlines(&history, &targets(60, 180), &cal(), tehran(5, 8, 0));
        let decision = d[1];
        assert_eq!(decision.status, PhaseStatus::Met);
        assert_eq!(decision.elapsed, Duration::minutes(60 + 60));
        assert_eq!(decision.met_at, Some(tehran(2, 16, 0)));
        assert!(!decision.breached);
        // Without the pause the same history would have used the whole day.
        let unpaused: Vec<_> = history
            .iter()
            .filter(|c| c.state != NeedsInfo)
            .copied()
            .collect();
        let d = deadlines(&unpaused, &targets(60, 180), &cal(), tehran(5, 8, 0));
        assert!(d[1].breached);
    }

    #[test]
    fn withdrawal_stops_the_clocks_and_the_history_may_be_unsorted() {
        let history = [
            change(Withdrawn, tehran(1, 12, 0)),
            change(Submitted, tehran(1, 8, 0)),
            change(UnderReview, tehran(5, 8, 0)), // after now: ignored
        ];
        let d = deadlines(&history, &targets(600, 600), &cal(), tehran(1, 13, 0));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].status, PhaseStatus::Stopped);
        assert_eq!(d[0].elapsed, Duration::minutes(240));
        assert_eq!(d[0].met_at, None);
        assert!(!d[0].breached);
    }

    #[test]
    fn met_exactly_on_time_is_not_breached() {
        let history = [
            change(Submitted, tehran(1, 8, 0)),
            change(UnderReview, tehran(1, 9, 0)),
        ];
        let d = deadlines(&history, &targets(60, 60), &cal(), tehran(1, 9, 0));
        assert_eq!(d[0].due_at, Some(tehran(1, 9, 0)));
        assert!(!d[0].breached);
        assert_eq!(d[0].remaining, Duration::zero());
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 2026–2028, to the second.
        (1_767_225_600i64..1_830_297_600).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    fn zone() -> impl Strategy<Value = Tz> {
        proptest::sample::select(vec![TEHRAN, Tz::Europe__London, Tz::America__New_York])
    }

    proptest! {
        #[test]
        fn adding_then_measuring_round_trips(start in instant(), minutes in 0i64..20_000, tz in zone()) {
            let c = BusinessCalendar::standard(tz);
            let end = c.add_business_minutes(start, minutes).unwrap();
            prop_assert!(end >= start);
            prop_assert_eq!(c.business_minutes_between(start, end), minutes);
            prop_assert_eq!(c.business_time_between(start, end), Duration::minutes(minutes));
        }

        #[test]
        fn a_later_start_never_gives_an_earlier_deadline(
            a in instant(), b in instant(), minutes in 0i64..20_000, tz in zone(),
        ) {
            let c = BusinessCalendar::standard(tz);
            let (early, late) = (a.min(b), a.max(b));
            prop_assert!(c.add_business_minutes(early, minutes) <= c.add_business_minutes(late, minutes));
            let due = |s: DateTime<Utc>| {
                let history = [change(Submitted, s)];
                deadlines(&history, &targets(minutes, 60), &c, late)[0].due_at
            };
            prop_assert!(due(early) <= due(late));
        }

        #[test]
        fn business_time_is_additive(a in instant(), b in instant(), m in instant(), tz in zone()) {
            let c = BusinessCalendar::standard(tz);
            let mut t = [a, b, m];
            t.sort();
            prop_assert_eq!(
                c.business_time_between(t[0], t[2]),
                c.business_time_between(t[0], t[1]) + c.business_time_between(t[1], t[2])
            );
        }
    }
}
