//! The console's inbox of one tenant: the portal's inbox pages (the same
//! markup and use cases) under `/admin/tenants/{id}/inbox…`. An unknown
//! tenant is a 404, and so is a conversation of another tenant: every
//! lookup is scoped by the tenant in the path. An admin's reply, take over
//! and hand back are recorded as the admin's ("ops (admin)"); opening a
//! thread leaves its unread count to the tenant's people.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::{chrome, flash_redirect, html};
use crate::domain::ids::{ConversationId, TenantId};
use crate::error::AppError;
use crate::services::inbox::{self, InboxQuery, Person, Reader};
use crate::services::portal::plain_message_error;
use crate::services::sessions::Flash;
use crate::services::tenants;
use crate::state::AppState;
use crate::urls::{AdminUrl, InboxUrls};
use crate::views::admin::inbox::{self as view, InboxTenant};
use crate::views::components::Zone;
use crate::views::inbox::ListView;
use crate::views::layout::Section;
use crate::web::auth::{AdminSession, AnyForm, CsrfForm};
use crate::web::portal::{refusal, refusal_text};

pub async fn list(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<TenantId>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    // Before the reads: a change after them reaches the page's stream.
    let since = state.live.mark();
    // The tenant first: an unknown one is a 404, not an empty inbox.
    let (detail, page) = tokio::try_join!(
        tenants::get(&state.db, id),
        inbox::list(&state.db, id, &query),
    )?;
    let list = ListView {
        urls: InboxUrls::Admin(id),
        page: &page,
        filter: query.filter,
        q: query.q.as_deref().unwrap_or_default(),
        zone: Zone::named(&detail.config.timezone),
        now: Utc::now(),
        since: &since,
    };
    let tenant = InboxTenant {
        id,
        name: &detail.tenant.name,
    };
    Ok(html(
        StatusCode::OK,
        view::list_page(&chrome(&session, Section::Tenants), &tenant, &list),
    ))
}

pub async fn thread(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, ConversationId)>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    let since = state.live.mark();
    let (detail, mut thread) = tokio::try_join!(
        tenants::get(&state.db, id),
        inbox::open(&state.db, state.bots.as_ref(), id, cid, Reader::Admin),
    )?;
    for message in &mut thread.messages.items {
        message.error = message.error.as_deref().map(plain_message_error);
    }
    let tenant = InboxTenant {
        id,
        name: &detail.tenant.name,
    };
    Ok(html(
        StatusCode::OK,
        view::thread_page(
            &chrome(&session, Section::Tenants),
            &tenant,
            &thread,
            Zone::named(&detail.config.timezone),
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
    session: AdminSession,
    path: web::Path<(TenantId, ConversationId)>,
    form: CsrfForm<ReplyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    let sent = inbox::reply(
        &state.db,
        state.bots.as_ref(),
        id,
        cid,
        &person(&session),
        &form.0.text,
    )
    .await;
    let flash = match sent {
        Ok(_) => Flash::success("Sent to the customer's WhatsApp."),
        Err(err) if refusal(&err) => Flash::error(refusal_text(&err)),
        Err(err) => return Err(err),
    };
    flash_redirect(
        &state,
        &session,
        flash,
        AdminUrl::TenantConversation(id, cid),
    )
    .await
}

pub async fn take_over(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, ConversationId)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    inbox::take_over(&state.db, state.bots.as_ref(), id, cid, &person(&session)).await?;
    let flash = Flash::success("You have this chat now: the bot stays silent in it.");
    flash_redirect(
        &state,
        &session,
        flash,
        AdminUrl::TenantConversation(id, cid),
    )
    .await
}

pub async fn hand_back(
    state: web::Data<AppState>,
    session: AdminSession,
    path: web::Path<(TenantId, ConversationId)>,
    _form: CsrfForm<AnyForm>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    inbox::hand_back(&state.db, state.bots.as_ref(), id, cid, &person(&session)).await?;
    let flash = Flash::success("Handed back: the bot answers this chat again.");
    flash_redirect(
        &state,
        &session,
        flash,
        AdminUrl::TenantConversation(id, cid),
    )
    .await
}

fn person(session: &AdminSession) -> Person {
    Person::admin(&session.admin.username)
}
