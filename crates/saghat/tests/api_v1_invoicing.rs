//! `/api/v1/clients/` and `/api/v1/products/` by role, in DRF's shapes, over the invoicing
//! services, on SQLite and PostgreSQL.

use saghat_test_support as common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{Backend, TestApp, PASSWORD};

async fn v1_token(app: &TestApp, username: &str) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({ "username": username, "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "login {username}: {body}");
    body["access"].as_str().unwrap().to_string()
}

/// Creates a user of `role` through `/api/v1/users/` and signs them in.
async fn user(
    app: &TestApp,
    admin: &str,
    username: &str,
    role: &str,
    client: Option<i64>,
) -> String {
    let mut body = json!({ "username": username, "password": PASSWORD, "role": role });
    if let Some(client) = client {
        body["client"] = json!(client);
    }
    let (status, created) = app.post("/api/v1/users/", admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "create {username}: {created}");
    v1_token(app, username).await
}

fn forbidden() -> Value {
    json!({ "detail": "You do not have permission to perform this action." })
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

common::on_both_databases!(
    clients_by_role,
    products_by_role,
    client_users_and_pages,
    invoices_from_draft_to_sent,
    payments_settle_invoices,
    credit_notes_and_statements,
    sent_invoices_export_as_en16931_xml,
    an_einvoice_needs_the_sellers_vat_id,
    every_role_on_every_endpoint,
);

async fn clients_by_role(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let accountant = user(&app, &admin, "sara", "accountant", None).await;
    let viewer = user(&app, &admin, "vida", "viewer", None).await;
    let member = user(&app, &admin, "omid", "member", None).await;

    let (status, created) = app
        .post(
            "/api/v1/clients/",
            &accountant,
            json!({ "name": "Acme GmbH", "country_code": "de", "currency": "EUR", "id": 99 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_ne!(id, 99, "read-only fields are ignored");
    assert_eq!(created["name"], "Acme GmbH");
    assert_eq!(created["country_code"], "DE");
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["kind"], "company");
    assert_eq!(created["language"], "en");
    assert_eq!(created["payment_terms_days"], 30);
    assert_eq!(created["contacts"], json!([]));

    // Viewers read; members have no part in invoicing; permission comes before the body.
    let (status, list) = app.get("/api/v1/clients/", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["id"], id);
    let (status, body) = app.post("/api/v1/clients/", &viewer, json!({})).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    for path in [
        "/api/v1/clients/".to_string(),
        format!("/api/v1/clients/{id}/"),
    ] {
        let (status, body) = app.get(&path, &member).await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, forbidden()),
            "{path}"
        );
    }
    let (status, body) = put(&app, &format!("/api/v1/clients/{id}/"), &viewer, json!({})).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));

    // Field errors: the schema's at once, then the service's under its field.
    let (status, body) = app.post("/api/v1/clients/", &accountant, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "name": ["This field is required."],
            "country_code": ["This field is required."],
            "currency": ["This field is required."],
        })
    );
    let (status, body) = app
        .post(
            "/api/v1/clients/",
            &accountant,
            json!({ "name": "X", "country_code": "DE", "currency": "XYZ", "payment_terms_days": "soon" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "currency": ["\"XYZ\" is not a supported currency (IRR, USD, EUR, USDT)"],
            "payment_terms_days": ["A valid integer is required."],
        })
    );
    let (status, body) = app
        .post(
            "/api/v1/clients/",
            &accountant,
            json!({ "name": "X", "country_code": "DE", "currency": "EUR", "kind": "guild" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "kind": ["Must be company or individual."] }));

    // Detail, replace, not found.
    let (status, detail) = app.get(&format!("/api/v1/clients/{id}/"), &viewer).await;
    assert_eq!(
        (status, &detail["name"]),
        (StatusCode::OK, &json!("Acme GmbH"))
    );
    let (status, replaced) = put(
        &app,
        &format!("/api/v1/clients/{id}/"),
        &admin,
        json!({ "name": "Acme AG", "country_code": "CH", "currency": "EUR", "language": "fa" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (&replaced["name"], &replaced["language"]),
        (&json!("Acme AG"), &json!("fa"))
    );
    for path in ["/api/v1/clients/9999/", "/api/v1/clients/x/"] {
        let (status, body) = app.get(path, &admin).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({ "detail": "Not found." })),
            "{path}"
        );
    }
    let (status, body) = put(
        &app,
        "/api/v1/clients/9999/",
        &admin,
        json!({ "name": "Z", "country_code": "DE", "currency": "EUR" }),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
    );
}

