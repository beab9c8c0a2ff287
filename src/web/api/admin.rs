//! `/api/admin`: the JSON twin of the admin console. Every handler takes
//! `ApiAdmin` first (Bearer token or HTTP Basic; 401 JSON otherwise), parses
//! its input, calls a service and answers JSON.
//!
//! Request bodies are this module's own structs with `deny_unknown_fields`
//! (a typo like `"phone": …` is a 400, not a silently ignored field), each
//! converted field by field into the service's draft type, so the API and the
//! HTML forms validate identically. The service drafts themselves stay
//! lenient: the HTML forms send extra fields (`csrf_token`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::enums::{SetupRequestStatus, TenantStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{OptionalJson, empty_as_none, resource};
use crate::domain::ids::TenantId;
use crate::domain::lifecycle::LifecycleAction;
use crate::error::AppError;
use crate::services::setup_requests::{self, Decision};
use crate::services::tenants::{self, NewTenant, TenantDraft, TenantUpdate, TenantUpdateDraft};
use crate::services::{PageRequest, admins, audit, messages};
use crate::state::AppState;
use crate::web::auth::ApiAdmin;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Plain resources, not a `/admin` scope: a scope would swallow every
    // `/api/admin/…` path, hiding the routes other modules (bots) register.
    cfg.service(
        resource("/admin/tenants")
            .route(web::get().to(list_tenants))
            .route(web::post().to(create_tenant)),
    )
    .service(
        resource("/admin/tenants/{id}")
            .route(web::get().to(show_tenant))
            .route(web::patch().to(update_tenant))
            .route(web::delete().to(delete_tenant)),
    )
    .service(resource("/admin/tenants/{id}/pause").route(web::post().to(pause_tenant)))
    .service(resource("/admin/tenants/{id}/resume").route(web::post().to(resume_tenant)))
    .service(resource("/admin/tenants/{id}/logs").route(web::get().to(tenant_logs)))
    .service(resource("/admin/setup-requests").route(web::get().to(list_setup_requests)))
    .service(
        resource("/admin/setup-requests/{id}/approve").route(web::post().to(approve_setup_request)),
    )
    .service(
        resource("/admin/setup-requests/{id}/reject").route(web::post().to(reject_setup_request)),
    )
    .service(resource("/admin/audit").route(web::get().to(list_audit)))
    .service(
        resource("/admin/tokens")
            .route(web::get().to(list_tokens))
            .route(web::post().to(create_token)),
    )
    .service(resource("/admin/tokens/{id}").route(web::delete().to(revoke_token)));
}

fn tenant_location(id: TenantId) -> String {
    format!("/api/admin/tenants/{id}")
}

// ---- tenants ----

#[derive(Debug, Deserialize)]
struct TenantListQuery {
    q: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    status: Option<TenantStatus>,
}

async fn list_tenants(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<TenantListQuery>,
    page: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let filter = tenants::TenantFilter {
        q: query.q,
        status: query.status,
    };
    let page = tenants::list(&state.db, &filter, page.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `POST /api/admin/tenants`: the fields of `TenantDraft`, and no others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenantBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone_number: String,
    #[serde(default)]
    template_type: String,
    #[serde(default)]
    business_name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    hours: Option<serde_json::Value>,
}

impl From<CreateTenantBody> for TenantDraft {
    // No `..Default::default()`: a field added to the draft must be added here.
    fn from(body: CreateTenantBody) -> Self {
        TenantDraft {
            name: body.name,
            phone_number: body.phone_number,
            template_type: body.template_type,
            business_name: body.business_name,
            language: body.language,
            timezone: body.timezone,
            hours: body.hours,
        }
    }
}

async fn create_tenant(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    body: web::Json<CreateTenantBody>,
) -> Result<HttpResponse, AppError> {
    let new = NewTenant::try_from(TenantDraft::from(body.into_inner()))?;
    let detail = tenants::create(&state.db, &admin.actor(), new).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, tenant_location(detail.tenant.id)))
        .json(detail))
}

