//! The invoicing benchmark (issue 12, item 13), on PostgreSQL. Run by `bench/invoicing.sh`,
//! which adds pgbench's run of the same SQL and prints the summary; by hand:
//!
//! ```text
//! cargo run --release -p saghat --example invoicing_bench -- --database-url postgres://…/empty_db \
//!     [--invoices 1000000] [--clients 10000] [--runs 300] [--sends 400] [--concurrency 4] [--pdfs 100]
//! ```
//!
//! Migrates the database and seeds `--invoices` invoices of `--clients` clients set-based (what
//! the services would have written: numbers, statuses, totals over three years). Then times,
//! through the library's own services:
//!   list     invoicing::invoices::list, 20 a page by keyset, unfiltered and with filters, and
//!            a page deep in the list (`--runs` each; target p99 < 30 ms), beside the floor:
//!            the same number of `SELECT 1` round trips on the same pool;
//!   send     create_draft + send of a 10-line invoice, `--sends` of them by `--concurrency`
//!            tasks: invoices per second (bench/invoicing.sh puts pgbench's rate of the same
//!            statements beside it; target ≥ 50 % of it);
//!   pdf      saghat_pdf::print::invoice_pdf of a sent 10-line invoice (`--pdfs` times;
//!            target p99 < 100 ms).
//! One JSON line per figure on stdout.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

