//! Signing in and out, shared by the API and the web pages.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::domain::{
    self, bounded_login_name, lockout_remaining, username_key, AttemptKeys, Username,
};
use super::error::AuthError;
use super::password;
use super::store::{self, NewUser, Spend, UserProfile, UserSettings};
use super::tokens::{random_token, token_hash};
use super::{CurrentUser, Role};
use crate::platform::audit::RequestMeta;
use crate::platform::audit::{self, AuditEntry};
use crate::platform::db::{is_unique_violation, Backend, Db};
use crate::platform::money::Amount;
use crate::platform::response_cache::Area;
use crate::platform::secret::Secret;
use crate::platform::validation::{length_kind, FieldError};
use crate::Ctx;

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    pub user_id: i64,
    pub username: String,
    pub is_main: bool,
    /// Single use: exchange it at `/api/auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
}

/// Issues an access token and a refresh token in `family_id`, the sign-in made at
/// `signed_in_at`: the refresh token expires `REFRESH_TOKEN_EXPIRE_DAYS` from now, but never
/// later than `REFRESH_TOKEN_MAX_DAYS` after the sign-in.
pub async fn issue_tokens(
    ctx: &Ctx,
    conn: &mut sqlx::AnyConnection,
    user: &CurrentUser,
    family_id: &str,
    signed_in_at: chrono::DateTime<chrono::Utc>,
) -> Result<TokenResponse, AuthError> {
    let now = ctx.now();
    let refresh_token = random_token();
    let expires_at = (now + chrono::Duration::days(ctx.config.refresh_token_expire_days))
        .min(signed_in_at + chrono::Duration::days(ctx.config.refresh_token_max_days));
    if expires_at <= now {
        return Err(AuthError::SessionEnded);
    }
    let token = store::NewRefreshToken {
        token_hash: &token_hash(&refresh_token),
        user_id: user.id,
        family_id,
        signed_in_at,
        expires_at,
    };
    store::insert_refresh_token(conn, &token, now).await?;
    Ok(TokenResponse {
        access_token: ctx.jwt.issue_for_sign_in(
            user.id,
            now,
            ctx.config.jwt_expire_minutes,
            Some(family_id),
            user.session_version,
        ),
        token_type: "bearer".into(),
        user_id: user.id,
        username: user.username.clone(),
        is_main: user.is_main,
        refresh_token,
        expires_in: ctx.config.jwt_expire_minutes * 60,
    })
}

/// The password checks a login attempt reserved (see [`reserve_login_attempt`]).
struct Reserved {
    keys: AttemptKeys,
    /// Attempts in the window, counting this one; `account` is `None` when the account was
    /// already at its ceiling (the attempt got through on the fresh-pair allowance).
    pair: i64,
    pair_limit: i64,
    address: i64,
    account: Option<i64>,
}

/// Reserves a password check on the attempt's pair, address and account keys, in one short
/// transaction, before any hashing: if any is full nothing is reserved and the answer is 429.
async fn reserve_login_attempt(ctx: &Ctx, keys: AttemptKeys) -> Result<Reserved, AuthError> {
    let limits = &ctx.config.login_limits;
    let now = ctx.now();
    let since = now - chrono::Duration::from_std(limits.window).unwrap_or_default();
    let backend = ctx.db.backend;
    if backend == Backend::Postgres {
        let mut conn = ctx.db.pool.acquire().await?;
        store::forget_attempts_before(&mut conn, backend, since).await?;
    }
    let mut tx = ctx.db.begin_write().await?;
    if backend == Backend::Sqlite {
        // One writer at a time: no lock to wait for, so inside is fine (and saves a write).
        store::forget_attempts_before(&mut tx, backend, since).await?;
    }
    // Keys are always locked in this order (account, pair, address), here and in `release`,
    // so concurrent attempts cannot deadlock.
    let account = store::reserve_attempt(
        &mut tx,
        &keys.account,
        limits.max_failures_per_account_total,
        now,
        since,
    )
    .await?;
    let pair_limit = domain::pair_limit(limits.max_failures_per_account, account.is_some());
    let pair = store::reserve_attempt(&mut tx, &keys.pair, pair_limit, now, since).await?;
    let address = match pair {
        Some(_) => {
            store::reserve_attempt(
                &mut tx,
                &keys.address,
                limits.max_failures_per_ip,
                now,
                since,
            )
            .await?
        }
        None => None,
    };
    let (Some(pair), Some(address)) = (pair, address) else {
        let full = if pair.is_none() {
            &keys.pair
        } else {
            &keys.address
        };
        let started = store::attempt_window_start(&mut tx, full).await?;
        // Dropping the transaction rolls back whatever this attempt reserved.
        drop(tx);
        let retry_after_secs = lockout_remaining(started, limits.window, now);
        crate::platform::measure::login_lockout();
        return Err(AuthError::LockedOut { retry_after_secs });
    };
    tx.commit().await?;
    Ok(Reserved {
        keys,
        pair,
        pair_limit,
        address,
        account,
    })
}

