//! Headless Chromium through chromedriver (WebDriver), for the browser tests: a driver on a
//! free loopback port, a browser session with the commands the tests use, and screenshots
//! under `<target>/<profile>/web-screenshots/` checked to be real pages.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Chromium and ChromeDriver are installed for a browser test: without them the test is
/// skipped with a message, except in CI (`CI` set), where that is a failure.
pub fn browser_available() -> bool {
    if std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
    }
    eprintln!("SKIPPING the browser test: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
    false
}
/// The Enter key, typed into a field.
pub const ENTER: &str = "\u{E007}";

/// chromedriver on a free loopback port, stopped (with the browsers it started) on drop.
pub struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    pub fn start() -> ChromeDriver {
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

    pub async fn session(&self, profile: &Path) -> Browser {
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
pub struct Browser {
    http: reqwest::Client,
    url: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    pub async fn command(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
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

    pub async fn run(&self, method: Method, path: &str, body: Value) -> Value {
        self.command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.run(Method::POST, "/url", json!({ "url": url })).await;
    }

    pub async fn size(&self, width: u32, height: u32) {
        self.run(
            Method::POST,
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    pub async fn find(&self, css: &str) -> Result<String, String> {
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
    pub async fn wait(&self, css: &str) -> String {
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

    pub async fn type_into(&self, css: &str, text: &str) {
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

    pub async fn click(&self, css: &str) {
        let id = self.wait(css).await;
        self.run(Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Clicks something that loads a new page (a form's button, a link) and waits until the
    /// new page has replaced the old one, so what is read next is not the page being left.
    pub async fn submit(&self, css: &str) {
        self.script("window.__saghat_leaving = true").await;
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let loaded =
            "return window.__saghat_leaving === undefined && document.readyState === 'complete'";
        // While the page changes, a script may fail; that is not yet loaded either.
        while self
            .command(
                Method::POST,
                "/execute/sync",
                json!({ "script": loaded, "args": [] }),
            )
            .await
            .ok()
            != Some(Value::Bool(true))
        {
            assert!(Instant::now() < deadline, "{css} did not load a new page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.wait(css).await;
        let text = self
            .run(Method::GET, &format!("/element/{id}/text"), Value::Null)
            .await;
        text.as_str().unwrap_or_default().to_string()
    }

    pub async fn source(&self) -> String {
        let source = self.run(Method::GET, "/source", Value::Null).await;
        source.as_str().unwrap_or_default().to_string()
    }

    pub async fn script(&self, script: &str) -> Value {
        self.run(
            Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Runs a script that answers through its last argument (for `fetch`).
    pub async fn script_async(&self, script: &str) -> Value {
        self.run(
            Method::POST,
            "/execute/async",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.run(Method::GET, "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("screenshots are base64")
    }

    /// Accepts the page's `confirm()` question.
    pub async fn accept_alert(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = self.command(Method::POST, "/alert/accept", json!({})).await {
            assert!(Instant::now() < deadline, "no question to accept: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.url).send().await;
    }
}

/// Screenshots under the target folder, each checked to be a real, non-empty PNG.
pub struct Shots {
    pub dir: PathBuf,
}

impl Default for Shots {
    fn default() -> Self {
        Shots::new()
    }
}

impl Shots {
    pub fn new() -> Shots {
        // The test binary is <target>/<profile>/deps/<test>-…
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let dir = profile_dir.join("web-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir }
    }

    /// The whole page: the window is made as tall as the page first (at most 6000 pixels).
    pub async fn full(&self, browser: &Browser, name: &str, width: u32) {
        // Short first: a page is never shorter than its window.
        browser.size(width, 600).await;
        let height = browser
            .script("return document.documentElement.scrollHeight")
            .await
            .as_u64()
            .unwrap_or(1200)
            .clamp(600, 6000);
        browser.size(width, height as u32 + 120).await;
        self.take(browser, name).await;
    }

    /// Each of `pages` (path, name, a selector that is there once the page has loaded) in
    /// English and Persian at 1280 and 375 pixels: measured in the browser by the `inspect`
    /// script, its facts checked by `check(facts, lang, where)`, then photographed whole as
    /// `<first + i>-<module>-<name>-<device>-<lang>.png`.
    #[allow(clippy::too_many_arguments)]
    pub async fn tour(
        &self,
        browser: &Browser,
        base: &str,
        module: &str,
        pages: &[(&str, &str, &str)],
        first: usize,
        inspect: &str,
        check: impl Fn(&Value, &str, &str),
    ) {
        for lang in ["en", "fa"] {
            for (width, device) in [(1280, "desktop"), (375, "phone")] {
                for (i, (path, name, marker)) in pages.iter().enumerate() {
                    browser.size(width, 1000).await;
                    let join = if path.contains('?') { '&' } else { '?' };
                    browser
                        .goto(&format!("{base}{path}{join}lang={lang}"))
                        .await;
                    browser.wait(marker).await;
                    let facts = browser.script(inspect).await;
                    check(&facts, lang, &format!("{path} {lang} {width}px: {facts}"));
                    let shot = format!("{}-{module}-{name}-{device}-{lang}", first + i);
                    self.full(browser, &shot, width).await;
                }
            }
        }
    }

    pub async fn take(&self, browser: &Browser, name: &str) {
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

/// What a page looks like to a reader, measured in the browser (the invoicing and payment
/// pages): anything cut off at the window's edge outside the tables' scrolling boxes,
/// untranslated text (`?`),
/// Latin digits or words in Persian (but the codes of currencies, countries and files, and
/// what is written left to right in a `bdi`: numbers of invoices, e-mail addresses).
pub const PAGE_FACTS: &str = r#"
const de = document.documentElement;
const visible = e => e.getClientRects().length > 0;
const text = document.querySelector('main').cloneNode(true);
text.querySelectorAll('td.id, .who, select, option').forEach(e => e.remove());
text.querySelectorAll('bdi').forEach(e => { if (/[A-Za-z]/.test(e.textContent)) e.remove(); });
document.body.appendChild(text);
text.style.position = 'absolute'; text.style.left = '-99999px';
const inner = text.innerText;
text.remove();
const wraps = [...document.querySelectorAll('.table-wrap')].filter(visible);
const cutOff = [...document.querySelectorAll('body *')].filter(visible)
  .filter(e => !e.closest('.table-wrap') && !e.closest('.skip'))
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < -1 || r.right > window.innerWidth + 1); })
  .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''));
const words = (document.body.innerText.match(/(^|\s)\?(\s|$)/g) || []).length;
return {
  dir: de.dir,
  lang: de.lang,
  overflow: de.scrollWidth - window.innerWidth,
  nav: document.querySelectorAll('header nav a').length,
  latinDigits: (inner.match(/[0-9]+/g) || []),
  latinInputs: [...document.querySelectorAll('input[inputmode]')].filter(i => /[0-9]/.test(i.value)).map(i => i.id),
  hiddenCells: [...document.querySelectorAll('.table-wrap th, .table-wrap td')].filter(c => getComputedStyle(c).display === 'none').length,
  overflowing: wraps.filter(w => w.scrollWidth > w.clientWidth + 1).length,
  hints: [...document.querySelectorAll('.scroll-hint')].filter(visible).length,
  cutOff,
  untranslated: words,
  latinWords: de.lang === 'fa' ? (inner.replace(/USDT|EUR|USD|IRR|PDF|IR|DE/g, '').match(/[A-Za-z]{2,}/g) || []) : [],
  icon: !!document.querySelector('link[rel=icon][href="/static/favicon.svg"]'),
};
"#;

/// The reader's checks on [`PAGE_FACTS`]: nothing cut off or scrolling sideways, the
/// navigation there, the language and direction right, everything translated (and Persian
/// digits and words in Persian).
pub fn check_page_facts(facts: &Value, lang: &str, at: &str) {
    assert_eq!(facts["overflow"], 0, "scrolls sideways: {at}");
    assert_eq!(facts["cutOff"], json!([]), "cut off at the edge: {at}");
    assert!(facts["nav"].as_i64() >= Some(2), "the navigation: {at}");
    assert_eq!(facts["lang"], lang, "{at}");
    assert_eq!(
        facts["dir"],
        if lang == "fa" { "rtl" } else { "ltr" },
        "{at}"
    );
    assert_eq!(facts["hiddenCells"], 0, "no hidden column: {at}");
    assert_eq!(facts["untranslated"], 0, "every text translated: {at}");
    if facts["overflowing"].as_i64() > Some(0) {
        assert!(facts["hints"].as_i64() >= Some(1), "a visible cue: {at}");
    }
    assert_eq!(facts["icon"], true, "{at}");
    if lang == "fa" {
        assert_eq!(facts["latinDigits"], json!([]), "Persian digits: {at}");
        assert_eq!(facts["latinWords"], json!([]), "Persian words: {at}");
        assert_eq!(
            facts["latinInputs"],
            json!([]),
            "Persian digits in forms: {at}"
        );
    }
}
