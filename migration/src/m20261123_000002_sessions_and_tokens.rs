//! Server-side sign-in sessions (admin console and portal) and admin API tokens.
//!
//! Only hashes of the secrets are stored: a copy of the database does not let
//! anyone sign in. Sessions and tokens go when their account does.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebSession::Table)
                    // SHA-256 (hex) of the cookie value.
                    .col(string_len(WebSession::Id, 64).primary_key())
                    .col(string_len(WebSession::Kind, 8))
                    .col(uuid_null(WebSession::AdminId))
                    .col(uuid_null(WebSession::UserId))
                    .col(string_len(WebSession::CsrfToken, 64))
                    .col(text_null(WebSession::Flash))
                    .col(timestamp_with_time_zone(WebSession::CreatedAt))
                    .col(timestamp_with_time_zone(WebSession::LastSeenAt))
                    .col(timestamp_with_time_zone(WebSession::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebSession::Table, WebSession::AdminId)
                            .to(AdminAccount::Table, AdminAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebSession::Table, WebSession::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_web_session_expires")
                    .table(WebSession::Table)
                    .col(WebSession::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AdminApiToken::Table)
                    .col(pk_uuid(AdminApiToken::Id))
                    .col(uuid(AdminApiToken::AdminId))
                    .col(string_len(AdminApiToken::Name, 100))
                    // SHA-256 (hex) of the token; the token itself is shown once.
                    .col(string_len_uniq(AdminApiToken::TokenHash, 64))
                    // The first characters, so a list can say which token is which.
                    .col(string_len(AdminApiToken::Prefix, 16))
                    .col(timestamp_with_time_zone(AdminApiToken::CreatedAt))
                    .col(timestamp_with_time_zone_null(AdminApiToken::LastUsedAt))
                    .col(timestamp_with_time_zone_null(AdminApiToken::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AdminApiToken::Table, AdminApiToken::AdminId)
                            .to(AdminAccount::Table, AdminAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AdminApiToken::Table.into_iden(),
            WebSession::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WebSession {
    Table,
    Id,
    Kind,
    AdminId,
    UserId,
    CsrfToken,
    Flash,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AdminApiToken {
    Table,
    Id,
    AdminId,
    Name,
    TokenHash,
    Prefix,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AdminAccount {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