async fn show_tenant(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let detail = tenants::get(&state.db, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// `PATCH /api/admin/tenants/{id}`: the fields of `TenantUpdateDraft`, each
/// optional (absent or `null` = unchanged), and no others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTenantBody {
    name: Option<String>,
    phone_number: Option<String>,
    template_type: Option<String>,
    business_name: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
    hours: Option<serde_json::Value>,
    welcome_message: Option<String>,
    auto_reply: Option<bool>,
    response_delay_ms: Option<i64>,
    max_message_length: Option<i64>,
    rate_limit_per_minute: Option<i64>,
    chat_rate_limit_per_minute: Option<i64>,
    human_idle_timeout_minutes: Option<i64>,
}

impl From<UpdateTenantBody> for TenantUpdateDraft {
    // No `..Default::default()`: a field added to the draft must be added here.
    fn from(body: UpdateTenantBody) -> Self {
        TenantUpdateDraft {
            name: body.name,
            phone_number: body.phone_number,
            template_type: body.template_type,
            business_name: body.business_name,
            language: body.language,
            timezone: body.timezone,
            hours: body.hours,
            welcome_message: body.welcome_message,
            auto_reply: body.auto_reply,
            response_delay_ms: body.response_delay_ms,
            max_message_length: body.max_message_length,
            rate_limit_per_minute: body.rate_limit_per_minute,
            chat_rate_limit_per_minute: body.chat_rate_limit_per_minute,
            human_idle_timeout_minutes: body.human_idle_timeout_minutes,
        }
    }
}

async fn update_tenant(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<UpdateTenantBody>,
) -> Result<HttpResponse, AppError> {
    let update = TenantUpdate::try_from(TenantUpdateDraft::from(body.into_inner()))?;
    let detail = tenants::update(
        &state.db,
        state.bots.as_ref(),
        &admin.actor(),
        id.into_inner(),
        update,
    )
    .await?;
    Ok(HttpResponse::Ok().json(detail))
}

async fn delete_tenant(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    tenants::delete(&state.db, state.bots.as_ref(), &admin.actor(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The answer to pause and resume.
#[derive(Debug, Serialize)]
struct StatusChange {
    id: TenantId,
    status: TenantStatus,
}

async fn lifecycle(
    admin: &ApiAdmin,
    state: &AppState,
    id: TenantId,
    action: LifecycleAction,
) -> Result<HttpResponse, AppError> {
    let status =
        tenants::admin_action(&state.db, state.bots.as_ref(), &admin.actor(), id, action).await?;
    Ok(HttpResponse::Ok().json(StatusChange { id, status }))
}

async fn pause_tenant(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    lifecycle(&admin, &state, id.into_inner(), LifecycleAction::Pause).await
}

async fn resume_tenant(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    lifecycle(&admin, &state, id.into_inner(), LifecycleAction::Resume).await
}

async fn tenant_logs(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    page: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    // An unknown tenant is a 404, not an empty log.
    tenants::get(&state.db, id).await?;
    let page = messages::list(&state.db, id, page.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

// ---- setup requests ----

#[derive(Debug, Deserialize)]
struct SetupRequestQuery {
    #[serde(default, deserialize_with = "empty_as_none")]
    status: Option<SetupRequestStatus>,
}

async fn list_setup_requests(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<SetupRequestQuery>,
    page: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let page = setup_requests::list(&state.db, query.status, page.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `{note?}`; the body may be left out when approving. A rejection without a
/// note is refused by the service (422, field `note`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    #[serde(default)]
    note: Option<String>,
}

async fn decide(
    admin: ApiAdmin,
    state: &AppState,
    id: Uuid,
    decision: Decision,
    body: DecisionBody,
) -> Result<HttpResponse, AppError> {
    let view = setup_requests::decide(
        &state.db,
        state.bots.as_ref(),
        &admin.actor(),
        &admin.0.username,
        id,
        decision,
        body.note,
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

async fn approve_setup_request(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: OptionalJson<DecisionBody>,
) -> Result<HttpResponse, AppError> {
    decide(admin, &state, id.into_inner(), Decision::Approve, body.0).await
}

async fn reject_setup_request(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: OptionalJson<DecisionBody>,
) -> Result<HttpResponse, AppError> {
    decide(admin, &state, id.into_inner(), Decision::Reject, body.0).await
}

// ---- audit ----

#[derive(Debug, Deserialize)]
struct AuditQuery {
    #[serde(default, deserialize_with = "empty_as_none")]
    tenant_id: Option<TenantId>,
}

async fn list_audit(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
    page: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let page = audit::list(&state.db, query.tenant_id, page.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

// ---- API tokens ----

async fn list_tokens(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tokens = admins::list_tokens(&state.db).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTokenBody {
    #[serde(default)]
    name: String,
}

/// The only response that ever carries a token's secret.
#[derive(Debug, Serialize)]
struct CreatedToken {
    token: String,
    id: Uuid,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
}

async fn create_token(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    body: web::Json<CreateTokenBody>,
) -> Result<HttpResponse, AppError> {
    let (token, secret) = admins::create_token(&state.db, &admin.0, &body.name).await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: secret,
        id: token.id,
        name: token.name,
        prefix: token.prefix,
        created_at: token.created_at,
    }))
}

async fn revoke_token(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let token = admins::revoke_token(&state.db, &admin.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(token))
}
