//! Migrations written as SQL text (partial indexes, triggers, FTS5 and
//! `pg_trgm`, which the schema builder does not express), run alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Runs `statements` one by one.
pub(crate) async fn run_each(
    manager: &SchemaManager<'_>,
    statements: &[&str],
) -> Result<(), DbErr> {
    for statement in statements {
        manager
            .get_connection()
            .execute_unprepared(statement)
            .await?;
    }
    Ok(())
}

/// Runs `statements` as one script on SQLite, one by one elsewhere.
///
/// PostgreSQL runs a migration in a transaction; SQLite's does not, and
/// there, sent one by one, a CREATE TRIGGER right after its DROP failed
/// with "trigger conversation_search_update already exists" (a pooled
/// connection with an older view of the schema is suspected, not proven).
/// Sent as one script it runs on one connection; not as one transaction,
/// so an up script can run again after failing halfway (IF [NOT] EXISTS).
pub(crate) async fn run_script(
    manager: &SchemaManager<'_>,
    statements: &[&str],
) -> Result<(), DbErr> {
    if manager.get_database_backend() == DatabaseBackend::Sqlite {
        manager
            .get_connection()
            .execute_unprepared(&statements.join(";\n"))
            .await?;
        return Ok(());
    }
    run_each(manager, statements).await
}
