//! `/api/tickets` over real HTTP (issue 11, point 8's API): every endpoint, each role's access,
//! 422 on the field for bad input, 409 for refused moves, and a full flow to `approved` with
//! two lenders above the 5 000 USDT threshold. On SQLite and PostgreSQL.

use saghat_test_support as common;

use common::{Backend, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

common::on_both_databases!(
    a_large_ticket_is_approved_by_two_different_lenders,
    every_move_answers_the_ticket_and_a_retry_changes_nothing,
    each_role_reads_and_moves_only_what_it_may,
    bad_input_is_422_on_its_field_and_writes_nothing,
    refused_moves_are_409_and_name_the_states,
    lists_filter_page_and_the_queue_orders_by_deadline,
    a_ticket_is_disbursed_repaid_and_defaulted,
    comments_and_internal_notes_over_http,
    attachments_over_http,
);

struct Fund {
    app: TestApp,
    admin: String,
    lena: String,
    leo: String,
    accountant: String,
    /// The borrower and another member.
    reza: String,
    reza_id: i64,
    mina: String,
    mina_id: i64,
    lena_id: i64,
    leo_id: i64,
}

async fn user_with_role(app: &TestApp, admin: &str, username: &str, role: &str) -> (i64, String) {
    let (status, body) = app
        .post(
            "/api/auth/users",
            admin,
            json!({ "username": username, "password": PASSWORD, "role": role }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["id"].as_i64().unwrap(),
        app.login(username, PASSWORD).await,
    )
}

async fn fund(backend: Backend) -> Option<Fund> {
    // Tokens that outlive the days the clock is moved forward.
    let app = TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await?;
    let admin = app.admin_token().await;
    let (lena_id, lena) = user_with_role(&app, &admin, "lena", "lender").await;
    let (leo_id, leo) = user_with_role(&app, &admin, "leo", "lender").await;
    let (_, accountant) = user_with_role(&app, &admin, "books", "accountant").await;
    let (reza_id, reza) = app.member(&admin, "reza", "0").await;
    let (mina_id, mina) = app.member(&admin, "mina", "0").await;
    Some(Fund {
        app,
        admin,
        lena,
        leo,
        accountant,
        reza,
        reza_id,
        mina,
        mina_id,
        lena_id,
        leo_id,
    })
}

/// A ticket of `amount` for 2 months by reza, approved (by as many lenders as it needs).
async fn approved(f: &Fund, amount: &str, address: &str) -> String {
    let (status, body) = f
        .app
        .post(
            "/api/tickets",
            &f.reza,
            json!({ "amount": amount, "purpose": "tools", "term_months": 2, "payout_address": address }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(moved(f, &f.reza, &id, "submit").await, "submitted");
    assert_eq!(moved(f, &f.lena, &id, "review").await, "under_review");
    let state = moved(f, &f.lena, &id, "approve").await;
    if state != "approved" {
        assert_eq!(moved(f, &f.leo, &id, "approve").await, "approved");
    }
    id
}

async fn repay(
    f: &Fund,
    token: &str,
    id: &str,
    amount: &str,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = f
        .app
        .http
        .post(f.app.url(&format!("/api/tickets/{id}/repayments")))
        .bearer_auth(token)
        .json(&json!({ "amount": amount }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn application(amount: &str, address: &str) -> Value {
    json!({
        "amount": amount,
        "purpose": "a new roof before winter",
        "term_months": 12,
        "payout_address": address,
    })
}

/// A draft of `amount` by the holder of `token`; returns its id.
async fn draft(f: &Fund, token: &str, amount: &str, address: &str) -> String {
    let (status, body) = f
        .app
        .post("/api/tickets", token, application(amount, address))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// POSTs a move without a body.
async fn act(f: &Fund, token: &str, id: &str, action: &str) -> (StatusCode, Value) {
    f.app
        .call(
            Method::POST,
            &format!("/api/tickets/{id}/{action}"),
            Some(token),
            None,
        )
        .await
}

async fn act_with_reason(
    f: &Fund,
    token: &str,
    id: &str,
    action: &str,
    reason: &str,
) -> (StatusCode, Value) {
    f.app
        .post(
            &format!("/api/tickets/{id}/{action}"),
            token,
            json!({ "reason": reason }),
        )
        .await
}

/// Asserts the move succeeded (200) and returns the ticket's new state.
async fn moved(f: &Fund, token: &str, id: &str, action: &str) -> String {
    let (status, body) = act(f, token, id, action).await;
    assert_eq!(status, StatusCode::OK, "{action}: {body}");
    body["state"].as_str().unwrap().to_string()
}

async fn view(f: &Fund, token: &str, id: &str) -> Value {
    let (status, body) = f.app.get(&format!("/api/tickets/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn history_states(view: &Value) -> Vec<String> {
    view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to_state"].as_str().unwrap().to_string())
        .collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// The 422 body's fields (`loc`'s last part), in order.
fn fields(body: &Value) -> Vec<String> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("not a 422 list: {body}"))
        .iter()
        .map(|p| {
            p["loc"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

async fn a_large_ticket_is_approved_by_two_different_lenders(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let (status, created) = f
        .app
        .post(
            "/api/tickets",
            &f.reza,
            application("6000", "TXa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuV"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["state"], "draft");
    assert_eq!(created["amount"], "6000.00000000", "amounts are strings");
    assert_eq!(created["currency"], "USDT");
    assert_eq!(created["borrower_id"], f.reza_id);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["reference"], id[..8]);

    assert_eq!(moved(&f, &f.reza, &id, "submit").await, "submitted");
    assert_eq!(moved(&f, &f.lena, &id, "review").await, "under_review");
    assert_eq!(view(&f, &f.lena, &id).await["approvals_needed"], 2);

    // The first approval is recorded; the ticket waits for a second lender.
    assert_eq!(moved(&f, &f.lena, &id, "approve").await, "under_review");
    let (status, body) = act(&f, &f.lena, &id, "approve").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("another lender"),
        "{body}"
    );
    let (status, body) = act(&f, &f.reza, &id, "approve").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the borrower: {body}");
    assert_eq!(
        view(&f, &f.lena, &id).await["ticket"]["state"],
        "under_review"
    );

    assert_eq!(moved(&f, &f.leo, &id, "approve").await, "approved");
    // The second lender's retry answers the ticket as it is; a third approver is refused.
    assert_eq!(moved(&f, &f.leo, &id, "approve").await, "approved");
    let (status, body) = act(&f, &f.admin, &id, "approve").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let page = view(&f, &f.lena, &id).await;
    assert_eq!(page["ticket"]["state"], "approved");
    assert_eq!(
        history_states(&page),
        ["draft", "submitted", "under_review", "approved"]
    );
    assert_eq!(page["approvals"], json!([f.lena_id, f.leo_id]));
    let history = page["history"].as_array().unwrap();
    assert_eq!(history[0]["actor_user_id"], f.reza_id);
    assert_eq!(history[3]["actor_user_id"], f.leo_id);
    assert_eq!(history[3]["from_state"], "under_review");
    let phases: Vec<&str> = page["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["first_response", "decision"]);
    assert!(page["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["status"] == "met"));
    // A new account asking for 6 000: a fraud flag, explained, for the reviewers.
    let flags = page["flags"].as_array().unwrap();
    assert!(!flags.is_empty(), "{page}");
    assert!(flags
        .iter()
        .all(|fl| !fl["explanation_en"].as_str().unwrap().is_empty() && fl["inputs"].is_object()));
    assert_eq!(f.app.count("ticket_approvals").await, 2);
}

async fn every_move_answers_the_ticket_and_a_retry_changes_nothing(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let id = draft(&f, &f.reza, "100", "TRezaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.reza, &id, "submit").await, "submitted");
    assert_eq!(
        moved(&f, &f.reza, &id, "submit").await,
        "submitted",
        "retry"
    );
    assert_eq!(moved(&f, &f.lena, &id, "review").await, "under_review");
    assert_eq!(
        moved(&f, &f.leo, &id, "review").await,
        "under_review",
        "retry"
    );

    let (status, body) =
        act_with_reason(&f, &f.lena, &id, "needs-info", " a payslip, please ").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "needs_info");
    let page = view(&f, &f.reza, &id).await;
    let last = page["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "a payslip, please", "kept trimmed");
    assert!(page["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["status"] == "paused"));

    // Sent back: submitted again, reviewed, rejected with a reason.
    assert_eq!(moved(&f, &f.reza, &id, "submit").await, "submitted");
    assert_eq!(moved(&f, &f.admin, &id, "review").await, "under_review");
    let (status, body) = act_with_reason(&f, &f.leo, &id, "reject", "income too low").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "rejected");
    let (status, body) = act_with_reason(&f, &f.leo, &id, "reject", "income too low").await;
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::OK, &json!("rejected")),
        "retry"
    );
    let page = view(&f, &f.reza, &id).await;
    assert_eq!(
        history_states(&page),
        [
            "draft",
            "submitted",
            "under_review",
            "needs_info",
            "submitted",
            "under_review",
            "rejected"
        ],
        "retries add no history"
    );

    // The borrower withdraws another application, once.
    let other = draft(&f, &f.reza, "50", "TRezaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.reza, &other, "submit").await, "submitted");
    assert_eq!(moved(&f, &f.reza, &other, "withdraw").await, "withdrawn");
    assert_eq!(
        moved(&f, &f.reza, &other, "withdraw").await,
        "withdrawn",
        "retry"
    );
    let page = view(&f, &f.reza, &other).await;
    assert_eq!(history_states(&page), ["draft", "submitted", "withdrawn"]);

    // A small ticket with no high flag needs one approver.
    let small = draft(&f, &f.mina, "10", "TMinaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.mina, &small, "submit").await, "submitted");
    assert_eq!(moved(&f, &f.lena, &small, "review").await, "under_review");
    let page = view(&f, &f.lena, &small).await;
    assert_eq!(page["approvals_needed"], 1, "{page}");
    assert_eq!(moved(&f, &f.lena, &small, "approve").await, "approved");
    assert_eq!(
        moved(&f, &f.lena, &small, "approve").await,
        "approved",
        "retry"
    );
    assert_eq!(
        view(&f, &f.mina, &small).await["history"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

async fn each_role_reads_and_moves_only_what_it_may(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    // 6 000 from a new account: flagged.
    let id = draft(&f, &f.reza, "6000", "TRezaPayoutAddress000000000000001").await;
    let mine = draft(&f, &f.mina, "10", "TMinaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.reza, &id, "submit").await, "submitted");

    // Nobody without a token.
    let (status, _) = f.app.call(Method::GET, "/api/tickets", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = f
        .app
        .call(Method::GET, &format!("/api/tickets/{id}"), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Another member: the ticket does not exist for them, read or move.
    let (status, body) = f.app.get(&format!("/api/tickets/{id}"), &f.mina).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for action in ["submit", "review", "withdraw", "approve"] {
        let (status, body) = act(&f, &f.mina, &id, action).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {body}");
    }
    let (status, _) = act_with_reason(&f, &f.mina, &id, "reject", "no").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = f.app.get("/api/tickets", &f.mina).await;
    assert_eq!(ids(&list), [mine.as_str()], "a member lists only their own");
    assert_eq!(list["total"], 1);
    let (_, list) = f
        .app
        .get(&format!("/api/tickets?borrower_id={}", f.reza_id), &f.mina)
        .await;
    assert_eq!(
        ids(&list),
        [mine.as_str()],
        "the borrower filter cannot widen it"
    );

    // The borrower reads their ticket without the fraud flags or the approvals.
    let page = view(&f, &f.reza, &id).await;
    assert_eq!(page["flags"], json!([]));
    assert_eq!(page["approvals_needed"], Value::Null);
    assert_eq!(page["ticket"]["flag_severity"], Value::Null);
    let (status, body) = f.app.get("/api/tickets?flagged=true", &f.reza).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["flagged"]);
    // The borrower may not review their own ticket.
    let (status, body) = act(&f, &f.reza, &id, "review").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The accountant reads everything, flags included, and moves nothing.
    let page = view(&f, &f.accountant, &id).await;
    assert!(!page["flags"].as_array().unwrap().is_empty(), "{page}");
    assert!(page["ticket"]["flag_severity"].is_string());
    let (_, list) = f.app.get("/api/tickets", &f.accountant).await;
    assert_eq!(list["total"], 2);
    for action in ["submit", "review", "withdraw", "approve"] {
        let (status, body) = act(&f, &f.accountant, &id, action).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
    }
    let (status, _) = act_with_reason(&f, &f.accountant, &id, "needs-info", "why").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Neither an accountant nor a lender is a fund member: neither applies for a loan.
    for token in [&f.accountant, &f.lena] {
        let (status, body) = f
            .app
            .post(
                "/api/tickets",
                token,
                application("10", "TLenderAddress00000000000000001"),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    // A lender cannot submit or withdraw someone's ticket.
    for action in ["submit", "withdraw"] {
        let (status, body) = act(&f, &f.lena, &mine, action).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
    }
    // Lenders and admins read and review every ticket; the admin may also borrow.
    let (_, list) = f.app.get("/api/tickets", &f.lena).await;
    assert_eq!(list["total"], 2);
    assert_eq!(moved(&f, &f.admin, &id, "review").await, "under_review");
    let admins = draft(&f, &f.admin, "10", "TAdminPayoutAddress00000000000001").await;
    assert_eq!(
        view(&f, &f.admin, &admins).await["ticket"]["state"],
        "draft"
    );
    assert_eq!(
        f.app.count("tickets").await,
        3,
        "the refused writes wrote nothing"
    );
}

async fn bad_input_is_422_on_its_field_and_writes_nothing(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let ok = application("100", "TRezaPayoutAddress000000000000001");
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("amount", json!("abc")), "amount"),
        (with("amount", json!("-1")), "amount"),
        (with("amount", json!("0")), "amount"),
        (with("amount", json!(0)), "amount"),
        (with("amount", json!("1.123456789")), "amount"),
        (with("amount", json!("99999999999999999999")), "amount"),
        (with("amount", json!({ "x": 1 })), "amount"),
        (with("term_months", json!(0)), "term_months"),
        (with("term_months", json!(361)), "term_months"),
        (with("term_months", json!("twelve")), "term_months"),
        (with("purpose", json!("")), "purpose"),
        (with("purpose", json!("   ")), "purpose"),
        (with("purpose", json!("x".repeat(2_001))), "purpose"),
        (
            with("payout_address", json!("not an address!")),
            "payout_address",
        ),
        (with("payout_address", json!("")), "payout_address"),
        (
            with("payout_address", json!("T".repeat(129))),
            "payout_address",
        ),
        (with("surprise", json!(1)), "surprise"),
    ];
    for (body, field) in cases {
        let (status, answer) = f.app.post("/api/tickets", &f.reza, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(fields(&answer), [field], "{body}: {answer}");
    }
    let (status, answer) = f.app.post("/api/tickets", &f.reza, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&answer),
        ["amount", "purpose", "term_months", "payout_address"]
    );
    let (status, _) = f.app.post_raw("/api/tickets", &f.reza, "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(f.app.count("tickets").await, 0);

    // A reason is required to send back or reject.
    let id = draft(&f, &f.reza, "100", "TRezaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.reza, &id, "submit").await, "submitted");
    assert_eq!(moved(&f, &f.lena, &id, "review").await, "under_review");
    for action in ["needs-info", "reject"] {
        for body in [
            json!({}),
            json!({ "reason": "" }),
            json!({ "reason": "  " }),
            json!({ "reason": "x".repeat(2_001) }),
        ] {
            let (status, answer) = f
                .app
                .post(
                    &format!("/api/tickets/{id}/{action}"),
                    &f.lena,
                    body.clone(),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{action} {body}: {answer}"
            );
            assert_eq!(fields(&answer), ["reason"]);
        }
    }
    assert_eq!(
        view(&f, &f.lena, &id).await["ticket"]["state"],
        "under_review"
    );

    // Bad filters, each named.
    for (query, field) in [
        ("state=open", "state"),
        ("state=submitted,open", "state"),
        ("state=", "state"),
        ("state=submitted,,draft", "state"),
        ("flagged=yes", "flagged"),
        ("breached=1", "breached"),
        ("queue=maybe", "queue"),
        ("borrower_id=x", "borrower_id"),
        ("min_amount=abc", "min_amount"),
        ("max_amount=1.123456789", "max_amount"),
        ("min_amount=99999999999999999999", "min_amount"),
        ("created_from=yesterday", "created_from"),
        ("created_until=2026-13-01", "created_until"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
    ] {
        let (status, answer) = f.app.get(&format!("/api/tickets?{query}"), &f.lena).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {answer}"
        );
        assert_eq!(fields(&answer), [field], "{query}: {answer}");
    }

    // A path that is not a ticket's id names no ticket.
    for path in [
        "/api/tickets/not-a-uuid",
        "/api/tickets/00000000-0000-0000-0000-000000000000",
    ] {
        let (status, body) = f.app.get(path, &f.lena).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        let (status, body) = act(&f, &f.lena, &path["/api/tickets/".len()..], "review").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

async fn refused_moves_are_409_and_name_the_states(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let id = draft(&f, &f.reza, "100", "TRezaPayoutAddress000000000000001").await;
    for (token, action, from, to) in [
        (&f.lena, "approve", "draft", "approved"),
        (&f.lena, "review", "draft", "under_review"),
    ] {
        let (status, body) = act(&f, token, &id, action).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("from {from} to {to}")), "{detail}");
    }
    let (status, body) = act_with_reason(&f, &f.lena, &id, "reject", "no").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["detail"],
        "A draft ticket cannot be rejected: there is no move from draft to rejected"
    );
    assert_eq!(moved(&f, &f.reza, &id, "submit").await, "submitted");
    let (status, body) = act(&f, &f.lena, &id, "approve").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "approve before review: {body}"
    );
    assert_eq!(moved(&f, &f.lena, &id, "review").await, "under_review");
    let (status, _) = act_with_reason(&f, &f.lena, &id, "reject", "no").await;
    assert_eq!(status, StatusCode::OK);
    for action in ["withdraw", "submit"] {
        let (status, body) = act(&f, &f.reza, &id, action).await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{action} a rejected ticket: {body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("from rejected"),
            "{body}"
        );
    }
    let (status, _) = act(&f, &f.lena, &id, "approve").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let page = view(&f, &f.lena, &id).await;
    assert_eq!(
        history_states(&page),
        ["draft", "submitted", "under_review", "rejected"],
        "refused moves wrote nothing"
    );
}

async fn lists_filter_page_and_the_queue_orders_by_deadline(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    // reza: 6 000 (flagged: a new account asking a lot), made and submitted first; mina: 10,
    // made and submitted an hour later, then taken under review; a draft of 300 two days later.
    let big = draft(&f, &f.reza, "6000", "TRezaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.reza, &big, "submit").await, "submitted");
    f.app.clock.advance(chrono::Duration::hours(1));
    let small = draft(&f, &f.mina, "10", "TMinaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.mina, &small, "submit").await, "submitted");
    f.app.advance_days(2);
    let later = draft(&f, &f.reza, "300", "TRezaPayoutAddress000000000000001").await;

    let list = |query: String| {
        let app = &f.app;
        let token = f.lena.clone();
        async move {
            let (status, body) = app.get(&format!("/api/tickets{query}"), &token).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body
        }
    };
    let all = list(String::new()).await;
    assert_eq!(
        ids(&all),
        [later.as_str(), small.as_str(), big.as_str()],
        "newest first"
    );
    assert_eq!(all["total"], 3);
    assert_eq!(all["total_exact"], true);
    assert_eq!(all["limit"], 100);

    // The queue: only the two whose clock runs, the earlier deadline first.
    let queue = list("?queue=true".into()).await;
    assert_eq!(ids(&queue), [big.as_str(), small.as_str()]);
    let due: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["sla_due_at"].as_str().unwrap())
        .collect();
    assert!(due[0] <= due[1], "{due:?}");
    assert_eq!(moved(&f, &f.lena, &small, "review").await, "under_review");

    let states = list("?state=draft&state=under_review".into()).await;
    assert_eq!(ids(&states), [later.as_str(), small.as_str()]);
    let states = list("?state=submitted,draft".into()).await;
    assert_eq!(ids(&states), [later.as_str(), big.as_str()]);
    assert_eq!(
        ids(&list("?state=under_review".into()).await),
        [small.as_str()]
    );

    assert_eq!(
        ids(&list("?min_amount=300".into()).await),
        [later.as_str(), big.as_str()]
    );
    assert_eq!(
        ids(&list("?max_amount=300.00000000".into()).await),
        [later.as_str(), small.as_str()]
    );
    assert_eq!(
        ids(&list("?min_amount=11&max_amount=5999.99".into()).await),
        [later.as_str()]
    );
    assert_eq!(
        ids(&list(format!("?borrower_id={}", f.mina_id)).await),
        [small.as_str()]
    );
    assert_eq!(
        ids(&list(format!("?borrower_id={}&state=draft", f.reza_id)).await),
        [later.as_str()]
    );

    // The first was made on 22 November at noon, the second at 13:00, the third two days later.
    assert_eq!(
        ids(&list("?created_from=2026-11-23".into()).await),
        [later.as_str()]
    );
    // `created_from` is inclusive, `created_until` exclusive.
    assert_eq!(
        ids(&list("?created_until=2026-11-22T13:00:00Z".into()).await),
        [big.as_str()]
    );
    assert_eq!(
        ids(&list("?created_from=2026-11-22T13:00:00Z&created_until=2026-11-23".into()).await),
        [small.as_str()]
    );

    // Flagged and not flagged split the list.
    let flagged = ids(&list("?flagged=true".into()).await);
    let clean = ids(&list("?flagged=false".into()).await);
    assert!(flagged.contains(&big), "{flagged:?}");
    assert_eq!(flagged.len() + clean.len(), 3);
    assert!(flagged.iter().all(|id| !clean.contains(id)));
    // The small one was taken under review two days after it was submitted: its first
    // response breached (marked by that move).
    assert_eq!(ids(&list("?breached=true".into()).await), [small.as_str()]);
    assert_eq!(
        ids(&list("?breached=false".into()).await),
        [later.as_str(), big.as_str()]
    );

    // Pages: the total counts every match.
    let page = list("?limit=2&offset=1".into()).await;
    assert_eq!(ids(&page), [small.as_str(), big.as_str()]);
    assert_eq!(
        (
            page["total"].as_i64(),
            page["limit"].as_i64(),
            page["offset"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let page = list("?limit=2&offset=3".into()).await;
    assert_eq!(ids(&page), Vec::<String>::new());
    assert_eq!(page["total"], 3);

    // The borrower's own list, by state.
    let (_, own) = f.app.get("/api/tickets?state=draft", &f.reza).await;
    assert_eq!(ids(&own), [later]);
}

async fn a_ticket_is_disbursed_repaid_and_defaulted(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    // The fund's cash: the admin's fee of 1 000.
    assert_eq!(
        f.app.pay(&f.admin, "1000", None).await.0,
        StatusCode::CREATED
    );
    let id = approved(&f, "100", "TRezaPayoutAddress000000000000001").await;
    let schedule_of = |token: String| {
        let path = format!("/api/tickets/{id}/schedule");
        let app = &f.app;
        async move { app.get(&path, &token).await }
    };
    let (status, schedule) = schedule_of(f.reza.clone()).await;
    assert_eq!(status, StatusCode::OK, "{schedule}");
    assert_eq!(
        schedule["installments"],
        json!([]),
        "nothing before disbursement"
    );

    // Only a reviewer disburses; a member who is not the borrower learns nothing.
    for (token, expected) in [
        (&f.reza, StatusCode::FORBIDDEN),
        (&f.accountant, StatusCode::FORBIDDEN),
        (&f.mina, StatusCode::NOT_FOUND),
    ] {
        let (status, body) = act(&f, token, &id, "disburse").await;
        assert_eq!(status, expected, "{body}");
    }
    assert_eq!(moved(&f, &f.lena, &id, "disburse").await, "repaying");
    assert_eq!(
        moved(&f, &f.leo, &id, "disburse").await,
        "repaying",
        "retry"
    );
    let (status, schedule) = schedule_of(f.accountant.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let installments = schedule["installments"].as_array().unwrap();
    assert_eq!(installments.len(), 2, "{schedule}");
    assert_eq!(installments[0]["amount"], "50.00000000");
    assert_eq!(schedule["outstanding"], "100.00000000");
    assert_eq!(schedule["delinquency"], "current");
    assert_eq!(schedule_of(f.mina.clone()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        history_states(&view(&f, &f.reza, &id).await)[4..],
        ["disbursed", "repaying"]
    );

    // Repayments: the key is required, the amount positive and at most what is owed.
    let (status, body) = repay(&f, &f.reza, &id, "30", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["header", "Idempotency-Key"])
    );
    let (status, body) = repay(&f, &f.reza, &id, "0", Some("k0")).await;
    assert_eq!(
        (status, fields(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["amount".to_string()])
    );
    let (status, body) = repay(&f, &f.reza, &id, "100.00000001", Some("k0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "overpayment: {body}");
    let (status, body) = repay(&f, &f.accountant, &id, "30", Some("k0")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = repay(&f, &f.mina, &id, "30", Some("k0")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        f.app.count("ticket_repayments").await,
        0,
        "refusals wrote nothing"
    );

    let (status, first) = repay(&f, &f.reza, &id, "30", Some("k1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        first["applied"],
        json!([{ "number": 1, "amount": "30.00000000" }])
    );
    assert_eq!(
        (&first["outstanding"], &first["replayed"]),
        (&json!("70.00000000"), &json!(false))
    );
    let (status, again) = repay(&f, &f.reza, &id, "30", Some("k1")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["replayed"], true);
    assert_eq!(again["repayment"]["id"], first["repayment"]["id"]);
    let (status, body) = repay(&f, &f.reza, &id, "40", Some("k1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["type"], "idempotency_key_reused");
    let (status, last) = repay(&f, &f.lena, &id, "70", Some("k2")).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a lender records it for the borrower: {last}"
    );
    assert_eq!(
        (&last["state"], &last["outstanding"]),
        (&json!("repaid"), &json!("0.00000000"))
    );
    assert_eq!(f.app.count("ticket_repayments").await, 2);
    let (status, body) = repay(&f, &f.reza, &id, "1", Some("k3")).await;
    assert_eq!(status, StatusCode::CONFLICT, "repaid: {body}");
    let (_, schedule) = schedule_of(f.reza.clone()).await;
    assert_eq!(schedule["repayments"].as_array().unwrap().len(), 2);
    assert_eq!(schedule["outstanding"], "0.00000000");

    // A default is an admin's, with a reason, on a ticket being repaid.
    let other = approved(&f, "100", "TRezaPayoutAddress000000000000001").await;
    assert_eq!(moved(&f, &f.admin, &other, "disburse").await, "repaying");
    let default = |token: String, ticket: String, body: Value| {
        let app = &f.app;
        async move {
            app.post(&format!("/api/tickets/{ticket}/default"), &token, body)
                .await
        }
    };
    let reason = json!({ "reason": "no payment in four months" });
    let (status, body) = default(f.lena.clone(), other.clone(), reason.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a lender: {body}");
    let (status, body) = default(f.admin.clone(), other.clone(), json!({})).await;
    assert_eq!(
        (status, fields(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_string()])
    );
    let (status, body) = default(f.admin.clone(), other.clone(), reason.clone()).await;
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::OK, &json!("defaulted")),
        "{body}"
    );
    let (status, body) = default(f.admin.clone(), other.clone(), reason.clone()).await;
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::OK, &json!("defaulted")),
        "retry"
    );
    let (status, body) = default(f.admin.clone(), id.clone(), reason).await;
    assert_eq!(status, StatusCode::CONFLICT, "a repaid ticket: {body}");
    let page = view(&f, &f.reza, &other).await;
    let last = page["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["to_state"], &last["reason"]),
        (&json!("defaulted"), &json!("no payment in four months"))
    );
}

async fn comments_and_internal_notes_over_http(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let id = draft(&f, &f.reza, "100", "TRezaPayoutAddress000000000000001").await;
    let path = format!("/api/tickets/{id}/comments");
    let (status, first) = f
        .app
        .post(
            &path,
            &f.reza,
            json!({ "body": " my payslip is attached " }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (&first["body"], &first["internal"], &first["seq"]),
        (&json!("my payslip is attached"), &json!(false), &json!(1))
    );
    let (status, note) = f
        .app
        .post(
            &path,
            &f.lena,
            json!({ "body": "check with @leo", "internal": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    // The borrower writes no internal note; the accountant writes nothing; another member
    // does not see the ticket.
    let (status, body) = f
        .app
        .post(&path, &f.reza, json!({ "body": "psst", "internal": true }))
        .await;
    assert_eq!(
        (status, fields(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["internal".to_string()]
        )
    );
    let (status, _) = f
        .app
        .post(&path, &f.accountant, json!({ "body": "hello" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f.app.post(&path, &f.mina, json!({ "body": "hello" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(f.app.get(&path, &f.mina).await.0, StatusCode::NOT_FOUND);
    for body in [
        json!({}),
        json!({ "body": "  " }),
        json!({ "body": "x".repeat(5_001) }),
    ] {
        let (status, answer) = f.app.post(&path, &f.lena, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(fields(&answer), ["body"]);
    }

    let bodies = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, list) = f.app.get(&path, &f.lena).await;
    assert_eq!(bodies(&list), ["my payslip is attached", "check with @leo"]);
    for token in [&f.reza, &f.accountant] {
        let (_, list) = f.app.get(&path, token).await;
        assert_eq!(
            bodies(&list),
            ["my payslip is attached"],
            "no internal notes"
        );
    }

    // Only the author edits; the earlier text is kept. An internal note is hidden from the
    // borrower's history too.
    let comment = first["id"].as_str().unwrap();
    let edit = format!("/api/tickets/comments/{comment}");
    let (status, _) = f
        .app
        .call(
            Method::PATCH,
            &edit,
            Some(&f.lena),
            Some(json!({ "body": "changed" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, edited) = f
        .app
        .call(
            Method::PATCH,
            &edit,
            Some(&f.reza),
            Some(json!({ "body": "payslip attached" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["body"], "payslip attached");
    assert!(edited["edited_at"].is_string());
    let (status, history) = f.app.get(&format!("{edit}/history"), &f.lena).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(
        history["edits"][0]["previous_body"],
        "my payslip is attached"
    );
    assert_eq!(history["comment"]["body"], "payslip attached");
    let note_history = format!(
        "/api/tickets/comments/{}/history",
        note["id"].as_str().unwrap()
    );
    assert_eq!(
        f.app.get(&note_history, &f.reza).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(f.app.get(&note_history, &f.leo).await.0, StatusCode::OK);
    assert_eq!(
        f.app
            .get("/api/tickets/comments/not-a-uuid/history", &f.lena)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// A `multipart/form-data` body with one `file` part.
fn multipart_file(file_name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("saghat-test-{}", uuid::Uuid::new_v4().simple());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    f: &Fund,
    token: &str,
    ticket: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let (kind, body) = multipart_file(name, content_type, bytes);
    let response = f
        .app
        .http
        .post(f.app.url(&format!("/api/tickets/{ticket}/attachments")))
        .bearer_auth(token)
        .header("content-type", kind)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn attachments_over_http(backend: Backend) {
    let Some(f) = fund(backend).await else { return };
    let (status, body) = f
        .app
        .post(
            "/api/tickets",
            &f.reza,
            json!({ "amount": "100", "purpose": "a lathe", "term_months": 3, "payout_address": "TFiles0001" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    // A PDF larger than MAX_BODY_BYTES (64 KiB): uploads have the attachments' own limit.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(200 * 1024, b'x');
    let (status, stored) = upload(&f, &f.reza, &id, "offer.pdf", "application/pdf", &pdf).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["size_bytes"], 200 * 1024);
    assert_eq!(stored["file_name"], "offer.pdf");
    let sha = saghat_core::tickets::attachments::sha256_hex(&pdf);
    assert_eq!(stored["sha256"], sha);
    // The lender lists it and downloads the same bytes, as a download.
    let (status, list) = f
        .app
        .get(&format!("/api/tickets/{id}/attachments"), &f.lena)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let file_id = stored["id"].as_str().unwrap();
    let response = f
        .app
        .http
        .get(
            f.app
                .url(&format!("/api/tickets/{id}/attachments/{file_id}")),
        )
        .bearer_auth(&f.lena)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());
    // Another member neither lists nor downloads it.
    let (status, _) = f
        .app
        .get(&format!("/api/tickets/{id}/attachments"), &f.mina)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f
        .app
        .get(&format!("/api/tickets/{id}/attachments/{file_id}"), &f.mina)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A file whose bytes are not its type, a type not accepted, a form without a file.
    let (status, body) = upload(&f, &f.reza, &id, "photo.png", "image/png", b"%PDF-1.4 no").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"][1], "file", "{body}");
    let (status, body) = upload(
        &f,
        &f.reza,
        &id,
        "run.exe",
        "application/x-msdownload",
        b"MZ",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = f
        .app
        .post(
            &format!("/api/tickets/{id}/attachments"),
            &f.reza,
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "not a multipart form: {body}"
    );
    // Larger than ATTACHMENT_MAX_BYTES (10 MiB): 413, declared or streamed, nothing kept.
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let (status, _) = upload(&f, &f.reza, &id, "big.pdf", "application/pdf", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, list) = f
        .app
        .get(&format!("/api/tickets/{id}/attachments"), &f.reza)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Other routes keep MAX_BODY_BYTES.
    let (status, _) = f
        .app
        .post(
            &format!("/api/tickets/{id}/comments"),
            &f.reza,
            json!({ "body": "x".repeat(100 * 1024) }),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
