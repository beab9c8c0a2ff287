//! What a tenant's own systems do through `/api/v1`, as the API key that
//! is their tenant: send a message, read it back, the bot's status.
//! (Conversations, take-over and hand-back are `inbox`'s use cases; usage
//! is `usage`'s.)
//!
//! Owns: the API send. It is a row first, like a person's reply from the
//! inbox: an OUTBOUND message QUEUED with the key as its author, the
//! conversation's last activity, the month's counter and the
//! `Idempotency-Key` in ONE transaction; then `BotControl::send_queued`
//! nudges the running bot, which sends it in the chat's order under its
//! limits. Unlike a person's reply it does not take the chat from the bot
//! (a shop's "your order shipped" is not a conversation).
//! Must not: send anything itself, or take a tenant from the request.

use chrono::{DateTime, Utc};
use entity::enums::{Direction, MessageKind, MessageStatus};
use entity::{api_idempotency, conversation, message_log};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use super::api_keys::VerifiedKey;
use super::control::BotControl;
use super::inbox;
use super::runtime::conversation_batch::{self, Activity};
use super::usage::{self, Counts};
use crate::domain::PhoneNumber;
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode, FieldErrors};

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// `POST /api/v1/messages`: `{to, text}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// The customer's number in E.164 (`+4915112345678`).
    #[serde(default)]
    pub to: String,
    /// At most 4,096 characters.
    #[serde(default)]
    pub text: String,
}

/// A checked send: the recipient in E.164, the text trimmed.
#[derive(Debug, Clone)]
pub struct Send {
    pub to: PhoneNumber,
    pub text: String,
}

impl Send {
    pub fn parse(input: &SendInput) -> Result<Self, AppError> {
        let mut fields = FieldErrors::new();
        let to = PhoneNumber::parse(&input.to).map_err(|problem| {
            fields.insert("to".to_owned(), problem);
        });
        let text = inbox::parse_text(&input.text).map_err(|err| {
            fields.extend(err.fields().clone());
        });
        match (to, text) {
            (Ok(to), Ok(text)) => Ok(Self { to, text }),
            _ => Err(AppError::validation(fields)),
        }
    }

    /// What an `Idempotency-Key` is bound to: the same key with another
    /// request is refused.
    fn fingerprint(&self) -> String {
        crate::crypto::sha256_hex(
            &serde_json::json!(["POST /messages", self.to.as_str(), self.text]).to_string(),
        )
    }
}

/// A message accepted for sending (202).
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub id: i64,
    pub status: MessageStatus,
    /// This answer repeats the first request with the same `Idempotency-Key`:
    /// nothing was sent again.
    #[serde(skip)]
    pub replayed: bool,
}

/// An API message as `GET /api/v1/messages/{id}` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiMessage {
    pub id: i64,
    /// IN or OUT.
    #[schema(value_type = String)]
    pub direction: Direction,
    /// The customer's number (E.164).
    pub chat: String,
    pub author: String,
    pub text: String,
    /// QUEUED, SENDING, SENT, DELIVERED, READ, FAILED, UNKNOWN.
    #[schema(value_type = String)]
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Sends `send` through the tenant's bot. With an `Idempotency-Key`, a
/// repeat answers the first result and sends nothing; the same key with
/// another request is a 422 `idempotency_key_reused`.
pub async fn send(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    key: &VerifiedKey,
    idempotency_key: Option<&str>,
    send: &Send,
) -> Result<Accepted, AppError> {
    let tenant = key.tenant;
    let idempotency_key = idempotency_key.map(parse_idempotency_key).transpose()?;
    let fingerprint = send.fingerprint();
    if let Some(idem) = &idempotency_key
        && let Some(first) = replay(db, tenant, idem, &fingerprint).await?
    {
        return Ok(first);
    }
    let chat = send.to.as_str().to_owned();
    let last_in_at: Option<Option<DateTime<Utc>>> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::LastInAt)
        .filter(conversation::Column::TenantId.eq(tenant))
        .filter(conversation::Column::ChatId.eq(&chat))
        .into_tuple()
        .one(db)
        .await?;
    let transport = inbox::transport_of(db, tenant).await?;
    let now = Utc::now();
    if let Some(refusal) = inbox::reply_refusal(bots, tenant, transport, last_in_at.flatten(), now)
    {
        return Err(refusal);
    }
    if usage::quota_reached(db, tenant).await? {
        return Err(quota_exceeded());
    }
    let txn = super::webhooks::events::begin_in_turn(db, tenant).await?;
    let from = super::runtime::worker::business_number(&txn, tenant).await?;
    let inserted = message_log::Entity::insert(message_log::ActiveModel {
        tenant_id: Set(tenant.into()),
        direction: Set(Direction::Out),
        chat_id: Set(chat.clone()),
        sender: Set(from),
        recipient: Set(chat.clone()),
        text: Set(send.text.clone()),
        wa_message_id: Set(None),
        status: Set(MessageStatus::Queued),
        error: Set(None),
        created_at: Set(now),
        author: Set(Some(key.author())),
        kind: Set(MessageKind::Text),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    let id = inserted.last_insert_id;
    if let Some(idem) = &idempotency_key {
        // INVARIANT: the key's row commits with the message or not at all;
        // a request racing this one waits on the primary key (PostgreSQL)
        // or the write lock (SQLite), then finds it and replays.
        let stored = api_idempotency::Entity::insert(api_idempotency::ActiveModel {
            tenant_id: Set(tenant.into()),
            idempotency_key: Set(idem.clone()),
            request_hash: Set(fingerprint.clone()),
            message_id: Set(id),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                api_idempotency::Column::TenantId,
                api_idempotency::Column::IdempotencyKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if stored == 0 {
            txn.rollback().await?;
            return replay(db, tenant, idem, &fingerprint)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("idempotency row vanished")));
        }
    }
    conversation_batch::record(
        &txn,
        &[((tenant, chat), Activity::outbound(&send.text, now))],
    )
    .await?;
    usage::add_one(
        &txn,
        tenant,
        Counts {
            api_sends: 1,
            ..Counts::default()
        },
    )
    .await?;
    txn.commit().await?;
    bots.changed(tenant);
    bots.send_queued(tenant);
    Ok(Accepted {
        id,
        status: MessageStatus::Queued,
        replayed: false,
    })
}

fn quota_exceeded() -> AppError {
    AppError::new(
        ErrorCode::QuotaExceeded,
        "This month's messages of your plan are used up: API sends resume next month, or \
         sooner on a larger plan.",
    )
}

fn parse_idempotency_key(raw: &str) -> Result<String, AppError> {
    let key = raw.trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.is_ascii() {
        return Err(AppError::validation(FieldErrors::from([(
            "Idempotency-Key".to_owned(),
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} ASCII characters (a UUID is best)"),
        )])));
    }
    Ok(key.to_owned())
}

