//! E-mail delivered to a real SMTP server: Python's `aiosmtpd` (Debian's `python3-aiosmtpd`,
//! installed by `.ci/run`), started on a free port and writing to a Maildir, the message read
//! back with Python's own `email` parser (an independent reader of what lettre wrote): headers,
//! the Persian subject decoded, both parts, Persian text intact. Also STARTTLS and implicit TLS
//! with a certificate authority the test makes (`openssl`) and trusts via the CA file.
//!
//! Without Python and aiosmtpd the tests skip, saying so; under `CI` they fail instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use saghat_core::notify::smtp::{SmtpSender, SmtpSettings};
use saghat_core::notify::{Attachment, EmailAddress, Outgoing, Recipient, Sender};
use smtp::{free_port, python, Security, SmtpServer, Tls};

// The harness's SMTP server, by source: a dependency on saghat-test-support would bring the
// HTTP crates into core's package graph.
#[path = "../../test-support/src/smtp.rs"]
#[allow(dead_code)] // start_plain is for the server's own tests
mod smtp;

const SUBJECT: &str = "پرداخت شما ثبت شد — آذر ۱۴۰۵";
const TEXT: &str = "سلام علی،\nپرداخت ۱٬۰۰۰٬۰۰۰ تومانی شما در تاریخ ۱۴۰۵/۰۹/۱۰ ثبت شد.\n";
const HTML: &str = "<p dir=\"rtl\">سلام علی،<br>پرداخت <b>۱٬۰۰۰٬۰۰۰</b> تومانی شما ثبت شد.</p>";

/// A certificate authority and a server certificate it signed for 127.0.0.1 and localhost.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn tls(&self) -> Tls<'_> {
        Tls {
            cert: &self.cert,
            key: &self.key,
        }
    }

    fn make(dir: &Path) -> Pki {
        let run = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl runs (apt-get install openssl)");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Saghat test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        Pki {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

fn sender(url: &str, ca: Option<&Path>) -> SmtpSender {
    let settings = SmtpSettings::parse(
        url,
        "صندوق ساغت <saghat@example.com>",
        ca.map(Path::to_path_buf),
        50,
    )
    .unwrap();
    SmtpSender::new(&settings, Duration::from_secs(5)).unwrap()
}

fn message(html: bool) -> Outgoing {
    Outgoing {
        to: Recipient::Email(EmailAddress::parse("member@example.com").unwrap()),
        subject: SUBJECT.into(),
        text: TEXT.into(),
        html: html.then(|| HTML.to_string()),
        whatsapp_template: None,
        message_id: None,
        attachments: Vec::new(),
    }
}

/// One message with both parts arrived intact, and its Message-ID is the one the sender gave.
fn assert_delivered(server: &SmtpServer, provider_id: Option<String>) {
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let m = &messages[0];
    assert_eq!(m["subject"], SUBJECT);
    assert_eq!(m["from"], "صندوق ساغت <saghat@example.com>");
    assert_eq!(m["to"], "member@example.com");
    assert_eq!(m["mail_from"], "saghat@example.com");
    assert_eq!(m["rcpt_to"], "member@example.com");
    assert_eq!(m["content_type"], "multipart/alternative");
    let id = m["message_id"].as_str().unwrap();
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{id}"
    );
    assert_eq!(provider_id.as_deref(), Some(id));
    assert_ne!(m["date"], "None");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parts:#?}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[0]["charset"], "utf-8");
    // Line ends travel as CRLF; the text is otherwise exactly what was sent.
    assert_eq!(
        parts[0]["content"].as_str().unwrap().replace("\r\n", "\n"),
        TEXT
    );
    assert_eq!(parts[1]["type"], "text/html");
    assert_eq!(parts[1]["content"].as_str().unwrap().trim_end(), HTML);
}

#[tokio::test]
async fn an_email_arrives_with_its_headers_both_parts_and_persian_intact() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&python, dir.path(), Security::Plain);
    let sender = sender(&format!("smtp://127.0.0.1:{}?tls=none", server.port), None);
    let delivered = sender.send(&message(true)).await.unwrap();
    assert_delivered(&server, delivered.provider_id);
}

#[tokio::test]
async fn a_text_only_email_is_one_plain_part() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&python, dir.path(), Security::Plain);
    // smtp:// without tls=: STARTTLS if offered; this server offers none, so plain.
    let sender = sender(&format!("smtp://127.0.0.1:{}", server.port), None);
    sender.send(&message(false)).await.unwrap();
    let messages = server.messages();
    assert_eq!(messages[0]["content_type"], "text/plain");
    assert_eq!(messages[0]["subject"], SUBJECT);
    let text = messages[0]["parts"][0]["content"].as_str().unwrap();
    assert_eq!(text.replace("\r\n", "\n"), TEXT);
}

/// An attachment travels beside both parts, byte for byte, with its name and type.
#[tokio::test]
async fn an_email_carries_its_attachment_intact() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&python, dir.path(), Security::Plain);
    let sender = sender(&format!("smtp://127.0.0.1:{}?tls=none", server.port), None);
    // Every byte value, so an encoding that mangles binary would show.
    let pdf: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut with_file = message(true);
    with_file.attachments.push(Attachment {
        filename: "INV-1405-000007.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: pdf.clone(),
    });
    sender.send(&with_file).await.unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["content_type"], "multipart/mixed");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "{parts:#?}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[1]["type"], "text/html");
    assert_eq!(parts[2]["type"], "application/pdf");
    assert_eq!(parts[2]["filename"], "INV-1405-000007.pdf");
    assert_eq!(parts[2]["disposition"], "attachment");
    assert_eq!(parts[2]["size"], pdf.len());
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&pdf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(parts[2]["sha256"], digest);
}

/// Delivers one message over TLS (`implicit`: `smtps://`, else STARTTLS required) to a server
/// whose certificate a private CA signed, trusting that CA.
async fn delivers_over_tls_with_a_private_ca(implicit: bool) {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::make(dir.path());
    let (security, url) = if implicit {
        (Security::Implicit(pki.tls()), "smtps://127.0.0.1:{port}")
    } else {
        (
            Security::StartTls(pki.tls()),
            "smtp://127.0.0.1:{port}?tls=required",
        )
    };
    let server = SmtpServer::start(&python, dir.path(), security);
    let url = url.replace("{port}", &server.port.to_string());
    let delivered = sender(&url, Some(&pki.ca))
        .send(&message(true))
        .await
        .unwrap();
    assert_delivered(&server, delivered.provider_id);
}

#[tokio::test]
async fn starttls_with_a_private_ca_delivers() {
    delivers_over_tls_with_a_private_ca(false).await;
}

#[tokio::test]
async fn implicit_tls_with_a_private_ca_delivers() {
    delivers_over_tls_with_a_private_ca(true).await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_retryable() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::make(dir.path());
    let server = SmtpServer::start(&python, dir.path(), Security::StartTls(pki.tls()));
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port);
    let err = sender(&url, None).send(&message(true)).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn required_starttls_refuses_a_server_without_it() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&python, dir.path(), Security::Plain);
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port);
    let err = sender(&url, None).send(&message(true)).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(server.messages().is_empty());
}

/// Needs no Python: nothing listens on the port.
#[tokio::test]
async fn a_server_that_is_down_is_retryable() {
    let url = format!("smtp://127.0.0.1:{}?tls=none", free_port());
    let err = sender(&url, None).send(&message(true)).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.reason().contains("unreachable"), "{err:?}");
}
