//! Usage counters per tenant per month and per day, and the monthly
//! message quota of the tenant's plan.
//!
//! Owns: counting (`add`: ONE multi-row upsert per table for any number of
//! tenants, so the log writer pays two statements per batch, not one per
//! message), reading usage against the plan, and the quota rule: the
//! messages of a month are what went out (bot replies, people's replies,
//! API sends); at the plan's limit the bot stops answering on its own and
//! API sends are refused, while messages still come in and people can
//! still answer.
//! Must not: decide who may read it (handlers), or send anything.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use entity::{tenant, usage_day, usage_month};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
};
use serde::Serialize;

use super::notifications::notices;
use super::plans::{self, Plan};
use super::webhooks::events::{EventType, NewEvent, UsageQuotaReachedV1};
use crate::domain::ids::TenantId;
use crate::error::AppError;

/// What one batch (or one use case) adds to a tenant's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub inbound: i64,
    pub bot_replies: i64,
    pub human_replies: i64,
    pub api_sends: i64,
    pub ai_tokens: i64,
}

impl Counts {
    fn outbound(&self) -> i64 {
        self.bot_replies + self.human_replies + self.api_sends
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The month a counter row belongs to ("2026-12", UTC).
pub fn month_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// The day a counter row belongs to ("2026-12-05", UTC).
pub fn day_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Adds `counts` to each tenant's month and day at `at`: two statements
/// per 1,000 tenants counted.
///
/// Returns each counted tenant's messages this month after the upsert
/// (`RETURNING`), which the log writer keeps for the bots' quota check.
pub async fn add(
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
    counts: &BTreeMap<TenantId, Counts>,
) -> Result<Vec<(TenantId, i64)>, DbErr> {
    let counts: Vec<(&TenantId, &Counts)> = counts.iter().filter(|(_, c)| !c.is_empty()).collect();
    if counts.is_empty() {
        return Ok(Vec::new());
    }
    let (month, day) = (month_key(at), day_key(at));
    let summed =
        |table: &str, column: &str| Expr::cust(format!("{table}.{column} + excluded.{column}"));
    let mut returned = Vec::with_capacity(counts.len());
    // A batch may count thousands of tenants (10,000 bots answering at
    // once): in statements of bounded size, under SQLite's 32,766 bound
    // variables (9 per row here).
    for chunk in counts.chunks(TENANTS_PER_STATEMENT) {
        returned.extend(add_months(conn, &month, chunk).await?);
    }
    // Only what went out moves a tenant towards its limit.
    let sending: std::collections::HashSet<TenantId> = counts
        .iter()
        .filter(|(_, c)| c.outbound() > 0)
        .map(|(t, _)| **t)
        .collect();
    let sent: Vec<Month> = returned
        .iter()
        .filter(|(tenant, _, warned, reached)| !(*warned && *reached) && sending.contains(tenant))
        .map(|&(tenant, used, warned, reached)| Month {
            tenant,
            used,
            warned,
            reached,
        })
        .collect();
    record_notices(conn, at, &month, &sent).await?;
    let totals = returned
        .into_iter()
        .map(|(tenant, used, _, _)| (tenant, used))
        .collect();
    use usage_day::Column as D;
    for chunk in counts.chunks(TENANTS_PER_STATEMENT) {
        let days = chunk.iter().map(|(tenant, c)| usage_day::ActiveModel {
            tenant_id: Set((**tenant).into()),
            day: Set(day.clone()),
            inbound: Set(c.inbound),
            outbound: Set(c.outbound()),
        });
        usage_day::Entity::insert_many(days)
            .on_conflict(
                OnConflict::columns([D::TenantId, D::Day])
                    .value(D::Inbound, summed("usage_day", "inbound"))
                    .value(D::Outbound, summed("usage_day", "outbound"))
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(totals)
}

/// Rows of one usage statement: 9 bound variables each.
const TENANTS_PER_STATEMENT: usize = 1000;

/// Upserts one chunk of a batch's month counters; answers each tenant's
/// messages this month and its notice marks, after the upsert.
async fn add_months(
    conn: &impl ConnectionTrait,
    month: &str,
    counts: &[(&TenantId, &Counts)],
) -> Result<Vec<(TenantId, i64, bool, bool)>, DbErr> {
    let summed =
        |table: &str, column: &str| Expr::cust(format!("{table}.{column} + excluded.{column}"));
    let months = counts.iter().map(|(tenant, c)| usage_month::ActiveModel {
        tenant_id: Set((**tenant).into()),
        month: Set(month.to_owned()),
        inbound: Set(c.inbound),
        bot_replies: Set(c.bot_replies),
        human_replies: Set(c.human_replies),
        api_sends: Set(c.api_sends),
        ai_tokens: Set(c.ai_tokens),
        warned_at: Set(None),
        quota_reached_at: Set(None),
    });
    use usage_month::Column as M;
    let mut upsert = usage_month::Entity::insert_many(months)
        .on_conflict(
            OnConflict::columns([M::TenantId, M::Month])
                .value(M::Inbound, summed("usage_month", "inbound"))
                .value(M::BotReplies, summed("usage_month", "bot_replies"))
                .value(M::HumanReplies, summed("usage_month", "human_replies"))
                .value(M::ApiSends, summed("usage_month", "api_sends"))
                .value(M::AiTokens, summed("usage_month", "ai_tokens"))
                .to_owned(),
        )
        .into_query();
    upsert.returning(Query::returning().columns([
        M::TenantId,
        M::BotReplies,
        M::HumanReplies,
        M::ApiSends,
        M::WarnedAt,
        M::QuotaReachedAt,
    ]));
    conn.query_all_raw(conn.get_database_backend().build(&upsert))
        .await?
        .into_iter()
        .map(|row| {
            let tenant: uuid::Uuid = row.try_get("", "tenant_id")?;
            let sum = row.try_get::<i64>("", "bot_replies")?
                + row.try_get::<i64>("", "human_replies")?
                + row.try_get::<i64>("", "api_sends")?;
            let warned = row
                .try_get::<Option<DateTime<Utc>>>("", "warned_at")?
                .is_some();
            let reached = row
                .try_get::<Option<DateTime<Utc>>>("", "quota_reached_at")?
                .is_some();
            Ok((TenantId::from(tenant), sum, warned, reached))
        })
        .collect::<Result<Vec<_>, DbErr>>()
}

/// The share of the month's messages at which the owner is warned.
pub const WARNING_PERCENT: i64 = 80;

/// What a tenant's month calls for now, once a month each: the 80 %
/// warning (`warned_at`) and the quota reached (`quota_reached_at`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoticesDue {
    /// Set `warned_at` now.
    pub mark_warned: bool,
    /// Email the 80 % warning (not when the limit is reached at once: the
    /// quota notice says more).
    pub email_warning: bool,
    /// Set `quota_reached_at` now: `usage.quota_reached` and its email.
    pub quota_reached: bool,
}

/// The once-a-month decision for a month with `used` messages against
/// `limit` (`None`: unlimited), given which marks this month already has.
pub fn notices_due(used: i64, limit: Option<i64>, warned: bool, reached: bool) -> NoticesDue {
    let Some(limit) = limit else {
        return NoticesDue::default();
    };
    let over_warning = used.saturating_mul(100) >= limit.saturating_mul(WARNING_PERCENT);
    let quota_reached = !reached && used >= limit;
    let mark_warned = !warned && (over_warning || quota_reached);
    NoticesDue {
        mark_warned,
        email_warning: mark_warned && !quota_reached && !reached,
        quota_reached,
    }
}

/// A tenant's month after a batch, with the marks it has.
#[derive(Debug, Clone, Copy)]
struct Month {
    tenant: TenantId,
    used: i64,
    warned: bool,
    reached: bool,
}

/// Sets this month's marks that became due, each by one conditional UPDATE
/// (`… IS NULL`): of concurrent writers exactly one sets a mark, and only
/// that one queues its notice and its `usage.quota_reached` event, in the
/// caller's transaction. Answers the webhook deliveries queued.
async fn record_notices(
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
    month: &str,
    months: &[Month],
) -> Result<u64, DbErr> {
    if months.is_empty() {
        return Ok(0);
    }
    // Most batches count tenants far below any plan's warning mark: one
    // look at the plans (a handful of rows) spares the tenant lookup.
    let lowest: Option<i64> = entity::plan::Entity::find()
        .select_only()
        .column(entity::plan::Column::MonthlyMessages)
        .filter(entity::plan::Column::MonthlyMessages.is_not_null())
        .into_tuple::<i64>()
        .all(conn)
        .await?
        .into_iter()
        .min();
    let Some(lowest) = lowest else {
        return Ok(0);
    };
    let months: Vec<&Month> = months
        .iter()
        .filter(|m| m.used.saturating_mul(100) >= lowest.saturating_mul(WARNING_PERCENT))
        .collect();
    use sea_orm::{JoinType, RelationTrait};
    let mut limits: BTreeMap<TenantId, Option<i64>> = BTreeMap::new();
    for chunk in months.chunks(TENANTS_PER_STATEMENT) {
        limits.extend(
            tenant::Entity::find()
                .select_only()
                .column(tenant::Column::Id)
                .column(entity::plan::Column::MonthlyMessages)
                .join(JoinType::InnerJoin, tenant::Relation::Plan.def())
                .filter(tenant::Column::Id.is_in(chunk.iter().map(|m| m.tenant)))
                .into_tuple::<(TenantId, Option<i64>)>()
                .all(conn)
                .await?,
        );
    }
    let mut events = Vec::new();
    for m in months {
        let limit = limits.get(&m.tenant).copied().flatten();
        let due = notices_due(m.used, limit, m.warned, m.reached);
        let Some(limit) = limit else { continue };
        use notices::{NoticeKind, queue};
        use usage_month::Column as M;
        let this = |update: sea_orm::UpdateMany<usage_month::Entity>| {
            update
                .filter(M::TenantId.eq(m.tenant))
                .filter(M::Month.eq(month))
        };
        if due.quota_reached {
            let won = this(usage_month::Entity::update_many())
                .col_expr(M::QuotaReachedAt, Expr::value(at))
                .col_expr(
                    M::WarnedAt,
                    Expr::from(sea_orm::sea_query::Func::coalesce([
                        Expr::col(M::WarnedAt),
                        Expr::value(at),
                    ])),
                )
                .filter(M::QuotaReachedAt.is_null())
                .exec(conn)
                .await?
                .rows_affected
                == 1;
            if won {
                events.push(NewEvent::new(
                    m.tenant,
                    EventType::UsageQuotaReached,
                    at,
                    &UsageQuotaReachedV1 {
                        counter: "messages".to_owned(),
                        used: m.used,
                        limit,
                        period: month.to_owned(),
                    },
                ));
                queue(
                    conn,
                    m.tenant,
                    NoticeKind::QuotaReached,
                    notices::quota_reached(m.used, limit, month),
                    at,
                )
                .await?;
            }
        } else if due.mark_warned {
            let won = this(usage_month::Entity::update_many())
                .col_expr(M::WarnedAt, Expr::value(at))
                .filter(M::WarnedAt.is_null())
                .exec(conn)
                .await?
                .rows_affected
                == 1;
            if won && due.email_warning {
                queue(
                    conn,
                    m.tenant,
                    NoticeKind::UsageWarning,
                    notices::usage_warning(m.used, limit, month),
                    at,
                )
                .await?;
            }
        }
    }
    crate::services::webhooks::events::record(conn, &events).await
}

/// One tenant's counters for one use case's send, in its transaction.
pub async fn add_one(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    counts: Counts,
) -> Result<(), DbErr> {
    add(conn, Utc::now(), &BTreeMap::from([(tenant, counts)]))
        .await
        .map(drop)
}

/// Each tenant's messages this month as the last committed batch left
/// them: what a bot checks before answering on its own, without a query
/// per message. Written by the log writer after each commit; a tenant not
/// in it yet is read once from the database.
#[derive(Debug, Default)]
pub struct MessagesThisMonth(dashmap::DashMap<TenantId, (String, i64)>);

impl MessagesThisMonth {
    pub fn record(&self, at: DateTime<Utc>, totals: &[(TenantId, i64)]) {
        let month = month_key(at);
        for (tenant, used) in totals {
            self.0.insert(*tenant, (month.clone(), *used));
        }
    }

    /// The tenant's messages this month, from the book or (once) the
    /// database.
    pub async fn get(&self, db: &DatabaseConnection, tenant: TenantId) -> Result<i64, DbErr> {
        if let Some(used) = self.known(tenant) {
            return Ok(used);
        }
        let now = Utc::now();
        let used = this_month(db, tenant, now).await?.messages();
        self.0.insert(tenant, (month_key(now), used));
        Ok(used)
    }

    /// The tenant's messages this month if the book has them: no query,
    /// for a caller that must not wait for one.
    pub fn known(&self, tenant: TenantId) -> Option<i64> {
        let month = month_key(Utc::now());
        self.0
            .get(&tenant)
            .filter(|entry| entry.0 == month)
            .map(|entry| entry.1)
    }

    /// A deleted tenant's entry.
    pub fn forget(&self, tenant: TenantId) {
        self.0.remove(&tenant);
    }
}

/// The month's counters.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct MonthCounters {
    pub inbound: i64,
    pub bot_replies: i64,
    pub human_replies: i64,
    pub api_sends: i64,
    pub ai_tokens: i64,
}

impl MonthCounters {
    /// The messages that count against the plan: what went out.
    pub fn messages(&self) -> i64 {
        self.bot_replies + self.human_replies + self.api_sends
    }
}

impl From<&usage_month::Model> for MonthCounters {
    fn from(row: &usage_month::Model) -> Self {
        Self {
            inbound: row.inbound,
            bot_replies: row.bot_replies,
            human_replies: row.human_replies,
            api_sends: row.api_sends,
            ai_tokens: row.ai_tokens,
        }
    }
}

/// A day's messages in and out.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    pub day: String,
    pub inbound: i64,
    pub outbound: i64,
}

/// `GET …/usage`: this month and today against the plan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// "2026-12" (UTC).
    pub month: String,
    pub plan: Plan,
    pub this_month: MonthCounters,
    pub today: DayCount,
    /// Messages sent this month (bot, people, API) against the plan.
    pub messages_used: i64,
    /// `None`: unlimited.
    pub messages_limit: Option<i64>,
    /// The tenant's AI tokens a month (an admin's budget for it, else its
    /// plan's); `None`: unlimited.
    pub ai_tokens_limit: Option<i64>,
    /// This month's AI tokens are used up: the bot answers from its rules
    /// only until the month ends.
    pub ai_budget_reached: bool,
    /// The month's messages are used up: the bot answers no more on its
    /// own and API sends are refused until the month ends.
    pub quota_reached: bool,
    /// Conversations with a message in the last 24 hours.
    pub active_conversations: u64,
    /// When this month passed 80 % of the plan's messages (the owner was
    /// warned then, once).
    pub warned_at: Option<DateTime<Utc>>,
    /// When this month's messages reached the plan's limit.
    pub quota_reached_at: Option<DateTime<Utc>>,
}

