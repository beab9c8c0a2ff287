//! The inbox's JSON: the same shapes under `/api/portal/conversations…`
//! (the session's tenant) and `/api/admin/tenants/{id}/conversations…` (any
//! tenant, for admins). A conversation of another tenant is a 404
//! `conversation_not_found`: the tenant always scopes the lookup. The
//! admin GETs also take the console's session cookie (the inbox page's
//! script reads them); the admin writes take only `Authorization`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::portal::{PortalJson, no_store};
use super::resource;
use crate::domain::ids::{ConversationId, TenantId};
use crate::error::AppError;
use crate::live::Change;
use crate::services::inbox::{self, InboxQuery, Person};
use crate::services::{sessions, tenants};
use crate::state::AppState;
use crate::web::auth::{AdminPoll, AdminReader, ApiAdmin, PortalPoll, PortalSession};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/portal/events").route(web::get().to(portal_events)))
        .service(resource("/portal/conversations").route(web::get().to(portal_list)))
        .service(resource("/portal/conversations/{cid}").route(web::get().to(portal_get)))
        .service(
            resource("/portal/conversations/{cid}/messages")
                .route(web::get().to(portal_messages))
                .route(web::post().to(portal_reply)),
        )
        .service(
            resource("/portal/conversations/{cid}/take-over")
                .route(web::post().to(portal_take_over)),
        )
        .service(
            resource("/portal/conversations/{cid}/hand-back")
                .route(web::post().to(portal_hand_back)),
        )
        .service(resource("/admin/tenants/{id}/events").route(web::get().to(admin_events)))
        .service(resource("/admin/tenants/{id}/conversations").route(web::get().to(admin_list)))
        .service(
            resource("/admin/tenants/{id}/conversations/{cid}").route(web::get().to(admin_get)),
        )
        .service(
            resource("/admin/tenants/{id}/conversations/{cid}/messages")
                .route(web::get().to(admin_messages))
                .route(web::post().to(admin_reply)),
        )
        .service(
            resource("/admin/tenants/{id}/conversations/{cid}/take-over")
                .route(web::post().to(admin_take_over)),
        )
        .service(
            resource("/admin/tenants/{id}/conversations/{cid}/hand-back")
                .route(web::post().to(admin_hand_back)),
        );
}

/// `{text}`: a person's message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    text: String,
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
}

fn admin_person(admin: &ApiAdmin) -> Person {
    Person::admin(&admin.0.username)
}

fn json(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header(no_store()).json(body)
}

// ---- portal ----

/// How often a quiet stream sends a comment, so proxies keep it open and a
/// dead client is noticed (and the session checked again).
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(20);

/// `?since=`: the mark (`Live::mark`) the page took before it read what it
/// shows.
#[derive(Debug, Deserialize)]
struct SinceQuery {
    since: Option<String>,
}

/// Where the stream's watcher left off: the last event it received (the
/// browser sends `Last-Event-ID` when it reopens a stream), else the mark
/// of its page.
fn left_off(req: &HttpRequest, query: SinceQuery) -> Option<String> {
    req.headers()
        .get("Last-Event-ID")
        .and_then(|id| id.to_str().ok())
        .map(str::to_owned)
        .or(query.since)
}

/// `GET /api/portal/events`: Server-Sent Events, one `changed` event
/// whenever something of the session's tenant was committed (messages in
/// and out, statuses, handoffs), and one at once when it changed after
/// where the watcher left off (`?since=` or `Last-Event-ID`). Events carry
/// no data: the page reads again what it shows. The stream lasts until
/// its session ends: it checks when the tenant's sessions change (a
/// teammate removed) and at every keep-alive.
async fn portal_events(
    state: web::Data<AppState>,
    PortalPoll(session): PortalPoll,
    req: HttpRequest,
    query: web::Query<SinceQuery>,
) -> HttpResponse {
    event_stream(
        &state,
        session.tenant_id(),
        session.session.id.clone(),
        left_off(&req, query.into_inner()),
    )
}

/// `GET /api/admin/tenants/{id}/events`: the same stream of one tenant for
/// an admin's inbox page, on the admin's session cookie (a console page's
/// `EventSource` sends no `Authorization`); it ends when that session does.
/// An unknown tenant is a 404.
async fn admin_events(
    state: web::Data<AppState>,
    AdminPoll(session): AdminPoll,
    id: web::Path<TenantId>,
    req: HttpRequest,
    query: web::Query<SinceQuery>,
) -> Result<HttpResponse, AppError> {
    let tenant = admin_tenant(&state, *id).await?;
    Ok(event_stream(
        &state,
        tenant,
        session.session.id.clone(),
        left_off(&req, query.into_inner()),
    ))
}

