use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::enums::ConversationMode;

/// One per (tenant, customer chat), written by the message log writer in
/// its batches. UNIQUE(tenant_id, chat_id); INDEX(tenant_id,
/// last_message_at) serves the inbox's "most recent first".
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "conversation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub chat_id: String,
    /// WhatsApp's push name, where the transport gives one.
    pub contact_name: Option<String>,
    pub first_seen_at: DateTimeUtc,
    pub last_in_at: Option<DateTimeUtc>,
    pub last_out_at: Option<DateTimeUtc>,
    pub last_message_at: DateTimeUtc,
    /// The start of the last message, the customer's or one to them.
    pub preview: String,
    /// The start of the customer's last message: what the inbox search
    /// reads beside the number and the name.
    pub last_in_text: Option<String>,
    pub unread: i32,
    /// The inbound `message_log` row that opened the conversation.
    pub first_message_id: Option<i64>,
    pub mode: ConversationMode,
    pub mode_reason: Option<String>,
    pub mode_since: Option<DateTimeUtc>,
    /// A person should look at this chat (the inbox's "needs a person").
    pub needs_human: bool,
    pub needs_human_since: Option<DateTimeUtc>,
    /// The last message a person sent in the chat (inbox, phone, API).
    pub last_human_at: Option<DateTimeUtc>,
    /// The last email to the tenant's people about this chat.
    pub notified_at: Option<DateTimeUtc>,
    /// When the bot last said it reads text only.
    pub text_only_notice_at: Option<DateTimeUtc>,
    /// When the bot last put its out-of-hours note before an answer here.
    pub out_of_hours_notice_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenant::Entity",
        from = "Column::TenantId",
        to = "super::tenant::Column::Id",
        on_delete = "Cascade"
    )]
    Tenant,
    #[sea_orm(has_many = "super::conversation_event::Entity")]
    Events,
}

impl Related<super::conversation_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Events.def()
    }
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
