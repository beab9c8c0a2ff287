//! Conversations are written twice per message (the customer's, the
//! bot's reply), so every index on them is paid twice per message. The
//! inbox's "needs a person" and "with a person" lists read few rows of a
//! tenant: partial indexes holding only those rows replace the two full
//! ones (tenant, mode | needs_human, last_message_at), and a conversation
//! with the bot (nearly all of them) now touches one list index instead of
//! three. The queries name the same literal conditions
//! (`flowhq::services::inbox::matching`), which both planners need to use
//! a partial index. On SQLite the search index is rewritten only when a
//! searched text changed, not on every update of those columns.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::statements::run_script;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "DROP INDEX IF EXISTS idx_conversation_tenant_mode",
    "DROP INDEX IF EXISTS idx_conversation_tenant_needs_human",
    "CREATE INDEX IF NOT EXISTS idx_conversation_tenant_human ON conversation (tenant_id, last_message_at) \
     WHERE mode = 'HUMAN'",
    "CREATE INDEX IF NOT EXISTS idx_conversation_tenant_needs_human ON conversation \
     (tenant_id, last_message_at) WHERE needs_human",
];

const DOWN: &[&str] = &[
    "DROP INDEX idx_conversation_tenant_human",
    "DROP INDEX idx_conversation_tenant_needs_human",
    "CREATE INDEX idx_conversation_tenant_mode ON conversation \
     (tenant_id, mode, last_message_at)",
    "CREATE INDEX idx_conversation_tenant_needs_human ON conversation \
     (tenant_id, needs_human, last_message_at)",
];

const SQLITE_UP: &[&str] = &[
    "DROP TRIGGER IF EXISTS conversation_search_update",
    "CREATE TRIGGER conversation_search_update \
     AFTER UPDATE OF chat_id, contact_name, preview ON conversation \
     WHEN old.chat_id IS NOT new.chat_id OR old.contact_name IS NOT new.contact_name \
       OR old.preview IS NOT new.preview BEGIN \
     INSERT INTO conversation_search(conversation_search, rowid, chat_id, contact_name, preview) \
     VALUES ('delete', old.id, old.chat_id, old.contact_name, old.preview); \
     INSERT INTO conversation_search(rowid, chat_id, contact_name, preview) \
     VALUES (new.id, new.chat_id, new.contact_name, new.preview); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER conversation_search_update",
    "CREATE TRIGGER conversation_search_update \
     AFTER UPDATE OF chat_id, contact_name, preview ON conversation BEGIN \
     INSERT INTO conversation_search(conversation_search, rowid, chat_id, contact_name, preview) \
     VALUES ('delete', old.id, old.chat_id, old.contact_name, old.preview); \
     INSERT INTO conversation_search(rowid, chat_id, contact_name, preview) \
     VALUES (new.id, new.chat_id, new.contact_name, new.preview); END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => run_script(manager, &[UP, SQLITE_UP].concat()).await,
            _ => run_script(manager, UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => run_script(manager, &[SQLITE_DOWN, DOWN].concat()).await,
            _ => run_script(manager, DOWN).await,
        }
    }
}
