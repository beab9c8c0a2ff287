//! Worker control: what a bot reads to start (`BotConfig`), the admin's
//! start/stop/restart requests, and the states a bot reports about itself
//! (running, restarting, linked, failed, stopped), plus the batched
//! heartbeat and the stale sweep's query. Everything here happens a few
//! times per bot lifetime, never per message.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::enums::{
    DesiredState, SessionState, TemplateType, TenantStatus, TransportKind, WorkerStatus,
};
use entity::{tenant, whatsapp_session, worker_process};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};
use serde_json::json;

use super::link::session_without_qr;
use crate::domain::bot::BotCommand;
use crate::domain::hours::{BusinessHours, parse_timezone};
use crate::domain::ids::TenantId;
use crate::domain::language::Language;
use crate::domain::lifecycle::{LifecycleAction, transition};
use crate::error::{AppError, ErrorCode};
use crate::services::audit::{self, Actor};
use crate::services::tenants::{self, tenant_not_found};
use crate::services::webhooks;
use crate::services::webhooks::events::{BotStatusChangedV1, EventType, NewEvent};

/// Everything a bot needs to answer for its tenant, read once at start and
/// again when the settings change.
#[derive(Debug, Clone)]
pub struct BotConfig {
    pub tenant_id: TenantId,
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
    /// A chat with a person goes back to the bot after this long without
    /// a person's message.
    pub human_idle_timeout: chrono::Duration,
    /// The phone an earlier link remembered (session data in the DB).
    pub linked_phone: Option<String>,
    /// Link by phone number (pairing code) instead of a QR code, when set.
    pub pairing_phone: Option<String>,
    /// What the bot knows (facts, services, FAQ, the owner's wording),
    /// compiled for matching once per load.
    pub knowledge: std::sync::Arc<crate::replies::CompiledKnowledge>,
    /// The plan's messages a month (`None`: unlimited): at the limit the
    /// bot answers no more on its own.
    pub monthly_messages: Option<i64>,
    /// The tenant's monthly AI tokens (the admin's budget for it, else its
    /// plan's; `None`: unlimited).
    pub monthly_ai_tokens: Option<i64>,
}

impl BotConfig {
    /// What the reply engine knows of this tenant for one message: the bot
    /// and "Try your bot" answer from the same settings.
    pub fn reply_context(
        &self,
        first_contact: bool,
        people_notified: bool,
        out_of_hours_note_due: bool,
    ) -> crate::replies::ReplyContext<'_> {
        crate::replies::ReplyContext {
            template: self.template,
            language: self.language,
            business_name: &self.business_name,
            welcome_message: &self.welcome_message,
            hours: &self.hours,
            timezone: self.timezone,
            max_message_length: self.max_message_length,
            first_contact,
            people_notified,
            knowledge: &self.knowledge,
            out_of_hours_note_due,
        }
    }
}

