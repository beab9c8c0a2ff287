//! The portal's pages: `/portal` (sends the owner where they stand),
//! onboarding (the setup request), status, logs and settings. The HTML twin
//! of `web::api::portal`.
//!
//! Every handler but `home` takes `OwnerSession` (STAFF get 403: these
//! pages are the owner's) and uses `session.tenant_id()`: no
//! path, query or form field names a tenant. A refused form (422, or 409
//! for a taken number) is rendered again with what was typed and the
//! message next to its field; a request already waiting (409) is shown on
//! the page; every other error goes to the error page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use entity::enums::{SetupRequestStatus, UserRole};

use super::{chrome, flash_redirect, html, redirect};
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::PageRequest;
use crate::services::portal::{self, OwnSetupRequest, SetupRequestDraft};
use crate::services::sessions::Flash;
use crate::services::setup_requests::NewSetupRequest;
use crate::services::tenants::{self, TenantUpdate, TenantUpdateDraft};
use crate::services::{bots, sandbox};
use crate::state::AppState;
use crate::urls::{PortalUrl, webhook_url};
use crate::views::components::Zone;
use crate::views::layout::{PortalChrome, PortalSection};
use crate::views::portal::onboarding::{self, Onboarding, RequestFormValues};
use crate::views::portal::settings::SettingsFormValues;
use crate::views::portal::{logs as logs_view, settings as settings_view, status as status_view};
use crate::views::transport::{TransportCard, TransportForms};
use crate::web::auth::{AnyForm, CsrfForm, OwnerSession, PortalSession};
use crate::web::forms::{self, form_hours, with_field_errors};

/// Onboarding until the tenant has sent a setup request, then status;
/// STAFF straight to the inbox, the only part of the portal they use.
pub async fn home(
    state: web::Data<AppState>,
    session: PortalSession,
) -> Result<HttpResponse, AppError> {
    if session.user.role != UserRole::Owner {
        return Ok(redirect(PortalUrl::Inbox));
    }
    let latest = portal::latest_request(&state.db, session.tenant_id()).await?;
    Ok(redirect(match latest {
        None => PortalUrl::Onboarding,
        Some(_) => PortalUrl::Status,
    }))
}

pub async fn onboarding(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let latest = portal::latest_request(&state.db, session.tenant_id()).await?;
    let values = match &latest {
        Some(request) => RequestFormValues::from_request(request),
        None => RequestFormValues::first_request(
            &portal::settings(&state.db, session.tenant_id()).await?,
            &session.user.name,
        ),
    };
    let chrome = chrome(&session, PortalSection::Onboarding);
    Ok(onboarding_page(
        StatusCode::OK,
        &chrome,
        latest.as_ref(),
        &values,
        &FieldErrors::new(),
    ))
}

pub async fn submit_onboarding(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let submitted = match parse_request(&form) {
        Ok(request) => portal::submit_request(&state.db, &session.user, request).await,
        Err(err) => Err(err),
    };
    let err = match submitted {
        Ok(_) => {
            let flash = Flash::success(
                "Your setup request was sent. The Flow HQ team will review it; this page shows their answer.",
            );
            return flash_redirect(&state, &session, flash, PortalUrl::Status).await;
        }
        Err(err) => err,
    };
    let shown_here = matches!(
        err.code(),
        ErrorCode::ValidationFailed
            | ErrorCode::PhoneNumberTaken
            | ErrorCode::Conflict
            | ErrorCode::IllegalTransition
    );
    if !shown_here {
        return Err(err);
    }
    // The page as it stands now (a request may be waiting after all), with
    // what was typed in the form and the refusal on top.
    let latest = portal::latest_request(&state.db, session.tenant_id()).await?;
    let values = RequestFormValues::from_form(|key| form.get(key).cloned());
    let summary = Flash::error(err.message());
    let chrome = PortalChrome {
        flash: Some(&summary),
        ..chrome(&session, PortalSection::Onboarding)
    };
    Ok(onboarding_page(
        err.code().status(),
        &chrome,
        latest.as_ref(),
        &values,
        err.fields(),
    ))
}

/// The onboarding page for the tenant's latest request: the form while
/// there is none or it was rejected, else where the request stands.
fn onboarding_page(
    status: StatusCode,
    chrome: &PortalChrome<'_>,
    latest: Option<&OwnSetupRequest>,
    values: &RequestFormValues,
    errors: &FieldErrors,
) -> HttpResponse {
    let onboarding = match latest {
        Some(request) if request.status == SetupRequestStatus::Submitted => {
            Onboarding::Waiting(request)
        }
        Some(request) if request.status == SetupRequestStatus::Approved => {
            Onboarding::Approved(request)
        }
        rejected => Onboarding::Form {
            values,
            errors,
            rejected,
        },
    };
    html(status, onboarding::page(chrome, &onboarding))
}

fn parse_request(form: &AnyForm) -> Result<NewSetupRequest, AppError> {
    let mut errors = FieldErrors::new();
    let hours = form_hours(form, &mut errors);
    let text = |key: &str| form.get(key).cloned().unwrap_or_default();
    let draft = SetupRequestDraft {
        template_type: text("template_type"),
        business_name: text("business_name"),
        whatsapp_number: text("whatsapp_number"),
        language: text("language"),
        timezone: form.get("timezone").cloned(),
        hours,
        notes: form.get("notes").cloned(),
    };
    with_field_errors(NewSetupRequest::try_from(draft), errors)
}

pub async fn status(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let (status, qr, settings) = tokio::try_join!(
        portal::status(&state.db, tenant, state.settings.bots.stale_after),
        portal::qr(&state.db, tenant),
        portal::settings(&state.db, tenant),
    )?;
    Ok(html(
        StatusCode::OK,
        status_view::page(
            &chrome(&session, PortalSection::Status),
            &status,
            &qr,
            &settings,
        ),
    ))
}

