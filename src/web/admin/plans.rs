//! The tenant page's "Plan and usage" forms: move a tenant to another plan,
//! set its monthly AI token budget. Each calls one service function and
//! comes back to the tenant page with a flash (a refused value says why).

use actix_web::{HttpResponse, web};

use super::flash_redirect;
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode};
use crate::services::plans::{self, AiBudget};
use crate::services::sessions::Flash;
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};

pub async fn set_plan(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let code = form.get("plan").map(String::as_str).unwrap_or_default();
    let done = plans::change(&state.db, state.bots.as_ref(), &session.actor(), id, code).await;
    let flash = match done {
        Ok(plan) => Flash::success(format!("The tenant is now on the {} plan.", plan.name)),
        Err(err) if err.code() == ErrorCode::ValidationFailed => refused(&err),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await
}

pub async fn set_ai_budget(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let raw = form
        .get("monthly_tokens")
        .map(|v| v.trim())
        .unwrap_or_default();
    let monthly_tokens = match raw {
        "" => None,
        raw => match raw.replace([',', '_', ' '], "").parse::<i64>() {
            Ok(tokens) => Some(tokens),
            Err(_) => {
                let flash = Flash::error(
                    "AI tokens a month must be a whole number, or empty for the plan's budget.",
                );
                return flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await;
            }
        },
    };
    let done = plans::set_ai_budget(
        &state.db,
        state.bots.as_ref(),
        &session.actor(),
        id,
        AiBudget { monthly_tokens },
    )
    .await;
    let flash = match done {
        Ok(AiBudget {
            monthly_tokens: Some(tokens),
        }) => Flash::success(format!("AI budget: {tokens} tokens a month.")),
        Ok(AiBudget {
            monthly_tokens: None,
        }) => Flash::success("AI budget: unlimited."),
        Err(err) if err.code() == ErrorCode::ValidationFailed => refused(&err),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await
}

/// A refused value, in the flash: the field's message.
fn refused(err: &AppError) -> Flash {
    let why: Vec<String> = err
        .fields()
        .iter()
        .map(|(field, message)| format!("{field} {message}"))
        .collect();
    Flash::error(if why.is_empty() {
        err.message().to_owned()
    } else {
        why.join("; ")
    })
}
