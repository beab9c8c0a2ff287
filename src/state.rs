//! `AppState`: everything handlers share, built once in `App::build` (never
//! inside the `HttpServer::new` factory, which runs once per worker) and never
//! global, so tests can run many isolated apps in one process.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::bots::BotRegistry;
use crate::bots::transport::cloud_api::CloudHub;
use crate::bots::transport::sandbox::SandboxHub;
use crate::config::Settings;
use crate::limits::{LoginLimiter, SignInStartLimiter};
use crate::oauth::GoogleClient;

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
    /// Every tenant's running bot.
    pub bots: Arc<BotRegistry>,
    /// The simulated WhatsApp's end for the sandbox API.
    pub sandbox: Arc<SandboxHub>,
    /// Cloud API tenants' running bots, their credentials and the master key.
    pub cloud: Arc<CloudHub>,
    /// Google sign-in for the portal; `None` when `[google]` is not configured.
    pub google: Option<Arc<GoogleClient>>,
}
