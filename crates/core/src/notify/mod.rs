//! Notification channels behind one trait, [`Sender`]: e-mail over SMTP ([`smtp`]), SMS through
//! Kavenegar ([`kavenegar`]) and WhatsApp through Meta's Cloud API ([`whatsapp`]). Each provider
//! is one adapter, laid out like the payment gateways: `mod.rs` makes the call, `types.rs` holds
//! the provider's request and answer and the pure rule that reads the answer.
//!
//! A sender delivers one [`Outgoing`] message and says whether a failure is worth retrying
//! ([`SendError::Retryable`]: the network, the provider, our account or its configuration) or
//! not ([`SendError::Permanent`]: this message, as it is, can never be delivered — a bad
//! recipient, a template that does not exist). What is sent, when, and how often it is retried is
//! the caller's business (the outbox and the job queue); each sender only waits for its turn
//! under the provider's rate limit ([`RateLimit`]), so a burst cannot get the account blocked.
//!
//! Secrets (the Kavenegar key, which travels in the URL, the WhatsApp token, the SMTP password)
//! are [`Secret`]s: never in `Debug`, never in an error's text, never logged.

pub mod attachments;
pub mod contact;
pub mod delivery;
pub mod kavenegar;
pub mod outbox;
pub mod preferences;
mod rate;
pub mod setup;
pub mod smtp;
pub mod templates;
pub mod ticket_notices;
pub mod whatsapp;

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use crate::platform::secret::Secret;

pub use contact::{EmailAddress, MobileNumber};
pub use rate::RateLimit;

/// The ways a message can reach someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    WhatsApp,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::WhatsApp];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "e-mail",
            Channel::Sms => "SMS",
            Channel::WhatsApp => "WhatsApp",
        }
    }

    /// The name the API, the preferences and the delivery log use: `email`, `sms`, `whatsapp`.
    pub fn code(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::WhatsApp => "whatsapp",
        }
    }

    pub fn parse(code: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who a message goes to: an address for e-mail, a mobile number for SMS and WhatsApp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    Email(EmailAddress),
    Mobile(MobileNumber),
}

/// A WhatsApp message template approved in Meta's business manager, and the values of its body's
/// `{{1}}`, `{{2}}`… in order. Outside the 24 hours after the member last wrote to us, WhatsApp
/// delivers only template messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhatsAppTemplate {
    pub name: String,
    /// The template's language as Meta names it: `fa`, `en`, `en_US`.
    pub language_code: String,
    pub parameters: Vec<String>,
}

/// One message to one recipient, already rendered in the recipient's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Recipient,
    /// The e-mail's subject; SMS and WhatsApp do not use it.
    pub subject: String,
    /// The plain text: the SMS, the WhatsApp text, and the e-mail's text part.
    pub text: String,
    /// The e-mail's HTML part, sent beside the text as multipart/alternative.
    pub html: Option<String>,
    /// For WhatsApp: the template to send instead of `text`.
    pub whatsapp_template: Option<WhatsAppTemplate>,
    /// The e-mail's `Message-ID` (`<…@…>`), stable per notification so that a message sent
    /// again after a crash can be recognised as the same one; `None`: a random one.
    pub message_id: Option<String>,
    /// Files sent with an e-mail (an invoice's PDF with its reminder); other channels have none.
    pub attachments: Vec<Attachment>,
}

/// A file attached to an e-mail.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type, e.g. `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The bytes are left out: a PDF in a log line helps nobody.
impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A message the provider accepted, with the id it gave it (for its delivery reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub provider_id: Option<String>,
}

/// Why a message was not sent. The text is for the delivery log and the admins: it never holds
/// a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the network, the provider, or our account (its key, credit or
    /// configuration), none of which is the message's fault.
    #[error("{0}")]
    Retryable(String),
    /// The message, as it is, can never be delivered: retrying would fail the same way.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            SendError::Retryable(reason) | SendError::Permanent(reason) => reason,
        }
    }
}

/// A notification channel. Boxed futures keep the trait object-safe, like `PaymentGateway`: the
/// senders are held as `Arc<dyn Sender>`, and tests may hold others.
pub trait Sender: Send + Sync {
    fn channel(&self) -> Channel;

    /// Delivers `message`, waiting first for the provider's rate limit.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>>;
}

/// The recipient a mobile channel needs, or the permanent error of a message addressed otherwise.
fn mobile_of(channel: Channel, message: &Outgoing) -> Result<&MobileNumber, SendError> {
    match &message.to {
        Recipient::Mobile(number) => Ok(number),
        Recipient::Email(_) => Err(SendError::Permanent(format!(
            "{channel} needs a mobile number, the message is addressed to an e-mail address"
        ))),
    }
}

/// A `reqwest` failure as a retryable reason, without its URL (Kavenegar's holds the key).
fn unreachable(provider: &str, error: reqwest::Error) -> SendError {
    let error = error.without_url();
    let why = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "is unreachable"
    } else {
        "failed to answer"
    };
    SendError::Retryable(format!("{provider} {why}"))
}

fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(crate::platform::outbound::client_builder(timeout)
        // A redirect would be followed and logged with its URL (Kavenegar's holds the key); the
        // providers' APIs do not redirect.
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug() {
        let secret = Secret::new("s3cret-value");
        assert_eq!(secret.expose(), "s3cret-value");
        assert!(!format!("{secret:?}").contains("s3cret"));
    }

    #[test]
    fn a_mobile_channel_refuses_an_email_recipient_for_good() {
        let message = Outgoing {
            to: Recipient::Email(EmailAddress::parse("a@example.com").unwrap()),
            subject: String::new(),
            text: "hi".into(),
            html: None,
            whatsapp_template: None,
            message_id: None,
            attachments: Vec::new(),
        };
        let err = mobile_of(Channel::Sms, &message).unwrap_err();
        assert!(!err.is_retryable(), "{err}");
    }
}
