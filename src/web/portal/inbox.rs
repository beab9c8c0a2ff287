//! The portal's inbox pages: the list, a thread, and the forms on it (a
//! reply, take over, hand back). The tenant is the session's. A refused
//! reply (bot not running, the Cloud API's 24-hour window, empty text)
//! comes back as a flash on the thread, with the reason in plain words.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::{chrome, flash_redirect, html};
use crate::domain::ids::ConversationId;
use crate::error::{AppError, ErrorCode};
use crate::services::inbox::{self, InboxQuery, Person, Reader};
use crate::services::portal::{self, plain_message_error};
use crate::services::sessions::Flash;
use crate::state::AppState;
use crate::urls::{InboxUrls, PortalUrl};
use crate::views::components::Zone;
use crate::views::inbox::ListView;
use crate::views::layout::PortalSection;
use crate::views::portal::inbox as view;
use crate::web::auth::{AnyForm, CsrfForm, PortalSession};

pub async fn list(
    state: web::Data<AppState>,
    session: PortalSession,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    // Before the reads: a change after them reaches the page's stream.
    let since = state.live.mark();
    let (page, settings) = tokio::try_join!(
        inbox::list(&state.db, tenant, &query),
        portal::settings(&state.db, tenant),
    )?;
    let list = ListView {
        urls: InboxUrls::Portal,
        page: &page,
        filter: query.filter,
        q: query.q.as_deref().unwrap_or_default(),
        zone: Zone::named(&settings.timezone),
        now: Utc::now(),
        since: &since,
    };
    Ok(html(
        StatusCode::OK,
        view::list_page(&chrome(&session, PortalSection::Inbox), &list),
    ))
}

pub async fn thread(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
) -> Result<HttpResponse, AppError> {
    let tenant = session.tenant_id();
    let since = state.live.mark();
    let (mut thread, settings) = tokio::try_join!(
        inbox::open(
            &state.db,
            state.bots.as_ref(),
            tenant,
            *cid,
            Reader::TenantPerson
        ),
        portal::settings(&state.db, tenant),
    )?;
    for message in &mut thread.messages.items {
        message.error = message.error.as_deref().map(plain_message_error);
    }
    Ok(html(
        StatusCode::OK,
        view::thread_page(
            &chrome(&session, PortalSection::Inbox),
            &thread,
            Zone::named(&settings.timezone),
            &since,
        ),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    text: String,
}

pub async fn reply(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
    form: CsrfForm<ReplyForm>,
) -> Result<HttpResponse, AppError> {
    let sent = inbox::reply(
        &state.db,
        state.bots.as_ref(),
        session.tenant_id(),
        *cid,
        &person(&session),
        &form.0.text,
    )
    .await;
    let flash = match sent {
        Ok(_) => Flash::success("Sent to the customer's WhatsApp."),
        Err(err) if refusal(&err) => Flash::error(refusal_text(&err)),
        Err(err) => return Err(err),
    };
    flash_redirect(&state, &session, flash, PortalUrl::Conversation(*cid)).await
}

pub async fn take_over(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let person = person(&session);
    inbox::take_over(
        &state.db,
        state.bots.as_ref(),
        session.tenant_id(),
        *cid,
        &person,
    )
    .await?;
    let flash = Flash::success("You have this chat now: the bot stays silent in it.");
    flash_redirect(&state, &session, flash, PortalUrl::Conversation(*cid)).await
}

pub async fn hand_back(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let person = person(&session);
    inbox::hand_back(
        &state.db,
        state.bots.as_ref(),
        session.tenant_id(),
        *cid,
        &person,
    )
    .await?;
    let flash = Flash::success("Handed back: the bot answers this chat again.");
    flash_redirect(&state, &session, flash, PortalUrl::Conversation(*cid)).await
}

/// Who writes: the signed-in person, by name (or email).
pub fn person(session: &PortalSession) -> Person {
    let user = &session.user;
    let name = if user.name.trim().is_empty() {
        user.email.clone()
    } else {
        user.name.clone()
    };
    Person {
        actor: session.actor(),
        name,
    }
}

/// A reply refused for a reason the person can act on (the admin
/// console's inbox words it the same way).
pub(crate) fn refusal(err: &AppError) -> bool {
    matches!(
        err.code(),
        ErrorCode::BotNotRunning | ErrorCode::OutsideWindow | ErrorCode::ValidationFailed
    )
}

pub(crate) fn refusal_text(err: &AppError) -> String {
    match err.fields().get("text") {
        Some(problem) => format!("Your reply {problem}."),
        None => err.message().to_owned(),
    }
}
