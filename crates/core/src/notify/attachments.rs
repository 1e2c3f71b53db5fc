//! Files an e-mail notification carries (a monthly statement's PDF): a row per file in
//! `notification_attachments`, written in the transaction that writes the notification, with
//! the file itself under `SAGHAT_DATA_DIR` (written before that transaction commits). The
//! delivery reads each file and checks its SHA-256 before attaching it: a file missing or
//! changed since is never sent, and the notification fails with the reason. SMS and WhatsApp
//! carry no files (their text points to where the file can be read).

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::Attachment;

/// A file to attach, as its writer kept it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    /// Relative to `SAGHAT_DATA_DIR`, without `..`.
    pub path: &'a str,
    pub sha256: &'a str,
}

/// Attaches `file` to the e-mail notification whose key is `unique_key` (the outbox's
/// `{effect}:email`), if there is one, on the caller's transaction. Returns whether a row was
/// written (none when the member wants no e-mail, or it is attached already).
pub async fn attach_to_email(
    conn: &mut AnyConnection,
    unique_key: &str,
    file: &StoredFile<'_>,
) -> Result<bool, sqlx::Error> {
    let written = sqlx::query(
        "INSERT INTO notification_attachments (notification_id, file_name, content_type, path, sha256) \
         SELECT id, $1, $2, $3, $4 FROM notifications WHERE unique_key = $5 AND channel = 'email' \
         ON CONFLICT (notification_id, file_name) DO NOTHING",
    )
    .bind(file.file_name)
    .bind(file.content_type)
    .bind(file.path)
    .bind(file.sha256)
    .bind(unique_key)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(written > 0)
}

/// Why an attachment could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Missing, changed or misplaced: the message, as it is, can never go.
    Permanent(String),
    /// The file system failed otherwise: worth another attempt.
    Retryable(String),
}

#[derive(sqlx::FromRow)]
struct Row {
    file_name: String,
    content_type: String,
    path: String,
    sha256: String,
}

/// The files of notification `id`, read from under `data_dir` and checked.
pub(crate) async fn load(
    conn: &mut AnyConnection,
    data_dir: &Path,
    id: i64,
) -> Result<Result<Vec<Attachment>, Unreadable>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT file_name, content_type, path, sha256 FROM notification_attachments \
         WHERE notification_id = $1 ORDER BY file_name",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    let mut files = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(path) = under(data_dir, &row.path) else {
            return Ok(Err(Unreadable::Permanent(format!(
                "the attachment {} is not under the data folder",
                row.file_name
            ))));
        };
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(Unreadable::Permanent(format!(
                    "the attachment {} is missing",
                    row.file_name
                ))))
            }
            Err(e) => {
                return Ok(Err(Unreadable::Retryable(format!(
                    "the attachment {} cannot be read: {e}",
                    row.file_name
                ))))
            }
        };
        if hex::encode(Sha256::digest(&bytes)) != row.sha256 {
            return Ok(Err(Unreadable::Permanent(format!(
                "the attachment {} has changed since it was written",
                row.file_name
            ))));
        }
        files.push(Attachment {
            filename: row.file_name,
            content_type: row.content_type,
            bytes,
        });
    }
    Ok(Ok(files))
}

/// `relative` under `dir`, or `None` when it could leave it (absolute, `..`).
pub fn under(dir: &Path, relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !relative.is_empty()).then(|| dir.join(path))
}

#[cfg(test)]
mod tests {
    use super::under;
    use std::path::Path;

    #[test]
    fn only_plain_relative_paths_stay_under_the_data_folder() {
        let dir = Path::new("/srv/saghat");
        assert_eq!(
            under(dir, "statements/ab/ab12.pdf"),
            Some(dir.join("statements/ab/ab12.pdf"))
        );
        for bad in ["", "/etc/passwd", "../secret", "statements/../../x", "./x"] {
            assert_eq!(under(dir, bad), None, "{bad}");
        }
    }
}
