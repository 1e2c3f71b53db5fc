//! Rows that have outlived their purpose, swept by a periodic job (`housekeeping`): idempotency
//! keys past their 24 hours (an expired key is never replayed, only overwritten) and refresh
//! tokens long past their expiry (an expired token is refused whether its row exists or not).
//! A token's row is kept for one access-token lifetime and a day beyond its expiry: signing its
//! family out marks those rows, and that mark is what ends the access tokens the family was
//! given, which live that long. OpenID sign-ins abandoned at the provider go once expired.

use chrono::{DateTime, Duration, Utc};

use super::clock::to_db_time;
use super::db::Db;
use super::idempotency::LIFETIME_HOURS;

/// How many rows one sweep removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Swept {
    pub idempotency_keys: u64,
    pub refresh_tokens: u64,
    pub oidc_logins: u64,
}

pub async fn sweep(
    db: &Db,
    now: DateTime<Utc>,
    access_lifetime: Duration,
) -> Result<Swept, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let idempotency_keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
        .bind(to_db_time(now - Duration::hours(LIFETIME_HOURS)))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    let refresh_tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
        .bind(to_db_time(now - access_lifetime - Duration::days(1)))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    let oidc_logins = sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1")
        .bind(to_db_time(now))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(Swept {
        idempotency_keys,
        refresh_tokens,
        oidc_logins,
    })
}
