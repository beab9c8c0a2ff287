use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::enums::{DesiredState, WorkerStatus};

/// 1:1 with `tenant`: the desired and observed state of its bot task.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "worker_process")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub desired_state: DesiredState,
    pub status: WorkerStatus,
    pub restart_count: i32,
    pub last_error: Option<String>,
    pub last_heartbeat_at: Option<DateTimeUtc>,
    pub started_at: Option<DateTimeUtc>,
    pub owner_node: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    /// Up by one with every change the running bot should pick up.
    pub intent_version: i64,
    /// Up by one when the bot must start over (restart, new transport).
    pub restart_generation: i64,
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
