//! Plans: platform data (the `plan` table, seeded STARTER, PROFESSIONAL,
//! ENTERPRISE) and which one a tenant is on.
//!
//! Owns: reading plans, an admin's new plan or change of a plan's limits,
//! and an admin's change of a tenant's plan (each with its audit row).
//! Must not: enforce limits (`usage`, `team` and the API limiter do).

use entity::{plan, tenant};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
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

/// Every plan, in their order, with how many tenants are on it.
pub async fn list_with_tenants(db: &DatabaseConnection) -> Result<Vec<(Plan, u64)>, AppError> {
    let counts: std::collections::HashMap<String, i64> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Plan)
        .column_as(tenant::Column::Id.count(), "tenants")
        .group_by(tenant::Column::Plan)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(list(db)
        .await?
        .into_iter()
        .map(|plan| {
            let tenants = counts.get(&plan.code).copied().unwrap_or(0);
            (plan, u64::try_from(tenants).unwrap_or(0))
        })
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

/// An admin's plan, as the plan form and `POST /api/admin/plans`, `PUT
/// /api/admin/plans/{code}` take it. A `null` limit is unlimited.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Only for a new plan (it never changes): capital letters, digits and
    /// `_`, 2–32 of them, e.g. `TEAM_PLUS`.
    #[serde(default)]
    pub code: Option<String>,
    pub name: String,
    pub monthly_messages: Option<i64>,
    pub monthly_ai_tokens: Option<i64>,
    pub api_requests_per_minute: i32,
    /// People on the team, the owner included.
    pub team_members: Option<i32>,
}

/// The most API requests a minute a plan may allow.
pub const MAX_API_REQUESTS_PER_MINUTE: i32 = 100_000;

impl PlanInput {
    /// The plan's row with these values (name trimmed).
    fn row(&self, code: String, position: i32) -> plan::ActiveModel {
        plan::ActiveModel {
            code: Set(code),
            name: Set(self.name.trim().to_owned()),
            monthly_messages: Set(self.monthly_messages),
            monthly_ai_tokens: Set(self.monthly_ai_tokens),
            api_requests_per_minute: Set(self.api_requests_per_minute),
            team_members: Set(self.team_members),
            position: Set(position),
        }
    }

    /// Every field's problem, by field name (empty when all is well).
    pub fn problems(&self) -> FieldErrors {
        let mut fields = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            fields.insert("name".into(), "must be 1 to 60 characters".into());
        }
        for (field, value) in [
            ("monthly_messages", self.monthly_messages),
            ("monthly_ai_tokens", self.monthly_ai_tokens),
        ] {
            if value.is_some_and(|n| n < 0) {
                fields.insert(
                    field.into(),
                    "must be 0 or more, or empty for unlimited".into(),
                );
            }
        }
        if !(1..=MAX_API_REQUESTS_PER_MINUTE).contains(&self.api_requests_per_minute) {
            fields.insert(
                "api_requests_per_minute".into(),
                format!("must be 1 to {MAX_API_REQUESTS_PER_MINUTE}"),
            );
        }
        if self.team_members.is_some_and(|n| n < 1) {
            fields.insert(
                "team_members".into(),
                "must be 1 or more (the owner counts), or empty for unlimited".into(),
            );
        }
        fields
    }
}

/// A new plan's code, upper-cased: `None` when it is not 2–32 capital
/// letters, digits or `_` starting with a letter.
pub fn plan_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_uppercase();
    let ok = (2..=32).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(code)
}

fn plan_not_found(code: &str) -> AppError {
    AppError::not_found(
        ErrorCode::PlanNotFound,
        format!("There is no plan \"{code}\"."),
    )
}

