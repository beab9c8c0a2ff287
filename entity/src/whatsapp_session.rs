use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::enums::SessionState;

/// 1:1 with `tenant`: its WhatsApp link. `session_data` holds what the
/// transport needs to resume (kept in the database, never only on local disk);
/// it is never serialized to clients.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "whatsapp_session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub state: SessionState,
    pub last_qr: Option<String>,
    pub qr_expires_at: Option<DateTimeUtc>,
    pub linked_phone: Option<String>,
    /// Linking by phone number (WhatsApp Web): the number entered, and the
    /// 8-character code to type on that phone (shown instead of the QR).
    pub pairing_phone: Option<String>,
    pub pairing_code: Option<String>,
    pub last_seen_at: Option<DateTimeUtc>,
    /// Why the transport is offline while it retries on its own ("cannot
    /// reach Meta: …, retrying"); cleared by every change of `state`.
    pub offline_reason: Option<String>,
    #[serde(skip)]
    pub session_data: Option<Json>,
    pub updated_at: DateTimeUtc,
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
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
