//! A browser for the server-rendered pages: sessions by cookie, forms with their CSRF token.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};

/// A page as a browser got it.
pub struct Page {
    pub status: StatusCode,
    pub location: String,
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in: {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// The text of the error shown under field `id`.
    pub fn field_error(&self, id: &str) -> String {
        let marker = format!("id=\"{id}-error\">");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no error for {id} in: {}", self.body));
        let rest = &self.body[at + marker.len()..];
        rest[..rest.find("</p>").unwrap()].to_string()
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// A browser on the web pages: a cookie jar, the headers a browser sends, and no automatic
/// redirects (the harness's client follows none).
pub struct Browser<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    /// The cookies the server set and has not cleared, by name.
    pub cookies: HashMap<String, String>,
    /// Sent with every request; a test may add one (a proxy's `x-forwarded-proto`, say).
    pub headers: Vec<(&'static str, &'static str)>,
}

impl<'a> Browser<'a> {
    /// A browser with no session yet on the server at `base` (see `TestApp::browser`).
    pub fn new(http: &'a reqwest::Client, base: &'a str) -> Self {
        Browser {
            http,
            base,
            cookies: HashMap::new(),
            // What a browser asks for when it opens a page.
            headers: vec![("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        }
    }

    /// One request, whatever its status.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(COOKIE, jar.join("; "));
        }
        for (name, value) in &self.headers {
            request = request.header(*name, *value);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.expect("request sent");
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for cookie in &set_cookies {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default(),
            set_cookies,
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    /// A GET that must answer 200 or 303.
    pub async fn get(&mut self, path: &str) -> Page {
        let page = self.send(Method::GET, path, None).await;
        assert!(
            page.status == StatusCode::OK || page.status == StatusCode::SEE_OTHER,
            "GET {path}: {} {}",
            page.status,
            page.body
        );
        page
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Fills in a form of page `from` and submits it to `action` with the page's CSRF token.
    pub async fn submit(&mut self, from: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut form = fields.to_vec();
        form.push(("csrf", &csrf));
        self.post(action, &form).await
    }

    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let page = self
            .submit(
                "/login",
                "/login",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "sign in {username}: {}",
            page.body
        );
        page
    }
}
