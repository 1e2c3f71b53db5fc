//! Signing in with an OpenID provider (authorization code + PKCE), and linking an account to a
//! provider's identity. A sign-in ends like a password sign-in: the same tokens, audited.

use serde_json::json;

use super::model::{Identity, OidcError, ProviderInfo, Purpose, Started};
use super::provider::Verified;
use super::settings::OidcProvider;
use super::store::{self, NewLogin};
use crate::auth::service::issue_tokens;
use crate::auth::store as accounts;
use crate::auth::tokens::{random_token, token_hash};
use crate::auth::{CurrentUser, Role};
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::db::is_unique_violation;
use crate::Ctx;

/// What a callback did.
pub enum Finished {
    SignedIn {
        tokens: crate::auth::service::TokenResponse,
        next: String,
    },
    Linked {
        provider: String,
        next: String,
    },
}

/// How long the provider may take (the user signing in there, consenting) before the callback.
pub const LOGIN_LIFETIME_MINUTES: i64 = 10;

pub fn providers(ctx: &Ctx) -> Vec<ProviderInfo> {
    ctx.config
        .oidc
        .iter()
        .map(|p| ProviderInfo {
            name: p.name.clone(),
            label: p.label.clone(),
        })
        .collect()
}

fn provider<'a>(ctx: &'a Ctx, name: &str) -> Result<&'a OidcProvider, OidcError> {
    ctx.config
        .oidc
        .iter()
        .find(|p| p.name == name)
        .ok_or(OidcError::UnknownProvider)
}

/// Begins a sign-in (or a link) at provider `name`, whose code is to come back to
/// `redirect_uri`: Saghat's own callback for the web, the client's for an API client.
pub async fn start(
    ctx: &Ctx,
    name: &str,
    purpose: Purpose,
    redirect_uri: &str,
) -> Result<Started, OidcError> {
    let provider = provider(ctx, name)?;
    if purpose == Purpose::Api && !provider.api_redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(OidcError::RedirectNotAllowed);
    }
    let authorization = ctx.oidc.authorize(provider, redirect_uri).await?;
    let binding = random_token();
    let now = ctx.now();
    let login = NewLogin {
        state_hash: &token_hash(&authorization.state),
        provider: &provider.name,
        binding_hash: &token_hash(&binding),
        nonce: &authorization.nonce,
        pkce_verifier: &authorization.pkce_verifier,
        purpose: &purpose,
        redirect_uri,
        expires_at: now + chrono::Duration::minutes(LOGIN_LIFETIME_MINUTES),
    };
    let mut conn = ctx.db.pool.acquire().await?;
    store::insert_login(&mut conn, &login, now).await?;
    Ok(Started {
        authorization_url: authorization.url,
        state: authorization.state,
        binding,
        expires_in: LOGIN_LIFETIME_MINUTES * 60,
    })
}

/// The callback of a sign-in begun by [`start`]: `binding` is what `start` gave the browser or
/// the API client. The sign-in is taken first, so its state works once whatever follows.
pub async fn finish(
    ctx: &Ctx,
    meta: &RequestMeta,
    name: &str,
    code: &str,
    state: &str,
    binding: &str,
) -> Result<Finished, OidcError> {
    let provider = provider(ctx, name)?;
    let mut tx = ctx.db.begin_write().await?;
    let login = store::take_login(&mut tx, &token_hash(state), &token_hash(binding)).await?;
    tx.commit().await?;
    let login = login
        .filter(|l| l.provider == provider.name)
        .ok_or(OidcError::InvalidState)?;
    let now = ctx.now();
    if login.expires_at.0.is_none_or(|at| at <= now) {
        return Err(OidcError::Expired);
    }
    let verified = ctx
        .oidc
        .exchange(
            provider,
            &login.redirect_uri,
            code,
            &login.pkce_verifier,
            &login.nonce,
            now,
        )
        .await;
    let verified = match verified {
        Ok(verified) => verified,
        Err(err) => {
            let mut tx = ctx.db.begin_write().await?;
            let entry = AuditEntry {
                actor_user_id: login.link_user_id,
                action: "oidc_login_failed",
                target: provider.name.clone(),
                details: json!({ "reason": err.to_string() }),
            };
            audit::record(&mut tx, now, meta, entry).await?;
            tx.commit().await?;
            return Err(err);
        }
    };
    match (login.purpose.as_str(), login.link_user_id) {
        ("link", Some(user_id)) => {
            link(ctx, meta, provider, &verified, user_id, "oidc_linked").await?;
            Ok(Finished::Linked {
                provider: provider.label.clone(),
                next: login.next_path,
            })
        }
        _ => {
            let tokens = sign_in(ctx, meta, provider, &verified).await?;
            Ok(Finished::SignedIn {
                tokens,
                next: login.next_path,
            })
        }
    }
}

