//! The web pages: server-rendered HTML for members and admins, served by the same binary as
//! the API and calling the same services (`auth::service`, `fund::service`), so a payment or a
//! draw made here follows exactly the API's rules.
//!
//! Layout: `session` (cookies, CSRF), `pages` (handlers and their templates in `templates/`),
//! `forms` (input and errors next to fields), `i18n` (English/Persian), `queries` (read-only
//! SQL of the pages), `chart` (the SVG chart). Static files are compiled into the binary.

pub mod chart;
pub mod forms;
pub mod i18n;
pub mod pages;
pub mod queries;
pub mod session;

pub use pages::errors::error_pages;

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;
use i18n::Lang;
use session::{add_cookie, cookie, set_cookie, LANG_COOKIE};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::account::home))
        .route(
            "/login",
            get(pages::account::login_page).post(pages::account::login),
        )
        .route("/logout", post(pages::account::logout))
        .route("/dashboard", get(pages::dashboard::show))
        .route("/dashboard/pay", post(pages::dashboard::pay))
        .route(
            "/dashboard/loan-request",
            post(pages::dashboard::loan_request),
        )
        .route("/fund", get(pages::fund::show))
        .route("/fund/draw", post(pages::fund::draw))
        .route(
            "/admin/members",
            get(pages::admin::members).post(pages::admin::create_member),
        )
        .route(
            "/admin/config",
            get(pages::admin::config).post(pages::admin::save_config),
        )
        .route(
            "/admin/members/{id}",
            get(pages::admin::member).post(pages::admin::save_member),
        )
        .route("/admin/members/{id}/active", post(pages::admin::set_active))
        .route(
            "/admin/members/{id}/password",
            post(pages::admin::reset_password),
        )
        .route("/admin/loans", get(pages::admin::loans))
        .layer(middleware::from_fn(remember_lang))
        .layer(middleware::from_fn(page_headers))
        .route("/static/htmx.min.js", get(htmx))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

const HTMX: &str = include_str!("../../static/htmx.min.js");
const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const FAVICON: &str = include_str!("../../static/favicon.svg");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
            (HeaderName::from_static("x-content-type-options"), "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn htmx() -> Response {
    asset("text/javascript; charset=utf-8", HTMX)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// Also at `/favicon.ico`, where browsers look without being told (an SVG: they read it).
async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}

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
/// cookie decides, and English is the default. The handlers read it as [`session::Prefs`].
async fn remember_lang(mut req: Request, next: Next) -> Response {
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
async fn page_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    set_page_headers(response.headers_mut());
    response
}

/// The headers of every page (kept where a handler set its own).
pub fn set_page_headers(headers: &mut HeaderMap) {
    let mut set = |name: &'static str, value: &'static str| {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    };
    set("cache-control", "no-store");
    set(
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    set("x-content-type-options", "nosniff");
    set("referrer-policy", "same-origin");
    set("x-frame-options", "DENY");
}
