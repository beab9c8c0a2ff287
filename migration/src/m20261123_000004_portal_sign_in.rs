//! The portal's Google sign-in: one row per sign-in in flight.
//!
//! The `state` sent to Google is stored only as its SHA-256 (the key), next to
//! the PKCE verifier and the SHA-256 of a cookie set on the browser that
//! started the sign-in, so the callback is accepted once, before its expiry,
//! and only in that browser.
//!
//! Also: at most one SUBMITTED setup request per tenant, enforced by the
//! database (two owners' tabs submitting at once on PostgreSQL both passed
//! the service's check).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthLogin::Table)
                    .col(string_len(OauthLogin::Id, 64).primary_key())
                    .col(string_len(OauthLogin::BrowserHash, 64))
                    .col(string_len(OauthLogin::PkceVerifier, 128))
                    .col(string_len_null(OauthLogin::NextPath, 512))
                    .col(timestamp_with_time_zone(OauthLogin::CreatedAt))
                    .col(timestamp_with_time_zone(OauthLogin::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oauth_login_expires")
                    .table(OauthLogin::Table)
                    .col(OauthLogin::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_setup_request_open ON setup_request (tenant_id) \
                 WHERE status = 'SUBMITTED'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX uq_setup_request_open")
            .await?;
        manager
            .drop_table(Table::drop().table(OauthLogin::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OauthLogin {
    Table,
    Id,
    BrowserHash,
    PkceVerifier,
    NextPath,
    CreatedAt,
    ExpiresAt,
}
