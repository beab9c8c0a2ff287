//! The unique index on WhatsApp's message ids holds only rows that have
//! one. A reply is stored (SENDING) before it is sent, without an id, and
//! gets WhatsApp's id once sent: every reply put an entry for its missing
//! id into this index at its insert and moved it at its SENT update, on a
//! page of its tenant. Now only the SENT update writes it. Uniqueness is
//! the same (NULLs never collided), and every lookup by id (`= ?`,
//! `IN (…)`) implies `IS NOT NULL`, which both planners need to use a
//! partial index. The inbound dedup names the index's condition in its
//! `ON CONFLICT` target (`log_batch::seen_before`), as both databases
//! require for a partial unique index.

use sea_orm_migration::prelude::*;

use crate::statements::run_each;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "DROP INDEX IF EXISTS uq_message_log_tenant_direction_wa_id",
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_message_log_tenant_direction_wa_id ON message_log \
     (tenant_id, direction, wa_message_id) WHERE wa_message_id IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX uq_message_log_tenant_direction_wa_id",
    "CREATE UNIQUE INDEX uq_message_log_tenant_direction_wa_id ON message_log \
     (tenant_id, direction, wa_message_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_each(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_each(manager, DOWN).await
    }
}
