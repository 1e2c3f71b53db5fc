//! Ticket comments and attachments (issue 11, points 1 and 2) called as the API will call them:
//! who may write and read, internal notes, @mentions and the outbox rows they make, edit
//! history, and attachments stored by SHA-256 and checked on read. On SQLite and PostgreSQL.

use saghat_test_support as common;

use std::path::{Path, PathBuf};

use common::{Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use saghat_core::auth::store::find_active_user;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::clock::Clock;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::attachments::{
    add_attachment, list_attachments, open_attachment, MAX_ATTACHMENTS_PER_TICKET,
};
use saghat_core::tickets::comments::{
    add_comment, comment_history, edit_comment, list_comments, COMMENT_MAX_CHARS,
};
use saghat_core::tickets::error::TicketError;
use saghat_core::tickets::service::{create_draft, move_ticket, submit, NewTicket};
use saghat_core::tickets::state::TicketState;
use saghat_core::tickets::store::Ticket;
use serde_json::json;

common::on_both_databases!(
    borrower_and_lender_comments_notify_the_other_side,
    internal_notes_are_hidden_from_the_borrower_and_never_notify_them,
    mentions_notify_those_who_may_see_the_comment,
    editing_keeps_history_and_only_the_author_may_edit,
    a_stranger_member_is_refused_everything,
    an_attachment_round_trips_with_its_sha256,
    bad_uploads_are_refused_with_nothing_written,
    a_corrupted_or_missing_file_is_refused_on_read,
    attachments_per_ticket_are_limited,
    concurrent_edits_keep_every_previous_text,
);

/// A small PDF and its SHA-256 (computed with `sha256sum`, not with the code under test).
const PDF: &[u8] = b"%PDF-1.4\n%test pdf body\n";
const PDF_SHA256: &str = "b390cadf851be47d07732137bffc6b6a9f568e758c68ba6e980e97bec9a75c08";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";

struct Fund {
    app: TestApp,
    /// Where this app keeps attachments (its own folder, so "nothing written" can be checked).
    files: tempfile::TempDir,
    /// The configured admin, who never acts on the test ticket.
    ali: CurrentUser,
    /// A lender, who takes the ticket under review.
    lina: CurrentUser,
    /// A second lender, who has not acted on it.
    sara: CurrentUser,
    accountant: CurrentUser,
    borrower: CurrentUser,
    /// A member who is not the ticket's borrower.
    mina: CurrentUser,
    ticket: Ticket,
}

fn meta() -> RequestMeta {
    RequestMeta {
        client_ip: "203.0.113.7".into(),
        request_id: "tickets-comments-test".into(),
    }
}

async fn user(app: &TestApp, id: i64) -> CurrentUser {
    find_active_user(&app.state.db, id).await.unwrap().unwrap()
}

async fn staff(app: &TestApp, admin: &str, username: &str, role: &str) -> CurrentUser {
    let (status, body) = app
        .post(
            "/api/auth/users",
            admin,
            json!({ "username": username, "password": PASSWORD, "role": role }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    user(app, body["id"].as_i64().unwrap()).await
}

async fn fund_with(backend: Backend, max_bytes: u64) -> Option<Fund> {
    let files = tempfile::tempdir().unwrap();
    let dir = files.path().to_path_buf();
    let app = TestApp::spawn_with(backend, |c| {
        c.tickets.attachments_dir = dir;
        c.tickets.attachment_max_bytes = max_bytes;
    })
    .await?;
    let admin = app.admin_token().await;
    let lina = staff(&app, &admin, "lina", "lender").await;
    let sara = staff(&app, &admin, "sara", "lender").await;
    let accountant = staff(&app, &admin, "hesab", "accountant").await;
    let (borrower_id, _) = app.member(&admin, "reza", "0").await;
    let (mina_id, _) = app.member(&admin, "mina", "0").await;
    let ali_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username_key = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let borrower = user(&app, borrower_id).await;
    let ctx = app.state.ctx();
    let new = NewTicket {
        amount: Amount::whole(1_000),
        purpose: "a new roof before winter".into(),
        term_months: 12,
        payout_address: "TXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuV".into(),
    };
    let draft = create_draft(ctx, &borrower, new, &meta()).await.unwrap();
    submit(ctx, &borrower, &draft.id, &meta()).await.unwrap();
    let ticket = move_ticket(ctx, &lina, &draft.id, TicketState::UnderReview, "", &meta())
        .await
        .unwrap();
    Some(Fund {
        ali: user(&app, ali_id).await,
        mina: user(&app, mina_id).await,
        lina,
        sara,
        accountant,
        borrower,
        ticket,
        files,
        app,
    })
}

async fn fund(backend: Backend) -> Option<Fund> {
    fund_with(backend, 1024 * 1024).await
}

/// The outbox rows of `kind` for `user`.
async fn notices(f: &Fund, user: &CurrentUser, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND kind = $2")
        .bind(user.id)
        .bind(kind)
        .fetch_one(&f.app.state.db.pool)
        .await
        .unwrap()
}

/// Every ticket notice `user` got about comments.
async fn comment_notices(f: &Fund, user: &CurrentUser) -> i64 {
    notices(f, user, "ticket_commented").await + notices(f, user, "ticket_mentioned").await
}

async fn audited(f: &Fund, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&f.app.state.db.pool)
        .await
        .unwrap()
}

fn bodies(comments: &[saghat_core::tickets::comments::Comment]) -> Vec<&str> {
    comments.iter().map(|c| c.body.as_str()).collect()
}

/// Every file under `dir`, recursively.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_in(&path));
        } else {
            found.push(path);
        }
    }
    found
}

