//! What the bot knows, as JSON: the same shapes under `/api/portal/…` (the
//! owner's session; STAFF get 403), `/api/admin/tenants/{id}/…` (any
//! tenant, for admins: the API's credentials, or a console page's script
//! on the session cookie) and, for the whole document only, `/api/v1/knowledge`
//! (the API key's tenant; `knowledge:read` / `knowledge:write`; documented
//! by `KnowledgeDoc`):
//!
//! - `GET/PUT …/knowledge`: the whole document (facts, services, FAQ,
//!   the owner's answers); 422 names each wrong field.
//! - `POST …/try` `{text, at?}` → `{replies, rule, detail, at, open}`: the
//!   real engine, nothing sent or logged.
//! - `GET …/knowledge/answers`: every editable answer with its default and
//!   versions; `PUT/DELETE …/knowledge/answers/{key}/{lang}` rewords or
//!   resets one; `POST …/knowledge/answers/versions/{vid}/restore`.
//! - `GET …/knowledge/unanswered`, `DELETE …/knowledge/unanswered/{qid}`.
//!
//! A version or question of another tenant is a 404.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::portal::{PortalJson, no_store};
use super::resource;
use crate::domain::ids::TenantId;
use crate::domain::knowledge::{AnswerKey, Knowledge, KnowledgeInput};
use crate::domain::language::Language;
use crate::error::{AppError, ErrorCode};
use crate::services::audit::Actor;
use crate::services::knowledge;
use crate::state::AppState;
use crate::web::auth::{AdminReader, AdminWriter, ApiKey, OwnerSession, scope};

/// The `/api/v1/knowledge` part of the tenant API's document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(v1_get, v1_put))]
pub(super) struct KnowledgeDoc;

/// A knowledge document with 1,000 FAQ entries and 500 services is a few
/// hundred KiB: larger than the `/api` scope's limit.
const KNOWLEDGE_LIMIT: usize = 2 * 1024 * 1024;

fn large_json() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(KNOWLEDGE_LIMIT)
        .error_handler(|err, _| super::json_error(err).into())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/knowledge")
            .app_data(large_json())
            .route(web::get().to(v1_get))
            .route(web::put().to(v1_put)),
    )
    .service(
        resource("/portal/knowledge")
            .app_data(large_json())
            .route(web::get().to(portal_get))
            .route(web::put().to(portal_put)),
    )
    .service(resource("/portal/try").route(web::post().to(portal_try)))
    .service(resource("/portal/knowledge/answers").route(web::get().to(portal_answers)))
    .service(
        resource("/portal/knowledge/answers/{key}/{lang}")
            .route(web::put().to(portal_set_answer))
            .route(web::delete().to(portal_reset_answer)),
    )
    .service(
        resource("/portal/knowledge/answers/versions/{vid}/restore")
            .route(web::post().to(portal_restore)),
    )
    .service(resource("/portal/knowledge/unanswered").route(web::get().to(portal_unanswered)))
    .service(resource("/portal/knowledge/unanswered/{qid}").route(web::delete().to(portal_dismiss)))
    .service(
        resource("/admin/tenants/{id}/knowledge")
            .app_data(large_json())
            .route(web::get().to(admin_get))
            .route(web::put().to(admin_put)),
    )
    .service(resource("/admin/tenants/{id}/try").route(web::post().to(admin_try)))
    .service(resource("/admin/tenants/{id}/knowledge/answers").route(web::get().to(admin_answers)))
    .service(
        resource("/admin/tenants/{id}/knowledge/answers/{key}/{lang}")
            .route(web::put().to(admin_set_answer))
            .route(web::delete().to(admin_reset_answer)),
    )
    .service(
        resource("/admin/tenants/{id}/knowledge/answers/versions/{vid}/restore")
            .route(web::post().to(admin_restore)),
    )
    .service(
        resource("/admin/tenants/{id}/knowledge/unanswered").route(web::get().to(admin_unanswered)),
    )
    .service(
        resource("/admin/tenants/{id}/knowledge/unanswered/{qid}")
            .route(web::delete().to(admin_dismiss)),
    );
}

fn json(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header(no_store()).json(body)
}

/// `{text, at?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TryBody {
    #[serde(default)]
    text: String,
    #[serde(default)]
    at: Option<String>,
}

/// `{text}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    #[serde(default)]
    text: String,
}

