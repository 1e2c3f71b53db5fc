//! Jalali (Solar Hijri) months, computed with ICU4X's Persian calendar in the fund's time zone.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use icu_calendar::cal::Persian;
use icu_calendar::Date;
use serde::Serialize;

/// A Jalali year and month, e.g. 1405/9 (Azar 1405).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub struct JalaliMonth {
    pub year: i32,
    pub month: u8,
}

/// The Jalali date (year, month, day) of an instant as seen in `tz`.
pub fn jalali_date(at: DateTime<Utc>, tz: Tz) -> (i32, u8, u8) {
    jalali_of(at.with_timezone(&tz).date_naive())
}

/// The Jalali date (year, month, day) of a calendar day (an invoice's issue date).
pub fn jalali_of(local: NaiveDate) -> (i32, u8, u8) {
    let iso = Date::try_new_iso(local.year(), local.month() as u8, local.day() as u8)
        .expect("a chrono date is always a valid ISO date");
    let persian = iso.to_calendar(Persian);
    (
        persian.era_year().year,
        persian.month().ordinal,
        persian.day_of_month().0,
    )
}

impl JalaliMonth {
    /// The Jalali month that contains `at` in the fund's time zone.
    pub fn containing(at: DateTime<Utc>, tz: Tz) -> Self {
        let (year, month, _) = jalali_date(at, tz);
        JalaliMonth { year, month }
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            JalaliMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            JalaliMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The calendar day (Gregorian) of this month's `day` (1-based), clamped to the month's
    /// last day: day 31 of Mehr is its 30th.
    pub fn day(self, day: u8) -> NaiveDate {
        let days = Date::try_new_persian(self.year, self.month, 1)
            .expect("a Jalali month always has a first day")
            .days_in_month();
        let iso = Date::try_new_persian(self.year, self.month, day.clamp(1, days))
            .expect("a clamped day exists")
            .to_calendar(icu_calendar::Iso);
        NaiveDate::from_ymd_opt(
            iso.era_year().extended_year,
            iso.month().ordinal.into(),
            iso.day_of_month().0.into(),
        )
        .expect("ICU gives valid ISO dates")
    }

    /// The first instant (UTC) of this month in `tz`, found through ICU's Persian → ISO mapping.
    pub fn starts_at(self, tz: Tz) -> DateTime<Utc> {
        use chrono::TimeZone;
        let naive = self.day(1).and_hms_opt(0, 0, 0).expect("midnight exists");
        match tz.from_local_datetime(&naive).earliest() {
            Some(start) => start.with_timezone(&Utc),
            // Clocks that moved forward at midnight skipped it (Tehran on 1 Farvardin 1359):
            // the day, and the month, begins when the clock change ends.
            None => first_instant_reaching(naive, tz),
        }
    }
}

/// The first instant at which the local time in `tz` reads `local` or later, found by halving
/// an interval of UTC seconds (tz offsets stay within ±26 h of UTC) down to the second (the
/// precision of time-zone transitions).
fn first_instant_reaching(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    const MARGIN: i64 = 26 * 3600;
    let instant = |t: i64| {
        DateTime::from_timestamp(t, 0).expect("a Jalali month start is within chrono's range")
    };
    let reaches = |t: i64| instant(t).with_timezone(&tz).naive_local() >= local;
    let (mut before, mut after) = (
        local.and_utc().timestamp() - MARGIN,
        local.and_utc().timestamp() + MARGIN,
    );
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if reaches(middle) {
            after = middle;
        } else {
            before = middle;
        }
    }
    instant(after)
}

