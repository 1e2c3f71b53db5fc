//! The `saghat` command line.

mod user_admin;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::app::{self, AppState};
use crate::auth::domain::{legacy_username_key, validate_password, Username};
use crate::auth::{password, store as users};
use crate::config::Config;
use crate::fund::rules::FundConfig;
use crate::fund::store as fund;
use crate::platform::audit::{self, AuditEntry};
use crate::platform::db::{is_unique_violation, Db, Open};
use crate::platform::extract::RequestMeta;
use crate::platform::money::Amount;

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
    /// Apply database migrations and exit.
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
    /// Change a user: password, role, active or not.
    User {
        #[command(subcommand)]
        command: user_admin::UserCommand,
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
    crate::platform::telemetry::init_from_env();
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
                config.bind = crate::config::bind_address("--bind", &bind)?;
            }
            let started = std::time::Instant::now();
            let clock = app::clock_for(&config);
            let bind = config.bind.clone();
            let state = app::prepare(config, clock).await?;
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?;
            tracing::info!(
                address = %listener.local_addr()?,
                backend = ?state.db.backend,
                startup_ms = started.elapsed().as_millis() as u64,
                "Saghat is serving; API docs at /api/docs"
            );
            app::serve(state, listener).await
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
        } => {
            if min_fee.is_some_and(|a| !a.is_positive())
                || min_payment.is_some_and(|a| !a.is_positive())
                || max_months.is_some_and(|m| m <= 0)
            {
                bail!("--min-fee, --min-payment and --max-months must be greater than 0");
            }
            let db = existing_database(&config).await?;
            db.migrate().await?;
            let clock = app::clock_for(&config);
            let mut tx = db.begin_write().await?;
            let current = fund::config(&mut tx).await?;
            let existed = current.is_some();
            let before = current.unwrap_or_default();
            let settings = FundConfig {
                min_membership_fee: min_fee.unwrap_or(before.min_membership_fee),
                max_month_for_loan_payment: max_months.unwrap_or(before.max_month_for_loan_payment),
                min_amount_for_loan_payment: min_payment
                    .unwrap_or(before.min_amount_for_loan_payment),
            };
            let describe = |c: &FundConfig| {
                format!(
                    "min fee {}, max months {}, min loan payment {}",
                    c.min_membership_fee,
                    c.max_month_for_loan_payment,
                    c.min_amount_for_loan_payment
                )
            };
            if existed && settings == before {
                println!("Fund configuration unchanged: {}", describe(&before));
                return Ok(());
            }
            fund::save_config(&mut tx, &settings, clock.now()).await?;
            let given: Vec<&str> = [
                ("min_membership_fee", min_fee.is_some()),
                ("max_month_for_loan_payment", max_months.is_some()),
                ("min_amount_for_loan_payment", min_payment.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, given)| given.then_some(name))
            .collect();
            let entry = AuditEntry {
                actor_user_id: None,
                action: "config_changed",
                target: "fund_config".into(),
                details: serde_json::json!({
                    "source": "saghat setup-fund",
                    "given": given,
                    "min_membership_fee": settings.min_membership_fee,
                    "max_month_for_loan_payment": settings.max_month_for_loan_payment,
                    "min_amount_for_loan_payment": settings.min_amount_for_loan_payment,
                }),
            };
            audit::record(&mut tx, clock.now(), &RequestMeta::default(), entry).await?;
            tx.commit().await?;
            tell_running_instances(&config, "config").await;
            println!(
                "Fund configuration {}: {}",
                if existed { "updated" } else { "created" },
                describe(&settings)
            );
            Ok(())
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            // Read only: neither creates nor migrates a database.
            let db = existing_database(&config).await?;
            let report = crate::ledger::verify::verify(&db).await?;
            println!(
                "saghat ledger verify ({:?}, {})",
                db.backend,
                crate::platform::db::redact(&config.database_url)
            );
            println!("{report}");
            if !report.is_ok() {
                bail!("the ledger is inconsistent");
            }
            Ok(())
        }
        Command::User { command } => user_admin::run(command, &config).await,
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
            let clock = app::clock_for(&config);
            let created = upsert_admin(
                &db,
                &username,
                &password,
                clock.now(),
                "saghat create-admin",
                promote,
            )
            .await?;
            tell_running_instances(&config, "users").await;
            println!(
                "Main user {username:?} {}.",
                if created { "created" } else { "updated" }
            );
            Ok(())
        }
    }
}

/// The database of every command but `serve` and `migrate`, which alone may create one: a
/// wrong folder or URL is an error rather than a new, empty fund.
async fn existing_database(config: &Config) -> anyhow::Result<Db> {
    Db::open(&config.database_url, 2, Open::Existing).await
}

