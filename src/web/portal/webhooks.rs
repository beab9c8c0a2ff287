//! The owner's webhook pages (`/portal/webhooks…`): parse the form, call
//! ONE use case (through `web::webhook_forms`, shared with the console's pages of
//! a tenant), render or redirect. Every handler takes `OwnerSession`; the
//! tenant is the session's, so another tenant's endpoint is a 404. The
//! signing secret is only in the answer to the create and rotate forms
//! (never in a flash, which is stored).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{chrome, flash_redirect, html};
use crate::domain::ids::WebhookId;
use crate::error::AppError;
use crate::state::AppState;
use crate::urls::PortalUrl;
use crate::views::layout::PortalSection;
use crate::views::portal::webhooks as view;
use crate::web::auth::{AnyForm, CsrfForm, OwnerSession};
use crate::web::webhook_forms as forms;

pub async fn list(
    state: web::Data<AppState>,
    session: OwnerSession,
) -> Result<HttpResponse, AppError> {
    let list = forms::webhook_list(&state, session.tenant_id()).await?;
    Ok(html(
        StatusCode::OK,
        view::list(&chrome(&session, PortalSection::Webhooks), &list.page()),
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    session: OwnerSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let list = forms::create_webhook(&state, &session.actor(), session.tenant_id(), &form).await?;
    Ok(html(
        list.status,
        view::list(&chrome(&session, PortalSection::Webhooks), &list.page()),
    ))
}

pub async fn show(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    let page = forms::webhook_page(&state, session.tenant_id(), *wid).await?;
    Ok(html(
        StatusCode::OK,
        view::show(&chrome(&session, PortalSection::Webhooks), &page.page()),
    ))
}

pub async fn toggle(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let flash = forms::toggle_webhook(&state, &session.actor(), session.tenant_id(), *wid).await?;
    flash_redirect(&state, &session, flash, PortalUrl::Webhook(*wid)).await
}

pub async fn rotate(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let page = forms::rotate_webhook(&state, &session.actor(), session.tenant_id(), *wid).await?;
    Ok(html(
        StatusCode::OK,
        view::show(&chrome(&session, PortalSection::Webhooks), &page.page()),
    ))
}

pub async fn test(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let flash = forms::test_webhook(&state, session.tenant_id(), *wid).await?;
    flash_redirect(&state, &session, flash, PortalUrl::Webhook(*wid)).await
}

pub async fn delete(
    state: web::Data<AppState>,
    session: OwnerSession,
    wid: web::Path<WebhookId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let flash = forms::delete_webhook(&state, &session.actor(), session.tenant_id(), *wid).await?;
    flash_redirect(&state, &session, flash, PortalUrl::Webhooks).await
}

pub async fn resend(
    state: web::Data<AppState>,
    session: OwnerSession,
    path: web::Path<(WebhookId, i64)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (wid, event) = path.into_inner();
    let flash =
        forms::resend_webhook_event(&state, &session.actor(), session.tenant_id(), wid, event)
            .await?;
    flash_redirect(&state, &session, flash, PortalUrl::Webhook(wid)).await
}
