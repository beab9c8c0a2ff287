//! The message log's write side: one batch of the log writer in ONE
//! transaction (inbound rows with durable dedup, outbound rows stored
//! before they are sent, status updates, the bots it marks running or
//! online), and the recovery queries for what a crash interrupted: inbound
//! messages stored but never answered, outbound rows left QUEUED or
//! SENDING. Per-message writes go through `flush_log_batch` only.

use chrono::{DateTime, Utc};
use entity::enums::{Direction, MessageKind, MessageStatus, SessionState, WorkerStatus};
use entity::{conversation, message_log, tenant, whatsapp_session, worker_process};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};

use super::conversation_batch::{self, Activity, Arrival, ConversationState};
use super::handoff::HandoffChange;
use super::link::session_without_qr;

use crate::db::IN_LIST_CHUNK;
use crate::domain::ids::TenantId;
use crate::services::webhooks;
use crate::services::webhooks::events::{
    BotStatusChangedV1, EventType, MessageReceivedV1, MessageSentV1, MessageStatusV1, NewEvent,
};

/// Which of `ids` are tenants that still exist.
pub async fn existing_tenants(
    db: &DatabaseConnection,
    ids: &[TenantId],
) -> Result<std::collections::HashSet<TenantId>, DbErr> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let rows: Vec<TenantId> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .filter(tenant::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// A stored inbound message: its row, whether it opened its conversation
/// (the bot then greets with the welcome message), and the conversation as
/// the commit left it (`None` where it was not read with it: the bot reads
/// it then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    pub first_contact: bool,
    pub conversation: Option<ConversationState>,
}

