//! The bot runtime's database side: what a bot reads to start, the state it
//! reports (QR, linked, failed), the admin's start/stop/restart requests,
//! the batched heartbeat, and the message log batches.
//!
//! Per-message writes go through `flush_log_batch` only (one transaction per
//! batch); everything else here happens a few times per bot lifetime.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::enums::{
    DesiredState, Direction, MessageStatus, SessionState, TemplateType, TenantStatus,
    TransportKind, WorkerStatus,
};
use entity::{message_log, tenant, whatsapp_session, worker_process};
use sea_orm::UpdateMany;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor};
use super::tenants::{self, tenant_not_found};
use crate::domain::hours::{BusinessHours, parse_timezone};
use crate::domain::language::Language;
use crate::domain::lifecycle::{LifecycleAction, transition};
use crate::error::{AppError, ErrorCode};

/// Everything a bot needs to answer for its tenant, read once at start and
/// again when the settings change.
#[derive(Debug, Clone)]
pub struct BotConfig {
    pub tenant_id: Uuid,
    pub status: TenantStatus,
    pub template: TemplateType,
    pub business_name: String,
    pub language: Language,
    pub timezone: Tz,
    pub hours: BusinessHours,
    pub welcome_message: String,
    pub auto_reply: bool,
    pub response_delay_ms: u64,
    pub max_message_length: usize,
    pub transport: TransportKind,
    pub rate_limit_per_minute: Option<u32>,
    pub chat_rate_limit_per_minute: Option<u32>,
    /// The phone an earlier link remembered (session data in the DB).
    pub linked_phone: Option<String>,
    /// Link by phone number (pairing code) instead of a QR code, when set.
    pub pairing_phone: Option<String>,
}

pub async fn load_bot_config(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> Result<BotConfig, AppError> {
    // Two queries, not `tenants::get`'s four: every bot start runs this,
    // 10,000 times in a row when a process boots.
    let (config, tenant) = entity::tenant_config::Entity::find_by_id(tenant_id)
        .find_also_related(tenant::Entity)
        .one(db)
        .await?
        .ok_or_else(tenant_not_found)?;
    let tenant = tenant.ok_or_else(tenant_not_found)?;
    let (session_data, pairing_phone) = whatsapp_session::Entity::find_by_id(tenant_id)
        .select_only()
        .column(whatsapp_session::Column::SessionData)
        .column(whatsapp_session::Column::PairingPhone)
        .into_tuple::<(Option<serde_json::Value>, Option<String>)>()
        .one(db)
        .await?
        .unwrap_or_default();
    let broken = |what: &str, err: String| {
        AppError::internal(anyhow::anyhow!(
            "tenant {tenant_id}: stored {what} is invalid: {err}"
        ))
    };
    let linked_phone = session_data
        .as_ref()
        .and_then(|data| data.get("linked_phone"))
        .and_then(|phone| phone.as_str())
        .map(str::to_owned);
    Ok(BotConfig {
        tenant_id,
        status: tenant.status,
        template: config.template_type,
        business_name: config.business_name,
        language: Language::parse(&config.language).map_err(|e| broken("language", e))?,
        timezone: parse_timezone(&config.timezone).map_err(|e| broken("timezone", e))?,
        hours: BusinessHours::parse_json(&config.hours).map_err(|e| broken("hours", e))?,
        welcome_message: config.welcome_message,
        auto_reply: config.auto_reply,
        response_delay_ms: u64::try_from(config.response_delay_ms).unwrap_or(0),
        max_message_length: usize::try_from(config.max_message_length)
            .unwrap_or(4096)
            .max(1),
        transport: config.transport,
        rate_limit_per_minute: config
            .rate_limit_per_minute
            .and_then(|v| u32::try_from(v).ok()),
        chat_rate_limit_per_minute: config
            .chat_rate_limit_per_minute
            .and_then(|v| u32::try_from(v).ok()),
        linked_phone,
        pairing_phone,
    })
}

/// The bot actions an admin (or an approval) can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotCommand {
    Start,
    Stop,
    Restart,
    ForceRestart,
}

