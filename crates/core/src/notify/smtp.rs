//! E-mail over SMTP with `lettre`.
//!
//! `SMTP_URL` says where and how:
//!
//! | URL | connection |
//! | --- | --- |
//! | `smtps://host[:465]` | TLS from the first byte (implicit TLS, RFC 8314), the safest |
//! | `smtp://host[:587]` | STARTTLS when the server offers it, plain otherwise |
//! | `smtp://host[:587]?tls=required` | STARTTLS or no mail (refuses a server that does not offer it) |
//! | `smtp://host[:25]?tls=none` | plain text, for a relay on the same machine or network |
//!
//! `user:password@` in the URL (percent-encoded) signs in. A password never crosses in plain
//! text: with credentials, `smtp://` requires STARTTLS (only an explicit `?tls=none` sends them
//! in the clear). `SMTP_TLS_CA_FILE` adds a PEM certificate authority to the public ones
//! (Mozilla's), for a private relay or a test server.
//!
//! Each message is `multipart/alternative` (text, then HTML) when it has HTML, else plain text,
//! inside a `multipart/mixed` with its attachments when it has files;
//! headers and bodies are UTF-8 (RFC 2047 encoded words, base64 or quoted-printable bodies), and
//! each has its own `Message-ID` and `Date`.
//!
//! Errors: a connection, TLS or timeout failure, a 4xx answer, or a refused sign-in (our
//! account's problem) are retryable; any other 5xx answer (a mailbox that does not exist, a
//! message refused) and an address lettre cannot use are permanent.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::future::BoxFuture;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Channel, Delivered, Outgoing, RateLimit, Recipient, Secret, SendError, Sender};

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the start.
    ImplicitTls,
    /// `smtp://?tls=required`, or `smtp://` with credentials: STARTTLS or no mail.
    StartTlsRequired,
    /// `smtp://`: STARTTLS when offered.
    StartTlsOpportunistic,
    /// `smtp://?tls=none`: never TLS.
    Plain,
}

#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Mailbox,
    /// A PEM file of extra certificate authorities to trust.
    pub tls_ca_file: Option<PathBuf>,
    pub per_second: u32,
}

impl SmtpSettings {
    /// Reads `SMTP_URL` and `SMTP_FROM`. An error names the variable, never the password.
    pub fn parse(
        url: &str,
        from: &str,
        tls_ca_file: Option<PathBuf>,
        per_second: u32,
    ) -> anyhow::Result<SmtpSettings> {
        let form = "use smtps://host:465, smtp://host:587 or smtp://host:587?tls=required";
        let Ok(parsed) = reqwest::Url::parse(url) else {
            bail!("SMTP_URL is not a URL: {form}");
        };
        let implicit = match parsed.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => bail!("SMTP_URL's scheme {other:?} is not smtp or smtps: {form}"),
        };
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            bail!("SMTP_URL has no host: {form}");
        };
        // An IPv6 host comes bracketed; the socket and TLS want it bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
            bail!("SMTP_URL must not have a path: {form}");
        }
        let mut tls = None;
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.to_ascii_lowercase()),
                _ => bail!("SMTP_URL: unknown or repeated parameter {key:?} (only tls=)"),
            }
        }
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|t| t.into_owned())
                .context("SMTP_URL's user or password is not UTF-8 once percent-decoded")
        };
        let username = match parsed.username() {
            "" => None,
            user => Some(decode(user)?),
        };
        let password = parsed.password().map(decode).transpose()?.map(Secret::new);
        if password.is_some() && username.is_none() {
            bail!("SMTP_URL has a password without a user");
        }
        let signs_in = username.is_some();
        let security = match (implicit, tls.as_deref()) {
            (true, None) => Security::ImplicitTls,
            (true, Some(_)) => bail!("SMTP_URL: smtps:// is always TLS, leave out tls="),
            (false, Some("required")) => Security::StartTlsRequired,
            (false, None | Some("opportunistic")) if signs_in => Security::StartTlsRequired,
            (false, None | Some("opportunistic")) => Security::StartTlsOpportunistic,
            (false, Some("none")) => Security::Plain,
            (false, Some(other)) => {
                bail!("SMTP_URL: tls={other:?} must be required, opportunistic or none")
            }
        };
        let port = parsed.port().unwrap_or(if implicit { 465 } else { 587 });
        let from: Mailbox = from.parse().map_err(|e| {
            anyhow::anyhow!(
                "SMTP_FROM={from:?} is not an address (\"Saghat <saghat@example.com>\"): {e}"
            )
        })?;
        Ok(SmtpSettings {
            host,
            port,
            security,
            username,
            password,
            from,
            tls_ca_file,
            per_second,
        })
    }

    /// Where mail goes, for the start-up log: no password.
    pub fn describe(&self) -> String {
        let (scheme, how) = match self.security {
            Security::ImplicitTls => ("smtps", "TLS"),
            Security::StartTlsRequired => ("smtp", "STARTTLS required"),
            Security::StartTlsOpportunistic => ("smtp", "STARTTLS if offered"),
            Security::Plain => ("smtp", "no TLS"),
        };
        let user = self
            .username
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!(
            "{scheme}://{user}{}:{} ({how}), from {}",
            self.host, self.port, self.from
        )
    }
}

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    limit: RateLimit,
}

