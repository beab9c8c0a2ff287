//! Meta's WhatsApp Cloud API: the official way, by HTTPS.
//!
//! Inbound: Meta calls our webhook (`services::cloud_webhook`), which
//! checks the signature, persists each text message under the unique index
//! FIRST and then hands it to the tenant's running bot through the
//! runtime (`BotControl::receive`), not through this transport. A message
//! that arrives while the bot is stopped stays RECEIVED and is answered
//! when the bot next connects (like any unanswered message).
//! Outbound: `POST {graph}/{version}/{phone_number_id}/messages` with the
//! tenant's bearer token, at most `messages_per_second` per number.
//!
//! Errors by Graph code:
//! - 130429 (throughput) and 131056 (pair rate): wait (exponential, capped)
//!   and retry inside `send_text`; the chat worker awaits it, so the chat's
//!   order holds.
//! - 131047 (24-hour window closed): not retried; the reply is FAILED with
//!   a reason an owner understands.
//! - 190 (token invalid, expired or revoked): the bot stops in ERROR
//!   "access token rejected" until someone enters a new token; the message
//!   and what else was queued stay RECEIVED and are answered after the
//!   next start.
//!
//! This module never logs a token or a secret, and never parses a webhook.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Transport, TransportError, TransportEvent};
use crate::config::CloudApiSettings;
use crate::crypto::MasterKey;
use crate::domain::ids::TenantId;
use crate::domain::phone::e164_digits;
use crate::services::transports::{self, CloudCredentials};

/// Graph error codes with a behaviour of their own.
pub const THROUGHPUT_LIMIT: i64 = 130_429;
pub const PAIR_RATE_LIMIT: i64 = 131_056;
pub const OUTSIDE_WINDOW: i64 = 131_047;
pub const TOKEN_INVALID: i64 = 190;

/// Graph codes that say "try again later" (unknown/service errors and
/// throttling), besides any 5xx.
const TRANSIENT: [i64; 7] = [1, 2, 4, 17, 32, 613, THROUGHPUT_LIMIT];

pub const TOKEN_REJECTED: &str = "access token rejected: enter a new Cloud API access token";
const OUTSIDE_WINDOW_REASON: &str = "more than 24 hours since the customer's last message: \
     WhatsApp only allows approved template messages now";

/// Every Cloud API tenant's running end, plus what their transports share.
pub struct CloudHub {
    pub db: DatabaseConnection,
    pub key: MasterKey,
    pub settings: CloudApiSettings,
    http: reqwest::Client,
}

impl CloudHub {
    pub fn new(
        db: DatabaseConnection,
        key: MasterKey,
        settings: CloudApiSettings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            db,
            key,
            settings,
            http,
        })
    }

    pub fn transport(self: &Arc<Self>, tenant: TenantId) -> CloudTransport {
        let per_second = self.settings.messages_per_second;
        CloudTransport {
            hub: self.clone(),
            tenant,
            credentials: Mutex::new(None),
            limiter: RateLimiter::direct(Quota::per_second(per_second)),
            rejected: CancellationToken::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.settings.graph_base_url.as_str().trim_end_matches('/'),
            self.settings.graph_version,
            path
        )
    }
}

pub struct CloudTransport {
    hub: Arc<CloudHub>,
    tenant: TenantId,
    /// Read from the database by `run`.
    credentials: Mutex<Option<Arc<CloudCredentials>>>,
    /// Meta's throughput per business number.
    limiter: DefaultDirectRateLimiter,
    /// Cancelled when Graph refuses the token (code 190).
    rejected: CancellationToken,
}

/// A Graph API error body: `{"error": {"code", "message", "error_data": {"details"}}}`.
#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Debug, Deserialize)]
struct GraphError {
    code: Option<i64>,
    #[serde(default)]
    message: String,
    error_data: Option<GraphErrorData>,
}

#[derive(Debug, Deserialize)]
struct GraphErrorData {
    #[serde(default)]
    details: String,
}

#[derive(Debug, Deserialize)]
struct SendResponse {
    messages: Vec<SentMessage>,
}

#[derive(Debug, Deserialize)]
struct SentMessage {
    id: String,
}

#[derive(Debug, Deserialize)]
struct PhoneNumberInfo {
    display_phone_number: String,
}

