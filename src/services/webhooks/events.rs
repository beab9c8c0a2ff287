//! The events Flow HQ tells webhook endpoints about, and how they are
//! queued: in the caller's transaction, with the change that caused them.
//!
//! Owns: the event types, their versioned JSON bodies (`…V1`: a field is
//! never removed or retyped within a version; a new version is a new
//! struct), the envelope every event is sent in, and `record`: ONE
//! `INSERT … SELECT` per call that fans the events out to every enabled
//! endpoint of their tenant that wants their type (no cache to keep
//! coherent; an endpoint's events get ids in the order given).
//! Must not: carry a secret in a body; open its own transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::enums::{ConversationMode, MessageStatus};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use serde::Serialize;

use crate::domain::ids::TenantId;
use crate::services::runtime::handoff::HandoffChange;

/// What an endpoint can subscribe to. Each type is one bit of
/// `webhook_endpoint.event_mask`; the names are the wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    MessageReceived,
    MessageSent,
    MessageStatus,
    ConversationNeedsHuman,
    ConversationModeChanged,
    BotStatusChanged,
    UsageQuotaReached,
}

impl EventType {
    pub const ALL: [Self; 7] = [
        Self::MessageReceived,
        Self::MessageSent,
        Self::MessageStatus,
        Self::ConversationNeedsHuman,
        Self::ConversationModeChanged,
        Self::BotStatusChanged,
        Self::UsageQuotaReached,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::MessageSent => "message.sent",
            Self::MessageStatus => "message.status",
            Self::ConversationNeedsHuman => "conversation.needs_human",
            Self::ConversationModeChanged => "conversation.mode_changed",
            Self::BotStatusChanged => "bot.status_changed",
            Self::UsageQuotaReached => "usage.quota_reached",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Its bit in `event_mask` (stable: stored).
    pub const fn bit(self) -> i64 {
        1 << (self as u32)
    }

    /// What an owner reads next to the checkbox.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::MessageReceived => "a customer's message arrived",
            Self::MessageSent => "a message (the bot's or a person's) was sent",
            Self::MessageStatus => "WhatsApp reported a sent message delivered, read or failed",
            Self::ConversationNeedsHuman => "a chat needs a person, or no longer does",
            Self::ConversationModeChanged => "a chat went to a person or back to the bot",
            Self::BotStatusChanged => "the bot went up, down or into an error",
            Self::UsageQuotaReached => "a monthly quota of the plan was reached",
        }
    }
}

/// The event types of a mask, in `ALL`'s order.
pub fn types_of(mask: i64) -> Vec<EventType> {
    EventType::ALL
        .into_iter()
        .filter(|t| mask & t.bit() != 0)
        .collect()
}

pub fn mask_of(types: &[EventType]) -> i64 {
    types.iter().fold(0, |mask, t| mask | t.bit())
}

/// The test event "send a test event" sends (to one endpoint, whatever it
/// subscribed to).
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// Version of the bodies below (in every envelope).
pub const PAYLOAD_VERSION: u32 = 1;

/// What every event is sent as: `{id, type, version, timestamp, data}`. The
/// `id` is also the `webhook-id` header (the same on every retry): receivers
/// deduplicate by it.
// In the OpenAPI document as `Envelope`; each event type's `data` is its
// `…V1` schema (`EventType::data_schema`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(bound = "")]
pub struct Envelope<'a, T: Serialize> {
    /// `msg_…`, also the `webhook-id` header; the same on every retry.
    #[schema(value_type = String)]
    pub id: &'a str,
    /// The event type, e.g. `message.received`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub event_type: &'a str,
    /// The version of `data`'s shape (1).
    pub version: u32,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// Your tenant's id (a UUID).
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// The event's body: its type's `…V1` schema.
    #[schema(value_type = Object)]
    pub data: &'a T,
}

/// `message.received` v1: a customer's message, as logged.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageReceivedV1 {
    /// The message log's id.
    pub message_id: i64,
    pub conversation_id: Option<i64>,
    /// The customer's WhatsApp number / chat id.
    pub chat: String,
    pub contact_name: Option<String>,
    pub text: String,
    /// WhatsApp's id of the message.
    pub wa_message_id: String,
    pub received_at: DateTime<Utc>,
}

/// `message.sent` v1: an outbound message left through the transport.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageSentV1 {
    pub message_id: i64,
    /// WhatsApp's id of the sent message (`message.status` refers to it).
    pub wa_message_id: Option<String>,
    /// SENT or FAILED.
    #[schema(value_type = String)]
    pub status: MessageStatus,
}

