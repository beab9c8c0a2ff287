//! `/api/v1`: the tenant API, for a business's own systems (a shop, a CRM,
//! an automation), on a tenant API key (`ApiKey<scope>`). The key is its
//! tenant: no route takes a tenant id, and another tenant's conversation
//! or message is a 404 like one that does not exist.
//!
//! Owns: the route table (`ROUTES`, which also feeds the OpenAPI document's
//! check) and the HTTP shapes; every rule is in a service. Must not: take
//! a tenant from anywhere but the key.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::portal::no_store;
use super::resource;
use crate::domain::ids::ConversationId;
use crate::error::AppError;
use crate::services::inbox::{self, InboxQuery, Person};
use crate::services::tenant_api::{self, Send, SendInput};
use crate::services::usage;
use crate::state::AppState;
use crate::web::auth::{ApiKey, scope};

/// Every route under `/api/v1` (method, path as the OpenAPI document
/// writes it). `routes` registers exactly these; a test checks the
/// document describes exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/messages"),
    ("get", "/api/v1/messages/{id}"),
    ("get", "/api/v1/conversations"),
    ("get", "/api/v1/conversations/{id}"),
    ("get", "/api/v1/conversations/{id}/messages"),
    ("post", "/api/v1/conversations/{id}/take-over"),
    ("post", "/api/v1/conversations/{id}/hand-back"),
    ("get", "/api/v1/status"),
    ("get", "/api/v1/usage"),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/messages").route(web::post().to(send)))
        .service(resource("/v1/messages/{id}").route(web::get().to(message)))
        .service(resource("/v1/conversations").route(web::get().to(conversations)))
        .service(resource("/v1/conversations/{id}").route(web::get().to(conversation)))
        .service(
            resource("/v1/conversations/{id}/messages").route(web::get().to(conversation_messages)),
        )
        .service(resource("/v1/conversations/{id}/take-over").route(web::post().to(take_over)))
        .service(resource("/v1/conversations/{id}/hand-back").route(web::post().to(hand_back)))
        .service(resource("/v1/status").route(web::get().to(status)))
        .service(resource("/v1/usage").route(web::get().to(usage)));
}

fn json(status: StatusCode, body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(no_store())
        .json(body)
}

/// `POST /api/v1/messages` `{to, text}` (+ `Idempotency-Key`): 202
/// `{id, status}` with the message's address in `Location`.
async fn send(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: ApiKey<scope::MessagesSend>,
    body: web::Json<SendInput>,
) -> Result<HttpResponse, AppError> {
    let send = Send::parse(&body)?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|value| value.to_str().unwrap_or("\u{0}"));
    let accepted = tenant_api::send(
        &state.db,
        state.bots.as_ref(),
        &key.key,
        idempotency_key,
        &send,
    )
    .await?;
    let mut res = HttpResponse::Accepted();
    res.insert_header(no_store())
        .insert_header(("Location", format!("/api/v1/messages/{}", accepted.id)));
    if accepted.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.json(serde_json::json!({
        "id": accepted.id,
        "status": accepted.status,
        "status_url": format!("{}/api/v1/messages/{}", state.public_url, accepted.id),
    })))
}

async fn message(
    state: web::Data<AppState>,
    key: ApiKey<scope::MessagesSend>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        StatusCode::OK,
        tenant_api::message(&state.db, key.tenant(), *id).await?,
    ))
}

async fn conversations(
    state: web::Data<AppState>,
    key: ApiKey<scope::ConversationsRead>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        StatusCode::OK,
        inbox::list(&state.db, key.tenant(), &query).await?,
    ))
}

async fn conversation(
    state: web::Data<AppState>,
    key: ApiKey<scope::ConversationsRead>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        StatusCode::OK,
        inbox::get(&state.db, key.tenant(), *id).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
}

async fn conversation_messages(
    state: web::Data<AppState>,
    key: ApiKey<scope::ConversationsRead>,
    id: web::Path<ConversationId>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = inbox::messages(
        &state.db,
        key.tenant(),
        *id,
        query.cursor.as_deref(),
        query.limit,
    )
    .await?;
    Ok(json(StatusCode::OK, page))
}

fn person(key: &ApiKey<scope::ConversationsWrite>) -> Person {
    Person {
        actor: key.key.actor(),
        name: key.key.author(),
    }
}

async fn take_over(
    state: web::Data<AppState>,
    key: ApiKey<scope::ConversationsWrite>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, AppError> {
    let item = inbox::take_over(
        &state.db,
        state.bots.as_ref(),
        key.tenant(),
        *id,
        &person(&key),
    )
    .await?;
    Ok(json(StatusCode::OK, item))
}

async fn hand_back(
    state: web::Data<AppState>,
    key: ApiKey<scope::ConversationsWrite>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, AppError> {
    let item = inbox::hand_back(
        &state.db,
        state.bots.as_ref(),
        key.tenant(),
        *id,
        &person(&key),
    )
    .await?;
    Ok(json(StatusCode::OK, item))
}

async fn status(
    state: web::Data<AppState>,
    key: ApiKey<scope::ConversationsRead>,
) -> Result<HttpResponse, AppError> {
    let status = tenant_api::status(
        &state.db,
        state.bots.as_ref(),
        key.tenant(),
        state.settings.bots.stale_after,
    )
    .await?;
    Ok(json(StatusCode::OK, status))
}

async fn usage(
    state: web::Data<AppState>,
    key: ApiKey<scope::UsageRead>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        StatusCode::OK,
        usage::usage(&state.db, key.tenant()).await?,
    ))
}