/// What one Graph call ended in.
enum Outcome<T> {
    Ok(T),
    /// Graph answered with an error code (and this HTTP status).
    Graph {
        code: i64,
        status: u16,
        text: String,
    },
    /// No usable answer (network, timeout, unexpected body).
    Broken(String),
}

impl CloudTransport {
    fn credentials(&self) -> Result<Arc<CloudCredentials>, TransportError> {
        self.credentials
            .lock()
            .ok()
            .and_then(|guard| guard.clone())
            .ok_or(TransportError::NotConnected)
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Outcome<T> {
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return Outcome::Broken(format!(
                    "cannot reach the Graph API: {}",
                    crate::error::causes(&err.without_url())
                ));
            }
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(err) => {
                return Outcome::Broken(format!(
                    "reading the Graph API's answer failed: {}",
                    err.without_url()
                ));
            }
        };
        if status.is_success() {
            return match serde_json::from_slice(&body) {
                Ok(value) => Outcome::Ok(value),
                Err(err) => Outcome::Broken(format!("unexpected Graph API answer: {err}")),
            };
        }
        match serde_json::from_slice::<GraphErrorBody>(&body) {
            Ok(GraphErrorBody { error }) => {
                let code = error.code.unwrap_or(i64::from(status.as_u16()));
                let details = error
                    .error_data
                    .map(|data| data.details)
                    .unwrap_or_default();
                let text = if details.is_empty() || details == error.message {
                    error.message
                } else {
                    format!("{}: {details}", error.message)
                };
                Outcome::Graph {
                    code,
                    status: status.as_u16(),
                    text,
                }
            }
            // A 401 without Graph's body still means the token.
            Err(_) if status == reqwest::StatusCode::UNAUTHORIZED => Outcome::Graph {
                code: TOKEN_INVALID,
                status: status.as_u16(),
                text: "unauthorized".to_owned(),
            },
            Err(_) => Outcome::Broken(format!("the Graph API answered HTTP {status}")),
        }
    }

    /// Checks the number and token: the number's display form, or why not.
    async fn check_number(&self, credentials: &CloudCredentials) -> Outcome<PhoneNumberInfo> {
        let url = self.hub.url(&credentials.phone_number_id);
        let request = self
            .hub
            .http
            .get(url)
            .query(&[("fields", "display_phone_number")])
            .bearer_auth(credentials.access_token.expose_secret());
        self.call(request).await
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let settings = &self.hub.settings;
        let base = settings
            .retry_min
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(settings.retry_max);
        // Up to a quarter more, so many bots do not retry in step.
        let jitter = rand::rng().random_range(0..=base.as_millis() / 4);
        base + Duration::from_millis(u64::try_from(jitter).unwrap_or(0))
    }
}

