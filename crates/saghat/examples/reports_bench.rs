//! The reports benchmark (issue 14, item 7), on PostgreSQL. Run by `bench/reports.sh`; by hand:
//!
//! ```text
//! cargo run --release -p saghat --example reports_bench -- --database-url postgres://…/empty_db \
//!     [--invoices 1000000] [--clients 10000] [--members 100000] [--months 24] [--tickets 100000] \
//!     [--runs 20] [--only seed|measure]
//! ```
//!
//! Migrates the database and seeds, set-based: `--invoices` invoices of `--clients` clients with
//! their taxes and payments; `--members` fund members each paying every one of the last
//! `--months` Jalali months, with the ledger's transactions and entries of every payment and a
//! draw each month; `--tickets` tickets with their history, a fifth of them being repaid with
//! twelve installments. Then times each report's figures as the API reads them (`--runs` each;
//! target p99 < 1 s), beside the floor: as many `SELECT 1` round trips as the report makes
//! queries; and a member's statement. Then writes the register of every sent invoice as XLSX
//! with the `report_export` job's own work and reports the process's peak memory before and
//! after. `--only seed` seeds a database and stops; `--only measure` measures one seeded before
//! (after migrating it: new indexes are made on its rows). One JSON line per figure on stdout.

use std::time::Instant;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use serde_json::json;

use saghat_core::auth::{CurrentUser, Role};
use saghat_core::platform::currency::Currency;
use saghat_core::platform::db::{Backend, Db};
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::lang::Lang;
use saghat_core::reports::exports::{self, register, FileFormat, Labels, NewExport, Register};
use saghat_core::reports::fund::{self, FundPeriod};
use saghat_core::reports::invoicing::{self, Filter};
use saghat_core::reports::period::{Month, Period};
use saghat_core::reports::tickets;

#[path = "common/mod.rs"]
mod common;
use common::{floor, summary};

struct Args {
    database_url: String,
    invoices: i64,
    clients: i64,
    members: i64,
    months: i64,
    tickets: i64,
    runs: usize,
    /// `seed`: seed and stop, keeping the database; `measure`: measure an already seeded one.
    only: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        database_url: String::new(),
        invoices: 1_000_000,
        clients: 10_000,
        members: 100_000,
        months: 24,
        tickets: 100_000,
        runs: 20,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--database-url" => args.database_url = value,
            "--invoices" => args.invoices = value.parse()?,
            "--clients" => args.clients = value.parse()?,
            "--members" => args.members = value.parse()?,
            "--months" => args.months = value.parse()?,
            "--tickets" => args.tickets = value.parse()?,
            "--runs" => args.runs = value.parse()?,
            "--only" if value == "seed" || value == "measure" => args.only = Some(value),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(
        args.database_url.starts_with("postgres"),
        "--database-url must be a PostgreSQL database"
    );
    Ok(args)
}

/// Today in the benchmark: 1 December 2026 (10 Azar 1405).
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

/// The last `n` Jalali months to Azar 1405, oldest first.
fn last_months(n: i64) -> Vec<JalaliMonth> {
    let mut m = JalaliMonth {
        year: 1405,
        month: 9,
    };
    let mut out = vec![m];
    for _ in 1..n {
        m = if m.month == 1 {
            JalaliMonth {
                year: m.year - 1,
                month: 12,
            }
        } else {
            JalaliMonth {
                year: m.year,
                month: m.month - 1,
            }
        };
        out.push(m);
    }
    out.reverse();
    out
}

async fn exec(db: &Db, sql: &str) -> anyhow::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&db.pool)
        .await
        .with_context(|| sql.chars().take(120).collect::<String>())?;
    Ok(())
}

