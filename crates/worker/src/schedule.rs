//! When the periodic jobs run: wall-clock times in the fund's time zone (`FUND_TIMEZONE`),
//! whatever zone the server runs in.

use chrono_tz::Tz;
use riverqueue::jiff::tz::TimeZone;
use riverqueue::{CronSchedule, CronTimeZone};

/// Every day at `hour`:00 in `zone`.
pub(crate) fn daily_at(hour: u32, zone: Tz) -> anyhow::Result<CronSchedule> {
    let zone = TimeZone::get(zone.name())?;
    Ok(CronSchedule::parse(&format!("0 {hour} * * *"))?.with_time_zone(CronTimeZone::Named(zone)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use riverqueue::jiff::Timestamp;
    use riverqueue::PeriodicSchedule;

    #[test]
    fn a_daily_time_is_the_funds_wall_clock_not_utc() {
        let schedule = daily_at(9, chrono_tz::Asia::Tehran).unwrap();
        // 05:00 UTC is 08:30 in Tehran (UTC+3:30): the next 09:00 there is 05:30 UTC.
        let now: Timestamp = "2026-12-01T05:00:00Z".parse().unwrap();
        let next = schedule.next(now).unwrap();
        assert_eq!(next.to_string(), "2026-12-01T05:30:00Z");
        // Right after it, the next run is a day later.
        assert_eq!(
            schedule.next(next).unwrap().to_string(),
            "2026-12-02T05:30:00Z"
        );
    }

    #[test]
    fn a_zone_with_daylight_saving_keeps_the_local_hour() {
        let schedule = daily_at(9, chrono_tz::Europe::Berlin).unwrap();
        let winter: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            schedule.next(winter).unwrap().to_string(),
            "2026-12-01T08:00:00Z"
        );
        let summer: Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            schedule.next(summer).unwrap().to_string(),
            "2026-07-01T07:00:00Z"
        );
    }
}
