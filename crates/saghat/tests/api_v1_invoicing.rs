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

common::on_both_databases!(clients_by_role, products_by_role, client_users_and_pages);

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
