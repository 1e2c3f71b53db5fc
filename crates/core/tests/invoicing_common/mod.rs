//! A fresh database per test for the invoicing tests, on SQLite (a temporary file) or
//! PostgreSQL (a database of its own on `SAGHAT_TEST_POSTGRES_URL`, dropped afterwards). With
//! PostgreSQL unreachable its variant is skipped, unless `CI` is set.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::config::Config;
use saghat_core::ctx::Ctx;
use saghat_core::invoicing::invoices::{DraftInput, DraftLine};
use saghat_core::invoicing::model::{Address, Percent, Quantity, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::service::{self, ClientInput};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::clock::ManualClock;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::db::Db;
use sqlx::Connection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(super::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name(super::common::Backend::Postgres).await;
            }
        }
    )+};
}

pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn pg_admin_url() -> String {
    std::env::var("SAGHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDb {
    /// `None`: PostgreSQL is unreachable outside CI.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        sqlx::any::install_default_drivers();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
                Some(TestDb {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin = pg_admin_url();
                let mut conn = match sqlx::AnyConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) if std::env::var_os("CI").is_some() => {
                        panic!("CI is set but PostgreSQL is unreachable at {admin}: {e}")
                    }
                    Err(e) => {
                        eprintln!("SKIPPING PostgreSQL: {e}");
                        return None;
                    }
                };
                let name = format!("saghat_inv_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let (base, _) = admin.rsplit_once('/').unwrap();
                Some(TestDb {
                    url: format!("{base}/{name}"),
                    pg_name: Some(name),
                    _dir: None,
                })
            }
        }
    }

    /// A migrated database and a context on it (call again for a second "instance").
    pub async fn ctx(&self, clock: Arc<ManualClock>) -> Ctx {
        let db = Db::connect(&self.url, 10).await.unwrap();
        db.migrate().await.unwrap();
        Ctx::new(db, Config::for_tests(self.url.clone()), clock).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Dropped from a thread of its own: the test's runtime is ending.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&pg_admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join()
        .ok();
    }
}

pub fn clock_at(y: i32, m: u32, d: u32) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap(),
    ))
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn meta() -> RequestMeta {
    RequestMeta::default()
}

/// A user of `role` inserted directly (invoicing needs only its id and role).
pub async fn user(ctx: &Ctx, name: &str, role: Role) -> CurrentUser {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, username_key, password_hash, role, created_at) \
         VALUES ($1, $1, 'x', $2, '2026-01-01T00:00:00.000000Z') RETURNING id",
    )
    .bind(name)
    .bind(role.as_str())
    .fetch_one(&ctx.db.pool)
    .await
    .unwrap();
    // As `auth::store::insert_user` does for every user: `ledger verify` expects them.
    let mut conn = ctx.db.pool.acquire().await.unwrap();
    saghat_core::ledger::store::open_member_accounts(&mut conn, id, Utc::now())
        .await
        .unwrap();
    CurrentUser {
        id,
        username: name.into(),
        is_main: role.is_main(),
        role,
        session_version: 0,
    }
}

pub fn client_input(name: &str, currency: Currency) -> ClientInput {
    ClientInput {
        kind: "company".into(),
        name: name.into(),
        tax_id: Some("DE123456789".into()),
        email: Some("billing@example.com".into()),
        address: Address {
            street: "Hauptstr. 1".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country_code: "DE".into(),
        },
        language: "en".into(),
        currency,
        payment_terms_days: 14,
        notes: String::new(),
        send_reminders: true,
    }
}

pub async fn client(ctx: &Ctx, admin: &CurrentUser, name: &str, currency: Currency) -> i64 {
    service::create_client(ctx, admin, &client_input(name, currency), &meta())
        .await
        .unwrap()
        .id
}

pub fn standard(rate: i64) -> TaxCategory {
    TaxCategory {
        code: TaxCode::Standard,
        rate: Percent(rate),
    }
}

pub fn line(description: &str, quantity: &str, unit_price: i64, tax: TaxCategory) -> DraftLine {
    DraftLine {
        product_id: None,
        description: description.into(),
        unit: Unit::Piece,
        quantity: Quantity::parse(quantity).unwrap(),
        unit_price,
        discount: None,
        tax,
    }
}

pub fn draft(client_id: i64, issue: NaiveDate, lines: Vec<DraftLine>) -> DraftInput {
    DraftInput {
        client_id,
        currency: None,
        issue_date: issue,
        due_date: None,
        lines,
        discount: None,
        prices_include_tax: false,
        notes: String::new(),
        terms: String::new(),
    }
}

/// The balance of a ledger account in stored (minor) units, on its normal side.
pub async fn balance(ctx: &Ctx, account: saghat_core::ledger::domain::Account) -> i128 {
    let mut conn = ctx.db.pool.acquire().await.unwrap();
    saghat_core::ledger::store::balance_of(&mut conn, account)
        .await
        .unwrap()
        .units()
}