/// Running servers cache the configuration and users for `CACHE_TTL_SECONDS`; with Redis they
/// hear of a change from this command at once.
async fn tell_running_instances(config: &Config, message: &str) {
    if let Ok(shared) =
        crate::platform::shared::Shared::new(config.redis_url.as_deref(), &config.redis_prefix, 0)
    {
        shared.publish(message).await;
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

/// Creates a main user, or gives an existing one the new password (ending their sessions) and
/// makes them main; an existing non-admin only when `promote`. Returns whether the user was
/// created.
pub async fn upsert_admin(
    db: &Db,
    username: &str,
    password: &str,
    now: chrono::DateTime<chrono::Utc>,
    source: &str,
    promote: bool,
) -> anyhow::Result<bool> {
    let username = Username::parse(username).map_err(|e| anyhow::anyhow!("username: {e}"))?;
    validate_password(password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || password::hash_password(&password)).await?;
    let mut tx = db.begin_write().await?;
    let legacy = legacy_username_key(&username.display);
    if let Some(existing) = users::user_by_name(&mut tx, &username.key, &legacy).await? {
        if existing.role != crate::auth::Role::Admin && !promote {
            bail!(
                "{:?} is an existing {}: give --promote to make them an admin",
                existing.username,
                existing.role.as_str()
            );
        }
        users::set_password(&mut tx, existing.id, &hash).await?;
        users::set_role(&mut tx, existing.id, crate::auth::Role::Admin).await?;
        users::set_active(&mut tx, existing.id, true).await?;
        users::revoke_user_sessions(&mut tx, existing.id, now).await?;
        let entry = AuditEntry {
            actor_user_id: None,
            action: "user_changed",
            target: format!("user:{}", existing.id),
            details: serde_json::json!({
                "source": source,
                "changes": ["password", "role:admin"],
                "before": { "role": existing.role.as_str(), "is_active": existing.is_active },
                "sessions_revoked": true,
            }),
        };
        audit::record(&mut tx, now, &RequestMeta::default(), entry).await?;
        tx.commit().await?;
        return Ok(false);
    }
    let new_user = users::NewUser {
        username: &username.display,
        username_key: &username.key,
        password_hash: &hash,
        first_name: "",
        last_name: "",
        email: "",
        is_main: true,
        loan_request_amount: Amount::ZERO,
    };
    let id = users::insert_user(&mut tx, &new_user, now).await?;
    let entry = AuditEntry {
        actor_user_id: None,
        action: "user_created",
        target: format!("user:{id}"),
        details: serde_json::json!({ "source": source, "username": username.display, "role": "admin" }),
    };
    audit::record(&mut tx, now, &RequestMeta::default(), entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// On a fund's first start (no main user yet) creates one, from `SAGHAT_ADMIN_USERNAME` /
/// `SAGHAT_ADMIN_PASSWORD`, or `admin` with a generated password printed once.
pub async fn ensure_first_admin(state: &AppState) -> anyhow::Result<()> {
    if users::count_main_users(&state.db).await? > 0 {
        return Ok(());
    }
    let username = state
        .config
        .admin_username
        .clone()
        .unwrap_or_else(|| "admin".into());
    let (password, generated) = match &state.config.admin_password {
        Some(p) => (p.clone(), false),
        None => (crate::auth::tokens::random_token()[..20].to_string(), true),
    };
    // The configured admin name: promote a member of that name when the fund has no admin.
    match upsert_admin(
        &state.db,
        &username,
        &password,
        state.now(),
        "first start",
        true,
    )
    .await
    {
        Ok(_) => {}
        // Another instance created it at the same moment.
        Err(e)
            if e.downcast_ref::<sqlx::Error>()
                .is_some_and(is_unique_violation) =>
        {
            return Ok(())
        }
        Err(e) => return Err(e.context("cannot create the first admin")),
    }
    if generated {
        tell_generated_password(state, &username, &password)?;
    } else {
        tracing::info!(
            username,
            "first start: created the main user from SAGHAT_ADMIN_USERNAME"
        );
    }
    Ok(())
}

/// The generated first password goes to the terminal when there is one, else to a file only
/// this user can read; never into the logs, which are often collected and kept.
fn tell_generated_password(state: &AppState, username: &str, password: &str) -> anyhow::Result<()> {
    if std::io::stdout().is_terminal() {
        println!("\n  First start: created main user {username:?} with password {password}\n  Sign in and keep it safe; it is not shown again.\n");
        return Ok(());
    }
    let path = state.config.data_dir.join(INITIAL_ADMIN_PASSWORD_FILE);
    crate::config::create_private_dir(&state.config.data_dir)?;
    // A file left by an earlier fund may have other permissions: start afresh.
    let _ = std::fs::remove_file(&path);
    crate::config::write_private(&path, &format!("{password}\n"))
        .context("cannot write the first admin's password")?;
    tracing::warn!(
        username,
        file = %path.display(),
        "first start: created the main user with a generated password, written to the file (readable by this user only); sign in, then delete the file"
    );
    Ok(())
}

/// Where a generated first-admin password is written when stdout is not a terminal, in
/// `SAGHAT_DATA_DIR`.
pub const INITIAL_ADMIN_PASSWORD_FILE: &str = "initial-admin-password";
