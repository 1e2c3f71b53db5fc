//! The tickets benchmark (issue 11, item 10), on PostgreSQL: the review queue over 100,000 open
//! tickets, and the fraud rules on submission with 100,000 applications in their window.
//! Run by `bench/tickets.sh`, which prints the summary; by hand:
//!
//! ```text
//! cargo run --release --example tickets_bench -- --database-url postgres://…/empty_db \
//!     [--tickets 100000] [--borrowers 20000] [--runs 300] [--submissions 300]
//! ```
//!
//! The database is migrated and seeded with set-based SQL (what the services would have
//! written: tickets with their submission fingerprints, SLA deadlines, flags and breaches). Then
//! each figure is timed through the library's own services, beside the floor measured in the
//! same run: the same number of `SELECT 1` round trips on the same pool. One JSON line per
//! figure on stdout.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};

use saghat_core::auth::store::find_active_user;
use saghat_core::auth::CurrentUser;
use saghat_core::config::Config;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::clock::{ManualClock, SharedClock};
use saghat_core::platform::db::Db;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::queue::{list, TicketFilter};
use saghat_core::tickets::service::{assess, create_draft, submit, NewTicket};
use saghat_core::tickets::state::TicketState;
use saghat_core::tickets::store;
use saghat_core::Ctx;

#[path = "common/mod.rs"]
mod common;
use common::{floor, summary};

struct Args {
    database_url: String,
    tickets: i64,
    borrowers: i64,
    runs: usize,
    submissions: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        database_url: String::new(),
        tickets: 100_000,
        borrowers: 20_000,
        runs: 300,
        submissions: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--database-url" => args.database_url = value,
            "--tickets" => args.tickets = value.parse()?,
            "--borrowers" => args.borrowers = value.parse()?,
            "--runs" => args.runs = value.parse()?,
            "--submissions" => args.submissions = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(
        args.database_url.starts_with("postgres"),
        "--database-url must be a PostgreSQL database"
    );
    Ok(args)
}

