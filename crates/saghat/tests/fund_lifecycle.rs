//! The fund over time, on both databases: settings that take effect from a month on without
//! rewriting the months before.

use serde_json::{json, Value};

use saghat_core::fund::error::ConfigError;
use saghat_core::fund::service::{change_config, ConfigChange, ConfigChanged};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;
use saghat_test_support::{on_both_databases, Backend, TestApp, PASSWORD};

on_both_databases!(a_settings_change_applies_from_its_month_on,);

fn month(year: i32, month: u8) -> JalaliMonth {
    JalaliMonth { year, month }
}

async fn change(app: &TestApp, change: ConfigChange) -> Result<ConfigChanged, ConfigError> {
    let when = (app.state.now(), app.state.current_month());
    let changed = change_config(
        &app.state.db,
        when,
        &RequestMeta::default(),
        None,
        "test",
        change,
    )
    .await;
    app.state.invalidate("config").await;
    changed
}

async fn a_settings_change_applies_from_its_month_on(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "20").await;
    app.member(&admin, "omid", "20").await;
    assert_eq!(app.pay(&admin, "20", None).await.0, 201);

    // From Dey (next month) the fee is at least 30 and a loan's installment at least 25.
    let dey = ConfigChange {
        min_membership_fee: Some(Amount::whole(30)),
        min_amount_for_loan_payment: Some(Amount::whole(25)),
        effective_from: Some(month(1405, 10)),
        ..Default::default()
    };
    assert!(matches!(
        change(&app, dey).await,
        Ok(ConfigChanged::Updated(_))
    ));
    let (_, now) = app.get("/api/payments/config", &admin).await;
    assert_eq!(
        now["min_membership_fee"], "20.00000000",
        "Azar keeps its settings"
    );
    let (status, history) = app.get("/api/payments/config/history", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert_eq!(history[0]["from"], Value::Null);
    assert_eq!(history[1]["from"], "1405/10");
    assert_eq!(history[1]["min_membership_fee"], "30.00000000");

    // Azar's fee is still 20 for everyone.
    let sara = app.login("sara", PASSWORD).await;
    assert_eq!(app.pay(&sara, "20", None).await.0, 201);
    // A month already over cannot be changed.
    let past = ConfigChange {
        min_membership_fee: Some(Amount::whole(5)),
        effective_from: Some(month(1405, 8)),
        ..Default::default()
    };
    let refused = change(&app, past).await.unwrap_err();
    assert!(
        matches!(refused, ConfigError::PastMonth { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("1405/8"), "{refused}");
    let omid = app.login("omid", PASSWORD).await;
    assert_eq!(app.pay(&omid, "20", None).await.0, 201);
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, 201, "{drawn}");
    assert_eq!(
        drawn["loan"]["min_amount_for_each_payment"], "20.00000000",
        "Azar's loan takes Azar's minimum installment"
    );

    // Dey: the new settings apply; Azar's payments stay as they were.
    app.advance_days(30);
    let admin = app.admin_token().await;
    assert_eq!(app.state.current_month(), month(1405, 10));
    let (_, now) = app.get("/api/payments/config", &admin).await;
    assert_eq!(now["min_membership_fee"], "30.00000000");
    let (status, body) = app.pay(&admin, "20", None).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("minimum required 30"),
        "{body}"
    );
    assert_eq!(app.pay(&admin, "30", None).await.0, 201);
    let (_, paid) = app.get("/api/payments/my-payments", &admin).await;
    let fees: Vec<&str> = paid
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["membership_fee"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(fees, ["30.00000000", "20.00000000"]);

    // A change from this month replaces what Dey had, and says what it replaced.
    let now_change = ConfigChange {
        min_membership_fee: Some(Amount::whole(35)),
        ..Default::default()
    };
    assert!(
        matches!(change(&app, now_change).await, Ok(ConfigChanged::Updated(c)) if c.min_amount_for_loan_payment == Amount::whole(25))
    );
    let (_, history) = app.get("/api/payments/config/history", &admin).await;
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "Dey's change replaced: {history}"
    );
    assert_eq!(history[1]["min_membership_fee"], "35.00000000");
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'config_changed' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["effective_from"], "1405/10");
    assert_eq!(details["before"]["min_membership_fee"], "30.00000000");
}
