//! The notice outbox: emails to a tenant's owners about its account (80 %
//! and 100 % of the month's messages, a webhook endpoint the platform
//! disabled), written as rows in the transaction of their cause and sent
//! by the notifier's worker.
//!
//! Owns: `notice` rows (queueing, claiming, marking sent or failed), what
//! each notice says (pure, unit-tested) and the retry schedule.
//! Must not: decide WHEN a notice is due (the usage rules and the webhook
//! worker do, each with its own once-only marker), or send anything itself
//! (the worker in `super` does, with the mailer).

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::UserRole;
use entity::{notice, tenant, tenant_config, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::domain::ids::TenantId;
use crate::urls::PortalUrl;

/// What a notice is about (stored as `notice.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// 80 % of the month's messages used.
    UsageWarning,
    /// The month's messages used up.
    QuotaReached,
    /// A webhook endpoint disabled after failing too long.
    WebhookDisabled,
    /// The month's AI tokens used up: templates only.
    AiBudgetReached,
}

impl NoticeKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UsageWarning => "usage.warning",
            Self::QuotaReached => "usage.quota_reached",
            Self::WebhookDisabled => "webhook.disabled",
            Self::AiBudgetReached => "ai.budget_reached",
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        [
            Self::UsageWarning,
            Self::QuotaReached,
            Self::WebhookDisabled,
            Self::AiBudgetReached,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
    }

    /// The portal page the email links to.
    fn page(self) -> PortalUrl {
        match self {
            Self::UsageWarning | Self::QuotaReached | Self::AiBudgetReached => PortalUrl::Usage,
            Self::WebhookDisabled => PortalUrl::Webhooks,
        }
    }
}

/// A notice's words, before the business's name and the link are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub subject: String,
    pub body: String,
}

/// 80 % of the month's messages used.
pub fn usage_warning(used: i64, limit: i64, period: &str) -> Text {
    Text {
        subject: format!("{}% of this month's messages used", percent(used, limit)),
        body: format!(
            "Your bot has sent {used} of the {limit} messages your plan includes for {period}.\n\
             At {limit} it stops answering on its own until the month ends (customers' \
             messages still arrive in the inbox, where your people can answer), and API \
             sends are refused.\n\
             Ask your platform's administrator for a larger plan if you need more."
        ),
    }
}

/// The month's messages used up.
pub fn quota_reached(used: i64, limit: i64, period: &str) -> Text {
    Text {
        subject: "this month's messages are used up: the bot has stopped answering".to_owned(),
        body: format!(
            "Your bot has sent {used} messages in {period}; your plan includes {limit}.\n\
             Until the month ends the bot answers no more on its own and API sends are \
             refused. Customers' messages still arrive in the inbox, where your people can \
             answer them.\n\
             Ask your platform's administrator for a larger plan if you need more."
        ),
    }
}

/// The month's AI tokens used up.
pub fn ai_budget_reached(used: i64, budget: i64, period: &str) -> Text {
    Text {
        subject: "this month's AI tokens are used up: the bot answers without AI".to_owned(),
        body: format!(
            "Your bot's AI replies have used {used} tokens in {period}; the budget is {budget}.\n\
             Until the month ends the bot answers from your facts, services and questions \
             only, and questions they do not cover get the help menu.\n\
             Ask your platform's administrator for a larger AI budget if you need more."
        ),
    }
}

/// A webhook endpoint the platform disabled.
pub fn webhook_disabled(url: &str, reason: &str) -> Text {
    Text {
        subject: "a webhook endpoint was disabled".to_owned(),
        body: format!(
            "The webhook endpoint {url} was disabled: {reason}.\n\
             Its events are kept and are sent once you fix the receiver and enable the \
             endpoint again on the webhooks page; its delivery log shows what each attempt \
             answered."
        ),
    }
}

fn percent(used: i64, limit: i64) -> i64 {
    if limit <= 0 {
        return 100;
    }
    used.saturating_mul(100) / limit
}

/// Queues a notice in the caller's transaction.
pub async fn queue(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    kind: NoticeKind,
    text: Text,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    notice::ActiveModel {
        tenant_id: Set(tenant.into()),
        kind: Set(kind.as_str().to_owned()),
        subject: Set(text.subject),
        body: Set(text.body),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Waits after failed attempts; after the last the notice is given up
/// (kept, with its error).
const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
];

/// The wait before the next attempt after `attempts` failed ones; `None`:
/// give up.
pub fn retry_after(attempts: i32) -> Option<Duration> {
    let n = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_DELAYS.get(n).copied()
}

/// A claim lasts this long: a worker that dies mid-send leaves the notice
/// to be tried again after it.
const CLAIM: chrono::Duration = chrono::Duration::minutes(5);
/// Notices claimed per round.
const PER_ROUND: u64 = 20;

/// A notice ready to be emailed.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub tenant: TenantId,
    pub attempts: i32,
    pub kind: String,
    pub subject: String,
    pub body: String,
}