impl SmtpSender {
    pub fn new(settings: &SmtpSettings, timeout: Duration) -> anyhow::Result<SmtpSender> {
        let tls_parameters = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(path) = &settings.tls_ca_file {
                let pem = std::fs::read(path)
                    .with_context(|| format!("SMTP_TLS_CA_FILE: cannot read {}", path.display()))?;
                let ca = Certificate::from_pem(&pem).with_context(|| {
                    format!(
                        "SMTP_TLS_CA_FILE: {} is not a PEM certificate",
                        path.display()
                    )
                })?;
                builder = builder.add_root_certificate(ca);
            }
            Ok(builder.build_rustls()?)
        };
        let tls = match settings.security {
            Security::ImplicitTls => Tls::Wrapper(tls_parameters()?),
            Security::StartTlsRequired => Tls::Required(tls_parameters()?),
            Security::StartTlsOpportunistic => Tls::Opportunistic(tls_parameters()?),
            Security::Plain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(user) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(SmtpSender {
            transport: builder.build(),
            from: settings.from.clone(),
            limit: RateLimit::per_second(settings.per_second),
        })
    }

    /// The message as it goes on the wire.
    pub fn build_message(&self, message: &Outgoing) -> Result<Message, SendError> {
        let Recipient::Email(address) = &message.to else {
            return Err(SendError::Permanent(
                "e-mail needs an e-mail address, the message is addressed to a mobile number"
                    .into(),
            ));
        };
        let to: Mailbox = address.as_str().parse().map_err(|e| {
            SendError::Permanent(format!("the address {address} cannot be used: {e}"))
        })?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            // The notification's own id when it has one, else a random id and this host's name.
            .message_id(message.message_id.clone());
        let text = || {
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(message.text.clone())
        };
        let built = if message.attachments.is_empty() {
            match &message.html {
                Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                    message.text.clone(),
                    html.clone(),
                )),
                None => builder.singlepart(text()),
            }
        } else {
            // multipart/mixed: the body (text, or text and HTML as alternatives), then the files.
            let mut mixed = match &message.html {
                Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                    message.text.clone(),
                    html.clone(),
                )),
                None => MultiPart::mixed().singlepart(text()),
            };
            for file in &message.attachments {
                let content_type = ContentType::parse(&file.content_type).map_err(|_| {
                    SendError::Permanent(format!(
                        "the attachment {} has no valid content type",
                        file.filename
                    ))
                })?;
                mixed = mixed.singlepart(
                    lettre::message::Attachment::new(file.filename.clone())
                        .body(file.bytes.clone(), content_type),
                );
            }
            builder.multipart(mixed)
        };
        built.map_err(|e| SendError::Permanent(format!("the e-mail cannot be built: {e}")))
    }
}

/// A failure of the SMTP conversation as retryable or permanent.
pub fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let said: String = error.to_string().chars().take(300).collect();
    let code = error.status().map(u16::from);
    match code {
        // Sign-in refused or required: our account, not the message.
        Some(530 | 534 | 535 | 538) => {
            SendError::Retryable(format!("the SMTP server refused to sign in: {said}"))
        }
        Some(_) if error.is_permanent() => {
            SendError::Permanent(format!("the SMTP server refused the message: {said}"))
        }
        Some(_) => SendError::Retryable(format!("the SMTP server deferred the message: {said}")),
        None if error.is_timeout() => SendError::Retryable("the SMTP server timed out".into()),
        None if error.is_tls() => SendError::Retryable(format!("SMTP TLS failed: {said}")),
        None => SendError::Retryable(format!("the SMTP server is unreachable: {said}")),
    }
}

