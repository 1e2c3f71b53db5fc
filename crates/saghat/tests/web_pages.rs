//! The web pages over HTTP, on SQLite and PostgreSQL: sign-in and sessions, CSRF, the member
//! dashboard, the fund page and its draw, the admin pages, Persian, and static assets.

use saghat_test_support as common;

use chrono::Duration;
use chrono_tz::Tz;
use common::{Backend, Page, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::{Method, StatusCode};
use saghat_core::platform::jalali::JalaliMonth;
use serde_json::json;

common::on_both_databases!(
    signing_in_and_out,
    session_cookies_are_secure_behind_an_https_proxy,
    forms_refuse_a_missing_or_foreign_csrf_token,
    the_dashboard_shows_the_month_and_takes_a_payment,
    payment_errors_are_shown_next_to_their_fields,
    the_fund_page_runs_the_draw_and_shows_its_log,
    the_current_loan_shows_its_progress,
    admins_manage_members_and_settings,
    the_loan_history_filters_by_jalali_month,
    persian_is_right_to_left_with_persian_digits,
    static_assets_and_security_headers,
    sign_in_never_redirects_off_site,
    errors_are_html_pages_with_the_navigation,
    a_database_error_on_a_page_is_an_html_page,
    admins_edit_deactivate_and_follow_members,
    the_dashboard_says_whether_you_take_part_and_what_is_left_to_repay,
    persian_digits_and_separators_everywhere,
    the_fund_page_names_who_blocks_the_draw,
    members_choose_how_they_are_notified,
);

/// Tokens last a year: these tests move through months.
async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await
}

/// Sara, who sat out the Azar in which the admin borrowed.
struct AdminBorrowed {
    sara_id: i64,
    sara: String,
}

