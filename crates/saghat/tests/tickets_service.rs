//! The ticket services (issue 11, first step) called as the API will call them: drafts,
//! submission with the fraud rules, the review moves and maker-checker approval. On SQLite and
//! PostgreSQL, with the Ctx of a running app.

use saghat_test_support as common;

use common::{Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use saghat_core::auth::store::find_active_user;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::approval::ApprovalRefused;
use saghat_core::tickets::error::TicketError;
use saghat_core::tickets::fraud::FraudInput;
use saghat_core::tickets::service::{approve, create_draft, move_ticket, submit, NewTicket};
use saghat_core::tickets::state::{TicketState, TransitionError};
use saghat_core::tickets::store::{self, Ticket};
use serde_json::json;

common::on_both_databases!(
    the_happy_path_needs_two_different_admins_above_the_threshold,
    refused_moves_are_typed_errors_and_write_nothing,
    a_retried_move_adds_no_history,
    the_borrower_cannot_approve_and_the_same_admin_twice_is_refused,
    a_fraud_flag_is_stored_with_its_inputs,
    two_concurrent_approvals_approve_exactly_once,
);

struct Fund {
    app: TestApp,
    /// The configured admin and a second admin: the two reviewers.
    ali: CurrentUser,
    sara: CurrentUser,
    borrower: CurrentUser,
    other: CurrentUser,
}

fn meta() -> RequestMeta {
    RequestMeta {
        client_ip: "203.0.113.7".into(),
        request_id: "tickets-test".into(),
    }
}

async fn user(app: &TestApp, id: i64) -> CurrentUser {
    find_active_user(&app.state.db, id).await.unwrap().unwrap()
}

async fn fund(backend: Backend) -> Option<Fund> {
    let app = TestApp::spawn(backend).await?;
    let admin = app.admin_token().await;
    let (status, body) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "sara", "password": PASSWORD, "role": "admin" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sara_id = body["id"].as_i64().unwrap();
    let (borrower_id, _) = app.member(&admin, "reza", "0").await;
    let (other_id, _) = app.member(&admin, "mina", "0").await;
    let ali_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username_key = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    Some(Fund {
        ali: user(&app, ali_id).await,
        sara: user(&app, sara_id).await,
        borrower: user(&app, borrower_id).await,
        other: user(&app, other_id).await,
        app,
    })
}

fn new_ticket(whole: i64) -> NewTicket {
    NewTicket {
        amount: Amount::whole(whole),
        purpose: "a new roof before winter".into(),
        term_months: 12,
        payout_address: "TXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuV".into(),
    }
}

/// A ticket of `whole` USDT by the borrower, submitted and taken under review by ali.
async fn under_review(f: &Fund, whole: i64) -> Ticket {
    let ctx = f.app.state.ctx();
    let draft = create_draft(ctx, &f.borrower, new_ticket(whole), &meta())
        .await
        .unwrap();
    submit(ctx, &f.borrower, &draft.id, &meta()).await.unwrap();
    move_ticket(
        ctx,
        &f.ali,
        &draft.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap()
}

async fn states(f: &Fund, ticket_id: &str) -> Vec<TicketState> {
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    store::history(&mut conn, ticket_id)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|h| h.to_state)
        .collect()
}

async fn current(f: &Fund, ticket_id: &str) -> Ticket {
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    store::find(&mut conn, f.app.state.db.backend, ticket_id, false)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

async fn approvals(f: &Fund, ticket_id: &str) -> Vec<i64> {
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    store::approvals(&mut conn, ticket_id).await.unwrap()
}

async fn audited(f: &Fund, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&f.app.state.db.pool)
        .await
        .unwrap()
}

async fn the_happy_path_needs_two_different_admins_above_the_threshold(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    // 6 000 USDT is above the default two-approver threshold of 5 000.
    let draft = create_draft(ctx, &f.borrower, new_ticket(6_000), &meta())
        .await
        .unwrap();
    assert_eq!(draft.state, TicketState::Draft);
    assert_eq!(draft.currency, "USDT");
    let submitted = submit(ctx, &f.borrower, &draft.id, &meta()).await.unwrap();
    assert_eq!(submitted.state, TicketState::Submitted);
    let reviewed = move_ticket(
        ctx,
        &f.ali,
        &draft.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(reviewed.state, TicketState::UnderReview);

    let first = approve(ctx, &f.ali, &draft.id, &meta()).await.unwrap();
    assert_eq!(
        first.state,
        TicketState::UnderReview,
        "one approval is not enough"
    );
    assert_eq!(approvals(&f, &draft.id).await, vec![f.ali.id]);
    let second = approve(ctx, &f.sara, &draft.id, &meta()).await.unwrap();
    assert_eq!(second.state, TicketState::Approved);
    assert_eq!(current(&f, &draft.id).await.state, TicketState::Approved);

    use TicketState::*;
    assert_eq!(
        states(&f, &draft.id).await,
        vec![Draft, Submitted, UnderReview, Approved]
    );
    assert_eq!(audited(&f, "ticket_created").await, 1);
    assert_eq!(audited(&f, "ticket_moved").await, 3);
    assert_eq!(audited(&f, "ticket_approval").await, 2);
}

async fn refused_moves_are_typed_errors_and_write_nothing(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let bad = [
        (
            NewTicket {
                amount: Amount::whole(0),
                ..new_ticket(1)
            },
            "amount",
        ),
        (
            NewTicket {
                term_months: 0,
                ..new_ticket(1)
            },
            "term_months",
        ),
        (
            NewTicket {
                term_months: 361,
                ..new_ticket(1)
            },
            "term_months",
        ),
        (
            NewTicket {
                purpose: "   ".into(),
                ..new_ticket(1)
            },
            "purpose",
        ),
    ];
    for (new, field) in bad {
        let err = create_draft(ctx, &f.borrower, new, &meta())
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
    }
    assert_eq!(f.app.count("tickets").await, 0);

    let draft = create_draft(ctx, &f.borrower, new_ticket(100), &meta())
        .await
        .unwrap();
    let err = submit(ctx, &f.other, &draft.id, &meta()).await.unwrap_err();
    assert!(matches!(err, TicketError::NotYours), "{err}");
    let err = submit(ctx, &f.ali, &draft.id, &meta()).await.unwrap_err();
    assert!(
        matches!(
            err,
            TicketError::Transition(TransitionError::NotPermitted { .. })
        ),
        "{err}"
    );
    let err = approve(ctx, &f.ali, &draft.id, &meta()).await.unwrap_err();
    assert!(
        matches!(
            err,
            TicketError::Transition(TransitionError::NotAllowed { .. })
        ),
        "{err}"
    );
    assert_eq!(err.to_string(), "a draft ticket cannot be approved");
    let err = move_ticket(ctx, &f.ali, &draft.id, TicketState::Approved, "", &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, TicketError::NotAMove(TicketState::Approved)));
    submit(ctx, &f.borrower, &draft.id, &meta()).await.unwrap();
    let err = move_ticket(
        ctx,
        &f.borrower,
        &draft.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            TicketError::Transition(TransitionError::NotPermitted { .. })
        ),
        "{err}"
    );
    let err = move_ticket(ctx, &f.ali, &draft.id, TicketState::Withdrawn, "", &meta())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "only the borrower may withdraw");
    let err = move_ticket(
        ctx,
        &f.ali,
        "no-such-ticket",
        TicketState::Rejected,
        "",
        &meta(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TicketError::NotFound));

    // Nothing of the refused moves was written.
    assert_eq!(current(&f, &draft.id).await.state, TicketState::Submitted);
    assert_eq!(
        states(&f, &draft.id).await,
        vec![TicketState::Draft, TicketState::Submitted]
    );
    assert_eq!(f.app.count("ticket_approvals").await, 0);
}

