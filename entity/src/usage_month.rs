use sea_orm::entity::prelude::*;

/// A tenant's counters for one month (UTC, "2026-12").
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_month")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub inbound: i64,
    pub bot_replies: i64,
    pub human_replies: i64,
    pub api_sends: i64,
    pub ai_tokens: i64,
    /// When the owner was warned that 80 % of the messages are used.
    pub warned_at: Option<DateTimeUtc>,
    /// When the month's messages reached the plan's limit (set once).
    pub quota_reached_at: Option<DateTimeUtc>,
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
