//! End to end in a real browser: the real server (the test harness, on SQLite), Debian's
//! headless Chromium driven through chromedriver's WebDriver protocol. A member signs in, pays,
//! starts the draw and reads its log; pages are photographed on a desktop and a 375-pixel phone,
//! in English and Persian, into `<target>/web-screenshots/`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test is skipped with a message,
//! unless `CI` is set (CI installs them, see `.ci/run`), where that is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::Duration as Days;
use chrono_tz::Tz;
use common::{Backend, TestApp, ADMIN, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use saghat::platform::jalali::JalaliMonth;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The WebDriver key code of Enter.
const ENTER: &str = "\u{E007}";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_pays_starts_the_draw_and_reads_its_log_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        }
        eprintln!("SKIPPING the browser test: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.jwt_expire_minutes = 60 * 24 * 365)
        .await
        .expect("SQLite is always available");
    // Two months of history through the API. Azar: Sara borrows 40. Dey: she repays half, so
    // nobody can win. Bahman (now): she repays the rest and pays; the admin, in the browser,
    // is the last to pay and starts the draw.
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "40").await;
    let start_draw = |token: String| {
        let app = &app;
        async move {
            let (status, body) = app
                .call(Method::POST, "/api/loans/start", Some(&token), None)
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    };
    assert_eq!(app.pay(&sara, "40", None).await.0, StatusCode::CREATED);
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    start_draw(admin.clone()).await;
    next_month(&app);
    assert_eq!(
        app.pay(&sara, "20", Some("20")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(app.pay(&admin, "20", None).await.0, StatusCode::CREATED);
    start_draw(admin.clone()).await;
    next_month(&app);
    assert_eq!(
        app.pay(&sara, "20", Some("20")).await.0,
        StatusCode::CREATED
    );

    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let shots = Shots::new();
    let base = app.base.clone();

    // Sign in with the keyboard only: type, then Enter submits.
    browser.size(1280, 900).await;
    browser.goto(&format!("{base}/login")).await;
    browser.wait("#username").await;
    shots.take(&browser, "01-sign-in-desktop").await;
    browser.type_into("#username", ADMIN).await;
    browser
        .type_into("#password", &format!("{ADMIN_PASSWORD}{ENTER}"))
        .await;
    browser.wait("#balance").await;
    assert!(browser.source().await.contains("Not paid yet"));
    // The vendored htmx loads under the pages' Content-Security-Policy.
    assert_eq!(browser.script("return typeof htmx").await, json!("object"));

    // Pay this month: the fee is filled in with the minimum; a payment id is required.
    browser.size(1280, 1400).await;
    shots.take(&browser, "02-dashboard-unpaid-desktop").await;
    browser.click("#pay button[type=submit]").await;
    browser.wait("#bitpin_payment_id-error").await;
    let error = browser.text("#bitpin_payment_id-error").await;
    assert!(
        error.contains("This field is required."),
        "next to its field: {error}"
    );
    shots.take(&browser, "03-dashboard-error-desktop").await;
    browser
        .type_into("#bitpin_payment_id", "bp-browser-1")
        .await;
    browser.click("#pay button[type=submit]").await;
    browser.wait(".notice").await;
    let page = browser.source().await;
    assert!(page.contains("Your payment was recorded."));
    assert!(page.contains("Paid: 20.00 USDT"));
    assert!(page.contains("This month: Bahman 1405"));
    shots.take(&browser, "04-dashboard-paid-desktop").await;

    // Everyone has paid: start the draw from the fund page and read its log.
    browser.goto(&format!("{base}/fund")).await;
    browser.wait("#start-draw").await;
    shots.take(&browser, "05-fund-ready-desktop").await;
    browser.click("#start-draw").await;
    browser.wait("#this-draw").await;
    let log = browser.text("#this-draw").await;
    assert!(log.contains("Winner: sara"), "{log}");
    assert!(
        log.contains("sara Winner 0."),
        "her score, a decimal: {log}"
    );
    assert!(
        log.contains("Random pool (winner drawn from): sara"),
        "{log}"
    );
    assert!(log.contains("loan_request_amount is 0"), "{log}");
    assert_eq!(
        app.call(Method::GET, "/api/loans/history", Some(&admin), None)
            .await
            .1[0]["username"],
        "sara"
    );
    browser.size(1280, 2000).await;
    shots.take(&browser, "06-fund-draw-desktop").await;

    for (path, name) in [
        ("/admin/members", "07-members-desktop"),
        ("/admin/config", "08-config-desktop"),
        ("/admin/loans", "09-loans-desktop"),
    ] {
        browser.goto(&format!("{base}{path}")).await;
        browser.wait("main h1").await;
        shots.take(&browser, name).await;
    }

    // A 375-pixel phone: nothing may scroll sideways but the tables' own boxes.
    browser.size(375, 1600).await;
    assert_eq!(browser.script("return window.innerWidth").await, json!(375));
    for (path, name) in [
        ("/dashboard", "10-dashboard-phone"),
        ("/fund", "11-fund-phone"),
        ("/admin/members", "12-members-phone"),
        ("/fund?lang=fa", "13-fund-phone-fa"),
        ("/dashboard", "14-dashboard-phone-fa"),
    ] {
        browser.goto(&format!("{base}{path}")).await;
        browser.wait("main h1").await;
        let overflow = browser
            .script("return document.documentElement.scrollWidth - window.innerWidth")
            .await;
        assert_eq!(overflow, json!(0), "{path} scrolls sideways on a phone");
        shots.take(&browser, name).await;
    }
    assert_eq!(
        browser.script("return document.documentElement.dir").await,
        json!("rtl")
    );
    assert!(browser.source().await.contains("۲۰٫۰۰"), "Persian digits");

    browser.size(1280, 1400).await;
    browser.goto(&format!("{base}/dashboard")).await;
    browser.wait("main h1").await;
    shots.take(&browser, "15-dashboard-desktop-fa").await;

    // Sign out, back to English.
    browser.goto(&format!("{base}/dashboard?lang=en")).await;
    browser.click(".signout button").await;
    browser.wait("#username").await;
    browser.goto(&format!("{base}/dashboard")).await;
    browser.wait("#username").await;
    browser.quit().await;
    eprintln!("screenshots in {}", shots.dir.display());
}

/// Moves the app's clock to noon on the first day of the next Jalali month.
fn next_month(app: &TestApp) {
    use saghat::platform::clock::Clock;
    let month = JalaliMonth::containing(app.clock.now(), Tz::UTC).next();
    app.clock.set(month.starts_at(Tz::UTC) + Days::hours(12));
}

/// chromedriver on a free loopback port, stopped (with the browsers it started) on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping it also ends the browser it started.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn session(&self, profile: &Path) -> Browser {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{}/status", self.url)).send().await;
            if let Ok(response) = ready {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-quic".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let response: Value = http
            .post(format!("{}/session", self.url))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let id = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {response}"));
        Browser {
            http,
            url: format!("{}/session/{id}", self.url),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session: just the commands this test needs.
struct Browser {
    http: reqwest::Client,
    url: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    async fn command(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if method != Method::GET {
            request = request.json(&body);
        }
        let response: Value = request
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match response["value"].get("error") {
            Some(error) => Err(format!("{error}: {}", response["value"]["message"])),
            None => Ok(response["value"].clone()),
        }
    }

    async fn run(&self, method: Method, path: &str, body: Value) -> Value {
        self.command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    async fn goto(&self, url: &str) {
        self.run(Method::POST, "/url", json!({ "url": url })).await;
    }

    async fn size(&self, width: u32, height: u32) {
        self.run(
            Method::POST,
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    async fn find(&self, css: &str) -> Result<String, String> {
        let found = self
            .command(
                Method::POST,
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await?;
        Ok(found[ELEMENT].as_str().unwrap_or_default().to_string())
    }

    /// Waits up to ten seconds for an element (pages load after a click).
    async fn wait(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.find(css).await {
                Ok(id) => return id,
                Err(e) if Instant::now() > deadline => {
                    panic!("{css} never appeared ({e}) in {}", self.source().await)
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.wait(css).await;
        self.run(Method::POST, &format!("/element/{id}/clear"), json!({}))
            .await;
        self.run(
            Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.wait(css).await;
        self.run(Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.wait(css).await;
        let text = self
            .run(Method::GET, &format!("/element/{id}/text"), Value::Null)
            .await;
        text.as_str().unwrap_or_default().to_string()
    }

    async fn source(&self) -> String {
        let source = self.run(Method::GET, "/source", Value::Null).await;
        source.as_str().unwrap_or_default().to_string()
    }

    async fn script(&self, script: &str) -> Value {
        self.run(
            Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.run(Method::GET, "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("screenshots are base64")
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.url).send().await;
    }
}

/// Screenshots under the target folder, each checked to be a real, non-empty PNG.
struct Shots {
    dir: PathBuf,
}

impl Shots {
    fn new() -> Shots {
        // The test binary is <target>/<profile>/deps/web_e2e-…
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let dir = profile_dir.join("web-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir }
    }

    async fn take(&self, browser: &Browser, name: &str) {
        let png = browser.screenshot().await;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
        assert!(
            png.len() > 5_000,
            "{name} is suspiciously small ({} bytes)",
            png.len()
        );
        // The width and height in the PNG header: a page, not an empty frame.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert!(width >= 300 && height >= 300, "{name} is {width}×{height}");
        std::fs::write(self.dir.join(format!("{name}.png")), &png).unwrap();
    }
}
