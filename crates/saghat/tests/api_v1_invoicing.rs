//! `/api/v1/clients/` and `/api/v1/products/` by role, in DRF's shapes, over the invoicing
//! services, on SQLite and PostgreSQL.

use saghat_test_support as common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{Backend, TestApp, PASSWORD};

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
    amounts_in_each_currencys_places,
    payments_settle_invoices,
    credit_notes_and_statements,
    credit_is_used_and_paid_back,
    errors_name_the_fields_the_api_takes,
    sent_invoices_export_as_en16931_xml,
    sent_invoices_print_as_pdf_and_facturx,
    idempotency_keys_replay_payments_and_sends,
    an_einvoice_needs_the_sellers_vat_id,
    every_role_on_every_endpoint,
);

async fn clients_by_role(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let accountant = app.v1_user(&admin, "sara", "accountant", None).await;
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;
    let member = app.v1_user(&admin, "omid", "member", None).await;

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
    assert_eq!(
        created["send_reminders"], true,
        "reminders unless asked for none"
    );
    assert_eq!(created["contacts"], json!([]));
    let (status, quiet) = app
        .post(
            "/api/v1/clients/",
            &accountant,
            json!({ "name": "Quiet", "country_code": "DE", "currency": "EUR", "send_reminders": false }),
        )
        .await;
    assert_eq!(
        (status, &quiet["send_reminders"]),
        (StatusCode::CREATED, &json!(false))
    );
    let (status, body) = app
        .post(
            "/api/v1/clients/",
            &accountant,
            json!({ "name": "Null", "country_code": "DE", "currency": "EUR", "send_reminders": null }),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "send_reminders": ["This field may not be null."] })
        )
    );
    // Out of the way of the counts below.
    let quiet_id = quiet["id"].as_i64().unwrap();
    sqlx::query("DELETE FROM clients WHERE id = $1")
        .bind(quiet_id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();

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
    let accountant = app.v1_user(&admin, "sara", "accountant", None).await;
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;

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
        (&json!("HUR"), &json!("S"), &json!("9.00"))
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
            "unit_price": ["Ensure that there are no more than 2 decimal places."],
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
        (&json!("15.00"), &json!("19.60"))
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
    let portal = app.v1_user(&admin, "portal", "client", Some(ids[1])).await;
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
    let accountant = app.v1_user(&admin, "sara", "accountant", None).await;
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;
    let portal = app.v1_user(&admin, "portal", "client", Some(acme)).await;

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
    // Amounts are DRF decimal strings in the currency's places.
    assert_eq!(created["lines_net"], "195.00");
    assert_eq!(created["tax"], "17.55");
    assert_eq!(created["total"], "212.55");
    assert_eq!(created["amount_due"], "212.55");
    assert_eq!(created["lines"].as_array().unwrap().len(), 2);
    let line = &created["lines"][0];
    assert_eq!(
        (
            &line["quantity"],
            &line["unit_price"],
            &line["tax_rate"],
            &line["net"]
        ),
        (
            &json!("1.5000"),
            &json!("100.00"),
            &json!("9.00"),
            &json!("150.00")
        )
    );
    let line = &created["lines"][1];
    assert_eq!(
        (
            &line["discount_kind"],
            &line["discount_value"],
            &line["net"]
        ),
        (&json!("percent"), &json!("10.00"), &json!("45.00"))
    );

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
            // One object per line, as DRF's list serializer nests them.
            "lines": [
                { "quantity": ["A valid number is required."] },
                { "unit_price": ["Ensure that there are no more than 2 decimal places."] },
            ],
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
    assert_eq!(sent["total"], "212.55", "sending never recomputes");
    // The breakdown is stored when the invoice is sent.
    assert_eq!(
        sent["taxes"],
        json!([{ "tax_code": "S", "tax_rate": "9.00", "lines_net": "195.00", "discount": "0.00", "taxable": "195.00", "tax": "17.55" }])
    );
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

    // Paged by key: next links forward and previous back, both absolute.
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
    let previous = second["previous"].as_str().expect("a previous link");
    assert!(previous.starts_with(&prefix), "{previous}");
    let (status, back) = app
        .get(previous.strip_prefix(&app.base).unwrap(), &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["results"], first["results"], "back to the first page");
    assert_eq!(back["previous"], Value::Null);
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

/// Rials have no decimal places, USDT 8; JSON numbers are read from their text, exactly.
async fn amounts_in_each_currencys_places(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let tehran = client(&app, &admin, "Tehran", "IRR").await;
    let chain = client(&app, &admin, "Chain", "USDT").await;

    let rials = format!(
        r#"{{"client": {tehran}, "issue_date": "2026-11-22",
            "lines": [{{"description": "Hosting", "quantity": 3, "unit_price": 1500000, "tax_rate": 9}}]}}"#
    );
    let (status, body) = app.post_raw("/api/v1/invoices/", &admin, rials).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // 3 x 1,500,000 = 4,500,000; 9% = 405,000.
    assert_eq!(
        (&body["lines_net"], &body["tax"], &body["total"]),
        (&json!("4500000"), &json!("405000"), &json!("4905000"))
    );
    assert_eq!(body["lines"][0]["quantity"], "3.0000");
    let (status, body) = app
        .post_raw(
            "/api/v1/invoices/",
            &admin,
            format!(
                r#"{{"client": {tehran}, "issue_date": "2026-11-22",
                    "lines": [{{"description": "x", "quantity": "1", "unit_price": 1500000.5}}]}}"#
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "lines": [{ "unit_price": ["Ensure that there are no more than 0 decimal places."] }] })
    );

    // 0.1 as a float is not 0.1; as its text it is exactly 10,000,000 of 10^-8.
    let coins = format!(
        r#"{{"client": {chain}, "issue_date": "2026-11-22",
            "lines": [{{"description": "Gas", "quantity": 1.25, "unit_price": 0.10000001, "tax_rate": "0"}}]}}"#
    );
    let (status, body) = app.post_raw("/api/v1/invoices/", &admin, coins).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // 1.25 x 0.10000001 = 0.1250000125, rounded half away to 8 places.
    assert_eq!(body["lines"][0]["unit_price"], "0.10000001");
    assert_eq!(body["lines"][0]["quantity"], "1.2500");
    assert_eq!(body["total"], "0.12500001");
    let (status, body) = app
        .post_raw(
            "/api/v1/payments/",
            &admin,
            format!(
                r#"{{"client": {chain}, "amount": 0.000000001, "received_on": "2026-11-25", "method": "other"}}"#
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "amount": ["Ensure that there are no more than 8 decimal places."] })
    );
    let (status, body) = app
        .post_raw(
            "/api/v1/payments/",
            &admin,
            format!(
                r#"{{"client": {chain}, "amount": 2.5, "received_on": "2026-11-25", "method": "other"}}"#
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["amount"], &body["unallocated"]),
        (&json!("2.50000000"), &json!("2.50000000"))
    );
    let (status, body) = app
        .post_raw(
            "/api/v1/payments/",
            &admin,
            format!(
                r#"{{"client": {chain}, "amount": true, "received_on": "2026-11-25", "method": "other"}}"#
            ),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "amount": ["A valid number is required."] })
        )
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
    let accountant = app.v1_user(&admin, "sara", "accountant", None).await;
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;
    let member = app.v1_user(&admin, "omid", "member", None).await;
    let portal = app.v1_user(&admin, "portal", "client", Some(acme)).await;
    let (invoice, number) = sent_invoice(&app, &admin, acme).await;

    let payment = |amount: &str| json!({ "client": acme, "amount": amount, "received_on": "2026-11-25", "method": "bank_transfer" });
    let mut first = payment("100.00");
    first["allocations"] = json!([{ "invoice": invoice, "amount": "100" }]);
    let (status, paid) = app.post("/api/v1/payments/", &accountant, first).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["amount"], "100.00");
    assert_eq!(paid["currency"], "EUR", "the client's");
    assert_eq!(
        paid["allocations"],
        json!([{ "invoice": invoice, "amount": "100.00" }])
    );
    assert_eq!(paid["unallocated"], "0.00");
    let (_, detail) = app
        .get(&format!("/api/v1/invoices/{invoice}/"), &admin)
        .await;
    assert_eq!(
        (&detail["status"], &detail["amount_due"]),
        (&json!("partially_paid"), &json!("112.55"))
    );

    // The rest, by a reference naming the invoice's number, and 10.00 more as credit.
    let mut rest = payment("122.55");
    rest["reference"] = json!(format!("Payment for {number}"));
    let (status, paid) = app.post("/api/v1/payments/", &accountant, rest).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(
        paid["allocations"],
        json!([{ "invoice": invoice, "amount": "112.55" }])
    );
    assert_eq!(paid["unallocated"], "10.00");
    let (_, detail) = app
        .get(&format!("/api/v1/invoices/{invoice}/"), &admin)
        .await;
    assert_eq!(
        (&detail["status"], &detail["amount_due"]),
        (&json!("paid"), &json!("0.00"))
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
            json!({ "amount": ["Ensure that there are no more than 2 decimal places."] })
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
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;
    let portal = app.v1_user(&admin, "portal", "client", Some(acme)).await;
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
    assert_eq!(note["total"], "10.90");
    assert_eq!(note["credits_invoice_id"], json!(first));
    let (_, invoice) = app.get(&format!("/api/v1/invoices/{first}/"), &admin).await;
    assert_eq!(invoice["amount_due"], "201.65");

    let (status, body) = app
        .post(&path, &admin, json!({ "issue_date": "soon", "lines": [{ "description": "x", "quantity": "1", "unit_price": "1.001" }] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "issue_date": ["Date has wrong format. Use YYYY-MM-DD."],
            "lines": [{ "unit_price": ["Ensure that there are no more than 2 decimal places."] }],
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
    assert_eq!(whole["total"], "212.55");
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
            // 212.55 x 2 invoiced, 10.90 and 212.55 credited.
            body["currencies"][0]["closing_balance"],
            "201.65"
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

/// An overpayment is the client's credit: used on a later invoice, paid back by a refund
/// (once under its key), never beyond what there is.
async fn credit_is_used_and_paid_back(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;
    let (first, _) = sent_invoice(&app, &admin, acme).await;
    let (second, _) = sent_invoice(&app, &admin, acme).await;
    // 300.00 on the first invoice's 212.55: 87.45 is credit.
    let payment = json!({ "client": acme, "amount": "300.00", "received_on": "2026-11-25",
        "method": "bank_transfer", "allocations": [{ "invoice": first, "amount": "212.55" }] });
    let (status, paid) = app.post("/api/v1/payments/", &admin, payment).await;
    assert_eq!(
        (status, &paid["unallocated"]),
        (StatusCode::CREATED, &json!("87.45")),
        "{paid}"
    );

    let apply = format!("/api/v1/invoices/{second}/apply-credit/");
    let (status, body) = app.post(&apply, &viewer, json!({ "amount": "10" })).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    let (status, body) = app.post(&apply, &admin, json!({ "amount": "87.46" })).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "amount": ["The client's credit is 87.45 EUR."] })
        )
    );
    let (status, body) = app.post(&apply, &admin, json!({ "amount": "1.001" })).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "amount": ["Ensure that there are no more than 2 decimal places."] })
        )
    );
    let (status, invoice) = app.post(&apply, &admin, json!({ "amount": "50.00" })).await;
    assert_eq!(status, StatusCode::OK, "{invoice}");
    assert_eq!(
        (&invoice["status"], &invoice["amount_due"]),
        (&json!("partially_paid"), &json!("162.55"))
    );

    // 37.45 left to pay back; a retry under the same key pays nothing twice.
    let refunds = format!("/api/v1/clients/{acme}/refunds/");
    let refund = json!({ "amount": "30.00", "refunded_on": "2026-11-26", "method": "bank_transfer", "reference": "R-1" });
    let (status, replayed, first_answer) =
        post_keyed(&app, &refunds, &admin, "refund-1", &refund).await;
    assert_eq!(
        (status, replayed),
        (StatusCode::CREATED, false),
        "{first_answer}"
    );
    assert_eq!(
        (
            &first_answer["amount"],
            &first_answer["currency"],
            &first_answer["client"],
            &first_answer["reference"]
        ),
        (&json!("30.00"), &json!("EUR"), &json!(acme), &json!("R-1"))
    );
    let (status, replayed, again) = post_keyed(&app, &refunds, &admin, "refund-1", &refund).await;
    assert_eq!(
        (status, replayed, &again),
        (StatusCode::CREATED, true, &first_answer)
    );
    let (status, body) = app
        .post(
            &refunds,
            &admin,
            json!({ "amount": "7.46", "refunded_on": "2026-11-26", "method": "cash" }),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "amount": ["Must be more than 0 and at most the client's credit (7.45 EUR)."] })
        )
    );
    let (status, body) = app
        .post(
            &refunds,
            &admin,
            json!({ "amount": "1", "refunded_on": "26/11/2026", "method": "cash" }),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "refunded_on": ["Date has wrong format. Use YYYY-MM-DD."] })
        )
    );
    let (status, _) = app
        .post("/api/v1/clients/999999/refunds/", &admin, refund.clone())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let statement = format!("/api/v1/clients/{acme}/statement/?from=2026-01-01&to=2026-12-31");
    let (_, body) = app.get(&statement, &admin).await;
    let eur = &body["currencies"][0];
    assert_eq!(
        (&eur["credit"], &eur["refunded"]),
        (&json!("7.45"), &json!("30.00")),
        "{body}"
    );
    // The books agree with the records.
    app.assert_books_verify().await;
}

