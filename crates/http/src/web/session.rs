//! The web session and CSRF protection.
//!
//! Signing in on the web gives the same tokens as `POST /api/auth/login`: the access token
//! (a JWT) is kept in the `saghat_session` cookie and checked like a bearer token on every
//! request; the refresh token is kept in `saghat_refresh`, sent only to `/logout`, so that
//! signing out revokes it server-side. Both are `HttpOnly; SameSite=Lax`, and `Secure` when the
//! request came over HTTPS (through a trusted proxy's `X-Forwarded-Proto`).
//!
//! Every POST form carries `csrf` = HMAC-SHA256(`SECRET_KEY`, session token): a page of another
//! site cannot read it, and it changes with every sign-in. Before sign-in the seed is a random
//! `saghat_login` cookie, so the sign-in form is protected too.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::i18n::Lang;
use crate::error::ApiError;
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::config::Config;

pub const SESSION_COOKIE: &str = "saghat_session";
pub const REFRESH_COOKIE: &str = "saghat_refresh";
pub const LOGIN_COOKIE: &str = "saghat_login";
pub const LANG_COOKIE: &str = "saghat_lang";
/// The refresh token is only ever needed by sign-out.
pub const REFRESH_PATH: &str = "/logout";

/// The value of cookie `name`, if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over HTTPS. Saghat itself serves plain HTTP, so this is only
/// ever true behind a TLS-terminating proxy that we trust to say so.
pub fn is_https(headers: &HeaderMap, config: &Config) -> bool {
    config.trust_proxy_headers
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("cookie values are hex, JWT or language codes")
}

pub fn add_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, seed: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key size");
    mac.update(b"saghat-csrf:");
    mac.update(seed.as_bytes());
    mac
}

/// The CSRF token of the forms shown to the holder of `seed` (a session or login cookie).
pub fn csrf_token(secret: &str, seed: &str) -> String {
    mac(secret, seed)
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a submitted token in constant time.
pub fn csrf_valid(secret: &str, seed: &str, token: &str) -> bool {
    let Some(bytes) = decode_hex(token) else {
        return false;
    };
    mac(secret, seed).verify_slice(&bytes).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why a web request was refused.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in (or the session expired): go to the sign-in page, then come back.
    SignIn {
        next: String,
    },
    Forbidden,
    Csrf,
    /// A refusal told in the page's language: the status, and the text key of the message.
    Refused(StatusCode, &'static str),
    Api(ApiError),
}

impl From<ApiError> for WebError {
    fn from(err: ApiError) -> Self {
        WebError::Api(err)
    }
}

impl From<sqlx::Error> for WebError {
    fn from(err: sqlx::Error) -> Self {
        WebError::Api(err.into())
    }
}

impl From<askama::Error> for WebError {
    fn from(err: askama::Error) -> Self {
        WebError::Api(ApiError::Internal(anyhow::Error::new(err)))
    }
}

pub type WebResult<T> = Result<T, WebError>;

/// 303 See Other: after a POST, the browser GETs `to` (no resubmission on reload).
pub fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub fn login_url(next: &str) -> String {
    if next.is_empty() || next == "/" {
        return "/login".into();
    }
    let encoded: String = next
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/login?next={encoded}")
}

/// Only paths on this site may be returned to after sign-in (no open redirect): an absolute
/// path of visible ASCII, without a control character, a backslash or `//`, also once
/// percent-decoded. Browsers drop tabs and newlines from URLs and read `\\` as `/`, so
/// `/\t/evil.example` or `/\\evil.example` would leave the site; anything doubtful goes to
/// the dashboard.
pub fn safe_next(next: &str) -> &str {
    fn local(path: &str) -> bool {
        path.starts_with('/')
            && !path.contains("//")
            && !path.contains('\\')
            && !path.chars().any(char::is_control)
    }
    let ascii = next.bytes().all(|b| b.is_ascii_graphic());
    if ascii && local(next) && local(&percent_decoded(next)) {
        next
    } else {
        "/dashboard"
    }
}

/// `%XX` decoded once, as bytes (invalid UTF-8 becomes U+FFFD, which [`safe_next`] refuses).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The request's language and scheme, resolved by [`remember_lang`](super::remember_lang).
#[derive(Clone, Copy, Debug)]
pub struct Prefs {
    pub lang: Lang,
    pub https: bool,
}

impl FromRequestParts<AppState> for Prefs {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Prefs {
            lang: parts.extensions.get::<Lang>().copied().unwrap_or(Lang::En),
            https: is_https(&parts.headers, &state.config),
        })
    }
}

