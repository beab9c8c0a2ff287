//! AI replies (issue 18 §9–13).
//!
//! - `tenant_config.ai_monthly_tokens`: the admin's monthly AI token budget
//!   for this tenant; NULL takes the plan's (`plan.monthly_ai_tokens`).
//! - `tenant_config.ai_budget_noticed_month`: the month ("2026-12") in which
//!   the tenant was last told its AI budget ran out: one notice a month,
//!   claimed by one conditional UPDATE.
//! - `ai_reply`: one row per bot reply the model was asked for, written by
//!   the message log writer in the batch of the reply it belongs to: what
//!   came of it (answer, clarify, handoff, held back, failed), the tokens it
//!   cost and, when its answer was not sent, why. The thread shows from it
//!   which replies the AI wrote; the message log itself stays as it is.
//!
//! (The tenant's AI profile, on/off, tone and rules, is part of its
//! knowledge document, `tenant_knowledge.document`.)

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            big_integer_null(TenantConfig::AiMonthlyTokens),
            string_len_null(TenantConfig::AiBudgetNoticedMonth, 7),
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
            .create_table(
                Table::create()
                    .table(AiReply::Table)
                    .col(big_integer(AiReply::MessageId).primary_key())
                    .col(uuid(AiReply::TenantId))
                    .col(string_len(AiReply::Outcome, 16))
                    .col(big_integer(AiReply::TokensIn))
                    .col(big_integer(AiReply::TokensOut))
                    .col(text_null(AiReply::Note))
                    .col(timestamp_with_time_zone(AiReply::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AiReply::Table, AiReply::MessageId)
                            .to(MessageLog::Table, MessageLog::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AiReply::Table, AiReply::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AiReply::Table).to_owned())
            .await?;
        for column in [
            TenantConfig::AiBudgetNoticedMonth,
            TenantConfig::AiMonthlyTokens,
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
    AiMonthlyTokens,
    AiBudgetNoticedMonth,
}

#[derive(DeriveIden)]
enum AiReply {
    Table,
    MessageId,
    TenantId,
    Outcome,
    TokensIn,
    TokensOut,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}
