//! The inbox: a tenant's conversations, each one's thread, and what a
//! person does in it (reply, take over, hand back).
//!
//! Owns: the use cases behind `/portal/inbox`, `/api/portal/conversations…`
//! and `/api/admin/tenants/{id}/conversations…`. Every query is scoped by
//! the tenant the caller acts for: a conversation of another tenant is not
//! found, never shown. A person's reply is a row first (an OUTBOUND message
//! QUEUED with its author, and the handoff in the same transaction); the
//! running bot then sends it through the tenant's own transport, in the
//! chat's order and under its limits (`BotControl::send_queued`).
//! Must not: send anything itself, or decide handoff rules (those are
//! `domain::handoff`'s).

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::enums::{ConversationMode, Direction, MessageKind, MessageStatus, TransportKind};
use entity::{conversation, conversation_event, message_log, tenant_config};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::audit::Actor;
use super::control::BotControl;
use super::runtime::conversation_batch::{ConversationState, preview};
use super::runtime::handoff::{self, HandoffChange};
use crate::domain::handoff::{Event, HandoffState, Reason, decide};
use crate::domain::ids::{ConversationId, TenantId};
use crate::error::{AppError, ErrorCode, FieldErrors};

/// The most conversations or messages one page holds.
pub const MAX_PAGE: u64 = 100;
const DEFAULT_PAGE: u64 = 50;
/// The longest message a person may send (WhatsApp's limit).
pub const MAX_TEXT_CHARS: usize = 4096;
/// The Cloud API allows free-form messages this long after the customer's
/// last one; later only pre-approved templates.
pub const CLOUD_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Which conversations a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxFilter {
    #[default]
    All,
    NeedsHuman,
    Bot,
    Human,
}

/// A list request: filter, search (number, name or the customer's last
/// message) and the cursor of the page before.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// all, needs_human, bot or human.
    #[serde(default)]
    #[param(inline)]
    pub filter: InboxFilter,
    /// Search the number, the name and the customer's last message.
    #[serde(default)]
    pub q: Option<String>,
    /// `next_cursor` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
    /// At most 100 (default 50).
    #[serde(default)]
    pub limit: Option<u64>,
}

impl InboxQuery {
    /// The search text, trimmed; `None` when there is nothing to search.
    fn search_text(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }
}

/// One conversation in the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationItem {
    #[schema(value_type = i64)]
    pub id: ConversationId,
    pub chat: String,
    pub contact_name: Option<String>,
    /// BOT or HUMAN.
    #[schema(value_type = String)]
    pub mode: ConversationMode,
    pub mode_reason: Option<String>,
    pub mode_since: Option<DateTime<Utc>>,
    pub needs_human: bool,
    /// Since when a person is waited for.
    pub needs_human_since: Option<DateTime<Utc>>,
    pub unread: i32,
    pub last_message_at: DateTime<Utc>,
    pub last_in_at: Option<DateTime<Utc>>,
    pub preview: String,
}

