//! JSON API of the bot runtime: bot commands, the QR code, and the sandbox
//! (simulate a scan, deliver a customer message, read what the bot sent).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::OptionalJson;
use crate::bots::transport::InboundMessage;
use crate::bots::transport::sandbox::SandboxError;
use crate::domain::bot::BotCommand;
use crate::domain::ids::TenantId;
use crate::domain::lifecycle::LifecycleAction;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::runtime;
use crate::services::tenants;
use crate::state::AppState;
use crate::web::auth::ApiAdmin;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{id}/approve", web::post().to(approve))
        .route(
            "/admin/tenants/{id}/bot/{action}",
            web::post().to(bot_command),
        )
        .route("/admin/tenants/{id}/qr", web::get().to(qr))
        .route("/admin/tenants/{id}/sandbox/scan", web::post().to(scan))
        .route(
            "/admin/tenants/{id}/sandbox/inbound",
            web::post().to(inbound),
        )
        .route("/admin/tenants/{id}/sandbox/outbox", web::get().to(outbox));
}

/// Approves a tenant directly (one an admin created, no setup request).
async fn approve(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let status = tenants::admin_action(
        &state.db,
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
    state.bots.command(&admin.actor(), id, command).await?;
    let detail = tenants::get(&state.db, id).await?;
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

fn sandbox_error(err: SandboxError) -> AppError {
    AppError::new(ErrorCode::Conflict, format!("Sandbox: {err}."))
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
    let id = *id;
    let detail = tenants::get(&state.db, id).await?;
    let phone = match body.0.phone {
        Some(phone) => PhoneNumber::parse(&phone)
            .map_err(|msg| AppError::validation(FieldErrors::from([("phone".to_owned(), msg)])))?
            .into_string(),
        None => detail
            .tenant
            .phone_number
            .unwrap_or_else(|| "+10000000000".to_owned()),
    };
    state.sandbox.scan(id, &phone).map_err(sandbox_error)?;
    Ok(HttpResponse::Accepted().json(json!({ "id": id, "scanned_by": phone })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundBody {
    from: String,
    text: String,
    /// The message id (dedup key); generated when absent.
    id: Option<String>,
}

async fn inbound(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    tenant: web::Path<TenantId>,
    body: web::Json<InboundBody>,
) -> Result<HttpResponse, AppError> {
    let tenant = *tenant;
    tenants::get(&state.db, tenant).await?;
    let body = body.into_inner();
    let mut fields = FieldErrors::new();
    let from = PhoneNumber::parse(&body.from)
        .map_err(|msg| fields.insert("from".to_owned(), msg))
        .ok();
    if body.text.trim().is_empty() {
        fields.insert("text".to_owned(), "is required".to_owned());
    }
    let id = body
        .id
        .unwrap_or_else(|| format!("sandbox-in.{}", Uuid::new_v4().simple()));
    if id.is_empty() || id.len() > 128 {
        fields.insert("id".to_owned(), "must have 1 to 128 characters".to_owned());
    }
    let (Some(from), true) = (from, fields.is_empty()) else {
        return Err(AppError::validation(fields));
    };
    let message = InboundMessage {
        id: id.clone(),
        from: from.into_string(),
        text: body.text,
        at: Utc::now(),
        stored_id: None,
    };
    state
        .sandbox
        .inbound(tenant, message)
        .map_err(sandbox_error)?;
    Ok(HttpResponse::Accepted().json(json!({ "id": id })))
}

async fn outbox(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    tenants::get(&state.db, *id).await?;
    Ok(HttpResponse::Ok().json(state.sandbox.outbox(*id)))
}
