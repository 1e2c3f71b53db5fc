//! Comments on a ticket between its borrower and the reviewers, internal notes among reviewers
//! only, @mentions, and edits that keep the text they replace. Each write is one transaction
//! under the ticket's lock: the comment, its audit entry and its notices commit together.
//!
//! Who sees what: the borrower and the reviewers (lenders, admins) write; accountants read.
//! An internal note exists only for reviewers: it is not listed, notified or mentioned to
//! anyone else, and to them it is "not found".

use crate::platform::response_cache::Area;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, FromRow};

use super::error::TicketError;
use super::service::{audit_ticket, is_reviewer, short_ref};
use super::store::{self, Ticket};
use crate::auth::domain::Username;
use crate::auth::{CurrentUser, Role};
use crate::notify::outbox::notify_user;
use crate::notify::templates::Notice;
use crate::notify::ticket_notices::TicketNotice;
use crate::platform::audit::RequestMeta;
use crate::platform::clock::{to_db_time, DbTime};
use crate::platform::db::{Flag, WriteTx};
use crate::Ctx;

/// The longest comment kept, in characters.
pub const COMMENT_MAX_CHARS: usize = 5_000;
/// The most users one comment notifies by mention: a bound on a comment's cost, whatever its
/// text (more names than this are read as text).
pub const MAX_MENTIONS: usize = 20;

// --- rules ----------------------------------------------------------------------------------

/// The usernames `@mentioned` in `text`, as lookup keys (`auth::domain::username_key`: `@Sara`
/// and `@ｓａｒａ` are one user), each once, in order of first mention. A mention is `@` (or `＠`)
/// at the start or after a character that cannot be part of a username, followed by a valid
/// username; e-mail addresses (`a@b.com`, `@sara@example.com`) and trailing punctuation
/// (`@sara.`) are not part of it.
pub fn mentions(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let at = chars[i];
        i += 1;
        if !is_at(at) || (i >= 2 && (is_name_char(chars[i - 2]) || is_at(chars[i - 2]))) {
            continue;
        }
        let start = i;
        while i < chars.len() && is_name_char(chars[i]) {
            i += 1;
        }
        // An address (`@sara@example.com`), not a mention.
        if i < chars.len() && is_at(chars[i]) {
            continue;
        }
        let mut end = i;
        // Sentence punctuation after a name is not part of it.
        while end > start && matches!(chars[end - 1], '.' | '-') {
            end -= 1;
        }
        let raw: String = chars[start..end].iter().collect();
        let Ok(name) = Username::parse(&raw) else {
            continue;
        };
        if !found.contains(&name.key) {
            found.push(name.key);
        }
    }
    found
}

fn is_at(c: char) -> bool {
    c == '@' || c == '＠'
}

/// What `Username::parse` accepts in a name.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The body as kept: trimmed, 1 to [`COMMENT_MAX_CHARS`] characters.
pub fn validate_body(body: &str) -> Result<String, TicketError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(TicketError::CommentEmpty);
    }
    if body.chars().count() > COMMENT_MAX_CHARS {
        return Err(TicketError::CommentTooLong {
            max: COMMENT_MAX_CHARS,
        });
    }
    Ok(body.to_string())
}

/// What a user is to a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Its borrower (even when they are also a reviewer: nobody reviews their own ticket).
    Borrower,
    /// A lender or an admin: reads and writes everything, internal notes included.
    Reviewer,
    /// An accountant: reads what the borrower may read, writes nothing.
    Reader,
}

impl Access {
    /// `None`: the user may not see the ticket at all.
    pub fn of(user_id: i64, role: Role, ticket: &Ticket) -> Option<Access> {
        if user_id == ticket.borrower_id {
            Some(Access::Borrower)
        } else if is_reviewer(role) {
            Some(Access::Reviewer)
        } else if role == Role::Accountant {
            Some(Access::Reader)
        } else {
            None
        }
    }

    pub fn sees_internal(self) -> bool {
        self == Access::Reviewer
    }

    pub fn may_write(self) -> bool {
        self != Access::Reader
    }

    /// Whether a comment (internal or not) is visible with this access.
    pub fn sees(self, internal: bool) -> bool {
        !internal || self.sees_internal()
    }
}

/// The access `user` has to `ticket`, or [`TicketError::NotYours`].
pub fn access(user: &CurrentUser, ticket: &Ticket) -> Result<Access, TicketError> {
    Access::of(user.id, user.role, ticket).ok_or(TicketError::NotYours)
}

// --- storage --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub id: String,
    pub ticket_id: String,
    /// Its position on the ticket: 1 for the first comment.
    pub seq: i64,
    pub author_id: i64,
    pub author_username: String,
    pub body: String,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// A text a comment had before an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentEdit {
    pub previous_body: String,
    pub edited_at: DateTime<Utc>,
    pub editor_id: i64,
}