/// The signed-in user of a web request, with the CSRF token for the forms it is shown.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: CurrentUser,
    pub token: String,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let next = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string()
        } else {
            String::new()
        };
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .ok_or_else(|| WebError::SignIn { next: next.clone() })?;
        let user = saghat_core::auth::service::authenticate(state, token)
            .await?
            .ok_or(WebError::SignIn { next })?;
        Ok(Session {
            user,
            csrf: csrf_token(state.config.secret_key.expose(), token),
            token: token.to_string(),
        })
    }
}

/// A signed-in admin (main user); anyone else gets 403.
pub struct AdminSession(pub Session);

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let session = Session::from_request_parts(parts, state).await?;
        if !session.user.is_main {
            return Err(WebError::Forbidden);
        }
        Ok(AdminSession(session))
    }
}

/// A form that carries a CSRF token.
pub trait WebForm: DeserializeOwned {
    fn csrf(&self) -> &str;
}

/// A POSTed form from the signed-in user whose CSRF token matches their session.
pub struct CsrfForm<T>(pub Session, pub T);

impl<T: WebForm + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| WebError::Api(ApiError::bad_request("Cannot parse the form")))?;
        if !csrf_valid(
            state.config.secret_key.expose(),
            &session.token,
            form.csrf(),
        ) {
            return Err(WebError::Csrf);
        }
        Ok(CsrfForm(session, form))
    }
}

/// A POSTed form of an admin page: a [`CsrfForm`] from a main user; anyone else gets 403
/// once the form and its token have been read.
pub struct AdminForm<T>(pub Session, pub T);

impl<T: WebForm + Send> FromRequest<AppState> for AdminForm<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let CsrfForm(session, form) = CsrfForm::<T>::from_request(req, state).await?;
        if !session.user.is_main {
            return Err(WebError::Forbidden);
        }
        Ok(AdminForm(session, form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_belong_to_one_seed_and_one_secret() {
        let token = csrf_token("secret", "session-a");
        assert_eq!(token.len(), 64);
        assert!(csrf_valid("secret", "session-a", &token));
        assert!(!csrf_valid("secret", "session-b", &token));
        assert!(!csrf_valid("other", "session-a", &token));
        assert!(!csrf_valid("secret", "session-a", ""));
        assert!(!csrf_valid("secret", "session-a", &token[..63]));
        assert!(!csrf_valid("secret", "session-a", &"zz".repeat(32)));
    }

    #[test]
    fn cookies_are_read_and_written_safely() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; saghat_lang=fa; b="));
        assert_eq!(cookie(&headers, "saghat_lang"), Some("fa"));
        assert_eq!(cookie(&headers, "b"), None);
        assert_eq!(cookie(&headers, "c"), None);
        let set = set_cookie("s", "v", "/", 60, true);
        assert_eq!(
            set.to_str().unwrap(),
            "s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_next("/fund?x=1"), "/fund?x=1");
        assert_eq!(safe_next("//evil.example/"), "/dashboard");
        assert_eq!(safe_next("https://evil.example/"), "/dashboard");
        assert_eq!(safe_next("/\\evil.example"), "/dashboard");
        assert_eq!(login_url("/fund?lang=fa"), "/login?next=/fund%3Flang%3Dfa");
        assert_eq!(safe_next("/fund?x=%20%C3%A9"), "/fund?x=%20%C3%A9");
        for evil in [
            "",
            "fund",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/%09/evil.example",
            "/%0d%0a/evil.example",
            "/%0A/evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%5c%5cevil.example",
            "/%C2%85/evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "/x//evil.example",
            "///evil.example",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "/\u{0}/evil.example",
            "/\u{7f}/evil.example",
            "/\u{85}/evil.example",
            "/ /evil.example",
            "/é",
        ] {
            assert_eq!(safe_next(evil), "/dashboard", "{evil:?}");
        }
    }
}
