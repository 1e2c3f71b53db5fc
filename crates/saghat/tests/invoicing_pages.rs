//! The invoicing pages over HTTP, on SQLite and PostgreSQL: an accountant creates a client and
//! a draft of three lines, sees the server's totals, sends it, records a partial payment and
//! then the rest through the allocation page; a viewer reads but has no forms and is refused
//! every post; a client user sees only its own client's sent invoices; Persian pages.

use saghat_test_support as common;

use common::{Backend, Browser, Page, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use saghat_core::invoicing::model::{Address, Party};
use serde_json::json;

common::on_both_databases!(
    an_accountant_invoices_a_client_and_is_paid_in_two_parts,
    the_editor_puts_errors_next_to_fields_and_keeps_what_was_typed,
    a_viewer_reads_but_has_no_forms_and_every_post_is_refused,
    a_client_user_sees_only_its_own_clients_sent_invoices,
    the_invoicing_pages_speak_persian,
    credit_refunds_credit_notes_references_and_contacts,
);

/// Saghat with a seller that e-invoices can name, an accountant, a viewer and a client user.
async fn books(backend: Backend) -> Option<TestApp> {
    let app = TestApp::spawn_with(backend, |c| {
        c.jwt_expire_minutes = 60 * 24 * 365;
        c.invoicing.seller = Party {
            name: "Saghat GmbH".into(),
            address: Address {
                street: "Alexanderplatz 1".into(),
                city: "Berlin".into(),
                postal_code: "10178".into(),
                country_code: "DE".into(),
            },
            tax_id: Some("DE999999999".into()),
            email: Some("billing@saghat.example".into()),
            phone: None,
        };
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

async fn signed_in<'a>(app: &'a TestApp, username: &str) -> Browser<'a> {
    let mut browser = app.browser();
    browser.sign_in(username, PASSWORD).await;
    browser
}

async fn follow(browser: &mut Browser<'_>, page: Page) -> Page {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    browser.get(&page.location).await
}

/// The id in a redirect to `{prefix}{id}?…`.
fn id_in(page: &Page, prefix: &str) -> String {
    page.location
        .strip_prefix(prefix)
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_else(|| panic!("to {prefix}…: {} {}", page.location, page.body))
        .to_string()
}

/// Text as the page escaped it, read back.
fn unescaped(text: &str) -> String {
    text.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
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

/// Creates a client through its form and returns its id.
async fn reminders_on(app: &TestApp, client: &str) -> bool {
    let on: i64 = sqlx::query_scalar("SELECT send_reminders FROM clients WHERE id = $1")
        .bind(client.parse::<i64>().unwrap())
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    on == 1
}

async fn new_client(browser: &mut Browser<'_>, name: &str, language: &str) -> String {
    let page = browser
        .submit(
            "/clients/new",
            "/clients/new",
            &[
                ("kind", "company"),
                ("name", name),
                ("tax_id", "DE123456789"),
                ("email", "billing@example.com"),
                ("street", "Hauptstr. 1"),
                ("city", "Berlin"),
                ("postal_code", "10115"),
                ("country_code", "DE"),
                ("language", language),
                ("currency", "EUR"),
                ("payment_terms_days", "14"),
                // Ticked, as the new client's form comes.
                ("send_reminders", "1"),
            ],
        )
        .await;
    id_in(&page, "/clients/")
}

/// The editor's form with three lines: 10 h × 100.00 at 19%, 1 × 250.00 less 10% at 19%,
/// 2 × 20.00 at 7%: lines net 1,265.00; tax once per category (1,225.00 × 19% = 232.75,
/// 40.00 × 7% = 2.80): 235.55; total 1,500.55.
fn three_lines(client: &str, op: &'static str) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("client_id", client),
        ("currency", "EUR"),
        ("issue_date", "2026-11-22"),
        ("due_date", ""),
        ("op", op),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let lines = [
        ("Consulting", "10", "HUR", "100.00", "", "", "19"),
        ("Travel", "1", "C62", "250.00", "percent", "10", "19"),
        ("Handbook", "2", "C62", "20.00", "", "", "7"),
    ];
    for (i, (description, qty, unit, price, dkind, dvalue, rate)) in lines.iter().enumerate() {
        for (name, value) in [
            ("description", *description),
            ("quantity", qty),
            ("unit", unit),
            ("unit_price", price),
            ("discount_kind", dkind),
            ("discount", dvalue),
            ("tax_code", "S"),
            ("tax_rate", rate),
        ] {
            form.push((format!("lines[{i}].{name}"), value.to_string()));
        }
    }
    form
}

async fn post_editor(
    browser: &mut Browser<'_>,
    action: &str,
    mut form: Vec<(String, String)>,
) -> Page {
    let csrf = browser.get("/invoices/new").await.csrf();
    form.push(("csrf".into(), csrf));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.post(action, &pairs).await
}

/// A client with a sent invoice of the three lines: (client id, invoice id).
async fn sent_invoice(browser: &mut Browser<'_>, client_name: &str) -> (String, String) {
    let client = new_client(browser, client_name, "en").await;
    let page = post_editor(browser, "/invoices/new", three_lines(&client, "send")).await;
    (client, id_in(&page, "/invoices/"))
}

async fn status_of(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn an_accountant_invoices_a_client_and_is_paid_in_two_parts(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let list = ava.get("/invoices").await;
    assert!(list.has("id=\"iv-new\"") && list.has("href=\"/clients\""));
    let client = new_client(&mut ava, "Acme GmbH", "en").await;
    let page = ava.get(&format!("/clients/{client}?done=client")).await;
    assert!(page.has("The client was saved.") && page.has("value=\"Acme GmbH\""));
    let ticked =
        "id=\"send_reminders\" name=\"send_reminders\" type=\"checkbox\" value=\"1\" checked";
    assert!(page.has(ticked), "reminders on");
    // Untick it: the client asked for no reminders.
    let path = format!("/clients/{client}");
    let mut fields: Vec<(&str, &str)> = vec![
        ("kind", "company"),
        ("name", "Acme GmbH"),
        ("country_code", "DE"),
        ("language", "en"),
        ("currency", "EUR"),
        ("payment_terms_days", "14"),
    ];
    ava.submit(&path, &path, &fields).await;
    assert!(!ava.get(&path).await.has(ticked), "reminders off");
    assert!(!reminders_on(&app, &client).await);
    fields.push(("send_reminders", "1"));
    ava.submit(&path, &path, &fields).await;
    assert!(ava.get(&path).await.has(ticked));
    assert!(reminders_on(&app, &client).await);

    // The server computes the totals of what is typed, before anything is saved.
    let page = post_editor(&mut ava, "/invoices/new", three_lines(&client, "recalc")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(text_of(&page, "iv-lines-net"), "1,265.00");
    assert_eq!(text_of(&page, "iv-tax-total"), "235.55");
    assert_eq!(text_of(&page, "iv-total"), "1,500.55");
    assert_eq!(text_of(&page, "line-1-amount"), "225.00");
    assert!(page.has("Standard 19%") && page.has("Standard 7%"));
    // The due date defaults to the issue date plus the client's 14 days.
    assert!(page.has("value=\"2026-12-06\""), "{}", page.body);
    assert_eq!(
        app.count("invoices").await,
        0,
        "recalculating saves nothing"
    );
    // The same totals from the small endpoint the page may ask as it changes.
    let mut fragment = three_lines(&client, "recalc");
    fragment.push(("csrf".into(), page.csrf()));
    let pairs: Vec<(&str, &str)> = fragment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let totals = ava.post("/invoices/totals", &pairs).await;
    assert_eq!(totals.status, StatusCode::OK);
    assert!(totals.body.starts_with("<section") && totals.has("1,500.55"));
    // Each row's amount too, for the page to put in the row's legend.
    assert!(totals.has("id=\"line-1-amount\" hx-swap-oob=\"true\">225.00<"));

    // Saved as a draft, then sent from its page.
    let saved = post_editor(&mut ava, "/invoices/new", three_lines(&client, "save")).await;
    let id = id_in(&saved, "/invoices/");
    let draft = follow(&mut ava, saved).await;
    assert!(draft.has("The draft was saved."));
    assert_eq!(text_of(&draft, "iv-status"), "Draft");
    assert!(draft.has("id=\"iv-edit\"") && draft.has("id=\"iv-send\""));
    let edit = ava.get(&format!("/invoices/{id}/edit")).await;
    assert!(edit.has("value=\"Handbook\"") && edit.has("1,500.55"));
    let sent = ava
        .submit(
            &format!("/invoices/{id}"),
            &format!("/invoices/{id}/send"),
            &[],
        )
        .await;
    let page = follow(&mut ava, sent).await;
    assert!(page.has("The invoice was sent and numbered."));
    let number = text_of(&page, "iv-number");
    assert!(number.starts_with("INV-"), "{number}");
    assert_eq!(text_of(&page, "iv-status"), "Sent");
    assert_eq!(text_of(&page, "iv-total"), "1,500.55");
    assert!(!page.has("id=\"iv-edit\""), "a sent invoice is not edited");
    let edit = ava.get(&format!("/invoices/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::SEE_OTHER);

    // A partial payment from the invoice's page.
    let paid = ava
        .submit(
            &format!("/invoices/{id}"),
            &format!("/invoices/{id}/pay"),
            &[
                ("pay_amount", "500"),
                ("received_on", "2026-11-22"),
                ("method", "bank_transfer"),
                ("reference", "wire 1"),
            ],
        )
        .await;
    let page = follow(&mut ava, paid).await;
    assert_eq!(text_of(&page, "iv-status"), "Partially paid");
    assert_eq!(text_of(&page, "iv-paid"), "500.00");
    assert_eq!(text_of(&page, "iv-amount-due"), "1,000.55");
    // The payment's day, written as the invoice's dates are.
    assert!(page.has("<td>22 Nov 2026</td><td class=\"num\">500.00</td>"));
    assert_eq!(status_of(&app, &id).await, "partially_paid");

    // An amount above what is due, allocated by hand, is refused next to the invoice's row.
    let new = format!("/payments/new?client={client}");
    let form = ava.get(&new).await;
    assert!(form.has(&format!("id=\"alloc-{id}\"")) && form.has("1,000.55"));
    let alloc = format!("alloc.{id}");
    let refused = ava
        .submit(
            &new,
            "/payments/new",
            &[
                ("client_id", &client),
                ("amount", "2000"),
                ("received_on", "2026-11-23"),
                ("method", "bank_transfer"),
                (&alloc, "1500"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert_eq!(
        unescaped(&refused.field_error(&format!("alloc-{id}"))),
        "Must be more than 0 and at most the invoice's amount due (1000.55)."
    );
    // The rest, allocated by hand: paid; the list's summary says so.
    let done = ava
        .submit(
            &new,
            "/payments/new",
            &[
                ("client_id", &client),
                ("amount", "1000.55"),
                ("received_on", "2026-11-23"),
                ("method", "bank_transfer"),
                ("reference", "wire 2"),
                (&alloc, "1000.55"),
            ],
        )
        .await;
    let payments = follow(&mut ava, done).await;
    assert!(payments.has("The payment was recorded.") && payments.has("wire 2"));
    assert_eq!(status_of(&app, &id).await, "paid");
    let list = ava.get("/invoices?status=paid").await;
    assert!(list.has(&number) && list.has("sum-paid-0"));
    let page = ava.get(&format!("/invoices/{id}")).await;
    assert_eq!(text_of(&page, "iv-amount-due"), "0.00");
    assert!(page.has("id=\"iv-allocations\""));

    // Its e-invoice, from the same totals.
    let ubl = ava
        .send(Method::GET, &format!("/invoices/{id}/ubl"), None)
        .await;
    assert_eq!(ubl.status, StatusCode::OK, "{}", ubl.body);
    assert!(ubl.body.contains(&number) && ubl.body.contains("1500.55"));
    // The client's page: its invoice and its statement.
    let client_page = ava.get(&format!("/clients/{client}")).await;
    assert!(client_page.has(&number) && client_page.has("id=\"iv-balances\""));
}

async fn the_editor_puts_errors_next_to_fields_and_keeps_what_was_typed(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let client = new_client(&mut ava, "Acme GmbH", "en").await;
    let mut form = three_lines(&client, "save");
    for (k, v) in &mut form {
        if k == "lines[1].quantity" {
            *v = "a lot".into();
        }
        if k == "lines[2].unit_price" {
            *v = "20.001".into();
        }
    }
    let page = post_editor(&mut ava, "/invoices/new", form).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.field_error("line-1-quantity"), "Enter a number.");
    assert_eq!(page.field_error("line-2-unit_price"), "Enter a number.");
    assert!(page.has("value=\"a lot\"") && page.has("value=\"Consulting\""));
    assert_eq!(app.count("invoices").await, 0);
    // A discount above the lines is the totals function's refusal, next to its field.
    let mut form = three_lines(&client, "save");
    form.push(("discount_kind".into(), "amount".into()));
    form.push(("discount".into(), "99999".into()));
    let page = post_editor(&mut ava, "/invoices/new", form).await;
    assert_eq!(
        unescaped(&page.field_error("discount")),
        "The invoice discount is more than the lines' total."
    );
    // A due date before the issue date: the service's refusal, next to the field.
    let mut form = three_lines(&client, "save");
    for (k, v) in &mut form {
        if k == "due_date" {
            *v = "2026-11-01".into();
        }
    }
    let page = post_editor(&mut ava, "/invoices/new", form).await;
    assert_eq!(
        page.field_error("due_date"),
        "The due date cannot be before the issue date."
    );
    // "Add a line" adds an empty row; "remove" drops a row.
    let page = post_editor(&mut ava, "/invoices/new", three_lines(&client, "add")).await;
    assert!(page.has("id=\"line-3\""));
    let mut form = three_lines(&client, "recalc");
    form.push(("lines[0].remove".into(), "1".into()));
    let page = post_editor(&mut ava, "/invoices/new", form).await;
    assert!(!page.has("id=\"line-2\"") && !page.has("value=\"Consulting\""));
    assert_eq!(text_of(&page, "iv-lines-net"), "265.00");
}

async fn a_viewer_reads_but_has_no_forms_and_every_post_is_refused(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let (client, id) = sent_invoice(&mut ava, "Acme GmbH").await;
    let mut vic = signed_in(&app, "vic").await;
    let list = vic.get("/invoices").await;
    assert!(list.has(&format!("id=\"inv-{id}\"")) && !list.has("id=\"iv-new\""));
    let page = vic.get(&format!("/invoices/{id}")).await;
    assert_eq!(text_of(&page, "iv-status"), "Sent");
    for form in ["iv-pay-form", "iv-cn-form", "iv-moves"] {
        assert!(!page.has(&format!("id=\"{form}\"")), "{form}");
    }
    let client_page = vic.get(&format!("/clients/{client}")).await;
    assert!(!client_page.has("id=\"iv-client-save\"") && !client_page.has("iv-contact-new"));
    for path in ["/invoices/new", "/payments/new", "/clients/new"] {
        let page = vic.send(Method::GET, path, None).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    // A viewer's own CSRF token on every post: still refused by the role.
    let csrf = list.csrf();
    let posts = [
        format!("/invoices/{id}/send"),
        format!("/invoices/{id}/pay"),
        format!("/invoices/{id}/credit-note"),
        format!("/invoices/{id}/delete"),
        "/invoices/new".to_string(),
        "/clients/new".to_string(),
        format!("/clients/{client}"),
        format!("/clients/{client}/contacts"),
        "/payments/new".to_string(),
        "/payments/refund".to_string(),
    ];
    for path in posts {
        let page = vic
            .post(
                &path,
                &[("csrf", &csrf), ("amount", "10"), ("client_id", &client)],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
    }
    assert_eq!(status_of(&app, &id).await, "sent");
    assert_eq!(app.count("invoice_payments").await, 0);
}

async fn a_client_user_sees_only_its_own_clients_sent_invoices(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let (own, own_invoice) = sent_invoice(&mut ava, "Acme GmbH").await;
    let (_, other_invoice) = sent_invoice(&mut ava, "Globex AG").await;
    let draft = post_editor(&mut ava, "/invoices/new", three_lines(&own, "save")).await;
    let draft = id_in(&draft, "/invoices/");
    let carol: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'carol'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    saghat_core::invoicing::store::link_client_user(&mut conn, carol, own.parse().unwrap())
        .await
        .unwrap();
    drop(conn);

    let mut carol = signed_in(&app, "carol").await;
    // Signing in, and `/`, lead a client user to the portal, not the fund's dashboard.
    assert_eq!(carol.get("/dashboard").await.location, "/portal");
    let portal = carol.get("/portal").await;
    assert_eq!(text_of(&portal, "iv-portal-client"), "Acme GmbH");
    assert!(portal.has(&format!("id=\"inv-{own_invoice}\"")));
    assert!(!portal.has(&other_invoice) && !portal.has(&draft));
    assert!(portal.has("href=\"/portal\"") && !portal.has("href=\"/clients\""));
    let page = carol.get(&format!("/invoices/{own_invoice}")).await;
    assert_eq!(text_of(&page, "iv-status"), "Sent");
    assert!(!page.has("id=\"iv-moves\"") && page.has("id=\"iv-ubl\""));
    let ubl = carol
        .send(Method::GET, &format!("/invoices/{own_invoice}/ubl"), None)
        .await;
    assert_eq!(ubl.status, StatusCode::OK);
    // The PDF, printed from the same totals: the portal links it and it downloads.
    assert!(page.has(&format!("href=\"/invoices/{own_invoice}/pdf\"")));
    let pdf = carol
        .send(Method::GET, &format!("/invoices/{own_invoice}/pdf"), None)
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.body.starts_with("%PDF-"));
    for path in [
        format!("/invoices/{other_invoice}"),
        format!("/invoices/{draft}"),
        format!("/invoices/{other_invoice}/ubl"),
        format!("/invoices/{draft}/cii"),
        format!("/invoices/{other_invoice}/pdf"),
        format!("/invoices/{draft}/pdf"),
    ] {
        let page = carol.send(Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    // The staff pages are not the portal's.
    assert_eq!(carol.get("/invoices").await.location, "/portal");
    for path in ["/clients", "/payments", "/invoices/new"] {
        let page = carol.send(Method::GET, path, None).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    let csrf = portal.csrf();
    let page = carol
        .post(
            &format!("/invoices/{own_invoice}/pay"),
            &[("csrf", &csrf), ("amount", "10")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // Staff have no portal.
    let page = ava.send(Method::GET, "/portal", None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

async fn the_invoicing_pages_speak_persian(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let (client, id) = sent_invoice(&mut ava, "Acme GmbH").await;
    let page = ava.get(&format!("/invoices/{id}?lang=fa")).await;
    assert!(page.has("dir=\"rtl\""));
    assert_eq!(text_of(&page, "iv-status"), "ارسال‌شده");
    // 22 Nov 2026 is 1 Azar 1405; due 14 days later, 15 Azar.
    assert_eq!(text_of(&page, "iv-issued"), "۱۴۰۵/۰۹/۰۱");
    assert_eq!(text_of(&page, "iv-due-on"), "۱۴۰۵/۰۹/۱۵");
    assert_eq!(text_of(&page, "iv-total"), "۱٬۵۰۰٫۵۵");
    assert!(page.has("استاندارد ۱۹٪"));
    // Persian digits typed into the editor are read as numbers.
    let mut form = three_lines(&client, "recalc");
    for (k, v) in &mut form {
        if k == "lines[0].quantity" {
            *v = "۱۰".into();
        }
    }
    let page = post_editor(&mut ava, "/invoices/new", form).await;
    assert_eq!(text_of(&page, "iv-total"), "۱٬۵۰۰٫۵۵");
    assert!(page.has("value=\"۱۰\""));
    let list = ava.get("/invoices").await;
    assert!(list.has("ارسال‌شده") && list.has("۱۴۰۵/۰۹/۰۱"));
    // And back in English: Gregorian dates.
    let page = ava.get(&format!("/invoices/{id}?lang=en")).await;
    assert_eq!(text_of(&page, "iv-issued"), "22 Nov 2026");
}

async fn credit_refunds_credit_notes_references_and_contacts(backend: Backend) {
    let Some(app) = books(backend).await else {
        return;
    };
    let mut ava = signed_in(&app, "ava").await;
    let (client, id) = sent_invoice(&mut ava, "Acme GmbH").await;
    let new = format!("/payments/new?client={client}");
    // A payment that names no invoice: the client's credit.
    let advance = ava
        .submit(
            &new,
            "/payments/new",
            &[
                ("client_id", &client),
                ("amount", "100"),
                ("received_on", "2026-11-22"),
                ("method", "cash"),
                ("reference", "advance"),
            ],
        )
        .await;
    assert_eq!(advance.status, StatusCode::SEE_OTHER, "{}", advance.body);
    let form = ava.get(&new).await;
    assert_eq!(text_of(&form, "iv-credit-amount"), "100.00");
    // Part of it used on the invoice, from the invoice's page.
    let page = ava.get(&format!("/invoices/{id}")).await;
    assert!(page.has("id=\"iv-credit-form\""));
    let used = ava
        .submit(
            &format!("/invoices/{id}"),
            &format!("/invoices/{id}/credit"),
            &[("credit_amount", "60")],
        )
        .await;
    let page = follow(&mut ava, used).await;
    assert!(
        page.has("The client&#39;s credit was used."),
        "{}",
        page.body
    );
    assert_eq!(text_of(&page, "iv-paid"), "60.00");
    assert_eq!(text_of(&page, "iv-status"), "Partially paid");
    // More than the credit left is refused next to the field; the rest is refunded.
    let refused = ava
        .submit(
            &new,
            "/payments/refund",
            &[
                ("client_id", &client),
                ("refund_amount", "50"),
                ("refunded_on", "2026-11-22"),
                ("refund_method", "bank_transfer"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(refused.field_error("refund_amount").contains("(40.00 EUR)"));
    let refunded = ava
        .submit(
            &new,
            "/payments/refund",
            &[
                ("client_id", &client),
                ("refund_amount", "40"),
                ("refunded_on", "2026-11-22"),
                ("refund_method", "bank_transfer"),
            ],
        )
        .await;
    let page = follow(&mut ava, refunded).await;
    assert!(page.has("The credit was refunded."));
    assert_eq!(text_of(&ava.get(&new).await, "iv-credit-amount"), "0.00");

    // A partial credit note: one line of 100.00 at the invoice's 19%.
    let credited = ava
        .submit(
            &format!("/invoices/{id}"),
            &format!("/invoices/{id}/credit-note"),
            &[
                ("scope", "partial"),
                ("cn_description", "Late delivery"),
                ("cn_amount", "100"),
                ("tax", "S:1900"),
            ],
        )
        .await;
    let page = follow(&mut ava, credited).await;
    assert!(page.has("The credit note was issued.") && page.has("id=\"iv-credit-notes\""));
    assert_eq!(text_of(&page, "iv-credited"), "119.00");
    assert_eq!(text_of(&page, "iv-amount-due"), "1,321.55");
    // The credit note's own page names the invoice it credits.
    let cn: String = sqlx::query_scalar("SELECT id FROM invoices WHERE kind = 'credit_note'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let cn_page = ava.get(&format!("/invoices/{cn}")).await;
    assert!(cn_page.has("Credit note") && cn_page.has(&format!("href=\"/invoices/{id}\"")));
    assert!(text_of(&cn_page, "iv-number").starts_with("CN-"));
    // A partial credit note without its amount: an error next to the field.
    let refused = ava
        .submit(
            &format!("/invoices/{id}"),
            &format!("/invoices/{id}/credit-note"),
            &[
                ("scope", "partial"),
                ("cn_description", "More"),
                ("tax", "S:1900"),
            ],
        )
        .await;
    assert_eq!(
        refused.field_error("cn_amount"),
        "Enter an amount greater than 0."
    );
    // Crediting the whole invoice now would credit more than its total: refused.
    let refused = ava
        .submit(
            &format!("/invoices/{id}"),
            &format!("/invoices/{id}/credit-note"),
            &[("scope", "whole")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(unescaped(&refused.body).contains("would credit more than the invoice's total"));
    // A payment whose reference names an invoice's number pays it.
    let second = post_editor(&mut ava, "/invoices/new", three_lines(&client, "send")).await;
    let second = id_in(&second, "/invoices/");
    let number: String = sqlx::query_scalar("SELECT number FROM invoices WHERE id = $1")
        .bind(&second)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let reference = format!("transfer for {number}");
    let paid = ava
        .submit(
            &new,
            "/payments/new",
            &[
                ("client_id", &client),
                ("amount", "1500.55"),
                ("received_on", "2026-11-23"),
                ("method", "bank_transfer"),
                ("reference", &reference),
            ],
        )
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    assert_eq!(status_of(&app, &second).await, "paid");
    // Credited whole, a paid invoice is void (its money becomes the client's credit), and no
    // more credit notes are offered.
    let whole = ava
        .submit(
            &format!("/invoices/{second}"),
            &format!("/invoices/{second}/credit-note"),
            &[("scope", "whole")],
        )
        .await;
    let page = follow(&mut ava, whole).await;
    assert_eq!(text_of(&page, "iv-status"), "Void");
    assert!(!page.has("id=\"iv-cn-form\""));
    assert_eq!(
        text_of(&ava.get(&new).await, "iv-credit-amount"),
        "1,500.55"
    );

    // Contacts: one primary at a time; removed.
    let contacts = format!("/clients/{client}/contacts");
    let page = format!("/clients/{client}");
    let added = ava
        .submit(
            &page,
            &contacts,
            &[
                ("contact_name", "Sara"),
                ("contact_email", "sara@example.com"),
                ("contact_primary", "1"),
            ],
        )
        .await;
    assert!(follow(&mut ava, added).await.has("The contact was saved."));
    let refused = ava
        .submit(
            &page,
            &contacts,
            &[("contact_name", "Omid"), ("contact_email", "omid")],
        )
        .await;
    assert_eq!(
        refused.field_error("contact_email"),
        "Enter a valid email address."
    );
    ava.submit(
        &page,
        &contacts,
        &[("contact_name", "Omid"), ("contact_primary", "1")],
    )
    .await;
    let primaries: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, is_primary FROM client_contacts ORDER BY id")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(primaries, [("Sara".into(), 0), ("Omid".into(), 1)]);
    let sara: i64 = sqlx::query_scalar("SELECT id FROM client_contacts WHERE name = 'Sara'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let removed = ava
        .submit(
            &page,
            &contacts,
            &[("contact_id", &sara.to_string()), ("op", "remove")],
        )
        .await;
    let shown = follow(&mut ava, removed).await;
    assert!(shown.has("The contact was removed.") && !shown.has("value=\"Sara\""));
}
