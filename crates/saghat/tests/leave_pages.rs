//! Members leaving the fund on the web pages, on SQLite and PostgreSQL: on the admin's member
//! page what leaving would give back, a confirmation step, then the request; on the member's
//! own page the amounts with "Confirm leaving" and "Decline"; after leaving, the refund, no pay
//! form (a payment is refused anyway) and "Let rejoin"; a decline, a withdrawn request, a loan
//! that owes more than was paid in, and every refusal shown next to its form, in English and
//! Persian.
//!
//! Then in headless Chromium (SQLite): the admin's action, the member's box and after leaving,
//! checked and photographed in English and Persian at 1280 and 375 pixels (`42-leave-*` to
//! `48-leave-*` in `<target>/debug/web-screenshots/`). Without `/usr/bin/chromium` and
//! `/usr/bin/chromedriver` that test is skipped with a message, unless `CI` is set.

use saghat_test_support as common;

use common::webdriver::{browser_available, check_page_facts, ChromeDriver, Shots, ENTER};
use common::{Backend, Browser, Page, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

common::on_both_databases!(
    the_admin_asks_the_member_confirms_and_rejoins,
    the_member_declines_and_the_admin_withdraws,
    a_loan_owing_more_than_was_paid_in_is_refused_next_to_the_form,
);

/// Whether the page shows `text` (as the templates escape it).
fn shows(page: &Page, text: &str) -> bool {
    page.has(&text.replace('\'', "&#39;"))
}

/// The `<dd>` of leaving's amount `id` (`leave-paid-in`, `leave-owed`, `leave-refund`).
fn amount(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"><bdi>");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in: {}", page.body));
    let rest = &page.body[at + marker.len()..];
    rest[..rest.find("</bdi>").unwrap()].to_string()
}

/// The form errors' box of a page (the first one).
fn form_errors(page: &Page) -> &str {
    let at = page
        .body
        .find("class=\"form-errors\"")
        .unwrap_or_else(|| panic!("no form errors in: {}", page.body));
    let rest = &page.body[at..];
    &rest[..rest.find("</div>").unwrap()]
}

/// Azar 1405: the admin pays 20, Sara 40 and Omid 30; Sara alone asks (for 20) and borrows it.
/// (Sara's id, Omid's id, the admin's token.)
async fn sara_borrows_20(app: &TestApp) -> (i64, i64, String) {
    let admin = app.admin_token().await;
    let (sara_id, sara) = app.member(&admin, "sara", "20").await;
    let (omid_id, omid) = app.member(&admin, "omid", "0").await;
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    assert_eq!(app.pay(&sara, "40", None).await.0, StatusCode::CREATED);
    assert_eq!(app.pay(&omid, "30", None).await.0, StatusCode::CREATED);
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{drawn}");
    assert_eq!(drawn["loan"]["user_id"], sara_id);
    (sara_id, omid_id, admin)
}

async fn signed_in<'a>(app: &'a TestApp, username: &str, password: &str) -> Browser<'a> {
    let mut browser = app.browser();
    browser.sign_in(username, password).await;
    browser
}

