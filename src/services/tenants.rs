//! Tenants: provisioning (tenant + config + session + worker in one
//! transaction, complete defaults), the admin's edits, lifecycle actions,
//! listing for 10,000+ tenants, and deletion (the schema cascades).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::enums::{
    DesiredState, Plan, SessionState, TemplateType, TenantStatus, TransportKind, WorkerStatus,
};
use entity::{tenant, tenant_config, whatsapp_session, worker_process};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor};
use super::{Page, PageRequest, like_pattern};
use crate::domain::hours::{BusinessHours, parse_timezone};
use crate::domain::language::Language;
use crate::domain::lifecycle::{LifecycleAction, transition};
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, ErrorCode, FieldErrors};

pub const DEFAULT_TIMEZONE: &str = "UTC";
pub const DEFAULT_RESPONSE_DELAY_MS: i32 = 1200;
pub const DEFAULT_MAX_MESSAGE_LENGTH: i32 = 4096;
/// WhatsApp refuses longer texts.
pub const MAX_MESSAGE_LENGTH_LIMIT: i32 = 4096;

/// What a user typed to create a tenant, before parsing. Both the HTML form
/// and the JSON API fill this, so they validate identically.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantDraft {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone_number: String,
    #[serde(default)]
    pub template_type: String,
    #[serde(default)]
    pub business_name: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub timezone: Option<String>,
    /// JSON: `{"mon": {"open": "09:00", "close": "18:00"}, …}`; the form
    /// handler parses its per-day fields into this too.
    #[serde(default)]
    pub hours: Option<serde_json::Value>,
}

/// A tenant to create, every field valid.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub phone_number: PhoneNumber,
    pub template_type: TemplateType,
    pub business_name: String,
    pub language: Language,
    pub timezone: Tz,
    pub hours: BusinessHours,
}

pub fn parse_template(input: &str) -> Result<TemplateType, String> {
    match input.trim().to_ascii_uppercase().as_str() {
        "BOOKING" => Ok(TemplateType::Booking),
        "ECOMMERCE" | "E-COMMERCE" => Ok(TemplateType::Ecommerce),
        "SUPPORT" => Ok(TemplateType::Support),
        "" => Err("choose a template".to_owned()),
        _ => Err("must be BOOKING, ECOMMERCE or SUPPORT".to_owned()),
    }
}

pub fn template_name(template: TemplateType) -> &'static str {
    match template {
        TemplateType::Booking => "BOOKING",
        TemplateType::Ecommerce => "ECOMMERCE",
        TemplateType::Support => "SUPPORT",
    }
}

fn required_text(field: &str, value: &str, max: usize, errors: &mut FieldErrors) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.insert(field.to_owned(), "is required".to_owned());
    } else if value.chars().count() > max {
        errors.insert(
            field.to_owned(),
            format!("must be at most {max} characters"),
        );
    }
    value.to_owned()
}

/// Collects the outcome of one field's parse into `errors`.
fn field<T>(field: &str, parsed: Result<T, String>, errors: &mut FieldErrors) -> Option<T> {
    parsed
        .map_err(|message| {
            errors.insert(field.to_owned(), message);
        })
        .ok()
}

impl TryFrom<TenantDraft> for NewTenant {
    type Error = AppError;

    fn try_from(draft: TenantDraft) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let name = required_text("name", &draft.name, 200, &mut errors);
        let business_name = required_text("business_name", &draft.business_name, 200, &mut errors);
        let phone_number = field(
            "phone_number",
            PhoneNumber::parse(&draft.phone_number),
            &mut errors,
        );
        let template_type = field(
            "template_type",
            parse_template(&draft.template_type),
            &mut errors,
        );
        let language = field("language", Language::parse(&draft.language), &mut errors);
        let timezone = match draft.timezone.as_deref().map(str::trim) {
            None | Some("") => parse_timezone(DEFAULT_TIMEZONE),
            Some(tz) => parse_timezone(tz),
        };
        let timezone = field("timezone", timezone, &mut errors);
        let hours = match &draft.hours {
            None | Some(serde_json::Value::Null) => Ok(BusinessHours::default()),
            Some(value) => BusinessHours::parse_json(value),
        };
        let hours = field("hours", hours, &mut errors);
        match (phone_number, template_type, language, timezone, hours) {
            (
                Some(phone_number),
                Some(template_type),
                Some(language),
                Some(timezone),
                Some(hours),
            ) if errors.is_empty() => Ok(Self {
                name,
                phone_number,
                template_type,
                business_name,
                language,
                timezone,
                hours,
            }),
            _ => Err(AppError::validation(errors)),
        }
    }
}

