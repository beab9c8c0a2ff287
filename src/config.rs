//! Typed settings, loaded in layers: the embedded `config/default.toml`, then
//! `config/local.toml` when present, then `FLOWHQ__SECTION__KEY` environment
//! variables. `Settings::load` refuses unknown keys and bad values with one
//! line that names the key; `validate` adds the checks serde cannot express.
//!
//! Secrets (`SecretString`) print as `[REDACTED]` in `Debug`, so logging a
//! `Settings` never leaks one.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// The documented defaults, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// The optional local override, relative to the working directory.
pub const LOCAL_TOML: &str = "config/local.toml";
/// Prefix of the environment variables that override the files.
pub const ENV_PREFIX: &str = "FLOWHQ__";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub admin: AdminSettings,
    pub google: GoogleSettings,
    pub portal: PortalSettings,
    pub bots: BotSettings,
    pub security: SecuritySettings,
    pub whatsapp_web: WhatsappWebSettings,
    pub cloud_api: CloudApiSettings,
    pub smtp: SmtpSettings,
    pub webhooks: WebhooksSettings,
    pub ai: AiSettings,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub public_url: Option<Url>,
    pub workers: usize,
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// Requests of one client address in flight at once.
    pub max_requests_per_client: std::num::NonZeroU32,
    /// Connections open at once, all clients together.
    pub max_connections: std::num::NonZeroU32,
    /// Reverse proxies whose forwarding headers are believed.
    #[serde(deserialize_with = "addresses_or_ranges")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// A list of humantime durations (`["5s", "5m"]`).
fn durations<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
    let raw: Vec<humantime_serde::Serde<Duration>> = Deserialize::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(humantime_serde::Serde::into_inner)
        .collect())
}

/// `192.0.2.1` (one address) or `10.0.0.0/8` (a range), each as a range.
fn addresses_or_ranges<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let raw: Vec<String> = Deserialize::deserialize(deserializer)?;
    raw.iter()
        .map(|item| {
            let item = item.trim();
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{item:?} is neither an IP address nor a CIDR range"
                    ))
                })
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May carry a password: use [`DatabaseSettings::redacted_url`] to show it.
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub sqlite_busy_timeout: Duration,
    pub sqlite_cache_mib: u32,
    /// PostgreSQL only: connections the message log writer commits on.
    pub log_writer_connections: NonZeroU32,
    #[serde(with = "humantime_serde")]
    pub slow_statement_threshold: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    #[serde(default)]
    pub bootstrap_password: Option<SecretString>,
    #[serde(with = "humantime_serde")]
    pub session_idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub session_absolute_timeout: Duration,
    pub login_attempts: NonZeroU32,
    #[serde(with = "humantime_serde")]
    pub login_attempt_period: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSettings {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    pub auth_url: Url,
    pub token_url: Url,
    pub userinfo_url: Url,
    #[serde(default)]
    pub redirect_url: Option<Url>,
    #[serde(with = "humantime_serde")]
    pub login_timeout: Duration,
}

