//! Which channels are on: their configuration (`Config::notify`, read from the environment in
//! `crate::config`) and the senders built from it at start.

use std::sync::Arc;
use std::time::Duration;

use super::{kavenegar, smtp, whatsapp, Channel, Sender};

/// The channels' configuration (`Config::notify`): a channel is `None` when it is off.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    pub smtp: Option<smtp::SmtpSettings>,
    pub kavenegar: Option<kavenegar::KavenegarSettings>,
    pub whatsapp: Option<whatsapp::WhatsAppSettings>,
    /// How long one call to a provider may take.
    pub timeout: Duration,
}

impl NotifyConfig {
    /// Every channel off.
    pub fn off() -> NotifyConfig {
        NotifyConfig {
            smtp: None,
            kavenegar: None,
            whatsapp: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// One line per channel for the start-up log: on, and where to, or off, and why.
    pub fn summary(&self) -> Vec<String> {
        let line = |channel: Channel, on: Option<String>, missing: &str| match on {
            Some(target) => format!("{channel} on: {target}"),
            None => format!("{channel} off: {missing} not set"),
        };
        vec![
            line(
                Channel::Email,
                self.smtp.as_ref().map(|s| s.describe()),
                "SMTP_URL",
            ),
            line(
                Channel::Sms,
                self.kavenegar
                    .as_ref()
                    .map(|k| format!("Kavenegar at {}", k.base_url)),
                "KAVENEGAR_API_KEY",
            ),
            line(
                Channel::WhatsApp,
                self.whatsapp.as_ref().map(|w| match &w.template {
                    Some(name) => format!("Cloud API at {}, template {name}", w.base_url),
                    None => format!(
                        "Cloud API at {}, plain text only (delivered within 24 h of a member's \
                         last message; set WHATSAPP_TEMPLATE)",
                        w.base_url
                    ),
                }),
                "WHATSAPP_TOKEN",
            ),
        ]
    }
}

/// The senders of the configured channels, saying in the log which channels are on and which
/// are off and why.
pub fn build_senders(config: &NotifyConfig) -> anyhow::Result<Vec<Arc<dyn Sender>>> {
    for line in config.summary() {
        tracing::info!("notifications: {line}");
    }
    let mut senders: Vec<Arc<dyn Sender>> = Vec::new();
    if let Some(settings) = &config.smtp {
        senders.push(Arc::new(smtp::SmtpSender::new(settings, config.timeout)?));
    }
    if let Some(settings) = &config.kavenegar {
        senders.push(Arc::new(kavenegar::KavenegarSender::new(
            settings,
            config.timeout,
        )?));
    }
    if let Some(settings) = &config.whatsapp {
        senders.push(Arc::new(whatsapp::WhatsAppSender::new(
            settings,
            config.timeout,
        )?));
    }
    Ok(senders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_which_channels_are_off_and_why() {
        assert_eq!(
            NotifyConfig::off().summary(),
            [
                "e-mail off: SMTP_URL not set",
                "SMS off: KAVENEGAR_API_KEY not set",
                "WhatsApp off: WHATSAPP_TOKEN not set",
            ]
        );
    }
}