/// The first answer given for `idem`, if there was one.
async fn replay(
    db: &DatabaseConnection,
    tenant: TenantId,
    idem: &str,
    fingerprint: &str,
) -> Result<Option<Accepted>, AppError> {
    let Some(row) = api_idempotency::Entity::find_by_id((tenant.as_uuid(), idem.to_owned()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.request_hash != fingerprint {
        return Err(AppError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key came with another request before: use a new key for a new message.",
        )
        .with_fields(FieldErrors::from([(
            "Idempotency-Key".to_owned(),
            "was used with another request".to_owned(),
        )])));
    }
    Ok(Some(Accepted {
        id: row.message_id,
        status: MessageStatus::Queued,
        replayed: true,
    }))
}

/// One outbound message of the tenant (sent by any author).
pub async fn message(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: i64,
) -> Result<ApiMessage, AppError> {
    let row = message_log::Entity::find_by_id(id)
        .filter(message_log::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::MessageNotFound, "No such message."))?;
    let author = inbox::ThreadMessage::from(row.clone()).author;
    Ok(ApiMessage {
        id: row.id,
        direction: row.direction,
        chat: row.chat_id,
        author,
        text: row.text,
        status: row.status,
        error: row.error,
        created_at: row.created_at,
    })
}

use sea_orm::QuerySelect;

/// `GET /api/v1/status`: is the bot running, and how far is the link.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiStatus {
    /// NEW, PENDING, APPROVED, QR_PENDING, ACTIVE, PAUSED, ERROR.
    #[schema(value_type = String)]
    pub tenant_status: entity::enums::TenantStatus,
    /// The bot runs in this process now.
    pub bot_running: bool,
    /// STOPPED, STARTING, RUNNING, …
    #[schema(value_type = String)]
    pub worker_status: entity::enums::WorkerStatus,
    pub stale: bool,
    pub last_error: Option<String>,
    /// sandbox, whatsapp_web or cloud_api.
    #[schema(value_type = String)]
    pub transport: entity::enums::TransportKind,
    /// not_linked, connecting, awaiting_qr_scan, awaiting_pairing_code, linked, logged_out.
    #[schema(value_type = String)]
    pub link: super::portal::LinkState,
    pub linked_phone: Option<String>,
}

pub async fn status(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    tenant: TenantId,
    stale_after: std::time::Duration,
) -> Result<ApiStatus, AppError> {
    let view = super::portal::status(db, tenant, stale_after).await?;
    Ok(ApiStatus {
        tenant_status: view.tenant.status,
        bot_running: bots.is_running(tenant),
        worker_status: view.worker.status,
        stale: view.worker.stale,
        last_error: view.worker.last_error,
        transport: view.transport.kind,
        link: view.transport.link,
        linked_phone: view.session.linked_phone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_needs_an_e164_recipient_and_a_text() {
        let ok = Send::parse(&SendInput {
            to: "+49 151 1234 5678".into(),
            text: " hi ".into(),
        })
        .unwrap();
        assert_eq!((ok.to.as_str(), ok.text.as_str()), ("+4915112345678", "hi"));
        let err = Send::parse(&SendInput {
            to: "0151 1234".into(),
            text: String::new(),
        })
        .unwrap_err();
        let fields: Vec<&str> = err.fields().keys().map(String::as_str).collect();
        assert_eq!(fields, ["text", "to"]);
    }

    #[test]
    fn the_same_request_has_the_same_fingerprint_and_another_does_not() {
        let a = Send::parse(&SendInput {
            to: "+4915112345678".into(),
            text: "hi".into(),
        })
        .unwrap();
        let b = Send::parse(&SendInput {
            to: "004915112345678".into(),
            text: "hi ".into(),
        })
        .unwrap();
        let c = Send::parse(&SendInput {
            to: "+4915112345678".into(),
            text: "hi!".into(),
        })
        .unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key(&"k".repeat(256)).is_err());
    }
}
