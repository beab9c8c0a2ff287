//! Writing tenants: provisioning (tenant + config + session + worker in one
//! transaction, complete defaults), the admin's edits, and deletion (the
//! schema cascades).

use chrono::Utc;
use chrono_tz::Tz;
use entity::enums::{
    DesiredState, SessionState, TemplateType, TenantStatus, TransportKind, WorkerStatus,
};
use entity::{tenant, tenant_config, whatsapp_session, worker_process};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, Set, SqlErr,
};
use serde_json::json;

use super::input::*;
use super::queries::*;
use crate::domain::bot::BotCommand;
use crate::domain::hours::BusinessHours;
use crate::domain::ids::TenantId;
use crate::domain::language::Language;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::audit::{self, Actor};
use crate::services::control::BotControl;
use crate::services::runtime::worker;

fn phone_taken(phone: &PhoneNumber) -> AppError {
    let mut fields = FieldErrors::new();
    fields.insert(
        "phone_number".to_owned(),
        "is already used by another tenant".to_owned(),
    );
    AppError::new(
        ErrorCode::PhoneNumberTaken,
        format!("The phone number {phone} is already used by another tenant."),
    )
    .with_fields(fields)
}

/// Maps a unique-index violation on the phone number (a race with another
/// create) to the same 409 as the pre-check.
fn map_phone_race(err: sea_orm::DbErr, phone: &PhoneNumber) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => phone_taken(phone),
        _ => err.into(),
    }
}

/// 409 `phone_number_taken` when another tenant has this number.
pub(crate) async fn ensure_phone_free(
    conn: &impl ConnectionTrait,
    phone: &PhoneNumber,
    tenant: TenantId,
) -> Result<(), AppError> {
    if phone_in_use(conn, phone, Some(tenant)).await? {
        return Err(phone_taken(phone));
    }
    Ok(())
}

async fn phone_in_use(
    conn: &impl ConnectionTrait,
    phone: &PhoneNumber,
    except: Option<TenantId>,
) -> Result<bool, AppError> {
    let mut query = tenant::Entity::find().filter(tenant::Column::PhoneNumber.eq(phone.as_str()));
    if let Some(id) = except {
        query = query.filter(tenant::Column::Id.ne(id));
    }
    Ok(query.count(conn).await? > 0)
}

