use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::enums::UserRole;

/// A tenant's person, signed in with Google.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "user")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    #[sea_orm(unique)]
    pub google_subject: Option<String>,
    pub name: String,
    pub role: UserRole,
    pub tenant_id: Uuid,
    pub created_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
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
    #[sea_orm(has_many = "super::setup_request::Entity")]
    SetupRequest,
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::setup_request::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SetupRequest.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
