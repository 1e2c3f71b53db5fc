//! How late money is: the buckets of days past due that receivables (and, for tickets, the
//! installments owed) are aged into, and days sales outstanding. Plain arithmetic on dates and
//! integer amounts.

use chrono::{Days, NaiveDate};
use serde::Serialize;

/// Days past due, in the buckets accountants and lenders read: not yet due (current), then
/// 1–30, 31–60, 61–90 and over 90 days late.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Current,
    Days1To30,
    Days31To60,
    Days61To90,
    Over90,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [
        Bucket::Current,
        Bucket::Days1To30,
        Bucket::Days31To60,
        Bucket::Days61To90,
        Bucket::Over90,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Current => "current",
            Bucket::Days1To30 => "days_1_30",
            Bucket::Days31To60 => "days_31_60",
            Bucket::Days61To90 => "days_61_90",
            Bucket::Over90 => "over_90",
        }
    }

    /// The bucket of something due on `due` and still unpaid on `today`.
    pub fn of(due: NaiveDate, today: NaiveDate) -> Bucket {
        match (today - due).num_days() {
            ..=0 => Bucket::Current,
            1..=30 => Bucket::Days1To30,
            31..=60 => Bucket::Days31To60,
            61..=90 => Bucket::Days61To90,
            _ => Bucket::Over90,
        }
    }

    /// The due dates the buckets start at on `today`, newest first, for SQL that ages rows by
    /// comparing their due date (text) without date arithmetic, which the two databases spell
    /// differently: a row is in the first bucket whose bound its due date is on or after.
    pub fn due_bounds(today: NaiveDate) -> [NaiveDate; 4] {
        let back = |days| {
            today
                .checked_sub_days(Days::new(days))
                .unwrap_or(NaiveDate::MIN)
        };
        [today, back(30), back(60), back(90)]
    }

    /// A SQL `CASE` giving the bucket's index for `due_column`, with the bounds of
    /// [`due_bounds`](Self::due_bounds) as the placeholders `$first` … `$first+3`.
    pub fn case_sql(due_column: &str, first: usize) -> String {
        format!(
            "CASE WHEN {due_column} >= ${a} THEN 0 WHEN {due_column} >= ${b} THEN 1 \
             WHEN {due_column} >= ${c} THEN 2 WHEN {due_column} >= ${d} THEN 3 ELSE 4 END",
            a = first,
            b = first + 1,
            c = first + 2,
            d = first + 3,
        )
    }

    pub fn from_index(index: i64) -> Option<Bucket> {
        usize::try_from(index)
            .ok()
            .and_then(|i| Bucket::ALL.get(i).copied())
    }
}

/// Days sales outstanding in tenths of a day: what is still owed, as days of the sales of the
/// last `days` days (`owed × days ÷ sold`), rounded half up. None when nothing was sold.
pub fn dso_tenths(owed: i128, sold: i128, days: i128) -> Option<i128> {
    if sold <= 0 {
        return None;
    }
    let scaled = owed.max(0) * days * 10;
    Some((scaled * 2 + sold) / (sold * 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn buckets_start_the_day_after_the_due_date() {
        let today = day(2026, 12, 1);
        let cases = [
            (day(2026, 12, 20), Bucket::Current),
            (today, Bucket::Current),
            (day(2026, 11, 30), Bucket::Days1To30),
            (day(2026, 11, 1), Bucket::Days1To30),
            (day(2026, 10, 31), Bucket::Days31To60),
            (day(2026, 10, 2), Bucket::Days31To60),
            (day(2026, 10, 1), Bucket::Days61To90),
            (day(2026, 9, 2), Bucket::Days61To90),
            (day(2026, 9, 1), Bucket::Over90),
        ];
        for (due, bucket) in cases {
            assert_eq!(Bucket::of(due, today), bucket, "{due}");
            // The SQL's bounds agree with the rule.
            let bounds = Bucket::due_bounds(today);
            let by_bounds = bounds.iter().position(|b| due >= *b).unwrap_or(4);
            assert_eq!(by_bounds, bucket.index(), "{due}");
        }
    }

    #[test]
    fn dso_is_owed_over_sales_times_days() {
        // 300 owed on 900 sold over 90 days: 30 days.
        assert_eq!(dso_tenths(300, 900, 90), Some(300));
        // 100 on 900: 10.0 days; 1 on 900: 0.1 day (0.1); 1 on 1800: 0.05 rounds up to 0.1.
        assert_eq!(dso_tenths(100, 900, 90), Some(100));
        assert_eq!(dso_tenths(1, 900, 90), Some(1));
        assert_eq!(dso_tenths(1, 1800, 90), Some(1));
        assert_eq!(dso_tenths(1, 1801, 90), Some(0));
        assert_eq!(dso_tenths(5, 0, 90), None);
    }
}
