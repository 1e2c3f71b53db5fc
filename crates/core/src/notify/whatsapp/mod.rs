//! WhatsApp through Meta's Cloud API.
//!
//! Contract (Meta's Cloud API reference): `POST {base}/{version}/{phone_number_id}/messages`
//! with `Authorization: Bearer {token}` and a JSON [`types::MessageRequest`]: a `template`
//! message when the outgoing message names one (a business may start a conversation, or write
//! more than 24 hours after the member last did, only with an approved template), plain `text`
//! otherwise. The answer names the message (`messages[0].id`, a `wamid.…`); an error is read by
//! [`types::read_error`].

use std::time::Duration;

use futures_util::future::BoxFuture;

pub use types::{read_error, ErrorAnswer, GraphError, MessageAnswer, MessageRequest};

use super::{
    http_client, mobile_of, unreachable, Channel, Delivered, Outgoing, RateLimit, Secret,
    SendError, Sender,
};

mod types;

pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";

#[derive(Clone, Debug)]
pub struct WhatsAppSettings {
    pub base_url: String,
    pub api_version: String,
    pub phone_number_id: String,
    pub token: Secret,
    pub per_second: u32,
    /// `WHATSAPP_TEMPLATE`: an approved template whose body is one parameter, `{{1}}`, in
    /// Persian (`fa`) and English (`en`); Saghat's notices go out as it, with the message as
    /// the parameter. Without it they go as plain text, which WhatsApp delivers only within 24
    /// hours of the member's last message to the fund's number.
    pub template: Option<String>,
}

pub struct WhatsAppSender {
    http: reqwest::Client,
    url: String,
    token: Secret,
    limit: RateLimit,
}

impl WhatsAppSender {
    pub fn new(settings: &WhatsAppSettings, timeout: Duration) -> anyhow::Result<Self> {
        Ok(WhatsAppSender {
            http: http_client(timeout)?,
            url: format!(
                "{}/{}/{}/messages",
                settings.base_url.trim_end_matches('/'),
                settings.api_version,
                settings.phone_number_id
            ),
            token: settings.token.clone(),
            limit: RateLimit::per_second(settings.per_second),
        })
    }

    /// The endpoint messages are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn post(&self, request: &MessageRequest<'_>) -> Result<Delivered, SendError> {
        self.limit.wait().await;
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(self.token.expose())
            .json(request)
            .send()
            .await
            .map_err(|e| unreachable("WhatsApp", e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unreachable("WhatsApp", e))?;
        if status.is_success() {
            let answer: MessageAnswer = serde_json::from_slice(&body).map_err(|_| {
                SendError::Retryable(
                    "WhatsApp accepted the message with an unreadable answer".into(),
                )
            })?;
            return Ok(Delivered {
                provider_id: answer.messages.into_iter().next().map(|m| m.id),
            });
        }
        match serde_json::from_slice::<ErrorAnswer>(&body) {
            Ok(answer) => Err(read_error(&answer.error)),
            Err(_) => Err(SendError::Retryable(format!(
                "WhatsApp answered {} without a readable error",
                status.as_u16()
            ))),
        }
    }
}

impl Sender for WhatsAppSender {
    fn channel(&self) -> Channel {
        Channel::WhatsApp
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let to = mobile_of(Channel::WhatsApp, message)?;
            if message.whatsapp_template.is_none() && message.text.trim().is_empty() {
                return Err(SendError::Permanent(
                    "the WhatsApp message has no text".into(),
                ));
            }
            let request = MessageRequest::new(
                to.digits(),
                &message.text,
                message.whatsapp_template.as_ref(),
            );
            self.post(&request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_documented_one() {
        let sender = WhatsAppSender::new(
            &WhatsAppSettings {
                base_url: "https://graph.facebook.com/".into(),
                api_version: DEFAULT_API_VERSION.into(),
                phone_number_id: "106540352242922".into(),
                token: Secret::new("EAAG-token"),
                per_second: 20,
                template: None,
            },
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            sender.url(),
            "https://graph.facebook.com/v21.0/106540352242922/messages"
        );
    }
}
