//! The one contract between a bot and WhatsApp. The bot never knows which
//! transport it drives: the sandbox, WhatsApp Web (linked device) or the
//! Cloud API all report the same events and send the same way.

pub mod cloud_api;
pub mod sandbox;
#[cfg(feature = "whatsapp-web")]
pub mod whatsapp_web;

use chrono::{DateTime, Utc};
use entity::enums::MessageKind;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::services::runtime::log_batch::Stored;
pub use crate::services::runtime::phone::PhoneMessage;

/// What a transport reports to its bot, in order, over a bounded channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// A code to scan with the phone, valid until `expires_at`.
    Qr {
        code: String,
        expires_at: DateTime<Utc>,
    },
    /// Linking by phone number: type this 8-character code on the phone
    /// (WhatsApp → Linked devices → Link with phone number) before `expires_at`.
    PairingCode {
        code: String,
        expires_at: DateTime<Utc>,
    },
    /// Linked and online as `phone`.
    Connected { phone: String },
    /// A customer wrote. Boxed: channels allocate room for 32 events up
    /// front, and every idle bot has one.
    Message(Box<InboundMessage>),
    /// The business's own phone wrote to a customer (WhatsApp Web delivers
    /// the account's own messages): logged as the phone's, never answered.
    PhoneWrote(Box<PhoneMessage>),
    /// Offline for now; the transport may come back.
    Disconnected { reason: String },
    /// The phone removed this device: a new link is needed.
    LoggedOut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The transport's message id (dedup key).
    pub id: String,
    /// The customer's chat (their number).
    pub from: String,
    /// The text, or a caption, file name or description (`kind` says which).
    pub text: String,
    /// Text, or what else the customer sent.
    pub kind: MessageKind,
    pub at: DateTime<Utc>,
    /// WhatsApp's push name for the customer, when the transport gives one.
    pub contact_name: Option<String>,
    /// Set when it is stored already (a receiver stores before it answers
    /// its sender; a restart recovers unanswered rows): the `message_log`
    /// row to answer.
    pub stored: Option<Stored>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The QR codes ran out without a scan (WhatsApp Web does the same).
    #[error("the QR code was not scanned in time")]
    QrTimeout,
    #[error("not connected")]
    NotConnected,
    #[error("logged out from the phone")]
    LoggedOut,
    /// Cannot go on without a person fixing something (a rejected access
    /// token, WhatsApp unreachable after the retry policy): the bot stops in
    /// ERROR with this reason and is not restarted.
    #[error("{0}")]
    Fatal(String),
    #[error("{0}")]
    Failed(String),
}

#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Connects and reports events until `cancel` fires (Ok) or the
    /// connection fails for good (Err). Reconnects inside are its own business.
    async fn run(
        &self,
        events: mpsc::Sender<TransportEvent>,
        cancel: CancellationToken,
    ) -> Result<(), TransportError>;

    /// Sends a text to a chat; answers the message id.
    async fn send_text(&self, chat: &str, text: &str) -> Result<String, TransportError>;

    /// Unlinks this device.
    async fn logout(&self) -> Result<(), TransportError>;
}
