use sea_orm::entity::prelude::*;

/// One delivery attempt of a webhook event: the endpoint's delivery log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_row_id: i64,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub attempted_at: DateTimeUtc,
    /// `None` when no answer came (timeout, refused address, …).
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    /// The first bytes of the answer.
    pub response: Option<String>,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_event::Entity",
        from = "Column::EventRowId",
        to = "super::webhook_event::Column::Id",
        on_delete = "Cascade"
    )]
    Event,
}

impl Related<super::webhook_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