/// `message.status` v1: WhatsApp's delivery report of a sent message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageStatusV1 {
    pub wa_message_id: String,
    /// DELIVERED, READ or FAILED.
    #[schema(value_type = String)]
    pub status: MessageStatus,
    pub error: Option<String>,
}

/// `conversation.needs_human` v1: the "needs a person" flag changed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationNeedsHumanV1 {
    pub conversation_id: i64,
    pub needs_human: bool,
    /// BOT or HUMAN.
    #[schema(value_type = String)]
    pub mode: ConversationMode,
    pub at: DateTime<Utc>,
}

/// `conversation.mode_changed` v1: BOT ⇄ HUMAN, why and by whom.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationModeChangedV1 {
    pub conversation_id: i64,
    /// BOT or HUMAN.
    #[schema(value_type = String)]
    pub mode: ConversationMode,
    /// customer_asked, person_replied, owner_phone, bot_failed,
    /// taken_over, handed_back, idle_timeout, not_text.
    pub reason: String,
    /// The person who switched it, when one did.
    pub actor: Option<String>,
    pub at: DateTime<Utc>,
}

/// `bot.status_changed` v1: the bot's worker status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BotStatusChangedV1 {
    /// STOPPED, STARTING, RUNNING, RESTARTING or ERROR.
    pub status: String,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// `usage.quota_reached` v1: a counter of this month reached its plan's
/// limit: once per tenant per month (`usage::add`, marked by
/// `usage_month.quota_reached_at`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsageQuotaReachedV1 {
    /// e.g. `messages`, `ai_tokens`.
    pub counter: String,
    pub used: i64,
    pub limit: i64,
    /// `YYYY-MM`.
    pub period: String,
}

/// `webhook.test` v1: sent on "send a test event" only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestEventV1 {
    pub message: String,
}

/// A schema of the OpenAPI document: its name, and it with the schemas it
/// refers to.
pub type NamedSchemas = (
    String,
    Vec<(
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    )>,
);

fn schema_of<T: utoipa::ToSchema>() -> NamedSchemas {
    let name = T::name().into_owned();
    let mut schemas = vec![(name.clone(), T::schema())];
    T::schemas(&mut schemas);
    (name, schemas)
}

impl EventType {
    /// The documented schema of its `data` (the OpenAPI document's
    /// `webhooks`). A `match`, so a new type cannot go undocumented.
    pub fn data_schema(self) -> NamedSchemas {
        match self {
            Self::MessageReceived => schema_of::<MessageReceivedV1>(),
            Self::MessageSent => schema_of::<MessageSentV1>(),
            Self::MessageStatus => schema_of::<MessageStatusV1>(),
            Self::ConversationNeedsHuman => schema_of::<ConversationNeedsHumanV1>(),
            Self::ConversationModeChanged => schema_of::<ConversationModeChangedV1>(),
            Self::BotStatusChanged => schema_of::<BotStatusChangedV1>(),
            Self::UsageQuotaReached => schema_of::<UsageQuotaReachedV1>(),
        }
    }
}

/// The documented schema of `webhook.test`'s `data`.
pub fn test_data_schema() -> NamedSchemas {
    schema_of::<TestEventV1>()
}

/// The documented schema of the envelope every event is sent in.
pub fn envelope_schema() -> NamedSchemas {
    schema_of::<Envelope<'static, TestEventV1>>()
}

/// An event ready to be queued: its type, tenant and serialised envelope.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant_id: TenantId,
    pub event_type: EventType,
    pub id: String,
    pub at: DateTime<Utc>,
    pub body: String,
}

/// A fresh `msg_…` id.
pub fn new_event_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// The envelope's JSON for `data`.
pub fn envelope_json<T: Serialize>(
    id: &str,
    event_type: &str,
    tenant_id: TenantId,
    at: DateTime<Utc>,
    data: &T,
) -> String {
    let envelope = Envelope {
        id,
        event_type,
        version: PAYLOAD_VERSION,
        timestamp: at.to_rfc3339_opts(SecondsFormat::Millis, true),
        tenant_id,
        data,
    };
    // Plain structs of strings and numbers: serialising cannot fail.
    serde_json::to_string(&envelope).unwrap_or_default()
}

