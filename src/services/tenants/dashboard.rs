//! The admin dashboard's counts.

use entity::enums::TenantStatus;
use entity::tenant;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;

use super::queries::*;
use crate::error::AppError;

/// What the dashboard shows.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub total: u64,
    pub by_status: Vec<(TenantStatus, u64)>,
    pub waiting_setup_requests: u64,
    pub errored: Vec<TenantSummary>,
}

pub async fn dashboard(db: &DatabaseConnection) -> Result<Dashboard, AppError> {
    let counts: Vec<(TenantStatus, i64)> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Status)
        .column_as(Expr::col(tenant::Column::Id).count(), "n")
        .group_by(tenant::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let by_status: Vec<(TenantStatus, u64)> = <TenantStatus as sea_orm::Iterable>::iter()
        .map(|status| {
            let n = counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (status, n)
        })
        .collect();
    let waiting_setup_requests = entity::setup_request::Entity::find()
        .filter(
            entity::setup_request::Column::Status.eq(entity::enums::SetupRequestStatus::Submitted),
        )
        .count(db)
        .await?;
    let errored = tenant::Entity::find()
        .filter(tenant::Column::Status.eq(TenantStatus::Error))
        .order_by_desc(tenant::Column::UpdatedAt)
        .limit(10)
        .all(db)
        .await?
        .into_iter()
        .map(TenantSummary::from)
        .collect();
    Ok(Dashboard {
        total: by_status.iter().map(|(_, n)| n).sum(),
        by_status,
        waiting_setup_requests,
        errored,
    })
}