/// Whether the plan's monthly messages are used up.
pub fn reached(plan: &Plan, used: i64) -> bool {
    plan.monthly_messages.is_some_and(|limit| used >= limit)
}

/// The tenant's counters this month (zeros before the first message).
pub async fn this_month(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<MonthCounters, DbErr> {
    Ok(
        usage_month::Entity::find_by_id((tenant.as_uuid(), month_key(now)))
            .one(conn)
            .await?
            .as_ref()
            .map(MonthCounters::from)
            .unwrap_or_default(),
    )
}

/// Whether `tenant` may send one more message this month, with its plan.
pub async fn quota_reached(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<bool, AppError> {
    let plan = plans::of_tenant(conn, tenant).await?;
    if plan.monthly_messages.is_none() {
        return Ok(false);
    }
    let used = this_month(conn, tenant, Utc::now()).await?.messages();
    Ok(reached(&plan, used))
}

pub async fn usage(db: &DatabaseConnection, tenant: TenantId) -> Result<Usage, AppError> {
    let now = Utc::now();
    let plan = plans::of_tenant(db, tenant).await?;
    let month_row = usage_month::Entity::find_by_id((tenant.as_uuid(), month_key(now)))
        .one(db)
        .await?;
    let this_month = month_row
        .as_ref()
        .map(MonthCounters::from)
        .unwrap_or_default();
    let today = usage_day::Entity::find_by_id((tenant.as_uuid(), day_key(now)))
        .one(db)
        .await?;
    let active_conversations = {
        use sea_orm::PaginatorTrait;
        entity::conversation::Entity::find()
            .filter(entity::conversation::Column::TenantId.eq(tenant))
            .filter(entity::conversation::Column::LastMessageAt.gt(now - Duration::hours(24)))
            .count(db)
            .await?
    };
    let used = this_month.messages();
    let own_ai_budget: Option<Option<i64>> = entity::tenant_config::Entity::find_by_id(tenant)
        .select_only()
        .column(entity::tenant_config::Column::AiMonthlyTokens)
        .into_tuple()
        .one(db)
        .await?;
    let ai_tokens_limit = own_ai_budget.flatten().or(plan.monthly_ai_tokens);
    Ok(Usage {
        month: month_key(now),
        quota_reached: reached(&plan, used),
        messages_used: used,
        messages_limit: plan.monthly_messages,
        ai_tokens_limit,
        ai_budget_reached: ai_tokens_limit.is_some_and(|limit| this_month.ai_tokens >= limit),
        plan,
        this_month,
        today: DayCount {
            day: day_key(now),
            inbound: today.as_ref().map_or(0, |d| d.inbound),
            outbound: today.as_ref().map_or(0, |d| d.outbound),
        },
        active_conversations,
        warned_at: month_row.as_ref().and_then(|row| row.warned_at),
        quota_reached_at: month_row.as_ref().and_then(|row| row.quota_reached_at),
    })
}

/// The last `days` days, oldest first, days without messages as zeros.
pub async fn daily(
    db: &DatabaseConnection,
    tenant: TenantId,
    days: i64,
) -> Result<Vec<DayCount>, AppError> {
    let now = Utc::now();
    let first = now - Duration::days(days - 1);
    let rows: BTreeMap<String, usage_day::Model> = usage_day::Entity::find()
        .filter(usage_day::Column::TenantId.eq(tenant))
        .filter(usage_day::Column::Day.gte(day_key(first)))
        .order_by_asc(usage_day::Column::Day)
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.day.clone(), row))
        .collect();
    Ok((0..days)
        .map(|n| {
            let day = day_key(first + Duration::days(n));
            let row = rows.get(&day);
            DayCount {
                inbound: row.map_or(0, |r| r.inbound),
                outbound: row.map_or(0, |r| r.outbound),
                day,
            }
        })
        .collect())
}

