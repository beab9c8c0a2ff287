//! Meta's WhatsApp Cloud API webhook, `/webhooks/whatsapp/{tenant_id}`.
//!
//! GET: the subscription handshake (`hub.mode=subscribe`, the tenant's
//! verify token, echo `hub.challenge`). POST: the signature
//! (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body under the tenant's
//! app secret) is checked in constant time BEFORE the body is parsed; 401
//! on mismatch. Text messages are persisted (the unique index drops Meta's
//! retries and duplicates) before they are handed to the bot, and only then
//! is Meta answered 200: a crash never loses an acknowledged message. A
//! database failure answers 500, and a running bot too busy to take the
//! message 503, so that Meta delivers again; a repeat of a message still
//! waiting for its answer is handed over again (the bot's dedup cache drops
//! it if it had arrived). Items of an unexpected shape are skipped and
//! logged, not the whole notification.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::enums::MessageStatus;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::bots::transport::cloud_api::{self, Delivery};
use crate::crypto;
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode};
use crate::services::runtime::log_batch::InboundRow;
use crate::services::{messages, transports};
use crate::state::AppState;

/// Meta's notifications are a few KiB; media arrive as ids, not bytes.
const BODY_LIMIT: usize = 256 * 1024;
const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/whatsapp/{tenant_id}")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::get().to(verify))
            .route(web::post().to(receive)),
    );
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

fn not_a_cloud_tenant() -> AppError {
    AppError::not_found(
        ErrorCode::NotFound,
        "No Cloud API number is set up at this address.",
    )
}

/// The tenant the path names, with its credentials: only a tenant on the
/// Cloud API has a webhook (anything else, a non-UUID included, is a 404).
async fn cloud_tenant(
    state: &AppState,
    path: &str,
) -> Result<(TenantId, transports::CloudCredentials), AppError> {
    let tenant: TenantId = path.parse().map_err(|_| not_a_cloud_tenant())?;
    let credentials = transports::webhook_credentials(&state.db, &state.cloud.key, tenant)
        .await?
        .ok_or_else(not_a_cloud_tenant)?;
    Ok((tenant, credentials))
}

async fn verify(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<Handshake>,
) -> Result<HttpResponse, AppError> {
    let (tenant, credentials) = cloud_tenant(&state, &path).await?;
    let Handshake {
        mode,
        verify_token,
        challenge,
    } = query.into_inner();
    if mode.as_deref() != Some("subscribe") {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            "Expected hub.mode=subscribe.",
        ));
    }
    let token_matches = verify_token.is_some_and(|token| {
        crypto::constant_time_eq(
            token.as_bytes(),
            credentials.verify_token.expose_secret().as_bytes(),
        )
    });
    if !token_matches {
        tracing::warn!(%tenant, "webhook verification with a wrong verify token");
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "The verify token does not match.",
        ));
    }
    tracing::info!(%tenant, "Cloud API webhook verified");
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(challenge.unwrap_or_default()))
}

#[derive(Debug, Deserialize)]
struct Notification {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    field: String,
    value: Option<ChangeValue>,
}

#[derive(Debug, Deserialize)]
struct ChangeValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    display_phone_number: Option<String>,
    phone_number_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    from: Option<String>,
    id: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    text: Option<Text>,
}

#[derive(Debug, Deserialize)]
struct Text {
    body: String,
}

#[derive(Debug, Deserialize)]
struct Status {
    id: Option<String>,
    status: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Debug, Deserialize)]
struct StatusError {
    code: Option<i64>,
    title: Option<String>,
}

fn unauthorized() -> AppError {
    AppError::unauthorized("The X-Hub-Signature-256 signature does not match.")
}