/// A comment with the texts it had, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentHistory {
    pub comment: Comment,
    pub edits: Vec<CommentEdit>,
}

#[derive(FromRow)]
struct CommentRow {
    id: String,
    ticket_id: String,
    seq: i64,
    author_id: i64,
    author_username: String,
    body: String,
    #[sqlx(try_from = "Flag")]
    internal: bool,
    created_at: DbTime,
    edited_at: Option<DbTime>,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Comment {
        Comment {
            id: r.id,
            ticket_id: r.ticket_id,
            seq: r.seq,
            author_id: r.author_id,
            author_username: r.author_username,
            body: r.body,
            internal: r.internal,
            created_at: r.created_at.0.unwrap_or_default(),
            edited_at: r.edited_at.and_then(|t| t.0),
        }
    }
}

const COMMENT_SELECT: &str = "SELECT c.id, c.ticket_id, c.seq, c.author_id, \
     u.username AS author_username, c.body, c.internal, c.created_at, c.edited_at \
     FROM ticket_comments c JOIN users u ON u.id = c.author_id";

async fn find_comment(
    conn: &mut AnyConnection,
    comment_id: &str,
) -> Result<Option<Comment>, sqlx::Error> {
    let sql = format!("{COMMENT_SELECT} WHERE c.id = $1");
    let row: Option<CommentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(comment_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Comment::from))
}

/// The ticket, read (and with `lock`, locked) on `conn`.
async fn ticket(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    ticket_id: &str,
    lock: bool,
) -> Result<Ticket, TicketError> {
    match store::find(conn, ctx.db.backend, ticket_id, lock).await? {
        Some(ticket) => Ok(ticket?),
        None => Err(TicketError::NotFound),
    }
}

/// The reviewers who have acted on the ticket: moved it, approved it or commented on it.
async fn acting_reviewers(
    conn: &mut AnyConnection,
    ticket: &Ticket,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT u.id FROM users u \
         WHERE u.is_active = 1 AND u.role IN ('lender', 'admin') AND u.id <> $2 \
         AND (u.id IN (SELECT actor_user_id FROM ticket_history WHERE ticket_id = $1) \
           OR u.id IN (SELECT approver_id FROM ticket_approvals WHERE ticket_id = $1) \
           OR u.id IN (SELECT author_id FROM ticket_comments WHERE ticket_id = $1)) \
         ORDER BY u.id",
    )
    .bind(&ticket.id)
    .bind(ticket.borrower_id)
    .fetch_all(conn)
    .await
}

/// The active users `keys` (username keys) name, with their roles.
async fn users_by_key(
    conn: &mut AnyConnection,
    keys: &[String],
) -> Result<Vec<(i64, Role)>, sqlx::Error> {
    let mut found = Vec::new();
    for key in keys.iter().take(MAX_MENTIONS) {
        let user: Option<(i64, Role)> =
            sqlx::query_as("SELECT id, role FROM users WHERE username_key = $1 AND is_active = 1")
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
        found.extend(user);
    }
    Ok(found)
}

// --- services -------------------------------------------------------------------------------

/// The borrower or a reviewer writes on the ticket; `internal` notes are for reviewers only.
/// The other side is told (the borrower of a reviewer's comment; the reviewers who have acted on
/// the ticket of the borrower's), and the mentioned users who may see the comment are told
/// they were mentioned instead.
pub async fn add_comment(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    body: &str,
    internal: bool,
    meta: &RequestMeta,
) -> Result<Comment, TicketError> {
    let body = validate_body(body)?;
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin_write().await?;
    let ticket = ticket(&mut tx, ctx, ticket_id, true).await?;
    let access = access(user, &ticket)?;
    if !access.may_write() {
        return Err(TicketError::NotYours);
    }
    if internal && !access.sees_internal() {
        return Err(TicketError::InternalNoteNotAllowed);
    }
    // The other side, read before this comment counts as the reviewer's "acting".
    let other_side: Vec<i64> = match access {
        Access::Borrower => acting_reviewers(&mut tx, &ticket).await?,
        Access::Reviewer if !internal => vec![ticket.borrower_id],
        _ => vec![],
    };
    let seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM ticket_comments WHERE ticket_id = $1",
    )
    .bind(&ticket.id)
    .fetch_one(&mut **tx)
    .await?;
    let comment = Comment {
        id: uuid::Uuid::new_v4().to_string(),
        ticket_id: ticket.id.clone(),
        seq,
        author_id: user.id,
        author_username: user.username.clone(),
        body,
        internal,
        created_at: now,
        edited_at: None,
    };
    sqlx::query(
        "INSERT INTO ticket_comments (id, ticket_id, seq, author_id, body, internal, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&comment.id)
    .bind(&comment.ticket_id)
    .bind(comment.seq)
    .bind(comment.author_id)
    .bind(&comment.body)
    .bind(i64::from(comment.internal))
    .bind(to_db_time(now))
    .execute(&mut **tx)
    .await?;
    let mentioned = notify_mentions(&mut tx, ctx, &ticket, &comment).await?;
    for recipient in other_side {
        if recipient == user.id || mentioned.contains(&recipient) {
            continue;
        }
        let notice = Notice::Ticket(TicketNotice::Commented {
            ticket: short_ref(&ticket.id),
            author: user.username.clone(),
        });
        let key = format!("ticket-comment:{}:{recipient}", comment.id);
        notify_user(&mut tx, ctx, recipient, &notice, &key).await?;
    }
    let details = json!({
        "comment_id": comment.id,
        "internal": internal,
        "mentioned": mentioned,
    });
    audit_ticket(
        &mut tx,
        ctx,
        meta,
        user,
        "ticket_commented",
        &ticket.id,
        details,
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Tickets).await;
    Ok(comment)
}

