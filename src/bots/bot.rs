//! One tenant's bot: an actor task that owns the transport and the per-chat
//! queues, and turns transport events into database state and replies.
//!
//! Pipeline (DESIGN.md order), per inbound message:
//! dedup cache → per-chat FIFO queue → persist IN (unique index: a repeat
//! stops here) → tenant limit → reply engine → typing delay → chat limit →
//! store the reply (first part SENDING, the rest QUEUED) and mark IN
//! answered, in one commit → send → SENT with WhatsApp's id.
//!
//! The common case takes one commit instead of two (`answer_at_once`): a
//! text the rules answer, in a conversation whose hands do not change,
//! with the limits free and no typing delay, is answered from the
//! conversation as the chat's worker last saw it, and the message goes in
//! ANSWERED together with its reply; that commit checks the conversation
//! is still as seen, else only the message goes in and it is answered as
//! above.
//!
//! WhatsApp sends cannot be exactly-once, so the trade-off is explicit: a
//! part is durably SENDING before the transport is called, and a crash
//! during the call leaves it SENDING, which the next start turns into
//! UNKNOWN ("may or may not have reached the customer") instead of sending
//! it again. Parts still QUEUED certainly did not start and go out after
//! the start, before anything newer in their chat.
//!
//! The actor routes a message to its chat's queue at once, so chats run
//! concurrently while each chat keeps arrival order; the chat worker persists
//! the message before anything else happens to it. A full chat queue is the
//! stated overflow policy: the message is stored FAILED ("chat queue full")
//! and a warning logged — never dropped silently.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use entity::enums::{MessageKind, MessageStatus, TenantStatus};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::deps::BotDeps;
use super::transport::{InboundMessage, Transport, TransportError, TransportEvent};
use crate::domain::handoff::{Event, decide};
use crate::domain::ids::TenantId;
use crate::replies::{Intent, detect_intent, reply};
use crate::services::ai;
use crate::services::runtime::conversation_batch::ConversationState;
use crate::services::runtime::handoff::HandoffChange;
use crate::services::runtime::unanswered::UnansweredAsk;
use crate::services::runtime::{
    self,
    log_batch::{AtOnce, InboundRow, OutboundRow, Queued, StatusUpdate, Stored},
    worker::BotConfig,
};

/// What a chat's worker does next, in the chat's order.
#[derive(Debug)]
enum ChatJob {
    /// A customer's message: store it (unless stored), then answer it.
    Answer(InboundMessage),
    /// An outbound message stored QUEUED: send it.
    Send(Queued),
}

impl ChatJob {
    fn chat(&self) -> &str {
        match self {
            Self::Answer(message) => &message.from,
            Self::Send(queued) => &queued.chat_id,
        }
    }
}

type Chats = HashMap<String, mpsc::Sender<ChatJob>>;

/// What the registry signals to a bot without a message that could be
/// dropped: its liveness stamp (heartbeat) and "your settings changed"
/// (a `Notify` keeps the signal even when the bot is busy), with the
/// worker row's intent version it was told about.
#[derive(Default)]
pub struct BotSignals {
    pub alive: AtomicU64,
    pub reload: tokio::sync::Notify,
    /// QUEUED messages wait in the outbox (a person's reply).
    pub outbox: tokio::sync::Notify,
    pub version: std::sync::atomic::AtomicI64,
}

/// Messages from the registry to a running bot.
#[derive(Debug)]
pub enum BotMsg {
    /// Heartbeat probe: answer by storing the tick.
    Ping(u64),
    /// A customer's message a receiver stored already (sandbox API, Cloud
    /// API webhook): answer it.
    Stored(Box<InboundMessage>),
}

/// How a bot run ended, for the supervisor.
#[derive(Debug)]
pub enum Exit {
    /// Cancelled (stop, restart, shutdown).
    Stopped,
    /// Cannot continue without a person: QR not scanned, logged out.
    Fatal { reason: String, logged_out: bool },
    /// Something broke; a restart may help.
    Crashed(String),
}

/// Answering what was persisted but not answered, once per run (at the
/// first link), without answering a message twice when the receiver (the
/// Cloud API webhook) hands over a persisted row at the same moment.
#[derive(Default)]
struct Recovery {
    done: bool,
    /// Persisted rows routed by one side and not yet seen by the other.
    routed: HashSet<i64>,
}

/// What the chat workers of one bot share.
struct ChatShared {
    tenant: TenantId,
    deps: Arc<BotDeps>,
    transport: Arc<dyn Transport>,
    config: watch::Receiver<Arc<BotConfig>>,
    tenant_limit: DefaultDirectRateLimiter,
    /// Per-chat limiter of this tenant when it overrides the platform's.
    own_chat_limit: Option<DefaultKeyedRateLimiter<String>>,
    /// QUEUED outbox rows handed to a chat's worker and not done yet: an
    /// outbox signal does not hand them over twice.
    sending: std::sync::Mutex<HashSet<i64>>,
}

