use sea_orm::entity::prelude::*;

/// A tenant's webhook endpoint. `secret` and `previous_secret` are
/// AES-256-GCM ciphertexts under the platform's master key; only
/// `flowhq::services::webhooks` opens them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoint")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    /// One bit per event type the endpoint wants.
    pub event_mask: i64,
    pub enabled: bool,
    /// Deliveries in flight at once (1–4).
    pub concurrency: i32,
    pub secret: Vec<u8>,
    pub previous_secret: Option<Vec<u8>>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub failing_since: Option<DateTimeUtc>,
    pub flagged_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    /// Every PENDING event of this endpoint has a larger id: where the
    /// delivery worker's claim starts reading the queue.
    pub queue_floor: i64,
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
