//! The bot on the tenant detail page: approve, start/stop/restart/force
//! restart, the sandbox (simulate a scan, play a customer) and the page's
//! live JSON (`GET /admin/tenants/{id}/live`, polled by `static/admin.js`).
//! The HTML twin of `web::api::bots`.
//!
//! Owns: the facts the page needs beyond the stored rows (is the bot
//! running, is it stale) and the sandbox conversation. Every action answers
//! post/redirect/get: a refusal the admin can act on (an illegal transition,
//! a sandbox that is not ready, a mistyped number) is a flash on the detail
//! page; anything else goes to the error page.

use std::time::Duration;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use chrono::Utc;
use entity::enums::{SessionState, TransportKind, WorkerStatus};
use serde_json::json;

use super::flash_redirect;
use super::tenants::DETAIL_ROWS;
use crate::domain::bot::BotCommand;
use crate::domain::ids::TenantId;
use crate::domain::lifecycle::LifecycleAction;
use crate::error::{AppError, ErrorCode};
use crate::services::bots;
use crate::services::messages::{self, MessageView};
use crate::services::runtime;
use crate::services::sandbox::{self, CustomerDraft};
use crate::services::sessions::Flash;
use crate::services::tenants::{self, TenantDetail};
use crate::services::{Page, PageRequest};
use crate::state::AppState;
use crate::urls::AdminUrl;
use crate::views::admin::bots::{BotFacts, controls_key};
use crate::views::admin::tenants::recent_messages;
use crate::web::auth::{AdminPoll, AdminSession, AnyForm, CsrfForm};

/// How many messages the sandbox chat shows (the latest).
const CHAT_ROWS: u64 = 30;
/// How long an action waits for the bot to show its result (a QR code, the
/// link) before redirecting, so the next page shows it even without JS.
const SETTLE_FOR: Duration = Duration::from_secs(2);

/// Whether the bot runs here and whether its heartbeat went stale.
pub(super) fn facts(state: &AppState, detail: &TenantDetail) -> BotFacts {
    let stale_after = chrono::Duration::from_std(state.settings.bots.stale_after)
        .unwrap_or(chrono::Duration::MAX);
    let worker = &detail.worker;
    let stale = worker.status == WorkerStatus::Running
        && worker
            .last_heartbeat_at
            .is_some_and(|at| Utc::now().signed_duration_since(at) > stale_after);
    BotFacts {
        running: state.bots.is_running(detail.tenant.id),
        stale,
    }
}

/// The sandbox conversation, oldest first; `None` unless the transport is
/// the sandbox.
pub(super) async fn chat(
    state: &AppState,
    detail: &TenantDetail,
) -> Result<Option<Vec<MessageView>>, AppError> {
    if detail.config.transport != TransportKind::Sandbox {
        return Ok(None);
    }
    Ok(Some(conversation(
        &latest_messages(state, detail.tenant.id).await?,
    )))
}

/// The latest messages, newest first: as many as the sandbox chat or the
/// Recent messages card shows, whichever is more.
async fn latest_messages(state: &AppState, id: TenantId) -> Result<Page<MessageView>, AppError> {
    let latest = PageRequest {
        page: 1,
        per_page: CHAT_ROWS.max(DETAIL_ROWS),
    };
    messages::list(&state.db, id, latest).await
}

/// The sandbox chat's messages of `latest`, oldest first.
fn conversation(latest: &Page<MessageView>) -> Vec<MessageView> {
    let shown = usize::try_from(CHAT_ROWS).unwrap_or(usize::MAX);
    latest.items.iter().take(shown).rev().cloned().collect()
}

/// The Recent messages card's messages of `latest`, newest first.
fn recent(latest: &Page<MessageView>) -> &[MessageView] {
    let shown = usize::try_from(DETAIL_ROWS).unwrap_or(usize::MAX);
    &latest.items[..latest.items.len().min(shown)]
}

/// Approves a NEW tenant directly (one an admin created, no setup request).
pub async fn approve(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    super::tenants::lifecycle(
        &state,
        &session,
        id.into_inner(),
        LifecycleAction::ApproveDirectly,
    )
    .await
}

