use sea_orm::entity::prelude::*;

/// The identity of a tenant's WhatsApp Web linked device, as `whatsapp-rust`
/// serializes it (JSON). Secret key material: only
/// `flowhq::bots::transport::whatsapp_web::store` reads or writes it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wa_device")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// Sealed with the master key, bound to the tenant.
    pub data: Vec<u8>,
    pub updated_at: DateTimeUtc,
    /// `data` is sealed (false only for rows from before sealing).
    pub sealed: bool,
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
