//! Each user's contact data and notification preferences: the language messages are written
//! in, the channels they go by, the addresses, and the opt-out of reminders. A user who never
//! chose has the defaults (Persian, e-mail only, reminders on). The e-mail address is the
//! account's own (`users.email`); the rest is in `notification_preferences`.

use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::contact::{EmailAddress, MobileNumber};
use super::Channel;
use crate::auth::CurrentUser;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::clock::to_db_time;
use crate::platform::lang::Lang;
use crate::platform::validation::FieldError;
use crate::Ctx;

/// A user's preferences as stored, valid by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preferences {
    pub language: Lang,
    pub email: Option<EmailAddress>,
    pub mobile: Option<MobileNumber>,
    /// The channels the user wants, in [`Channel::ALL`]'s order.
    pub channels: Vec<Channel>,
    /// False when the user opted out of reminders.
    pub reminders: bool,
}

impl Preferences {
    pub fn defaults(email: Option<EmailAddress>) -> Preferences {
        Preferences {
            language: Lang::Fa,
            email,
            mobile: None,
            channels: vec![Channel::Email],
            reminders: true,
        }
    }

    pub fn view(&self) -> PreferencesView {
        PreferencesView {
            language: self.language.code().into(),
            email: self
                .email
                .as_ref()
                .map(|e| e.as_str().to_string())
                .unwrap_or_default(),
            mobile: self
                .mobile
                .as_ref()
                .map(|m| m.as_e164().to_string())
                .unwrap_or_default(),
            channels: self.channels.iter().map(|c| c.code().to_string()).collect(),
            reminders: self.reminders,
        }
    }
}

/// The preferences as the API shows them.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct PreferencesView {
    /// `fa` (the default) or `en`: the language notices are written in.
    pub language: String,
    /// The account's e-mail address, `""` for none.
    pub email: String,
    /// The mobile number in E.164 (`+989121234567`), `""` for none.
    pub mobile: String,
    /// Any of `email`, `sms`, `whatsapp` (default `["email"]`).
    pub channels: Vec<String>,
    /// Whether the monthly fee reminders and "few left to pay" notices are sent. Transactional
    /// notices (payment recorded, loan settled, draw result) are always sent.
    pub reminders: bool,
}

/// New preferences as a user typed them, checked by [`PreferencesInput::check`].
#[derive(Clone, Debug, Default)]
pub struct PreferencesInput {
    pub language: String,
    pub email: String,
    pub mobile: String,
    pub channels: Vec<String>,
    pub reminders: bool,
}

