//! Inbox search without scanning a tenant's conversations (issue 17: ≤ 50 ms
//! at 100,000 conversations). Search looks for a piece of the number, the
//! contact's name or the last message, anywhere in them (a number is
//! searched by its middle digits too), so both backends index trigrams:
//!
//! - SQLite: `conversation_search`, an external-content FTS5 table over
//!   `conversation` (chat_id, contact_name, preview) with the `trigram`
//!   tokenizer (case-insensitive; SQLite ≥ 3.34, bundled), kept by
//!   triggers: the log writer's one upsert per batch updates it in the same
//!   transaction, nothing in the code has to remember it.
//! - PostgreSQL: `pg_trgm` (a trusted extension: a database owner may
//!   create it) and a GIN index on the lower-cased text the inbox searches,
//!   which `LIKE '%…%'` uses.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::statements::run_each;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
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
     AFTER UPDATE OF chat_id, contact_name, preview ON conversation BEGIN \
     INSERT INTO conversation_search(conversation_search, rowid, chat_id, contact_name, preview) \
     VALUES ('delete', old.id, old.chat_id, old.contact_name, old.preview); \
     INSERT INTO conversation_search(rowid, chat_id, contact_name, preview) \
     VALUES (new.id, new.chat_id, new.contact_name, new.preview); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER conversation_search_update",
    "DROP TRIGGER conversation_search_delete",
    "DROP TRIGGER conversation_search_insert",
    "DROP TABLE conversation_search",
];

/// The text the inbox searches, as the index holds it (the query must use
/// the very same expression).
const POSTGRES_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX idx_conversation_search ON conversation USING gin \
     ((lower(chat_id || ' ' || coalesce(contact_name, '') || ' ' || preview)) gin_trgm_ops)",
];

const POSTGRES_DOWN: &[&str] = &["DROP INDEX idx_conversation_search"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run_each(manager, POSTGRES_UP).await,
            _ => run_each(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run_each(manager, POSTGRES_DOWN).await,
            _ => run_each(manager, SQLITE_DOWN).await,
        }
    }
}