impl NewEvent {
    pub fn new<T: Serialize>(
        tenant_id: TenantId,
        event_type: EventType,
        at: DateTime<Utc>,
        data: &T,
    ) -> Self {
        let id = new_event_id();
        let body = envelope_json(&id, event_type.as_str(), tenant_id, at, data);
        Self {
            tenant_id,
            event_type,
            id,
            at,
            body,
        }
    }
}

/// The events a handoff change causes: `conversation.mode_changed` when it
/// switched mode, `conversation.needs_human` when the flag changed.
pub fn of_handoff(change: &HandoffChange) -> Vec<NewEvent> {
    let mut events = Vec::new();
    if change.state.needs_human != change.needed_human_before {
        events.push(NewEvent::new(
            change.tenant_id,
            EventType::ConversationNeedsHuman,
            change.at,
            &ConversationNeedsHumanV1 {
                conversation_id: change.conversation_id,
                needs_human: change.state.needs_human,
                mode: change.state.mode,
                at: change.at,
            },
        ));
    }
    if let Some((reason, actor)) = &change.switched {
        events.push(NewEvent::new(
            change.tenant_id,
            EventType::ConversationModeChanged,
            change.at,
            &ConversationModeChangedV1 {
                conversation_id: change.conversation_id,
                mode: change.state.mode,
                reason: reason.as_str().to_owned(),
                actor: actor.clone(),
                at: change.at,
            },
        ));
    }
    events
}

/// The event types (`EventType::bit`s, or-ed) each of `tenants` has an
/// enabled endpoint for; tenants without one are not in the answer. The log
/// writer asks this first, so a batch builds no event nobody wants.
pub async fn wanted(
    conn: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<std::collections::HashMap<TenantId, i64>, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let mut wanted = std::collections::HashMap::new();
    // Most batches of most installs: no endpoint at all, one probe.
    let any = entity::webhook_endpoint::Entity::find()
        .select_only()
        .column(entity::webhook_endpoint::Column::TenantId)
        .filter(entity::webhook_endpoint::Column::Enabled.eq(true))
        .into_tuple::<TenantId>()
        .one(conn)
        .await?;
    if any.is_none() {
        return Ok(wanted);
    }
    for chunk in tenants.chunks(crate::db::IN_LIST_CHUNK) {
        let rows: Vec<(TenantId, i64)> = entity::webhook_endpoint::Entity::find()
            .select_only()
            .column(entity::webhook_endpoint::Column::TenantId)
            .column(entity::webhook_endpoint::Column::EventMask)
            .filter(entity::webhook_endpoint::Column::Enabled.eq(true))
            .filter(entity::webhook_endpoint::Column::TenantId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (tenant, mask) in rows {
            *wanted.entry(tenant).or_insert(0) |= mask;
        }
    }
    Ok(wanted)
}

/// Takes the event-order lock (`lock_order`) of those of `tenants` that
/// have an endpoint, for a use case that records events: called FIRST in
/// its transaction, before it writes or locks any row, as the log writer
/// does. Its events are then queued after those of every transaction of
/// the same business in flight, and before those of the ones that start
/// later. A no-op on SQLite, and one probe on PostgreSQL when no endpoint
/// exists.
pub async fn take_turn(conn: &impl ConnectionTrait, tenants: &[TenantId]) -> Result<(), DbErr> {
    if conn.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    let wanted = wanted(conn, tenants).await?;
    lock_order(conn, wanted.into_keys()).await
}

/// A write transaction of a use case that records events of `tenant`,
/// with its turn (`take_turn`) taken before anything else.
pub async fn begin_in_turn(
    db: &sea_orm::DatabaseConnection,
    tenant: TenantId,
) -> Result<crate::db::WriteTransaction, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    take_turn(&txn, &[tenant]).await?;
    Ok(txn)
}

