//! Revoked sign-ins. Every token issued from one sign-in (the refresh-token family) carries its
//! id: access tokens in their `fam` claim. Signing out, or replaying a spent refresh token,
//! revokes the family in the database; each instance keeps the set of revoked families in
//! memory, so checking an access token costs no query. Another instance learns of a
//! revocation at once through Redis, or within `CACHE_TTL_SECONDS` by polling the database.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};

use super::store;
use crate::platform::db::Db;

#[derive(Default)]
pub struct RevokedSignIns {
    /// Family id → until when its access tokens could still be presented (unix seconds).
    families: RwLock<HashMap<String, i64>>,
    polled_until: Mutex<Option<DateTime<Utc>>>,
}

impl RevokedSignIns {
    pub fn contains(&self, family: &str) -> bool {
        self.families.read().expect("lock").contains_key(family)
    }

    /// Records a revocation; its access tokens live at most `access_lifetime` after `revoked_at`.
    pub fn add(&self, family: &str, revoked_at: DateTime<Utc>, access_lifetime: Duration) {
        let until = (revoked_at + access_lifetime).timestamp();
        self.families
            .write()
            .expect("lock")
            .insert(family.to_string(), until);
    }

    /// Loads revocations recorded since the last poll (by any instance), and forgets those whose
    /// access tokens have all expired.
    pub async fn poll(
        &self,
        db: &Db,
        now: DateTime<Utc>,
        access_lifetime: Duration,
    ) -> Result<(), sqlx::Error> {
        let since = self
            .polled_until
            .lock()
            .expect("lock")
            .unwrap_or(now - access_lifetime);
        // Overlap a little: a revocation committed late with an earlier timestamp is not missed.
        let revoked = store::revoked_families_since(db, since - Duration::seconds(30)).await?;
        {
            let mut families = self.families.write().expect("lock");
            for (family, revoked_at) in revoked {
                families.insert(family, (revoked_at + access_lifetime).timestamp());
            }
            families.retain(|_, until| *until > now.timestamp());
        }
        *self.polled_until.lock().expect("lock") = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_are_remembered_while_their_tokens_live() {
        let revoked = RevokedSignIns::default();
        let now = Utc::now();
        revoked.add("f1", now, Duration::minutes(10));
        assert!(revoked.contains("f1"));
        assert!(!revoked.contains("f2"));
    }
}
