//! The setup-request queue: `GET /admin/setup-requests?status=&page=` and
//! the decisions `POST /admin/setup-requests/{id}/approve|reject`. A refused
//! decision (no note on a reject, decided already, the tenant moved on) comes
//! back as an error flash on the queue, where the admin acts next.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use entity::enums::SetupRequestStatus;
use serde::Deserialize;
use uuid::Uuid;

use super::{chrome, flash_redirect, html};
use crate::error::{AppError, ErrorCode};
use crate::services::PageRequest;
use crate::services::sessions::Flash;
use crate::services::setup_requests::{self, Decision};
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::views::admin::setup_requests::page;
use crate::views::components::enum_name;
use crate::views::layout::Section;
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};

#[derive(Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    status: String,
}

/// "" and "any" mean every status; anything else must be a status name.
fn parse_status(raw: &str) -> Result<Option<SetupRequestStatus>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("any") {
        return Ok(None);
    }
    <SetupRequestStatus as sea_orm::Iterable>::iter()
        .find(|status| enum_name(status).eq_ignore_ascii_case(raw))
        .map(Some)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::BadRequest,
                format!("Unknown status '{raw}': use SUBMITTED, APPROVED, REJECTED or any."),
            )
        })
}

pub async fn list(
    state: web::Data<AppState>,
    session: AdminSession,
    query: web::Query<QueueQuery>,
    page_request: web::Query<PageRequest>,
) -> Result<HttpResponse, AppError> {
    let status = parse_status(&query.status)?;
    let requests = setup_requests::list(&state.db, status, page_request.into_inner()).await?;
    Ok(html(
        StatusCode::OK,
        page(&chrome(&session, Section::SetupRequests), &requests, status),
    ))
}

pub async fn approve(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<Uuid>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    decide(&state, &session, id.into_inner(), Decision::Approve, form).await
}

pub async fn reject(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<Uuid>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    decide(&state, &session, id.into_inner(), Decision::Reject, form).await
}

async fn decide(
    state: &AppState,
    session: &AdminSession,
    id: Uuid,
    decision: Decision,
    mut form: AnyForm,
) -> Result<HttpResponse, AppError> {
    let decided = setup_requests::decide(
        &state.db,
        state.bots.as_ref(),
        &session.actor(),
        &session.admin.username,
        id,
        decision,
        form.remove("note"),
    )
    .await;
    let flash = match decided {
        Ok(_) => Flash::success(match decision {
            Decision::Approve => "Setup request approved; the bot is starting.",
            Decision::Reject => "Setup request rejected; the tenant will see your note.",
        }),
        Err(err) => match err.code() {
            ErrorCode::ValidationFailed | ErrorCode::IllegalTransition | ErrorCode::Conflict => {
                Flash::error(refusal(&err))
            }
            _ => return Err(err),
        },
    };
    flash_redirect(state, session, flash, AdminUrl::SetupRequests).await
}

/// A refusal as one sentence: the field messages when there are any (they
/// say what to do), else the error's own message.
fn refusal(err: &AppError) -> String {
    if err.fields().is_empty() {
        return err.message().to_owned();
    }
    let parts: Vec<String> = err
        .fields()
        .iter()
        .map(|(field, message)| format!("{}: {message}", crate::text::capitalize(field)))
        .collect();
    format!("{}.", parts.join("; "))
}
