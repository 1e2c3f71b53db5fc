//! Files attached to a ticket: their metadata in `ticket_attachments`, their bytes in
//! `ATTACHMENTS_DIR` as `{sha[0..2]}/{sha}` (the same content twice is one file). The checks are
//! plain functions; the file is written (temporary file, then rename) before the row's
//! transaction commits, so a row always has its file (an orphan file is harmless), and the
//! SHA-256 is checked again on every read: a damaged file is refused, never served.

use crate::platform::response_cache::Area;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, FromRow};

use super::comments::access;
use super::error::TicketError;
use super::store::{self, Ticket};
use crate::auth::CurrentUser;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::clock::{to_db_time, DbTime};
use crate::Ctx;

/// The most attachments one ticket takes.
pub const MAX_ATTACHMENTS_PER_TICKET: usize = 20;
/// The longest file name kept, in characters.
pub const FILE_NAME_MAX_CHARS: usize = 200;

// --- rules ----------------------------------------------------------------------------------

/// The types whose files start with a known signature, and that signature.
const SIGNATURES: &[(&str, &[u8])] = &[
    ("application/pdf", b"%PDF-"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xFF\xD8\xFF"),
];

/// The type `bytes` announce by their signature, if any of [`SIGNATURES`].
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    SIGNATURES
        .iter()
        .find(|(_, magic)| bytes.starts_with(magic))
        .map(|(kind, _)| *kind)
}

/// The file name as kept: trimmed, 1 to [`FILE_NAME_MAX_CHARS`] characters, no path separator,
/// no control or bidirectional-formatting character (`invoice\u{202E}fdp.exe` shows as
/// `invoiceexe.pdf`), and not `.` or `..`.
pub fn clean_file_name(raw: &str) -> Result<String, TicketError> {
    let name = raw.trim();
    let invalid = TicketError::AttachmentNameInvalid {
        max: FILE_NAME_MAX_CHARS,
    };
    let bad_char = |c: char| {
        matches!(c, '/' | '\\')
            || c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if name.is_empty()
        || name.chars().count() > FILE_NAME_MAX_CHARS
        || name.chars().any(bad_char)
        || name == "."
        || name == ".."
    {
        return Err(invalid);
    }
    Ok(name.to_string())
}

/// The declared content type as kept (lower-case, without parameters such as `; charset=`), if
/// it is one of `allowed`.
pub fn allowed_type(declared: &str, allowed: &[String]) -> Result<String, TicketError> {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() || !allowed.iter().any(|a| a.eq_ignore_ascii_case(&essence)) {
        return Err(TicketError::AttachmentTypeNotAllowed(
            declared.trim().chars().take(100).collect(),
        ));
    }
    Ok(essence)
}

/// The bytes are what their type says: a type with a known signature must start with it, and a
/// file of any other (configured) type must not carry one of the known signatures.
pub fn content_matches(content_type: &str, bytes: &[u8]) -> Result<(), TicketError> {
    let expected = SIGNATURES.iter().find(|(kind, _)| *kind == content_type);
    let ok = match expected {
        Some((_, magic)) => bytes.starts_with(magic),
        None => sniff(bytes).is_none(),
    };
    if ok {
        Ok(())
    } else {
        Err(TicketError::AttachmentContentMismatch(content_type.into()))
    }
}

/// An upload that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUpload {
    pub file_name: String,
    pub content_type: String,
    pub sha256: String,
}

