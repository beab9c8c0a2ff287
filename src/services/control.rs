//! The narrow handle use cases get of the bot runtime (`BotControl`), and
//! the shapes that cross it.
//!
//! Owns: what a use case may ask of the runtime once its own transaction is
//! committed. Must not: carry state a second process could not see. A use
//! case writes what a bot should do as rows first (desired state, intent
//! version, restart generation; an inbound message is stored before it is
//! handed over) and then nudges; the runtime converges on the rows, on a
//! nudge and again on its reconcile timer, so a lost nudge only delays.
//!
//! The runtime (`bots::BotRegistry`) implements it; services depend on
//! this trait only, never on the registry.

use chrono::{DateTime, Utc};
use entity::enums::{MessageKind, MessageStatus};

use crate::domain::ids::TenantId;
use crate::error::AppError;

/// A customer's message (text, or what else they sent), as a receiver (the sandbox API, the Cloud API
/// webhook) hands it to the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerMessage {
    /// The transport's message id: the durable dedup key.
    pub id: String,
    /// The customer's chat (their number, E.164).
    pub from: String,
    /// The business number it was sent to ("bot" when not known).
    pub to: String,
    /// The text, or the caption, file name or description of `kind`.
    pub text: String,
    pub kind: MessageKind,
    pub at: DateTime<Utc>,
    /// WhatsApp's push name, when the transport gives one.
    pub contact_name: Option<String>,
}

/// What became of a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Stored (now, or earlier and still waiting for its answer) and handed
    /// to the running bot.
    Delivered,
    /// Stored; the bot is not running and answers it when it next starts.
    Stored,
    /// Stored, but the running bot did not take it in time: the sender
    /// should deliver it again (it is answered once either way).
    Busy,
    /// Seen and answered before: nothing to do.
    Duplicate,
}

/// A delivery report for a message the bot sent (Cloud API statuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub wa_message_id: String,
    /// DELIVERED, READ or FAILED.
    pub status: MessageStatus,
    pub error: Option<String>,
}

#[async_trait::async_trait]
pub trait BotControl: Send + Sync {
    /// The tenant's rows changed: converge its bot on them now. Returns once
    /// done (a stop or restart waits for the old bot, within the drain
    /// bound). A failure is logged; the reconcile timer tries again.
    async fn nudge(&self, tenant: TenantId);

    /// Whether the tenant's bot runs in this process (and is not stopping).
    fn is_running(&self, tenant: TenantId) -> bool;

    /// Stores a customer's message (the unique index makes a repeat a
    /// duplicate) and only then hands it to the running bot.
    async fn receive(
        &self,
        tenant: TenantId,
        message: CustomerMessage,
    ) -> Result<Receipt, AppError>;

    /// The tenant's outbox holds QUEUED messages (a person's reply): the
    /// running bot sends them in their chats' order. Without a running bot
    /// they wait for its next start.
    fn send_queued(&self, tenant: TenantId);

    /// The tenant's rows changed outside the message log writer (a use
    /// case's own transaction): tells the pages that watch it.
    fn changed(&self, tenant: TenantId);

    /// Records a delivery report through the message log writer's batches.
    async fn report_delivery(
        &self,
        tenant: TenantId,
        report: DeliveryReport,
    ) -> Result<(), AppError>;
}