/// Orders one tenant's events across transactions committed side by side
/// (PostgreSQL; a no-op on SQLite, whose one writer commits in turn): the
/// caller's transaction waits here until every other one that took the
/// lock of one of `tenants` has committed, and holds it until it commits
/// itself. The log writer takes it FIRST in each batch for the tenants with
/// an endpoint: without it, a batch that got lower message and event ids
/// but committed later had its events delivered after those of a batch
/// that started after it (the delivery worker takes an endpoint's oldest
/// event that is visible), and receivers saw message ids go backwards.
/// Use cases that record events take it too (`take_turn`). Taken in one
/// key order and before any row is written, so batches wait for each other
/// and never deadlock.
pub async fn lock_order(
    conn: &impl ConnectionTrait,
    tenants: impl IntoIterator<Item = TenantId>,
) -> Result<(), DbErr> {
    if conn.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    // The tenant's UUID's first 8 bytes (random in a v4): a collision only
    // makes two tenants' batches wait for each other.
    let mut keys: Vec<i64> = tenants
        .into_iter()
        .map(|tenant| {
            let bytes = tenant.as_uuid().into_bytes();
            i64::from_be_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            ])
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for chunk in keys.chunks(crate::db::IN_LIST_CHUNK) {
        let values: Vec<String> = chunk.iter().map(|key| format!("({key})")).collect();
        // VALUES is scanned in the order written: the locks are taken in
        // key order.
        let sql = format!(
            "SELECT count(pg_advisory_xact_lock(k)) AS locked FROM (VALUES {}) AS v(k)",
            values.join(", ")
        );
        conn.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Values per event in `record`'s statement.
const VALUES_PER_EVENT: usize = 7;
/// Events per statement: well under SQLite's 32,766 bound values.
const EVENTS_PER_STATEMENT: usize = 2000;

/// Queues `events` for every enabled endpoint of their tenant that wants
/// their type, in the caller's transaction: one statement (per 2,000
/// events). Nothing is written when no endpoint wants them.
pub async fn record(conn: &impl ConnectionTrait, events: &[NewEvent]) -> Result<u64, DbErr> {
    let mut queued = 0;
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        queued += record_chunk(conn, chunk).await?;
    }
    Ok(queued)
}

async fn record_chunk(conn: &impl ConnectionTrait, events: &[NewEvent]) -> Result<u64, DbErr> {
    if events.is_empty() {
        return Ok(0);
    }
    let backend = conn.get_database_backend();
    let mut values = Vec::with_capacity(events.len() * VALUES_PER_EVENT);
    for (ordinal, event) in events.iter().enumerate() {
        values.push(Value::from(event.tenant_id.as_uuid()));
        values.push(Value::from(event.event_type.bit()));
        values.push(Value::from(event.id.clone()));
        values.push(Value::from(event.event_type.as_str()));
        values.push(Value::from(event.body.clone()));
        values.push(Value::from(event.at));
        values.push(Value::from(i64::try_from(ordinal).unwrap_or(i64::MAX)));
    }
    // VALUES' columns are column1… on both backends. Ordered so that an
    // endpoint's rows get ids in the order the events happened.
    let sql = format!(
        "INSERT INTO webhook_event (tenant_id, endpoint_id, event_id, event_type, payload, \
         created_at, status, attempts, next_attempt_at) \
         SELECT e.tenant_id, e.id, v.column3, v.column4, v.column5, v.column6, 'PENDING', 0, v.column6 \
         FROM (VALUES {}) AS v \
         JOIN webhook_endpoint e ON e.tenant_id = v.column1 AND e.enabled \
         AND (e.event_mask & v.column2) <> 0 \
         ORDER BY v.column7, e.id",
        crate::db::values_placeholders(backend, events.len(), VALUES_PER_EVENT)
    );
    let result = conn
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_have_stable_names_and_distinct_bits() {
        let mut bits = 0;
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(bits & t.bit(), 0, "{t:?} shares a bit");
            bits |= t.bit();
        }
        assert_eq!(EventType::parse("message.unknown"), None);
        let some = [EventType::MessageSent, EventType::BotStatusChanged];
        assert_eq!(types_of(mask_of(&some)), some.to_vec());
    }

    #[test]
    fn an_envelope_carries_id_type_version_timestamp_and_data() {
        let tenant = TenantId::new_random();
        let at = DateTime::parse_from_rfc3339("2026-12-05T13:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let event = NewEvent::new(
            tenant,
            EventType::MessageStatus,
            at,
            &MessageStatusV1 {
                wa_message_id: "wamid.1".into(),
                status: MessageStatus::Read,
                error: None,
            },
        );
        assert!(event.id.starts_with("msg_"));
        let json: serde_json::Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(json["id"], event.id.as_str());
        assert_eq!(json["type"], "message.status");
        assert_eq!(json["version"], 1);
        assert_eq!(json["timestamp"], "2026-12-05T13:00:00.000Z");
        assert_eq!(json["tenant_id"], tenant.to_string());
        assert_eq!(json["data"]["status"], "READ");
    }
}
