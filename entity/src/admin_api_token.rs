use sea_orm::entity::prelude::*;

/// A bearer token for `/api/admin`. Only its SHA-256 is kept; the token is
/// shown once when created.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_api_token")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub admin_id: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub prefix: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::admin_account::Entity",
        from = "Column::AdminId",
        to = "super::admin_account::Column::Id",
        on_delete = "Cascade"
    )]
    AdminAccount,
}

impl Related<super::admin_account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AdminAccount.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
