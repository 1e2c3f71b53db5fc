//! The state every handler and middleware shares.

use std::sync::Arc;

use saghat_core::config::Config;
use saghat_core::platform::clock::SharedClock;
use saghat_core::platform::db::Db;
use saghat_core::Ctx;

/// The application's state, shared by every request: the services' [`Ctx`] behind one
/// reference count. axum clones it several times per request (each `from_fn_with_state`
/// middleware, each handler service and `State` extractor), and cloning the context's fields one
/// by one (moka caches with a dozen reference counts and channel senders each, the JWT keys with
/// two heap copies of the secret) was ~30% of the CPU time of a cached authenticated read.
#[derive(Clone)]
pub struct AppState(Arc<Ctx>);

impl std::ops::Deref for AppState {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.0
    }
}

impl AppState {
    pub fn new(db: Db, config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
        Ok(AppState(Arc::new(Ctx::new(db, config, clock)?)))
    }

    /// The context the services take, shared with background work.
    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.0
    }
}