/// "Show a new QR code": the owner's own bot starts over when its codes ran
/// out (or it stopped in ERROR).
pub async fn new_link_code(
    state: web::Data<AppState>,
    session: OwnerSession,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let done = bots::owner_new_link_code(
        &state.db,
        state.bots.as_ref(),
        &state.new_link_codes,
        &session.actor(),
        session.tenant_id(),
    )
    .await;
    let flash = match done {
        Ok(_) => {
            Flash::success("Your bot is starting again; a new code to link with appears here.")
        }
        Err(err) if matches!(err.code(), ErrorCode::Conflict | ErrorCode::RateLimited) => {
            Flash::error(err.message())
        }
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, PortalUrl::Status).await
}

/// The sandbox's "Simulate the scan", for an owner trying the bot alone.
pub async fn sandbox_scan(
    state: web::Data<AppState>,
    session: OwnerSession,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let scanned = sandbox::scan(&state.db, state.sandbox.as_ref(), session.tenant_id(), None).await;
    let flash = match scanned {
        Ok(phone) => Flash::success(format!("Scanned with {phone}: linking…")),
        Err(err) if err.code() == ErrorCode::Conflict => Flash::error(err.message()),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, PortalUrl::Status).await
}

pub async fn logs(
    state: web::Data<AppState>,
    session: OwnerSession,
    page: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let (messages, settings) = tokio::try_join!(
        portal::logs(&state.db, tenant, page.into_inner()),
        portal::settings(&state.db, tenant),
    )?;
    Ok(html(
        StatusCode::OK,
        logs_view::page(
            &chrome(&session, PortalSection::Logs),
            &messages,
            Zone::named(&settings.timezone),
        ),
    ))
}

pub async fn settings(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let settings = portal::settings(&state.db, session.tenant_id()).await?;
    let values = SettingsFormValues::from_settings(&settings);
    settings_page(
        &state,
        &session,
        &values,
        &FieldErrors::new(),
        TransportForms::default(),
        None,
    )
    .await
}

/// The settings page: the reply settings (`values`, `errors`: stored, or as
/// typed into a refused form), and the WhatsApp connection card
/// (`transport_forms`: a refused transport or pairing form). `refused`
/// is the refusal's error, for the summary flash and the status.
pub(super) async fn settings_page(
    state: &AppState,
    session: &PortalSession,
    values: &SettingsFormValues,
    errors: &FieldErrors,
    transport_forms: TransportForms,
    refused: Option<&AppError>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let detail = tenants::get(&state.db, tenant).await?;
    let (view, unreadable) = forms::transport_view(state, &detail).await?;
    let webhook_url = webhook_url(&state.public_url, tenant);
    let (action, pairing_action) = (
        PortalUrl::SettingsTransport.to_string(),
        PortalUrl::SettingsPairing.to_string(),
    );
    let summary = refused.map(|err| Flash::error(err.message()));
    let mut chrome = chrome(session, PortalSection::Settings);
    if let Some(summary) = &summary {
        chrome.flash = Some(summary);
    }
    let connection = TransportCard {
        csrf: chrome.csrf_token,
        view: &view,
        unreadable,
        webhook_url: &webhook_url,
        action: &action,
        pairing_action: &pairing_action,
        forms: &transport_forms,
    };
    let status = refused.map_or(StatusCode::OK, |err| err.code().status());
    Ok(html(
        status,
        settings_view::page(&chrome, values, errors, &connection),
    ))
}

pub async fn save_settings(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let saved = match parse_settings(&form) {
        Ok(update) => {
            tenants::update(
                &state.db,
                state.bots.as_ref(),
                &session.actor(),
                tenant,
                update,
            )
            .await
        }
        Err(err) => Err(err),
    };
    match saved {
        Ok(_) => {
            let flash = Flash::success("Settings saved. Your bot uses them from its next message.");
            flash_redirect(&state, &session, flash, PortalUrl::Settings).await
        }
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            let values = SettingsFormValues::from_form(|key| form.get(key).cloned());
            settings_page(
                &state,
                &session,
                &values,
                err.fields(),
                TransportForms::default(),
                Some(&err),
            )
            .await
        }
        Err(err) => Err(err),
    }
}

/// The settings form edits only what an owner may change; every other
/// field of the draft stays `None` (unchanged). The `auto_reply` checkbox's
/// absence means "off".
fn parse_settings(form: &AnyForm) -> Result<TenantUpdate, AppError> {
    let mut errors = FieldErrors::new();
    let hours = form_hours(form, &mut errors);
    let text = |key: &str| form.get(key).cloned();
    // Hours on the form, minutes in the settings (0.1 h = 6 min).
    let human_idle_timeout_minutes = match text("human_idle_hours") {
        None => None,
        Some(hours) => match hours.trim().replace(',', ".").parse::<f64>() {
            Ok(h) if (0.1..=720.0).contains(&h) => Some((h * 60.0).round() as i64),
            _ => {
                errors.insert(
                    "human_idle_hours".to_owned(),
                    "must be a number of hours from 0.1 to 720".to_owned(),
                );
                None
            }
        },
    };
    let draft = TenantUpdateDraft {
        human_idle_timeout_minutes,
        template_type: text("template_type"),
        language: text("language"),
        timezone: text("timezone"),
        hours,
        welcome_message: text("welcome_message"),
        auto_reply: Some(form.contains_key("auto_reply")),
        ..TenantUpdateDraft::default()
    };
    with_field_errors(TenantUpdate::try_from(draft), errors)
}
