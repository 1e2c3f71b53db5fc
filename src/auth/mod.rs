//! Accounts and sign-in: users, passwords, access and refresh tokens, login rate limits.

pub mod domain;
pub mod error;
pub mod http;
pub mod password;
pub mod revocation;
pub mod service;
pub mod store;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::platform::error::ApiError;

/// The signed-in user: any active account with a valid access token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    /// The original API's admin flag: true exactly for the `admin` role.
    pub is_main: bool,
    pub role: Role,
    /// Raised whenever the user's sessions are revoked; tokens issued under a lower one are void.
    pub session_version: i64,
}

/// What a user may do. `admin` is the original's main user; an `accountant` reads the books but
/// is not a member of the fund (pays no fees, takes no loans); a `member` is a member.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Accountant,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Accountant => "accountant",
            Role::Member => "member",
        }
    }

    /// The original API's "main user" is exactly the admin role; no column repeats it.
    pub fn is_main(self) -> bool {
        self == Role::Admin
    }

    pub fn parse(text: &str) -> Role {
        match text {
            "admin" => Role::Admin,
            "accountant" => Role::Accountant,
            _ => Role::Member,
        }
    }
}

impl CurrentUser {
    /// A signed-in user of `role`, for the unit tests of access rules.
    #[cfg(test)]
    pub fn with_role(id: i64, role: Role) -> CurrentUser {
        CurrentUser {
            id,
            username: format!("user{id}"),
            is_main: role.is_main(),
            role,
            session_version: 0,
        }
    }

    /// Members and admins belong to the fund: they pay fees and take part in draws.
    pub fn is_fund_member(&self) -> bool {
        crate::fund::access::is_fund_member(self.role)
    }

    /// Admins and accountants see everyone's books.
    pub fn sees_all_books(&self) -> bool {
        crate::ledger::access::sees_all_books(self.role)
    }
}

/// A signed-in admin or accountant; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct BooksReader(pub CurrentUser);

impl FromRequestParts<AppState> for BooksReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.sees_all_books() {
            return Err(ApiError::Forbidden(
                "Only admins and accountants may do this".into(),
            ));
        }
        Ok(BooksReader(user))
    }
}

/// A signed-in user with the main (admin) role; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct MainUser(pub CurrentUser);

/// The user an access token signs in, if it is valid, unexpired, not revoked (its sign-in, or
/// every session of its user since it was issued), and its user is active. Shared by the API's
/// bearer tokens and the web pages' session cookie.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Option<CurrentUser>, ApiError> {
    let Some(verified) = state.jwt.verify_claims(token, state.now()) else {
        return Ok(None);
    };
    if verified
        .family
        .as_deref()
        .is_some_and(|family| state.revoked.contains(family))
    {
        return Ok(None);
    }
    let user = match state.users.get(&verified.user_id) {
        Some(user) => Some(user),
        None => {
            let user = store::find_active_user(&state.db, verified.user_id).await?;
            if let Some(user) = &user {
                state.users.insert(user.id, user.clone());
            }
            user
        }
    };
    // A revocation raises the version and invalidates the cached user on every instance, so
    // the cache never holds a version older than the database's for long.
    Ok(user.filter(|user| verified.session_version >= user.session_version))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(ApiError::Unauthorized)?;
        authenticate(state, token.trim())
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

impl FromRequestParts<AppState> for MainUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_main {
            return Err(ApiError::Forbidden(
                "Only the fund's main users may do this".into(),
            ));
        }
        Ok(MainUser(user))
    }
}
