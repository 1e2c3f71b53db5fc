//! A loan-request ticket taken to `repaying`, for the tests that need a loan being repaid.

use reqwest::StatusCode;
use saghat_core::auth::store::find_active_user;
use saghat_core::auth::CurrentUser;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::loans::disburse;
use saghat_core::tickets::service::{approve, create_draft, move_ticket, submit, NewTicket};
use saghat_core::tickets::state::TicketState;
use serde_json::json;

use crate::{TestApp, PASSWORD};

pub struct RepayingTicket {
    pub borrower: CurrentUser,
    /// The borrower, signed in on /api.
    pub token: String,
    pub ticket_id: String,
}

/// `borrower` (a new member) borrows `whole` USDT over 12 months from a fund the admin pays
/// 5 000 USDT into (once a month): applied, reviewed, approved (by a lender too when a flag asks for two) and
/// paid out.
pub async fn repaying_ticket(
    app: &TestApp,
    admin: &str,
    borrower: &str,
    purpose: &str,
    whole: i64,
) -> RepayingTicket {
    let (borrower_id, token) = app.member(admin, borrower, "0").await;
    let (status, body) = app.pay(admin, "5000", None).await;
    // A second ticket in the month finds the admin's 5 000 already paid in.
    assert!(
        status == StatusCode::CREATED || status == StatusCode::CONFLICT,
        "{body}"
    );
    let ctx = app.state.ctx();
    let user = |id: i64| async move { find_active_user(&app.state.db, id).await.unwrap().unwrap() };
    let borrower = user(borrower_id).await;
    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username_key = 'admin'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let admin_user = user(admin_id).await;
    let meta = RequestMeta::default();
    let new = NewTicket {
        amount: Amount::whole(whole),
        purpose: purpose.into(),
        term_months: 12,
        payout_address: "TXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuV".into(),
    };
    let draft = create_draft(ctx, &borrower, new, &meta).await.unwrap();
    submit(ctx, &borrower, &draft.id, &meta).await.unwrap();
    move_ticket(
        ctx,
        &admin_user,
        &draft.id,
        TicketState::UnderReview,
        "",
        &meta,
    )
    .await
    .unwrap();
    let mut approved = approve(ctx, &admin_user, &draft.id, &meta).await.unwrap();
    if approved.state != TicketState::Approved {
        // A flag on a new borrower asks for a second reviewer.
        let (status, lender) = app
            .post(
                "/api/auth/users",
                admin,
                json!({ "username": format!("{}-lender", borrower.username), "password": PASSWORD, "role": "lender" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{lender}");
        let lender = user(lender["id"].as_i64().unwrap()).await;
        approved = approve(ctx, &lender, &draft.id, &meta).await.unwrap();
    }
    assert_eq!(approved.state, TicketState::Approved);
    let lent = disburse(ctx, &admin_user, &draft.id, &meta).await.unwrap();
    assert_eq!(lent.state, TicketState::Repaying);
    RepayingTicket {
        borrower,
        token,
        ticket_id: draft.id,
    }
}
