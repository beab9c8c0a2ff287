//! Meta's WhatsApp Cloud API webhook, as use cases: the subscription
//! handshake and the signed notifications.
//!
//! The signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body under
//! the tenant's app secret) is checked in constant time BEFORE the body is
//! parsed. Customer messages (text, or what else they sent, kept with its
//! caption or file name) are stored (the unique index drops Meta's retries
//! and duplicates) before they are handed to the bot, and only then is Meta
//! answered: a crash never loses an acknowledged message. A running bot
//! too busy to take a message makes the answer 503, so Meta delivers again;
//! a repeat of a message still waiting for its answer is handed over again
//! (the bot drops it if it had arrived). Delivery reports go through the
//! log writer's batches. Echoes of what the business's own WhatsApp
//! Business app sent (`smb_message_echoes`) are logged as the phone's and
//! hand the chat to a person. Items of an unexpected shape are skipped and
//! logged, not the whole notification.

use entity::enums::{MessageKind, MessageStatus};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::control::{BotControl, CustomerMessage, DeliveryReport, Receipt};
use super::runtime::phone::{self, PhoneMessage};
use super::transports;
use crate::crypto::{self, MasterKey};
use crate::domain::ids::TenantId;
use crate::domain::media;
use crate::domain::phone::{PhoneNumber, e164_digits};
use crate::error::{AppError, ErrorCode};

/// The longest message id taken from Meta (theirs are ~60 characters).
const MAX_MESSAGE_ID_CHARS: usize = 128;

/// The message id and the sender (as +E.164) of a webhook message, or why
/// it is not one WhatsApp would send: an id of 1 to `MAX_MESSAGE_ID_CHARS`
/// characters, a sender of digits that make a phone number.
fn message_origin(
    id: Option<String>,
    from: Option<String>,
) -> Result<(String, String), &'static str> {
    let id = id
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_CHARS)
        .ok_or("no usable message id")?;
    let from = from
        .filter(|from| from.chars().all(|c| c.is_ascii_digit()))
        .and_then(|digits| PhoneNumber::parse(&format!("+{digits}")).ok())
        .ok_or("no usable sender number")?;
    Ok((id, from.into_string()))
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
    db: &sea_orm::DatabaseConnection,
    key: &MasterKey,
    path: &str,
) -> Result<(TenantId, transports::CloudCredentials), AppError> {
    let tenant: TenantId = path.parse().map_err(|_| not_a_cloud_tenant())?;
    let credentials = transports::webhook_credentials(db, key, tenant)
        .await?
        .ok_or_else(not_a_cloud_tenant)?;
    Ok((tenant, credentials))
}

