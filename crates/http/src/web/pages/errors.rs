//! Error pages: every refusal or failure of a web page is an HTML page in the page's language,
//! with the site's navigation, never the API's JSON. API routes keep their JSON errors.
//!
//! [`error_pages`] wraps the whole application (see `app::router`), so it also sees what is
//! produced outside the web router: the 404 of an unknown path, 405, 413, 429, timeouts and
//! panics. A web handler's own refusals ([`WebError`](crate::web::session::WebError)) are
//! marked with [`PageError`] and always become a page; the others only for a browser (its
//! `Accept` names `text/html`), so scripts calling an unknown path still get JSON.

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Page, View};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{
    cookie, csrf_token, is_https, login_url, see_other, Prefs, Session, WebError, SESSION_COOKIE,
};

/// Marks an error response of a web handler, with the text key of what to tell the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageError(pub &'static str);

/// What the reader is told for a status no handler explained.
pub fn message_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "error_401",
        403 => "error_403",
        404 => "error_404",
        413 => "error_413",
        429 => "error_429",
        503 | 504 => "error_503",
        500..=599 => "error_500",
        _ => "error_400",
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub v: View,
    pub heading: String,
    pub message: &'static str,
}

/// Paths that are not web pages: the API, its documents, health checks, static files.
fn is_api(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path.starts_with("/swagger")
        || path.starts_with("/static/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/favicon.ico")
}

/// Turns the error responses of web pages into HTML error pages (see the module's comment).
pub async fn error_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if is_api(path) {
        return next.run(req).await;
    }
    let path = path.to_string();
    let browser = req
        .headers()
        .get_all(ACCEPT)
        .iter()
        .any(|v| v.as_bytes().windows(9).any(|w| w == b"text/html"));
    let prefs = Prefs {
        lang: crate::web::layers::request_lang(&req),
        https: is_https(req.headers(), &state.config),
    };
    let token = cookie(req.headers(), SESSION_COOKIE).map(str::to_string);
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let marked = response.extensions().get::<PageError>().copied();
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html || (marked.is_none() && !browser) {
        return response;
    }
    // When the server itself is in trouble, do not ask the database who is signed in.
    let user = match token.as_deref() {
        Some(token) if status.is_server_error() => cached_user(&state, token),
        Some(token) => saghat_core::auth::service::authenticate(&state, token)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let session = user.zip(token).map(|(user, token)| Session {
        csrf: csrf_token(state.config.secret_key.expose(), &token),
        user,
        token,
    });
    let message = marked.map_or_else(|| message_for(status), |m| m.0);
    let mut v = View::new(
        &state,
        prefs,
        session.as_ref(),
        Page {
            path: "/",
            active: "",
            title: "error_title",
            notice: None,
        },
    );
    let other = match prefs.lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = format!("{path}?lang={}", other.code());
    let page = ErrorPage {
        heading: format!(
            "{} {}",
            v.t("error_title"),
            prefs.lang.digits(&status.as_u16().to_string())
        ),
        message,
        v,
    };
    let Ok(body) = page.render() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    crate::web::layers::set_page_headers(&mut parts.headers);
    Response::from_parts(parts, Body::from(body))
}

/// The signed-in user from the cache only (valid token, not revoked), without the database.
fn cached_user(state: &AppState, token: &str) -> Option<saghat_core::auth::CurrentUser> {
    let verified = state.jwt.verify_claims(token, state.now())?;
    if verified
        .family
        .as_deref()
        .is_some_and(|family| state.revoked.contains(family))
    {
        return None;
    }
    state.users.get(&verified.user_id)
}

/// How a web handler's refusal looks: a redirect to sign in, or an error page.
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        // The sentence stays for whoever reads the response without the error pages (see
        // `pages::errors`), which show the marked message in the page's language instead.
        let (mut response, key) = match self {
            WebError::SignIn { next } => return see_other(&login_url(&next)),
            WebError::Forbidden => (
                (StatusCode::FORBIDDEN, "Only the fund's admins may see this page").into_response(),
                "forbidden",
            ),
            WebError::Csrf => (
                (
                    StatusCode::FORBIDDEN,
                    "This form has expired or was not sent from this site: reload the page and try again",
                )
                    .into_response(),
                "error_csrf",
            ),
            WebError::Refused(status, key) => (status.into_response(), key),
            WebError::Api(err) => {
                let response = err.into_response();
                let key = message_for(response.status());
                (response, key)
            }
        };
        response.extensions_mut().insert(PageError(key));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_paths_get_pages() {
        for path in [
            "/api",
            "/api/auth/me",
            "/static/app.css",
            "/healthz",
            "/swagger/",
        ] {
            assert!(is_api(path), "{path}");
        }
        for path in ["/", "/dashboard", "/admin/members/7", "/nope", "/apiary"] {
            assert!(!is_api(path), "{path}");
        }
        assert_eq!(message_for(StatusCode::NOT_FOUND), "error_404");
        assert_eq!(message_for(StatusCode::METHOD_NOT_ALLOWED), "error_400");
        assert_eq!(message_for(StatusCode::GATEWAY_TIMEOUT), "error_503");
        assert_eq!(message_for(StatusCode::INTERNAL_SERVER_ERROR), "error_500");
    }
}
