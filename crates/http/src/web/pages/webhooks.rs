//! `/admin/webhooks`: the webhook endpoints for admins — the list, a form to add one (its
//! secret shown once), an endpoint's deliveries with their state, and Replay, through the
//! services behind `/api/webhooks` (`saghat_core::webhooks::service`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{render, Page, View};
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::UiText;
use crate::web::session::{see_other, AdminForm, AdminSession, Prefs, Session, WebForm, WebResult};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::webhooks::domain::{Event, UrlRefusal};
use saghat_core::webhooks::error::WebhookError;
use saghat_core::webhooks::service::{self, NewEndpoint};
use saghat_core::webhooks::store::{DeliveryView, EndpointView};

/// Deliveries a page lists.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WebhooksQuery {
    /// The endpoint whose deliveries are shown.
    pub endpoint: Option<i64>,
    pub done: String,
}

/// The add form as posted: each event is a checkbox named `event:<name>`, present when ticked.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct EndpointForm {
    pub url: String,
    pub description: String,
    pub secret: String,
    pub csrf: String,
    #[serde(flatten)]
    pub ticked: HashMap<String, String>,
}

impl WebForm for EndpointForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl EndpointForm {
    fn events(&self) -> Vec<String> {
        Event::ALL
            .iter()
            .map(|e| e.as_str())
            .filter(|name| self.ticked.contains_key(&format!("event:{name}")))
            .map(String::from)
            .collect()
    }

    pub fn is_ticked(&self, event: &str) -> bool {
        self.ticked.contains_key(&format!("event:{event}"))
    }
}

#[derive(Template)]
#[template(path = "webhooks.html")]
pub struct WebhooksPage {
    pub v: View,
    pub endpoints: Vec<EndpointView>,
    /// The endpoint whose deliveries are listed, with them.
    pub selected: Option<EndpointView>,
    pub deliveries: Vec<DeliveryView>,
    pub total: i64,
    pub form: EndpointForm,
    pub errors: FormErrors,
    /// The secret of the endpoint just added: shown this once.
    pub new_secret: Option<String>,
}

impl WebhooksPage {
    pub fn events(&self) -> Vec<&'static str> {
        Event::ALL.iter().map(|e| e.as_str()).collect()
    }

    pub fn status_name(&self, status: &str) -> &'static str {
        self.v.t(&format!("wh_status_{status}"))
    }

    /// A stored UTC time as the fund's date and clock time (Jalali and Persian digits in fa).
    pub fn when(&self, at: &str) -> String {
        let time = DateTime::parse_from_rfc3339(at).map(|t| {
            t.with_timezone(&Utc)
                .with_timezone(&self.v.tz)
                .format("%H:%M")
                .to_string()
        });
        match time {
            Ok(time) => format!("{} {}", self.v.date(at), self.v.digits(&time)),
            Err(_) => String::new(),
        }
    }

    pub fn attempts(&self, d: &DeliveryView) -> String {
        self.v.int(&d.attempts)
    }

    /// The receiver's last HTTP status in the page's digits, or a dash when it never answered.
    pub fn code(&self, d: &DeliveryView) -> String {
        d.last_status_code
            .map(|c| self.v.digits(&c.to_string()))
            .unwrap_or_else(|| "—".into())
    }
}

/// The text key of a refusal, so the page says it in its own language.
fn error_key(err: &WebhookError) -> &'static str {
    match err {
        WebhookError::Url(UrlRefusal::Invalid) => "wh_err_url_invalid",
        WebhookError::Url(UrlRefusal::NotHttps) => "wh_err_not_https",
        WebhookError::Url(UrlRefusal::NotHttp) => "wh_err_not_http",
        WebhookError::Url(UrlRefusal::HasCredentials) => "wh_err_credentials",
        WebhookError::Url(UrlRefusal::Unresolvable) => "wh_err_unresolvable",
        WebhookError::Url(UrlRefusal::InternalAddress(_)) => "wh_err_internal",
        WebhookError::Invalid {
            field: "events", ..
        } => "wh_err_events",
        WebhookError::Invalid {
            field: "secret", ..
        } => "wh_err_secret",
        WebhookError::Invalid { .. } => "wh_err_description",
        WebhookError::NotFound => "wh_not_found",
        WebhookError::DeliveryNotFound | WebhookError::Store(_) => "wh_delivery_not_found",
    }
}

#[allow(clippy::too_many_arguments)]
async fn webhooks_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    endpoint: Option<i64>,
    notice: Option<&'static str>,
    form: EndpointForm,
    errors: FormErrors,
    new_secret: Option<String>,
) -> WebResult<Response> {
    let endpoints = service::list(state).await.map_err(store_error)?;
    let selected = endpoint.and_then(|id| endpoints.iter().find(|e| e.id == id).cloned());
    let (deliveries, total) = match &selected {
        Some(e) => service::deliveries(state, e.id, PAGE_SIZE, 0)
            .await
            .map_err(store_error)?,
        None => (vec![], 0),
    };
    let page = Page {
        path: "/admin/webhooks",
        active: "webhooks",
        title: "wh_title",
        notice,
    };
    render(&WebhooksPage {
        v: View::new(state, prefs, Some(session), page),
        endpoints,
        selected,
        deliveries,
        total,
        form,
        errors,
        new_secret,
    })
}