pub async fn load_bot_config(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<BotConfig, AppError> {
    let row = start_rows(db, &[tenant_id]).await?.remove(&tenant_id);
    bot_config(tenant_id, row)
}

/// A tenant's `BotConfig` from its [`StartRow`] (`None`: no such tenant).
pub fn bot_config(tenant_id: TenantId, row: Option<StartRow>) -> Result<BotConfig, AppError> {
    let row = row.ok_or_else(tenant_not_found)?;
    let broken = |what: &str, err: String| {
        AppError::internal(anyhow::anyhow!(
            "tenant {tenant_id}: stored {what} is invalid: {err}"
        ))
    };
    let linked_phone = row
        .session_data
        .as_ref()
        .and_then(|data| data.get("linked_phone"))
        .and_then(|phone| phone.as_str())
        .map(str::to_owned);
    let knowledge = crate::services::knowledge::compiled(tenant_id, row.knowledge);
    Ok(BotConfig {
        tenant_id,
        status: row.status,
        template: row.template_type,
        business_name: row.business_name,
        language: Language::parse(&row.language).map_err(|e| broken("language", e))?,
        timezone: parse_timezone(&row.timezone).map_err(|e| broken("timezone", e))?,
        hours: BusinessHours::parse_json(&row.hours).map_err(|e| broken("hours", e))?,
        welcome_message: row.welcome_message,
        auto_reply: row.auto_reply,
        response_delay_ms: u64::try_from(row.response_delay_ms).unwrap_or(0),
        max_message_length: usize::try_from(row.max_message_length)
            .unwrap_or(4096)
            .max(1),
        transport: row.transport,
        rate_limit_per_minute: row
            .rate_limit_per_minute
            .and_then(|v| u32::try_from(v).ok()),
        chat_rate_limit_per_minute: row
            .chat_rate_limit_per_minute
            .and_then(|v| u32::try_from(v).ok()),
        human_idle_timeout: crate::domain::handoff::idle_timeout(row.human_idle_timeout_minutes),
        linked_phone,
        pairing_phone: row.pairing_phone,
        knowledge: std::sync::Arc::new(knowledge),
        monthly_messages: row.monthly_messages,
        monthly_ai_tokens: row.ai_monthly_tokens.or(row.plan_ai_tokens),
    })
}

/// What a bot reads to start, from its tenant's settings, status, link,
/// plan and knowledge ([`bot_config`] makes it a `BotConfig`).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct StartRow {
    tenant_id: TenantId,
    template_type: TemplateType,
    business_name: String,
    language: String,
    timezone: String,
    hours: serde_json::Value,
    welcome_message: String,
    auto_reply: bool,
    response_delay_ms: i32,
    max_message_length: i32,
    transport: TransportKind,
    rate_limit_per_minute: Option<i32>,
    chat_rate_limit_per_minute: Option<i32>,
    human_idle_timeout_minutes: i32,
    ai_monthly_tokens: Option<i64>,
    status: TenantStatus,
    session_data: Option<serde_json::Value>,
    pairing_phone: Option<String>,
    monthly_messages: Option<i64>,
    plan_ai_tokens: Option<i64>,
    knowledge: Option<serde_json::Value>,
}

/// The [`StartRow`]s of `tenants` (at most `IN_LIST_CHUNK`), in ONE query:
/// a bot start reads its own through [`super::start::StartReads`], which
/// asks for every bot starting at that moment at once.
pub async fn start_rows(
    db: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<std::collections::HashMap<TenantId, StartRow>, DbErr> {
    use entity::{plan, tenant_config, tenant_knowledge};
    use sea_orm::{JoinType, RelationTrait};
    type Config = tenant_config::Column;
    let rows = tenant_config::Entity::find()
        .filter(Config::TenantId.is_in(tenants.iter().copied()))
        .select_only()
        .columns([
            Config::TenantId,
            Config::TemplateType,
            Config::BusinessName,
            Config::Language,
            Config::Timezone,
            Config::Hours,
            Config::WelcomeMessage,
            Config::AutoReply,
            Config::ResponseDelayMs,
            Config::MaxMessageLength,
            Config::Transport,
            Config::RateLimitPerMinute,
            Config::ChatRateLimitPerMinute,
            Config::HumanIdleTimeoutMinutes,
            Config::AiMonthlyTokens,
        ])
        .column(tenant::Column::Status)
        .column(whatsapp_session::Column::SessionData)
        .column(whatsapp_session::Column::PairingPhone)
        .column(plan::Column::MonthlyMessages)
        .column_as(plan::Column::MonthlyAiTokens, "plan_ai_tokens")
        .column_as(tenant_knowledge::Column::Document, "knowledge")
        .join(JoinType::InnerJoin, tenant_config::Relation::Tenant.def())
        .join(
            JoinType::LeftJoin,
            tenant_config::Entity::belongs_to(whatsapp_session::Entity)
                .from(Config::TenantId)
                .to(whatsapp_session::Column::TenantId)
                .into(),
        )
        .join(
            JoinType::LeftJoin,
            tenant::Entity::belongs_to(plan::Entity)
                .from(tenant::Column::Plan)
                .to(plan::Column::Code)
                .into(),
        )
        .join(
            JoinType::LeftJoin,
            tenant_config::Entity::belongs_to(tenant_knowledge::Entity)
                .from(Config::TenantId)
                .to(tenant_knowledge::Column::TenantId)
                .into(),
        )
        .into_model::<StartRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.tenant_id, row)).collect())
}

/// What a tenant's worker row asks of its bot; the runtime converges on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotIntent {
    pub tenant: TenantId,
    pub desired: DesiredState,
    /// Up with every change the running bot should pick up (reload).
    pub version: i64,
    /// Up when the bot must start over.
    pub restart_generation: i64,
}

