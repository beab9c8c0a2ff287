//! `/api/portal/team`: the JSON twin of the owner's team page. Every route
//! takes `OwnerSession` (STAFF get 403 `forbidden`); writes are
//! CSRF-checked (`PortalJson`) before their body is read. The invitation's
//! link is in the 201 answer only, never stored.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde::de::IgnoredAny;
use uuid::Uuid;

use super::portal::{PortalJson, no_store};
use super::resource;
use crate::error::AppError;
use crate::services::team::{self, InviteEmail};
use crate::state::AppState;
use crate::urls::invitation_link_base;
use crate::web::auth::OwnerSession;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/portal/team").route(web::get().to(show)))
        .service(resource("/portal/team/invitations").route(web::post().to(invite)))
        .service(resource("/portal/team/invitations/{id}/revoke").route(web::post().to(revoke)))
        .service(resource("/portal/team/members/{id}/remove").route(web::post().to(remove)));
}

async fn show(state: web::Data<AppState>, session: OwnerSession) -> Result<HttpResponse, AppError> {
    let team = team::team(&state.db, session.tenant_id()).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(team))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    #[serde(default)]
    email: String,
}

/// `{email}` → 201 `{invitation, link}`; the link is shown this once.
async fn invite(
    state: web::Data<AppState>,
    session: OwnerSession,
    body: PortalJson<InviteBody>,
) -> Result<HttpResponse, AppError> {
    let email = InviteEmail::parse(&body.0.email)?;
    let created = team::invite(
        &state.db,
        &session.user,
        &email,
        &invitation_link_base(&state.public_url),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(created))
}

async fn revoke(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<Uuid>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    team::revoke(&state.db, &session.user, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<Uuid>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    team::remove_member(&state.db, &state.live, &session.user, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
