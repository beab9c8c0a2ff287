//! Use cases on a tenant's bot: the commands admins (and approvals, and
//! owners for their own bot) give it. Each writes its intent in one
//! transaction, then nudges the runtime, which converges on the rows.

use entity::enums::{SessionState, TenantStatus};
use sea_orm::DatabaseConnection;

use super::audit::Actor;
use super::control::BotControl;
use super::runtime::worker;
use super::tenants::{self, TenantDetail};
use crate::domain::bot::BotCommand;
use crate::domain::ids::TenantId;
use crate::error::{AppError, ErrorCode};
use crate::limits::ActionLimiter;

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

/// An owner asks for a new code to link with, when theirs ran out: the bot
/// in ERROR is force-restarted, one waiting for a link without a code
/// showing is restarted; it then shows a new QR code (or pairing code).
/// Limited per tenant (each costs a bot restart) and audited as the
/// owner's command. Refused (409) while the bot is linked or shows a code.
pub async fn owner_new_link_code(
    db: &DatabaseConnection,
    bots: &dyn BotControl,
    limiter: &ActionLimiter<TenantId>,
    actor: &Actor,
    tenant: TenantId,
) -> Result<TenantDetail, AppError> {
    let detail = tenants::get(db, tenant).await?;
    let command = match (detail.tenant.status, detail.session.state) {
        (TenantStatus::Error, _) => BotCommand::ForceRestart,
        (TenantStatus::QrPending, state) if state != SessionState::QrReady => BotCommand::Restart,
        _ => {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "Your bot is linked or is showing a code to link with already.",
            ));
        }
    };
    limiter.check(&tenant).map_err(AppError::rate_limited)?;
    self::command(db, bots, actor, tenant, command).await
}
