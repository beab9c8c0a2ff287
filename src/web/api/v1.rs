//! `/api/v1`: the tenant API, for a business's own systems (a shop, a CRM,
//! an automation), on a tenant API key (`ApiKey<scope>`). The key is its
//! tenant: no route takes a tenant id, and another tenant's conversation
//! or message is a 404 like one that does not exist.
//!
//! Owns: the routes, their OpenAPI document (`ApiDoc`) and the HTTP shapes; every rule is in a service. Must not: take
//! a tenant from anywhere but the key.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::portal::no_store;
use super::resource;
use crate::domain::ids::ConversationId;
use crate::error::AppError;
use crate::services::inbox::{
    self, ConversationItem, ConversationPage, InboxQuery, MessagePage, Person,
};
use crate::services::tenant_api::{self, ApiMessage, ApiStatus, Send, SendInput};
use crate::services::usage::{self, Usage};
use crate::state::AppState;
use crate::web::auth::{ApiKey, scope};

/// The OpenAPI 3.1 document of `/api/v1`, generated from the handlers'
/// `#[utoipa::path]` annotations and the types they answer with.
///
/// To document a new route: annotate its handler with `#[utoipa::path(…)]`
/// and name it in `paths(…)` below (one line); its request and response
/// types derive `utoipa::ToSchema` and are picked up from the annotation.
/// A module with many routes may keep its own `#[derive(OpenApi)]` struct
/// and join it in `document()` with one `merge` line. The test
/// `tenant_api_docs::the_document_describes_exactly_the_routes_served`
/// fails until the document and the routes agree.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Flow HQ tenant API",
        version = "1",
        description = "Send WhatsApp messages through your bot, read conversations, hand them \
            over, read and replace what the bot knows, manage webhook endpoints, and see usage. \
            The events sent to webhook endpoints are described under `webhooks`. Authenticate with an API key from the portal's API keys page: \
            `Authorization: Bearer fhq_live_…`. Errors are `{error, message, fields?, request_id}` \
            with a stable `error` code."
    ),
    paths(
        send,
        message,
        conversations,
        conversation,
        conversation_messages,
        take_over,
        hand_back,
        status,
        usage
    ),
    components(schemas(ApiError)),
    modifiers(&ApiKeyAuth, &WebhookEvents),
    security(("api_key" = []))
)]
pub struct ApiDoc;

/// The document as served at `/api/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut doc = ApiDoc::openapi();
    doc.merge(super::knowledge::KnowledgeDoc::openapi());
    doc.merge(super::webhooks::WebhooksDoc::openapi());
    doc
}

/// The events Flow HQ sends to webhook endpoints, as OpenAPI 3.1's
/// top-level `webhooks` map: one entry per event type (and `webhook.test`),
/// its body the `Envelope` with `data` of the type's `…V1` schema, its
/// headers those of Standard Webhooks. utoipa 5's `OpenApi` has no
/// `webhooks` field, so the map goes in through its flattened extensions
/// (serialised at the top level like any field); the schemas are real
/// components, derived from the structs the events are serialised from.
struct WebhookEvents;

impl utoipa::Modify for WebhookEvents {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use crate::services::webhooks::events::{self, EventType};
        let components = openapi.components.get_or_insert_with(Default::default);
        let (envelope, schemas) = events::envelope_schema();
        components.schemas.extend(schemas);
        let types = EventType::ALL
            .into_iter()
            .map(|t| (t.as_str(), t.describe(), t.data_schema()))
            .chain(std::iter::once((
                events::TEST_EVENT_TYPE,
                "sent on \"send a test event\" only",
                events::test_data_schema(),
            )));
        let mut map = serde_json::Map::new();
        for (name, describe, (data, schemas)) in types {
            components.schemas.extend(schemas);
            map.insert(
                name.to_owned(),
                webhook_item(name, describe, &envelope, &data),
            );
        }
        openapi
            .extensions
            .get_or_insert_with(Default::default)
            .insert("webhooks".to_owned(), serde_json::Value::Object(map));
    }
}