impl From<conversation::Model> for ConversationItem {
    fn from(row: conversation::Model) -> Self {
        Self {
            id: ConversationId::new(row.id),
            chat: row.chat_id,
            contact_name: row.contact_name,
            mode: row.mode,
            mode_reason: row.mode_reason,
            mode_since: row.mode_since,
            needs_human: row.needs_human,
            needs_human_since: row.needs_human_since,
            unread: row.unread,
            last_message_at: row.last_message_at,
            last_in_at: row.last_in_at,
            preview: row.preview,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationPage {
    pub items: Vec<ConversationItem>,
    pub next_cursor: Option<String>,
}

/// One message of a thread.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ThreadMessage {
    pub id: i64,
    /// IN or OUT.
    #[schema(value_type = String)]
    pub direction: Direction,
    /// "customer", "bot", or the person who wrote it.
    pub author: String,
    /// TEXT, IMAGE, AUDIO, …
    #[schema(value_type = String)]
    pub kind: MessageKind,
    pub text: String,
    /// RECEIVED, QUEUED, SENDING, SENT, DELIVERED, READ, FAILED, …
    #[schema(value_type = String)]
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// A bot reply the AI model was asked for: what came of it.
    pub ai: Option<AiInfo>,
}

/// What the AI model did for a bot reply.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AiInfo {
    /// `answer` or `clarify` (the AI wrote this reply), `handoff` (it
    /// handed the chat to a person), `held_back` or `failed` (the rule
    /// answer was sent instead; `note` says why).
    pub outcome: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub note: Option<String>,
}

impl AiInfo {
    /// The AI wrote the reply's text.
    pub fn wrote_it(&self) -> bool {
        matches!(self.outcome.as_str(), "answer" | "clarify")
    }
}

/// Adds what the AI did to the bot replies among `messages`.
async fn with_ai(
    db: &DatabaseConnection,
    tenant: TenantId,
    mut messages: Vec<ThreadMessage>,
) -> Result<Vec<ThreadMessage>, DbErr> {
    use entity::ai_reply;
    let ids: Vec<i64> = messages
        .iter()
        .filter(|m| m.direction == Direction::Out && m.author == "bot")
        .map(|m| m.id)
        .collect();
    if ids.is_empty() {
        return Ok(messages);
    }
    let found: std::collections::HashMap<i64, AiInfo> = ai_reply::Entity::find()
        .filter(ai_reply::Column::TenantId.eq(tenant))
        .filter(ai_reply::Column::MessageId.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            (
                row.message_id,
                AiInfo {
                    outcome: row.outcome,
                    tokens_in: row.tokens_in,
                    tokens_out: row.tokens_out,
                    note: row.note,
                },
            )
        })
        .collect();
    for message in &mut messages {
        message.ai = found.get(&message.id).cloned();
    }
    Ok(messages)
}

impl From<message_log::Model> for ThreadMessage {
    fn from(row: message_log::Model) -> Self {
        let author = match (row.direction, row.author) {
            (Direction::In, _) => "customer".to_owned(),
            (Direction::Out, Some(person)) => person,
            (Direction::Out, None) => "bot".to_owned(),
        };
        Self {
            id: row.id,
            direction: row.direction,
            author,
            kind: row.kind,
            text: row.text,
            status: row.status,
            error: row.error,
            created_at: row.created_at,
            ai: None,
        }
    }
}

/// A switch of the conversation's mode, in its thread.
#[derive(Debug, Clone, Serialize)]
pub struct ModeSwitch {
    pub mode: ConversationMode,
    pub reason: String,
    /// The reason in an owner's words.
    pub why: String,
    pub actor: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<conversation_event::Model> for ModeSwitch {
    fn from(row: conversation_event::Model) -> Self {
        let why = Reason::parse(&row.reason)
            .map_or_else(|| row.reason.clone(), |r| r.describe().to_owned());
        Self {
            mode: row.mode,
            reason: row.reason,
            why,
            actor: row.actor,
            created_at: row.created_at,
        }
    }
}

/// A page of a thread: messages oldest first; `next_cursor` pages back to
/// older ones.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessagePage {
    pub items: Vec<ThreadMessage>,
    pub next_cursor: Option<String>,
}

/// A conversation with its latest messages and its mode switches.
#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    pub conversation: ConversationItem,
    pub messages: MessagePage,
    pub switches: Vec<ModeSwitch>,
    /// Whether a person can write now, and if not, why.
    pub can_reply: Result<(), String>,
}

/// A person's message, accepted (it goes out through the bot).
#[derive(Debug, Clone, Serialize)]
pub struct Queued {
    pub id: i64,
    pub status: MessageStatus,
}

/// Who acts: for the audit trail and the thread ("Ana", "admin ops").
#[derive(Debug, Clone)]
pub struct Person {
    pub actor: Actor,
    pub name: String,
}

impl Person {
    /// A platform admin working a tenant's inbox: the thread names them as
    /// an admin ("ops (admin)"), so the tenant's people see it was none of
    /// them; the audit row has the admin as its actor.
    pub fn admin(username: &str) -> Self {
        Self {
            actor: Actor::Admin(username.to_owned()),
            name: format!("{username} (admin)"),
        }
    }
}

