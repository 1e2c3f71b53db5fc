//! What the commands that run beside live servers share: the database they must not create, and
//! the message that tells running instances something changed.

use saghat_core::config::Config;
use saghat_core::platform::db::{Db, Open};

/// The database of every command but `serve` and `migrate`, which alone may create one: a
/// wrong folder or URL is an error rather than a new, empty fund.
pub async fn existing_database(config: &Config) -> anyhow::Result<Db> {
    Db::open(&config.database_url, 2, Open::Existing).await
}

/// Running servers cache the configuration and users for `CACHE_TTL_SECONDS`; with Redis they
/// hear of a change from this command at once.
pub async fn tell_running_instances(config: &Config, message: &str) {
    if let Ok(shared) = saghat_core::platform::shared::Shared::new(
        config.redis_url.as_deref(),
        &config.redis_prefix,
        0,
    ) {
        shared.publish(message).await;
        // A member's name, role or being active shows in the fund's cached figures.
        if message == "users" || message.starts_with("user:") {
            shared.bump_generation("fund").await;
        }
    }
}
