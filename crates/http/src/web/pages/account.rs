//! Signing in and out. Sign-in goes through `auth::service::sign_in`, so the web shares the
//! API's accounts, tokens and login rate limits.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::{render, Page, PlainForm, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::{FormErrors, FormReader};
use crate::web::i18n::Lang;
use crate::web::session::{
    add_cookie, cookie, csrf_token, csrf_valid, safe_next, see_other, set_cookie, CsrfForm, Prefs,
    Session, WebError, WebResult, LOGIN_COOKIE, REFRESH_COOKIE, REFRESH_PATH, SESSION_COOKIE,
};
use saghat_core::auth::oidc::{self, ProviderInfo};
use saghat_core::auth::service::{self, TokenResponse};
use saghat_core::auth::tokens::random_token;
use saghat_core::platform::audit::RequestMeta;

/// `/`: the dashboard when signed in, else the sign-in page.
pub async fn home(session: Result<Session, WebError>) -> Response {
    match session {
        Ok(_) => see_other("/dashboard"),
        Err(_) => see_other("/login"),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub v: View,
    pub username: String,
    pub next: String,
    pub errors: FormErrors,
    /// The OpenID providers one may sign in with instead.
    pub providers: Vec<ProviderInfo>,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// The seed of the sign-in form's CSRF token: the `saghat_login` cookie, or a new one.
fn login_seed(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, LOGIN_COOKIE) {
        Some(seed) if seed.len() == 64 => (seed.to_string(), false),
        _ => (random_token(), true),
    }
}

fn login_form(
    state: &AppState,
    prefs: Prefs,
    seed: (String, bool),
    username: String,
    next: String,
    errors: FormErrors,
) -> WebResult<Response> {
    let mut v = View::new(
        state,
        prefs,
        None,
        Page {
            path: "/login",
            active: "sign_in",
            title: "sign_in_title",
            notice: None,
        },
    );
    v.csrf = csrf_token(state.config.secret_key.expose(), &seed.0);
    let mut response = render(&LoginPage {
        v,
        username,
        next,
        errors,
        providers: oidc::service::providers(state),
    })?;
    if seed.1 {
        add_cookie(
            response.headers_mut(),
            set_cookie(LOGIN_COOKIE, &seed.0, "/login", 12 * 3600, prefs.https),
        );
    }
    Ok(response)
}

pub async fn login_page(
    State(state): State<AppState>,
    prefs: Prefs,
    headers: HeaderMap,
    session: Result<Session, WebError>,
    Query(query): Query<NextQuery>,
) -> WebResult<Response> {
    if session.is_ok() {
        return Ok(see_other(safe_next(&query.next)));
    }
    let seed = login_seed(&headers);
    login_form(
        &state,
        prefs,
        seed,
        String::new(),
        query.next,
        FormErrors::default(),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

impl LoginForm {
    /// The seed of the sign-in page this form was posted from: its `saghat_login` cookie, which
    /// the form's CSRF token must match.
    fn seed(&self, state: &AppState, headers: &HeaderMap) -> WebResult<(String, bool)> {
        let seed = cookie(headers, LOGIN_COOKIE).ok_or(WebError::Csrf)?;
        if !csrf_valid(state.config.secret_key.expose(), seed, &self.csrf) {
            return Err(WebError::Csrf);
        }
        Ok((seed.to_string(), false))
    }

    /// What is missing, next to its field: nothing is asked of the server without both.
    fn missing(&self, lang: Lang) -> FormErrors {
        let mut read = FormReader::new(lang);
        if self.username.trim().is_empty() {
            read.missing("username");
        }
        if self.password.is_empty() {
            read.missing("password");
        }
        read.errors
    }
}

/// Signs in through `auth::service::sign_in`, the function behind `POST /api/auth/login` (its
/// rate limits and lock-out included).
pub async fn login(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> WebResult<Response> {
    let seed = form.seed(&state, &headers)?;
    let mut errors = form.missing(prefs.lang);
    if errors.is_empty() {
        match service::sign_in(&state, &meta, form.username.trim(), form.password).await {
            Ok(tokens) => return Ok(signed_in(&state, prefs, &form.next, &tokens)),
            Err(err) => errors = FormErrors::from_api(err, prefs.lang, &["username", "password"])?,
        }
    }
    login_form(&state, prefs, seed, form.username, form.next, errors)
}

/// Back to where the user was going, with the session and refresh cookies, and without the
/// sign-in page's seed.
pub fn signed_in(state: &AppState, prefs: Prefs, next: &str, tokens: &TokenResponse) -> Response {
    let mut response = see_other(safe_next(next));
    let headers = response.headers_mut();
    let config = &state.config;
    add_cookie(
        headers,
        set_cookie(
            SESSION_COOKIE,
            &tokens.access_token,
            "/",
            tokens.expires_in,
            prefs.https,
        ),
    );
    add_cookie(
        headers,
        set_cookie(
            REFRESH_COOKIE,
            &tokens.refresh_token,
            REFRESH_PATH,
            config.refresh_token_expire_days * 24 * 3600,
            prefs.https,
        ),
    );
    add_cookie(
        headers,
        set_cookie(LOGIN_COOKIE, "", "/login", 0, prefs.https),
    );
    response
}

/// Revokes the sign-in's refresh token (and every token rotated from it) and forgets the
/// cookies. The access token itself is stateless and simply no longer sent.
pub async fn logout(
    State(state): State<AppState>,
    prefs: Prefs,
    headers: HeaderMap,
    CsrfForm(_, _): CsrfForm<PlainForm>,
) -> WebResult<Response> {
    if let Some(refresh) = cookie(&headers, REFRESH_COOKIE) {
        service::sign_out(&state, refresh)
            .await
            .map_err(ApiError::from)?;
    }
    let mut response = see_other("/login");
    let h = response.headers_mut();
    add_cookie(h, set_cookie(SESSION_COOKIE, "", "/", 0, prefs.https));
    add_cookie(
        h,
        set_cookie(REFRESH_COOKIE, "", REFRESH_PATH, 0, prefs.https),
    );
    Ok(response)
}
