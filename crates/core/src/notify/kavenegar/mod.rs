//! SMS through Kavenegar.
//!
//! Contract (Kavenegar's REST documentation): `POST {base}/v1/{API_KEY}/sms/send.json`,
//! form-encoded `receptor` (an Iranian mobile as `09121234567`, another country's as
//! `00` and its E.164 digits), `message` (UTF-8), and `sender` (the account's line; left out,
//! Kavenegar uses the account's default). The answer is read by [`types::read_answer`].
//!
//! **The API key is part of the URL**, so the URL is never logged and never put in an error:
//! `reqwest`'s errors carry their URL, and every one is stripped of it (`without_url`) before its
//! text is used.

use std::time::Duration;

use futures_util::future::BoxFuture;

pub use types::{read_answer, KavenegarAnswer};

use super::{
    http_client, mobile_of, unreachable, Channel, Delivered, MobileNumber, Outgoing, RateLimit,
    Secret, SendError, Sender,
};

mod types;

pub const DEFAULT_BASE_URL: &str = "https://api.kavenegar.com";

#[derive(Clone, Debug)]
pub struct KavenegarSettings {
    pub base_url: String,
    pub api_key: Secret,
    /// The sending line; `None` for the account's default.
    pub sender: Option<String>,
    pub per_second: u32,
}

pub struct KavenegarSender {
    http: reqwest::Client,
    settings: KavenegarSettings,
    limit: RateLimit,
}

impl KavenegarSender {
    pub fn new(settings: &KavenegarSettings, timeout: Duration) -> anyhow::Result<Self> {
        Ok(KavenegarSender {
            http: http_client(timeout)?,
            settings: KavenegarSettings {
                base_url: settings.base_url.trim_end_matches('/').to_string(),
                ..settings.clone()
            },
            limit: RateLimit::per_second(settings.per_second),
        })
    }

    async fn send_sms(&self, to: &MobileNumber, text: &str) -> Result<Delivered, SendError> {
        if text.trim().is_empty() {
            return Err(SendError::Permanent("the SMS has no text".into()));
        }
        let receptor = receptor(to);
        let mut form = vec![("receptor", receptor.as_str()), ("message", text)];
        if let Some(sender) = &self.settings.sender {
            form.push(("sender", sender));
        }
        self.limit.wait().await;
        let url = format!(
            "{}/v1/{}/sms/send.json",
            self.settings.base_url,
            self.settings.api_key.expose()
        );
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable("Kavenegar", e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unreachable("Kavenegar", e))?;
        match serde_json::from_slice::<KavenegarAnswer>(&body) {
            Ok(answer) => read_answer(&answer),
            // No answer of Kavenegar's (a proxy's error page, say): only the HTTP status says why.
            Err(_) if status.is_client_error() && status.as_u16() != 429 => {
                Err(SendError::Permanent(format!(
                    "Kavenegar answered {} without a readable body",
                    status.as_u16()
                )))
            }
            Err(_) => Err(SendError::Retryable(format!(
                "Kavenegar answered {} without a readable body",
                status.as_u16()
            ))),
        }
    }
}

/// The receptor as Kavenegar documents it: `09121234567` for Iran, `00…` for abroad.
pub fn receptor(to: &MobileNumber) -> String {
    to.iranian_national()
        .unwrap_or_else(|| format!("00{}", to.digits()))
}

impl Sender for KavenegarSender {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let to = mobile_of(Channel::Sms, message)?;
            self.send_sms(to, &message.text).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receptors_are_in_kavenegars_form() {
        let iran = MobileNumber::parse("+989121234567").unwrap();
        assert_eq!(receptor(&iran), "09121234567");
        let uk = MobileNumber::parse("+447700900123").unwrap();
        assert_eq!(receptor(&uk), "00447700900123");
    }

    #[test]
    fn the_key_is_not_in_the_settings_debug() {
        let settings = KavenegarSettings {
            base_url: DEFAULT_BASE_URL.into(),
            api_key: Secret::new("ABCDEF-KEY"),
            sender: None,
            per_second: 5,
        };
        assert!(!format!("{settings:?}").contains("ABCDEF-KEY"));
    }
}