/// Who opens a thread. The unread count is for the tenant's people: one of
/// them opening the thread has read it; a platform admin looking in (to
/// help, to check a complaint) must not hide a new message from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    TenantPerson,
    Admin,
}

/// The tenant's conversations, most recent activity first.
pub async fn list(
    db: &DatabaseConnection,
    tenant: TenantId,
    query: &InboxQuery,
) -> Result<ConversationPage, AppError> {
    let backend = db.get_database_backend();
    if query.search_text().is_some() && backend == sea_orm::DatabaseBackend::Postgres {
        // A search's best plan depends on its text (a rare number: the
        // trigram index; a common word: the tenant's newest chats). After
        // five runs of a prepared statement PostgreSQL may settle on one
        // generic plan for every text: in a copy of the bench's inbox it
        // then read the whole inbox for a number, 400 ms instead of 8.
        let txn = db.begin().await?;
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
        let page = page_of(&txn, tenant, query).await?;
        txn.commit().await?;
        return Ok(page);
    }
    page_of(db, tenant, query).await
}

async fn page_of(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    query: &InboxQuery,
) -> Result<ConversationPage, AppError> {
    let (rows, next_cursor) = newest_first(
        conn,
        matching(conn.get_database_backend(), tenant, query),
        (
            conversation::Column::LastMessageAt,
            conversation::Column::Id,
        ),
        query.cursor.as_deref(),
        page_size(query.limit),
        |row| (row.last_message_at, row.id),
    )
    .await?;
    Ok(ConversationPage {
        items: rows.into_iter().map(ConversationItem::from).collect(),
        next_cursor,
    })
}

/// The tenant's conversations a list request matches (its filter and
/// search), before paging.
pub fn matching(
    backend: sea_orm::DatabaseBackend,
    tenant: TenantId,
    query: &InboxQuery,
) -> sea_orm::Select<conversation::Entity> {
    let mut select = conversation::Entity::find().filter(conversation::Column::TenantId.eq(tenant));
    select = match query.filter {
        InboxFilter::All => select,
        // Literal conditions, the very ones of the partial indexes
        // (migration 19): a bound value would hide them from both planners.
        InboxFilter::NeedsHuman => select.filter(Expr::cust("conversation.needs_human")),
        InboxFilter::Bot => select.filter(Expr::cust("conversation.mode = 'BOT'")),
        InboxFilter::Human => select.filter(Expr::cust("conversation.mode = 'HUMAN'")),
    };
    if let Some(q) = query.search_text() {
        select = select.filter(search(backend, tenant, q));
    }
    select
}

/// One conversation of the tenant.
pub async fn get(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: ConversationId,
) -> Result<ConversationItem, AppError> {
    find(db, tenant, id).await.map(ConversationItem::from)
}

/// A page of a conversation's messages, oldest first (`cursor`: older than
/// the page it came with).
pub async fn messages(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: ConversationId,
    cursor: Option<&str>,
    limit: Option<u64>,
) -> Result<MessagePage, AppError> {
    let row = find(db, tenant, id).await?;
    let limit = page_size(limit);
    let select = message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(tenant))
        .filter(message_log::Column::ChatId.eq(row.chat_id));
    let (mut rows, next_cursor) = newest_first(
        db,
        select,
        (message_log::Column::CreatedAt, message_log::Column::Id),
        cursor,
        limit,
        |row| (row.created_at, row.id),
    )
    .await?;
    rows.reverse();
    let items = rows.into_iter().map(ThreadMessage::from).collect();
    Ok(MessagePage {
        items: with_ai(db, tenant, items).await?,
        next_cursor,
    })
}

