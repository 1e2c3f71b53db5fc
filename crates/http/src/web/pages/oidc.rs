//! Signing in with an OpenID provider on the web, and the account's linked sign-ins.
//!
//! `GET /auth/oidc/{provider}/start` sends the browser to the provider with a fresh `state`,
//! `nonce` and PKCE challenge, and gives it the `saghat_oidc` cookie, which binds the sign-in to
//! this browser; the provider sends it back to `…/callback`, which signs in like the password
//! form does. A signed-in user links an identity from `/account/sign-in`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::account::signed_in;
use super::{render, Page, PlainForm, View};
use crate::intents::api::public_base;
use crate::state::AppState;
use crate::web::layers::allow_form_target;
use crate::web::session::{
    add_cookie, cookie, safe_next, see_other, set_cookie, CsrfForm, Prefs, Session, WebError,
    WebResult,
};
use saghat_core::auth::oidc::{service, Finished, Identity, OidcError, ProviderInfo, Purpose};
use saghat_core::platform::audit::RequestMeta;

/// The cookie that binds a sign-in under way to the browser that began it.
pub const OIDC_COOKIE: &str = "saghat_oidc";
const OIDC_COOKIE_PATH: &str = "/auth/oidc";
const ACCOUNT_PAGE: &str = "/account/sign-in";

/// The text key of what the reader is told when a sign-in is refused, with its status.
fn refused(err: OidcError) -> WebError {
    let (status, key) = match &err {
        OidcError::UnknownProvider => (StatusCode::NOT_FOUND, "error_404"),
        OidcError::InvalidState => (StatusCode::BAD_REQUEST, "oidc_err_state"),
        OidcError::Expired => (StatusCode::BAD_REQUEST, "oidc_err_expired"),
        OidcError::Denied(_) => (StatusCode::BAD_REQUEST, "oidc_err_denied"),
        OidcError::CodeRefused(_) => (StatusCode::BAD_REQUEST, "oidc_err_code"),
        OidcError::InvalidIdToken(_) => (StatusCode::BAD_REQUEST, "oidc_err_token"),
        OidcError::NotLinked { .. } => (StatusCode::FORBIDDEN, "oidc_err_not_linked"),
        OidcError::LinkConflict(_) => (StatusCode::CONFLICT, "oidc_err_conflict"),
        OidcError::Unreachable(_) => (StatusCode::BAD_GATEWAY, "oidc_err_unreachable"),
        OidcError::RedirectNotAllowed => (StatusCode::BAD_REQUEST, "error_400"),
        OidcError::Auth(_) | OidcError::Store(_) => return WebError::Api(err.into()),
    };
    tracing::info!(reason = %err, "an OpenID sign-in was refused");
    WebError::Refused(status, key)
}

fn redirect_uri(state: &AppState, headers: &HeaderMap, provider: &str) -> WebResult<String> {
    let base = public_base(state, headers, "Signing in with a provider")?;
    Ok(format!(
        "{}{OIDC_COOKIE_PATH}/{provider}/callback",
        base.trim_end_matches('/')
    ))
}

/// To the provider, with this browser's binding cookie (Lax: it comes back with the
/// provider's top-level redirect, and with nothing another site posts).
fn to_provider(prefs: Prefs, started: saghat_core::auth::oidc::Started) -> Response {
    let mut response = see_other(&started.authorization_url);
    add_cookie(
        response.headers_mut(),
        set_cookie(
            OIDC_COOKIE,
            &started.binding,
            OIDC_COOKIE_PATH,
            started.expires_in,
            prefs.https,
        ),
    );
    response
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    #[serde(default)]
    next: String,
}

/// `GET /auth/oidc/{provider}/start`: the sign-in page's "Sign in with …" button.
pub async fn start(
    State(state): State<AppState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
) -> WebResult<Response> {
    let redirect = redirect_uri(&state, &headers, &provider)?;
    let purpose = Purpose::Web {
        next: safe_next(&query.next).to_string(),
    };
    let started = service::start(&state, &provider, purpose, &redirect)
        .await
        .map_err(refused)?;
    Ok(to_provider(prefs, started))
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    /// The provider's refusal (`access_denied` when the user declined).
    error: Option<String>,
}

/// `GET /auth/oidc/{provider}/callback`: where the provider sends the browser back.
pub async fn callback(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> WebResult<Response> {
    if let Some(error) = query.error {
        return Err(refused(OidcError::Denied(error)));
    }
    let binding = cookie(&headers, OIDC_COOKIE).unwrap_or_default();
    let finished = service::finish(&state, &meta, &provider, &query.code, &query.state, binding)
        .await
        .map_err(refused)?;
    let mut response = match finished {
        Finished::SignedIn { tokens, next } => signed_in(&state, prefs, &next, &tokens),
        Finished::Linked { next, .. } => see_other(&format!("{}?done=linked", safe_next(&next))),
    };
    add_cookie(
        response.headers_mut(),
        set_cookie(OIDC_COOKIE, "", OIDC_COOKIE_PATH, 0, prefs.https),
    );
    Ok(response)
}

/// One provider on the account page: linked or not.
pub struct ProviderRow {
    pub provider: ProviderInfo,
    pub identity: Option<Identity>,
}

#[derive(Template)]
#[template(path = "account_sign_in.html")]
pub struct AccountSignInPage {
    pub v: View,
    pub rows: Vec<ProviderRow>,
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// `GET /account/sign-in`: the providers, each linked to this account or not.
pub async fn account(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(query): Query<DoneQuery>,
) -> WebResult<Response> {
    let linked = service::identities(&state, session.user.id)
        .await
        .map_err(refused)?;
    let rows = service::providers(&state)
        .into_iter()
        .map(|provider| ProviderRow {
            identity: linked.iter().find(|i| i.provider == provider.name).cloned(),
            provider,
        })
        .collect();
    let notice = match query.done.as_str() {
        "linked" => Some("oidc_done_linked"),
        "unlinked" => Some("oidc_done_unlinked"),
        _ => None,
    };
    let page = Page {
        path: ACCOUNT_PAGE,
        active: "sign_in_methods",
        title: "oidc_title",
        notice,
    };
    let v = View::new(&state, prefs, Some(&session), page);
    let mut response = render(&AccountSignInPage { v, rows })?;
    // The link forms' answers redirect to the providers (browsers hold form-action to that).
    let origins: Vec<String> = state
        .config
        .oidc
        .iter()
        .filter_map(|p| url::Url::parse(&p.issuer).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    if !origins.is_empty() {
        allow_form_target(response.headers_mut(), &origins.join(" "));
    }
    Ok(response)
}

/// `POST /account/sign-in/{provider}/link`: to the provider, to link its identity here.
pub async fn link(
    State(state): State<AppState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(provider): Path<String>,
    CsrfForm(session, _): CsrfForm<PlainForm>,
) -> WebResult<Response> {
    let redirect = redirect_uri(&state, &headers, &provider)?;
    let purpose = Purpose::Link {
        user_id: session.user.id,
        next: ACCOUNT_PAGE.into(),
    };
    let started = service::start(&state, &provider, purpose, &redirect)
        .await
        .map_err(refused)?;
    Ok(to_provider(prefs, started))
}

/// `POST /account/sign-in/{provider}/unlink`.
pub async fn unlink(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(provider): Path<String>,
    CsrfForm(session, _): CsrfForm<PlainForm>,
) -> WebResult<Response> {
    service::unlink(&state, &meta, &session.user, &provider)
        .await
        .map_err(refused)?;
    Ok(see_other(&format!("{ACCOUNT_PAGE}?done=unlinked")))
}
