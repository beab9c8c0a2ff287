//! Moving a tenant along its lifecycle (`domain::lifecycle` decides what
//! is legal), with the audit row in the same transaction.

use chrono::Utc;
use entity::enums::TenantStatus;
use entity::tenant;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set,
};
use serde_json::json;

use super::queries::*;
use crate::domain::ids::TenantId;
use crate::domain::lifecycle::{LifecycleAction, after_link, transition};
use crate::error::{AppError, ErrorCode};
use crate::services::audit::{self, Actor};
use crate::services::control::BotControl;
use crate::services::runtime::worker;

/// Applies a lifecycle action (refused with 409 when the state machine says
/// no) and records it. The status is re-read inside the transaction.
/// A failure remembers whether the tenant was PAUSED, and a link takes such
/// a tenant back to PAUSED (`domain::lifecycle::after_link`).
pub async fn apply(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: TenantId,
    action: LifecycleAction,
    event_type: &str,
    details: serde_json::Value,
) -> Result<TenantStatus, AppError> {
    let tenant = tenant::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(tenant_not_found)?;
    let next = match action {
        LifecycleAction::Linked => after_link(tenant.status, tenant.paused_before_error),
        action => transition(tenant.status, action),
    }
    .map_err(|err| {
        AppError::new(
            ErrorCode::IllegalTransition,
            crate::text::sentence(&err.to_string()),
        )
    })?;
    let from = tenant.status;
    let paused_before_error = match action {
        LifecycleAction::Fail => from == TenantStatus::Paused,
        LifecycleAction::Linked => false,
        _ => tenant.paused_before_error,
    };
    let mut active = tenant.into_active_model();
    active.status = Set(next);
    active.paused_before_error = Set(paused_before_error);
    active.updated_at = Set(Utc::now());
    active.update(conn).await?;
    let mut payload = json!({ "from": from, "to": next });
    if let (Some(payload), serde_json::Value::Object(details)) = (payload.as_object_mut(), details)
    {
        payload.extend(details);
    }
    audit::record(conn, actor, Some(id), event_type, payload).await?;
    Ok(next)
}

/// Pause, resume or approve directly, from the admin console. A running
/// bot picks up the new status (a paused tenant's bot answers nobody).
pub async fn admin_action(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    id: TenantId,
    action: LifecycleAction,
) -> Result<TenantStatus, AppError> {
    let event = match action {
        LifecycleAction::Pause => "tenant.paused",
        LifecycleAction::Resume => "tenant.resumed",
        LifecycleAction::ApproveDirectly => "tenant.approved",
        _ => "tenant.status_changed",
    };
    let txn = crate::db::begin_write(db).await?;
    let status = apply(&txn, actor, id, action, event, json!({})).await?;
    worker::record_change(&txn, id, worker::Change::Reload).await?;
    txn.commit().await?;
    bots.nudge(id).await;
    Ok(status)
}
