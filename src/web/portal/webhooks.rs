//! The owner's webhook pages (`/portal/webhooks…`): parse the form, call
//! ONE use case of `services::webhooks`, render or redirect. Every handler
//! takes `OwnerSession`; the tenant is the session's, so another tenant's
//! endpoint is a 404. The signing secret is only in the answer to the
//! create and rotate forms (never in a flash, which is stored).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{chrome, flash_redirect, html};
use crate::domain::ids::WebhookId;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::sessions::Flash;
use crate::services::webhooks::events::EventType;
use crate::services::webhooks::{self, AttemptQuery, EndpointChange, NewEndpoint, Rotation};
use crate::state::AppState;
use crate::urls::PortalUrl;
use crate::views::layout::PortalSection;
use crate::views::portal::webhooks::{self as view, EndpointPage, ListPage};
use crate::web::auth::{AnyForm, CsrfForm, OwnerSession};

pub async fn list(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let endpoints = webhooks::list(&state.db, session.tenant_id()).await?;
    Ok(html(
        StatusCode::OK,
        view::list(
            &chrome(&session, PortalSection::Webhooks),
            &ListPage {
                endpoints: &endpoints,
                url: "",
                events: &[EventType::MessageReceived],
                errors: &FieldErrors::new(),
                secret: None,
            },
        ),
    ))
}

/// The form's checkboxes are `event:<type>`.
fn checked_events(form: &AnyForm) -> Vec<String> {
    EventType::ALL
        .into_iter()
        .map(EventType::as_str)
        .filter(|name| form.contains_key(&format!("event:{name}")))
        .map(str::to_owned)
        .collect()
}

pub async fn create(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let input = NewEndpoint {
        url: form.get("url").cloned().unwrap_or_default(),
        events: checked_events(&form),
        enabled: None,
        concurrency: None,
    };
    let made = webhooks::create(
        &state.db,
        &state.master_key,
        state.webhook_policy(),
        &session.actor(),
        session.tenant_id(),
        &input,
    )
    .await;
    let (status, made, errors) = match made {
        Ok(made) => (StatusCode::OK, Some(made), FieldErrors::new()),
        Err(err)
            if matches!(
                err.code(),
                ErrorCode::ValidationFailed | ErrorCode::Conflict
            ) =>
        {
            let mut errors = err.fields().clone();
            errors
                .entry("url".to_owned())
                .or_insert_with(|| err.message().to_owned());
            (err.code().status(), None, errors)
        }
        Err(err) => return Err(err),
    };
    let endpoints = webhooks::list(&state.db, session.tenant_id()).await?;
    let typed: Vec<EventType> = input
        .events
        .iter()
        .filter_map(|name| EventType::parse(name))
        .collect();
    Ok(html(
        status,
        view::list(
            &chrome(&session, PortalSection::Webhooks),
            &ListPage {
                endpoints: &endpoints,
                url: if made.is_some() { "" } else { &input.url },
                events: &typed,
                errors: &errors,
                secret: made.as_ref().map(|m| (&m.endpoint, m.secret.as_str())),
            },
        ),
    ))
}

pub async fn show(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let endpoint = webhooks::get(&state.db, tenant, *wid).await?;
    let attempts = webhooks::attempts(&state.db, tenant, *wid, &AttemptQuery::default()).await?;
    Ok(html(
        StatusCode::OK,
        view::show(
            &chrome(&session, PortalSection::Webhooks),
            &EndpointPage {
                endpoint: &endpoint,
                attempts: &attempts.items,
                secret: None,
            },
        ),
    ))
}

pub async fn toggle(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let enabled = !webhooks::get(&state.db, tenant, *wid).await?.enabled;
    let change = EndpointChange {
        enabled: Some(enabled),
        ..Default::default()
    };
    webhooks::update(
        &state.db,
        state.webhook_policy(),
        &session.actor(),
        tenant,
        *wid,
        &change,
    )
    .await?;
    let flash = Flash::success(if enabled {
        "Endpoint enabled: waiting events go out now."
    } else {
        "Endpoint disabled: events wait until it is enabled again."
    });
    flash_redirect(&state, &session, flash, PortalUrl::Webhook(*wid)).await
}

pub async fn rotate(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let rotated = webhooks::rotate_secret(
        &state.db,
        &state.master_key,
        &session.actor(),
        tenant,
        *wid,
        &Rotation::default(),
    )
    .await?;
    let attempts = webhooks::attempts(&state.db, tenant, *wid, &AttemptQuery::default()).await?;
    Ok(html(
        StatusCode::OK,
        view::show(
            &chrome(&session, PortalSection::Webhooks),
            &EndpointPage {
                endpoint: &rotated.endpoint,
                attempts: &attempts.items,
                secret: Some(&rotated.secret),
            },
        ),
    ))
}

pub async fn test(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    webhooks::send_test(&state.db, &state.webhooks, session.tenant_id(), *wid).await?;
    let flash = Flash::success("Test event queued: it shows in the log below once sent.");
    flash_redirect(&state, &session, flash, PortalUrl::Webhook(*wid)).await
}

pub async fn delete(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    webhooks::delete(&state.db, &session.actor(), session.tenant_id(), *wid).await?;
    let flash = Flash::success("Endpoint deleted, with its waiting events and its log.");
    flash_redirect(&state, &session, flash, PortalUrl::Webhooks).await
}

pub async fn resend(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<(WebhookId, i64)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (wid, event) = path.into_inner();
    webhooks::resend(
        &state.db,
        &state.webhooks,
        &session.actor(),
        session.tenant_id(),
        wid,
        event,
    )
    .await?;
    let flash = Flash::success("Queued to be sent again.");
    flash_redirect(&state, &session, flash, PortalUrl::Webhook(wid)).await
}