impl BotCommand {
    pub fn parse(action: &str) -> Option<Self> {
        match action {
            "start" => Some(Self::Start),
            "stop" => Some(Self::Stop),
            "restart" => Some(Self::Restart),
            "force-restart" => Some(Self::ForceRestart),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::ForceRestart => "force-restart",
        }
    }
}

/// Records the admin's wish in `worker_process` (the registry acts on it)
/// and moves the tenant along the lifecycle: APPROVED → QR_PENDING on start,
/// ERROR → QR_PENDING on force-restart. Refused (409) when the tenant cannot
/// run a bot yet, or is in ERROR and only a force-restart may revive it.
pub async fn request(
    db: &DatabaseConnection,
    actor: &Actor,
    tenant_id: Uuid,
    command: BotCommand,
) -> Result<TenantStatus, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let refuse = |message: &str| {
        Err(AppError::new(
            ErrorCode::IllegalTransition,
            message.to_owned(),
        ))
    };
    let status = match (command, tenant.status) {
        (BotCommand::Stop, status) => status,
        (_, TenantStatus::New | TenantStatus::Pending) => {
            return refuse("This tenant is not approved yet: approve it before starting its bot.");
        }
        (BotCommand::ForceRestart, TenantStatus::Error) => {
            tenants::apply(
                &txn,
                actor,
                tenant_id,
                LifecycleAction::ForceRestart,
                "bot.force_restarted",
                json!({}),
            )
            .await?
        }
        (BotCommand::Start | BotCommand::Restart, TenantStatus::Error) => {
            return refuse("This bot stopped in ERROR: use force restart once the cause is fixed.");
        }
        (_, TenantStatus::Approved) => {
            tenants::apply(
                &txn,
                actor,
                tenant_id,
                LifecycleAction::StartBot,
                "bot.started",
                json!({}),
            )
            .await?
        }
        (_, status) => status,
    };
    let worker = worker_process::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let mut active = worker.into_active_model();
    match command {
        BotCommand::Stop => active.desired_state = Set(DesiredState::Stopped),
        BotCommand::Start | BotCommand::Restart => {
            active.desired_state = Set(DesiredState::Running);
        }
        BotCommand::ForceRestart => {
            active.desired_state = Set(DesiredState::Running);
            active.restart_count = Set(0);
            active.last_error = Set(None);
        }
    }
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        Some(tenant_id),
        &format!("bot.{}", command.as_str().replace('-', "_")),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(status)
}