/// The event stream of `tenant` for the page of session `session_id`,
/// whose watcher left off at `since` (a `Live::mark`). Each `changed`
/// event carries the mark it was sent at as its id, so a stream the
/// browser reopens catches up only when something changed in between.
/// Hand-written rather than actix-web-lab's `sse`: one event type and a
/// keep-alive are a dozen lines over actix's own streaming body, not worth
/// a dependency in a 90-minute CI budget.
fn event_stream(
    state: &AppState,
    tenant: TenantId,
    session_id: String,
    since: Option<String>,
) -> HttpResponse {
    use tokio::sync::broadcast::error::RecvError;
    // Subscribed before the check: a change in between is told twice at
    // worst, never missed.
    let events = state.live.subscribe(tenant);
    let live = state.live.clone();
    let changed = |live: &crate::live::Live| {
        web::Bytes::from(format!(
            "id: {}\nevent: changed\ndata: {{}}\n\n",
            live.mark()
        ))
    };
    let mut opening = b"retry: 3000\n: connected\n\n".to_vec();
    if since.is_some_and(|mark| live.changed_since(tenant, &mark)) {
        opening.extend_from_slice(&changed(&live));
    }
    let watch = (state.db.clone(), session_id);
    let stream = futures_util::stream::unfold(
        (events, Some(web::Bytes::from(opening)), watch),
        move |(mut events, opening, watch)| {
            let live = live.clone();
            async move {
                if let Some(opening) = opening {
                    return Some((Ok::<_, actix_web::Error>(opening), (events, None, watch)));
                }
                loop {
                    let chunk = match tokio::time::timeout(KEEP_ALIVE, events.recv()).await {
                        Ok(Ok(Change::Data) | Err(RecvError::Lagged(_))) => changed(&live),
                        Ok(Ok(Change::SessionsEnded)) => {
                            if session_over(&watch).await {
                                return None;
                            }
                            continue;
                        }
                        Ok(Err(RecvError::Closed)) => return None,
                        Err(_) if session_over(&watch).await => return None,
                        Err(_) => web::Bytes::from_static(b": keep-alive\n\n"),
                    };
                    return Some((Ok(chunk), (events, None, watch)));
                }
            }
        },
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(no_store())
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}

/// Whether a stream's session ended (signed out, removed, expired); a
/// database that cannot answer keeps the stream until its next check.
async fn session_over((db, id): &(sea_orm::DatabaseConnection, String)) -> bool {
    matches!(sessions::still_open(db, id).await, Ok(false))
}

async fn portal_list(
    state: web::Data<AppState>,
    session: PortalSession,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        inbox::list(&state.db, session.tenant_id(), &query).await?,
    ))
}

async fn portal_get(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        inbox::get(&state.db, session.tenant_id(), *cid).await?,
    ))
}

async fn portal_messages(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
    query: web::Query<MessagesQuery>,
) -> Result<HttpResponse, AppError> {
    let page = inbox::messages(
        &state.db,
        session.tenant_id(),
        *cid,
        query.cursor.as_deref(),
        query.limit,
    )
    .await?;
    Ok(json(page))
}

async fn portal_reply(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
    body: PortalJson<ReplyBody>,
) -> Result<HttpResponse, AppError> {
    let person = crate::web::portal::person(&session);
    let queued = inbox::reply(
        &state.db,
        state.bots.as_ref(),
        session.tenant_id(),
        *cid,
        &person,
        &body.0.text,
    )
    .await?;
    Ok(HttpResponse::Accepted()
        .insert_header(no_store())
        .json(queued))
}

async fn portal_take_over(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let person = crate::web::portal::person(&session);
    Ok(json(
        inbox::take_over(
            &state.db,
            state.bots.as_ref(),
            session.tenant_id(),
            *cid,
            &person,
        )
        .await?,
    ))
}

async fn portal_hand_back(
    state: web::Data<AppState>,
    session: PortalSession,
    cid: web::Path<ConversationId>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let person = crate::web::portal::person(&session);
    Ok(json(
        inbox::hand_back(
            &state.db,
            state.bots.as_ref(),
            session.tenant_id(),
            *cid,
            &person,
        )
        .await?,
    ))
}

// ---- admin, per tenant ----

/// The tenant of an admin request: an unknown one is a 404.
async fn admin_tenant(state: &AppState, id: TenantId) -> Result<TenantId, AppError> {
    tenants::get(&state.db, id).await?;
    Ok(id)
}

async fn admin_list(
    _admin: AdminReader,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let tenant = admin_tenant(&state, *id).await?;
    Ok(json(inbox::list(&state.db, tenant, &query).await?))
}

async fn admin_get(
    _admin: AdminReader,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, ConversationId)>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    Ok(json(inbox::get(&state.db, tenant, cid).await?))
}

async fn admin_messages(
    _admin: AdminReader,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, ConversationId)>,
    query: web::Query<MessagesQuery>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    let page =
        inbox::messages(&state.db, tenant, cid, query.cursor.as_deref(), query.limit).await?;
    Ok(json(page))
}

async fn admin_reply(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, ConversationId)>,
    body: web::Json<ReplyBody>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    let queued = inbox::reply(
        &state.db,
        state.bots.as_ref(),
        tenant,
        cid,
        &admin_person(&admin),
        &body.text,
    )
    .await?;
    Ok(HttpResponse::Accepted()
        .insert_header(no_store())
        .json(queued))
}

async fn admin_take_over(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, ConversationId)>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    Ok(json(
        inbox::take_over(
            &state.db,
            state.bots.as_ref(),
            tenant,
            cid,
            &admin_person(&admin),
        )
        .await?,
    ))
}

async fn admin_hand_back(
    admin: ApiAdmin,
    state: web::Data<AppState>,
    path: web::Path<(TenantId, ConversationId)>,
) -> Result<HttpResponse, AppError> {
    let (id, cid) = path.into_inner();
    let tenant = admin_tenant(&state, id).await?;
    Ok(json(
        inbox::hand_back(
            &state.db,
            state.bots.as_ref(),
            tenant,
            cid,
            &admin_person(&admin),
        )
        .await?,
    ))
}
