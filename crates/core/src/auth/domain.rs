//! Rules for accounts, as plain functions: what a valid username, password and e-mail are, and
//! when repeated login failures lock an account or an address out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::Digest;
use unicode_normalization::UnicodeNormalization;

/// A username that passed validation, with the key that makes `Sam`, `sam` and `ｓａｍ` one
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    /// The NFKC form of what was typed.
    pub display: String,
    pub key: String,
}

impl Username {
    /// 3–150 characters after NFKC: letters of one script (any), digits, `_`, `.`, `-`; no
    /// bidirectional controls.
    pub fn parse(raw: &str) -> Result<Username, String> {
        let display: String = raw.nfkc().collect();
        if display.chars().any(is_bidi_control) {
            return Err("Username may not contain bidirectional control characters".into());
        }
        let count = display.chars().count();
        if !(3..=150).contains(&count) {
            return Err("Username must be 3 to 150 characters long".into());
        }
        if !display
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("Username may contain only letters, digits, '_', '.' and '-'".into());
        }
        if mixes_scripts(&display) {
            return Err(
                "Username may not mix letters of different scripts (such as Latin and Cyrillic)"
                    .into(),
            );
        }
        Ok(Username {
            key: username_key(&display),
            display,
        })
    }
}

/// U+202A–U+202E (embeddings, overrides) and U+2066–U+2069 (isolates): they make a name display
/// as something other than what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// True when the letters come from more than one script (`раypal` with Cyrillic `р` and `а`).
/// Digits and marks shared by scripts do not count; Han, Hiragana, Katakana, Hangul and Bopomofo
/// are one group, as Japanese and Korean names mix them.
fn mixes_scripts(name: &str) -> bool {
    use unicode_script::{Script, UnicodeScript};
    let mut seen: Option<Script> = None;
    for c in name.chars().filter(|c| c.is_alphabetic()) {
        let script = match c.script() {
            Script::Common | Script::Inherited | Script::Unknown => continue,
            Script::Hiragana | Script::Katakana | Script::Hangul | Script::Bopomofo => Script::Han,
            other => other,
        };
        match seen {
            None => seen = Some(script),
            Some(first) if first != script => return true,
            Some(_) => {}
        }
    }
    false
}

/// The case-insensitive lookup key of a username (also what login attempts are counted under):
/// NFKC, lower-cased, NFKC again (lower-casing can un-normalise), so `ＳＡＭ` finds `sam`.
pub fn username_key(raw: &str) -> String {
    let normalized: String = raw.trim().nfkc().collect();
    normalized.to_lowercase().nfkc().collect()
}

