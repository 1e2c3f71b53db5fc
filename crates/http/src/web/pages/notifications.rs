//! The signed-in user's notification preferences: language, channels, e-mail, mobile and the
//! reminders opt-out, saved as `PUT /api/notifications/preferences` saves them.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{render, Done, Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebForm, WebResult};
use saghat_core::notify::preferences::{self, Preferences, PreferencesInput};
use saghat_core::platform::audit::RequestMeta;

const FIELDS: &[&str] = &["language", "email", "mobile", "channels"];

/// The form as posted: a checkbox is present only when ticked.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct NotificationsForm {
    pub language: String,
    pub email: String,
    pub mobile: String,
    pub email_on: Option<String>,
    pub sms_on: Option<String>,
    pub whatsapp_on: Option<String>,
    pub reminders: Option<String>,
    pub csrf: String,
}

impl WebForm for NotificationsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl NotificationsForm {
    fn showing(prefs: &Preferences, lang: Lang) -> NotificationsForm {
        let view = prefs.view();
        let ticked = |code: &str| view.channels.iter().any(|c| c == code).then(String::new);
        NotificationsForm {
            language: view.language,
            email: view.email,
            // In the page's digits; MobileNumber reads Persian ones back.
            mobile: lang.digits(&view.mobile),
            email_on: ticked("email"),
            sms_on: ticked("sms"),
            whatsapp_on: ticked("whatsapp"),
            reminders: prefs.reminders.then(String::new),
            csrf: String::new(),
        }
    }

    fn input(&self) -> PreferencesInput {
        let channels = [
            ("email", &self.email_on),
            ("sms", &self.sms_on),
            ("whatsapp", &self.whatsapp_on),
        ]
        .into_iter()
        .filter_map(|(code, on)| on.as_ref().map(|_| code.to_string()))
        .collect();
        PreferencesInput {
            language: self.language.clone(),
            email: self.email.clone(),
            mobile: self.mobile.clone(),
            channels,
            reminders: self.reminders.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    v: View,
    form: NotificationsForm,
    errors: FormErrors,
}

fn page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    notice: Option<&'static str>,
    form: NotificationsForm,
    errors: FormErrors,
) -> WebResult<Response> {
    let page = Page {
        path: "/notifications",
        active: "notifications",
        title: "notifications",
        notice,
    };
    let v = View::new(state, prefs, Some(session), page);
    render(&NotificationsPage { v, form, errors })
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    let mut conn = state.db.pool.acquire().await?;
    let current = preferences::load(&mut conn, session.user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    drop(conn);
    let form = NotificationsForm::showing(&current, prefs.lang);
    page(
        &state,
        prefs,
        &session,
        done.notice(),
        form,
        FormErrors::default(),
    )
}

pub async fn save(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, form): CsrfForm<NotificationsForm>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let errors = match preferences::change(&state, &session.user, &meta, &form.input()).await {
        Ok(_) => return Ok(see_other("/notifications?done=notifications")),
        Err(preferences::PreferencesError::Invalid(problems)) if lang == Lang::Fa => {
            // The API's sentences are English: the page says each in Persian, by field.
            let mut errors = FormErrors::default();
            for p in &problems {
                let field = p.loc.get(1).map(String::as_str).unwrap_or("");
                let key = format!("notify_bad_{field}");
                errors.add(FIELDS.contains(&field).then_some(field), lang.t(&key));
            }
            errors
        }
        Err(err) => FormErrors::from_api(err, lang, FIELDS)?,
    };
    page(&state, prefs, &session, None, form, errors)
}
