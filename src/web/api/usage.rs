//! Plans and usage as JSON: `GET /api/portal/usage` (the owner's tenant),
//! `GET /api/admin/tenants/{id}/usage`, `GET /api/admin/usage` (every
//! tenant this month), `GET /api/admin/plans`, `POST /api/admin/plans`
//! (a new plan, 201), `PUT /api/admin/plans/{code}` (its name and limits;
//! the code stays), `PUT /api/admin/tenants/{id}/plan` `{plan}` (an admin moves a tenant; audit
//! row), `PUT /api/admin/tenants/{id}/ai-budget` `{monthly_tokens}` (the
//! tenant's AI tokens a month; `null`: its plan's). The usage shape is the same as `/api/v1/usage`'s.

use actix_web::{HttpResponse, web};

use super::portal::no_store;
use super::resource;
use crate::domain::ids::TenantId;
use crate::error::AppError;
use crate::services::plans::{self, AiBudget, ChangePlan, PlanInput};
use crate::services::usage;
use crate::state::AppState;
use crate::web::auth::{ApiAdmin, OwnerSession};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/portal/usage").route(web::get().to(portal_usage)))
        .service(resource("/admin/usage").route(web::get().to(admin_all)))
        .service(
            resource("/admin/plans")
                .route(web::get().to(admin_plans))
                .route(web::post().to(admin_create_plan)),
        )
        .service(resource("/admin/plans/{code}").route(web::put().to(admin_update_plan)))
        .service(resource("/admin/tenants/{id}/usage").route(web::get().to(admin_usage)))
        .service(resource("/admin/tenants/{id}/plan").route(web::put().to(admin_change_plan)))
        .service(resource("/admin/tenants/{id}/ai-budget").route(web::put().to(admin_ai_budget)));
}

fn json(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header(no_store()).json(body)
}

async fn portal_usage(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    Ok(json(usage::usage(&state.db, session.tenant_id()).await?))
}

async fn admin_all(_admin: ApiAdmin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    Ok(json(
        serde_json::json!({ "items": usage::per_tenant(&state.db).await? }),
    ))
}

async fn admin_plans(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        serde_json::json!({ "items": plans::list(&state.db).await? }),
    ))
}

async fn admin_create_plan(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    body: web::Json<PlanInput>,
) -> Result<HttpResponse, AppError> {
    let plan = plans::create(&state.db, &admin.actor(), &body).await?;
    Ok(HttpResponse::Created().insert_header(no_store()).json(plan))
}

async fn admin_update_plan(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    code: web::Path<String>,
    body: web::Json<PlanInput>,
) -> Result<HttpResponse, AppError> {
    let plan = plans::update(&state.db, state.bots.as_ref(), &admin.actor(), &code, &body).await?;
    Ok(json(plan))
}

async fn admin_usage(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    Ok(json(usage::usage(&state.db, *id).await?))
}

async fn admin_change_plan(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<ChangePlan>,
) -> Result<HttpResponse, AppError> {
    let plan = plans::change(
        &state.db,
        state.bots.as_ref(),
        &admin.actor(),
        *id,
        &body.plan,
    )
    .await?;
    Ok(json(plan))
}

async fn admin_ai_budget(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<AiBudget>,
) -> Result<HttpResponse, AppError> {
    let budget = plans::set_ai_budget(
        &state.db,
        state.bots.as_ref(),
        &admin.actor(),
        *id,
        body.into_inner(),
    )
    .await?;
    Ok(json(budget))
}
