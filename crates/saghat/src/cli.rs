//! The `saghat` command line.

mod backup;
mod beside_servers;
mod user_admin;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use beside_servers::{existing_database, tell_running_instances};
use saghat_core::auth::error::AuthError;
use saghat_core::auth::service::{upsert_admin, AdminAccount, Upserted};
use saghat_core::config::Config;
use saghat_core::fund::rules::FundConfig;
use saghat_core::fund::service::{change_config, ConfigChange, ConfigChanged};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::db::Db;
use saghat_core::platform::money::Amount;
use saghat_http::app;
use saghat_worker::Worker;

#[derive(Parser)]
#[command(
    name = "saghat",
    version,
    about = "Saghat: a cooperative USDT loan fund and lending backend",
    long_about = "Saghat serves the fund's HTTP API (docs at /api/docs) on an embedded SQLite database by \
default, or on PostgreSQL with DATABASE_URL=postgres://…. Configuration comes from the environment \
and a .env file; see the README."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default): migrates, creates the default fund config and a first admin.
    Serve {
        /// Address to listen on (overrides BIND).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Work the background job queue (notifications, reminders, housekeeping) until SIGTERM
    /// or Ctrl-C; for `serve` processes started with WORKER_IN_PROCESS=false. Any number may
    /// run against one PostgreSQL; on SQLite, run one.
    Worker,
    /// Apply database migrations (Saghat's and the job queue's) and exit.
    Migrate,
    /// Change the fund's configuration: only the settings given (a fund without one gets the
    /// defaults for the others: 20, 24, 20).
    SetupFund {
        /// Minimum monthly membership fee in USDT.
        #[arg(long)]
        min_fee: Option<Amount>,
        /// Maximum number of months to repay a loan.
        #[arg(long)]
        max_months: Option<i64>,
        /// Minimum monthly loan repayment in USDT.
        #[arg(long)]
        min_payment: Option<Amount>,
        /// The Jalali month the change applies from, YYYY/MM (this month by default; never a
        /// month already over: earlier months keep their settings).
        #[arg(long)]
        from: Option<String>,
    },
    /// Work with the ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Create a main (admin) user, or reset an existing admin's password (an existing member
    /// only with --promote). Ends the existing user's sessions.
    CreateAdmin {
        /// Username (or SAGHAT_ADMIN_USERNAME); asked for when run in a terminal.
        #[arg(long, env = "SAGHAT_ADMIN_USERNAME")]
        username: Option<String>,
        /// Password (or SAGHAT_ADMIN_PASSWORD); asked for, hidden, when run in a terminal.
        #[arg(long, env = "SAGHAT_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make an existing member or accountant an admin (refused without it).
        #[arg(long)]
        promote: bool,
    },
    /// Online payments.
    Payments {
        #[command(subcommand)]
        command: PaymentsCommand,
    },
    /// Write a consistent copy of the whole database to FILE while Saghat runs (SQLite:
    /// VACUUM INTO; PostgreSQL: pg_dump's custom format). Never overwrites a file.
    Backup {
        /// Where the backup goes.
        file: std::path::PathBuf,
    },
    /// Put a backup into the empty database DATABASE_URL names, apply this version's
    /// migrations, and check it: the ledger's invariants and the rows restored.
    Restore {
        /// The backup (`saghat backup`'s file of the same kind of database).
        file: std::path::PathBuf,
    },
    /// The verifiable monthly draw: print a month's proof, or verify it.
    Draw {
        #[command(subcommand)]
        command: DrawCommand,
    },
    /// Change a user: password, role, active or not.
    User {
        #[command(subcommand)]
        command: user_admin::UserCommand,
    },
}

#[derive(Subcommand)]
enum PaymentsCommand {
    /// Finish online payments left half-way, as the worker does every five minutes: verify
    /// and record what the gateway holds as paid, ask about intents stuck waiting, expire old
    /// ones, give back money for what was already paid.
    Reconcile {
        /// Leave alone intents changed less than this many minutes ago.
        #[arg(long, default_value_t = 2)]
        min_age_minutes: u64,
    },
}