impl GoogleSettings {
    /// Whether Google sign-in can be offered at all.
    pub fn is_configured(&self) -> bool {
        !self.client_id.trim().is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    pub allowed_email_domains: Vec<String>,
    pub invited_emails: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub session_idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub session_absolute_timeout: Duration,
}

impl PortalSettings {
    /// Whether a (verified) email may create a new tenant by signing in.
    pub fn may_sign_up(&self, email: &str) -> bool {
        if self.allowed_email_domains.is_empty() && self.invited_emails.is_empty() {
            return true;
        }
        let email = email.trim();
        let domain = email.rsplit_once('@').map_or("", |(_, domain)| domain);
        self.invited_emails
            .iter()
            .any(|invited| invited.trim().eq_ignore_ascii_case(email))
            || self.allowed_email_domains.iter().any(|allowed| {
                allowed
                    .trim()
                    .trim_start_matches('@')
                    .eq_ignore_ascii_case(domain)
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSettings {
    #[serde(with = "humantime_serde")]
    pub reconcile_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    pub restart_stale: bool,
    #[serde(with = "humantime_serde")]
    pub restart_backoff_min: Duration,
    #[serde(with = "humantime_serde")]
    pub restart_backoff_max: Duration,
    pub restart_intensity: NonZeroU32,
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
    pub tenant_rate_per_minute: NonZeroU32,
    pub tenant_burst: NonZeroU32,
    pub chat_rate_per_minute: NonZeroU32,
    pub chat_burst: NonZeroU32,
    pub chat_queue_capacity: NonZeroU32,
    #[serde(with = "humantime_serde")]
    pub chat_idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub dedup_ttl: Duration,
    pub dedup_capacity: NonZeroU32,
    pub log_batch_size: NonZeroU32,
    #[serde(with = "humantime_serde")]
    pub log_flush_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub qr_first_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub qr_next_ttl: Duration,
    pub qr_max_codes: NonZeroU32,
}

/// Secrets at rest (tenants' transport credentials).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// 32 bytes, base64: the AES-256-GCM key for credentials at rest. When
    /// unset, the key in `master_key_file` is used, generated on first start.
    pub master_key: Option<SecretString>,
    pub master_key_file: PathBuf,
}

/// The WhatsApp Web (linked device) transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappWebSettings {
    /// No answer from WhatsApp's servers this long after the bot started:
    /// it stops in ERROR "cannot reach WhatsApp servers: …" instead of
    /// retrying for ever. (Once WhatsApp has answered, later outages are
    /// waited out with the reconnect backoff.)
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Reconnects after a temporary disconnect wait from `reconnect_min`,
    /// doubling (with jitter) up to `reconnect_max`.
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
}

/// Meta's WhatsApp Cloud API transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudApiSettings {
    /// The Graph API; tests point it at a local fake.
    pub graph_base_url: Url,
    pub graph_version: String,
    /// Meta's documented default throughput per business number.
    pub messages_per_second: NonZeroU32,
    /// Throughput errors (130429, 131056) are retried after `retry_min`,
    /// doubling up to `retry_max`, at most `max_retries` times.
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    pub max_retries: u32,
    /// How long one Graph API request may take.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

/// Email to a tenant's people when a chat needs a person. Off while `host`
/// is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    /// The sender, `Flow HQ <flowhq@example.com>` or a bare address;
    /// checked by `validate` (lettre's parser) when email is on.
    pub from: String,
    /// At most one email per chat this often.
    #[serde(with = "humantime_serde")]
    pub notify_interval: Duration,
}

impl SmtpSettings {
    /// Whether email can be sent at all.
    pub fn is_configured(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte ("SMTPS", port 465).
    Tls,
    /// No encryption at all: for a mail catcher on the same machine.
    None,
}

/// Outbound webhooks to tenants' endpoints (`[webhooks]`).
/// The platform's AI model for tenants who turn AI replies on: any
/// OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, llama.cpp,
/// vLLM).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiSettings {
    /// The API's base, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:11434/v1`; empty: AI replies are off everywhere.
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<SecretString>,
    pub model: String,
    /// Longer than this and the bot answers from its rules instead.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The most tokens one answer may take.
    pub max_output_tokens: u32,
    /// The conversation's latest messages the model sees (since it last
    /// went back to the bot).
    pub history_messages: u16,
    /// A customer's messages this close together are answered once,
    /// together.
    #[serde(with = "humantime_serde")]
    pub burst_window: Duration,
}

impl AiSettings {
    /// Whether AI replies can be used at all.
    pub fn is_configured(&self) -> bool {
        !self.base_url.trim().is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSettings {
    /// Private, loopback, link-local and metadata addresses (and plain
    /// http) allowed as targets: for self-hosters on a private network, and
    /// tests. Off by default.
    pub allow_private_targets: bool,
    /// How long one delivery may take (connect, send, answer).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The waits before each retry after a failed attempt (with ±10 %
    /// jitter); an event fails for good after the last.
    #[serde(deserialize_with = "durations")]
    pub retry_delays: Vec<Duration>,
    /// An endpoint whose every attempt failed for this long is disabled
    /// and its owner told.
    #[serde(with = "humantime_serde")]
    pub disable_after: Duration,
    /// Deliveries in flight at once in this process, all endpoints together.
    pub max_in_flight: NonZeroU32,
    /// How often the worker looks for due retries when nothing woke it.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Delivered and failed events (with their attempts) are deleted this
    /// long after they were created; pending ones are kept until they end.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which database a URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// A configuration problem, as the one line the operator reads.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// Loads defaults ← `config/local.toml` ← the process environment, then validates.
    pub fn load() -> Result<Self, ConfigError> {
        Self::extract(
            Figment::new()
                .merge(Toml::string(DEFAULT_TOML))
                .merge(Toml::file(LOCAL_TOML))
                .merge(Env::prefixed(ENV_PREFIX).split("__")),
        )
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(ConfigError::from_figment)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The defaults, listening on a free loopback port, on the given database.
    /// What `tests/it` boots; also handy for benchmarks.
    pub fn for_tests(database_url: &str) -> Self {
        let mut settings: Settings = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .extract()
            .unwrap_or_else(|err| panic!("the embedded default.toml must parse: {err}"));
        settings.server.port = 0;
        settings.server.workers = 1;
        settings.server.shutdown_timeout = Duration::from_secs(1);
        settings.database.url = SecretString::from(database_url.to_owned());
        settings.database.max_connections = 4;
        settings.database.min_connections = 0;
        // Tests and benchmarks drive bots fast: no platform rate limits in
        // the way (tests of the limits set their own), short drains.
        let unlimited = NonZeroU32::new(6_000_000).unwrap_or(NonZeroU32::MAX);
        settings.bots.tenant_rate_per_minute = unlimited;
        settings.bots.tenant_burst = unlimited;
        settings.bots.chat_rate_per_minute = unlimited;
        settings.bots.chat_burst = unlimited;
        settings.bots.drain_timeout = Duration::from_secs(2);
        // Test receivers listen on loopback.
        settings.webhooks.allow_private_targets = true;
        // No mail leaves a test unless it starts its own SMTP server.
        settings.smtp.host = String::new();
        // Never the working directory's key file: a fresh key per test app.
        settings.security.master_key = Some(SecretString::from(
            crate::crypto::MasterKey::generate().to_base64(),
        ));
        settings
    }

    /// Checks serde cannot express: ranges, URL schemes, cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if server.host.trim().is_empty() {
            return Err(ConfigError::new("server.host", "must not be empty"));
        }
        if let Some(url) = &server.public_url
            && (!matches!(url.scheme(), "http" | "https") || url.host().is_none())
        {
            return Err(ConfigError::new(
                "server.public_url",
                format!("must be an absolute http(s) URL, got {url}"),
            ));
        }
        if server.body_timeout.is_zero() {
            return Err(ConfigError::new(
                "server.body_timeout",
                "must be longer than 0s",
            ));
        }
        if server.shutdown_timeout.is_zero() {
            return Err(ConfigError::new(
                "server.shutdown_timeout",
                "must be longer than 0s",
            ));
        }

        let db = &self.database;
        self.database.kind()?;
        if db.max_connections == 0 {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if db.min_connections > db.max_connections {
            return Err(ConfigError::new(
                "database.min_connections",
                format!(
                    "must not exceed database.max_connections ({})",
                    db.max_connections
                ),
            ));
        }
        for (key, value) in [
            ("database.connect_timeout", db.connect_timeout),
            ("database.acquire_timeout", db.acquire_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be longer than 0s"));
            }
        }

        let admin = &self.admin;
        for (key, value) in [
            ("admin.session_idle_timeout", admin.session_idle_timeout),
            (
                "admin.session_absolute_timeout",
                admin.session_absolute_timeout,
            ),
            ("admin.login_attempt_period", admin.login_attempt_period),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be longer than 0s"));
            }
        }
        let google = &self.google;
        for (key, url) in [
            ("google.auth_url", Some(&google.auth_url)),
            ("google.token_url", Some(&google.token_url)),
            ("google.userinfo_url", Some(&google.userinfo_url)),
            ("google.redirect_url", google.redirect_url.as_ref()),
        ] {
            if let Some(url) = url
                && (!matches!(url.scheme(), "http" | "https") || url.host().is_none())
            {
                return Err(ConfigError::new(
                    key,
                    format!("must be an absolute http(s) URL, got {url}"),
                ));
            }
        }
        if google.is_configured() && google.client_secret.is_none() {
            return Err(ConfigError::new(
                "google.client_secret",
                "must be set when google.client_id is set",
            ));
        }
        let portal = &self.portal;
        for (key, value) in [
            ("google.login_timeout", google.login_timeout),
            ("portal.session_idle_timeout", portal.session_idle_timeout),
            (
                "portal.session_absolute_timeout",
                portal.session_absolute_timeout,
            ),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be longer than 0s"));
            }
        }
        let bots = &self.bots;
        for (key, value) in [
            ("bots.reconcile_interval", bots.reconcile_interval),
            ("bots.heartbeat_interval", bots.heartbeat_interval),
            ("bots.stale_after", bots.stale_after),
            ("bots.restart_backoff_min", bots.restart_backoff_min),
            ("bots.restart_window", bots.restart_window),
            ("bots.chat_idle_timeout", bots.chat_idle_timeout),
            ("bots.dedup_ttl", bots.dedup_ttl),
            ("bots.log_flush_interval", bots.log_flush_interval),
            ("bots.qr_first_ttl", bots.qr_first_ttl),
            ("bots.qr_next_ttl", bots.qr_next_ttl),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be longer than 0s"));
            }
        }
        if bots.restart_backoff_max < bots.restart_backoff_min {
            return Err(ConfigError::new(
                "bots.restart_backoff_max",
                "must not be shorter than bots.restart_backoff_min",
            ));
        }
        if bots.stale_after <= bots.heartbeat_interval {
            return Err(ConfigError::new(
                "bots.stale_after",
                "must be longer than bots.heartbeat_interval",
            ));
        }
        let web = &self.whatsapp_web;
        let cloud = &self.cloud_api;
        for (key, value) in [
            ("whatsapp_web.connect_timeout", web.connect_timeout),
            ("whatsapp_web.reconnect_min", web.reconnect_min),
            ("cloud_api.retry_min", cloud.retry_min),
            ("cloud_api.request_timeout", cloud.request_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be longer than 0s"));
            }
        }
        if web.reconnect_max < web.reconnect_min {
            return Err(ConfigError::new(
                "whatsapp_web.reconnect_max",
                "must not be shorter than whatsapp_web.reconnect_min",
            ));
        }
        if cloud.retry_max < cloud.retry_min {
            return Err(ConfigError::new(
                "cloud_api.retry_max",
                "must not be shorter than cloud_api.retry_min",
            ));
        }
        if !matches!(cloud.graph_base_url.scheme(), "http" | "https")
            || cloud.graph_base_url.host().is_none()
        {
            return Err(ConfigError::new(
                "cloud_api.graph_base_url",
                format!(
                    "must be an absolute http(s) URL, got {}",
                    cloud.graph_base_url
                ),
            ));
        }
        if cloud.graph_version.is_empty()
            || !cloud
                .graph_version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            return Err(ConfigError::new(
                "cloud_api.graph_version",
                "must look like v21.0",
            ));
        }
        self.validate_smtp()?;
        if let Some(key) = &self.security.master_key
            && let Err(err) = crate::crypto::MasterKey::from_base64(key.expose_secret())
        {
            return Err(ConfigError::new("security.master_key", err));
        }
        if let Some(password) = &admin.bootstrap_password
            && let Err(err) = crate::domain::password::check(password.expose_secret())
        {
            return Err(ConfigError::new("admin.bootstrap_password", err));
        }