/// An inbound message persisted but never answered.
#[derive(Debug, Clone)]
pub struct Unanswered {
    pub stored: Stored,
    pub wa_message_id: String,
    pub chat_id: String,
    pub text: String,
    pub kind: MessageKind,
    pub contact_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Inbound messages persisted but never answered (a crash or a shutdown
/// past the drain bound), oldest first: by the time the message was sent,
/// as ids follow the key order of the log writer's batches, not arrival.
pub async fn unanswered(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<Vec<Unanswered>, DbErr> {
    let mut rows = unanswered_rows(tenant_id).all(db).await?;
    rows.sort_by_key(|(row, _)| (row.created_at, row.id));
    Ok(rows
        .into_iter()
        .map(|(row, conversation)| {
            let (first_contact, state, contact_name) = match conversation {
                Some(c) => (
                    c.first_message_id == Some(row.id),
                    Some(ConversationState::of(&c)),
                    c.contact_name,
                ),
                None => (false, None, None),
            };
            Unanswered {
                stored: Stored {
                    id: row.id,
                    first_contact,
                    conversation: state,
                },
                wa_message_id: row.wa_message_id.unwrap_or_default(),
                chat_id: row.chat_id,
                text: row.text,
                kind: row.kind,
                contact_name,
                created_at: row.created_at,
            }
        })
        .collect())
}

/// The literal conditions of the partial indexes the recovery queries use
/// (`idx_message_log_unanswered`, migration 3; `idx_message_log_outbox`,
/// migration 8). Written out, not bound: a bound status hides the index
/// from SQLite's planner (and from PostgreSQL's generic plans), which then
/// reads every message of the tenant in that direction, at each bot start.
const UNANSWERED: &str = "message_log.status = 'RECEIVED' AND message_log.direction = 'IN'";
const IN_OUTBOX: &str =
    "message_log.status IN ('QUEUED', 'SENDING') AND message_log.direction = 'OUT'";

/// Which of `tenants` (at most `IN_LIST_CHUNK`) a crash (or a stop past
/// the drain bound) left anything to recover for: a reply QUEUED or
/// SENDING, or a message never answered. ONE read through both partial
/// indexes for every bot starting at that moment
/// ([`super::start::StartReads`]), so a clean start (by far the most
/// common, 10,000 in a row when a process boots) runs neither recovery
/// query.
pub async fn with_leftovers(
    db: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<std::collections::HashSet<TenantId>, DbErr> {
    let backend = db.get_database_backend();
    db.query_all_raw(backend.build(&leftovers_probe(tenants)))
        .await?
        .into_iter()
        .map(|row| row.try_get::<TenantId>("", "id"))
        .collect()
}

/// What a crash (or a stop past the drain bound) left for a bot start:
/// replies it marked UNKNOWN (counted), replies QUEUED to send now, and
/// messages never answered, each oldest first.
#[derive(Debug, Default)]
pub struct Leftovers {
    pub unknown: u64,
    pub queued: Vec<Queued>,
    pub unanswered: Vec<Unanswered>,
}

/// Reads (and marks, see [`interrupted_sends`]) what a crash left for a
/// bot start, once [`with_leftovers`] found that it left something.
pub async fn leftovers(db: &DatabaseConnection, tenant_id: TenantId) -> Result<Leftovers, DbErr> {
    let (unknown, queued) = interrupted_sends(db, tenant_id).await?;
    Ok(Leftovers {
        unknown,
        queued,
        unanswered: unanswered(db, tenant_id).await?,
    })
}

/// The query of [`with_leftovers`]: the tenants, each looked up in both
/// partial indexes.
pub fn leftovers_probe(tenants: &[TenantId]) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::ExprTrait;
    let any = |condition: &'static str| {
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(message_log::Entity)
                .and_where(
                    Expr::col((message_log::Entity, message_log::Column::TenantId))
                        .equals((tenant::Entity, tenant::Column::Id)),
                )
                .and_where(Expr::cust(condition))
                .to_owned(),
        )
    };
    Query::select()
        .column((tenant::Entity, tenant::Column::Id))
        .from(tenant::Entity)
        .and_where(tenant::Column::Id.is_in(tenants.iter().copied()))
        .and_where(any(IN_OUTBOX).or(any(UNANSWERED)))
        .to_owned()
}

/// The tenant's inbound messages stored but never answered, with their
/// conversations. In id order, which the partial index holds (its key is
/// the tenant, then the row id): ordered by time, SQLite's planner walks
/// the tenant's whole (tenant, created_at) index instead. [`unanswered`]
/// puts the few rows in time order.
pub fn unanswered_rows(
    tenant_id: TenantId,
) -> sea_orm::SelectTwo<message_log::Entity, conversation::Entity> {
    message_log::Entity::find()
        .find_also_related(conversation::Entity)
        .filter(message_log::Column::TenantId.eq(tenant_id))
        .filter(Expr::cust(UNANSWERED))
        .order_by_asc(message_log::Column::Id)
}

/// An inbound message to persist (dedup by the unique index).
#[derive(Debug, Clone)]
pub struct InboundRow {
    pub tenant_id: TenantId,
    pub wa_message_id: String,
    pub chat_id: String,
    /// The business's number the customer wrote to ("bot" before a link).
    pub to: String,
    /// The text, or the caption, file name or description of `kind`.
    pub text: String,
    pub kind: MessageKind,
    /// WhatsApp's push name, kept on the conversation.
    pub contact_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl InboundRow {
    /// What came from outside, as every database can store it
    /// (`text::storable`).
    pub fn make_storable(&mut self) {
        for field in [
            &mut self.wa_message_id,
            &mut self.chat_id,
            &mut self.to,
            &mut self.text,
        ] {
            crate::text::storable(field);
        }
        if let Some(name) = &mut self.contact_name {
            crate::text::storable(name);
        }
    }
}

/// An outbound message to store before it is sent: SENDING when the
/// transport is called right after the commit, QUEUED when it waits for
/// an earlier part (ids come back in the order given).
#[derive(Debug, Clone)]
pub struct OutboundRow {
    pub tenant_id: TenantId,
    pub wa_message_id: Option<String>,
    pub chat_id: String,
    pub from: String,
    pub text: String,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The AI step this reply came of (its answer, or the rule answer sent
    /// instead): stored in `ai_reply`, its tokens counted.
    pub ai: Option<crate::services::ai::AiRecord>,
}

/// Bots that came up (RUNNING on `node`) or came online (session
/// CONNECTED) since the last batch: a few statements for any number of bots,
/// where starting 10,000 bots would otherwise cost 20,000 transactions.
#[derive(Debug, Clone, Default)]
pub struct WorkerMarks {
    pub node: String,
    pub running: Vec<TenantId>,
    pub online: Vec<TenantId>,
}

async fn mark_workers(conn: &impl ConnectionTrait, marks: &WorkerMarks) -> Result<(), DbErr> {
    let now = Utc::now();
    for chunk in marks.running.chunks(IN_LIST_CHUNK) {
        worker_process::Entity::update_many()
            .col_expr(
                worker_process::Column::Status,
                WorkerStatus::Running.to_value().into(),
            )
            .col_expr(worker_process::Column::StartedAt, Expr::value(now))
            .col_expr(worker_process::Column::LastHeartbeatAt, Expr::value(now))
            .col_expr(
                worker_process::Column::OwnerNode,
                Expr::value(marks.node.clone()),
            )
            .col_expr(worker_process::Column::UpdatedAt, Expr::value(now))
            .filter(worker_process::Column::TenantId.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    for chunk in marks.online.chunks(IN_LIST_CHUNK) {
        session_without_qr(SessionState::Connected, now)
            .col_expr(whatsapp_session::Column::LastSeenAt, Expr::value(now))
            .filter(whatsapp_session::Column::TenantId.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// A row's new status: an inbound row's outcome, or an outbound row's
/// step (SENDING before the transport call; SENT with WhatsApp's id, or
/// FAILED, after it).
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    /// Whose row it is (the batch tells that tenant's watchers).
    pub tenant_id: TenantId,
    pub id: i64,
    pub status: MessageStatus,
    pub error: Option<String>,
    /// WhatsApp's id of a sent message (kept as it is when `None`).
    pub wa_message_id: Option<String>,
}

impl StatusUpdate {
    pub fn new(tenant_id: TenantId, id: i64, status: MessageStatus) -> Self {
        Self {
            tenant_id,
            id,
            status,
            error: None,
            wa_message_id: None,
        }
    }

    /// The error and WhatsApp id (both from outside) as every database can
    /// store them (`text::storable`).
    pub fn make_storable(&mut self) {
        for field in [&mut self.error, &mut self.wa_message_id]
            .into_iter()
            .flatten()
        {
            crate::text::storable(field);
        }
    }

    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }
}

/// A delivery report for an outbound row, by its WhatsApp id.
#[derive(Debug, Clone)]
pub struct DeliveryUpdate {
    pub tenant_id: TenantId,
    pub wa_message_id: String,
    /// DELIVERED, READ or FAILED; others are ignored.
    pub status: MessageStatus,
    pub error: Option<String>,
}

/// The statuses a report may move an outbound row from: forward only
/// (SENT → DELIVERED → READ; FAILED from SENT or DELIVERED), so reports
/// arriving out of order never step back.
fn delivery_steps_from(status: MessageStatus) -> &'static [MessageStatus] {
    match status {
        MessageStatus::Delivered => &[MessageStatus::Sent],
        MessageStatus::Read => &[MessageStatus::Sent, MessageStatus::Delivered],
        MessageStatus::Failed => &[MessageStatus::Sent, MessageStatus::Delivered],
        _ => &[],
    }
}

/// Rows per INSERT: SQLite allows 32,766 bound values per statement, and
/// one size of statement is prepared once and reused.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// One batch of the log writer.
#[derive(Debug, Default)]
pub struct LogBatch {
    pub inbound: Vec<InboundRow>,
    pub outbound: Vec<OutboundRow>,
    pub updates: Vec<StatusUpdate>,
    pub deliveries: Vec<DeliveryUpdate>,
    pub marks: WorkerMarks,
    /// Conversations that switched mode or need a person now.
    pub handoffs: Vec<HandoffChange>,
    /// Questions the bot answered with its help menu.
    pub unanswered: Vec<super::unanswered::UnansweredAsk>,
    /// Answers stored with the message they answer (see [`AnsweredAtOnce`]).
    pub answered_at_once: Vec<AnsweredAtOnce>,
}

/// An answer stored in the same commit as the customer's message it
/// answers. The bot worked it out from the conversation as it last saw
/// it (`expected`; `None`: no conversation yet), before the message was
/// stored. The batch reads the conversation first, and only while it is
/// still as expected does the message go in ANSWERED together with its
/// reply rows and its unanswered question. Otherwise (a person took the
/// chat meanwhile, the bot's view was old) the message goes in RECEIVED as
/// any other, the rows are dropped, and the bot answers it again from what
/// the batch read: one commit per message instead of two, never an answer
/// worked out from a state that is no longer true.
#[derive(Debug, Clone)]
pub struct AnsweredAtOnce {
    /// The message: an index into the batch's `inbound`.
    pub inbound: usize,
    pub expected: Option<ConversationState>,
    /// Its reply: indexes into the batch's `outbound`.
    pub outbound: std::ops::Range<usize>,
    /// An index into the batch's `unanswered`.
    pub unanswered: Option<usize>,
}

/// What became of an answer offered with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtOnce {
    /// Both stored: the reply rows' ids, in order (the first SENDING).
    Answered { stored: Stored, ids: Vec<i64> },
    /// The conversation was not as the bot saw it: only the message was
    /// stored (RECEIVED), with the conversation as it is.
    Stale(Stored),
    /// The message was stored before: nothing was.
    Duplicate,
}

impl LogBatch {
    /// Every tenant the batch writes for, once each.
    pub fn tenants(&self) -> Vec<TenantId> {
        let mut tenants: Vec<TenantId> = self
            .inbound
            .iter()
            .map(|row| row.tenant_id)
            .chain(self.outbound.iter().map(|row| row.tenant_id))
            .chain(self.updates.iter().map(|update| update.tenant_id))
            .chain(self.deliveries.iter().map(|report| report.tenant_id))
            .chain(self.handoffs.iter().map(|change| change.tenant_id))
            .chain(self.marks.running.iter().copied())
            .collect();
        tenants.sort_unstable();
        tenants.dedup();
        tenants
    }
}

/// The steps of [`flush_log_batch`], in the order they run: where a
/// batch's time goes (the benchmark prints each one's share).
pub const PHASES: [&str; 11] = [
    "webhook wants and lock order, bot marks",
    "inbound insert",
    "conversation upsert (and its search index)",
    "handoffs",
    "outbound insert",
    "WhatsApp ids of sent replies",
    "status marks (ANSWERED, FAILED …)",
    "delivery reports, unanswered questions",
    "webhook events",
    "usage counters and AI records",
    "commit",
];

/// Microseconds a batch spent in each of [`PHASES`].
pub type PhaseMicros = [u64; PHASES.len()];

/// Times the steps of one batch, one lap per phase.
struct Laps {
    last: std::time::Instant,
    micros: PhaseMicros,
}

impl Laps {
    fn start() -> Self {
        Self {
            last: std::time::Instant::now(),
            micros: [0; PHASES.len()],
        }
    }

    /// Ends phase `phase` now.
    fn lap(&mut self, phase: usize) {
        let now = std::time::Instant::now();
        self.micros[phase] += u64::try_from((now - self.last).as_micros()).unwrap_or(u64::MAX);
        self.last = now;
    }
}

/// What a committed batch stored.
#[derive(Debug, Default)]
pub struct Flushed {
    /// For each inbound row in order: what was stored, or `None` when it
    /// was a duplicate (already stored, or repeated within the batch).
    pub inbound: Vec<Option<Stored>>,
    /// The ids of the outbound rows, in order (`None`: dropped with an
    /// answer that was not stored, see [`AnsweredAtOnce`]).
    pub outbound: Vec<Option<i64>>,
    /// For each of the batch's `answered_at_once`: stored with its message.
    pub answered_at_once: Vec<bool>,
    /// Webhook deliveries queued with the batch (the worker is woken).
    pub webhook_events: u64,
    /// The batch's tenants' messages this month, after it.
    pub usage: Vec<(TenantId, i64)>,
    /// Where its time went.
    pub phases: PhaseMicros,
}

/// Writes one batch in ONE transaction.
pub async fn flush_log_batch(db: &DatabaseConnection, batch: &LogBatch) -> Result<Flushed, DbErr> {
    let LogBatch {
        inbound,
        outbound,
        updates,
        deliveries,
        marks,
        handoffs,
        unanswered,
        answered_at_once,
    } = batch;
    let mut laps = Laps::start();
    let txn = crate::db::begin_write(db).await?;
    // Which tenants' endpoints want which events: asked first, as their
    // batches are ordered before anything is written (`lock_order`).
    let wanted = webhooks::events::wanted(&txn, &batch.tenants()).await?;
    webhooks::events::lock_order(&txn, wanted.keys().copied()).await?;
    mark_workers(&txn, marks).await?;
    // Answers worked out before their message was stored: still true?
    let as_expected = still_as_expected(&txn, inbound, answered_at_once).await?;
    let mut statuses = vec![MessageStatus::Received; inbound.len()];
    for (answer, &ok) in answered_at_once.iter().zip(&as_expected) {
        if ok {
            statuses[answer.inbound] = MessageStatus::Answered;
        }
    }
    laps.lap(0);
    // Inserted in one key order in every batch: batches committed side by
    // side (PostgreSQL) then wait for each other on a repeated message
    // instead of deadlocking. Stable, so a repeat inside the batch stays
    // behind its first occurrence.
    let mut order: Vec<usize> = (0..inbound.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&inbound[a], &inbound[b]);
        (a.tenant_id, &a.wa_message_id).cmp(&(b.tenant_id, &b.wa_message_id))
    });
    let mut ids = vec![None; inbound.len()];
    for chunk in order.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(&InboundRow, MessageStatus)> =
            chunk.iter().map(|&i| (&inbound[i], statuses[i])).collect();
        for (&i, id) in chunk.iter().zip(insert_inbound(&txn, &rows).await?) {
            ids[i] = id;
        }
    }
    laps.lap(1);
    // An answer goes in only with its message (not with a repeat of one
    // stored before).
    let stored_at_once: Vec<bool> = answered_at_once
        .iter()
        .zip(&as_expected)
        .map(|(answer, &ok)| ok && ids[answer.inbound].is_some())
        .collect();
    let mut keep_outbound = vec![true; outbound.len()];
    let mut keep_unanswered = vec![true; unanswered.len()];
    for (answer, &stored) in answered_at_once.iter().zip(&stored_at_once) {
        if !stored {
            keep_outbound[answer.outbound.clone()].fill(false);
            if let Some(i) = answer.unanswered {
                keep_unanswered[i] = false;
            }
        }
    }
    let outbound: Vec<&OutboundRow> = outbound
        .iter()
        .zip(&keep_outbound)
        .filter_map(|(row, &keep)| keep.then_some(row))
        .collect();
    let unanswered: Vec<super::unanswered::UnansweredAsk> = unanswered
        .iter()
        .zip(&keep_unanswered)
        .filter(|&(_, &keep)| keep)
        .map(|(ask, _)| ask.clone())
        .collect();
    let arrivals: Vec<Arrival> = inbound
        .iter()
        .zip(&ids)
        .filter_map(|(row, id)| {
            id.map(|id| Arrival {
                id,
                tenant: row.tenant_id,
                chat: &row.chat_id,
                text: &row.text,
                kind: row.kind,
                contact_name: row.contact_name.as_deref(),
                at: row.created_at,
            })
        })
        .collect();
    let outbound_activity = outbound.iter().map(|row| {
        (
            (row.tenant_id, row.chat_id.clone()),
            Activity::outbound(&row.text, row.created_at),
        )
    });
    let opened = conversation_batch::record(
        &txn,
        &conversation_batch::fold(&arrivals, outbound_activity),
    )
    .await?;
    laps.lap(2);
    for change in handoffs {
        super::handoff::apply(&txn, change).await?;
    }
    laps.lap(3);
    let stored: Vec<Option<Stored>> = inbound
        .iter()
        .zip(ids)
        .map(|(row, id)| {
            id.map(|id| {
                let recorded = opened.get(&(row.tenant_id, row.chat_id.clone()));
                Stored {
                    id,
                    first_contact: recorded.is_some_and(|r| r.first_message_id == Some(id)),
                    conversation: recorded.map(|r| r.conversation),
                }
            })
        })
        .collect();
    let mut outbound_ids = Vec::with_capacity(outbound.len());
    for rows in outbound.chunks(ROWS_PER_STATEMENT) {
        outbound_ids.extend(insert_outbound(&txn, rows).await?);
    }
    let mut kept_ids = outbound_ids.iter().copied();
    let all_outbound_ids: Vec<Option<i64>> = keep_outbound
        .iter()
        .map(|&keep| if keep { kept_ids.next() } else { None })
        .collect();
    laps.lap(4);
    // Usually all ANSWERED or SENT without error: one statement each, and
    // one more for the WhatsApp ids of what was sent.
    let (with_ids, updates): (Vec<&StatusUpdate>, Vec<&StatusUpdate>) = updates
        .iter()
        .partition(|update| update.wa_message_id.is_some());
    for chunk in with_ids.chunks(ROWS_PER_STATEMENT) {
        record_wa_ids(&txn, chunk).await?;
    }
    laps.lap(5);
    let mut groups: Vec<(MessageStatus, &Option<String>, Vec<i64>)> = Vec::new();
    for update in updates {
        match groups
            .iter_mut()
            .find(|(s, e, _)| *s == update.status && **e == update.error)
        {
            Some((_, _, ids)) => ids.push(update.id),
            None => groups.push((update.status, &update.error, vec![update.id])),
        }
    }
    for (status, error, ids) in groups {
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            message_log::Entity::update_many()
                .col_expr(message_log::Column::Status, status.to_value().into())
                .col_expr(message_log::Column::Error, Expr::value(error.clone()))
                .filter(message_log::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    laps.lap(6);
    // Only reports that moved a row are told: a late "delivered" after
    // "read" must not tell receivers the message went back.
    let moved = record_deliveries(&txn, deliveries).await?;
    super::unanswered::record(&txn, &unanswered).await?;
    laps.lap(7);
    // Webhook events, in this transaction: one statement for the batch,
    // built only for the tenants and types some endpoint wants.
    let webhook_events = if wanted.is_empty() {
        0
    } else {
        let wants = |tenant: &TenantId, event: EventType| {
            wanted
                .get(tenant)
                .is_some_and(|mask| mask & event.bit() != 0)
        };
        let events = webhook_events(
            &wants,
            inbound,
            &stored,
            &batch.updates,
            &moved,
            handoffs,
            marks,
        );
        webhooks::events::record(&txn, &events).await?
    };
    laps.lap(8);
    // The month's and the day's counters: one upsert per table for the
    // batch, whatever its number of tenants and messages.
    let mut counts: std::collections::BTreeMap<TenantId, crate::services::usage::Counts> =
        std::collections::BTreeMap::new();
    for (row, kept) in inbound.iter().zip(&stored) {
        if kept.is_some() {
            counts.entry(row.tenant_id).or_default().inbound += 1;
        }
    }
    for row in &outbound {
        let counts = counts.entry(row.tenant_id).or_default();
        counts.bot_replies += 1;
        if let Some(ai) = &row.ai {
            counts.ai_tokens += ai.tokens_in + ai.tokens_out;
        }
    }
    crate::services::ai::record_replies(
        &txn,
        outbound
            .iter()
            .zip(&outbound_ids)
            .filter_map(|(row, id)| Some((*id, row.tenant_id, row.ai.as_ref()?))),
    )
    .await?;
    let usage = crate::services::usage::add(&txn, Utc::now(), &counts).await?;
    laps.lap(9);
    txn.commit().await?;
    laps.lap(10);
    Ok(Flushed {
        inbound: stored,
        outbound: all_outbound_ids,
        answered_at_once: stored_at_once,
        webhook_events,
        usage,
        phases: laps.micros,
    })
}

/// The webhook events a batch causes, in the order they happened within
/// it: messages received, messages sent, delivery reports, handoffs.
fn webhook_events(
    wants: &dyn Fn(&TenantId, EventType) -> bool,
    inbound: &[InboundRow],
    stored: &[Option<Stored>],
    updates: &[StatusUpdate],
    deliveries: &[DeliveryUpdate],
    handoffs: &[HandoffChange],
    marks: &WorkerMarks,
) -> Vec<NewEvent> {
    let now = Utc::now();
    let mut events = Vec::new();
    for tenant in marks
        .running
        .iter()
        .filter(|t| wants(t, EventType::BotStatusChanged))
    {
        events.push(NewEvent::new(
            *tenant,
            EventType::BotStatusChanged,
            now,
            &BotStatusChangedV1 {
                status: WorkerStatus::Running.to_value(),
                error: None,
                at: now,
            },
        ));
    }
    for (row, stored) in inbound.iter().zip(stored) {
        let Some(stored) = stored else { continue };
        if !wants(&row.tenant_id, EventType::MessageReceived) {
            continue;
        }
        events.push(NewEvent::new(
            row.tenant_id,
            EventType::MessageReceived,
            row.created_at,
            &MessageReceivedV1 {
                message_id: stored.id,
                conversation_id: stored.conversation.map(|c| c.id),
                chat: row.chat_id.clone(),
                contact_name: row.contact_name.clone(),
                text: row.text.clone(),
                wa_message_id: row.wa_message_id.clone(),
                received_at: row.created_at,
            },
        ));
    }
    for update in updates.iter().filter(|update| {
        update.status == MessageStatus::Sent && wants(&update.tenant_id, EventType::MessageSent)
    }) {
        events.push(NewEvent::new(
            update.tenant_id,
            EventType::MessageSent,
            now,
            &MessageSentV1 {
                message_id: update.id,
                wa_message_id: update.wa_message_id.clone(),
                status: update.status,
            },
        ));
    }
    for report in deliveries
        .iter()
        .filter(|report| wants(&report.tenant_id, EventType::MessageStatus))
    {
        events.push(NewEvent::new(
            report.tenant_id,
            EventType::MessageStatus,
            now,
            &MessageStatusV1 {
                wa_message_id: report.wa_message_id.clone(),
                status: report.status,
                error: report.error.clone(),
            },
        ));
    }
    events.extend(
        handoffs
            .iter()
            .flat_map(webhooks::events::of_handoff)
            .filter(|event| wants(&event.tenant_id, event.event_type)),
    );
    events
}

/// Inserts outbound rows and returns their ids in the order given. A
/// multi-row INSERT numbers its rows in VALUES order on both backends (a
/// sequence's next value per row on PostgreSQL, max rowid + 1 on SQLite),
/// while neither promises RETURNING's order: so the ids are sorted, not
/// taken in the order they come back.
async fn insert_outbound(
    conn: &impl ConnectionTrait,
    rows: &[&OutboundRow],
) -> Result<Vec<i64>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut insert = message_log_insert();
    for row in rows {
        insert
            .values([
                row.tenant_id.into(),
                Direction::Out.to_value().into(),
                row.chat_id.clone().into(),
                row.from.clone().into(),
                row.chat_id.clone().into(),
                row.text.clone().into(),
                row.wa_message_id.clone().into(),
                row.status.to_value().into(),
                row.error.clone().into(),
                row.created_at.into(),
                MessageKind::Text.to_value().into(),
            ])
            .map_err(|err| DbErr::Custom(err.to_string()))?;
    }
    insert.returning(Query::returning().columns([message_log::Column::Id]));
    let statement = conn.get_database_backend().build(&insert);
    let mut ids = conn
        .query_all_raw(statement)
        .await?
        .into_iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() != rows.len() {
        return Err(DbErr::Custom(format!(
            "{} outbound rows inserted, {} ids returned",
            rows.len(),
            ids.len()
        )));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Status updates that carry WhatsApp's id of a sent message, in one
/// statement: `UPDATE … FROM` a list of values (SQLite ≥ 3.33 and
/// PostgreSQL). The parameters are typed by their values (bigint, text),
/// so PostgreSQL compares ids as numbers.
async fn record_wa_ids(
    conn: &impl ConnectionTrait,
    updates: &[&StatusUpdate],
) -> Result<(), DbErr> {
    if updates.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let mut values = Vec::with_capacity(updates.len() * 4);
    for update in updates {
        values.push(sea_orm::Value::from(update.id));
        values.push(sea_orm::Value::from(update.status.to_value()));
        values.push(sea_orm::Value::from(update.wa_message_id.clone()));
        values.push(sea_orm::Value::from(update.error.clone()));
    }
    let sql = format!(
        "WITH v (id, status, wa_message_id, error) AS (VALUES {}) \
         UPDATE message_log SET status = v.status, wa_message_id = v.wa_message_id, \
         error = v.error FROM v WHERE message_log.id = v.id",
        crate::db::values_placeholders(backend, updates.len(), 4)
    );
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend, sql, values,
    ))
    .await?;
    Ok(())
}

/// The error an outbound row gets when a crash interrupted its send.
pub const INTERRUPTED: &str =
    "interrupted while sending: it may or may not have reached the customer, and is not sent again";

/// What a crash (or a stop past the drain bound) left of a tenant's
/// outbound rows: those SENDING become UNKNOWN (never sent again); those
/// QUEUED certainly did not go out and are returned, oldest first, to be
/// sent now. Returns (rows marked UNKNOWN, rows to send).
///
/// A bot start runs this when [`with_leftovers`] found something:
/// one read through the outbox index, and a write only where a crash left
/// a send unfinished.
pub async fn interrupted_sends(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<(u64, Vec<Queued>), DbErr> {
    let (sending, queued): (Vec<_>, Vec<_>) = outbox(db, tenant_id)
        .await?
        .into_iter()
        .partition(|(status, _)| *status == MessageStatus::Sending);
    let ids: Vec<i64> = sending.iter().map(|(_, row)| row.id).collect();
    let mut unknown = 0;
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let mark = message_log::Entity::update_many()
            .col_expr(
                message_log::Column::Status,
                MessageStatus::Unknown.to_value().into(),
            )
            .col_expr(message_log::Column::Error, Expr::value(INTERRUPTED))
            .filter(message_log::Column::Id.is_in(chunk.iter().copied()))
            .filter(message_log::Column::Status.eq(MessageStatus::Sending));
        unknown += crate::db::write_alone(db, mark.exec(db))
            .await?
            .rows_affected;
    }
    Ok((unknown, queued.into_iter().map(|(_, row)| row).collect()))
}

/// The tenant's outbound rows waiting to be sent (QUEUED), oldest first.
pub async fn queued(db: &DatabaseConnection, tenant_id: TenantId) -> Result<Vec<Queued>, DbErr> {
    Ok(outbox(db, tenant_id)
        .await?
        .into_iter()
        .filter(|(status, _)| *status == MessageStatus::Queued)
        .map(|(_, row)| row)
        .collect())
}

/// The tenant's outbound rows QUEUED or SENDING (few: those in flight),
/// oldest first.
async fn outbox(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<Vec<(MessageStatus, Queued)>, DbErr> {
    Ok(outbox_rows(tenant_id)
        .into_tuple::<(i64, String, String, MessageStatus)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, chat_id, text, status)| (status, Queued { id, chat_id, text }))
        .collect())
}

/// The query of [`outbox`]: id, chat, text and status.
pub fn outbox_rows(tenant_id: TenantId) -> sea_orm::Select<message_log::Entity> {
    message_log::Entity::find()
        .select_only()
        .columns([
            message_log::Column::Id,
            message_log::Column::ChatId,
            message_log::Column::Text,
            message_log::Column::Status,
        ])
        .filter(message_log::Column::TenantId.eq(tenant_id))
        .filter(Expr::cust(IN_OUTBOX))
        .order_by_asc(message_log::Column::Id)
}

/// An outbound row stored QUEUED: it goes out when its chat's turn comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: i64,
    pub chat_id: String,
    pub text: String,
}

