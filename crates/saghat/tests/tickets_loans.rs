//! Tickets as loans (issue 11, point 6), on SQLite and PostgreSQL: disbursement through the
//! ledger with its schedule, repayments oldest first up to `repaid`, the books verified after,
//! refusals that write nothing, one effect under concurrent or repeated requests, and the
//! daily job's delinquency buckets and reminders as the clock moves.

use saghat_test_support as common;

use chrono::{DateTime, TimeZone, Utc};
use common::{Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use saghat_core::auth::store::find_active_user;
use saghat_core::auth::CurrentUser;
use saghat_core::ledger::domain::Account;
use saghat_core::ledger::store::balance_of;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::daily;
use saghat_core::tickets::error::TicketError;
use saghat_core::tickets::loan_store;
use saghat_core::tickets::loans::{disburse, mark_default, repay, schedule_of};
use saghat_core::tickets::schedule::{Delinquency, Pricing, ScheduleError};
use saghat_core::tickets::service::{approve, create_draft, move_ticket, submit, NewTicket};
use saghat_core::tickets::state::{TicketState, TransitionError};
use saghat_core::tickets::store::{self, Ticket};
use serde_json::json;

common::on_both_databases!(
    a_ticket_is_lent_repaid_and_the_books_verify,
    disbursement_is_refused_without_cash_and_to_the_borrower,
    concurrent_disbursements_post_once,
    a_repayment_key_counts_once_and_overpayment_writes_nothing,
    the_daily_job_buckets_late_tickets_and_reminds_once,
    a_tickets_fee_is_the_funds_income,
);

struct Fund {
    app: TestApp,
    /// The configured admin and a lender: the two reviewers.
    ali: CurrentUser,
    lena: CurrentUser,
    borrower: CurrentUser,
    other: CurrentUser,
}

fn meta() -> RequestMeta {
    RequestMeta {
        client_ip: "203.0.113.9".into(),
        request_id: "tickets-loans-test".into(),
    }
}

fn usdt(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

async fn user(app: &TestApp, id: i64) -> CurrentUser {
    find_active_user(&app.state.db, id).await.unwrap().unwrap()
}

/// A fund whose cash is `cash` USDT, paid in as the admin's membership fee.
async fn fund(backend: Backend, cash: &str) -> Option<Fund> {
    fund_with(backend, cash, |_| {}).await
}

async fn fund_with(
    backend: Backend,
    cash: &str,
    tweak: impl FnOnce(&mut saghat_core::config::Config),
) -> Option<Fund> {
    let app = TestApp::spawn_with(backend, tweak).await?;
    let admin = app.admin_token().await;
    let (status, body) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "lena", "password": PASSWORD, "role": "lender" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let lena_id = body["id"].as_i64().unwrap();
    let (borrower_id, _) = app.member(&admin, "reza", "0").await;
    let (other_id, _) = app.member(&admin, "mina", "0").await;
    let (status, body) = app.pay(&admin, cash, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ali_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username_key = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    Some(Fund {
        ali: user(&app, ali_id).await,
        lena: user(&app, lena_id).await,
        borrower: user(&app, borrower_id).await,
        other: user(&app, other_id).await,
        app,
    })
}

/// A ticket of `whole` USDT over 12 months, taken to `approved` (two approvals above 5 000).
async fn approved(f: &Fund, whole: i64) -> Ticket {
    let ctx = f.app.state.ctx();
    let new = NewTicket {
        amount: Amount::whole(whole),
        purpose: "a workshop's lathe".into(),
        term_months: 12,
        payout_address: "TXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuV".into(),
    };
    let draft = create_draft(ctx, &f.borrower, new, &meta()).await.unwrap();
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
    .unwrap();
    let mut ticket = approve(ctx, &f.ali, &draft.id, &meta()).await.unwrap();
    if ticket.state != TicketState::Approved {
        ticket = approve(ctx, &f.lena, &draft.id, &meta()).await.unwrap();
    }
    assert_eq!(ticket.state, TicketState::Approved);
    ticket
}

async fn balance(f: &Fund, account: Account) -> Amount {
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    balance_of(&mut conn, account).await.unwrap()
}

async fn current(f: &Fund, id: &str) -> Ticket {
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    store::find(&mut conn, f.app.state.db.backend, id, false)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

async fn states(f: &Fund, id: &str) -> Vec<TicketState> {
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    store::history(&mut conn, id)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|h| h.to_state)
        .collect()
}

async fn scalar(f: &Fund, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(&f.app.state.db.pool)
        .await
        .unwrap()
}

async fn postings(f: &Fund, ticket_id: &str) -> i64 {
    scalar(
        f,
        "SELECT COUNT(*) FROM journal_transactions WHERE ticket_id = $1",
        ticket_id,
    )
    .await
}

async fn notices(f: &Fund, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND kind = $2")
        .bind(f.borrower.id)
        .bind(kind)
        .fetch_one(&f.app.state.db.pool)
        .await
        .unwrap()
}

async fn a_ticket_is_lent_repaid_and_the_books_verify(backend: Backend) {
    let Some(f) = fund(backend, "7000").await else {
        return;
    };
    let ctx = f.app.state.ctx();
    let ticket = approved(&f, 6_000).await;
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    let approvals = store::approvals(&mut conn, &ticket.id).await.unwrap();
    assert_eq!(
        approvals,
        vec![f.ali.id, f.lena.id],
        "two different approvers"
    );
    drop(conn);

    // The review moves have told the borrower already; count from here.
    let told = notices(&f, "ticket_moved").await;
    let lent = disburse(ctx, &f.lena, &ticket.id, &meta()).await.unwrap();
    assert_eq!(lent.state, TicketState::Repaying);
    use TicketState::*;
    assert_eq!(
        states(&f, &ticket.id).await,
        vec![Draft, Submitted, UnderReview, Approved, Disbursed, Repaying]
    );
    assert_eq!(balance(&f, Account::FundCash).await, usdt("1000"));
    assert_eq!(
        balance(&f, Account::TicketReceivable(f.borrower.id)).await,
        usdt("6000")
    );
    assert_eq!(
        balance(&f, Account::LoanReceivable(f.borrower.id)).await,
        Amount::ZERO,
        "tickets are apart from the draw's loans"
    );
    let plan = schedule_of(ctx, &f.borrower, &ticket.id).await.unwrap();
    assert_eq!(plan.installments.len(), 12);
    assert!(plan.installments.iter().all(|i| i.amount == usdt("500")));
    assert_eq!(plan.outstanding, usdt("6000"));
    assert_eq!(
        notices(&f, "ticket_moved").await,
        told + 1,
        "told of the disbursement"
    );
    f.app.assert_books_verify().await;

    let first = repay(ctx, &f.borrower, &ticket.id, usdt("1250"), "pay-1", &meta())
        .await
        .unwrap();
    assert_eq!(
        first.applied,
        vec![(1, usdt("500")), (2, usdt("500")), (3, usdt("250"))]
    );
    assert_eq!(first.state, Repaying);
    assert_eq!(first.outstanding, usdt("4750"));
    f.app.assert_books_verify().await;
    // A reviewer records the rest for the borrower: the last repayment settles the ticket.
    let last = repay(ctx, &f.lena, &ticket.id, usdt("4750"), "pay-2", &meta())
        .await
        .unwrap();
    assert_eq!(last.state, Repaid);
    assert_eq!(last.outstanding, Amount::ZERO);
    assert_eq!(current(&f, &ticket.id).await.state, Repaid);
    assert_eq!(balance(&f, Account::FundCash).await, usdt("7000"));
    assert_eq!(
        balance(&f, Account::TicketReceivable(f.borrower.id)).await,
        Amount::ZERO
    );
    assert_eq!(postings(&f, &ticket.id).await, 3);
    assert_eq!(
        notices(&f, "ticket_moved").await,
        told + 2,
        "and of the settlement"
    );
    let plan = schedule_of(ctx, &f.borrower, &ticket.id).await.unwrap();
    assert!(plan
        .installments
        .iter()
        .all(|i| i.outstanding == Amount::ZERO));
    assert_eq!(plan.repayments.len(), 2);
    f.app.assert_books_verify().await;
    // Another member does not read the schedule.
    assert!(matches!(
        schedule_of(ctx, &f.other, &ticket.id).await,
        Err(TicketError::ScheduleHidden)
    ));
    // Nothing more is taken once repaid.
    assert!(matches!(
        repay(ctx, &f.borrower, &ticket.id, usdt("1"), "pay-3", &meta()).await,
        Err(TicketError::NotRepaying(Repaid))
    ));
}

async fn disbursement_is_refused_without_cash_and_to_the_borrower(backend: Backend) {
    let Some(f) = fund(backend, "20").await else {
        return;
    };
    let ctx = f.app.state.ctx();
    let ticket = approved(&f, 6_000).await;
    let told = notices(&f, "ticket_moved").await;
    let err = disburse(ctx, &f.ali, &ticket.id, &meta())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TicketError::InsufficientCash { cash, amount }
            if cash == usdt("20") && amount == usdt("6000")),
        "{err:?}"
    );
    let err = disburse(ctx, &f.borrower, &ticket.id, &meta())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TicketError::Transition(TransitionError::NotPermitted { .. })
        ),
        "{err:?}"
    );
    assert!(matches!(
        disburse(ctx, &f.other, &ticket.id, &meta()).await,
        Err(TicketError::NotYours)
    ));
    // Nothing was written: still approved, no schedule, no posting, cash untouched.
    assert_eq!(current(&f, &ticket.id).await.state, TicketState::Approved);
    assert_eq!(postings(&f, &ticket.id).await, 0);
    assert_eq!(
        scalar(
            &f,
            "SELECT COUNT(*) FROM ticket_installments WHERE ticket_id = $1",
            &ticket.id
        )
        .await,
        0
    );
    assert_eq!(balance(&f, Account::FundCash).await, usdt("20"));
    assert_eq!(
        notices(&f, "ticket_moved").await,
        told,
        "no notice of a refused payout"
    );
    // A ticket not yet approved is not disbursed either.
    let new = NewTicket {
        amount: Amount::whole(10),
        purpose: "books".into(),
        term_months: 2,
        payout_address: "TXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuV".into(),
    };
    let draft = create_draft(ctx, &f.borrower, new, &meta()).await.unwrap();
    assert!(matches!(
        disburse(ctx, &f.ali, &draft.id, &meta()).await,
        Err(TicketError::Transition(TransitionError::NotAllowed { .. }))
    ));
    f.app.assert_books_verify().await;
}

