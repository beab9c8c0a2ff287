//! WhatsApp Web (linked device) keys, kept in our database instead of the
//! `whatsapp-rust` crate's own SQLite file, so a link survives restarts,
//! works the same on SQLite and PostgreSQL, and can move between replicas.
//!
//! - `wa_device`: the device identity of a tenant's linked device (noise and
//!   identity key pairs, registration id, account signature…), one row per
//!   tenant, serialized by the crate.
//! - `wa_key`: everything else the crate's storage `Backend` keeps (Signal
//!   sessions, pre-keys, sender keys, app-state sync keys, LID mappings…),
//!   one row per (tenant, kind, key1, key2, key3). The kinds and what each
//!   column means for them are listed in
//!   `flowhq::bots::transport::whatsapp_web::store`. One keyed table rather
//!   than one per kind: the crate changes its storage trait between minor
//!   versions, and a new kind then needs code, not a migration.
//!
//! Both are deleted with the tenant, and wiped when it logs out.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WaDevice::Table)
                    .col(uuid(WaDevice::TenantId).primary_key())
                    .col(binary(WaDevice::Data))
                    .col(timestamp_with_time_zone(WaDevice::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_wa_device_tenant")
                            .from(WaDevice::Table, WaDevice::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WaKey::Table)
                    .col(uuid(WaKey::TenantId))
                    .col(string_len(WaKey::Kind, 32))
                    .col(string(WaKey::Key1))
                    .col(string(WaKey::Key2))
                    .col(string(WaKey::Key3))
                    .col(binary(WaKey::Value))
                    .col(big_integer_null(WaKey::N1))
                    .col(big_integer_null(WaKey::N2))
                    .primary_key(
                        Index::create()
                            .col(WaKey::TenantId)
                            .col(WaKey::Kind)
                            .col(WaKey::Key1)
                            .col(WaKey::Key2)
                            .col(WaKey::Key3),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_wa_key_tenant")
                            .from(WaKey::Table, WaKey::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Range scans by number within a kind: expired rows, the highest
        // pre-key id, the newest sync key.
        manager
            .create_index(
                Index::create()
                    .name("idx_wa_key_tenant_kind_n1")
                    .table(WaKey::Table)
                    .col(WaKey::TenantId)
                    .col(WaKey::Kind)
                    .col(WaKey::N1)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WaKey::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WaDevice::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WaDevice {
    Table,
    TenantId,
    Data,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WaKey {
    Table,
    TenantId,
    Kind,
    Key1,
    Key2,
    Key3,
    Value,
    N1,
    N2,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}
