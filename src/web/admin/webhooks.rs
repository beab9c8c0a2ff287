//! `/admin/tenants/{id}/webhooks…`: a tenant's webhook endpoints for an
//! admin, the portal's pages (`web::webhook_forms` does the work for both) on the
//! console's session and CSRF tokens, recorded as the admin's. An unknown
//! tenant is a 404, and so is an endpoint of another tenant under this
//! tenant's id (every lookup is scoped by the tenant).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{chrome, flash_redirect, html};
use crate::domain::ids::{TenantId, WebhookId};
use crate::error::AppError;
use crate::services::tenants;
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::views::admin::webhooks as view;
use crate::views::layout::Section;
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};
use crate::web::webhook_forms as forms;

/// The list page of tenant `id` named `name`.
fn list_page(
    session: &AdminSession,
    id: TenantId,
    name: &str,
    list: &forms::WebhookList,
) -> HttpResponse {
    html(
        list.status,
        view::list(&chrome(session, Section::Tenants), id, name, &list.page()),
    )
}

/// One endpoint's page of tenant `id` named `name`.
fn endpoint_page(
    session: &AdminSession,
    id: TenantId,
    name: &str,
    page: &forms::WebhookPage,
) -> HttpResponse {
    html(
        StatusCode::OK,
        view::show(&chrome(session, Section::Tenants), id, name, &page.page()),
    )
}

pub async fn list(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (detail, list) =
        tokio::try_join!(tenants::get(&state.db, id), forms::webhook_list(&state, id),)?;
    Ok(list_page(&session, id, &detail.tenant.name, &list))
}

pub async fn create(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let detail = tenants::get(&state.db, id).await?;
    let list = forms::create_webhook(&state, &session.actor(), id, &form).await?;
    Ok(list_page(&session, id, &detail.tenant.name, &list))
}

pub async fn show(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, WebhookId)>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let (detail, page) = tokio::try_join!(
        tenants::get(&state.db, id),
        forms::webhook_page(&state, id, wid),
    )?;
    Ok(endpoint_page(&session, id, &detail.tenant.name, &page))
}

pub async fn toggle(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, WebhookId)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let flash = forms::toggle_webhook(&state, &session.actor(), id, wid).await?;
    flash_redirect(&state, &session, flash, AdminUrl::TenantWebhook(id, wid)).await
}

pub async fn rotate(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, WebhookId)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let detail = tenants::get(&state.db, id).await?;
    let page = forms::rotate_webhook(&state, &session.actor(), id, wid).await?;
    Ok(endpoint_page(&session, id, &detail.tenant.name, &page))
}

pub async fn test(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, WebhookId)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let flash = forms::test_webhook(&state, id, wid).await?;
    flash_redirect(&state, &session, flash, AdminUrl::TenantWebhook(id, wid)).await
}

pub async fn delete(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, WebhookId)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, wid) = path.into_inner();
    let flash = forms::delete_webhook(&state, &session.actor(), id, wid).await?;
    flash_redirect(&state, &session, flash, AdminUrl::TenantWebhooks(id)).await
}

pub async fn resend(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, WebhookId, i64)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, wid, event) = path.into_inner();
    let flash = forms::resend_webhook_event(&state, &session.actor(), id, wid, event).await?;
    flash_redirect(&state, &session, flash, AdminUrl::TenantWebhook(id, wid)).await
}