async fn concurrent_disbursements_post_once(backend: Backend) {
    let Some(f) = fund(backend, "7000").await else {
        return;
    };
    // Several rounds, each on its own ticket, the two reviewers' requests started together on
    // separate tasks: without the ticket's lock both would post (and one fail on the index).
    for _ in 0..5 {
        let ticket = approved(&f, 100).await;
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks = [f.ali.clone(), f.lena.clone()].map(|reviewer| {
            let (ctx, id, start) = (f.app.state.ctx().clone(), ticket.id.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                disburse(&ctx, &reviewer, &id, &meta()).await
            })
        });
        for task in tasks {
            let done = task.await.unwrap().expect("both requests succeed");
            assert_eq!(done.state, TicketState::Repaying);
        }
        assert_eq!(postings(&f, &ticket.id).await, 1, "one ledger transaction");
        assert_eq!(
            scalar(
                &f,
                "SELECT COUNT(*) FROM ticket_installments WHERE ticket_id = $1",
                &ticket.id
            )
            .await,
            12
        );
        assert_eq!(
            scalar(
                &f,
                "SELECT COUNT(*) FROM ticket_history WHERE ticket_id = $1 AND to_state = 'disbursed'",
                &ticket.id
            )
            .await,
            1
        );
    }
    assert_eq!(balance(&f, Account::FundCash).await, usdt("6500"));
    f.app.assert_books_verify().await;
}