/// Reading the list fails only when the database does: an error page.
fn store_error(err: WebhookError) -> crate::web::session::WebError {
    match err {
        WebhookError::Store(e) => e.into(),
        other => crate::error::ApiError::Internal(anyhow::Error::new(other)).into(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Query(query): Query<WebhooksQuery>,
) -> WebResult<Response> {
    let notice = match query.done.as_str() {
        "replayed" => Some("wh_done_replayed"),
        "disabled" => Some("wh_done_disabled"),
        "enabled" => Some("wh_done_enabled"),
        "deleted" => Some("wh_done_deleted"),
        _ => None,
    };
    let form = EndpointForm::default();
    let errors = FormErrors::default();
    webhooks_page(
        &state,
        prefs,
        &session,
        query.endpoint,
        notice,
        form,
        errors,
        None,
    )
    .await
}

/// Adds an endpoint (`service::create`, as `POST /api/webhooks`); the page shows its secret
/// once, or the form again with the error beside its field.
pub async fn create(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    AdminForm(session, form): AdminForm<EndpointForm>,
) -> WebResult<Response> {
    let secret = Some(form.secret.trim().to_string()).filter(|s| !s.is_empty());
    let new = NewEndpoint {
        url: form.url.clone(),
        events: form.events(),
        secret,
        description: form.description.clone(),
    };
    match service::create(&state, &session.user, &meta, new).await {
        Ok((endpoint, secret)) => {
            let notice = Some("wh_done_created");
            let (blank, errors) = (EndpointForm::default(), FormErrors::default());
            let shown = Some(secret);
            webhooks_page(
                &state,
                prefs,
                &session,
                Some(endpoint.id),
                notice,
                blank,
                errors,
                shown,
            )
            .await
        }
        Err(WebhookError::Store(e)) => Err(e.into()),
        Err(err) => {
            let mut errors = FormErrors::default();
            errors.add(err.field(), prefs.lang.t(error_key(&err)));
            webhooks_page(&state, prefs, &session, None, None, form, errors, None).await
        }
    }
}

/// Sends a delivery again (`service::replay`, as `POST /api/webhooks/deliveries/{id}/replay`).
pub async fn replay(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<i64>,
    AdminForm(session, _form): AdminForm<super::PlainForm>,
) -> WebResult<Response> {
    match service::replay(&state, &session.user, &meta, id).await {
        Ok(delivery) => Ok(see_other(&format!(
            "/admin/webhooks?endpoint={}&done=replayed",
            delivery.endpoint_id
        ))),
        Err(WebhookError::Store(e)) => Err(e.into()),
        Err(err) => {
            let mut errors = FormErrors::default();
            errors.add(None, prefs.lang.t(error_key(&err)));
            let form = EndpointForm::default();
            webhooks_page(&state, prefs, &session, None, None, form, errors, None).await
        }
    }
}

/// Pauses, resumes or deletes an endpoint (`service::update` / `service::delete`, as
/// `PATCH` / `DELETE /api/webhooks/{id}`): `POST /admin/webhooks/{id}/disable|enable|delete`.
pub async fn change(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path((id, change)): Path<(i64, String)>,
    AdminForm(session, _form): AdminForm<super::PlainForm>,
) -> WebResult<Response> {
    let user = &session.user;
    let active = |active| service::EndpointChanges {
        url: None,
        events: None,
        description: None,
        active: Some(active),
    };
    let (done, outcome) = match change.as_str() {
        "disable" => (
            "disabled",
            service::update(&state, user, &meta, id, active(false))
                .await
                .map(|_| ()),
        ),
        "enable" => (
            "enabled",
            service::update(&state, user, &meta, id, active(true))
                .await
                .map(|_| ()),
        ),
        "delete" => ("deleted", service::delete(&state, user, &meta, id).await),
        _ => return Err(crate::error::ApiError::not_found("no such change").into()),
    };
    match outcome {
        Ok(()) if done == "deleted" => Ok(see_other("/admin/webhooks?done=deleted")),
        Ok(()) => Ok(see_other(&format!(
            "/admin/webhooks?done={done}#endpoint-{id}"
        ))),
        Err(WebhookError::Store(e)) => Err(e.into()),
        Err(err) => {
            let mut errors = FormErrors::default();
            errors.add(None, prefs.lang.t(error_key(&err)));
            let form = EndpointForm::default();
            webhooks_page(&state, prefs, &session, None, None, form, errors, None).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;

    #[test]
    fn every_status_and_refusal_the_page_names_is_translated() {
        let keys = ["queued", "delivered", "failed"]
            .iter()
            .map(|s| format!("wh_status_{s}"))
            .chain(
                [
                    WebhookError::Url(UrlRefusal::Invalid),
                    WebhookError::Url(UrlRefusal::NotHttps),
                    WebhookError::Url(UrlRefusal::NotHttp),
                    WebhookError::Url(UrlRefusal::HasCredentials),
                    WebhookError::Url(UrlRefusal::Unresolvable),
                    WebhookError::Url(UrlRefusal::InternalAddress([127, 0, 0, 1].into())),
                    WebhookError::Invalid {
                        field: "events",
                        message: String::new(),
                    },
                    WebhookError::Invalid {
                        field: "secret",
                        message: String::new(),
                    },
                    WebhookError::Invalid {
                        field: "description",
                        message: String::new(),
                    },
                    WebhookError::NotFound,
                    WebhookError::DeliveryNotFound,
                ]
                .into_iter()
                .map(|e| error_key(&e).to_string()),
            );
        for key in keys {
            for lang in [Lang::En, Lang::Fa] {
                assert_ne!(lang.t(&key), "?", "{key} in {lang:?}");
            }
        }
    }

    #[test]
    fn the_ticked_boxes_are_the_events() {
        let mut form = EndpointForm::default();
        form.ticked.insert("event:invoice.paid".into(), "on".into());
        form.ticked.insert("event:nonsense".into(), "on".into());
        assert_eq!(form.events(), vec!["invoice.paid".to_string()]);
        assert!(form.is_ticked("invoice.paid"));
    }
}
