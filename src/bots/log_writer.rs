//! The message log writer: ONE task that owns all per-message writes, so
//! SQLite sees one writer and every backend sees few, large transactions.
//!
//! Bots hand it operations over a bounded channel (back-pressure, never an
//! unbounded queue): inbound rows to persist (the bot waits for the answer:
//! new id, or duplicate), or to persist with the answer worked out before
//! (stored only if the conversation is still as the bot saw it: see
//! `log_batch::AnsweredAtOnce`), outbound rows to store before they are sent (the
//! bot waits for their ids), status updates (waited for when the next step
//! must not happen before they are durable: a SENDING mark before the
//! transport call; fire and forget otherwise).
//! A batch is complete at `batch_size` operations, or `flush_interval`
//! after its first one; it is sent when a writer connection is free, and
//! keeps filling up until then, so the next batch grows while one commits.
//! At shutdown whatever is left is committed too.
//!
//! On PostgreSQL several batches commit at once, one per writer connection
//! (`WriterPool::parallel`): while one waits for the server's disk the next
//! is already on its way. Batches need no order among themselves: a bot
//! asks for a message's status update only after its inbound row was
//! committed, and the unique index settles a message repeated in concurrent
//! batches (inbound rows go in one key order, so such batches wait for each
//! other instead of deadlocking). What could still collide — one outbound id
//! reported twice, two status updates of one message in flight at once —
//! is rare, and a batch the server aborts is retried.
//!
//! A batch that still fails while the database answers holds something it
//! refuses (a constraint, a value it cannot store): it is written in
//! halves until the refused operation is alone, so one bad row costs only
//! its own caller, never the other tenants' messages of its batch. Only
//! when the database does not answer at all is the whole batch given up
//! (its callers are told; a customer's message is then not acknowledged).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::db::WriterPool;
use crate::domain::ids::TenantId;
use crate::live::Live;
use crate::services::runtime::handoff::HandoffChange;
use crate::services::runtime::unanswered::UnansweredAsk;
use crate::services::runtime::{
    self,
    conversation_batch::ConversationState,
    log_batch::{
        AnsweredAtOnce, AtOnce, DeliveryUpdate, InboundRow, LogBatch, OutboundRow, StatusUpdate,
        Stored, WorkerMarks,
    },
};
use crate::services::usage::MessagesThisMonth;
use crate::services::webhooks::delivery::Waker;

/// Operations waiting for the writer; senders wait when it is full.
const QUEUE_CAPACITY: usize = 16_384;
/// A failed batch is tried this many times before it is split (the
/// database answers) or given up (it does not).
const ATTEMPTS: u32 = 3;
/// The pause between WAL checkpoints while batches are committed.
///
/// Under steady writes these checkpoints never quite finish (new frames
/// keep coming), and a checkpoint that does not reach the WAL's end does
/// not sync the database file: so the WAL is restarted by the checkpoint
/// the writer runs itself at its backstop, and every commit waits for that
/// one to copy what is left and sync all that was copied since the last
/// sync. Short pauses leave it little to copy, and each checkpoint here is
/// followed by a write-back of the file system
/// ([`crate::db::sync_file_system`]), which leaves it little to sync (p99
/// at 5,000 msg/s on SQLite: ~350 ms with 100 ms pauses, ~100 ms with
/// 10 ms pauses, 18–41 ms with the write-back; writing back only while the
/// WAL was over 16 MiB gave 83–118 ms).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(10);

