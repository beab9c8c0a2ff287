use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::enums::TenantStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "tenant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub phone_number: Option<String>,
    pub status: TenantStatus,
    /// The plan's code (`plan.code`): STARTER, PROFESSIONAL, ENTERPRISE, …
    pub plan: String,
    /// It was PAUSED when its bot failed: back to PAUSED once linked again.
    pub paused_before_error: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::tenant_config::Entity")]
    TenantConfig,
    #[sea_orm(has_one = "super::whatsapp_session::Entity")]
    WhatsappSession,
    #[sea_orm(has_one = "super::worker_process::Entity")]
    WorkerProcess,
    #[sea_orm(has_many = "super::message_log::Entity")]
    MessageLog,
    #[sea_orm(has_many = "super::conversation::Entity")]
    Conversation,
    #[sea_orm(has_many = "super::user::Entity")]
    User,
    #[sea_orm(has_many = "super::setup_request::Entity")]
    SetupRequest,
    #[sea_orm(has_many = "super::audit_log::Entity")]
    AuditLog,
    #[sea_orm(
        belongs_to = "super::plan::Entity",
        from = "Column::Plan",
        to = "super::plan::Column::Code"
    )]
    Plan,
}

impl Related<super::plan::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Plan.def()
    }
}

impl Related<super::tenant_config::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TenantConfig.def()
    }
}

impl Related<super::whatsapp_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WhatsappSession.def()
    }
}

impl Related<super::worker_process::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkerProcess.def()
    }
}

impl Related<super::message_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MessageLog.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::setup_request::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SetupRequest.def()
    }
}

impl Related<super::audit_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuditLog.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
