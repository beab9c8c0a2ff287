//! JSON API of a tenant's transport: which one its bot uses (with the Cloud
//! API credentials), and linking WhatsApp Web by phone number. A change
//! restarts a running bot so it takes effect at once.

use actix_web::{HttpResponse, web};
use entity::enums::TransportKind;
use serde::Deserialize;
use serde_json::json;

use crate::domain::ids::TenantId;
use crate::domain::phone::PhoneNumber;
use crate::error::{AppError, FieldErrors};
use crate::services::transports::{self, TransportInput};
use crate::state::AppState;
use crate::web::auth::ApiAdmin;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/tenants/{id}/transport")
            .route(web::get().to(show))
            .route(web::put().to(set)),
    )
    .service(web::resource("/admin/tenants/{id}/whatsapp/pairing").put(pairing));
}

/// The transport as admins see it, with (Cloud API only) the webhook
/// address to paste into Meta's app settings.
fn answer(state: &AppState, id: TenantId, view: transports::TransportView) -> HttpResponse {
    let webhook_url = (view.kind == TransportKind::CloudApi)
        .then(|| crate::urls::webhook_url(&state.public_url, id));
    HttpResponse::Ok().json(json!({
        "id": id,
        "transport": view,
        "webhook_url": webhook_url,
    }))
}

async fn show(
    _admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let view = transports::view(&state.db, &state.master_key, *id).await?;
    Ok(answer(&state, *id, view))
}

async fn set(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<TransportInput>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let view = transports::set(
        &state.db,
        &state.master_key,
        state.bots.as_ref(),
        &admin.actor(),
        id,
        body.into_inner(),
    )
    .await?;
    Ok(answer(&state, id, view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairingBody {
    /// E.164; `null` links with a QR code again.
    phone: Option<String>,
}

async fn pairing(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<PairingBody>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let phone = body
        .into_inner()
        .phone
        .map(|phone| PhoneNumber::parse(&phone))
        .transpose()
        .map_err(|msg| AppError::validation(FieldErrors::from([("phone".to_owned(), msg)])))?;
    transports::set_pairing_phone(
        &state.db,
        state.bots.as_ref(),
        &admin.actor(),
        id,
        phone.as_ref(),
    )
    .await?;
    let view = transports::view(&state.db, &state.master_key, id).await?;
    Ok(answer(&state, id, view))
}