impl Sender for SmtpSender {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let email = self.build_message(message)?;
            let message_id = email
                .headers()
                .get_raw("Message-ID")
                .map(|id| id.trim().to_string());
            self.limit.wait().await;
            self.transport.send(email).await.map_err(|e| classify(&e))?;
            Ok(Delivered {
                provider_id: message_id,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::EmailAddress;

    fn parse(url: &str) -> anyhow::Result<SmtpSettings> {
        SmtpSettings::parse(url, "Saghat <saghat@example.com>", None, 5)
    }

    #[test]
    fn the_url_forms() {
        let s = parse("smtps://mail.example.com").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("mail.example.com", 465, Security::ImplicitTls)
        );
        let s = parse("smtp://mail.example.com").unwrap();
        assert_eq!((s.port, s.security), (587, Security::StartTlsOpportunistic));
        let s = parse("smtp://mail.example.com:2525?tls=required").unwrap();
        assert_eq!((s.port, s.security), (2525, Security::StartTlsRequired));
        let s = parse("smtp://127.0.0.1:25?tls=none").unwrap();
        assert_eq!(
            (s.host.as_str(), s.security),
            ("127.0.0.1", Security::Plain)
        );
        let s = parse("smtp://[::1]:25?tls=none").unwrap();
        assert_eq!(s.host, "::1");
    }

    #[test]
    fn credentials_are_decoded_and_never_sent_in_plain_text_by_default() {
        let s = parse("smtp://me%40example.com:p%3Ass%2Fword@mail.example.com").unwrap();
        assert_eq!(s.username.as_deref(), Some("me@example.com"));
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("p:ss/word"));
        assert_eq!(s.security, Security::StartTlsRequired);
        let s = parse("smtp://me:pw@relay.local:25?tls=none").unwrap();
        assert_eq!(s.security, Security::Plain);
    }

    #[test]
    fn the_password_is_in_neither_debug_nor_the_description() {
        let s = parse("smtps://me:hunter2-secret@mail.example.com").unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(
            s.describe(),
            "smtps://me@mail.example.com:465 (TLS), from Saghat <saghat@example.com>"
        );
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_the_password() {
        for url in [
            "mail.example.com",
            "http://mail.example.com",
            "smtp://",
            "smtps://mail.example.com?tls=required",
            "smtp://mail.example.com?tls=maybe",
            "smtp://mail.example.com?foo=1",
            "smtp://mail.example.com/path",
            "smtp://:pw-secret@mail.example.com",
        ] {
            let err = parse(url).unwrap_err().to_string();
            assert!(err.contains("SMTP_URL"), "{url}: {err}");
            assert!(!err.contains("pw-secret"), "{url}: {err}");
        }
        let err = SmtpSettings::parse("smtp://h", "not an address", None, 1).unwrap_err();
        assert!(err.to_string().contains("SMTP_FROM"), "{err}");
    }

    #[test]
    fn a_message_has_its_parts_and_a_message_id() {
        let settings = parse("smtp://127.0.0.1:25?tls=none").unwrap();
        let sender = SmtpSender::new(&settings, Duration::from_secs(1)).unwrap();
        let message = Outgoing {
            to: Recipient::Email(EmailAddress::parse("member@example.com").unwrap()),
            subject: "پرداخت ثبت شد".into(),
            text: "سلام".into(),
            html: Some("<p>سلام</p>".into()),
            whatsapp_template: None,
            message_id: None,
            attachments: Vec::new(),
        };
        let email = sender.build_message(&message).unwrap();
        let wire = String::from_utf8(email.formatted()).unwrap();
        assert!(wire.contains("Message-ID: <"), "{wire}");
        assert!(wire.contains("multipart/alternative"), "{wire}");
        assert!(wire.contains("Subject: =?utf-8?b?"), "{wire}");
        let mobile = Outgoing {
            to: Recipient::Mobile(crate::notify::MobileNumber::parse("09121234567").unwrap()),
            ..message
        };
        assert!(!sender.build_message(&mobile).unwrap_err().is_retryable());
    }
}