async fn products_by_role(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let accountant = user(&app, &admin, "sara", "accountant", None).await;
    let viewer = user(&app, &admin, "vida", "viewer", None).await;

    let (status, hours) = app
        .post(
            "/api/v1/products/",
            &accountant,
            json!({ "name": "Consulting", "unit": "HUR", "unit_price": "12.5", "currency": "EUR", "tax_rate": "9" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hours}");
    assert_eq!(
        hours["unit_price"], "12.50",
        "in the currency's places, as a string"
    );
    assert_eq!(
        (&hours["unit"], &hours["tax_code"], &hours["tax_rate"]),
        (&json!("HUR"), &json!("S"), &json!("9"))
    );
    let (status, rials) = app
        .post(
            "/api/v1/products/",
            &admin,
            json!({ "name": "Hosting", "unit_price": "1500000", "currency": "IRR", "tax_code": "Z" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rials}");
    assert_eq!(
        (&rials["unit_price"], &rials["unit"]),
        (&json!("1500000"), &json!("C62"))
    );

    let (status, body) = app
        .post(
            "/api/v1/products/",
            &accountant,
            json!({ "name": "X", "unit_price": "1.234", "currency": "EUR", "unit": "BOX" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "unit_price": ["The price has more than 2 decimal places."],
            "unit": ["\"BOX\" is not a valid choice."],
        })
    );
    let (status, body) = app
        .post(
            "/api/v1/products/",
            &accountant,
            json!({ "name": "X", "unit_price": "1", "currency": "EUR", "tax_code": "Z", "tax_rate": "9" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "tax_rate": ["Only the standard category (S) takes a rate above 0%, at most 100%."] })
    );

    let (status, list) = app.get("/api/v1/products/", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 2);
    let names: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Consulting", "Hosting"]);
    let (status, body) = app
        .post(
            "/api/v1/products/",
            &viewer,
            json!({ "name": "Y", "unit_price": "1", "currency": "EUR" }),
        )
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    let id = hours["id"].as_i64().unwrap();
    let (status, one) = app.get(&format!("/api/v1/products/{id}/"), &viewer).await;
    assert_eq!(
        (status, &one["name"]),
        (StatusCode::OK, &json!("Consulting"))
    );
    let (status, changed) = put(
        &app,
        &format!("/api/v1/products/{id}/"),
        &accountant,
        json!({ "name": "Consulting", "unit": "HUR", "unit_price": "15", "currency": "EUR", "tax_rate": "19.6" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (&changed["unit_price"], &changed["tax_rate"]),
        (&json!("15.00"), &json!("19.6"))
    );
}

async fn client_users_and_pages(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let mut ids = vec![];
    for name in ["Alpha", "Beta", "Gamma"] {
        let (status, body) = app
            .post(
                "/api/v1/clients/",
                &admin,
                json!({ "name": name, "country_code": "IR", "currency": "IRR" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }

    // A client user needs its client, and an existing one; no user is left without it.
    let (status, body) = app
        .post(
            "/api/v1/users/",
            &admin,
            json!({ "username": "portal", "password": PASSWORD, "role": "client" }),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "client": ["This field is required."] })
        )
    );
    let (status, body) = app
        .post(
            "/api/v1/users/",
            &admin,
            json!({ "username": "portal", "password": PASSWORD, "role": "client", "client": 9999 }),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "client": ["Invalid pk \"9999\" - object does not exist."] })
        )
    );
    let (status, body) = app
        .post(
            "/api/v1/users/",
            &admin,
            json!({ "username": "portal2", "password": PASSWORD, "role": "viewer", "client": ids[0] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["client"].is_array(), "{body}");
    let portal = user(&app, &admin, "portal", "client", Some(ids[1])).await;
    // Its own client, nothing else.
    let (status, own) = app
        .get(&format!("/api/v1/clients/{}/", ids[1]), &portal)
        .await;
    assert_eq!((status, &own["name"]), (StatusCode::OK, &json!("Beta")));
    let (status, body) = app
        .get(&format!("/api/v1/clients/{}/", ids[0]), &portal)
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    for path in ["/api/v1/clients/", "/api/v1/products/", "/api/v1/users/"] {
        let (status, body) = app.get(path, &portal).await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, forbidden()),
            "{path}"
        );
    }

    // Pages over the store's windows.
    let base = app.url("/api/v1/clients/");
    let (_, first) = app.get("/api/v1/clients/?page_size=2", &admin).await;
    assert_eq!(first["count"], 3);
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert_eq!(first["next"], format!("{base}?page=2&page_size=2"));
    assert_eq!(first["previous"], Value::Null);
    let (_, second) = app.get("/api/v1/clients/?page_size=2&page=2", &admin).await;
    assert_eq!(second["results"][0]["name"], "Gamma");
    assert_eq!(second["next"], Value::Null);
    assert_eq!(second["previous"], format!("{base}?page_size=2"));
    let (_, last) = app
        .get("/api/v1/clients/?page_size=2&page=last", &admin)
        .await;
    assert_eq!(last["results"], second["results"]);
    let (status, body) = app.get("/api/v1/clients/?page_size=2&page=3", &admin).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Invalid page." }))
    );
    let (_, found) = app.get("/api/v1/clients/?search=amm", &admin).await;
    assert_eq!(found["count"], 1, "{found}");
}

async fn client(app: &TestApp, admin: &str, name: &str, currency: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/v1/clients/",
            admin,
            json!({ "name": name, "country_code": "DE", "currency": currency }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

fn draft(client: i64) -> Value {
    json!({
        "client": client,
        "issue_date": "2026-11-22",
        "lines": [
            { "description": "Consulting", "unit": "HUR", "quantity": "1.5", "unit_price": "100", "tax_rate": "9" },
            { "description": "Setup", "quantity": "1", "unit_price": "50.00", "tax_rate": "9", "discount": { "percent": "10" } },
        ],
    })
}

async fn invoices_from_draft_to_sent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let other = client(&app, &admin, "Other", "EUR").await;
    let accountant = user(&app, &admin, "sara", "accountant", None).await;
    let viewer = user(&app, &admin, "vida", "viewer", None).await;
    let portal = user(&app, &admin, "portal", "client", Some(acme)).await;

    let (status, created) = app
        .post("/api/v1/invoices/", &accountant, draft(acme))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        (&created["status"], &created["currency"]),
        (&json!("draft"), &json!("EUR"))
    );
    assert_eq!(created["number"], Value::Null);
    // 1.5 h x 100.00 = 150.00; 50.00 less 10% = 45.00; 9% of 195.00 once = 17.55.
    assert_eq!(created["lines_net"], 19500);
    assert_eq!(created["tax"], 1755);
    assert_eq!(created["total"], 21255);
    assert_eq!(created["amount_due"], 21255);
    assert_eq!(created["lines"].as_array().unwrap().len(), 2);

    let (status, body) = app.post("/api/v1/invoices/", &accountant, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "client": ["This field is required."],
            "issue_date": ["This field is required."],
            "lines": ["This field is required."],
        })
    );
    let mut bad = draft(acme);
    bad["lines"][0]["quantity"] = json!("lots");
    bad["lines"][1]["unit_price"] = json!("1.234");
    bad["issue_date"] = json!("22/11/2026");
    let (status, body) = app.post("/api/v1/invoices/", &accountant, bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "issue_date": ["Date has wrong format. Use YYYY-MM-DD."],
            "lines[0].quantity": ["The quantity is not a decimal number."],
            "lines[1].unit_price": ["The price has more than 2 decimal places."],
        })
    );
    let (status, body) = app
        .post("/api/v1/invoices/", &accountant, draft(9999))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "client": ["Invalid pk \"9999\" - object does not exist."] })
        )
    );
    let (status, body) = app.post("/api/v1/invoices/", &viewer, draft(acme)).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));

    // A draft is the seller's: staff see it, the client's portal does not.
    let (status, list) = app.get("/api/v1/invoices/", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["results"][0]["id"], json!(id));
    let (_, list) = app.get("/api/v1/invoices/", &portal).await;
    assert_eq!(list["results"], json!([]));
    let (status, _) = app.get(&format!("/api/v1/invoices/{id}/"), &portal).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut changed = draft(acme);
    changed["notes"] = json!("Thank you");
    let (status, body) = put(
        &app,
        &format!("/api/v1/invoices/{id}/"),
        &accountant,
        changed.clone(),
    )
    .await;
    assert_eq!(
        (status, &body["notes"]),
        (StatusCode::OK, &json!("Thank you")),
        "{body}"
    );

    let (status, body) = app
        .post(&format!("/api/v1/invoices/{id}/send/"), &viewer, json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    let (status, sent) = app
        .post(
            &format!("/api/v1/invoices/{id}/send/"),
            &accountant,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["status"], "sent");
    assert!(
        sent["number"].as_str().unwrap().starts_with("INV-"),
        "{sent}"
    );
    assert_eq!(sent["total"], 21255, "sending never recomputes");
    // Immutable once sent; now the portal sees it.
    let (status, body) = put(
        &app,
        &format!("/api/v1/invoices/{id}/"),
        &accountant,
        changed,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "non_field_errors": ["the invoice is sent: it cannot change, only be credited"] })
    );
    let (status, seen) = app.get(&format!("/api/v1/invoices/{id}/"), &portal).await;
    assert_eq!((status, &seen["number"]), (StatusCode::OK, &sent["number"]));
    let (_, list) = app.get("/api/v1/invoices/", &portal).await;
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    let (status, body) = app.get("/api/v1/invoices/missing/", &admin).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
    );

    // Paged by key: next links forward, absolute; previous is null (the list reads forward).
    for _ in 0..2 {
        let (status, _) = app.post("/api/v1/invoices/", &admin, draft(other)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, first) = app.get("/api/v1/invoices/?page_size=2", &admin).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert_eq!(first["previous"], Value::Null);
    let next = first["next"].as_str().unwrap();
    let prefix = app.url("/api/v1/invoices/?cursor=");
    assert!(
        next.starts_with(&prefix) && next.ends_with("&page_size=2"),
        "{next}"
    );
    let (status, second) = app.get(next.strip_prefix(&app.base).unwrap(), &admin).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert_eq!(second["next"], Value::Null);
    let mut seen: Vec<&Value> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    seen.extend(
        second["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["id"]),
    );
    seen.sort_by_key(|v| v.as_str().unwrap().to_string());
    seen.dedup();
    assert_eq!(seen.len(), 3, "each invoice once");
    let (_, filtered) = app
        .get(&format!("/api/v1/invoices/?client={other}"), &admin)
        .await;
    assert_eq!(filtered["results"].as_array().unwrap().len(), 2);
    let (status, body) = app.get("/api/v1/invoices/?cursor=zz", &admin).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Invalid cursor" }))
    );
}

