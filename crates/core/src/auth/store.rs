//! SQL for accounts, tokens and login failures.

use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection, AssertSqlSafe};

use super::{CurrentUser, Role};
use crate::platform::clock::{to_db_time, DbTime};
use crate::platform::db::{Backend, Db, Flag};
use crate::platform::money::Amount;

/// A `role` column reads as [`Role::parse`] reads its text.
impl sqlx::Type<Any> for Role {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Role {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <String as sqlx::Decode<'r, Any>>::decode(value).map(|text| Role::parse(&text))
    }
}

/// A member as the API shows them (`User` in the original API).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserProfile {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_main: bool,
    /// Total membership fees paid, from the member's contributions account in the ledger.
    pub balance: Amount,
    pub loan_request_amount: Amount,
    pub has_active_loan: bool,
    /// `admin`, `accountant` or `member` (added; `is_main` is true exactly for admins).
    pub role: Role,
}

// The balance is summed as whole and fractional units apart (see `db::split_sum`), so that no
// total overflows a BIGINT.
const PROFILE_SELECT: &str = "SELECT u.id, u.username, u.first_name, u.last_name, u.email, \
    u.role, u.loan_request_amount, \
    CAST(COALESCE((SELECT SUM((e.credit - e.debit) / 100000000) FROM journal_entries e \
         JOIN ledger_accounts a ON a.id = e.account_id WHERE a.user_id = u.id AND a.kind = 'member_contributions'), 0) \
         AS BIGINT) AS balance_whole, \
    CAST(COALESCE((SELECT SUM((e.credit - e.debit) % 100000000) FROM journal_entries e \
         JOIN ledger_accounts a ON a.id = e.account_id WHERE a.user_id = u.id AND a.kind = 'member_contributions'), 0) \
         AS BIGINT) AS balance_fraction, \
    CAST(CASE WHEN EXISTS (SELECT 1 FROM loans l WHERE l.user_id = u.id AND l.state = 'active') \
         THEN 1 ELSE 0 END AS BIGINT) AS has_active_loan \
    FROM users u";

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: i64,
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    role: Role,
    loan_request_amount: Amount,
    balance_whole: i64,
    balance_fraction: i64,
    #[sqlx(try_from = "Flag")]
    has_active_loan: bool,
}

impl From<ProfileRow> for UserProfile {
    fn from(r: ProfileRow) -> Self {
        UserProfile {
            id: r.id,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            is_main: r.role.is_main(),
            balance: Amount::from_split_sum(r.balance_whole, r.balance_fraction),
            loan_request_amount: r.loan_request_amount,
            has_active_loan: r.has_active_loan,
            role: r.role,
        }
    }
}

pub async fn profile_by_id(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<UserProfile>, sqlx::Error> {
    let sql = format!("{PROFILE_SELECT} WHERE u.id = $1");
    let row: Option<ProfileRow> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(UserProfile::from))
}

pub async fn list_profiles(db: &Db) -> Result<Vec<UserProfile>, sqlx::Error> {
    let sql = format!("{PROFILE_SELECT} ORDER BY u.username_key, u.id");
    let rows: Vec<ProfileRow> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(UserProfile::from).collect())
}

#[derive(sqlx::FromRow)]
struct CurrentUserRow {
    id: i64,
    username: String,
    role: Role,
    session_version: i64,
}

impl From<CurrentUserRow> for CurrentUser {
    fn from(r: CurrentUserRow) -> Self {
        CurrentUser {
            id: r.id,
            username: r.username,
            is_main: r.role.is_main(),
            role: r.role,
            session_version: r.session_version,
        }
    }
}

pub async fn find_active_user(db: &Db, id: i64) -> Result<Option<CurrentUser>, sqlx::Error> {
    let row: Option<CurrentUserRow> = sqlx::query_as(
        "SELECT id, username, role, session_version FROM users WHERE id = $1 AND is_active = 1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(CurrentUser::from))
}

/// The credentials of an active account, looked up case-insensitively.
pub struct Credentials {
    pub user: CurrentUser,
    pub password_hash: String,
}

/// By the NFKC key, or by the legacy one accounts created before NFKC keys have; an account
/// whose stored key is exactly the legacy key of what was typed wins, as it did before.
pub async fn credentials(
    db: &Db,
    username_key: &str,
    legacy_key: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct CredentialsRow {
        #[sqlx(flatten)]
        user: CurrentUserRow,
        password_hash: String,
    }
    let row: Option<CredentialsRow> = sqlx::query_as(
        "SELECT id, username, role, session_version, password_hash FROM users \
         WHERE username_key IN ($1, $2) AND is_active = 1 \
         ORDER BY CASE WHEN username_key = $2 THEN 0 ELSE 1 END LIMIT 1",
    )
    .bind(username_key)
    .bind(legacy_key)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Credentials {
        user: r.user.into(),
        password_hash: r.password_hash,
    }))
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
    pub is_main: bool,
    pub loan_request_amount: Amount,
}

