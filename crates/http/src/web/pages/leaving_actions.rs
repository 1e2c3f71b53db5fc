//! Members leaving the fund and rejoining it, on the web (`fund::membership`): on an admin's
//! member page, asking a member to leave (after a page saying what they would get back),
//! withdrawing the request, and letting a member who left rejoin; on the member's own page,
//! confirming or declining the request.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::admin::{member_page, MemberEntered};
use super::dashboard::{self, Entered};
use super::{render, Page, PlainForm, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::Lang;
use crate::web::queries::{self, MemberRow};
use crate::web::session::{
    see_other, AdminForm, AdminSession, CsrfForm, Prefs, Session, WebResult,
};
use saghat_core::fund::membership::service;
use saghat_core::fund::membership::MembershipError;
use saghat_core::fund::membership::Settlement;
use saghat_core::platform::audit::RequestMeta;

use super::leaving::*;

// --- the admin's side -------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "leave_ask.html")]
pub struct AskPage {
    pub v: View,
    pub member: MemberRow,
    /// What they would get back, when they can leave.
    pub settle: Option<Settlement>,
    pub errors: FormErrors,
}

/// The member of `/admin/members/{id}/…`; 404 when there is none.
async fn one_member(state: &AppState, user_id: i64) -> WebResult<MemberRow> {
    let mut conn = state.db.pool.acquire().await?;
    let member = queries::members(&mut conn, state.current_month(), Some(user_id))
        .await?
        .pop();
    member.ok_or_else(|| ApiError::not_found("User not found").into())
}

async fn ask_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    user_id: i64,
    mut errors: FormErrors,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let member = one_member(state, user_id).await?;
    let settle = match AdminLeaving::of(state, &member, lang).await? {
        Some(AdminLeaving::Ask(Ok(s))) => Some(s),
        // Nothing to ask: say why, in place of the button (unless a refusal already says it).
        other => {
            if errors.is_empty() {
                let why = match other {
                    Some(AdminLeaving::Ask(Err(why))) => why,
                    Some(AdminLeaving::Asked { .. }) => {
                        refusal(MembershipError::AlreadyAsked, lang, true)?
                    }
                    Some(AdminLeaving::Left(_)) => {
                        refusal(MembershipError::AlreadyLeft, lang, true)?
                    }
                    _ => refusal(MembershipError::NotAMember, lang, true)?,
                };
                errors.add(None, why);
            }
            None
        }
    };
    let mut v = View::new(
        state,
        prefs,
        Some(session),
        Page {
            path: "/admin/members",
            active: "members",
            title: "lv_ask_title",
            notice: None,
        },
    );
    let other = match lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = format!("/admin/members/{user_id}/leave?lang={}", other.code());
    render(&AskPage {
        v,
        member,
        settle,
        errors,
    })
}

/// The confirmation step: what the member would get back, and the button that asks them.
pub async fn ask_form(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Path(user_id): Path<i64>,
) -> WebResult<Response> {
    ask_page(&state, prefs, &session, user_id, FormErrors::default()).await
}

/// Asks the member to leave (`fund::membership::service::ask_to_leave`, as
/// `POST /api/fund/members/{id}/leave`); a refusal is shown on the confirmation page.
pub async fn ask(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    AdminForm(session, _form): AdminForm<PlainForm>,
) -> WebResult<Response> {
    match service::ask_to_leave(state.ctx(), &session.user, user_id, &meta).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/members/{user_id}?done=leave_asked"
        ))),
        Err(err) => {
            let errors = refused(err, prefs.lang, true)?;
            ask_page(&state, prefs, &session, user_id, errors).await
        }
    }
}

/// The member's page again with a refusal above the leaving card's form.
async fn member_refused(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    user_id: i64,
    err: MembershipError,
) -> WebResult<Response> {
    let entered = MemberEntered::leaving(refused(err, prefs.lang, true)?);
    member_page(state, prefs, session, user_id, None, entered).await
}

/// Withdraws the request before the member answers it.
pub async fn withdraw(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    AdminForm(session, _form): AdminForm<PlainForm>,
) -> WebResult<Response> {
    match service::cancel_leaving(state.ctx(), &session.user, user_id, &meta).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/members/{user_id}?done=leave_withdrawn"
        ))),
        Err(err) => member_refused(&state, prefs, &session, user_id, err).await,
    }
}

/// Lets a member who left rejoin, from no contributions.
pub async fn rejoin(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    AdminForm(session, _form): AdminForm<PlainForm>,
) -> WebResult<Response> {
    match service::rejoin(state.ctx(), &session.user, user_id, &meta).await {
        Ok(()) => Ok(see_other(&format!(
            "/admin/members/{user_id}?done=rejoined"
        ))),
        Err(err) => member_refused(&state, prefs, &session, user_id, err).await,
    }
}

// --- the member's side ------------------------------------------------------------------------

/// The dashboard again with a refusal in the request's box.
async fn dashboard_refused(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    err: MembershipError,
) -> WebResult<Response> {
    let entered = Entered::leaving(refused(err, prefs.lang, false)?);
    dashboard::page(state, prefs, session, None, entered).await
}

/// The member confirms leaving: their contributions settle their loan's rest and the rest is
/// paid back (`confirm_leaving`, as `POST /api/fund/my-departures/confirm`).
pub async fn confirm(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, _form): CsrfForm<PlainForm>,
) -> WebResult<Response> {
    match service::confirm_leaving(state.ctx(), &session.user, &meta).await {
        Ok(_) => Ok(see_other("/dashboard?done=left")),
        Err(err) => dashboard_refused(&state, prefs, &session, err).await,
    }
}

/// The member declines: nothing changes.
pub async fn decline(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, _form): CsrfForm<PlainForm>,
) -> WebResult<Response> {
    let user = &session.user;
    match service::cancel_leaving(state.ctx(), user, user.id, &meta).await {
        Ok(_) => Ok(see_other("/dashboard?done=leave_declined")),
        Err(err) => dashboard_refused(&state, prefs, &session, err).await,
    }
}
