//! The seams of wave 2.
//!
//! - `worker_process.intent_version` / `restart_generation`: what a use case
//!   wants of a running bot is a row first. `intent_version` goes up with
//!   every change the bot should pick up (its settings, its tenant's status,
//!   a command); `restart_generation` goes up when the bot must start over
//!   (restart, force-restart, a new transport). The runtime converges on
//!   them when nudged and on its reconcile timer, so nothing depends on an
//!   in-process call having happened.
//! - `tenant.paused_before_error`: a PAUSED tenant whose bot fails returns
//!   to PAUSED, not ACTIVE, once its bot is linked again (DESIGN.md).
//! - `conversation`: one row per (tenant, customer chat), written by the
//!   message log writer in its batches. "First contact" (the welcome
//!   message) comes from here rather than from a bot's memory.
//!   (tenant_id, last_message_at) serves the inbox's "most recent first".

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            big_integer(WorkerProcess::IntentVersion)
                .default(0)
                .to_owned(),
            big_integer(WorkerProcess::RestartGeneration)
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WorkerProcess::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tenant::Table)
                    .add_column(boolean(Tenant::PausedBeforeError).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Conversation::Table)
                    .col(big_pk_auto(Conversation::Id))
                    .col(uuid(Conversation::TenantId))
                    .col(string_len(Conversation::ChatId, 64))
                    .col(string_len_null(Conversation::ContactName, 200))
                    .col(timestamp_with_time_zone(Conversation::FirstSeenAt))
                    .col(timestamp_with_time_zone_null(Conversation::LastInAt))
                    .col(timestamp_with_time_zone_null(Conversation::LastOutAt))
                    .col(timestamp_with_time_zone(Conversation::LastMessageAt))
                    .col(string_len(Conversation::Preview, 200))
                    .col(integer(Conversation::Unread).default(0))
                    .col(big_integer_null(Conversation::FirstMessageId))
                    .col(string_len(Conversation::Mode, 8).default("BOT"))
                    .col(string_len_null(Conversation::ModeReason, 32))
                    .col(timestamp_with_time_zone_null(Conversation::ModeSince))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_tenant")
                            .from(Conversation::Table, Conversation::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_conversation_tenant_chat")
                    .table(Conversation::Table)
                    .col(Conversation::TenantId)
                    .col(Conversation::ChatId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_tenant_activity")
                    .table(Conversation::Table)
                    .col(Conversation::TenantId)
                    .col(Conversation::LastMessageAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Conversation::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenant::Table)
                    .drop_column(Tenant::PausedBeforeError)
                    .to_owned(),
            )
            .await?;
        for column in [
            WorkerProcess::IntentVersion,
            WorkerProcess::RestartGeneration,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WorkerProcess::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WorkerProcess {
    Table,
    IntentVersion,
    RestartGeneration,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
    PausedBeforeError,
}

#[derive(DeriveIden)]
enum Conversation {
    Table,
    Id,
    TenantId,
    ChatId,
    ContactName,
    FirstSeenAt,
    LastInAt,
    LastOutAt,
    LastMessageAt,
    Preview,
    Unread,
    FirstMessageId,
    Mode,
    ModeReason,
    ModeSince,
}
