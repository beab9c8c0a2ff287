use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::enums::{Direction, MessageKind, MessageStatus};

/// One message in or out of a tenant's bot. UNIQUE(tenant_id, direction,
/// wa_message_id) makes inbound dedup durable; INDEX(tenant_id, created_at)
/// serves the log pages.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "message_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub direction: Direction,
    pub chat_id: String,
    pub sender: String,
    pub recipient: String,
    pub text: String,
    pub wa_message_id: Option<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    /// Who wrote an outbound message when it was not the bot: a person's
    /// name, "API key …", "Phone". `None`: the bot (or the customer, IN).
    pub author: Option<String>,
    /// TEXT, or what else the customer sent (IMAGE, AUDIO, …).
    pub kind: MessageKind,
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
    /// Its conversation, by (tenant, chat): a join for reads, not a foreign
    /// key (the log writer stores a message and upserts its conversation in
    /// the same batch).
    #[sea_orm(
        belongs_to = "super::conversation::Entity",
        from = "(Column::TenantId, Column::ChatId)",
        to = "(super::conversation::Column::TenantId, super::conversation::Column::ChatId)"
    )]
    Conversation,
}

impl Related<super::conversation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversation.def()
    }
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