impl std::fmt::Display for JalaliMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn nowruz_1405_is_the_21st_of_march_2026() {
        assert_eq!(jalali_date(utc(2026, 3, 20, 12), Tz::UTC), (1404, 12, 29));
        assert_eq!(jalali_date(utc(2026, 3, 21, 12), Tz::UTC), (1405, 1, 1));
        assert_eq!(jalali_date(utc(2026, 11, 22, 0), Tz::UTC), (1405, 9, 1));
        assert_eq!(jalali_date(utc(2025, 3, 21, 0), Tz::UTC), (1404, 1, 1));
    }

    #[test]
    fn days_of_a_month_are_clamped_to_its_length() {
        let mehr = JalaliMonth {
            year: 1405,
            month: 7,
        };
        // Mehr has 30 days: 1 Mehr 1405 is 23 September 2026, its 30th 22 October.
        assert_eq!(mehr.day(1), NaiveDate::from_ymd_opt(2026, 9, 23).unwrap());
        assert_eq!(mehr.day(31), NaiveDate::from_ymd_opt(2026, 10, 22).unwrap());
        assert_eq!(
            jalali_of(NaiveDate::from_ymd_opt(2026, 10, 22).unwrap()),
            (1405, 7, 30)
        );
    }

    #[test]
    fn the_month_depends_on_the_funds_time_zone() {
        // 21:00 UTC on 21 Nov 2026 is already 00:30 on 22 Nov (1 Azar) in Tehran.
        let late = utc(2026, 11, 21, 21);
        assert_eq!(
            JalaliMonth::containing(late, Tz::UTC),
            JalaliMonth {
                year: 1405,
                month: 8
            }
        );
        assert_eq!(
            JalaliMonth::containing(late, Tz::Asia__Tehran),
            JalaliMonth {
                year: 1405,
                month: 9
            }
        );
    }

    #[test]
    fn months_roll_over_the_year_and_start_where_icu_says() {
        let esfand = JalaliMonth {
            year: 1404,
            month: 12,
        };
        assert_eq!(
            esfand.next(),
            JalaliMonth {
                year: 1405,
                month: 1
            }
        );
        assert_eq!(esfand.next().starts_at(Tz::UTC), utc(2026, 3, 21, 0));
        let azar = JalaliMonth {
            year: 1405,
            month: 9,
        };
        assert_eq!(azar.starts_at(Tz::UTC), utc(2026, 11, 22, 0));
        assert_eq!(
            JalaliMonth::containing(azar.starts_at(Tz::Asia__Tehran), Tz::Asia__Tehran),
            azar
        );
    }

    /// Tehran moved its clocks from 00:00 to 01:00 on 21 March 1980, 1 Farvardin 1359: that
    /// month starts at the change (20:30 UTC, 01:00 local), and the instant before it is still
    /// in Esfand. Jerusalem did the same on 21 March 1997 (1 Farvardin 1376).
    #[test]
    fn a_month_whose_first_midnight_was_skipped_starts_when_the_clocks_move() {
        use chrono::Duration;
        let farvardin = JalaliMonth {
            year: 1359,
            month: 1,
        };
        let start = farvardin.starts_at(Tz::Asia__Tehran);
        assert_eq!(start, Utc.with_ymd_and_hms(1980, 3, 20, 20, 30, 0).unwrap());
        assert_eq!(
            start.with_timezone(&Tz::Asia__Tehran).to_rfc3339(),
            "1980-03-21T01:00:00+04:30"
        );
        assert_eq!(JalaliMonth::containing(start, Tz::Asia__Tehran), farvardin);
        assert_eq!(
            JalaliMonth::containing(start - Duration::seconds(1), Tz::Asia__Tehran),
            JalaliMonth {
                year: 1358,
                month: 12
            }
        );
        let farvardin_1376 = JalaliMonth {
            year: 1376,
            month: 1,
        };
        let start = farvardin_1376.starts_at(Tz::Asia__Jerusalem);
        assert_eq!(
            start.with_timezone(&Tz::Asia__Jerusalem).to_rfc3339(),
            "1997-03-21T01:00:00+03:00"
        );
        assert_eq!(
            JalaliMonth::containing(start - Duration::seconds(1), Tz::Asia__Jerusalem),
            JalaliMonth {
                year: 1375,
                month: 12
            }
        );
    }
}
