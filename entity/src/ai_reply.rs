use sea_orm::entity::prelude::*;

/// A bot reply the AI model was asked for: the outcome, its tokens, and
/// why its answer was not sent when it was not. Keyed by the OUT row the
/// bot sent (the AI's answer, or the rule answer sent instead).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_reply")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub message_id: i64,
    pub tenant_id: Uuid,
    /// `answer`, `clarify`, `handoff`, `held_back`, `failed`.
    pub outcome: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::message_log::Entity",
        from = "Column::MessageId",
        to = "super::message_log::Column::Id",
        on_delete = "Cascade"
    )]
    Message,
}

impl Related<super::message_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Message.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