/// The query of Meta's subscription handshake.
#[derive(Debug, Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// Answers the challenge when the verify token is the tenant's.
pub async fn verify(
    db: &sea_orm::DatabaseConnection,
    key: &MasterKey,
    path: &str,
    handshake: Handshake,
) -> Result<String, AppError> {
    let (tenant, credentials) = cloud_tenant(db, key, path).await?;
    if handshake.mode.as_deref() != Some("subscribe") {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            "Expected hub.mode=subscribe.",
        ));
    }
    let token_matches = handshake.verify_token.is_some_and(|token| {
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
    Ok(handshake.challenge.unwrap_or_default())
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
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
    /// What the WhatsApp Business app sent on a number it shares with the
    /// Cloud API (`smb_message_echoes`).
    #[serde(default)]
    message_echoes: Vec<Message>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    display_phone_number: Option<String>,
    phone_number_id: Option<String>,
}

/// Who wrote: `{wa_id, profile: {name}}`, the push name.
#[derive(Debug, Deserialize)]
struct Contact {
    wa_id: Option<String>,
    profile: Option<Profile>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    name: Option<String>,
}

/// A message in a notification: a customer's (`messages`), or one the
/// business sent from the WhatsApp Business app (`message_echoes`, where
/// `to` is the customer).
#[derive(Debug, Default, Deserialize)]
struct Message {
    from: Option<String>,
    to: Option<String>,
    id: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    text: Option<Text>,
    image: Option<Media>,
    audio: Option<Media>,
    video: Option<Media>,
    document: Option<Media>,
    sticker: Option<Media>,
    location: Option<Location>,
    #[serde(default)]
    contacts: Vec<ContactCard>,
    interactive: Option<Interactive>,
    button: Option<Button>,
}

#[derive(Debug, Deserialize)]
struct Text {
    body: String,
}

/// An image, voice note, video, document or sticker: only its caption and
/// file name are kept (the file is not downloaded).
#[derive(Debug, Default, Deserialize)]
struct Media {
    caption: Option<String>,
    filename: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ContactCard {
    name: Option<ContactCardName>,
}

#[derive(Debug, Default, Deserialize)]
struct ContactCardName {
    formatted_name: Option<String>,
}

/// A tap on a reply button or a list row.
#[derive(Debug, Default, Deserialize)]
struct Interactive {
    button_reply: Option<Choice>,
    list_reply: Option<Choice>,
}

#[derive(Debug, Default, Deserialize)]
struct Choice {
    title: Option<String>,
}

/// A tap on a template's quick-reply button.
#[derive(Debug, Default, Deserialize)]
struct Button {
    text: Option<String>,
}

/// What a message is and the words it carries: its text, or the caption,
/// file name, place or names of what else it is. `None`: not a message a
/// person should see (a reaction, a system notice, an empty text).
fn content(message: &Message) -> Option<(MessageKind, String)> {
    let media = |m: &Option<Media>| {
        m.as_ref().map_or_else(String::new, |m| {
            match (m.filename.as_deref(), m.caption.as_deref()) {
                (Some(file), Some(caption)) => format!("{file}: {caption}"),
                (file, caption) => file.or(caption).unwrap_or_default().to_owned(),
            }
        })
    };
    let (kind, text) = match message.kind.as_str() {
        "text" => {
            let body = message.text.as_ref().map(|t| t.body.clone())?;
            if body.trim().is_empty() {
                return None;
            }
            return Some((MessageKind::Text, body));
        }
        "image" => (MessageKind::Image, media(&message.image)),
        "audio" | "voice" => (MessageKind::Audio, media(&message.audio)),
        "video" => (MessageKind::Video, media(&message.video)),
        "document" => (MessageKind::Document, media(&message.document)),
        "sticker" => (MessageKind::Sticker, media(&message.sticker)),
        "location" => {
            let place = message.location.as_ref().map(|l| {
                let coordinates = match (l.latitude, l.longitude) {
                    (Some(lat), Some(long)) => Some(format!("{lat}, {long}")),
                    _ => None,
                };
                [l.name.clone(), l.address.clone(), coordinates]
                    .into_iter()
                    .flatten()
                    .filter(|part| !part.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" · ")
            });
            (MessageKind::Location, place.unwrap_or_default())
        }
        "contacts" => {
            let names: Vec<&str> = message
                .contacts
                .iter()
                .filter_map(|c| c.name.as_ref()?.formatted_name.as_deref())
                .collect();
            (MessageKind::Contacts, names.join(", "))
        }
        "interactive" => {
            let choice = message
                .interactive
                .as_ref()
                .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()))
                .and_then(|c| c.title.clone());
            (MessageKind::Button, choice.unwrap_or_default())
        }
        "button" => (
            MessageKind::Button,
            message
                .button
                .as_ref()
                .and_then(|b| b.text.clone())
                .unwrap_or_default(),
        ),
        // Reactions, system notices (a changed number), and what Meta
        // itself calls "unsupported" or does not describe: a reaction is
        // no message to answer, the rest is shown as "other".
        "reaction" | "system" | "ephemeral" | "request_welcome" => return None,
        _ => (MessageKind::Other, String::new()),
    };
    Some((kind, media::detail(&text)))
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

/// The webhook of the tenant a path names, found before any body is read:
/// a path that names no Cloud API tenant is a 404 at once.
pub struct Webhook {
    tenant: TenantId,
    credentials: transports::CloudCredentials,
    /// Where what the business's own phone sent is logged.
    db: sea_orm::DatabaseConnection,
}

pub async fn webhook(
    db: &sea_orm::DatabaseConnection,
    key: &MasterKey,
    path: &str,
) -> Result<Webhook, AppError> {
    let (tenant, credentials) = cloud_tenant(db, key, path).await?;
    Ok(Webhook {
        tenant,
        credentials,
        db: db.clone(),
    })
}

/// Checks the signature, stores and hands over the messages, records the
/// delivery reports. Err(503) when a running bot did not take a stored
/// message in time: Meta's retry hands it over again.
pub async fn receive(
    bots: &dyn BotControl,
    webhook: Webhook,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), AppError> {
    let Webhook {
        tenant,
        credentials,
        db,
    } = webhook;
    let signature = signature.ok_or_else(unauthorized)?;
    if !crypto::hub_signature_matches(
        credentials.app_secret.expose_secret().as_bytes(),
        body,
        signature,
    ) {
        tracing::warn!(%tenant, "webhook POST with a bad signature refused");
        return Err(unauthorized());
    }
    let notification: Notification = serde_json::from_slice(body).map_err(|err| {
        tracing::warn!(%tenant, error = %err, "malformed Cloud API webhook payload");
        AppError::new(
            ErrorCode::BadRequest,
            format!("The notification is malformed: {err}"),
        )
    })?;
    if notification.object != "whatsapp_business_account" {
        tracing::info!(%tenant, object = %notification.object, "webhook for another object ignored");
        return Ok(());
    }
    let mut busy = false;
    for change in notification
        .entry
        .into_iter()
        .flat_map(|entry| entry.changes)
    {
        let wanted = matches!(change.field.as_str(), "messages" | "smb_message_echoes");
        let (true, Some(value)) = (wanted, change.value) else {
            continue;
        };
        let business = match &value.metadata {
            Some(meta)
                if meta.phone_number_id.as_deref()
                    == Some(credentials.phone_number_id.as_str()) =>
            {
                meta.display_phone_number
                    .as_deref()
                    .map_or_else(|| "bot".to_owned(), e164_digits)
            }
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
            let name = contact_name(&value.contacts, message.from.as_deref());
            if receive_message(bots, tenant, &business, message, name).await? == Receipt::Busy {
                busy = true;
            }
        }
        for status in value.statuses {
            record_status(bots, tenant, status).await?;
        }
        for echo in value.message_echoes {
            record_echo(&db, bots, tenant, echo).await?;
        }
    }
    if busy {
        // Stored, but the bot did not take it: Meta's retry hands it over.
        return Err(AppError::new(
            ErrorCode::ServiceUnavailable,
            "The bot is busy; deliver again later.",
        ));
    }
    Ok(())
}

/// The push name Meta sent along for the sender `from`.
fn contact_name(contacts: &[Contact], from: Option<&str>) -> Option<String> {
    contacts
        .iter()
        .find(|contact| contact.wa_id.is_some() && contact.wa_id.as_deref() == from)
        .and_then(|contact| contact.profile.as_ref()?.name.as_deref())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| name.chars().take(200).collect())
}

