//! The OpenID providers Saghat signs in with, read from `OIDC_<NAME>_…` variables.

use anyhow::{bail, Context};

use crate::auth::Role;
use crate::platform::secret::Secret;

/// One provider: `OIDC_<NAME>_ISSUER` names it; the other variables refine it.
#[derive(Clone, Debug)]
pub struct OidcProvider {
    /// `<NAME>` lower-cased: the provider's part of the callback path (`/auth/oidc/<name>/…`).
    pub name: String,
    /// What the sign-in button says: `OIDC_<NAME>_LABEL`, or the name.
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// Asked for besides `openid`: `OIDC_<NAME>_SCOPES` (default `email profile`).
    pub scopes: Vec<String>,
    /// `OIDC_<NAME>_LINK_BY_EMAIL=true`: an identity no account is linked to yet is linked to
    /// the one active account with the same e-mail, when the provider says it verified that
    /// address. Off by default: otherwise only a signed-in member links their own identity.
    pub link_by_email: bool,
    /// `OIDC_<NAME>_ROLE_CLAIM` and `OIDC_<NAME>_ROLE_MAP` (`fund-admins=admin,books=accountant`):
    /// a claim whose value (a string or a list of strings) gives the account its role at each
    /// sign-in. Without both, the provider never changes a role.
    pub role_claim: Option<String>,
    pub role_map: Vec<(String, Role)>,
    /// `OIDC_<NAME>_API_REDIRECT_URIS`: where an API client may have the provider send its
    /// code (RFC 8252: a loopback address or the app's own scheme), compared exactly. Each must
    /// also be registered with the provider. Empty: API clients cannot sign in with it.
    pub api_redirect_uris: Vec<String>,
}

impl OidcProvider {
    /// The role the provider's claim maps to, if configured and present: the first mapping, in
    /// the order configured, that one of the claim's values matches.
    pub fn mapped_role(&self, claim: Option<&serde_json::Value>) -> Option<Role> {
        self.role_claim.as_ref()?;
        let values: Vec<&str> = match claim? {
            serde_json::Value::String(one) => vec![one.as_str()],
            serde_json::Value::Array(many) => many.iter().filter_map(|v| v.as_str()).collect(),
            _ => return None,
        };
        self.role_map
            .iter()
            .find(|(value, _)| values.contains(&value.as_str()))
            .map(|(_, role)| *role)
    }
}

