//! API keys as JSON: `/api/portal/api-keys` (the owner's tenant,
//! `OwnerSession`, CSRF-checked writes) and `/api/admin/tenants/{id}/api-keys`
//! (any tenant, for admins). The same shapes under both; the secret `key`
//! is in the 201 answer only.

use actix_web::{HttpResponse, web};
use serde::de::IgnoredAny;

use super::portal::{PortalJson, no_store};
use super::resource;
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::error::AppError;
use crate::services::api_keys::{self, NewKey, NewKeyInput};
use crate::state::AppState;
use crate::web::auth::{ApiAdmin, OwnerSession};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/portal/api-keys")
            .route(web::get().to(portal_list))
            .route(web::post().to(portal_create)),
    )
    .service(resource("/portal/api-keys/{id}").route(web::delete().to(portal_revoke)))
    .service(
        resource("/admin/tenants/{id}/api-keys")
            .route(web::get().to(admin_list))
            .route(web::post().to(admin_create)),
    )
    .service(resource("/admin/tenants/{id}/api-keys/{kid}").route(web::delete().to(admin_revoke)));
}

fn json(status: actix_web::http::StatusCode, body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(no_store())
        .json(body)
}

async fn portal_list(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let keys = api_keys::list(&state.db, session.tenant_id()).await?;
    Ok(json(
        actix_web::http::StatusCode::OK,
        serde_json::json!({ "items": keys }),
    ))
}

async fn portal_create(
    state: web::Data<AppState>,
    session: OwnerSession,
    body: PortalJson<NewKeyInput>,
) -> Result<HttpResponse, AppError> {
    let new = NewKey::parse(&body.0, chrono::Utc::now())?;
    let created = api_keys::create(&state.db, &session.actor(), session.tenant_id(), &new).await?;
    Ok(json(actix_web::http::StatusCode::CREATED, created))
}

async fn portal_revoke(
    state: web::Data<AppState>,
    session: OwnerSession,
    kid: web::Path<ApiKeyId>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let revoked = api_keys::revoke(
        &state.db,
        &state.api_keys,
        &session.actor(),
        session.tenant_id(),
        *kid,
    )
    .await?;
    Ok(json(actix_web::http::StatusCode::OK, revoked))
}

async fn admin_list(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    crate::services::tenants::get(&state.db, *id).await?;
    let keys = api_keys::list(&state.db, *id).await?;
    Ok(json(
        actix_web::http::StatusCode::OK,
        serde_json::json!({ "items": keys }),
    ))
}

async fn admin_create(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<NewKeyInput>,
) -> Result<HttpResponse, AppError> {
    let new = NewKey::parse(&body, chrono::Utc::now())?;
    let created = api_keys::create(&state.db, &admin.actor(), *id, &new).await?;
    Ok(json(actix_web::http::StatusCode::CREATED, created))
}

async fn admin_revoke(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, ApiKeyId)>,
) -> Result<HttpResponse, AppError> {
    let (id, kid) = path.into_inner();
    let revoked = api_keys::revoke(&state.db, &state.api_keys, &admin.actor(), id, kid).await?;
    Ok(json(actix_web::http::StatusCode::OK, revoked))
}
