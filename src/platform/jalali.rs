//! Jalali (Solar Hijri) months, computed with ICU4X's Persian calendar in the fund's time zone.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use icu_calendar::cal::Persian;
use icu_calendar::Date;
use serde::Serialize;

/// A Jalali year and month, e.g. 1405/9 (Azar 1405).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct JalaliMonth {
    pub year: i32,
    pub month: u8,
}

/// The Jalali date (year, month, day) of an instant as seen in `tz`.
pub fn jalali_date(at: DateTime<Utc>, tz: Tz) -> (i32, u8, u8) {
    let local = at.with_timezone(&tz).date_naive();
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

    /// The first instant (UTC) of this month in `tz`, found through ICU's Persian → ISO mapping.
    pub fn starts_at(self, tz: Tz) -> DateTime<Utc> {
        use chrono::{NaiveDate, TimeZone};
        let iso = Date::try_new_persian(self.year, self.month, 1)
            .expect("a Jalali month always has a first day")
            .to_calendar(icu_calendar::Iso);
        let naive = NaiveDate::from_ymd_opt(
            iso.era_year().extended_year,
            iso.month().ordinal.into(),
            iso.day_of_month().0.into(),
        )
        .expect("ICU gives valid ISO dates")
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
        tz.from_local_datetime(&naive)
            .earliest()
            .expect("midnight exists in the fund's time zone")
            .with_timezone(&Utc)
    }
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
}