/// Delivery reports, one statement per (tenant, status, error): the rows of
/// a report that would step back (or an unknown id) are left alone.
/// Answers the reports that moved a row (those `message.status` tells).
async fn record_deliveries(
    conn: &impl ConnectionTrait,
    deliveries: &[DeliveryUpdate],
) -> Result<Vec<DeliveryUpdate>, DbErr> {
    let mut moved = Vec::new();
    let mut groups: Vec<(TenantId, MessageStatus, &Option<String>, Vec<&str>)> = Vec::new();
    for report in deliveries {
        if delivery_steps_from(report.status).is_empty() {
            continue;
        }
        let key = (report.tenant_id, report.status, &report.error);
        match groups.iter_mut().find(|(t, s, e, _)| (*t, *s, *e) == key) {
            Some((_, _, _, ids)) => ids.push(&report.wa_message_id),
            None => groups.push((key.0, key.1, key.2, vec![&report.wa_message_id])),
        }
    }
    for (tenant, status, error, ids) in groups {
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let mut update = message_log::Entity::update_many()
                .col_expr(message_log::Column::Status, status.to_value().into())
                .col_expr(message_log::Column::Error, Expr::value(error.clone()))
                .filter(message_log::Column::TenantId.eq(tenant))
                .filter(message_log::Column::Direction.eq(Direction::Out))
                .filter(message_log::Column::WaMessageId.is_in(chunk.iter().copied()))
                .filter(
                    message_log::Column::Status
                        .is_in(delivery_steps_from(status).iter().map(ActiveEnum::to_value)),
                )
                .into_query();
            // RETURNING written out: sea-orm's is off for SQLite here.
            update.returning(Query::returning().columns([message_log::Column::WaMessageId]));
            let rows = conn
                .query_all_raw(conn.get_database_backend().build(&update))
                .await?;
            for row in rows {
                if let Some(wa_message_id) = row.try_get::<Option<String>>("", "wa_message_id")? {
                    moved.push(DeliveryUpdate {
                        tenant_id: tenant,
                        wa_message_id,
                        status,
                        error: error.clone(),
                    });
                }
            }
        }
    }
    Ok(moved)
}