impl Reserved {
    /// Gives back the address and account reservations of a check that succeeded or never
    /// ran; a success also clears its pair.
    async fn release(
        &self,
        conn: &mut sqlx::AnyConnection,
        succeeded: bool,
    ) -> Result<(), sqlx::Error> {
        if self.account.is_some() {
            store::release_attempt(conn, &self.keys.account).await?;
        }
        if succeeded {
            store::clear_attempts(conn, &self.keys.pair).await?;
        } else {
            store::release_attempt(conn, &self.keys.pair).await?;
        }
        store::release_attempt(conn, &self.keys.address).await?;
        Ok(())
    }

    /// True when this failure used the last check a key allowed.
    fn locks_out(&self, limits: &crate::config::LoginLimits) -> bool {
        self.pair >= self.pair_limit
            || self.address >= limits.max_failures_per_ip
            || self
                .account
                .is_some_and(|n| n >= limits.max_failures_per_account_total)
    }
}

/// Checks a username (any letter case, NFKC-normalised) and password, under the login rate
/// limits, and issues an access token and a refresh token. Each attempt reserves its password
/// check before hashing (see [`reserve_login_attempt`]); failures keep their reservation and
/// are audited.
pub async fn sign_in(
    ctx: &Ctx,
    meta: &RequestMeta,
    username: &str,
    password: String,
) -> Result<TokenResponse, AuthError> {
    let key = username_key(username);
    let name = bounded_login_name(&key);
    let limits = &ctx.config.login_limits;
    let reserved = reserve_login_attempt(ctx, AttemptKeys::new(&name, &meta.client_ip)).await?;

    let checked = check_password(ctx, username, &key, password).await;
    let (user, valid) = match checked {
        Ok(result) => result,
        Err(e) => {
            // The check never ran (the server is busy, or broke): it is not a failure.
            let mut tx = ctx.db.begin_write().await?;
            reserved.release(&mut tx, false).await?;
            tx.commit().await?;
            return Err(e);
        }
    };

    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    match user.filter(|_| valid) {
        Some(user) => {
            reserved.release(&mut tx, true).await?;
            let family = uuid::Uuid::new_v4().to_string();
            let tokens = issue_tokens(ctx, &mut tx, &user, &family, now).await?;
            tx.commit().await?;
            Ok(tokens)
        }
        None => {
            crate::platform::measure::login_failure();
            let entry = AuditEntry {
                actor_user_id: None,
                action: "login_failed",
                target: name.clone(),
                details: json!({}),
            };
            audit::record(&mut tx, now, meta, entry).await?;
            if reserved.locks_out(limits) {
                let details = json!({
                    "pair_attempts": reserved.pair,
                    "address_attempts": reserved.address,
                    "account_attempts": reserved.account,
                });
                let entry = AuditEntry {
                    actor_user_id: None,
                    action: "login_lockout",
                    target: name,
                    details,
                };
                audit::record(&mut tx, now, meta, entry).await?;
            }
            tx.commit().await?;
            Err(AuthError::InvalidCredentials)
        }
    }
}

