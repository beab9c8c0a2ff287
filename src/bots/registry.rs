//! The registry: tenant → handle of its running bot, and the loops that keep
//! the running set equal to the desired state in the database (reconcile),
//! record liveness (heartbeat: one statement per tick for all bots) and catch
//! bots whose heartbeat went stale.
//!
//! INVARIANT: no DashMap guard is held across an `.await`: every access
//! clones what it needs out of the map inside one statement.
//! Tasks are spawned on the app's main runtime (`runtime`), never on the
//! HTTP worker that happened to call `start`, and tracked for shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use dashmap::DashMap;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::bot::{BotMsg, BotSignals};
use super::deps::{BotDeps, TransportHubs};
use super::log_writer::LogWriter;
use super::supervisor;
use crate::config::BotSettings;
use crate::domain::bot::BotCommand;
use crate::domain::ids::TenantId;
use crate::error::AppError;
use crate::services::audit::Actor;
use crate::services::runtime;
use crate::services::transports;
use entity::enums::TransportKind;

/// What the registry keeps of a running bot: enough to stop it, talk to it
/// and see whether it is alive. Small and cheap to clone.
#[derive(Clone)]
struct BotHandle {
    cancel: CancellationToken,
    /// Cancelled when the supervisor has finished (stopped and recorded).
    finished: CancellationToken,
    tx: mpsc::Sender<BotMsg>,
    signals: Arc<BotSignals>,
    generation: u64,
}

pub struct BotRegistry {
    bots: DashMap<TenantId, BotHandle>,
    deps: Arc<BotDeps>,
    runtime: Handle,
    bot_tasks: TaskTracker,
    writer_tasks: TaskTracker,
    writer_shutdown: CancellationToken,
    generation: AtomicU64,
    tick: AtomicU64,
}

impl BotRegistry {
    /// Builds the registry and its log writer on the current runtime (the
    /// app's main one: call this from `App::build`).
    /// `writers` are the log writer's own connections (`db::connect_log_writer`).
    pub fn new(
        db: DatabaseConnection,
        writers: crate::db::WriterPool,
        settings: BotSettings,
        hubs: TransportHubs,
    ) -> Arc<Self> {
        let runtime = Handle::current();
        let writer_tasks = TaskTracker::new();
        let writer_shutdown = CancellationToken::new();
        let node = format!("node-{}", Uuid::new_v4().simple());
        let writer = LogWriter::spawn(
            writers,
            db.clone(),
            node.clone(),
            usize::try_from(settings.log_batch_size.get()).unwrap_or(500),
            settings.log_flush_interval,
            writer_shutdown.clone(),
            &writer_tasks,
            &runtime,
        );
        Arc::new(Self {
            bots: DashMap::new(),
            deps: Arc::new(BotDeps::new(db, writer, node, settings, hubs)),
            runtime,
            bot_tasks: TaskTracker::new(),
            writer_tasks,
            writer_shutdown,
            generation: AtomicU64::new(0),
            tick: AtomicU64::new(0),
        })
    }

    pub fn deps(&self) -> &Arc<BotDeps> {
        &self.deps
    }

    /// Running and not being stopped.
    pub fn is_running(&self, tenant: TenantId) -> bool {
        self.bots
            .get(&tenant)
            .is_some_and(|entry| !entry.value().cancel.is_cancelled())
    }

    pub fn running(&self) -> usize {
        self.bots.len()
    }