/// An INSERT into the message log with the columns both directions set
/// (values in this order).
fn message_log_insert() -> sea_orm::sea_query::InsertStatement {
    let mut insert = Query::insert();
    insert.into_table(message_log::Entity).columns([
        message_log::Column::TenantId,
        message_log::Column::Direction,
        message_log::Column::ChatId,
        message_log::Column::Sender,
        message_log::Column::Recipient,
        message_log::Column::Text,
        message_log::Column::WaMessageId,
        message_log::Column::Status,
        message_log::Column::Error,
        message_log::Column::CreatedAt,
        message_log::Column::Kind,
    ]);
    insert
}

/// A message logged again (same tenant, direction and WhatsApp id) is
/// left as it was: the unique index is the durable dedup. It holds only
/// rows with an id (migration 20), and both databases match a partial
/// unique index only when the target names its condition.
pub(super) fn seen_before() -> OnConflict {
    OnConflict::columns([
        message_log::Column::TenantId,
        message_log::Column::Direction,
        message_log::Column::WaMessageId,
    ])
    .target_and_where(sea_orm::sea_query::ExprTrait::is_not_null(Expr::col(
        message_log::Column::WaMessageId,
    )))
    .do_nothing()
    .to_owned()
}

/// For each answer offered with its message: is the message's
/// conversation still as the bot saw it when it worked out the answer?
async fn still_as_expected(
    conn: &impl ConnectionTrait,
    inbound: &[InboundRow],
    answers: &[AnsweredAtOnce],
) -> Result<Vec<bool>, DbErr> {
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<(TenantId, &str)> = answers
        .iter()
        .map(|answer| {
            let row = &inbound[answer.inbound];
            (row.tenant_id, row.chat_id.as_str())
        })
        .collect();
    let now = conversation_batch::states(conn, &keys).await?;
    Ok(answers
        .iter()
        .zip(keys)
        .map(|(answer, (tenant, chat))| {
            now.get(&(tenant, chat.to_owned())) == answer.expected.as_ref()
        })
        .collect())
}