        if let Err(err) = tracing_subscriber::EnvFilter::builder().parse(&self.telemetry.filter) {
            return Err(ConfigError::new("telemetry.filter", err.to_string()));
        }
        self.validate_webhooks()?;
        self.validate_ai()
    }

    fn validate_ai(&self) -> Result<(), ConfigError> {
        let ai = &self.ai;
        if !ai.is_configured() {
            return Ok(());
        }
        match Url::parse(ai.base_url.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => {
                return Err(ConfigError::new(
                    "ai.base_url",
                    format!("must be an absolute http(s) URL, got {:?}", ai.base_url),
                ));
            }
        }
        if ai.model.trim().is_empty() {
            return Err(ConfigError::new("ai.model", "must not be empty"));
        }
        if ai.timeout.is_zero() {
            return Err(ConfigError::new("ai.timeout", "must be longer than 0s"));
        }
        if ai.max_output_tokens == 0 {
            return Err(ConfigError::new(
                "ai.max_output_tokens",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        let hooks = &self.webhooks;
        for (key, value) in [
            ("webhooks.timeout", hooks.timeout),
            ("webhooks.disable_after", hooks.disable_after),
            ("webhooks.poll_interval", hooks.poll_interval),
            ("webhooks.retention", hooks.retention),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(key, "must be longer than 0s"));
            }
        }
        if hooks.retry_delays.len() > 20 {
            return Err(ConfigError::new(
                "webhooks.retry_delays",
                "must list at most 20 waits",
            ));
        }
        Ok(())
    }

    /// `[smtp]`, when email is on: the transport must be buildable from it
    /// (host, TLS) and `from` must be an address.
    fn validate_smtp(&self) -> Result<(), ConfigError> {
        let smtp = &self.smtp;
        if smtp.notify_interval.is_zero() {
            return Err(ConfigError::new(
                "smtp.notify_interval",
                "must be longer than 0s",
            ));
        }
        if !smtp.is_configured() {
            return Ok(());
        }
        if smtp.port == 0 {
            return Err(ConfigError::new("smtp.port", "must not be 0"));
        }
        let username = smtp.username.as_deref().map(str::trim);
        match (username.filter(|name| !name.is_empty()), &smtp.password) {
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "smtp.password",
                    "must be set when smtp.username is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "smtp.username",
                    "must be set when smtp.password is set",
                ));
            }
            _ => {}
        }
        crate::services::notifications::Mailer::from_settings(smtp, None)
            .map(drop)
            .map_err(|err| ConfigError::new(err.key(), err.to_string()))
    }

    /// The address users reach us at: `server.public_url`, or `http://host:port`.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.server.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    /// Whether cookies must be marked `Secure`.
    pub fn serves_https(&self) -> bool {
        self.server
            .public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https")
    }

    /// `host:port` to bind, with IPv6 literals bracketed.
    pub fn bind_address(&self) -> String {
        match self.server.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.server.port),
            _ => format!("{}:{}", self.server.host, self.server.port),
        }
    }
}

