//! A real browser for what only a browser shows: the pages' scripts, CSS
//! layout, the browser's own time zone. Debian's headless Chromium, driven
//! over WebDriver (its `chromedriver`, through the `fantoccini` crate)
//! against a `TestApp` on loopback.
//!
//! Every `Chromium` is a chromedriver of its own (in a process group of its
//! own) with one session in a fresh profile, so tests run in parallel and
//! share nothing. Dropping it ends the session, which closes the browser,
//! then kills what is left of that process group: no browser outlives its
//! test, even one that panicked.
//!
//! Without chromedriver or chromium on the PATH, `Chromium::launch` answers
//! `None` and the test skips with a line on stderr, so `cargo test` passes
//! on a machine without them. With `FLOWHQ_BROWSER_TESTS=required` (CI)
//! their absence fails the test instead.
//!
//! Waiting: every wait here is on a condition with a deadline
//! (`wait_until`), never a fixed sleep; `observe` is for the one kind of
//! check that must watch a whole window of time ("nothing reloads").

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::{Client, ClientBuilder};
use flowhq::services::users::PortalUser;
use serde_json::{Value, json};

use super::*;

/// How long a condition may take to come true. Generous: two cores run
/// the test binary, the app and Chromium at once.
const DEADLINE: Duration = Duration::from_secs(30);
/// How often a condition is checked.
const POLL: Duration = Duration::from_millis(100);
/// `FLOWHQ_BROWSER_TESTS=required`: a missing browser fails the test.
const REQUIRED_VAR: &str = "FLOWHQ_BROWSER_TESTS";

/// How the browser starts.
#[derive(Debug, Clone, Default)]
pub struct ChromiumOptions {
    /// The browser's time zone (its process's `TZ`), e.g. `Asia/Tokyo`.
    pub timezone: Option<&'static str>,
    /// A phone's screen, width × height in CSS pixels (Chromium's mobile
    /// emulation: a window cannot be narrower than 500 px). Default: a
    /// 1280 × 900 desktop window.
    pub phone: Option<(u32, u32)>,
}

pub struct Chromium {
    pub client: Client,
    base: String,
    driver: Child,
    driver_port: u16,
    session: String,
    /// The profile and chromedriver's log; removed after the browser is gone.
    _dir: tempfile::TempDir,
}

/// chromedriver and chromium from the PATH, or what is missing.
fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let driver = on_path("chromedriver").ok_or("chromedriver is not on the PATH")?;
    let browser = ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(on_path)
        .ok_or("chromium is not on the PATH")?;
    Ok((driver, browser))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The flags of a quiet, throwaway browser: no sandbox (tests run as root
/// in containers), no GPU, no /dev/shm (small in containers), nothing that
/// talks to the outside world (updates, sync, metrics; every host but
/// loopback resolves to nothing), a fresh profile.
fn browser_args(profile: &Path, window: (u32, u32)) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-first-run",
        "--no-default-browser-check",
        "--no-pings",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([
        format!("--user-data-dir={}", profile.display()),
        format!("--window-size={},{}", window.0, window.1),
    ])
    .collect()
}

impl Chromium {
    /// A browser on `app` with the default options; `None` (the test
    /// skips) when there is no browser to drive.
    pub async fn launch(app: &TestApp) -> Option<Self> {
        Self::launch_with(app, ChromiumOptions::default()).await
    }

