//! Real WhatsApp transports, the shared part.
//!
//! - `whatsapp_session.pairing_phone` / `pairing_code`: linking by phone
//!   number instead of a QR (WhatsApp Web): the number an admin or owner
//!   entered, and the 8-character code the transport got for it.
//! - `transport_credential`: a tenant's Cloud API credentials. The secrets
//!   (access token, app secret, verify token) are stored encrypted
//!   (AES-256-GCM, nonce first); the phone number id is not a secret.
//!   Deleted with the tenant.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [WhatsappSession::PairingPhone, WhatsappSession::PairingCode] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WhatsappSession::Table)
                        .add_column(string_len_null(column, 32))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(TransportCredential::Table)
                    .col(uuid(TransportCredential::TenantId).primary_key())
                    .col(string_len(TransportCredential::PhoneNumberId, 64))
                    .col(binary(TransportCredential::AccessToken))
                    .col(binary(TransportCredential::AppSecret))
                    .col(binary(TransportCredential::VerifyToken))
                    .col(timestamp_with_time_zone(TransportCredential::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_transport_credential_tenant")
                            .from(TransportCredential::Table, TransportCredential::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TransportCredential::Table).to_owned())
            .await?;
        for column in [WhatsappSession::PairingCode, WhatsappSession::PairingPhone] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WhatsappSession::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WhatsappSession {
    Table,
    PairingPhone,
    PairingCode,
}

#[derive(DeriveIden)]
enum TransportCredential {
    Table,
    TenantId,
    PhoneNumberId,
    AccessToken,
    AppSecret,
    VerifyToken,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}