use saghat_core::auth::store::find_active_user;
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::config::Config;
use saghat_core::invoicing::invoices::{self, DraftInput, DraftLine, PageAt};
use saghat_core::invoicing::model::{Address, Percent, Quantity, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::service::{self, ClientInput};
use saghat_core::invoicing::store::ListFilter;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::clock::{ManualClock, SharedClock};
use saghat_core::platform::currency::Currency;
use saghat_core::platform::db::Db;
use saghat_core::platform::lang::Lang;
use saghat_core::Ctx;
use saghat_pdf::print::{invoice_pdf, PrintFacts};

#[path = "common/mod.rs"]
mod common;
use common::{floor, percentile, summary};

struct Args {
    database_url: String,
    invoices: i64,
    clients: i64,
    runs: usize,
    sends: usize,
    concurrency: usize,
    pdfs: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        database_url: String::new(),
        invoices: 1_000_000,
        clients: 10_000,
        runs: 300,
        sends: 400,
        concurrency: 4,
        pdfs: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--database-url" => args.database_url = value,
            "--invoices" => args.invoices = value.parse()?,
            "--clients" => args.clients = value.parse()?,
            "--runs" => args.runs = value.parse()?,
            "--sends" => args.sends = value.parse()?,
            "--concurrency" => args.concurrency = value.parse()?,
            "--pdfs" => args.pdfs = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(
        args.database_url.starts_with("postgres"),
        "--database-url must be a PostgreSQL database"
    );
    Ok(args)
}

/// Clients and invoices, written set-based (`common::seed_invoices`).
async fn seed(db: &Db, args: &Args) -> anyhow::Result<()> {
    common::seed_invoices(db, args.invoices, args.clients).await?;
    // What autovacuum leaves behind in production: statistics and the visibility map.
    sqlx::query("VACUUM ANALYZE").execute(&db.pool).await?;
    Ok(())
}

fn standard(rate: i64) -> TaxCategory {
    TaxCategory {
        code: TaxCode::Standard,
        rate: Percent(rate),
    }
}

/// A 10-line invoice for `client_id`: five lines at 19 %, five at 7 %.
fn ten_lines(client_id: i64) -> DraftInput {
    let lines = (0..10)
        .map(|i| DraftLine {
            product_id: None,
            description: format!("Service {i}"),
            unit: Unit::Hour,
            quantity: Quantity(15_000 + i * 2_500),
            unit_price: 8_000 + i * 1_250,
            discount: None,
            tax: standard(if i % 2 == 0 { 1_900 } else { 700 }),
        })
        .collect();
    DraftInput {
        client_id,
        currency: None,
        issue_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        due_date: None,
        lines,
        discount: None,
        prices_include_tax: false,
        notes: "Thank you for your business.".into(),
        terms: "Payable within 30 days.".into(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let db = Db::connect(&args.database_url, 10).await?;
    db.migrate().await?;
    let started = Instant::now();
    seed(&db, &args).await?;
    eprintln!(
        "seeded {} invoices of {} clients in {:.1} s",
        args.invoices,
        args.clients,
        started.elapsed().as_secs_f64()
    );
    let config = Config::for_tests(args.database_url.clone());
    let clock: SharedClock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    ));
    let ctx = Arc::new(Ctx::new(db.clone(), config, clock)?);
    let admin_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, username_key, password_hash, role, created_at) \
         VALUES ('accounts', 'accounts', 'x', 'accountant', '2026-01-01T00:00:00.000000Z') RETURNING id",
    )
    .fetch_one(&db.pool)
    .await?;
    let accountant: CurrentUser = find_active_user(&db, admin_id)
        .await?
        .context("the accountant")?;
    anyhow::ensure!(accountant.role == Role::Accountant);

    // list: the first page, filters, and a page a thousand pages deep.
    let deep_cursor: String = sqlx::query_scalar(
        "SELECT issue_date || '|' || id FROM invoices ORDER BY issue_date DESC, id DESC OFFSET 20000 LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await?;
    let variants: [(&str, ListFilter, Option<&str>); 6] = [
        ("list: first page", ListFilter::default(), None),
        (
            "list: overdue",
            ListFilter {
                status: Some("overdue".into()),
                ..ListFilter::default()
            },
            None,
        ),
        (
            "list: one client",
            ListFilter {
                client_id: Some(42),
                ..ListFilter::default()
            },
            None,
        ),
        (
            "list: EUR issued in Nov 2026",
            ListFilter {
                currency: Some("EUR".into()),
                issued_from: Some("2026-11-01".into()),
                issued_to: Some("2026-11-30".into()),
                ..ListFilter::default()
            },
            None,
        ),
        (
            "list: number search",
            ListFilter {
                search: Some("INV-1404-00123".into()),
                ..ListFilter::default()
            },
            None,
        ),
        (
            "list: 1,000 pages deep",
            ListFilter::default(),
            Some(deep_cursor.as_str()),
        ),
    ];
    // own_client and the page: two round trips.
    let floor = floor(&db, 2, args.runs).await?;
    for (name, filter, cursor) in variants {
        let mut samples = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let t = Instant::now();
            let page = invoices::list(
                &ctx,
                &accountant,
                filter.clone(),
                PageAt::after(cursor),
                20,
                false,
            )
            .await?;
            samples.push(t.elapsed());
            anyhow::ensure!(!page.results.is_empty(), "{name}: an empty page");
        }
        println!("{}", summary(name, samples, &floor, 30.0));
    }

    // send: create and send 10-line invoices, `concurrency` at a time.
    let clients: Vec<i64> = {
        let mut ids = Vec::new();
        for i in 0..args.concurrency {
            let input = ClientInput {
                kind: "company".into(),
                name: format!("Bench client {i}"),
                tax_id: Some("DE123456789".into()),
                email: Some("bench@example.com".into()),
                address: Address {
                    street: "Hauptstr. 1".into(),
                    city: "Berlin".into(),
                    postal_code: "10115".into(),
                    country_code: "DE".into(),
                },
                language: "en".into(),
                currency: Currency::Eur,
                payment_terms_days: 30,
                notes: String::new(),
                send_reminders: true,
            };
            ids.push(
                service::create_client(&ctx, &accountant, &input, &RequestMeta::default())
                    .await?
                    .id,
            );
        }
        ids
    };
    let per_task = args.sends / args.concurrency.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_id in clients.iter().copied() {
        let ctx = ctx.clone();
        let actor = accountant.clone();
        tasks.push(tokio::spawn(async move {
            let meta = RequestMeta::default();
            let mut last = String::new();
            for _ in 0..per_task {
                let draft =
                    invoices::create_draft(&ctx, &actor, &ten_lines(client_id), &meta).await?;
                let sent = invoices::send(&ctx, &actor, &draft.invoice.id, &meta).await?;
                last = sent.invoice.id;
            }
            anyhow::Ok(last)
        }));
    }
    let mut last_sent = String::new();
    for task in tasks {
        last_sent = task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = per_task * clients.len();
    println!(
        "{}",
        json!({
            "figure": "send: create + send a 10-line invoice",
            "invoices": sent,
            "concurrency": args.concurrency,
            "seconds": elapsed,
            "per_second": sent as f64 / elapsed,
        })
    );

    // pdf: the sent invoice's PDF, as the API renders it.
    let mut model = invoices::sent_model(&ctx, &accountant, &last_sent).await?;
    let facts = PrintFacts {
        lang: Lang::En,
        settled: 0,
        logo_png: None,
        buyer_reference: None,
    };
    let mut samples = Vec::with_capacity(args.pdfs);
    for run in 0..args.pdfs {
        // A different document each time: typst memoises, and a repeated one would be free.
        model.notes = format!("Thank you for your business (print {run}).");
        let t = Instant::now();
        let pdf = invoice_pdf(&model, &facts)?;
        samples.push(t.elapsed());
        anyhow::ensure!(pdf.starts_with(b"%PDF-"));
    }
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!(
        "{}",
        json!({
            "figure": "pdf: a 10-line invoice",
            "runs": samples.len(),
            "p50_ms": p50,
            "p99_ms": p99,
            "target_p99_ms": 100.0,
            "p99_over_target": p99 / 100.0,
        })
    );
    Ok(())
}
