//! `spawn_app()`: the real application, booted the way `main` boots it, on a
//! database nobody else uses.

use std::net::SocketAddr;
use std::sync::Arc;

use entity::enums::{TemplateType, TenantStatus};
use flowhq::app::App;
use flowhq::config::Settings;
use flowhq::domain::hours::{BusinessHours, parse_timezone};
use flowhq::domain::language::Language;
use flowhq::domain::phone::PhoneNumber;
use flowhq::services::audit::Actor;
use flowhq::services::sessions;
use flowhq::services::setup_requests::{self, NewSetupRequest};
use flowhq::services::users::{self, GoogleProfile, PortalUser};
use flowhq::state::AppState;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, Set};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The bootstrap admin every test app starts with.
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-123";

pub struct TestApp {
    pub address: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    /// The running server; awaited by `restart`.
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    settings: Settings,
    // Dropped last: the database outlives the server that uses it.
    database: Option<TestDatabase>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }
}

/// The admin surface: the JSON API with credentials, browsers, and direct
/// database moves for states the API cannot reach.
impl TestApp {
    /// A request to the admin API as the bootstrap admin (HTTP Basic).
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(ADMIN_USERNAME, Some(ADMIN_PASSWORD))
    }

    /// Calls the admin API as the bootstrap admin, with a JSON body if given.
    pub async fn api_call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.api(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        json_of(request.send().await.expect("request failed")).await
    }

    pub async fn api_get(&self, path: &str) -> (StatusCode, Value) {
        self.api_call(Method::GET, path, None).await
    }

    pub async fn api_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.api_call(Method::POST, path, Some(body)).await
    }

    /// Creates a tenant through the API; panics unless it answers 201.
    pub async fn create_tenant(&self, draft: &Value) -> Value {
        let (status, body) = self.api_post("/api/admin/tenants", draft).await;
        assert_eq!(status, StatusCode::CREATED, "creating {draft}: {body}");
        body
    }

    /// The tenant as `GET /api/admin/tenants/{id}` shows it; panics unless 200.
    pub async fn tenant(&self, id: Uuid) -> Value {
        let (status, body) = self.api_get(&format!("/api/admin/tenants/{id}")).await;
        assert_eq!(status, StatusCode::OK, "reading tenant {id}: {body}");
        body
    }

    /// Creates `tenant_draft(n)` through the API; its id.
    pub async fn new_tenant(&self, n: u32) -> Uuid {
        id_of(&self.create_tenant(&tenant_draft(n)).await)
    }

    /// Submits a setup request for a NEW tenant the way its owner does in
    /// the portal (the service the portal calls): the tenant becomes PENDING.
    /// `number` must be the tenant's or unused.
    pub async fn submit_setup_request(&self, tenant_id: Uuid, number: &str) -> Uuid {
        let request = NewSetupRequest {
            template_type: TemplateType::Booking,
            business_name: "Requested Business".to_owned(),
            whatsapp_number: PhoneNumber::parse(number).unwrap(),
            language: Language::En,
            timezone: parse_timezone("Europe/Berlin").unwrap(),
            hours: BusinessHours::default(),
            notes: Some("Please set us up.".to_owned()),
        };
        let owner = Actor::User(format!("owner-{tenant_id}@example.com"));
        setup_requests::submit(self.db(), &owner, tenant_id, None, request)
            .await
            .expect("submitting the setup request")
            .id
    }

    /// Puts a tenant into `status` directly in the database (for states only
    /// the bots or the portal would reach).
    pub async fn set_tenant_status(&self, id: Uuid, status: TenantStatus) {
        entity::tenant::ActiveModel {
            id: Set(id),
            status: Set(status),
            ..Default::default()
        }
        .update(self.db())
        .await
        .expect("setting the tenant status");
    }

    /// The tenant's status as stored.
    pub async fn tenant_status(&self, id: Uuid) -> TenantStatus {
        entity::tenant::Entity::find_by_id(id)
            .one(self.db())
            .await
            .unwrap()
            .expect("the tenant exists")
            .status
    }

    /// A GET carrying exactly this `Cookie` header and no jar.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("request failed")
    }

    /// A browser with an empty cookie jar that does not follow redirects.
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        Browser {
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar,
            base: format!("http://{}", self.address),
        }
    }

    /// A browser signed in to the portal as the owner with this email (the
    /// first time: a new tenant). Skips Google: it does what a successful
    /// callback does (`users::sign_in` + a portal session). The OAuth flow
    /// itself is tested against the fake provider in `portal_sign_in`.
    pub async fn owner_browser(&self, email: &str) -> (Browser, PortalUser) {
        let profile = GoogleProfile {
            subject: format!("google-{email}"),
            email: email.to_owned(),
            email_verified: true,
            name: Some(format!("Owner {email}")),
        };
        let (user, _) = users::sign_in(self.db(), &profile, &self.settings.portal)
            .await
            .unwrap();
        let (cookie, _) = sessions::create(
            self.db(),
            sessions::Subject::User(user.id),
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();
        let browser = self.browser();
        browser.add_cookie("flowhq_portal", &cookie);
        (browser, user)
    }

    /// A browser signed in as the bootstrap admin.
    pub async fn signed_in_browser(&self) -> Browser {
        let browser = self.browser();
        let response = sign_in(&browser).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in failed");
        browser
    }
}

