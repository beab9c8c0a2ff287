//! Setup requests: a tenant owner asks for a bot (portal), an admin approves
//! or rejects it. The tenant's status moves with the request, through the
//! lifecycle state machine, in the same transaction.

use chrono::{DateTime, Utc};
use entity::enums::{SetupRequestStatus, TemplateType};
use entity::{setup_request, tenant, tenant_config};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::audit::Actor;
use super::control::BotControl;
use super::runtime::worker;
use super::tenants;
use super::{Page, PageRequest};
use crate::domain::bot::BotCommand;
use crate::domain::hours::BusinessHours;
use crate::domain::ids::TenantId;
use crate::domain::language::Language;
use crate::domain::lifecycle::LifecycleAction;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, ErrorCode, FieldErrors};

#[derive(Debug, Clone, Serialize)]
pub struct SetupRequestView {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub tenant_name: Option<String>,
    pub template_type: TemplateType,
    pub whatsapp_number: String,
    pub business_name: String,
    pub language: String,
    pub timezone: String,
    pub hours: Value,
    pub notes: Option<String>,
    pub status: SetupRequestStatus,
    pub review_note: Option<String>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn view(row: setup_request::Model, tenant_name: Option<String>) -> SetupRequestView {
    SetupRequestView {
        id: row.id,
        tenant_id: row.tenant_id.into(),
        tenant_name,
        template_type: row.template_type,
        whatsapp_number: row.whatsapp_number,
        business_name: row.business_name,
        language: row.language,
        timezone: row.timezone,
        hours: row.hours,
        notes: row.notes,
        status: row.status,
        review_note: row.review_note,
        reviewed_by: row.reviewed_by,
        reviewed_at: row.reviewed_at,
        created_at: row.created_at,
    }
}

/// A parsed setup request (the portal's onboarding form).
#[derive(Debug, Clone)]
pub struct NewSetupRequest {
    pub template_type: TemplateType,
    pub business_name: String,
    pub whatsapp_number: PhoneNumber,
    pub language: Language,
    pub timezone: chrono_tz::Tz,
    pub hours: BusinessHours,
    pub notes: Option<String>,
}

fn not_found() -> AppError {
    AppError::not_found(
        ErrorCode::SetupRequestNotFound,
        "There is no such setup request.",
    )
}

fn already_open() -> AppError {
    AppError::new(
        ErrorCode::Conflict,
        "A setup request is already waiting for review.",
    )
}

/// Submits a request for a tenant: NEW → PENDING, the tenant's config takes
/// the requested values; the WhatsApp number only on approval. One open
/// request at a time.
pub async fn submit(
    db: &DatabaseConnection,
    actor: &Actor,
    tenant_id: TenantId,
    user_id: Option<Uuid>,
    request: NewSetupRequest,
) -> Result<SetupRequestView, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let open = setup_request::Entity::find()
        .filter(setup_request::Column::TenantId.eq(tenant_id))
        .filter(setup_request::Column::Status.eq(SetupRequestStatus::Submitted))
        .count(&txn)
        .await?;
    if open > 0 {
        return Err(already_open());
    }
    tenants::apply(
        &txn,
        actor,
        tenant_id,
        LifecycleAction::SubmitSetupRequest,
        "setup_request.submitted",
        json!({ "whatsapp_number": request.whatsapp_number.as_str() }),
    )
    .await?;
    let now = Utc::now();
    let row = setup_request::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant_id.into()),
        user_id: Set(user_id),
        template_type: Set(request.template_type),
        whatsapp_number: Set(request.whatsapp_number.as_str().to_owned()),
        business_name: Set(request.business_name.clone()),
        language: Set(request.language.code().to_owned()),
        timezone: Set(request.timezone.name().to_owned()),
        hours: Set(request.hours.to_json()),
        notes: Set(request.notes.clone()),
        status: Set(SetupRequestStatus::Submitted),
        review_note: Set(None),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|err| match err.sql_err() {
        // Another submit of this tenant won the race (uq_setup_request_open).
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => already_open(),
        _ => err.into(),
    })?;
    // A welcome message nobody wrote (the default for the old name and
    // language, e.g. from the sign-up) follows the requested business.
    let (config, current) = tenant_config::Entity::find_by_id(tenant_id)
        .find_also_related(tenant::Entity)
        .one(&txn)
        .await?
        .ok_or_else(tenants::tenant_not_found)?;
    let untouched = Language::parse(&config.language).is_ok_and(|language| {
        config.welcome_message == language.default_welcome_message(&config.business_name)
    });
    let welcome_message = untouched.then(|| {
        request
            .language
            .default_welcome_message(&request.business_name)
    });
    // Likewise a tenant named after its business at sign-up (the owner's
    // name then) takes the requested business name.
    let named_after_business = current.is_some_and(|t| t.name == config.business_name);
    let name = named_after_business.then(|| request.business_name.clone());
    // The number is not checked against other tenants here: an owner must
    // not learn whose number is whose. It becomes the tenant's only when an
    // admin approves, and the approval refuses a number taken meanwhile, so
    // a request cannot reserve someone else's number either.
    let update = tenants::TenantUpdate {
        name,
        welcome_message,
        template_type: Some(request.template_type),
        business_name: Some(request.business_name),
        language: Some(request.language),
        timezone: Some(request.timezone),
        hours: Some(request.hours),
        ..Default::default()
    };
    tenants::write_update(&txn, actor, tenant_id, &update).await?;
    txn.commit().await?;
    Ok(view(row, None))
}