enum Op {
    Persist {
        row: InboundRow,
        reply: oneshot::Sender<Result<Option<Stored>, String>>,
    },
    /// Outbound rows and, in the same commit, status updates (the inbound
    /// message they answer); the reply gets the rows' ids.
    Queue {
        rows: Vec<OutboundRow>,
        updates: Vec<StatusUpdate>,
        handoff: Option<HandoffChange>,
        /// The question the rows answer with the help menu.
        unanswered: Option<UnansweredAsk>,
        reply: oneshot::Sender<Result<Vec<i64>, String>>,
    },
    /// Status updates, committed together; `reply` when the caller waits.
    Status {
        updates: Vec<StatusUpdate>,
        reply: Option<oneshot::Sender<Result<(), String>>>,
    },
    /// A customer's message with the answer the bot worked out before it
    /// was stored (`AnsweredAtOnce`).
    Answer {
        row: InboundRow,
        expected: Option<ConversationState>,
        rows: Vec<OutboundRow>,
        unanswered: Option<UnansweredAsk>,
        reply: oneshot::Sender<Result<AtOnce, String>>,
    },
    Delivery {
        update: DeliveryUpdate,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A bot is up (`online: false`) or its link is online (`true`).
    Mark {
        tenant: TenantId,
        online: bool,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<Op>,
    stats: Arc<WriterStats>,
    live: Live,
    webhooks: Waker,
    usage: Arc<MessagesThisMonth>,
}

/// Rows committed so far (for the benchmark and the logs).
#[derive(Debug, Default)]
pub struct WriterStats {
    pub inbound: AtomicU64,
    pub outbound: AtomicU64,
    pub status_updates: AtomicU64,
    /// Inbound messages marked ANSWERED (their replies stored).
    pub answered: AtomicU64,
    /// Outbound rows marked SENT (with WhatsApp's id).
    pub sent: AtomicU64,
    /// Messages stored ANSWERED with their reply in one commit…
    pub answered_at_once: AtomicU64,
    /// …and those whose conversation had changed, stored without it.
    pub stale_at_once: AtomicU64,
    pub batches: AtomicU64,
    /// Batch attempts that failed and were tried again.
    pub retries: AtomicU64,
    /// Batches being written right now…
    pub in_flight: AtomicU64,
    /// …and the most that were at the same time.
    pub most_in_flight: AtomicU64,
    /// SQLite: checkpoints whose copied pages were written back to disk.
    pub write_backs: AtomicU64,
    /// How long batches took to write and commit, by powers of two of
    /// microseconds (bucket `i` holds [2^i, 2^(i+1)) µs).
    pub commit_micros: [AtomicU64; COMMIT_BUCKETS],
    /// Microseconds committed batches spent in each step of the write
    /// (`log_batch::PHASES`).
    pub phase_micros: [AtomicU64; runtime::log_batch::PHASES.len()],
}

/// Buckets of `WriterStats::commit_micros`: up to 2^32 µs (over an hour).
pub const COMMIT_BUCKETS: usize = 32;

impl WriterStats {
    fn record_commit(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let bucket = usize::try_from(micros.ilog2())
            .unwrap_or(0)
            .min(COMMIT_BUCKETS - 1);
        self.commit_micros[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The microseconds spent in each phase so far (to diff two moments).
    pub fn phase_totals(&self) -> runtime::log_batch::PhaseMicros {
        std::array::from_fn(|i| self.phase_micros[i].load(Ordering::Relaxed))
    }

    /// The commit-time buckets now (to diff two moments).
    pub fn commit_histogram(&self) -> [u64; COMMIT_BUCKETS] {
        std::array::from_fn(|i| self.commit_micros[i].load(Ordering::Relaxed))
    }
}

/// Counts a batch as being written for as long as it lives.
struct Writing<'a>(&'a WriterStats);

impl<'a> Writing<'a> {
    fn start(stats: &'a WriterStats) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.most_in_flight.fetch_max(now, Ordering::Relaxed);
        Self(stats)
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the message log is shutting down")]
    Closed,
    #[error("the message log could not be written: {0}")]
    Database(String),
}

impl LogWriter {
    /// Starts the writer task; it stops (after a last flush) when `shutdown`
    /// is cancelled and the queue is empty.
    /// `node` names this process as the owner of the bots it marks running.
    /// `pool` (other connections than `writers`') checkpoints SQLite's WAL
    /// after commits, off the writer's thread.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        writers: WriterPool,
        pool: DatabaseConnection,
        node: String,
        batch_size: usize,
        flush_interval: Duration,
        shutdown: CancellationToken,
        tracker: &tokio_util::task::TaskTracker,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(WriterStats::default());
        let live = Live::default();
        let webhooks = Waker::default();
        let usage = Arc::new(MessagesThisMonth::default());
        let committed = Arc::new(Notify::new());
        tracker.spawn_on(
            checkpoints(pool, committed.clone(), stats.clone(), shutdown.clone()),
            runtime,
        );
        let writer = tracker.track_future(run(
            writers,
            rx,
            Batching {
                size: batch_size.max(1),
                interval: flush_interval,
            },
            shutdown,
            Arc::new(Committed {
                stats: stats.clone(),
                notify: committed,
                node,
                live: live.clone(),
                webhooks: webhooks.clone(),
                usage: usage.clone(),
            }),
        ));
        // Every message waits for this task's commits: it gets a thread of
        // its own, so its turn never queues behind thousands of bot tasks.
        let own_thread = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match own_thread {
            Ok(own) => {
                let spawned = std::thread::Builder::new()
                    .name("flowhq-log-writer".to_owned())
                    .spawn(move || own.block_on(writer));
                if let Err(err) = spawned {
                    tracing::error!(error = %err, "cannot start the message log writer's thread");
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "the message log writer shares the main runtime");
                runtime.spawn(writer);
            }
        }
        Self {
            tx,
            stats,
            live,
            webhooks,
            usage,
        }
    }

    /// Each tenant's messages this month, as the last batch left them.
    pub fn usage(&self) -> &MessagesThisMonth {
        &self.usage
    }

    /// Where each committed batch tells its tenants' watchers.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Woken after each commit that queued webhook events.
    pub fn webhook_waker(&self) -> &Waker {
        &self.webhooks
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Persists an inbound message (and its conversation): `Some` when
    /// new, `None` when the unique index says it was seen before.
    pub async fn persist(&self, mut row: InboundRow) -> Result<Option<Stored>, LogError> {
        row.make_storable();
        self.ask(|reply| Op::Persist { row, reply }).await
    }

    /// Stores a customer's message together with the answer the bot
    /// worked out from `expected`, its conversation as last seen (`None`:
    /// none yet), in one commit, if the conversation is still as expected
    /// (see `AnsweredAtOnce`).
    pub async fn persist_answered(
        &self,
        mut row: InboundRow,
        expected: Option<ConversationState>,
        mut rows: Vec<OutboundRow>,
        mut unanswered: Option<UnansweredAsk>,
    ) -> Result<AtOnce, LogError> {
        row.make_storable();
        storable_answer(&mut rows, &mut unanswered);
        self.ask(|reply| Op::Answer {
            row,
            expected,
            rows,
            unanswered,
            reply,
        })
        .await
    }

    /// Sends an operation that answers once its batch is committed, and
    /// waits for that answer.
    async fn ask<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Op,
    ) -> Result<T, LogError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(op(reply))
            .await
            .map_err(|_| LogError::Closed)?;
        answer
            .await
            .map_err(|_| LogError::Closed)?
            .map_err(LogError::Database)
    }

    /// Records the bot as RUNNING on this node; returns once committed.
    pub async fn mark_running(&self, tenant: TenantId) -> Result<(), LogError> {
        self.mark(tenant, false).await
    }

    /// Records the bot's remembered link as online again; returns once committed.
    pub async fn mark_online(&self, tenant: TenantId) -> Result<(), LogError> {
        self.mark(tenant, true).await
    }

    async fn mark(&self, tenant: TenantId, online: bool) -> Result<(), LogError> {
        self.ask(|reply| Op::Mark {
            tenant,
            online,
            reply,
        })
        .await
    }

    /// Stores outbound rows (and `updates` in the same commit); returns
    /// their ids, in order, once committed.
    pub async fn queue(
        &self,
        rows: Vec<OutboundRow>,
        updates: Vec<StatusUpdate>,
        handoff: Option<HandoffChange>,
    ) -> Result<Vec<i64>, LogError> {
        self.queue_answer(rows, updates, handoff, None).await
    }

    /// `queue`, recording in the same commit that the rows answer a
    /// question the bot could not answer (`unanswered`).
    pub async fn queue_answer(
        &self,
        mut rows: Vec<OutboundRow>,
        mut updates: Vec<StatusUpdate>,
        handoff: Option<HandoffChange>,
        mut unanswered: Option<UnansweredAsk>,
    ) -> Result<Vec<i64>, LogError> {
        storable_answer(&mut rows, &mut unanswered);
        updates.iter_mut().for_each(StatusUpdate::make_storable);
        self.ask(|reply| Op::Queue {
            rows,
            updates,
            handoff,
            unanswered,
            reply,
        })
        .await
    }

    /// Queues a status update for the next commit (does not wait for it).
    pub async fn status(&self, update: StatusUpdate) -> Result<(), LogError> {
        self.statuses(vec![update]).await
    }

    /// Queues status updates for one commit (does not wait for it).
    pub async fn statuses(&self, mut updates: Vec<StatusUpdate>) -> Result<(), LogError> {
        updates.iter_mut().for_each(StatusUpdate::make_storable);
        self.tx
            .send(Op::Status {
                updates,
                reply: None,
            })
            .await
            .map_err(|_| LogError::Closed)
    }

    /// Commits status updates together; returns once they are durable.
    pub async fn status_committed(&self, mut updates: Vec<StatusUpdate>) -> Result<(), LogError> {
        updates.iter_mut().for_each(StatusUpdate::make_storable);
        self.ask(|reply| Op::Status {
            updates,
            reply: Some(reply),
        })
        .await
    }

    /// Records a delivery report for a sent message; returns once
    /// committed (Meta is answered only then).
    pub async fn delivery(&self, mut update: DeliveryUpdate) -> Result<(), LogError> {
        crate::text::storable(&mut update.wa_message_id);
        if let Some(error) = &mut update.error {
            crate::text::storable(error);
        }
        self.ask(|reply| Op::Delivery { update, reply }).await
    }
}

/// An answer's texts as every database can store them (`text::storable`).
fn storable_answer(rows: &mut [OutboundRow], unanswered: &mut Option<UnansweredAsk>) {
    for row in rows {
        crate::text::storable(&mut row.text);
    }
    if let Some(ask) = unanswered {
        crate::text::storable(&mut ask.key);
        crate::text::storable(&mut ask.text);
    }
}

/// Where a committed batch is reported (counters, and the checkpointer),
/// and the node it marks bots running on.
struct Committed {
    stats: Arc<WriterStats>,
    notify: Arc<Notify>,
    node: String,
    live: Live,
    webhooks: Waker,
    usage: Arc<MessagesThisMonth>,
}

/// When a batch is committed: at `size` operations, or `interval` after
/// its first one.
struct Batching {
    size: usize,
    interval: Duration,
}

/// Checkpoints the WAL a moment after commits, at most every
/// `CHECKPOINT_EVERY`, and writes the pages each one copied back to disk,
/// until shutdown.
async fn checkpoints(
    pool: DatabaseConnection,
    committed: Arc<Notify>,
    stats: Arc<WriterStats>,
    shutdown: CancellationToken,
) {
    let mut dir = match crate::db::sqlite_dir(&pool).await {
        Ok(dir) => dir.map(Arc::new),
        Err(err) => {
            tracing::warn!(error = %err, "cannot find the database's directory: checkpointed pages are not written back early");
            None
        }
    };
    loop {
        tokio::select! {
            () = committed.notified() => {}
            () = shutdown.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(err) = crate::db::checkpoint(&pool).await {
            tracing::warn!(error = %err, "checkpointing the database failed");
            continue;
        }
        let Some(handle) = dir.clone() else {
            continue;
        };
        let write_back = tokio::task::spawn_blocking(move || crate::db::sync_file_system(&handle));
        // Shutdown does not wait for it: it only makes later syncs shorter.
        let result = tokio::select! {
            result = write_back => result,
            () = shutdown.cancelled() => return,
        };
        match result {
            Ok(Ok(())) => {
                stats.write_backs.fetch_add(1, Ordering::Relaxed);
            }
            failed => {
                // Once is enough: SQLite's own syncs still make it durable,
                // only in one long stall instead of many short ones.
                tracing::warn!(result = ?failed, "writing checkpointed pages back to disk failed; not trying again");
                dir = None;
            }
        }
    }
}

async fn run(
    writers: WriterPool,
    mut rx: mpsc::Receiver<Op>,
    batching: Batching,
    shutdown: CancellationToken,
    committed: Arc<Committed>,
) {
    let parallel = writers.parallel.max(1);
    let mut in_flight = JoinSet::new();
    loop {
        // Wait for the first operation of a batch (or shutdown)…
        let first = tokio::select! {
            biased;
            op = rx.recv() => op,
            () = shutdown.cancelled() => None,
        };
        let Some(first) = first else { break };
        let mut batch = Vec::with_capacity(batching.size);
        batch.push(first);
        // …then take more until the batch is full, or the interval is over
        // and a connection is free to commit it.
        let deadline = tokio::time::Instant::now() + batching.interval;
        let mut due = false;
        while batch.len() < batching.size && !(due && in_flight.len() < parallel) {
            tokio::select! {
                op = rx.recv() => match op {
                    Some(op) => batch.push(op),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline), if !due => due = true,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => flushed(done),
            }
        }
        while in_flight.len() >= parallel {
            if let Some(done) = in_flight.join_next().await {
                flushed(done);
            }
        }
        in_flight.spawn(flush(writers.db.clone(), batch, committed.clone()));
    }
    while let Some(done) = in_flight.join_next().await {
        flushed(done);
    }
    // Shutdown: whatever is queued still goes in.
    rx.close();
    let mut batch = Vec::with_capacity(batching.size);
    while let Some(op) = rx.recv().await {
        batch.push(op);
        if batch.len() >= batching.size {
            flush(
                writers.db.clone(),
                std::mem::take(&mut batch),
                committed.clone(),
            )
            .await;
        }
    }
    flush(writers.db.clone(), batch, committed.clone()).await;
    tracing::debug!("message log writer stopped");
}

/// A batch's flush only fails by panicking (its errors are logged inside).
fn flushed(done: Result<(), tokio::task::JoinError>) {
    if let Err(err) = done {
        tracing::error!(error = %err, "a message log batch panicked; its rows are lost");
    }
}

async fn flush(db: DatabaseConnection, batch: Vec<Op>, committed: Arc<Committed>) {
    if batch.is_empty() {
        return;
    }
    let _writing = Writing::start(&committed.stats);
    write(&db, batch, &committed, ATTEMPTS).await;
}

/// Writes `ops` in one transaction, trying `attempts` times. When that
/// fails while the database answers, the batch itself holds something the
/// database refuses: it is split in two halves, written one after the
/// other (their order kept), until the refused operation is alone; only
/// its caller is told. Other tenants' messages never go down with it.
async fn write(db: &DatabaseConnection, mut ops: Vec<Op>, committed: &Committed, attempts: u32) {
    let stats = &committed.stats;
    let mut attempt = 1;
    let began = std::time::Instant::now();
    let (rows, result) = loop {
        let rows = assemble(&ops, &committed.node);
        match runtime::log_batch::flush_log_batch(db, &rows).await {
            Ok(flushed) => break (rows, Ok(flushed)),
            Err(err) if attempt < attempts => {
                tracing::warn!(error = %err, attempt, "writing the message log failed; retrying");
                stats.retries.fetch_add(1, Ordering::Relaxed);
                // A tenant deleted meanwhile fails the whole batch on its
                // foreign key: drop its rows, keep everyone else's.
                if let Err(err) = drop_deleted_tenants(db, &mut ops).await {
                    tracing::warn!(error = %err, "checking the batch's tenants failed");
                }
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(err) => break (rows, Err(err.to_string())),
        }
    };
    stats.record_commit(began.elapsed());
    let flushed = match result {
        Ok(flushed) => flushed,
        Err(err) if ops.len() > 1 && db.ping().await.is_ok() => {
            tracing::warn!(error = %err, operations = ops.len(), "the database refuses something in this message log batch: writing it in halves");
            let second = ops.split_off(ops.len() / 2);
            // The database is up: one attempt per half is enough.
            Box::pin(write(db, ops, committed, 1)).await;
            Box::pin(write(db, second, committed, 1)).await;
            return;
        }
        Err(err) => {
            tracing::error!(
                error = %err,
                inbound = rows.inbound.len(),
                outbound = rows.outbound.len(),
                status_updates = rows.updates.len() + rows.deliveries.len(),
                "message log operations lost after {attempts} attempts"
            );
            for op in ops {
                op.refuse(&err);
            }
            return;
        }
    };
    for (total, micros) in stats.phase_micros.iter().zip(flushed.phases) {
        total.fetch_add(micros, Ordering::Relaxed);
    }
    let count = |status| rows.updates.iter().filter(|u| u.status == status).count() as u64;
    let new = flushed.inbound.iter().filter(|id| id.is_some()).count();
    stats.inbound.fetch_add(new as u64, Ordering::Relaxed);
    let outbound_stored = flushed.outbound.iter().flatten().count() as u64;
    stats.outbound.fetch_add(outbound_stored, Ordering::Relaxed);
    stats.status_updates.fetch_add(
        (rows.updates.len() + rows.deliveries.len()) as u64,
        Ordering::Relaxed,
    );
    let answered_at_once = flushed.answered_at_once.iter().filter(|&&a| a).count() as u64;
    stats
        .answered_at_once
        .fetch_add(answered_at_once, Ordering::Relaxed);
    stats.answered.fetch_add(
        count(entity::enums::MessageStatus::Answered) + answered_at_once,
        Ordering::Relaxed,
    );
    stats
        .sent
        .fetch_add(count(entity::enums::MessageStatus::Sent), Ordering::Relaxed);
    stats.batches.fetch_add(1, Ordering::Relaxed);
    committed.notify.notify_one();
    if flushed.webhook_events > 0 {
        committed.webhooks.wake();
    }
    // INVARIANT: before the callers hear of the commit, so a bot
    // answering a message of this batch sees the month with it.
    committed.usage.record(chrono::Utc::now(), &flushed.usage);
    publish(&committed.live, &rows);
    // The ids come back in the order the operations put their rows in.
    let mut inbound = flushed.inbound.into_iter();
    let mut outbound = flushed.outbound.into_iter();
    let mut at_once = flushed.answered_at_once.into_iter();
    for op in ops {
        match op {
            Op::Persist { reply, .. } => {
                let _ = reply.send(Ok(inbound.next().flatten()));
            }
            Op::Queue { rows, reply, .. } => {
                let _ = reply.send(Ok(outbound.by_ref().take(rows.len()).flatten().collect()));
            }
            Op::Answer { rows, reply, .. } => {
                let ids: Vec<i64> = outbound.by_ref().take(rows.len()).flatten().collect();
                let outcome = match (inbound.next().flatten(), at_once.next()) {
                    (None, _) => AtOnce::Duplicate,
                    (Some(stored), Some(true)) => AtOnce::Answered { stored, ids },
                    (Some(stored), _) => {
                        stats.stale_at_once.fetch_add(1, Ordering::Relaxed);
                        AtOnce::Stale(stored)
                    }
                };
                let _ = reply.send(Ok(outcome));
            }
            Op::Status { reply, .. } => {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Op::Delivery { reply, .. } | Op::Mark { reply, .. } => {
                let _ = reply.send(Ok(()));
            }
        }
    }
}

/// One transaction's rows, from the operations in their order.
fn assemble(ops: &[Op], node: &str) -> LogBatch {
    let mut rows = LogBatch {
        marks: WorkerMarks {
            node: node.to_owned(),
            ..Default::default()
        },
        ..Default::default()
    };
    for op in ops {
        match op {
            Op::Persist { row, .. } => rows.inbound.push(row.clone()),
            Op::Queue {
                rows: outbound,
                updates,
                handoff,
                unanswered,
                ..
            } => {
                rows.handoffs.extend(handoff.clone());
                rows.unanswered.extend(unanswered.clone());
                rows.outbound.extend(outbound.iter().cloned());
                rows.updates.extend(updates.iter().cloned());
            }
            Op::Answer {
                row,
                expected,
                rows: outbound,
                unanswered,
                ..
            } => {
                let first = rows.outbound.len();
                rows.outbound.extend(outbound.iter().cloned());
                let unanswered = unanswered.as_ref().map(|ask| {
                    rows.unanswered.push(ask.clone());
                    rows.unanswered.len() - 1
                });
                rows.answered_at_once.push(AnsweredAtOnce {
                    inbound: rows.inbound.len(),
                    expected: *expected,
                    outbound: first..rows.outbound.len(),
                    unanswered,
                });
                rows.inbound.push(row.clone());
            }
            Op::Status { updates, .. } => rows.updates.extend(updates.iter().cloned()),
            Op::Delivery { update, .. } => rows.deliveries.push(update.clone()),
            Op::Mark { tenant, online, .. } => {
                if *online {
                    rows.marks.online.push(*tenant);
                } else {
                    rows.marks.running.push(*tenant);
                }
            }
        }
    }
    rows
}

impl Op {
    /// The tenant whose rows the operation writes.
    fn tenant(&self) -> Option<TenantId> {
        match self {
            Op::Persist { row, .. } | Op::Answer { row, .. } => Some(row.tenant_id),
            Op::Queue {
                rows,
                updates,
                handoff,
                unanswered,
                ..
            } => rows
                .first()
                .map(|row| row.tenant_id)
                .or_else(|| updates.first().map(|u| u.tenant_id))
                .or_else(|| handoff.as_ref().map(|h| h.tenant_id))
                .or_else(|| unanswered.as_ref().map(|u| u.tenant_id)),
            Op::Status { updates, .. } => updates.first().map(|u| u.tenant_id),
            Op::Delivery { update, .. } => Some(update.tenant_id),
            Op::Mark { tenant, .. } => Some(*tenant),
        }
    }

    /// Tells the caller the operation was not written.
    fn refuse(self, err: &str) {
        let err = err.to_owned();
        match self {
            Op::Persist { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Op::Queue { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Op::Answer { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Op::Status { reply, .. } => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(err));
                }
            }
            Op::Delivery { reply, .. } | Op::Mark { reply, .. } => {
                let _ = reply.send(Err(err));
            }
        }
    }
}

/// Tells the watchers of every tenant the batch wrote for (once each).
fn publish(live: &Live, rows: &LogBatch) {
    for tenant in rows.tenants() {
        live.publish(tenant);
    }
}

/// Removes from a batch the operations of tenants that no longer exist
/// (their callers are told so).
async fn drop_deleted_tenants(
    db: &DatabaseConnection,
    ops: &mut Vec<Op>,
) -> Result<(), sea_orm::DbErr> {
    let mut ids: Vec<TenantId> = ops.iter().filter_map(Op::tenant).collect();
    ids.sort_unstable();
    ids.dedup();
    let existing = runtime::log_batch::existing_tenants(db, &ids).await?;
    if existing.len() == ids.len() {
        return Ok(());
    }
    let gone = ids.len() - existing.len();
    let (kept, dropped): (Vec<Op>, Vec<Op>) = std::mem::take(ops)
        .into_iter()
        .partition(|op| op.tenant().is_none_or(|t| existing.contains(&t)));
    *ops = kept;
    for op in dropped {
        op.refuse("the tenant has been deleted");
    }
    tracing::info!(
        tenants = gone,
        "dropped message log rows of deleted tenants"
    );
    Ok(())
}