/// Polls `check` until it yields `Some`, for at most 15 s; panics naming
/// `what` otherwise. For state that other tasks (bots, the log writer) reach.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The status and the JSON body of a response (`Null` when the body is empty).
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("reading the body");
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{status}: the body is not JSON ({err}): {text}"));
    (status, body)
}

/// The `id` of a tenant (or anything else) in a JSON answer.
pub fn id_of(value: &Value) -> Uuid {
    value["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {value}"))
}

/// A valid phone number, different for every `n`.
pub fn phone(n: u32) -> String {
    format!("+49151{n:08}")
}

/// A valid create request for the JSON API, different for every `n`.
pub fn tenant_draft(n: u32) -> Value {
    json!({
        "name": format!("Salon {n}"),
        "phone_number": phone(n),
        "template_type": "BOOKING",
        "business_name": format!("Salon {n} GmbH"),
        "language": "en",
        "timezone": "Europe/Berlin",
    })
}

/// A urlencoded form, in field order.
pub type Form = Vec<(String, String)>;

pub fn form(pairs: &[(&str, &str)]) -> Form {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The form with `key` set to `value` (replacing what it had).
pub fn with_field(form: Form, key: &str, value: &str) -> Form {
    let mut form = without_field(form, key);
    form.push((key.to_owned(), value.to_owned()));
    form
}

pub fn without_field(form: Form, key: &str) -> Form {
    form.into_iter().filter(|(k, _)| k != key).collect()
}

/// The create form's fields for a JSON draft: the same tenant typed into the
/// HTML form (hours as per-day fields; missing hours are the default week).
pub fn tenant_form(draft: &Value) -> Form {
    let mut fields = Form::new();
    for key in [
        "name",
        "phone_number",
        "template_type",
        "business_name",
        "language",
        "timezone",
    ] {
        if let Some(value) = draft[key].as_str() {
            fields.push((key.to_owned(), value.to_owned()));
        }
    }
    let default_week = json!({
        "mon": {"open": "09:00", "close": "18:00"}, "tue": {"open": "09:00", "close": "18:00"},
        "wed": {"open": "09:00", "close": "18:00"}, "thu": {"open": "09:00", "close": "18:00"},
        "fri": {"open": "09:00", "close": "18:00"}, "sat": null, "sun": null,
    });
    let hours = match &draft["hours"] {
        Value::Null => &default_week,
        hours => hours,
    };
    fields.extend(hours_form(hours));
    fields
}

/// Per-day form fields for an hours JSON value: a missing or null day is ticked closed.
pub fn hours_form(hours: &Value) -> Form {
    let mut fields = Form::new();
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        match &hours[day] {
            Value::Object(range) => {
                for end in ["open", "close"] {
                    let time = range[end].as_str().unwrap_or_default();
                    fields.push((format!("hours_{day}_{end}"), time.to_owned()));
                }
            }
            _ => fields.push((format!("hours_{day}_closed"), "on".to_owned())),
        }
    }
    fields
}

