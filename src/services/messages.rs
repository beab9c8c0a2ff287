//! Reading a tenant's message log (the bot runtime writes it).

use chrono::{DateTime, Utc};
use entity::enums::{Direction, MessageStatus};
use entity::message_log;
use sea_orm::{
    ActiveEnum, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;

use super::runtime::log_batch::Stored;
use super::{Page, PageRequest};
use crate::domain::ids::TenantId;
use crate::error::AppError;

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub direction: Direction,
    pub chat_id: String,
    pub from: String,
    pub to: String,
    pub text: String,
    pub wa_message_id: Option<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<message_log::Model> for MessageView {
    fn from(row: message_log::Model) -> Self {
        Self {
            id: row.id,
            direction: row.direction,
            chat_id: row.chat_id,
            from: row.sender,
            to: row.recipient,
            text: row.text,
            wa_message_id: row.wa_message_id,
            status: row.status,
            error: row.error,
            created_at: row.created_at,
        }
    }
}

/// Newest first; served by INDEX(tenant_id, created_at).
pub async fn list(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    page: PageRequest,
) -> Result<Page<MessageView>, AppError> {
    let page = page.clamped();
    let query = message_log::Entity::find().filter(message_log::Column::TenantId.eq(tenant_id));
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(message_log::Column::CreatedAt)
        .order_by_desc(message_log::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(MessageView::from).collect(),
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// An inbound message still waiting for its answer (RECEIVED), by its
/// WhatsApp id.
pub async fn waiting_inbound(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    wa_message_id: &str,
) -> Result<Option<Stored>, AppError> {
    let found = message_log::Entity::find()
        .select_only()
        .column(message_log::Column::Id)
        .column(entity::conversation::Column::FirstMessageId)
        .left_join(entity::conversation::Entity)
        .filter(message_log::Column::TenantId.eq(tenant_id))
        .filter(message_log::Column::Direction.eq(Direction::In))
        .filter(message_log::Column::WaMessageId.eq(wa_message_id))
        .filter(message_log::Column::Status.eq(MessageStatus::Received.to_value()))
        .into_tuple::<(i64, Option<i64>)>()
        .one(db)
        .await?;
    Ok(found.map(|(id, first)| Stored {
        id,
        first_contact: first == Some(id),
        conversation: None,
    }))
}