impl PreferencesInput {
    /// The preferences, or every problem at once, each under its field.
    pub fn check(&self) -> Result<Preferences, Vec<FieldError>> {
        let mut problems = vec![];
        let language = Lang::parse(self.language.trim());
        if language.is_none() {
            problems.push(FieldError::body(
                "language",
                "enum",
                "Input should be 'fa' or 'en'",
            ));
        }
        let email = match self.email.trim() {
            "" => None,
            text => match EmailAddress::parse(text) {
                Ok(email) => Some(email),
                Err(e) => {
                    problems.push(FieldError::body("email", "value_error", e.to_string()));
                    None
                }
            },
        };
        let mut mobile_ok = true;
        let mobile = match self.mobile.trim() {
            "" => None,
            text => match MobileNumber::parse(text) {
                Ok(number) => Some(number),
                Err(e) => {
                    mobile_ok = false;
                    problems.push(FieldError::body("mobile", "value_error", e.to_string()));
                    None
                }
            },
        };
        let mut wanted = vec![];
        for code in &self.channels {
            match Channel::parse(code.trim()) {
                Some(channel) if !wanted.contains(&channel) => wanted.push(channel),
                Some(_) => problems.push(FieldError::body(
                    "channels",
                    "value_error",
                    format!("'{}' is listed twice", code.trim()),
                )),
                None => problems.push(FieldError::body(
                    "channels",
                    "enum",
                    "Each channel should be 'email', 'sms' or 'whatsapp'",
                )),
            }
        }
        if wanted.contains(&Channel::Email) && email.is_none() && self.email.trim().is_empty() {
            problems.push(FieldError::body(
                "email",
                "missing",
                "E-mail notifications need an e-mail address",
            ));
        }
        let needs_mobile = wanted.contains(&Channel::Sms) || wanted.contains(&Channel::WhatsApp);
        if needs_mobile && mobile_ok && mobile.is_none() {
            problems.push(FieldError::body(
                "mobile",
                "missing",
                "SMS and WhatsApp notifications need a mobile number",
            ));
        }
        match language {
            Some(language) if problems.is_empty() => Ok(Preferences {
                language,
                email,
                mobile,
                channels: Channel::ALL
                    .into_iter()
                    .filter(|c| wanted.contains(c))
                    .collect(),
                reminders: self.reminders,
            }),
            _ => Err(problems),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreferencesError {
    #[error("invalid preferences")]
    Invalid(Vec<FieldError>),
    #[error("the user does not exist")]
    UserNotFound,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct PreferencesRow {
    email: String,
    // NULL when the user never chose (no row to join).
    language: Option<String>,
    mobile: Option<String>,
    email_on: Option<i64>,
    sms_on: Option<i64>,
    whatsapp_on: Option<i64>,
    reminders_off: Option<i64>,
}

/// The user's preferences (the defaults when they never chose), `None` for no such user.
pub async fn load(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<Preferences>, sqlx::Error> {
    let row: Option<PreferencesRow> = sqlx::query_as(
        "SELECT u.email, p.language, p.mobile, p.email_on, p.sms_on, p.whatsapp_on, p.reminders_off \
         FROM users u LEFT JOIN notification_preferences p ON p.user_id = u.id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| {
        // What is stored was checked when it was written; an address that no longer parses
        // (an e-mail saved before it was validated) reads as none.
        let email = EmailAddress::parse(&r.email).ok();
        if r.language.is_none() {
            return Preferences::defaults(email);
        }
        let on = |flag: Option<i64>| flag.unwrap_or(0) != 0;
        let flags = [on(r.email_on), on(r.sms_on), on(r.whatsapp_on)];
        Preferences {
            language: r
                .language
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or(Lang::Fa),
            email,
            mobile: r
                .mobile
                .as_deref()
                .and_then(|m| MobileNumber::parse(m).ok()),
            channels: Channel::ALL
                .into_iter()
                .zip(flags)
                .filter_map(|(c, on)| on.then_some(c))
                .collect(),
            reminders: !on(r.reminders_off),
        }
    }))
}

/// Saves the signed-in user's preferences (and e-mail address) with an audit entry, in one
/// transaction.
pub async fn change(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
    input: &PreferencesInput,
) -> Result<Preferences, PreferencesError> {
    let wanted = input.check().map_err(PreferencesError::Invalid)?;
    let now = ctx.now();
    // Read before the transaction: on SQLite a transaction that reads first and then writes
    // fails at once (SQLITE_BUSY) when another connection, such as the job queue's, wrote in
    // between. What was there before only serves the audit entry.
    let mut conn = ctx.db.pool.acquire().await?;
    let before = load(&mut conn, user.id)
        .await?
        .ok_or(PreferencesError::UserNotFound)?;
    drop(conn);
    let mut tx = ctx.db.begin_write().await?;
    let has = |c| i64::from(wanted.channels.contains(&c));
    let email = wanted.email.as_ref().map(|e| e.as_str()).unwrap_or("");
    let mobile = wanted.mobile.as_ref().map(|m| m.as_e164()).unwrap_or("");
    sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
        .bind(email)
        .bind(user.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO notification_preferences \
         (user_id, language, mobile, email_on, sms_on, whatsapp_on, reminders_off, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (user_id) DO UPDATE SET language = excluded.language, mobile = excluded.mobile, \
         email_on = excluded.email_on, sms_on = excluded.sms_on, whatsapp_on = excluded.whatsapp_on, \
         reminders_off = excluded.reminders_off, updated_at = excluded.updated_at",
    )
    .bind(user.id)
    .bind(wanted.language.code())
    .bind(mobile)
    .bind(has(Channel::Email))
    .bind(has(Channel::Sms))
    .bind(has(Channel::WhatsApp))
    .bind(i64::from(!wanted.reminders))
    .bind(to_db_time(now))
    .execute(&mut **tx)
    .await?;
    // Which fields changed, not their values: addresses stay out of the audit log.
    let (b, a) = (before.view(), wanted.view());
    let changed: Vec<&str> = [
        ("language", b.language != a.language),
        ("email", b.email != a.email),
        ("mobile", b.mobile != a.mobile),
        ("channels", b.channels != a.channels),
        ("reminders", b.reminders != a.reminders),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "user_changed",
        target: format!("user:{}", user.id),
        details: json!({
            "source": "notification_preferences",
            "changed": changed,
            "after": { "language": a.language, "channels": a.channels, "reminders": a.reminders },
        }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    ctx.invalidate(&format!("user:{}", user.id)).await;
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(channels: &[&str], email: &str, mobile: &str) -> PreferencesInput {
        PreferencesInput {
            language: "en".into(),
            email: email.into(),
            mobile: mobile.into(),
            channels: channels.iter().map(|c| c.to_string()).collect(),
            reminders: false,
        }
    }

    fn fields(problems: &[FieldError]) -> Vec<&str> {
        problems.iter().map(|p| p.loc[1].as_str()).collect()
    }

    #[test]
    fn good_preferences_are_normalised() {
        let p = input(&["sms", "email"], " a@example.com ", "0912 123 4567")
            .check()
            .unwrap();
        assert_eq!(p.language, Lang::En);
        assert_eq!(p.channels, [Channel::Email, Channel::Sms]);
        assert_eq!(p.mobile.unwrap().as_e164(), "+989121234567");
        assert_eq!(p.email.unwrap().as_str(), "a@example.com");
        assert!(!p.reminders);
        assert!(input(&[], "", "").check().unwrap().channels.is_empty());
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let mut bad = input(&["email", "pigeon", "email"], "not-an-address", "12345");
        bad.language = "de".into();
        let problems = bad.check().unwrap_err();
        assert_eq!(
            fields(&problems),
            ["language", "email", "mobile", "channels", "channels"]
        );
    }

    #[test]
    fn a_channel_needs_its_address() {
        let problems = input(&["email", "whatsapp"], "", "").check().unwrap_err();
        assert_eq!(fields(&problems), ["email", "mobile"]);
    }
}
