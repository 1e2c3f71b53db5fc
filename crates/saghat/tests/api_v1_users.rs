//! `/api/v1/users/`: user management by role, DRF's field errors and page-number pagination,
//! on SQLite and PostgreSQL.

use saghat_test_support as common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{Backend, TestApp, ADMIN, PASSWORD};

async fn v1_token(app: &TestApp, username: &str, password: &str) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({ "username": username, "password": password })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "login {username}: {body}");
    body["access"].as_str().unwrap().to_string()
}

/// Creates a user through `/api/v1/users/` as `admin`; returns its id.
async fn create(app: &TestApp, admin: &str, username: &str, role: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/v1/users/",
            admin,
            json!({ "username": username, "password": PASSWORD, "role": role }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "create {username}: {body}");
    body["id"].as_i64().unwrap()
}

async fn audited_user_changes(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('user_created', 'user_changed')",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap()
}

fn forbidden() -> Value {
    json!({ "detail": "You do not have permission to perform this action." })
}

common::on_both_databases!(
    admins_manage_users_and_others_only_read_themselves,
    user_fields_are_checked_drfs_way,
    users_are_paged_with_absolute_links,
);

async fn admins_manage_users_and_others_only_read_themselves(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let audited_before = audited_user_changes(&app).await;
    let (status, created) = app
        .post(
            "/api/v1/users/",
            &admin,
            json!({
                "username": "sara", "password": PASSWORD, "role": "accountant",
                "email": "sara@example.com", "first_name": "Sara", "last_name": "Ahmadi",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let sara = created["id"].as_i64().unwrap();
    assert_eq!(
        created,
        json!({
            "id": sara, "username": "sara", "email": "sara@example.com",
            "first_name": "Sara", "last_name": "Ahmadi", "role": "accountant",
        }),
        "no password, nothing of the fund"
    );
    let omid = create(&app, &admin, "omid", "member").await;
    let accountant = v1_token(&app, "sara", PASSWORD).await;
    let member = v1_token(&app, "omid", PASSWORD).await;

    // Everyone reads themselves; only an admin reads, lists, creates or changes others.
    for (token, id, name) in [(&accountant, sara, "sara"), (&member, omid, "omid")] {
        let (status, me) = app.get("/api/v1/users/me/", token).await;
        assert_eq!((status, me["id"].as_i64()), (StatusCode::OK, Some(id)));
        let (status, own) = app.get(&format!("/api/v1/users/{id}/"), token).await;
        assert_eq!(
            (status, own["username"].as_str()),
            (StatusCode::OK, Some(name))
        );
    }
    let (status, body) = app
        .get(&format!("/api/v1/users/{omid}/"), &accountant)
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    for token in [&accountant, &member] {
        let (status, body) = app.get("/api/v1/users/", token).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
        // Permission comes before the body: a bad body is still 403.
        let (status, body) = app
            .post("/api/v1/users/", token, json!({ "username": 1 }))
            .await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
        let (status, body) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/users/{sara}/"),
                Some(token),
                Some(json!({ "role": "admin" })),
            )
            .await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden()));
    }

    // An admin reads anyone; a missing or malformed id is DRF's 404.
    let (status, body) = app.get(&format!("/api/v1/users/{omid}/"), &admin).await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("member"))
    );
    for path in [
        "/api/v1/users/99999/",
        "/api/v1/users/abc/",
        "/api/v1/users/-1/",
    ] {
        let (status, body) = app.get(path, &admin).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({ "detail": "Not found." })),
            "{path}"
        );
    }

    // PATCH changes some fields; read-only ones sent back (id, username) are ignored.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{omid}/"),
            Some(&admin),
            Some(json!({ "first_name": "Omid", "role": "lender", "id": 1, "username": "x" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["first_name"].as_str(), body["role"].as_str()),
        (Some("Omid"), Some("lender"))
    );
    assert_eq!(body["username"], "omid");
    // PUT needs every writable field.
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{omid}/"),
            Some(&admin),
            Some(json!({ "email": "" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "first_name": ["This field is required."],
            "last_name": ["This field is required."],
            "role": ["This field is required."],
            "is_active": ["This field is required."],
        })
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{omid}/"),
            Some(&admin),
            Some(json!({ "email": "omid@example.com", "first_name": "O", "last_name": "K", "role": "member", "is_active": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "id": omid, "username": "omid", "email": "omid@example.com",
            "first_name": "O", "last_name": "K", "role": "member",
        })
    );
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/users/99999/",
            Some(&admin),
            Some(json!({ "email": "", "first_name": "", "last_name": "", "role": "member", "is_active": true })),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
    );

    // Deactivating ends the user's sessions at once.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{omid}/"),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get("/api/v1/users/me/", &member).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_not_valid");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({ "username": "omid", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An admin cannot demote themselves; the refusal belongs to no one field.
    let (status, me) = app.get("/api/v1/users/me/", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}/", me["id"]),
            Some(&admin),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "non_field_errors": ["You cannot deactivate or demote yourself"] })
    );
    // Creating and changing users is audited as through /api/auth/users.
    assert_eq!(audited_user_changes(&app).await, audited_before + 2 + 3);
}

