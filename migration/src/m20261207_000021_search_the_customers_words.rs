//! The inbox search reads the number, the contact's name and the
//! customer's last message (`conversation.last_in_text`), no longer the
//! preview of the last message either way. The preview changed twice per
//! message (the customer's, then the bot's reply), and each change
//! rewrote the search index: on SQLite the FTS5 trigram index through its
//! update trigger, on PostgreSQL the GIN trigram entries of every new row
//! version. A reply (mostly the longer text) now leaves it as it was, and
//! what an owner looks for is what customers wrote. Existing conversations
//! take the customer's latest message from the message log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::statements::run_script;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ADD_COLUMN: &str = "ALTER TABLE conversation ADD COLUMN last_in_text TEXT";

/// The customer's latest message of each conversation, through the
/// (tenant, chat, created) index.
const BACKFILL: &str = "UPDATE conversation SET last_in_text = (\
     SELECT substr(m.text, 1, 120) FROM message_log m \
     WHERE m.tenant_id = conversation.tenant_id AND m.chat_id = conversation.chat_id \
       AND m.direction = 'IN' \
     ORDER BY m.created_at DESC, m.id DESC LIMIT 1) \
     WHERE last_in_at IS NOT NULL";

const SQLITE_UP: &[&str] = &[
    "DROP TRIGGER IF EXISTS conversation_search_insert",
    "DROP TRIGGER IF EXISTS conversation_search_delete",
    "DROP TRIGGER IF EXISTS conversation_search_update",
    "DROP TABLE IF EXISTS conversation_search",
    ADD_COLUMN,
    BACKFILL,
    "CREATE VIRTUAL TABLE conversation_search USING fts5(\
     chat_id, contact_name, last_in_text, content='conversation', content_rowid='id', \
     tokenize='trigram')",
    "INSERT INTO conversation_search(conversation_search) VALUES ('rebuild')",
    "CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversation BEGIN \
     INSERT INTO conversation_search(rowid, chat_id, contact_name, last_in_text) \
     VALUES (new.id, new.chat_id, new.contact_name, new.last_in_text); END",
    "CREATE TRIGGER conversation_search_delete AFTER DELETE ON conversation BEGIN \
     INSERT INTO conversation_search(conversation_search, rowid, chat_id, contact_name, last_in_text) \
     VALUES ('delete', old.id, old.chat_id, old.contact_name, old.last_in_text); END",
    "CREATE TRIGGER conversation_search_update \
     AFTER UPDATE OF chat_id, contact_name, last_in_text ON conversation \
     WHEN old.chat_id IS NOT new.chat_id OR old.contact_name IS NOT new.contact_name \
       OR old.last_in_text IS NOT new.last_in_text BEGIN \
     INSERT INTO conversation_search(conversation_search, rowid, chat_id, contact_name, last_in_text) \
     VALUES ('delete', old.id, old.chat_id, old.contact_name, old.last_in_text); \
     INSERT INTO conversation_search(rowid, chat_id, contact_name, last_in_text) \
     VALUES (new.id, new.chat_id, new.contact_name, new.last_in_text); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER conversation_search_insert",
    "DROP TRIGGER conversation_search_delete",
    "DROP TRIGGER conversation_search_update",
    "DROP TABLE conversation_search",
    "ALTER TABLE conversation DROP COLUMN last_in_text",
    "CREATE VIRTUAL TABLE conversation_search USING fts5(\
     chat_id, contact_name, preview, content='conversation', content_rowid='id', \
     tokenize='trigram')",
    "INSERT INTO conversation_search(conversation_search) VALUES ('rebuild')",
    "CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversation BEGIN \
     INSERT INTO conversation_search(rowid, chat_id, contact_name, preview) \
     VALUES (new.id, new.chat_id, new.contact_name, new.preview); END",
    "CREATE TRIGGER conversation_search_delete AFTER DELETE ON conversation BEGIN \
     INSERT INTO conversation_search(conversation_search, rowid, chat_id, contact_name, preview) \
     VALUES ('delete', old.id, old.chat_id, old.contact_name, old.preview); END",
    "CREATE TRIGGER conversation_search_update \
     AFTER UPDATE OF chat_id, contact_name, preview ON conversation \
     WHEN old.chat_id IS NOT new.chat_id OR old.contact_name IS NOT new.contact_name \
       OR old.preview IS NOT new.preview BEGIN \
     INSERT INTO conversation_search(conversation_search, rowid, chat_id, contact_name, preview) \
     VALUES ('delete', old.id, old.chat_id, old.contact_name, old.preview); \
     INSERT INTO conversation_search(rowid, chat_id, contact_name, preview) \
     VALUES (new.id, new.chat_id, new.contact_name, new.preview); END",
];

/// The text the inbox searches, as the index holds it: the query
/// (`flowhq::services::inbox::search`) must use the very same expression.
const POSTGRES_UP: &[&str] = &[
    ADD_COLUMN,
    BACKFILL,
    "DROP INDEX IF EXISTS idx_conversation_search",
    "CREATE INDEX idx_conversation_search ON conversation USING gin \
     ((lower(chat_id || ' ' || coalesce(contact_name, '') || ' ' || coalesce(last_in_text, ''))) \
     gin_trgm_ops)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX idx_conversation_search",
    "ALTER TABLE conversation DROP COLUMN last_in_text",
    "CREATE INDEX idx_conversation_search ON conversation USING gin \
     ((lower(chat_id || ' ' || coalesce(contact_name, '') || ' ' || preview)) gin_trgm_ops)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run_script(manager, POSTGRES_UP).await,
            _ => run_script(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run_script(manager, POSTGRES_DOWN).await,
            _ => run_script(manager, SQLITE_DOWN).await,
        }
    }
}