/// The bot was stopped on purpose.
pub async fn record_stopped(db: &DatabaseConnection, tenant_id: Uuid) -> Result<(), DbErr> {
    worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::Status,
            WorkerStatus::Stopped.to_value().into(),
        )
        .col_expr(
            worker_process::Column::OwnerNode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(worker_process::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    session_without_qr(SessionState::Disconnected, Utc::now())
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A session UPDATE to `state` with no QR code showing; callers add the
/// columns of their own and the filter.
fn session_without_qr(
    state: SessionState,
    now: DateTime<Utc>,
) -> UpdateMany<whatsapp_session::Entity> {
    whatsapp_session::Entity::update_many()
        .col_expr(whatsapp_session::Column::State, state.to_value().into())
        .col_expr(
            whatsapp_session::Column::LastQr,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            whatsapp_session::Column::QrExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            whatsapp_session::Column::PairingCode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(whatsapp_session::Column::UpdatedAt, Expr::value(now))
}

/// A crash the supervisor will retry: RESTARTING, the error and the count kept.
pub async fn record_restarting(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    error: &str,
    restart_count: u32,
) -> Result<(), DbErr> {
    worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::Status,
            WorkerStatus::Restarting.to_value().into(),
        )
        .col_expr(
            worker_process::Column::LastError,
            Expr::value(error.to_owned()),
        )
        .col_expr(
            worker_process::Column::RestartCount,
            Expr::value(i32::try_from(restart_count).unwrap_or(i32::MAX)),
        )
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(worker_process::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// What a session waiting to be linked shows (admin page, portal, JSON).
#[derive(Debug, Clone, Copy)]
pub enum LinkCode<'a> {
    /// A QR code, as a `data:` URI.
    Qr(&'a str),
    /// An 8-character code to type on the phone (linking by phone number).
    Pairing(&'a str),
}

/// A new code to link with, replacing the one before (of either kind).
pub async fn record_link_code(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    code: LinkCode<'_>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (qr, pairing) = match code {
        LinkCode::Qr(qr) => (Some(qr.to_owned()), None),
        LinkCode::Pairing(code) => (None, Some(code.to_owned())),
    };
    whatsapp_session::Entity::update_many()
        .col_expr(
            whatsapp_session::Column::State,
            SessionState::QrReady.to_value().into(),
        )
        .col_expr(whatsapp_session::Column::LastQr, Expr::value(qr))
        .col_expr(whatsapp_session::Column::PairingCode, Expr::value(pairing))
        .col_expr(
            whatsapp_session::Column::QrExpiresAt,
            Expr::value(expires_at),
        )
        .col_expr(whatsapp_session::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Linked as `phone`: session CONNECTED (remembered for restarts), tenant
/// QR_PENDING → ACTIVE.
pub async fn record_connected(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    phone: &str,
) -> Result<TenantStatus, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    session_without_qr(SessionState::Connected, now)
        .col_expr(
            whatsapp_session::Column::LinkedPhone,
            Expr::value(phone.to_owned()),
        )
        .col_expr(whatsapp_session::Column::LastSeenAt, Expr::value(now))
        .col_expr(
            whatsapp_session::Column::SessionData,
            Expr::value(json!({ "linked_phone": phone })),
        )
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let status = match transition(tenant.status, LifecycleAction::Linked) {
        Ok(_) => {
            tenants::apply(
                &txn,
                &Actor::System,
                tenant_id,
                LifecycleAction::Linked,
                "bot.linked",
                json!({ "phone": phone }),
            )
            .await?
        }
        // Re-connecting an ACTIVE or PAUSED tenant changes nothing.
        Err(_) => tenant.status,
    };
    txn.commit().await?;
    Ok(status)
}

/// The bot gave up (QR timeout, logged out, crash loop, stale): tenant
/// ERROR, worker ERROR with the reason, desired state STOPPED so nothing
/// restarts it until an admin force-restarts. A logout also forgets the link.
pub async fn record_failed(
    db: &DatabaseConnection,
    tenant_id: Uuid,
    error: &str,
    logged_out: bool,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let Some(tenant) = tenant::Entity::find_by_id(tenant_id).one(&txn).await? else {
        // Deleted meanwhile: nothing to record.
        return Ok(());
    };
    if transition(tenant.status, LifecycleAction::Fail).is_ok() {
        tenants::apply(
            &txn,
            &Actor::System,
            tenant_id,
            LifecycleAction::Fail,
            "bot.failed",
            json!({ "error": error }),
        )
        .await?;
    }
    let now = Utc::now();
    worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::Status,
            WorkerStatus::Error.to_value().into(),
        )
        .col_expr(
            worker_process::Column::DesiredState,
            DesiredState::Stopped.to_value().into(),
        )
        .col_expr(
            worker_process::Column::LastError,
            Expr::value(error.to_owned()),
        )
        .col_expr(
            worker_process::Column::OwnerNode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(now))
        .filter(worker_process::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    let state = if logged_out {
        SessionState::LoggedOut
    } else {
        SessionState::Disconnected
    };
    let mut session = session_without_qr(state, now);
    if logged_out {
        session = session
            .col_expr(
                whatsapp_session::Column::SessionData,
                Expr::value(Option::<serde_json::Value>::None),
            )
            .col_expr(
                whatsapp_session::Column::LinkedPhone,
                Expr::value(Option::<String>::None),
            );
    }
    session
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// At start: workers still marked as running under another (so: a previous,
/// gone) process are not running anywhere. Marks them STOPPED so the stale
/// sweeper does not fail them for the previous process's silence; their
/// desired state is untouched, so reconcile starts them again.
/// (Single node: with several replicas this becomes lease expiry.)
pub async fn release_orphans(db: &DatabaseConnection, node: &str) -> Result<u64, DbErr> {
    let result = worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::Status,
            WorkerStatus::Stopped.to_value().into(),
        )
        .col_expr(
            worker_process::Column::OwnerNode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(worker_process::Column::Status.is_in([
            WorkerStatus::Running,
            WorkerStatus::Starting,
            WorkerStatus::Restarting,
        ]))
        .filter(
            sea_orm::Condition::any()
                .add(worker_process::Column::OwnerNode.is_null())
                .add(worker_process::Column::OwnerNode.ne(node)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Which of `ids` are tenants that still exist.
pub async fn existing_tenants(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, DbErr> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let rows: Vec<Uuid> = tenant::Entity::find()
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

/// Tenants whose bot should run.
pub async fn desired_running(db: &DatabaseConnection) -> Result<Vec<Uuid>, DbErr> {
    worker_process::Entity::find()
        .select_only()
        .column(worker_process::Column::TenantId)
        .filter(worker_process::Column::DesiredState.eq(DesiredState::Running))
        .into_tuple()
        .all(db)
        .await
}

/// ONE statement for all of this node's live bots, however many: every
/// worker owned by `node` gets the heartbeat, except the bots that failed
/// to answer the last ping (`stuck`, normally empty).
pub async fn heartbeat(
    db: &DatabaseConnection,
    node: &str,
    stuck: &[Uuid],
    at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut update = worker_process::Entity::update_many()
        .col_expr(worker_process::Column::LastHeartbeatAt, Expr::value(at))
        .filter(worker_process::Column::OwnerNode.eq(node))
        .filter(worker_process::Column::Status.eq(WorkerStatus::Running));
    if !stuck.is_empty() {
        update = update.filter(worker_process::Column::TenantId.is_not_in(stuck.iter().copied()));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Running workers whose heartbeat is older than `before`.
pub async fn stale_workers(
    db: &DatabaseConnection,
    before: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    worker_process::Entity::find()
        .select_only()
        .column(worker_process::Column::TenantId)
        .filter(worker_process::Column::Status.eq(WorkerStatus::Running))
        .filter(worker_process::Column::LastHeartbeatAt.lt(before))
        .into_tuple()
        .all(db)
        .await
}

/// Inbound messages persisted but never answered (a crash or a shutdown
/// past the drain bound), oldest first: by the time the message was sent,
/// as ids follow the key order of the log writer's batches, not arrival.
pub async fn unanswered(
    db: &DatabaseConnection,
    tenant_id: Uuid,
) -> Result<Vec<message_log::Model>, DbErr> {
    message_log::Entity::find()
        .filter(message_log::Column::Status.eq(MessageStatus::Received))
        .filter(message_log::Column::TenantId.eq(tenant_id))
        .filter(message_log::Column::Direction.eq(Direction::In))
        .order_by_asc(message_log::Column::CreatedAt)
        .order_by_asc(message_log::Column::Id)
        .all(db)
        .await
}

/// An inbound message to persist (dedup by the unique index).
#[derive(Debug, Clone)]
pub struct InboundRow {
    pub tenant_id: Uuid,
    pub wa_message_id: String,
    pub chat_id: String,
    /// The business's number the customer wrote to ("bot" before a link).
    pub to: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// A sent (or failed) reply to log.
#[derive(Debug, Clone)]
pub struct OutboundRow {
    pub tenant_id: Uuid,
    pub wa_message_id: Option<String>,
    pub chat_id: String,
    pub from: String,
    pub text: String,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Bots that came up (RUNNING on `node`) or came online (session
/// CONNECTED) since the last batch: a few statements for any number of bots,
/// where starting 10,000 bots would otherwise cost 20,000 transactions.
#[derive(Debug, Clone, Default)]
pub struct WorkerMarks {
    pub node: String,
    pub running: Vec<Uuid>,
    pub online: Vec<Uuid>,
}

/// IN lists stay well under every backend's bind-parameter limit.
const IN_LIST_CHUNK: usize = 1000;

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

/// The final status of an inbound row.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub id: i64,
    pub status: MessageStatus,
    pub error: Option<String>,
}

/// Rows per INSERT: SQLite allows 32,766 bound values per statement, and
/// one size of statement is prepared once and reused.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// Writes one batch in ONE transaction. Returns, for each inbound row in
/// order, its new id, or `None` when it was a duplicate (already stored, or
/// repeated within the batch).
pub async fn flush_log_batch(
    db: &DatabaseConnection,
    inbound: &[InboundRow],
    outbound: Vec<OutboundRow>,
    updates: Vec<StatusUpdate>,
    marks: &WorkerMarks,
) -> Result<Vec<Option<i64>>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    mark_workers(&txn, marks).await?;
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
        let rows: Vec<&InboundRow> = chunk.iter().map(|&i| &inbound[i]).collect();
        for (&i, id) in chunk.iter().zip(insert_inbound(&txn, &rows).await?) {
            ids[i] = id;
        }
    }
    let mut outbound = outbound.into_iter().peekable();
    while outbound.peek().is_some() {
        let rows = outbound
            .by_ref()
            .take(ROWS_PER_STATEMENT)
            .map(|row| message_log::ActiveModel {
                tenant_id: Set(row.tenant_id),
                direction: Set(Direction::Out),
                chat_id: Set(row.chat_id.clone()),
                sender: Set(row.from),
                recipient: Set(row.chat_id),
                text: Set(row.text),
                wa_message_id: Set(row.wa_message_id),
                status: Set(row.status),
                error: Set(row.error),
                created_at: Set(row.created_at),
                ..Default::default()
            });
        // A message id the transport reported twice must not cost the
        // batch (every tenant's rows in it): the first row stands.
        message_log::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    message_log::Column::TenantId,
                    message_log::Column::Direction,
                    message_log::Column::WaMessageId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    // Usually all ANSWERED without error: one statement.
    let mut groups: Vec<(MessageStatus, Option<String>, Vec<i64>)> = Vec::new();
    for update in updates {
        match groups
            .iter_mut()
            .find(|(s, e, _)| *s == update.status && *e == update.error)
        {
            Some((_, _, ids)) => ids.push(update.id),
            None => groups.push((update.status, update.error, vec![update.id])),
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
    txn.commit().await?;
    Ok(ids)
}

async fn insert_inbound(
    conn: &impl ConnectionTrait,
    rows: &[&InboundRow],
) -> Result<Vec<Option<i64>>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // A repeat inside the batch is a duplicate of its first occurrence.
    let mut first: std::collections::HashMap<(Uuid, &str), usize> =
        std::collections::HashMap::new();
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
        message_log::Column::CreatedAt,
    ]);
    for (i, row) in rows.iter().enumerate() {
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
                MessageStatus::Received.to_value().into(),
                row.created_at.into(),
            ])
            .map_err(|err| DbErr::Custom(err.to_string()))?;
    }
    insert
        .on_conflict(
            OnConflict::columns([
                message_log::Column::TenantId,
                message_log::Column::Direction,
                message_log::Column::WaMessageId,
            ])
            .do_nothing()
            .to_owned(),
        )
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
        let tenant_id: Uuid = row.try_get("", "tenant_id")?;
        let wa: String = row.try_get("", "wa_message_id")?;
        if let Some(&i) = first.get(&(tenant_id, wa.as_str())) {
            ids[i] = Some(id);
        }
    }
    Ok(ids)
}

/// What the QR endpoints answer: `{state, qr, expires_at}`, `qr` being a
/// `data:image/svg+xml;base64,…` URI while the state is QR_READY. When the
/// link is by phone number, `pairing_code` (8 characters, to type on that
/// phone) takes the QR code's place and `expires_at` is its expiry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QrView {
    pub state: SessionState,
    pub qr: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub linked_phone: Option<String>,
    /// Left out unless a code is shown: the JSON stays `{state, qr, expires_at}`
    /// for a QR-code link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairing_code: Option<String>,
}

pub async fn qr_view(db: &DatabaseConnection, tenant_id: Uuid) -> Result<QrView, AppError> {
    let session = whatsapp_session::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or_else(tenant_not_found)?;
    let showing = session.state == SessionState::QrReady;
    Ok(QrView {
        state: session.state,
        qr: if showing { session.last_qr } else { None },
        expires_at: if showing { session.qr_expires_at } else { None },
        linked_phone: session.linked_phone,
        pairing_code: if showing { session.pairing_code } else { None },
    })
}