/// A sent invoice of 212.55 EUR for `client`: its id and number.
async fn sent_invoice(app: &TestApp, admin: &str, client: i64) -> (String, String) {
    let (status, created) = app.post("/api/v1/invoices/", admin, draft(client)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, sent) = app
        .post(&format!("/api/v1/invoices/{id}/send/"), admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    (id, sent["number"].as_str().unwrap().to_string())
}

async fn payments_settle_invoices(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let other = client(&app, &admin, "Other", "EUR").await;
    let accountant = user(&app, &admin, "sara", "accountant", None).await;
    let viewer = user(&app, &admin, "vida", "viewer", None).await;
    let member = user(&app, &admin, "omid", "member", None).await;
    let portal = user(&app, &admin, "portal", "client", Some(acme)).await;
    let (invoice, number) = sent_invoice(&app, &admin, acme).await;

    let payment = |amount: &str| json!({ "client": acme, "amount": amount, "received_on": "2026-11-25", "method": "bank_transfer" });
    let mut first = payment("100.00");
    first["allocations"] = json!([{ "invoice": invoice, "amount": "100" }]);
    let (status, paid) = app.post("/api/v1/payments/", &accountant, first).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["amount"], 10000);
    assert_eq!(paid["currency"], "EUR", "the client's");
    assert_eq!(paid["allocations"], json!([[invoice, 10000]]));
    assert_eq!(paid["unallocated"], 0);
    let (_, detail) = app
        .get(&format!("/api/v1/invoices/{invoice}/"), &admin)
        .await;
    assert_eq!(
        (&detail["status"], &detail["amount_due"]),
        (&json!("partially_paid"), &json!(11255))
    );

    // The rest, by a reference naming the invoice's number, and 10.00 more as credit.
    let mut rest = payment("122.55");
    rest["reference"] = json!(format!("Payment for {number}"));
    let (status, paid) = app.post("/api/v1/payments/", &accountant, rest).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["allocations"], json!([[invoice, 11255]]));
    assert_eq!(paid["unallocated"], 1000);
    let (_, detail) = app
        .get(&format!("/api/v1/invoices/{invoice}/"), &admin)
        .await;
    assert_eq!(
        (&detail["status"], &detail["amount_due"]),
        (&json!("paid"), &json!(0))
    );

    let (status, body) = app
        .post("/api/v1/payments/", &accountant, payment("0"))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "amount": ["Ensure this value is greater than 0."] })
        )
    );
    let mut wire = payment("1");
    wire["method"] = json!("wire");
    wire["received_on"] = json!("yesterday");
    let (status, body) = app.post("/api/v1/payments/", &accountant, wire).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "received_on": ["Date has wrong format. Use YYYY-MM-DD."] })
        )
    );
    let mut wire = payment("1");
    wire["method"] = json!("wire");
    let (status, body) = app.post("/api/v1/payments/", &accountant, wire).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "method": ["\"wire\" is not a valid choice."] })
        )
    );
    let (status, body) = app
        .post("/api/v1/payments/", &accountant, payment("1.001"))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "amount": ["The amount has more than 2 decimal places."] })
        )
    );

    // Who sees and records them.
    let (status, body) = app.post("/api/v1/payments/", &viewer, payment("1")).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    let (status, list) = app.get("/api/v1/payments/", &viewer).await;
    assert_eq!(
        (status, &list["count"]),
        (StatusCode::OK, &json!(2)),
        "{list}"
    );
    let id = list["results"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = app.get("/api/v1/payments/", &member).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    let (_, own) = app.get("/api/v1/payments/", &portal).await;
    assert_eq!(own["count"], 2, "{own}");
    let (_, others) = app
        .get(&format!("/api/v1/payments/?client={other}"), &admin)
        .await;
    assert_eq!(others["count"], 0);
    let (status, one) = app.get(&format!("/api/v1/payments/{id}/"), &portal).await;
    assert_eq!((status, &one["id"]), (StatusCode::OK, &json!(id)));
    let (status, body) = app.get("/api/v1/payments/nope/", &admin).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
    );
}

