//! Dates as invoices use them: the Jalali year that numbers them and the months recurring
//! invoices advance by. Calendar dates (no time zone): an invoice's issue date is a day.

use chrono::{Datelike, NaiveDate};
use icu_calendar::cal::Persian;
use icu_calendar::Date;
use serde::{Deserialize, Serialize};

/// The Jalali (year, month, day) of a Gregorian date.
pub fn to_jalali(date: NaiveDate) -> (i32, u8, u8) {
    let iso = Date::try_new_iso(date.year(), date.month() as u8, date.day() as u8)
        .expect("a chrono date is a valid ISO date");
    let persian = iso.to_calendar(Persian);
    (
        persian.era_year().year,
        persian.month().ordinal,
        persian.day_of_month().0,
    )
}

/// The Gregorian date of a Jalali date, or `None` if it does not exist (30 Esfand of a
/// common year).
pub fn from_jalali(year: i32, month: u8, day: u8) -> Option<NaiveDate> {
    let persian = Date::try_new_persian(year, month, day).ok()?;
    let iso = persian.to_calendar(icu_calendar::Iso);
    NaiveDate::from_ymd_opt(
        iso.era_year().extended_year,
        iso.month().ordinal.into(),
        iso.day_of_month().0.into(),
    )
}

fn jalali_month_length(year: i32, month: u8) -> u8 {
    match month {
        1..=6 => 31,
        7..=11 => 30,
        // Esfand has 30 days in a leap year.
        _ => {
            if from_jalali(year, 12, 30).is_some() {
                30
            } else {
                29
            }
        }
    }
}

fn gregorian_month_length(year: i32, month: u32) -> u32 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// Which calendar's months a recurring invoice follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Calendar {
    Jalali,
    Gregorian,
}