/// Claims due notices: each by one conditional UPDATE (moving its
/// `next_attempt_at` past the claim), so two workers never both take one.
pub(super) async fn claim(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Due>, DbErr> {
    let due = notice::Entity::find()
        .filter(notice::Column::SentAt.is_null())
        .filter(notice::Column::NextAttemptAt.lte(now))
        .filter(notice::Column::Attempts.lte(i32::try_from(RETRY_DELAYS.len()).unwrap_or(0)))
        .order_by_asc(notice::Column::Id)
        .limit(PER_ROUND)
        .all(db)
        .await?;
    let mut claimed = Vec::new();
    for row in due {
        let won = crate::db::write_alone(
            db,
            notice::Entity::update_many()
                .col_expr(notice::Column::NextAttemptAt, Expr::value(now + CLAIM))
                .col_expr(notice::Column::Attempts, Expr::value(row.attempts + 1))
                .filter(notice::Column::Id.eq(row.id))
                .filter(notice::Column::Attempts.eq(row.attempts))
                .filter(notice::Column::SentAt.is_null())
                .exec(db),
        )
        .await?
        .rows_affected
            == 1;
        if won {
            claimed.push(Due {
                id: row.id,
                tenant: row.tenant_id.into(),
                attempts: row.attempts + 1,
                kind: row.kind,
                subject: row.subject,
                body: row.body,
            });
        }
    }
    Ok(claimed)
}

/// `body` with the link to its portal page appended.
pub(super) fn with_link(kind: &str, body: &str, public_url: &str) -> String {
    match NoticeKind::parse(kind) {
        Some(kind) => format!(
            "{body}\n\n{}{}\n\n-- \nFlow HQ",
            public_url.trim_end_matches('/'),
            kind.page()
        ),
        None => format!("{body}\n\n-- \nFlow HQ"),
    }
}

pub(super) async fn sent(
    db: &DatabaseConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    crate::db::write_alone(
        db,
        notice::Entity::update_many()
            .col_expr(notice::Column::SentAt, Expr::value(now))
            .col_expr(
                notice::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(notice::Column::Id.eq(id))
            .exec(db),
    )
    .await?;
    Ok(())
}

/// A failed attempt: tried again after the schedule's wait, or given up.
pub(super) async fn failed(
    db: &DatabaseConnection,
    due: &Due,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    // Given up (no wait left): `claim` takes no notice past the schedule's
    // length of attempts, whatever its `next_attempt_at`.
    let next = retry_after(due.attempts)
        .and_then(|wait| chrono::Duration::from_std(wait).ok())
        .map_or(now, |wait| now + wait);
    crate::db::write_alone(
        db,
        notice::Entity::update_many()
            .col_expr(notice::Column::NextAttemptAt, Expr::value(next))
            .col_expr(notice::Column::LastError, Expr::value(error.to_owned()))
            .filter(notice::Column::Id.eq(due.id))
            .exec(db),
    )
    .await?;
    Ok(())
}

/// The owners' email addresses and the business's name.
pub(super) async fn owners(
    db: &DatabaseConnection,
    tenant: TenantId,
) -> Result<(Vec<String>, String), DbErr> {
    let emails: Vec<String> = user::Entity::find()
        .select_only()
        .column(user::Column::Email)
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Role.eq(UserRole::Owner))
        .order_by_asc(user::Column::Email)
        .into_tuple()
        .all(db)
        .await?;
    let business: Option<String> = tenant_config::Entity::find_by_id(tenant.as_uuid())
        .select_only()
        .column(tenant_config::Column::BusinessName)
        .into_tuple()
        .one(db)
        .await?;
    let business = match business.filter(|name| !name.trim().is_empty()) {
        Some(name) => name,
        None => tenant::Entity::find_by_id(tenant.as_uuid())
            .one(db)
            .await?
            .map(|t| t.name)
            .unwrap_or_default(),
    };
    Ok((
        emails
            .into_iter()
            .map(|email| email.trim().to_owned())
            .filter(|email| !email.is_empty())
            .collect(),
        business,
    ))
}

/// The tenant's latest notices, newest first (the portal's usage page and
/// the admin's tenant page show them).
pub async fn latest(
    db: &DatabaseConnection,
    tenant: TenantId,
    limit: u64,
) -> Result<Vec<notice::Model>, DbErr> {
    notice::Entity::find()
        .filter(notice::Column::TenantId.eq(tenant))
        .order_by_desc(notice::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_notice_is_retried_on_a_schedule_then_given_up() {
        let cases = [
            (0, None),
            (1, Some(60)),
            (2, Some(300)),
            (5, Some(6 * 3600)),
            (6, None),
            (-1, None),
        ];
        for (attempts, wait) in cases {
            assert_eq!(
                retry_after(attempts),
                wait.map(Duration::from_secs),
                "after {attempts} attempts"
            );
        }
    }

    #[test]
    fn notices_say_the_numbers_and_link_to_their_page() {
        let warning = usage_warning(800, 1000, "2026-12");
        assert_eq!(warning.subject, "80% of this month's messages used");
        assert!(warning.body.contains("800 of the 1000"), "{}", warning.body);
        let reached = quota_reached(1000, 1000, "2026-12");
        assert!(reached.body.contains("1000 messages in 2026-12"));
        let disabled = webhook_disabled(
            "https://shop.example/hooks",
            "every delivery failed for 5days",
        );
        assert!(disabled.body.contains("https://shop.example/hooks"));
        assert!(disabled.body.contains("failed for 5days"));
        let body = with_link("usage.warning", "text", "https://hq.example/");
        assert!(body.contains("https://hq.example/portal/usage"), "{body}");
        let body = with_link("webhook.disabled", "text", "https://hq.example");
        assert!(
            body.contains("https://hq.example/portal/webhooks"),
            "{body}"
        );
    }
}
