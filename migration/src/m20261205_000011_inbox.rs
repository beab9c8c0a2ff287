//! The inbox and the human handoff (issue 17).
//!
//! - `conversation.needs_human` (+ since): a chat a person should look at;
//!   the inbox filters on it, with its own index. `last_human_at`: the last
//!   message a person sent in the chat (inbox, phone, API), from which
//!   `tenant_config.human_idle_timeout_minutes` counts before the bot takes
//!   the chat back. `notified_at`: the last email about the chat (at most
//!   one per 15 minutes). `text_only_notice_at`: when the bot last told the
//!   customer it reads text only (once per conversation).
//! - `message_log.author`: who wrote an outbound message when it was not
//!   the bot (a person's name, "API key …", "Phone"); `kind`: TEXT, or what
//!   else the customer sent (IMAGE, AUDIO, …), logged instead of dropped.
//! - `idx_message_log_tenant_chat_created`: one chat's thread.
//! - `conversation_event`: every switch of a conversation's mode and why,
//!   shown in its thread.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            boolean(Conversation::NeedsHuman).default(false).to_owned(),
            timestamp_with_time_zone_null(Conversation::NeedsHumanSince),
            timestamp_with_time_zone_null(Conversation::LastHumanAt),
            timestamp_with_time_zone_null(Conversation::NotifiedAt),
            timestamp_with_time_zone_null(Conversation::TextOnlyNoticeAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversation::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            string_len_null(MessageLog::Author, 200),
            string_len(MessageLog::Kind, 16).default("TEXT").to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(MessageLog::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(TenantConfig::Table)
                    .add_column(integer(TenantConfig::HumanIdleTimeoutMinutes).default(720))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_conversation_tenant_mode", Conversation::Mode),
            (
                "idx_conversation_tenant_needs_human",
                Conversation::NeedsHuman,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Conversation::Table)
                        .col(Conversation::TenantId)
                        .col(column)
                        .col(Conversation::LastMessageAt)
                        .to_owned(),
                )
                .await?;
        }
        // A thread's messages, newest first, without walking the tenant's
        // whole log (10 million rows for a busy tenant).
        manager
            .create_index(
                Index::create()
                    .name("idx_message_log_tenant_chat_created")
                    .table(MessageLog::Table)
                    .col(MessageLog::TenantId)
                    .col(MessageLog::ChatId)
                    .col(MessageLog::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConversationEvent::Table)
                    .col(big_pk_auto(ConversationEvent::Id))
                    .col(uuid(ConversationEvent::TenantId))
                    .col(big_integer(ConversationEvent::ConversationId))
                    .col(string_len(ConversationEvent::Mode, 8))
                    .col(string_len(ConversationEvent::Reason, 32))
                    .col(string_len_null(ConversationEvent::Actor, 200))
                    .col(timestamp_with_time_zone(ConversationEvent::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConversationEvent::Table, ConversationEvent::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConversationEvent::Table, ConversationEvent::ConversationId)
                            .to(Conversation::Table, Conversation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_event_conversation")
                    .table(ConversationEvent::Table)
                    .col(ConversationEvent::ConversationId)
                    .col(ConversationEvent::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConversationEvent::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_message_log_tenant_chat_created")
                    .table(MessageLog::Table)
                    .to_owned(),
            )
            .await?;
        for name in [
            "idx_conversation_tenant_mode",
            "idx_conversation_tenant_needs_human",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Conversation::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(TenantConfig::Table)
                    .drop_column(TenantConfig::HumanIdleTimeoutMinutes)
                    .to_owned(),
            )
            .await?;
        for column in [MessageLog::Author, MessageLog::Kind] {
            manager
                .alter_table(
                    Table::alter()
                        .table(MessageLog::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Conversation::NeedsHuman,
            Conversation::NeedsHumanSince,
            Conversation::LastHumanAt,
            Conversation::NotifiedAt,
            Conversation::TextOnlyNoticeAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversation::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TenantConfig {
    Table,
    HumanIdleTimeoutMinutes,
}

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    TenantId,
    ChatId,
    CreatedAt,
    Author,
    Kind,
}

#[derive(DeriveIden)]
enum Conversation {
    Table,
    Id,
    TenantId,
    Mode,
    LastMessageAt,
    NeedsHuman,
    NeedsHumanSince,
    LastHumanAt,
    NotifiedAt,
    TextOnlyNoticeAt,
}

#[derive(DeriveIden)]
enum ConversationEvent {
    Table,
    Id,
    TenantId,
    ConversationId,
    Mode,
    Reason,
    Actor,
    CreatedAt,
}
