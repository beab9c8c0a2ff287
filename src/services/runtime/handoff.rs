//! Writing what `domain::handoff::decide` concluded: a conversation's mode
//! and "needs a person" flag, and the switch as a `conversation_event` row,
//! in the caller's transaction (a log writer batch, or a use case's own).
//! Must not: decide anything (the rules are in `domain::handoff`).

use chrono::{DateTime, Utc};
use entity::{conversation, conversation_event};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, Set,
};

use super::conversation_batch::ConversationState;
use crate::domain::handoff::{HandoffState, Reason};
use crate::domain::ids::TenantId;

/// A conversation's new handoff state, and the switch that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffChange {
    pub tenant_id: TenantId,
    pub conversation_id: i64,
    pub state: HandoffState,
    /// The switch to record (to `state.mode`), and the person who made it.
    pub switched: Option<(Reason, Option<String>)>,
    /// Set when the bot told the customer it reads text only.
    pub text_only_notice: bool,
    /// Set when the bot led its answer with the out-of-hours note.
    pub out_of_hours_notice: bool,
    /// Only the notices changed: `state` is what the bot read and must not
    /// be written back (a person may have switched the chat meanwhile).
    pub notices_only: bool,
    /// Whether it needed a person before (`conversation.needs_human` is
    /// told when that changes).
    pub needed_human_before: bool,
    pub at: DateTime<Utc>,
}

impl HandoffChange {
    /// The change from `before` to `after` at `at`; `None` when nothing
    /// changed.
    pub fn between(
        tenant_id: TenantId,
        before: &ConversationState,
        after: HandoffState,
        switched: Option<(Reason, Option<String>)>,
        at: DateTime<Utc>,
    ) -> Option<Self> {
        (before.handoff != after || switched.is_some()).then_some(Self {
            tenant_id,
            conversation_id: before.id,
            state: after,
            switched,
            text_only_notice: false,
            out_of_hours_notice: false,
            notices_only: false,
            needed_human_before: before.handoff.needs_human,
            at,
        })
    }

    /// Records that the bot led its answer with the out-of-hours note,
    /// on top of `change` (or on its own, keeping the state as it is).
    pub fn with_out_of_hours_notice(
        change: Option<Self>,
        tenant_id: TenantId,
        before: &ConversationState,
        at: DateTime<Utc>,
    ) -> Self {
        let mut change = change.unwrap_or_else(|| Self::unchanged(tenant_id, before, at));
        change.out_of_hours_notice = true;
        change
    }
}

impl HandoffChange {
    /// No change of mode or flag, for what only rides along (the text-only
    /// notice).
    pub fn unchanged(tenant_id: TenantId, state: &ConversationState, at: DateTime<Utc>) -> Self {
        Self {
            tenant_id,
            conversation_id: state.id,
            state: state.handoff,
            switched: None,
            text_only_notice: false,
            out_of_hours_notice: false,
            notices_only: true,
            needed_human_before: state.handoff.needs_human,
            at,
        }
    }
}

/// Writes one change (a few rows: changes are rare next to messages).
pub async fn apply(conn: &impl ConnectionTrait, change: &HandoffChange) -> Result<(), DbErr> {
    let HandoffChange {
        tenant_id,
        conversation_id,
        state,
        switched,
        text_only_notice,
        out_of_hours_notice,
        notices_only,
        at,
        needed_human_before: _,
    } = change;
    let mut update = conversation::Entity::update_many();
    if *out_of_hours_notice {
        update = update.col_expr(conversation::Column::OutOfHoursNoticeAt, Expr::value(*at));
    }
    if *text_only_notice {
        update = update.col_expr(conversation::Column::TextOnlyNoticeAt, Expr::value(*at));
    }
    if *notices_only {
        update
            .filter(conversation::Column::Id.eq(*conversation_id))
            .filter(conversation::Column::TenantId.eq(*tenant_id))
            .exec(conn)
            .await?;
        return Ok(());
    }
    update = update
        .col_expr(conversation::Column::Mode, state.mode.to_value().into())
        .col_expr(
            conversation::Column::NeedsHuman,
            Expr::value(state.needs_human),
        )
        .col_expr(
            conversation::Column::LastHumanAt,
            Expr::value(state.last_human_at),
        )
        .col_expr(
            conversation::Column::ModeSince,
            Expr::value(state.mode_since),
        );
    // Waiting since the first moment it needed a person, not the latest.
    update = if state.needs_human {
        update.col_expr(
            conversation::Column::NeedsHumanSince,
            Expr::from(Func::coalesce([
                Expr::col(conversation::Column::NeedsHumanSince),
                Expr::value(*at),
            ])),
        )
    } else {
        update.col_expr(
            conversation::Column::NeedsHumanSince,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
    };
    if let Some((reason, _)) = switched {
        update = update.col_expr(
            conversation::Column::ModeReason,
            Expr::value(reason.as_str()),
        );
    }
    update
        .filter(conversation::Column::Id.eq(*conversation_id))
        .filter(conversation::Column::TenantId.eq(*tenant_id))
        .exec(conn)
        .await?;
    if let Some((reason, actor)) = switched {
        conversation_event::ActiveModel {
            tenant_id: Set((*tenant_id).into()),
            conversation_id: Set(*conversation_id),
            mode: Set(state.mode),
            reason: Set(reason.as_str().to_owned()),
            actor: Set(actor.clone()),
            created_at: Set(*at),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// A conversation's state by its chat, when the bot did not get it with
/// the message (recovery, a redelivered message).
pub async fn state_of_chat(
    db: &DatabaseConnection,
    tenant_id: TenantId,
    chat: &str,
) -> Result<Option<ConversationState>, DbErr> {
    Ok(conversation::Entity::find()
        .filter(conversation::Column::TenantId.eq(tenant_id))
        .filter(conversation::Column::ChatId.eq(chat))
        .one(db)
        .await?
        .as_ref()
        .map(ConversationState::of))
}
