//! What the business's own phone wrote in a customer's chat: WhatsApp
//! Web delivers the account's own messages, the Cloud API echoes what the
//! WhatsApp Business app sent on a number it shares. Such a message is
//! logged as an OUT row written by the phone (author "Phone", already
//! SENT), and the chat goes to a person (`Event::OwnerPhone`): the owner
//! answers there, so the bot steps aside.
//!
//! The bot's own sends may come back the same way. They are told apart by
//! WhatsApp's message id: a row the bot sent carries it
//! (`message_log.wa_message_id`), and the unique index on (tenant,
//! direction, WhatsApp id) turns a repeat into a no-op. Must not: answer
//! anything or decide the handoff rules (`domain::handoff` does).

use chrono::{DateTime, Utc};
use entity::enums::{Direction, MessageKind, MessageStatus};
use entity::message_log;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use super::conversation_batch::{self, Activity};
use super::handoff::{self, HandoffChange};
use crate::domain::handoff::{Event, decide};
use crate::domain::ids::TenantId;
use crate::domain::media;

/// Who wrote a message the phone sent, as the thread shows it.
pub const PHONE_AUTHOR: &str = "Phone";

/// A message the business's phone sent to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneMessage {
    /// WhatsApp's message id.
    pub id: String,
    /// The customer's chat (their number, as inbound messages name it).
    pub chat: String,
    /// The text, or the caption, file name or description of `kind`.
    pub text: String,
    pub kind: MessageKind,
    pub at: DateTime<Utc>,
}

/// Logs `message` and hands its chat to a person, in one transaction with
/// the switch's webhook events.
/// `Ok(false)`: nothing to do (the bot sent it, or it was logged before).
pub async fn record(
    db: &DatabaseConnection,
    tenant: TenantId,
    message: &PhoneMessage,
) -> Result<bool, DbErr> {
    let txn = crate::services::webhooks::events::begin_in_turn(db, tenant).await?;
    let known = message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(tenant))
        .filter(message_log::Column::Direction.eq(Direction::Out))
        .filter(message_log::Column::WaMessageId.eq(message.id.as_str()))
        .count(&txn)
        .await?;
    if known > 0 {
        return Ok(false);
    }
    let from = super::worker::business_number(&txn, tenant).await?;
    let row = message_log::ActiveModel {
        tenant_id: Set(tenant.into()),
        direction: Set(Direction::Out),
        chat_id: Set(message.chat.clone()),
        sender: Set(from),
        recipient: Set(message.chat.clone()),
        text: Set({
            let mut text = media::stored_text(message.kind, &message.text);
            crate::text::storable(&mut text);
            text
        }),
        wa_message_id: Set(Some(message.id.clone())),
        status: Set(MessageStatus::Sent),
        error: Set(None),
        created_at: Set(message.at),
        author: Set(Some(PHONE_AUTHOR.to_owned())),
        kind: Set(message.kind),
        ..Default::default()
    };
    let inserted = message_log::Entity::insert(row)
        .on_conflict(super::log_batch::seen_before())
        .exec_without_returning(&txn)
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    let key = (tenant, message.chat.clone());
    let activity = Activity::outbound(&media::summary(message.kind, &message.text), message.at);
    let recorded = conversation_batch::record(&txn, &[(key.clone(), activity)]).await?;
    if let Some(recorded) = recorded.get(&key) {
        // The switch and the person's idle clock run from when it is known
        // here: a message the phone queued while offline still counts now.
        let now = Utc::now();
        let state = recorded.conversation;
        let decision = decide(state.handoff, Event::OwnerPhone, now, chrono::Duration::MAX);
        let switched = decision
            .switched
            .map(|reason| (reason, Some(PHONE_AUTHOR.to_owned())));
        if let Some(change) = HandoffChange::between(tenant, &state, decision.state, switched, now)
        {
            handoff::apply(&txn, &change).await?;
            crate::services::webhooks::events::record(
                &txn,
                &crate::services::webhooks::events::of_handoff(&change),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(true)
}