/// An admin adds a plan; it goes last in the list.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: &PlanInput,
) -> Result<Plan, AppError> {
    let mut fields = input.problems();
    let code = input.code.as_deref().and_then(plan_code);
    if code.is_none() {
        fields.insert(
            "code".into(),
            "must be 2 to 32 capital letters, digits or _, starting with a letter".into(),
        );
    }
    let Some(code) = code.filter(|_| fields.is_empty()) else {
        return Err(AppError::validation(fields));
    };
    let txn = crate::db::begin_write(db).await?;
    if plan::Entity::find_by_id(code.clone())
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("There is a plan \"{code}\" already."),
        ));
    }
    let last: Option<Option<i32>> = plan::Entity::find()
        .select_only()
        .column_as(plan::Column::Position.max(), "position")
        .into_tuple()
        .one(&txn)
        .await?;
    let row = input
        .row(code, last.flatten().unwrap_or(0) + 1)
        .insert(&txn)
        .await?;
    let created = Plan::from(row);
    audit::record(
        &txn,
        actor,
        None,
        "plan.created",
        json!({ "plan": &created }),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// An admin changes plan `code`'s name and limits. The bots of the
/// tenants on it reload their config (they read its limits there); API
/// keys pick up a new rate at their next check.
pub async fn update(
    db: &DatabaseConnection,
    bots: &dyn super::control::BotControl,
    actor: &Actor,
    code: &str,
    input: &PlanInput,
) -> Result<Plan, AppError> {
    let code = code.trim().to_uppercase();
    let mut fields = input.problems();
    if input
        .code
        .as_deref()
        .is_some_and(|given| given.trim().to_uppercase() != code)
    {
        fields.insert(
            "code".into(),
            "cannot change; add a new plan instead".into(),
        );
    }
    if !fields.is_empty() {
        return Err(AppError::validation(fields));
    }
    let txn = crate::db::begin_write(db).await?;
    let before = plan::Entity::find_by_id(code.clone())
        .one(&txn)
        .await?
        .ok_or_else(|| plan_not_found(&code))?;
    let position = before.position;
    let before = Plan::from(before);
    let after = Plan::from(input.row(code.clone(), position).update(&txn).await?);
    if after == before {
        txn.commit().await?;
        return Ok(after);
    }
    let tenants: Vec<uuid::Uuid> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .filter(tenant::Column::Plan.eq(code.as_str()))
        .into_tuple()
        .all(&txn)
        .await?;
    super::runtime::worker::record_change_on_plan(&txn, &code).await?;
    audit::record(
        &txn,
        actor,
        None,
        "plan.updated",
        json!({ "before": before, "after": &after }),
    )
    .await?;
    txn.commit().await?;
    for tenant in tenants {
        bots.nudge(tenant.into()).await;
    }
    Ok(after)
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
    let own: Option<Option<i64>> = entity::tenant_config::Entity::find_by_id(tenant)
        .select_only()
        .column(entity::tenant_config::Column::AiMonthlyTokens)
        .into_tuple()
        .one(db)
        .await?;
    Ok(own.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PlanInput {
        PlanInput {
            code: None,
            name: "Team".into(),
            monthly_messages: Some(0),
            monthly_ai_tokens: None,
            api_requests_per_minute: 1,
            team_members: Some(1),
        }
    }

    #[test]
    fn limits_at_their_bounds_pass_and_past_them_name_their_field() {
        assert!(input().problems().is_empty(), "the least of each");
        let unlimited = PlanInput {
            monthly_messages: None,
            team_members: None,
            api_requests_per_minute: MAX_API_REQUESTS_PER_MINUTE,
            ..input()
        };
        assert!(unlimited.problems().is_empty());
        let cases: [(&str, PlanInput); 6] = [
            (
                "name",
                PlanInput {
                    name: "  ".into(),
                    ..input()
                },
            ),
            (
                "name",
                PlanInput {
                    name: "x".repeat(61),
                    ..input()
                },
            ),
            (
                "monthly_messages",
                PlanInput {
                    monthly_messages: Some(-1),
                    ..input()
                },
            ),
            (
                "monthly_ai_tokens",
                PlanInput {
                    monthly_ai_tokens: Some(-1),
                    ..input()
                },
            ),
            (
                "api_requests_per_minute",
                PlanInput {
                    api_requests_per_minute: MAX_API_REQUESTS_PER_MINUTE + 1,
                    ..input()
                },
            ),
            (
                "team_members",
                PlanInput {
                    team_members: Some(0),
                    ..input()
                },
            ),
        ];
        for (field, bad) in cases {
            let problems = bad.problems();
            assert_eq!(
                problems.keys().collect::<Vec<_>>(),
                [field],
                "{bad:?}: {problems:?}"
            );
        }
    }

    #[test]
    fn a_plan_code_is_two_to_32_capitals_digits_or_underscores_after_a_letter() {
        assert_eq!(plan_code(" team_plus ").as_deref(), Some("TEAM_PLUS"));
        assert_eq!(plan_code("P2").as_deref(), Some("P2"));
        assert_eq!(plan_code(&"A".repeat(32)).map(|c| c.len()), Some(32));
        for bad in [
            "",
            "A",
            "2FAST",
            "_X",
            "TEAM PLUS",
            "TEAM-PLUS",
            "ÄRA",
            &"A".repeat(33),
        ] {
            assert_eq!(plan_code(bad), None, "{bad}");
        }
    }
}
