//! Team invitations (issue 17, §10): an owner invites a teammate by email
//! as STAFF. Only the SHA-256 of the invitation token is stored (the link is
//! shown once); an invitation is pending while it is neither used, revoked
//! nor past `expires_at`. It goes with its tenant; `created_by`/`used_by`
//! are kept as plain ids so removing a member leaves the history intact.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TeamInvite::Table)
                    .col(pk_uuid(TeamInvite::Id))
                    .col(uuid(TeamInvite::TenantId))
                    .col(string_len(TeamInvite::Email, 254))
                    .col(string_len(TeamInvite::Role, 16))
                    // SHA-256 (hex) of the token.
                    .col(string_len_uniq(TeamInvite::TokenHash, 64))
                    .col(uuid_null(TeamInvite::CreatedBy))
                    .col(timestamp_with_time_zone(TeamInvite::CreatedAt))
                    .col(timestamp_with_time_zone(TeamInvite::ExpiresAt))
                    .col(timestamp_with_time_zone_null(TeamInvite::UsedAt))
                    .col(uuid_null(TeamInvite::UsedBy))
                    .col(timestamp_with_time_zone_null(TeamInvite::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamInvite::Table, TeamInvite::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_team_invite_tenant")
                    .table(TeamInvite::Table)
                    .col(TeamInvite::TenantId)
                    .col(TeamInvite::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_team_invite_email")
                    .table(TeamInvite::Table)
                    .col(TeamInvite::Email)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TeamInvite::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TeamInvite {
    Table,
    Id,
    TenantId,
    Email,
    Role,
    TokenHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    UsedBy,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}
