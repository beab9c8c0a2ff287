//! `whatsapp_session.offline_reason`: why a running bot's transport is not
//! connected right now while it retries on its own ("cannot reach Meta: …,
//! retrying"), for the admin's tenant page and the owner's status page.
//! NULL while connected, waiting for a link, or stopped: every change of
//! the session's state clears it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WhatsappSession::Table)
                    .add_column(text_null(WhatsappSession::OfflineReason))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WhatsappSession::Table)
                    .drop_column(WhatsappSession::OfflineReason)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum WhatsappSession {
    Table,
    OfflineReason,
}