/// The key accounts created before NFKC keys got (lower-cased only). Login looks an account up
/// by both, so those created then, under a name NFKC changes, still sign in as before.
pub fn legacy_username_key(raw: &str) -> String {
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

/// The longest name a login attempt is counted and audited under: no username is longer, so a
/// longer typed name (which cannot be an account) is kept as its hash, and an unauthenticated
/// request cannot make the server store more than this.
pub const MAX_LOGIN_NAME_CHARS: usize = 150;

/// The name a login attempt is counted and audited under: the typed name's lookup key, or
/// `sha256:<hex>` of it when it is longer than any username can be.
pub fn bounded_login_name(key: &str) -> String {
    if key.chars().count() <= MAX_LOGIN_NAME_CHARS {
        return key.to_string();
    }
    let digest = sha2::Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The rate-limit keys one login attempt reserves a password check on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKeys {
    /// This account from this address: `LOGIN_MAX_FAILURES_PER_ACCOUNT`. Locking the pair, not
    /// the account, keeps an attacker from locking the owner out from elsewhere.
    pub pair: String,
    /// This address, any account: `LOGIN_MAX_FAILURES_PER_IP`.
    pub address: String,
    /// This account, any address: `LOGIN_MAX_FAILURES_PER_ACCOUNT_TOTAL`.
    pub account: String,
}

impl AttemptKeys {
    /// `name` from [`bounded_login_name`]; `client_ip` is a parsed address (it has no `|`, so
    /// the pair key is unambiguous).
    pub fn new(name: &str, client_ip: &str) -> AttemptKeys {
        AttemptKeys {
            pair: format!("pair:{client_ip}|{name}"),
            address: format!("ip:{client_ip}"),
            account: format!("account:{name}"),
        }
    }
}

/// The password checks the pair may still reserve: its own limit while the account is under
/// its ceiling, and past the ceiling one, for an address that has not tried it in the window.
pub fn pair_limit(per_pair: i64, account_under_ceiling: bool) -> i64 {
    if account_under_ceiling {
        per_pair
    } else {
        1
    }
}

/// Seconds to wait before trying again when a key's window, started at `window_start`, is full.
pub fn lockout_remaining(
    window_start: Option<DateTime<Utc>>,
    window: Duration,
    now: DateTime<Utc>,
) -> u64 {
    let window = chrono::Duration::from_std(window).unwrap_or_default();
    let remaining = window_start.map_or(window.num_seconds(), |start| {
        (start + window - now).num_seconds()
    });
    remaining.max(1) as u64
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
    fn usernames_are_nfkc_and_one_script() {
        let wide = Username::parse("ｓａｍ").unwrap();
        assert_eq!((wide.display.as_str(), wide.key.as_str()), ("sam", "sam"));
        assert_eq!(username_key("ＳＡＭ"), "sam");
        assert_eq!(username_key(" Sam "), "sam");
        assert_eq!(username_key("ﬁona"), "fiona");
        for ok in [
            "علی_رضا",
            "иван.петров",
            "Σωκράτης",
            "sam-42",
            "ali۱۲",
            "山田たろう",
            "김민준",
        ] {
            assert!(Username::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
        // Latin with Cyrillic а/р, Latin with Greek ο, Arabic with Latin.
        for mixed in ["pаypаl", "раypal", "gοogle", "ali_علی"] {
            let err = Username::parse(mixed).unwrap_err();
            assert!(err.contains("scripts"), "{mixed:?}: {err}");
        }
        for bidi in ["sam\u{202E}lanigiro", "ab\u{2066}c\u{2069}", "\u{202A}abc"] {
            let err = Username::parse(bidi).unwrap_err();
            assert!(err.contains("bidirectional"), "{bidi:?}: {err}");
        }
        assert_eq!(legacy_username_key("ＳＡＭ"), "ｓａｍ");
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
    fn lockout_lasts_until_the_window_ends() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let window = Duration::from_secs(900);
        let started = now - chrono::Duration::seconds(100);
        assert_eq!(lockout_remaining(Some(started), window, now), 800);
        let ended = now - chrono::Duration::seconds(900);
        assert_eq!(lockout_remaining(Some(ended), window, now), 1);
        assert_eq!(lockout_remaining(None, window, now), 900);
    }

    #[test]
    fn attempts_are_keyed_by_pair_address_and_account_and_bounded() {
        let keys = AttemptKeys::new("sam", "10.0.0.1");
        assert_eq!(keys.pair, "pair:10.0.0.1|sam");
        assert_eq!(keys.address, "ip:10.0.0.1");
        assert_eq!(keys.account, "account:sam");
        assert_eq!(pair_limit(5, true), 5);
        assert_eq!(pair_limit(5, false), 1);
        assert_eq!(bounded_login_name("sam"), "sam");
        let long = "ж".repeat(150);
        assert_eq!(bounded_login_name(&long), long);
        let huge = bounded_login_name(&"x".repeat(60 * 1024));
        assert!(
            huge.starts_with("sha256:") && huge.len() == 7 + 64,
            "{huge}"
        );
        assert_ne!(huge, bounded_login_name(&"y".repeat(60 * 1024)));
    }
}
