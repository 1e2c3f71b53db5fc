//! Talking to an OpenID provider with the `openidconnect` crate: discovery (metadata and JWKS,
//! kept for a while), the authorization URL, the code exchange and the ID token's validation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use super::model::OidcError;
use super::settings::OidcProvider;

/// Metadata and keys are fetched again after this, so a provider's key rotation is picked up.
const METADATA_KEEP: Duration = Duration::from_secs(600);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The providers' metadata, and the HTTP client every call to them goes through.
pub struct OidcClients {
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

impl Default for OidcClients {
    fn default() -> Self {
        Self::new()
    }
}

/// What the authorization request carries, to be kept until the callback.
pub(super) struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The identity an ID token vouches for, once validated.
pub(super) struct Verified {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Every claim of the ID token, for a configured role claim.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl OidcClients {
    pub fn new() -> OidcClients {
        OidcClients {
            // Following redirects would let a provider's answer point Saghat at any address
            // (SSRF); discovery, keys and tokens are always where the metadata says.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(HTTP_TIMEOUT)
                .build()
                .expect("a reqwest client without redirects builds"),
            metadata: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    async fn metadata(&self, provider: &OidcProvider) -> Result<CoreProviderMetadata, OidcError> {
        let mut kept = self.metadata.lock().await;
        if let Some((at, metadata)) = kept.get(&provider.issuer) {
            if at.elapsed() < METADATA_KEEP {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.issuer.clone())
            .map_err(|e| OidcError::Unreachable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        kept.insert(provider.issuer.clone(), (Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    async fn client(
        &self,
        provider: &OidcProvider,
        redirect_uri: &str,
    ) -> Result<Client, OidcError> {
        let metadata = self.metadata(provider).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|_| OidcError::RedirectNotAllowed)?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            provider
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_string())),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's authorization URL with a fresh `state`, `nonce` and PKCE challenge (S256).
    pub(super) async fn authorize(
        &self,
        provider: &OidcProvider,
        redirect_uri: &str,
    ) -> Result<Authorization, OidcError> {
        let client = self.client(provider, redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &provider.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` (with the PKCE verifier) and validates the ID token: its signature by
    /// the provider's JWKS, issuer, audience, expiry (by Saghat's clock, `now`), the `nonce` of
    /// this sign-in, and the access token's hash when the token carries one.
    pub(super) async fn exchange(
        &self,
        provider: &OidcProvider,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Verified, OidcError> {
        let client = self.client(provider, redirect_uri).await?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Unreachable(e.to_string()))?;
        let response = request
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(refused) => {
                    OidcError::CodeRefused(refused.to_string())
                }
                other => OidcError::Unreachable(error_chain(&other)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidIdToken("the provider sent none".into()))?;
        let verifier = client.id_token_verifier().set_time_fn(move || now);
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce.to_string()))
            .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
        if let Some(expected) = claims.access_token_hash() {
            let invalid = |e: &dyn std::fmt::Display| OidcError::InvalidIdToken(e.to_string());
            let algorithm = id_token.signing_alg().map_err(|e| invalid(&e))?;
            let key = id_token.signing_key(&verifier).map_err(|e| invalid(&e))?;
            let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
                .map_err(|e| invalid(&e))?;
            if actual != *expected {
                return Err(OidcError::InvalidIdToken(
                    "its at_hash is not the access token's".into(),
                ));
            }
        }
        Ok(Verified {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified() == Some(true),
            claims: payload(&id_token.to_string()),
        })
    }
}

/// The claims of a JWT whose signature was checked already, as JSON (for a configured role
/// claim, which the crate's standard claims do not carry).
fn payload(jwt: &str) -> serde_json::Map<String, serde_json::Value> {
    use base64::Engine;
    jwt.split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn provider(issuer: &str) -> OidcProvider {
        OidcProvider {
            name: "x".into(),
            label: "X".into(),
            issuer: issuer.into(),
            client_id: "c".into(),
            client_secret: None,
            scopes: vec![],
            link_by_email: false,
            role_claim: None,
            role_map: vec![],
            api_redirect_uris: vec![],
        }
    }

    #[tokio::test]
    async fn discovery_does_not_follow_a_redirect() {
        let elsewhere = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .expect(0)
            .mount(&elsewhere)
            .await;
        let issuer = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(302).insert_header(
                "location",
                format!("{}/.well-known/openid-configuration", elsewhere.uri()),
            ))
            .mount(&issuer)
            .await;
        let clients = OidcClients::new();
        let err = clients
            .authorize(&provider(&issuer.uri()), "http://127.0.0.1/cb")
            .await
            .err()
            .expect("a redirect is not followed");
        assert!(matches!(err, OidcError::Unreachable(_)), "{err:?}");
        // `elsewhere` verifies on drop that it was never asked.
    }

    #[test]
    fn the_payload_of_a_jwt_reads_as_its_claims() {
        use base64::Engine;
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"7","groups":["a"]}"#);
        let claims = payload(&format!("h.{body}.s"));
        assert_eq!(claims["groups"], serde_json::json!(["a"]));
        assert!(payload("not a jwt").is_empty());
    }
}