async fn link(
    ctx: &Ctx,
    meta: &RequestMeta,
    provider: &OidcProvider,
    verified: &Verified,
    user_id: i64,
    action: &str,
) -> Result<(), OidcError> {
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    match store::user_of(&mut tx, &provider.name, &verified.subject).await? {
        Some(owner) if owner == user_id => return Ok(()),
        Some(_) => {
            return Err(OidcError::LinkConflict(format!(
                "This {} identity is linked to another account",
                provider.label
            )))
        }
        None => {}
    }
    let email = verified.email.clone().unwrap_or_default();
    if let Err(err) = store::link(
        &mut tx,
        &provider.name,
        &verified.subject,
        user_id,
        &email,
        now,
    )
    .await
    {
        return Err(if is_unique_violation(&err) {
            OidcError::LinkConflict(format!(
                "Your account is linked to another {} identity; unlink it first",
                provider.label
            ))
        } else {
            err.into()
        });
    }
    let entry = AuditEntry {
        actor_user_id: Some(user_id),
        action,
        target: provider.name.clone(),
        details: json!({ "subject": verified.subject, "email": email }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// The account the identity is linked to (or, where the provider allows it, the one account
/// with its verified e-mail), signed in.
async fn sign_in(
    ctx: &Ctx,
    meta: &RequestMeta,
    provider: &OidcProvider,
    verified: &Verified,
) -> Result<crate::auth::service::TokenResponse, OidcError> {
    let not_linked = || OidcError::NotLinked {
        provider: provider.label.clone(),
    };
    let mut conn = ctx.db.pool.acquire().await?;
    let mut user_id = store::user_of(&mut conn, &provider.name, &verified.subject).await?;
    if user_id.is_none() && provider.link_by_email && verified.email_verified {
        if let Some(email) = verified.email.as_deref().filter(|e| !e.is_empty()) {
            let found = store::active_users_with_email(&mut conn, email).await?;
            // Two accounts with one address: which one is meant is not for us to guess.
            if let [only] = found[..] {
                link(ctx, meta, provider, verified, only, "oidc_linked_by_email").await?;
                user_id = Some(only);
            }
        }
    }
    drop(conn);
    let user_id = user_id.ok_or_else(not_linked)?;
    let mut user = accounts::find_active_user(&ctx.db, user_id)
        .await?
        .ok_or_else(not_linked)?;
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    let claim = provider
        .role_claim
        .as_ref()
        .and_then(|c| verified.claims.get(c));
    if let Some(role) = provider.mapped_role(claim).filter(|r| *r != user.role) {
        let last_admin =
            user.role == Role::Admin && accounts::count_main_users(&ctx.db).await? <= 1;
        if last_admin {
            tracing::warn!(
                user = user.id,
                "the provider's role claim would demote the last admin: kept"
            );
        } else {
            accounts::set_role(&mut tx, user.id, role).await?;
            let entry = AuditEntry {
                actor_user_id: None,
                action: "role_set_by_provider",
                target: user.username.clone(),
                details: json!({ "provider": provider.name, "from": user.role.as_str(), "to": role.as_str() }),
            };
            audit::record(&mut tx, now, meta, entry).await?;
            user = CurrentUser {
                role,
                is_main: role.is_main(),
                ..user
            };
        }
    }
    store::touch(&mut tx, &provider.name, &verified.subject, now).await?;
    let family = uuid::Uuid::new_v4().to_string();
    let tokens = issue_tokens(ctx, &mut tx, &user, &family, now).await?;
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "login_oidc",
        target: provider.name.clone(),
        details: json!({ "subject": verified.subject }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    ctx.invalidate(&format!("user:{}", user.id)).await;
    Ok(tokens)
}

/// The identities linked to `user_id`.
pub async fn identities(ctx: &Ctx, user_id: i64) -> Result<Vec<Identity>, OidcError> {
    let mut conn = ctx.db.pool.acquire().await?;
    Ok(store::identities_of(&mut conn, user_id).await?)
}

/// Unlinks the user's identity at provider `name`; false when there was none.
pub async fn unlink(
    ctx: &Ctx,
    meta: &RequestMeta,
    user: &CurrentUser,
    name: &str,
) -> Result<bool, OidcError> {
    let provider = provider(ctx, name)?;
    let mut tx = ctx.db.begin_write().await?;
    let removed = store::unlink(&mut tx, &provider.name, user.id).await?;
    if removed {
        let entry = AuditEntry {
            actor_user_id: Some(user.id),
            action: "oidc_unlinked",
            target: provider.name.clone(),
            details: json!({}),
        };
        audit::record(&mut tx, ctx.now(), meta, entry).await?;
    }
    tx.commit().await?;
    Ok(removed)
}
