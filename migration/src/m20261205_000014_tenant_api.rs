//! The tenant API (issue 19): API keys, idempotency keys of API sends,
//! plans as platform data, and usage counters per tenant per month and per
//! day.
//!
//! - `api_key`: only the SHA-256 of the secret is stored (the key is shown
//!   once); scopes are a space-separated list; revoked or past `expires_at`
//!   it no longer authenticates.
//! - `api_idempotency`: one row per (tenant, Idempotency-Key): the hash of
//!   the request it came with and the message it created, so a repeat
//!   answers the first result and sends nothing.
//! - `plan`: seeded STARTER (1,000 messages a month), PROFESSIONAL (10,000)
//!   and ENTERPRISE (unlimited: NULL). `tenant.plan` names one by its code;
//!   the old FREE/STARTER become STARTER, BUSINESS becomes PROFESSIONAL.
//! - `usage_month` / `usage_day`: counters written by the message log
//!   writer's batches (one upsert per tenant per batch) and by the use cases
//!   that send (a person's reply, an API send) in their own transaction.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plan::Table)
                    .col(string_len(Plan::Code, 16).primary_key())
                    .col(string_len(Plan::Name, 64))
                    .col(big_integer_null(Plan::MonthlyMessages))
                    .col(big_integer_null(Plan::MonthlyAiTokens))
                    .col(integer(Plan::ApiRequestsPerMinute))
                    .col(integer_null(Plan::TeamMembers))
                    .col(integer(Plan::Position))
                    .to_owned(),
            )
            .await?;
        let seed = [
            (
                "STARTER",
                "Starter",
                Some(1_000_i64),
                Some(200_000_i64),
                60,
                Some(2),
                1,
            ),
            (
                "PROFESSIONAL",
                "Professional",
                Some(10_000),
                Some(2_000_000),
                300,
                Some(10),
                2,
            ),
            ("ENTERPRISE", "Enterprise", None, None, 1_200, None, 3),
        ];
        for (code, name, messages, tokens, rpm, members, position) in seed {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(Plan::Table)
                        .columns([
                            Plan::Code,
                            Plan::Name,
                            Plan::MonthlyMessages,
                            Plan::MonthlyAiTokens,
                            Plan::ApiRequestsPerMinute,
                            Plan::TeamMembers,
                            Plan::Position,
                        ])
                        .values_panic([
                            code.into(),
                            name.into(),
                            messages.into(),
                            tokens.into(),
                            rpm.into(),
                            members.into(),
                            position.into(),
                        ])
                        .to_owned(),
                )
                .await?;
        }
        for (from, to) in [("FREE", "STARTER"), ("BUSINESS", "PROFESSIONAL")] {
            manager
                .exec_stmt(
                    Query::update()
                        .table(Tenant::Table)
                        .value(Tenant::Plan, to)
                        .and_where(Expr::col(Tenant::Plan).eq(from))
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(pk_uuid(ApiKey::Id))
                    .col(uuid(ApiKey::TenantId))
                    .col(string_len(ApiKey::Name, 100))
                    // `fhq_live_` and the secret's first characters, for lists.
                    .col(string_len(ApiKey::Prefix, 24))
                    // SHA-256 (hex) of the whole key.
                    .col(string_len_uniq(ApiKey::SecretHash, 64))
                    .col(string_len(ApiKey::Scopes, 200))
                    .col(string_len(ApiKey::CreatedBy, 200))
                    .col(timestamp_with_time_zone(ApiKey::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKey::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKey::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKey::Table, ApiKey::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_key_tenant")
                    .table(ApiKey::Table)
                    .col(ApiKey::TenantId)
                    .col(ApiKey::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiIdempotency::Table)
                    .col(uuid(ApiIdempotency::TenantId))
                    .col(string_len(ApiIdempotency::IdempotencyKey, 255))
                    // SHA-256 (hex) of the request (method, path, body).
                    .col(string_len(ApiIdempotency::RequestHash, 64))
                    .col(big_integer(ApiIdempotency::MessageId))
                    .col(timestamp_with_time_zone(ApiIdempotency::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ApiIdempotency::TenantId)
                            .col(ApiIdempotency::IdempotencyKey),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiIdempotency::Table, ApiIdempotency::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UsageMonth::Table)
                    .col(uuid(UsageMonth::TenantId))
                    // "2026-12" (UTC).
                    .col(string_len(UsageMonth::Month, 7))
                    .col(big_integer(UsageMonth::Inbound).default(0))
                    .col(big_integer(UsageMonth::BotReplies).default(0))
                    .col(big_integer(UsageMonth::HumanReplies).default(0))
                    .col(big_integer(UsageMonth::ApiSends).default(0))
                    .col(big_integer(UsageMonth::AiTokens).default(0))
                    // When the owner was told 80 % of the month's messages are used.
                    .col(timestamp_with_time_zone_null(UsageMonth::WarnedAt))
                    .primary_key(
                        Index::create()
                            .col(UsageMonth::TenantId)
                            .col(UsageMonth::Month),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UsageMonth::Table, UsageMonth::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageDay::Table)
                    .col(uuid(UsageDay::TenantId))
                    // "2026-12-05" (UTC).
                    .col(string_len(UsageDay::Day, 10))
                    .col(big_integer(UsageDay::Inbound).default(0))
                    .col(big_integer(UsageDay::Outbound).default(0))
                    .primary_key(Index::create().col(UsageDay::TenantId).col(UsageDay::Day))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UsageDay::Table, UsageDay::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UsageDay::Table.into_iden(),
            UsageMonth::Table.into_iden(),
            ApiIdempotency::Table.into_iden(),
            ApiKey::Table.into_iden(),
            Plan::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(Tenant::Table)
                    .value(Tenant::Plan, "FREE")
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Plan {
    Table,
    Code,
    Name,
    MonthlyMessages,
    MonthlyAiTokens,
    ApiRequestsPerMinute,
    TeamMembers,
    Position,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiIdempotency {
    Table,
    TenantId,
    IdempotencyKey,
    RequestHash,
    MessageId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UsageMonth {
    Table,
    TenantId,
    Month,
    Inbound,
    BotReplies,
    HumanReplies,
    ApiSends,
    AiTokens,
    WarnedAt,
}

#[derive(DeriveIden)]
enum UsageDay {
    Table,
    TenantId,
    Day,
    Inbound,
    Outbound,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
    Plan,
}