/// An edit of a tenant; absent fields stay as they are (JSON PATCH). The
/// form sends every field.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantUpdateDraft {
    pub name: Option<String>,
    pub phone_number: Option<String>,
    pub template_type: Option<String>,
    pub business_name: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub hours: Option<serde_json::Value>,
    pub welcome_message: Option<String>,
    pub auto_reply: Option<bool>,
    pub response_delay_ms: Option<i64>,
    pub max_message_length: Option<i64>,
    /// Replies per minute for the tenant; 0 means the platform default.
    pub rate_limit_per_minute: Option<i64>,
    /// Replies per minute within one chat; 0 means the platform default.
    pub chat_rate_limit_per_minute: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub phone_number: Option<PhoneNumber>,
    pub template_type: Option<TemplateType>,
    pub business_name: Option<String>,
    pub language: Option<Language>,
    pub timezone: Option<Tz>,
    pub hours: Option<BusinessHours>,
    pub welcome_message: Option<String>,
    pub auto_reply: Option<bool>,
    pub response_delay_ms: Option<i32>,
    pub max_message_length: Option<i32>,
    /// `Some(None)` goes back to the platform default.
    pub rate_limit_per_minute: Option<Option<i32>>,
    pub chat_rate_limit_per_minute: Option<Option<i32>>,
}

impl TryFrom<TenantUpdateDraft> for TenantUpdate {
    type Error = AppError;

    fn try_from(draft: TenantUpdateDraft) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let mut update = TenantUpdate {
            name: draft
                .name
                .map(|v| required_text("name", &v, 200, &mut errors)),
            business_name: draft
                .business_name
                .map(|v| required_text("business_name", &v, 200, &mut errors)),
            welcome_message: draft
                .welcome_message
                .map(|v| required_text("welcome_message", &v, 1000, &mut errors)),
            auto_reply: draft.auto_reply,
            ..Default::default()
        };
        update.phone_number = draft
            .phone_number
            .and_then(|v| field("phone_number", PhoneNumber::parse(&v), &mut errors));
        update.template_type = draft
            .template_type
            .and_then(|v| field("template_type", parse_template(&v), &mut errors));
        update.language = draft
            .language
            .and_then(|v| field("language", Language::parse(&v), &mut errors));
        update.timezone = draft
            .timezone
            .and_then(|v| field("timezone", parse_timezone(v.trim()), &mut errors));
        update.hours = draft
            .hours
            .and_then(|v| field("hours", BusinessHours::parse_json(&v), &mut errors));
        update.response_delay_ms = draft.response_delay_ms.and_then(|v| {
            let parsed = i32::try_from(v)
                .ok()
                .filter(|v| (0..=30_000).contains(v))
                .ok_or_else(|| "must be between 0 and 30000 milliseconds".to_owned());
            field("response_delay_ms", parsed, &mut errors)
        });
        update.max_message_length = draft.max_message_length.and_then(|v| {
            let parsed = i32::try_from(v)
                .ok()
                .filter(|v| (160..=MAX_MESSAGE_LENGTH_LIMIT).contains(v))
                .ok_or_else(|| format!("must be between 160 and {MAX_MESSAGE_LENGTH_LIMIT}"));
            field("max_message_length", parsed, &mut errors)
        });
        update.rate_limit_per_minute = draft
            .rate_limit_per_minute
            .and_then(|v| field("rate_limit_per_minute", rate_override(v), &mut errors));
        update.chat_rate_limit_per_minute = draft
            .chat_rate_limit_per_minute
            .and_then(|v| field("chat_rate_limit_per_minute", rate_override(v), &mut errors));
        if errors.is_empty() {
            Ok(update)
        } else {
            Err(AppError::validation(errors))
        }
    }
}

