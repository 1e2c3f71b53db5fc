//! `saghat user …`: an operator's changes to an account from the command line (a forgotten
//! password, a role, locking someone out). Each is audited with no actor (`source` says which
//! command), and a new password or a deactivation ends every session of the user, as the API's
//! `PATCH /api/auth/users/{id}` does; running servers hear of it through Redis at once, or
//! within `CACHE_TTL_SECONDS`.

use std::io::IsTerminal;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::json;

use saghat_core::auth::domain::{legacy_username_key, username_key, validate_password};
use saghat_core::auth::{password, store, Role};
use saghat_core::config::Config;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::audit::{self, AuditEntry};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Set a user's password, and end every session they have.
    SetPassword {
        /// The username (any letter case).
        username: String,
        /// The new password (or SAGHAT_USER_PASSWORD); asked for, hidden, in a terminal.
        #[arg(long, env = "SAGHAT_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Give a user a role: admin, accountant, lender, member, client (an invoicing client's
    /// portal user) or viewer (reads invoicing).
    SetRole {
        username: String,
        #[arg(value_parser = ["admin", "accountant", "lender", "member", "client", "viewer"])]
        role: String,
    },
    /// Deactivate a user: they can no longer sign in, and every session they have ends.
    Deactivate { username: String },
    /// Reactivate a user; their old sessions stay ended.
    Activate { username: String },
}

pub async fn run(command: UserCommand, config: &Config) -> anyhow::Result<()> {
    // Read the password before touching the database, so a missing one fails fast.
    let new_password = match &command {
        UserCommand::SetPassword { password, .. } => Some(read_password(password.clone())?),
        _ => None,
    };
    // Like the other commands: an existing database only (a typo in DATABASE_URL must not
    // make a new, empty one).
    let db = super::beside_servers::existing_database(config).await?;
    db.migrate().await?;
    let now = saghat_core::ctx::clock_for(config).now();
    let name = match &command {
        UserCommand::SetPassword { username, .. }
        | UserCommand::SetRole { username, .. }
        | UserCommand::Deactivate { username }
        | UserCommand::Activate { username } => username.clone(),
    };
    let hash = match new_password {
        Some(p) => Some(tokio::task::spawn_blocking(move || password::hash_password(&p)).await?),
        None => None,
    };

    let mut tx = db.begin_write().await?;
    let user = store::user_by_name(&mut tx, &username_key(&name), &legacy_username_key(&name))
        .await?
        .with_context(|| format!("no user named {name:?}"))?;
    let (action, details, revoke, said) = match &command {
        UserCommand::SetPassword { .. } => {
            store::set_password(&mut tx, user.id, hash.as_deref().unwrap_or_default()).await?;
            (
                "set-password",
                json!({ "changes": ["password"] }),
                true,
                "password set; every session ended".to_string(),
            )
        }
        UserCommand::SetRole { role, .. } => {
            let role = Role::parse(role);
            store::set_role(&mut tx, user.id, role).await?;
            (
                "set-role",
                json!({ "before": { "role": user.role.as_str() }, "after": { "role": role.as_str() } }),
                false,
                format!("role {} (was {})", role.as_str(), user.role.as_str()),
            )
        }
        UserCommand::Deactivate { .. } => {
            store::set_active(&mut tx, user.id, false).await?;
            (
                "deactivate",
                json!({ "before": { "is_active": user.is_active }, "after": { "is_active": false } }),
                true,
                "deactivated; every session ended".to_string(),
            )
        }
        UserCommand::Activate { .. } => {
            store::set_active(&mut tx, user.id, true).await?;
            (
                "activate",
                json!({ "before": { "is_active": user.is_active }, "after": { "is_active": true } }),
                false,
                "activated".to_string(),
            )
        }
    };
    if revoke {
        store::revoke_user_sessions(&mut tx, user.id, now).await?;
    }
    let mut details = details;
    details["source"] = json!(format!("saghat user {action}"));
    details["sessions_revoked"] = json!(revoke);
    let entry = AuditEntry {
        actor_user_id: None,
        action: "user_changed",
        target: format!("user:{}", user.id),
        details,
    };
    audit::record(&mut tx, now, &RequestMeta::default(), entry).await?;
    tx.commit().await?;
    super::beside_servers::tell_running_instances(config, &format!("user:{}", user.id)).await;
    println!("User {:?}: {said}.", user.username);
    Ok(())
}

/// The password from `--password`/`SAGHAT_USER_PASSWORD`, or asked twice, hidden, in a terminal.
fn read_password(given: Option<String>) -> anyhow::Result<String> {
    let password = match given {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password("New password: ")?;
            if rpassword::prompt_password("New password (again): ")? != first {
                bail!("the passwords differ");
            }
            first
        }
        None => bail!("give --password or SAGHAT_USER_PASSWORD (no terminal to ask in)"),
    };
    validate_password(&password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: UserCommand,
    }

    #[test]
    fn set_role_takes_every_role_a_user_can_have() {
        for role in [
            "admin",
            "accountant",
            "lender",
            "member",
            "client",
            "viewer",
        ] {
            let cli = Cli::try_parse_from(["user", "set-role", "sara", role])
                .unwrap_or_else(|e| panic!("{role}: {e}"));
            let UserCommand::SetRole { role: given, .. } = cli.command else {
                panic!("not set-role");
            };
            // What the command stores is the role it was given, not the `member` fallback.
            assert_eq!(Role::parse(&given).as_str(), role);
        }
        assert!(Cli::try_parse_from(["user", "set-role", "sara", "boss"]).is_err());
    }
}
