//! A headless Chromium over WebDriver, for the tests of what only a
//! browser shows (tests/search.rs, tests/page.rs).

use std::time::Duration;

use crate::support::{client, wait_until};

/// A headless Chromium driven over WebDriver (`chromedriver`, Debian's
/// `chromium-driver`), for what only a browser shows: whether the page's
/// own CSP lets its search form go anywhere, what a copy button copies,
/// how wide the page lays out. Quits on drop.
pub struct Browser {
    driver: std::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    /// `None` (said, and a failure under CI) where chromedriver or
    /// Chromium is not installed.
    pub async fn start() -> Option<Browser> {
        let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .map(std::path::Path::new)
            .find(|p| p.is_file());
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .map(std::path::Path::new)
            .find(|p| p.is_file());
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have chromium and chromium-driver"
            );
            eprintln!("SKIPPED: the page in a browser (chromium or chromedriver is not installed)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http: client(),
        };
        let up = wait_until(Duration::from_secs(20), || async {
            browser
                .http
                .get(format!("{}/status", browser.base))
                .send()
                .await
                .is_ok()
        })
        .await;
        assert!(up.is_some(), "chromedriver did not answer");
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // Root in a container has no user namespace to sandbox in.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created = browser.call("POST", "/session", Some(caps)).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        Some(browser)
    }

    /// One WebDriver command; its `value`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, &url);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let reply = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .bytes()
            .await
            .unwrap();
        let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        reply["value"].clone()
    }

    pub async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                "/element",
                Some(serde_json::json!({"using": "css selector", "value": css})),
            )
            .await;
        found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    pub async fn current_url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The console's messages since the last call.
    pub async fn console(&self) -> Vec<String> {
        let log = self
            .call(
                "POST",
                "/se/log",
                Some(serde_json::json!({"type": "browser"})),
            )
            .await;
        log.as_array()
            .unwrap_or_else(|| panic!("no log: {log}"))
            .iter()
            .map(|m| m["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
    /// Open `url`.
    pub async fn open(&self, url: &str) {
        self.call("POST", "/url", Some(serde_json::json!({ "url": url })))
            .await;
    }

    /// Run `script` in the page (WebDriver's own evaluation, which the
    /// page's CSP does not govern); its value.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(serde_json::json!({"script": script, "args": []})),
        )
        .await
    }

    /// Click the element `css` selects.
    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.call(
            "POST",
            &format!("/element/{e}/click"),
            Some(serde_json::json!({})),
        )
        .await;
    }

    /// The window's outer size, in CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(serde_json::json!({"width": width, "height": height})),
        )
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver quits its browsers when it goes.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