async fn seed(db: &Db, args: &Args) -> anyhow::Result<()> {
    common::seed_invoices(db, args.invoices, args.clients).await?;
    // Their taxes (one standard-rate category each) and a payment for each paid one.
    exec(db, "ALTER TABLE invoice_taxes DISABLE TRIGGER USER").await?;
    exec(
        db,
        "INSERT INTO invoice_taxes (invoice_id, tax_code, tax_rate, lines_net, discount, taxable, tax) \
         SELECT id, 'S', 1900, lines_net, 0, lines_net, tax FROM invoices WHERE sent_at IS NOT NULL",
    )
    .await?;
    exec(db, "ALTER TABLE invoice_taxes ENABLE TRIGGER USER").await?;
    exec(
        db,
        "INSERT INTO invoice_payments (id, client_id, amount, currency, received_on, method, created_at) \
         SELECT md5('pay' || id), client_id, amount_paid, currency, \
                to_char(issue_date::date + 10, 'YYYY-MM-DD'), 'bank_transfer', created_at \
           FROM invoices WHERE amount_paid > 0",
    )
    .await?;

    // The fund: members, a payment each month with its ledger transaction, a draw each month.
    let months = last_months(args.months);
    let tz = chrono_tz::Asia::Tehran;
    let values: Vec<String> = months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = m.starts_at(tz) + chrono::Duration::days(3);
            format!(
                "({i}, {}, {}, '{}')",
                m.year,
                m.month,
                saghat_core::platform::clock::to_db_time(at)
            )
        })
        .collect();
    // The months, in a table the statements below join (the pool's connections all see it).
    exec(
        db,
        "CREATE TABLE bench_months (n BIGINT, y BIGINT, m BIGINT, at TEXT)",
    )
    .await?;
    exec(
        db,
        &format!("INSERT INTO bench_months VALUES {}", values.join(", ")),
    )
    .await?;
    exec(
        db,
        &format!(
            "INSERT INTO users (username, username_key, password_hash, role, loan_request_amount, created_at) \
             SELECT 'm' || i, 'm' || i, 'x', 'member', 100000000000, '2024-01-01T00:00:00.000000Z' \
               FROM generate_series(1, {}) AS i",
            args.members
        ),
    )
    .await?;
    exec(
        db,
        "INSERT INTO ledger_accounts (code, kind, normal_side, user_id, currency, created_at) \
         SELECT 'member:' || id || ':contributions:USDT', 'member_contributions', 'credit', id, 'USDT', created_at \
           FROM users WHERE role = 'member' \
         ON CONFLICT DO NOTHING",
    )
    .await?;
    exec(
        db,
        "INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, amount, \
                               bitpin_payment_id, created_at) \
         SELECT md5('fp' || u.id || '-' || b.n), u.id, b.y, b.m, 2000000000, 2000000000, \
                md5('bp' || u.id || '-' || b.n), b.at \
           FROM users u CROSS JOIN bench_months b WHERE u.role = 'member'",
    )
    .await?;
    exec(db, "ALTER TABLE journal_entries DISABLE TRIGGER USER").await?;
    exec(
        db,
        "INSERT INTO journal_transactions (id, kind, payment_id, jalali_year, jalali_month, created_at) \
         SELECT p.id, 'payment', p.id, p.jalali_year, p.jalali_month, p.created_at FROM payments p",
    )
    .await?;
    exec(
        db,
        "INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency) \
         SELECT p.id, (SELECT id FROM ledger_accounts WHERE kind = 'fund_cash' AND currency = 'USDT'), \
                p.amount, 0, 'USDT' FROM payments p \
         UNION ALL \
         SELECT p.id, a.id, 0, p.membership_fee, 'USDT' FROM payments p \
           JOIN ledger_accounts a ON a.user_id = p.user_id AND a.kind = 'member_contributions' AND a.currency = 'USDT'",
    )
    .await?;
    exec(
        db,
        "INSERT INTO loans (id, user_id, amount, state, jalali_year, jalali_month, min_amount_for_each_payment, log, created_at) \
         SELECT md5('loan' || b.n), 1 + b.n * 997 % (SELECT COUNT(*) FROM users), 100000000000, 'settled', b.y, b.m, \
                10000000000, '[]', b.at FROM bench_months b",
    )
    .await?;
    exec(db, "ALTER TABLE journal_entries ENABLE TRIGGER USER").await?;

    // Tickets: submitted over the last 300 days, reviewed after 1–40 hours, decided 1–60 hours
    // later; a fifth approved and being repaid over twelve months, a tenth rejected.
    exec(
        db,
        &format!(
            "INSERT INTO tickets (id, borrower_id, amount, currency, purpose, term_months, payout_address, state, \
                                  submitted_at, delinquency, created_at, updated_at) \
             SELECT md5('t' || i), 1 + i % {members}, 1200000000000, 'USDT', 'bench', 12, 'T' || md5('p' || i), \
                    CASE WHEN i % 10 < 2 THEN 'repaying' WHEN i % 10 = 2 THEN 'rejected' \
                         WHEN i % 10 < 6 THEN 'under_review' ELSE 'submitted' END, \
                    to_char((TIMESTAMPTZ '2026-12-01 00:00Z' - make_interval(mins => (i * 7919 % 432000)::int)) \
                            AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
                    CASE i % 50 WHEN 0 THEN '1-30' WHEN 1 THEN '31-60' WHEN 2 THEN '90+' ELSE 'current' END, \
                    '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z' \
               FROM generate_series(1, {tickets}) AS i",
            members = args.members,
            tickets = args.tickets
        ),
    )
    .await?;
    let plus = |hours: &str| {
        format!(
            "to_char((t.submitted_at::timestamptz + make_interval(hours => {hours})) AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
    exec(
        db,
        &format!(
            "INSERT INTO ticket_history (ticket_id, from_state, to_state, at) \
             SELECT id, 'draft', 'submitted', submitted_at FROM tickets \
             UNION ALL \
             SELECT t.id, 'submitted', 'under_review', {review} FROM tickets t WHERE t.state <> 'submitted' \
             UNION ALL \
             SELECT t.id, 'under_review', CASE WHEN t.state = 'rejected' THEN 'rejected' ELSE 'approved' END, {decided} \
               FROM tickets t WHERE t.state IN ('repaying', 'rejected')",
            review = plus("(1 + abs(hashtext(t.id)) % 40)::int"),
            decided = plus("(41 + abs(hashtext(t.id)) % 60)::int"),
        ),
    )
    .await?;
    // The milestones each ticket keeps, as `tickets::store::add_history` sets them.
    exec(
        db,
        &format!(
            "UPDATE tickets AS t SET first_submitted_at = t.submitted_at, \
                    first_response_at = CASE WHEN t.state <> 'submitted' THEN {review} END, \
                    decided_at = CASE WHEN t.state IN ('repaying', 'rejected') THEN {decided} END",
            review = plus("(1 + abs(hashtext(t.id)) % 40)::int"),
            decided = plus("(41 + abs(hashtext(t.id)) % 60)::int"),
        ),
    )
    .await?;
    exec(
        db,
        "INSERT INTO ticket_installments (ticket_id, number, jalali_year, jalali_month, due_on, principal, paid) \
         SELECT t.id, n, 1405, 1 + (n - 1) % 12, '2026-0' || (1 + n % 9) || '-01', 100000000000, \
                CASE WHEN n < 4 THEN 100000000000 ELSE 0 END \
           FROM tickets t CROSS JOIN generate_series(1, 12) AS n WHERE t.state = 'repaying'",
    )
    .await?;
    // What autovacuum leaves behind in production: statistics and the visibility map.
    exec(db, "VACUUM ANALYZE").await?;
    Ok(())
}

/// The process's peak resident memory so far, in KiB (`VmHWM`).
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn time<F, Fut>(runs: usize, mut f: F) -> anyhow::Result<Vec<std::time::Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    f().await?; // warm the caches once
    let mut out = vec![];
    for _ in 0..runs {
        let started = Instant::now();
        f().await?;
        out.push(started.elapsed());
    }
    Ok(out)
}