async fn a_repayment_key_counts_once_and_overpayment_writes_nothing(backend: Backend) {
    let Some(f) = fund(backend, "7000").await else {
        return;
    };
    let ctx = f.app.state.ctx();
    let ticket = approved(&f, 600).await;
    disburse(ctx, &f.ali, &ticket.id, &meta()).await.unwrap();
    let once = repay(ctx, &f.borrower, &ticket.id, usdt("70"), "k-1", &meta())
        .await
        .unwrap();
    assert!(!once.replayed);
    let again = repay(ctx, &f.borrower, &ticket.id, usdt("70"), "k-1", &meta())
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.repayment, once.repayment);
    assert_eq!(again.outstanding, usdt("530"));
    assert!(matches!(
        repay(ctx, &f.borrower, &ticket.id, usdt("71"), "k-1", &meta()).await,
        Err(TicketError::RepaymentKeyReused { amount }) if amount == usdt("70")
    ));
    let repayments = "SELECT COUNT(*) FROM ticket_repayments WHERE ticket_id = $1";
    assert_eq!(scalar(&f, repayments, &ticket.id).await, 1);
    assert_eq!(postings(&f, &ticket.id).await, 2);

    // More than the 530 owed: refused whole.
    let err = repay(
        ctx,
        &f.borrower,
        &ticket.id,
        usdt("530.00000001"),
        "k-2",
        &meta(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, TicketError::Schedule(ScheduleError::Overpayment { owed }) if owed == usdt("530")),
        "{err:?}"
    );
    for bad in [Amount::ZERO, usdt("-5")] {
        assert!(matches!(
            repay(ctx, &f.borrower, &ticket.id, bad, "k-3", &meta()).await,
            Err(TicketError::Schedule(ScheduleError::NotPositive))
        ));
    }
    assert!(matches!(
        repay(ctx, &f.borrower, &ticket.id, usdt("1"), "  ", &meta()).await,
        Err(TicketError::RepaymentKeyInvalid { .. })
    ));
    assert!(matches!(
        repay(ctx, &f.other, &ticket.id, usdt("1"), "k-4", &meta()).await,
        Err(TicketError::NotYours)
    ));
    assert_eq!(scalar(&f, repayments, &ticket.id).await, 1);
    assert_eq!(postings(&f, &ticket.id).await, 2);
    let paid = "SELECT CAST(SUM(paid) AS BIGINT) FROM ticket_installments WHERE ticket_id = $1";
    assert_eq!(scalar(&f, paid, &ticket.id).await, 70 * 100_000_000);
    assert_eq!(balance(&f, Account::FundCash).await, usdt("6470"));
    // A lender may not declare a default (admins and the system do), an admin may.
    assert!(matches!(
        mark_default(ctx, &f.lena, &ticket.id, "gone", &meta()).await,
        Err(TicketError::Transition(
            TransitionError::NotPermitted { .. }
        ))
    ));
    let gone = mark_default(ctx, &f.ali, &ticket.id, "no payment since", &meta())
        .await
        .unwrap();
    assert_eq!(gone.state, TicketState::Defaulted);
    f.app.assert_books_verify().await;
}

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