/// A tenant's month at a glance (the admin dashboard).
#[derive(Debug, Clone, Serialize)]
pub struct TenantUsage {
    pub tenant_id: TenantId,
    pub name: String,
    pub plan: String,
    pub messages_used: i64,
    pub messages_limit: Option<i64>,
    pub inbound: i64,
    pub quota_reached: bool,
    pub ai_tokens: i64,
    /// When the month passed 80 % (the owners were warned).
    pub warned_at: Option<DateTime<Utc>>,
    /// When the month's messages reached the limit (the owners were told).
    pub quota_reached_at: Option<DateTime<Utc>>,
}

/// Every tenant's month, busiest first.
pub async fn per_tenant(db: &DatabaseConnection) -> Result<Vec<TenantUsage>, AppError> {
    let month = month_key(Utc::now());
    let plans: BTreeMap<String, Plan> = plans::list(db)
        .await?
        .into_iter()
        .map(|p| (p.code.clone(), p))
        .collect();
    let months: BTreeMap<uuid::Uuid, usage_month::Model> = usage_month::Entity::find()
        .filter(usage_month::Column::Month.eq(month))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.tenant_id, row))
        .collect();
    let mut rows: Vec<TenantUsage> = tenant::Entity::find()
        .order_by_asc(tenant::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|t| {
            let row = months.get(&t.id);
            let c = row.map(MonthCounters::from).unwrap_or_default();
            let plan = plans.get(&t.plan);
            TenantUsage {
                tenant_id: t.id.into(),
                name: t.name,
                messages_used: c.messages(),
                messages_limit: plan.and_then(|p| p.monthly_messages),
                inbound: c.inbound,
                quota_reached: plan.is_some_and(|p| reached(p, c.messages())),
                ai_tokens: c.ai_tokens,
                warned_at: row.and_then(|r| r.warned_at),
                quota_reached_at: row.and_then(|r| r.quota_reached_at),
                plan: t.plan,
            }
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.messages_used));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_told_once_a_month_at_80_percent_and_at_the_limit() {
        // (used, limit, warned, reached) → (mark_warned, email_warning, quota_reached)
        let cases = [
            // Unlimited plans are never warned.
            ((999_999, None, false, false), (false, false, false)),
            // Below 80 %: nothing.
            ((799, Some(1000), false, false), (false, false, false)),
            // Crossing 80 %: marked and emailed.
            ((800, Some(1000), false, false), (true, true, false)),
            ((950, Some(1000), false, false), (true, true, false)),
            // Already warned this month: not again.
            ((900, Some(1000), true, false), (false, false, false)),
            // The limit reached after the warning: the quota notice only.
            ((1000, Some(1000), true, false), (false, false, true)),
            // Straight past 80 % to the limit in one batch: the warning is
            // marked (the page shows it) but only the quota notice is sent.
            ((1005, Some(1000), false, false), (true, false, true)),
            // Both marks set: nothing more this month.
            ((2000, Some(1000), true, true), (false, false, false)),
            // A plan of 0 messages is used up at once.
            ((0, Some(0), false, false), (true, false, true)),
        ];
        for ((used, limit, warned, reached), (mark, email, quota)) in cases {
            assert_eq!(
                notices_due(used, limit, warned, reached),
                NoticesDue {
                    mark_warned: mark,
                    email_warning: email,
                    quota_reached: quota,
                },
                "used {used} of {limit:?}, warned {warned}, reached {reached}"
            );
        }
    }

    #[test]
    fn counters_belong_to_the_utc_month_and_day() {
        let at = DateTime::parse_from_rfc3339("2026-12-31T23:30:00-02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(month_key(at), "2027-01");
        assert_eq!(day_key(at), "2027-01-01");
    }
}