/// `runs` timings of `f`, each with no month's figures kept (see `reports::cache`).
async fn cold<F, Fut>(db: &Db, runs: usize, mut f: F) -> anyhow::Result<Vec<std::time::Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut out = vec![];
    for _ in 0..runs {
        exec(db, "DELETE FROM report_month_figures").await?;
        let started = Instant::now();
        f().await?;
        out.push(started.elapsed());
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let db = Db::connect(&args.database_url, 4).await?;
    db.migrate().await?;
    if args.only.as_deref() != Some("measure") {
        let started = Instant::now();
        seed(&db, &args).await?;
        eprintln!("seeded in {:.0} s", started.elapsed().as_secs_f64());
        if args.only.as_deref() == Some("seed") {
            return Ok(());
        }
    }
    anyhow::ensure!(db.backend == Backend::Postgres);

    let twelve = Period::parse(Some("jalali"), Some("1404-10"), Some("1405-09"), today())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let filter = Filter {
        period: twelve,
        currency: None,
        client_id: None,
    };
    // First reads, with no month's figures kept (after a deploy, or the first report ever).
    let samples = cold(&db, 3, || async {
        invoicing::read(&mut *db.pool.acquire().await?, &filter, today()).await?;
        Ok(())
    })
    .await?;
    println!(
        "{}",
        summary(
            "invoicing: first read, no month kept",
            samples,
            &floor(&db, 5, 3).await?,
            1000.0
        )
    );
    let report = invoicing::read(&mut *db.pool.acquire().await?, &filter, today()).await?;
    eprintln!(
        "invoicing: {} monthly rows, {} aging rows",
        report.monthly.len(),
        report.aging.len()
    );
    let samples = time(args.runs, || async {
        invoicing::read(&mut *db.pool.acquire().await?, &filter, today()).await?;
        Ok(())
    })
    .await?;
    println!(
        "{}",
        summary(
            &format!(
                "invoicing: 12 Jalali months over {} invoices",
                args.invoices
            ),
            samples,
            &floor(&db, 5, args.runs).await?,
            1000.0
        )
    );
    let eur = Filter {
        currency: Some(Currency::Eur),
        client_id: Some(42),
        ..filter.clone()
    };
    let samples = time(args.runs, || async {
        invoicing::read(&mut *db.pool.acquire().await?, &eur, today()).await?;
        Ok(())
    })
    .await?;
    println!(
        "{}",
        summary(
            "invoicing: one client in EUR",
            samples,
            &floor(&db, 5, args.runs).await?,
            1000.0
        )
    );

    let months = last_months(args.months);
    let period = FundPeriod {
        from: Month {
            year: months[0].year,
            month: months[0].month,
        },
        to: Month {
            year: 1405,
            month: 9,
        },
    };
    let late: Vec<(Month, String)> = months
        .iter()
        .map(|m| {
            let at = m.starts_at(chrono_tz::Asia::Tehran) + chrono::Duration::days(19);
            (
                Month {
                    year: m.year,
                    month: m.month,
                },
                saghat_core::platform::clock::to_db_time(at),
            )
        })
        .collect();
    let this = Month {
        year: 1405,
        month: 9,
    };
    let samples = cold(&db, 3, || async {
        fund::read(&mut *db.pool.acquire().await?, period, &late, this, 20).await?;
        Ok(())
    })
    .await?;
    println!(
        "{}",
        summary(
            "fund: first read, no month kept",
            samples,
            &floor(&db, 6, 3).await?,
            1000.0
        )
    );
    let samples = time(args.runs, || async {
        fund::read(&mut *db.pool.acquire().await?, period, &late, this, 20).await?;
        Ok(())
    })
    .await?;
    println!(
        "{}",
        summary(
            &format!(
                "fund: {} months, {} members, {} payments",
                args.months,
                args.members,
                args.members * args.months
            ),
            samples,
            &floor(&db, 6, args.runs).await?,
            1000.0
        )
    );
    let member: i64 =
        sqlx::query_scalar("SELECT MIN(id) + COUNT(*) / 2 FROM users WHERE role = 'member'")
            .fetch_one(&db.pool)
            .await?;
    let samples = time(args.runs, || async {
        fund::statement_of(&mut *db.pool.acquire().await?, member, period).await?;
        Ok(())
    })
    .await?;
    println!(
        "{}",
        summary(
            "fund: one member's statement",
            samples,
            &floor(&db, 4, args.runs).await?,
            1000.0
        )
    );

    let tz = chrono_tz::Asia::Tehran;
    let spans: Vec<(String, String, String)> = twelve
        .months()
        .into_iter()
        .map(|m| {
            let at = |d: NaiveDate| {
                let local = d.and_hms_opt(0, 0, 0).unwrap();
                use chrono::TimeZone as _;
                saghat_core::platform::clock::to_db_time(
                    tz.from_local_datetime(&local)
                        .earliest()
                        .unwrap()
                        .with_timezone(&Utc),
                )
            };
            (m.month.clone(), at(m.starts), at(m.ends))
        })
        .collect();
    let samples = time(args.runs, || async {
        tickets::read(
            &mut *db.pool.acquire().await?,
            Backend::Postgres,
            &twelve,
            &spans,
        )
        .await?;
        Ok(())
    })
    .await?;
    println!(
        "{}",
        summary(
            &format!("tickets: 12 months over {} tickets", args.tickets),
            samples,
            &floor(&db, 5, args.runs).await?,
            1000.0
        )
    );

    // The XLSX of every invoice of the seed's months, written by the `report_export` job's own
    // work (`saghat_export::register::run`) as a worker runs it, page by page.
    let dir = tempfile::tempdir()?;
    let mut config = saghat_core::config::Config::for_tests(args.database_url.clone());
    config.reports.exports_dir = dir.path().to_path_buf();
    config.fake_now = Some(today().and_hms_opt(12, 0, 0).unwrap().and_utc());
    let clock = saghat_core::ctx::clock_for(&config);
    let ctx = saghat_core::Ctx::new(db.clone(), config, clock)?;
    let user_id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM users")
        .fetch_one(&db.pool)
        .await?;
    let accountant = CurrentUser {
        id: user_id,
        username: "bench".into(),
        is_main: false,
        role: Role::Accountant,
        session_version: 0,
    };
    let register_period =
        Period::parse(Some("gregorian"), Some("2023-12"), Some("2026-12"), today())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let export = exports::request(
        &ctx,
        &accountant,
        &NewExport {
            register: Register::Invoices,
            format: FileFormat::Xlsx,
            lang: Lang::En,
            filter: Filter {
                period: register_period,
                currency: None,
                client_id: None,
            },
            labels: Labels {
                title: "Register of invoices".into(),
                columns: register::columns(Register::Invoices)
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                ..Labels::default()
            },
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let before = peak_kib();
    let started = Instant::now();
    let outcome = saghat_export::register::run(&ctx, &export.id, true).await?;
    let elapsed = started.elapsed();
    let saghat_export::register::Outcome::Written { rows, bytes } = outcome else {
        anyhow::bail!("the export was not written: {outcome:?}");
    };
    println!(
        "{}",
        json!({
            "figure": format!("xlsx: the register of {rows} invoices written by the export job"),
            "rows": rows,
            "seconds": elapsed.as_secs_f64(),
            "bytes": bytes,
            "peak_kib_before": before,
            "peak_kib_after": peak_kib(),
        })
    );
    Ok(())
}
