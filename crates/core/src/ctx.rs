//! The services' context.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::password::HashingLimiter;
use crate::auth::revocation::RevokedSignIns;
use crate::auth::tokens::JwtKeys;
use crate::auth::CurrentUser;
use crate::config::Config;
use crate::fund::rules::FundConfig;
use crate::gateways::bitpin::BitpinClient;
use crate::gateways::zarinpal::ZarinpalClient;
use crate::gateways::{PaymentGateway, RedirectGateway};
use crate::notify::setup::build_senders;
use crate::notify::Sender;
use crate::platform::clock::{ManualClock, SharedClock, SystemClock};
use crate::platform::db::Db;
use crate::platform::jalali::JalaliMonth;
use crate::platform::response_cache::{Area, ResponseCache};
use crate::platform::shared::Shared;

/// What every service needs, and nothing about HTTP: the database, the clock and the fund's
/// time zone (in `config`), the caches and their cross-instance invalidation, the gateways, the
/// token keys and the password hashing pool. The HTTP layer, the CLI and background work each
/// hold one.
pub struct Ctx {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub jwt: JwtKeys,
    /// Verifies gateway payments (Bitpin, when `BITPIN_API_KEY` is set).
    pub bitpin: Option<Arc<dyn PaymentGateway>>,
    /// Takes online payments (Zarinpal, when `ZARINPAL_MERCHANT_ID` is set).
    pub online: Option<Arc<dyn RedirectGateway>>,
    /// The notification channels that are configured (e-mail, SMS, WhatsApp); building them
    /// says in the log which are on and which are off. The outbox that will feed them comes
    /// with the job queue (issue 10).
    pub senders: Vec<Arc<dyn Sender>>,
    /// Rate limits and invalidation messages shared with the other instances (Redis).
    pub shared: Arc<Shared>,
    /// Signed-in users by id, for `CACHE_TTL_SECONDS` (or until a change says otherwise).
    pub users: moka::sync::Cache<i64, CurrentUser>,
    /// The fund's configuration, likewise.
    pub fund_config: moka::sync::Cache<JalaliMonth, FundConfig>,
    pub revoked: Arc<RevokedSignIns>,
    /// Computed figures (the fund page's) shared by the instances through Redis, each area
    /// invalidated by [`Ctx::changed`].
    pub responses: ResponseCache,
    /// Bounds concurrent Argon2 work (`PASSWORD_HASH_CONCURRENCY`, `PASSWORD_HASH_QUEUE`).
    pub password_hashing: HashingLimiter,
    /// The OpenID providers' metadata and keys, and the HTTP client that reaches them.
    pub oidc: crate::auth::oidc::provider::OidcClients,
}