/// The author changes their comment's text; the text it replaces is kept. Users mentioned for
/// the first time are told (a mention already notified is not notified again). The same text
/// again changes nothing.
pub async fn edit_comment(
    ctx: &Ctx,
    user: &CurrentUser,
    comment_id: &str,
    body: &str,
    meta: &RequestMeta,
) -> Result<Comment, TicketError> {
    let body = validate_body(body)?;
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin_write().await?;
    let Some(found) = find_comment(&mut tx, comment_id).await? else {
        return Err(TicketError::CommentNotFound);
    };
    let ticket = ticket(&mut tx, ctx, &found.ticket_id, true).await?;
    // Read again under the ticket's lock: a concurrent edit's text is the previous one kept.
    let Some(found) = find_comment(&mut tx, comment_id).await? else {
        return Err(TicketError::CommentNotFound);
    };
    let access = access(user, &ticket)?;
    if !access.sees(found.internal) {
        return Err(TicketError::CommentNotFound);
    }
    if found.author_id != user.id || !access.may_write() {
        return Err(TicketError::NotCommentAuthor);
    }
    if found.body == body {
        return Ok(found);
    }
    sqlx::query(
        "INSERT INTO ticket_comment_edits (comment_id, previous_body, edited_at, editor_id) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&found.id)
    .bind(&found.body)
    .bind(to_db_time(now))
    .bind(user.id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE ticket_comments SET body = $1, edited_at = $2 WHERE id = $3")
        .bind(&body)
        .bind(to_db_time(now))
        .bind(&found.id)
        .execute(&mut **tx)
        .await?;
    let edited = Comment {
        body,
        edited_at: Some(now),
        ..found
    };
    let mentioned = notify_mentions(&mut tx, ctx, &ticket, &edited).await?;
    let details = json!({ "comment_id": edited.id, "mentioned": mentioned });
    audit_ticket(
        &mut tx,
        ctx,
        meta,
        user,
        "ticket_comment_edited",
        &ticket.id,
        details,
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Tickets).await;
    Ok(edited)
}

/// The ticket's comments the viewer may see, in the order they were written.
pub async fn list_comments(
    ctx: &Ctx,
    viewer: &CurrentUser,
    ticket_id: &str,
) -> Result<Vec<Comment>, TicketError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let ticket = ticket(&mut conn, ctx, ticket_id, false).await?;
    let access = access(viewer, &ticket)?;
    let hide_internal = if access.sees_internal() {
        ""
    } else {
        " AND c.internal = 0"
    };
    let sql = format!("{COMMENT_SELECT} WHERE c.ticket_id = $1{hide_internal} ORDER BY c.seq");
    let rows: Vec<CommentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&ticket.id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Comment::from).collect())
}

/// A comment the viewer may see, with the texts it had before each edit.
pub async fn comment_history(
    ctx: &Ctx,
    viewer: &CurrentUser,
    comment_id: &str,
) -> Result<CommentHistory, TicketError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let Some(comment) = find_comment(&mut conn, comment_id).await? else {
        return Err(TicketError::CommentNotFound);
    };
    let ticket = ticket(&mut conn, ctx, &comment.ticket_id, false).await?;
    if !access(viewer, &ticket)?.sees(comment.internal) {
        return Err(TicketError::CommentNotFound);
    }
    #[derive(FromRow)]
    struct EditRow {
        previous_body: String,
        edited_at: DbTime,
        editor_id: i64,
    }
    let rows: Vec<EditRow> = sqlx::query_as(
        "SELECT previous_body, edited_at, editor_id FROM ticket_comment_edits \
         WHERE comment_id = $1 ORDER BY id",
    )
    .bind(&comment.id)
    .fetch_all(&mut *conn)
    .await?;
    let edits = rows
        .into_iter()
        .map(|r| CommentEdit {
            previous_body: r.previous_body,
            edited_at: r.edited_at.0.unwrap_or_default(),
            editor_id: r.editor_id,
        })
        .collect();
    Ok(CommentHistory { comment, edits })
}