/// A conversation as a person opens it: its latest messages, its mode
/// switches, whether a reply can go out; when one of the tenant's people
/// opens it, that clears its unread count (not when an admin does).
pub async fn open(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    tenant: TenantId,
    id: ConversationId,
    reader: Reader,
) -> Result<Thread, AppError> {
    let mut row = find(db, tenant, id).await?;
    if reader == Reader::TenantPerson && row.unread != 0 {
        crate::db::write_alone(
            db,
            conversation::Entity::update_many()
                .col_expr(conversation::Column::Unread, Expr::value(0))
                .filter(conversation::Column::Id.eq(row.id))
                .filter(conversation::Column::TenantId.eq(tenant))
                .exec(db),
        )
        .await?;
        row.unread = 0;
    }
    let messages = messages(db, tenant, id, None, None).await?;
    let switches = conversation_event::Entity::find()
        .filter(conversation_event::Column::TenantId.eq(tenant))
        .filter(conversation_event::Column::ConversationId.eq(row.id))
        .order_by_asc(conversation_event::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(ModeSwitch::from)
        .collect();
    let transport = transport_of(db, tenant).await?;
    let can_reply = reply_refusal(bots, tenant, transport, row.last_in_at, Utc::now())
        .map_or(Ok(()), |err| Err(err.message().to_owned()));
    Ok(Thread {
        conversation: ConversationItem::from(row),
        messages,
        switches,
        can_reply,
    })
}

/// A person's reply: stored QUEUED with its author and sent by the running
/// bot; the conversation goes to (or stays with) a person.
pub async fn reply(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    tenant: TenantId,
    id: ConversationId,
    person: &Person,
    text: &str,
) -> Result<Queued, AppError> {
    let text = parse_text(text)?;
    let row = find(db, tenant, id).await?;
    let transport = transport_of(db, tenant).await?;
    let now = Utc::now();
    if let Some(refusal) = reply_refusal(bots, tenant, transport, row.last_in_at, now) {
        return Err(refusal);
    }
    let state = ConversationState::of(&row);
    let decision = decide(
        state.handoff,
        Event::PersonReplied,
        now,
        chrono::Duration::MAX,
    );
    let change = HandoffChange::between(
        tenant,
        &state,
        decision.state,
        decision
            .switched
            .map(|reason| (reason, Some(person.name.clone()))),
        now,
    );
    let txn = super::webhooks::events::begin_in_turn(db, tenant).await?;
    let from = super::runtime::worker::business_number(&txn, tenant).await?;
    let inserted = message_log::Entity::insert(message_log::ActiveModel {
        tenant_id: sea_orm::Set(tenant.into()),
        direction: sea_orm::Set(Direction::Out),
        chat_id: sea_orm::Set(row.chat_id.clone()),
        sender: sea_orm::Set(from),
        recipient: sea_orm::Set(row.chat_id.clone()),
        text: sea_orm::Set(text.clone()),
        wa_message_id: sea_orm::Set(None),
        status: sea_orm::Set(MessageStatus::Queued),
        error: sea_orm::Set(None),
        created_at: sea_orm::Set(now),
        author: sea_orm::Set(Some(person.name.clone())),
        kind: sea_orm::Set(MessageKind::Text),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    conversation::Entity::update_many()
        .col_expr(conversation::Column::LastOutAt, Expr::value(now))
        .col_expr(conversation::Column::LastMessageAt, Expr::value(now))
        .col_expr(conversation::Column::Preview, Expr::value(preview(&text)))
        .filter(conversation::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    if let Some(change) = &change {
        handoff::apply(&txn, change).await?;
        super::webhooks::events::record(&txn, &super::webhooks::events::of_handoff(change)).await?;
    }
    super::usage::add_one(
        &txn,
        tenant,
        super::usage::Counts {
            human_replies: 1,
            ..Default::default()
        },
    )
    .await?;
    super::audit::record(
        &txn,
        &person.actor,
        Some(tenant),
        "conversation.reply",
        serde_json::json!({ "conversation": id, "message": inserted.last_insert_id }),
    )
    .await?;
    txn.commit().await?;
    bots.changed(tenant);
    bots.send_queued(tenant);
    Ok(Queued {
        id: inserted.last_insert_id,
        status: MessageStatus::Queued,
    })
}

/// "Take over": a person has the chat; the bot stays silent in it.
pub async fn take_over(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    tenant: TenantId,
    id: ConversationId,
    person: &Person,
) -> Result<ConversationItem, AppError> {
    switch(db, bots, tenant, id, person, Event::TakeOver).await
}

/// "Hand back to the bot".
pub async fn hand_back(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    tenant: TenantId,
    id: ConversationId,
    person: &Person,
) -> Result<ConversationItem, AppError> {
    switch(db, bots, tenant, id, person, Event::HandBack).await
}

async fn switch(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    tenant: TenantId,
    id: ConversationId,
    person: &Person,
    event: Event,
) -> Result<ConversationItem, AppError> {
    let now = Utc::now();
    let txn = super::webhooks::events::begin_in_turn(db, tenant).await?;
    let row = find(&txn, tenant, id).await?;
    let state = ConversationState::of(&row);
    let decision = decide(state.handoff, event, now, chrono::Duration::MAX);
    let change = HandoffChange::between(
        tenant,
        &state,
        decision.state,
        decision
            .switched
            .map(|reason| (reason, Some(person.name.clone()))),
        now,
    );
    if let Some(change) = &change {
        handoff::apply(&txn, change).await?;
        super::webhooks::events::record(&txn, &super::webhooks::events::of_handoff(change)).await?;
        let name = match event {
            Event::HandBack => "conversation.hand_back",
            _ => "conversation.take_over",
        };
        super::audit::record(
            &txn,
            &person.actor,
            Some(tenant),
            name,
            serde_json::json!({ "conversation": id }),
        )
        .await?;
    }
    let row = find(&txn, tenant, id).await?;
    txn.commit().await?;
    bots.changed(tenant);
    Ok(ConversationItem::from(row))
}

/// Hands every HUMAN conversation whose person has been quiet for its
/// tenant's `human_idle_timeout` back to the bot, at `now`: the inbox and
/// the thread show the switch when it is due, and webhook endpoints hear of
/// it then, not at the customer's next message (which also hands it back,
/// in `decide`, should the sweep not have run yet). The maintenance timer
/// runs it every minute. Each tenant's switches are one transaction in its
/// turn, like "Hand back"; answers how many went back.
pub async fn return_idle_chats(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    use std::collections::BTreeMap;
    type Quiet = (
        i64,
        uuid::Uuid,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    // Every HUMAN conversation (the partial index on HUMAN ones) and when
    // a person last wrote there.
    let human: Vec<Quiet> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .column(conversation::Column::TenantId)
        .column(conversation::Column::ModeSince)
        .column(conversation::Column::LastHumanAt)
        .filter(conversation::Column::Mode.eq(ConversationMode::Human))
        .into_tuple()
        .all(db)
        .await?;
    let mut by_tenant: BTreeMap<TenantId, Vec<Quiet>> = BTreeMap::new();
    for row in human {
        by_tenant.entry(row.1.into()).or_default().push(row);
    }
    let mut returned = 0;
    for (tenant, rows) in by_tenant {
        let idle = human_idle_timeout(db, tenant).await?;
        let ids: Vec<i64> = rows
            .into_iter()
            .filter(|&(_, _, mode_since, last_human_at)| {
                let quiet = HandoffState {
                    mode: ConversationMode::Human,
                    needs_human: false,
                    mode_since,
                    last_human_at,
                };
                decide(quiet, Event::Idle, now, idle).switched.is_some()
            })
            .map(|row| row.0)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let txn = super::webhooks::events::begin_in_turn(db, tenant).await?;
        let mut changed = 0;
        // Read again in the tenant's turn: a person may have written meanwhile.
        for chunk in ids.chunks(crate::db::IN_LIST_CHUNK) {
            let rows = conversation::Entity::find()
                .filter(conversation::Column::TenantId.eq(tenant))
                .filter(conversation::Column::Id.is_in(chunk.iter().copied()))
                .all(&txn)
                .await?;
            for row in rows {
                let state = ConversationState::of(&row);
                let decision = decide(state.handoff, Event::Idle, now, idle);
                let switched = decision.switched.map(|reason| (reason, None));
                if let Some(change) =
                    HandoffChange::between(tenant, &state, decision.state, switched, now)
                {
                    handoff::apply(&txn, &change).await?;
                    super::webhooks::events::record(
                        &txn,
                        &super::webhooks::events::of_handoff(&change),
                    )
                    .await?;
                    changed += 1;
                }
            }
        }
        txn.commit().await?;
        if changed > 0 {
            bots.changed(tenant);
            returned += changed;
        }
    }
    Ok(returned)
}

/// The tenant's `human_idle_timeout` (at least a minute), as its bot reads it.
async fn human_idle_timeout(
    db: &DatabaseConnection,
    tenant: TenantId,
) -> Result<chrono::Duration, AppError> {
    let minutes: Option<i32> = tenant_config::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant_config::Column::HumanIdleTimeoutMinutes)
        .into_tuple()
        .one(db)
        .await?;
    Ok(crate::domain::handoff::idle_timeout(minutes.unwrap_or(
        crate::domain::handoff::DEFAULT_HUMAN_IDLE_MINUTES,
    )))
}

/// Conversations whose number, contact name or customer's last message
/// holds `q` (case-insensitively), through the trigram index of migrations
/// 16 and 21: FTS5 on SQLite (for 3 characters or more: a trigram needs
/// 3), `pg_trgm` on PostgreSQL. Shorter searches scan, as they match
/// nearly everything.
///
/// On PostgreSQL the matches are collected first (`ARRAY(…)`, run once),
/// then sorted: left to itself, the planner walks the tenant's activity
/// index newest first and tests every row, expecting matches to be spread
/// evenly; a number whose chats are months old then reads the whole inbox
/// (in a copy of the bench's 100,000 conversations: 61 ms, against 4 ms
/// this way). The cost is now the number of matches, as on SQLite.
pub fn search(backend: sea_orm::DatabaseBackend, tenant: TenantId, q: &str) -> Condition {
    let pattern = format!("%{}%", like_escaped(&q.to_lowercase()));
    const PG_TEXT: &str =
        "lower(chat_id || ' ' || coalesce(contact_name, '') || ' ' || coalesce(last_in_text, ''))";
    match backend {
        sea_orm::DatabaseBackend::Postgres if q.chars().count() >= 3 => {
            Condition::all().add(Expr::cust_with_values(
                format!(
                    "conversation.id = ANY(ARRAY(SELECT id FROM conversation \
                     WHERE tenant_id = $1 AND {PG_TEXT} LIKE $2 ESCAPE '\\'))"
                ),
                [sea_orm::Value::from(tenant), pattern.into()],
            ))
        }
        sea_orm::DatabaseBackend::Postgres => Condition::all().add(Expr::cust_with_values(
            format!("{PG_TEXT} LIKE $1 ESCAPE '\\'"),
            [pattern],
        )),
        _ if q.chars().count() >= 3 => Condition::all().add(Expr::cust_with_values(
            "conversation.id IN (SELECT rowid FROM conversation_search \
             WHERE conversation_search MATCH ?)",
            [fts_phrase(q)],
        )),
        _ => {
            let lower = |column: conversation::Column| {
                Expr::expr(Func::lower(Expr::col((conversation::Entity, column))))
                    .like(LikeExpr::new(pattern.clone()).escape('\\'))
            };
            Condition::any()
                .add(lower(conversation::Column::ChatId))
                .add(lower(conversation::Column::ContactName))
                .add(lower(conversation::Column::LastInText))
        }
    }
}

/// `q` as one FTS5 phrase: its characters as they are, in order (with the
/// trigram tokenizer, a substring), never FTS5 query syntax.
fn fts_phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

/// Why a person's message cannot go out now, if it cannot.
pub(crate) fn reply_refusal(
    bots: &dyn BotControl,
    tenant: TenantId,
    transport: TransportKind,
    last_in_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<AppError> {
    if !bots.is_running(tenant) {
        return Some(AppError::new(
            ErrorCode::BotNotRunning,
            "The bot is not running: start it, then write again.",
        ));
    }
    let window_closed = last_in_at.is_none_or(|at| now - at > CLOUD_WINDOW);
    if transport == TransportKind::CloudApi && window_closed {
        return Some(AppError::new(
            ErrorCode::OutsideWindow,
            "The customer's last message is more than 24 hours old: WhatsApp only allows \
             pre-approved template messages now.",
        ));
    }
    None
}

pub(crate) fn parse_text(text: &str) -> Result<String, AppError> {
    let trimmed = text.trim();
    let problem = if trimmed.is_empty() {
        Some("must not be empty".to_owned())
    } else if trimmed.chars().count() > MAX_TEXT_CHARS {
        Some(format!("must be at most {MAX_TEXT_CHARS} characters"))
    } else if trimmed.contains('\0') {
        Some("must not contain a NUL character".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(AppError::validation(FieldErrors::from([(
            "text".to_owned(),
            problem,
        )]))),
        None => Ok(trimmed.to_owned()),
    }
}

async fn find(
    db: &impl sea_orm::ConnectionTrait,
    tenant: TenantId,
    id: ConversationId,
) -> Result<conversation::Model, AppError> {
    conversation::Entity::find_by_id(id.get())
        .filter(conversation::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::not_found(ErrorCode::ConversationNotFound, "No such conversation.")
        })
}

pub(crate) async fn transport_of(
    db: &DatabaseConnection,
    tenant: TenantId,
) -> Result<TransportKind, AppError> {
    let kind: Option<String> = tenant_config::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant_config::Column::Transport)
        .into_tuple()
        .one(db)
        .await?;
    let kind =
        kind.ok_or_else(|| AppError::not_found(ErrorCode::TenantNotFound, "No such tenant."))?;
    TransportKind::try_from_value(&kind).map_err(AppError::internal)
}

/// A page of `select`, newest first by (`at`, `id`): at most `limit` rows
/// after `cursor` (the last row of the page before), and the cursor of the
/// next page when there is one. Keyset paging: no OFFSET, so a page deep
/// in a long list costs what the first one does.
async fn newest_first<E>(
    db: &impl ConnectionTrait,
    mut select: sea_orm::Select<E>,
    (at, id): (E::Column, E::Column),
    cursor: Option<&str>,
    limit: u64,
    key: impl Fn(&E::Model) -> (DateTime<Utc>, i64),
) -> Result<(Vec<E::Model>, Option<String>), AppError>
where
    E: EntityTrait,
{
    if let Some(cursor) = cursor {
        let (before_at, before_id) = decode_cursor(cursor)?;
        select = select.filter(
            Condition::any()
                .add(at.lt(before_at))
                .add(Condition::all().add(at.eq(before_at)).add(id.lt(before_id))),
        );
    }
    let mut rows = select
        .order_by_desc(at)
        .order_by_desc(id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        rows.last().map(|row| {
            let (at, id) = key(row);
            encode_cursor(at, id)
        })
    } else {
        None
    };
    Ok((rows, next_cursor))
}

fn page_size(limit: Option<u64>) -> u64 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// `%`, `_` and the escape itself, escaped for LIKE … ESCAPE '\'.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A position in a list: (time, id) of the last item shown, opaque to
/// clients.
fn encode_cursor(at: DateTime<Utc>, id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}|{id}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    ))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, i64), AppError> {
    let bad = || {
        AppError::validation(FieldErrors::from([(
            "cursor".to_owned(),
            "is not a cursor this list gave out".to_owned(),
        )]))
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    Ok((at.with_timezone(&Utc), id.parse().map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_anything_else_is_refused() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:11:12.345678Z")
            .unwrap_or_default()
            .with_timezone(&Utc);
        let cursor = encode_cursor(at, 42);
        assert_eq!(decode_cursor(&cursor).ok(), Some((at, 42)));
        for bad in ["", "???", "bm90IGEgY3Vyc29y"] {
            let err = decode_cursor(bad).err().map(|e| e.code());
            assert_eq!(err, Some(ErrorCode::ValidationFailed), "{bad}");
        }
    }

    #[test]
    fn search_text_cannot_use_fts_syntax() {
        assert_eq!(fts_phrase("ana OR \"x"), "\"ana OR \"\"x\"");
    }

    #[test]
    fn search_text_cannot_use_like_wildcards() {
        assert_eq!(like_escaped("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn a_person_s_text_must_be_there_and_fit_one_whatsapp_message() {
        assert_eq!(parse_text("  hi \n").ok().as_deref(), Some("hi"));
        assert!(parse_text("   ").is_err());
        assert!(parse_text(&"a".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(parse_text(&"a".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(parse_text("a\0b").is_err());
    }
}