impl DatabaseSettings {
    pub fn kind(&self) -> Result<DatabaseKind, ConfigError> {
        let url = self.url.expose_secret();
        if url.starts_with("sqlite:") {
            Ok(DatabaseKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Url::parse(url).map_err(|err| {
                ConfigError::new("database.url", format!("malformed PostgreSQL URL: {err}"))
            })?;
            Ok(DatabaseKind::Postgres)
        } else {
            Err(ConfigError::new(
                "database.url",
                "must start with sqlite: or postgres:// (e.g. sqlite://data/flowhq.db)",
            ))
        }
    }

    /// Message log batches committed at once: one on SQLite (one writer at
    /// a time), `log_writer_connections` on PostgreSQL.
    pub fn log_writers(&self) -> u32 {
        match self.kind() {
            Ok(DatabaseKind::Postgres) => self.log_writer_connections.get(),
            _ => 1,
        }
    }

    /// The URL with any password replaced, fit for logs.
    pub fn redacted_url(&self) -> String {
        let raw = self.url.expose_secret();
        match Url::parse(raw) {
            Ok(mut url) if url.password().is_some() => {
                // Cannot fail for URLs that already carry a password.
                let _ = url.set_password(Some("redacted"));
                url.to_string()
            }
            _ => raw.to_owned(),
        }
    }

    /// For SQLite URLs: the database file (None for in-memory databases).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let raw = self.url.expose_secret().strip_prefix("sqlite:")?;
        let path = raw.strip_prefix("//").unwrap_or(raw);
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }
}