/// A browser: a cookie jar, no redirects followed.
pub struct Browser {
    pub client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// GETs a page that must answer 200 and returns its HTML.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        let status = response.status();
        let html = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {html}");
        html
    }

    pub async fn post_form<T: serde::Serialize + ?Sized>(&self, path: &str, form: &T) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request failed")
    }

    /// The session's CSRF token, as the dashboard's forms carry it.
    pub async fn csrf(&self) -> String {
        csrf_of(&self.page("/admin").await)
    }

    /// Posts a form the way a page of the console would: with the session's CSRF token.
    pub async fn submit(&self, path: &str, form: &[(String, String)]) -> Response {
        let mut fields = form.to_vec();
        fields.push(("csrf_token".to_owned(), self.csrf().await));
        self.post_form(path, &fields).await
    }

    /// Puts a cookie for this server into the jar.
    pub fn add_cookie(&self, name: &str, value: &str) {
        let url = reqwest::Url::parse(&self.url("/")).unwrap();
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/; HttpOnly"), &url);
    }

    /// A cookie this browser would send to the admin console's pages.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.url("/admin/login")).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }

    /// The sign-in form's CSRF token, its cookie in the jar. A signed-in
    /// browser is redirected away from the form, so then the form is loaded
    /// as a tab opened earlier would hold it: fetched without cookies, its
    /// cookie added to this jar.
    pub async fn login_form(&self) -> String {
        let response = self.get("/admin/login").await;
        if response.status() == StatusCode::OK {
            return csrf_of(&response.text().await.unwrap());
        }
        let url = reqwest::Url::parse(&self.url("/admin/login")).unwrap();
        let response = reqwest::get(url.clone()).await.expect("request failed");
        assert_eq!(response.status(), StatusCode::OK, "the sign-in form");
        for cookie in response.headers().get_all(reqwest::header::SET_COOKIE) {
            self.jar.add_cookie_str(cookie.to_str().unwrap(), &url);
        }
        csrf_of(&response.text().await.unwrap())
    }
}

/// Signs the browser in as the bootstrap admin; returns the answer to the POST.
pub async fn sign_in(browser: &Browser) -> Response {
    sign_in_as(browser, ADMIN_USERNAME, ADMIN_PASSWORD).await
}

/// Loads the sign-in form and posts these credentials with its CSRF token.
pub async fn sign_in_as(browser: &Browser, username: &str, password: &str) -> Response {
    let csrf_token = browser.login_form().await;
    browser
        .post_form(
            "/admin/login",
            &[
                ("csrf_token", csrf_token.as_str()),
                ("username", username),
                ("password", password),
            ],
        )
        .await
}

/// The `Location` of a redirect.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("{} without a Location header", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

// ---- Reading the console's HTML -------------------------------------------
// maud quotes every attribute with `"` and escapes `&<>"`, so plain string
// scanning is enough; no HTML parser needed.

/// The hidden `csrf_token` of the first form on the page.
pub fn csrf_of(html: &str) -> String {
    input_value(html, "csrf_token").unwrap_or_else(|| panic!("no csrf_token on the page: {html}"))
}

/// `&amp;` and friends back to text.
pub fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Every `<{name} …>` start tag: its offset and its text up to `>`.
fn start_tags<'a>(html: &'a str, name: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    html.match_indices(name).filter_map(move |(at, _)| {
        if at == 0 || html.as_bytes()[at - 1] != b'<' {
            return None;
        }
        let at = at - 1;
        let rest = &html[at..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        // `<input` but not `<inputs`.
        let next = tag[name.len() + 1..].chars().next();
        matches!(next, None | Some(' ' | '\n' | '\t' | '/')).then_some((at, tag))
    })
}

/// An attribute's decoded value (`Some("")` for a bare boolean attribute).
fn attr(tag: &str, name: &str) -> Option<String> {
    // Skip `<tagname`, then read `key` or `key="value"` pairs in order.
    let mut rest = tag.trim_start_matches('<');
    rest = rest.trim_start_matches(|c: char| !c.is_whitespace());
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let key_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if key_end == 0 {
            rest = &rest[1..];
            continue;
        }
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let value = match rest.strip_prefix("=\"") {
            Some(quoted) => {
                let end = quoted.find('"')?;
                rest = &quoted[end + 1..];
                decode_entities(&quoted[..end])
            }
            None => String::new(),
        };
        if key == name {
            return Some(value);
        }
    }
}

