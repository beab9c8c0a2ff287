//! Plans in the console: `/admin/plans` lists them, each with its form
//! (`POST /admin/plans/{code}`), and adds one (`POST /admin/plans`); and the
//! tenant page's "Plan and usage" forms: move a tenant to another plan, set
//! its monthly AI token budget. Each form calls one service function and
//! comes back with a flash (a refused value says why).

use actix_web::{HttpResponse, web};

use actix_web::http::StatusCode;

use super::{chrome, flash_redirect, html};
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode, FieldErrors};
use crate::services::plans::{self, AiBudget, PlanInput};
use crate::services::sessions::Flash;
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::views::admin::plans::{PlansPage, page};
use crate::views::layout::Section;
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};

pub async fn list(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, AppError> {
    let plans = plans::list_with_tenants(&state.db).await?;
    Ok(html(
        StatusCode::OK,
        page(
            &chrome(&session, Section::Plans),
            &PlansPage { plans: &plans },
        ),
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    session: AdminSession,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let done = match plan_input(&form) {
        Ok(input) => plans::create(&state.db, &session.actor(), &input).await,
        Err(fields) => Err(AppError::validation(fields)),
    };
    let flash = match done {
        Ok(plan) => Flash::success(format!("Plan {} added.", plan.name)),
        Err(err)
            if matches!(
                err.code(),
                ErrorCode::ValidationFailed | ErrorCode::Conflict
            ) =>
        {
            refused(&err)
        }
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, AdminUrl::Plans).await
}

pub async fn update(
    state: web::Data<AppState>,
    session: AdminSession,
    code: web::Path<String>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let done = match plan_input(&form) {
        Ok(input) => {
            plans::update(
                &state.db,
                state.bots.as_ref(),
                &session.actor(),
                &code,
                &input,
            )
            .await
        }
        Err(fields) => Err(AppError::validation(fields)),
    };
    let flash = match done {
        Ok(plan) => Flash::success(format!("Plan {} saved.", plan.name)),
        Err(err) if err.code() == ErrorCode::ValidationFailed => refused(&err),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, AdminUrl::Plans).await
}

/// The plan form's fields; an empty limit is unlimited.
fn plan_input(form: &AnyForm) -> Result<PlanInput, FieldErrors> {
    let mut fields = FieldErrors::new();
    let text = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or_default();
    let mut number = |name: &str| -> Option<i64> {
        optional_number(text(name)).unwrap_or_else(|()| {
            fields.insert(name.to_owned(), "must be a whole number".to_owned());
            None
        })
    };
    let monthly_messages = number("monthly_messages");
    let monthly_ai_tokens = number("monthly_ai_tokens");
    let rate = number("api_requests_per_minute");
    let team_members = number("team_members");
    let mut small = |name: &str, value: Option<i64>| {
        value.and_then(|n| {
            i32::try_from(n)
                .map_err(|_| fields.insert(name.to_owned(), "is too large".to_owned()))
                .ok()
        })
    };
    let api_requests_per_minute = small("api_requests_per_minute", rate).unwrap_or(0);
    let team_members = small("team_members", team_members);
    if !fields.is_empty() {
        return Err(fields);
    }
    Ok(PlanInput {
        code: Some(text("code"))
            .filter(|code| !code.is_empty())
            .map(str::to_owned),
        name: text("name").to_owned(),
        monthly_messages,
        monthly_ai_tokens,
        api_requests_per_minute,
        team_members,
    })
}

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
    let Ok(monthly_tokens) = optional_number(raw) else {
        let flash = Flash::error(
            "AI tokens a month must be a whole number, or empty for the plan's budget.",
        );
        return flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await;
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

/// A form's whole number as typed ("3,000" and "3 000" too); `None` when
/// left empty (unlimited, or the plan's); `Err` when it is not a number.
fn optional_number(raw: &str) -> Result<Option<i64>, ()> {
    match raw.trim().replace([',', '_', ' '], "") {
        digits if digits.is_empty() => Ok(None),
        digits => digits.parse().map(Some).map_err(|_| ()),
    }
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