/// The active user `key` names and whether `password` is theirs, under the hashing limit. An
/// unknown name costs a verification too, so timing does not tell which accounts exist.
async fn check_password(
    ctx: &Ctx,
    typed: &str,
    key: &str,
    password: String,
) -> Result<(Option<CurrentUser>, bool), AuthError> {
    // No username is longer: do not even look it up.
    let found = if key.chars().count() <= domain::MAX_LOGIN_NAME_CHARS {
        let legacy = domain::legacy_username_key(typed);
        store::credentials(&ctx.db, key, &legacy).await?
    } else {
        None
    };
    ctx.password_hashing
        .run(move || match found {
            Some(c) => {
                let valid = password::verify_password(&password, &c.password_hash);
                (Some(c.user), valid)
            }
            None => {
                password::burn_verification_time(&password);
                (None, false)
            }
        })
        .await
        .map_err(AuthError::from)
}

/// Exchanges a refresh token for a new pair in the same sign-in. Each token works once: a spent
/// one presented again revokes its whole family (on every instance) and is audited.
pub async fn refresh(
    ctx: &Ctx,
    meta: &RequestMeta,
    refresh_token: &str,
) -> Result<TokenResponse, AuthError> {
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    match store::spend_refresh_token(&mut tx, &token_hash(refresh_token), now).await? {
        Spend::Spent {
            user_id,
            family_id,
            signed_in_at,
        } => {
            let user = store::find_active_user(&ctx.db, user_id)
                .await?
                .ok_or(AuthError::SessionEnded)?;
            // Families from before sign-in times were recorded count from now.
            let signed_in_at = signed_in_at.unwrap_or(now);
            let tokens = issue_tokens(ctx, &mut tx, &user, &family_id, signed_in_at).await?;
            tx.commit().await?;
            Ok(tokens)
        }
        Spend::Replayed { user_id, family_id } => {
            store::revoke_family(&mut tx, &family_id, now).await?;
            let entry = AuditEntry {
                actor_user_id: Some(user_id),
                action: "refresh_token_reuse",
                target: format!("user:{user_id}"),
                details: json!({ "family_id": family_id }),
            };
            audit::record(&mut tx, now, meta, entry).await?;
            tx.commit().await?;
            ctx.invalidate(&format!("revoked:{family_id}")).await;
            tracing::warn!(user_id, "refresh token reused: its whole family is revoked");
            Err(AuthError::SessionEnded)
        }
        Spend::Unknown => Err(AuthError::SessionEnded),
    }
}

/// Revokes a refresh token and every token rotated from the same sign-in. Unknown tokens are
/// ignored: signing out twice is not an error.
pub async fn sign_out(ctx: &Ctx, refresh_token: &str) -> Result<(), AuthError> {
    let mut tx = ctx.db.begin_write().await?;
    let family = store::family_of(&mut tx, &token_hash(refresh_token)).await?;
    if let Some((_, family_id)) = &family {
        store::revoke_family(&mut tx, family_id, ctx.now()).await?;
    }
    tx.commit().await?;
    if let Some((_, family_id)) = family {
        ctx.invalidate(&format!("revoked:{family_id}")).await;
    }
    Ok(())
}

/// A new user, as an admin entered it (API, web page or CLI).
#[derive(Debug, Clone)]
pub struct UserDetails {
    pub username: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: Role,
    pub loan_request_amount: Amount,
}

impl UserDetails {
    /// Every field that breaks a rule, in the API's validation envelope.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = vec![];
        let mut check = |field: &str, kind: &str, result: Result<(), String>| {
            if let Err(msg) = result {
                problems.push(FieldError::body(field, kind, msg));
            }
        };
        check(
            "username",
            length_kind(&self.username, 3, 150),
            Username::parse(&self.username).map(|_| ()),
        );
        check(
            "password",
            length_kind(&self.password, 8, 256),
            domain::validate_password(&self.password),
        );
        check(
            "first_name",
            "string_too_long",
            domain::validate_name(&self.first_name),
        );
        check(
            "last_name",
            "string_too_long",
            domain::validate_name(&self.last_name),
        );
        if !self.email.is_empty() {
            check("email", "value_error", domain::validate_email(&self.email));
        }
        check(
            "loan_request_amount",
            "greater_than_equal",
            domain::non_negative(self.loan_request_amount),
        );
        problems
    }
}