/// The control (`input`, `select`, `textarea`) named `name`: offset and tag.
fn control<'a>(html: &'a str, name: &str) -> Option<(&'static str, usize, &'a str)> {
    ["input", "select", "textarea"]
        .into_iter()
        .flat_map(|kind| start_tags(html, kind).map(move |(at, tag)| (kind, at, tag)))
        .filter(|(_, _, tag)| attr(tag, "name").as_deref() == Some(name))
        .min_by_key(|(_, at, _)| *at)
}

/// The `value` of the input named `name`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    start_tags(html, "input")
        .find(|(_, tag)| attr(tag, "name").as_deref() == Some(name))
        .and_then(|(_, tag)| attr(tag, "value"))
}

/// Whether the checkbox named `name` is ticked.
pub fn is_checked(html: &str, name: &str) -> bool {
    start_tags(html, "input")
        .find(|(_, tag)| attr(tag, "name").as_deref() == Some(name))
        .is_some_and(|(_, tag)| attr(tag, "checked").is_some())
}

/// The value of the selected option of the select named `name`.
pub fn selected_option(html: &str, name: &str) -> Option<String> {
    let (_, at, _) = control(html, name).filter(|(kind, _, _)| *kind == "select")?;
    let select = &html[at..];
    let select = &select[..select.find("</select>")?];
    start_tags(select, "option")
        .find(|(_, tag)| attr(tag, "selected").is_some())
        .and_then(|(_, tag)| attr(tag, "value"))
}

/// The text of the textarea named `name`.
pub fn textarea_text(html: &str, name: &str) -> Option<String> {
    let (_, at, tag) = control(html, name).filter(|(kind, _, _)| *kind == "textarea")?;
    let body = &html[at + tag.len() + 1..];
    Some(decode_entities(&body[..body.find("</textarea>")?]))
}

/// The error text (`p.error-text`) next to the control named `name`: the
/// nearest one, provided no control of another field stands between them
/// (the `hours_*` controls count as one field, `hours`).
pub fn error_near(html: &str, name: &str) -> Option<String> {
    let group = |field: &str| {
        if field.starts_with("hours_") {
            "hours".to_owned()
        } else {
            field.to_owned()
        }
    };
    let (_, field_at, _) = control(html, name)?;
    let (error_at, tag) = start_tags(html, "p")
        .filter(|(_, tag)| {
            attr(tag, "class").is_some_and(|class| class.split(' ').any(|c| c == "error-text"))
        })
        .min_by_key(|(at, _)| at.abs_diff(field_at))?;
    let between = &html[field_at.min(error_at)..field_at.max(error_at)];
    let foreign = ["input", "select", "textarea"].into_iter().any(|kind| {
        start_tags(between, kind).any(|(_, tag)| {
            attr(tag, "name")
                .is_some_and(|other| other != "csrf_token" && group(&other) != group(name))
        })
    });
    if foreign {
        return None;
    }
    let body = &html[error_at + tag.len() + 1..];
    Some(decode_entities(&body[..body.find("</p>")?]))
}

/// The flash message on the page: its kind (`success`, `error`, `info`) and text.
pub fn flash_of(html: &str) -> Option<(String, String)> {
    start_tags(html, "div").find_map(|(at, tag)| {
        let class = attr(tag, "class")?;
        let kind = class
            .split(' ')
            .find_map(|c| c.strip_prefix("flash-"))?
            .to_owned();
        let body = &html[at + tag.len() + 1..];
        Some((kind, decode_entities(&body[..body.find("</div>")?])))
    })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Boots the app on a fresh database with the test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Boots the app on a fresh database after `configure` adjusted the settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_tracing();
    let database = TestDatabase::create().await;
    let mut settings = Settings::for_tests(&database.url);
    settings.admin.bootstrap_password = Some(SecretString::from(ADMIN_PASSWORD));
    configure(&mut settings);
    boot(settings, database).await
}

async fn boot(settings: Settings, database: TestDatabase) -> TestApp {
    let app = App::build(settings.clone())
        .await
        .expect("the app failed to build");
    let address = app.address();
    let state = app.state().clone();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        state,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        shutdown,
        server: Some(server),
        settings,
        database: Some(database),
    }
}

