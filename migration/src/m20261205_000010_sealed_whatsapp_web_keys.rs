//! `wa_key.sealed` and `wa_device.sealed`: whether `value` / `data` holds
//! the key material sealed with the platform's master key (AES-256-GCM,
//! bound to its tenant and row) rather than in the clear.
//!
//! Rows written before this migration are in the clear and get `false`.
//! A migration cannot seal them (the master key is not the database's), so
//! the app does at its next start, before any bot runs
//! (`flowhq::bots::transport::whatsapp_web::store::seal_unsealed_rows`);
//! after that every row is sealed and an unsealed one is refused.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One table per statement: SQLite alters one thing at a time.
        for table in [KeyTable::WaKey, KeyTable::WaDevice] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(boolean(Sealed).default(false))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [KeyTable::WaKey, KeyTable::WaDevice] {
            manager
                .alter_table(Table::alter().table(table).drop_column(Sealed).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum KeyTable {
    WaKey,
    WaDevice,
}

#[derive(DeriveIden)]
struct Sealed;
