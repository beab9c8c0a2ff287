//! `/admin/tenants/{id}/bot`: what one tenant's bot knows, the portal's
//! "Bot" page for an admin. The page is a frame: `bot.js` reads and writes
//! `/api/admin/tenants/{id}/knowledge…` on the admin's session cookie
//! (`AdminReader` / `AdminWriter`, `web::api::knowledge`). An unknown
//! tenant is a 404.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{chrome, html};
use crate::domain::ids::TenantId;
use crate::error::AppError;
use crate::services::tenants;
use crate::state::AppState;
use crate::views::admin::knowledge as view;
use crate::views::layout::Section;
use crate::web::auth::AdminSession;

pub async fn page(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let detail = tenants::get(&state.db, id).await?;
    Ok(html(
        StatusCode::OK,
        view::page(
            &chrome(&session, Section::Tenants),
            id,
            &detail.tenant.name,
            state.ai.is_some(),
        ),
    ))
}