async fn lateness(f: &Fund, id: &str) -> (i64, String) {
    let mut conn = f.app.state.db.pool.acquire().await.unwrap();
    let s = loan_store::status(&mut conn, id).await.unwrap().unwrap();
    (s.days_past_due, s.delinquency)
}

async fn the_daily_job_buckets_late_tickets_and_reminds_once(backend: Backend) {
    let Some(f) = fund(backend, "7000").await else {
        return;
    };
    let ctx = f.app.state.ctx();
    // Disbursed on 1 Azar 1405 (22 November 2026, the fund in UTC): installments are due on
    // the 1st of each next month, 1 Dey = 22 December 2026 first; reminders 3 days before.
    assert_eq!(ctx.config.tickets.reminder_days_before, 3);
    let ticket = approved(&f, 1_200).await;
    let paid_up = approved(&f, 1_200).await;
    disburse(ctx, &f.ali, &ticket.id, &meta()).await.unwrap();
    disburse(ctx, &f.ali, &paid_up.id, &meta()).await.unwrap();
    let plan = schedule_of(ctx, &f.borrower, &ticket.id).await.unwrap();
    assert_eq!(
        plan.installments[0].due_on,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 22).unwrap()
    );

    f.app.clock.set(utc(2026, 12, 18));
    assert_eq!(daily::run(ctx).await.unwrap().reminded, 0, "4 days before");
    f.app.clock.set(utc(2026, 12, 19));
    assert_eq!(daily::run(ctx).await.unwrap().reminded, 2, "one per ticket");
    assert_eq!(notices(&f, "ticket_installment_due").await, 2);
    f.app.clock.set(utc(2026, 12, 20));
    assert_eq!(daily::run(ctx).await.unwrap().reminded, 0, "each once");
    assert_eq!(notices(&f, "ticket_installment_due").await, 2);

    // One ticket is paid on time, the other not.
    repay(
        ctx,
        &f.borrower,
        &paid_up.id,
        usdt("100"),
        "on-time",
        &meta(),
    )
    .await
    .unwrap();
    f.app.clock.set(utc(2026, 12, 22));
    daily::run(ctx).await.unwrap();
    assert_eq!(
        lateness(&f, &ticket.id).await,
        (0, "current".into()),
        "due today"
    );
    for (day, days, bucket) in [
        (utc(2026, 12, 23), 1, Delinquency::Days1To30),
        (utc(2027, 1, 21), 30, Delinquency::Days1To30),
        (utc(2027, 1, 22), 31, Delinquency::Days31To60),
        (utc(2027, 2, 21), 61, Delinquency::Days61To90),
        (utc(2027, 3, 23), 91, Delinquency::Over90),
    ] {
        f.app.clock.set(day);
        let done = daily::run(ctx).await.unwrap();
        assert!(done.lateness_changed >= 1, "{day}");
        assert_eq!(
            lateness(&f, &ticket.id).await,
            (days, bucket.as_str().to_string()),
            "{day}"
        );
        assert_eq!(
            schedule_of(ctx, &f.borrower, &ticket.id)
                .await
                .unwrap()
                .delinquency,
            bucket
        );
        // The same day again changes nothing.
        assert_eq!(daily::run(ctx).await.unwrap().lateness_changed, 0);
    }
    // The other ticket, one installment paid, is late since 1 Bahman (21 January 2027).
    assert_eq!(
        lateness(&f, &paid_up.id).await,
        (61, Delinquency::Days61To90.as_str().to_string())
    );
    // Catching up on the four installments due so far makes the late ticket current at once.
    repay(
        ctx,
        &f.borrower,
        &ticket.id,
        usdt("400"),
        "catch-up",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(lateness(&f, &ticket.id).await, (0, "current".into()));
    assert_eq!(daily::run(ctx).await.unwrap().lateness_changed, 0);
    f.app.assert_books_verify().await;
}

