//! What the bot runtime needs beyond the data model: per-tenant rate-limit
//! overrides, and an index that finds inbound messages persisted but not yet
//! answered (recovered after a restart) without scanning the whole log.
//! It is partial (only RECEIVED inbound rows), so the hot insert path of the
//! message log does not pay for one more full index; sea-query cannot
//! express partial indexes, hence the SQL, which SQLite and PostgreSQL share.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            integer_null(TenantConfig::RateLimitPerMinute),
            integer_null(TenantConfig::ChatRateLimitPerMinute),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(TenantConfig::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_message_log_unanswered ON message_log (tenant_id) \
                 WHERE status = 'RECEIVED' AND direction = 'IN'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_message_log_unanswered")
            .await?;
        for column in [
            TenantConfig::RateLimitPerMinute,
            TenantConfig::ChatRateLimitPerMinute,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(TenantConfig::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum TenantConfig {
    Table,
    RateLimitPerMinute,
    ChatRateLimitPerMinute,
}
