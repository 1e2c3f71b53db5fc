//! The products' pages, a client's portal users and the editor's pickers over HTTP, on SQLite
//! and PostgreSQL: an accountant makes, changes, archives and finds products (prices in their
//! currency's places, in either digits); a viewer reads them without forms and a client user
//! is refused; an admin creates a portal user from the client's page, who signs in to that
//! client's sent invoices only, and removes its access; the pickers find a client beyond the
//! first 500 and an invoice is made for it.

use saghat_test_support as common;

use common::{Backend, Browser, Page, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

common::on_both_databases!(
    products_are_made_changed_archived_and_found_through_their_pages,
    the_product_form_puts_errors_next_to_fields_and_keeps_what_was_typed,
    a_viewer_reads_products_without_forms_and_a_client_user_is_refused,
    the_product_pages_speak_persian,
    a_portal_user_made_on_the_client_page_sees_only_that_clients_sent_invoices,
    a_portal_user_is_made_whole_or_not_at_all,
    the_pickers_find_a_client_beyond_the_first_500_and_it_is_invoiced,
);

/// Saghat with an accountant, a viewer and a client user (linked to nothing).
async fn books(backend: Backend) -> Option<TestApp> {
    let app = TestApp::spawn_with(backend, |c| {
        c.jwt_expire_minutes = 60 * 24 * 365;
    })
    .await?;
    let admin = app.admin_token().await;
    for (name, role) in [
        ("ava", "accountant"),
        ("vic", "viewer"),
        ("carol", "client"),
    ] {
        let (status, body) = app
            .post(
                "/api/auth/users",
                &admin,
                json!({ "username": name, "password": PASSWORD, "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    Some(app)
}

async fn signed_in<'a>(app: &'a TestApp, username: &str, password: &str) -> Browser<'a> {
    let mut browser = app.browser();
    browser.sign_in(username, password).await;
    browser
}

/// The id in a redirect to `{prefix}{id}?…`.
fn id_in(page: &Page, prefix: &str) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location
        .strip_prefix(prefix)
        .and_then(|rest| rest.split(['?', '#']).next())
        .unwrap_or_else(|| panic!("to {prefix}…: {} {}", page.location, page.body))
        .to_string()
}

/// The text of the element with `id` (up to its first tag).
fn text_of(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in: {}", page.body));
    let rest = &page.body[at..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find('<').unwrap()].trim().to_string()
}

fn product_fields<'a>(
    name: &'a str,
    currency: &'a str,
    price: &'a str,
    code: &'a str,
    rate: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("description", "By the hour"),
        ("unit", "HUR"),
        ("currency", currency),
        ("unit_price", price),
        ("tax_code", code),
        ("tax_rate", rate),
    ]
}

/// Creates a product through its form; its id.
async fn new_product(
    browser: &mut Browser<'_>,
    name: &str,
    currency: &str,
    price: &str,
    lang: &str,
) -> String {
    let from = format!("/products/new?lang={lang}");
    let page = browser
        .submit(
            &from,
            "/products/new",
            &product_fields(name, currency, price, "S", "19"),
        )
        .await;
    id_in(&page, "/products/")
}

