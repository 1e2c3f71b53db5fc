//! A ticket page's comments and attachments: writing a comment (an internal note for
//! reviewers), uploading a file (a `multipart/form-data` form, with its CSRF token)
//! and downloading one, through `tickets::comments` and `tickets::attachments`.

use axum::extract::{Multipart, Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::tickets::{refusal_errors, Action, ActionForm};
use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::read_upload;
use crate::web::session::WebResult;
use crate::web::session::{csrf_valid, see_other, CsrfForm, Prefs, Session, WebError, WebForm};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::tickets::{attachments, comments};

/// The comment form.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CommentForm {
    pub body: String,
    /// Present when "internal note" is ticked.
    pub internal: Option<String>,
    pub csrf: String,
}

impl WebForm for CommentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /tickets/{id}/comment`.
pub async fn comment(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<CommentForm>,
) -> WebResult<Response> {
    let user = &session.user;
    let internal = form.internal.is_some();
    match comments::add_comment(&state, user, &id, &form.body, internal, &meta).await {
        Ok(_) => Ok(see_other(&format!(
            "/tickets/{id}?done=comment#ticket-timeline"
        ))),
        Err(err) => {
            let errors = refusal_errors(err, prefs.lang, user, &[("body", "body")])?;
            let typed = ActionForm {
                reason: form.body,
                ..ActionForm::default()
            };
            super::tickets::show_again(
                &state,
                prefs,
                &session,
                &id,
                Action::Comment,
                &typed,
                errors,
            )
            .await
        }
    }
}

/// `POST /tickets/{id}/files`: the upload form (`file` and `csrf`).
pub async fn upload(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<String>,
    session: Session,
    form: Multipart,
) -> WebResult<Response> {
    let upload = read_upload(form, state.config.tickets.attachment_max_bytes).await?;
    let csrf = upload
        .fields
        .get("csrf")
        .map(String::as_str)
        .unwrap_or_default();
    if !csrf_valid(state.config.secret_key.expose(), &session.token, csrf) {
        return Err(WebError::Csrf);
    }
    let user = &session.user;
    let outcome = match &upload.file {
        Some(f) => {
            attachments::add_attachment(
                &state,
                user,
                &id,
                &f.file_name,
                &f.content_type,
                &f.bytes,
                &meta,
            )
            .await
        }
        // No file chosen.
        None => Err(saghat_core::tickets::error::TicketError::AttachmentEmpty),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/tickets/{id}?done=file#ticket-files"))),
        Err(err) => {
            let errors = refusal_errors(
                err,
                prefs.lang,
                user,
                &[("file", "file"), ("file_name", "file")],
            )?;
            let typed = ActionForm::default();
            super::tickets::show_again(&state, prefs, &session, &id, Action::Upload, &typed, errors)
                .await
        }
    }
}

/// `GET /tickets/{id}/files/{file}`: the file, as stored (its SHA-256 checked), to save.
pub async fn download(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path((id, file)): Path<(String, String)>,
) -> WebResult<Response> {
    let user = &session.user;
    let (attachment, bytes) = match attachments::open_attachment(&state, user, &file).await {
        Ok(found) if found.0.ticket_id == id => found,
        Ok(_) => return Err(ApiError::not_found("attachment not found").into()),
        Err(err) => {
            // Only refusals that are not about input reach here: all are error pages.
            refusal_errors(err, prefs.lang, user, &[])?;
            return Err(ApiError::not_found("attachment not found").into());
        }
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&attachment.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(
        CONTENT_DISPOSITION,
        crate::upload::content_disposition(&attachment.file_name),
    );
    Ok(response)
}
