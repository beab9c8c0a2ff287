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

use super::plans::{self, Plan};
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
/// whatever the number of tenants (at most a few hundred per batch).
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
    let months = counts.iter().map(|(tenant, c)| usage_month::ActiveModel {
        tenant_id: Set((**tenant).into()),
        month: Set(month.clone()),
        inbound: Set(c.inbound),
        bot_replies: Set(c.bot_replies),
        human_replies: Set(c.human_replies),
        api_sends: Set(c.api_sends),
        ai_tokens: Set(c.ai_tokens),
        warned_at: Set(None),
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
    ]));
    let totals = conn
        .query_all_raw(conn.get_database_backend().build(&upsert))
        .await?
        .into_iter()
        .map(|row| {
            let tenant: uuid::Uuid = row.try_get("", "tenant_id")?;
            let sum = row.try_get::<i64>("", "bot_replies")?
                + row.try_get::<i64>("", "human_replies")?
                + row.try_get::<i64>("", "api_sends")?;
            Ok((TenantId::from(tenant), sum))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let days = counts.iter().map(|(tenant, c)| usage_day::ActiveModel {
        tenant_id: Set((**tenant).into()),
        day: Set(day.clone()),
        inbound: Set(c.inbound),
        outbound: Set(c.outbound()),
    });
    use usage_day::Column as D;
    usage_day::Entity::insert_many(days)
        .on_conflict(
            OnConflict::columns([D::TenantId, D::Day])
                .value(D::Inbound, summed("usage_day", "inbound"))
                .value(D::Outbound, summed("usage_day", "outbound"))
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(totals)
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
        let now = Utc::now();
        let month = month_key(now);
        if let Some(found) = self.0.get(&tenant).filter(|entry| entry.0 == month) {
            return Ok(found.1);
        }
        let used = this_month(db, tenant, now).await?.messages();
        self.0.insert(tenant, (month, used));
        Ok(used)
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
    let this_month = this_month(db, tenant, now).await?;
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
}

/// Every tenant's month, busiest first.
pub async fn per_tenant(db: &DatabaseConnection) -> Result<Vec<TenantUsage>, AppError> {
    let month = month_key(Utc::now());
    let plans: BTreeMap<String, Plan> = plans::list(db)
        .await?
        .into_iter()
        .map(|p| (p.code.clone(), p))
        .collect();
    let counters: BTreeMap<uuid::Uuid, MonthCounters> = usage_month::Entity::find()
        .filter(usage_month::Column::Month.eq(month))
        .all(db)
        .await?
        .iter()
        .map(|row| (row.tenant_id, MonthCounters::from(row)))
        .collect();
    let mut rows: Vec<TenantUsage> = tenant::Entity::find()
        .order_by_asc(tenant::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|t| {
            let c = counters.get(&t.id).copied().unwrap_or_default();
            let plan = plans.get(&t.plan);
            TenantUsage {
                tenant_id: t.id.into(),
                name: t.name,
                messages_used: c.messages(),
                messages_limit: plan.and_then(|p| p.monthly_messages),
                inbound: c.inbound,
                quota_reached: plan.is_some_and(|p| reached(p, c.messages())),
                ai_tokens: c.ai_tokens,
                plan: t.plan,
            }
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.messages_used));
    Ok(rows)
}
