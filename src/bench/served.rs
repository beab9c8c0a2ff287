//! The whole app as `serve` runs it (`App::build`: the HTTP server bound to
//! 127.0.0.1:0, the bot runtime, the webhook delivery worker) on a scratch
//! database seeded with linked sandbox tenants: what the API and webhook
//! figures are measured on.
//!
//! Owns: the scratch database's life and the app's, and the `BENCH` plan
//! (no monthly limits, an API rate no client here reaches) the tenants are
//! on. Must not: reach into the app beyond `App`'s accessors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use sea_orm::{ActiveModelTrait, Set};
use secrecy::SecretString;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Scratch;
use crate::app::App;
use crate::bots::BotRegistry;
use crate::config::Settings;
use crate::db;
use crate::domain::ids::TenantId;
use crate::services::webhooks::delivery::DeliveryStats;
use crate::state::AppState;

/// The plan the served tenants are on.
pub(super) const BENCH_PLAN: &str = "BENCH";
/// Its API requests a minute per key: the per-key limit lifted (the
/// limiter still runs on every request, as in production).
pub(super) const BENCH_API_RATE_PER_MINUTE: i32 = 100_000_000;

pub(super) struct Served {
    pub address: SocketAddr,
    pub state: AppState,
    pub registry: Arc<BotRegistry>,
    pub webhook_stats: Arc<DeliveryStats>,
    /// Seeded, ACTIVE, linked, their bots running.
    pub tenants: Vec<TenantId>,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    scratch: Scratch,
}

impl Served {
    /// Seeds `tenants` tenants on a scratch database (SQLite, or a fresh
    /// database on the PostgreSQL server `server_url`), boots the app on it
    /// with the bench's settings changed by `configure`, and waits until
    /// every bot is connected.
    pub async fn start(
        base: &Settings,
        server_url: Option<&str>,
        tenants: u32,
        configure: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let (scratch, url) = Scratch::create(server_url).await?;
        match boot(base, &url, tenants, configure).await {
            Ok((app, tenants)) => {
                let address = app.address();
                let state = app.state().clone();
                let registry = app.registry().clone();
                let webhook_stats = app.webhook_stats();
                let shutdown = app.shutdown_token();
                let server = tokio::spawn(app.run_until_stopped());
                let served = Self {
                    address,
                    state,
                    registry,
                    webhook_stats,
                    tenants,
                    shutdown,
                    server,
                    scratch,
                };
                match served.wait_connected().await {
                    Ok(()) => Ok(served),
                    Err(err) => {
                        served.stop().await;
                        Err(err)
                    }
                }
            }
            Err(err) => {
                scratch.remove().await;
                Err(err)
            }
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    async fn wait_connected(&self) -> anyhow::Result<()> {
        let began = Instant::now();
        while self.registry.deps().connected.load(Ordering::Relaxed) < self.tenants.len() {
            if began.elapsed() > Duration::from_secs(120) {
                anyhow::bail!("the served app's bots did not all connect within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Stops the app as SIGTERM does and drops the scratch database.
    pub async fn stop(self) {
        self.shutdown.cancel();
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "the served app stopped with an error"),
            Err(err) => tracing::warn!(error = %err, "the served app's task failed"),
        }
        self.scratch.remove().await;
    }
}

async fn boot(
    base: &Settings,
    url: &str,
    tenants: u32,
    configure: impl FnOnce(&mut Settings),
) -> anyhow::Result<(App, Vec<TenantId>)> {
    let mut settings = Settings::for_tests(url);
    // Served as configured (HTTP workers: one per core by default).
    settings.server.workers = base.server.workers;
    settings.database.max_connections = base.database.max_connections.max(8);
    settings.database.sqlite_cache_mib = base.database.sqlite_cache_mib;
    settings.bots.log_batch_size = base.bots.log_batch_size;
    settings.bots.log_flush_interval = base.bots.log_flush_interval;
    // Known, so the app does not print a generated one.
    settings.admin.bootstrap_password = Some(SecretString::from(crate::crypto::random_token(15)));
    configure(&mut settings);

    let db = db::connect(&settings.database).await?;
    db::migrate(&db).await?;
    entity::plan::ActiveModel {
        code: Set(BENCH_PLAN.to_owned()),
        name: Set("Benchmark (no limits)".to_owned()),
        monthly_messages: Set(None),
        monthly_ai_tokens: Set(None),
        api_requests_per_minute: Set(BENCH_API_RATE_PER_MINUTE),
        team_members: Set(None),
        position: Set(99),
    }
    .insert(&db)
    .await
    .context("adding the bench plan")?;
    let ids = super::seed(&db, tenants, BENCH_PLAN)
        .await
        .context("seeding tenants")?;
    db.close().await?;
    let app = App::build(settings).await.context("booting the app")?;
    Ok((app, ids))
}
