//! The review side of tickets: the lender role, the queue ordered by SLA deadline with its
//! filters and who sees what, the deadline kept on the ticket (paused while waiting for the
//! borrower), breaches escalated once by the SLA watch, the other side notified of each move, and
//! the fraud rules finding other borrowers behind the same payout address. SQLite and PostgreSQL.

use saghat_test_support as common;

use chrono::{TimeZone, Utc};
use common::{Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use saghat_core::auth::store::find_active_user;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::error::TicketError;
use saghat_core::tickets::fraud::Severity;
use saghat_core::tickets::queue::{list, TicketFilter, COUNT_LIMIT};
use saghat_core::tickets::service::{approve, create_draft, get, move_ticket, submit, NewTicket};
use saghat_core::tickets::sla_watch::escalate_breaches;
use saghat_core::tickets::state::{TicketState, TransitionError};
use saghat_core::tickets::store::{self, Ticket};
use serde_json::json;

common::on_both_databases!(
    a_lender_reviews_and_approves_but_cannot_declare_a_default,
    the_queue_is_ordered_by_deadline_and_members_see_only_their_own,
    the_deadline_pauses_while_the_borrower_is_asked_for_information,
    a_breach_is_escalated_once_to_the_lenders,
    each_move_notifies_the_other_side,
    one_payout_address_behind_two_borrowers_is_flagged,
    a_long_list_is_counted_up_to_the_limit,
);

struct Desk {
    app: TestApp,
    lender: CurrentUser,
    second_lender: CurrentUser,
    accountant: CurrentUser,
    reza: CurrentUser,
    mina: CurrentUser,
}

fn meta() -> RequestMeta {
    RequestMeta {
        client_ip: "198.51.100.20".into(),
        request_id: "tickets-review-test".into(),
    }
}

async fn user(app: &TestApp, id: i64) -> CurrentUser {
    find_active_user(&app.state.db, id).await.unwrap().unwrap()
}

async fn staff(app: &TestApp, admin: &str, name: &str, role: &str) -> CurrentUser {
    let (status, body) = app
        .post(
            "/api/auth/users",
            admin,
            json!({ "username": name, "password": PASSWORD, "role": role }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], role, "{body}");
    user(app, body["id"].as_i64().unwrap()).await
}

async fn desk(backend: Backend) -> Option<Desk> {
    let app = TestApp::spawn(backend).await?;
    let admin = app.admin_token().await;
    let lender = staff(&app, &admin, "leila", "lender").await;
    let second_lender = staff(&app, &admin, "kaveh", "lender").await;
    let accountant = staff(&app, &admin, "hesab", "accountant").await;
    let (reza, _) = app.member(&admin, "reza", "0").await;
    let (mina, _) = app.member(&admin, "mina", "0").await;
    Some(Desk {
        lender,
        second_lender,
        accountant,
        reza: user(&app, reza).await,
        mina: user(&app, mina).await,
        app,
    })
}

fn application(whole: i64, payout: &str) -> NewTicket {
    NewTicket {
        amount: Amount::whole(whole),
        purpose: "tools for the workshop".into(),
        term_months: 6,
        payout_address: payout.into(),
    }
}

/// A submitted ticket of `whole` USDT by `borrower`, paid out to an address of its own.
async fn submitted(d: &Desk, borrower: &CurrentUser, whole: i64) -> Ticket {
    let ctx = d.app.state.ctx();
    let payout = format!("T{}", uuid::Uuid::new_v4().simple());
    let draft = create_draft(ctx, borrower, application(whole, &payout), &meta())
        .await
        .unwrap();
    submit(ctx, borrower, &draft.id, &meta()).await.unwrap()
}

async fn current(d: &Desk, id: &str) -> Ticket {
    let mut conn = d.app.state.db.pool.acquire().await.unwrap();
    store::find(&mut conn, d.app.state.db.backend, id, false)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

/// Outbox rows of `kind` for `user_id`.
async fn notices(d: &Desk, user_id: i64, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND kind = $2")
        .bind(user_id)
        .bind(kind)
        .fetch_one(&d.app.state.db.pool)
        .await
        .unwrap()
}

fn at(y: i32, m: u32, day: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, day, h, min, 0).unwrap()
}

async fn a_lender_reviews_and_approves_but_cannot_declare_a_default(backend: Backend) {
    let Some(d) = desk(backend).await else { return };
    let ctx = d.app.state.ctx();
    let ticket = submitted(&d, &d.reza, 300).await;
    move_ticket(
        ctx,
        &d.lender,
        &ticket.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap();
    let approved = approve(ctx, &d.lender, &ticket.id, &meta()).await.unwrap();
    assert_eq!(approved.state, TicketState::Approved);
    // An accountant reads every ticket but may not move one.
    let view = get(ctx, &d.accountant, &ticket.id).await.unwrap();
    assert_eq!(view.ticket.state, TicketState::Approved);
    let refused = move_ticket(
        ctx,
        &d.accountant,
        &ticket.id,
        TicketState::Rejected,
        "no",
        &meta(),
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, TicketError::NotYours), "{refused:?}");
    // Another member neither reads nor moves it.
    assert!(matches!(
        get(ctx, &d.mina, &ticket.id).await.unwrap_err(),
        TicketError::NotFound
    ));
    // Declaring a default is an admin's (or the delinquency job's), not a lender's.
    let refused = TicketState::Defaulted;
    let err = saghat_core::tickets::state::transition(
        TicketState::Repaying,
        refused,
        saghat_core::tickets::state::Actor::Lender,
    )
    .unwrap_err();
    assert!(
        matches!(err, TransitionError::NotPermitted { .. }),
        "{err:?}"
    );
}

async fn the_queue_is_ordered_by_deadline_and_members_see_only_their_own(backend: Backend) {
    let Some(d) = desk(backend).await else { return };
    let ctx = d.app.state.ctx();
    // Sunday 1 Azar 1405 (22 Nov 2026), 12:00 UTC, and an hour later: the later application's
    // first-response deadline is an hour later (8 business hours each).
    let first = submitted(&d, &d.reza, 100).await;
    d.app.clock.set(at(2026, 11, 22, 13, 0));
    let second = submitted(&d, &d.mina, 9_000).await;
    d.app.clock.set(at(2026, 11, 22, 14, 0));
    let third = submitted(&d, &d.reza, 200).await;
    // A draft has no clock and is not in the queue.
    create_draft(ctx, &d.mina, application(50, "Tdraft0001"), &meta())
        .await
        .unwrap();
    assert_eq!(
        current(&d, &first.id).await.sla_due_at,
        Some(at(2026, 11, 23, 12, 0)),
        "Sunday 12:00 + 4 h that day + 4 h on Monday"
    );
    let queue = TicketFilter {
        by_deadline: true,
        ..TicketFilter::default()
    };
    let page = list(ctx, &d.lender, &queue, 20, 0).await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [&first.id, &second.id, &third.id]);
    assert_eq!(page.total, 3);
    // Paged.
    let page = list(ctx, &d.lender, &queue, 1, 1).await.unwrap();
    assert_eq!(page.items[0].id, second.id);
    assert_eq!(page.total, 3);
    // Filters: an amount range, a borrower, a state.
    let big = TicketFilter {
        min_amount: Some(Amount::whole(1_000)),
        ..queue.clone()
    };
    let page = list(ctx, &d.accountant, &big, 20, 0).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, second.id);
    let rezas = TicketFilter {
        borrower_id: Some(d.reza.id),
        ..TicketFilter::default()
    };
    let page = list(ctx, &d.lender, &rezas, 20, 0).await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        [&third.id, &first.id],
        "newest first outside the queue"
    );
    let drafts = TicketFilter {
        states: vec![TicketState::Draft],
        ..TicketFilter::default()
    };
    assert_eq!(list(ctx, &d.lender, &drafts, 20, 0).await.unwrap().total, 1);
    // A member sees only their own, whatever borrower they ask for.
    let theirs = TicketFilter {
        borrower_id: Some(d.reza.id),
        ..TicketFilter::default()
    };
    let page = list(ctx, &d.mina, &theirs, 20, 0).await.unwrap();
    assert!(page.items.iter().all(|t| t.borrower_id == d.mina.id));
    assert_eq!(page.total, 2, "mina's submitted ticket and her draft");
    // Taking the first for review starts its decision clock (24 business hours from Monday
    // 10:00): it moves behind the others.
    d.app.clock.set(at(2026, 11, 23, 10, 0));
    move_ticket(
        ctx,
        &d.lender,
        &first.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap();
    let page = list(ctx, &d.lender, &queue, 20, 0).await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [&second.id, &third.id, &first.id]);
}