impl Ctx {
    pub fn new(db: Db, config: Config, clock: SharedClock) -> anyhow::Result<Ctx> {
        let bitpin = gateway_from_config(&config)?;
        let online = online_gateway_from_config(&config)?;
        let senders = build_senders(&config.notify)?;
        let shared = Arc::new(Shared::new(
            config.redis_url.as_deref(),
            &config.redis_prefix,
            config.rate_limit_per_minute,
        )?);
        Ok(Ctx {
            jwt: JwtKeys::new(config.jwt_secret_key.expose(), config.jwt_algorithm),
            responses: ResponseCache::new(shared.clone(), config.cache_ttl),
            shared,
            users: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.cache_ttl)
                .build(),
            fund_config: moka::sync::Cache::builder()
                .max_capacity(1)
                .time_to_live(config.cache_ttl)
                .build(),
            revoked: Arc::new(RevokedSignIns::default()),
            password_hashing: HashingLimiter::new(
                config.password_hash_concurrency,
                config.password_hash_queue,
            ),
            db,
            config: Arc::new(config),
            clock,
            bitpin,
            online,
            senders,
            oidc: crate::auth::oidc::provider::OidcClients::new(),
        })
    }

    /// How long an access token lives.
    pub fn access_lifetime(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.config.jwt_expire_minutes)
    }

    /// Says on every instance that something cached changed: `user:<id>`, `users`, `config`, or
    /// `revoked:<family>`. This instance applies it at once; the others through Redis.
    pub async fn invalidate(&self, message: &str) {
        self.apply_invalidation(message);
        self.shared.publish(message).await;
        // A member's name, role or being active, and the fund's configuration (the least fee,
        // who may pay a loan off), show in the fund's figures.
        if message == "users" || message == "config" || message.starts_with("user:") {
            self.changed(Area::Fund).await;
        }
    }

    /// Says, after its commit, that a write changed `area`'s data: every instance's cached
    /// figures of it are dropped (see `platform::response_cache`).
    pub async fn changed(&self, area: Area) {
        self.responses.changed(area).await;
    }

    /// [`Ctx::changed`] for every area, for writes that touch several (online payments).
    pub async fn changed_all(&self) {
        for area in Area::ALL {
            self.changed(area).await;
        }
    }

    fn apply_invalidation(&self, message: &str) {
        match message.split_once(':') {
            Some(("user", id)) => {
                if let Ok(id) = id.parse::<i64>() {
                    self.users.invalidate(&id);
                }
            }
            Some(("revoked", family)) => {
                self.revoked.add(family, self.now(), self.access_lifetime())
            }
            Some(("changed", area)) => {
                if let Some(area) = Area::parse(area) {
                    self.responses.apply_changed(area);
                }
            }
            _ if message == "config" => self.fund_config.invalidate_all(),
            _ if message == "users" => self.users.invalidate_all(),
            _ => tracing::debug!(message, "unknown invalidation message"),
        }
    }

    /// Keeps this instance's caches in step with the others: Redis messages as they come, and
    /// the database's revocations every `CACHE_TTL_SECONDS`.
    pub fn start_background_sync(ctx: &Arc<Ctx>) {
        let state = ctx.clone();
        ctx.shared
            .subscribe(move |message| state.apply_invalidation(message));
        let state = ctx.clone();
        tokio::spawn(async move {
            let every = state
                .config
                .cache_ttl
                .max(std::time::Duration::from_secs(1));
            loop {
                if let Err(e) = state
                    .revoked
                    .poll(&state.db, state.now(), state.access_lifetime())
                    .await
                {
                    tracing::warn!(error = %e, "cannot load revoked sign-ins");
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The Jalali month payments and draws belong to, in the fund's time zone.
    pub fn current_month(&self) -> JalaliMonth {
        JalaliMonth::containing(self.now(), self.config.fund_timezone)
    }
}

/// The clock the configuration asks for: the wall clock, or `SAGHAT_FAKE_NOW` (dev/test only).
pub fn clock_for(config: &Config) -> SharedClock {
    match config.fake_now {
        Some(at) => {
            tracing::warn!(%at, "SAGHAT_FAKE_NOW is set: the clock is fixed (never do this in production)");
            Arc::new(ManualClock::new(at))
        }
        None => Arc::new(SystemClock),
    }
}

/// The gateway the configuration asks for: Bitpin when `BITPIN_API_KEY` is set, else none
/// (payments are then not verified; `Config::from_env` refuses that in production unless
/// `BITPIN_VERIFY=off`).
fn gateway_from_config(config: &Config) -> anyhow::Result<Option<Arc<dyn PaymentGateway>>> {
    Ok(match &config.bitpin_api_key {
        Some(key) => Some(Arc::new(BitpinClient::new(
            &config.bitpin_api_base_url,
            key.expose(),
            config.bitpin_timeout,
        )?)),
        None => None,
    })
}

/// The online gateway: Zarinpal when `ZARINPAL_MERCHANT_ID` is set, else none (no "Pay
/// online" anywhere).
fn online_gateway_from_config(config: &Config) -> anyhow::Result<Option<Arc<dyn RedirectGateway>>> {
    let z = &config.zarinpal;
    Ok(match &z.merchant_id {
        Some(id) => {
            tracing::info!(base_url = %z.base_url, "online payments on: Zarinpal");
            Some(Arc::new(ZarinpalClient::new(
                &z.base_url,
                id.expose(),
                z.currency,
                z.timeout,
            )?))
        }
        None => None,
    })
}
