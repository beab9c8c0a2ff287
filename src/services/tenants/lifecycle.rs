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
use crate::domain::lifecycle::{LifecycleAction, transition};
use crate::error::{AppError, ErrorCode};
use crate::services::audit::{self, Actor};

/// Applies a lifecycle action (refused with 409 when the state machine says
/// no) and records it. The status is re-read inside the transaction.
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
    let next = transition(tenant.status, action).map_err(|err| {
        AppError::new(
            ErrorCode::IllegalTransition,
            crate::text::sentence(&err.to_string()),
        )
    })?;
    let from = tenant.status;
    let mut active = tenant.into_active_model();
    active.status = Set(next);
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

/// Pause or resume, from the admin console.
pub async fn admin_action(
    db: &DatabaseConnection,
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
    txn.commit().await?;
    Ok(status)
}