/// Azar: the admin (who may ask for more than their balance) borrows 40 of the 60 paid in;
/// Sara and Omid opt out.
async fn admin_borrows_40(app: &TestApp) -> AdminBorrowed {
    let admin = app.admin_token().await;
    app.call(
        Method::PATCH,
        "/api/auth/me/loan-request",
        Some(&admin),
        Some(json!({ "loan_request_amount": "40" })),
    )
    .await;
    let (sara_id, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    for token in [&admin, &sara, &omid] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, _) = app
        .call(Method::POST, "/api/loans/start", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    AdminBorrowed { sara_id, sara }
}

fn next_month(app: &TestApp) {
    use saghat_core::platform::clock::Clock;
    let month = JalaliMonth::containing(app.clock.now(), Tz::UTC).next();
    app.clock
        .set(month.starts_at(Tz::UTC) + Duration::hours(12));
}

async fn signing_in_and_out(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let mut browser = app.browser();
    let home = browser.get("/").await;
    assert_eq!(
        (home.status, home.location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let guarded = browser.get("/fund?lang=en").await;
    assert_eq!(guarded.status, StatusCode::SEE_OTHER);
    assert_eq!(guarded.location, "/login?next=/fund%3Flang%3Den");

    let login = browser.get("/login").await;
    assert!(login.has("<label for=\"username\">") && login.has("<label for=\"password\">"));
    let seed = login.cookie("saghat_login").expect("a login CSRF cookie");
    assert!(
        seed.contains("HttpOnly") && seed.contains("SameSite=Lax"),
        "{seed}"
    );

    // Wrong password: the error is next to the password field, and nothing is signed in.
    let wrong = browser
        .submit(
            "/login",
            "/login",
            &[("username", ADMIN), ("password", "nope-nope")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert_eq!(
        wrong.field_error("password"),
        "Invalid username or password."
    );
    assert!(wrong.has("value=\"admin\""), "the username is kept");
    assert!(wrong.cookie("saghat_session").is_none());
    let empty = browser
        .submit("/login", "/login", &[("username", ""), ("password", "")])
        .await;
    assert_eq!(empty.field_error("username"), "This field is required.");

    // Signing in returns to the page asked for, with HttpOnly SameSite cookies (no Secure on
    // plain HTTP); the refresh token goes only to /logout.
    let csrf = browser.get("/login").await.csrf();
    let signed_in = browser
        .post(
            "/login",
            &[
                ("username", "ADMIN"),
                ("password", ADMIN_PASSWORD),
                ("next", "/fund"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        (signed_in.status, signed_in.location.as_str()),
        (StatusCode::SEE_OTHER, "/fund")
    );
    let session = signed_in.cookie("saghat_session").expect("session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/;")
    );
    assert!(!session.contains("Secure"));
    let refresh = signed_in.cookie("saghat_refresh").expect("refresh cookie");
    assert!(refresh.contains("Path=/logout") && refresh.contains("HttpOnly"));

    // The session is the API's own access token.
    let access = browser.cookies["saghat_session"].clone();
    let refresh_token = browser.cookies["saghat_refresh"].clone();
    let (status, me) = app.get("/api/auth/me", &access).await;
    assert_eq!(
        (status, me["username"].as_str()),
        (StatusCode::OK, Some(ADMIN))
    );
    let dashboard = browser.get("/dashboard").await;
    assert!(dashboard.has("<strong>admin</strong>"));
    let again = browser.get("/login").await;
    assert_eq!(
        again.location, "/dashboard",
        "signed-in users skip the sign-in page"
    );

    // No open redirect after sign-in.
    let mut other = app.browser();
    let csrf = other.get("/login").await.csrf();
    let page = other
        .post(
            "/login",
            &[
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("next", "//evil.example/"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(page.location, "/dashboard");

    // Signing out revokes the refresh token and forgets the cookies.
    let out = browser.submit("/dashboard", "/logout", &[]).await;
    assert_eq!(
        (out.status, out.location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    assert!(out.cookie("saghat_session").unwrap().contains("Max-Age=0"));
    assert!(!browser.cookies.contains_key("saghat_session"));
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh_token })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the refresh token is revoked"
    );
    assert_eq!(
        browser.get("/dashboard").await.status,
        StatusCode::SEE_OTHER
    );
}

async fn session_cookies_are_secure_behind_an_https_proxy(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.trust_proxy_headers = true).await else {
        return;
    };
    let mut browser = app.browser();
    browser.headers.push(("x-forwarded-proto", "https"));
    assert!(browser
        .get("/login")
        .await
        .cookie("saghat_login")
        .unwrap()
        .contains("; Secure"));
    let page = browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert!(page.cookie("saghat_session").unwrap().ends_with("; Secure"));
    assert!(page.cookie("saghat_refresh").unwrap().ends_with("; Secure"));
}

async fn forms_refuse_a_missing_or_foreign_csrf_token(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "0").await;
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;
    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let boss_csrf = boss.get("/dashboard").await.csrf();
    let pay = [("membership_fee", "20"), ("bitpin_payment_id", "bp-1")];

    // No token, a made-up one, and another user's: all refused, nothing written.
    assert_eq!(
        sara.post("/dashboard/pay", &pay).await.status,
        StatusCode::FORBIDDEN
    );
    let mut forged = pay.to_vec();
    forged.push(("csrf", "00"));
    assert_eq!(
        sara.post("/dashboard/pay", &forged).await.status,
        StatusCode::FORBIDDEN
    );
    let mut foreign = pay.to_vec();
    foreign.push(("csrf", &boss_csrf));
    assert_eq!(
        sara.post("/dashboard/pay", &foreign).await.status,
        StatusCode::FORBIDDEN
    );
    for path in [
        "/dashboard/loan-request",
        "/fund/draw",
        "/logout",
        "/admin/config",
        "/admin/members",
    ] {
        assert_eq!(
            boss.post(path, &[]).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(app.count("payments").await, 0);
    assert_eq!(app.count("loans").await, 0);

    // Sign-in is protected too: its token comes with the sign-in page's own cookie.
    let mut stranger = app.browser();
    let login = [("username", ADMIN), ("password", ADMIN_PASSWORD)];
    assert_eq!(
        stranger.post("/login", &login).await.status,
        StatusCode::FORBIDDEN
    );
    let mut with_token = login.to_vec();
    with_token.push(("csrf", &boss_csrf));
    assert_eq!(
        stranger.post("/login", &with_token).await.status,
        StatusCode::FORBIDDEN
    );

    // Without a session a POST goes to the sign-in page instead.
    let page = stranger.post("/dashboard/pay", &pay).await;
    assert_eq!(
        (page.status, page.location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
}

async fn the_dashboard_shows_the_month_and_takes_a_payment(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "40").await;
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;

    let page = sara.get("/dashboard").await;
    assert!(page.has("This month: Azar 1405"));
    assert!(page.has("Not paid yet"));
    assert!(page.has("at least 20.00 USDT"));
    assert!(page.has("id=\"balance\">0.00 "));
    assert!(page.has("No payments yet.") && page.has("No loans yet."));
    assert!(page.has("You have no loan to repay."));
    assert!(
        page.has("<label for=\"membership_fee\">") && page.has("<label for=\"bitpin_payment_id\">")
    );
    assert!(
        !page.has("name=\"loan\""),
        "no installment field without a loan"
    );

    let paid = sara
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[
                ("membership_fee", "1,025.5"),
                ("bitpin_payment_id", "bp-sara-1"),
                ("loan_request_amount", "۳۰"),
            ],
        )
        .await;
    // A comma is not a decimal separator: the amount is refused, next to its field.
    assert_eq!(paid.status, StatusCode::OK);
    assert!(paid
        .field_error("membership_fee")
        .starts_with("Enter an amount"));
    let paid = sara
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[
                ("membership_fee", "1025.5"),
                ("bitpin_payment_id", "bp-sara-1"),
                ("loan_request_amount", "۳۰"),
            ],
        )
        .await;
    assert_eq!(
        (paid.status, paid.location.as_str()),
        (StatusCode::SEE_OTHER, "/dashboard?done=paid")
    );
    let page = sara.get(&paid.location).await;
    assert!(page.has("Your payment was recorded."));
    assert!(page.has("Paid: 1,025.50 USDT"));
    assert!(page.has("id=\"balance\">1,025.50 "));
    assert!(
        page.has("<td>Azar 1405</td>") && page.has("bp-sara-1") && page.has("<td>1405/09/01</td>")
    );
    assert!(page.has("You have paid for this month."));
    assert!(
        !page.has("action=\"/dashboard/pay\""),
        "no second payment form"
    );
    let (_, me) = app
        .get("/api/auth/me", &sara.cookies["saghat_session"])
        .await;
    assert_eq!(me["balance"], "1025.50000000");
    assert_eq!(me["loan_request_amount"], "30.00000000");

    // A second payment this month is refused by the service, and said so.
    let again = sara
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[("membership_fee", "20"), ("bitpin_payment_id", "bp-sara-2")],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.has("Payment already submitted for Azar 1405"));
    assert_eq!(app.count("payments").await, 1);

    // The loan request: refused when negative, next to the field; saved otherwise.
    let bad = sara
        .submit(
            "/dashboard",
            "/dashboard/loan-request",
            &[("loan_request_amount", "-5")],
        )
        .await;
    assert_eq!(
        bad.field_error("loan_request_amount"),
        "Input should be greater than or equal to 0"
    );
    let saved = sara
        .submit(
            "/dashboard",
            "/dashboard/loan-request",
            &[("loan_request_amount", "55.5")],
        )
        .await;
    assert_eq!(saved.location, "/dashboard?done=loan_request");
    let page = sara.get(&saved.location).await;
    assert!(page.has("Your loan request was saved.") && page.has("55.50 <span class=\"unit\">"));
}

async fn payment_errors_are_shown_next_to_their_fields(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    app.post(
        "/api/payments/pay",
        &omid,
        json!({ "membership_fee": "20", "bitpin_payment_id": "bp-taken" }),
    )
    .await;
    app.member(&admin, "sara", "0").await;
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;
    let pay = |fee: &'static str, bitpin: &'static str| {
        [("membership_fee", fee), ("bitpin_payment_id", bitpin)]
    };

    let page = sara
        .submit("/dashboard", "/dashboard/pay", &pay("19.5", "bp-1"))
        .await;
    assert_eq!(
        page.field_error("membership_fee"),
        "Membership fee 19.50 is less than minimum required 20.00"
    );
    assert!(page.has("aria-invalid=\"true\""));
    assert!(page.has("value=\"19.5\""), "what was typed is kept");
    let page = sara
        .submit("/dashboard", "/dashboard/pay", &pay("", ""))
        .await;
    assert_eq!(
        page.field_error("membership_fee"),
        "This field is required."
    );
    assert_eq!(
        page.field_error("bitpin_payment_id"),
        "This field is required."
    );
    let page = sara
        .submit("/dashboard", "/dashboard/pay", &pay("20.123456789", "bp-1"))
        .await;
    assert!(page
        .field_error("membership_fee")
        .contains("at most 8 decimals"));
    let page = sara
        .submit("/dashboard", "/dashboard/pay", &pay("20", "bp-taken"))
        .await;
    assert_eq!(
        page.field_error("bitpin_payment_id"),
        "This Bitpin payment id has already been used"
    );
    let long_id = "x".repeat(129);
    let page = sara
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[("membership_fee", "20"), ("bitpin_payment_id", &long_id)],
        )
        .await;
    assert_eq!(
        page.field_error("bitpin_payment_id"),
        "String should have at most 128 characters"
    );
    // A repayment without a loan (the field is not even shown): said at the top of the form.
    let page = sara
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[
                ("membership_fee", "20"),
                ("loan", "5"),
                ("bitpin_payment_id", "bp-2"),
            ],
        )
        .await;
    assert!(page.has("You do not have an active loan. Loan payment must be null."));
    assert!(!page.has("{\"detail\""), "never raw JSON");
    assert_eq!(app.count("payments").await, 1);
}

async fn the_fund_page_runs_the_draw_and_shows_its_log(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "20").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    let mut browser = app.browser();
    browser.sign_in("omid", PASSWORD).await;

    let page = browser.get("/fund").await;
    assert!(page.has("Who has paid this month: Azar 1405"));
    assert!(page.has("<strong>0</strong> of 3 paid"));
    assert!(page.has("<span class=\"name\"><bdi>sara</bdi></span>") && page.has("Not paid yet"));
    assert!(page.has("The draw can start once every member has paid."));
    assert!(!page.has("id=\"start-draw\""));
    assert!(page.has("No draws yet.") && page.has("No payments yet: nothing to chart."));
    assert!(
        page.has("hx-get=\"/fund\" hx-trigger=\"every 30s\""),
        "the status refreshes itself"
    );

    // Starting too early: the service's refusal is shown on the page.
    let early = browser.submit("/fund", "/fund/draw", &[]).await;
    assert_eq!(early.status, StatusCode::OK);
    assert!(early.has("Not all users have paid for Azar 1405. Unpaid: admin, omid, sara"));

    for token in [&admin, &sara, &omid] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let page = browser.get("/fund").await;
    assert!(page.has("<strong>3</strong> of 3 paid") && page.has("Paid · 20.00"));
    assert!(page.has("Everyone has paid: the draw can start.") && page.has("id=\"start-draw\""));

    let drawn = browser.submit("/fund", "/fund/draw", &[]).await;
    assert_eq!(
        (drawn.status, drawn.location.as_str()),
        (StatusCode::SEE_OTHER, "/fund?done=draw#this-draw")
    );
    let page = browser.get("/fund?done=draw").await;
    assert!(page.has("The draw has run."));
    assert!(page.has("This month&#39;s draw has run.") || page.has("This month's draw has run."));
    // The log, readably: who took part with their score, who did not and why, pool, winner.
    assert!(page.has("id=\"this-draw\""));
    assert!(page.has("Winner: <strong><bdi>sara</bdi></strong> · <bdi>20.00 USDT</bdi>"));
    assert!(page.has("Participants and their scores"));
    assert!(page.has("<tr class=\"won\"><td><bdi>sara</bdi> <span class=\"badge\">Winner</span></td><td class=\"num\">unlimited</td>"));
    // Each reason in plain words, and what the score means.
    assert!(
        page.has("<td><bdi>admin</bdi></td><td class=\"text\">Asked for no loan (request 0)</td>")
    );
    assert!(
        page.has("<td><bdi>omid</bdi></td><td class=\"text\">Asked for no loan (request 0)</td>")
    );
    assert!(page.has("“unlimited” means no loan history yet: the highest priority."));
    assert!(page.has("Random pool (winner drawn from):</strong> <bdi>sara</bdi>"));
    assert!(!page.has("id=\"start-draw\""));

    // The chart: three lines, and the numbers behind them (cash 60 − 20 lent = 40).
    assert!(
        page.has("<svg class=\"chart chart-wide\"")
            && page.has("<svg class=\"chart chart-narrow\"")
    );
    assert_eq!(
        page.body.matches("<polyline").count(),
        6,
        "three lines in each drawing"
    );
    assert!(page.has("<td>Azar 1405</td><td class=\"num\">40.00</td><td class=\"num\">60.00</td><td class=\"num\">20.00</td>"));

    // A second draw this month is refused, and said so.
    // Every form of a session carries the same token.
    let csrf = page.csrf();
    let again = browser.post("/fund/draw", &[("csrf", &csrf)]).await;
    assert!(again.has("Loan assignment already done for Azar 1405"));
    assert_eq!(app.count("loans").await, 1);
}

async fn the_current_loan_shows_its_progress(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    admin_borrows_40(&app).await;
    let mut browser = app.browser();
    browser.sign_in(ADMIN, ADMIN_PASSWORD).await;

    let page = browser.get("/dashboard").await;
    assert!(page.has("Loan amount</dt><dd>40.00 USDT"));
    assert!(page.has("Remaining</dt><dd>40.00 USDT"));
    assert!(page.has("<progress id=\"loan-progress\" max=\"100\" value=\"0\">"));

    next_month(&app);
    let page = browser.get("/dashboard").await;
    assert!(
        page.has("This month: Dey 1405")
            && page.has("Loan installment</dt><dd>at least 20.00 USDT")
    );
    assert!(
        page.has("<label for=\"loan\">Loan installment"),
        "the installment field appears"
    );
    let missing = browser
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[
                ("membership_fee", "20"),
                ("loan", ""),
                ("bitpin_payment_id", "bp-9"),
            ],
        )
        .await;
    assert_eq!(
        missing.field_error("loan"),
        "You have an active loan. Loan repayment amount is required."
    );
    let too_much = browser
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[
                ("membership_fee", "20"),
                ("loan", "41"),
                ("bitpin_payment_id", "bp-9"),
            ],
        )
        .await;
    assert!(too_much
        .field_error("loan")
        .contains("exceeds the loan&#39;s remaining balance"));
    let paid = browser
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[
                ("membership_fee", "20"),
                ("loan", "20"),
                ("bitpin_payment_id", "bp-9"),
            ],
        )
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    let page = browser.get("/dashboard").await;
    assert!(page.has("Total paid</dt><dd>20.00 USDT") && page.has("Remaining</dt><dd>20.00 USDT"));
    assert!(page.has("value=\"50\">") && page.has("Repaid: 50%"));
    assert!(page.has("<td class=\"num\">20.00</td>\n        <td class=\"num\">40.00</td>"));
}