/// Changes to a user, each optional.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// `false` deactivates the user and ends all their sessions; `true` does not revive them.
    pub is_active: Option<bool>,
    pub role: Option<Role>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// A new password (an admin's reset): ends all the user's sessions.
    pub password: Option<String>,
}

impl UserChanges {
    /// Every field that breaks a rule, in the API's validation envelope.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = vec![];
        for (field, value) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
        ] {
            if let Some(Err(msg)) = value.as_deref().map(domain::validate_name) {
                problems.push(FieldError::body(field, "string_too_long", msg));
            }
        }
        if let Some(Err(msg)) = self
            .email
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(domain::validate_email)
        {
            problems.push(FieldError::body("email", "value_error", msg));
        }
        if let Some(Err(msg)) = self.password.as_deref().map(domain::validate_password) {
            problems.push(FieldError::body("password", "value_error", msg));
        }
        problems
    }
}

/// A new user whose details passed the rules and whose password is hashed: what
/// [`insert_prepared_user`] writes inside a caller's transaction.
pub struct PreparedUser {
    username: Username,
    password_hash: String,
    details: UserDetails,
}

/// Checks a new user's details and hashes the password (slow: before any transaction).
pub async fn prepare_user(ctx: &Ctx, body: UserDetails) -> Result<PreparedUser, AuthError> {
    let problems = body.problems();
    if !problems.is_empty() {
        return Err(AuthError::Invalid(problems));
    }
    let username = Username::parse(&body.username).map_err(AuthError::InvalidUsername)?;
    let password = body.password.clone();
    let password_hash = ctx
        .password_hashing
        .run(move || password::hash_password(&password))
        .await
        .map_err(AuthError::from)?;
    Ok(PreparedUser {
        username,
        password_hash,
        details: body,
    })
}

/// Inserts a prepared user with their role and ledger accounts and audits it, in the caller's
/// transaction (admins only; the caller checks). Returns the new user's id.
pub async fn insert_prepared_user(
    conn: &mut sqlx::AnyConnection,
    now: chrono::DateTime<chrono::Utc>,
    admin: &CurrentUser,
    meta: &RequestMeta,
    user: &PreparedUser,
) -> Result<i64, AuthError> {
    let body = &user.details;
    let role = body.role;
    let new_user = NewUser {
        username: &user.username.display,
        username_key: &user.username.key,
        password_hash: &user.password_hash,
        first_name: &body.first_name,
        last_name: &body.last_name,
        email: &body.email,
        is_main: role == Role::Admin,
        loan_request_amount: body.loan_request_amount,
    };
    let id = match store::insert_user(conn, &new_user, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(AuthError::UsernameTaken),
        Err(e) => return Err(e.into()),
    };
    if matches!(
        role,
        Role::Accountant | Role::Lender | Role::Client | Role::Viewer
    ) {
        store::set_role(conn, id, role).await?;
    }
    let entry = AuditEntry {
        actor_user_id: Some(admin.id),
        action: "user_created",
        target: format!("user:{id}"),
        details: json!({ "username": user.username.display, "role": role.as_str() }),
    };
    audit::record(conn, now, meta, entry).await?;
    Ok(id)
}

/// Creates a user (admins only; the caller checks), with their ledger accounts, and audits it.
pub async fn create_user(
    ctx: &Ctx,
    admin: &CurrentUser,
    meta: &RequestMeta,
    body: UserDetails,
) -> Result<UserProfile, AuthError> {
    let prepared = prepare_user(ctx, body).await?;
    let mut tx = ctx.db.begin_write().await?;
    let id = insert_prepared_user(&mut tx, ctx.now(), admin, meta, &prepared).await?;
    let profile = store::profile_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {id} vanished"))?;
    tx.commit().await?;
    ctx.changed(Area::Fund).await;
    Ok(profile)
}