/// Every provider configured in `vars` (the process's environment), sorted by name.
pub fn providers_from(
    vars: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<Vec<OidcProvider>> {
    let vars: Vec<(String, String)> = vars.collect();
    let get = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut names: Vec<String> = vars
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("OIDC_")?.strip_suffix("_ISSUER"))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    let mut providers = Vec::new();
    for upper in names {
        let key = |suffix: &str| format!("OIDC_{upper}_{suffix}");
        if upper.is_empty()
            || !upper
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            bail!(
                "{}: the provider's name must be capital letters and digits",
                key("ISSUER")
            );
        }
        let issuer = get(&key("ISSUER")).with_context(|| format!("{} is empty", key("ISSUER")))?;
        let parsed = url::Url::parse(&issuer)
            .with_context(|| format!("{}={issuer:?} is not a URL", key("ISSUER")))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            bail!("{}={issuer:?} must be an https:// URL", key("ISSUER"));
        }
        let client_id =
            get(&key("CLIENT_ID")).with_context(|| format!("{} is required", key("CLIENT_ID")))?;
        let scopes = get(&key("SCOPES"))
            .unwrap_or_else(|| "email profile".into())
            .split([' ', ','])
            .filter(|s| !s.is_empty() && *s != "openid")
            .map(str::to_string)
            .collect();
        let link_by_email = match get(&key("LINK_BY_EMAIL")).as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => bail!("{}={other:?} must be true or false", key("LINK_BY_EMAIL")),
        };
        let role_claim = get(&key("ROLE_CLAIM"));
        let role_map = match get(&key("ROLE_MAP")) {
            None => Vec::new(),
            Some(text) => {
                parse_role_map(&text).with_context(|| format!("{}={text:?}", key("ROLE_MAP")))?
            }
        };
        if role_claim.is_some() == role_map.is_empty() {
            bail!(
                "{} and {} go together: a claim and what its values mean",
                key("ROLE_CLAIM"),
                key("ROLE_MAP")
            );
        }
        let name = upper.to_ascii_lowercase();
        providers.push(OidcProvider {
            label: get(&key("LABEL")).unwrap_or_else(|| name.clone()),
            name,
            issuer,
            client_id,
            client_secret: get(&key("CLIENT_SECRET")).map(Secret::new),
            scopes,
            link_by_email,
            role_claim,
            role_map,
            api_redirect_uris: get(&key("API_REDIRECT_URIS"))
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    Ok(providers)
}

fn parse_role_map(text: &str) -> anyhow::Result<Vec<(String, Role)>> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (value, role) = pair
                .rsplit_once('=')
                .with_context(|| format!("{pair:?} is not value=role"))?;
            let role = match role.trim() {
                "admin" => Role::Admin,
                "accountant" => Role::Accountant,
                "lender" => Role::Lender,
                "member" => Role::Member,
                "client" => Role::Client,
                "viewer" => Role::Viewer,
                other => bail!("{other:?} is not a role"),
            };
            Ok((value.trim().to_string(), role))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn a_provider_is_read_with_its_defaults() {
        let found = providers_from(vars(&[
            ("OIDC_CORP_ISSUER", "https://id.example.com"),
            ("OIDC_CORP_CLIENT_ID", "saghat"),
            ("OIDC_CORP_CLIENT_SECRET", "s3cret"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(found.len(), 1);
        let corp = &found[0];
        assert_eq!(corp.name, "corp");
        assert_eq!(corp.label, "corp");
        assert_eq!(corp.scopes, ["email", "profile"]);
        assert!(!corp.link_by_email);
        assert_eq!(corp.client_secret.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(corp.mapped_role(Some(&serde_json::json!("admin"))), None);
    }

    #[test]
    fn a_provider_without_a_client_or_with_a_bad_issuer_is_refused() {
        let no_client = providers_from(vars(&[("OIDC_X_ISSUER", "https://id.example.com")]));
        assert!(no_client
            .unwrap_err()
            .to_string()
            .contains("OIDC_X_CLIENT_ID"));
        let ftp = providers_from(vars(&[
            ("OIDC_X_ISSUER", "ftp://id.example.com"),
            ("OIDC_X_CLIENT_ID", "c"),
        ]));
        assert!(ftp.is_err());
        let half_map = providers_from(vars(&[
            ("OIDC_X_ISSUER", "https://id.example.com"),
            ("OIDC_X_CLIENT_ID", "c"),
            ("OIDC_X_ROLE_CLAIM", "groups"),
        ]));
        assert!(half_map.unwrap_err().to_string().contains("go together"));
    }

    #[test]
    fn roles_come_only_from_a_configured_mapping() {
        let found = providers_from(vars(&[
            ("OIDC_X_ISSUER", "https://id.example.com"),
            ("OIDC_X_CLIENT_ID", "c"),
            ("OIDC_X_ROLE_CLAIM", "groups"),
            ("OIDC_X_ROLE_MAP", "fund-admins=admin, books=accountant"),
        ]))
        .unwrap();
        let x = &found[0];
        let groups = serde_json::json!(["staff", "books"]);
        assert_eq!(x.mapped_role(Some(&groups)), Some(Role::Accountant));
        assert_eq!(
            x.mapped_role(Some(&serde_json::json!("fund-admins"))),
            Some(Role::Admin)
        );
        assert_eq!(x.mapped_role(Some(&serde_json::json!(["staff"]))), None);
        assert_eq!(x.mapped_role(None), None);
        let bad = providers_from(vars(&[
            ("OIDC_X_ISSUER", "https://id.example.com"),
            ("OIDC_X_CLIENT_ID", "c"),
            ("OIDC_X_ROLE_CLAIM", "groups"),
            ("OIDC_X_ROLE_MAP", "x=superuser"),
        ]));
        assert!(bad.is_err());
    }
}