async fn receive_message(
    bots: &dyn BotControl,
    tenant: TenantId,
    business: &str,
    message: Message,
    contact_name: Option<String>,
) -> Result<Receipt, AppError> {
    let (id, from) = match message_origin(message.id.clone(), message.from.clone()) {
        Ok(origin) => origin,
        Err(why) => {
            tracing::warn!(%tenant, why, "webhook message skipped");
            return Ok(Receipt::Delivered);
        }
    };
    let Some((kind, text)) = content(&message) else {
        tracing::info!(%tenant, %id, kind = %message.kind, "webhook message of no interest skipped");
        return Ok(Receipt::Delivered);
    };
    let at = sent_at(message.timestamp.as_deref());
    let receipt = bots
        .receive(
            tenant,
            CustomerMessage {
                id,
                from,
                to: business.to_owned(),
                text,
                kind,
                at,
                contact_name,
            },
        )
        .await?;
    match receipt {
        Receipt::Stored => {
            tracing::info!(%tenant, "bot not running: the message is answered when it next connects");
        }
        Receipt::Busy => {
            tracing::warn!(%tenant, "bot too busy to take a message; asking Meta to deliver again");
        }
        Receipt::Duplicate => {
            tracing::debug!(%tenant, "Meta delivered a message again; already answered");
        }
        Receipt::Delivered => {}
    }
    Ok(receipt)
}

/// What the business's own WhatsApp Business app sent to a customer: logged
/// as the phone's, and the chat goes to a person (the bot's own sends are
/// told apart by their message id).
async fn record_echo(
    db: &sea_orm::DatabaseConnection,
    bots: &dyn BotControl,
    tenant: TenantId,
    echo: Message,
) -> Result<(), AppError> {
    let (id, chat) = match message_origin(echo.id.clone(), echo.to.clone()) {
        Ok(origin) => origin,
        Err(why) => {
            tracing::warn!(%tenant, why, "webhook message echo skipped");
            return Ok(());
        }
    };
    let Some((kind, text)) = content(&echo) else {
        return Ok(());
    };
    let message = PhoneMessage {
        id,
        chat,
        text,
        kind,
        at: sent_at(echo.timestamp.as_deref()),
    };
    if phone::record(db, tenant, &message).await? {
        tracing::info!(%tenant, "the business app wrote in a chat: a person has it now");
        bots.changed(tenant);
    }
    Ok(())
}