/// A per-tenant rate override: 0 clears it, 1 to 100,000 per minute sets it.
fn rate_override(value: i64) -> Result<Option<i32>, String> {
    match value {
        0 => Ok(None),
        1..=100_000 => Ok(i32::try_from(value).ok()),
        _ => {
            Err("must be between 1 and 100000 per minute, or 0 for the platform default".to_owned())
        }
    }
}

/// A tenant with everything provisioned with it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantDetail {
    #[serde(flatten)]
    pub tenant: TenantSummary,
    pub config: tenant_config::Model,
    pub session: whatsapp_session::Model,
    pub worker: worker_process::Model,
}

/// One row of the tenant list.
#[derive(Debug, Clone, Serialize)]
pub struct TenantSummary {
    pub id: Uuid,
    pub name: String,
    pub phone_number: Option<String>,
    pub status: TenantStatus,
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TenantDetail {
    fn tenant_active_model(&self) -> tenant::ActiveModel {
        tenant::ActiveModel {
            id: Set(self.tenant.id),
            ..Default::default()
        }
    }
}

impl From<tenant::Model> for TenantSummary {
    fn from(row: tenant::Model) -> Self {
        Self {
            id: row.id,
            name: row.name,
            phone_number: row.phone_number,
            status: row.status,
            plan: row.plan,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub fn tenant_not_found() -> AppError {
    AppError::not_found(ErrorCode::TenantNotFound, "There is no such tenant.")
}

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
    tenant: Uuid,
) -> Result<(), AppError> {
    if phone_in_use(conn, phone, Some(tenant)).await? {
        return Err(phone_taken(phone));
    }
    Ok(())
}

async fn phone_in_use(
    conn: &impl ConnectionTrait,
    phone: &PhoneNumber,
    except: Option<Uuid>,
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
) -> Result<Uuid, AppError> {
    let now = Utc::now();
    let id = Uuid::new_v4();
    tenant::ActiveModel {
        id: Set(id),
        name: Set(name.to_owned()),
        phone_number: Set(phone_number.map(|p| p.as_str().to_owned())),
        status: Set(TenantStatus::New),
        plan: Set(Plan::Free),
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
        tenant_id: Set(id),
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
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    whatsapp_session::ActiveModel {
        tenant_id: Set(id),
        state: Set(SessionState::Disconnected),
        last_qr: Set(None),
        qr_expires_at: Set(None),
        linked_phone: Set(None),
        pairing_phone: Set(None),
        pairing_code: Set(None),
        last_seen_at: Set(None),
        session_data: Set(None),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    worker_process::ActiveModel {
        tenant_id: Set(id),
        desired_state: Set(DesiredState::Stopped),
        status: Set(WorkerStatus::Stopped),
        restart_count: Set(0),
        last_error: Set(None),
        last_heartbeat_at: Set(None),
        started_at: Set(None),
        owner_node: Set(None),
        lease_expires_at: Set(None),
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

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<TenantDetail, AppError> {
    let tenant = tenant::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(tenant_not_found)?;
    let config = tenant_config::Entity::find_by_id(id).one(db).await?;
    let session = whatsapp_session::Entity::find_by_id(id).one(db).await?;
    let worker = worker_process::Entity::find_by_id(id).one(db).await?;
    match (config, session, worker) {
        (Some(config), Some(session), Some(worker)) => Ok(TenantDetail {
            tenant: tenant.into(),
            config,
            session,
            worker,
        }),
        _ => Err(AppError::internal(anyhow::anyhow!(
            "tenant {id} lacks its config, session or worker row"
        ))),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantFilter {
    /// Matches name or phone number, case-insensitively.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub status: Option<TenantStatus>,
}

/// Newest first. Served by the (status, created_at) and (created_at)
/// indexes; a text search scans, which stays in the milliseconds at 10,000
/// tenants (`flowhq bench` measures it).
pub async fn list(
    db: &DatabaseConnection,
    filter: &TenantFilter,
    page: PageRequest,
) -> Result<Page<TenantSummary>, AppError> {
    let page = page.clamped();
    let mut query = tenant::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(tenant::Column::Status.eq(status));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = like_pattern(q);
        query = query.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(tenant::Column::Name)))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::col(tenant::Column::PhoneNumber)
                        .like(LikeExpr::new(pattern).escape('\\')),
                ),
        );
    }
    let total = query.clone().count(db).await?;
    let items = query
        .order_by_desc(tenant::Column::CreatedAt)
        .order_by_desc(tenant::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok(Page {
        items: items.into_iter().map(TenantSummary::from).collect(),
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    update: TenantUpdate,
) -> Result<TenantDetail, AppError> {
    let txn = crate::db::begin_write(db).await?;
    write_update(&txn, actor, id, &update).await?;
    txn.commit()
        .await
        .map_err(|err| match &update.phone_number {
            Some(phone) => map_phone_race(err, phone),
            None => err.into(),
        })?;
    get(db, id).await
}

/// The edit itself, inside the caller's transaction, with its audit row.
pub(crate) async fn write_update(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    update: &TenantUpdate,
) -> Result<(), AppError> {
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
    config.updated_at = Set(now);
    config.update(conn).await?;

    audit::record(
        conn,
        actor,
        Some(id),
        "tenant.updated",
        json!({ "fields": changed }),
    )
    .await
}

/// Deletes the tenant and (by cascade) everything it owns. The audit entry
/// outlives it, so it names the tenant in its payload, not by reference.
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<TenantSummary, AppError> {
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
    Ok(tenant.into())
}

/// Applies a lifecycle action (refused with 409 when the state machine says
/// no) and records it. The status is re-read inside the transaction.
pub async fn apply(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    action: LifecycleAction,
    event_type: &str,
    details: serde_json::Value,
) -> Result<TenantStatus, AppError> {
    let tenant = tenant::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let next = transition(tenant.status, action).map_err(|err| {
        AppError::new(
            ErrorCode::IllegalTransition,
            crate::text::sentence(&err.to_string()),
        )
    })?;
    let from = tenant.status;
    let mut active = tenant.into_active_model();
    active.status = Set(next);
    active.updated_at = Set(Utc::now());
    active.update(conn).await?;
    let mut payload = json!({ "from": from, "to": next });
    if let (Some(payload), serde_json::Value::Object(details)) = (payload.as_object_mut(), details)
    {
        payload.extend(details);
    }
    audit::record(conn, actor, Some(id), event_type, payload).await?;
    Ok(next)
}

/// Pause or resume, from the admin console.
pub async fn admin_action(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    action: LifecycleAction,
) -> Result<TenantStatus, AppError> {
    let event = match action {
        LifecycleAction::Pause => "tenant.paused",
        LifecycleAction::Resume => "tenant.resumed",
        LifecycleAction::ApproveDirectly => "tenant.approved",
        _ => "tenant.status_changed",
    };
    let txn = crate::db::begin_write(db).await?;
    let status = apply(&txn, actor, id, action, event, json!({})).await?;
    txn.commit().await?;
    Ok(status)
}

/// What the dashboard shows.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub total: u64,
    pub by_status: Vec<(TenantStatus, u64)>,
    pub waiting_setup_requests: u64,
    pub errored: Vec<TenantSummary>,
}

pub async fn dashboard(db: &DatabaseConnection) -> Result<Dashboard, AppError> {
    let counts: Vec<(TenantStatus, i64)> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Status)
        .column_as(Expr::col(tenant::Column::Id).count(), "n")
        .group_by(tenant::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let by_status: Vec<(TenantStatus, u64)> = <TenantStatus as sea_orm::Iterable>::iter()
        .map(|status| {
            let n = counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (status, n)
        })
        .collect();
    let waiting_setup_requests = entity::setup_request::Entity::find()
        .filter(
            entity::setup_request::Column::Status.eq(entity::enums::SetupRequestStatus::Submitted),
        )
        .count(db)
        .await?;
    let errored = tenant::Entity::find()
        .filter(tenant::Column::Status.eq(TenantStatus::Error))
        .order_by_desc(tenant::Column::UpdatedAt)
        .limit(10)
        .all(db)
        .await?
        .into_iter()
        .map(TenantSummary::from)
        .collect();
    Ok(Dashboard {
        total: by_status.iter().map(|(_, n)| n).sum(),
        by_status,
        waiting_setup_requests,
        errored,
    })
}