impl TestApp {
    /// Stops the app gracefully (as SIGTERM does) and boots a new one on
    /// the same database: what a process restart does.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server
                .await
                .unwrap()
                .expect("the app stopped with an error");
        }
        let database = self.database.take().unwrap();
        boot(self.settings.clone(), database).await
    }
}

/// `TEST_LOG=1 cargo test` shows the app's logs.
fn init_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .with_test_writer()
            .try_init();
    }
}

/// A database of one test's own, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

impl TestDatabase {
    pub async fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(server_url) if !server_url.is_empty() => Self::postgres(server_url).await,
            _ => Self::sqlite(),
        }
    }

    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("flowhq.db").display());
        Self {
            url,
            kind: Kind::Sqlite(dir),
        }
    }

    async fn postgres(server_url: String) -> Self {
        let name = format!("flowhq_test_{}", uuid::Uuid::new_v4().simple());
        let server = Database::connect(&server_url)
            .await
            .expect("TEST_DATABASE_URL: cannot connect");
        server
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .unwrap();
        server.close().await.unwrap();
        let mut url = url::Url::parse(&server_url).expect("TEST_DATABASE_URL is not a URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            kind: Kind::Postgres { server_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Kind::Postgres { server_url, name } = &self.kind else {
            return;
        };
        let (server_url, name) = (server_url.clone(), name.clone());
        let label = name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // drop the database from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let server = Database::connect(&server_url).await?;
                server
                    .execute_unprepared(&format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    ))
                    .await?;
                server.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {label}: {dropped:?}");
        }
    }
}

// ---- Google sign-in against the fake provider -------------------------------
// The app's real sign-in code (`flowhq::oauth`, the oauth2 crate) talks to a
// `flowhq::fake_google::FakeGoogle` on loopback: the same path as production.

pub const FAKE_CLIENT_ID: &str = "flowhq-test";
pub const FAKE_CLIENT_SECRET: &str = "fake-client-secret";

/// A fake Google on a free loopback port that knows the test client.
pub async fn spawn_fake_google() -> flowhq::fake_google::FakeGoogle {
    flowhq::fake_google::FakeGoogle::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        flowhq::fake_google::FakeGoogleConfig {
            client_id: FAKE_CLIENT_ID.to_owned(),
            client_secret: FAKE_CLIENT_SECRET.to_owned(),
        },
    )
    .await
    .expect("starting the fake Google")
}

/// Points the settings at the fake (the redirect URL stays the default:
/// the app's own `/auth/google/callback`).
pub fn use_fake_google(settings: &mut Settings, fake: &flowhq::fake_google::FakeGoogle) {
    settings.google.client_id = fake.client_id().to_owned();
    settings.google.client_secret = Some(SecretString::from(fake.client_secret().to_owned()));
    settings.google.auth_url = fake.auth_url();
    settings.google.token_url = fake.token_url();
    settings.google.userinfo_url = fake.userinfo_url();
}

/// An app whose Google sign-in goes to a fresh fake provider.
pub async fn spawn_app_with_google() -> (TestApp, flowhq::fake_google::FakeGoogle) {
    spawn_app_with_google_and(|_| {}).await
}

/// The same, after `configure` adjusted the other settings.
pub async fn spawn_app_with_google_and(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, flowhq::fake_google::FakeGoogle) {
    let fake = spawn_fake_google().await;
    let app = spawn_app_with(|settings| {
        use_fake_google(settings, &fake);
        configure(settings);
    })
    .await;
    (app, fake)
}

/// What the app sent the browser to the provider with: the redirect to
/// `/authorize` and its query.
pub struct AuthorizeRequest {
    pub url: reqwest::Url,
    pub params: Vec<(String, String)>,
}

impl AuthorizeRequest {
    pub fn param(&self, key: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in {}", self.url))
    }

    /// The same request with `key` replaced (to tamper with it).
    pub fn with_param(&self, key: &str, value: &str) -> AuthorizeRequest {
        let params: Vec<(String, String)> = self
            .params
            .iter()
            .map(|(k, v)| {
                let v = if k == key { value } else { v.as_str() };
                (k.clone(), v.to_owned())
            })
            .collect();
        let mut url = self.url.clone();
        url.query_pairs_mut().clear().extend_pairs(&params);
        AuthorizeRequest { url, params }
    }
}

/// Who signs in at the fake provider.
pub struct FakeAccount<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub verified: bool,
}

