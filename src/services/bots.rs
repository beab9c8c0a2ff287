//! Use cases on a tenant's bot: the commands admins (and approvals, and
//! owners for their own bot) give it. Each writes its intent in one
//! transaction, then nudges the runtime, which converges on the rows.

use sea_orm::DatabaseConnection;

use super::audit::Actor;
use super::control::BotControl;
use super::runtime::worker;
use super::tenants::{self, TenantDetail};
use crate::domain::bot::BotCommand;
use crate::domain::ids::TenantId;
use crate::error::AppError;

/// Start, stop, restart or force-restart the tenant's bot. Answers the
/// tenant as it is once the runtime has acted on the command.
pub async fn command(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    actor: &Actor,
    tenant: TenantId,
    command: BotCommand,
) -> Result<TenantDetail, AppError> {
    worker::request(db, actor, tenant, command).await?;
    bots.nudge(tenant).await;
    tenants::get(db, tenant).await
}
