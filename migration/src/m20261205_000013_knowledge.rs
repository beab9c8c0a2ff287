//! What the bot knows (issue 18).
//!
//! - `tenant_knowledge`: one row per tenant holding the knowledge document
//!   the owner edits as a whole (`GET/PUT …/knowledge`: facts, services,
//!   FAQ entries, overridden answers) as JSON. One row, read with one
//!   statement when a bot loads its tenant's settings and replaced in one
//!   statement: nothing in it is queried by its parts.
//! - `knowledge_answer_version`: every saved text of an editable answer per
//!   (tenant, answer key, language), the newest 20 kept; `text` NULL is a
//!   reset to the built-in default.
//! - `unanswered_question`: customer messages that fell through to the help
//!   menu, one row per (tenant, normalised text) with a count, upserted by
//!   the message log writer in its batch.
//! - `conversation.out_of_hours_notice_at`: when the bot last put its
//!   out-of-hours note in front of an answer in that chat.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantKnowledge::Table)
                    .col(pk_uuid(TenantKnowledge::TenantId))
                    .col(json(TenantKnowledge::Document))
                    .col(timestamp_with_time_zone(TenantKnowledge::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantKnowledge::Table, TenantKnowledge::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeAnswerVersion::Table)
                    .col(big_pk_auto(KnowledgeAnswerVersion::Id))
                    .col(uuid(KnowledgeAnswerVersion::TenantId))
                    .col(string_len(KnowledgeAnswerVersion::AnswerKey, 32))
                    .col(string_len(KnowledgeAnswerVersion::Language, 8))
                    .col(text_null(KnowledgeAnswerVersion::Text))
                    .col(string_len_null(KnowledgeAnswerVersion::Author, 254))
                    .col(timestamp_with_time_zone(KnowledgeAnswerVersion::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                KnowledgeAnswerVersion::Table,
                                KnowledgeAnswerVersion::TenantId,
                            )
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_knowledge_answer_version_key")
                    .table(KnowledgeAnswerVersion::Table)
                    .col(KnowledgeAnswerVersion::TenantId)
                    .col(KnowledgeAnswerVersion::AnswerKey)
                    .col(KnowledgeAnswerVersion::Language)
                    .col(KnowledgeAnswerVersion::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnansweredQuestion::Table)
                    .col(big_pk_auto(UnansweredQuestion::Id))
                    .col(uuid(UnansweredQuestion::TenantId))
                    .col(string_len(UnansweredQuestion::Key, 200))
                    .col(text(UnansweredQuestion::Sample))
                    .col(integer(UnansweredQuestion::Count))
                    .col(timestamp_with_time_zone(UnansweredQuestion::FirstAt))
                    .col(timestamp_with_time_zone(UnansweredQuestion::LastAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UnansweredQuestion::Table, UnansweredQuestion::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_unanswered_question_key")
                    .table(UnansweredQuestion::Table)
                    .col(UnansweredQuestion::TenantId)
                    .col(UnansweredQuestion::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversation::Table)
                    .add_column(timestamp_with_time_zone_null(
                        Conversation::OutOfHoursNoticeAt,
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Conversation::Table)
                    .drop_column(Conversation::OutOfHoursNoticeAt)
                    .to_owned(),
            )
            .await?;
        for table in [
            UnansweredQuestion::Table.into_iden(),
            KnowledgeAnswerVersion::Table.into_iden(),
            TenantKnowledge::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum TenantKnowledge {
    Table,
    TenantId,
    Document,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KnowledgeAnswerVersion {
    Table,
    Id,
    TenantId,
    AnswerKey,
    Language,
    Text,
    Author,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UnansweredQuestion {
    Table,
    Id,
    TenantId,
    Key,
    Sample,
    Count,
    FirstAt,
    LastAt,
}

#[derive(DeriveIden)]
enum Conversation {
    Table,
    OutOfHoursNoticeAt,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}
