//! The enumerations of the data model, stored as strings.
//!
//! The string values are part of the schema (and of the JSON API, which shows
//! them as they are): renaming one needs a data migration.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a tenant is in its life; the transitions live in `flowhq::services::lifecycle`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TenantStatus {
    #[sea_orm(string_value = "NEW")]
    New,
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "QR_PENDING")]
    QrPending,
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "PAUSED")]
    Paused,
    #[sea_orm(string_value = "ERROR")]
    Error,
}

/// Which reply template a tenant's bot answers from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateType {
    #[sea_orm(string_value = "BOOKING")]
    Booking,
    #[sea_orm(string_value = "ECOMMERCE")]
    Ecommerce,
    #[sea_orm(string_value = "SUPPORT")]
    Support,
}

/// How a tenant's bot talks to WhatsApp. Lower-case: it is what
/// `PUT /api/admin/tenants/{id}/transport` takes as `kind`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    #[sea_orm(string_value = "sandbox")]
    Sandbox,
    #[sea_orm(string_value = "whatsapp_web")]
    WhatsappWeb,
    #[sea_orm(string_value = "cloud_api")]
    CloudApi,
}

/// The WhatsApp link of a tenant, as its transport last reported it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionState {
    #[sea_orm(string_value = "DISCONNECTED")]
    Disconnected,
    #[sea_orm(string_value = "CONNECTING")]
    Connecting,
    #[sea_orm(string_value = "QR_READY")]
    QrReady,
    #[sea_orm(string_value = "CONNECTED")]
    Connected,
    #[sea_orm(string_value = "LOGGED_OUT")]
    LoggedOut,
}

/// What an admin (or the lifecycle) wants of a tenant's bot; `reconcile()` makes it so.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DesiredState {
    #[sea_orm(string_value = "RUNNING")]
    Running,
    #[sea_orm(string_value = "STOPPED")]
    Stopped,
}

/// What the bot task is doing. STALE is not stored: it is shown when the
/// heartbeat is older than the threshold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkerStatus {
    #[sea_orm(string_value = "STOPPED")]
    Stopped,
    #[sea_orm(string_value = "STARTING")]
    Starting,
    #[sea_orm(string_value = "RUNNING")]
    Running,
    #[sea_orm(string_value = "RESTARTING")]
    Restarting,
    #[sea_orm(string_value = "ERROR")]
    Error,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(3))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    #[sea_orm(string_value = "IN")]
    In,
    #[sea_orm(string_value = "OUT")]
    Out,
}

/// Inbound rows go RECEIVED → ANSWERED (or SKIPPED, FAILED). Outbound rows
/// go QUEUED → SENDING → SENT → DELIVERED → READ, or FAILED; SENDING is
/// committed before the transport is called, so a row a crash left SENDING
/// becomes UNKNOWN (it may or may not have reached the customer) and is
/// never sent again, while a QUEUED row certainly was not sent and goes out
/// after the restart.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageStatus {
    #[sea_orm(string_value = "RECEIVED")]
    Received,
    #[sea_orm(string_value = "ANSWERED")]
    Answered,
    #[sea_orm(string_value = "SENT")]
    Sent,
    #[sea_orm(string_value = "DELIVERED")]
    Delivered,
    #[sea_orm(string_value = "READ")]
    Read,
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Inbound, not answered on purpose (auto-reply off, tenant paused).
    #[sea_orm(string_value = "SKIPPED")]
    Skipped,
    /// Outbound, stored and waiting for its turn; not handed to the
    /// transport yet.
    #[sea_orm(string_value = "QUEUED")]
    Queued,
    /// Outbound, being handed to the transport right now.
    #[sea_orm(string_value = "SENDING")]
    Sending,
    /// Outbound, interrupted while SENDING (a crash, a stop past the drain
    /// bound): it may or may not have reached the customer.
    #[sea_orm(string_value = "UNKNOWN")]
    Unknown,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserRole {
    #[sea_orm(string_value = "OWNER")]
    Owner,
    #[sea_orm(string_value = "STAFF")]
    Staff,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SetupRequestStatus {
    #[sea_orm(string_value = "SUBMITTED")]
    Submitted,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

/// Who a browser session belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionKind {
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    #[sea_orm(string_value = "PORTAL")]
    Portal,
}

/// Who answers a conversation: the bot, or a person (the bot steps aside).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConversationMode {
    #[sea_orm(string_value = "BOT")]
    Bot,
    #[sea_orm(string_value = "HUMAN")]
    Human,
}

/// What a logged message is: text, or what else a customer sent (logged
/// with its caption or file name instead of being dropped).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    #[sea_orm(string_value = "TEXT")]
    Text,
    #[sea_orm(string_value = "IMAGE")]
    Image,
    #[sea_orm(string_value = "AUDIO")]
    Audio,
    #[sea_orm(string_value = "VIDEO")]
    Video,
    #[sea_orm(string_value = "DOCUMENT")]
    Document,
    #[sea_orm(string_value = "STICKER")]
    Sticker,
    #[sea_orm(string_value = "LOCATION")]
    Location,
    #[sea_orm(string_value = "CONTACTS")]
    Contacts,
    #[sea_orm(string_value = "BUTTON")]
    Button,
    #[sea_orm(string_value = "OTHER")]
    Other,
}
