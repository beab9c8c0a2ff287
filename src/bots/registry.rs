//! The registry: tenant → handle of its running bot, and the convergence of
//! the running set on the worker rows in the database (`converge` for one
//! tenant when a use case nudges, `reconcile` for all on a timer), the
//! heartbeat (one statement per tick for all bots) and the stale sweep.
//!
//! It is the runtime behind `services::control::BotControl`: use cases
//! write rows, then nudge; nothing reaches a bot except through rows, so a
//! second process could converge on the same rows later.
//!
//! INVARIANT: no DashMap guard is held across an `.await`: every access
//! clones what it needs out of the map inside one statement.
//! INVARIANT: one tenant converges at a time (a per-tenant async lock), and
//! acts on a row read under that lock, so a stale read never undoes a newer
//! intent.
//! Tasks are spawned on the app's main runtime (`runtime`), never on the
//! HTTP worker that happened to call `start`, and tracked for shutdown.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use dashmap::DashMap;
use entity::enums::DesiredState;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::bot::{BotMsg, BotSignals};
use super::deps::{BotDeps, TransportHubs};
use super::log_writer::LogWriter;
use super::supervisor;
use super::transport::InboundMessage;
use crate::config::BotSettings;
use crate::domain::bot::BotCommand;
use crate::domain::ids::TenantId;
use crate::error::AppError;
use crate::services::audit::Actor;
use crate::services::control::{BotControl, CustomerMessage, DeliveryReport, Receipt};
use crate::services::runtime::log_batch::{DeliveryUpdate, InboundRow};
use crate::services::runtime::worker::{self, BotIntent};
use crate::services::{messages, transports};

/// Messages waiting for one bot (heartbeat pings, stored messages handed
/// over); a sender waits when it is full.
const INBOX_CAPACITY: usize = 64;
/// How long a hand-over waits for a busy bot before the sender is told to
/// deliver again (Meta wants its answer fast).
const HAND_OVER_WAIT: Duration = Duration::from_secs(2);
/// Tenants converging at once on the reconcile timer.
const RECONCILE_CONCURRENCY: usize = 32;

/// What the registry keeps of a running bot: enough to stop it, talk to it
/// and see whether it is alive. Small and cheap to clone.
#[derive(Clone)]
struct BotHandle {
    cancel: CancellationToken,
    /// Cancelled when the supervisor has finished (stopped and recorded).
    finished: CancellationToken,
    tx: mpsc::Sender<BotMsg>,
    signals: Arc<BotSignals>,
    /// Which start of the registry this is (an entry removes only itself).
    start: u64,
    /// The worker row's restart generation this bot was started at.
    restart_generation: i64,
}

pub struct BotRegistry {
    bots: DashMap<TenantId, BotHandle>,
    /// One convergence per tenant at a time; entries go when unused.
    converging: DashMap<TenantId, Arc<tokio::sync::Mutex<()>>>,
    deps: Arc<BotDeps>,
    runtime: Handle,
    bot_tasks: TaskTracker,
    writer_tasks: TaskTracker,
    writer_shutdown: CancellationToken,
    starts: AtomicU64,
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
        let node = format!("node-{}", uuid::Uuid::new_v4().simple());
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
            converging: DashMap::new(),
            deps: Arc::new(BotDeps::new(db, writer, node, settings, hubs)),
            runtime,
            bot_tasks: TaskTracker::new(),
            writer_tasks,
            writer_shutdown,
            starts: AtomicU64::new(0),
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

