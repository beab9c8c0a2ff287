//! What the bot runtime needs beyond the data model: per-tenant rate-limit
//! overrides, and an index that finds inbound messages persisted but not yet
//! answered (recovered after a restart) without scanning the whole log.

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
            .create_index(
                Index::create()
                    .name("idx_message_log_status")
                    .table(MessageLog::Table)
                    .col(MessageLog::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_message_log_status")
                    .table(MessageLog::Table)
                    .to_owned(),
            )
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

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    Status,
}
