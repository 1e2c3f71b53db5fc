//! Rules for accounts, as plain functions: what a valid username, password and e-mail are, and
//! when repeated login failures lock an account or an address out.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A username that passed validation, with the key that makes `Sam` and `sam` one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    pub key: String,
}

impl Username {
    /// 3–150 characters: letters (any script), digits, `_`, `.`, `-`.
    pub fn parse(raw: &str) -> Result<Username, String> {
        let count = raw.chars().count();
        if !(3..=150).contains(&count) {
            return Err("Username must be 3 to 150 characters long".into());
        }
        if !raw
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("Username may contain only letters, digits, '_', '.' and '-'".into());
        }
        Ok(Username {
            display: raw.to_string(),
            key: username_key(raw),
        })
    }
}

/// The case-insensitive lookup key of a username (also used for login attempts).
pub fn username_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

pub fn validate_password(password: &str) -> Result<(), String> {
    let count = password.chars().count();
    if count < 8 {
        return Err("Password must be at least 8 characters long".into());
    }
    // Hashing cost grows with length; nobody types a password this long.
    if count > 256 {
        return Err("Password must be at most 256 characters long".into());
    }
    Ok(())
}

/// A pragmatic e-mail check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn validate_email(email: &str) -> Result<(), String> {
    let invalid = || Err("Enter a valid e-mail address".to_string());
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid();
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid();
    };
    if local.is_empty() || domain.contains('@') || local.len() > 64 {
        return invalid();
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        return invalid();
    }
    Ok(())
}

pub fn validate_name(name: &str) -> Result<(), String> {
    if name.chars().count() > 150 {
        return Err("Must be at most 150 characters long".into());
    }
    Ok(())
}

/// Amounts a member chooses (a loan request) may be zero but not negative.
pub fn non_negative(amount: crate::platform::money::Amount) -> Result<(), String> {
    if amount < crate::platform::money::Amount::ZERO {
        return Err("Input should be greater than or equal to 0".into());
    }
    Ok(())
}

/// Failed logins seen for one account or one client address within the window.
#[derive(Debug, Clone, Copy)]
pub struct FailureCount {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Seconds to wait before trying again, when `failures` have reached `limit` in `window`.
pub fn lockout_remaining(
    failures: FailureCount,
    limit: i64,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<u64> {
    if failures.count < limit {
        return None;
    }
    let oldest = failures.oldest?;
    let window = chrono::Duration::from_std(window).ok()?;
    let frees_at = oldest + window;
    let remaining = (frees_at - now).num_seconds();
    Some(remaining.max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn usernames_accept_any_script_and_fold_case() {
        assert_eq!(Username::parse("Sam.K-1_").unwrap().key, "sam.k-1_");
        assert_eq!(Username::parse("علی_رضا").unwrap().display, "علی_رضا");
        assert_eq!(
            Username::parse("SAM").unwrap().key,
            Username::parse("sam").unwrap().key
        );
        for bad in [
            "ab",
            "has space",
            "semi;colon",
            "emoji😀",
            &"x".repeat(151),
            "",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Username::parse(&"ж".repeat(150)).is_ok());
    }

    #[test]
    fn passwords_and_emails() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("رمزعبور۱۲۳").is_ok());
        assert!(validate_password(&"p".repeat(2000)).is_err());
        assert!(validate_email("a@example.com").is_ok());
        for bad in [
            "a",
            "a@",
            "@b.com",
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@b..com",
            "a@-b.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn lockout_lasts_until_the_oldest_failure_leaves_the_window() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let window = Duration::from_secs(900);
        let recent = FailureCount {
            count: 5,
            oldest: Some(now - chrono::Duration::seconds(100)),
        };
        assert_eq!(lockout_remaining(recent, 5, window, now), Some(800));
        let fewer = FailureCount { count: 4, ..recent };
        assert_eq!(lockout_remaining(fewer, 5, window, now), None);
        let edge = FailureCount {
            count: 5,
            oldest: Some(now - chrono::Duration::seconds(900)),
        };
        assert_eq!(lockout_remaining(edge, 5, window, now), Some(1));
    }
}
