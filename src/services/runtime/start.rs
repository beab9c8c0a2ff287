//! What a bot reads when it starts: its tenant's settings, and what a
//! crash left it to recover. When a process boots, 10,000 bots ask at the
//! same moment; each read is coalesced ([`Coalesced`]) with those of the
//! other bots starting then, so the boot costs a few dozen queries instead
//! of two per bot.

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::Semaphore;

use super::coalesce::Coalesced;
use super::log_batch::{self, Leftovers};
use super::worker::{self, BotConfig, StartRow};
use crate::domain::ids::TenantId;
use crate::error::AppError;

/// Batches of each kind read at once (each on a connection of its own).
const READS_AT_ONCE: usize = 2;

/// Bots reading what a crash left at the same time: those reads are per
/// bot (a few rows each, rarely more than a handful of bots after a
/// crash), and their buffers would otherwise pile up behind the pool.
const RECOVERIES_AT_ONCE: usize = 32;

pub struct StartReads {
    db: DatabaseConnection,
    configs: Coalesced<StartRow>,
    probes: Coalesced<()>,
    recoveries: Semaphore,
}

impl StartReads {
    /// Starts the coalescing readers on the current runtime.
    pub fn new(db: DatabaseConnection) -> Self {
        let configs = Coalesced::spawn(READS_AT_ONCE, {
            let db = db.clone();
            move |tenants: Vec<TenantId>| {
                let db = db.clone();
                async move { worker::start_rows(&db, &tenants).await }
            }
        });
        let probes = Coalesced::spawn(READS_AT_ONCE, {
            let db = db.clone();
            move |tenants: Vec<TenantId>| {
                let db = db.clone();
                async move {
                    let found = log_batch::with_leftovers(&db, &tenants).await?;
                    Ok(found.into_iter().map(|tenant| (tenant, ())).collect())
                }
            }
        });
        Self {
            db,
            configs,
            probes,
            recoveries: Semaphore::new(RECOVERIES_AT_ONCE),
        }
    }

    /// The tenant's settings, as `worker::load_bot_config` reads them.
    pub async fn config(&self, tenant: TenantId) -> Result<BotConfig, AppError> {
        worker::bot_config(tenant, self.configs.get(tenant).await?)
    }

    /// What a crash (or a stop past the drain bound) left the tenant's bot:
    /// nothing, without a query of its own, unless the probe found
    /// something (see [`log_batch::leftovers`]).
    pub async fn leftovers(&self, tenant: TenantId) -> Result<Leftovers, DbErr> {
        if self.probes.get(tenant).await?.is_none() {
            return Ok(Leftovers::default());
        }
        let _turn = self
            .recoveries
            .acquire()
            .await
            .map_err(|_| DbErr::Custom("the bot runtime is shutting down".into()))?;
        log_batch::leftovers(&self.db, tenant).await
    }
}
