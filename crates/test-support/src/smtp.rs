//! A real SMTP server for the tests: Python's `aiosmtpd` (Debian's `python3-aiosmtpd`), delivering
//! into a Maildir that Python's `email` package reads back. Without it a test skips, saying so;
//! under `CI` it fails instead.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Python that has aiosmtpd (`SAGHAT_TEST_PYTHON` first), or `None` (after failing under CI).
pub fn python() -> Option<String> {
    let candidates = std::env::var("SAGHAT_TEST_PYTHON")
        .into_iter()
        .chain(["python3".to_string(), "/usr/bin/python3".to_string()]);
    for python in candidates {
        let has_it = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if has_it {
            return Some(python);
        }
    }
    let why =
        "no python3 with aiosmtpd (apt-get install python3-aiosmtpd, or pip install aiosmtpd)";
    if std::env::var_os("CI").is_some() {
        panic!("CI needs the SMTP test server: {why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// A server certificate and its key.
#[derive(Clone, Copy)]
pub struct Tls<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
}

pub enum Security<'a> {
    Plain,
    /// STARTTLS offered and required, with this certificate.
    StartTls(Tls<'a>),
    /// TLS from the first byte.
    Implicit(Tls<'a>),
}

/// aiosmtpd on 127.0.0.1, delivering into a Maildir; killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
    python: String,
    _dir: Option<tempfile::TempDir>,
}

impl SmtpServer {
    /// A plain server in a temporary folder of its own, or `None` (after failing under CI)
    /// without aiosmtpd.
    pub fn start_plain() -> Option<SmtpServer> {
        let python = python()?;
        let dir = tempfile::tempdir().unwrap();
        let mut server = SmtpServer::start(&python, dir.path(), Security::Plain);
        server._dir = Some(dir);
        Some(server)
    }

    /// A server whose Maildir and log are in `dir`, on a free port.
    pub fn start(python: &str, dir: &Path, security: Security) -> SmtpServer {
        let port = free_port();
        let maildir = dir.join(format!("maildir-{port}"));
        let mut command = Command::new(python);
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        match security {
            Security::Plain => {}
            Security::StartTls(tls) => {
                command
                    .arg("--tlscert")
                    .arg(tls.cert)
                    .arg("--tlskey")
                    .arg(tls.key);
            }
            Security::Implicit(tls) => {
                command
                    .arg("--smtpscert")
                    .arg(tls.cert)
                    .arg("--smtpskey")
                    .arg(tls.key);
            }
        }
        command
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            // Kept beside the Maildir: a refused handshake is logged there, on purpose.
            .stderr(std::fs::File::create(dir.join(format!("aiosmtpd-{port}.log"))).unwrap());
        let child = command.spawn().expect("aiosmtpd starts");
        let server = SmtpServer {
            child,
            port,
            maildir,
            python: python.to_string(),
            _dir: None,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The delivered messages as Python's `email` package reads them (a file attached is given
    /// by its name, size and SHA-256).
    pub fn messages(&self) -> Vec<serde_json::Value> {
        const READ: &str = r#"
import email.policy, hashlib, json, mailbox, sys
def part(p):
    if p.get_content_maintype() == "text":
        return {"type": p.get_content_type(), "charset": p.get_content_charset(),
                "content": p.get_content()}
    data = p.get_content()
    return {"type": p.get_content_type(), "filename": p.get_filename(),
            "disposition": p.get_content_disposition(), "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}
out = []
for _, msg in sorted(mailbox.Maildir(sys.argv[1], create=False).items()):
    msg = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    parts = [part(p) for p in msg.walk() if not p.is_multipart()]
    out.append({"from": str(msg["From"]), "to": str(msg["To"]), "subject": str(msg["Subject"]),
                "message_id": str(msg["Message-ID"]), "date": str(msg["Date"]),
                "content_type": msg.get_content_type(), "mail_from": str(msg["X-MailFrom"]),
                "rcpt_to": str(msg["X-RcptTo"]), "parts": parts})
json.dump(out, sys.stdout, ensure_ascii=False)
"#;
        if !self.maildir.join("new").exists() {
            return vec![];
        }
        let output = Command::new(&self.python)
            .args(["-c", READ])
            .arg(&self.maildir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
