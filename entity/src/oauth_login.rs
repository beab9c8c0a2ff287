use sea_orm::entity::prelude::*;

/// A Google sign-in in flight: keyed by the SHA-256 of its `state`, bound to
/// the browser that started it (SHA-256 of a cookie), used at most once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_login")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub browser_hash: String,
    pub pkce_verifier: String,
    /// The portal page to return to after signing in.
    pub next_path: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
