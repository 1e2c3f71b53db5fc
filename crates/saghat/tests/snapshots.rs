//! Snapshots of the contract: the OpenAPI document and a draw's log. A change to either shows
//! up as a changed file under `tests/snapshots/` in review, and fails `cargo test` until the
//! new snapshot is accepted (`cargo insta review`, or `INSTA_UPDATE=always cargo test --test
//! snapshots` and reading the diff). With `CI` set insta never writes or accepts one.

use saghat_test_support as common;

use common::{Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::Value;

common::on_both_databases!(a_draw_with_one_eligible_member_logs_the_same_every_time);

/// JSON as the snapshot holds it: indented, keys sorted (so that only a change of content, never
/// of serde_json's map order, changes a snapshot).
fn pretty(value: &Value) -> String {
    let mut value = value.clone();
    value.sort_all_objects();
    serde_json::to_string_pretty(&value).unwrap()
}

/// The document is built from the code alone, so SQLite is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_the_contract() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (status, document) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_snapshot!("openapi", pretty(&document));
}

/// One member can win (ali asks for 40 and has paid 40; bita asks for more than her balance,
/// the admin for nothing), so the draw's outcome and its log do not depend on the random
/// pick. Both databases must give the same snapshot. The loan's id is random and redacted.
async fn a_draw_with_one_eligible_member_logs_the_same_every_time(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.jwt_expire_minutes = 60 * 24 * 365).await
    else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, ali) = app.member(&admin, "ali", "40").await;
    let (_, bita) = app.member(&admin, "bita", "1000").await;
    assert_eq!(app.pay(&ali, "40", None).await.0, StatusCode::CREATED);
    for token in [&admin, &bita] {
        assert_eq!(app.pay(token, "20", None).await.0, StatusCode::CREATED);
    }
    let (status, mut draw) = app
        .call(Method::POST, "/api/loans/start", Some(&ali), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draw}");
    let loan_id = draw["loan"]["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&loan_id).is_ok(), "{loan_id}");
    draw["loan"]["id"] = Value::from("[loan id]");
    insta::assert_snapshot!("draw_log", pretty(&draw));

    // The stored log reads back as it was given.
    let (_, history) = app.get("/api/loans/history", &admin).await;
    assert_eq!(history[0]["id"], Value::from(loan_id));
    assert_eq!(history[0]["log"], draw["loan"]["log"]);
}