/// Tells the users `comment` mentions who may see it (not its author); returns their ids. The
/// effect key is per comment and user, so an edit that keeps a mention does not repeat it.
async fn notify_mentions(
    tx: &mut WriteTx,
    ctx: &Ctx,
    ticket: &Ticket,
    comment: &Comment,
) -> Result<Vec<i64>, TicketError> {
    let keys = mentions(&comment.body);
    if keys.is_empty() {
        return Ok(vec![]);
    }
    let mut told = Vec::new();
    for (id, role) in users_by_key(tx, &keys).await? {
        let visible = Access::of(id, role, ticket).is_some_and(|a| a.sees(comment.internal));
        if id == comment.author_id || !visible || told.contains(&id) {
            continue;
        }
        let notice = Notice::Ticket(TicketNotice::Mentioned {
            ticket: short_ref(&ticket.id),
            author: comment.author_username.clone(),
        });
        let key = format!("ticket-mention:{}:{id}", comment.id);
        notify_user(tx, ctx, id, &notice, &key).await?;
        told.push(id);
    }
    Ok(told)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket_of(borrower_id: i64) -> Ticket {
        let now = Utc::now();
        Ticket {
            id: "t".into(),
            borrower_id,
            amount: crate::platform::money::Amount::whole(1),
            currency: "USDT".into(),
            purpose: "p".into(),
            term_months: 1,
            payout_address: "x".into(),
            state: super::super::state::TicketState::Submitted,
            flag_severity: None,
            sla_due_at: None,
            sla_breached_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn mentions_are_username_keys_once_each_in_order() {
        assert_eq!(
            mentions("@sara please look, and @Ali too; @SARA again"),
            vec!["sara", "ali"]
        );
        assert_eq!(mentions("(@reza) and\n@mina"), vec!["reza", "mina"]);
        // NFKC and case folding, as usernames are looked up.
        assert_eq!(mentions("＠ＳＡＲＡ"), vec!["sara"]);
        assert_eq!(mentions("سلام @علی، لطفا ببینید"), vec!["علی"]);
    }

    #[test]
    fn mentions_ignore_addresses_punctuation_and_invalid_names() {
        assert!(mentions("write to a@b.com or sara@example.org").is_empty());
        assert!(mentions("@sara@example.com").is_empty());
        assert!(mentions("@@sara").is_empty());
        // Too short to be a username, or mixing scripts (a Cyrillic а in "sаra").
        assert!(mentions("@al and @sаra").is_empty());
        assert!(mentions("@ alone, and nothing@").is_empty());
        assert_eq!(mentions("thanks @sara. Also @mina-"), vec!["sara", "mina"]);
        assert_eq!(mentions("@first.last_1"), vec!["first.last_1"]);
    }

    #[test]
    fn bodies_are_trimmed_and_bounded() {
        assert_eq!(validate_body("  hi  ").unwrap(), "hi");
        assert!(matches!(
            validate_body(" \n\t "),
            Err(TicketError::CommentEmpty)
        ));
        let longest = "ب".repeat(COMMENT_MAX_CHARS);
        assert_eq!(validate_body(&longest).unwrap(), longest);
        assert!(matches!(
            validate_body(&format!("{longest}x")),
            Err(TicketError::CommentTooLong {
                max: COMMENT_MAX_CHARS
            })
        ));
    }

    #[test]
    fn only_reviewers_see_internal_notes_and_accountants_only_read() {
        let t = ticket_of(7);
        assert_eq!(Access::of(7, Role::Member, &t), Some(Access::Borrower));
        // An admin's own ticket: they are its borrower there, not a reviewer.
        assert_eq!(Access::of(7, Role::Admin, &t), Some(Access::Borrower));
        assert_eq!(Access::of(8, Role::Lender, &t), Some(Access::Reviewer));
        assert_eq!(Access::of(8, Role::Admin, &t), Some(Access::Reviewer));
        assert_eq!(Access::of(8, Role::Accountant, &t), Some(Access::Reader));
        assert_eq!(Access::of(8, Role::Member, &t), None);
        assert!(Access::Reviewer.sees(true));
        assert!(!Access::Borrower.sees(true) && Access::Borrower.sees(false));
        assert!(!Access::Reader.sees(true) && Access::Reader.sees(false));
        assert!(!Access::Reader.may_write() && Access::Borrower.may_write());
    }
}