/// `GET /auth/google/login` (with `?next=` when given) in `browser`: the
/// redirect to the provider, checked and parsed.
pub async fn start_google_sign_in(browser: &Browser, next: Option<&str>) -> AuthorizeRequest {
    let path = match next {
        Some(next) => format!(
            "/auth/google/login?{}",
            serde_urlencoded::to_string([("next", next)]).unwrap()
        ),
        None => "/auth/google/login".to_owned(),
    };
    let response = browser.get(&path).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
    let url = reqwest::Url::parse(&location(&response)).unwrap();
    let params = url.query_pairs().into_owned().collect();
    AuthorizeRequest { url, params }
}

/// The person at the provider: loads its sign-in page for `request`, then
/// posts the form with the page's hidden fields and `account`. Returns the
/// provider's redirect back to the app (the callback URL).
pub async fn consent_at_fake(request: &AuthorizeRequest, account: &FakeAccount<'_>) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(request.url.clone()).send().await.unwrap();
    let status = response.status();
    let html = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "the fake's sign-in page: {html}");
    let mut fields: Form = [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scope",
    ]
    .into_iter()
    .map(|name| {
        let value = input_value(&html, name).unwrap_or_else(|| panic!("no {name} on {html}"));
        (name.to_owned(), value)
    })
    .collect();
    fields.push(("email".to_owned(), account.email.to_owned()));
    fields.push(("name".to_owned(), account.name.to_owned()));
    assert!(is_checked(&html, "email_verified"), "verified by default");
    if account.verified {
        fields.push(("email_verified".to_owned(), "on".to_owned()));
    }
    let mut post_url = request.url.clone();
    post_url.set_query(None);
    let response = client.post(post_url).form(&fields).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "posting the fake's form"
    );
    location(&response)
}

/// The browser comes back from the provider: GETs the callback URL.
pub async fn finish_google_sign_in(browser: &Browser, callback: &str) -> Response {
    browser
        .client
        .get(callback)
        .send()
        .await
        .expect("request failed")
}

/// The whole dance in `browser`: the app's login redirect, the fake's
/// form, the callback. Returns the app's answer to the callback.
pub async fn google_sign_in(
    browser: &Browser,
    fake: &flowhq::fake_google::FakeGoogle,
    email: &str,
    name: &str,
    verified: bool,
) -> Response {
    let request = start_google_sign_in(browser, None).await;
    assert!(
        request.url.as_str().starts_with(fake.auth_url().as_str()),
        "the app sends the browser to the fake: {}",
        request.url
    );
    let account = FakeAccount {
        email,
        name,
        verified,
    };
    let callback = consent_at_fake(&request, &account).await;
    finish_google_sign_in(browser, &callback).await
}

/// A browser signed in to the portal through the fake provider.
pub async fn google_browser(
    app: &TestApp,
    fake: &flowhq::fake_google::FakeGoogle,
    email: &str,
) -> Browser {
    let browser = app.browser();
    let response = google_sign_in(&browser, fake, email, &format!("Owner {email}"), true).await;
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "signing in {email}: {}",
        response.text().await.unwrap()
    );
    assert!(browser.portal_cookie().is_some(), "a portal session");
    browser
}

impl Browser {
    /// A cookie this browser would send with a request to `path`.
    pub fn cookie_at(&self, path: &str, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.url(path)).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
    }

    /// The portal session cookie, if the browser has one.
    pub fn portal_cookie(&self) -> Option<String> {
        self.cookie_at("/portal", "flowhq_portal")
    }

    /// The cookie binding a started Google sign-in to this browser.
    pub fn oauth_cookie(&self) -> Option<String> {
        self.cookie_at("/auth/google/callback", "flowhq_oauth")
    }

    /// The portal session's CSRF token, as the portal's forms carry it.
    pub async fn portal_csrf(&self) -> String {
        csrf_of(&self.page("/portal/status").await)
    }

    /// A JSON request to the portal API the way the portal's own script
    /// sends it: `application/json`, same origin.
    pub fn portal_json(&self, method: Method, path: &str, body: &Value) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(reqwest::header::ORIGIN, &self.base)
            .json(body)
    }
}

/// A response's status and body text.
pub async fn status_and_text(response: Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap())
}
