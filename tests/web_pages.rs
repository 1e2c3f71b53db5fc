//! The web pages over HTTP, on SQLite and PostgreSQL: sign-in and sessions, CSRF, the member
//! dashboard, the fund page and its draw, the admin pages, Persian, and static assets.

mod common;

use std::collections::HashMap;

use chrono::Duration;
use chrono_tz::Tz;
use common::{Backend, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use saghat::platform::jalali::JalaliMonth;
use serde_json::json;

crate::on_both_databases!(
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
);

/// Tokens last a year: these tests move through months.
async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await
}

/// A page as a browser got it.
struct Page {
    status: StatusCode,
    location: String,
    set_cookies: Vec<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    /// The CSRF token of the page's first form.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in: {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// The text of the error shown under field `id`.
    fn field_error(&self, id: &str) -> String {
        let marker = format!("id=\"{id}-error\">");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no error for {id} in: {}", self.body));
        let rest = &self.body[at + marker.len()..];
        rest[..rest.find("</p>").unwrap()].to_string()
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// A browser: a cookie jar and no automatic redirects.
struct Browser<'a> {
    app: &'a TestApp,
    cookies: HashMap<String, String>,
    headers: Vec<(&'static str, &'static str)>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: HashMap::new(),
            headers: vec![],
        }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut request = self.app.http.request(method, self.app.url(path));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(COOKIE, jar.join("; "));
        }
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.expect("request sent");
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for cookie in &set_cookies {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default(),
            set_cookies,
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let page = self.send(Method::GET, path, None).await;
        assert!(
            page.status == StatusCode::OK || page.status == StatusCode::SEE_OTHER,
            "GET {path}: {} {}",
            page.status,
            page.body
        );
        page
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Fills in a form of page `from` and submits it to `action` with the page's CSRF token.
    async fn submit(&mut self, from: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut form = fields.to_vec();
        form.push(("csrf", &csrf));
        self.post(action, &form).await
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let page = self
            .submit(
                "/login",
                "/login",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "sign in {username}: {}",
            page.body
        );
        page
    }
}

fn next_month(app: &TestApp) {
    use saghat::platform::clock::Clock;
    let month = JalaliMonth::containing(app.clock.now(), Tz::UTC).next();
    app.clock
        .set(month.starts_at(Tz::UTC) + Duration::hours(12));
}

async fn signing_in_and_out(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let mut browser = Browser::new(&app);
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
    let mut other = Browser::new(&app);
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
    let mut browser = Browser::new(&app);
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
    let mut sara = Browser::new(&app);
    sara.sign_in("sara", PASSWORD).await;
    let mut boss = Browser::new(&app);
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
    let mut stranger = Browser::new(&app);
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
    let mut sara = Browser::new(&app);
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
    assert!(again.has("Payment already submitted for 1405/9"));
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
    let mut sara = Browser::new(&app);
    sara.sign_in("sara", PASSWORD).await;
    let pay = |fee: &'static str, bitpin: &'static str| {
        [("membership_fee", fee), ("bitpin_payment_id", bitpin)]
    };

    let page = sara
        .submit("/dashboard", "/dashboard/pay", &pay("19.5", "bp-1"))
        .await;
    assert_eq!(
        page.field_error("membership_fee"),
        "Membership fee 19.50000000 is less than minimum required 20.00000000"
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
    let mut browser = Browser::new(&app);
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
    assert!(early.has("Not all users have paid for 1405/9. Unpaid: admin, omid, sara"));

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
    assert!(page.has("<td><bdi>admin</bdi></td><td>loan_request_amount is 0</td>"));
    assert!(page.has("<td><bdi>omid</bdi></td><td>loan_request_amount is 0</td>"));
    assert!(page.has("Random pool (winner drawn from):</strong> sara"));
    assert!(!page.has("id=\"start-draw\""));

    // The chart: three lines, and the numbers behind them (cash 60 − 20 lent = 40).
    assert!(page.has("<svg class=\"chart\""));
    assert_eq!(page.body.matches("<polyline").count(), 3);
    assert!(page.has("<td>Azar 1405</td><td class=\"num\">40.00</td><td class=\"num\">60.00</td><td class=\"num\">20.00</td>"));

    // A second draw this month is refused, and said so.
    // Every form of a session carries the same token.
    let csrf = page.csrf();
    let again = browser.post("/fund/draw", &[("csrf", &csrf)]).await;
    assert!(again.has("Loan assignment already done for 1405/9"));
    assert_eq!(app.count("loans").await, 1);
}

async fn the_current_loan_shows_its_progress(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    // The admin may ask for more than their balance; the others opt out.
    app.call(
        Method::PATCH,
        "/api/auth/me/loan-request",
        Some(&admin),
        Some(json!({ "loan_request_amount": "40" })),
    )
    .await;
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    for token in [&admin, &sara, &omid] {
        app.pay(token, "20", None).await;
    }
    app.call(Method::POST, "/api/loans/start", Some(&admin), None)
        .await;
    let mut browser = Browser::new(&app);
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
    let mut sara = Browser::new(&app);
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

    let mut boss = Browser::new(&app);
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get("/admin/members").await;
    assert!(page.has("<td>sara</td>") && page.has("<td>admin</td>"));
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
        page.has("The member was created.") && page.has("<td>neda</td>") && page.has("Accountant")
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
    let mut boss = Browser::new(&app);
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get("/admin/loans").await;
    assert!(page.has("<td>Azar 1405</td>") && page.has("<td>Dey 1405</td>"));
    assert!(
        page.has("<summary>Azar 1405 · admin</summary>")
            && page.has("<summary>Dey 1405 · nobody</summary>")
    );
    assert!(
        page.has("<td><bdi>admin</bdi></td><td>has an active loan</td>"),
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
    let mut browser = Browser::new(&app);
    let login = browser.get("/login?lang=fa").await;
    assert!(login.has("<html lang=\"fa\" dir=\"rtl\">"));
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
        "حق عضویت باید دست‌کم ۲۰٫۰۰۰۰۰۰۰۰ باشد"
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
    assert!(english.has("<html lang=\"en\" dir=\"ltr\">") && english.has("1,270.50"));
    assert!(browser.get("/dashboard").await.has("dir=\"ltr\""));
}

async fn static_assets_and_security_headers(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let mut browser = Browser::new(&app);
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
