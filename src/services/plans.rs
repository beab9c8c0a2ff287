//! Plans: platform data (the `plan` table, seeded STARTER, PROFESSIONAL,
//! ENTERPRISE) and which one a tenant is on.
//!
//! Owns: reading plans and an admin's change of a tenant's plan (with its
//! audit row). Must not: enforce limits (`usage` and the API limiter do).

use entity::{plan, tenant};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Actor};
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode, FieldErrors};

/// The plan a new tenant starts on.
pub const DEFAULT_PLAN: &str = "STARTER";

/// A plan's limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub monthly_messages: Option<i64>,
    pub monthly_ai_tokens: Option<i64>,
    pub api_requests_per_minute: i32,
    pub team_members: Option<i32>,
}

impl From<plan::Model> for Plan {
    fn from(row: plan::Model) -> Self {
        Self {
            code: row.code,
            name: row.name,
            monthly_messages: row.monthly_messages,
            monthly_ai_tokens: row.monthly_ai_tokens,
            api_requests_per_minute: row.api_requests_per_minute,
            team_members: row.team_members,
        }
    }
}

/// API requests a minute as the key limiter counts them (at least one).
pub fn api_rate(requests_per_minute: i32) -> std::num::NonZeroU32 {
    u32::try_from(requests_per_minute)
        .ok()
        .and_then(std::num::NonZeroU32::new)
        .unwrap_or(std::num::NonZeroU32::MIN)
}

/// The API rate of each of `tenants`' plans (tenants that are gone, or
/// whose plan is, are left out).
pub async fn api_rates(
    db: &impl ConnectionTrait,
    tenants: &std::collections::BTreeSet<TenantId>,
) -> Result<std::collections::HashMap<TenantId, std::num::NonZeroU32>, sea_orm::DbErr> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Id.is_in(tenants.iter().copied()))
        .find_also_related(plan::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(tenant, plan)| {
            Some((tenant.id.into(), api_rate(plan?.api_requests_per_minute)))
        })
        .collect())
}

/// Every plan, in their order.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<Plan>, AppError> {
    Ok(plan::Entity::find()
        .order_by_asc(plan::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(Plan::from)
        .collect())
}

/// The plan `tenant` is on.
pub async fn of_tenant(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Plan, AppError> {
    let found = tenant::Entity::find_by_id(tenant.as_uuid())
        .find_also_related(plan::Entity)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::TenantNotFound, "No such tenant."))?;
    match found {
        (_, Some(plan)) => Ok(plan.into()),
        (row, None) => Err(AppError::internal(anyhow::anyhow!(
            "tenant {} is on plan {:?}, which does not exist",
            row.id,
            row.plan
        ))),
    }
}

/// `{plan}`: the code of the plan to move a tenant to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    pub plan: String,
}

/// An admin moves `tenant` to another plan.
pub async fn change(
    db: &DatabaseConnection,
    bots: &dyn super::control::BotControl,
    actor: &Actor,
    tenant: TenantId,
    code: &str,
) -> Result<Plan, AppError> {
    let code = code.trim().to_uppercase();
    let txn = crate::db::begin_write(db).await?;
    let before = of_tenant(&txn, tenant).await?;
    let Some(plan) = plan::Entity::find_by_id(code.clone()).one(&txn).await? else {
        return Err(AppError::validation(FieldErrors::from([(
            "plan".to_owned(),
            format!("\"{code}\" is not a plan"),
        )])));
    };
    if before.code != plan.code {
        tenant::Entity::update_many()
            .col_expr(tenant::Column::Plan, Expr::value(plan.code.clone()))
            .col_expr(tenant::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
            .filter(tenant::Column::Id.eq(tenant))
            .exec(&txn)
            .await?;
        // The running bot reloads its config, with the new limits.
        super::runtime::worker::record_change(&txn, tenant, super::runtime::worker::Change::Reload)
            .await?;
        audit::record(
            &txn,
            actor,
            Some(tenant),
            "tenant.plan_changed",
            json!({ "from": before.code, "to": plan.code }),
        )
        .await?;
    }
    txn.commit().await?;
    // The bot reads its plan's limits with its config.
    bots.nudge(tenant).await;
    Ok(plan.into())
}

/// `{monthly_tokens}`: an admin's AI token budget for one tenant a month;
/// `null` goes back to the plan's.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AiBudget {
    pub monthly_tokens: Option<i64>,
}

/// An admin sets `tenant`'s monthly AI token budget (`None`: its plan's).
/// Answers the budget in force.
pub async fn set_ai_budget(
    db: &DatabaseConnection,
    bots: &dyn super::control::BotControl,
    actor: &Actor,
    tenant: TenantId,
    budget: AiBudget,
) -> Result<AiBudget, AppError> {
    if budget.monthly_tokens.is_some_and(|t| t < 0) {
        return Err(AppError::validation(FieldErrors::from([(
            "monthly_tokens".to_owned(),
            "must be 0 or more, or null for the plan's budget".to_owned(),
        )])));
    }
    let txn = crate::db::begin_write(db).await?;
    let plan = of_tenant(&txn, tenant).await?;
    entity::tenant_config::Entity::update_many()
        .col_expr(
            entity::tenant_config::Column::AiMonthlyTokens,
            Expr::value(budget.monthly_tokens),
        )
        .col_expr(
            entity::tenant_config::Column::UpdatedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(entity::tenant_config::Column::TenantId.eq(tenant))
        .exec(&txn)
        .await?;
    super::runtime::worker::record_change(&txn, tenant, super::runtime::worker::Change::Reload)
        .await?;
    audit::record(
        &txn,
        actor,
        Some(tenant),
        "tenant.ai_budget_changed",
        json!({ "monthly_tokens": budget.monthly_tokens }),
    )
    .await?;
    txn.commit().await?;
    bots.nudge(tenant).await;
    Ok(AiBudget {
        monthly_tokens: budget.monthly_tokens.or(plan.monthly_ai_tokens),
    })
}

/// The admin's own AI token budget for `tenant` (`None`: its plan's).
pub async fn own_ai_budget(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Option<i64>, AppError> {
    use sea_orm::QuerySelect;
    let own: Option<Option<i64>> = entity::tenant_config::Entity::find_by_id(tenant)
        .select_only()
        .column(entity::tenant_config::Column::AiMonthlyTokens)
        .into_tuple()
        .one(db)
        .await?;
    Ok(own.flatten())
}