async fn credit_notes_and_statements(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let other = client(&app, &admin, "Other", "EUR").await;
    let viewer = user(&app, &admin, "vida", "viewer", None).await;
    let portal = user(&app, &admin, "portal", "client", Some(acme)).await;
    let (first, _) = sent_invoice(&app, &admin, acme).await;
    let (second, _) = sent_invoice(&app, &admin, acme).await;

    // A partial credit: one line of 10.00 at 9%.
    let partial = json!({
        "issue_date": "2026-11-23",
        "lines": [{ "description": "Setup refunded", "quantity": "1", "unit_price": "10.00", "tax_rate": "9" }],
    });
    let path = format!("/api/v1/invoices/{first}/credit-notes/");
    let (status, body) = app.post(&path, &viewer, partial.clone()).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    let (status, note) = app.post(&path, &admin, partial).await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["kind"], "credit_note");
    assert!(
        note["number"].as_str().unwrap().starts_with("CN-"),
        "{note}"
    );
    assert_eq!(note["total"], 1090);
    assert_eq!(note["credits_invoice_id"], json!(first));
    let (_, invoice) = app.get(&format!("/api/v1/invoices/{first}/"), &admin).await;
    assert_eq!(invoice["amount_due"], 21255 - 1090);

    let (status, body) = app
        .post(&path, &admin, json!({ "issue_date": "soon", "lines": [{ "description": "x", "quantity": "1", "unit_price": "1.001" }] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "issue_date": ["Date has wrong format. Use YYYY-MM-DD."],
            "lines[0].unit_price": ["The price has more than 2 decimal places."],
        })
    );
    // A whole credit voids the invoice.
    let (status, whole) = app
        .post(
            &format!("/api/v1/invoices/{second}/credit-notes/"),
            &admin,
            json!({ "issue_date": "2026-11-23" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{whole}");
    assert_eq!(whole["total"], 21255);
    let (_, voided) = app
        .get(&format!("/api/v1/invoices/{second}/"), &admin)
        .await;
    assert_eq!(voided["status"], "void");

    // The statement: two invoices, two credit notes; the portal reads its own only.
    let statement = format!("/api/v1/clients/{acme}/statement/?from=2026-01-01&to=2026-12-31");
    for token in [&admin, &viewer, &portal] {
        let (status, body) = app.get(&statement, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["lines"].as_array().unwrap().len(), 4, "{body}");
        assert_eq!(body["currencies"][0]["currency"], "EUR");
        assert_eq!(
            body["currencies"][0]["closing_balance"],
            21255 * 2 - 1090 - 21255
        );
    }
    let (status, body) = app
        .get(
            &format!("/api/v1/clients/{other}/statement/?from=2026-01-01&to=2026-12-31"),
            &portal,
        )
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    let (status, body) = app
        .get(
            &format!("/api/v1/clients/{acme}/statement/?to=31.12.2026"),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "from": ["This field is required."], "to": ["Date has wrong format. Use YYYY-MM-DD."] })
    );
}

