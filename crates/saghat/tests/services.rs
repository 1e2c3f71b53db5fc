//! The services called as a background job or the CLI would, without HTTP: the first admin,
//! `upsert_admin`, the shared configuration change and the refresh-token rotation. On SQLite
//! and PostgreSQL.

use saghat_test_support as common;

use std::sync::Arc;

use common::{default_now, fresh_database, Backend, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use saghat_core::auth::error::AuthError;
use saghat_core::auth::service::{self, AdminAccount, Upserted};
use saghat_core::config::Config;
use saghat_core::fund::error::ConfigError;
use saghat_core::fund::rules::FundConfig;
use saghat_core::fund::service::{change_config, ConfigChange, ConfigChanged};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::clock::ManualClock;
use saghat_core::platform::db::Db;
use saghat_core::platform::money::Amount;
use saghat_http::app::AppState;
use serde_json::json;

common::on_both_databases!(
    the_first_start_creates_an_admin_and_returns_the_generated_password,
    upsert_admin_promotes_a_member_only_when_asked,
    change_config_writes_and_audits_only_a_real_change,
    the_refresh_service_rotates_and_revokes_a_reused_family,
);

/// A migrated fund with no user at all, as on the very first start.
async fn empty_fund(backend: Backend) -> Option<(AppState, Option<tempfile::TempDir>)> {
    let (url, dir) = fresh_database(backend).await?;
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(default_now()));
    let state = AppState::new(db, Config::for_tests(url), clock).unwrap();
    Some((state, dir))
}

async fn audit_count(db: &Db, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn the_first_start_creates_an_admin_and_returns_the_generated_password(backend: Backend) {
    let Some((state, _dir)) = empty_fund(backend).await else {
        return;
    };
    let first = service::ensure_first_admin(&state)
        .await
        .unwrap()
        .expect("a fund without an admin gets one");
    assert_eq!(first.username, "admin");
    let password = first
        .generated_password
        .expect("no password was configured");
    assert_eq!(password.chars().count(), 20);
    let meta = RequestMeta::default();
    let tokens = service::sign_in(&state, &meta, "admin", password.clone())
        .await
        .expect("the returned password signs in");
    assert!(tokens.is_main);
    // Once there is an admin, nothing more happens and no password is made.
    assert!(service::ensure_first_admin(&state).await.unwrap().is_none());
    assert_eq!(audit_count(&state.db, "user_created").await, 1);
}

async fn upsert_admin_promotes_a_member_only_when_asked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "0").await;
    let account = |promote| AdminAccount {
        username: "SARA",
        password: "new-admin-password-1",
        promote,
    };
    let refused = service::upsert_admin(&app.state.db, account(false), app.state.now(), "test")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, AuthError::NotAnAdmin { username, role } if username == "sara" && *role == "member"),
        "{refused:?}"
    );
    let meta = RequestMeta::default();
    let signs_in = |password: &'static str| {
        let meta = meta.clone();
        let state = app.state.clone();
        async move { service::sign_in(&state, &meta, "sara", password.into()).await }
    };
    assert!(signs_in(PASSWORD).await.is_ok(), "nothing changed");
    let done = service::upsert_admin(&app.state.db, account(true), app.state.now(), "test")
        .await
        .unwrap();
    assert_eq!(done, Upserted::Updated);
    let old = signs_in(PASSWORD).await;
    assert!(
        matches!(old, Err(AuthError::InvalidCredentials)),
        "{:?}",
        old.err()
    );
    let token = app.login("sara", "new-admin-password-1").await;
    let (_, me) = app.get("/api/auth/me", &token).await;
    assert_eq!(me["is_main"], true);
    let short = AdminAccount {
        username: "boss",
        password: "short",
        promote: false,
    };
    let refused = service::upsert_admin(&app.state.db, short, app.state.now(), "test")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, AuthError::InvalidPassword(_)),
        "{refused:?}"
    );
}

async fn change_config_writes_and_audits_only_a_real_change(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let db = &app.state.db;
    let now = (app.state.now(), app.state.current_month());
    let meta = RequestMeta::default();
    let months = ConfigChange {
        max_month_for_loan_payment: Some(12),
        ..Default::default()
    };
    let changed = change_config(db, now, &meta, None, "test", months)
        .await
        .unwrap();
    let expected = FundConfig {
        max_month_for_loan_payment: 12,
        ..FundConfig::default()
    };
    assert_eq!(changed, ConfigChanged::Updated(expected));
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'config_changed'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["source"], "test");
    assert_eq!(details["given"], json!(["max_month_for_loan_payment"]));
    assert_eq!(details["before"]["max_month_for_loan_payment"], 24);
    assert_eq!(details["after"]["max_month_for_loan_payment"], 12);

    // The same settings again: nothing written, nothing audited.
    let again = change_config(db, now, &meta, None, "test", months)
        .await
        .unwrap();
    assert_eq!(again, ConfigChanged::Unchanged(expected));
    assert_eq!(audit_count(db, "config_changed").await, 1);

    // A setting ≤ 0 is refused before anything is written.
    let zero = ConfigChange {
        min_membership_fee: Some(Amount::ZERO),
        max_month_for_loan_payment: Some(6),
        ..Default::default()
    };
    let refused = change_config(db, now, &meta, None, "test", zero)
        .await
        .unwrap_err();
    assert!(matches!(refused, ConfigError::NotPositive), "{refused:?}");
    assert_eq!(audit_count(db, "config_changed").await, 1);
    let mut conn = db.pool.acquire().await.unwrap();
    let stored = saghat_core::fund::store::config(&mut conn, now.1)
        .await
        .unwrap();
    assert_eq!(stored, Some(expected));
}

async fn the_refresh_service_rotates_and_revokes_a_reused_family(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let state = &app.state;
    let meta = RequestMeta::default();
    let first = service::sign_in(state, &meta, ADMIN, ADMIN_PASSWORD.into())
        .await
        .unwrap();
    let second = service::refresh(state, &meta, &first.refresh_token)
        .await
        .expect("a fresh token rotates");
    assert_ne!(second.refresh_token, first.refresh_token);
    // The spent token again: refused, and the whole family with it.
    let reused = service::refresh(state, &meta, &first.refresh_token).await;
    assert!(
        matches!(reused, Err(AuthError::SessionEnded)),
        "{:?}",
        reused.err()
    );
    assert_eq!(audit_count(&state.db, "refresh_token_reuse").await, 1);
    let after = service::refresh(state, &meta, &second.refresh_token).await;
    assert!(
        matches!(after, Err(AuthError::SessionEnded)),
        "{:?}",
        after.err()
    );
    let unknown = service::refresh(state, &meta, "not-a-token").await;
    assert!(
        matches!(unknown, Err(AuthError::SessionEnded)),
        "{:?}",
        unknown.err()
    );
}