async fn products_are_made_changed_archived_and_found_through_their_pages(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava", PASSWORD).await;
    let list = ava.get("/products").await;
    assert!(list.has("href=\"/products\"") && list.has("id=\"pr-new\""));
    assert!(list.has("id=\"pr-none\""));

    let id = new_product(&mut ava, "Consulting", "EUR", "12.5", "en").await;
    let page = ava.get(&format!("/products/{id}?done=saved")).await;
    assert!(page.has("The product was saved."));
    assert!(page.has("value=\"12.50\"") && page.has("value=\"19\""));
    assert!(page.has("<option value=\"HUR\" selected>hour (HUR)</option>"));
    let stored: (i64, String, String, i64) =
        sqlx::query_as("SELECT unit_price, currency, unit, tax_rate FROM products WHERE id = $1")
            .bind(id.parse::<i64>().unwrap())
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, (1250, "EUR".into(), "HUR".into(), 1900));

    // Each currency's places: IRR none, USDT eight.
    let irr = new_product(&mut ava, "Rial hosting", "IRR", "1500000", "en").await;
    let usdt = new_product(&mut ava, "Token fee", "USDT", "0.12345678", "en").await;
    let list = ava.get("/products").await;
    assert_eq!(text_of(&list, &format!("product-{id}-price")), "12.50");
    assert_eq!(text_of(&list, &format!("product-{irr}-price")), "1,500,000");
    assert_eq!(
        text_of(&list, &format!("product-{usdt}-price")),
        "0.12345678"
    );
    assert!(list.has("Standard 19%"));

    // A change, kept.
    let page = ava
        .submit(
            &format!("/products/{id}"),
            &format!("/products/{id}"),
            &product_fields("Consulting (senior)", "EUR", "150", "S", "7"),
        )
        .await;
    assert_eq!(id_in(&page, "/products/"), id);
    let page = ava.get(&format!("/products/{id}")).await;
    assert!(page.has("value=\"Consulting (senior)\"") && page.has("value=\"150.00\""));

    // Search by name, in any case.
    let found = ava.get("/products?q=HOST").await;
    assert!(found.has(&format!("id=\"product-{irr}\"")));
    assert!(!found.has(&format!("id=\"product-{id}\"")));
    // A `%` is a character searched for, not a wildcard.
    let found = ava.get("/products?q=%25").await;
    assert!(found.has("id=\"pr-none\""), "{}", found.body);

    // Archived: gone from the list and the editor, back with "show archived", then restored.
    let page = ava
        .submit(
            &format!("/products/{id}"),
            &format!("/products/{id}/archive"),
            &[("archived", "1")],
        )
        .await;
    assert_eq!(page.location, format!("/products/{id}?done=archived"));
    let list = ava.get("/products").await;
    assert!(!list.has(&format!("id=\"product-{id}\"")));
    let list = ava.get("/products?archived=1").await;
    assert!(list.has(&format!("id=\"product-{id}\" class=\"inactive\"")));
    let page = ava.get(&format!("/products/{id}")).await;
    assert!(page.has("id=\"pr-unarchive\"") && page.has("id=\"pr-archived-badge\""));
    let page = ava
        .submit(
            &format!("/products/{id}"),
            &format!("/products/{id}/archive"),
            &[("archived", "0")],
        )
        .await;
    assert_eq!(page.location, format!("/products/{id}?done=unarchived"));
    assert!(ava
        .get("/products")
        .await
        .has(&format!("id=\"product-{id}\"")));
    // Anything but 0 or 1 is a bad request, and changes nothing.
    let csrf = list.csrf();
    let page = ava
        .post(
            &format!("/products/{id}/archive"),
            &[("csrf", &csrf), ("archived", "yes")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE target = $1 AND action LIKE 'product_%'",
    )
    .bind(format!("product:{id}"))
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    // Created, updated, archived, brought back.
    assert_eq!(audited, 4);

    // Beyond one screen: pages of 50, by name.
    for n in 0..55 {
        let name = format!("Bulk {n:02}");
        let product = new_product(&mut ava, &name, "EUR", "1", "en").await;
        assert!(!product.is_empty());
    }
    let first = ava.get("/products?q=bulk").await;
    assert_eq!(text_of(&first, "pr-count"), "55 products");
    assert!(first.has(">Bulk 00<") && first.has(">Bulk 49<") && !first.has(">Bulk 50<"));
    assert!(!first.has("id=\"pr-prev\""));
    let next = ava.get("/products?q=bulk&page=1").await;
    assert!(next.has(">Bulk 54<") && !next.has(">Bulk 49<"));
    assert!(next.has("id=\"pr-prev\"") && !next.has("id=\"pr-next\""));
    // The pager keeps the search.
    let next_href = first.body.split("id=\"pr-next\"").next().unwrap();
    assert!(next_href.ends_with("page=1\" ") && next_href.contains("/products?q=bulk&"));
}