async fn the_admin_asks_the_member_confirms_and_rejoins(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (sara_id, _, admin) = sara_borrows_20(&app).await;
    let mut boss = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
    let member = format!("/admin/members/{sara_id}");
    let ask = format!("{member}/leave");

    // Her page says what leaving now would give back: 40 paid in, 20 settle her loan, 20 back.
    let page = boss.get(&member).await;
    assert!(page.has("id=\"leaving\""), "{}", page.body);
    assert!(page.has(&format!("href=\"{ask}\"")));
    assert_eq!(amount(&page, "leave-paid-in"), "40.00 USDT");
    assert_eq!(amount(&page, "leave-owed"), "20.00 USDT");
    assert_eq!(amount(&page, "leave-refund"), "20.00 USDT");
    // The confirmation step: the same amounts, the button, nothing asked yet.
    let page = boss.get(&ask).await;
    assert!(page.has("id=\"confirm-ask\""), "{}", page.body);
    assert!(page.has("<h1>Ask to leave the fund: <bdi>sara</bdi></h1>"));
    assert_eq!(amount(&page, "leave-refund"), "20.00 USDT");
    assert!(shows(&page, "Nothing moves until they confirm"));
    let (_, mine) = app
        .get(&format!("/api/fund/members/{sara_id}/departures"), &admin)
        .await;
    assert_eq!(mine, json!([]), "nothing asked by looking");

    let asked = boss.submit(&ask, &ask, &[]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.location, format!("{member}?done=leave_asked"));
    let page = boss.get(&asked.location).await;
    assert!(page.has("The member is asked to leave"), "{}", page.body);
    assert!(page.has("id=\"leave-asked\">Asked to leave on 1405/09/01"));
    assert!(page.has("id=\"withdraw-leave\""));
    assert!(!page.has(&format!("href=\"{ask}\"")), "asked once");
    let list = boss.get("/admin/members").await;
    assert!(list.has(&format!(
        "<a class=\"lv-tag lv-tag-asked\" href=\"{member}#leaving\">Asked to leave</a>"
    )));
    // Asking again (a second tab): refused next to the form, with no button to press.
    let again = boss.submit(&ask, &ask, &[]).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(
        form_errors(&again).contains("This member has already been asked to leave"),
        "{}",
        again.body
    );
    assert!(!again.has("id=\"confirm-ask\""));

    // Sara sees the request, what she paid in, what her loan owes and what she gets back.
    let mut sara = signed_in(&app, "sara", PASSWORD).await;
    let page = sara.get("/dashboard").await;
    assert!(page.has("id=\"leave-request\""), "{}", page.body);
    assert!(page.has("You are asked to leave the fund"));
    assert!(page.has("An admin asked you on 1405/09/01 to leave the fund."));
    assert_eq!(amount(&page, "leave-paid-in"), "40.00 USDT");
    assert_eq!(amount(&page, "leave-owed"), "20.00 USDT");
    assert_eq!(amount(&page, "leave-refund"), "20.00 USDT");
    assert!(page.has("action=\"/dashboard/leave/confirm\""));
    assert!(page.has("action=\"/dashboard/leave/decline\""));
    // In Persian: the same box, translated, with Persian digits.
    let fa = sara.get("/dashboard?lang=fa").await;
    assert!(
        fa.has("از شما خواسته شده است از صندوق خارج شوید"),
        "{}",
        fa.body
    );
    assert!(fa.has("مدیر در ۱۴۰۵/۰۹/۰۱ از شما خواست از صندوق خارج شوید."));
    assert_eq!(amount(&fa, "leave-paid-in"), "۴۰٫۰۰ USDT");
    assert_eq!(amount(&fa, "leave-refund"), "۲۰٫۰۰ USDT");
    assert!(fa.has(">تأیید خروج</button>") && fa.has(">نمی‌پذیرم</button>"));
    assert!(!fa.has(">?<"), "nothing untranslated");
    sara.get("/dashboard?lang=en").await;
    // Without the token, nothing happens.
    let forged = sara
        .post("/dashboard/leave/confirm", &[("csrf", "0")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // She confirms: 20 settle her loan, 20 come back to her; the books still balance.
    let (_, before) = app.get("/api/wallet/fund", &admin).await;
    let left = sara
        .submit("/dashboard", "/dashboard/leave/confirm", &[])
        .await;
    assert_eq!(left.status, StatusCode::SEE_OTHER, "{}", left.body);
    assert_eq!(left.location, "/dashboard?done=left");
    app.assert_books_verify().await;
    let (_, after) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(before["cash"], "70.00000000", "{before}");
    assert_eq!(after["cash"], "50.00000000", "the refund left the cash");
    assert_eq!(after["outstanding_loans"], "0.00000000");
    let (_, me) = app
        .get("/api/auth/me", &app.login("sara", PASSWORD).await)
        .await;
    assert_eq!(me["balance"], "0.00000000", "{me}");

    // Her page says she left and what came back; no pay form, nothing due.
    let page = sara.get("/dashboard?done=left").await;
    assert!(page.has("You have left the fund."), "the notice");
    assert!(page.has("id=\"left-fund\""));
    assert!(page.has("You left the fund on 1405/09/01; 20.00 USDT was paid back to you."));
    assert_eq!(amount(&page, "leave-refund"), "20.00 USDT");
    assert!(!page.has("id=\"leave-request\""));
    assert!(!page.has("action=\"/dashboard/pay\""), "no pay form");
    assert!(page.has("id=\"pay-left\""));
    assert!(!page.has("id=\"draw-status\""), "not in the draws");
    // Next month, a payment posted anyway is refused with the payment rules' own sentence.
    app.advance_days(30);
    let mut sara = signed_in(&app, "sara", PASSWORD).await;
    let fields = [
        ("membership_fee", "20"),
        ("bitpin_payment_id", "bp-after-leaving"),
    ];
    let refused = sara.submit("/dashboard", "/dashboard/pay", &fields).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(
        form_errors(&refused).contains("You have left the fund; an admin can let you rejoin"),
        "{}",
        refused.body
    );
    sara.get("/dashboard?lang=fa").await;
    let refused = sara.submit("/dashboard", "/dashboard/pay", &fields).await;
    assert!(
        form_errors(&refused).contains("شما از صندوق خارج شده‌اید"),
        "{}",
        refused.body
    );
    let fa = sara.get("/dashboard").await;
    assert!(fa.has("شما در ۱۴۰۵/۰۹/۰۱ از صندوق خارج شدید و ۲۰٫۰۰ تتر به شما بازگردانده شد."));
    assert_eq!(app.count("payments").await, 3, "nothing paid");

    // The admin sees she left, what was refunded, and may let her rejoin.
    let mut boss = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
    let page = boss.get(&member).await;
    assert!(
        page.has("id=\"left-on\">Left on 1405/09/01, refunded 20.00 USDT.<"),
        "{}",
        page.body
    );
    assert!(page.has(&format!("action=\"{member}/rejoin\"")));
    assert!(page.has(">Let rejoin</button>"));
    let list = boss.get("/admin/members").await;
    assert!(list.has("lv-tag-left\" href=") && list.has(">Left the fund</a>"));
    let fa = boss.get(&format!("{member}?lang=fa")).await;
    assert!(fa.has("در ۱۴۰۵/۰۹/۰۱ از صندوق خارج شد و ۲۰٫۰۰ تتر به او بازگردانده شد."));
    assert!(fa.has(">عضویت دوباره</button>"));
    boss.get(&format!("{member}?lang=en")).await;
    // Asking someone gone to leave: the page says why, with no button.
    let page = boss.get(&ask).await;
    assert!(form_errors(&page).contains("This member has already left the fund."));
    assert!(!page.has("id=\"confirm-ask\""));

    // Rejoining: from no contributions; she pays again.
    let rejoin = format!("{member}/rejoin");
    let done = boss.submit(&member, &rejoin, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location, format!("{member}?done=rejoined"));
    let page = boss.get(&done.location).await;
    assert!(page.has("The member has rejoined the fund"));
    assert!(page.has(&format!("href=\"{ask}\"")), "can be asked again");
    assert_eq!(amount(&page, "leave-paid-in"), "0.00 USDT");
    // Twice: refused next to the card's form.
    let twice = boss.post(&rejoin, &[("csrf", &page.csrf())]).await;
    assert_eq!(twice.status, StatusCode::OK);
    let leaving = &twice.body[twice.body.find("id=\"leaving\"").unwrap()..];
    assert!(
        leaving.contains("This member has not left the fund."),
        "{}",
        twice.body
    );
    let page = sara.get("/dashboard?lang=en").await;
    assert!(!page.has("id=\"left-fund\"") && page.has("action=\"/dashboard/pay\""));
    let paid = sara.submit("/dashboard", "/dashboard/pay", &fields).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    app.assert_books_verify().await;
}

async fn the_member_declines_and_the_admin_withdraws(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, omid_id, admin) = sara_borrows_20(&app).await;
    let mut boss = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
    let member = format!("/admin/members/{omid_id}");
    let ask = format!("{member}/leave");
    // Omid has no loan: all 30 would come back.
    let page = boss.get(&ask).await;
    assert_eq!(amount(&page, "leave-owed"), "0.00 USDT");
    assert_eq!(amount(&page, "leave-refund"), "30.00 USDT");
    assert_eq!(
        boss.submit(&ask, &ask, &[]).await.status,
        StatusCode::SEE_OTHER
    );

    // He declines: nothing changes.
    let mut omid = signed_in(&app, "omid", PASSWORD).await;
    assert!(omid.get("/dashboard").await.has("id=\"leave-request\""));
    let declined = omid
        .submit("/dashboard", "/dashboard/leave/decline", &[])
        .await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER, "{}", declined.body);
    assert_eq!(declined.location, "/dashboard?done=leave_declined");
    let page = omid.get(&declined.location).await;
    assert!(page.has("You declined: you stay in the fund."));
    assert!(!page.has("id=\"leave-request\"") && !page.has("id=\"left-fund\""));
    let token = app.login("omid", PASSWORD).await;
    let (_, mine) = app.get("/api/fund/my-departures", &token).await;
    assert_eq!(mine[0]["state"], "cancelled", "{mine}");
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["balance"], "30.00000000");
    let page = boss.get(&member).await;
    assert!(page.has(&format!("href=\"{ask}\"")), "can be asked again");

    // Asked again, and the admin withdraws it before he answers.
    boss.submit(&ask, &ask, &[]).await;
    let withdraw = format!("{member}/leave/withdraw");
    let done = boss.submit(&member, &withdraw, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location, format!("{member}?done=leave_withdrawn"));
    assert!(boss
        .get(&done.location)
        .await
        .has("The request to leave was withdrawn."));
    // Withdrawn twice, or confirmed after it was withdrawn (a page left open): refused.
    let csrf = boss.get(&member).await.csrf();
    let twice = boss.post(&withdraw, &[("csrf", &csrf)]).await;
    assert_eq!(twice.status, StatusCode::OK);
    assert!(
        form_errors(&twice).contains("There is no open request to leave"),
        "{}",
        twice.body
    );
    let page = omid.get("/dashboard").await;
    assert!(!page.has("id=\"leave-request\""));
    let late = omid
        .post("/dashboard/leave/confirm", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(late.status, StatusCode::OK);
    assert!(
        form_errors(&late).contains("You have not been asked to leave the fund"),
        "{}",
        late.body
    );
    omid.get("/dashboard?lang=fa").await;
    let late = omid
        .post("/dashboard/leave/decline", &[("csrf", &page.csrf())])
        .await;
    assert!(
        form_errors(&late).contains("از شما درخواست خروج از صندوق نشده است"),
        "{}",
        late.body
    );
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["balance"], "30.00000000", "nothing moved");

    // Members only: an accountant's page has no leaving card, and members cannot ask.
    let (_, accountant) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "hesab", "password": PASSWORD, "role": "accountant" }),
        )
        .await;
    let hesab = format!("/admin/members/{}", accountant["id"]);
    assert!(!boss.get(&hesab).await.has("id=\"leaving\""));
    let page = boss.get(&format!("{hesab}/leave")).await;
    assert!(form_errors(&page).contains("Only active members of the fund can leave it."));
    let own = omid.get("/dashboard").await.csrf();
    let forbidden = omid.post(&ask, &[("csrf", &own)]).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    app.assert_books_verify().await;
}