fn intent_query() -> sea_orm::Select<worker_process::Entity> {
    worker_process::Entity::find()
        .select_only()
        .column(worker_process::Column::TenantId)
        .column(worker_process::Column::DesiredState)
        .column(worker_process::Column::IntentVersion)
        .column(worker_process::Column::RestartGeneration)
}

fn to_intent(
    (tenant, desired, version, restart_generation): (TenantId, DesiredState, i64, i64),
) -> BotIntent {
    BotIntent {
        tenant,
        desired,
        version,
        restart_generation,
    }
}

/// The tenant's intent, or `None` when the tenant is gone.
pub async fn intent(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Option<BotIntent>, DbErr> {
    Ok(intent_query()
        .filter(worker_process::Column::TenantId.eq(tenant))
        .into_tuple()
        .one(db)
        .await?
        .map(to_intent))
}

/// Every tenant's intent (reconcile).
pub async fn intents(db: &impl ConnectionTrait) -> Result<Vec<BotIntent>, DbErr> {
    Ok(intent_query()
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .map(to_intent)
        .collect())
}

/// What a change asks of a running bot, written by the use case in its own
/// transaction before it nudges the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Re-read the settings (and the tenant's status).
    Reload,
    /// Start over (a new transport, a restart).
    Restart,
}

/// The update that tells a worker row's bot its intent changed: a new
/// intent version (the bot reloads when it sees one).
fn intent_bump() -> sea_orm::UpdateMany<worker_process::Entity> {
    worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::IntentVersion,
            Expr::col(worker_process::Column::IntentVersion).add(1),
        )
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(Utc::now()))
}

