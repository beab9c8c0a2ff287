use sea_orm::entity::prelude::*;

/// One key of a tenant's WhatsApp Web store (Signal sessions, pre-keys,
/// sender keys, app-state keys…). What `key1..key3`, `n1` and `n2` mean
/// depends on `kind`: see `flowhq::bots::transport::whatsapp_web::store`,
/// the only code that reads or writes these rows. Unused key columns hold "".
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wa_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key1: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key2: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key3: String,
    /// Sealed with the master key (bound to tenant, kind and keys); only
    /// rows written before sealing existed are not, until the next start.
    pub value: Vec<u8>,
    pub n1: Option<i64>,
    pub n2: Option<i64>,
    /// `value` is sealed (false only for rows from before sealing).
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
