use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::enums::{TemplateType, TransportKind};

/// 1:1 with `tenant`: how its bot answers. `hours` is the JSON of
/// `flowhq::domain::BusinessHours` (per weekday open/close or closed).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "tenant_config")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub template_type: TemplateType,
    pub business_name: String,
    pub language: String,
    pub timezone: String,
    pub hours: Json,
    pub welcome_message: String,
    pub auto_reply: bool,
    pub response_delay_ms: i32,
    pub max_message_length: i32,
    pub transport: TransportKind,
    /// Replies per minute for the whole tenant; `None` = the platform default.
    pub rate_limit_per_minute: Option<i32>,
    /// Replies per minute within one chat; `None` = the platform default.
    pub chat_rate_limit_per_minute: Option<i32>,
    /// A chat a person took over goes back to the bot after this long
    /// without a person's message.
    pub human_idle_timeout_minutes: i32,
    /// The admin's monthly AI token budget; `None`: the plan's.
    pub ai_monthly_tokens: Option<i64>,
    /// The month ("2026-12") the tenant was last told its AI budget ran out.
    pub ai_budget_noticed_month: Option<String>,
    pub created_at: DateTimeUtc,
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
