use sea_orm::entity::prelude::*;

use crate::enums::SessionKind;

/// A signed-in browser. The id is the SHA-256 of the cookie value, so the
/// table alone does not let anyone sign in.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "web_session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: SessionKind,
    pub admin_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub csrf_token: String,
    /// A one-shot message for the next page ("Tenant created").
    pub flash: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// Absolute expiry, fixed at sign-in.
    pub expires_at: DateTimeUtc,
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
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::admin_account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AdminAccount.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
