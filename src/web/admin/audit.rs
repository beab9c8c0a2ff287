//! `GET /admin/audit?tenant_id=&page=&per_page=`: the audit trail, newest
//! first, optionally for one tenant. A tenant id that is not a UUID is shown
//! next to the filter (400) instead of silently listing everything.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{chrome, html};
use crate::error::{AppError, FieldErrors};
use crate::services::{PageRequest, audit};
use crate::state::AppState;
use crate::views::admin::audit as view;
use crate::views::layout::Section;
use crate::web::auth::AdminSession;

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    tenant_id: String,
}

pub async fn list(
    state: web::Data<AppState>,
    session: AdminSession,
    query: web::Query<AuditQuery>,
    page: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let raw = query.tenant_id.trim();
    let chrome = chrome(&session, Section::Audit);
    let tenant_id = match raw {
        "" => None,
        raw => match raw.parse::<crate::domain::ids::TenantId>() {
            Ok(id) => Some(id),
            Err(_) => {
                let errors = FieldErrors::from([(
                    "tenant_id".to_owned(),
                    "must be a tenant's id, like 0b5c8f3e-…".to_owned(),
                )]);
                return Ok(html(
                    StatusCode::BAD_REQUEST,
                    view::page(&chrome, None, raw, &errors),
                ));
            }
        },
    };
    let entries = audit::list(&state.db, tenant_id, page.into_inner()).await?;
    Ok(html(
        StatusCode::OK,
        view::page(&chrome, Some(&entries), raw, &FieldErrors::new()),
    ))
}
