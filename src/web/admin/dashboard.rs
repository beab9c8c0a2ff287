//! `GET /admin`: the dashboard, one service call (`tenants::dashboard`),
//! plus how to configure Google sign-in while it is not.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{chrome, html};
use crate::error::AppError;
use crate::services::tenants;
use crate::state::AppState;
use crate::urls::PortalUrl;
use crate::views::admin::dashboard::{self, GoogleSetup};
use crate::views::layout::Section;
use crate::web::auth::AdminSession;

pub async fn show(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AppError> {
    let data = tenants::dashboard(&state.db).await?;
    let usage = crate::services::usage::per_tenant(&state.db).await?;
    let google_setup = state.google.is_none().then(|| GoogleSetup {
        redirect_url: match &state.settings.google.redirect_url {
            Some(url) => url.to_string(),
            None => format!("{}{}", state.public_url, PortalUrl::SignInCallback),
        },
    });
    Ok(html(
        StatusCode::OK,
        dashboard::page(
            &chrome(&session, Section::Dashboard),
            &data,
            &usage,
            google_setup.as_ref(),
        ),
    ))
}
