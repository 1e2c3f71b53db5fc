//! OpenID Connect sign-in: providers from `OIDC_<NAME>_…` (settings), the calls to them
//! (provider), the sign-ins under way and the linked identities (store), and the flow
//! (service). See the README's "Sign-in with OpenID Connect".

pub mod model;
pub mod provider;
pub mod service;
pub mod settings;
pub mod store;

pub use model::{Identity, OidcError, ProviderInfo, Purpose, Started};
pub use provider::OidcClients;
pub use service::Finished;