    pub async fn launch_with(app: &TestApp, options: ChromiumOptions) -> Option<Self> {
        let (driver, browser) = match binaries() {
            Ok(found) => found,
            Err(missing) => {
                let test = std::thread::current().name().unwrap_or("?").to_owned();
                if std::env::var(REQUIRED_VAR).as_deref() == Ok("required") {
                    panic!("{test}: {missing}, and {REQUIRED_VAR}=required");
                }
                // Straight to stderr, not `eprintln!`: the test harness
                // swallows the macros' output of a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping the browser test {test}: {missing} (apt-get install chromium \
                     chromium-driver; {REQUIRED_VAR}=required makes this a failure)"
                );
                return None;
            }
        };
        Some(Self::start(app, &driver, &browser, &options).await)
    }

    async fn start(
        app: &TestApp,
        driver: &Path,
        browser: &Path,
        options: &ChromiumOptions,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(driver);
        // Port 0: chromedriver picks a free one and prints it.
        command
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(zone) = options.timezone {
            // Inherited by the browser chromedriver starts.
            command.env("TZ", zone);
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        // With port 0 chromedriver probes for a free port itself and then
        // binds it; another test's listener can take it in between
        // ("bind() failed: Address already in use … Exiting"): it is
        // started again then.
        let mut attempts = 0;
        let (driver, driver_port) = loop {
            attempts += 1;
            let mut driver = command.spawn().expect("starting chromedriver");
            match wait_for_port(&log_path, &mut driver).await {
                Some(port) => break (driver, port),
                None if attempts < 3 => continue,
                None => {
                    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("chromedriver exited {attempts} times without listening:\n{text}");
                }
            }
        };

        let profile = dir.path().join("profile");
        let mut chrome = json!({
            "binary": browser,
            "args": browser_args(&profile, (1280, 900)),
        });
        if let Some((width, height)) = options.phone {
            chrome["mobileEmulation"] = json!({
                "deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": 2.0, "mobile": true, "touch": true,
                },
            });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            // chromedriver keeps the pages' console (`console_log`).
            "goog:loggingPrefs": { "browser": "ALL" },
            "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        // Plain HTTP to chromedriver on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let connected = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await;
        let mut chromium = Self {
            client: match connected {
                Ok(client) => client,
                Err(err) => {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("chromedriver opened no browser: {err}\n{log}");
                }
            },
            base: format!("http://{}", app.address),
            driver,
            driver_port,
            session: String::new(),
            _dir: dir,
        };
        chromium.session = chromium
            .client
            .session_id()
            .await
            .unwrap()
            .expect("a session id");
        chromium
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens a page of the app and waits for it to load.
    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.url(path)).await.unwrap();
    }

    /// Gives the browser a session cookie of the app (the sign-in itself is
    /// tested elsewhere): a cookie needs a page of its site to be set on.
    pub async fn add_session_cookie(&self, name: &str, value: &str) {
        self.goto("/healthz").await;
        // As the app sets it (`web::auth::session_cookie`).
        let mut cookie = Cookie::new(name.to_owned(), value.to_owned());
        cookie.set_domain("127.0.0.1");
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_same_site(cookie::SameSite::Lax);
        self.client.add_cookie(cookie).await.unwrap();
    }

    /// Signs the browser in to the admin console as the bootstrap admin.
    pub async fn sign_in_admin(&self, app: &TestApp) {
        let admin = app.signed_in_browser().await;
        let cookie = admin.cookie("flowhq_admin").expect("an admin session");
        self.add_session_cookie("flowhq_admin", &cookie).await;
    }

    /// Signs the browser in to the portal as the owner with this email (a
    /// new tenant the first time); the owner.
    pub async fn sign_in_owner(&self, app: &TestApp, email: &str) -> PortalUser {
        let (owner, user) = app.owner_browser(email).await;
        let cookie = owner.portal_cookie().expect("a portal session");
        self.add_session_cookie("flowhq_portal", &cookie).await;
        user
    }

    /// Runs `body` (a function body: it may `return` a value) in the page.
    pub async fn js(&self, body: &str) -> Value {
        self.client
            .execute(body, vec![])
            .await
            .unwrap_or_else(|err| panic!("script failed: {err}\n{body}"))
    }

    /// Waits until `expression` (a JavaScript expression) is truthy in the
    /// page, for at most `DEADLINE`, and returns its value. A page that is
    /// reloading in between just counts as not yet.
    pub async fn wait_until(&self, what: &str, expression: &str) -> Value {
        let script = format!("return ({expression});");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let last = match self.client.execute(&script, vec![]).await {
                Ok(value) if truthy(&value) => return value,
                Ok(value) => value,
                Err(err) => Value::String(format!("error: {err}")),
            };
            if Instant::now() >= deadline {
                let text = self.page_text().await;
                panic!(
                    "timed out after {DEADLINE:?} waiting for {what} ({expression} was {last})\n\
                     page text:\n{text}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Checks `expression` every `POLL` for the whole `window` and returns
    /// how often it held: for a claim about a span of time ("the page does
    /// not reload for 10 s"), where waiting for a condition cannot tell.
    pub async fn observe(&self, window: Duration, expression: &str) -> ObservedWindow {
        let script = format!("return ({expression});");
        let end = Instant::now() + window;
        let mut observed = ObservedWindow::default();
        while Instant::now() < end {
            match self.client.execute(&script, vec![]).await {
                Ok(value) if truthy(&value) => observed.held += 1,
                Ok(value) => observed.failed.push(value.to_string()),
                Err(err) => observed.failed.push(format!("error: {err}")),
            }
            tokio::time::sleep(POLL).await;
        }
        observed
    }

    /// With `FLOWHQ_SCREENSHOTS=DIR`, saves what the page shows as
    /// `DIR/{name}.png` (to look at the pages a test walks); else nothing.
    pub async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("FLOWHQ_SCREENSHOTS") else {
            return;
        };
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }

    /// Puts a marker on `window`: a reload (or any navigation) drops it.
    pub async fn mark_page(&self) {
        self.js("window.__flowhqMarker = 'this page load'; return null;")
            .await;
    }

    /// The page's visible text, for failure messages.
    pub async fn page_text(&self) -> String {
        self.client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|text| text.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Types `text` into the field `selector` finds (after what it holds).
    pub async fn type_into(&self, selector: &str, text: &str) {
        self.client
            .find(fantoccini::Locator::Css(selector))
            .await
            .unwrap_or_else(|err| panic!("no {selector}: {err}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Clicks the element `selector` finds.
    pub async fn click(&self, selector: &str) {
        self.client
            .find(fantoccini::Locator::Css(selector))
            .await
            .unwrap_or_else(|err| panic!("no {selector}: {err}"))
            .click()
            .await
            .unwrap_or_else(|err| panic!("clicking {selector}: {err}"));
    }
}

/// chromedriver's `POST /session/{id}/se/log` for the `browser` log: the
/// console messages of every page since the last read, the browser's own
/// included ("Refused to … because it violates the following Content
/// Security Policy directive …"), which a script in the page cannot see
/// for what happened before it ran. Read with `console_log`.
#[derive(Debug)]
struct ReadConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ReadConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (reqwest::Method, Option<String>) {
        (
            reqwest::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

impl Chromium {
    /// The console messages logged since the last call, oldest first.
    pub async fn console_log(&self) -> Vec<ConsoleMessage> {
        let entries = self
            .client
            .issue_cmd(ReadConsoleLog)
            .await
            .unwrap_or_else(|err| panic!("reading the browser's console log: {err}"));
        serde_json::from_value(entries)
            .unwrap_or_else(|err| panic!("chromedriver's log entries: {err}"))
    }
}

/// One line of the browser's console, as chromedriver reports it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ConsoleMessage {
    /// `SEVERE`, `WARNING`, `INFO`…
    pub level: String,
    /// The page's URL, a position and the text.
    pub message: String,
}

impl ConsoleMessage {
    /// Chromium's report of something the page's Content-Security-Policy
    /// blocked (its wording changes between versions: "Refused to execute
    /// inline script because it violates…", "Executing inline script
    /// violates…"; the policy's name stays).
    pub fn is_csp_violation(&self) -> bool {
        self.message.contains("Content Security Policy")
    }
}

/// What `observe` saw: how many checks held, and what the others found.
#[derive(Debug, Default)]
pub struct ObservedWindow {
    pub held: usize,
    pub failed: Vec<String>,
}

/// JavaScript's truthiness of a returned value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The port chromedriver prints once it listens; `None` when it exited
/// before (its port was taken).
async fn wait_for_port(log: &Path, driver: &mut Child) -> Option<u16> {
    const STARTED: &str = "was started successfully on port ";
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(at) = text.find(STARTED) {
            let digits: String = text[at + STARTED.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(port) = digits.parse() {
                return Some(port);
            }
        }
        if matches!(driver.try_wait(), Ok(Some(_))) {
            return None;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start listening:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Ending the session closes the browser. Sent by hand, blocking: a
        // panicking test's runtime may not run fantoccini's own goodbye.
        if let Err(err) = delete_session(self.driver_port, &self.session) {
            eprintln!("could not end the WebDriver session: {err}");
        }
        // Whatever is left (a browser chromedriver failed to close) is in
        // chromedriver's process group.
        #[cfg(target_os = "linux")]
        if let Some(group) = i32::try_from(self.driver.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE /session/{id}` to chromedriver over a plain socket.
fn delete_session(port: u16, session: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver answers once the browser is closed; the status line is
    // enough (it may keep the connection open).
    let mut answer = [0u8; 64];
    let read = stream.read(&mut answer)?;
    let status = String::from_utf8_lossy(&answer[..read]);
    match status.starts_with("HTTP/1.1 200") {
        true => Ok(()),
        false => Err(std::io::Error::other(format!(
            "chromedriver answered {status}"
        ))),
    }
}

/// chromedriver's door to the DevTools protocol
/// (`POST /session/{id}/goog/cdp/execute`): one CDP command and its answer.
#[derive(Debug)]
struct DevTools {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (reqwest::Method, Option<String>) {
        (
            reqwest::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

impl Chromium {
    /// Runs `source` in every page this browser loads from now on, before
    /// the page's own scripts (CDP `Page.addScriptToEvaluateOnNewDocument`):
    /// to stand in for what a headless browser cannot show, such as a
    /// system notification.
    pub async fn before_each_page(&self, source: &str) {
        self.client
            .issue_cmd(DevTools {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: json!({ "source": source }),
            })
            .await
            .unwrap_or_else(|err| panic!("adding a script to every page: {err}"));
    }
}
