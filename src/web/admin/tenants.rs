//! Tenant pages: list (`GET /admin/tenants`), create (`GET …/new`,
//! `POST /admin/tenants`), detail and edit (`GET|POST …/{id}`), pause and
//! resume, and delete with its confirmation. (The bot on the detail page is
//! `bots`.)
//!
//! Owns: turning the HTML form (a flat map of strings) into the services'
//! drafts (with `web::forms`, shared with the portal): the hours grid becomes
//! the hours JSON, the number fields become numbers; what cannot be read
//! becomes a field error next to the field.
//! A refused form (422, or 409 for a taken number) is rendered again with
//! what was typed; every other error propagates to the error page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use entity::enums::TenantStatus;
use serde::Deserialize;

use super::{bots, chrome, flash_redirect, html};
use crate::domain::ids::TenantId;
use crate::domain::lifecycle::{LifecycleAction, status_name};
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::sessions::Flash;
use crate::services::tenants::{
    self, NewTenant, TenantDraft, TenantFilter, TenantUpdate, TenantUpdateDraft,
};
use crate::services::{PageRequest, audit, messages};
use crate::state::AppState;
use crate::urls::{AdminUrl, webhook_url};
use crate::views::admin::tenants::{self as view, DetailPage, ListFilter, TenantFormValues};
use crate::views::layout::{AdminChrome, Section};
use crate::views::transport::{TransportCard, TransportFormValues, TransportForms};
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};
use crate::web::forms::{self, form_hours, whole_number, with_field_errors};

/// How many messages and audit entries the detail page shows (its live
/// JSON too: `bots::live`).
pub(super) const DETAIL_ROWS: u64 = 20;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
}

/// "" and "any" mean every status; anything else must be a status name.
fn parse_status(raw: &str) -> Result<Option<TenantStatus>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("any") {
        return Ok(None);
    }
    <TenantStatus as sea_orm::Iterable>::iter()
        .find(|status| status_name(*status).eq_ignore_ascii_case(raw))
        .map(Some)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::BadRequest,
                format!("Unknown tenant status '{raw}'."),
            )
        })
}

pub async fn list(
    state: web::Data<AppState>,
    session: AdminSession,
    query: web::Query<ListQuery>,
    page_request: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let status = parse_status(&query.status)?;
    let filter = TenantFilter {
        q: Some(query.q.clone()),
        status,
    };
    let page = tenants::list(&state.db, &filter, page_request.into_inner()).await?;
    Ok(html(
        StatusCode::OK,
        view::list(
            &chrome(&session, Section::Tenants),
            &page,
            &ListFilter {
                q: &query.q,
                status,
            },
        ),
    ))
}

pub async fn new(session: AdminSession) -> HttpResponse {
    html(
        StatusCode::OK,
        view::new(
            &chrome(&session, Section::Tenants),
            &TenantFormValues::new_tenant(),
            &FieldErrors::new(),
        ),
    )
}