    /// Starts the tenant's bot unless it runs already. True when started.
    pub fn start(self: &Arc<Self>, tenant: TenantId) -> bool {
        if self.bot_tasks.is_closed() {
            return false;
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(4);
        let handle = BotHandle {
            cancel: CancellationToken::new(),
            finished: CancellationToken::new(),
            tx,
            signals: Arc::new(BotSignals {
                alive: AtomicU64::new(self.tick.load(Ordering::Relaxed)),
                reload: tokio::sync::Notify::new(),
            }),
            generation,
        };
        match self.bots.entry(tenant) {
            dashmap::Entry::Occupied(_) => return false,
            dashmap::Entry::Vacant(slot) => {
                slot.insert(handle.clone());
            }
        }
        let registry = self.clone();
        self.bot_tasks.spawn_on(
            async move {
                let finished = handle.finished.clone();
                supervisor::supervise(
                    tenant,
                    registry.deps.clone(),
                    rx,
                    handle.signals.clone(),
                    handle.cancel.clone(),
                )
                .await;
                // Gone by itself (ERROR) or stopped: only our own entry goes.
                registry
                    .bots
                    .remove_if(&tenant, |_, h| h.generation == generation);
                finished.cancel();
            },
            &self.runtime,
        );
        true
    }

    /// Asks the bot to stop; answers a token cancelled once it has.
    ///
    /// INVARIANT: the entry stays in the map until the old supervisor has
    /// finished (its last DB writes included); it removes itself. So no
    /// second bot of the tenant can start while the first drains, and the
    /// first's final "stopped" cannot overwrite the second's "running".
    pub fn stop(&self, tenant: TenantId) -> Option<CancellationToken> {
        let handle = self.bots.get(&tenant).map(|entry| entry.value().clone())?;
        handle.cancel.cancel();
        Some(handle.finished)
    }

    /// Stops the bot (waiting for it, within the drain bound) and starts it.
    pub async fn restart(self: &Arc<Self>, tenant: TenantId) {
        if let Some(finished) = self.stop(tenant) {
            let bound = self.deps.settings.drain_timeout + Duration::from_secs(2);
            if tokio::time::timeout(bound, finished.cancelled())
                .await
                .is_err()
            {
                tracing::warn!(%tenant, "the old bot did not stop in time; reconcile starts the new one once it has");
            }
        }
        self.start(tenant);
    }

    /// The tenant's transport (or how it links) changed to `kind`: a
    /// running bot restarts on it; a stopped one uses it at its next start.
    /// Off WhatsApp Web, the device keys are deleted once more after the
    /// old bot stopped: its client saves state while it disconnects.
    pub async fn transport_changed(self: &Arc<Self>, tenant: TenantId, kind: TransportKind) {
        if self.is_running(tenant) {
            self.restart(tenant).await;
        }
        if kind != TransportKind::WhatsappWeb
            && let Err(err) = transports::forget_web_keys(&self.deps.db, tenant).await
        {
            tracing::error!(%tenant, error = %err, "deleting the old WhatsApp Web keys failed");
        }
    }

    /// Tells a running bot its settings changed.
    pub fn reload(&self, tenant: TenantId) {
        let signals = self.bots.get(&tenant).map(|h| h.signals.clone());
        if let Some(signals) = signals {
            signals.reload.notify_one();
        }
    }

    /// A tenant was deleted: its bot stops, its sandbox is forgotten.
    pub async fn forget(&self, tenant: TenantId) {
        if let Some(finished) = self.stop(tenant) {
            let _ =
                tokio::time::timeout(self.deps.settings.drain_timeout, finished.cancelled()).await;
        }
        self.deps.sandbox.forget(tenant);
    }

    /// A setup request was approved: the tenant's bot starts (and shows its
    /// QR code). A failure here does not undo the approval; it is logged.
    pub async fn start_after_approval(self: &Arc<Self>, actor: &Actor, tenant: TenantId) {
        if let Err(err) = self.command(actor, tenant, BotCommand::Start).await {
            tracing::warn!(%tenant, error = %err, "approved, but the bot did not start");
        }
    }

    /// An admin's (or an approval's) bot command: recorded in the DB, then done.
    pub async fn command(
        self: &Arc<Self>,
        actor: &Actor,
        tenant: TenantId,
        command: BotCommand,
    ) -> Result<(), AppError> {
        runtime::worker::request(&self.deps.db, actor, tenant, command).await?;
        match command {
            BotCommand::Start => {
                self.start(tenant);
            }
            BotCommand::Stop => {
                if let Some(finished) = self.stop(tenant) {
                    let _ = tokio::time::timeout(
                        self.deps.settings.drain_timeout,
                        finished.cancelled(),
                    )
                    .await;
                } else {
                    runtime::worker::record_stopped(&self.deps.db, tenant).await?;
                }
            }
            BotCommand::Restart | BotCommand::ForceRestart => self.restart(tenant).await,
        }
        Ok(())
    }

    /// At start, before the first reconcile: forgets what a previous process
    /// left marked as running (see `runtime::worker::release_orphans`).
    pub async fn release_orphans(&self) -> Result<u64, DbErr> {
        runtime::worker::release_orphans(&self.deps.db, &self.deps.node).await
    }

    /// Makes the running set match `worker_process.desired_state`.
    pub async fn reconcile(self: &Arc<Self>) -> Result<(usize, usize), DbErr> {
        let desired: std::collections::HashSet<TenantId> =
            runtime::worker::desired_running(&self.deps.db)
                .await?
                .into_iter()
                .collect();
        let mut started = 0;
        for tenant in &desired {
            if self.start(*tenant) {
                started += 1;
            }
        }
        let unwanted: Vec<TenantId> = self
            .bots
            .iter()
            .filter(|entry| !entry.value().cancel.is_cancelled())
            .map(|entry| *entry.key())
            .filter(|tenant| !desired.contains(tenant))
            .collect();
        for tenant in &unwanted {
            self.stop(*tenant);
        }
        if started > 0 || !unwanted.is_empty() {
            tracing::info!(
                started,
                stopped = unwanted.len(),
                running = self.running(),
                "reconciled bots"
            );
        }
        Ok((started, unwanted.len()))
    }

    /// One heartbeat tick: ping every bot, then record with ONE statement
    /// all bots of this node except those that missed the previous ping.
    /// Returns the number of statements issued (always 1).
    pub async fn heartbeat(&self) -> Result<usize, DbErr> {
        let previous = self.tick.fetch_add(1, Ordering::AcqRel);
        let tick = previous + 1;
        let mut stuck = Vec::new();
        let handles: Vec<(TenantId, BotHandle)> = self
            .bots
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        for (tenant, handle) in handles {
            if handle.signals.alive.load(Ordering::Acquire) < previous {
                stuck.push(tenant);
            }
            let _ = handle.tx.try_send(BotMsg::Ping(tick));
        }
        if !stuck.is_empty() {
            tracing::warn!(count = stuck.len(), "bots missed their heartbeat ping");
        }
        runtime::worker::heartbeat(&self.deps.db, &self.deps.node, &stuck, Utc::now()).await?;
        Ok(1)
    }

    /// Bots whose heartbeat is older than `stale_after`: ERROR, and
    /// restarted when `restart_stale` says so.
    pub async fn sweep_stale(self: &Arc<Self>) -> Result<Vec<TenantId>, AppError> {
        let settings = &self.deps.settings;
        let before = Utc::now()
            - chrono::Duration::from_std(settings.stale_after).map_err(AppError::internal)?;
        let stale = runtime::worker::stale_workers(&self.deps.db, before).await?;
        for tenant in &stale {
            let reason = format!(
                "stale: no heartbeat for over {}",
                humantime_serde::re::humantime::format_duration(settings.stale_after)
            );
            tracing::warn!(%tenant, %reason, "bot is stale");
            if let Some(finished) = self.stop(*tenant) {
                let _ = tokio::time::timeout(Duration::from_secs(2), finished.cancelled()).await;
            }
            runtime::worker::record_failed(&self.deps.db, *tenant, &reason, false).await?;
            if settings.restart_stale {
                self.command(&Actor::System, *tenant, BotCommand::ForceRestart)
                    .await?;
            }
        }
        Ok(stale)
    }

    /// The background loops: reconcile, heartbeat + stale sweep, limiter sweep.
    pub fn spawn_loops(self: &Arc<Self>, shutdown: CancellationToken, tracker: &TaskTracker) {
        let registry = self.clone();
        tracker.spawn_on(
            async move {
                let settings = registry.deps.settings.clone();
                // First ticks one period from now: the boot already reconciled,
                // and bots get a full interval to come up before the sweep.
                let start = tokio::time::Instant::now();
                let mut reconcile = tokio::time::interval_at(
                    start + settings.reconcile_interval,
                    settings.reconcile_interval,
                );
                let mut heartbeat = tokio::time::interval_at(
                    start + settings.heartbeat_interval,
                    settings.heartbeat_interval,
                );
                heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        _ = reconcile.tick() => {
                            if let Err(err) = registry.reconcile().await {
                                tracing::warn!(error = %err, "reconcile failed");
                            }
                            registry.deps.sweep();
                        }
                        _ = heartbeat.tick() => {
                            if let Err(err) = registry.heartbeat().await {
                                tracing::warn!(error = %err, "heartbeat failed");
                            }
                            if let Err(err) = registry.sweep_stale().await {
                                tracing::warn!(error = %err, "stale sweep failed");
                            }
                        }
                    }
                }
            },
            &self.runtime,
        );
    }

    /// Stops every bot (each drains its queues within `drain_timeout`),
    /// then flushes and stops the log writer. Bots that should run stay
    /// RUNNING in the database, so the next start resumes them.
    pub async fn shutdown(&self) {
        self.bot_tasks.close();
        let handles: Vec<BotHandle> = self.bots.iter().map(|e| e.value().clone()).collect();
        for handle in &handles {
            handle.cancel.cancel();
        }
        let bound = self.deps.settings.drain_timeout + Duration::from_secs(2);
        if tokio::time::timeout(bound, self.bot_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some bots did not stop in time");
        }
        self.writer_shutdown.cancel();
        self.writer_tasks.close();
        self.writer_tasks.wait().await;
    }

    /// The log writer (for the benchmark's raw comparison and tests).
    pub fn writer(&self) -> &LogWriter {
        &self.deps.writer
    }
}