/// All the checks of an upload, before anything is written: name, size, type, signature.
pub fn check_upload(
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
    max_bytes: u64,
    allowed: &[String],
) -> Result<CheckedUpload, TicketError> {
    let file_name = clean_file_name(file_name)?;
    if bytes.is_empty() {
        return Err(TicketError::AttachmentEmpty);
    }
    if bytes.len() as u64 > max_bytes {
        return Err(TicketError::AttachmentTooLarge { max: max_bytes });
    }
    let content_type = allowed_type(content_type, allowed)?;
    content_matches(&content_type, bytes)?;
    Ok(CheckedUpload {
        file_name,
        content_type,
        sha256: sha256_hex(bytes),
    })
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the bytes of SHA-256 `sha` are kept under `dir`.
pub fn blob_path(dir: &Path, sha: &str) -> PathBuf {
    dir.join(&sha[..2]).join(sha)
}

// --- storage --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: String,
    pub ticket_id: String,
    pub uploader_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct AttachmentRow {
    id: String,
    ticket_id: String,
    uploader_id: i64,
    file_name: String,
    content_type: String,
    size_bytes: i64,
    sha256: String,
    created_at: DbTime,
}

impl From<AttachmentRow> for Attachment {
    fn from(r: AttachmentRow) -> Attachment {
        Attachment {
            id: r.id,
            ticket_id: r.ticket_id,
            uploader_id: r.uploader_id,
            file_name: r.file_name,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            created_at: r.created_at.0.unwrap_or_default(),
        }
    }
}

const ATTACHMENT_SELECT: &str = "SELECT id, ticket_id, uploader_id, file_name, content_type, \
     size_bytes, sha256, created_at FROM ticket_attachments";

/// Writes `bytes` as the file of `sha` under `dir`, unless an intact one is there already: a
/// temporary file in the same folder, flushed to disk, then renamed over (readers never see a
/// partial file, and a damaged copy is replaced).
fn store_blob(dir: &Path, sha: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = blob_path(dir, sha);
    if let Ok(existing) = std::fs::read(&path) {
        if sha256_hex(&existing) == sha {
            return Ok(());
        }
    }
    let folder = path.parent().expect("a blob path has a folder");
    std::fs::create_dir_all(folder)?;
    let temp = folder.join(format!(".{sha}.{}.tmp", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)?;
        // The rename itself, durable.
        std::fs::File::open(folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

async fn ticket(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    id: &str,
    lock: bool,
) -> Result<Ticket, TicketError> {
    match store::find(conn, ctx.db.backend, id, lock).await? {
        Some(ticket) => Ok(ticket?),
        None => Err(TicketError::NotFound),
    }
}

// --- services -------------------------------------------------------------------------------

/// The borrower or a reviewer attaches a file to the ticket.
#[allow(clippy::too_many_arguments)]
pub async fn add_attachment(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
    meta: &RequestMeta,
) -> Result<Attachment, TicketError> {
    let settings = &ctx.config.tickets;
    let checked = check_upload(
        file_name,
        content_type,
        bytes,
        settings.attachment_max_bytes,
        &settings.attachment_types,
    )?;
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin_write().await?;
    let ticket = ticket(&mut tx, ctx, ticket_id, true).await?;
    if !access(user, &ticket)?.may_write() {
        return Err(TicketError::NotYours);
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ticket_attachments WHERE ticket_id = $1")
            .bind(&ticket.id)
            .fetch_one(&mut **tx)
            .await?;
    if count >= MAX_ATTACHMENTS_PER_TICKET as i64 {
        return Err(TicketError::TooManyAttachments {
            max: MAX_ATTACHMENTS_PER_TICKET,
        });
    }
    // The file first: a row committed without its file would be a broken attachment.
    let dir = settings.attachments_dir.clone();
    let (sha, owned) = (checked.sha256.clone(), bytes.to_vec());
    tokio::task::spawn_blocking(move || store_blob(&dir, &sha, &owned))
        .await
        .map_err(std::io::Error::other)??;
    let attachment = Attachment {
        id: uuid::Uuid::new_v4().to_string(),
        ticket_id: ticket.id.clone(),
        uploader_id: user.id,
        file_name: checked.file_name,
        content_type: checked.content_type,
        size_bytes: bytes.len() as i64,
        sha256: checked.sha256,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO ticket_attachments (id, ticket_id, uploader_id, file_name, content_type, \
         size_bytes, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&attachment.id)
    .bind(&attachment.ticket_id)
    .bind(attachment.uploader_id)
    .bind(&attachment.file_name)
    .bind(&attachment.content_type)
    .bind(attachment.size_bytes)
    .bind(&attachment.sha256)
    .bind(to_db_time(now))
    .execute(&mut **tx)
    .await?;
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "ticket_attachment_added",
        target: format!("ticket:{}", ticket.id),
        details: json!({
            "attachment_id": attachment.id,
            "file_name": attachment.file_name,
            "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
            "sha256": attachment.sha256,
        }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    ctx.changed(Area::Tickets).await;
    Ok(attachment)
}

/// The ticket's attachments, oldest first, for whoever may see the ticket.
pub async fn list_attachments(
    ctx: &Ctx,
    viewer: &CurrentUser,
    ticket_id: &str,
) -> Result<Vec<Attachment>, TicketError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let ticket = ticket(&mut conn, ctx, ticket_id, false).await?;
    access(viewer, &ticket)?;
    let sql = format!("{ATTACHMENT_SELECT} WHERE ticket_id = $1 ORDER BY created_at, id");
    let rows: Vec<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&ticket.id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Attachment::from).collect())
}

/// An attachment's metadata and bytes, after checking that the bytes still have the size and
/// SHA-256 they were stored with.
pub async fn open_attachment(
    ctx: &Ctx,
    viewer: &CurrentUser,
    attachment_id: &str,
) -> Result<(Attachment, Vec<u8>), TicketError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let sql = format!("{ATTACHMENT_SELECT} WHERE id = $1");
    let found: Option<AttachmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(attachment_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(attachment) = found.map(Attachment::from) else {
        return Err(TicketError::AttachmentNotFound);
    };
    let ticket = ticket(&mut conn, ctx, &attachment.ticket_id, false).await?;
    access(viewer, &ticket)?;
    drop(conn);
    let corrupt = || TicketError::AttachmentCorrupt {
        id: attachment.id.clone(),
    };
    let path = blob_path(&ctx.config.tickets.attachments_dir, &attachment.sha256);
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::error!(attachment = %attachment.id, path = %path.display(), "attachment file is missing");
            return Err(corrupt());
        }
        Err(e) => return Err(e.into()),
    };
    if bytes.len() as i64 != attachment.size_bytes || sha256_hex(&bytes) != attachment.sha256 {
        tracing::error!(attachment = %attachment.id, path = %path.display(), "attachment file does not match its SHA-256");
        return Err(corrupt());
    }
    Ok((attachment, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        ["application/pdf", "image/png", "image/jpeg"]
            .map(String::from)
            .to_vec()
    }

    const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn signatures_are_recognised() {
        assert_eq!(sniff(PDF), Some("application/pdf"));
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b"%PD"), None);
    }

    #[test]
    fn a_valid_upload_passes_with_its_sha256() {
        let ok = check_upload(" scan.pdf ", "Application/PDF; q=1", PDF, 1024, &allowed()).unwrap();
        assert_eq!(ok.file_name, "scan.pdf");
        assert_eq!(ok.content_type, "application/pdf");
        assert_eq!(ok.sha256, sha256_hex(PDF));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn size_type_and_signature_are_checked() {
        assert!(matches!(
            check_upload("a.pdf", "application/pdf", b"", 1024, &allowed()),
            Err(TicketError::AttachmentEmpty)
        ));
        assert!(matches!(
            check_upload("a.pdf", "application/pdf", PDF, 4, &allowed()),
            Err(TicketError::AttachmentTooLarge { max: 4 })
        ));
        // Exactly the limit is fine.
        assert!(check_upload(
            "a.pdf",
            "application/pdf",
            PDF,
            PDF.len() as u64,
            &allowed()
        )
        .is_ok());
        assert!(matches!(
            check_upload("a.exe", "application/x-msdownload", b"MZ", 1024, &allowed()),
            Err(TicketError::AttachmentTypeNotAllowed(t)) if t == "application/x-msdownload"
        ));
        // A PNG declared as a PDF, and a script declared as a PNG.
        assert!(matches!(
            check_upload("a.pdf", "application/pdf", PNG, 1024, &allowed()),
            Err(TicketError::AttachmentContentMismatch(t)) if t == "application/pdf"
        ));
        assert!(matches!(
            check_upload("a.png", "image/png", b"<script>", 1024, &allowed()),
            Err(TicketError::AttachmentContentMismatch(_))
        ));
        // A configured type without a signature may not carry another type's.
        let text = vec!["text/plain".to_string()];
        assert!(check_upload("a.txt", "text/plain", b"hello", 1024, &text).is_ok());
        assert!(check_upload("a.txt", "text/plain", PDF, 1024, &text).is_err());
    }

    #[test]
    fn file_names_are_plain_names() {
        assert_eq!(clean_file_name("رسید بانک.pdf").unwrap(), "رسید بانک.pdf");
        for bad in [
            "",
            "   ",
            ".",
            "..",
            "../etc/passwd",
            "a/b.pdf",
            "C:\\fakepath\\a.pdf",
            "a\nb.pdf",
            "a\0.pdf",
            "invoice\u{202E}fdp.exe",
        ] {
            assert!(
                matches!(
                    clean_file_name(bad),
                    Err(TicketError::AttachmentNameInvalid { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(clean_file_name(&"a".repeat(FILE_NAME_MAX_CHARS)).is_ok());
        assert!(clean_file_name(&"a".repeat(FILE_NAME_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn blobs_are_written_once_by_content_and_repaired_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let sha = sha256_hex(PDF);
        let path = blob_path(dir.path(), &sha);
        assert_eq!(path, dir.path().join(&sha[..2]).join(&sha));
        store_blob(dir.path(), &sha, PDF).unwrap();
        store_blob(dir.path(), &sha, PDF).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), PDF);
        let files = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(files, 1, "one file, no temporary left over");
        std::fs::write(&path, b"damaged").unwrap();
        store_blob(dir.path(), &sha, PDF).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), PDF);
    }
}
