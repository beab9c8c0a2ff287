//! What every bot of the process shares: the database, the log writer, the
//! dedup cache, the platform's per-chat limiter, settings and the sandbox
//! hub. Built once by the registry; bots hold an `Arc`.

use std::sync::Arc;

use entity::enums::TransportKind;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use mini_moka::sync::Cache;
use sea_orm::DatabaseConnection;

use super::log_writer::LogWriter;
use super::transport::Transport;
use super::transport::cloud_api::CloudHub;
use super::transport::sandbox::{QrSchedule, SandboxHub};
use crate::config::{BotSettings, WhatsappWebSettings};
use crate::crypto::MasterKey;
use crate::domain::ids::TenantId;
use crate::services::ai::Ai;
use crate::services::notifications::Notifier;
use crate::services::runtime::start::StartReads;
use crate::services::runtime::worker::BotConfig;

/// Makes a tenant's transport; replaces the choice by config (tests use it
/// to inject transports that misbehave on purpose).
pub type TransportFactory = Arc<dyn Fn(&BotConfig) -> Arc<dyn Transport> + Send + Sync>;

/// Bots building their start-up state at once: their settings are read
/// together (`StartReads`), so this also bounds that read's batches.
/// Measured on 10,000 bots (`flowhq bench`, PostgreSQL): 32 took 2.6 s to
/// start them all, 256 took 1.4 s, and more added resident memory per
/// idle bot (16–20 KB against 11–13 KB) for little speed.
const START_CONCURRENCY: usize = 256;

/// The transports' shared ends, built once per app.
pub struct TransportHubs {
    pub sandbox: Arc<SandboxHub>,
    pub cloud: Arc<CloudHub>,
    pub whatsapp_web: WhatsappWebSettings,
    /// Seals what transports keep in the database (WhatsApp Web's keys).
    pub master_key: MasterKey,
    /// Replaces the choice by config when set (tests).
    pub factory: Option<TransportFactory>,
    /// Tells a tenant's people when a chat needs one of them (email).
    pub notifier: Notifier,
    /// The platform's AI model (`[ai]`), when configured.
    pub ai: Option<Ai>,
}

pub struct BotDeps {
    pub db: DatabaseConnection,
    pub writer: LogWriter,
    /// (tenant, message id) seen lately: the fast path in front of the
    /// unique index, bounded in size and time.
    pub dedup: Cache<(TenantId, String), ()>,
    /// Platform default per-chat limit, keyed by (tenant, chat); swept.
    pub chat_limiter: DefaultKeyedRateLimiter<(TenantId, String)>,
    pub settings: BotSettings,
    pub whatsapp_web: WhatsappWebSettings,
    pub master_key: MasterKey,
    /// This process, as owner of its bots' worker rows (heartbeat).
    pub node: String,
    pub sandbox: Arc<SandboxHub>,
    pub cloud: Arc<CloudHub>,
    pub transport_factory: Option<TransportFactory>,
    /// Tells a tenant's people when a chat needs one of them (email).
    pub notifier: Notifier,
    /// The platform's AI model (`[ai]`), when configured.
    pub ai: Option<Ai>,
    /// Bots linked and online right now (gauge).
    pub connected: std::sync::atomic::AtomicUsize,
    /// Cancelled when the whole registry stops: every bot's own token is a
    /// child of it, and a bot stopping for this leaves recording its final
    /// state to the registry (one statement for all).
    pub shutting_down: tokio_util::sync::CancellationToken,
    /// A bot start's reads (settings, what a crash left), coalesced with
    /// those of the other bots starting at the same moment.
    pub start_reads: StartReads,
    /// Bounds how many bots build their start-up state at once (the
    /// settings read, the transport, the limiters): 10,000 bots building it
    /// together leave a peak of memory that stays resident long after.
    pub start_gate: tokio::sync::Semaphore,
}

impl BotDeps {
    pub fn new(
        db: DatabaseConnection,
        writer: LogWriter,
        node: String,
        settings: BotSettings,
        hubs: TransportHubs,
    ) -> Self {
        let dedup = Cache::builder()
            .max_capacity(u64::from(settings.dedup_capacity.get()))
            .time_to_live(settings.dedup_ttl)
            .build();
        let chat_limiter = RateLimiter::keyed(
            governor::Quota::per_minute(settings.chat_rate_per_minute)
                .allow_burst(settings.chat_burst),
        );
        Self {
            start_reads: StartReads::new(db.clone()),
            start_gate: tokio::sync::Semaphore::new(START_CONCURRENCY),
            db,
            writer,
            dedup,
            chat_limiter,
            node,
            settings,
            whatsapp_web: hubs.whatsapp_web,
            master_key: hubs.master_key,
            sandbox: hubs.sandbox,
            cloud: hubs.cloud,
            transport_factory: hubs.factory,
            notifier: hubs.notifier,
            ai: hubs.ai,
            connected: std::sync::atomic::AtomicUsize::new(0),
            shutting_down: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// The transport the tenant's config asks for.
    pub fn transport_for(&self, config: &BotConfig) -> Result<Arc<dyn Transport>, String> {
        if let Some(factory) = &self.transport_factory {
            return Ok(factory(config));
        }
        match config.transport {
            TransportKind::Sandbox => Ok(Arc::new(self.sandbox.transport(
                config.tenant_id,
                config.linked_phone.clone(),
                QrSchedule {
                    first: self.settings.qr_first_ttl,
                    next: self.settings.qr_next_ttl,
                    max_codes: self.settings.qr_max_codes.get(),
                },
            ))),
            TransportKind::CloudApi => Ok(Arc::new(self.cloud.transport(config.tenant_id))),
            #[cfg(feature = "whatsapp-web")]
            TransportKind::WhatsappWeb => Ok(Arc::new(
                super::transport::whatsapp_web::WebTransport::new(
                    self.db.clone(),
                    self.master_key.clone(),
                    config.tenant_id,
                    config.pairing_phone.clone(),
                    self.whatsapp_web.clone(),
                ),
            )),
            #[cfg(not(feature = "whatsapp-web"))]
            TransportKind::WhatsappWeb => Err(
                "this build of Flow HQ has no WhatsApp Web (built without the whatsapp-web feature)"
                    .to_owned(),
            ),
        }
    }

    /// Forgets idle limiter keys (called by the maintenance task).
    pub fn sweep(&self) {
        self.chat_limiter.retain_recent();
        self.chat_limiter.shrink_to_fit();
    }
}
