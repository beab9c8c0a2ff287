//! The settings page's WhatsApp connection: the owner chooses the
//! transport (with the Cloud API credentials) and, for WhatsApp Web, links
//! by phone number instead of a QR code. The tenant is the session's,
//! never a request's; credentials and links are the owner's business, not
//! staff's (`OwnerSession`).
//!
//! Owns: nothing of its own; reading and applying the forms is
//! `web::forms`, shared with the console. A refused form (422) comes back
//! on the settings page with what was typed (never a secret) and the
//! messages next to the fields; a saved one is a flash.

use actix_web::{HttpResponse, web};

use super::flash_redirect;
use super::pages::settings_page;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::{portal, tenants};
use crate::state::AppState;
use crate::urls::PortalUrl;
use crate::views::portal::settings::SettingsFormValues;
use crate::views::transport::{TransportFormValues, TransportForms};
use crate::web::auth::{AnyForm, CsrfForm, OwnerSession, PortalSession};
use crate::web::forms;

pub async fn set(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    match forms::apply_transport(&state, &session.actor(), tenant, &form).await {
        Ok(flash) => flash_redirect(&state, &session, flash, PortalUrl::Settings).await,
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            let forms = TransportForms {
                transport: Some(TransportFormValues::from_form(|key| form.get(key).cloned())),
                transport_errors: err.fields().clone(),
                ..TransportForms::default()
            };
            refused(&state, &session, forms, &err).await
        }
        Err(err) => Err(err),
    }
}

pub async fn pairing(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let detail = tenants::get(&state.db, session.tenant_id()).await?;
    match forms::apply_pairing(
        &state,
        &session.actor(),
        &detail,
        &form,
        "on the Status page",
    )
    .await
    {
        Ok(flash) => flash_redirect(&state, &session, flash, PortalUrl::Settings).await,
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            let forms = TransportForms {
                pairing_phone: form.get("phone").cloned().unwrap_or_default(),
                pairing_errors: err.fields().clone(),
                ..TransportForms::default()
            };
            refused(&state, &session, forms, &err).await
        }
        Err(err) => Err(err),
    }
}

/// The settings page with the stored reply settings and the refused
/// connection form.
async fn refused(
    state: &AppState,
    session: &PortalSession,
    forms: TransportForms,
    err: &AppError,
) -> Result<HttpResponse, AppError> {
    let settings = portal::settings(&state.db, session.tenant_id()).await?;
    settings_page(
        state,
        session,
        &SettingsFormValues::from_settings(&settings),
        &FieldErrors::new(),
        forms,
        Some(err),
    )
    .await
}
