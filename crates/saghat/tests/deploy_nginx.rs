//! `deploy/nginx` for real: the template rendered by `deploy/nginx/render.sh`, checked by
//! `nginx -t` and run (as any user: pid, logs, temp and cache files in a temporary folder) in
//! front of two `saghat serve` processes sharing one fresh PostgreSQL database, over HTTPS with
//! a self-signed certificate. Without nginx the test is skipped with a message, and fails when
//! `CI` is set (as the PostgreSQL tests do).

use std::fs::File;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use saghat_test_support::{free_port, own_pg_database, ADMIN_PASSWORD};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_saghat");
const HOST: &str = "saghat.test";
/// The client connects from here, so the address nginx forwards differs from nginx's own
/// (127.0.0.1), which is what Saghat would record if it ignored `X-Forwarded-For`.
const CLIENT_IP: &str = "127.0.0.2";
const SPOOFED_IP: &str = "198.51.100.7";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// nginx's binary, or `None` to skip (a failure with `CI` set).
fn nginx_binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but nginx is not installed (apt-get install nginx-light)"
        );
        eprintln!("SKIPPING deploy_nginx: nginx is not installed");
    }
    found
}

/// A child process killed when the test ends, however it ends.
struct Proc {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Proc {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for_port(proc: &mut Proc, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        proc.assert_running();
        assert!(
            Instant::now() < deadline,
            "{} does not listen on {port}:\n{}",
            proc.name,
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs openssl, panicking with its output when it fails.
fn openssl(args: &[&str], dir: &Path) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority of the test's own and nginx's certificate signed by it (rustls
/// refuses a self-signed certificate that is its own CA as a server's): the CA's certificate
/// (the client's root), nginx's certificate and key.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let days = ["-days", "1"];
    openssl(
        &[
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=saghat test CA",
            ][..],
            &days[..],
        ]
        .concat(),
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
            "-subj",
            &format!("/CN={HOST}"),
        ],
        dir,
    );
    std::fs::write(
        dir.join("server.ext"),
        format!("basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:{HOST}\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    openssl(
        &[
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-extfile",
                "server.ext",
            ][..],
            &days[..],
        ]
        .concat(),
        dir,
    );
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

struct Nginx {
    proc: Proc,
    http_port: u16,
    https_port: u16,
    access_log: PathBuf,
}

/// Renders the template with `render.sh` into `dir/name`, wraps it in a main configuration
/// whose every path is in that folder, checks it with `nginx -t` and starts nginx.
fn start_nginx(
    nginx: &Path,
    dir: &Path,
    name: &str,
    cert: &(PathBuf, PathBuf, PathBuf),
    upstreams: &[u16],
    rate: Option<(u32, u32)>,
) -> Nginx {
    let home = dir.join(name);
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    let (http_port, https_port) = (free_port(), free_port());
    let access_log = home.join("access.log");
    let upstream_lines: String = upstreams
        .iter()
        .map(|port| format!("server 127.0.0.1:{port}; "))
        .collect();
    let mut render = Command::new("sh");
    render
        .arg(repo_root().join("deploy/nginx/render.sh"))
        .env("SAGHAT_SERVER_NAME", HOST)
        .env("SAGHAT_UPSTREAMS", upstream_lines)
        .env("SAGHAT_TLS_CERT", &cert.1)
        .env("SAGHAT_TLS_KEY", &cert.2)
        .env("SAGHAT_HTTP_PORT", http_port.to_string())
        .env("SAGHAT_HTTPS_PORT", https_port.to_string())
        .env("SAGHAT_CACHE_DIR", home.join("cache"))
        .env("SAGHAT_ACCESS_LOG", &access_log);
    if let Some((per_minute, burst)) = rate {
        render
            .env("SAGHAT_RATE_PER_MINUTE", per_minute.to_string())
            .env("SAGHAT_RATE_BURST", burst.to_string());
    }
    let rendered = render.output().expect("render.sh runs");
    assert!(
        rendered.status.success(),
        "render.sh: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let site = String::from_utf8(rendered.stdout).unwrap();
    assert!(
        !site.contains("${"),
        "a variable was left unrendered:\n{site}"
    );
    // nginx's own variables survive envsubst.
    assert!(site.contains("$request_uri") && site.contains("$remote_addr"));
    std::fs::write(home.join("saghat.conf"), site).unwrap();
    let h = home.display();
    let main = format!(
        "worker_processes 1;\npid {h}/nginx.pid;\nerror_log {h}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  client_body_temp_path {h}/tmp/body;\n  proxy_temp_path {h}/tmp/proxy;\n\
           fastcgi_temp_path {h}/tmp/fastcgi;\n  uwsgi_temp_path {h}/tmp/uwsgi;\n\
           scgi_temp_path {h}/tmp/scgi;\n  access_log off;\n  include {h}/saghat.conf;\n}}\n"
    );
    let conf = home.join("nginx.conf");
    std::fs::write(&conf, main).unwrap();
    let error_log = home.join("error.log");
    let check = Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&home)
        .arg("-e")
        .arg(&error_log)
        .output()
        .expect("nginx -t runs");
    assert!(
        check.status.success(),
        "nginx -t refuses the rendered template:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&home)
        .arg("-e")
        .arg(&error_log)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(File::create(home.join("stderr.log")).unwrap())
        .spawn()
        .expect("nginx starts");
    let mut proc = Proc {
        child,
        name: format!("nginx ({name})"),
        log: error_log,
    };
    wait_for_port(&mut proc, https_port);
    Nginx {
        proc,
        http_port,
        https_port,
        access_log,
    }
}

/// `saghat serve` behind the proxy: trusts its headers, serves only the public host name.
fn start_saghat(dir: &Path, database_url: &str, n: u32) -> (Proc, u16) {
    let port = free_port();
    let data = dir.join(format!("saghat-{n}"));
    std::fs::create_dir_all(&data).unwrap();
    let log = data.join("output.log");
    let out = File::create(&log).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APP_ENV", "test")
        .env("DATABASE_URL", database_url)
        .env("SAGHAT_DATA_DIR", &data)
        .env("SAGHAT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // One key for both: a token signed by one instance is verified by the other.
        .env("SECRET_KEY", "deploy-test-secret-key-0123456789abcdef")
        .env("JWT_SECRET_KEY", "deploy-test-jwt-secret-0123456789abcdef")
        .env("TRUST_PROXY_HEADERS", "true")
        .env("ALLOWED_HOSTS", HOST)
        .env("WORKER_IN_PROCESS", "false")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("saghat serve starts");
    let mut proc = Proc {
        child,
        name: format!("saghat serve #{n}"),
        log,
    };
    wait_for_port(&mut proc, port);
    (proc, port)
}

fn client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        // Port 0: each URL's own port is used.
        .resolve(HOST, SocketAddr::from(([127, 0, 0, 1], 0)))
        .local_address(CLIENT_IP.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// How many requests of the access log each upstream port answered.
fn answered_by(access_log: &Path, port: u16) -> usize {
    let log = std::fs::read_to_string(access_log).unwrap_or_default();
    let needle = format!("upstream=127.0.0.1:{port} ");
    log.lines().filter(|l| l.contains(&needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_terminates_tls_in_front_of_two_instances() {
    let Some(nginx) = nginx_binary() else { return };
    let Some((database_url, _db)) = own_pg_database("saghat_test_deploy").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cert = certificates(dir);

    // Migrations first, as compose.yml does, then the two instances on the one database.
    let migrate = Command::new(BIN)
        .arg("migrate")
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &database_url)
        .env("SAGHAT_DATA_DIR", dir.join("migrate"))
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "saghat migrate: {}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let (mut one, port_one) = start_saghat(dir, &database_url, 1);
    let (mut two, port_two) = start_saghat(dir, &database_url, 2);
    let proxy = start_nginx(&nginx, dir, "nginx", &cert, &[port_one, port_two], None);
    let http = client(&cert.0);
    let https = format!("https://{HOST}:{}", proxy.https_port);

    // Plain HTTP is sent to HTTPS, path and query kept, to the configured name.
    let response = http
        .get(format!(
            "http://{HOST}:{}/login?next=/fund",
            proxy.http_port
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        response.headers()["location"],
        format!("{https}/login?next=/fund").as_str()
    );

    // HTTPS with HSTS; Saghat sees X-Forwarded-Proto: https, so its cookies are Secure.
    let response = http.get(format!("{https}/login")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=63072000"), "HSTS: {hsts}");
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("saghat_login=") && c.contains("; Secure")),
        "the sign-in page's cookie is not Secure behind HTTPS: {cookies:?}"
    );

    // Sign in and pay through the proxy; the client's own X-Forwarded-For is not believed.
    let response = http
        .post(format!("{https}/api/auth/login"))
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .expect("an access token")
        .to_string();
    let response = http
        .post(format!("{https}/api/payments/pay"))
        .bearer_auth(&token)
        .header("x-forwarded-for", SPOOFED_IP)
        .json(&json!({ "membership_fee": "20", "bitpin_payment_id": uuid::Uuid::new_v4().to_string() }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, StatusCode::CREATED, "{:?}", response.text().await);
    let audit: Value = http
        .get(format!("{https}/api/audit?action=payment"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        audit["items"][0]["client_ip"], CLIENT_IP,
        "the payment's audit entry should carry the client's address as nginx saw it: {audit}"
    );

    // Requests go to both instances (the access log names the upstream that answered), and the
    // token one signed is accepted by the other.
    for _ in 0..10 {
        let response = http
            .get(format!("{https}/api/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (by_one, by_two) = (
        answered_by(&proxy.access_log, port_one),
        answered_by(&proxy.access_log, port_two),
    );
    assert!(
        by_one >= 3 && by_two >= 3,
        "requests are not spread over both instances ({by_one} and {by_two}):\n{}",
        std::fs::read_to_string(&proxy.access_log).unwrap_or_default()
    );

    // Static assets come from nginx's cache the second time.
    let mut cache_status = vec![];
    for _ in 0..2 {
        let response = http
            .get(format!("{https}/static/app.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        cache_status.push(
            response.headers()["x-cache-status"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        cache_status[1], "HIT",
        "static asset cache: {cache_status:?}"
    );

    // Bodies over MAX_BODY_BYTES stop at nginx with Saghat's JSON; an attachment may be larger.
    let response = http
        .post(format!("{https}/api/auth/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 65_537])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.expect("a JSON 413");
    assert_eq!(body["detail"], "Request body too large");
    let response = http
        .post(format!("{https}/api/tickets/1/attachments"))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=x")
        .body(vec![b'a'; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_ne!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "a 1 MiB attachment upload is refused by nginx"
    );

    // One instance down: requests still succeed, on the other.
    two.stop();
    for i in 0..6 {
        let response = http
            .get(format!("{https}/api/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "request {i} with one instance stopped"
        );
    }
    one.assert_running();

    // A low rate, rendered for this check: the excess gets nginx's 429 in Saghat's JSON.
    let limited = start_nginx(
        &nginx,
        dir,
        "nginx-limited",
        &cert,
        &[port_one],
        Some((60, 3)),
    );
    let url = format!("https://{HOST}:{}/api/payments/config", limited.https_port);
    let mut statuses = vec![];
    let mut refused = None;
    for _ in 0..12 {
        let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && refused.is_none() {
            let retry_after = response.headers().get("retry-after").cloned();
            refused = Some((retry_after, response.json::<Value>().await.unwrap()));
        }
    }
    assert_eq!(statuses[0], 200, "statuses: {statuses:?}");
    let (retry_after, body) = refused.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert!(retry_after.is_some(), "429 without Retry-After");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with("Too many requests"),
        "{body}"
    );
    // The rate (1 a second) and the burst (3) let 4 through at once, 5 if a second passes.
    let allowed = statuses.iter().take_while(|s| **s == 200).count();
    assert!(allowed <= 5, "statuses: {statuses:?}");

    drop(limited);
    let mut proxy = proxy;
    proxy.proc.assert_running();
}
