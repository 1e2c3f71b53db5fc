//! What an OpenID Connect sign-in is for, what it gives back, and what it refuses.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Why a sign-in was begun; the callback does what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The web sign-in page; back to `next` when signed in.
    Web { next: String },
    /// An API client, whose own `redirect_uri` receives the code.
    Api,
    /// A signed-in user links the provider's identity to their account.
    Link { user_id: i64, next: String },
}

impl Purpose {
    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::Web { .. } => "web",
            Purpose::Api => "api",
            Purpose::Link { .. } => "link",
        }
    }
}

/// A sign-in begun: send the browser to `authorization_url`; `binding` goes to the browser as a
/// cookie, or to the API client, and must come back with the callback.
#[derive(Debug)]
pub struct Started {
    pub authorization_url: String,
    pub state: String,
    pub binding: String,
    pub expires_in: i64,
}

/// An identity linked to an account, for its owner's page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Identity {
    pub provider: String,
    /// The e-mail the provider gave when the identity was linked.
    pub email: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub linked_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// A configured provider, as the sign-in page and `GET /api/auth/oidc/providers` show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProviderInfo {
    pub name: String,
    pub label: String,
}

/// What a sign-in refuses. Each text is the sentence the API sends and the web page shows.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("No such sign-in provider")]
    UnknownProvider,
    /// The state is unknown, used, for another provider, or began in another browser: 400.
    #[error("This sign-in is not one Saghat began here, or it was already used; start again")]
    InvalidState,
    #[error("This sign-in took too long; start again")]
    Expired,
    /// The provider said no (the user declined, or the provider failed): 400.
    #[error("The provider did not sign you in: {0}")]
    Denied(String),
    /// The provider refused the code (used before, or not its own): 400.
    #[error("The provider refused the sign-in code: {0}")]
    CodeRefused(String),
    /// The ID token failed validation (signature, issuer, audience, expiry, nonce): 400.
    #[error("The provider's ID token is not valid: {0}")]
    InvalidIdToken(String),
    /// No account is linked to the identity: 403.
    #[error("No Saghat account is linked to this {provider} identity. Sign in with your password and link it from your account page.")]
    NotLinked { provider: String },
    /// The identity belongs to another account, or this account has another identity there: 409.
    #[error("{0}")]
    LinkConflict(String),
    #[error("The redirect_uri is not one configured for API clients of this provider")]
    RedirectNotAllowed,
    /// Discovery or the token call failed: 502.
    #[error("The sign-in provider cannot be reached: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Auth(#[from] crate::auth::error::AuthError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}