/// The services name relations by their ids; the API by the fields it takes.
async fn errors_name_the_fields_the_api_takes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let mut body = draft(acme);
    body["lines"][1]["product"] = json!(999_999);
    let (status, answer) = app.post("/api/v1/invoices/", &admin, body).await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            json!({ "lines": [{}, { "product": ["Invalid pk - object does not exist."] }] })
        )
    );
    let (draft_id, _) = {
        let (status, created) = app.post("/api/v1/invoices/", &admin, draft(acme)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        (created["id"].as_str().unwrap().to_string(), ())
    };
    // Crediting a draft: the path's invoice is no field of the body.
    let (status, answer) = app
        .post(
            &format!("/api/v1/invoices/{draft_id}/credit-notes/"),
            &admin,
            json!({ "issue_date": "2026-11-23" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["non_field_errors"].is_array(), "{answer}");
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
    let viewer = app.v1_user(&admin, "vida", "viewer", None).await;
    let member = app.v1_user(&admin, "omid", "member", None).await;
    let portal = app.v1_user(&admin, "portal", "client", Some(acme)).await;
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
        tokens.push((role, app.v1_user(&admin, name, name, None).await));
    }
    tokens.push((
        Role::Client,
        app.v1_user(&admin, "portal", "client", Some(acme)).await,
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
            Method::POST,
            format!("/api/v1/invoices/{sent}/apply-credit/"),
            Some(json!({ "amount": "0.01" })),
            Action::WritePayments,
        ),
        (
            Method::POST,
            format!("/api/v1/clients/{acme}/refunds/"),
            Some(
                json!({ "amount": "0.01", "refunded_on": "2026-11-26", "method": "bank_transfer" }),
            ),
            Action::WritePayments,
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

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// GET a file: status, headers, bytes.
async fn get_bytes(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The text of a PDF by poppler's pdftotext; `None` (skipped) without it outside CI.
fn pdf_text(dir: &std::path::Path, pdf: &[u8]) -> Option<String> {
    let file = dir.join("invoice.pdf");
    std::fs::write(&file, pdf).unwrap();
    match std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(e) if !ci() => {
            eprintln!("SKIPPED: pdftotext does not run: {e}");
            None
        }
        Err(e) => panic!("pdftotext is required in CI: {e}"),
    }
}

async fn sent_invoices_print_as_pdf_and_facturx(backend: Backend) {
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
    let other = client(&app, &admin, "Other", "EUR").await;
    let portal = app.v1_user(&admin, "portal", "client", Some(acme)).await;
    let member = app.v1_user(&admin, "omid", "member", None).await;
    let (id, number) = sent_invoice(&app, &admin, acme).await;
    let (theirs, _) = sent_invoice(&app, &admin, other).await;
    let dir = tempfile::tempdir().unwrap();

    for token in [&admin, &portal] {
        let (status, headers, pdf) =
            get_bytes(&app, &format!("/api/v1/invoices/{id}/pdf/"), token).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
        assert_eq!(headers["content-type"], "application/pdf");
        assert_eq!(
            headers["content-disposition"],
            format!("attachment; filename=\"{number}.pdf\"").as_str()
        );
        assert!(pdf.starts_with(b"%PDF"));
        if let Some(text) = pdf_text(dir.path(), &pdf) {
            assert!(text.contains(&number), "{text}");
            assert!(text.contains("212.55"), "{text}");
        }
    }
    // The client user gets its own invoice only; another's is not there for it.
    let (status, _, body) =
        get_bytes(&app, &format!("/api/v1/invoices/{theirs}/pdf/"), &portal).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({ "detail": "Not found." })
    );
    let (status, body) = app
        .get(&format!("/api/v1/invoices/{id}/pdf/"), &member)
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    // A draft is not printed.
    let (_, created) = app.post("/api/v1/invoices/", &admin, draft(acme)).await;
    let draft_id = created["id"].as_str().unwrap();
    let (status, body) = app
        .get(&format!("/api/v1/invoices/{draft_id}/pdf/"), &admin)
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
    );

    // The Factur-X PDF/A-3 carries an EN 16931 invoice that the validator accepts.
    let (status, headers, pdf) =
        get_bytes(&app, &format!("/api/v1/invoices/{id}/facturx/"), &portal).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{number}.facturx.pdf\"").as_str()
    );
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(dir.path(), &pdf) {
        assert!(text.contains(&number) && text.contains("212.55"), "{text}");
    }
    let file = dir.path().join("facturx.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let python = std::env::var("SAGHAT_PYTHON").unwrap_or_else(|_| "python3".into());
    let rules = std::env::var("SAGHAT_EINVOICE_RULES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/einvoice"));
    let output = std::process::Command::new(&python)
        .arg(repo_root().join("scripts/einvoice-validate.py"))
        .arg(&file)
        .env("SAGHAT_EINVOICE_RULES", &rules)
        .output();
    let output = match output {
        Ok(out) if out.status.code() == Some(2) && !ci() => {
            eprintln!(
                "SKIPPED: the e-invoice validator's set-up is missing: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        Ok(out) => out,
        Err(e) if !ci() => {
            eprintln!("SKIPPED: {python} does not run: {e}");
            return;
        }
        Err(e) => panic!("{python} is required in CI: {e}"),
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(report.contains("ok   facturx"), "{report}");
    assert!(report.contains("ok   schematron"), "{report}");
    assert!(report.contains("1 of 1 files valid"), "{report}");
}

/// POST with an `Idempotency-Key`: status, the replay header, JSON.
async fn post_keyed(
    app: &TestApp,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, bool, Value) {
    let response = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (status, replayed, response.json().await.unwrap())
}

async fn idempotency_keys_replay_payments_and_sends(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let accountant = app.v1_user(&admin, "sara", "accountant", None).await;
    let acme = client(&app, &admin, "Acme", "EUR").await;
    let (invoice, _) = sent_invoice(&app, &admin, acme).await;

    let payment = json!({ "client": acme, "amount": "50.00", "received_on": "2026-11-25",
        "method": "bank_transfer", "allocations": [{ "invoice": invoice, "amount": "50" }] });
    let (status, replayed, first) =
        post_keyed(&app, "/api/v1/payments/", &accountant, "pay-1", &payment).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(!replayed);
    let payments = app.count("invoice_payments").await;
    let journal = app.count("journal_entries").await;
    // The retry: the first answer, nothing recorded twice.
    let (status, replayed, again) =
        post_keyed(&app, "/api/v1/payments/", &accountant, "pay-1", &payment).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert!(replayed, "the answer says it is a replay");
    assert_eq!(again, first);
    assert_eq!(app.count("invoice_payments").await, payments);
    assert_eq!(app.count("journal_entries").await, journal);
    let (_, detail) = app
        .get(&format!("/api/v1/invoices/{invoice}/"), &admin)
        .await;
    assert_eq!(detail["amount_due"], "162.55", "paid once");
    // The key with another body is refused; a key is the user's own.
    let mut other = payment.clone();
    other["amount"] = json!("60.00");
    let (status, _, body) =
        post_keyed(&app, "/api/v1/payments/", &accountant, "pay-1", &other).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "detail": "This Idempotency-Key was already used with a different request" })
        )
    );
    assert_eq!(app.count("invoice_payments").await, payments);
    let (status, replayed, _) =
        post_keyed(&app, "/api/v1/payments/", &admin, "pay-1", &payment).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    assert_eq!(app.count("invoice_payments").await, payments + 1);
    let (status, _, body) = post_keyed(&app, "/api/v1/payments/", &accountant, "", &payment).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({ "detail": "Idempotency-Key must be 1 to 255 visible ASCII characters" })
    );

    // Sending: the first answer again under the key, another invoice under it is refused.
    let (_, created) = app.post("/api/v1/invoices/", &admin, draft(acme)).await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/invoices/{id}/send/");
    let (status, replayed, sent) = post_keyed(&app, &path, &accountant, "send-1", &json!({})).await;
    assert_eq!((status, replayed), (StatusCode::OK, false), "{sent}");
    assert_eq!(sent["status"], "sent");
    let journal = app.count("journal_entries").await;
    let (status, replayed, again) =
        post_keyed(&app, &path, &accountant, "send-1", &json!({})).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(again, sent);
    assert_eq!(app.count("journal_entries").await, journal);
    let (_, created) = app.post("/api/v1/invoices/", &admin, draft(acme)).await;
    let next = created["id"].as_str().unwrap();
    let (status, _, body) = post_keyed(
        &app,
        &format!("/api/v1/invoices/{next}/send/"),
        &accountant,
        "send-1",
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, still) = app.get(&format!("/api/v1/invoices/{next}/"), &admin).await;
    assert_eq!(still["status"], "draft", "a refused key sends nothing");
}
