//! Injectable time. Every "now" in Saghat comes from a [`Clock`], so tests and simulations can
//! move through Jalali months without waiting for them.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: `SAGHAT_FAKE_NOW` in dev/test, and the test suite.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock mutex poisoned") = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock mutex poisoned");
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock mutex poisoned")
    }
}

/// Timestamps are stored as fixed-width RFC 3339 UTC text, which sorts in time order on both
/// databases.
pub fn to_db_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A time column written by [`to_db_time`], as a row reads it. Text that is not RFC 3339 reads
/// as `None` rather than failing the row: each reader decides what such a time means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbTime(pub Option<DateTime<Utc>>);

impl sqlx::Type<sqlx::Any> for DbTime {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for DbTime {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
        Ok(DbTime(
            DateTime::parse_from_rfc3339(&text)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        ))
    }
}
