//! The loan-request ticket pages over HTTP, on SQLite and PostgreSQL: the application form and
//! its errors, the borrower's ticket page and moves, the review queue and the reviewers' moves
//! with maker-checker, Persian, and who may see and do what.

use saghat_test_support as common;

use common::{Backend, Browser, Page, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

common::on_both_databases!(
    the_application_form_keeps_typed_values_and_puts_errors_next_to_fields,
    a_borrower_saves_a_draft_submits_and_withdraws,
    two_reviewers_approve_a_flagged_request_one_after_the_other,
    reviewers_ask_for_information_and_reject_with_a_reason,
    the_queue_filters_and_pages_by_deadline,
    members_see_only_their_own_and_accountants_only_read,
    the_ticket_pages_speak_persian,
    a_reviewer_disburses_and_the_borrower_repays_by_the_schedule,
    comments_and_internal_notes_on_the_timeline,
    documents_are_uploaded_listed_and_downloaded,
);

/// The fund: the configured admin (a reviewer), a lender, an accountant, and two members.
async fn fund(backend: Backend) -> Option<TestApp> {
    let app = TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await?;
    let admin = app.admin_token().await;
    for (name, role) in [("lena", "lender"), ("ava", "accountant")] {
        let (status, body) = app
            .post(
                "/api/auth/users",
                &admin,
                json!({ "username": name, "password": PASSWORD, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.member(&admin, "reza", "0").await;
    app.member(&admin, "mina", "0").await;
    Some(app)
}

async fn signed_in<'a>(app: &'a TestApp, username: &str) -> Browser<'a> {
    let mut browser = app.browser();
    let password = if username == ADMIN {
        ADMIN_PASSWORD
    } else {
        PASSWORD
    };
    browser.sign_in(username, password).await;
    browser
}

const ADDRESS: &str = "TXyz1234abcdEFGH5678ijklMNOP9012qr";

/// Applies through the form and returns the new ticket's id (from the redirect).
async fn apply(browser: &mut Browser<'_>, amount: &str, then: &str) -> String {
    let page = browser
        .submit(
            "/tickets/new",
            "/tickets/new",
            &[
                ("amount", amount),
                ("term_months", "12"),
                ("purpose", "A new roof before winter"),
                ("payout_address", ADDRESS),
                ("then", then),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let id = page
        .location
        .strip_prefix("/tickets/")
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_else(|| panic!("to the ticket: {}", page.location));
    id.to_string()
}

/// Presses a ticket button (with the ticket page's CSRF token).
async fn press(browser: &mut Browser<'_>, id: &str, action: &str, reason: &str) -> Page {
    browser
        .submit(
            &format!("/tickets/{id}"),
            &format!("/tickets/{id}/{action}"),
            &[("reason", reason)],
        )
        .await
}

/// Follows a redirect after a button.
async fn follow(browser: &mut Browser<'_>, page: Page) -> Page {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    browser.get(&page.location).await
}

async fn ticket_state(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT state FROM tickets WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn the_application_form_keeps_typed_values_and_puts_errors_next_to_fields(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let form = reza.get("/tickets/new").await;
    assert!(form.has("id=\"amount\"") && form.has("id=\"payout_address\""));
    // Nothing typed: each required field says so.
    let page = reza
        .submit("/tickets/new", "/tickets/new", &[("then", "submit")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for field in ["amount", "term_months", "purpose", "payout_address"] {
        assert_eq!(
            page.field_error(field),
            "This field is required.",
            "{field}"
        );
    }
    // Wrong values: an amount that is not one, a term out of range, an address with spaces;
    // what was typed is shown back.
    let page = reza
        .submit(
            "/tickets/new",
            "/tickets/new",
            &[
                ("amount", "12abc"),
                ("term_months", "12"),
                ("purpose", "Roof <repairs>"),
                ("payout_address", ADDRESS),
            ],
        )
        .await;
    assert!(page.field_error("amount").starts_with("Enter an amount"));
    assert!(page.has("value=\"12abc\""), "typed amount kept");
    assert!(page.has("Roof &#60;repairs&#62;") || page.has("Roof &lt;repairs&gt;"));
    let page = reza
        .submit(
            "/tickets/new",
            "/tickets/new",
            &[
                ("amount", "500"),
                ("term_months", "400"),
                ("purpose", "Roof"),
                ("payout_address", ADDRESS),
            ],
        )
        .await;
    assert_eq!(
        page.field_error("term_months"),
        "Enter a term from 1 to 360 months."
    );
    assert!(page.has("value=\"400\"") && page.has("value=\"500\""));
    let page = reza
        .submit(
            "/tickets/new",
            "/tickets/new",
            &[
                ("amount", "0"),
                ("term_months", "6"),
                ("purpose", "Roof"),
                ("payout_address", ADDRESS),
            ],
        )
        .await;
    assert_eq!(
        page.field_error("amount"),
        "The amount must be greater than 0."
    );
    let page = reza
        .submit(
            "/tickets/new",
            "/tickets/new",
            &[
                ("amount", "500"),
                ("term_months", "6"),
                ("purpose", "Roof"),
                ("payout_address", "not an address!"),
            ],
        )
        .await;
    assert!(page
        .field_error("payout_address")
        .starts_with("Enter a wallet address"));
    assert_eq!(
        app.count("tickets").await,
        0,
        "no refused form wrote a ticket"
    );
    // Persian digits are read as typed.
    let page = reza
        .submit(
            "/tickets/new",
            "/tickets/new",
            &[
                ("amount", "۱۵۰۰٫۵"),
                ("term_months", "۱۲"),
                ("purpose", "Roof"),
                ("payout_address", ADDRESS),
                ("then", "draft"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = reza.get(&page.location).await;
    assert!(page.has("1,500.50"), "{}", page.body);
    assert!(page.has("12 months"));
    // A form without its CSRF token is refused.
    let page = reza
        .post(
            "/tickets/new",
            &[
                ("amount", "10"),
                ("term_months", "1"),
                ("purpose", "x"),
                ("payout_address", ADDRESS),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("tickets").await, 1);
}

async fn a_borrower_saves_a_draft_submits_and_withdraws(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let nav = reza.get("/dashboard").await;
    assert!(nav.has("href=\"/tickets\"") && nav.has("Loan requests"));
    assert!(!nav.has("href=\"/review\""), "no queue for a member");
    let id = apply(&mut reza, "800", "draft").await;
    let page = reza.get(&format!("/tickets/{id}?done=created")).await;
    assert!(page.has("Your draft was saved."));
    assert!(page.has("id=\"ticket-state\">Draft<"));
    assert!(page.has("id=\"act-submit\"") && page.has("id=\"act-withdraw\""));
    assert!(!page.has("id=\"act-approve\"") && !page.has("id=\"act-take\""));
    assert!(
        !page.has("id=\"ticket-flags\""),
        "borrowers do not see flags"
    );
    assert!(page.has("No deadline runs until the request is submitted."));
    // Submit: the deadlines start, the submit button goes.
    let page = press(&mut reza, &id, "submit", "").await;
    let page = follow(&mut reza, page).await;
    assert!(page.has("Your request was sent to the lenders."));
    assert!(page.has("id=\"ticket-state\">Submitted<"));
    assert!(
        page.has("First response</strong> · running · due 1405/09/"),
        "{}",
        page.body
    );
    assert!(!page.has("id=\"act-submit\""));
    let timeline = &page.body[page.body.find("id=\"ticket-timeline\"").unwrap()..];
    assert!(
        timeline.contains("<strong>Draft</strong>")
            && timeline.contains("<strong>Submitted</strong>")
    );
    assert!(timeline.contains("by <bdi>reza</bdi>"));
    // The list shows it with its state and its deadline.
    let list = reza.get("/tickets").await;
    assert!(list.has(&format!("href=\"/tickets/{id}\"")));
    assert!(list.has(">Submitted<") && list.has("800.00"));
    // A second submission is a retry: nothing changes.
    let again = press(&mut reza, &id, "submit", "").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(ticket_state(&app, &id).await, "submitted");
    // Withdraw.
    let page = press(&mut reza, &id, "withdraw", "").await;
    let page = follow(&mut reza, page).await;
    assert!(page.has("id=\"ticket-state\">Withdrawn<"));
    assert!(!page.has("id=\"ticket-actions\""), "nothing left to do");
    // A move the state no longer allows is said on the page, not an error page.
    let page = press(&mut reza, &id, "submit", "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has("This cannot be done to the request in its present state (State: Withdrawn)."),
        "{}",
        page.body
    );
    // An unknown button is not a page.
    let page = press(&mut reza, &id, "explode", "").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

async fn two_reviewers_approve_a_flagged_request_one_after_the_other(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    // A new account asking for 1,500: a high-severity flag, so two approvers.
    let id = apply(&mut reza, "1500", "submit").await;
    assert_eq!(ticket_state(&app, &id).await, "submitted");
    let mut admin = signed_in(&app, ADMIN).await;
    let queue = admin.get("/review").await;
    assert!(queue.has(&format!("id=\"queue-{id}\"")), "{}", queue.body);
    assert!(queue.has("tk-sev-high"), "the flag's severity in the queue");
    let page = admin.get(&format!("/tickets/{id}")).await;
    assert!(
        page.has("id=\"flag-new_account_large_amount\""),
        "{}",
        page.body
    );
    assert!(page.has("New account, large amount"));
    assert!(page.has("id=\"act-take\"") && !page.has("id=\"act-approve\""));
    let page = press(&mut admin, &id, "take", "").await;
    let page = follow(&mut admin, page).await;
    assert!(page.has("id=\"ticket-state\">Under review<"));
    assert!(page.has("0 of 2 approvals"));
    assert!(page.has("id=\"two-approvals-why\""));
    let page = press(&mut admin, &id, "approve", "").await;
    let page = follow(&mut admin, page).await;
    assert!(page.has("Your approval was recorded."));
    assert!(page.has("1 of 2 approvals"), "{}", page.body);
    assert!(page.has("id=\"you-approved\""));
    assert!(
        !page.has("id=\"act-approve\""),
        "no second button for the same reviewer"
    );
    assert_eq!(ticket_state(&app, &id).await, "under_review");
    // The same reviewer again (a stale page): refused, on the page.
    let page = press(&mut admin, &id, "approve", "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has("You have already approved this request"),
        "{}",
        page.body
    );
    // The borrower cannot approve their own request.
    let page = reza.get(&format!("/tickets/{id}")).await;
    assert!(!page.has("id=\"act-approve\""));
    let page = press(&mut reza, &id, "approve", "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("id=\"ticket-problem\""), "{}", page.body);
    // The lender gives the second approval.
    let mut lena = signed_in(&app, "lena").await;
    let nav = lena.get("/review").await;
    assert!(nav.has("Review queue") && !nav.has("href=\"/tickets\""));
    let page = lena.get(&format!("/tickets/{id}")).await;
    assert!(page.has("1 of 2 approvals") && page.has("id=\"act-approve\""));
    let page = press(&mut lena, &id, "approve", "").await;
    let page = follow(&mut lena, page).await;
    assert!(page.has("id=\"ticket-state\">Approved<"));
    assert!(page.has("2 of 2 approvals"));
    assert!(
        page.has("Approved by: <bdi>admin, lena</bdi>"),
        "{}",
        page.body
    );
    assert!(
        !page.has("id=\"read-only\""),
        "a lender may act, just not now"
    );
    assert_eq!(ticket_state(&app, &id).await, "approved");
    let timeline = &page.body[page.body.find("id=\"ticket-timeline\"").unwrap()..];
    assert!(timeline.contains("<strong>Approved</strong>"));
    assert!(timeline.contains("by <bdi>lena</bdi>"));
    // Both deadlines are met.
    assert!(page.has("First response</strong> · met") && page.has("Decision</strong> · met"));
}

async fn reviewers_ask_for_information_and_reject_with_a_reason(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let id = apply(&mut reza, "300", "submit").await;
    let mut lena = signed_in(&app, "lena").await;
    press(&mut lena, &id, "take", "").await;
    // A reason is required: the error is next to it.
    let page = press(&mut lena, &id, "ask_info", "  ").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.field_error("ask_info_reason"),
        "This field is required."
    );
    assert_eq!(ticket_state(&app, &id).await, "under_review");
    let page = press(
        &mut lena,
        &id,
        "ask_info",
        "Please attach a builder's quote",
    )
    .await;
    let page = follow(&mut lena, page).await;
    assert!(page.has("id=\"ticket-state\">Waiting for information<"));
    assert!(page.has("First response</strong> · met"));
    assert!(page.has("Decision</strong> · paused"), "{}", page.body);
    // The borrower reads why and resubmits.
    let page = reza.get(&format!("/tickets/{id}")).await;
    assert!(
        page.has("Please attach a builder&#39;s quote")
            || page.has("Please attach a builder&#x27;s quote"),
        "{}",
        page.body
    );
    assert!(page.has("Resubmit with the information"));
    let page = press(&mut reza, &id, "submit", "").await;
    follow(&mut reza, page).await;
    assert_eq!(ticket_state(&app, &id).await, "submitted");
    press(&mut lena, &id, "take", "").await;
    let page = press(&mut lena, &id, "reject", "").await;
    assert_eq!(page.field_error("reject_reason"), "This field is required.");
    let page = press(
        &mut lena,
        &id,
        "reject",
        "Income does not cover the installments",
    )
    .await;
    let page = follow(&mut lena, page).await;
    assert!(page.has("The request was rejected."));
    assert!(page.has("id=\"ticket-state\">Rejected<"));
    let page = reza.get(&format!("/tickets/{id}")).await;
    assert!(page.has("Income does not cover the installments"));
    assert!(!page.has("id=\"ticket-actions\""));
}

async fn the_queue_filters_and_pages_by_deadline(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let mut ids = Vec::new();
    for _ in 0..27 {
        ids.push(apply(&mut reza, "100", "submit").await);
        // A minute apart: the deadlines are in the order of submission.
        app.clock.advance(chrono::Duration::minutes(1));
    }
    let draft = apply(&mut reza, "100", "draft").await;
    let mut lena = signed_in(&app, "lena").await;
    let first = lena.get("/review").await;
    assert!(first.has("1–25 of 27"), "{}", first.body);
    let at = |page: &Page, id: &str| page.body.find(&format!("id=\"queue-{id}\""));
    // The nearest deadline first: the first submitted, then the next.
    let (a, b) = (at(&first, &ids[0]).unwrap(), at(&first, &ids[1]).unwrap());
    assert!(a < b);
    assert!(at(&first, &ids[26]).is_none(), "on the next page");
    assert!(
        at(&first, &draft).is_none(),
        "a draft has no deadline running"
    );
    assert!(first.has("id=\"queue-next\""));
    let second = lena
        .get("/review?state=&flagged=&breached=&offset=25")
        .await;
    assert!(second.has("26–27 of 27"));
    assert!(at(&second, &ids[26]).is_some());
    assert!(second.has("id=\"queue-prev\""));
    // Filters: the drafts (newest first), the flagged ones (all: contributions are 0),
    // the overdue (none yet).
    let drafts = lena.get("/review?state=draft").await;
    assert!(at(&drafts, &draft).is_some() && drafts.has("1–1 of 1"));
    assert!(drafts.has("<option value=\"draft\" selected>"));
    let flagged = lena.get("/review?flagged=no").await;
    assert!(flagged.has("No requests match."));
    let overdue = lena.get("/review?breached=yes").await;
    assert!(overdue.has("No requests match."));
    // Days later, past every first-response deadline, a breach shows once the SLA is
    // recomputed (the escalation job's part); here the next move recomputes it.
    app.advance_days(10);
    press(&mut lena, &ids[0], "take", "").await;
    let overdue = lena.get("/review?breached=yes").await;
    assert!(at(&overdue, &ids[0]).is_some(), "{}", overdue.body);
    assert!(overdue.has("class=\"breached\"") && overdue.has("tk-breached"));
    // Nonsense in the query is "any".
    let odd = lena.get("/review?state=nope&flagged=maybe").await;
    assert!(odd.has("of 27"));
}

async fn members_see_only_their_own_and_accountants_only_read(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let id = apply(&mut reza, "1500", "submit").await;
    // Another member: no such ticket, no queue, no buttons that work.
    let mut mina = signed_in(&app, "mina").await;
    let page = mina
        .send(reqwest::Method::GET, &format!("/tickets/{id}"), None)
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.has("1,500"), "nothing of the ticket");
    let page = mina.send(reqwest::Method::GET, "/review", None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let csrf = mina.get("/tickets").await.csrf();
    let page = mina
        .post(&format!("/tickets/{id}/withdraw"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!mina.get("/tickets").await.has(&id), "not in her list");
    // An accountant reads the queue and the ticket, flags included, with no button.
    let mut ava = signed_in(&app, "ava").await;
    let queue = ava.get("/review").await;
    assert!(queue.has(&format!("id=\"queue-{id}\"")));
    let page = ava.get(&format!("/tickets/{id}")).await;
    assert!(page.has("id=\"ticket-flags\""));
    assert!(
        !page.has("id=\"ticket-actions\"") && !page.has("id=\"act-"),
        "{}",
        page.body
    );
    assert!(page.has("id=\"read-only\""));
    // And pressing one anyway is refused; the ticket does not move.
    let csrf = page.csrf();
    let page = ava
        .post(&format!("/tickets/{id}/take"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(ticket_state(&app, &id).await, "submitted");
    // Lenders and accountants do not apply for loans.
    for who in ["ava", "lena"] {
        let mut b = signed_in(&app, who).await;
        let page = b.send(reqwest::Method::GET, "/tickets/new", None).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{who}");
        let list = b.get("/tickets").await;
        assert!(!list.has("id=\"new-ticket\""), "{who}");
    }
    // Signed out: to the sign-in page, then back.
    let mut anonymous = app.browser();
    let page = anonymous
        .send(reqwest::Method::GET, &format!("/tickets/{id}"), None)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location.starts_with("/login?next=/tickets/"));
}

async fn the_ticket_pages_speak_persian(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let page = reza.get("/tickets/new?lang=fa").await;
    assert!(page.has("dir=\"rtl\"") && page.has("درخواست وام تازه"));
    let page = reza
        .submit(
            "/tickets/new?lang=fa",
            "/tickets/new",
            &[("amount", "۱۲الف"), ("then", "submit")],
        )
        .await;
    assert_eq!(
        page.field_error("amount"),
        "مبلغی مانند ۲۰ یا ۲۰٫۵ وارد کنید (حداکثر ۸ رقم اعشار)."
    );
    assert_eq!(page.field_error("purpose"), "این فیلد الزامی است.");
    let id = apply(&mut reza, "1500", "submit").await;
    let page = reza.get(&format!("/tickets/{id}?lang=fa")).await;
    assert!(page.has("id=\"ticket-state\">ارسال‌شده<"), "{}", page.body);
    assert!(page.has("۱٬۵۰۰٫۰۰"));
    assert!(page.has("۱۲ ماه"));
    // Jalali dates in Persian digits: Azar 1405.
    assert!(page.has("۱۴۰۵/۰۹/۰۱"), "{}", page.body);
    assert!(page.has("نخستین پاسخ"));
    assert!(
        page.has("href=\"/tickets/") && page.has("lang=en"),
        "the switch keeps the ticket"
    );
    let mut admin = signed_in(&app, ADMIN).await;
    press(&mut admin, &id, "take", "").await;
    press(&mut admin, &id, "approve", "").await;
    let page = admin.get(&format!("/tickets/{id}?lang=fa")).await;
    // The flag's own Persian explanation, and the second approval explained.
    assert!(page.has("حساب تازه، مبلغ زیاد"));
    assert!(page.has("۱ از ۲ تأیید"), "{}", page.body);
    assert!(page.has("به تأیید دو بررسی‌کننده متفاوت نیاز دارد"));
    let explanation = {
        let at = page
            .body
            .find("id=\"flag-new_account_large_amount\"")
            .unwrap();
        let rest = &page.body[at..];
        let from = rest.find("tk-flag-why\">").unwrap() + "tk-flag-why\">".len();
        rest[from..from + rest[from..].find("</p>").unwrap()].to_string()
    };
    assert!(!explanation.is_empty());
    assert!(
        !explanation.chars().any(|c| c.is_ascii_alphabetic()
            && c != 'U'
            && c != 'S'
            && c != 'D'
            && c != 'T'),
        "in Persian: {explanation}"
    );
    let queue = admin.get("/review?lang=fa").await;
    assert!(queue.has("صف بررسی") && queue.has("در حال بررسی") && queue.has("زیاد"));
    assert!(!queue.has("Under review"));
}

async fn a_reviewer_disburses_and_the_borrower_repays_by_the_schedule(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let reza_token = app.login("reza", PASSWORD).await;
    // Reza's fee is the fund's cash, and his record: 300 is within it, so no flag, one approval.
    assert_eq!(
        app.pay(&reza_token, "200", None).await.0,
        StatusCode::CREATED
    );
    let mut reza = signed_in(&app, "reza").await;
    let id = apply(&mut reza, "300", "submit").await;
    let mut lena = signed_in(&app, "lena").await;
    press(&mut lena, &id, "take", "").await;
    let page = {
        let sent = press(&mut lena, &id, "approve", "").await;
        follow(&mut lena, sent).await
    };
    assert!(page.has("id=\"ticket-state\">Approved<"), "{}", page.body);
    assert!(page.has("id=\"act-disburse\""));
    assert!(
        !page.has("id=\"ticket-schedule\""),
        "no schedule before the money leaves"
    );
    // The fund's cash (200) does not cover 300: refused on the page, nothing posted.
    let page = press(&mut lena, &id, "disburse", "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has("The fund&#39;s cash does not cover this loan (Cash in the fund: 200.00 USDT; Amount: 300.00 USDT).")
            || page.has("The fund&#x27;s cash does not cover this loan (Cash in the fund: 200.00 USDT; Amount: 300.00 USDT)."),
        "{}",
        page.body
    );
    assert_eq!(ticket_state(&app, &id).await, "approved");
    let mina_token = app.login("mina", PASSWORD).await;
    assert_eq!(
        app.pay(&mina_token, "200", None).await.0,
        StatusCode::CREATED
    );
    let page = {
        let sent = press(&mut lena, &id, "disburse", "").await;
        follow(&mut lena, sent).await
    };
    assert!(page.has("The loan was disbursed"));
    assert!(
        page.has("id=\"ticket-state\">Being repaid<"),
        "{}",
        page.body
    );
    assert!(page.has("id=\"installment-12\"") && !page.has("id=\"installment-13\""));
    assert!(page.has("id=\"loan-outstanding\">300.00 "));
    assert!(page.has("id=\"loan-lateness\">Current<"));
    // The borrower repays from his page: the amount is required and may not exceed the debt.
    let form = reza.get(&format!("/tickets/{id}")).await;
    assert!(form.has("id=\"repay-form\""));
    let key_of = |page: &Page| {
        let at = page.body.find("name=\"key\" value=\"").unwrap() + "name=\"key\" value=\"".len();
        page.body[at..at + 36].to_string()
    };
    let key = key_of(&form);
    let csrf = form.csrf();
    let repay = |amount: &'static str, key: String, csrf: String| {
        let path = format!("/tickets/{id}/repay");
        (
            path,
            vec![("amount", amount.to_string()), ("key", key), ("csrf", csrf)],
        )
    };
    let (path, fields) = repay("", key.clone(), csrf.clone());
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = reza.post(&path, &fields).await;
    assert_eq!(page.field_error("repay_amount"), "This field is required.");
    let (path, fields) = repay("1000", key.clone(), csrf.clone());
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = reza.post(&path, &fields).await;
    assert_eq!(
        page.field_error("repay_amount"),
        "The repayment is more than what is still owed (300.00 USDT)"
    );
    assert!(page.has("value=\"1000\""), "typed amount kept");
    let (path, fields) = repay("50", key.clone(), csrf.clone());
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = {
        let sent = reza.post(&path, &fields).await;
        follow(&mut reza, sent).await
    };
    assert!(page.has("The repayment was recorded."));
    assert!(page.has("id=\"loan-outstanding\">250.00 "), "{}", page.body);
    assert!(page.has("id=\"installment-2\" class=\"settled\""));
    assert!(!page.has("id=\"installment-3\" class=\"settled\""));
    // The same form sent again (a double click, a retry): one repayment.
    let page = reza.post(&path, &fields).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("ticket_repayments").await, 1);
    // Each page has a fresh key; the rest repaid through it, the ticket is repaid.
    let form = reza.get(&format!("/tickets/{id}")).await;
    assert_ne!(key_of(&form), key);
    let (path, fields) = repay("250", key_of(&form), form.csrf());
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = {
        let sent = reza.post(&path, &fields).await;
        follow(&mut reza, sent).await
    };
    assert!(page.has("id=\"ticket-state\">Repaid<"), "{}", page.body);
    assert!(!page.has("id=\"repay-form\""));
    assert_eq!(app.count("ticket_repayments").await, 2);
    // In Persian: Jalali months and digits in the schedule.
    let page = reza.get(&format!("/tickets/{id}?lang=fa")).await;
    assert!(page.has("id=\"loan-outstanding\">۰٫۰۰ "), "{}", page.body);
    assert!(
        page.has("دی ۱۴۰۵"),
        "the first installment falls due in Dey: {}",
        page.body
    );
}

async fn comments_and_internal_notes_on_the_timeline(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let id = apply(&mut reza, "300", "submit").await;
    let ticket = format!("/tickets/{id}");
    let comment = format!("/tickets/{id}/comment");
    // Empty: next to the field. Then a comment, on the timeline after the moves.
    let page = reza.submit(&ticket, &comment, &[("body", "  ")]).await;
    assert_eq!(page.field_error("body"), "This field is required.");
    let page = reza
        .submit(
            &ticket,
            &comment,
            &[("body", "The builder's quote is attached")],
        )
        .await;
    let page = follow(&mut reza, page).await;
    assert!(page.has("Your comment was added."));
    let timeline = &page.body[page.body.find("id=\"ticket-timeline\"").unwrap()..];
    let submitted = timeline.find("<strong>Submitted</strong>").unwrap();
    let wrote = timeline
        .find("<strong><bdi>reza</bdi></strong> wrote")
        .unwrap();
    assert!(submitted < wrote, "in the order they happened");
    assert!(
        !page.has("id=\"internal\""),
        "no internal notes for the borrower"
    );
    // A borrower's internal note is refused, on the page.
    let page = reza
        .submit(&ticket, &comment, &[("body", "secret"), ("internal", "on")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has("Only reviewers write internal notes."),
        "{}",
        page.body
    );
    // A lender's internal note: reviewers see it marked, the borrower never.
    let mut lena = signed_in(&app, "lena").await;
    let page = lena.get(&ticket).await;
    assert!(page.has("id=\"internal\""));
    let sent = lena
        .submit(
            &ticket,
            &comment,
            &[("body", "Check his payout address"), ("internal", "on")],
        )
        .await;
    let page = follow(&mut lena, sent).await;
    assert!(page.has("Check his payout address") && page.has("tk-internal"));
    assert!(
        page.has("The builder&#39;s quote is attached")
            || page.has("The builder&#x27;s quote is attached")
    );
    let page = reza.get(&ticket).await;
    assert!(!page.has("Check his payout address"), "{}", page.body);
    // An accountant reads what the borrower reads (no internal note), and has no form.
    let mut ava = signed_in(&app, "ava").await;
    let page = ava.get(&ticket).await;
    assert!(
        page.has("The builder&#39;s quote is attached")
            || page.has("The builder&#x27;s quote is attached")
    );
    assert!(!page.has("Check his payout address"));
    assert!(!page.has("id=\"comment-form\""));
    // Another member cannot write on it: no such ticket.
    let mut mina = signed_in(&app, "mina").await;
    let csrf = mina.get("/tickets").await.csrf();
    let page = mina
        .post(&comment, &[("body", "hello"), ("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ticket_comments")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

/// Posts a file through the upload form, as a browser does (`multipart/form-data`).
async fn upload(
    app: &TestApp,
    browser: &mut Browser<'_>,
    id: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Page {
    let csrf = browser.get(&format!("/tickets/{id}")).await.csrf();
    let boundary = "----saghat-test-7MA4YWxk";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let jar: Vec<String> = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let response = app
        .http
        .post(app.url(&format!("/tickets/{id}/files")))
        .header("cookie", jar.join("; "))
        .header("accept", "text/html")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: response.status(),
        location: response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        set_cookies: vec![],
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

async fn documents_are_uploaded_listed_and_downloaded(backend: Backend) {
    let Some(app) = fund(backend).await else {
        return;
    };
    let mut reza = signed_in(&app, "reza").await;
    let id = apply(&mut reza, "300", "submit").await;
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n"[..], &[7u8; 200][..]].concat();
    // A file that is not what it says is refused next to the field; nothing stored.
    let page = upload(&app, &mut reza, &id, "quote.pdf", "application/pdf", &png).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.field_error("file")
            .starts_with("Only PDF, PNG and JPEG"),
        "{}",
        page.body
    );
    let page = upload(&app, &mut reza, &id, "", "application/octet-stream", b"").await;
    assert_eq!(page.field_error("file"), "This field is required.");
    assert_eq!(app.count("ticket_attachments").await, 0);
    let page = upload(&app, &mut reza, &id, "roof photo.png", "image/png", &png).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = reza.get(&format!("/tickets/{id}")).await;
    assert!(
        page.has("<bdi>roof photo.png</bdi>") && page.has("(208 B)"),
        "{}",
        page.body
    );
    let file_id: String = sqlx::query_scalar("SELECT id FROM ticket_attachments")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let link = format!("/tickets/{id}/files/{file_id}");
    assert!(page.has(&format!("href=\"{link}\"")));
    // Downloaded as stored, to be saved, never shown inline.
    let got = reza.get(&link).await;
    assert_eq!(got.headers["content-type"], "image/png");
    assert!(got.headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert!(got.headers["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with("UTF-8''roof%20photo%2Epng"));
    // A reviewer reads it; another member cannot, nor under another ticket's address.
    let mut lena = signed_in(&app, "lena").await;
    assert_eq!(
        lena.send(reqwest::Method::GET, &link, None).await.status,
        StatusCode::OK
    );
    let mut mina = signed_in(&app, "mina").await;
    assert_eq!(
        mina.send(reqwest::Method::GET, &link, None).await.status,
        StatusCode::NOT_FOUND
    );
    let other = apply(&mut reza, "100", "draft").await;
    let wrong = format!("/tickets/{other}/files/{file_id}");
    assert_eq!(
        reza.send(reqwest::Method::GET, &wrong, None).await.status,
        StatusCode::NOT_FOUND
    );
    // Without the form's token: refused.
    let csrf_free = app
        .http
        .post(app.url(&format!("/tickets/{id}/files")))
        .header("cookie", reza.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(csrf_free.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("ticket_attachments").await, 1);
}