async fn a_retried_move_adds_no_history(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let ticket = under_review(&f, 100).await;
    let before = states(&f, &ticket.id).await;
    let moved_before = audited(&f, "ticket_moved").await;
    let again = move_ticket(
        ctx,
        &f.ali,
        &ticket.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(again.state, TicketState::UnderReview);
    let rejected = move_ticket(
        ctx,
        &f.sara,
        &ticket.id,
        TicketState::Rejected,
        "no income",
        &meta(),
    )
    .await
    .unwrap();
    let retried = move_ticket(
        ctx,
        &f.sara,
        &ticket.id,
        TicketState::Rejected,
        "no income",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(
        retried, rejected,
        "the retry answers with the ticket as it is"
    );
    let mut expected = before.clone();
    expected.push(TicketState::Rejected);
    assert_eq!(states(&f, &ticket.id).await, expected);
    assert_eq!(audited(&f, "ticket_moved").await, moved_before + 1);
}

async fn the_borrower_cannot_approve_and_the_same_admin_twice_is_refused(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let ticket = under_review(&f, 6_000).await;
    let err = approve(ctx, &f.borrower, &ticket.id, &meta())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TicketError::Transition(TransitionError::NotPermitted { .. })
        ),
        "{err}"
    );
    let err = approve(ctx, &f.other, &ticket.id, &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, TicketError::NotYours), "{err}");
    approve(ctx, &f.ali, &ticket.id, &meta()).await.unwrap();
    let err = approve(ctx, &f.ali, &ticket.id, &meta()).await.unwrap_err();
    assert!(
        matches!(err, TicketError::Approval(ApprovalRefused::SameApprover)),
        "{err}"
    );
    assert_eq!(approvals(&f, &ticket.id).await, vec![f.ali.id]);
    assert_eq!(
        current(&f, &ticket.id).await.state,
        TicketState::UnderReview
    );
    assert_eq!(audited(&f, "ticket_approval").await, 1);
}