impl Calendar {
    pub fn as_str(self) -> &'static str {
        match self {
            Calendar::Jalali => "jalali",
            Calendar::Gregorian => "gregorian",
        }
    }

    pub fn parse(text: &str) -> Option<Calendar> {
        match text {
            "jalali" => Some(Calendar::Jalali),
            "gregorian" => Some(Calendar::Gregorian),
            _ => None,
        }
    }

    /// A period's key (`1405-06`): a recurring template makes one invoice per period.
    pub fn period_of(self, date: NaiveDate) -> String {
        match self {
            Calendar::Jalali => {
                let (y, m, _) = to_jalali(date);
                format!("{y:04}-{m:02}")
            }
            Calendar::Gregorian => format!("{:04}-{:02}", date.year(), date.month()),
        }
    }

    /// The first day of `date`'s month.
    pub fn month_start(self, date: NaiveDate) -> NaiveDate {
        match self {
            Calendar::Jalali => {
                let (y, m, _) = to_jalali(date);
                from_jalali(y, m, 1).expect("every Jalali month has a first day")
            }
            Calendar::Gregorian => date.with_day(1).expect("every month has a first day"),
        }
    }

    /// The first date on or after `start` that is `day_of_month` of its month (clamped to the
    /// month's last day): when a schedule starts, or starts again after a change.
    pub fn first_on_or_after(self, start: NaiveDate, day_of_month: u8) -> NaiveDate {
        let this_month = match self {
            Calendar::Jalali => {
                let (y, m, _) = to_jalali(start);
                let day = day_of_month.clamp(1, jalali_month_length(y, m));
                from_jalali(y, m, day).expect("a clamped Jalali day exists")
            }
            Calendar::Gregorian => {
                let day = u32::from(day_of_month)
                    .clamp(1, gregorian_month_length(start.year(), start.month()));
                NaiveDate::from_ymd_opt(start.year(), start.month(), day)
                    .expect("a clamped day exists")
            }
        };
        if this_month >= start {
            this_month
        } else {
            self.next_month_on(start, day_of_month)
        }
    }

    /// The date on `day_of_month` of the month after `date`'s, clamped to that month's last day
    /// (day 31 in Mehr, which has 30, is 30 Mehr; in February, the 28th or 29th).
    pub fn next_month_on(self, date: NaiveDate, day_of_month: u8) -> NaiveDate {
        match self {
            Calendar::Jalali => {
                let (y, m, _) = to_jalali(date);
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let day = day_of_month.clamp(1, jalali_month_length(y, m));
                from_jalali(y, m, day).expect("a clamped Jalali day exists")
            }
            Calendar::Gregorian => {
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                let day = u32::from(day_of_month).clamp(1, gregorian_month_length(y, m));
                NaiveDate::from_ymd_opt(y, m, day).expect("a clamped day exists")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn jalali_dates_round_trip() {
        // 1 Farvardin 1405 is 21 March 2026.
        assert_eq!(to_jalali(d(2026, 3, 21)), (1405, 1, 1));
        assert_eq!(from_jalali(1405, 1, 1), Some(d(2026, 3, 21)));
        assert_eq!(to_jalali(d(2026, 3, 20)), (1404, 12, 29));
        assert_eq!(from_jalali(1404, 12, 30), None, "1404 is a common year");
        assert_eq!(
            from_jalali(1403, 12, 30),
            Some(d(2025, 3, 20)),
            "1403 is a leap year"
        );
    }

    #[test]
    fn months_advance_with_the_day_clamped_to_the_month_end() {
        // 31 Shahrivar 1405 → Mehr has 30 days → 30 Mehr.
        let shahrivar_31 = from_jalali(1405, 6, 31).unwrap();
        let next = Calendar::Jalali.next_month_on(shahrivar_31, 31);
        assert_eq!(to_jalali(next), (1405, 7, 30));
        // And back to 31 where the month has it (a day of 31 is remembered, not the clamp).
        let mehr_30 = next;
        assert_eq!(
            to_jalali(Calendar::Jalali.next_month_on(mehr_30, 31)),
            (1405, 8, 30)
        );
        let bahman = from_jalali(1404, 11, 30).unwrap();
        assert_eq!(
            to_jalali(Calendar::Jalali.next_month_on(bahman, 31)),
            (1404, 12, 29)
        );
        let esfand = from_jalali(1404, 12, 29).unwrap();
        assert_eq!(
            to_jalali(Calendar::Jalali.next_month_on(esfand, 31)),
            (1405, 1, 31)
        );
        assert_eq!(
            Calendar::Gregorian.next_month_on(d(2027, 1, 31), 31),
            d(2027, 2, 28)
        );
        assert_eq!(
            Calendar::Gregorian.next_month_on(d(2028, 1, 31), 31),
            d(2028, 2, 29)
        );
        assert_eq!(
            Calendar::Gregorian.next_month_on(d(2026, 12, 15), 15),
            d(2027, 1, 15)
        );
        assert_eq!(
            Calendar::Gregorian.first_on_or_after(d(2026, 5, 3), 5),
            d(2026, 5, 5)
        );
        assert_eq!(
            Calendar::Gregorian.first_on_or_after(d(2026, 5, 5), 5),
            d(2026, 5, 5)
        );
        assert_eq!(
            Calendar::Gregorian.first_on_or_after(d(2026, 5, 6), 5),
            d(2026, 6, 5)
        );
        assert_eq!(
            Calendar::Gregorian.first_on_or_after(d(2027, 2, 10), 31),
            d(2027, 2, 28)
        );
        // 10 Mehr 1405 → 5 Aban; 31 in Mehr (30 days) is 30 Mehr.
        let mehr_10 = from_jalali(1405, 7, 10).unwrap();
        assert_eq!(
            to_jalali(Calendar::Jalali.first_on_or_after(mehr_10, 5)),
            (1405, 8, 5)
        );
        assert_eq!(
            to_jalali(Calendar::Jalali.first_on_or_after(mehr_10, 31)),
            (1405, 7, 30)
        );
        assert_eq!(
            Calendar::Gregorian.month_start(d(2026, 5, 17)),
            d(2026, 5, 1)
        );
        assert_eq!(
            to_jalali(Calendar::Jalali.month_start(mehr_10)),
            (1405, 7, 1)
        );
        assert_eq!(Calendar::Jalali.period_of(d(2026, 3, 21)), "1405-01");
        assert_eq!(Calendar::Gregorian.period_of(d(2026, 3, 21)), "2026-03");
    }
}