/// The rows every tenant has, with complete defaults. Shared by admin
/// creation and the portal's first sign-in.
pub async fn provision(
    conn: &impl ConnectionTrait,
    name: &str,
    phone_number: Option<&PhoneNumber>,
    config: ConfigDefaults<'_>,
) -> Result<TenantId, AppError> {
    let now = Utc::now();
    let id = TenantId::new_random();
    tenant::ActiveModel {
        id: Set(id.into()),
        name: Set(name.to_owned()),
        phone_number: Set(phone_number.map(|p| p.as_str().to_owned())),
        status: Set(TenantStatus::New),
        plan: Set(crate::services::plans::DEFAULT_PLAN.to_owned()),
        paused_before_error: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    // Another create took the number between the pre-check and here.
    .map_err(|err| match phone_number {
        Some(phone) => map_phone_race(err, phone),
        None => err.into(),
    })?;
    tenant_config::ActiveModel {
        tenant_id: Set(id.into()),
        template_type: Set(config.template_type),
        business_name: Set(config.business_name.to_owned()),
        language: Set(config.language.code().to_owned()),
        timezone: Set(config.timezone.name().to_owned()),
        hours: Set(config.hours.to_json()),
        welcome_message: Set(config
            .language
            .default_welcome_message(config.business_name)),
        auto_reply: Set(true),
        response_delay_ms: Set(DEFAULT_RESPONSE_DELAY_MS),
        max_message_length: Set(DEFAULT_MAX_MESSAGE_LENGTH),
        transport: Set(TransportKind::Sandbox),
        rate_limit_per_minute: Set(None),
        chat_rate_limit_per_minute: Set(None),
        human_idle_timeout_minutes: Set(crate::domain::handoff::DEFAULT_HUMAN_IDLE_MINUTES),
        ai_monthly_tokens: Set(None),
        ai_budget_noticed_month: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    whatsapp_session::ActiveModel {
        tenant_id: Set(id.into()),
        state: Set(SessionState::Disconnected),
        last_qr: Set(None),
        qr_expires_at: Set(None),
        linked_phone: Set(None),
        pairing_phone: Set(None),
        pairing_code: Set(None),
        last_seen_at: Set(None),
        offline_reason: Set(None),
        session_data: Set(None),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    worker_process::ActiveModel {
        tenant_id: Set(id.into()),
        desired_state: Set(DesiredState::Stopped),
        status: Set(WorkerStatus::Stopped),
        restart_count: Set(0),
        last_error: Set(None),
        last_heartbeat_at: Set(None),
        started_at: Set(None),
        owner_node: Set(None),
        lease_expires_at: Set(None),
        intent_version: Set(0),
        restart_generation: Set(0),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

/// The configuration a new tenant starts with.
pub struct ConfigDefaults<'a> {
    pub template_type: TemplateType,
    pub business_name: &'a str,
    pub language: Language,
    pub timezone: Tz,
    pub hours: &'a BusinessHours,
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    new: NewTenant,
) -> Result<TenantDetail, AppError> {
    if phone_in_use(db, &new.phone_number, None).await? {
        return Err(phone_taken(&new.phone_number));
    }
    let txn = crate::db::begin_write(db).await?;
    let id = provision(
        &txn,
        &new.name,
        Some(&new.phone_number),
        ConfigDefaults {
            template_type: new.template_type,
            business_name: &new.business_name,
            language: new.language,
            timezone: new.timezone,
            hours: &new.hours,
        },
    )
    .await?;
    audit::record(
        &txn,
        actor,
        Some(id),
        "tenant.created",
        json!({ "name": new.name, "phone_number": new.phone_number.as_str(),
                "template_type": template_name(new.template_type), "language": new.language.code() }),
    )
    .await?;
    txn.commit()
        .await
        .map_err(|err| map_phone_race(err, &new.phone_number))?;
    get(db, id).await
}

/// An admin's or owner's edit. The running bot picks it up (a changed rate
/// limit restarts it: its limiters are built at start).
pub async fn update(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    id: TenantId,
    update: TenantUpdate,
) -> Result<TenantDetail, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let change = write_update(&txn, actor, id, &update).await?;
    worker::record_change(&txn, id, change).await?;
    txn.commit()
        .await
        .map_err(|err| match &update.phone_number {
            Some(phone) => map_phone_race(err, phone),
            None => err.into(),
        })?;
    bots.nudge(id).await;
    get(db, id).await
}

/// The edit itself, inside the caller's transaction, with its audit row.
/// Answers what it asks of a running bot; the caller records that.
pub(crate) async fn write_update(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: TenantId,
    update: &TenantUpdate,
) -> Result<worker::Change, AppError> {
    if let Some(phone) = &update.phone_number {
        ensure_phone_free(conn, phone, id).await?;
    }
    let current = get(conn, id).await?;
    let now = Utc::now();
    let mut changed: Vec<&str> = Vec::new();

    let mut tenant = current.tenant_active_model();
    if let Some(name) = &update.name {
        tenant.name = Set(name.clone());
        changed.push("name");
    }
    if let Some(phone) = &update.phone_number {
        tenant.phone_number = Set(Some(phone.as_str().to_owned()));
        changed.push("phone_number");
    }
    tenant.updated_at = Set(now);
    tenant
        .update(conn)
        .await
        .map_err(|err| match &update.phone_number {
            Some(phone) => map_phone_race(err, phone),
            None => err.into(),
        })?;

    let mut config = current.config.into_active_model();
    macro_rules! set {
        ($field:ident, $value:expr) => {
            if let Some(value) = $value {
                config.$field = Set(value);
                changed.push(stringify!($field));
            }
        };
    }
    set!(template_type, update.template_type);
    set!(business_name, update.business_name.clone());
    set!(language, update.language.map(|l| l.code().to_owned()));
    set!(timezone, update.timezone.map(|tz| tz.name().to_owned()));
    set!(hours, update.hours.as_ref().map(BusinessHours::to_json));
    set!(welcome_message, update.welcome_message.clone());
    set!(auto_reply, update.auto_reply);
    set!(response_delay_ms, update.response_delay_ms);
    set!(max_message_length, update.max_message_length);
    set!(rate_limit_per_minute, update.rate_limit_per_minute);
    set!(
        chat_rate_limit_per_minute,
        update.chat_rate_limit_per_minute
    );
    set!(
        human_idle_timeout_minutes,
        update.human_idle_timeout_minutes
    );
    config.updated_at = Set(now);
    config.update(conn).await?;

    audit::record(
        conn,
        actor,
        Some(id),
        "tenant.updated",
        json!({ "fields": changed }),
    )
    .await?;
    let limits_changed =
        update.rate_limit_per_minute.is_some() || update.chat_rate_limit_per_minute.is_some();
    Ok(if limits_changed {
        worker::Change::Restart
    } else {
        worker::Change::Reload
    })
}

/// Deletes the tenant and (by cascade) everything it owns. The audit entry
/// outlives it, so it names the tenant in its payload, not by reference.
/// The bot stops first (its desired state, then the nudge waits for it):
/// a draining bot must not log rows for a tenant that no longer exists.
pub async fn delete(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    id: TenantId,
) -> Result<TenantSummary, AppError> {
    let txn = crate::db::begin_write(db).await?;
    worker::record_command(&txn, actor, id, BotCommand::Stop).await?;
    txn.commit().await?;
    bots.nudge(id).await;
    let txn = crate::db::begin_write(db).await?;
    let tenant = tenant::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(tenant_not_found)?;
    tenant::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        None,
        "tenant.deleted",
        json!({ "tenant_id": id, "name": tenant.name, "phone_number": tenant.phone_number }),
    )
    .await?;
    txn.commit().await?;
    // Gone from the database: the runtime forgets what it kept of it.
    bots.nudge(id).await;
    Ok(tenant.into())
}