pub async fn create(
    state: web::Data<AppState>,
    session: AdminSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let created = match parse_new(&form) {
        Ok(new) => tenants::create(&state.db, &session.actor(), new).await,
        Err(err) => Err(err),
    };
    match created {
        Ok(detail) => {
            let flash = Flash::success(format!("Tenant {} created.", detail.tenant.name));
            flash_redirect(&state, &session, flash, AdminUrl::Tenant(detail.tenant.id)).await
        }
        Err(err) if shown_on_form(&err) => {
            let values = TenantFormValues::from_form(|key| form.get(key).cloned(), false);
            let summary = Flash::error(err.message());
            let chrome = AdminChrome {
                flash: Some(&summary),
                ..chrome(&session, Section::Tenants)
            };
            Ok(html(
                err.code().status(),
                view::new(&chrome, &values, err.fields()),
            ))
        }
        Err(err) => Err(err),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    detail_page(&state, &session, id.into_inner(), None).await
}

pub async fn update(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let updated = match parse_update(&form) {
        Ok(update) => {
            tenants::update(&state.db, state.bots.as_ref(), &session.actor(), id, update).await
        }
        Err(err) => Err(err),
    };
    match updated {
        Ok(_) => {
            flash_redirect(
                &state,
                &session,
                Flash::success("Saved."),
                AdminUrl::Tenant(id),
            )
            .await
        }
        Err(err) if shown_on_form(&err) => {
            let values = TenantFormValues::from_form(|key| form.get(key).cloned(), true);
            detail_page(
                &state,
                &session,
                id,
                Some((Refused::Tenant(Box::new(values)), err)),
            )
            .await
        }
        Err(err) => Err(err),
    }
}

/// A form of the detail page that was refused, with what was typed.
pub(super) enum Refused {
    /// The configuration form (boxed: far larger than the others).
    Tenant(Box<TenantFormValues>),
    /// The Transport card's form.
    Transport(TransportFormValues),
    /// The "link with phone number" form: the number typed.
    Pairing(String),
}

/// The detail page; `refused` carries a refused form (what was typed and
/// why), shown in that form instead of the stored values, with its status.
pub(super) async fn detail_page(
    state: &AppState,
    session: &AdminSession,
    id: TenantId,
    refused: Option<(Refused, AppError)>,
) -> Result<HttpResponse, AppError> {
    let latest = PageRequest {
        page: 1,
        per_page: DETAIL_ROWS,
    };
    let (detail, messages, audit, usage) = tokio::try_join!(
        tenants::get(&state.db, id),
        messages::list(&state.db, id, latest),
        audit::list(&state.db, Some(id), latest),
        crate::services::usage::usage(&state.db, id),
    )?;
    let chat = bots::chat(state, &detail).await?;
    let (transport, unreadable) = forms::transport_view(state, &detail).await?;
    let mut form = TenantFormValues::from_detail(&detail);
    let mut form_errors = FieldErrors::new();
    let mut transport_forms = TransportForms::default();
    let error = match refused {
        Some((refused, err)) => {
            let fields = err.fields().clone();
            match refused {
                Refused::Tenant(values) => {
                    form = *values;
                    form_errors = fields;
                }
                Refused::Transport(values) => {
                    transport_forms.transport = Some(values);
                    transport_forms.transport_errors = fields;
                }
                Refused::Pairing(phone) => {
                    transport_forms.pairing_phone = phone;
                    transport_forms.pairing_errors = fields;
                }
            }
            Some(err)
        }
        None => None,
    };
    let summary = error.as_ref().map(|err| Flash::error(err.message()));
    let mut chrome = chrome(session, Section::Tenants);
    if let Some(summary) = &summary {
        chrome.flash = Some(summary);
    }
    let webhook_url = webhook_url(&state.public_url, id);
    let (action, pairing_action) = (
        AdminUrl::TenantTransport(id).to_string(),
        AdminUrl::TenantPairing(id).to_string(),
    );
    let plans = crate::services::plans::list(&state.db).await?;
    let own_ai_budget = crate::services::plans::own_ai_budget(&state.db, id).await?;
    let page = DetailPage {
        plan: view::PlanCard {
            usage: &usage,
            plans: &plans,
            own_ai_budget,
        },
        detail: &detail,
        form: &form,
        errors: &form_errors,
        messages: &messages,
        audit: &audit,
        bot: bots::facts(state, &detail),
        chat: chat.as_deref(),
        transport: TransportCard {
            csrf: chrome.csrf_token,
            view: &transport,
            unreadable,
            webhook_url: &webhook_url,
            action: &action,
            pairing_action: &pairing_action,
            forms: &transport_forms,
        },
    };
    let status = error
        .as_ref()
        .map_or(StatusCode::OK, |err| err.code().status());
    Ok(html(status, view::detail(&chrome, &page)))
}

pub async fn pause(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    lifecycle(&state, &session, id.into_inner(), LifecycleAction::Pause).await
}

pub async fn resume(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    lifecycle(&state, &session, id.into_inner(), LifecycleAction::Resume).await
}

/// Pause, resume or approve; a refused transition is a flash on the detail
/// page, not an error page: the admin is looking at the tenant anyway.
pub(super) async fn lifecycle(
    state: &AppState,
    session: &AdminSession,
    id: TenantId,
    action: LifecycleAction,
) -> Result<HttpResponse, AppError> {
    let done =
        tenants::admin_action(&state.db, state.bots.as_ref(), &session.actor(), id, action).await;
    let flash = match done {
        Ok(status) => Flash::success(format!("The tenant is now {}.", status_name(status))),
        Err(err) if err.code() == ErrorCode::IllegalTransition => Flash::error(err.message()),
        Err(err) => return Err(err),
    };
    flash_redirect(state, session, flash, AdminUrl::Tenant(id)).await
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let detail = tenants::get(&state.db, id.into_inner()).await?;
    Ok(html(
        StatusCode::OK,
        view::confirm_delete(&chrome(&session, Section::Tenants), &detail.tenant),
    ))
}

pub async fn delete(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = tenants::delete(&state.db, state.bots.as_ref(), &session.actor(), *id).await?;
    let flash = Flash::success(format!("Tenant {} deleted.", tenant.name));
    flash_redirect(&state, &session, flash, AdminUrl::Tenants).await
}

/// Errors a tenant form shows next to its fields; the rest go to the error page.
fn shown_on_form(err: &AppError) -> bool {
    matches!(
        err.code(),
        ErrorCode::ValidationFailed | ErrorCode::PhoneNumberTaken
    )
}

fn parse_new(form: &AnyForm) -> Result<NewTenant, AppError> {
    let mut errors = FieldErrors::new();
    let hours = form_hours(form, &mut errors);
    let text = |key: &str| form.get(key).cloned().unwrap_or_default();
    let draft = TenantDraft {
        name: text("name"),
        phone_number: text("phone_number"),
        template_type: text("template_type"),
        business_name: text("business_name"),
        language: text("language"),
        timezone: form.get("timezone").cloned(),
        hours,
    };
    with_field_errors(NewTenant::try_from(draft), errors)
}

/// The edit form sends every field; one it left out stays as it is, except
/// the `auto_reply` checkbox, whose absence means "off".
fn parse_update(form: &AnyForm) -> Result<TenantUpdate, AppError> {
    let mut errors = FieldErrors::new();
    let hours = form_hours(form, &mut errors);
    let response_delay_ms = whole_number(form, "response_delay_ms", &mut errors);
    let max_message_length = whole_number(form, "max_message_length", &mut errors);
    // Empty means "platform default" (0) for the rate overrides.
    let rate = |key: &str, errors: &mut FieldErrors| match form.get(key).map(|v| v.trim()) {
        Some("") => Some(0),
        _ => whole_number(form, key, errors),
    };
    let rate_limit_per_minute = rate("rate_limit_per_minute", &mut errors);
    let chat_rate_limit_per_minute = rate("chat_rate_limit_per_minute", &mut errors);
    let text = |key: &str| form.get(key).cloned();
    let draft = TenantUpdateDraft {
        name: text("name"),
        phone_number: text("phone_number"),
        template_type: text("template_type"),
        business_name: text("business_name"),
        language: text("language"),
        timezone: text("timezone"),
        hours,
        welcome_message: text("welcome_message"),
        auto_reply: Some(form.contains_key("auto_reply")),
        response_delay_ms,
        max_message_length,
        rate_limit_per_minute,
        chat_rate_limit_per_minute,
        // The console leaves this to the owner's settings and the API.
        human_idle_timeout_minutes: None,
    };
    with_field_errors(TenantUpdate::try_from(draft), errors)
}