#[async_trait::async_trait]
impl Transport for CloudTransport {
    async fn run(
        &self,
        events: mpsc::Sender<TransportEvent>,
        cancel: CancellationToken,
    ) -> Result<(), TransportError> {
        let credentials = match transports::cloud_credentials(
            &self.hub.db,
            &self.hub.key,
            self.tenant,
        )
        .await
        {
            Ok(Some(credentials)) => Arc::new(credentials),
            Ok(None) => {
                return Err(TransportError::Fatal(
                    "Cloud API credentials are missing: enter them in the tenant's transport settings"
                        .to_owned(),
                ));
            }
            Err(err) => {
                tracing::error!(tenant = %self.tenant, error = ?err, "reading the Cloud API credentials failed");
                return Err(TransportError::Fatal(
                    "cannot read the stored Cloud API credentials (was the master key changed?): enter them again".to_owned(),
                ));
            }
        };
        if let Ok(mut slot) = self.credentials.lock() {
            *slot = Some(credentials.clone());
        }
        // Checks the token and learns the number; retries while Graph is
        // unreachable (capped backoff), gives up on a rejected token.
        let mut attempt = 0;
        let phone = loop {
            let outcome = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                outcome = self.check_number(&credentials) => outcome,
            };
            let reason = match outcome {
                Outcome::Ok(info) => break e164_digits(&info.display_phone_number),
                Outcome::Graph {
                    code: TOKEN_INVALID,
                    ..
                } => {
                    return Err(TransportError::Fatal(TOKEN_REJECTED.to_owned()));
                }
                // Meta's side or throttling: worth waiting for.
                Outcome::Graph { code, status, text }
                    if status >= 500 || TRANSIENT.contains(&code) =>
                {
                    format!("Graph API error {code}: {text}")
                }
                // A wrong number id, missing permissions…: a person must act.
                Outcome::Graph { code, text, .. } => {
                    return Err(TransportError::Fatal(format!(
                        "Meta refused the Cloud API settings (error {code}: {text}): \
                         check the phone number ID and the access token's permissions"
                    )));
                }
                Outcome::Broken(reason) => reason,
            };
            tracing::warn!(tenant = %self.tenant, %reason, "Cloud API not reachable yet; retrying");
            // What the tenant's pages show while this loop retries.
            let reason = format!("cannot reach Meta: {reason}, retrying");
            if events
                .send(TransportEvent::Disconnected { reason })
                .await
                .is_err()
            {
                return Ok(());
            }
            let wait = self.backoff(attempt);
            attempt = attempt.saturating_add(1);
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        };
        if events
            .send(TransportEvent::Connected { phone })
            .await
            .is_err()
        {
            return Ok(());
        }
        tokio::select! {
            () = cancel.cancelled() => Ok(()),
            () = self.rejected.cancelled() => Err(TransportError::Fatal(TOKEN_REJECTED.to_owned())),
            // The bot dropped its end: nothing more to deliver to.
            () = events.closed() => Ok(()),
        }
    }

    async fn send_text(&self, chat: &str, text: &str) -> Result<String, TransportError> {
        // The token is known bad: the bot is stopping, and what is still
        // queued is answered after its next start (with a new token).
        if self.rejected.is_cancelled() {
            return Err(TransportError::Fatal(TOKEN_REJECTED.to_owned()));
        }
        let credentials = self.credentials()?;
        let url = self
            .hub
            .url(&format!("{}/messages", credentials.phone_number_id));
        let to: String = chat.chars().filter(char::is_ascii_digit).collect();
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": { "preview_url": false, "body": text },
        });
        let mut retries = 0;
        loop {
            self.limiter.until_ready().await;
            let request = self
                .hub
                .http
                .post(&url)
                .bearer_auth(credentials.access_token.expose_secret())
                .json(&body);
            match self.call::<SendResponse>(request).await {
                Outcome::Ok(sent) => {
                    return sent
                        .messages
                        .into_iter()
                        .next()
                        .map(|message| message.id)
                        .ok_or_else(|| {
                            TransportError::Failed(
                                "the Graph API returned no message id".to_owned(),
                            )
                        });
                }
                Outcome::Graph {
                    code: code @ (THROUGHPUT_LIMIT | PAIR_RATE_LIMIT),
                    text,
                    ..
                } => {
                    if retries >= self.hub.settings.max_retries {
                        return Err(TransportError::Failed(format!(
                            "WhatsApp's rate limit (error {code}) held after {retries} retries: {text}"
                        )));
                    }
                    let wait = self.backoff(retries);
                    retries += 1;
                    tracing::info!(tenant = %self.tenant, code, retry = retries, wait_ms = wait.as_millis(), "Cloud API rate limit; retrying");
                    tokio::time::sleep(wait).await;
                }
                Outcome::Graph {
                    code: OUTSIDE_WINDOW,
                    ..
                } => {
                    return Err(TransportError::Failed(OUTSIDE_WINDOW_REASON.to_owned()));
                }
                Outcome::Graph {
                    code: TOKEN_INVALID,
                    ..
                } => {
                    self.rejected.cancel();
                    return Err(TransportError::Fatal(TOKEN_REJECTED.to_owned()));
                }
                Outcome::Graph { code, text, .. } => {
                    return Err(TransportError::Failed(format!(
                        "Cloud API error {code}: {text}"
                    )));
                }
                Outcome::Broken(reason) => return Err(TransportError::Failed(reason)),
            }
        }
    }

    /// A Cloud API number is not a linked device: nothing to unlink. The
    /// credentials stay until someone replaces or removes them.
    async fn logout(&self) -> Result<(), TransportError> {
        Ok(())
    }
}
