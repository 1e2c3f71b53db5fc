//! The fund over time, on both databases: settings that take effect from a month on without
//! rewriting the months before; a member leaving (asked by an admin, confirmed by them) with
//! their contributions refunded less what their loan owes, the books still verifying, and
//! rejoining from nothing.

use serde_json::{json, Value};

use saghat_core::fund::error::ConfigError;
use saghat_core::fund::service::{change_config, ConfigChange, ConfigChanged};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;
use saghat_test_support::{on_both_databases, Backend, TestApp, PASSWORD};

on_both_databases!(
    a_settings_change_applies_from_its_month_on,
    a_member_leaves_with_a_refund_and_rejoins,
);

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

async fn a_member_leaves_with_a_refund_and_rejoins(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (sara_id, _) = app.member(&admin, "sara", "20").await;
    let (omid_id, _) = app.member(&admin, "omid", "0").await;
    let sara = app.login("sara", PASSWORD).await;
    let omid = app.login("omid", PASSWORD).await;
    assert_eq!(app.pay(&admin, "20", None).await.0, 201);
    assert_eq!(app.pay(&sara, "40", None).await.0, 201);
    assert_eq!(app.pay(&omid, "30", None).await.0, 201);
    // Sara alone takes part (omid asks for nothing, the admin too) and borrows 20.
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, 201, "{drawn}");
    assert_eq!(drawn["loan"]["user_id"], sara_id);
    let loan = drawn["loan"]["id"].as_str().unwrap().to_string();

    // Asked to leave: what leaving would give back, nothing moved yet.
    let leave = format!("/api/fund/members/{sara_id}/leave");
    assert_eq!(
        app.post(&leave, &sara, json!({})).await.0,
        403,
        "an admin asks"
    );
    let (status, asked) = app.post(&leave, &admin, json!({})).await;
    assert_eq!(status, 201, "{asked}");
    assert_eq!(asked["state"], "asked");
    assert_eq!(asked["would_settle"]["contributions"], "40.00000000");
    assert_eq!(asked["would_settle"]["owed"], "20.00000000");
    assert_eq!(asked["would_settle"]["refund"], "20.00000000");
    assert_eq!(
        app.post(&leave, &admin, json!({})).await.0,
        409,
        "asked once"
    );
    let (_, mine) = app.get("/api/fund/my-departures", &sara).await;
    assert_eq!(mine[0]["state"], "asked");
    let (_, fund) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(fund["cash"], "70.00000000", "90 paid in, 20 lent");

    // Omid is asked too, and declines: nothing changes for him.
    let omid_leave = format!("/api/fund/members/{omid_id}/leave");
    assert_eq!(app.post(&omid_leave, &admin, json!({})).await.0, 201);
    let (status, declined) = app
        .post("/api/fund/my-departures/decline", &omid, json!({}))
        .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["state"], "cancelled");
    assert_eq!(
        app.post("/api/fund/my-departures/confirm", &omid, json!({}))
            .await
            .0,
        404,
        "nothing left to confirm"
    );

    // Sara confirms: 40 paid in, 20 settle her loan, 20 come back to her, in one transaction.
    let (status, left) = app
        .post("/api/fund/my-departures/confirm", &sara, json!({}))
        .await;
    assert_eq!(status, 200, "{left}");
    assert_eq!(left["state"], "confirmed");
    assert_eq!(left["contributions"], "40.00000000");
    assert_eq!(left["owed"], "20.00000000");
    assert_eq!(left["refunded"], "20.00000000");
    assert_eq!(left["loan_id"], loan.as_str());
    app.assert_books_verify().await;
    let (_, fund) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(fund["cash"], "50.00000000", "the refund left the cash");
    assert_eq!(
        fund["outstanding_loans"], "0.00000000",
        "her loan is settled"
    );
    let (_, settled) = app.get(&format!("/api/loans/{loan}"), &admin).await;
    assert_eq!(settled["state"], "settled");
    assert_eq!(settled["remaining_balance"], "0.00000000");
    assert_eq!(settled["settled_from_contributions"], "20.00000000");
    let (_, audit) = app.get("/api/audit?action=left_fund", &admin).await;
    let entries = audit["items"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .clone();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["details"]["refunded"], "20.00000000");
    // Gone from the fund: she cannot pay, is not waited for, and cannot be asked again.
    app.advance_days(30);
    let admin = app.admin_token().await;
    let sara = app.login("sara", PASSWORD).await;
    let omid = app.login("omid", PASSWORD).await;
    let (status, body) = app.pay(&sara, "20", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("left the fund"),
        "{body}"
    );
    assert_eq!(app.post(&leave, &admin, json!({})).await.0, 409);
    assert_eq!(app.pay(&admin, "20", None).await.0, 201);
    assert_eq!(app.pay(&omid, "20", None).await.0, 201);
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, 201, "the draw does not wait for her: {drawn}");
    let names: Vec<&str> = drawn["loan"]["log"]["not_participated"]
        .as_array()
        .unwrap()
        .iter()
        .chain(drawn["loan"]["log"]["participated"].as_array().unwrap())
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"sara"), "{names:?}");

    // Rejoining: she pays again, from no contributions.
    let rejoin = format!("/api/fund/members/{sara_id}/rejoin");
    assert_eq!(
        app.post(
            &format!("/api/fund/members/{omid_id}/rejoin"),
            &admin,
            json!({})
        )
        .await
        .0,
        409
    );
    assert_eq!(app.post(&rejoin, &admin, json!({})).await.0, 204);
    assert_eq!(app.post(&rejoin, &admin, json!({})).await.0, 409, "once");
    assert_eq!(app.pay(&sara, "25", None).await.0, 201);
    let (_, me) = app.get("/api/auth/me", &sara).await;
    assert_eq!(me["balance"], "25.00000000", "{me}");
    let (_, history) = app
        .get(&format!("/api/fund/members/{sara_id}/departures"), &admin)
        .await;
    assert!(history[0]["rejoined_at"].is_string(), "{history}");
    app.assert_books_verify().await;
}