/// Applies an admin's changes to a user, audits them, and makes every instance forget the
/// user's cached account so a deactivation or demotion takes effect at once. A new password or
/// a deactivation also ends every session of the user (refresh and access tokens).
pub async fn update_user(
    ctx: &Ctx,
    admin: &CurrentUser,
    meta: &RequestMeta,
    user_id: i64,
    changes: UserChanges,
) -> Result<UserProfile, AuthError> {
    let problems = changes.problems();
    if !problems.is_empty() {
        return Err(AuthError::Invalid(problems));
    }
    if user_id == admin.id
        && (changes.is_active == Some(false) || changes.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(AuthError::CannotDemoteSelf);
    }
    // Hashed before the transaction: it is slow, and needs no lock.
    let password_hash = match changes.password.clone() {
        Some(password) => Some(
            ctx.password_hashing
                .run(move || password::hash_password(&password))
                .await
                .map_err(AuthError::from)?,
        ),
        None => None,
    };
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    let current = store::user_settings(&mut tx, user_id)
        .await?
        .ok_or(AuthError::UserNotFound)?;
    let updated = UserSettings {
        first_name: changes
            .first_name
            .clone()
            .unwrap_or(current.first_name.clone()),
        last_name: changes
            .last_name
            .clone()
            .unwrap_or(current.last_name.clone()),
        email: changes.email.clone().unwrap_or(current.email.clone()),
        is_active: changes.is_active.unwrap_or(current.is_active),
        role: changes.role.unwrap_or(current.role),
    };
    store::save_user_settings(&mut tx, user_id, &updated).await?;
    if let Some(hash) = &password_hash {
        store::set_password(&mut tx, user_id, hash).await?;
    }
    let revoke = password_hash.is_some() || changes.is_active == Some(false);
    if revoke {
        store::revoke_user_sessions(&mut tx, user_id, now).await?;
    }
    let entry = AuditEntry {
        actor_user_id: Some(admin.id),
        action: "user_changed",
        target: format!("user:{user_id}"),
        details: json!({
            "before": { "is_active": current.is_active, "role": current.role.as_str() },
            "after": { "is_active": updated.is_active, "role": updated.role.as_str() },
            "password_changed": password_hash.is_some(),
            "sessions_revoked": revoke,
        }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    let profile = store::profile_by_id(&mut tx, user_id)
        .await?
        .ok_or(AuthError::UserNotFound)?;
    tx.commit().await?;
    ctx.invalidate(&format!("user:{user_id}")).await;
    Ok(profile)
}

/// Changes the amount a member asks for in the coming draws (0 opts out), and audits it.
pub async fn change_loan_request(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
    amount: Amount,
) -> Result<UserProfile, AuthError> {
    if let Err(msg) = domain::non_negative(amount) {
        return Err(AuthError::Invalid(vec![FieldError::body(
            "loan_request_amount",
            "greater_than_equal",
            msg,
        )]));
    }
    let mut tx = ctx.db.begin_write().await?;
    store::set_loan_request(&mut tx, user.id, amount).await?;
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "user_changed",
        target: format!("user:{}", user.id),
        details: json!({ "loan_request_amount": amount }),
    };
    audit::record(&mut tx, ctx.now(), meta, entry).await?;
    let profile = store::profile_by_id(&mut tx, user.id)
        .await?
        .ok_or(AuthError::SessionEnded)?;
    tx.commit().await?;
    Ok(profile)
}

/// An admin account to create, or to give a new password: `saghat create-admin` and the first
/// start.
pub struct AdminAccount<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// Make an existing non-admin of that name an admin (else that is refused).
    pub promote: bool,
}

/// Whether [`upsert_admin`] created the user or changed an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