async fn user_fields_are_checked_drfs_way(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (status, body) = app.post("/api/v1/users/", &admin, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "username": ["This field is required."],
            "password": ["This field is required."],
            "role": ["This field is required."],
        })
    );
    let (status, body) = app
        .post(
            "/api/v1/users/",
            &admin,
            json!({ "username": "ab", "password": "short", "role": "member", "email": "not-an-email" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "username": ["Username must be 3 to 150 characters long"],
            "password": ["Password must be at least 8 characters long"],
            "email": ["Enter a valid e-mail address"],
        })
    );
    let (status, body) = app
        .post(
            "/api/v1/users/",
            &admin,
            json!({ "username": "neda", "password": PASSWORD, "role": "king" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "role": ["\"king\" is not a valid choice."] }));
    create(&app, &admin, "neda", "member").await;
    let (status, body) = app
        .post(
            "/api/v1/users/",
            &admin,
            json!({ "username": "NEDA", "password": PASSWORD, "role": "member" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "username": ["A user with that username already exists."] })
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/v1/users/1/",
            Some(&admin),
            Some(json!({ "password": "short", "is_active": "no" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "is_active": ["Must be a valid boolean."] }));
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/v1/users/1/",
            Some(&admin),
            Some(json!({ "email": null, "role": null })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "email": ["This field may not be null."], "role": ["This field may not be null."] })
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/v1/users/1/",
            Some(&admin),
            Some(json!({ "password": "short" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "password": ["Password must be at least 8 characters long"] })
    );
    let (status, body) = app.post_raw("/api/v1/users/", &admin, "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{body}"
    );
}

async fn users_are_paged_with_absolute_links(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    // 24 more users: 25 with the admin.
    for n in 0..24 {
        create(&app, &admin, &format!("user{n:02}"), "member").await;
    }
    let base = app.url("/api/v1/users/");
    let (status, first) = app.get("/api/v1/users/", &admin).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["count"], 25);
    assert_eq!(
        first["results"].as_array().unwrap().len(),
        20,
        "PAGE_SIZE is 20"
    );
    assert_eq!(first["next"], format!("{base}?page=2"));
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(
        first["results"][0]["username"], ADMIN,
        "ordered by username"
    );

    let (status, page) = app.get("/api/v1/users/?page_size=10&page=2", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 25);
    let names: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        (9..19).map(|n| format!("user{n:02}")).collect::<Vec<_>>()
    );
    assert_eq!(page["next"], format!("{base}?page=3&page_size=10"));
    assert_eq!(
        page["previous"],
        format!("{base}?page_size=10"),
        "page 1 has no page"
    );

    let (_, last) = app.get("/api/v1/users/?page_size=10&page=3", &admin).await;
    assert_eq!(last["results"].as_array().unwrap().len(), 5);
    assert_eq!(last["next"], Value::Null);
    assert_eq!(last["previous"], format!("{base}?page=2&page_size=10"));
    let (_, named_last) = app
        .get("/api/v1/users/?page_size=10&page=last", &admin)
        .await;
    assert_eq!(named_last["results"], last["results"]);

    for bad in ["?page_size=10&page=4", "?page=0", "?page=two"] {
        let (status, body) = app.get(&format!("/api/v1/users/{bad}"), &admin).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({ "detail": "Invalid page." })),
            "{bad}"
        );
    }
    // page_size is capped at 100; an unusable one is the default.
    let (_, all) = app.get("/api/v1/users/?page_size=1000", &admin).await;
    assert_eq!(
        (all["results"].as_array().unwrap().len(), &all["next"]),
        (25, &Value::Null)
    );
    let (_, default) = app.get("/api/v1/users/?page_size=0", &admin).await;
    assert_eq!(default["results"].as_array().unwrap().len(), 20);
}
