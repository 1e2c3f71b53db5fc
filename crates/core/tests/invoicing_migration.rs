//! Migration 0012 on a database with history: the ledger's tables are rebuilt on SQLite (and
//! their constraints replaced on PostgreSQL) to take invoicing's account and transaction kinds;
//! every account, transaction and entry must survive with its id, and the append-only guards
//! must still hold.

#[path = "invoicing_common/mod.rs"]
mod common;

use common::*;
use saghat_core::platform::db::{migrator, Backend as DbBackend, Db};

async fn the_ledger_keeps_its_history_through_0012(backend: Backend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let db = Db::connect(&test_db.url, 4).await.unwrap();
    migrator(match backend {
        Backend::Sqlite => DbBackend::Sqlite,
        Backend::Postgres => DbBackend::Postgres,
    })
    .run_to(11, &db.pool)
    .await
    .unwrap();
    let at = "2026-01-01T00:00:00.000000Z";
    let user: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, username_key, password_hash, role, created_at) VALUES ('m', 'm', 'x', 'member', $1) RETURNING id",
    )
    .bind(at)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let receivable: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_accounts (code, kind, normal_side, user_id, currency, created_at) \
         VALUES ('member:' || $1 || ':ticket_receivable:USDT', 'member_ticket_receivable', 'debit', $2, 'USDT', $3) RETURNING id",
    )
    .bind(user.to_string())
    .bind(user)
    .bind(at)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let cash: i64 =
        sqlx::query_scalar("SELECT id FROM ledger_accounts WHERE code = 'fund:cash:USDT'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO journal_transactions (id, kind, memo, jalali_year, jalali_month, created_at) VALUES ('t1', 'ticket_repayment', 'history', 1404, 10, $1)")
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
    for (account, debit, credit) in [(cash, 500_000_000i64, 0i64), (receivable, 0, 500_000_000)] {
        sqlx::query("INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency) VALUES ('t1', $1, $2, $3, 'USDT')")
            .bind(account)
            .bind(debit)
            .bind(credit)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let before: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT e.id, e.transaction_id, e.account_id, e.debit FROM journal_entries e ORDER BY e.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let accounts_before: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, code FROM ledger_accounts ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();

    db.migrate().await.unwrap();

    let after: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT e.id, e.transaction_id, e.account_id, e.debit FROM journal_entries e ORDER BY e.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(after, before);
    let accounts_after: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, code FROM ledger_accounts ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(accounts_after, accounts_before);
    // Still append-only.
    assert!(
        sqlx::query("UPDATE journal_entries SET debit = 1 WHERE transaction_id = 't1'")
            .execute(&db.pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM journal_transactions WHERE id = 't1'")
            .execute(&db.pool)
            .await
            .is_err()
    );
    // Invoicing's kinds are accepted, with a client for a client's account and only then.
    let client: i64 = sqlx::query_scalar(
        "INSERT INTO clients (kind, name, country_code, language, currency, payment_terms_days, created_at, updated_at) \
         VALUES ('company', 'Acme', 'DE', 'en', 'EUR', 14, $1, $1) RETURNING id",
    )
    .bind(at)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO ledger_accounts (code, kind, normal_side, client_id, currency, created_at) VALUES ('client:1:receivable:EUR', 'client_receivable', 'debit', $1, 'EUR', $2)")
        .bind(client)
        .bind(at)
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(sqlx::query("INSERT INTO ledger_accounts (code, kind, normal_side, currency, created_at) VALUES ('client:x:credit:EUR', 'client_credit', 'credit', 'EUR', $1)")
        .bind(at)
        .execute(&db.pool)
        .await
        .is_err(), "a client's account names its client");
    assert!(sqlx::query("INSERT INTO journal_transactions (id, kind, memo, jalali_year, jalali_month, created_at) VALUES ('bad', 'no_such_kind', '', 1405, 1, $1)")
        .bind(at)
        .execute(&db.pool)
        .await
        .is_err());
}

on_both_databases!(the_ledger_keeps_its_history_through_0012);
