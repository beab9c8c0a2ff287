//! The whole data model of DESIGN.md: tenants and everything they own, users,
//! setup requests, the audit trail and admin accounts.
//!
//! Enumerations are stored as short upper-case strings (portable between SQLite
//! and PostgreSQL, readable in a SQL shell); the entity crate types them.
//! Every tenant-owned row references `tenant.id` with `ON DELETE CASCADE`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenant::Table)
                    .col(pk_uuid(Tenant::Id))
                    .col(string_len(Tenant::Name, 200))
                    // Nullable: a tenant created by a Google sign-in has no number
                    // until its setup request names one. Unique among those set.
                    .col(string_len_null(Tenant::PhoneNumber, 32).unique_key())
                    .col(string_len(Tenant::Status, 16))
                    .col(string_len(Tenant::Plan, 16))
                    .col(timestamp_with_time_zone(Tenant::CreatedAt))
                    .col(timestamp_with_time_zone(Tenant::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_tenant_status_created",
            Tenant::Table,
            &[Tenant::Status, Tenant::CreatedAt],
        )
        .await?;
        index(
            manager,
            "idx_tenant_created",
            Tenant::Table,
            &[Tenant::CreatedAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantConfig::Table)
                    .col(pk_uuid(TenantConfig::TenantId))
                    .col(string_len(TenantConfig::TemplateType, 16))
                    .col(string_len(TenantConfig::BusinessName, 200))
                    .col(string_len(TenantConfig::Language, 8))
                    .col(string_len(TenantConfig::Timezone, 64))
                    .col(json(TenantConfig::Hours))
                    .col(text(TenantConfig::WelcomeMessage))
                    .col(boolean(TenantConfig::AutoReply))
                    .col(integer(TenantConfig::ResponseDelayMs))
                    .col(integer(TenantConfig::MaxMessageLength))
                    .col(string_len(TenantConfig::Transport, 16))
                    .col(timestamp_with_time_zone(TenantConfig::CreatedAt))
                    .col(timestamp_with_time_zone(TenantConfig::UpdatedAt))
                    .foreign_key(&mut tenant_fk(TenantConfig::Table, TenantConfig::TenantId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WhatsappSession::Table)
                    .col(pk_uuid(WhatsappSession::TenantId))
                    .col(string_len(WhatsappSession::State, 16))
                    .col(text_null(WhatsappSession::LastQr))
                    .col(timestamp_with_time_zone_null(WhatsappSession::QrExpiresAt))
                    .col(string_len_null(WhatsappSession::LinkedPhone, 32))
                    .col(timestamp_with_time_zone_null(WhatsappSession::LastSeenAt))
                    // Transport session data (keys, tokens) lives here, never only on disk.
                    .col(json_null(WhatsappSession::SessionData))
                    .col(timestamp_with_time_zone(WhatsappSession::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        WhatsappSession::Table,
                        WhatsappSession::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WorkerProcess::Table)
                    .col(pk_uuid(WorkerProcess::TenantId))
                    .col(string_len(WorkerProcess::DesiredState, 16))
                    .col(string_len(WorkerProcess::Status, 16))
                    .col(integer(WorkerProcess::RestartCount))
                    .col(text_null(WorkerProcess::LastError))
                    .col(timestamp_with_time_zone_null(
                        WorkerProcess::LastHeartbeatAt,
                    ))
                    .col(timestamp_with_time_zone_null(WorkerProcess::StartedAt))
                    // For several replicas on one PostgreSQL: who runs this bot, until when.
                    .col(string_len_null(WorkerProcess::OwnerNode, 64))
                    .col(timestamp_with_time_zone_null(WorkerProcess::LeaseExpiresAt))
                    .col(timestamp_with_time_zone(WorkerProcess::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        WorkerProcess::Table,
                        WorkerProcess::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_worker_process_desired",
            WorkerProcess::Table,
            &[WorkerProcess::DesiredState],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(MessageLog::Table)
                    .col(big_pk_auto(MessageLog::Id))
                    .col(uuid(MessageLog::TenantId))
                    .col(string_len(MessageLog::Direction, 3))
                    .col(string_len(MessageLog::ChatId, 64))
                    .col(string_len(MessageLog::Sender, 64))
                    .col(string_len(MessageLog::Recipient, 64))
                    .col(text(MessageLog::Text))
                    .col(string_len_null(MessageLog::WaMessageId, 128))
                    .col(string_len(MessageLog::Status, 16))
                    .col(text_null(MessageLog::Error))
                    .col(timestamp_with_time_zone(MessageLog::CreatedAt))
                    .foreign_key(&mut tenant_fk(MessageLog::Table, MessageLog::TenantId))
                    .to_owned(),
            )
            .await?;
        // The durable half of inbound dedup: a redelivered message cannot be logged twice.
        manager
            .create_index(
                Index::create()
                    .name("uq_message_log_tenant_direction_wa_id")
                    .table(MessageLog::Table)
                    .col(MessageLog::TenantId)
                    .col(MessageLog::Direction)
                    .col(MessageLog::WaMessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_message_log_tenant_created",
            MessageLog::Table,
            &[MessageLog::TenantId, MessageLog::CreatedAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(pk_uuid(User::Id))
                    .col(string_len_uniq(User::Email, 320))
                    .col(string_len_null(User::GoogleSubject, 255).unique_key())
                    .col(string_len(User::Name, 200))
                    .col(string_len(User::Role, 16))
                    .col(uuid(User::TenantId))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .col(timestamp_with_time_zone_null(User::LastLoginAt))
                    .foreign_key(&mut tenant_fk(User::Table, User::TenantId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_user_tenant", User::Table, &[User::TenantId]).await?;

        manager
            .create_table(
                Table::create()
                    .table(SetupRequest::Table)
                    .col(pk_uuid(SetupRequest::Id))
                    .col(uuid(SetupRequest::TenantId))
                    .col(uuid_null(SetupRequest::UserId))
                    .col(string_len(SetupRequest::TemplateType, 16))
                    .col(string_len(SetupRequest::WhatsappNumber, 32))
                    .col(string_len(SetupRequest::BusinessName, 200))
                    .col(string_len(SetupRequest::Language, 8))
                    .col(string_len(SetupRequest::Timezone, 64))
                    .col(json(SetupRequest::Hours))
                    .col(text_null(SetupRequest::Notes))
                    .col(string_len(SetupRequest::Status, 16))
                    .col(text_null(SetupRequest::ReviewNote))
                    .col(string_len_null(SetupRequest::ReviewedBy, 64))
                    .col(timestamp_with_time_zone_null(SetupRequest::ReviewedAt))
                    .col(timestamp_with_time_zone(SetupRequest::CreatedAt))
                    .col(timestamp_with_time_zone(SetupRequest::UpdatedAt))
                    .foreign_key(&mut tenant_fk(SetupRequest::Table, SetupRequest::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SetupRequest::Table, SetupRequest::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_setup_request_status_created",
            SetupRequest::Table,
            &[SetupRequest::Status, SetupRequest::CreatedAt],
        )
        .await?;
        index(
            manager,
            "idx_setup_request_tenant",
            SetupRequest::Table,
            &[SetupRequest::TenantId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(uuid_null(AuditLog::TenantId))
                    .col(string_len(AuditLog::Actor, 320))
                    .col(string_len(AuditLog::EventType, 64))
                    .col(json(AuditLog::Payload))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .foreign_key(&mut tenant_fk(AuditLog::Table, AuditLog::TenantId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_audit_log_created",
            AuditLog::Table,
            &[AuditLog::CreatedAt],
        )
        .await?;
        index(
            manager,
            "idx_audit_log_tenant_created",
            AuditLog::Table,
            &[AuditLog::TenantId, AuditLog::CreatedAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AdminAccount::Table)
                    .col(pk_uuid(AdminAccount::Id))
                    .col(string_len_uniq(AdminAccount::Username, 64))
                    .col(text(AdminAccount::PasswordHash))
                    .col(timestamp_with_time_zone(AdminAccount::CreatedAt))
                    .col(timestamp_with_time_zone(AdminAccount::UpdatedAt))
                    .col(timestamp_with_time_zone_null(AdminAccount::LastLoginAt))
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so foreign keys never block a drop.
        for table in [
            AdminAccount::Table.into_iden(),
            AuditLog::Table.into_iden(),
            SetupRequest::Table.into_iden(),
            User::Table.into_iden(),
            MessageLog::Table.into_iden(),
            WorkerProcess::Table.into_iden(),
            WhatsappSession::Table.into_iden(),
            TenantConfig::Table.into_iden(),
            Tenant::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// `tenant_id → tenant.id`, deleted with the tenant.
fn tenant_fk(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tenant::Table, Tenant::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index<T, C>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
) -> Result<(), DbErr>
where
    T: IntoIden + Clone + 'static,
    C: IntoIden + Clone + 'static,
{
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col.clone());
    }
    manager.create_index(index.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenant {
    Table,
    Id,
    Name,
    PhoneNumber,
    Status,
    Plan,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TenantConfig {
    Table,
    TenantId,
    TemplateType,
    BusinessName,
    Language,
    Timezone,
    Hours,
    WelcomeMessage,
    AutoReply,
    ResponseDelayMs,
    MaxMessageLength,
    Transport,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WhatsappSession {
    Table,
    TenantId,
    State,
    LastQr,
    QrExpiresAt,
    LinkedPhone,
    LastSeenAt,
    SessionData,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkerProcess {
    Table,
    TenantId,
    DesiredState,
    Status,
    RestartCount,
    LastError,
    LastHeartbeatAt,
    StartedAt,
    OwnerNode,
    LeaseExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MessageLog {
    Table,
    Id,
    TenantId,
    Direction,
    ChatId,
    Sender,
    Recipient,
    Text,
    WaMessageId,
    Status,
    Error,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum User {
    Table,
    Id,
    Email,
    GoogleSubject,
    Name,
    Role,
    TenantId,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SetupRequest {
    Table,
    Id,
    TenantId,
    UserId,
    TemplateType,
    WhatsappNumber,
    BusinessName,
    Language,
    Timezone,
    Hours,
    Notes,
    Status,
    ReviewNote,
    ReviewedBy,
    ReviewedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    Actor,
    EventType,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AdminAccount {
    Table,
    Id,
    Username,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}
