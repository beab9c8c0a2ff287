//! The database side of notifications: who gets the email, the claim on a
//! chat (`conversation.notified_at`) and what the email shows.
//!
//! Owns: the claim rule, as one conditional UPDATE, so that two requests,
//! two processes or two replicas never both win it. Must not: send
//! anything, or write any column but `notified_at`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::enums::Direction;
use entity::{conversation, message_log, tenant, tenant_config, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::email::{Line, Sender, Waiting};
use crate::domain::ids::TenantId;

/// Messages the email shows.
const LAST_MESSAGES: u64 = 5;

/// A claim on a chat's email: the `notified_at` this worker wrote. A release
/// finds it by equality: the same value, bound the same way, compares
/// equal at whatever precision the database keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Claim(DateTime<Utc>);

/// A chat last emailed about before this may be emailed about again.
pub(super) fn due_before(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(interval)
        .ok()
        .and_then(|interval| now.checked_sub_signed(interval))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The email addresses of the tenant's people (owners and staff alike).
pub(super) async fn recipients(
    db: &DatabaseConnection,
    tenant: TenantId,
) -> Result<Vec<String>, DbErr> {
    let emails: Vec<String> = user::Entity::find()
        .select_only()
        .column(user::Column::Email)
        .filter(user::Column::TenantId.eq(tenant))
        .order_by_asc(user::Column::Role)
        .order_by_asc(user::Column::Email)
        .into_tuple()
        .all(db)
        .await?;
    Ok(emails
        .into_iter()
        .map(|email| email.trim().to_owned())
        .filter(|email| !email.is_empty())
        .collect())
}

/// Takes the right to email about this chat now: it still needs a person,
/// and nobody was emailed about it within `interval`. One statement, so
/// concurrent claims (other requests, processes, replicas) cannot both win.
pub(super) async fn claim(
    db: &DatabaseConnection,
    tenant: TenantId,
    conversation_id: i64,
    now: DateTime<Utc>,
    interval: Duration,
) -> Result<Option<Claim>, DbErr> {
    let claimed = crate::db::write_alone(
        db,
        conversation::Entity::update_many()
            .col_expr(conversation::Column::NotifiedAt, Expr::value(now))
            .filter(conversation::Column::Id.eq(conversation_id))
            .filter(conversation::Column::TenantId.eq(tenant))
            .filter(conversation::Column::NeedsHuman.eq(true))
            .filter(
                Condition::any()
                    .add(conversation::Column::NotifiedAt.is_null())
                    .add(conversation::Column::NotifiedAt.lt(due_before(now, interval))),
            )
            .exec(db),
    )
    .await?;
    Ok((claimed.rows_affected == 1).then_some(Claim(now)))
}

/// Gives a claim back after the email did not go out, so the next request
/// may try again. Only our own claim: a newer one is left alone.
pub(super) async fn release(
    db: &DatabaseConnection,
    tenant: TenantId,
    conversation_id: i64,
    claim: Claim,
) -> Result<bool, DbErr> {
    let released = crate::db::write_alone(
        db,
        conversation::Entity::update_many()
            .col_expr(
                conversation::Column::NotifiedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(conversation::Column::Id.eq(conversation_id))
            .filter(conversation::Column::TenantId.eq(tenant))
            .filter(conversation::Column::NotifiedAt.eq(claim.0))
            .exec(db),
    )
    .await?;
    Ok(released.rows_affected == 1)
}

/// What the email about a chat shows; `None` when the conversation is gone.
pub(super) async fn waiting(
    db: &DatabaseConnection,
    tenant: TenantId,
    conversation_id: i64,
    link: String,
    interval: Duration,
) -> Result<Option<Waiting>, DbErr> {
    let Some(chat) = conversation::Entity::find_by_id(conversation_id)
        .filter(conversation::Column::TenantId.eq(tenant))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let config = tenant_config::Entity::find_by_id(tenant.as_uuid())
        .one(db)
        .await?;
    let business = match &config {
        Some(config) if !config.business_name.trim().is_empty() => config.business_name.clone(),
        _ => tenant::Entity::find_by_id(tenant.as_uuid())
            .one(db)
            .await?
            .map(|tenant| tenant.name)
            .unwrap_or_default(),
    };
    let timezone = config
        .as_ref()
        .and_then(|config| config.timezone.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC);
    let mut messages = message_log::Entity::find()
        .filter(message_log::Column::TenantId.eq(tenant))
        .filter(message_log::Column::ChatId.eq(&chat.chat_id))
        .order_by_desc(message_log::Column::CreatedAt)
        .order_by_desc(message_log::Column::Id)
        .limit(LAST_MESSAGES)
        .all(db)
        .await?;
    messages.reverse();
    Ok(Some(Waiting {
        business,
        contact_name: chat.contact_name,
        chat_id: chat.chat_id,
        since: chat.needs_human_since,
        messages: messages
            .into_iter()
            .map(|message| Line {
                at: message.created_at,
                from: match (message.direction, message.author) {
                    (Direction::In, _) => Sender::Customer,
                    (Direction::Out, Some(author)) => Sender::Person(author),
                    (Direction::Out, None) => Sender::Bot,
                },
                kind: message.kind,
                text: message.text,
            })
            .collect(),
        link,
        timezone,
        interval,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_is_due_again_one_interval_after_its_last_email() {
        let now = Utc::now();
        assert_eq!(
            due_before(now, Duration::from_secs(900)),
            now - chrono::Duration::minutes(15)
        );
    }

    #[test]
    fn an_interval_too_long_for_the_calendar_means_never_again() {
        let now = Utc::now();
        assert_eq!(
            due_before(now, Duration::from_secs(u64::MAX)),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
