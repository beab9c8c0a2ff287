use sea_orm::entity::prelude::*;

/// One event for one endpoint: queued (PENDING) until delivered, or FAILED
/// after its last attempt. The id is the order of creation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub endpoint_id: Uuid,
    /// `msg_…`, the `webhook-id` header (the same on every attempt).
    pub event_id: String,
    pub event_type: String,
    /// The JSON body, exactly as signed and sent.
    pub payload: String,
    pub created_at: DateTimeUtc,
    /// PENDING, DELIVERED or FAILED.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Claimed by a worker until then (a crashed worker's claim expires).
    pub lease_until: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_endpoint::Entity",
        from = "Column::EndpointId",
        to = "super::webhook_endpoint::Column::Id",
        on_delete = "Cascade"
    )]
    Endpoint,
}

impl Related<super::webhook_endpoint::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Endpoint.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
