//! A headless Chromium driven over WebDriver (chromedriver), for tests of the pages gan-rs
//! writes: what the page says and shows, what its console logged and which requests it made.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// Set in CI: a missing browser fails the tests instead of skipping them.
pub const REQUIRE_ENV: &str = "GAN_REQUIRE_BROWSER";

/// Chromium and its driver, from `GAN_TEST_CHROMIUM`/`GAN_TEST_CHROMEDRIVER` or the PATH.
/// `None` (with the reason printed) where they are missing and [`REQUIRE_ENV`] is not set.
pub fn find() -> Option<(PathBuf, PathBuf)> {
    let pick = |var: &str, names: &[&str]| -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(var) {
            return Some(PathBuf::from(path));
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
            .find(|p| p.is_file())
    };
    let chromium = pick(
        "GAN_TEST_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let driver = pick("GAN_TEST_CHROMEDRIVER", &["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ if std::env::var_os(REQUIRE_ENV).is_some() => {
            panic!("{REQUIRE_ENV} is set but chromium and chromedriver are not both on the PATH (Debian: apt-get install chromium chromium-driver)")
        }
        _ => {
            eprintln!("SKIPPED: browser test needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)");
            None
        }
    }
}

/// What a loaded page showed and did.
#[derive(Debug)]
pub struct PageVisit {
    pub title: String,
    /// `(complete, naturalWidth, naturalHeight)` of every `<img>`.
    pub images: Vec<(bool, u64, u64)>,
    /// Inline `<svg>` elements.
    pub svgs: u64,
    /// Console messages at level SEVERE (errors), as logged.
    pub console_errors: Vec<String>,
    /// URLs requested other than the page's own `file:` URL and `data:` URLs.
    pub network_requests: Vec<String>,
    /// The viewport as rendered.
    pub screenshot: gan_viz::Rgb,
}

/// A chromedriver process with one browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1200,1000",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
        }}});
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let created = browser.post("/session", &capabilities);
        browser.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match body {
            Some(body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.to_string().as_bytes()),
            None if method == "DELETE" => self.agent.delete(&url).call(),
            None => self.agent.get(&url).call(),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {url}: {status} {text}");
        value
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        self.call("POST", path, Some(body))
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Loads `page` (a local file), waits until it has loaded, and records what it shows.
    pub fn visit(&self, page: &Path) -> PageVisit {
        let url = format!("file://{}", page.canonicalize().unwrap().display());
        self.post(&self.session_path("/url"), &json!({ "url": url }));
        let script = "return {ready: document.readyState, title: document.title, \
            svgs: document.querySelectorAll('svg').length, \
            images: Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])};";
        let started = Instant::now();
        let state = loop {
            let state = self.post(
                &self.session_path("/execute/sync"),
                &json!({"script": script, "args": []}),
            )["value"]
                .clone();
            if state["ready"] == "complete" || started.elapsed() > Duration::from_secs(20) {
                break state;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let images = state["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i[0].as_bool().unwrap_or(false),
                    i[1].as_u64().unwrap_or(0),
                    i[2].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let log = |kind: &str| -> Vec<Value> {
            self.post(&self.session_path("/se/log"), &json!({ "type": kind }))["value"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        let console_errors = log("browser")
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
            .collect();
        let network_requests = log("performance")
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e["message"].as_str()?).ok())
            .filter(|m| m["message"]["method"] == "Network.requestWillBeSent")
            .filter_map(|m| {
                Some(
                    m["message"]["params"]["request"]["url"]
                        .as_str()?
                        .to_owned(),
                )
            })
            .filter(|u| u != &url && !u.starts_with("data:"))
            .collect();
        let png = self.call("GET", &self.session_path("/screenshot"), None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png["value"].as_str().unwrap())
            .unwrap();
        let shot = tempfile::NamedTempFile::with_suffix(".png").unwrap();
        std::fs::write(shot.path(), bytes).unwrap();
        PageVisit {
            title: state["title"].as_str().unwrap_or("").to_owned(),
            images,
            svgs: state["svgs"].as_u64().unwrap_or(0),
            console_errors,
            network_requests,
            screenshot: gan_viz::Rgb::load_png(shot.path()).unwrap(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self.agent.delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl PageVisit {
    /// Share of the screenshot's pixels that are not near-white, and how many distinct
    /// colours it has: a blank page has none of either.
    pub fn ink(&self) -> (f64, usize) {
        let pixels: Vec<&[u8]> = self.screenshot.pixels.chunks(3).collect();
        let inked = pixels.iter().filter(|p| p.iter().any(|&c| c < 230)).count();
        let mut colours: Vec<&[u8]> = pixels.clone();
        colours.sort();
        colours.dedup();
        (inked as f64 / pixels.len().max(1) as f64, colours.len())
    }
}
