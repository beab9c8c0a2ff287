//! The durable send path: outbound rows are stored QUEUED or SENDING before
//! the transport is called, and a start looks them up per tenant (SENDING
//! left by a crash becomes UNKNOWN; QUEUED goes out). A partial index finds
//! them without scanning the log, and costs the hot path only while a row
//! is in one of those two states (the same reasoning as
//! `idx_message_log_unanswered`, hence SQL that SQLite and PostgreSQL share).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_message_log_outbox ON message_log (tenant_id, id) \
                 WHERE status IN ('QUEUED', 'SENDING') AND direction = 'OUT'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_message_log_outbox")
            .await?;
        Ok(())
    }
}