/// The path item of one event type in the `webhooks` map.
fn webhook_item(name: &str, describe: &str, envelope: &str, data: &str) -> serde_json::Value {
    let header = |header: &str, description: &str| {
        serde_json::json!({
            "name": header, "in": "header", "required": true,
            "description": description, "schema": { "type": "string" }
        })
    };
    serde_json::json!({
        "post": {
            "summary": format!("{name}: {describe}"),
            "operationId": format!("webhook_{}", name.replace('.', "_")),
            "tags": ["webhook events"],
            "parameters": [
                header("webhook-id", "The event's id (`msg_…`), the same on every retry: deduplicate by it."),
                header("webhook-timestamp", "Unix seconds when this attempt was signed."),
                header("webhook-signature", "`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">` per signing secret (two during a rotation's overlap)."),
            ],
            "requestBody": {
                "required": true,
                "content": { "application/json": { "schema": { "allOf": [
                    { "$ref": format!("#/components/schemas/{envelope}") },
                    { "type": "object", "properties": {
                        "type": { "const": name },
                        "data": { "$ref": format!("#/components/schemas/{data}") }
                    } }
                ] } } }
            },
            "responses": {
                "2XX": { "description": "Received. Anything else is retried with backoff for about 24 h (a 4xx other than 408, 409, 425 and 429 is not)." }
            }
        }
    })
}

/// The bearer scheme every route takes.
struct ApiKeyAuth;

impl utoipa::Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fhq_live_…")
                    .description(Some(
                        "A tenant API key; each route names the scope it needs.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every error: a stable code, a message for people, per-field messages
/// for bad input, and the request id to quote to support.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct ApiError {
    /// e.g. `api_key_invalid`, `insufficient_scope`, `validation_failed`,
    /// `conversation_not_found`, `bot_not_running`, `outside_window`,
    /// `quota_exceeded`, `idempotency_key_reused`, `rate_limited`.
    error: String,
    message: String,
    fields: Option<std::collections::BTreeMap<String, String>>,
    request_id: String,
}

/// `POST /api/v1/messages`'s answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct SendAnswer {
    id: i64,
    /// QUEUED: the bot sends it next, in the chat's order.
    status: String,
    /// Where to read its status (`GET /api/v1/messages/{id}`).
    status_url: String,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/openapi.json").route(web::get().to(openapi_json)))
        .service(resource("/v1/docs").route(web::get().to(docs)))
        .service(resource("/v1/messages").route(web::post().to(send)))
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

/// `GET /api/v1/openapi.json`: public, like any API reference.
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// `GET /api/v1/docs`: the interactive reference, Swagger UI served by
/// the binary itself from /static (vendored: no CDN, works offline), under
/// the same CSP as every page.
async fn docs() -> HttpResponse {
    let (css, [bundle, start]) = crate::views::assets::api_docs_assets();
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Flow HQ tenant API" }
                link rel="stylesheet" href=(css);
            }
            body {
                div #swagger-ui data-url="/api/v1/openapi.json" {}
                script src=(bundle) {}
                script src=(start) {}
            }
        }
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}

/// Send a text message to a customer through your bot.
///
/// It is stored and sent by the bot in the chat's order under its rate
/// limits (202: accepted, not yet sent; follow `status_url`). With an
/// `Idempotency-Key`, a repeat answers the first result and sends nothing
/// (`Idempotent-Replayed: true`); the same key with another body is a 422.
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    tag = "messages",
    request_body = SendInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID) per message; up to 255 ASCII characters")),
    responses(
        (status = 202, description = "Accepted for sending", body = SendAnswer),
        (status = 401, description = "Missing, invalid, revoked or expired key", body = ApiError),
        (status = 403, description = "The key lacks `messages:send`", body = ApiError),
        (status = 409, description = "`bot_not_running`, or `outside_window` (Cloud API: the customer's last message is over 24 h old)", body = ApiError),
        (status = 422, description = "`to` not E.164, empty text, or `idempotency_key_reused`", body = ApiError),
        (status = 429, description = "`quota_exceeded` (the plan's monthly messages) or `rate_limited`", body = ApiError),
    ),
    security(("api_key" = ["messages:send"]))
)]
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
    Ok(res.json(SendAnswer {
        id: accepted.id,
        status: "QUEUED".to_owned(),
        status_url: format!("{}/api/v1/messages/{}", state.public_url, accepted.id),
    }))
}

/// One message: its status (QUEUED → SENDING → SENT → DELIVERED → READ, or FAILED).
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = i64, Path, description = "The message's id")),
    responses(
        (status = 200, body = ApiMessage),
        (status = 404, description = "`message_not_found`", body = ApiError),
    ),
    security(("api_key" = ["messages:send"])))]
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

/// Conversations, most recent first, a page at a time.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    params(InboxQuery),
    responses((status = 200, body = ConversationPage), (status = 422, description = "A bad cursor", body = ApiError)),
    security(("api_key" = ["conversations:read"])))]
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

/// One conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationItem), (status = 404, description = "`conversation_not_found`", body = ApiError)),
    security(("api_key" = ["conversations:read"])))]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// `next_cursor` of the page before (older messages).
    #[serde(default)]
    cursor: Option<String>,
    /// At most 100 (default 50).
    #[serde(default)]
    limit: Option<u64>,
}

/// A conversation's messages, oldest first; `next_cursor` pages back.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id"), PageQuery),
    responses((status = 200, body = MessagePage), (status = 404, description = "`conversation_not_found`", body = ApiError)),
    security(("api_key" = ["conversations:read"])))]
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

/// A person takes the conversation: the bot stays silent in it.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/take-over", tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationItem), (status = 404, description = "`conversation_not_found`", body = ApiError)),
    security(("api_key" = ["conversations:write"])))]
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

/// The bot answers the conversation again.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/hand-back", tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationItem), (status = 404, description = "`conversation_not_found`", body = ApiError)),
    security(("api_key" = ["conversations:write"])))]
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

/// The bot: running or not, and the WhatsApp link.
#[utoipa::path(get, path = "/api/v1/status", tag = "status",
    responses((status = 200, body = ApiStatus)),
    security(("api_key" = ["conversations:read"])))]
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

/// This month and today against the plan's limits.
#[utoipa::path(get, path = "/api/v1/usage", tag = "usage",
    responses((status = 200, body = Usage)),
    security(("api_key" = ["usage:read"])))]
async fn usage(
    state: web::Data<AppState>,
    key: ApiKey<scope::UsageRead>,
) -> Result<HttpResponse, AppError> {
    Ok(json(
        StatusCode::OK,
        usage::usage(&state.db, key.tenant()).await?,
    ))
}