async fn the_deadline_pauses_while_the_borrower_is_asked_for_information(backend: Backend) {
    let Some(d) = desk(backend).await else { return };
    let ctx = d.app.state.ctx();
    let ticket = submitted(&d, &d.reza, 100).await;
    // Under review on Sunday 14:00: decision due 24 business hours later, Wednesday 14:00
    // (Sun 2 h, Mon 8 h, Tue 8 h, Wed 6 h).
    d.app.clock.set(at(2026, 11, 22, 14, 0));
    move_ticket(
        ctx,
        &d.lender,
        &ticket.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(
        current(&d, &ticket.id).await.sla_due_at,
        Some(at(2026, 11, 25, 14, 0))
    );
    // Asked for information on Monday 10:00 (4 business hours used: Sunday 14–16, Monday
    // 8–10): no clock runs, and the ticket leaves the queue.
    d.app.clock.set(at(2026, 11, 23, 10, 0));
    move_ticket(
        ctx,
        &d.lender,
        &ticket.id,
        TicketState::NeedsInfo,
        "the contract, please",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(current(&d, &ticket.id).await.sla_due_at, None);
    let queue = TicketFilter {
        by_deadline: true,
        ..TicketFilter::default()
    };
    assert_eq!(list(ctx, &d.lender, &queue, 20, 0).await.unwrap().total, 0);
    // Answered on Tuesday 08:00 and back under review at once: 20 business hours are left,
    // Tuesday 8 h, Wednesday 8 h and Thursday's half day to 12:00. The hours waited (Monday
    // 10:00 to Tuesday 08:00) did not count.
    d.app.clock.set(at(2026, 11, 24, 8, 0));
    submit(ctx, &d.reza, &ticket.id, &meta()).await.unwrap();
    move_ticket(
        ctx,
        &d.lender,
        &ticket.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap();
    let view = get(ctx, &d.lender, &ticket.id).await.unwrap();
    let decision = view
        .deadlines
        .iter()
        .find(|p| p.phase == saghat_core::tickets::sla::Phase::Decision)
        .unwrap();
    assert_eq!(decision.elapsed, chrono::Duration::hours(4));
    assert_eq!(decision.due_at, Some(at(2026, 11, 26, 12, 0)));
    assert_eq!(view.ticket.sla_due_at, Some(at(2026, 11, 26, 12, 0)));
}

async fn a_breach_is_escalated_once_to_the_lenders(backend: Backend) {
    let Some(d) = desk(backend).await else { return };
    let ctx = d.app.state.ctx();
    let late = submitted(&d, &d.reza, 100).await;
    d.app.clock.set(at(2026, 11, 23, 11, 0));
    let on_time = submitted(&d, &d.mina, 100).await;
    // Monday 12:00: the first ticket's first response (due Monday 12:00) is due; a minute later
    // it is overdue, the second is not.
    d.app.clock.set(at(2026, 11, 23, 12, 1));
    assert_eq!(escalate_breaches(ctx).await.unwrap(), 1);
    let breached = current(&d, &late.id).await;
    assert_eq!(breached.sla_breached_at, Some(at(2026, 11, 23, 12, 1)));
    assert_eq!(current(&d, &on_time.id).await.sla_breached_at, None);
    // Both lenders hear of it (no one has acted on the ticket yet), once.
    for lender in [&d.lender, &d.second_lender] {
        assert_eq!(notices(&d, lender.id, "ticket_sla_breached").await, 1);
    }
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'ticket_sla_breached' AND target = $1",
    )
    .bind(format!("ticket:{}", late.id))
    .fetch_one(&d.app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // A second run escalates nothing again.
    d.app.clock.set(at(2026, 11, 23, 12, 30));
    assert_eq!(escalate_breaches(ctx).await.unwrap(), 0);
    assert_eq!(notices(&d, d.lender.id, "ticket_sla_breached").await, 1);
    // The breached filter, and the mark stays after the lender answers.
    move_ticket(
        ctx,
        &d.lender,
        &late.id,
        TicketState::UnderReview,
        "",
        &meta(),
    )
    .await
    .unwrap();
    let breached_only = TicketFilter {
        breached: Some(true),
        ..TicketFilter::default()
    };
    let page = list(ctx, &d.lender, &breached_only, 20, 0).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, late.id);
    // Its decision deadline, when missed, is escalated on its own — to the lender who acted.
    d.app.clock.set(at(2026, 12, 2, 12, 0));
    assert_eq!(
        escalate_breaches(ctx).await.unwrap(),
        2,
        "the decision, and mina's first response"
    );
    assert_eq!(notices(&d, d.lender.id, "ticket_sla_breached").await, 3);
    assert_eq!(
        notices(&d, d.second_lender.id, "ticket_sla_breached").await,
        2
    );
}

async fn each_move_notifies_the_other_side(backend: Backend) {
    let Some(d) = desk(backend).await else { return };
    let ctx = d.app.state.ctx();
    // A new application: every lender hears of it.
    let ticket = submitted(&d, &d.reza, 100).await;
    assert_eq!(notices(&d, d.lender.id, "ticket_moved").await, 1);
    assert_eq!(notices(&d, d.second_lender.id, "ticket_moved").await, 1);
    assert_eq!(
        notices(&d, d.reza.id, "ticket_moved").await,
        0,
        "not the actor"
    );
    // The lender asks for information: the borrower hears of it; a retry tells no one again.
    for _ in 0..2 {
        move_ticket(
            ctx,
            &d.lender,
            &ticket.id,
            TicketState::UnderReview,
            "",
            &meta(),
        )
        .await
        .unwrap();
    }
    assert_eq!(notices(&d, d.reza.id, "ticket_moved").await, 1);
    move_ticket(
        ctx,
        &d.lender,
        &ticket.id,
        TicketState::NeedsInfo,
        "payslip?",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(notices(&d, d.reza.id, "ticket_moved").await, 2);
    let text: String = sqlx::query_scalar(
        "SELECT text FROM notifications WHERE user_id = $1 AND kind = 'ticket_moved' ORDER BY id DESC LIMIT 1",
    )
    .bind(d.reza.id)
    .fetch_one(&d.app.state.db.pool)
    .await
    .unwrap();
    assert!(text.contains("payslip?"), "{text}");
    // The borrower answers: now only the lender who acted hears of it.
    submit(ctx, &d.reza, &ticket.id, &meta()).await.unwrap();
    assert_eq!(notices(&d, d.lender.id, "ticket_moved").await, 2);
    assert_eq!(notices(&d, d.second_lender.id, "ticket_moved").await, 1);
}

async fn one_payout_address_behind_two_borrowers_is_flagged(backend: Backend) {
    let Some(d) = desk(backend).await else { return };
    let ctx = d.app.state.ctx();
    let shared = "TSharedWallet0000000000000000001";
    let first = create_draft(ctx, &d.reza, application(100, shared), &meta())
        .await
        .unwrap();
    let first = submit(ctx, &d.reza, &first.id, &meta()).await.unwrap();
    // 100 USDT from a member with no contributions is far above their history (medium).
    assert_eq!(first.flag_severity, Some(Severity::Medium));
    assert_eq!(
        current(&d, &first.id).await.flag_severity,
        first.flag_severity
    );
    let mut conn = d.app.state.db.pool.acquire().await.unwrap();
    let flags = store::flags(&mut conn, &first.id).await.unwrap();
    assert!(flags.iter().all(|f| f.code != "shared_payout_address"));
    drop(conn);
    let second = create_draft(ctx, &d.mina, application(100, shared), &meta())
        .await
        .unwrap();
    submit(ctx, &d.mina, &second.id, &meta()).await.unwrap();
    let mut conn = d.app.state.db.pool.acquire().await.unwrap();
    let flags = store::flags(&mut conn, &second.id).await.unwrap();
    assert!(
        flags.iter().any(|f| f.code == "shared_payout_address"),
        "{flags:?}"
    );
    drop(conn);
    assert_eq!(
        current(&d, &second.id).await.flag_severity,
        Some(Severity::High)
    );
    // The flagged filter: both are flagged (neither borrower has contributed yet).
    let unflagged = TicketFilter {
        flagged: Some(false),
        ..TicketFilter::default()
    };
    assert_eq!(
        list(ctx, &d.lender, &unflagged, 20, 0).await.unwrap().total,
        0
    );
    let flagged = TicketFilter {
        flagged: Some(true),
        ..TicketFilter::default()
    };
    assert_eq!(
        list(ctx, &d.lender, &flagged, 20, 0).await.unwrap().total,
        2
    );
    // A different address behind a third application fires nothing of the kind.
    let third = submitted(&d, &d.mina, 100).await;
    let mut conn = d.app.state.db.pool.acquire().await.unwrap();
    let flags = store::flags(&mut conn, &third.id).await.unwrap();
    assert!(flags.iter().all(|f| f.code != "shared_payout_address"));
}

async fn a_long_list_is_counted_up_to_the_limit(backend: Backend) {
    let Some(d) = desk(backend).await else { return };
    let ctx = d.app.state.ctx();
    // Drafts written straight to the store: only their number matters here.
    let draft = create_draft(ctx, &d.reza, application(10, "Tcount0001"), &meta())
        .await
        .unwrap();
    let mut tx = d.app.state.db.pool.begin().await.unwrap();
    for i in 0..COUNT_LIMIT + 4 {
        let copy = Ticket {
            id: format!("{}-{i}", draft.id),
            ..draft.clone()
        };
        store::insert(&mut tx, &copy).await.unwrap();
    }
    tx.commit().await.unwrap();
    let all = list(ctx, &d.lender, &TicketFilter::default(), 20, 0)
        .await
        .unwrap();
    assert_eq!((all.total, all.total_exact), (COUNT_LIMIT, false));
    assert_eq!(all.items.len(), 20);
    // A page past the counted ones is still served.
    let far = list(ctx, &d.lender, &TicketFilter::default(), 20, COUNT_LIMIT)
        .await
        .unwrap();
    assert_eq!(far.items.len(), 5);
    let mina = TicketFilter {
        borrower_id: Some(d.mina.id),
        ..TicketFilter::default()
    };
    let few = list(ctx, &d.lender, &mina, 20, 0).await.unwrap();
    assert_eq!((few.total, few.total_exact), (0, true));
}