/// `{key}/{lang}` of an answer: an unknown one names nothing (404).
fn answer_path(key: &str, lang: &str) -> Result<(AnswerKey, Language), AppError> {
    let not_found = || AppError::not_found(ErrorCode::NotFound, "There is no such answer.");
    Ok((
        AnswerKey::parse(key).map_err(|_| not_found())?,
        Language::parse(lang).map_err(|_| not_found())?,
    ))
}

// ---- the use cases, once for both callers ----

async fn get(state: &AppState, tenant: TenantId) -> Result<HttpResponse, AppError> {
    Ok(json(knowledge::get(&state.db, tenant).await?))
}

async fn put(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    input: KnowledgeInput,
) -> Result<HttpResponse, AppError> {
    let doc = knowledge::replace(&state.db, state.bots.as_ref(), actor, tenant, input).await?;
    Ok(json(doc))
}

async fn try_bot(
    state: &AppState,
    tenant: TenantId,
    body: TryBody,
) -> Result<HttpResponse, AppError> {
    let answer = knowledge::try_reply(
        &state.db,
        state.ai.as_ref(),
        tenant,
        &body.text,
        body.at.as_deref(),
        state.notifier.delivers(),
    )
    .await?;
    Ok(json(answer))
}

async fn answers(state: &AppState, tenant: TenantId) -> Result<HttpResponse, AppError> {
    Ok(json(knowledge::answers(&state.db, tenant).await?))
}

async fn set_answer(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    (key, lang): (String, String),
    text: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let (key, language) = answer_path(&key, &lang)?;
    let doc = knowledge::set_answer(
        &state.db,
        state.bots.as_ref(),
        actor,
        tenant,
        key,
        language,
        text,
    )
    .await?;
    Ok(json(doc))
}

async fn restore(
    state: &AppState,
    actor: &Actor,
    tenant: TenantId,
    version: i64,
) -> Result<HttpResponse, AppError> {
    let doc =
        knowledge::restore_version(&state.db, state.bots.as_ref(), actor, tenant, version).await?;
    Ok(json(doc))
}

async fn unanswered(state: &AppState, tenant: TenantId) -> Result<HttpResponse, AppError> {
    let items = knowledge::unanswered(&state.db, tenant).await?;
    Ok(json(serde_json::json!({ "items": items })))
}