#[derive(Subcommand)]
enum DrawCommand {
    /// Recompute a month's draw from its published proof, step by step (the commitment, the
    /// audit log's copy of it, eligibility, scores, the pool, the canonical inputs, the
    /// choice); exits non-zero when a step fails.
    Verify {
        /// The Jalali month, YYYY/MM (e.g. 1405/09).
        month: String,
        /// Verify this downloaded proof (`GET /api/loans/{id}/proof`) instead of the stored
        /// one; without a database, the audit log's copy of the commitment is not checked.
        #[arg(long)]
        proof: Option<std::path::PathBuf>,
    },
    /// Print a month's proof as JSON (what `GET /api/loans/{id}/proof` answers).
    Proof {
        /// The Jalali month, YYYY/MM.
        month: String,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Check every invariant of the books; exits non-zero when one is broken.
    Verify,
}

pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    // Logging first, so what reading the configuration has to say (generated secrets) is seen.
    use saghat_core::platform::telemetry::{init_from_env_on, Output};
    let data_on_stdout = matches!(
        cli.command,
        Some(Command::Draw {
            command: DrawCommand::Proof { .. }
        })
    );
    init_from_env_on(if data_on_stdout {
        Output::Stderr
    } else {
        Output::Stdout
    });
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("saghat: configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(
        cli.command.unwrap_or(Command::Serve { bind: None }),
        config,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("saghat: {}", without_repeats(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated like `{:#}`, leaving out a cause whose text the
/// message before it already ends with (many errors print their source in their own message).
fn without_repeats(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain().map(|c| c.to_string()) {
        if text.is_empty() {
            text = cause;
        } else if !text.ends_with(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                config.bind = saghat_core::config::bind_address("--bind", &bind)?;
            }
            let started = std::time::Instant::now();
            let clock = saghat_core::ctx::clock_for(&config);
            let bind = config.bind.clone();
            let state = app::prepare(config, clock).await?;
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?;
            let worker = if state.config.jobs.in_process {
                Some(Worker::start(state.ctx().clone()).await?)
            } else {
                tracing::info!("WORKER_IN_PROCESS=false: jobs wait for `saghat worker` processes");
                None
            };
            tracing::info!(
                address = %listener.local_addr()?,
                backend = ?state.db.backend,
                startup_ms = started.elapsed().as_millis() as u64,
                "Saghat is serving; API docs at /api/docs"
            );
            app::serve(state, listener).await?;
            // Requests are done; the jobs in hand finish (or are released for a retry) next.
            match worker {
                Some(worker) => worker.stop().await,
                None => Ok(()),
            }
        }
        Command::Worker => {
            let db = Db::connect(&config.database_url, config.database_max_connections).await?;
            db.migrate().await?;
            let clock = saghat_core::ctx::clock_for(&config);
            let ctx = std::sync::Arc::new(saghat_core::Ctx::new(db, config, clock)?);
            saghat_core::Ctx::start_background_sync(&ctx);
            let mut worker = Worker::start(ctx).await?;
            tokio::select! {
                () = app::shutdown_signal() => worker.stop().await,
                stopped = worker.wait() => stopped.and(Err(anyhow::anyhow!("the worker stopped"))),
            }
        }
        Command::Migrate => {
            let db = Db::connect(&config.database_url, 2).await?;
            db.migrate().await?;
            println!("Migrations applied ({:?}).", db.backend);
            Ok(())
        }
        Command::SetupFund {
            min_fee,
            max_months,
            min_payment,
            from,
        } => {
            let effective_from = match from.as_deref() {
                None => None,
                Some(text) => Some(
                    saghat_core::fund::proof::verify::parse_month(text).with_context(|| {
                        format!("--from {text:?} is not a Jalali month: write YYYY/MM")
                    })?,
                ),
            };
            if min_fee.is_some_and(|a| !a.is_positive())
                || min_payment.is_some_and(|a| !a.is_positive())
                || max_months.is_some_and(|m| m <= 0)
            {
                bail!("--min-fee, --min-payment and --max-months must be greater than 0");
            }
            let db = existing_database(&config).await?;
            db.migrate().await?;
            let clock = saghat_core::ctx::clock_for(&config);
            let change = ConfigChange {
                min_membership_fee: min_fee,
                max_month_for_loan_payment: max_months,
                min_amount_for_loan_payment: min_payment,
                effective_from,
            };
            let meta = RequestMeta::default();
            let now = clock.now();
            let this_month =
                saghat_core::platform::jalali::JalaliMonth::containing(now, config.fund_timezone);
            let source = "saghat setup-fund";
            let changed =
                change_config(&db, (now, this_month), &meta, None, source, change).await?;
            let describe = |c: &FundConfig| {
                format!(
                    "min fee {}, max months {}, min loan payment {}",
                    c.min_membership_fee,
                    c.max_month_for_loan_payment,
                    c.min_amount_for_loan_payment
                )
            };
            let (done, settings) = match changed {
                ConfigChanged::Unchanged(settings) => {
                    println!("Fund configuration unchanged: {}", describe(&settings));
                    return Ok(());
                }
                ConfigChanged::Created(settings) => ("created", settings),
                ConfigChanged::Updated(settings) => ("updated", settings),
            };
            tell_running_instances(&config, "config").await;
            println!("Fund configuration {done}: {}", describe(&settings));
            Ok(())
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            // Read only: neither creates nor migrates a database.
            let db = existing_database(&config).await?;
            let report = saghat_core::ledger::verify::verify(&db).await?;
            println!(
                "saghat ledger verify ({:?}, {})",
                db.backend,
                saghat_core::platform::db::redact(&config.database_url)
            );
            println!("{report}");
            if !report.is_ok() {
                bail!("the ledger is inconsistent");
            }
            Ok(())
        }
        Command::Draw { command } => draw_command(command, config).await,
        Command::Payments {
            command: PaymentsCommand::Reconcile { min_age_minutes },
        } => {
            let db = existing_database(&config).await?;
            db.migrate().await?;
            let clock = saghat_core::ctx::clock_for(&config);
            let ctx = saghat_core::Ctx::new(db, config, clock)?;
            if ctx.online.is_none() {
                bail!("online payments are off: set ZARINPAL_MERCHANT_ID");
            }
            let done = saghat_core::intents::reconcile::reconcile(
                &ctx,
                std::time::Duration::from_secs(60 * min_age_minutes),
            )
            .await?;
            println!(
                "Online payments reconciled: {} checked, {} verified, {} failed, {} expired, {} given back, {} not answered.",
                done.checked, done.verified, done.failed, done.expired, done.reversed, done.unanswered
            );
            Ok(())
        }
        Command::User { command } => user_admin::run(command, &config).await,
        Command::Backup { file } => backup::backup(&config, &file).await,
        Command::Restore { file } => backup::restore(&config, &file).await,
        Command::CreateAdmin {
            username,
            password,
            promote,
        } => {
            let interactive = std::io::stdin().is_terminal();
            let username = match username {
                Some(u) => u,
                None if interactive => prompt("Username: ")?,
                None => bail!("give --username or SAGHAT_ADMIN_USERNAME (no terminal to ask in)"),
            };
            let password = match password {
                Some(p) => p,
                None if interactive => {
                    let first = rpassword::prompt_password("Password: ")?;
                    if rpassword::prompt_password("Password (again): ")? != first {
                        bail!("the passwords differ");
                    }
                    first
                }
                None => bail!("give --password or SAGHAT_ADMIN_PASSWORD (no terminal to ask in)"),
            };
            let db = existing_database(&config).await?;
            db.migrate().await?;
            let clock = saghat_core::ctx::clock_for(&config);
            let account = AdminAccount {
                username: &username,
                password: &password,
                promote,
            };
            let upserted = upsert_admin(&db, account, clock.now(), "saghat create-admin")
                .await
                .map_err(|e| match e {
                    AuthError::InvalidUsername(e) => anyhow::anyhow!("username: {e}"),
                    AuthError::InvalidPassword(e) => anyhow::anyhow!("password: {e}"),
                    e @ AuthError::NotAnAdmin { .. } => {
                        anyhow::anyhow!("{e}: give --promote to make them an admin")
                    }
                    e => e.into(),
                })?;
            tell_running_instances(&config, "users").await;
            println!(
                "Main user {username:?} {}.",
                match upserted {
                    Upserted::Created => "created",
                    Upserted::Updated => "updated",
                }
            );
            Ok(())
        }
    }
}

fn prompt(label: &str) -> anyhow::Result<String> {
    use std::io::Write;
    print!("{label}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// `saghat draw …`: reads only, like `ledger verify`.
async fn draw_command(command: DrawCommand, config: Config) -> anyhow::Result<()> {
    use saghat_core::fund::proof::{service, verify};
    let (month_text, file) = match &command {
        DrawCommand::Verify { month, proof } => (month.as_str(), proof.clone()),
        DrawCommand::Proof { month } => (month.as_str(), None),
    };
    let Some(month) = verify::parse_month(month_text) else {
        bail!("{month_text:?} is not a Jalali month: write YYYY/MM, such as 1405/09");
    };
    let verification = if let Some(file) = file {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let proof: verify::DrawProof = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a draw proof", file.display()))?;
        if verify::parse_month(&proof.month) != Some(month) {
            bail!(
                "{} is the proof of {}, not {month_text}",
                file.display(),
                proof.month
            );
        }
        println!(
            "saghat draw verify {month_text} (the file {})",
            file.display()
        );
        verify::verify(&proof)
    } else {
        let db = existing_database(&config).await?;
        let clock = saghat_core::ctx::clock_for(&config);
        let ctx = saghat_core::Ctx::new(db, config, clock)?;
        let Some(proof) = service::proof_of_month(&ctx, month).await? else {
            bail!("{month_text} has no verifiable draw: none ran, or it ran before draws were verifiable");
        };
        if matches!(command, DrawCommand::Proof { .. }) {
            println!("{}", serde_json::to_string_pretty(&proof)?);
            return Ok(());
        }
        println!("saghat draw verify {month_text} (loan {})", proof.loan_id);
        service::verify_published(&ctx, &proof).await?
    };
    for check in &verification.checks {
        let mark = if check.ok { "ok  " } else { "FAIL" };
        if check.ok {
            println!("  {mark} {}", check.step.code());
        } else {
            println!("  {mark} {}: {}", check.step.code(), check.detail);
        }
    }
    match verification.failure() {
        None => {
            println!("the draw of {month_text} verifies");
            Ok(())
        }
        Some(failed) => bail!(
            "the draw of {month_text} does not verify: {}",
            failed.detail
        ),
    }
}