async fn receive(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (tenant, credentials) = cloud_tenant(&state, &path).await?;
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(unauthorized)?;
    if !crypto::hub_signature_matches(
        credentials.app_secret.expose_secret().as_bytes(),
        &body,
        signature,
    ) {
        tracing::warn!(%tenant, "webhook POST with a bad signature refused");
        return Err(unauthorized());
    }
    let notification: Notification = serde_json::from_slice(&body).map_err(|err| {
        tracing::warn!(%tenant, error = %err, "malformed Cloud API webhook payload");
        AppError::new(
            ErrorCode::BadRequest,
            format!("The notification is malformed: {err}"),
        )
    })?;
    if notification.object != "whatsapp_business_account" {
        tracing::info!(%tenant, object = %notification.object, "webhook for another object ignored");
        return Ok(HttpResponse::Ok().finish());
    }
    let mut busy = false;
    for change in notification
        .entry
        .into_iter()
        .flat_map(|entry| entry.changes)
    {
        let (true, Some(value)) = (change.field == "messages", change.value) else {
            continue;
        };
        let ours = |meta: &Metadata| {
            meta.phone_number_id.as_deref() == Some(credentials.phone_number_id.as_str())
        };
        let business = match &value.metadata {
            Some(meta) if ours(meta) => meta
                .display_phone_number
                .as_deref()
                .map_or_else(|| "bot".to_owned(), cloud_api::e164),
            other => {
                tracing::warn!(
                    %tenant,
                    phone_number_id = other.as_ref().and_then(|meta| meta.phone_number_id.as_deref()),
                    "webhook change for another phone number id ignored"
                );
                continue;
            }
        };
        for message in value.messages {
            if receive_message(&state, tenant, &business, message).await? == Delivery::Busy {
                busy = true;
            }
        }
        for status in value.statuses {
            record_status(&state, tenant, status).await?;
        }
    }
    if busy {
        // Stored, but the bot did not take it: Meta's retry hands it over.
        return Err(AppError::new(
            ErrorCode::ServiceUnavailable,
            "The bot is busy; deliver again later.",
        ));
    }
    Ok(HttpResponse::Ok().finish())
}

async fn receive_message(
    state: &AppState,
    tenant: TenantId,
    business: &str,
    message: Message,
) -> Result<Delivery, AppError> {
    let (Some(id), Some(from)) = (message.id, message.from) else {
        tracing::warn!(%tenant, "webhook message without id or sender skipped");
        return Ok(Delivery::Delivered);
    };
    let text = match (message.kind.as_str(), message.text) {
        ("text", Some(text)) if !text.body.trim().is_empty() => text.body,
        (kind, _) => {
            tracing::info!(%tenant, %id, kind, "non-text message not answered");
            return Ok(Delivery::Delivered);
        }
    };
    let timestamp = message
        .timestamp
        .as_deref()
        .and_then(|secs| secs.parse::<i64>().ok());
    let mut inbound = cloud_api::inbound(&from, id, text, timestamp);
    let stored = state
        .bots
        .writer()
        .persist(InboundRow {
            tenant_id: tenant,
            wa_message_id: inbound.id.clone(),
            chat_id: inbound.from.clone(),
            to: business.to_owned(),
            text: inbound.text.clone(),
            created_at: inbound.at,
        })
        .await
        .map_err(AppError::internal)?;
    let row = match stored {
        Some(row) => row,
        // Stored before: hand it over again while it waits for its answer
        // (an earlier delivery may have found the bot busy).
        None => match messages::waiting_inbound(&state.db, tenant, &inbound.id).await? {
            Some(row) => row,
            None => {
                tracing::debug!(%tenant, id = %inbound.id, "Meta delivered a message again; already answered");
                return Ok(Delivery::Delivered);
            }
        },
    };
    inbound.stored_id = Some(row);
    let delivery = state.cloud.deliver(tenant, inbound).await;
    match delivery {
        Delivery::NotRunning => {
            tracing::info!(%tenant, "bot not running: the message is answered when it next connects");
        }
        Delivery::Busy => {
            tracing::warn!(%tenant, "bot too busy to take a message; asking Meta to deliver again")
        }
        Delivery::Delivered => {}
    }
    Ok(delivery)
}

async fn record_status(state: &AppState, tenant: TenantId, status: Status) -> Result<(), AppError> {
    let (new, error) = match status.status.as_str() {
        "sent" => return Ok(()),
        "delivered" => (MessageStatus::Delivered, None),
        "read" => (MessageStatus::Read, None),
        "failed" => {
            let reason = status
                .errors
                .first()
                .map(|err| match (&err.title, err.code) {
                    (Some(title), Some(code)) => {
                        format!("WhatsApp did not deliver it: {title} ({code})")
                    }
                    (Some(title), None) => format!("WhatsApp did not deliver it: {title}"),
                    (None, Some(code)) => format!("WhatsApp did not deliver it (error {code})"),
                    (None, None) => "WhatsApp did not deliver it".to_owned(),
                })
                .unwrap_or_else(|| "WhatsApp did not deliver it".to_owned());
            (MessageStatus::Failed, Some(reason))
        }
        other => {
            tracing::debug!(%tenant, status = other, "unknown message status ignored");
            return Ok(());
        }
    };
    let Some(id) = status.id else {
        tracing::warn!(%tenant, "webhook status without a message id skipped");
        return Ok(());
    };
    let updated = messages::record_delivery(&state.db, tenant, &id, new, error).await?;
    if updated == 0 {
        tracing::debug!(%tenant, %id, status = %status.status, "status for an unknown or later-state message");
    }
    Ok(())
}