async fn dismiss(state: &AppState, tenant: TenantId, id: i64) -> Result<HttpResponse, AppError> {
    knowledge::dismiss_unanswered(&state.db, tenant, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- portal: the session's tenant ----

async fn portal_get(state: web::Data<AppState>, s: OwnerSession) -> Result<HttpResponse, AppError> {
    get(&state, s.tenant_id()).await
}

async fn portal_put(
    state: web::Data<AppState>,
    s: OwnerSession,
    body: PortalJson<KnowledgeInput>,
) -> Result<HttpResponse, AppError> {
    put(&state, &s.actor(), s.tenant_id(), body.0).await
}

async fn portal_try(
    state: web::Data<AppState>,
    s: OwnerSession,
    body: PortalJson<TryBody>,
) -> Result<HttpResponse, AppError> {
    try_bot(&state, s.tenant_id(), body.0).await
}

async fn portal_answers(
    state: web::Data<AppState>,
    s: OwnerSession,
) -> Result<HttpResponse, AppError> {
    answers(&state, s.tenant_id()).await
}

async fn portal_set_answer(
    state: web::Data<AppState>,
    s: OwnerSession,
    path: web::Path<(String, String)>,
    body: PortalJson<AnswerBody>,
) -> Result<HttpResponse, AppError> {
    let text = Some(body.0.text.as_str());
    set_answer(&state, &s.actor(), s.tenant_id(), path.into_inner(), text).await
}

async fn portal_reset_answer(
    state: web::Data<AppState>,
    s: OwnerSession,
    path: web::Path<(String, String)>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    set_answer(&state, &s.actor(), s.tenant_id(), path.into_inner(), None).await
}

async fn portal_restore(
    state: web::Data<AppState>,
    s: OwnerSession,
    path: web::Path<i64>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    restore(&state, &s.actor(), s.tenant_id(), path.into_inner()).await
}

async fn portal_unanswered(
    state: web::Data<AppState>,
    s: OwnerSession,
) -> Result<HttpResponse, AppError> {
    unanswered(&state, s.tenant_id()).await
}

async fn portal_dismiss(
    state: web::Data<AppState>,
    s: OwnerSession,
    path: web::Path<i64>,
    _body: PortalJson<IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    dismiss(&state, s.tenant_id(), path.into_inner()).await
}

// ---- admin: the tenant in the path ----
// With `Authorization` (a token or Basic), or from a console page's script
// on the admin's session cookie: reads as `AdminReader`, writes as
// `AdminWriter` (checked JSON, as the portal's; ahead of the body).

async fn admin_get(
    state: web::Data<AppState>,
    _admin: AdminReader,
    path: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    get(&state, path.into_inner()).await
}

async fn admin_put(
    state: web::Data<AppState>,
    admin: AdminWriter,
    path: web::Path<TenantId>,
    body: web::Json<KnowledgeInput>,
) -> Result<HttpResponse, AppError> {
    put(&state, &admin.actor(), path.into_inner(), body.into_inner()).await
}

async fn admin_try(
    state: web::Data<AppState>,
    _admin: AdminWriter,
    path: web::Path<TenantId>,
    body: web::Json<TryBody>,
) -> Result<HttpResponse, AppError> {
    try_bot(&state, path.into_inner(), body.into_inner()).await
}

async fn admin_answers(
    state: web::Data<AppState>,
    _admin: AdminReader,
    path: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    answers(&state, path.into_inner()).await
}

async fn admin_set_answer(
    state: web::Data<AppState>,
    admin: AdminWriter,
    path: web::Path<(TenantId, String, String)>,
    body: web::Json<AnswerBody>,
) -> Result<HttpResponse, AppError> {
    let (tenant, key, lang) = path.into_inner();
    let text = Some(body.text.as_str());
    set_answer(&state, &admin.actor(), tenant, (key, lang), text).await
}

async fn admin_reset_answer(
    state: web::Data<AppState>,
    admin: AdminWriter,
    path: web::Path<(TenantId, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (tenant, key, lang) = path.into_inner();
    set_answer(&state, &admin.actor(), tenant, (key, lang), None).await
}

async fn admin_restore(
    state: web::Data<AppState>,
    admin: AdminWriter,
    path: web::Path<(TenantId, i64)>,
) -> Result<HttpResponse, AppError> {
    let (tenant, version) = path.into_inner();
    restore(&state, &admin.actor(), tenant, version).await
}

async fn admin_unanswered(
    state: web::Data<AppState>,
    _admin: AdminReader,
    path: web::Path<TenantId>,
) -> Result<HttpResponse, AppError> {
    unanswered(&state, path.into_inner()).await
}

async fn admin_dismiss(
    state: web::Data<AppState>,
    _admin: AdminWriter,
    path: web::Path<(TenantId, i64)>,
) -> Result<HttpResponse, AppError> {
    let (tenant, id) = path.into_inner();
    dismiss(&state, tenant, id).await
}

// ---- /api/v1: the API key's tenant ----

/// What the bot knows: facts, services, FAQ and the owner's own wording of
/// the built-in answers.
#[utoipa::path(get, path = "/api/v1/knowledge", tag = "knowledge",
    responses((status = 200, body = Knowledge)),
    security(("api_key" = ["knowledge:read"])))]
async fn v1_get(
    state: web::Data<AppState>,
    key: ApiKey<scope::KnowledgeRead>,
) -> Result<HttpResponse, AppError> {
    get(&state, key.tenant()).await
}

/// Replaces the whole document (what is left out is emptied); the bot
/// answers with it at once. Reworded answers get a version each.
#[utoipa::path(put, path = "/api/v1/knowledge", tag = "knowledge",
    request_body = KnowledgeInput,
    responses(
        (status = 200, description = "The document as stored", body = Knowledge),
        (status = 422, description = "`validation_failed`: `fields` names each wrong one by its path (`services[1].price`, `answers.hours.en` with an unknown placeholder); nothing is kept", body = super::v1::ApiError),
    ),
    security(("api_key" = ["knowledge:write"])))]
async fn v1_put(
    state: web::Data<AppState>,
    key: ApiKey<scope::KnowledgeWrite>,
    body: web::Json<KnowledgeInput>,
) -> Result<HttpResponse, AppError> {
    put(&state, &key.key.actor(), key.tenant(), body.into_inner()).await
}
