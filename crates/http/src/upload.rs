//! File uploads (`multipart/form-data`, RFC 7578) read through axum's `Multipart`, with the
//! file's size bounded by `ATTACHMENT_MAX_BYTES` while it streams in: the upload routes lift
//! the global `MAX_BODY_BYTES` and this reader enforces the attachments' own limit instead.

use std::collections::HashMap;

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::Multipart;

use crate::error::ApiError;

/// Text fields (a CSRF token) are small; anything larger is not a form a page sent.
const TEXT_FIELD_MAX_BYTES: usize = 4 * 1024;

/// The room a multipart body takes beyond its file (boundaries, headers, a CSRF token): a
/// declared `Content-Length` above the file limit plus this is refused before it is read.
pub const MULTIPART_OVERHEAD_BYTES: u64 = 16 * 1024;

/// What an upload form sent: its `file` part (if one was chosen) and its text fields.
#[derive(Debug, Default)]
pub struct Upload {
    pub file: Option<UploadedFile>,
    pub fields: HashMap<String, String>,
}

#[derive(Debug)]
pub struct UploadedFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Reads every part; the part named `file` may hold at most `max_file_bytes`.
pub async fn read_upload(mut form: Multipart, max_file_bytes: u64) -> Result<Upload, ApiError> {
    let mut upload = Upload::default();
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let content_type = field.content_type().unwrap_or_default().to_string();
            let bytes = bounded(field, max_file_bytes).await?;
            // A form sent without a file chosen has an empty, nameless part.
            if !(file_name.is_empty() && bytes.is_empty()) {
                upload.file = Some(UploadedFile {
                    file_name,
                    content_type,
                    bytes,
                });
            }
        } else {
            let bytes = bounded(field, TEXT_FIELD_MAX_BYTES as u64).await?;
            let text = String::from_utf8(bytes)
                .map_err(|_| ApiError::bad_request("Form fields must be UTF-8 text"))?;
            upload.fields.insert(name, text);
        }
    }
    Ok(upload)
}

async fn bounded(mut field: Field<'_>, max: u64) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(ApiError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn malformed(err: MultipartError) -> ApiError {
    if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::bad_request(format!(
            "Cannot read the multipart form: {}",
            err.body_text()
        ))
    }
}

/// `Content-Disposition` for a stored file: always saved, never shown inline (a file is its
/// uploader's, not the site's), its name percent-encoded (RFC 6266).
pub fn content_disposition(file_name: &str) -> axum::http::HeaderValue {
    let encoded =
        percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    axum::http::HeaderValue::from_str(&format!(
        "attachment; filename=\"download\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(axum::http::HeaderValue::from_static("attachment"))
}

/// Whether `path` is one of the upload routes, whose bodies may be as large as an attachment.
pub fn is_upload_path(method: &axum::http::Method, path: &str) -> bool {
    if method != axum::http::Method::POST {
        return false;
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "api", "tickets", _, "attachments"] | ["", "tickets", _, "files"]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn only_the_upload_routes_take_large_bodies() {
        assert!(is_upload_path(
            &Method::POST,
            "/api/tickets/abc/attachments"
        ));
        assert!(is_upload_path(&Method::POST, "/tickets/abc/files"));
        assert!(!is_upload_path(
            &Method::GET,
            "/api/tickets/abc/attachments"
        ));
        assert!(!is_upload_path(&Method::POST, "/api/tickets/abc/comments"));
        assert!(!is_upload_path(
            &Method::POST,
            "/api/tickets/a/b/attachments"
        ));
        assert!(!is_upload_path(&Method::POST, "/api/payments/pay"));
    }
}
