//! Webhook endpoints' JSON, the same shapes under `/api/portal/webhooks…`
//! (the owner's tenant; STAFF get 403) and
//! `/api/admin/tenants/{id}/webhooks…` (any tenant, for admins). Each
//! handler resolves the tenant and the actor, then calls ONE use case of
//! `services::webhooks` (an `/api/v1` twin only needs its own extractor).
//! The signing `secret` is only in the answers of the create and rotate
//! calls. Another tenant's endpoint is a 404 `webhook_not_found`.

use actix_web::{HttpResponse, web};
use serde::de::IgnoredAny;

use super::portal::{PortalJson, no_store};
use super::resource;
use crate::domain::ids::{TenantId, WebhookId};
use crate::error::AppError;
use crate::services::audit::Actor;
use crate::services::tenants;
use crate::services::webhooks::{self, AttemptQuery, EndpointChange, NewEndpoint, Rotation};
use crate::state::AppState;
use crate::web::auth::{ApiAdmin, OwnerSession};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/portal/webhooks")
            .route(web::get().to(portal_list))
            .route(web::post().to(portal_create)),
    )
    .service(
        resource("/portal/webhooks/{wid}")
            .route(web::get().to(portal_get))
            .route(web::patch().to(portal_update))
            .route(web::delete().to(portal_delete)),
    )
    .service(resource("/portal/webhooks/{wid}/attempts").route(web::get().to(portal_attempts)))
    .service(resource("/portal/webhooks/{wid}/test").route(web::post().to(portal_test)))
    .service(resource("/portal/webhooks/{wid}/rotate-secret").route(web::post().to(portal_rotate)))
    .service(
        resource("/portal/webhooks/{wid}/events/{event}/resend")
            .route(web::post().to(portal_resend)),
    )
    .service(
        resource("/admin/tenants/{id}/webhooks")
            .route(web::get().to(admin_list))
            .route(web::post().to(admin_create)),
    )
    .service(
        resource("/admin/tenants/{id}/webhooks/{wid}")
            .route(web::get().to(admin_get))
            .route(web::patch().to(admin_update))
            .route(web::delete().to(admin_delete)),
    )
    .service(
        resource("/admin/tenants/{id}/webhooks/{wid}/attempts")
            .route(web::get().to(admin_attempts)),
    )
    .service(resource("/admin/tenants/{id}/webhooks/{wid}/test").route(web::post().to(admin_test)))
    .service(
        resource("/admin/tenants/{id}/webhooks/{wid}/rotate-secret")
            .route(web::post().to(admin_rotate)),
    )
    .service(
        resource("/admin/tenants/{id}/webhooks/{wid}/events/{event}/resend")
            .route(web::post().to(admin_resend)),
    );
}

fn json(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header(no_store()).json(body)
}

fn created(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Created().insert_header(no_store()).json(body)
}

fn accepted(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(no_store())
        .json(body)
}

/// The tenant of an admin request: an unknown one is a 404.
async fn admin_tenant(state: &AppState, id: TenantId) -> Result<TenantId, AppError> {
    tenants::get(&state.db, id).await?;
    Ok(id)
}

// ---- the calls, once for every prefix ----

async fn create(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    input: &NewEndpoint,
) -> Result<HttpResponse, AppError> {
    let made = webhooks::create(
        &state.db,
        &state.master_key,
        state.webhook_policy(),
        actor,
        tenant,
        input,
    )
    .await?;
    Ok(created(made))
}

async fn update(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: WebhookId,
    change: &EndpointChange,
) -> Result<HttpResponse, AppError> {
    let endpoint =
        webhooks::update(&state.db, state.webhook_policy(), actor, tenant, id, change).await?;
    Ok(json(endpoint))
}

async fn rotate(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    id: WebhookId,
    rotation: &Rotation,
) -> Result<HttpResponse, AppError> {
    let rotated =
        webhooks::rotate_secret(&state.db, &state.master_key, actor, tenant, id, rotation).await?;
    Ok(json(rotated))
}

// ---- portal ----

async fn portal_list(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let items = webhooks::list(&state.db, session.tenant_id()).await?;
    Ok(json(serde_json::json!({ "items": items })))
}

async fn portal_create(
    state: web::Data<AppState>,
    session: OwnerSession,
    body: PortalJson<NewEndpoint>,
) -> Result<HttpResponse, AppError> {
    create(&state, &session.actor(), session.tenant_id(), &body.0).await
}

async fn portal_get(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        webhooks::get(&state.db, session.tenant_id(), *wid).await?,
    ))
}

async fn portal_update(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    body: PortalJson<EndpointChange>,
) -> Result<HttpResponse, AppError> {
    update(&state, &session.actor(), session.tenant_id(), *wid, &body.0).await
}

async fn portal_delete(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    webhooks::delete(&state.db, &session.actor(), session.tenant_id(), *wid).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn portal_attempts(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    query: web::Query<AttemptQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        webhooks::attempts(&state.db, session.tenant_id(), *wid, &query).await?,
    ))
}

async fn portal_test(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    Ok(accepted(
        webhooks::send_test(&state.db, &state.webhooks, session.tenant_id(), *wid).await?,
    ))
}

async fn portal_rotate(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    body: PortalJson<Rotation>,
) -> Result<HttpResponse, AppError> {
    rotate(&state, &session.actor(), session.tenant_id(), *wid, &body.0).await
}

async fn portal_resend(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<(WebhookId, i64)>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let (wid, event) = path.into_inner();
    Ok(accepted(
        webhooks::resend(
            &state.db,
            &state.webhooks,
            &session.actor(),
            session.tenant_id(),
            wid,
            event,
        )
        .await?,
    ))
}

// ---- admin, per tenant ----

async fn admin_list(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let tenant = admin_tenant(&state, *id).await?;
    let items = webhooks::list(&state.db, tenant).await?;
    Ok(json(serde_json::json!({ "items": items })))
}

async fn admin_create(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<NewEndpoint>,
) -> Result<HttpResponse, AppError> {
    let tenant = admin_tenant(&state, *id).await?;
    create(&state, &admin.actor(), tenant, &body).await
}

async fn admin_get(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, WebhookId)>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    Ok(json(webhooks::get(&state.db, tenant, wid).await?))
}

async fn admin_update(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, WebhookId)>,
    body: web::Json<EndpointChange>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    update(&state, &admin.actor(), tenant, wid, &body).await
}

async fn admin_delete(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, WebhookId)>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    webhooks::delete(&state.db, &admin.actor(), tenant, wid).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn admin_attempts(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, WebhookId)>,
    query: web::Query<AttemptQuery>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    Ok(json(
        webhooks::attempts(&state.db, tenant, wid, &query).await?,
    ))
}

async fn admin_test(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, WebhookId)>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    Ok(accepted(
        webhooks::send_test(&state.db, &state.webhooks, tenant, wid).await?,
    ))
}

async fn admin_rotate(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, WebhookId)>,
    body: Option<web::Json<Rotation>>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    let rotation = body.map(web::Json::into_inner).unwrap_or_default();
    rotate(&state, &admin.actor(), tenant, wid, &rotation).await
}

async fn admin_resend(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, WebhookId, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, wid, event) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    Ok(accepted(
        webhooks::resend(
            &state.db,
            &state.webhooks,
            &admin.actor(),
            tenant,
            wid,
            event,
        )
        .await?,
    ))
}
