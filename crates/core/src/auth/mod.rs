//! Accounts and sign-in: users, passwords, access and refresh tokens, login rate limits.

pub mod domain;
pub mod error;
pub mod oidc;
pub mod password;
pub mod revocation;
pub mod service;
pub mod store;
pub mod tokens;

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
/// is not a member of the fund (pays no fees, takes no loans); a `lender` reviews loan-request
/// tickets and is not a fund member either; a `member` is a member. For invoicing (seed 004), a
/// `client` is a customer's portal user (linked to one client in `client_users`), a `viewer`
/// reads invoicing and writes nothing; neither is a fund member.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Accountant,
    Lender,
    Member,
    Client,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Accountant => "accountant",
            Role::Lender => "lender",
            Role::Member => "member",
            Role::Client => "client",
            Role::Viewer => "viewer",
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
            "lender" => Role::Lender,
            "client" => Role::Client,
            "viewer" => Role::Viewer,
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
}
