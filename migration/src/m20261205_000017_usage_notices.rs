//! Usage notices and the notice outbox (issues 19 §10 and 20 §4).
//!
//! - `usage_month.quota_reached_at`: when the month's messages reached the
//!   plan's limit; set once a month by one conditional UPDATE (beside
//!   `warned_at`, the 80 % mark), so `usage.quota_reached` and its email
//!   happen once per tenant per month whatever writes concurrently.
//! - `notice`: the email outbox for notices to a tenant's owners (80 % and
//!   100 % of the month's messages, a webhook endpoint disabled). A row is
//!   written in the transaction of its cause; the notifier's worker sends it
//!   (claim by `next_attempt_at`, `sent_at` when sent), so a crash loses no
//!   notice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UsageMonth::Table)
                    .add_column(timestamp_with_time_zone_null(UsageMonth::QuotaReachedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notice::Table)
                    .col(big_pk_auto(Notice::Id))
                    .col(uuid(Notice::TenantId))
                    .col(string_len(Notice::Kind, 40))
                    .col(string(Notice::Subject))
                    .col(text(Notice::Body))
                    .col(timestamp_with_time_zone(Notice::CreatedAt))
                    .col(integer(Notice::Attempts))
                    .col(timestamp_with_time_zone(Notice::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Notice::SentAt))
                    .col(text_null(Notice::LastError))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notice::Table, Notice::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notice_due")
                    .table(Notice::Table)
                    .col(Notice::SentAt)
                    .col(Notice::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notice_tenant")
                    .table(Notice::Table)
                    .col(Notice::TenantId)
                    .col(Notice::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notice::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(UsageMonth::Table)
                    .drop_column(UsageMonth::QuotaReachedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UsageMonth {
    Table,
    QuotaReachedAt,
}

#[derive(DeriveIden)]
enum Notice {
    Table,
    Id,
    TenantId,
    Kind,
    Subject,
    Body,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    SentAt,
    LastError,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}