async fn a_fraud_flag_is_stored_with_its_inputs(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ctx = f.app.state.ctx();
    let pool = &f.app.state.db.pool;
    // A member created today asking 2 000 USDT: a new account with a large amount (high).
    let ticket = under_review(&f, 2_000).await;
    let mut conn = pool.acquire().await.unwrap();
    let flags = store::flags(&mut conn, &ticket.id).await.unwrap();
    let flag = flags
        .iter()
        .find(|f| f.code == "new_account_large_amount")
        .expect("the new-account rule fired");
    assert_eq!(flag.severity, "high");
    assert!(!flag.explanation_en.is_empty() && !flag.explanation_fa.is_empty());
    let inputs: FraudInput = serde_json::from_str(&flag.inputs).unwrap();
    assert_eq!(inputs.application.borrower_id, f.borrower.id);
    assert_eq!(inputs.application.amount, Amount::whole(2_000));
    assert_eq!(inputs.application.client_address, "203.0.113.7");
    assert_eq!(inputs.history.account_created_at, common::default_now());
    drop(conn);
    // The high flag calls for a second approver although 2 000 is under the threshold.
    let first = approve(ctx, &f.ali, &ticket.id, &meta()).await.unwrap();
    assert_eq!(first.state, TicketState::UnderReview);

    // A small amount does not fire the rule.
    let small = create_draft(ctx, &f.other, new_ticket(10), &meta())
        .await
        .unwrap();
    submit(ctx, &f.other, &small.id, &meta()).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let flags = store::flags(&mut conn, &small.id).await.unwrap();
    assert!(
        flags.iter().all(|f| f.code != "new_account_large_amount"),
        "{flags:?}"
    );
}

async fn two_concurrent_approvals_approve_exactly_once(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    // Several rounds, each on its own ticket, with the two approvals started together on
    // separate tasks: a lost update shows up as two "needs a second approval" answers.
    for _ in 0..5 {
        let ticket = under_review(&f, 6_000).await;
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks = [f.ali.clone(), f.sara.clone()].map(|approver| {
            let (ctx, id, start) = (f.app.state.ctx().clone(), ticket.id.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                approve(&ctx, &approver, &id, &meta()).await
            })
        });
        let mut ends = Vec::new();
        for task in tasks {
            ends.push(task.await.unwrap().unwrap().state);
        }
        ends.sort();
        assert_eq!(ends, [TicketState::UnderReview, TicketState::Approved]);
        let approved: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ticket_history WHERE ticket_id = $1 AND to_state = 'approved'",
        )
        .bind(&ticket.id)
        .fetch_one(&f.app.state.db.pool)
        .await
        .unwrap();
        assert_eq!(approved, 1);
        assert_eq!(approvals(&f, &ticket.id).await.len(), 2);
        assert_eq!(current(&f, &ticket.id).await.state, TicketState::Approved);
    }
}
