//! Seeds members (and this month's payments) straight into a Saghat database, for the
//! benchmarks in `bench/`: creating 100,000 members through the API would cost 100,000 Argon2
//! hashes. It writes exactly what the application writes, through the library's own functions:
//! `auth::store::insert_user` (the user and their ledger accounts) with a `user_created` audit
//! entry, and for a payment `fund::store::insert_payment` + `ledger::store::post` of
//! `JournalTransaction::payment` + a `payment` audit entry, in large transactions. Every member
//! gets the same precomputed Argon2id hash of `--password`, so they can sign in through the API.
//!
//! ```text
//! cargo run --release --example seed_members -- --database-url URL --now 2026-11-22T12:00:00Z \
//!     [--members N] [--prefix m] [--password P] [--loan-request 20] [--fee 20] [--pay-all] \
//!     [--months 1] [--batch 5000]
//! ```
//!
//! `--members N` creates users `<prefix>000001`…; `--pay-all` then pays, for every active admin
//! and member (the first admin included, so that the draw can run), each of the `--months`
//! Jalali months ending with the one containing `--now` (UTC, the server's default
//! FUND_TIMEZONE) that they have not paid yet.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;

use saghat_core::auth::password::hash_password;
use saghat_core::auth::store::{insert_user, NewUser};
use saghat_core::fund::rules::PaymentPlan;
use saghat_core::fund::store::{ensure_config, insert_payment, NewPayment};
use saghat_core::ledger::domain::JournalTransaction;
use saghat_core::ledger::store::{post, TxRecord};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::audit::{self, AuditEntry};
use saghat_core::platform::db::Db;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;

struct Args {
    database_url: String,
    now: DateTime<Utc>,
    members: usize,
    prefix: String,
    password: String,
    loan_request: Amount,
    fee: Amount,
    pay_all: bool,
    months: u32,
    batch: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        database_url: String::new(),
        now: Utc::now(),
        members: 0,
        prefix: "m".into(),
        password: "bench-password".into(),
        loan_request: Amount::whole(20),
        fee: Amount::whole(20),
        pay_all: false,
        months: 1,
        batch: 5000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--database-url" => args.database_url = value()?,
            "--now" => {
                args.now = DateTime::parse_from_rfc3339(&value()?)
                    .context("--now must be RFC 3339")?
                    .with_timezone(&Utc)
            }
            "--members" => args.members = value()?.parse()?,
            "--prefix" => args.prefix = value()?,
            "--password" => args.password = value()?,
            "--loan-request" => {
                args.loan_request =
                    Amount::parse(&value()?).map_err(|e| anyhow::anyhow!("{e:?}"))?
            }
            "--fee" => args.fee = Amount::parse(&value()?).map_err(|e| anyhow::anyhow!("{e:?}"))?,
            "--pay-all" => args.pay_all = true,
            "--months" => args.months = value()?.parse::<u32>()?.max(1),
            "--batch" => args.batch = value()?.parse::<usize>()?.max(1),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(!args.database_url.is_empty(), "--database-url is required");
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let db = Db::connect(&args.database_url, 2).await?;
    db.migrate().await?;
    {
        let mut conn = db.pool.acquire().await?;
        ensure_config(&mut conn, &Default::default(), args.now).await?;
    }
    let meta = RequestMeta {
        client_ip: "127.0.0.1".into(),
        request_id: "seed_members".into(),
    };
    let started = Instant::now();
    if args.members > 0 {
        let hash = hash_password(&args.password);
        let admin_id: Option<i64> =
            sqlx::query_scalar("SELECT MIN(id) FROM users WHERE role = 'admin'")
                .fetch_one(&db.pool)
                .await?;
        let mut created = 0;
        while created < args.members {
            let mut tx = db.pool.begin().await?;
            let end = (created + args.batch).min(args.members);
            for i in created..end {
                let username = format!("{}{:06}", args.prefix, i + 1);
                let user = NewUser {
                    username: &username,
                    username_key: &username.to_lowercase(),
                    password_hash: &hash,
                    first_name: "",
                    last_name: "",
                    email: "",
                    is_main: false,
                    loan_request_amount: args.loan_request,
                };
                let id = insert_user(&mut tx, &user, args.now).await?;
                let entry = AuditEntry {
                    actor_user_id: admin_id,
                    action: "user_created",
                    target: format!("user:{id}"),
                    details: json!({ "username": username, "role": "member" }),
                };
                audit::record(&mut tx, args.now, &meta, entry).await?;
            }
            tx.commit().await?;
            created = end;
        }
        eprintln!(
            "seed_members: created {} members in {:.1} s",
            args.members,
            started.elapsed().as_secs_f64()
        );
    }
    if args.pay_all {
        let current = JalaliMonth::containing(args.now, chrono_tz::UTC);
        let mut months = vec![current];
        while months.len() < args.months as usize {
            let m = months[months.len() - 1];
            months.push(if m.month == 1 {
                JalaliMonth {
                    year: m.year - 1,
                    month: 12,
                }
            } else {
                JalaliMonth {
                    year: m.year,
                    month: m.month - 1,
                }
            });
        }
        // Oldest first, as they would have been paid.
        for month in months.into_iter().rev() {
            pay_month(&db, &args, &meta, month).await?;
        }
    }
    Ok(())
}

/// Pays `month` for every active admin and member who has not paid it yet.
async fn pay_month(
    db: &Db,
    args: &Args,
    meta: &RequestMeta,
    month: JalaliMonth,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let unpaid: Vec<i64> = sqlx::query(
        "SELECT u.id FROM users u WHERE u.is_active = 1 AND u.role IN ('admin', 'member') AND NOT EXISTS \
         (SELECT 1 FROM payments p WHERE p.user_id = u.id AND p.jalali_year = $1 AND p.jalali_month = $2) \
         ORDER BY u.id",
    )
    .bind(i64::from(month.year))
    .bind(i64::from(month.month))
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| r.try_get::<i64, _>(0))
    .collect::<Result<_, _>>()?;
    let plan = PaymentPlan {
        membership_fee: args.fee,
        repayment: None,
        total: args.fee,
    };
    for chunk in unpaid.chunks(args.batch) {
        let mut tx = db.pool.begin().await?;
        for &user_id in chunk {
            let bitpin_payment_id = format!("seed-{user_id}-{}-{}", month.year, month.month);
            let new_payment = NewPayment {
                user_id,
                month,
                plan: &plan,
                bitpin_payment_id: &bitpin_payment_id,
                bitpin_payment_key: &bitpin_payment_id,
            };
            let payment = insert_payment(&mut tx, &new_payment, args.now).await?;
            let posting = JournalTransaction::payment(user_id, plan.membership_fee, None)
                .map_err(|e| anyhow::anyhow!("cannot post: {e}"))?;
            let record = TxRecord {
                id: &payment.id,
                payment_id: Some(&payment.id),
                loan_id: None,
                reverses_id: None,
                memo: &format!("membership fee {month}"),
                month,
            };
            post(&mut tx, &posting, &record, args.now).await?;
            let entry = AuditEntry {
                actor_user_id: Some(user_id),
                action: "payment",
                target: format!("payment:{}", payment.id),
                details: json!({ "month": month.to_string(), "amount": payment.amount, "bitpin_payment_id": bitpin_payment_id }),
            };
            audit::record(&mut tx, args.now, meta, entry).await?;
        }
        tx.commit().await?;
    }
    eprintln!(
        "seed_members: paid {month} for {} members in {:.1} s",
        unpaid.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