async fn a_tickets_fee_is_the_funds_income(backend: Backend) {
    let Some(f) = fund_with(backend, "1000", |c| {
        c.tickets.pricing = Pricing::FlatFee(Amount::whole(12));
    })
    .await
    else {
        return;
    };
    let ctx = f.app.state.ctx();
    let ticket = approved(&f, 600).await;
    disburse(ctx, &f.ali, &ticket.id, &meta()).await.unwrap();
    // The borrower owes the principal and the fee; only the principal left the cash.
    assert_eq!(balance(&f, Account::FundCash).await, usdt("400"));
    assert_eq!(
        balance(&f, Account::TicketReceivable(f.borrower.id)).await,
        usdt("612")
    );
    assert_eq!(balance(&f, Account::TicketIncome).await, usdt("12"));
    let plan = schedule_of(ctx, &f.borrower, &ticket.id).await.unwrap();
    assert_eq!(plan.installments[0].amount, usdt("51"));
    f.app.assert_books_verify().await;
    let done = repay(ctx, &f.borrower, &ticket.id, usdt("612"), "all", &meta())
        .await
        .unwrap();
    assert_eq!(done.state, TicketState::Repaid);
    assert_eq!(balance(&f, Account::FundCash).await, usdt("1012"));
    f.app.assert_books_verify().await;
}