/// Records `change` on the tenant's worker row, inside the caller's
/// transaction.
pub async fn record_change(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    change: Change,
) -> Result<(), DbErr> {
    let mut update = intent_bump();
    if change == Change::Restart {
        update = update.col_expr(
            worker_process::Column::RestartGeneration,
            Expr::col(worker_process::Column::RestartGeneration).add(1),
        );
    }
    update
        .filter(worker_process::Column::TenantId.eq(tenant))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records a config change for every tenant on plan `code` (its limits
/// changed), in one statement inside the caller's transaction.
pub async fn record_change_on_plan(conn: &impl ConnectionTrait, code: &str) -> Result<(), DbErr> {
    use sea_orm::sea_query::Query;
    intent_bump()
        .filter(
            worker_process::Column::TenantId.in_subquery(
                Query::select()
                    .column(tenant::Column::Id)
                    .from(tenant::Entity)
                    .and_where(tenant::Column::Plan.eq(code))
                    .to_owned(),
            ),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// The audit event of a bot command; one row per command, with the
/// tenant's move along the lifecycle when there was one.
fn command_event(command: BotCommand) -> &'static str {
    match command {
        BotCommand::Start => "bot.started",
        BotCommand::Stop => "bot.stopped",
        BotCommand::Restart => "bot.restarted",
        BotCommand::ForceRestart => "bot.force_restarted",
    }
}

/// Records a bot command as the worker row's new intent, inside the
/// caller's transaction (an approval starts the bot in its own), and moves
/// the tenant along the lifecycle: APPROVED → QR_PENDING on start, ERROR →
/// QR_PENDING on force-restart. Refused (409) when the tenant cannot run a
/// bot yet, or is in ERROR and only a force-restart may revive it.
pub async fn record_command(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    tenant_id: TenantId,
    command: BotCommand,
) -> Result<TenantStatus, AppError> {
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(conn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let refuse = |message: &str| {
        Err(AppError::new(
            ErrorCode::IllegalTransition,
            message.to_owned(),
        ))
    };
    let event = command_event(command);
    let lifecycle = match (command, tenant.status) {
        (BotCommand::Stop, _) => None,
        (_, TenantStatus::New | TenantStatus::Pending) => {
            return refuse("This tenant is not approved yet: approve it before starting its bot.");
        }
        (BotCommand::ForceRestart, TenantStatus::Error) => Some(LifecycleAction::ForceRestart),
        (BotCommand::Start | BotCommand::Restart, TenantStatus::Error) => {
            return refuse("This bot stopped in ERROR: use force restart once the cause is fixed.");
        }
        (_, TenantStatus::Approved) => Some(LifecycleAction::StartBot),
        _ => None,
    };
    let status = match lifecycle {
        Some(action) => tenants::apply(conn, actor, tenant_id, action, event, json!({})).await?,
        None => {
            audit::record(conn, actor, Some(tenant_id), event, json!({})).await?;
            tenant.status
        }
    };
    let worker = worker_process::Entity::find_by_id(tenant_id)
        .one(conn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let version = worker.intent_version;
    let generation = worker.restart_generation;
    let mut active = worker.into_active_model();
    active.intent_version = Set(version + 1);
    match command {
        BotCommand::Stop => active.desired_state = Set(DesiredState::Stopped),
        BotCommand::Start => active.desired_state = Set(DesiredState::Running),
        BotCommand::Restart => {
            active.desired_state = Set(DesiredState::Running);
            active.restart_generation = Set(generation + 1);
        }
        BotCommand::ForceRestart => {
            active.desired_state = Set(DesiredState::Running);
            active.restart_generation = Set(generation + 1);
            active.restart_count = Set(0);
            active.last_error = Set(None);
        }
    }
    active.updated_at = Set(Utc::now());
    active.update(conn).await?;
    Ok(status)
}

/// A bot command in a transaction of its own (see `record_command`).
pub async fn request(
    db: &DatabaseConnection,
    actor: &Actor,
    tenant_id: TenantId,
    command: BotCommand,
) -> Result<TenantStatus, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let status = record_command(&txn, actor, tenant_id, command).await?;
    txn.commit().await?;
    Ok(status)
}

/// `bot.status_changed` for each of `tenants`, now `status`, queued in
/// the caller's transaction (only for endpoints that want it).
async fn status_changed(
    conn: &impl ConnectionTrait,
    tenants: &[TenantId],
    status: WorkerStatus,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let events: Vec<NewEvent> = tenants
        .iter()
        .map(|tenant| {
            NewEvent::new(
                *tenant,
                EventType::BotStatusChanged,
                at,
                &BotStatusChangedV1 {
                    status: status.to_value(),
                    error: error.map(str::to_owned),
                    at,
                },
            )
        })
        .collect();
    webhooks::events::record(conn, &events).await.map(drop)
}

/// The worker's status now, inside the caller's transaction.
async fn current_status(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Option<WorkerStatus>, DbErr> {
    worker_process::Entity::find_by_id(tenant_id)
        .select_only()
        .column(worker_process::Column::Status)
        .into_tuple()
        .one(conn)
        .await
}

/// The bot was stopped on purpose. A change (it was not STOPPED) is told
/// as `bot.status_changed` in the same transaction; the reconcile timer
/// calls this for bots already stopped, which changes and tells nothing.
pub async fn record_stopped(db: &DatabaseConnection, tenant_id: TenantId) -> Result<(), DbErr> {
    let now = Utc::now();
    let txn = webhooks::events::begin_in_turn(db, tenant_id).await?;
    let changed = worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::Status,
            WorkerStatus::Stopped.to_value().into(),
        )
        .col_expr(
            worker_process::Column::OwnerNode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(now))
        .filter(worker_process::Column::TenantId.eq(tenant_id))
        .filter(worker_process::Column::Status.ne(WorkerStatus::Stopped))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed > 0 {
        status_changed(&txn, &[tenant_id], WorkerStatus::Stopped, None, now).await?;
    }
    session_without_qr(SessionState::Disconnected, now)
        .filter(whatsapp_session::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// A crash the supervisor will retry: RESTARTING, the error and the count
/// kept; `bot.status_changed` when it was not RESTARTING already.
pub async fn record_restarting(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    error: &str,
    restart_count: u32,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let txn = webhooks::events::begin_in_turn(db, tenant_id).await?;
    let before = current_status(&txn, tenant_id).await?;
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
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(now))
        .filter(worker_process::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    if before.is_some_and(|status| status != WorkerStatus::Restarting) {
        status_changed(
            &txn,
            &[tenant_id],
            WorkerStatus::Restarting,
            Some(error),
            now,
        )
        .await?;
    }
    txn.commit().await
}

/// Linked as `phone`: session CONNECTED (remembered for restarts), tenant
/// QR_PENDING → ACTIVE.
pub async fn record_connected(
    db: &DatabaseConnection,
    tenant_id: TenantId,
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
    tenant_id: TenantId,
    error: &str,
    logged_out: bool,
) -> Result<(), AppError> {
    let txn = webhooks::events::begin_in_turn(db, tenant_id).await?;
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
    if current_status(&txn, tenant_id)
        .await?
        .is_some_and(|status| status != WorkerStatus::Error)
    {
        status_changed(&txn, &[tenant_id], WorkerStatus::Error, Some(error), now).await?;
    }
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
            worker_process::Column::IntentVersion,
            Expr::col(worker_process::Column::IntentVersion).add(1),
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
    let orphaned = || {
        sea_orm::Condition::all()
            .add(worker_process::Column::Status.is_in([
                WorkerStatus::Running,
                WorkerStatus::Starting,
                WorkerStatus::Restarting,
            ]))
            .add(
                sea_orm::Condition::any()
                    .add(worker_process::Column::OwnerNode.is_null())
                    .add(worker_process::Column::OwnerNode.ne(node)),
            )
    };
    stop_all(db, orphaned).await
}

/// Marks the workers `which` selects STOPPED, with `bot.status_changed`
/// for each, in one transaction of three statements whatever their number.
async fn stop_all(
    db: &DatabaseConnection,
    which: impl Fn() -> sea_orm::Condition,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let tenants: Vec<TenantId> = worker_process::Entity::find()
        .select_only()
        .column(worker_process::Column::TenantId)
        .filter(which())
        .filter(worker_process::Column::Status.ne(WorkerStatus::Stopped))
        .into_tuple()
        .all(&txn)
        .await?;
    // Read without locking anything: the turn is still taken first.
    webhooks::events::take_turn(&txn, &tenants).await?;
    let result = worker_process::Entity::update_many()
        .col_expr(
            worker_process::Column::Status,
            WorkerStatus::Stopped.to_value().into(),
        )
        .col_expr(
            worker_process::Column::OwnerNode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(worker_process::Column::UpdatedAt, Expr::value(now))
        .filter(which())
        .exec(&txn)
        .await?;
    status_changed(&txn, &tenants, WorkerStatus::Stopped, None, now).await?;
    txn.commit().await?;
    Ok(result.rows_affected)
}

/// Tenants whose bot should run.
pub async fn desired_running(db: &DatabaseConnection) -> Result<Vec<TenantId>, DbErr> {
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
    stuck: &[TenantId],
    at: DateTime<Utc>,
) -> Result<HeartbeatTick, DbErr> {
    let mut tick = HeartbeatTick::default();
    let mut update = worker_process::Entity::update_many()
        .col_expr(worker_process::Column::LastHeartbeatAt, Expr::value(at))
        .filter(worker_process::Column::OwnerNode.eq(node))
        .filter(worker_process::Column::Status.eq(WorkerStatus::Running));
    if !stuck.is_empty() {
        update = update.filter(worker_process::Column::TenantId.is_not_in(stuck.iter().copied()));
    }
    tick.recorded += crate::db::write_alone(db, update.exec(db))
        .await?
        .rows_affected;
    tick.statements += 1;
    Ok(tick)
}

/// What one heartbeat tick wrote: the statements it ran and the bots it
/// recorded as alive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatTick {
    pub statements: usize,
    pub recorded: u64,
}

/// At shutdown, after every bot of `node` stopped (or was given up on):
/// ONE transaction (three statements) records that none of them runs any
/// more, with their `bot.status_changed`, instead of one transaction per
/// bot while the pool is closing. Their desired state is
/// untouched, so the next start resumes them. Answers the rows changed.
pub async fn record_node_stopped(db: &DatabaseConnection, node: &str) -> Result<u64, DbErr> {
    stop_all(db, || {
        sea_orm::Condition::all().add(worker_process::Column::OwnerNode.eq(node))
    })
    .await
}

/// Running workers whose heartbeat is older than `before`.
pub async fn stale_workers(
    db: &DatabaseConnection,
    before: DateTime<Utc>,
) -> Result<Vec<TenantId>, DbErr> {
    worker_process::Entity::find()
        .select_only()
        .column(worker_process::Column::TenantId)
        .filter(worker_process::Column::Status.eq(WorkerStatus::Running))
        .filter(worker_process::Column::LastHeartbeatAt.lt(before))
        .into_tuple()
        .all(db)
        .await
}

/// The number the tenant's customers write to, as the log shows it: the
/// linked phone, or "bot" before the first link.
pub async fn business_number(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<String, DbErr> {
    let phone: Option<Option<String>> = whatsapp_session::Entity::find_by_id(tenant_id)
        .select_only()
        .column(whatsapp_session::Column::LinkedPhone)
        .into_tuple()
        .one(db)
        .await?;
    Ok(phone.flatten().unwrap_or_else(|| "bot".to_owned()))
}