async fn insert_inbound(
    conn: &impl ConnectionTrait,
    rows: &[(&InboundRow, MessageStatus)],
) -> Result<Vec<Option<i64>>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // A repeat inside the batch is a duplicate of its first occurrence.
    let mut first: std::collections::HashMap<(TenantId, &str), usize> =
        std::collections::HashMap::new();
    let mut insert = message_log_insert();
    for (i, &(row, status)) in rows.iter().enumerate() {
        if first.contains_key(&(row.tenant_id, row.wa_message_id.as_str())) {
            continue;
        }
        first.insert((row.tenant_id, row.wa_message_id.as_str()), i);
        insert
            .values([
                row.tenant_id.into(),
                Direction::In.to_value().into(),
                row.chat_id.clone().into(),
                row.chat_id.clone().into(),
                row.to.clone().into(),
                row.text.clone().into(),
                row.wa_message_id.clone().into(),
                status.to_value().into(),
                None::<String>.into(),
                row.created_at.into(),
                row.kind.to_value().into(),
            ])
            .map_err(|err| DbErr::Custom(err.to_string()))?;
    }
    insert
        .on_conflict(seen_before())
        .returning(Query::returning().columns([
            message_log::Column::Id,
            message_log::Column::TenantId,
            message_log::Column::WaMessageId,
        ]));
    let statement = conn.get_database_backend().build(&insert);
    let inserted = conn.query_all_raw(statement).await?;
    let mut ids = vec![None; rows.len()];
    for row in inserted {
        let id: i64 = row.try_get("", "id")?;
        let tenant_id: TenantId = row.try_get("", "tenant_id")?;
        let wa: String = row.try_get("", "wa_message_id")?;
        if let Some(&i) = first.get(&(tenant_id, wa.as_str())) {
            ids[i] = Some(id);
        }
    }
    Ok(ids)
}