async fn admins_manage_members_and_settings(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "0").await;
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;
    for path in ["/admin/members", "/admin/config", "/admin/loans"] {
        assert_eq!(
            sara.send(Method::GET, path, None).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert!(
        !sara.get("/dashboard").await.has("href=\"/admin/members\""),
        "no admin links for members"
    );
    let csrf = sara.get("/dashboard").await.csrf();
    let forbidden = sara
        .post(
            "/admin/config",
            &[
                ("min_membership_fee", "1"),
                ("max_month_for_loan_payment", "1"),
                ("min_amount_for_loan_payment", "1"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get("/admin/members").await;
    assert!(page.has("<bdi>sara</bdi></a></td>") && page.has("<bdi>admin</bdi></a></td>"));
    assert!(page.has("<label for=\"username\">") && page.has("<label for=\"role\">"));

    let bad = boss
        .submit(
            "/admin/members",
            "/admin/members",
            &[
                ("username", "ab"),
                ("password", "short"),
                ("email", "nope"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert_eq!(
        bad.field_error("username"),
        "Username must be 3 to 150 characters long"
    );
    assert_eq!(
        bad.field_error("password"),
        "Password must be at least 8 characters long"
    );
    assert_eq!(bad.field_error("email"), "Enter a valid e-mail address");
    let taken = boss
        .submit(
            "/admin/members",
            "/admin/members",
            &[
                ("username", "SARA"),
                ("password", PASSWORD),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(taken.field_error("username"), "Username already exists");
    let created = boss
        .submit(
            "/admin/members",
            "/admin/members",
            &[
                ("username", "neda"),
                ("password", PASSWORD),
                ("first_name", "Neda"),
                ("role", "accountant"),
                ("loan_request_amount", ""),
            ],
        )
        .await;
    assert_eq!(created.location, "/admin/members?done=member");
    let page = boss.get(&created.location).await;
    assert!(
        page.has("The member was created.")
            && page.has("<bdi>neda</bdi></a></td>")
            && page.has("Accountant")
    );
    let neda = app.login("neda", PASSWORD).await;
    let (_, me) = app.get("/api/auth/me", &neda).await;
    assert_eq!(me["role"], "accountant");

    let page = boss.get("/admin/config").await;
    assert!(page.has("id=\"min_membership_fee\" name=\"min_membership_fee\" type=\"text\" inputmode=\"decimal\" value=\"20\""));
    let bad = boss
        .submit(
            "/admin/config",
            "/admin/config",
            &[
                ("min_membership_fee", "0"),
                ("max_month_for_loan_payment", "x"),
                ("min_amount_for_loan_payment", ""),
            ],
        )
        .await;
    assert_eq!(
        bad.field_error("min_membership_fee"),
        "Must be greater than 0."
    );
    assert_eq!(
        bad.field_error("max_month_for_loan_payment"),
        "Enter a whole number."
    );
    assert_eq!(
        bad.field_error("min_amount_for_loan_payment"),
        "This field is required."
    );
    let saved = boss
        .submit(
            "/admin/config",
            "/admin/config",
            &[
                ("min_membership_fee", "25"),
                ("max_month_for_loan_payment", "12"),
                ("min_amount_for_loan_payment", "30.5"),
            ],
        )
        .await;
    assert_eq!(saved.location, "/admin/config?done=config");
    assert!(boss
        .get(&saved.location)
        .await
        .has("The settings were saved."));
    let (_, config) = app.get("/api/payments/config", &admin).await;
    assert_eq!(
        config,
        json!({ "min_membership_fee": "25.00000000", "max_month_for_loan_payment": 12, "min_amount_for_loan_payment": "30.50000000" })
    );
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'config_changed'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["before"]["min_membership_fee"], "20.00000000");
    assert_eq!(details["after"]["max_month_for_loan_payment"], 12);
    assert!(
        sara.get("/dashboard").await.has("at least 25.00 USDT"),
        "members see the new minimum"
    );
}

async fn the_loan_history_filters_by_jalali_month(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    // Azar: the admin borrows 40. Dey: they repay half, so nobody is left to win.
    let admin = app.admin_token().await;
    let request = json!({ "loan_request_amount": "40" });
    app.call(
        Method::PATCH,
        "/api/auth/me/loan-request",
        Some(&admin),
        Some(request),
    )
    .await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    for repayment in [None, Some("20")] {
        assert_eq!(
            app.pay(&admin, "20", repayment).await.0,
            StatusCode::CREATED
        );
        assert_eq!(app.pay(&sara, "20", None).await.0, StatusCode::CREATED);
        let (status, body) = app
            .call(Method::POST, "/api/loans/start", Some(&admin), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        next_month(&app);
    }
    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get("/admin/loans").await;
    assert!(page.has("<td>Azar 1405</td>") && page.has("<td>Dey 1405</td>"));
    assert!(
        page.has("<summary>Azar 1405 · admin</summary>")
            && page.has("<summary>Dey 1405 · nobody</summary>")
    );
    assert!(
        page.has("<td><bdi>admin</bdi></td><td class=\"text\">Still repaying a loan</td>"),
        "the log explains who sat out"
    );

    let page = boss
        .get("/admin/loans?jalali_month_gt=9&jalali_year_lt=1406")
        .await;
    assert!(page.has("<td>Dey 1405</td>") && !page.has("<td>Azar 1405</td>"));
    assert!(page.has("value=\"9\""), "the filters are kept");
    let page = boss
        .get("/admin/loans?jalali_year_gt=%DB%B1%DB%B4%DB%B0%DB%B5")
        .await;
    assert!(
        page.has("No draws yet."),
        "Persian digits are read as a year"
    );
    let page = boss.get("/admin/loans?jalali_year_gt=soon").await;
    assert_eq!(page.field_error("jalali_year_gt"), "Enter a whole number.");
}

async fn persian_is_right_to_left_with_persian_digits(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    app.pay(&sara, "1250", None).await;
    let mut browser = app.browser();
    let login = browser.get("/login?lang=fa").await;
    assert!(login.has("<html lang=\"fa\" dir=\"rtl\""));
    assert!(login.has("نام کاربری") && login.has("href=\"/login?lang=en\""));
    assert!(login
        .cookie("saghat_lang")
        .unwrap()
        .starts_with("saghat_lang=fa;"));
    browser.sign_in("sara", PASSWORD).await;

    // Remembered without the parameter.
    let page = browser.get("/dashboard").await;
    assert!(page.has("dir=\"rtl\"") && page.has("موجودی"));
    assert!(page.has("id=\"balance\">۱٬۲۵۰٫۰۰ "));
    assert!(page.has("آذر ۱۴۰۵") && page.has("۱۴۰۵/۰۹/۰۱"));
    let fund = browser.get("/fund").await;
    assert!(fund.has("<strong>۱</strong> از ۲"));

    // Errors in Persian, next to their field.
    next_month(&app);
    let page = browser
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[("membership_fee", "۱۹"), ("bitpin_payment_id", "bp-fa")],
        )
        .await;
    assert_eq!(
        page.field_error("membership_fee"),
        "حق عضویت باید دست‌کم ۲۰٫۰۰ باشد"
    );
    let paid = browser
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[("membership_fee", "۲۰٫۵"), ("bitpin_payment_id", "bp-fa")],
        )
        .await;
    assert_eq!(
        paid.status,
        StatusCode::SEE_OTHER,
        "Persian digits are read: {}",
        paid.body
    );

    let english = browser.get("/dashboard?lang=en").await;
    assert!(english.has("<html lang=\"en\" dir=\"ltr\"") && english.has("1,270.50"));
    assert!(browser.get("/dashboard").await.has("dir=\"ltr\""));
}

async fn static_assets_and_security_headers(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let mut browser = app.browser();
    let js = browser.get("/static/htmx.min.js").await;
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(js.body.contains("htmx") && js.body.len() > 10_000);
    let css = browser.get("/static/app.css").await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    let page = browser.get("/login").await;
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(page.headers["cache-control"], "no-store");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(page.has("<script src=\"/static/htmx.min.js\" defer></script>"));
    assert!(
        !page.has("style=\""),
        "no inline styles: the CSP forbids them"
    );
    assert!(page.has("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    // The API keeps answering in JSON.
    let (status, body) = app.call(Method::GET, "/api/nothing-here", None, None).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("Not Found"))
    );
}

async fn sign_in_never_redirects_off_site(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let evil = [
        "//evil.example/",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/%09/evil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "/%0D%0A/evil.example",
        "https://evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/x//evil.example",
        "/\u{0}/evil.example",
    ];
    // From the sign-in form's hidden field.
    for next in evil {
        let mut browser = app.browser();
        let csrf = browser.get("/login").await.csrf();
        let page = browser
            .post(
                "/login",
                &[
                    ("username", ADMIN),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                    ("csrf", &csrf),
                ],
            )
            .await;
        stays_on_site(&page, next);
    }
    // From the link a signed-in user follows (`/login?next=…` as the issue showed it).
    let mut browser = app.browser();
    browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
    for next in evil {
        let encoded: String = next.bytes().map(|b| format!("%{b:02X}")).collect();
        let page = browser
            .send(Method::GET, &format!("/login?next={encoded}"), None)
            .await;
        stays_on_site(&page, next);
    }
    let page = browser
        .send(Method::GET, "/login?next=/%09/evil.example", None)
        .await;
    stays_on_site(&page, "/%09/evil.example");
    // A path of this site still works, with its query.
    let page = browser.get("/login?next=%2Ffund%3Fx%3D1").await;
    assert_eq!(page.location, "/fund?x=1");
    let mut other = app.browser();
    let csrf = other.get("/login").await.csrf();
    let page = other
        .post(
            "/login",
            &[
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("next", "/fund?x=1"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(page.location, "/fund?x=1");
}

/// After sign-in with an off-site `next`: to the dashboard, or (where the request itself is
/// refused, e.g. for its control characters) an error page that sends the browser nowhere.
fn stays_on_site(page: &Page, next: &str) {
    let refused = page.status.is_client_error() && page.location.is_empty();
    assert!(
        (page.status == StatusCode::SEE_OTHER && page.location == "/dashboard") || refused,
        "next={next:?}: {} to {:?}",
        page.status,
        page.location
    );
}

/// An error page: HTML in the page's language, the site's navigation, never JSON.
fn assert_error_page(page: &Page, status: StatusCode, message: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        page.headers
    );
    assert!(!page.has("{\"detail\""), "never raw JSON: {}", page.body);
    assert!(
        page.has("<nav aria-label="),
        "the navigation: {}",
        page.body
    );
    assert!(
        page.has(&format!("<p id=\"error-message\">{message}</p>")),
        "{message}: {}",
        page.body
    );
    assert_eq!(page.headers["cache-control"], "no-store");
}

async fn errors_are_html_pages_with_the_navigation(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "0").await;
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;

    // A member opening an admin page: 403, with the member's own navigation.
    for path in [
        "/admin/members",
        "/admin/config",
        "/admin/loans",
        "/admin/members/1",
    ] {
        let page = sara.send(Method::GET, path, None).await;
        assert_error_page(
            &page,
            StatusCode::FORBIDDEN,
            "Only the fund&#39;s admins may see this page.",
        );
        assert!(page.has("href=\"/fund\"") && page.has("<strong>sara</strong>"));
        assert!(!page.has("href=\"/admin/members\""), "no admin links");
    }
    let page = sara.send(Method::GET, "/admin/config?lang=fa", None).await;
    assert_error_page(
        &page,
        StatusCode::FORBIDDEN,
        "فقط مدیران صندوق به این صفحه دسترسی دارند.",
    );
    assert!(page.has("<html lang=\"fa\" dir=\"rtl\"") && page.has("خطا ۴۰۳"));
    assert!(
        page.has("href=\"/admin/config?lang=en\""),
        "the language switch stays"
    );
    sara.send(Method::GET, "/dashboard?lang=en", None).await;

    // An unknown path: 404 in the page's language, signed in or not.
    let page = sara.send(Method::GET, "/no/such/page", None).await;
    assert_error_page(&page, StatusCode::NOT_FOUND, "There is no such page.");
    assert!(page.has("href=\"/dashboard\"") && page.has("action=\"/logout\""));
    let page = sara
        .send(Method::GET, "/dashboard/nope?lang=fa", None)
        .await;
    assert_error_page(&page, StatusCode::NOT_FOUND, "چنین صفحه‌ای وجود ندارد.");
    let mut stranger = app.browser();
    let page = stranger.send(Method::GET, "/nope", None).await;
    assert_error_page(&page, StatusCode::NOT_FOUND, "There is no such page.");
    assert!(page.has("href=\"/login\""));
    // A wrong method on a page, and a form sent without its token.
    let page = sara.send(Method::DELETE, "/dashboard", None).await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(page.has("<nav aria-label="), "{}", page.body);
    let page = sara
        .post("/dashboard/pay", &[("membership_fee", "20")])
        .await;
    assert_error_page(
        &page,
        StatusCode::FORBIDDEN,
        "This form has expired or was not sent from this site: reload the page and try again.",
    );

    // An admin opening a member who does not exist.
    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.send(Method::GET, "/admin/members/999999", None).await;
    assert_error_page(&page, StatusCode::NOT_FOUND, "There is no such page.");
    assert!(
        page.has("href=\"/admin/members\""),
        "the admin's navigation"
    );

    // The API keeps its JSON, even for a browser.
    let page = sara.send(Method::GET, "/api/nothing-here", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.body, "{\"detail\":\"Not Found\"}");
    // And a script asking for an unknown path without wanting HTML gets JSON too.
    let (status, body) = app.call(Method::GET, "/nope", None, None).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("Not Found"))
    );
}

async fn a_database_error_on_a_page_is_an_html_page(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "0").await;
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;
    assert_eq!(sara.get("/dashboard").await.status, StatusCode::OK);
    // The table the dashboard reads is gone: a bug on our side, a 500.
    sqlx::query("ALTER TABLE payments RENAME TO payments_gone")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    for (path, message) in [
        (
            "/dashboard",
            "Something went wrong on our side. It has been logged; please try again later.",
        ),
        (
            "/fund?lang=fa",
            "مشکلی در سمت ما پیش آمد. ثبت شده است؛ لطفاً بعداً دوباره تلاش کنید.",
        ),
    ] {
        let page = sara.send(Method::GET, path, None).await;
        assert_error_page(&page, StatusCode::INTERNAL_SERVER_ERROR, message);
        assert!(
            page.has("<strong>sara</strong>"),
            "still signed in: {}",
            page.body
        );
    }
    // The API answers the same failure in JSON.
    let token = app.login("sara", PASSWORD).await;
    let (status, body) = app.get("/api/payments/my-payments", &token).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["detail"], "Internal server error");
    sqlx::query("ALTER TABLE payments_gone RENAME TO payments")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(sara.get("/dashboard?lang=en").await.status, StatusCode::OK);
}

async fn admins_edit_deactivate_and_follow_members(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let AdminBorrowed { sara_id, sara } = admin_borrows_40(&app).await;
    next_month(&app);
    assert_eq!(app.pay(&sara, "25.5", None).await.0, StatusCode::CREATED);

    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get("/admin/members").await;
    // Who paid this month (Dey), each balance and loan, and the fund's cash.
    assert!(
        page.has("<strong>1</strong> of 3 paid · Dey 1405"),
        "{}",
        page.body
    );
    let row = |page: &Page, id: i64| {
        let at = page.body.find(&format!("<tr id=\"member-{id}\"")).unwrap();
        let rest = &page.body[at..];
        rest[..rest.find("</tr>").unwrap()].to_string()
    };
    let sara_row = row(&page, sara_id);
    assert!(sara_row.contains("Paid <bdi>25.50</bdi>"), "{sara_row}");
    assert!(
        sara_row.contains("<td class=\"num\">45.50</td>"),
        "balance: {sara_row}"
    );
    let admin_row = row(&page, 1);
    assert!(admin_row.contains("Not paid yet"), "{admin_row}");
    assert!(
        admin_row.contains("40.00 / 40.00"),
        "the loan owed: {admin_row}"
    );
    assert!(
        page.has("id=\"fund-cash\"><bdi>45.50 USDT</bdi>"),
        "60 + 25.50 − 40"
    );
    assert!(page.has(
        "href=\"/admin/members/{sara_id}\""
            .replace("{sara_id}", &sara_id.to_string())
            .as_str()
    ));
    for path in ["/admin/config", "/admin/loans"] {
        assert!(
            boss.get(path)
                .await
                .has("id=\"fund-cash\"><bdi>45.50 USDT</bdi>"),
            "{path}"
        );
    }

    // Names, e-mail and role, through the API's own service.
    let edit = format!("/admin/members/{sara_id}");
    let page = boss.get(&edit).await;
    assert!(page.has("<h1><bdi>sara</bdi></h1>") && page.has("id=\"deactivate\""));
    let bad = boss
        .submit(
            &edit,
            &edit,
            &[
                ("first_name", "Sara"),
                ("email", "nope"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert_eq!(bad.field_error("email"), "Enter a valid e-mail address");
    assert!(bad.has("value=\"Sara\""), "what was typed is kept");
    let saved = boss
        .submit(
            &edit,
            &edit,
            &[
                ("first_name", "Sara"),
                ("last_name", "Karimi"),
                ("email", "sara@example.com"),
                ("role", "accountant"),
            ],
        )
        .await;
    assert_eq!(
        saved.location,
        format!("/admin/members/{sara_id}?done=member_saved")
    );
    assert!(boss.get(&saved.location).await.has("The member was saved."));
    let (_, me) = app.get("/api/auth/me", &sara).await;
    assert_eq!(
        (
            me["first_name"].as_str(),
            me["last_name"].as_str(),
            me["email"].as_str(),
            me["role"].as_str()
        ),
        (
            Some("Sara"),
            Some("Karimi"),
            Some("sara@example.com"),
            Some("accountant")
        )
    );
    let page = boss.get("/admin/members").await;
    assert!(
        row(&page, sara_id).contains("<td class=\"paid-cell\">—</td>"),
        "accountants pay nothing"
    );
    assert!(page.has("<strong>0</strong> of 2 paid"));

    // Deactivating signs her out everywhere; reactivating lets her back in.
    let mut sara_web = app.browser();
    sara_web.sign_in("sara", PASSWORD).await;
    let off = boss
        .submit(&edit, &format!("{edit}/active"), &[("active", "0")])
        .await;
    assert_eq!(
        off.location,
        format!("/admin/members/{sara_id}?done=deactivated")
    );
    let page = boss.get(&off.location).await;
    assert!(page.has("The member was deactivated.") && page.has("id=\"reactivate\""));
    assert!(row(&boss.get("/admin/members").await, sara_id).contains("Deactivated"));
    assert_eq!(
        sara_web.get("/dashboard").await.status,
        StatusCode::SEE_OTHER
    );
    let (status, _) = app.get("/api/auth/me", &sara).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let on = boss
        .submit(&edit, &format!("{edit}/active"), &[("active", "1")])
        .await;
    assert_eq!(
        on.location,
        format!("/admin/members/{sara_id}?done=reactivated")
    );
    app.login("sara", PASSWORD).await;

    // A new password: the old one stops working, every session of hers ends, and the audit
    // log records the reset without the password.
    let mut sara_web = app.browser();
    sara_web.sign_in("sara", PASSWORD).await;
    let reset = format!("{edit}/password");
    let short = boss.submit(&edit, &reset, &[("password", "short")]).await;
    assert_eq!(short.status, StatusCode::OK);
    assert_eq!(
        short.field_error("new_password"),
        "Password must be at least 8 characters long"
    );
    let empty = boss.submit(&edit, &reset, &[("password", "")]).await;
    assert_eq!(empty.field_error("new_password"), "This field is required.");
    let done = boss
        .submit(&edit, &reset, &[("password", "a-brand-new-secret")])
        .await;
    assert_eq!(
        done.location,
        format!("/admin/members/{sara_id}?done=password_reset")
    );
    assert!(boss
        .get(&done.location)
        .await
        .has("The password was reset; the member&#39;s sessions were signed out."));
    assert_eq!(
        sara_web.get("/dashboard").await.status,
        StatusCode::SEE_OTHER
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "username": "sara", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("sara", "a-brand-new-secret").await;
    let audit: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_log")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert!(!audit.iter().any(|d| d.contains("a-brand-new-secret")));

    // The admin cannot lock themselves out: said on the page, nothing changed.
    let me = "/admin/members/1";
    let page = boss
        .submit(me, &format!("{me}/active"), &[("active", "0")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has("You cannot deactivate or demote yourself"),
        "{}",
        page.body
    );
    let page = boss.submit(me, me, &[("role", "member")]).await;
    assert!(page.has("You cannot deactivate or demote yourself"));
    let changes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'user_changed' AND target = $1",
    )
    .bind(format!("user:{sara_id}"))
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert!(changes >= 4, "each change audited: {changes}");

    // In Persian: Persian digits in the table and the forms.
    let page = boss.get("/admin/members?lang=fa").await;
    assert!(
        page.has("id=\"fund-cash\"><bdi>۴۵٫۵۰ USDT</bdi>"),
        "{}",
        page.body
    );
    assert!(
        page.has("value=\"۰\""),
        "the loan request field in Persian digits"
    );
    let page = boss.get("/admin/config").await;
    assert!(page.has("value=\"۲۰\""), "{}", page.body);
}

async fn the_dashboard_says_whether_you_take_part_and_what_is_left_to_repay(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    // The admin asks for 40 (admins may ask above their balance), Sara for nothing, Omid for
    // more than he has paid in.
    let admin = app.admin_token().await;
    app.call(
        Method::PATCH,
        "/api/auth/me/loan-request",
        Some(&admin),
        Some(json!({ "loan_request_amount": "40" })),
    )
    .await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "50").await;
    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let mut sara_web = app.browser();
    sara_web.sign_in("sara", PASSWORD).await;
    let mut omid_web = app.browser();
    omid_web.sign_in("omid", PASSWORD).await;

    let page = boss.get("/dashboard").await;
    assert!(
        page.has("This month&#39;s draw: Azar 1405"),
        "{}",
        page.body
    );
    assert!(page.has("You take part in this month&#39;s draw, asking for <bdi>40.00 USDT</bdi>."));
    let page = sara_web.get("/dashboard").await;
    assert!(page.has("id=\"draw-excluded\""));
    assert!(page.has("Your loan request is 0, which means you opt out."));
    let page = omid_web.get("/dashboard").await;
    assert!(page.has("Your loan request is above your balance (the fees you have paid). (<bdi>50.00 &gt; 0.00 USDT</bdi>)"), "{}", page.body);
    let page = omid_web.get("/dashboard?lang=fa").await;
    assert!(page.has("مبلغ درخواستی وام شما از موجودی‌تان (حق عضویت‌های پرداختی) بیشتر است. (<bdi>۵۰٫۰۰ &gt; ۰٫۰۰ USDT</bdi>)"), "{}", page.body);

    for token in [&admin, &sara, &omid] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, _) = app
        .call(Method::POST, "/api/loans/start", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(boss
        .get("/dashboard")
        .await
        .has("This month&#39;s draw has run: you won it."));
    assert!(sara_web
        .get("/dashboard")
        .await
        .has("This month&#39;s draw has run: you did not win this time."));
    // Paid this month already: the first installment is due next month.
    let page = boss.get("/dashboard").await;
    assert!(page.has("id=\"installments-left\">2</dd>"), "{}", page.body);
    assert!(
        page.has("id=\"next-due\">Dey 1405</dd>")
            && page.has("id=\"paid-off-by\">Bahman 1405</dd>")
    );

    // Dey: unpaid, so due now; the active loan keeps the admin out of the draw.
    next_month(&app);
    let page = boss.get("/dashboard").await;
    assert!(page.has("You are still repaying a loan: you take part again once it is repaid."));
    assert!(
        page.has("id=\"installments-left\">2</dd>") && page.has("id=\"next-due\">Dey 1405</dd>")
    );
    assert_eq!(
        app.pay(&admin, "20", Some("25")).await.0,
        StatusCode::CREATED
    );
    let page = boss.get("/dashboard").await;
    // 15 left at a minimum of 20: one last, smaller installment next month.
    assert!(
        page.has("id=\"installments-left\">1</dd>") && page.has("id=\"next-due\">Bahman 1405</dd>")
    );
    assert!(page.has("id=\"paid-off-by\">Bahman 1405</dd>"));
    let page = boss.get("/dashboard?lang=fa").await;
    assert!(
        page.has("id=\"installments-left\">۱</dd>") && page.has("id=\"next-due\">بهمن ۱۴۰۵</dd>")
    );
    assert!(page.has("هنوز در حال بازپرداخت وام هستید"));
    boss.get("/dashboard?lang=en").await;

    // Accountants take no part in draws: no such card.
    let created = boss
        .submit(
            "/admin/members",
            "/admin/members",
            &[
                ("username", "neda"),
                ("password", PASSWORD),
                ("role", "accountant"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let mut neda = app.browser();
    neda.sign_in("neda", PASSWORD).await;
    assert!(!neda.get("/dashboard").await.has("id=\"draw-status\""));
}

async fn persian_digits_and_separators_everywhere(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "20").await;
    let (_, omid) = app.member(&admin, "omid", "20").await;
    for token in [&admin, &sara, &omid] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, _) = app
        .call(Method::POST, "/api/loans/start", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut browser = app.browser();
    browser.get("/login?lang=fa").await;
    browser.sign_in(ADMIN, ADMIN_PASSWORD).await;

    // Form values, in Persian digits (and read back as numbers).
    next_month(&app);
    let page = browser.get("/dashboard").await;
    assert!(page.has("id=\"membership_fee\" name=\"membership_fee\" type=\"text\" inputmode=\"decimal\" value=\"۲۰\""), "{}", page.body);
    assert!(page.has("id=\"loan_request_amount\" name=\"loan_request_amount\" type=\"text\" inputmode=\"decimal\" value=\"۰\""));
    // Amounts in errors with the page's precision, months by name.
    let page = browser
        .submit(
            "/dashboard",
            "/dashboard/pay",
            &[("membership_fee", "۱۰"), ("bitpin_payment_id", "bp-fa-1")],
        )
        .await;
    assert_eq!(
        page.field_error("membership_fee"),
        "حق عضویت باید دست‌کم ۲۰٫۰۰ باشد"
    );
    let early = browser.submit("/fund", "/fund/draw", &[]).await;
    assert!(
        early.has("همه اعضا برای دی ۱۴۰۵ پرداخت نکرده‌اند. پرداخت‌نکرده: admin، omid، sara"),
        "{}",
        early.body
    );
    let page = browser.get("/fund").await;
    // The pool is a Persian list; the chart's months are named like the page's.
    assert!(
        page.has("</strong> <bdi>sara، omid</bdi></p>"),
        "{}",
        page.body
    );
    assert!(page.has(">آذر</tspan><tspan") && page.has(">۱۴۰۵</tspan>"));
    assert!(!page.has(">1405/"), "no Latin month numbers in the chart");
    assert!(
        page.has("<th scope=\"col\" class=\"num\">موجودی نقد صندوق</th>"),
        "amount columns are aligned at their end"
    );
    assert!(page.has("data-scroll-hint=\"↔ برای دیدن همه ستون‌ها جدول را به پهلو بکشید.\""));
    let config = browser.get("/admin/config").await;
    assert!(
        config.has("value=\"۲۰\"") && config.has("value=\"۲۴\""),
        "{}",
        config.body
    );
    // A favicon, linked from every page.
    assert!(page.has("<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"));
    for path in ["/static/favicon.svg", "/favicon.ico"] {
        let icon = browser.get(path).await;
        assert_eq!(icon.headers["content-type"], "image/svg+xml", "{path}");
        assert!(icon.body.starts_with("<svg"));
    }
    let js = browser.get("/static/app.js").await;
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(page.has("<script src=\"/static/app.js\" defer></script>"));
}

async fn the_fund_page_names_who_blocks_the_draw(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    app.member(&admin, "omid", "0").await;
    app.pay(&sara, "20", None).await;
    let mut browser = app.browser();
    browser.sign_in("sara", PASSWORD).await;
    let page = browser.get("/fund").await;
    // Admins pay like every member: the admin is among those the draw waits for.
    assert!(
        page.has("id=\"draw-blocked-by\"><strong>Waiting for:</strong> <bdi>admin, omid</bdi>"),
        "{}",
        page.body
    );
    assert!(page.has("Admins are fund members who pay"));
    let page = browser.get("/fund?lang=fa").await;
    assert!(page.has("<strong>در انتظار پرداخت:</strong> <bdi>admin، omid</bdi>"));
    assert!(page.has("مدیران اعضای پرداخت‌کننده صندوق‌اند"));
    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get("/admin/config?lang=en").await;
    assert!(page.has("id=\"admins-pay\">Admins are fund members who pay"));
    app.pay(&admin, "20", None).await;
    let page = browser.get("/fund?lang=en").await;
    assert!(page.has("<bdi>omid</bdi></p>") && !page.has("<bdi>admin, omid</bdi>"));
}

async fn members_choose_how_they_are_notified(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let mut browser = app.browser();
    browser.sign_in("sara", PASSWORD).await;
    let page = browser.get("/notifications?lang=fa").await;
    assert!(
        page.has("dir=\"rtl\"") && page.has("اعلان‌ها"),
        "{}",
        page.body
    );
    assert!(page.has("href=\"/notifications\" aria-current=\"page\""));
    // The defaults: Persian, e-mail, reminders on.
    assert!(page.has("<option value=\"fa\" selected>"));
    assert!(page.has("name=\"email_on\" value=\"on\" checked"));
    assert!(page.has("name=\"reminders\" value=\"on\" checked"));

    // Errors in Persian, next to their fields; nothing saved.
    let refused = browser
        .submit(
            "/notifications",
            "/notifications",
            &[
                ("language", "fa"),
                ("email", ""),
                ("mobile", "۱۲۳"),
                ("email_on", "on"),
                ("sms_on", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(
        refused.field_error("email").starts_with("یک نشانی ایمیل"),
        "{}",
        refused.body
    );
    assert!(
        refused.field_error("mobile").starts_with("یک شماره موبایل"),
        "{}",
        refused.body
    );
    assert_eq!(app.count("notification_preferences").await, 0);

    // Persian digits in the mobile are read; reminders off; English messages.
    let saved = browser
        .submit(
            "/notifications",
            "/notifications",
            &[
                ("language", "en"),
                ("email", "sara@example.com"),
                ("mobile", "۰۹۱۲ ۱۲۳ ۴۵۶۷"),
                ("email_on", "on"),
                ("sms_on", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location, "/notifications?done=notifications");
    let (_, prefs) = app.get("/api/notifications/preferences", &sara).await;
    assert_eq!(
        prefs,
        json!({ "language": "en", "email": "sara@example.com", "mobile": "+989121234567",
                "channels": ["email", "sms"], "reminders": false })
    );
    let page = browser
        .get("/notifications?done=notifications&lang=en")
        .await;
    assert!(page.has("Your notification settings were saved."));
    assert!(page.has("value=\"+989121234567\"") && page.has("<option value=\"en\" selected>"));
    let persian = browser.get("/notifications?lang=fa").await;
    assert!(
        persian.has("value=\"+۹۸۹۱۲۱۲۳۴۵۶۷\""),
        "Persian digits: {}",
        persian.body
    );
    assert!(!page.has("name=\"reminders\" value=\"on\" checked"));
}