async fn a_loan_owing_more_than_was_paid_in_is_refused_next_to_the_form(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The admin may ask for more than they paid in: they borrow 100 of the 140 paid in.
    let admin = app.admin_token().await;
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/auth/me/loan-request",
            Some(&admin),
            Some(json!({ "loan_request_amount": "100" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, sara) = app.member(&admin, "sara", "0").await;
    let (_, omid) = app.member(&admin, "omid", "0").await;
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    for token in [&sara, &omid] {
        assert_eq!(app.pay(token, "60", None).await.0, StatusCode::CREATED);
    }
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{drawn}");
    assert_eq!(drawn["loan"]["amount"], "100.00000000", "{drawn}");
    let admin_id = app.admin_user().await.id;

    let mut boss = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
    let member = format!("/admin/members/{admin_id}");
    let ask = format!("{member}/leave");
    let why = "Their loan still owes 100.00 USDT, more than the 20.00 USDT they paid in: it must be repaid down to 20.00 USDT before they can leave.";
    let page = boss.get(&member).await;
    assert!(
        page.has(&format!("id=\"leave-blocked\">{why}<")),
        "{}",
        page.body
    );
    assert!(!page.has(&format!("href=\"{ask}\"")));
    let page = boss.get(&ask).await;
    assert!(form_errors(&page).contains(why), "{}", page.body);
    assert!(!page.has("id=\"confirm-ask\""));
    // Posted anyway: the service's refusal, next to the form, in Persian too.
    let refused = boss.post(&ask, &[("csrf", &page.csrf())]).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(form_errors(&refused).contains(why), "{}", refused.body);
    boss.get(&format!("{ask}?lang=fa")).await;
    let refused = boss.post(&ask, &[("csrf", &page.csrf())]).await;
    assert!(
        form_errors(&refused).contains(
            "وام او هنوز ۱۰۰٫۰۰ تتر بدهی دارد، بیش از ۲۰٫۰۰ تتری که پرداخته است: پیش از خروج باید تا ۲۰٫۰۰ تتر بازپرداخت شود."
        ),
        "{}",
        refused.body
    );
    let (_, mine) = app.get("/api/fund/my-departures", &admin).await;
    assert_eq!(mine, json!([]), "nothing asked");
}

/// What a leaving page looks like to a reader (`webdriver::PAGE_FACTS`, and the leaving boxes
/// there or not).
const FACTS: &str = common::webdriver::PAGE_FACTS;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaving_pages_in_chromium() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.jwt_expire_minutes = 60 * 24 * 365;
    })
    .await
    .expect("SQLite is always available");
    let (sara_id, _, _) = sara_borrows_20(&app).await;
    // A long name, to see it wrap.
    let admin = app.admin_token().await;
    app.member(&admin, "maryam_ahmadi_tehrani", "0").await;
    let member = format!("/admin/members/{sara_id}");
    let ask = format!("{member}/leave");

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let shots = Shots::new();
    let base = app.base.clone();
    let sign_in = |username: &'static str, password: &'static str| {
        let (browser, base) = (&browser, &base);
        async move {
            browser.size(1280, 900).await;
            browser.goto(&format!("{base}/login?lang=en")).await;
            browser.type_into("#username", username).await;
            browser
                .type_into("#password", &format!("{password}{ENTER}"))
                .await;
            browser.wait(".signout button").await;
        }
    };
    let check = |facts: &serde_json::Value, lang: &str, at: &str| check_page_facts(facts, lang, at);

    // The admin's action: the card on her page, and the confirmation step.
    sign_in(ADMIN, ADMIN_PASSWORD).await;
    shots
        .tour(
            &browser,
            &base,
            "leave",
            &[
                (member.as_str(), "member-ask", "#ask-to-leave"),
                (ask.as_str(), "ask", "#confirm-ask"),
            ],
            42,
            FACTS,
            check,
        )
        .await;
    browser.goto(&format!("{base}{member}?lang=en")).await;
    browser.submit("#ask-to-leave").await;
    browser.submit("#confirm-ask").await;
    browser.wait("#leave-asked").await;
    shots
        .tour(
            &browser,
            &base,
            "leave",
            &[(member.as_str(), "member-asked", "#withdraw-leave")],
            44,
            FACTS,
            check,
        )
        .await;
    browser.goto(&format!("{base}{member}?lang=en")).await;
    browser.submit(".signout button").await;

    // Her box, then confirming it (the browser asks once more).
    sign_in("sara", PASSWORD).await;
    shots
        .tour(
            &browser,
            &base,
            "leave",
            &[("/dashboard", "dashboard-asked", "#confirm-leaving")],
            45,
            FACTS,
            check,
        )
        .await;
    browser.size(1280, 900).await;
    browser.goto(&format!("{base}/dashboard?lang=en")).await;
    browser.script("window.__saghat_leaving = true").await;
    browser.click("#confirm-leaving").await;
    browser.accept_alert().await;
    browser.wait("#left-fund").await;
    assert!(browser
        .text("#left-on")
        .await
        .contains("20.00 USDT was paid back to you"));
    shots
        .tour(
            &browser,
            &base,
            "leave",
            &[("/dashboard", "dashboard-left", "#left-fund")],
            46,
            FACTS,
            check,
        )
        .await;
    browser.goto(&format!("{base}/dashboard?lang=en")).await;
    browser.submit(".signout button").await;

    // The admin: she left, and may rejoin.
    sign_in(ADMIN, ADMIN_PASSWORD).await;
    shots
        .tour(
            &browser,
            &base,
            "leave",
            &[
                (member.as_str(), "member-left", "#rejoin"),
                ("/admin/members", "members-left", "a.lv-tag-left"),
            ],
            47,
            FACTS,
            check,
        )
        .await;
    app.assert_books_verify().await;
    browser.quit().await;
    eprintln!("screenshots in {}", shots.dir.display());
}