/// SUBMITTED first (oldest first: a queue), then the decided ones, newest first.
pub async fn list(
    db: &DatabaseConnection,
    status: Option<SetupRequestStatus>,
    page: PageRequest,
) -> Result<Page<SetupRequestView>, AppError> {
    let page = page.clamped();
    let mut query = setup_request::Entity::find();
    if let Some(status) = status {
        query = query.filter(setup_request::Column::Status.eq(status));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .find_also_related(tenant::Entity)
        .order_by_asc(Expr::cust(
            "CASE WHEN setup_request.status = 'SUBMITTED' THEN 0 ELSE 1 END",
        ))
        .order_by_desc(setup_request::Column::UpdatedAt)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|(row, tenant)| view(row, tenant.map(|t| t.name)))
            .collect(),
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// The tenant's requests, newest first (the portal's status page).
pub async fn for_tenant(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<Vec<SetupRequestView>, AppError> {
    Ok(setup_request::Entity::find()
        .filter(setup_request::Column::TenantId.eq(tenant_id))
        .order_by_desc(setup_request::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| view(row, None))
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Approves (PENDING → APPROVED) or rejects (PENDING → NEW, a note is
/// required) a waiting request. Returns the decided request. An approval
/// starts the tenant's bot in the same transaction (APPROVED → QR_PENDING,
/// desired state RUNNING): a crash right after it cannot leave an approved
/// tenant whose bot never starts.
pub async fn decide(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    reviewer: &str,
    id: Uuid,
    decision: Decision,
    note: Option<String>,
) -> Result<SetupRequestView, AppError> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if decision == Decision::Reject && note.is_none() {
        return Err(AppError::validation(FieldErrors::from([(
            "note".to_owned(),
            "say why the request is rejected: the tenant will read it".to_owned(),
        )])));
    }
    let txn = crate::db::begin_write(db).await?;
    let row = setup_request::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    if row.status != SetupRequestStatus::Submitted {
        return Err(AppError::new(
            ErrorCode::IllegalTransition,
            "This setup request has been decided already.",
        ));
    }
    let (action, status, event) = match decision {
        Decision::Approve => (
            LifecycleAction::Approve,
            SetupRequestStatus::Approved,
            "setup_request.approved",
        ),
        Decision::Reject => (
            LifecycleAction::Reject,
            SetupRequestStatus::Rejected,
            "setup_request.rejected",
        ),
    };
    tenants::apply(
        &txn,
        actor,
        row.tenant_id.into(),
        action,
        event,
        json!({ "setup_request_id": id, "note": note }),
    )
    .await?;
    if decision == Decision::Approve {
        // Taken meanwhile by another tenant: 409, nothing decided.
        let phone = PhoneNumber::parse(&row.whatsapp_number).map_err(|err| {
            AppError::internal(anyhow::anyhow!("stored request number is invalid: {err}"))
        })?;
        let update = tenants::TenantUpdate {
            phone_number: Some(phone),
            ..Default::default()
        };
        tenants::write_update(&txn, actor, row.tenant_id.into(), &update).await?;
        worker::record_command(&txn, actor, row.tenant_id.into(), BotCommand::Start).await?;
    }
    let mut active = row.into_active_model();
    active.status = Set(status);
    active.review_note = Set(note.clone());
    active.reviewed_by = Set(Some(reviewer.to_owned()));
    active.reviewed_at = Set(Some(Utc::now()));
    active.updated_at = Set(Utc::now());
    let row = active.update(&txn).await?;
    txn.commit().await?;
    bots.nudge(row.tenant_id.into()).await;
    Ok(view(row, None))
}
