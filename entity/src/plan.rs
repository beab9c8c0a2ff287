use sea_orm::entity::prelude::*;

/// A plan (platform data): its limits; `None` is unlimited. `tenant.plan`
/// names one by `code`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plan")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub monthly_messages: Option<i64>,
    pub monthly_ai_tokens: Option<i64>,
    pub api_requests_per_minute: i32,
    pub team_members: Option<i32>,
    /// Order in lists.
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