/// A webhook timestamp (seconds since the epoch), or now.
fn sent_at(timestamp: Option<&str>) -> chrono::DateTime<chrono::Utc> {
    timestamp
        .and_then(|secs| secs.parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .unwrap_or_else(chrono::Utc::now)
}

async fn record_status(
    bots: &dyn BotControl,
    tenant: TenantId,
    status: Status,
) -> Result<(), AppError> {
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
    bots.report_delivery(
        tenant,
        DeliveryReport {
            wa_message_id: id,
            status: new,
            error,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(id: &str, from: &str) -> Result<(String, String), &'static str> {
        message_origin(Some(id.to_owned()), Some(from.to_owned()))
    }

    fn parsed(json: serde_json::Value) -> Option<(MessageKind, String)> {
        let message: Message = serde_json::from_value(json).unwrap();
        content(&message)
    }

    #[test]
    fn every_kind_of_message_meta_sends_is_kept_with_its_words() {
        use serde_json::json;
        let cases = [
            (
                json!({"type": "text", "text": {"body": "hi"}}),
                Some((MessageKind::Text, "hi")),
            ),
            (json!({"type": "text", "text": {"body": "  "}}), None),
            (
                json!({"type": "image", "image": {"id": "m", "caption": "the shop"}}),
                Some((MessageKind::Image, "the shop")),
            ),
            (
                json!({"type": "audio", "audio": {"id": "m", "voice": true}}),
                Some((MessageKind::Audio, "")),
            ),
            (
                json!({"type": "video", "video": {"caption": "clip"}}),
                Some((MessageKind::Video, "clip")),
            ),
            (
                json!({"type": "document", "document": {"filename": "menu.pdf", "caption": "prices"}}),
                Some((MessageKind::Document, "menu.pdf: prices")),
            ),
            (
                json!({"type": "sticker", "sticker": {"animated": false}}),
                Some((MessageKind::Sticker, "")),
            ),
            (
                json!({"type": "location", "location": {"latitude": 52.5, "longitude": 13.4, "name": "Shop"}}),
                Some((MessageKind::Location, "Shop · 52.5, 13.4")),
            ),
            (
                json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Ana Diaz"}}]}),
                Some((MessageKind::Contacts, "Ana Diaz")),
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Yes"}}}),
                Some((MessageKind::Button, "Yes")),
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "r", "title": "Tuesday"}}}),
                Some((MessageKind::Button, "Tuesday")),
            ),
            (
                json!({"type": "button", "button": {"payload": "p", "text": "Stop"}}),
                Some((MessageKind::Button, "Stop")),
            ),
            (
                json!({"type": "unsupported"}),
                Some((MessageKind::Other, "")),
            ),
            (
                json!({"type": "reaction", "reaction": {"emoji": "👍"}}),
                None,
            ),
        ];
        for (json, expected) in cases {
            let shown = json.to_string();
            let expected = expected.map(|(kind, text)| (kind, text.to_owned()));
            assert_eq!(parsed(json), expected, "{shown}");
        }
    }

    #[test]
    fn only_a_bounded_id_and_a_real_sender_make_a_message() {
        assert_eq!(
            origin("wamid.1", "4917612345678"),
            Ok(("wamid.1".to_owned(), "+4917612345678".to_owned()))
        );
        assert!(origin("", "4917612345678").is_err(), "empty id");
        assert!(origin(&"x".repeat(MAX_MESSAGE_ID_CHARS + 1), "4917612345678").is_err());
        assert!(origin(&"x".repeat(MAX_MESSAGE_ID_CHARS), "4917612345678").is_ok());
        for from in [
            "",
            "+4917612345678",
            "49 176",
            "123",
            "4917612345678901234",
            "abc",
        ] {
            assert!(origin("wamid.1", from).is_err(), "sender {from:?}");
        }
        assert!(message_origin(None, Some("4917612345678".to_owned())).is_err());
        assert!(message_origin(Some("wamid.1".to_owned()), None).is_err());
    }
}
