use sea_orm::entity::prelude::*;

/// Customer messages the bot answered with its help menu, grouped by their
/// normalised text (`key`): UNIQUE(tenant_id, key). Upserted by the message
/// log writer in its batches.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unanswered_question")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub key: String,
    /// The latest message as the customer wrote it.
    pub sample: String,
    pub count: i32,
    pub first_at: DateTimeUtc,
    pub last_at: DateTimeUtc,
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