/// The bench's "now": Sunday 1 Azar 1405, 12:00 UTC, as in the tests.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// Users and tickets, written set-based. Borrowers' e-mail domains: 40 % a public provider
/// (never compared), the rest one of 3,000 company domains; phones unique but for 1 % shared;
/// client addresses one of 5,000. Tickets are spread over the last 30 days, half waiting for a
/// first response, 40 % under review, 10 % waiting for the borrower (no clock); 13 % flagged.
async fn seed(db: &Db, args: &Args) -> anyhow::Result<()> {
    let now = now();
    let stamp = "to_char(($1::timestamptz - make_interval(secs => s)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (username, username_key, password_hash, email, created_at) \
         SELECT 'b' || i, 'b' || i, 'x', \
                'b' || i || '@' || CASE WHEN i % 5 < 2 THEN 'gmail.com' ELSE 'co' || (i % 3000) || '.ir' END, \
                {} FROM (SELECT i, (i % 400) * 86400 AS s FROM generate_series(1, $2::bigint) AS i) AS g",
        stamp
    )))
    .bind(saghat_core::platform::clock::to_db_time(now))
    .bind(args.borrowers)
    .execute(&db.pool)
    .await?;
    sqlx::query("INSERT INTO users (username, username_key, password_hash, role, created_at) VALUES ('lender', 'lender', 'x', 'lender', '2026-01-01T00:00:00.000000Z')")
        .execute(&db.pool)
        .await?;
    let due = "to_char(($1::timestamptz - make_interval(secs => s) + make_interval(hours => (8 + (i % 64))::int)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tickets (id, borrower_id, amount, currency, purpose, term_months, payout_address, state, \
                              email_domain, phone, client_address, submitted_at, flag_severity, sla_due_at, sla_breached_at, created_at, updated_at) \
         SELECT md5('t' || i)::uuid::text, u.id, (1 + i % 9000) * 100000000, 'USDT', 'bench', 12, 'T' || md5('p' || i), \
                CASE WHEN i % 10 < 5 THEN 'submitted' WHEN i % 10 < 9 THEN 'under_review' ELSE 'needs_info' END, \
                CASE WHEN u.email LIKE '%gmail.com' THEN '' ELSE split_part(u.email, '@', 2) END, \
                '0912' || lpad(((CASE WHEN i % 100 = 0 THEN 1 ELSE i END) % 10000000)::text, 7, '0'), \
                '10.0.' || (i % 5000 / 250) || '.' || (i % 250), {stamp}, \
                CASE WHEN i % 100 < 10 THEN 'medium' WHEN i % 100 < 13 THEN 'high' END, \
                CASE WHEN i % 10 < 9 THEN {due} END, \
                CASE WHEN i % 10 < 9 AND s > (8 + (i % 64)) * 3600 THEN {stamp} END, \
                {stamp}, {stamp} \
         FROM (SELECT i, (i * 7919) % (30 * 86400) AS s FROM generate_series(1, $2::bigint) AS i) AS g \
         JOIN users u ON u.id = 1 + (g.i % $3::bigint)"
    )))
    .bind(saghat_core::platform::clock::to_db_time(now))
    .bind(args.tickets)
    .bind(args.borrowers)
    .execute(&db.pool)
    .await?;
    // What autovacuum leaves behind in production: statistics and the visibility map.
    sqlx::query("VACUUM ANALYZE").execute(&db.pool).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let db = Db::connect(&args.database_url, 10).await?;
    db.migrate().await?;
    let started = Instant::now();
    seed(&db, &args).await?;
    eprintln!(
        "seeded {} tickets of {} borrowers in {:.1} s",
        args.tickets,
        args.borrowers,
        started.elapsed().as_secs_f64()
    );
    let config = Config::for_tests(args.database_url.clone());
    let clock: SharedClock = std::sync::Arc::new(ManualClock::new(now()));
    let ctx = Ctx::new(db.clone(), config, clock)?;
    let lender_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username_key = 'lender'")
        .fetch_one(&db.pool)
        .await?;
    let lender: CurrentUser = find_active_user(&db, lender_id)
        .await?
        .context("the lender")?;

    let queue = TicketFilter {
        by_deadline: true,
        ..TicketFilter::default()
    };
    let variants = [
        ("queue: first page", queue.clone(), 0),
        (
            "queue: flagged",
            TicketFilter {
                flagged: Some(true),
                ..queue.clone()
            },
            0,
        ),
        (
            "queue: under review, 1,000 USDT or more",
            TicketFilter {
                states: vec![TicketState::UnderReview],
                min_amount: Some(Amount::whole(1_000)),
                ..queue.clone()
            },
            0,
        ),
        (
            "queue: not breached, third page",
            TicketFilter {
                breached: Some(false),
                ..queue.clone()
            },
            40,
        ),
    ];
    // The queue is two queries (the count and the page).
    let queue_floor = floor(&db, 2, args.runs).await?;
    for (name, filter, offset) in &variants {
        for _ in 0..20 {
            list(&ctx, &lender, filter, 20, *offset).await?;
        }
        let mut samples = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let t = Instant::now();
            let page = list(&ctx, &lender, filter, 20, *offset).await?;
            samples.push(t.elapsed());
            anyhow::ensure!(page.items.len() == 20, "{name}: a full page");
            anyhow::ensure!(page.total > 20, "{name}: more than a page matches");
        }
        println!("{}", summary(name, samples, &queue_floor, 50.0));
    }

    // Submissions: new drafts by borrowers spread over the domains, phones and addresses.
    let meta_for = |i: usize| RequestMeta {
        client_ip: format!("10.0.{}.{}", (i % 5000) / 250, i % 250),
        request_id: format!("bench-{i}"),
    };
    let mut drafts = Vec::with_capacity(args.submissions);
    for i in 0..args.submissions {
        let borrower_id = 1 + (i as i64 * 37) % args.borrowers;
        let borrower = find_active_user(&db, borrower_id)
            .await?
            .context("a borrower")?;
        let new = NewTicket {
            amount: Amount::whole(500 + i as i64),
            purpose: "bench submission".into(),
            term_months: 12,
            payout_address: format!("TBench{i:08}"),
        };
        let draft = create_draft(&ctx, &borrower, new, &meta_for(i)).await?;
        drafts.push((borrower, draft));
    }
    // The fraud rules alone: their reads and the pure evaluation (six queries).
    let fraud_floor = floor(&db, 6, args.submissions).await?;
    let mut samples = Vec::with_capacity(drafts.len());
    let mut recent_seen = 0;
    for (i, (_, draft)) in drafts.iter().enumerate() {
        let mut conn = db.pool.acquire().await?;
        let t = Instant::now();
        let (input, _, _) = assess(&mut conn, &ctx, draft, &meta_for(i), now()).await?;
        samples.push(t.elapsed());
        recent_seen += input.recent.len();
    }
    eprintln!(
        "the fraud rules saw {:.0} recent applications sharing something, on average",
        recent_seen as f64 / drafts.len() as f64
    );
    println!(
        "{}",
        summary("fraud rules on submission", samples, &fraud_floor, 5.0)
    );
    // The whole submission: the rules, the flags and fingerprint written, the move, the audit
    // entries and the lenders' notices, committed.
    let mut samples = Vec::with_capacity(drafts.len());
    for (i, (borrower, draft)) in drafts.iter().enumerate() {
        let t = Instant::now();
        submit(&ctx, borrower, &draft.id, &meta_for(i)).await?;
        samples.push(t.elapsed());
    }
    let mut conn = db.pool.acquire().await?;
    let flagged = store::flags(&mut conn, &drafts[0].1.id).await?.len();
    eprintln!("the first submission carries {flagged} flags");
    println!(
        "{}",
        summary(
            "whole submission (committed)",
            samples,
            &fraud_floor,
            f64::NAN
        )
    );
    Ok(())
}