pub async fn command(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, String)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let command = BotCommand::parse(&action).ok_or_else(|| {
        AppError::not_found(
            ErrorCode::NotFound,
            "Unknown bot action: use start, stop, restart or force-restart.",
        )
    })?;
    let done = bots::command(
        &state.db,
        state.bots.as_ref(),
        &session.actor(),
        id,
        command,
    )
    .await;
    let flash = match done {
        Ok(_) => {
            if command != BotCommand::Stop {
                // A started bot shows a QR code, or connects from its stored link.
                settle(&state, id, |s| {
                    matches!(s, SessionState::QrReady | SessionState::Connected)
                })
                .await?;
            }
            Flash::success(match command {
                BotCommand::Start => "Bot started.",
                BotCommand::Stop => "Bot stopped.",
                BotCommand::Restart => "Bot restarted.",
                BotCommand::ForceRestart => "Bot force-restarted; its restart count is reset.",
            })
        }
        Err(err) if err.code() == ErrorCode::IllegalTransition => Flash::error(err.message()),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await
}

/// Waits, at most `SETTLE_FOR`, until the WhatsApp session is in a state
/// `done` accepts.
async fn settle(
    state: &AppState,
    id: TenantId,
    done: impl Fn(SessionState) -> bool,
) -> Result<bool, AppError> {
    let deadline = tokio::time::Instant::now() + SETTLE_FOR;
    loop {
        if done(runtime::link::qr_view(&state.db, id).await?.state) {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Simulates scanning the QR code with the tenant's own phone.
pub async fn scan(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let flash = match sandbox::scan(&state.db, state.sandbox.as_ref(), id, None).await {
        Ok(phone) => {
            if settle(&state, id, |s| s == SessionState::Connected).await? {
                Flash::success(format!("Scanned with {phone}: WhatsApp is linked."))
            } else {
                Flash::success(format!("Scanned with {phone}: linking…"))
            }
        }
        Err(err) if err.code() == ErrorCode::Conflict => Flash::error(err.message()),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await
}

/// Delivers the chat form's message to the sandbox bot as a customer's.
pub async fn inbound(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    CsrfForm(form): CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let draft = CustomerDraft {
        from: form.get("from").cloned().unwrap_or_default(),
        text: form.get("text").cloned().unwrap_or_default(),
        id: None,
        kind: form.get("kind").cloned().filter(|kind| !kind.is_empty()),
        file_name: form
            .get("file_name")
            .cloned()
            .filter(|name| !name.is_empty()),
    };
    let written = sandbox::customer_writes(
        &state.db,
        state.bots.as_ref(),
        state.sandbox.as_ref(),
        id,
        draft,
    )
    .await;
    let flash = match written {
        Ok(written) => Flash::success(format!("Sent to the bot as {}.", written.from)),
        Err(err) if err.code() == ErrorCode::ValidationFailed => {
            Flash::error(customer_form_error(err.fields()))
        }
        Err(err) if err.code() == ErrorCode::Conflict => Flash::error(err.message()),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, AdminUrl::Tenant(id)).await
}

/// The chat form's refusal in one sentence, naming the field.
fn customer_form_error(fields: &crate::error::FieldErrors) -> String {
    if let Some(msg) = fields.get("from") {
        return format!("Customer number {msg}.");
    }
    match fields.get("text") {
        Some(msg) if msg == "is required" => "Type a message to send.".to_owned(),
        Some(msg) => format!("The message {msg}."),
        None => "The message cannot be sent.".to_owned(),
    }
}

/// What `admin.js` updates the detail page from. `controls` changes when
/// other buttons apply (the script then reloads the page); `messages` is
/// the sandbox chat's data, `recent_messages` the Recent messages card
/// rendered as the page renders it.
pub async fn live(
    state: web::Data<AppState>,
    _session: AdminPoll,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (detail, latest) =
        tokio::try_join!(tenants::get(&state.db, id), latest_messages(&state, id))?;
    let facts = facts(&state, &detail);
    let session = &detail.session;
    let showing = session.state == SessionState::QrReady;
    let messages: Vec<_> = conversation(&latest)
        .iter()
        .map(|m| {
            json!({
                "direction": m.direction,
                "from": m.from,
                "to": m.to,
                "text": m.text,
                "status": m.status,
                "created_at": m.created_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(json!({
            "tenant_status": detail.tenant.status,
            "session_state": session.state,
            "qr": if showing { session.last_qr.as_deref() } else { None },
            "pairing_code": if showing { session.pairing_code.as_deref() } else { None },
            "expires_at": if showing { session.qr_expires_at } else { None },
            "worker_status": detail.worker.status,
            "stale": facts.stale,
            "restart_count": detail.worker.restart_count,
            "last_error": detail.worker.last_error,
            "linked_phone": session.linked_phone,
            "offline_reason": session.offline_reason,
            "running": facts.running,
            "controls": controls_key(&detail, facts),
            "messages": messages,
            "recent_messages": recent_messages(recent(&latest), latest.total).into_string(),
        })))
}