impl ConfigError {
    /// One line out of figment's error: the dotted key, what is wrong, and
    /// where the bad value came from (file or environment variable).
    fn from_figment(err: figment::Error) -> Self {
        let key = if err.path.is_empty() {
            "(top level)".to_owned()
        } else {
            err.path.join(".")
        };
        let message = match &err.kind {
            // figment's path already ends with the unknown field's name.
            figment::error::Kind::UnknownField(field, _) => {
                if err.path.is_empty() {
                    return Self::new(field, format!("unknown key{}", origin(&err)));
                }
                "unknown key".to_owned()
            }
            kind => kind.to_string(),
        };
        Self {
            key,
            message: format!("{message}{}", origin(&err)),
        }
    }
}

fn origin(err: &figment::Error) -> String {
    let Some(meta) = &err.metadata else {
        return String::new();
    };
    match (&meta.source, err.path.last()) {
        (Some(figment::Source::File(path)), _) => format!(" (in {})", path.display()),
        (_, Some(_)) if meta.name.contains("environment") => {
            // figment would name the key, not the variable the operator set.
            let var = err.path.join("__").to_uppercase();
            format!(" (from environment variable {ENV_PREFIX}{var})")
        }
        _ => format!(" (in {})", meta.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults with `local` merged over them, as `config/local.toml` would be.
    fn load_with(local: &str) -> Result<Settings, ConfigError> {
        Settings::extract(
            Figment::new()
                .merge(Toml::string(DEFAULT_TOML))
                .merge(Toml::string(local)),
        )
    }

    #[test]
    fn defaults_load_and_validate() {
        let settings = load_with("").unwrap();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.database.kind().unwrap(), DatabaseKind::Sqlite);
        assert_eq!(
            settings.database.sqlite_path(),
            Some(PathBuf::from("data/flowhq.db"))
        );
        assert!(!settings.serves_https());
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let cases = [
            ("[server]\nport = \"abc\"", "server.port"),
            ("[server]\nport = 70000", "server.port"),
            (
                "[server]\nshutdown_timeout = \"soon\"",
                "server.shutdown_timeout",
            ),
            ("[server]\npublic_url = \"not a url\"", "server.public_url"),
            (
                "[server]\npublic_url = \"ftp://example.com\"",
                "server.public_url",
            ),
            ("[server]\ncolour = \"blue\"", "server.colour"),
            ("[nonsense]\nkey = 1", "nonsense"),
            ("[database]\nurl = \"mysql://x\"", "database.url"),
            (
                "[database]\nmin_connections = 9\nmax_connections = 2",
                "database.min_connections",
            ),
            ("[telemetry]\nformat = \"xml\"", "telemetry.format"),
            ("[smtp]\ntls = \"ssl\"", "smtp.tls"),
            ("[smtp]\nnotify_interval = \"0s\"", "smtp.notify_interval"),
            ("[smtp]\nhost = \"smtp.example.com\"", "smtp.from"),
            (
                "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"Flow HQ\"",
                "smtp.from",
            ),
            (
                "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nport = 0",
                "smtp.port",
            ),
            (
                "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"a\"",
                "smtp.password",
            ),
            ("[telemetry]\nfilter = \"info,=[\"", "telemetry.filter"),
        ];
        for (toml, key) in cases {
            let err = load_with(toml).expect_err(toml);
            assert_eq!(err.key, key, "{toml} gave: {err}");
            let line = err.to_string();
            assert!(!line.contains('\n'), "one line, got {line:?}");
            assert!(
                line.starts_with(&format!("configuration error: {key}: ")),
                "{line}"
            );
        }
    }

    #[test]
    fn database_password_is_redacted_for_logs() {
        let settings =
            load_with("[database]\nurl = \"postgres://flow:hunter2@db:5432/flowhq\"").unwrap();
        assert_eq!(settings.database.kind().unwrap(), DatabaseKind::Postgres);
        let shown = settings.database.redacted_url();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn email_is_off_by_default_and_on_with_a_host_and_a_sender() {
        let settings = load_with("").unwrap();
        assert!(!settings.smtp.is_configured());
        assert_eq!(settings.smtp.port, 587);
        assert_eq!(settings.smtp.tls, SmtpTls::Starttls);
        assert_eq!(settings.smtp.notify_interval, Duration::from_secs(15 * 60));
        let settings = load_with(
            "[smtp]\nhost = \"smtp.example.com\"\nport = 465\ntls = \"tls\"\n\
             from = \"Flow HQ <flowhq@example.com>\"\nusername = \"flowhq\"\n\
             password = \"hunter2\"",
        )
        .unwrap();
        assert!(settings.smtp.is_configured());
        assert_eq!(settings.smtp.tls, SmtpTls::Tls);
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn https_public_url_means_secure_cookies() {
        let settings = load_with("[server]\npublic_url = \"https://bots.example.com/\"").unwrap();
        assert!(settings.serves_https());
        assert_eq!(
            settings.public_url("127.0.0.1:1".parse().unwrap()),
            "https://bots.example.com"
        );
    }

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        for (url, path) in [
            ("sqlite://data/flowhq.db", Some("data/flowhq.db")),
            ("sqlite:///data/flowhq.db", Some("/data/flowhq.db")),
            ("sqlite:flow.db?mode=rwc", Some("flow.db")),
            ("sqlite::memory:", None),
        ] {
            let settings = load_with(&format!("[database]\nurl = \"{url}\"")).unwrap();
            assert_eq!(
                settings.database.sqlite_path(),
                path.map(PathBuf::from),
                "{url}"
            );
        }
    }
}
