//! `GET /admin`: the dashboard, one service call (`tenants::dashboard`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{chrome, html};
use crate::error::AppError;
use crate::services::tenants;
use crate::state::AppState;
use crate::views::admin::dashboard;
use crate::views::layout::Section;
use crate::web::auth::AdminSession;

pub async fn show(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AppError> {
    let data = tenants::dashboard(&state.db).await?;
    Ok(html(
        StatusCode::OK,
        dashboard::page(&chrome(&session, Section::Dashboard), &data),
    ))
}
