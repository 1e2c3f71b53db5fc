//! Access tokens (HS256/384/512 JWTs, `sub` = user id) and opaque refresh tokens.

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    /// Optional on the way in: the original API issued `{sub, exp}` only, and its signed-in
    /// clients must survive the migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not valid before; we never issue it, but honour it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The sign-in (refresh-token family) the token was issued from; revoking it revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    /// The user's session version when the token was issued (0 when absent): revoking a user's
    /// sessions raises it, which ends every older token, with or without a family.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ver: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user_id: i64,
    pub family: Option<String>,
    pub session_version: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &str, algorithm: Algorithm) -> Self {
        JwtKeys {
            algorithm,
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    pub fn issue(&self, user_id: i64, now: DateTime<Utc>, lifetime_minutes: i64) -> String {
        self.issue_for_sign_in(user_id, now, lifetime_minutes, None, 0)
    }

    /// An access token tied to a sign-in, so that signing out revokes it, and to the user's
    /// session version, so that revoking the user's sessions does.
    pub fn issue_for_sign_in(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
        lifetime_minutes: i64,
        family: Option<&str>,
        session_version: i64,
    ) -> String {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: Some(now.timestamp()),
            nbf: None,
            exp: now.timestamp() + lifetime_minutes * 60,
            fam: family.map(str::to_string),
            ver: session_version,
        };
        encode(&Header::new(self.algorithm), &claims, &self.encoding)
            .expect("HMAC signing cannot fail")
    }

    /// The user id of a valid, unexpired token. Expiry (and `nbf`, when present) is checked
    /// against the app's clock (not the system's), so a simulated month behaves like a real one.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<i64> {
        self.verify_claims(token, now).map(|v| v.user_id)
    }

    /// Like [`JwtKeys::verify`], with the sign-in the token belongs to.
    pub fn verify_claims(&self, token: &str, now: DateTime<Utc>) -> Option<Verified> {
        let mut validation = Validation::new(self.algorithm);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = decode::<Claims>(token, &self.decoding, &validation).ok()?;
        if data.claims.exp <= now.timestamp()
            || data.claims.nbf.is_some_and(|nbf| nbf > now.timestamp())
        {
            return None;
        }
        Some(Verified {
            user_id: data.claims.sub.parse().ok()?,
            family: data.claims.fam,
            session_version: data.claims.ver,
        })
    }
}

/// 256 random bits, hex-encoded: refresh tokens and generated secrets.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refresh tokens are stored only as their SHA-256, so a database leak does not leak sessions.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn tokens_verify_until_they_expire_and_not_when_tampered() {
        let keys = JwtKeys::new("secret", Algorithm::HS256);
        let now = Utc::now();
        let token = keys.issue(42, now, 10);
        assert_eq!(keys.verify(&token, now), Some(42));
        assert_eq!(keys.verify(&token, now + Duration::minutes(11)), None);
        let other = JwtKeys::new("other", Algorithm::HS256);
        assert_eq!(other.verify(&token, now), None);
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(keys.verify(&tampered, now), None);
        assert_eq!(keys.verify("garbage", now), None);
    }

    #[test]
    fn tokens_without_iat_are_accepted_and_nbf_is_honoured() {
        let keys = JwtKeys::new("secret", Algorithm::HS256);
        let now = Utc::now();
        let sign = |claims: serde_json::Value| {
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(b"secret"),
            )
            .unwrap()
        };
        let original = sign(serde_json::json!({ "sub": "7", "exp": now.timestamp() + 60 }));
        let verified = keys
            .verify_claims(&original, now)
            .expect("an iat-less token");
        assert_eq!((verified.user_id, verified.session_version), (7, 0));
        let later = now.timestamp() + 30;
        let not_yet = sign(serde_json::json!({ "sub": "7", "exp": later + 60, "nbf": later }));
        assert_eq!(keys.verify(&not_yet, now), None);
        assert_eq!(keys.verify(&not_yet, now + Duration::seconds(30)), Some(7));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }
}
