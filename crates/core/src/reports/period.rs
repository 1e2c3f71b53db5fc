//! A report's period: a run of whole months of either calendar (Jalali `1405-01` or Gregorian
//! `2026-03`), each month the span of calendar days `[starts, ends)` the queries group by. Dates
//! are stored as `YYYY-MM-DD` text, so a span compares as text on both databases.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::ReportError;
use crate::invoicing::calendar::{from_jalali, to_jalali, Calendar};

/// At most this many months in one report: five years.
pub const MAX_MONTHS: usize = 60;

/// The months shown when no period is asked for: the last twelve, this one included.
pub const DEFAULT_MONTHS: usize = 12;

/// A month of a calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

impl Month {
    /// The month containing `date` in `calendar`.
    pub fn containing(calendar: Calendar, date: NaiveDate) -> Month {
        match calendar {
            Calendar::Jalali => {
                let (year, month, _) = to_jalali(date);
                Month { year, month }
            }
            Calendar::Gregorian => Month {
                year: date.year(),
                month: date.month() as u8,
            },
        }
    }

    /// `1405-09`.
    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Reads `YYYY-MM` (a month of 1 to 12, a year of four digits).
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let month: u8 = month.parse().ok()?;
        (1..=12).contains(&month).then_some(Month {
            year: year.parse().ok()?,
            month,
        })
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Its first day, or `None` beyond the calendars' range.
    pub fn first_day(self, calendar: Calendar) -> Option<NaiveDate> {
        match calendar {
            Calendar::Jalali => from_jalali(self.year, self.month, 1),
            Calendar::Gregorian => NaiveDate::from_ymd_opt(self.year, self.month.into(), 1),
        }
    }
}

/// One month of a period with its days, `[starts, ends)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MonthSpan {
    /// `1405-09` (Jalali) or `2026-11` (Gregorian), as the period was asked.
    pub month: String,
    #[schema(value_type = String, format = Date)]
    pub starts: NaiveDate,
    /// The first day of the next month.
    #[schema(value_type = String, format = Date)]
    pub ends: NaiveDate,
}

/// Whole months `from..=to` of one calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub calendar: Calendar,
    pub from: Month,
    pub to: Month,
}

impl Period {
    /// The period asked for by the query parameters `calendar` (`jalali`, the default, or
    /// `gregorian`), `from` and `to` (`YYYY-MM`, inclusive). Missing months default to the
    /// twelve months up to `today`'s.
    pub fn parse(
        calendar: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Period, ReportError> {
        let calendar = match calendar.map(str::trim).filter(|c| !c.is_empty()) {
            None => Calendar::Jalali,
            Some(text) => Calendar::parse(text).ok_or_else(|| {
                ReportError::invalid("calendar", "Choose \"jalali\" or \"gregorian\"")
            })?,
        };
        let month = |field: &str, text: Option<&str>| -> Result<Option<Month>, ReportError> {
            match text.map(str::trim).filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(text) => Month::parse(text)
                    .filter(|m| {
                        m.first_day(calendar).is_some() && m.next().first_day(calendar).is_some()
                    })
                    .map(Some)
                    .ok_or_else(|| {
                        ReportError::invalid(
                            field,
                            "Write a month as YYYY-MM, e.g. 1405-09 or 2026-11",
                        )
                    }),
            }
        };
        let to = month("to", to)?.unwrap_or_else(|| Month::containing(calendar, today));
        let from = match month("from", from)? {
            Some(from) => from,
            None => (1..DEFAULT_MONTHS).fold(to, |m, _| m.previous()),
        };
        let period = Period { calendar, from, to };
        if from > to {
            return Err(ReportError::invalid(
                "from",
                "The period starts after it ends",
            ));
        }
        if period.months().len() > MAX_MONTHS {
            return Err(ReportError::invalid(
                "from",
                format!("A report covers at most {MAX_MONTHS} months"),
            ));
        }
        Ok(period)
    }

    /// Its months, oldest first.
    pub fn months(&self) -> Vec<MonthSpan> {
        let mut months = vec![];
        let mut month = self.from;
        while month <= self.to && months.len() <= MAX_MONTHS {
            // Both days exist: `parse` checked the ends, and the months between lie within.
            let (Some(starts), Some(ends)) = (
                month.first_day(self.calendar),
                month.next().first_day(self.calendar),
            ) else {
                break;
            };
            months.push(MonthSpan {
                month: month.key(),
                starts,
                ends,
            });
            month = month.next();
        }
        months
    }

    /// The first day of the period.
    pub fn starts(&self) -> NaiveDate {
        self.from.first_day(self.calendar).unwrap_or(NaiveDate::MIN)
    }

    /// The day after the period.
    pub fn ends(&self) -> NaiveDate {
        self.to
            .next()
            .first_day(self.calendar)
            .unwrap_or(NaiveDate::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn jalali_months_span_their_gregorian_days() {
        let p = Period::parse(
            Some("jalali"),
            Some("1405-06"),
            Some("1405-07"),
            day(2026, 12, 1),
        )
        .unwrap();
        let months = p.months();
        assert_eq!(months.len(), 2);
        // 1 Shahrivar 1405 is 23 August 2026; Mehr begins on 23 September, Aban on 23 October.
        assert_eq!(
            months[0],
            MonthSpan {
                month: "1405-06".into(),
                starts: day(2026, 8, 23),
                ends: day(2026, 9, 23)
            }
        );
        assert_eq!(months[1].starts, day(2026, 9, 23));
        assert_eq!(months[1].ends, day(2026, 10, 23));
        assert_eq!(
            (p.starts(), p.ends()),
            (day(2026, 8, 23), day(2026, 10, 23))
        );
    }

    #[test]
    fn gregorian_months_and_the_default_of_twelve() {
        let p = Period::parse(Some("gregorian"), None, None, day(2026, 12, 1)).unwrap();
        let months = p.months();
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].month, "2026-01");
        assert_eq!(
            months[11],
            MonthSpan {
                month: "2026-12".into(),
                starts: day(2026, 12, 1),
                ends: day(2027, 1, 1)
            }
        );
        // Jalali by default: Azar 1405 contains 1 December 2026.
        let p = Period::parse(None, None, None, day(2026, 12, 1)).unwrap();
        assert_eq!(
            (p.from.key(), p.to.key()),
            ("1404-10".into(), "1405-09".into())
        );
        assert_eq!(p.months().len(), 12);
    }

    #[test]
    fn bad_periods_name_their_field() {
        let today = day(2026, 12, 1);
        let field = |r: Result<Period, ReportError>| match r {
            Err(ReportError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(Period::parse(Some("lunar"), None, None, today)),
            "calendar"
        );
        assert_eq!(
            field(Period::parse(None, Some("1405-13"), None, today)),
            "from"
        );
        assert_eq!(
            field(Period::parse(None, None, Some("1405/09"), today)),
            "to"
        );
        assert_eq!(
            field(Period::parse(None, Some("+405-01"), None, today)),
            "from"
        );
        assert_eq!(
            field(Period::parse(None, Some("1405-09"), Some("1405-08"), today)),
            "from"
        );
        assert_eq!(
            field(Period::parse(None, Some("1395-01"), Some("1405-09"), today)),
            "from"
        );
        assert!(Period::parse(None, Some("1400-10"), Some("1405-09"), today).is_ok());
    }
}
