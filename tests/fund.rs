//! The fund through HTTP: payments, draws, loans, repayments, on SQLite and PostgreSQL.

mod common;

use reqwest::StatusCode;
use serde_json::json;

use common::{Backend, TestApp};

crate::on_both_databases!(member_pays_and_sees_the_payment);

async fn member_pays_and_sees_the_payment(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin_token().await;
    let (id, token) = app.member(&admin, "sara", "40").await;
    let (status, payment) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["user_id"], id);
    assert_eq!(payment["amount"], "20.00000000");
    assert_eq!(payment["jalali_year"], 1405);
    assert_eq!(payment["jalali_month"], 9);
    assert_eq!(payment["membership_fee"], json!({ "amount": "20.00000000" }));
    assert_eq!(payment["loan_payment"], serde_json::Value::Null);
    let (status, again) = app.pay(&token, "20", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again["detail"], "Payment already submitted for 1405/9");
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["balance"], "20.00000000");
}