/// Creates a main user, or gives an existing one the new password (ending their sessions) and
/// makes them main; an existing non-admin only when `promote`. Audited with `source`.
pub async fn upsert_admin(
    db: &Db,
    account: AdminAccount<'_>,
    now: chrono::DateTime<chrono::Utc>,
    source: &str,
) -> Result<Upserted, AuthError> {
    let username = Username::parse(account.username).map_err(AuthError::InvalidUsername)?;
    domain::validate_password(account.password).map_err(AuthError::InvalidPassword)?;
    let password = account.password.to_string();
    // Not through the server's hashing pool: the CLI has none, and the first start is one hash.
    let hash = tokio::task::spawn_blocking(move || password::hash_password(&password))
        .await
        .map_err(anyhow::Error::from)?;
    let mut tx = db.begin_write().await?;
    let legacy = domain::legacy_username_key(&username.display);
    if let Some(existing) = store::user_by_name(&mut tx, &username.key, &legacy).await? {
        if existing.role != Role::Admin && !account.promote {
            return Err(AuthError::NotAnAdmin {
                username: existing.username,
                role: existing.role.as_str(),
            });
        }
        store::set_password(&mut tx, existing.id, &hash).await?;
        store::set_role(&mut tx, existing.id, Role::Admin).await?;
        store::set_active(&mut tx, existing.id, true).await?;
        store::revoke_user_sessions(&mut tx, existing.id, now).await?;
        let entry = AuditEntry {
            actor_user_id: None,
            action: "user_changed",
            target: format!("user:{}", existing.id),
            details: json!({
                "source": source,
                "changes": ["password", "role:admin"],
                "before": { "role": existing.role.as_str(), "is_active": existing.is_active },
                "sessions_revoked": true,
            }),
        };
        audit::record(&mut tx, now, &RequestMeta::default(), entry).await?;
        tx.commit().await?;
        return Ok(Upserted::Updated);
    }
    let new_user = NewUser {
        username: &username.display,
        username_key: &username.key,
        password_hash: &hash,
        first_name: "",
        last_name: "",
        email: "",
        is_main: true,
        loan_request_amount: Amount::ZERO,
    };
    let id = store::insert_user(&mut tx, &new_user, now).await?;
    let entry = AuditEntry {
        actor_user_id: None,
        action: "user_created",
        target: format!("user:{id}"),
        details: json!({ "source": source, "username": username.display, "role": "admin" }),
    };
    audit::record(&mut tx, now, &RequestMeta::default(), entry).await?;
    tx.commit().await?;
    Ok(Upserted::Created)
}

/// The admin a fund's first start created.
#[derive(Debug)]
pub struct FirstAdmin {
    pub username: String,
    /// Set when no `SAGHAT_ADMIN_PASSWORD` was given: the caller shows it, once.
    pub generated_password: Option<String>,
}

/// On a fund's first start (no main user yet) creates one, from `SAGHAT_ADMIN_USERNAME` /
/// `SAGHAT_ADMIN_PASSWORD`, or `admin` with a generated password. `None` when the fund has an
/// admin already (or another instance created it at the same moment).
pub async fn ensure_first_admin(ctx: &Ctx) -> Result<Option<FirstAdmin>, AuthError> {
    if store::count_main_users(&ctx.db).await? > 0 {
        return Ok(None);
    }
    let username = ctx
        .config
        .admin_username
        .clone()
        .unwrap_or_else(|| "admin".into());
    let generated_password = match &ctx.config.admin_password {
        Some(_) => None,
        None => Some(random_token()[..20].to_string()),
    };
    let password = generated_password
        .as_deref()
        .or(ctx.config.admin_password.as_ref().map(Secret::expose))
        .unwrap_or_default();
    // The configured admin name: promote a member of that name when the fund has no admin.
    let account = AdminAccount {
        username: &username,
        password,
        promote: true,
    };
    match upsert_admin(&ctx.db, account, ctx.now(), "first start").await {
        Ok(_) => Ok(Some(FirstAdmin {
            username,
            generated_password,
        })),
        Err(AuthError::Store(e)) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The user an access token signs in, if it is valid, unexpired, not revoked (its sign-in, or
/// every session of its user since it was issued), and its user is active. Shared by the API's
/// bearer tokens and the web pages' session cookie.
pub async fn authenticate(ctx: &Ctx, token: &str) -> Result<Option<CurrentUser>, sqlx::Error> {
    let Some(verified) = ctx.jwt.verify_claims(token, ctx.now()) else {
        return Ok(None);
    };
    if verified
        .family
        .as_deref()
        .is_some_and(|family| ctx.revoked.contains(family))
    {
        return Ok(None);
    }
    let user = match ctx.users.get(&verified.user_id) {
        Some(user) => Some(user),
        None => {
            let user = store::find_active_user(&ctx.db, verified.user_id).await?;
            if let Some(user) = &user {
                ctx.users.insert(user.id, user.clone());
            }
            user
        }
    };
    // A revocation raises the version and invalidates the cached user on every instance, so
    // the cache never holds a version older than the database's for long.
    Ok(user.filter(|user| verified.session_version >= user.session_version))
}
