//! JSON API of the bot runtime: bot commands, the QR code, and the sandbox
//! (simulate a scan, deliver a customer message, read what the bot sent).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::OptionalJson;
use crate::domain::bot::BotCommand;
use crate::domain::ids::TenantId;
use crate::domain::lifecycle::LifecycleAction;
use crate::error::{AppError, ErrorCode};
use crate::services::sandbox::{self, CustomerDraft};
use crate::services::{bots, runtime, tenants};
use crate::state::AppState;
use crate::web::auth::ApiAdmin;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/tenants/{id}/approve").post(approve))
        .service(web::resource("/admin/tenants/{id}/bot/{action}").post(bot_command))
        .service(web::resource("/admin/tenants/{id}/qr").get(qr))
        .service(web::resource("/admin/tenants/{id}/sandbox/scan").post(scan))
        .service(web::resource("/admin/tenants/{id}/sandbox/inbound").post(inbound))
        .service(web::resource("/admin/tenants/{id}/sandbox/outbox").get(outbox));
}

/// Approves a tenant directly (one an admin created, no setup request).
async fn approve(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let status = tenants::admin_action(
        &state.db,
        state.bots.as_ref(),
        &admin.actor(),
        *id,
        LifecycleAction::ApproveDirectly,
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "id": *id, "status": status })))
}

async fn bot_command(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let command = BotCommand::parse(&action).ok_or_else(|| {
        AppError::not_found(
            ErrorCode::NotFound,
            "Unknown bot action: use start, stop, restart or force-restart.",
        )
    })?;
    let detail = bots::command(&state.db, state.bots.as_ref(), &admin.actor(), id, command).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": id,
        "action": command.as_str(),
        "status": detail.tenant.status,
        "running": state.bots.is_running(id),
        "worker": { "desired_state": detail.worker.desired_state, "status": detail.worker.status },
    })))
}

async fn qr(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(runtime::link::qr_view(&state.db, *id).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    /// The phone that "scans"; the tenant's own number when absent.
    phone: Option<String>,
}

async fn scan(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: OptionalJson<ScanBody>,
) -> Result<HttpResponse, AppError> {
    let phone = body.0.phone;
    let scanned_by =
        sandbox::scan(&state.db, state.sandbox.as_ref(), *id, phone.as_deref()).await?;
    Ok(HttpResponse::Accepted().json(json!({ "id": *id, "scanned_by": scanned_by })))
}

/// 202 once the message is stored: it is answered, whatever happens to
/// the process meanwhile.
async fn inbound(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    tenant: web::Path<TenantId>,
    body: web::Json<CustomerDraft>,
) -> Result<HttpResponse, AppError> {
    let written = sandbox::customer_writes(
        &state.db,
        state.bots.as_ref(),
        state.sandbox.as_ref(),
        *tenant,
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(json!({ "id": written.id })))
}

async fn outbox(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(sandbox::outbox(&state.db, state.sandbox.as_ref(), *id).await?))
}
