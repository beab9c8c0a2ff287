//! Webhook endpoints' JSON, the same shapes under `/api/portal/webhooks…`
//! (the owner's tenant; STAFF get 403), `/api/admin/tenants/{id}/webhooks…`
//! (any tenant, for admins) and `/api/v1/webhooks…` (the API key's tenant;
//! `webhooks:read` to read, `webhooks:write` for the rest; documented by
//! `WebhooksDoc`, joined to the tenant API's document). Each handler
//! resolves the tenant and the actor, then calls ONE use case of
//! `services::webhooks`.
//! The signing `secret` is only in the answers of the create and rotate
//! calls. Another tenant's endpoint is a 404 `webhook_not_found`.

use actix_web::{HttpResponse, web};
use serde::de::IgnoredAny;

use super::portal::{PortalJson, no_store};
use super::v1::ApiError;
use super::{OptionalJson, resource};
use crate::domain::ids::{TenantId, WebhookId};
use crate::error::AppError;
use crate::services::audit::Actor;
use crate::services::tenants;
use crate::services::webhooks::{
    self, AttemptPage, AttemptQuery, Endpoint, EndpointChange, NewEndpoint, Queued, Rotation,
    WithSecret,
};
use crate::state::AppState;
use crate::web::auth::{ApiAdmin, ApiKey, OwnerSession, scope};

/// The `/api/v1/webhooks…` part of the tenant API's document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    v1_list,
    v1_create,
    v1_get,
    v1_update,
    v1_delete,
    v1_attempts,
    v1_test,
    v1_rotate,
    v1_resend
))]
pub(super) struct WebhooksDoc;

/// `GET …/webhooks`: `{items}`, oldest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct EndpointList {
    items: Vec<Endpoint>,
}

async fn list(state: &AppState, tenant: TenantId) -> Result<HttpResponse, AppError> {
    let items = webhooks::list(&state.db, tenant).await?;
    Ok(json(EndpointList { items }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/webhooks")
            .route(web::get().to(v1_list))
            .route(web::post().to(v1_create)),
    )
    .service(
        resource("/v1/webhooks/{id}")
            .route(web::get().to(v1_get))
            .route(web::patch().to(v1_update))
            .route(web::delete().to(v1_delete)),
    )
    .service(resource("/v1/webhooks/{id}/attempts").route(web::get().to(v1_attempts)))
    .service(resource("/v1/webhooks/{id}/test").route(web::post().to(v1_test)))
    .service(resource("/v1/webhooks/{id}/rotate-secret").route(web::post().to(v1_rotate)))
    .service(resource("/v1/webhooks/{id}/events/{event}/resend").route(web::post().to(v1_resend)))
    .service(
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
    list(&state, session.tenant_id()).await
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
    list(&state, tenant).await
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

// ---- /api/v1: the API key's tenant ----

/// The tenant's webhook endpoints, oldest first (never their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = EndpointList)),
    security(("api_key" = ["webhooks:read"])))]
async fn v1_list(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksRead>,
) -> Result<HttpResponse, AppError> {
    list(&state, key.tenant()).await
}

/// A new endpoint. Its signing `secret` is in this answer only.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = NewEndpoint,
    responses(
        (status = 201, body = WithSecret),
        (status = 422, description = "`validation_failed`: `fields` names `url` (not https, or a private address), `events`, `concurrency`", body = ApiError),
        (status = 409, description = "The tenant has the most endpoints allowed", body = ApiError),
    ),
    security(("api_key" = ["webhooks:write"])))]
async fn v1_create(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksWrite>,
    body: web::Json<NewEndpoint>,
) -> Result<HttpResponse, AppError> {
    create(&state, &key.key.actor(), key.tenant(), &body).await
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (a UUID)")),
    responses((status = 200, body = Endpoint), (status = 404, description = "`webhook_not_found`", body = ApiError)),
    security(("api_key" = ["webhooks:read"])))]
async fn v1_get(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksRead>,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    Ok(json(webhooks::get(&state.db, key.tenant(), *id).await?))
}

/// Changes what is given: `url`, `events`, `enabled`, `concurrency`.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (a UUID)")),
    request_body = EndpointChange,
    responses(
        (status = 200, body = Endpoint),
        (status = 404, description = "`webhook_not_found`", body = ApiError),
        (status = 422, description = "`validation_failed` with `fields`", body = ApiError),
    ),
    security(("api_key" = ["webhooks:write"])))]
async fn v1_update(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksWrite>,
    id: web::Path<WebhookId>,
    body: web::Json<EndpointChange>,
) -> Result<HttpResponse, AppError> {
    update(&state, &key.key.actor(), key.tenant(), *id, &body).await
}

/// Deletes the endpoint and its queue.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (a UUID)")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "`webhook_not_found`", body = ApiError)),
    security(("api_key" = ["webhooks:write"])))]
async fn v1_delete(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksWrite>,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    webhooks::delete(&state.db, &key.key.actor(), key.tenant(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The delivery log: each attempt's time, status code, duration and the
/// first bytes of the answer, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/attempts", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (a UUID)"), AttemptQuery),
    responses((status = 200, body = AttemptPage), (status = 404, description = "`webhook_not_found`", body = ApiError)),
    security(("api_key" = ["webhooks:read"])))]
async fn v1_attempts(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksRead>,
    id: web::Path<WebhookId>,
    query: web::Query<AttemptQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        webhooks::attempts(&state.db, key.tenant(), *id, &query).await?,
    ))
}

/// Queues a `webhook.test` event for this endpoint only.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (a UUID)")),
    responses((status = 202, body = Queued), (status = 404, description = "`webhook_not_found`", body = ApiError)),
    security(("api_key" = ["webhooks:write"])))]
async fn v1_test(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksWrite>,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    Ok(accepted(
        webhooks::send_test(&state.db, &state.webhooks, key.tenant(), *id).await?,
    ))
}

/// A new signing secret, in this answer only; the previous one keeps
/// signing too for `overlap_hours` (default 24). The body may be left out.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (a UUID)")),
    request_body(content = Option<Rotation>),
    responses(
        (status = 200, body = WithSecret),
        (status = 404, description = "`webhook_not_found`", body = ApiError),
        (status = 422, description = "`validation_failed`: `overlap_hours`", body = ApiError),
    ),
    security(("api_key" = ["webhooks:write"])))]
async fn v1_rotate(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksWrite>,
    id: web::Path<WebhookId>,
    body: OptionalJson<Rotation>,
) -> Result<HttpResponse, AppError> {
    rotate(&state, &key.key.actor(), key.tenant(), *id, &body.0).await
}

/// "Send again": the event (`event` of the delivery log) goes to the end
/// of the endpoint's queue once more, with the same id and body.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/events/{event}/resend", tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint's id (a UUID)"),
        ("event" = i64, Path, description = "The delivery log's `event`"),
    ),
    responses((status = 202, body = Queued), (status = 404, description = "`webhook_not_found`, or no such event for this endpoint", body = ApiError)),
    security(("api_key" = ["webhooks:write"])))]
async fn v1_resend(
    state: web::Data<AppState>,
    key: ApiKey<scope::WebhooksWrite>,
    path: web::Path<(WebhookId, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, event) = path.into_inner();
    Ok(accepted(
        webhooks::resend(
            &state.db,
            &state.webhooks,
            &key.key.actor(),
            key.tenant(),
            id,
            event,
        )
        .await?,
    ))
}
