//! What every page request goes through: its language (`?lang=`, remembered in a cookie) and the
//! headers every page carries.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::i18n::Lang;
use super::session::{add_cookie, cookie, set_cookie, LANG_COOKIE};

/// The language a request asks for with `?lang=`, if any.
fn asked_lang(req: &Request) -> Option<Lang> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("lang="))
        .and_then(Lang::parse)
}

/// The language of a request: `?lang=`, else the remembered cookie, else English.
pub fn request_lang(req: &Request) -> Lang {
    asked_lang(req)
        .or_else(|| cookie(req.headers(), LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or(Lang::En)
}

/// `?lang=fa` (or `en`) picks the language and is remembered in a cookie; otherwise the
/// cookie decides, and English is the default. The handlers read it as [`Prefs`](super::session::Prefs).
pub async fn remember_lang(mut req: Request, next: Next) -> Response {
    let asked = asked_lang(&req);
    let lang = request_lang(&req);
    req.extensions_mut().insert(lang);
    let mut response = next.run(req).await;
    if let Some(lang) = asked {
        // A preference, not a secret: it needs no `Secure` flag.
        let year = 365 * 24 * 3600;
        add_cookie(
            response.headers_mut(),
            set_cookie(LANG_COOKIE, lang.code(), "/", year, false),
        );
    }
    response
}

/// Pages show personal data: never cache them, never frame them, and allow only our own
/// scripts and styles (the templates use no inline script or style).
pub async fn page_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    set_page_headers(response.headers_mut());
    response
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The pages' policy, except that a form may also lead to `origin`: a form whose answer
/// redirects to a payment gateway (browsers apply `form-action` to the redirect too).
pub fn allow_form_target(headers: &mut HeaderMap, origin: &str) {
    let policy = CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(HeaderName::from_static("content-security-policy"), value);
    }
}

/// The headers of every page (kept where a handler set its own).
pub fn set_page_headers(headers: &mut HeaderMap) {
    let mut set = |name: &'static str, value: &'static str| {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    };
    set("cache-control", "no-store");
    set("content-security-policy", CSP);
    set("x-content-type-options", "nosniff");
    set("referrer-policy", "same-origin");
    set("x-frame-options", "DENY");
}