fn per_minute(n: u32, burst: u32) -> Quota {
    let n = std::num::NonZeroU32::new(n.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    let burst = std::num::NonZeroU32::new(burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(burst)
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A tenant's own limit allows bursts of five seconds' worth of replies.
fn override_burst(per_minute: u32) -> u32 {
    (per_minute / 12).max(1)
}

/// Runs the bot until cancelled or until it cannot go on.
pub async fn run(
    tenant: TenantId,
    deps: Arc<BotDeps>,
    inbox: &mut mpsc::Receiver<BotMsg>,
    signals: Arc<BotSignals>,
    cancel: CancellationToken,
) -> Exit {
    let gate = deps.start_gate.acquire().await;
    let config = match Box::pin(deps.start_reads.config(tenant)).await {
        Ok(config) => Arc::new(config),
        Err(err) => return Exit::Crashed(format!("cannot read the tenant's settings: {err}")),
    };
    let transport: Arc<dyn Transport> = match deps.transport_for(&config) {
        Ok(transport) => transport,
        Err(reason) => {
            return Exit::Fatal {
                reason,
                logged_out: false,
            };
        }
    };
    let settings = &deps.settings;
    let tenant_limit = RateLimiter::direct(match config.rate_limit_per_minute {
        Some(n) => per_minute(n, override_burst(n)),
        None => per_minute(
            settings.tenant_rate_per_minute.get(),
            settings.tenant_burst.get(),
        ),
    });
    let own_chat_limit = config
        .chat_rate_limit_per_minute
        .map(|n| RateLimiter::keyed(per_minute(n, override_burst(n))));
    let (config_tx, config_rx) = watch::channel(config);
    let shared = Arc::new(ChatShared {
        tenant,
        deps: deps.clone(),
        transport: transport.clone(),
        config: config_rx,
        tenant_limit,
        own_chat_limit,
        sending: std::sync::Mutex::new(HashSet::new()),
    });

    drop(gate);
    if let Err(err) = deps.writer.mark_running(tenant).await {
        return Exit::Crashed(format!("cannot record the bot as running: {err}"));
    }

    let (events_tx, mut events) = mpsc::channel(32);
    let transport_cancel = cancel.child_token();
    let mut transport_task = tokio::spawn({
        let transport = transport.clone();
        let cancel = transport_cancel.clone();
        async move { transport.run(events_tx, cancel).await }
    });
    // However this run ends — even by a panic the supervisor catches — the
    // transport is cancelled and its task aborted, never left behind.
    let _transport_cancelled = transport_cancel.clone().drop_guard();
    let _transport_aborted = AbortOnDrop(transport_task.abort_handle());
    let mut chats: Chats = HashMap::new();
    let mut workers = JoinSet::new();
    let mut sweep = tokio::time::interval(deps.settings.chat_idle_timeout);
    sweep.tick().await;

    let mut online = false;
    let mut recovery = Recovery::default();
    let exit = loop {
        tokio::select! {
            () = cancel.cancelled() => break Exit::Stopped,
            msg = inbox.recv() => match msg {
                Some(BotMsg::Ping(tick)) => signals.alive.store(tick, Ordering::Release),
                Some(BotMsg::Stored(message)) => {
                    let event = TransportEvent::Message(message);
                    if let Err(exit) = Box::pin(on_event(&shared, event, &mut chats, &mut workers, &mut recovery)).await {
                        break exit;
                    }
                }
                None => break Exit::Stopped,
            },
            () = signals.outbox.notified(), if recovery.done => {
                match Box::pin(runtime::log_batch::queued(&deps.db, tenant)).await {
                    Ok(queued) => {
                        for row in queued {
                            route_queued(&shared, row, &mut chats, &mut workers).await;
                        }
                    }
                    Err(err) => tracing::warn!(%tenant, error = %err, "reading the outbox failed; it is read again at the next signal or start"),
                }
            }
            () = signals.reload.notified() => {
                match Box::pin(runtime::worker::load_bot_config(&deps.db, tenant)).await {
                    Ok(config) => { let _ = config_tx.send(Arc::new(config)); }
                    Err(err) => tracing::warn!(%tenant, error = %err, "reloading settings failed; keeping the old ones"),
                }
            }
            event = events.recv() => match event {
                Some(event) => {
                    let linked = matches!(event, TransportEvent::Connected { .. });
                    let changed = match Box::pin(on_event(&shared, event, &mut chats, &mut workers, &mut recovery)).await {
                        Ok(changed) => changed,
                        Err(exit) => break exit,
                    };
                    if linked && !online {
                        online = true;
                        deps.connected.fetch_add(1, Ordering::Relaxed);
                    }
                    // A new link changed the tenant's status and phone.
                    if changed && let Ok(config) = Box::pin(runtime::worker::load_bot_config(&deps.db, tenant)).await {
                        let _ = config_tx.send(Arc::new(config));
                    }
                }
                // The transport finished; its result says why.
                None => break transport_exit((&mut transport_task).await),
            },
            _ = sweep.tick() => {
                chats.retain(|_, queue| !queue.is_closed());
                while workers.try_join_next().is_some() {}
            }
        }
    };

    if online {
        deps.connected.fetch_sub(1, Ordering::Relaxed);
    }
    // Drain: no new messages; queued ones get `drain_timeout` to go out.
    transport_cancel.cancel();
    drop(chats);
    let drained = tokio::time::timeout(deps.settings.drain_timeout, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(%tenant, "chat queues not drained in time; the rest is answered after the next start");
        workers.shutdown().await;
    }
    transport_task.abort();
    exit
}

fn transport_exit(result: Result<Result<(), TransportError>, tokio::task::JoinError>) -> Exit {
    match result {
        Ok(Ok(())) => Exit::Stopped,
        Ok(Err(TransportError::QrTimeout)) => Exit::Fatal {
            reason: "the QR code was not scanned in time: start the bot again to get a new one"
                .to_owned(),
            logged_out: false,
        },
        Ok(Err(TransportError::LoggedOut)) => Exit::Fatal {
            reason: "logged out from the phone: link the bot again".to_owned(),
            logged_out: true,
        },
        Ok(Err(TransportError::Fatal(reason))) => Exit::Fatal {
            reason,
            logged_out: false,
        },
        Ok(Err(err)) => Exit::Crashed(format!("transport failed: {err}")),
        Err(join) if join.is_panic() => {
            Exit::Crashed(format!("transport panicked: {}", panic_text(join)))
        }
        Err(_) => Exit::Stopped,
    }
}

pub(crate) fn panic_text(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

async fn on_event(
    shared: &Arc<ChatShared>,
    event: TransportEvent,
    chats: &mut Chats,
    workers: &mut JoinSet<()>,
    recovery: &mut Recovery,
) -> Result<bool, Exit> {
    let mut settings_changed = false;
    let deps = &shared.deps;
    let tenant = shared.tenant;
    match event {
        TransportEvent::Qr { code, expires_at } => {
            let qr = crate::bots::qr::data_uri(&code)
                .map_err(|err| Exit::Crashed(format!("cannot render the QR code: {err}")))?;
            let code = runtime::link::LinkCode::Qr(&qr);
            Box::pin(runtime::link::record_link_code(
                &deps.db, tenant, code, expires_at,
            ))
            .await
            .map_err(|err| Exit::Crashed(format!("cannot store the QR code: {err}")))?;
        }
        TransportEvent::PairingCode { code, expires_at } => {
            let code = runtime::link::LinkCode::Pairing(&code);
            Box::pin(runtime::link::record_link_code(
                &deps.db, tenant, code, expires_at,
            ))
            .await
            .map_err(|err| Exit::Crashed(format!("cannot store the pairing code: {err}")))?;
        }
        TransportEvent::Connected { phone } => {
            let config = shared.config.borrow().clone();
            // A bot resuming its link (restart) only marks the session online;
            // a new link also moves the tenant (QR_PENDING → ACTIVE).
            let resumed = config.linked_phone.as_deref() == Some(phone.as_str())
                && matches!(config.status, TenantStatus::Active | TenantStatus::Paused);
            if resumed {
                deps.writer
                    .mark_online(tenant)
                    .await
                    .map_err(|err| Exit::Crashed(format!("cannot record the link: {err}")))?;
            } else {
                Box::pin(runtime::worker::record_connected(&deps.db, tenant, &phone))
                    .await
                    .map_err(|err| Exit::Crashed(format!("cannot record the link: {err}")))?;
                settings_changed = true;
            }
            if recovery.done {
                // A reconnect: everything persisted in this run is queued
                // or answered already.
                return Ok(settings_changed);
            }
            // What a crash or the drain bound interrupted: sends first (a
            // part SENDING becomes UNKNOWN; QUEUED ones go out), then
            // messages persisted but never answered.
            let runtime::log_batch::Leftovers {
                unknown,
                queued,
                unanswered: pending,
            } = Box::pin(deps.start_reads.leftovers(tenant))
                .await
                .map_err(|err| Exit::Crashed(format!("cannot read what a crash left: {err}")))?;
            recovery.done = true;
            if unknown > 0 {
                tracing::warn!(%tenant, count = unknown, "replies interrupted while sending: marked UNKNOWN, not sent again");
            }
            if !queued.is_empty() {
                tracing::info!(%tenant, count = queued.len(), "sending replies queued before the restart");
            }
            for row in queued {
                route_queued(shared, row, chats, workers).await;
            }
            if !pending.is_empty() {
                tracing::info!(%tenant, count = pending.len(), "answering messages left from before the restart");
            }
            for row in pending {
                // Handed over by the receiver already in this run: queued.
                if recovery.routed.remove(&row.stored.id) {
                    continue;
                }
                recovery.routed.insert(row.stored.id);
                let message = InboundMessage {
                    id: row.wa_message_id,
                    from: row.chat_id,
                    text: row.text,
                    kind: row.kind,
                    at: row.created_at,
                    contact_name: row.contact_name,
                    stored: Some(row.stored),
                };
                route(shared, ChatJob::Answer(message), chats, workers).await;
            }
        }
        TransportEvent::Message(message) => {
            let message = *message;
            let key = (tenant, message.id.clone());
            if deps.dedup.contains_key(&key) {
                tracing::debug!(%tenant, id = %message.id, "repeat dropped by the dedup cache");
                return Ok(false);
            }
            deps.dedup.insert(key, ());
            if let Some(id) = message.stored.map(|stored| stored.id) {
                // Persisted by the receiver: recovery may have routed it.
                if recovery.routed.remove(&id) {
                    return Ok(false);
                }
                if !recovery.done {
                    recovery.routed.insert(id);
                }
            }
            route(shared, ChatJob::Answer(message), chats, workers).await;
        }
        TransportEvent::PhoneWrote(message) => {
            // The bot's own send coming back (its id is remembered from the
            // send until its row has it): not the phone's.
            if deps.dedup.contains_key(&(tenant, message.id.clone())) {
                return Ok(false);
            }
            match Box::pin(runtime::phone::record(&deps.db, tenant, &message)).await {
                Ok(true) => {
                    tracing::info!(%tenant, "the phone wrote in a chat: a person has it now");
                    deps.writer.live().publish(tenant);
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(%tenant, error = %err, "could not log what the phone wrote");
                }
            }
        }
        TransportEvent::Disconnected { reason } => {
            tracing::info!(%tenant, %reason, "transport disconnected; it reconnects on its own");
            // Shown on the tenant's pages until the next state change; the
            // bot keeps running without it.
            if let Err(err) = runtime::link::record_offline(&deps.db, tenant, &reason).await {
                tracing::warn!(%tenant, error = %err, "cannot record why the transport is offline");
            }
        }
        TransportEvent::LoggedOut => {
            return Err(Exit::Fatal {
                reason: "logged out from the phone: link the bot again".to_owned(),
                logged_out: true,
            });
        }
    }
    Ok(settings_changed)
}

/// Hands a QUEUED outbox row to its chat's worker, unless one has it.
async fn route_queued(
    shared: &Arc<ChatShared>,
    row: Queued,
    chats: &mut Chats,
    workers: &mut JoinSet<()>,
) {
    let new = shared
        .sending
        .lock()
        .map(|mut sending| sending.insert(row.id))
        .unwrap_or(false);
    if new {
        route(shared, ChatJob::Send(row), chats, workers).await;
    }
}

/// Puts a job on its chat's queue, opening the queue (and its worker) when
/// needed. A full queue is the overflow policy of the module docs.
async fn route(
    shared: &Arc<ChatShared>,
    job: ChatJob,
    chats: &mut Chats,
    workers: &mut JoinSet<()>,
) {
    let chat = job.chat().to_owned();
    let capacity = usize::try_from(shared.deps.settings.chat_queue_capacity.get()).unwrap_or(64);
    let mut open_queue = |chats: &mut Chats| {
        let (tx, rx) = mpsc::channel(capacity);
        workers.spawn(chat_worker(shared.clone(), chat.clone(), rx));
        chats.insert(chat.clone(), tx.clone());
        tx
    };
    let queue = match chats.get(&chat) {
        Some(queue) if !queue.is_closed() => queue.clone(),
        _ => open_queue(chats),
    };
    let sent = match queue.try_send(job) {
        // The worker went idle and closed its queue just now: a new one.
        Err(mpsc::error::TrySendError::Closed(job)) => open_queue(chats).try_send(job),
        other => other,
    };
    let job = match sent {
        Ok(()) => return,
        Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) => job,
    };
    match job {
        ChatJob::Answer(job) => overflow(shared, &chat, job).await,
        // Stays QUEUED: sent after the next start.
        ChatJob::Send(queued) => {
            if let Ok(mut sending) = shared.sending.lock() {
                sending.remove(&queued.id);
            }
            tracing::warn!(tenant = %shared.tenant, %chat, id = queued.id, "chat queue full: a queued message waits for the next start");
        }
    }
}

/// A customer's message that found its chat's queue full: stored FAILED.
async fn overflow(shared: &ChatShared, chat: &str, job: InboundMessage) {
    {
        tracing::warn!(tenant = %shared.tenant, %chat, id = %job.id, "chat queue full: message stored as FAILED, not answered");
        let writer = &shared.deps.writer;
        let stored = match job.stored {
            Some(stored) => Ok(Some(stored)),
            None => writer.persist(inbound_row(shared, &job)).await,
        };
        let result = match stored {
            Ok(Some(Stored { id, .. })) => {
                writer
                    .status(
                        StatusUpdate::new(shared.tenant, id, MessageStatus::Failed)
                            .with_error("chat queue full: not answered"),
                    )
                    .await
            }
            // A duplicate: the original is (being) answered.
            Ok(None) => Ok(()),
            Err(err) => Err(err),
        };
        if let Err(err) = result {
            tracing::error!(tenant = %shared.tenant, error = %err, "could not record the overflowing message");
        }
    }
}

fn inbound_row(shared: &ChatShared, message: &InboundMessage) -> InboundRow {
    InboundRow {
        tenant_id: shared.tenant,
        to: business_number(shared),
        wa_message_id: message.id.clone(),
        chat_id: message.from.clone(),
        text: message.text.clone(),
        kind: message.kind,
        contact_name: message.contact_name.clone(),
        created_at: message.at,
    }
}

/// The number customers write to, as logged: the linked phone, or "bot"
/// before the first link.
fn business_number(shared: &ChatShared) -> String {
    shared
        .config
        .borrow()
        .linked_phone
        .clone()
        .unwrap_or_else(|| "bot".to_owned())
}

/// Answers one chat's messages in order; ends after `chat_idle_timeout`
/// without work or when the bot drops the queue.
async fn chat_worker(shared: Arc<ChatShared>, chat: String, queue: mpsc::Receiver<ChatJob>) {
    let idle = shared.deps.settings.chat_idle_timeout;
    let mut queue = ChatQueue {
        queue,
        backlog: VecDeque::new(),
        known: None,
    };
    loop {
        if let Some(job) = queue.backlog.pop_front() {
            answer_logged(&shared, &chat, job, &mut queue).await;
            continue;
        }
        let job = match tokio::time::timeout(idle, queue.queue.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(_) => {
                // Idle: close the queue, then answer what slipped in between
                // the timeout and the close (the bot opens a new queue for
                // anything later).
                queue.queue.close();
                loop {
                    let job = match queue.backlog.pop_front() {
                        Some(job) => job,
                        None => match queue.queue.try_recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        },
                    };
                    answer_logged(&shared, &chat, job, &mut queue).await;
                }
            }
        };
        answer_logged(&shared, &chat, job, &mut queue).await;
    }
}

/// A chat's jobs: its queue, and the ones taken off it to look at (an AI
/// answer gathers a burst of messages) that were not for the burst.
struct ChatQueue {
    queue: mpsc::Receiver<ChatJob>,
    backlog: VecDeque<ChatJob>,
    /// The chat's conversation as this worker last saw it.
    known: Option<ConversationState>,
}

async fn answer_logged(shared: &ChatShared, chat: &str, job: ChatJob, queue: &mut ChatQueue) {
    let done = match job {
        ChatJob::Answer(message) => answer(shared, chat, message, queue).await,
        ChatJob::Send(queued) => {
            let id = queued.id;
            let sent = send_parts(shared, chat, vec![(id, queued.text)], None, false).await;
            if let Ok(mut sending) = shared.sending.lock() {
                sending.remove(&id);
            }
            sent
        }
    };
    if let Err(err) = done {
        tracing::warn!(tenant = %shared.tenant, %chat, error = %err, "answering failed");
    }
}

async fn answer(
    shared: &ChatShared,
    chat: &str,
    job: InboundMessage,
    queue: &mut ChatQueue,
) -> Result<(), String> {
    let deps = &shared.deps;
    let known = queue.known.take();
    // The rate limits a try at once took already (a token is not taken twice).
    let (mut tenant_limit_taken, mut chat_limit_taken) = (false, false);
    let stored = match job.stored {
        Some(stored) => Some(stored),
        None => match answer_at_once(shared, chat, &job, known).await? {
            AtOnceTry::Done(now_known) => {
                queue.known = now_known;
                return Ok(());
            }
            AtOnceTry::Stale(stored) => {
                (tenant_limit_taken, chat_limit_taken) = (true, true);
                Some(stored)
            }
            AtOnceTry::ChatLimitBusy => {
                tenant_limit_taken = true;
                None
            }
            AtOnceTry::NotTried => None,
        },
    };
    let stored = match stored {
        Some(stored) => stored,
        None => match deps.writer.persist(inbound_row(shared, &job)).await {
            Ok(Some(stored)) => stored,
            // Stored before: answered (or being answered) already.
            Ok(None) => return Ok(()),
            Err(err) => return Err(err.to_string()),
        },
    };
    let Stored {
        id,
        first_contact,
        conversation,
    } = stored;
    // What the next message of this chat is worked out from (the commit
    // of an answer at once checks it is still true).
    queue.known = conversation;
    let config = shared.config.borrow().clone();
    if !config.auto_reply || config.status == TenantStatus::Paused {
        return deps
            .writer
            .status(StatusUpdate::new(shared.tenant, id, MessageStatus::Skipped))
            .await
            .map_err(|e| e.to_string());
    }

    // The plan's messages are used up: logged and in the inbox, where
    // people can still answer; the bot stays silent until next month.
    if let Some(limit) = config.monthly_messages {
        let used = deps
            .writer
            .usage()
            .get(&deps.db, shared.tenant)
            .await
            .map_err(|e| e.to_string())?;
        if used >= limit {
            return deps
                .writer
                .status(
                    StatusUpdate::new(shared.tenant, id, MessageStatus::Skipped)
                        .with_error(QUOTA_REACHED),
                )
                .await
                .map_err(|e| e.to_string());
        }
    }

    // Who answers in this chat: the bot, or (silently logged) a person.
    let conversation = match conversation {
        Some(state) => Some(state),
        None => runtime::handoff::state_of_chat(&deps.db, shared.tenant, chat)
            .await
            .map_err(|e| e.to_string())?,
    };
    let now = Utc::now();
    let text = job.kind == MessageKind::Text;
    let asks_for_person = text && detect_intent(&job.text, config.language) == Intent::Human;
    let event = Event::Customer {
        asks_for_person,
        text,
    };
    let handoff = conversation.map(|state| {
        let decision = decide(state.handoff, event, now, config.human_idle_timeout);
        let change = HandoffChange::between(
            shared.tenant,
            &state,
            decision.state,
            decision.switched.map(|reason| (reason, None)),
            now,
        );
        let newly_needed = decision.state.needs_human && !state.handoff.needs_human;
        (
            decision.bot_answers,
            change,
            newly_needed.then_some(state.id),
        )
    });
    let (bot_answers, mut change, mut needs_person) = handoff.unwrap_or((true, None, None));
    // Not text: the bot says once per conversation that it reads text only
    // (a person looks at the rest); after that it stays quiet about it.
    let notice_due = !text && conversation.is_some_and(|state| state.text_only_notice_at.is_none());
    if !bot_answers || (!text && !notice_due) {
        // A person has this chat, or will look at this: logged, counted,
        // not answered.
        let why = if bot_answers { NOT_TEXT } else { WITH_A_PERSON };
        let skipped = StatusUpdate::new(shared.tenant, id, MessageStatus::Skipped).with_error(why);
        deps.writer
            .queue(Vec::new(), vec![skipped], change)
            .await
            .map_err(|e| e.to_string())?;
        // INVARIANT: told only once the flag is committed (the email's
        // claim requires it).
        if let Some(conversation) = needs_person {
            chat_needs_person(shared, conversation);
        }
        return Ok(());
    }

    if !tenant_limit_taken {
        shared.tenant_limit.until_ready().await;
    }
    let now = Utc::now();
    let ctx = config.reply_context(
        first_contact,
        deps.notifier.delivers(),
        conversation.is_none_or(|c| out_of_hours_note_due(&c, now)),
    );
    let mut answered = vec![StatusUpdate::new(
        shared.tenant,
        id,
        MessageStatus::Answered,
    )];
    let mut ai_record = None;
    let (parts, unanswered) = if text {
        let mut answer = reply(&ctx, &job.text, now);
        let mut unanswered = answer
            .fell_through()
            .then(|| UnansweredAsk::new(shared.tenant, &job.text, now))
            .flatten();
        if let Some(ai) = ai::wanted(deps.ai.as_ref(), &config, &answer) {
            let budget = ai::budget_left(&deps.db, shared.tenant, config.monthly_ai_tokens, now)
                .await
                .map_err(|e| e.to_string())?;
            if let ai::Budget::JustSpent { used, budget } = budget {
                tracing::warn!(tenant = %shared.tenant, used, budget, "this month's AI tokens are used up: the bot answers from its rules until next month");
            }
            if budget.allows() {
                let burst = gather_burst(shared, &ctx, &job, ai.burst_window, queue).await?;
                answered.extend(
                    burst
                        .ids
                        .iter()
                        .map(|&id| StatusUpdate::new(shared.tenant, id, MessageStatus::Answered)),
                );
                let history = ai::history(
                    &deps.db,
                    shared.tenant,
                    chat,
                    conversation.and_then(|c| c.handoff.mode_since),
                    id,
                    ai.history_messages,
                )
                .await
                .map_err(|e| e.to_string())?;
                let question = std::iter::once(job.text.as_str())
                    .chain(burst.texts.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join("\n");
                let step = ai::step(
                    ai,
                    ai::StepInput {
                        ctx: &ctx,
                        profile: &config.knowledge.doc().ai,
                        fallback: &answer,
                        history: &history,
                        question: &question,
                        now,
                    },
                )
                .await;
                if matches!(step.record.outcome, "answer" | "clarify") {
                    unanswered = None;
                }
                if step.handoff
                    && let Some(state) = conversation
                {
                    // The model handed the chat over: as if the customer
                    // had asked for a person.
                    let asked = Event::Customer {
                        asks_for_person: true,
                        text: true,
                    };
                    let decision = decide(state.handoff, asked, now, config.human_idle_timeout);
                    change = HandoffChange::between(
                        shared.tenant,
                        &state,
                        decision.state,
                        decision.switched.map(|reason| (reason, None)),
                        now,
                    );
                    needs_person = (decision.state.needs_human && !state.handoff.needs_human)
                        .then_some(state.id);
                }
                answer = step.answer;
                ai_record = Some(step.record);
            }
        }
        if let Some(state) = conversation.filter(|_| answer.out_of_hours_note) {
            change = Some(HandoffChange::with_out_of_hours_notice(
                change,
                shared.tenant,
                &state,
                now,
            ));
        }
        (answer.parts, unanswered)
    } else {
        if let Some(state) = conversation {
            let change =
                change.get_or_insert_with(|| HandoffChange::unchanged(shared.tenant, &state, now));
            change.text_only_notice = true;
        }
        let notice = crate::replies::text_only_notice(&ctx, now);
        (vec![notice], None)
    };
    if config.response_delay_ms > 0 {
        // "Typing…": a person would not answer instantly.
        tokio::time::sleep(Duration::from_millis(config.response_delay_ms)).await;
    }
    if !chat_limit_taken {
        chat_limit(shared, chat).await;
    }
    let rows = reply_rows(shared, chat, &parts, ai_record);
    // INVARIANT: the first part is durably SENDING (and the message
    // ANSWERED, so recovery does not answer it again) before the transport
    // is called.
    let ids = deps
        .writer
        .queue_answer(rows, answered, change, unanswered)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(conversation) = needs_person {
        chat_needs_person(shared, conversation);
    }
    let parts = ids.into_iter().zip(parts).collect();
    let answering = Answering {
        id,
        conversation: conversation.filter(|_| needs_person.is_none()),
    };
    send_parts(shared, chat, parts, Some(answering), true).await
}

/// A reply's rows: the first part SENDING (it is sent right after the
/// commit), the rest QUEUED behind it.
fn reply_rows(
    shared: &ChatShared,
    chat: &str,
    parts: &[String],
    mut ai: Option<ai::AiRecord>,
) -> Vec<OutboundRow> {
    let from = business_number(shared);
    let now = Utc::now();
    parts
        .iter()
        .enumerate()
        .map(|(i, text)| OutboundRow {
            tenant_id: shared.tenant,
            wa_message_id: None,
            chat_id: chat.to_owned(),
            from: from.clone(),
            text: text.clone(),
            status: if i == 0 {
                MessageStatus::Sending
            } else {
                MessageStatus::Queued
            },
            error: None,
            created_at: now,
            ai: ai.take(),
        })
        .collect()
}

/// How a try to store a message and its answer in one commit ended.
enum AtOnceTry {
    /// Answered and sent, or a repeat of a stored message: done. The
    /// conversation as it is now, for the chat's next message.
    Done(Option<ConversationState>),
    /// Stored without its answer: the conversation was not as this chat's
    /// worker saw it. Answered the usual way, from what the commit read;
    /// the rate limits were taken already.
    Stale(Stored),
    /// Not tried: the message needs more than the rules and the
    /// conversation as known (store it first).
    NotTried,
    /// Not tried: the chat's rate limit is busy (store it first, then
    /// wait); the tenant's was taken already.
    ChatLimitBusy,
}

/// The common case in ONE commit instead of two: a text the rules
/// answer, in a conversation the bot has (or of a new customer), that
/// changes no hands, with no typing delay and no wait for a rate limit.
/// The answer is worked out from `known`, the conversation as this chat's
/// worker last saw it (`None`: taken for a new customer), and stored with
/// the message; that commit first checks the conversation is still so
/// (`AnsweredAtOnce`), so nothing is answered from a state that is no
/// longer true. Everything else stores the message first, as before.
async fn answer_at_once(
    shared: &ChatShared,
    chat: &str,
    job: &InboundMessage,
    known: Option<ConversationState>,
) -> Result<AtOnceTry, String> {
    let deps = &shared.deps;
    let config = shared.config.borrow().clone();
    if job.kind != MessageKind::Text
        || !config.auto_reply
        || config.status == TenantStatus::Paused
        || config.response_delay_ms > 0
        || detect_intent(&job.text, config.language) == Intent::Human
    {
        return Ok(AtOnceTry::NotTried);
    }
    // From the book only: a query here, for every tenant's first message
    // of a burst, would queue them all on the pool before anything is
    // stored. Not in the book yet: stored first, which puts it there.
    if let Some(limit) = config.monthly_messages
        && deps
            .writer
            .usage()
            .known(shared.tenant)
            .is_none_or(|used| used >= limit)
    {
        return Ok(AtOnceTry::NotTried);
    }
    let now = Utc::now();
    if let Some(state) = known {
        let customer = Event::Customer {
            asks_for_person: false,
            text: true,
        };
        let decision = decide(state.handoff, customer, now, config.human_idle_timeout);
        if !decision.bot_answers || decision.switched.is_some() || decision.state != state.handoff {
            return Ok(AtOnceTry::NotTried);
        }
    }
    let ctx = config.reply_context(
        known.is_none(),
        deps.notifier.delivers(),
        known.is_none_or(|c| out_of_hours_note_due(&c, now)),
    );
    let answer = reply(&ctx, &job.text, now);
    if answer.out_of_hours_note || ai::wanted(deps.ai.as_ref(), &config, &answer).is_some() {
        return Ok(AtOnceTry::NotTried);
    }
    // Taken without waiting: a wait would hold the message unstored.
    if shared.tenant_limit.check().is_err() {
        return Ok(AtOnceTry::NotTried);
    }
    if !chat_ready(shared, chat) {
        return Ok(AtOnceTry::ChatLimitBusy);
    }
    let unanswered = answer
        .fell_through()
        .then(|| UnansweredAsk::new(shared.tenant, &job.text, now))
        .flatten();
    let rows = reply_rows(shared, chat, &answer.parts, None);
    let outcome = deps
        .writer
        .persist_answered(inbound_row(shared, job), known, rows, unanswered)
        .await
        .map_err(|e| e.to_string())?;
    match outcome {
        AtOnce::Duplicate => Ok(AtOnceTry::Done(known)),
        AtOnce::Stale(stored) => Ok(AtOnceTry::Stale(stored)),
        AtOnce::Answered { stored, ids } => {
            let parts = ids.into_iter().zip(answer.parts).collect();
            let answering = Answering {
                id: stored.id,
                conversation: stored.conversation,
            };
            send_parts(shared, chat, parts, Some(answering), true).await?;
            Ok(AtOnceTry::Done(stored.conversation))
        }
    }
}

/// Messages of a burst answered together with the first.
struct Burst {
    /// Their stored rows, marked ANSWERED with the first's answer.
    ids: Vec<i64>,
    texts: Vec<String>,
}

/// Waits until `[ai] burst_window` after `first` arrived, then takes the
/// chat's next messages that arrived within it and that the rules would
/// not answer either (text, no request for a person): the model answers
/// them together, once. The first message that is not for the burst ends
/// it and is answered next, in order.
async fn gather_burst(
    shared: &ChatShared,
    ctx: &crate::replies::ReplyContext<'_>,
    first: &InboundMessage,
    window: Duration,
    queue: &mut ChatQueue,
) -> Result<Burst, String> {
    let mut burst = Burst {
        ids: Vec::new(),
        texts: Vec::new(),
    };
    let until = first.at + chrono::Duration::from_std(window).unwrap_or_default();
    if let Ok(wait) = (until - Utc::now()).to_std() {
        tokio::time::sleep(wait.min(window)).await;
    }
    let language = ctx.language;
    loop {
        let job = match queue.backlog.pop_front() {
            Some(job) => job,
            None => match queue.queue.try_recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let joins = match &job {
            ChatJob::Answer(message) => {
                message.kind == MessageKind::Text
                    && message.at <= until
                    && detect_intent(&message.text, language) != Intent::Human
                    && reply(ctx, &message.text, Utc::now()).fell_through()
            }
            ChatJob::Send(_) => false,
        };
        let ChatJob::Answer(message) = job else {
            queue.backlog.push_front(job);
            break;
        };
        if !joins {
            queue.backlog.push_front(ChatJob::Answer(message));
            break;
        }
        let stored = match message.stored {
            Some(stored) => Some(stored),
            None => shared
                .deps
                .writer
                .persist(inbound_row(shared, &message))
                .await
                .map_err(|e| e.to_string())?,
        };
        // `None`: stored before, so answered (or being answered) already.
        if let Some(stored) = stored {
            burst.ids.push(stored.id);
            burst.texts.push(message.text);
        }
    }
    Ok(burst)
}

/// The out-of-hours note leads the first answer of a closed spell: not
/// again within 12 hours in the same chat (a night, or a weekend's day,
/// hears it once; a customer back the next evening hears it again).
fn out_of_hours_note_due(conversation: &ConversationState, now: chrono::DateTime<Utc>) -> bool {
    conversation
        .out_of_hours_notice_at
        .is_none_or(|at| now - at >= chrono::Duration::hours(12))
}

/// Why a customer's message was logged but not answered.
pub const QUOTA_REACHED: &str = "not answered: this month's messages of the plan are used up";
pub const WITH_A_PERSON: &str = "left for a person: the bot is silent in this chat";
/// Why a customer's photo, voice note… was not answered (the bot said
/// once that it reads text only).
pub const NOT_TEXT: &str = "not text: left for a person";

/// Tells the tenant's people that a chat needs one of them (the inbox
/// shows it anyway; this is the email, at most one per chat per interval).
fn chat_needs_person(shared: &ChatShared, conversation: i64) {
    tracing::info!(tenant = %shared.tenant, conversation, "a chat needs a person");
    shared
        .deps
        .notifier
        .chat_needs_person(shared.tenant, conversation);
}

/// The customer's message a reply answers, and its conversation (to hand
/// it to a person when the reply fails).
#[derive(Debug, Clone, Copy)]
struct Answering {
    id: i64,
    conversation: Option<ConversationState>,
}

/// Takes the chat's rate limit if it is free now.
fn chat_ready(shared: &ChatShared, chat: &str) -> bool {
    match &shared.own_chat_limit {
        Some(limiter) => limiter.check_key(&chat.to_owned()).is_ok(),
        None => shared
            .deps
            .chat_limiter
            .check_key(&(shared.tenant, chat.to_owned()))
            .is_ok(),
    }
}

/// Waits for the chat's rate limit (the tenant's own, or the platform's).
async fn chat_limit(shared: &ChatShared, chat: &str) {
    match &shared.own_chat_limit {
        Some(limiter) => limiter.until_key_ready(&chat.to_owned()).await,
        None => {
            shared
                .deps
                .chat_limiter
                .until_key_ready(&(shared.tenant, chat.to_owned()))
                .await;
        }
    }
}

/// Sends stored outbound rows of one chat in order, each after the chat's
/// rate limit (and the first after the tenant's, unless `first_sending`:
/// the bot's answer waited for both before it stored it). Each is committed
/// SENDING before its transport call (`first_sending`: the first one is
/// already), together with the previous one's outcome. A failure fails the
/// rest (and `answering`, the inbound row they answer); a transport that
/// ends its run leaves this part and the rest QUEUED for the next start.
async fn send_parts(
    shared: &ChatShared,
    chat: &str,
    parts: Vec<(i64, String)>,
    answering: Option<Answering>,
    first_sending: bool,
) -> Result<(), String> {
    let writer = &shared.deps.writer;
    let mut outcome: Option<StatusUpdate> = None;
    for (k, (id, text)) in parts.iter().enumerate() {
        if k > 0 || !first_sending {
            if k == 0 {
                // Written by a person or sent through the API (or left
                // queued by a crash): held to the tenant's limit as the
                // bot's own answers are, which wait for it in `answer`.
                shared.tenant_limit.until_ready().await;
            }
            chat_limit(shared, chat).await;
            let mut step: Vec<StatusUpdate> = outcome.take().into_iter().collect();
            step.push(StatusUpdate::new(
                shared.tenant,
                *id,
                MessageStatus::Sending,
            ));
            writer
                .status_committed(step)
                .await
                .map_err(|e| e.to_string())?;
        }
        match shared.transport.send_text(chat, text).await {
            Ok(wa_id) => {
                // Known as the bot's own if WhatsApp hands it back as the
                // phone's before its row records the id.
                shared.deps.dedup.insert((shared.tenant, wa_id.clone()), ());
                outcome = Some(StatusUpdate {
                    wa_message_id: Some(wa_id),
                    ..StatusUpdate::new(shared.tenant, *id, MessageStatus::Sent)
                });
            }
            Err(TransportError::Fatal(reason)) => {
                // The transport is ending this run (e.g. a rejected token)
                // and did not send: this part and the rest wait for the
                // next start.
                tracing::info!(tenant = %shared.tenant, %chat, %reason, "not sent now; left for the next start");
                let mut step: Vec<StatusUpdate> = outcome.take().into_iter().collect();
                step.extend(
                    parts[k..].iter().map(|(id, _)| {
                        StatusUpdate::new(shared.tenant, *id, MessageStatus::Queued)
                    }),
                );
                return writer
                    .status_committed(step)
                    .await
                    .map_err(|e| e.to_string());
            }
            Err(err) => {
                let mut step: Vec<StatusUpdate> = outcome.take().into_iter().collect();
                step.push(
                    StatusUpdate::new(shared.tenant, *id, MessageStatus::Failed)
                        .with_error(err.to_string()),
                );
                step.extend(parts[k + 1..].iter().map(|(id, _)| {
                    StatusUpdate::new(shared.tenant, *id, MessageStatus::Failed)
                        .with_error("not sent: an earlier part of this reply failed")
                }));
                step.extend(answering.map(|answering| {
                    StatusUpdate::new(shared.tenant, answering.id, MessageStatus::Failed)
                        .with_error(format!("reply not sent: {err}"))
                }));
                writer.statuses(step).await.map_err(|e| e.to_string())?;
                // The customer got no answer: a person must look.
                if let Some(state) = answering.and_then(|a| a.conversation) {
                    let now = Utc::now();
                    let decision =
                        decide(state.handoff, Event::BotFailed, now, chrono::Duration::MAX);
                    let change = HandoffChange::between(
                        shared.tenant,
                        &state,
                        decision.state,
                        decision.switched.map(|reason| (reason, None)),
                        now,
                    );
                    if let Some(change) = change {
                        writer
                            .queue(Vec::new(), Vec::new(), Some(change))
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    if !state.handoff.needs_human {
                        chat_needs_person(shared, state.id);
                    }
                }
                return Ok(());
            }
        }
    }
    match outcome {
        Some(update) => writer
            .statuses(vec![update])
            .await
            .map_err(|e| e.to_string()),
        None => Ok(()),
    }
}