async fn the_product_form_puts_errors_next_to_fields_and_keeps_what_was_typed(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava", PASSWORD).await;
    // No name, and a price with more places than euros have.
    let page = ava
        .submit(
            "/products/new",
            "/products/new",
            &product_fields("", "EUR", "12.345", "S", "19"),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.field_error("unit_price"),
        "Enter the price with at most 2 decimal places for this currency."
    );
    assert!(page.has("value=\"12.345\""));
    // The name is the service's check, once the numbers read.
    let page = ava
        .submit(
            "/products/new",
            "/products/new",
            &product_fields("  ", "EUR", "12.34", "S", "19"),
        )
        .await;
    assert_eq!(page.field_error("name"), "This field may not be blank.");
    assert!(page.has("value=\"12.34\""));
    // A rate on a category that takes none.
    let page = ava
        .submit(
            "/products/new",
            "/products/new",
            &product_fields("Export work", "EUR", "10", "G", "5"),
        )
        .await;
    assert!(page.field_error("tax_rate").contains("standard category"));
    assert!(page.has("value=\"Export work\"") && page.has("<option value=\"G\" selected>"));
    // IRR has no decimals, and a word is not a number.
    let page = ava
        .submit(
            "/products/new",
            "/products/new",
            &product_fields("Rial", "IRR", "10.5", "S", "abc"),
        )
        .await;
    assert!(page.field_error("unit_price").contains("at most 0 decimal"));
    assert_eq!(page.field_error("tax_rate"), "Enter a number.");
    assert_eq!(app.count("products").await, 0);

    // An edit refused keeps the typed values and the stored name as the heading.
    let id = new_product(&mut ava, "Design", "EUR", "80", "en").await;
    let page = ava
        .submit(
            &format!("/products/{id}"),
            &format!("/products/{id}"),
            &product_fields("Design 2", "EUR", "-5", "S", "19"),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .field_error("unit_price")
        .contains("greater than or equal to 0"));
    assert!(page.has("<h1>Design") && page.has("value=\"Design 2\"") && page.has("value=\"-5\""));
    let price: i64 = sqlx::query_scalar("SELECT unit_price FROM products WHERE id = $1")
        .bind(id.parse::<i64>().unwrap())
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(price, 8000);
    // Another product's page that is not there.
    let page = ava.send(Method::GET, "/products/999999", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

async fn a_viewer_reads_products_without_forms_and_a_client_user_is_refused(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava", PASSWORD).await;
    let id = new_product(&mut ava, "Consulting", "EUR", "100", "en").await;
    let mut vic = signed_in(&app, "vic", PASSWORD).await;
    let list = vic.get("/products").await;
    assert!(list.has(&format!("id=\"product-{id}\"")) && !list.has("id=\"pr-new\""));
    assert!(list.has("href=\"/products\""));
    let page = vic.get(&format!("/products/{id}")).await;
    assert!(page.has("value=\"100.00\"") && page.has("<fieldset class=\"iv-grid\" disabled>"));
    assert!(!page.has("id=\"pr-save\"") && !page.has("id=\"pr-archive-form\""));
    let refused = vic.send(Method::GET, "/products/new", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let csrf = list.csrf();
    let mut form = product_fields("Hacked", "EUR", "1", "S", "0");
    form.push(("csrf", &csrf));
    form.push(("archived", "1"));
    for path in [
        "/products/new".to_string(),
        format!("/products/{id}"),
        format!("/products/{id}/archive"),
    ] {
        let page = vic.post(&path, &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    let (name, archived): (String, i64) =
        sqlx::query_as("SELECT name, archived FROM products WHERE id = $1")
            .bind(id.parse::<i64>().unwrap())
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!((name.as_str(), archived), ("Consulting", 0));

    // A client user sees no products at all, and has no link to them.
    let mut carol = signed_in(&app, "carol", PASSWORD).await;
    for path in ["/products".to_string(), format!("/products/{id}")] {
        let page = carol.send(Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!page.has("href=\"/products\""));
    }
    let page = carol.post("/products/new", &form).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("products").await, 1);
}

async fn the_product_pages_speak_persian(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava", PASSWORD).await;
    // Typed in Persian digits with the Persian decimal separator.
    let id = new_product(&mut ava, "مشاوره", "EUR", "۱۲۳۴٫۵", "fa").await;
    let irr = new_product(&mut ava, "میزبانی", "IRR", "۱۵۰۰۰۰۰", "fa").await;
    let list = ava.get("/products?lang=fa").await;
    assert!(list.has("dir=\"rtl\"") && list.has("کالاها و خدمات"));
    assert_eq!(text_of(&list, &format!("product-{id}-price")), "۱٬۲۳۴٫۵۰");
    assert_eq!(text_of(&list, &format!("product-{irr}-price")), "۱٬۵۰۰٬۰۰۰");
    assert!(list.has("استاندارد ۱۹٪") && list.has("ساعت"));
    let page = ava.get(&format!("/products/{id}")).await;
    assert!(page.has("value=\"۱۲۳۴٫۵۰\"") && page.has("value=\"۱۹\""));
    let page = ava
        .submit(
            "/products/new",
            "/products/new",
            &product_fields("", "IRR", "۱۰٫۵", "S", "۱۹"),
        )
        .await;
    assert_eq!(
        page.field_error("unit_price"),
        "قیمت را با حداکثر ۰ رقم اعشار برای این ارز وارد کنید."
    );
    assert!(page.has("value=\"۱۰٫۵\""));
    assert!(!page.body.contains(">?<"), "an untranslated text");
}

/// Follows the redirects from `/` to the page a user lands on after signing in.
async fn landing(browser: &mut Browser<'_>) -> (String, Page) {
    let mut path = "/".to_string();
    for _ in 0..5 {
        let page = browser.send(Method::GET, &path, None).await;
        if page.status != StatusCode::SEE_OTHER {
            return (path, page);
        }
        path = page.location.clone();
    }
    panic!("too many redirects from /");
}

/// A client with a sent invoice of one line (EUR 100 + 19%), made through the editor by
/// `browser`: (client id, invoice id).
async fn client_with_invoice(browser: &mut Browser<'_>, name: &str, op: &str) -> (String, String) {
    let page = browser
        .submit(
            "/clients/new",
            "/clients/new",
            &[
                ("kind", "company"),
                ("name", name),
                ("country_code", "DE"),
                ("language", "en"),
                ("currency", "EUR"),
                ("payment_terms_days", "14"),
            ],
        )
        .await;
    let client = id_in(&page, "/clients/");
    let invoice = invoice_for(browser, &client, op).await;
    (client, invoice)
}

async fn invoice_for(browser: &mut Browser<'_>, client: &str, op: &str) -> String {
    let page = browser
        .submit(
            "/invoices/new",
            "/invoices/new",
            &[
                ("client_id", client),
                ("currency", "EUR"),
                ("issue_date", "2026-11-22"),
                ("lines[0].description", "Consulting"),
                ("lines[0].quantity", "1"),
                ("lines[0].unit", "HUR"),
                ("lines[0].unit_price", "100"),
                ("lines[0].tax_code", "S"),
                ("lines[0].tax_rate", "19"),
                ("op", op),
            ],
        )
        .await;
    id_in(&page, "/invoices/")
}

async fn a_portal_user_made_on_the_client_page_sees_only_that_clients_sent_invoices(
    backend: Backend,
) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava", PASSWORD).await;
    let (own, own_invoice) = client_with_invoice(&mut ava, "Acme GmbH", "send").await;
    let draft = invoice_for(&mut ava, &own, "save").await;
    let (_, other_invoice) = client_with_invoice(&mut ava, "Globex AG", "send").await;
    // Accounts are the admins' business: an accountant sees no portal users and may add none.
    let page = ava.get(&format!("/clients/{own}")).await;
    assert!(!page.has("id=\"iv-portal-users\""));
    let csrf = page.csrf();
    let refused = ava
        .post(
            &format!("/clients/{own}/users"),
            &[("csrf", &csrf), ("username", "eve"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let mut admin = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
    let page = admin.get(&format!("/clients/{own}")).await;
    assert!(page.has("id=\"iv-portal-users\"") && page.has("id=\"pu-none\""));
    let page = admin
        .submit(
            &format!("/clients/{own}"),
            &format!("/clients/{own}/users"),
            &[
                ("username", "dora"),
                ("password", PASSWORD),
                ("email", "dora@acme.example"),
                ("first_name", "Dora"),
                ("last_name", "Acme"),
            ],
        )
        .await;
    assert_eq!(
        page.location,
        format!("/clients/{own}?done=portal_user#iv-portal-users")
    );
    let page = admin.get(&format!("/clients/{own}?done=portal_user")).await;
    assert!(page.has("The portal user was created and can sign in."));
    let (dora_id, role): (i64, String) =
        sqlx::query_as("SELECT id, role FROM users WHERE username = 'dora'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(role, "client");
    assert!(page.has(&format!("id=\"pu-{dora_id}\"")) && page.has("dora@acme.example"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE target = $1 \
         AND action IN ('user_created', 'client_user_linked')",
    )
    .bind(format!("user:{dora_id}"))
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);

    // Dora signs in to the portal: her client's sent invoices, not its drafts, not another's.
    let mut dora = signed_in(&app, "dora", PASSWORD).await;
    let (path, portal) = landing(&mut dora).await;
    assert_eq!(path, "/portal");
    assert_eq!(text_of(&portal, "iv-portal-client"), "Acme GmbH");
    assert!(portal.has(&format!("id=\"inv-{own_invoice}\"")));
    assert!(!portal.has(&draft) && !portal.has(&other_invoice));
    let page = dora
        .send(Method::GET, &format!("/invoices/{other_invoice}"), None)
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // Removing her access ends her session and her account: no portal, no signing in.
    let page = admin.get(&format!("/clients/{own}")).await;
    let csrf = page.csrf();
    let page = admin
        .post(
            &format!("/clients/{own}/users/{dora_id}/unlink"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        page.location,
        format!("/clients/{own}?done=portal_user_removed#iv-portal-users")
    );
    let page = admin
        .get(&format!("/clients/{own}?done=portal_user_removed"))
        .await;
    assert!(page.has("id=\"pu-none\"") && page.has("account deactivated"));
    let page = dora.send(Method::GET, "/portal", None).await;
    assert_ne!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.has(&own_invoice));
    let page = dora
        .send(Method::GET, &format!("/invoices/{own_invoice}"), None)
        .await;
    assert_ne!(page.status, StatusCode::OK);
    let mut again = app.browser();
    let page = again
        .submit(
            "/login",
            "/login",
            &[("username", "dora"), ("password", PASSWORD)],
        )
        .await;
    assert_ne!(
        page.status,
        StatusCode::SEE_OTHER,
        "signed in: {}",
        page.body
    );
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_users WHERE user_id = $1")
        .bind(dora_id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(links, 0);
    // The same link cannot be removed twice, nor another client's user through this client.
    let page = admin
        .post(
            &format!("/clients/{own}/users/{dora_id}/unlink"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

async fn a_portal_user_is_made_whole_or_not_at_all(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava", PASSWORD).await;
    let (client, _) = client_with_invoice(&mut ava, "Acme GmbH", "save").await;
    let users = app.count("users").await;
    let mut admin = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
    let from = format!("/clients/{client}");
    let action = format!("/clients/{client}/users");
    // A short password: the error next to it, the username and e-mail kept, nothing written.
    let page = admin
        .submit(
            &from,
            &action,
            &[
                ("username", "dora"),
                ("password", "short"),
                ("email", "dora@acme.example"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.field_error("pu-password").is_empty());
    assert!(page.has("value=\"dora\"") && page.has("value=\"dora@acme.example\""));
    // A username taken.
    let page = admin
        .submit(
            &from,
            &action,
            &[("username", "ava"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.field_error("pu-username").is_empty());
    // A client that is not there: no user without a portal.
    let page = admin
        .submit(
            &from,
            "/clients/999999/users",
            &[("username", "ghost"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("users").await, users);
    assert_eq!(app.count("client_users").await, 0);
    // The page in Persian, with its words.
    let page = admin.get(&format!("/clients/{client}?lang=fa")).await;
    assert!(page.has("کاربران درگاه مشتری") && page.has("گذرواژه آغازین"));
}

/// The `<option>`s of a page or fragment: (value, selected, text).
fn options(body: &str) -> Vec<(String, bool, String)> {
    body.split("<option value=\"")
        .skip(1)
        .map(|rest| {
            let (value, rest) = rest.split_once('"').unwrap();
            let selected = rest.starts_with(" selected");
            let text = &rest[rest.find('>').unwrap() + 1..rest.find("</option>").unwrap()];
            (value.to_string(), selected, text.to_string())
        })
        .collect()
}

async fn the_pickers_find_a_client_beyond_the_first_500_and_it_is_invoiced(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    // 600 clients before the one sought, by name, and an archived namesake.
    let mut tx = app.state.db.pool.begin().await.unwrap();
    let mut ids = std::collections::HashMap::new();
    for (name, archived) in (0..600).map(|n| (format!("Client {n:03}"), false)).chain([
        ("Zeta Industries".to_string(), false),
        ("Zeta Archived".to_string(), true),
    ]) {
        let values = saghat_core::invoicing::store::ClientValues {
            kind: "company",
            name: &name,
            tax_id: None,
            email: None,
            street: "",
            city: "",
            postal_code: "",
            country_code: "DE",
            language: "en",
            currency: "EUR",
            payment_terms_days: 14,
            notes: "",
            send_reminders: true,
        };
        let id =
            saghat_core::invoicing::store::insert_client(&mut tx, &values, "2026-11-01T00:00:00Z")
                .await
                .unwrap();
        if archived {
            saghat_core::invoicing::store::set_client_archived(
                &mut tx,
                id,
                true,
                "2026-11-01T00:00:00Z",
            )
            .await
            .unwrap();
        }
        ids.insert(name, id);
    }
    tx.commit().await.unwrap();
    let zeta = ids["Zeta Industries"].to_string();
    let archived = ids["Zeta Archived"].to_string();

    let mut ava = signed_in(&app, "ava", PASSWORD).await;
    // The fragment htmx swaps in: matches in any case, archived ones left out, at most 20.
    let found = ava.get("/invoices/pick/clients?q=ZETA").await;
    let found = options(&found.body);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[1], (zeta.clone(), false, "Zeta Industries".into()));
    assert!(!found.iter().any(|(v, _, _)| *v == archived));
    let many = options(&ava.get("/invoices/pick/clients?q=client").await.body);
    assert_eq!(many.len(), 1 + 20);
    // The chosen client stays in the list whatever is searched.
    let kept = options(
        &ava.get(&format!(
            "/invoices/pick/clients?client_q=client%20001&client_id={zeta}"
        ))
        .await
        .body,
    );
    assert_eq!(kept[1], (zeta.clone(), true, "Zeta Industries".into()));
    assert_eq!(kept[2].2, "Client 001");

    // Without script: "Find" re-renders the editor with the matches, and the id is posted.
    let page = ava
        .submit(
            "/invoices/new",
            "/invoices/new",
            &[
                ("client_q", "zeta"),
                ("issue_date", "2026-11-22"),
                ("op", "find"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.has(&format!(
        "<option value=\"{zeta}\">Zeta Industries</option>"
    )));
    assert!(page.has("value=\"zeta\""));
    let invoice = invoice_for(&mut ava, &zeta, "save").await;
    let client_id: i64 = sqlx::query_scalar("SELECT client_id FROM invoices WHERE id = $1")
        .bind(&invoice)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(client_id.to_string(), zeta);
    let page = ava.get(&format!("/invoices/{invoice}/edit")).await;
    assert!(page.has(&format!(
        "<option value=\"{zeta}\" selected>Zeta Industries</option>"
    )));

    // Products: by name and in the invoice's currency (the form's, else its client's).
    let widget = new_product(&mut ava, "Widget", "EUR", "25", "en").await;
    let dollars = new_product(&mut ava, "Widget Pro", "USD", "30", "en").await;
    let found = options(
        &ava.get("/invoices/pick/products?q=widget&currency=EUR")
            .await
            .body,
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[1].0, widget);
    let found = options(
        &ava.get(&format!(
            "/invoices/pick/products?line=0&lines%5B0%5D.product_q=WIDG&client_id={zeta}"
        ))
        .await
        .body,
    );
    assert!(found.iter().any(|(v, _, _)| *v == widget));
    assert!(!found.iter().any(|(v, _, _)| *v == dollars));
    // A product chosen fills its line in.
    let page = ava
        .submit(
            "/invoices/new",
            "/invoices/new",
            &[
                ("client_id", &zeta),
                ("issue_date", "2026-11-22"),
                ("lines[0].product_id", &widget),
                ("lines[0].quantity", "2"),
                ("lines[0].tax_code", "S"),
                ("op", "recalc"),
            ],
        )
        .await;
    assert!(page.has("value=\"Widget: By the hour\"") && page.has("value=\"25.00\""));
    assert_eq!(text_of(&page, "iv-total"), "59.50");

    // The invoices' client filter and the payment's client: found the same way.
    let list = ava.get(&format!("/invoices?client={zeta}")).await;
    assert!(list.has(&format!(
        "<option value=\"{zeta}\" selected>Zeta Industries</option>"
    )));
    assert!(list.has(&format!("id=\"inv-{invoice}\"")) && list.has(">Zeta Industries<"));
    let list = ava.get("/invoices?client_q=zeta").await;
    assert!(list.has(&format!(
        "<option value=\"{zeta}\">Zeta Industries</option>"
    )));
    let page = ava.get("/payments/new?client_q=zeta").await;
    assert!(page.has(&format!(
        "<option value=\"{zeta}\">Zeta Industries</option>"
    )));
    let page = ava.get(&format!("/payments/new?client={zeta}")).await;
    assert!(page.has(&format!(
        "<option value=\"{zeta}\" selected>Zeta Industries</option>"
    )));

    // A client user finds nothing.
    let mut carol = signed_in(&app, "carol", PASSWORD).await;
    for path in [
        "/invoices/pick/clients?q=zeta",
        "/invoices/pick/products?q=w",
    ] {
        let page = carol.send(Method::GET, path, None).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
}