/// A GET answered as (status, content type, text).
async fn get_text(app: &TestApp, path: &str, token: &str) -> (StatusCode, String, String) {
    let response = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

async fn sent_invoices_export_as_en16931_xml(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        let seller = &mut config.invoicing.seller;
        seller.name = "Saghat GmbH".into();
        seller.tax_id = Some("DE123456789".into());
        seller.address.street = "Hauptstr. 1".into();
        seller.address.city = "Berlin".into();
        seller.address.postal_code = "10115".into();
        seller.address.country_code = "DE".into();
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let viewer = user(&app, &admin, "vida", "viewer", None).await;
    let member = user(&app, &admin, "omid", "member", None).await;
    let portal = user(&app, &admin, "portal", "client", Some(acme)).await;
    let (id, number) = sent_invoice(&app, &admin, acme).await;

    for token in [&admin, &viewer, &portal] {
        let (status, kind, ubl) =
            get_text(&app, &format!("/api/v1/invoices/{id}/ubl/"), token).await;
        assert_eq!(status, StatusCode::OK, "{ubl}");
        assert!(kind.starts_with("application/xml"), "{kind}");
        assert!(
            ubl.contains("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"),
            "{ubl}"
        );
        assert!(ubl.contains(&number) && ubl.contains("212.55"), "{ubl}");
    }
    let (status, _, cii) = get_text(&app, &format!("/api/v1/invoices/{id}/cii/"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{cii}");
    assert!(
        cii.contains("CrossIndustryInvoice") && cii.contains("212.55"),
        "{cii}"
    );
    let (status, body) = app
        .get(&format!("/api/v1/invoices/{id}/cii/"), &member)
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    // A draft has no e-invoice yet.
    let (_, created) = app.post("/api/v1/invoices/", &admin, draft(acme)).await;
    let draft_id = created["id"].as_str().unwrap();
    let (status, body) = app
        .get(&format!("/api/v1/invoices/{draft_id}/ubl/"), &admin)
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
    );
}

/// Without the seller's VAT id there is no EN 16931 e-invoice: 400 saying so.
async fn an_einvoice_needs_the_sellers_vat_id(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let (id, _) = sent_invoice(&app, &admin, acme).await;
    let (status, body) = app
        .get(&format!("/api/v1/invoices/{id}/ubl/"), &admin)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["non_field_errors"][0].as_str().unwrap();
    assert!(
        message.contains("tax id") || message.contains("VAT"),
        "{body}"
    );
}

/// Every role against every invoicing endpoint: 403 exactly when the one access function
/// (`invoicing::access::allowed`) refuses the role the action, never otherwise.
async fn every_role_on_every_endpoint(backend: Backend) {
    use saghat_core::auth::Role;
    use saghat_core::invoicing::access::{allowed, Action};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let (sent, _) = sent_invoice(&app, &admin, acme).await;
    let mut tokens = vec![(Role::Admin, admin.clone())];
    for (role, name) in [
        (Role::Accountant, "accountant"),
        (Role::Viewer, "viewer"),
        (Role::Member, "member"),
        (Role::Lender, "lender"),
    ] {
        tokens.push((role, user(&app, &admin, name, name, None).await));
    }
    tokens.push((
        Role::Client,
        user(&app, &admin, "portal", "client", Some(acme)).await,
    ));

    let new_client = json!({ "name": "New", "country_code": "DE", "currency": "EUR" });
    let product = json!({ "name": "P", "unit_price": "1", "currency": "EUR" });
    let payment =
        json!({ "client": acme, "amount": "1", "received_on": "2026-11-25", "method": "cash" });
    let endpoints: Vec<(Method, String, Option<Value>, Action)> = vec![
        (
            Method::GET,
            "/api/v1/clients/".into(),
            None,
            Action::ReadClients,
        ),
        (
            Method::POST,
            "/api/v1/clients/".into(),
            Some(new_client),
            Action::WriteClients,
        ),
        (
            Method::GET,
            format!("/api/v1/clients/{acme}/statement/?from=2026-01-01&to=2026-12-31"),
            None,
            Action::ReadStatement,
        ),
        (
            Method::GET,
            "/api/v1/products/".into(),
            None,
            Action::ReadProducts,
        ),
        (
            Method::POST,
            "/api/v1/products/".into(),
            Some(product),
            Action::ManageProducts,
        ),
        (
            Method::GET,
            "/api/v1/invoices/".into(),
            None,
            Action::ReadInvoices,
        ),
        (
            Method::GET,
            format!("/api/v1/invoices/{sent}/"),
            None,
            Action::ReadInvoices,
        ),
        (
            Method::POST,
            "/api/v1/invoices/".into(),
            Some(draft(acme)),
            Action::WriteInvoices,
        ),
        (
            Method::GET,
            format!("/api/v1/invoices/{sent}/ubl/"),
            None,
            Action::DownloadInvoices,
        ),
        (
            Method::GET,
            "/api/v1/payments/".into(),
            None,
            Action::ReadPayments,
        ),
        (
            Method::POST,
            "/api/v1/payments/".into(),
            Some(payment),
            Action::WritePayments,
        ),
        (
            Method::POST,
            format!("/api/v1/invoices/{sent}/credit-notes/"),
            Some(
                json!({ "issue_date": "2026-11-23", "lines": [{ "description": "x", "quantity": "1", "unit_price": "0.01" }] }),
            ),
            Action::IssueCreditNotes,
        ),
        (
            Method::GET,
            "/api/v1/users/".into(),
            None,
            Action::ManageUsers,
        ),
    ];
    for (role, token) in &tokens {
        let own = (*role == Role::Client).then_some(acme);
        for (method, path, body, action) in &endpoints {
            let expected = allowed(*role, own, *action, Some(acme));
            let (status, answer) = app
                .call(method.clone(), path, Some(token), body.clone())
                .await;
            if expected {
                assert!(
                    !matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED)
                        && !status.is_server_error(),
                    "{role:?} {method} {path}: {status} {answer}"
                );
            } else {
                assert_eq!(
                    (status, answer),
                    (StatusCode::FORBIDDEN, forbidden()),
                    "{role:?} {method} {path}"
                );
            }
        }
    }
}
