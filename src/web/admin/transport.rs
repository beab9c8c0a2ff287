//! The tenant page's Transport card: choosing the transport (with the
//! Cloud API credentials) and, for WhatsApp Web, linking by phone number
//! instead of a QR code. The HTML twin of `web::api::transports`.
//!
//! Owns: nothing of its own; reading and applying the forms is
//! `web::forms` (shared with the portal). A refused form (422) comes back
//! on the detail page with what was typed (never a secret) and the
//! messages next to the fields; a saved one is a flash.

use actix_web::{HttpResponse, web};

use super::flash_redirect;
use super::tenants::{Refused, detail_page};
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode};
use crate::services::tenants;
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::views::transport::TransportFormValues;
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};
use crate::web::forms;

pub async fn set(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    match forms::apply_transport(&state, &session.actor(), id, &form).await {
        Ok(flash) => flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await,
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            let values = TransportFormValues::from_form(|key| form.get(key).cloned());
            detail_page(
                &state,
                &session,
                id,
                Some((Refused::Transport(values), err)),
            )
            .await
        }
        Err(err) => Err(err),
    }
}

pub async fn pairing(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let detail = tenants::get(&state.db, id).await?;
    match forms::apply_pairing(
        &state,
        &session.actor(),
        &detail,
        &form,
        "in the Link WhatsApp panel",
    )
    .await
    {
        Ok(flash) => flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await,
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            let phone = form.get("phone").cloned().unwrap_or_default();
            detail_page(&state, &session, id, Some((Refused::Pairing(phone), err))).await
        }
        Err(err) => Err(err),
    }
}