/// Inserts a user (role `admin` when `is_main`, else `member`), opens their ledger accounts,
/// and returns the id. A taken username surfaces as a unique violation.
pub async fn insert_user(
    conn: &mut AnyConnection,
    user: &NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let role = if user.is_main {
        Role::Admin
    } else {
        Role::Member
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, username_key, password_hash, first_name, last_name, email, \
         is_active, loan_request_amount, created_at, role) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9) RETURNING id",
    )
    .bind(user.username)
    .bind(user.username_key)
    .bind(user.password_hash)
    .bind(user.first_name)
    .bind(user.last_name)
    .bind(user.email)
    .bind(user.loan_request_amount)
    .bind(to_db_time(now))
    .bind(role.as_str())
    .fetch_one(&mut *conn)
    .await?;
    crate::ledger::store::open_member_accounts(conn, id, now).await?;
    Ok(id)
}

/// What an admin may change about a user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserSettings {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    #[sqlx(try_from = "Flag")]
    pub is_active: bool,
    pub role: Role,
}

pub async fn user_settings(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<UserSettings>, sqlx::Error> {
    sqlx::query_as("SELECT first_name, last_name, email, is_active, role FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

pub async fn save_user_settings(
    conn: &mut AnyConnection,
    user_id: i64,
    s: &UserSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET first_name = $1, last_name = $2, email = $3, is_active = $4, role = $5 WHERE id = $6",
    )
    .bind(&s.first_name)
    .bind(&s.last_name)
    .bind(&s.email)
    .bind(i64::from(s.is_active))
    .bind(s.role.as_str())
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives a user a role (the API's `is_main` is read from it: true exactly for admins).
pub async fn set_role(
    conn: &mut AnyConnection,
    user_id: i64,
    role: Role,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A user as the command line finds them, by name (NFKC key, or the legacy one).
#[derive(sqlx::FromRow)]
pub struct NamedUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    #[sqlx(try_from = "Flag")]
    pub is_active: bool,
}

pub async fn user_by_name(
    conn: &mut AnyConnection,
    username_key: &str,
    legacy_key: &str,
) -> Result<Option<NamedUser>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, username, role, is_active FROM users WHERE username_key IN ($1, $2) \
         ORDER BY CASE WHEN username_key = $2 THEN 0 ELSE 1 END LIMIT 1",
    )
    .bind(username_key)
    .bind(legacy_key)
    .fetch_optional(conn)
    .await
}

pub async fn set_active(
    conn: &mut AnyConnection,
    user_id: i64,
    active: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET is_active = $1 WHERE id = $2")
        .bind(i64::from(active))
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user: raises the session version (which voids their access tokens,
/// with a family or without) and revokes their refresh tokens. Returns the new version.
pub async fn revoke_user_sessions(
    conn: &mut AnyConnection,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let version: i64 = sqlx::query_scalar(
        "UPDATE users SET session_version = session_version + 1 WHERE id = $1 RETURNING session_version",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(to_db_time(now))
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(version)
}

pub async fn set_password(
    conn: &mut AnyConnection,
    user_id: i64,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn count_main_users(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(&db.pool)
        .await
}

pub async fn set_loan_request(
    conn: &mut AnyConnection,
    user_id: i64,
    amount: Amount,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET loan_request_amount = $1 WHERE id = $2")
        .bind(amount)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

// --- login attempts -------------------------------------------------------------------------

/// Reserves one password check on `key` unless `limit` are already reserved in the current
/// window (one that started after `since`; an older one restarts at `now`). One statement, so
/// of any number of concurrent attempts at most `limit` get through, on every instance.
/// Returns the attempts reserved in the window, counting this one, or `None` when full.
pub async fn reserve_attempt(
    conn: &mut AnyConnection,
    key: &str,
    limit: i64,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO login_attempts (limit_key, attempts, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (limit_key) DO UPDATE SET \
           attempts = CASE WHEN login_attempts.window_start <= $3 THEN 1 ELSE login_attempts.attempts + 1 END, \
           window_start = CASE WHEN login_attempts.window_start <= $3 THEN $2 ELSE login_attempts.window_start END \
         WHERE login_attempts.window_start <= $3 OR login_attempts.attempts < $4 \
         RETURNING attempts",
    )
    .bind(key)
    .bind(to_db_time(now))
    .bind(to_db_time(since))
    .bind(limit)
    .fetch_optional(conn)
    .await
}

/// When the window of `key` started, if it has one.
pub async fn attempt_window_start(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let start: Option<DbTime> =
        sqlx::query_scalar("SELECT window_start FROM login_attempts WHERE limit_key = $1")
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(start.and_then(|t| t.0))
}

/// Gives back one reserved attempt (a check that succeeded, or never ran).
pub async fn release_attempt(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE login_attempts SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
         WHERE limit_key = $1",
    )
    .bind(key)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn clear_attempts(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_attempts WHERE limit_key = $1")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets (up to 500) windows that ended, so the table holds only keys tried in the last
/// window. On PostgreSQL run it on its own, not inside a reservation: it skips rows another
/// attempt holds, so it never waits for one and cannot deadlock with it.
pub async fn forget_attempts_before(
    conn: &mut AnyConnection,
    backend: Backend,
    since: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = match backend {
        Backend::Postgres => {
            "DELETE FROM login_attempts WHERE limit_key IN (SELECT limit_key FROM login_attempts \
             WHERE window_start <= $1 LIMIT 500 FOR UPDATE SKIP LOCKED)"
        }
        Backend::Sqlite => {
            "DELETE FROM login_attempts WHERE limit_key IN (SELECT limit_key FROM login_attempts \
             WHERE window_start <= $1 LIMIT 500)"
        }
    };
    sqlx::query(sql)
        .bind(to_db_time(since))
        .execute(conn)
        .await?;
    Ok(())
}

// --- refresh tokens -------------------------------------------------------------------------

/// A refresh token of the sign-in `family_id`, which happened at `signed_in_at`.
pub struct NewRefreshToken<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub family_id: &'a str,
    pub signed_in_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_refresh_token(
    conn: &mut AnyConnection,
    token: &NewRefreshToken<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, token_hash, user_id, family_id, expires_at, created_at, signed_in_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(token.token_hash)
    .bind(token.user_id)
    .bind(token.family_id)
    .bind(to_db_time(token.expires_at))
    .bind(to_db_time(now))
    .bind(to_db_time(token.signed_in_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub enum Spend {
    /// The token was live and is now spent: issue its successor in `family_id`.
    Spent {
        user_id: i64,
        family_id: String,
        /// When the sign-in happened (`None` for tokens from before this was recorded).
        signed_in_at: Option<DateTime<Utc>>,
    },
    /// The token was already spent or revoked: someone is replaying it.
    Replayed {
        user_id: i64,
        family_id: String,
    },
    Unknown,
}

/// Marks a refresh token used, atomically: of two concurrent uses only one succeeds.
pub async fn spend_refresh_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Spend, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct SpentRow {
        user_id: i64,
        family_id: String,
        signed_in_at: Option<DbTime>,
    }
    // Compared as stored text, as the SQL above compares it.
    #[derive(sqlx::FromRow)]
    struct ExistingRow {
        user_id: i64,
        family_id: String,
        expires_at: String,
    }
    let now_text = to_db_time(now);
    let spent: Option<SpentRow> = sqlx::query_as(
        "UPDATE refresh_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
         RETURNING user_id, family_id, signed_in_at",
    )
    .bind(&now_text)
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = spent {
        return Ok(Spend::Spent {
            user_id: row.user_id,
            family_id: row.family_id,
            signed_in_at: row.signed_in_at.and_then(|t| t.0),
        });
    }
    let existing: Option<ExistingRow> = sqlx::query_as(
        "SELECT user_id, family_id, expires_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    match existing {
        Some(row) if row.expires_at <= now_text => Ok(Spend::Unknown),
        Some(row) => Ok(Spend::Replayed {
            user_id: row.user_id,
            family_id: row.family_id,
        }),
        None => Ok(Spend::Unknown),
    }
}

pub async fn revoke_family(
    conn: &mut AnyConnection,
    family_id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(to_db_time(now))
    .bind(family_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Families revoked at or after `since`, with when.
pub async fn revoked_families_since(
    db: &Db,
    since: DateTime<Utc>,
) -> Result<Vec<(String, DateTime<Utc>)>, sqlx::Error> {
    let rows: Vec<(String, DbTime)> = sqlx::query_as(
        "SELECT family_id, MAX(revoked_at) AS revoked_at FROM refresh_tokens \
         WHERE revoked_at IS NOT NULL AND revoked_at >= $1 GROUP BY family_id",
    )
    .bind(to_db_time(since))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(family, at)| (family, at.0.unwrap_or_else(Utc::now)))
        .collect())
}

pub async fn family_of(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(conn)
        .await
}
