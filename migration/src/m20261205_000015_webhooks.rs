//! Outbound webhooks (issue 20): a tenant's endpoints, the events waiting
//! for (or done with) delivery to each, and every attempt made.
//!
//! `webhook_event` is a queue in the database: one row per (event,
//! endpoint), written in the same transaction as the change that caused it
//! (so a crash loses nothing), claimed by the delivery worker with a lease
//! (`lease_until`; on PostgreSQL under `FOR UPDATE SKIP LOCKED`, so several
//! workers can share it). Its big serial id is the order of creation: an
//! endpoint gets its events in id order. Secrets are AES-256-GCM ciphertexts
//! under the master key; the previous secret keeps signing until
//! `previous_secret_until` after a rotation.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoint::Table)
                    .col(pk_uuid(WebhookEndpoint::Id))
                    .col(uuid(WebhookEndpoint::TenantId))
                    .col(string_len(WebhookEndpoint::Url, 2048))
                    // One bit per event type (`flowhq::services::webhooks::EventType`).
                    .col(big_integer(WebhookEndpoint::EventMask))
                    .col(boolean(WebhookEndpoint::Enabled))
                    .col(integer(WebhookEndpoint::Concurrency))
                    .col(binary(WebhookEndpoint::Secret))
                    .col(binary_null(WebhookEndpoint::PreviousSecret))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoint::PreviousSecretUntil,
                    ))
                    // Since when every attempt has failed (cleared by a success).
                    .col(timestamp_with_time_zone_null(WebhookEndpoint::FailingSince))
                    // When an event last ran out of attempts.
                    .col(timestamp_with_time_zone_null(WebhookEndpoint::FlaggedAt))
                    .col(string_len_null(WebhookEndpoint::DisabledReason, 256))
                    .col(timestamp_with_time_zone(WebhookEndpoint::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoint::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookEndpoint::Table, WebhookEndpoint::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_endpoint_tenant")
                    .table(WebhookEndpoint::Table)
                    .col(WebhookEndpoint::TenantId)
                    .col(WebhookEndpoint::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvent::Table)
                    .col(big_pk_auto(WebhookEvent::Id))
                    .col(uuid(WebhookEvent::TenantId))
                    .col(uuid(WebhookEvent::EndpointId))
                    // `msg_…`: the same for every endpoint the event went to.
                    .col(string_len(WebhookEvent::EventId, 64))
                    .col(string_len(WebhookEvent::EventType, 64))
                    // The exact body sent (signed as it is).
                    .col(text(WebhookEvent::Payload))
                    .col(timestamp_with_time_zone(WebhookEvent::CreatedAt))
                    .col(string_len(WebhookEvent::Status, 16))
                    .col(integer(WebhookEvent::Attempts))
                    .col(timestamp_with_time_zone(WebhookEvent::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookEvent::LeaseUntil))
                    .col(timestamp_with_time_zone_null(WebhookEvent::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookEvent::Table, WebhookEvent::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookEvent::Table, WebhookEvent::EndpointId)
                            .to(WebhookEndpoint::Table, WebhookEndpoint::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The worker's claim: pending events per endpoint in order.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_event_queue")
                    .table(WebhookEvent::Table)
                    .col(WebhookEvent::Status)
                    .col(WebhookEvent::EndpointId)
                    .col(WebhookEvent::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_event_endpoint")
                    .table(WebhookEvent::Table)
                    .col(WebhookEvent::EndpointId)
                    .col(WebhookEvent::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempt::Table)
                    .col(big_pk_auto(WebhookAttempt::Id))
                    .col(uuid(WebhookAttempt::TenantId))
                    .col(uuid(WebhookAttempt::EndpointId))
                    .col(big_integer(WebhookAttempt::EventRowId))
                    .col(integer(WebhookAttempt::Attempt))
                    .col(timestamp_with_time_zone(WebhookAttempt::AttemptedAt))
                    .col(integer_null(WebhookAttempt::StatusCode))
                    .col(big_integer(WebhookAttempt::DurationMs))
                    // The first bytes of the answer.
                    .col(text_null(WebhookAttempt::Response))
                    .col(string_len_null(WebhookAttempt::Error, 512))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempt::Table, WebhookAttempt::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempt::Table, WebhookAttempt::EndpointId)
                            .to(WebhookEndpoint::Table, WebhookEndpoint::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempt::Table, WebhookAttempt::EventRowId)
                            .to(WebhookEvent::Table, WebhookEvent::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempt_endpoint")
                    .table(WebhookAttempt::Table)
                    .col(WebhookAttempt::EndpointId)
                    .col(WebhookAttempt::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempt_event")
                    .table(WebhookAttempt::Table)
                    .col(WebhookAttempt::EventRowId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempt::Table.into_iden(),
            WebhookEvent::Table.into_iden(),
            WebhookEndpoint::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoint {
    Table,
    Id,
    TenantId,
    Url,
    EventMask,
    Enabled,
    Concurrency,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    FailingSince,
    FlaggedAt,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookEvent {
    Table,
    Id,
    TenantId,
    EndpointId,
    EventId,
    EventType,
    Payload,
    CreatedAt,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempt {
    Table,
    Id,
    TenantId,
    EndpointId,
    EventRowId,
    Attempt,
    AttemptedAt,
    StatusCode,
    DurationMs,
    Response,
    Error,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}