    /// Starts the tenant's bot for `intent` unless one runs already. True
    /// when started.
    pub fn start(self: &Arc<Self>, intent: &BotIntent) -> bool {
        if self.bot_tasks.is_closed() {
            return false;
        }
        let tenant = intent.tenant;
        let start = self.starts.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        let handle = BotHandle {
            // A child of the shutdown token: the whole registry stops with it.
            cancel: self.deps.shutting_down.child_token(),
            finished: CancellationToken::new(),
            tx,
            signals: Arc::new(BotSignals {
                alive: AtomicU64::new(self.tick.load(Ordering::Relaxed)),
                reload: tokio::sync::Notify::new(),
                outbox: tokio::sync::Notify::new(),
                version: AtomicI64::new(intent.version),
            }),
            start,
            restart_generation: intent.restart_generation,
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
                registry.bots.remove_if(&tenant, |_, h| h.start == start);
                finished.cancel();
            },
            &self.runtime,
        );
        true
    }

    /// Asks the bot to stop and waits until it has (its last writes
    /// included), at most the drain bound.
    ///
    /// INVARIANT: the entry stays in the map until the old supervisor has
    /// finished; it removes itself. So no second bot of the tenant can start
    /// while the first drains, and the first's final "stopped" cannot
    /// overwrite the second's "running".
    async fn stop_and_wait(&self, handle: &BotHandle) -> bool {
        handle.cancel.cancel();
        let bound = self.deps.settings.drain_timeout + Duration::from_secs(2);
        tokio::time::timeout(bound, handle.finished.cancelled())
            .await
            .is_ok()
    }

    /// Makes the tenant's bot match its worker row, read now. See the
    /// module's invariants.
    pub async fn converge(self: &Arc<Self>, tenant: TenantId) -> Result<(), DbErr> {
        let lock = self.converging.entry(tenant).or_default().clone();
        let result = {
            let _turn = lock.lock().await;
            match worker::intent(&self.deps.db, tenant).await {
                Ok(intent) => {
                    self.apply(tenant, intent).await;
                    Ok(())
                }
                Err(err) => Err(err),
            }
        };
        drop(lock);
        self.converging
            .remove_if(&tenant, |_, lock| Arc::strong_count(lock) == 1);
        result
    }

    async fn apply(self: &Arc<Self>, tenant: TenantId, intent: Option<BotIntent>) {
        let current = self.bots.get(&tenant).map(|entry| entry.value().clone());
        let Some(intent) = intent else {
            // The tenant is gone: its bot stops, its sandbox is forgotten.
            if let Some(handle) = current {
                self.stop_and_wait(&handle).await;
            }
            self.deps.sandbox.forget(tenant);
            return;
        };
        match (intent.desired, current) {
            (DesiredState::Stopped, Some(handle)) => {
                if !self.stop_and_wait(&handle).await {
                    tracing::warn!(%tenant, "the bot did not stop in time");
                }
                self.forget_stale_web_keys(tenant).await;
            }
            (DesiredState::Stopped, None) => {
                // Not running here: make sure nothing says it is.
                if let Err(err) = worker::record_stopped(&self.deps.db, tenant).await {
                    tracing::warn!(%tenant, error = %err, "could not record the bot as stopped");
                }
            }
            (DesiredState::Running, None) => {
                self.start(&intent);
            }
            (DesiredState::Running, Some(handle))
                if handle.cancel.is_cancelled()
                    || handle.restart_generation < intent.restart_generation =>
            {
                // Start over: the old run stops first (a stopping one is
                // waited for), then the new one starts from the rows.
                if !self.stop_and_wait(&handle).await {
                    tracing::warn!(%tenant, "the old bot did not stop in time; the next reconcile starts the new one");
                    return;
                }
                self.forget_stale_web_keys(tenant).await;
                self.start(&intent);
            }
            (DesiredState::Running, Some(handle)) => {
                if handle
                    .signals
                    .version
                    .fetch_max(intent.version, Ordering::AcqRel)
                    < intent.version
                {
                    handle.signals.reload.notify_one();
                }
            }
        }
    }

    /// Off WhatsApp Web, a device's keys go once more after its bot
    /// stopped: its client saves state while it disconnects.
    async fn forget_stale_web_keys(&self, tenant: TenantId) {
        if let Err(err) = transports::forget_web_keys_unless_current(&self.deps.db, tenant).await {
            tracing::error!(%tenant, error = %err, "deleting the old WhatsApp Web keys failed");
        }
    }

    /// At start, before the first reconcile: forgets what a previous process
    /// left marked as running (see `worker::release_orphans`).
    pub async fn release_orphans(&self) -> Result<u64, DbErr> {
        worker::release_orphans(&self.deps.db, &self.deps.node).await
    }

    /// At boot, before anything else can change the rows: starts every bot
    /// that should run, straight from one read of all rows.
    pub async fn resume(self: &Arc<Self>) -> Result<usize, DbErr> {
        let intents = worker::intents(&self.deps.db).await?;
        Ok(intents
            .iter()
            .filter(|intent| intent.desired == DesiredState::Running)
            .filter(|intent| self.start(intent))
            .count())
    }

    /// Makes every bot match its row: finds the tenants that differ in one
    /// read of all rows, then converges each on a fresh read of its own.
    /// Answers how many it converged.
    pub async fn reconcile(self: &Arc<Self>) -> Result<usize, DbErr> {
        let intents = worker::intents(&self.deps.db).await?;
        let mut differ: Vec<TenantId> = Vec::new();
        let mut known = HashSet::with_capacity(intents.len());
        for intent in &intents {
            known.insert(intent.tenant);
            let current = self.bots.get(&intent.tenant).map(|e| e.value().clone());
            let differs = match (intent.desired, current) {
                (DesiredState::Running, None) => true,
                (DesiredState::Running, Some(h)) => {
                    h.restart_generation < intent.restart_generation
                        || h.signals.version.load(Ordering::Acquire) < intent.version
                }
                (DesiredState::Stopped, Some(h)) => !h.cancel.is_cancelled(),
                (DesiredState::Stopped, None) => false,
            };
            if differs {
                differ.push(intent.tenant);
            }
        }
        differ.extend(
            self.bots
                .iter()
                .map(|entry| *entry.key())
                .filter(|tenant| !known.contains(tenant)),
        );
        let count = differ.len();
        let gate = Arc::new(tokio::sync::Semaphore::new(RECONCILE_CONCURRENCY));
        let mut set = tokio::task::JoinSet::new();
        for tenant in differ {
            let (registry, gate) = (self.clone(), gate.clone());
            set.spawn_on(
                async move {
                    let _permit = gate.acquire().await;
                    if let Err(err) = registry.converge(tenant).await {
                        tracing::warn!(%tenant, error = %err, "converging the bot failed");
                    }
                },
                &self.runtime,
            );
        }
        while set.join_next().await.is_some() {}
        if count > 0 {
            tracing::info!(
                converged = count,
                running = self.running(),
                "reconciled bots"
            );
        }
        Ok(count)
    }

    /// One heartbeat tick: ping every bot, then record all bots of this
    /// node except those that missed the previous ping. Answers what it
    /// wrote: one statement, whatever the number of bots.
    pub async fn heartbeat(&self) -> Result<worker::HeartbeatTick, DbErr> {
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
        worker::heartbeat(&self.deps.db, &self.deps.node, &stuck, Utc::now()).await
    }

    /// Bots whose heartbeat is older than `stale_after`: ERROR, and
    /// restarted when `restart_stale` says so.
    pub async fn sweep_stale(self: &Arc<Self>) -> Result<Vec<TenantId>, AppError> {
        let settings = &self.deps.settings;
        let before = Utc::now()
            - chrono::Duration::from_std(settings.stale_after).map_err(AppError::internal)?;
        let stale = worker::stale_workers(&self.deps.db, before).await?;
        for tenant in &stale {
            let reason = format!(
                "stale: no heartbeat for over {}",
                humantime_serde::re::humantime::format_duration(settings.stale_after)
            );
            tracing::warn!(%tenant, %reason, "bot is stale");
            let handle = self.bots.get(tenant).map(|entry| entry.value().clone());
            if let Some(handle) = handle {
                handle.cancel.cancel();
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), handle.finished.cancelled()).await;
            }
            worker::record_failed(&self.deps.db, *tenant, &reason, false).await?;
            if settings.restart_stale {
                worker::request(
                    &self.deps.db,
                    &Actor::System,
                    *tenant,
                    BotCommand::ForceRestart,
                )
                .await?;
            }
            self.converge(*tenant).await?;
        }
        Ok(stale)
    }

    /// The background loops: reconcile, heartbeat + stale sweep, limiter sweep.
    pub fn spawn_loops(self: &Arc<Self>, shutdown: CancellationToken, tracker: &TaskTracker) {
        let registry = self.clone();
        tracker.spawn_on(
            async move {
                let settings = registry.deps.settings.clone();
                // First ticks one period from now: the boot already resumed
                // the bots, and they get a full interval to come up before
                // the sweep.
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
    /// flushes and stops the log writer, then records in one statement that
    /// nothing runs on this node any more. Bots that should run keep their
    /// desired state, so the next start resumes them.
    pub async fn shutdown(&self) {
        self.bot_tasks.close();
        // Every bot's token is a child of this one.
        self.deps.shutting_down.cancel();
        let bound = self.deps.settings.drain_timeout + Duration::from_secs(2);
        if tokio::time::timeout(bound, self.bot_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.bot_tasks.len(),
                "some bots did not stop in time"
            );
        }
        self.writer_shutdown.cancel();
        self.writer_tasks.close();
        self.writer_tasks.wait().await;
        match worker::record_node_stopped(&self.deps.db, &self.deps.node).await {
            Ok(n) => tracing::debug!(bots = n, "recorded this node's bots as stopped"),
            Err(err) => {
                tracing::warn!(error = %err, "could not record this node's bots as stopped; the next start releases them")
            }
        }
    }

    /// The log writer (for the benchmark's raw comparison and tests).
    pub fn writer(&self) -> &LogWriter {
        &self.deps.writer
    }

    /// The sandbox transports' hub: tests deliver through it as WhatsApp
    /// Web does (the bot stores the message, not a receiver).
    pub fn sandbox(&self) -> &Arc<super::transport::sandbox::SandboxHub> {
        &self.deps.sandbox
    }
}

#[async_trait::async_trait]
impl BotControl for Arc<BotRegistry> {
    async fn nudge(&self, tenant: TenantId) {
        if let Err(err) = self.converge(tenant).await {
            tracing::warn!(%tenant, error = %err, "converging the bot failed; the reconcile timer tries again");
        }
    }

    fn is_running(&self, tenant: TenantId) -> bool {
        BotRegistry::is_running(self, tenant)
    }

    fn changed(&self, tenant: TenantId) {
        self.deps.writer.live().publish(tenant);
    }

    fn send_queued(&self, tenant: TenantId) {
        if let Some(entry) = self.bots.get(&tenant) {
            entry.value().signals.outbox.notify_one();
        }
    }

    async fn receive(
        &self,
        tenant: TenantId,
        message: CustomerMessage,
    ) -> Result<Receipt, AppError> {
        let deps = &self.deps;
        let row = InboundRow {
            tenant_id: tenant,
            wa_message_id: message.id.clone(),
            chat_id: message.from.clone(),
            to: message.to.clone(),
            text: message.text.clone(),
            kind: message.kind,
            contact_name: message.contact_name.clone(),
            created_at: message.at,
        };
        let stored = match deps.writer.persist(row).await.map_err(AppError::internal)? {
            Some(stored) => stored,
            // Stored before: hand it over again while it waits for its
            // answer (an earlier delivery may have found the bot busy).
            None => match messages::waiting_inbound(&deps.db, tenant, &message.id).await? {
                Some(stored) => stored,
                None => return Ok(Receipt::Duplicate),
            },
        };
        let Some(tx) = self.bots.get(&tenant).map(|entry| entry.value().tx.clone()) else {
            return Ok(Receipt::Stored);
        };
        let inbound = InboundMessage {
            id: message.id,
            from: message.from,
            text: message.text,
            kind: message.kind,
            at: message.at,
            contact_name: message.contact_name,
            stored: Some(stored),
        };
        match tx
            .send_timeout(BotMsg::Stored(Box::new(inbound)), HAND_OVER_WAIT)
            .await
        {
            Ok(()) => Ok(Receipt::Delivered),
            // Its run ended meanwhile: the next one recovers the row.
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Ok(Receipt::Stored),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => Ok(Receipt::Busy),
        }
    }

    async fn report_delivery(
        &self,
        tenant: TenantId,
        report: DeliveryReport,
    ) -> Result<(), AppError> {
        self.deps
            .writer
            .delivery(DeliveryUpdate {
                tenant_id: tenant,
                wa_message_id: report.wa_message_id,
                status: report.status,
                error: report.error,
            })
            .await
            .map_err(AppError::internal)
    }
}
