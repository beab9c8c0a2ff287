//! The audit trail: who did what to which tenant, and when. Rows are written
//! in the transaction of the change they describe.

use chrono::{DateTime, Utc};
use entity::audit_log;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::Value;

use super::{Page, PageRequest};
use crate::domain::ids::TenantId;
use crate::error::AppError;

/// Who acted: an admin, a portal user, or the platform itself.
#[derive(Debug, Clone)]
pub enum Actor {
    Admin(String),
    User(String),
    /// A tenant API key, by its id.
    ApiKey(String),
    System,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Self::Admin(name) => format!("admin:{name}"),
            Self::User(email) => format!("user:{email}"),
            Self::ApiKey(id) => format!("api_key:{id}"),
            Self::System => "system".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub tenant_id: Option<TenantId>,
    pub actor: String,
    pub event_type: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(row: audit_log::Model) -> Self {
        Self {
            id: row.id,
            tenant_id: row.tenant_id.map(Into::into),
            actor: row.actor,
            event_type: row.event_type,
            payload: row.payload,
            created_at: row.created_at,
        }
    }
}

pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    tenant_id: Option<TenantId>,
    event_type: &str,
    payload: Value,
) -> Result<(), AppError> {
    audit_log::ActiveModel {
        tenant_id: Set(tenant_id.map(Into::into)),
        actor: Set(actor.label()),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// [`record`] on its own, not as part of a use case's transaction: in its
/// turn at the database's write queue (`db::write_alone`).
pub async fn record_alone(
    db: &DatabaseConnection,
    actor: &Actor,
    tenant_id: Option<TenantId>,
    event_type: &str,
    payload: Value,
) -> Result<(), AppError> {
    crate::db::write_alone(db, record(db, actor, tenant_id, event_type, payload)).await
}

/// Newest first, optionally for one tenant.
pub async fn list(
    db: &DatabaseConnection,
    tenant_id: Option<TenantId>,
    page: PageRequest,
) -> Result<Page<AuditEntry>, AppError> {
    let page = page.clamped();
    let mut query = audit_log::Entity::find();
    if let Some(tenant_id) = tenant_id {
        query = query.filter(audit_log::Column::TenantId.eq(tenant_id));
    }
    let total = query.clone().count(db).await?;
    let items = query
        .order_by_desc(audit_log::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok(Page {
        items: items.into_iter().map(AuditEntry::from).collect(),
        page: page.page,
        per_page: page.per_page,
        total,
    })
}
