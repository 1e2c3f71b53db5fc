//! A ticket page's comments and attachments: writing a comment (an internal note for
//! reviewers), uploading a file (a `multipart/form-data` form read here, with its CSRF token)
//! and downloading one, through `tickets::comments` and `tickets::attachments`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::tickets::{refusal_errors, Action, ActionForm};
use crate::error::ApiError;
use crate::state::AppState;
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

/// A file part of a `multipart/form-data` body, or a text field.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: String,
    pub data: &'a [u8],
}

/// The parts of a `multipart/form-data` body with `boundary` (RFC 7578), or `None` when it is
/// not one. Only what a browser sends is read: `Content-Disposition` and `Content-Type`.
pub fn multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let mut at = find(body, delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2)? == b"--" {
            return Some(parts);
        }
        // After the delimiter: CRLF, the part's headers, a blank line, the data.
        at += 2;
        let headers_end = find(body, b"\r\n\r\n", at)?;
        let headers = std::str::from_utf8(&body[at..headers_end]).ok()?;
        let data_start = headers_end + 4;
        let next = find(body, &[b"\r\n", delimiter].concat(), data_start)?;
        let mut part = Part {
            name: String::new(),
            file_name: None,
            content_type: "text/plain".into(),
            data: &body[data_start..next],
        };
        for line in headers.split("\r\n") {
            let (key, value) = line.split_once(':')?;
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    part.name = parameter(value, "name")?;
                    part.file_name = parameter(value, "filename");
                }
                "content-type" => part.content_type = value.trim().to_string(),
                _ => {}
            }
        }
        parts.push(part);
        at = next + 2 + delimiter.len();
    }
}

/// `name="value"` of a header value (browsers quote them and escape `"` as `%22`).
fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"').replace("%22", "\""))
    })
}

fn boundary(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let (kind, rest) = value.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parameter(rest, "boundary")
}

/// `POST /tickets/{id}/files`: the upload form (`file` and `csrf`).
pub async fn upload(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<String>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    let bad = || WebError::Api(ApiError::bad_request("Cannot parse the form"));
    let boundary = boundary(&headers).ok_or_else(bad)?;
    let parts = multipart(&body, &boundary).ok_or_else(bad)?;
    let csrf = parts
        .iter()
        .find(|p| p.name == "csrf")
        .and_then(|p| std::str::from_utf8(p.data).ok())
        .unwrap_or_default();
    if !csrf_valid(state.config.secret_key.expose(), &session.token, csrf) {
        return Err(WebError::Csrf);
    }
    let file = parts.iter().find(|p| p.name == "file");
    let (name, content_type, data) = match file {
        // No file chosen: browsers send the part with an empty name and no bytes.
        Some(f) => (
            f.file_name.clone().unwrap_or_default(),
            f.content_type.as_str(),
            f.data,
        ),
        None => (String::new(), "", &[][..]),
    };
    let user = &session.user;
    let outcome = if name.is_empty() && data.is_empty() {
        Err(saghat_core::tickets::error::TicketError::AttachmentEmpty)
    } else {
        attachments::add_attachment(&state, user, &id, &name, content_type, data, &meta).await
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
    // Always saved, never shown inline: a file is the borrower's, not the site's.
    let encoded = percent_encoding::utf8_percent_encode(
        &attachment.file_name,
        percent_encoding::NON_ALPHANUMERIC,
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"download\"; filename*=UTF-8''{encoded}"
    )) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browsers_multipart_form_is_read_part_by_part() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a %22b%22.pdf\"\r\n\
Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--X\r\nend\r\n--XyZ--\r\n";
        let parts = multipart(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "csrf");
        assert_eq!(parts[0].data, b"abc");
        assert_eq!(parts[0].file_name, None);
        assert_eq!(parts[1].file_name.as_deref(), Some("a \"b\".pdf"));
        assert_eq!(parts[1].content_type, "application/pdf");
        // A line that looks like another boundary inside the data stays data.
        assert_eq!(parts[1].data, b"%PDF-1.4\r\n--X\r\nend");
        assert_eq!(multipart(b"no parts here", "XyZ"), None);
        assert_eq!(multipart(b"--XyZ\r\nbroken", "XyZ"), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=----WebKit42"),
        );
        assert_eq!(boundary(&headers).as_deref(), Some("----WebKit42"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(boundary(&headers), None);
    }
}