async fn borrower_and_lender_comments_notify_the_other_side(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let asked = add_comment(
        ctx,
        &f.borrower,
        &f.ticket.id,
        "  Is the payslip enough?  ",
        false,
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(asked.body, "Is the payslip enough?", "trimmed");
    assert_eq!(asked.seq, 1);
    assert!(!asked.internal);
    // The reviewer who acted on the ticket is told; a reviewer who did not, and the author, not.
    assert_eq!(notices(&f, &f.lina, "ticket_commented").await, 1);
    assert_eq!(comment_notices(&f, &f.ali).await, 0);
    assert_eq!(comment_notices(&f, &f.sara).await, 0);
    assert_eq!(comment_notices(&f, &f.borrower).await, 0);
    let key: String = sqlx::query_scalar(
        "SELECT unique_key FROM notifications WHERE user_id = $1 AND kind = 'ticket_commented'",
    )
    .bind(f.lina.id)
    .fetch_one(&f.app.state.db.pool)
    .await
    .unwrap();
    assert!(
        key.starts_with(&format!("ticket-comment:{}:{}:", asked.id, f.lina.id)),
        "{key}"
    );

    let answered = add_comment(ctx, &f.lina, &f.ticket.id, "Yes, it is.", false, &meta())
        .await
        .unwrap();
    assert_eq!(answered.seq, 2);
    assert_eq!(notices(&f, &f.borrower, "ticket_commented").await, 1);
    assert_eq!(
        notices(&f, &f.lina, "ticket_commented").await,
        1,
        "not told of her own"
    );
    let text: String = sqlx::query_scalar(
        "SELECT text FROM notifications WHERE user_id = $1 AND kind = 'ticket_commented'",
    )
    .bind(f.borrower.id)
    .fetch_one(&f.app.state.db.pool)
    .await
    .unwrap();
    assert!(text.contains("lina"), "names the author: {text}");

    // Now sara has commented too: the borrower's next comment tells both lenders.
    add_comment(ctx, &f.sara, &f.ticket.id, "Noted.", false, &meta())
        .await
        .unwrap();
    add_comment(ctx, &f.borrower, &f.ticket.id, "Thanks!", false, &meta())
        .await
        .unwrap();
    assert_eq!(notices(&f, &f.lina, "ticket_commented").await, 2);
    assert_eq!(notices(&f, &f.sara, "ticket_commented").await, 1);
    assert_eq!(comment_notices(&f, &f.ali).await, 0);

    let listed = list_comments(ctx, &f.borrower, &f.ticket.id).await.unwrap();
    assert_eq!(
        bodies(&listed),
        vec!["Is the payslip enough?", "Yes, it is.", "Noted.", "Thanks!"]
    );
    assert_eq!(listed[1].author_username, "lina");
    // The accountant reads them all, too.
    let read = list_comments(ctx, &f.accountant, &f.ticket.id)
        .await
        .unwrap();
    assert_eq!(read, listed);
    assert_eq!(audited(&f, "ticket_commented").await, 4);
}

async fn internal_notes_are_hidden_from_the_borrower_and_never_notify_them(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    add_comment(ctx, &f.borrower, &f.ticket.id, "Hello", false, &meta())
        .await
        .unwrap();
    let before_borrower = comment_notices(&f, &f.borrower).await;
    let note = add_comment(
        ctx,
        &f.lina,
        &f.ticket.id,
        "@reza looks fine, @sara please check the payslip, @mina and @hesab too",
        true,
        &meta(),
    )
    .await
    .unwrap();
    assert!(note.internal);
    // Mentioned but not a reviewer: the borrower, a stranger and the accountant hear nothing.
    assert_eq!(comment_notices(&f, &f.borrower).await, before_borrower);
    assert_eq!(comment_notices(&f, &f.mina).await, 0);
    assert_eq!(comment_notices(&f, &f.accountant).await, 0);
    // The mentioned reviewer is told.
    assert_eq!(notices(&f, &f.sara, "ticket_mentioned").await, 1);

    let for_borrower = list_comments(ctx, &f.borrower, &f.ticket.id).await.unwrap();
    assert_eq!(bodies(&for_borrower), vec!["Hello"]);
    let for_accountant = list_comments(ctx, &f.accountant, &f.ticket.id)
        .await
        .unwrap();
    assert_eq!(bodies(&for_accountant), vec!["Hello"]);
    let for_reviewer = list_comments(ctx, &f.ali, &f.ticket.id).await.unwrap();
    assert_eq!(for_reviewer.len(), 2);
    assert!(for_reviewer[1].internal);
    // Its history and an edit are "not found" for the borrower.
    assert!(matches!(
        comment_history(ctx, &f.borrower, &note.id).await,
        Err(TicketError::CommentNotFound)
    ));
    assert!(matches!(
        edit_comment(ctx, &f.borrower, &note.id, "mine now", &meta()).await,
        Err(TicketError::CommentNotFound)
    ));
    assert!(comment_history(ctx, &f.sara, &note.id).await.is_ok());

    // The borrower may not write one, and the accountant may not write at all.
    let comments = f.app.count("ticket_comments").await;
    assert!(matches!(
        add_comment(ctx, &f.borrower, &f.ticket.id, "secret", true, &meta()).await,
        Err(TicketError::InternalNoteNotAllowed)
    ));
    assert!(matches!(
        add_comment(ctx, &f.accountant, &f.ticket.id, "hi", false, &meta()).await,
        Err(TicketError::NotYours)
    ));
    assert_eq!(f.app.count("ticket_comments").await, comments);
    assert_eq!(audited(&f, "ticket_commented").await, 2);
}

async fn mentions_notify_those_who_may_see_the_comment(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let comment = add_comment(
        ctx,
        &f.borrower,
        &f.ticket.id,
        "@lina and @SARA: see attached. @nobody, @mina, @hesab, @reza; mail me at lina@example.com",
        false,
        &meta(),
    )
    .await
    .unwrap();
    // lina acted on the ticket and is mentioned: one notice, the mention.
    assert_eq!(notices(&f, &f.lina, "ticket_mentioned").await, 1);
    assert_eq!(notices(&f, &f.lina, "ticket_commented").await, 0);
    assert_eq!(notices(&f, &f.sara, "ticket_mentioned").await, 1);
    // The accountant may read the ticket; the stranger may not; the author is not told.
    assert_eq!(notices(&f, &f.accountant, "ticket_mentioned").await, 1);
    assert_eq!(comment_notices(&f, &f.mina).await, 0);
    assert_eq!(comment_notices(&f, &f.borrower).await, 0);
    // Nobody called "nobody" exists: no row for anyone else.
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'ticket_mentioned'")
            .fetch_one(&f.app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(total, 3);
    let text: String = sqlx::query_scalar(
        "SELECT text FROM notifications WHERE user_id = $1 AND kind = 'ticket_mentioned'",
    )
    .bind(f.sara.id)
    .fetch_one(&f.app.state.db.pool)
    .await
    .unwrap();
    assert!(text.contains("reza"), "{text}");
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'ticket_commented'")
            .fetch_one(&f.app.state.db.pool)
            .await
            .unwrap();
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["comment_id"], comment.id.as_str());
    assert_eq!(details["mentioned"].as_array().unwrap().len(), 3);
}

async fn editing_keeps_history_and_only_the_author_may_edit(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let first = add_comment(
        ctx,
        &f.borrower,
        &f.ticket.id,
        "version one",
        false,
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(first.edited_at, None);
    // Not the author: refused, nothing changed.
    for other in [&f.lina, &f.ali] {
        assert!(matches!(
            edit_comment(ctx, other, &first.id, "hijacked", &meta()).await,
            Err(TicketError::NotCommentAuthor)
        ));
    }
    assert!(matches!(
        edit_comment(ctx, &f.borrower, &first.id, "   ", &meta()).await,
        Err(TicketError::CommentEmpty)
    ));
    let long = "x".repeat(COMMENT_MAX_CHARS + 1);
    assert!(matches!(
        edit_comment(ctx, &f.borrower, &first.id, &long, &meta()).await,
        Err(TicketError::CommentTooLong { .. })
    ));
    assert!(matches!(
        edit_comment(ctx, &f.borrower, "no-such-comment", "x", &meta()).await,
        Err(TicketError::CommentNotFound)
    ));
    assert_eq!(f.app.count("ticket_comment_edits").await, 0);

    f.app.clock.advance(chrono::Duration::minutes(5));
    let second = edit_comment(ctx, &f.borrower, &first.id, "version two, @sara", &meta())
        .await
        .unwrap();
    assert_eq!(second.body, "version two, @sara");
    assert_eq!(second.edited_at, Some(f.app.clock.now()));
    assert_eq!(second.seq, first.seq);
    assert_eq!(notices(&f, &f.sara, "ticket_mentioned").await, 1);
    // Keeping the mention in a later edit does not tell her again; the same text is no edit.
    edit_comment(ctx, &f.borrower, &first.id, "version three, @sara", &meta())
        .await
        .unwrap();
    edit_comment(ctx, &f.borrower, &first.id, "version three, @sara", &meta())
        .await
        .unwrap();
    assert_eq!(notices(&f, &f.sara, "ticket_mentioned").await, 1);

    let history = comment_history(ctx, &f.lina, &first.id).await.unwrap();
    assert_eq!(history.comment.body, "version three, @sara");
    let previous: Vec<&str> = history
        .edits
        .iter()
        .map(|e| e.previous_body.as_str())
        .collect();
    assert_eq!(previous, vec!["version one", "version two, @sara"]);
    assert!(history.edits.iter().all(|e| e.editor_id == f.borrower.id));
    let listed = list_comments(ctx, &f.borrower, &f.ticket.id).await.unwrap();
    assert_eq!(bodies(&listed), vec!["version three, @sara"]);
    assert!(listed[0].edited_at.is_some());
    assert_eq!(audited(&f, "ticket_comment_edited").await, 2);
}

async fn a_stranger_member_is_refused_everything(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let comment = add_comment(ctx, &f.borrower, &f.ticket.id, "hello", false, &meta())
        .await
        .unwrap();
    let attachment = add_attachment(
        ctx,
        &f.borrower,
        &f.ticket.id,
        "payslip.pdf",
        "application/pdf",
        PDF,
        &meta(),
    )
    .await
    .unwrap();
    let (comments, attachments) = (
        f.app.count("ticket_comments").await,
        f.app.count("ticket_attachments").await,
    );
    let id = &f.ticket.id;
    assert!(matches!(
        add_comment(ctx, &f.mina, id, "hi", false, &meta()).await,
        Err(TicketError::NotYours)
    ));
    assert!(matches!(
        list_comments(ctx, &f.mina, id).await,
        Err(TicketError::NotYours)
    ));
    assert!(matches!(
        comment_history(ctx, &f.mina, &comment.id).await,
        Err(TicketError::NotYours)
    ));
    assert!(matches!(
        edit_comment(ctx, &f.mina, &comment.id, "x", &meta()).await,
        Err(TicketError::NotYours)
    ));
    assert!(matches!(
        add_attachment(ctx, &f.mina, id, "a.pdf", "application/pdf", PDF, &meta()).await,
        Err(TicketError::NotYours)
    ));
    assert!(matches!(
        list_attachments(ctx, &f.mina, id).await,
        Err(TicketError::NotYours)
    ));
    assert!(matches!(
        open_attachment(ctx, &f.mina, &attachment.id).await,
        Err(TicketError::NotYours)
    ));
    // A ticket that does not exist is not found, for anyone.
    assert!(matches!(
        add_comment(ctx, &f.lina, "no-such-ticket", "hi", false, &meta()).await,
        Err(TicketError::NotFound)
    ));
    assert!(matches!(
        list_comments(ctx, &f.borrower, "no-such-ticket").await,
        Err(TicketError::NotFound)
    ));
    assert!(matches!(
        open_attachment(ctx, &f.lina, "no-such-attachment").await,
        Err(TicketError::AttachmentNotFound)
    ));
    assert_eq!(f.app.count("ticket_comments").await, comments);
    assert_eq!(f.app.count("ticket_attachments").await, attachments);
    assert_eq!(comment_notices(&f, &f.mina).await, 0);
}

async fn an_attachment_round_trips_with_its_sha256(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let stored = add_attachment(
        ctx,
        &f.borrower,
        &f.ticket.id,
        "payslip.pdf",
        "application/pdf",
        PDF,
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(stored.sha256, PDF_SHA256);
    assert_eq!(stored.size_bytes, PDF.len() as i64);
    assert_eq!(stored.uploader_id, f.borrower.id);
    let path = f.files.path().join(&PDF_SHA256[..2]).join(PDF_SHA256);
    assert_eq!(std::fs::read(&path).unwrap(), PDF);
    assert_eq!(
        files_in(f.files.path()),
        vec![path.clone()],
        "no temporary left"
    );

    for reader in [&f.borrower, &f.lina, &f.accountant] {
        let (meta_read, bytes) = open_attachment(ctx, reader, &stored.id).await.unwrap();
        assert_eq!(bytes, PDF);
        assert_eq!(meta_read, stored);
    }
    // The same content again (by the lender, under another name): a second row, one file.
    let again = add_attachment(
        ctx,
        &f.lina,
        &f.ticket.id,
        "copy.pdf",
        "application/pdf",
        PDF,
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(again.sha256, PDF_SHA256);
    let png = add_attachment(
        ctx,
        &f.lina,
        &f.ticket.id,
        "id.png",
        "image/png",
        PNG,
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(files_in(f.files.path()).len(), 2);
    let listed = list_attachments(ctx, &f.accountant, &f.ticket.id)
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(listed.len(), 3);
    for name in ["payslip.pdf", "copy.pdf", "id.png"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let (_, bytes) = open_attachment(ctx, &f.borrower, &png.id).await.unwrap();
    assert_eq!(bytes, PNG);
    assert_eq!(audited(&f, "ticket_attachment_added").await, 3);
    // The accountant reads but does not write.
    assert!(matches!(
        add_attachment(
            ctx,
            &f.accountant,
            &f.ticket.id,
            "a.pdf",
            "application/pdf",
            PDF,
            &meta()
        )
        .await,
        Err(TicketError::NotYours)
    ));
}

async fn bad_uploads_are_refused_with_nothing_written(backend: Backend) {
    // At most 64 bytes per file on this server.
    let Some(f) = fund_with(backend, 64).await else {
        return;
    };
    let ctx = f.app.state.ctx();
    let big = [PDF, &[b'x'; 64][..]].concat();
    let id = &f.ticket.id;
    let user = &f.borrower;
    let refusals = [
        (
            add_attachment(ctx, user, id, "big.pdf", "application/pdf", &big, &meta()).await,
            "file",
        ),
        (
            add_attachment(
                ctx,
                user,
                id,
                "a.exe",
                "application/x-msdownload",
                b"MZ\x90\0",
                &meta(),
            )
            .await,
            "file",
        ),
        // A PNG that says it is a PDF, and a text that says it is a PNG.
        (
            add_attachment(ctx, user, id, "a.pdf", "application/pdf", PNG, &meta()).await,
            "file",
        ),
        (
            add_attachment(
                ctx,
                user,
                id,
                "a.png",
                "image/png",
                b"<html></html>",
                &meta(),
            )
            .await,
            "file",
        ),
        (
            add_attachment(ctx, user, id, "", "application/pdf", PDF, &meta()).await,
            "file_name",
        ),
        (
            add_attachment(
                ctx,
                user,
                id,
                "../../etc/passwd",
                "application/pdf",
                PDF,
                &meta(),
            )
            .await,
            "file_name",
        ),
        (
            add_attachment(ctx, user, id, "empty.pdf", "application/pdf", b"", &meta()).await,
            "file",
        ),
    ];
    for (result, field) in refusals {
        let err = result.expect_err("refused");
        assert_eq!(err.field(), Some(field), "{err}");
    }
    assert!(matches!(
        add_attachment(ctx, user, id, "big.pdf", "application/pdf", &big, &meta()).await,
        Err(TicketError::AttachmentTooLarge { max: 64 })
    ));
    assert!(matches!(
        add_attachment(
            ctx,
            user,
            id,
            "a.exe",
            "application/x-msdownload",
            b"MZ",
            &meta()
        )
        .await,
        Err(TicketError::AttachmentTypeNotAllowed(_))
    ));
    assert!(matches!(
        add_attachment(ctx, user, id, "a.pdf", "application/pdf", PNG, &meta()).await,
        Err(TicketError::AttachmentContentMismatch(_))
    ));
    assert_eq!(f.app.count("ticket_attachments").await, 0);
    assert_eq!(audited(&f, "ticket_attachment_added").await, 0);
    assert!(files_in(f.files.path()).is_empty(), "no file written");
    // Within the limit, the same server takes it.
    add_attachment(ctx, user, id, "ok.pdf", "application/pdf", PDF, &meta())
        .await
        .unwrap();
    assert_eq!(f.app.count("ticket_attachments").await, 1);
}

async fn a_corrupted_or_missing_file_is_refused_on_read(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let stored = add_attachment(
        ctx,
        &f.borrower,
        &f.ticket.id,
        "payslip.pdf",
        "application/pdf",
        PDF,
        &meta(),
    )
    .await
    .unwrap();
    let path = f.files.path().join(&PDF_SHA256[..2]).join(PDF_SHA256);
    // Same length, one byte changed.
    let mut damaged = PDF.to_vec();
    *damaged.last_mut().unwrap() = b'!';
    std::fs::write(&path, &damaged).unwrap();
    assert!(matches!(
        open_attachment(ctx, &f.lina, &stored.id).await,
        Err(TicketError::AttachmentCorrupt { id }) if id == stored.id
    ));
    std::fs::write(&path, b"%PDF-").unwrap();
    assert!(matches!(
        open_attachment(ctx, &f.lina, &stored.id).await,
        Err(TicketError::AttachmentCorrupt { .. })
    ));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        open_attachment(ctx, &f.borrower, &stored.id).await,
        Err(TicketError::AttachmentCorrupt { .. })
    ));
    // Uploading the content again repairs the file.
    add_attachment(
        ctx,
        &f.borrower,
        &f.ticket.id,
        "again.pdf",
        "application/pdf",
        PDF,
        &meta(),
    )
    .await
    .unwrap();
    let (_, bytes) = open_attachment(ctx, &f.lina, &stored.id).await.unwrap();
    assert_eq!(bytes, PDF);
}

async fn attachments_per_ticket_are_limited(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    for n in 0..MAX_ATTACHMENTS_PER_TICKET {
        add_attachment(
            ctx,
            &f.borrower,
            &f.ticket.id,
            &format!("page-{n}.pdf"),
            "application/pdf",
            PDF,
            &meta(),
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        add_attachment(ctx, &f.lina, &f.ticket.id, "one-more.pdf", "application/pdf", PDF, &meta())
            .await,
        Err(TicketError::TooManyAttachments { max }) if max == MAX_ATTACHMENTS_PER_TICKET
    ));
    assert_eq!(
        f.app.count("ticket_attachments").await,
        MAX_ATTACHMENTS_PER_TICKET as i64
    );
}

async fn concurrent_edits_keep_every_previous_text(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let comment = add_comment(ctx, &f.borrower, &f.ticket.id, "original", false, &meta())
        .await
        .unwrap();
    let request = meta();
    let (a, b) = tokio::join!(
        edit_comment(ctx, &f.borrower, &comment.id, "edit a", &request),
        edit_comment(ctx, &f.borrower, &comment.id, "edit b", &request),
    );
    a.unwrap();
    b.unwrap();
    let history = comment_history(ctx, &f.borrower, &comment.id)
        .await
        .unwrap();
    let previous: Vec<&str> = history
        .edits
        .iter()
        .map(|e| e.previous_body.as_str())
        .collect();
    // Each edit kept the text it replaced: the original, then the first edit's.
    assert_eq!(previous.len(), 2, "{previous:?}");
    assert_eq!(previous[0], "original");
    let last = history.comment.body.as_str();
    assert!(
        (previous[1], last) == ("edit a", "edit b") || (previous[1], last) == ("edit b", "edit a"),
        "{previous:?} then {last}"
    );
}
