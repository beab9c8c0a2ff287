//! `AppState`: everything handlers share, built once in `App::build` (never
//! inside the `HttpServer::new` factory, which runs once per worker) and never
//! global, so tests can run many isolated apps in one process.
//!
//! The bot runtime is here only as the narrow handles use cases take
//! (`BotControl`, `SandboxPhone`): handlers pass them on to services and
//! never reach the registry itself.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::crypto::MasterKey;
use crate::domain::ids::TenantId;
use crate::limits::{ActionLimiter, LoginLimiter, SignInStartLimiter};
use crate::oauth::GoogleClient;
use crate::services::control::BotControl;
use crate::services::notifications::Notifier;
use crate::services::sandbox::SandboxPhone;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    /// The address users reach us at (public URL or the bound address).
    pub public_url: Arc<str>,
    /// Failed sign-ins (console and API Basic auth), per IP and username.
    pub login_limiter: Arc<LoginLimiter>,
    /// Google sign-ins started, per IP.
    pub sign_in_starts: Arc<SignInStartLimiter>,
    /// New QR codes owners asked for, per tenant.
    pub new_link_codes: Arc<ActionLimiter<TenantId>>,
    /// The bot runtime, as use cases see it.
    pub bots: Arc<dyn BotControl>,
    /// The simulated WhatsApp's phone end (scan, outbox).
    pub sandbox: Arc<dyn SandboxPhone>,
    /// Seals tenants' transport credentials at rest.
    pub master_key: MasterKey,
    /// "Tenant T changed", for the pages that show it live.
    pub live: crate::live::Live,
    /// Google sign-in for the portal; `None` when `[google]` is not configured.
    pub google: Option<Arc<GoogleClient>>,
    /// Emails a tenant's people when a chat needs a person (`[smtp]`).
    pub notifier: Notifier,
    /// Tenant API keys verified in the last second.
    pub api_keys: crate::services::api_keys::KeyCache,
    /// The platform's AI model (`[ai]`), when configured: "Try your bot"
    /// asks it as the bot does.
    pub ai: Option<crate::services::ai::Ai>,
    /// Wakes the webhook delivery worker after a use case queued events.
    pub webhooks: crate::services::webhooks::delivery::Waker,
}

impl AppState {
    /// Where webhooks may be sent (`[webhooks] allow_private_targets`).
    pub fn webhook_policy(&self) -> crate::services::webhooks::target::TargetPolicy {
        crate::services::webhooks::target::TargetPolicy {
            allow_private: self.settings.webhooks.allow_private_targets,
        }
    }
}
