//! Opening the database: SQLite (default; WAL, busy timeout, foreign keys) or
//! PostgreSQL, with the pool sized from settings, and applying migrations.
//! Errors here are start-up errors: each says plainly what to fix.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{DatabaseKind, DatabaseSettings};

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("database: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("database: cannot create the data directory {dir}: {source}")]
    DataDir { dir: String, source: std::io::Error },
    #[error("database: the SQLite file {path} is not writable: {source}")]
    NotWritable {
        path: String,
        source: std::io::Error,
    },
    #[error("database: cannot connect to {url}: {source}")]
    Connect { url: String, source: sea_orm::DbErr },
    #[error("database: migrations failed: {0}")]
    Migrate(sea_orm::DbErr),
}

/// Values per `IN (…)` list: well under every backend's bind-parameter
/// limit (longer lists are sent in chunks of this size).
pub const IN_LIST_CHUNK: usize = 1000;

/// The placeholders of a `VALUES` list of `rows` rows of `width` values
/// each, numbered in order on PostgreSQL: `($1, $2), ($3, $4)`, or
/// `(?, ?), (?, ?)` on SQLite. The values are bound row after row.
pub fn values_placeholders(backend: sea_orm::DatabaseBackend, rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let row: Vec<String> = (1..=width)
                .map(|k| match backend {
                    sea_orm::DatabaseBackend::Postgres => format!("${}", row * width + k),
                    _ => "?".to_owned(),
                })
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Connects (creating the SQLite file and its directory when missing).
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbSetupError> {
    connect_pool(settings, settings.max_connections, settings.min_connections).await
}

/// The message log writer's own connections, and how many batches it may
/// commit at once (one per connection).
#[derive(Clone)]
pub struct WriterPool {
    pub db: DatabaseConnection,
    pub parallel: usize,
}

/// The pool of the task that writes most (the message log writer), apart
/// from everyone else's.
///
/// On SQLite it is exactly one connection, whose page cache then stays warm
/// instead of being invalidated by writes from the pool's other connections.
/// It does not checkpoint the WAL itself (only as a backstop past 256 MiB):
/// [`checkpoint`] runs on another pooled connection, so copying pages back
/// into the database file happens on another core instead of stalling the
/// writer, and [`sync_file_system`] writes them to disk before the
/// backstop would have to.
///
/// On PostgreSQL it is `log_writer_connections`: a commit waits for the
/// server's WAL flush, and batches committed side by side share that wait.
pub async fn connect_log_writer(settings: &DatabaseSettings) -> Result<WriterPool, DbSetupError> {
    let n = settings.log_writers();
    let db = connect_pool_with(settings, n, n, WRITER_AUTOCHECKPOINT_PAGES).await?;
    Ok(WriterPool {
        db,
        parallel: usize::try_from(n).unwrap_or(1),
    })
}

/// WAL pages after which a connection checkpoints by itself: 16 MiB for
/// the pool, 256 MiB (a backstop) for the dedicated writer.
const POOL_AUTOCHECKPOINT_PAGES: u32 = 4096;
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 65_536;
/// At least the rows of one message-log INSERT (`ROWS_PER_STATEMENT`).
const ROW_BUFFER: usize = 1024;

/// Copies committed WAL pages into the database file without waiting for
/// anyone (SQLite `PASSIVE`); a no-op elsewhere.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await?;
    }
    Ok(())
}

/// The directory of the SQLite database file `db` has open, opened for
/// [`sync_file_system`]; `None` for an in-memory database, another backend,
/// or where that sync is a no-op (not Linux).
pub async fn sqlite_dir(db: &DatabaseConnection) -> Result<Option<File>, String> {
    if !cfg!(target_os = "linux") || db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return Ok(None);
    }
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA database_list",
        ))
        .await
        .map_err(|err| err.to_string())?;
    for row in rows {
        // Columns: seq, name, file.
        let name: String = row.try_get_by_index(1).map_err(|err| err.to_string())?;
        let file: String = row.try_get_by_index(2).map_err(|err| err.to_string())?;
        if name != "main" || file.is_empty() {
            continue;
        }
        let file = Path::new(&file);
        let dir = directory_of(file).unwrap_or(Path::new("."));
        return File::open(dir)
            .map(Some)
            .map_err(|err| format!("{}: {err}", dir.display()));
    }
    Ok(None)
}

/// Writes back to disk what was written to the file system holding `dir`
/// (Linux `syncfs`: the whole file system, not only the database). Through
/// a handle of the directory, because closing a second handle of the
/// database file itself would drop SQLite's locks on it. Elsewhere a
/// no-op: the checkpoint that completes syncs anyway, only later and for
/// longer.
pub fn sync_file_system(dir: &File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    rustix::fs::syncfs(dir)?;
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
    Ok(())
}

async fn connect_pool(
    settings: &DatabaseSettings,
    max_connections: u32,
    min_connections: u32,
) -> Result<DatabaseConnection, DbSetupError> {
    connect_pool_with(
        settings,
        max_connections,
        min_connections,
        POOL_AUTOCHECKPOINT_PAGES,
    )
    .await
}

async fn connect_pool_with(
    settings: &DatabaseSettings,
    max_connections: u32,
    min_connections: u32,
    autocheckpoint_pages: u32,
) -> Result<DatabaseConnection, DbSetupError> {
    let kind = settings.kind()?;
    if kind == DatabaseKind::Sqlite
        && let Some(path) = settings.sqlite_path()
    {
        prepare_sqlite_file(&path)?;
    }

    let mut options = ConnectOptions::new(settings.url.expose_secret().to_owned());
    options
        .max_connections(max_connections)
        .min_connections(min_connections)
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(settings.idle_timeout)
        .sqlx_logging(true)
        .sqlx_logging_level(tracing::log::LevelFilter::Trace)
        .sqlx_slow_statements_logging_settings(
            tracing::log::LevelFilter::Warn,
            settings.slow_statement_threshold,
        );
    let busy_timeout = settings.sqlite_busy_timeout;
    // Negative cache_size means KiB. SQLite's default (2 MiB) makes the
    // message log's indexes spill to pread/pwrite within minutes of load.
    let cache_kib = format!("-{}", u64::from(settings.sqlite_cache_mib) * 1024);
    options.map_sqlx_sqlite_opts(move |opts| {
        opts.create_if_missing(true)
            // Rows a statement may hand over before SQLite's thread waits
            // for the async side to take them (sqlx's default is 50): a
            // batch's RETURNING rows then flow without a round trip per 50.
            .row_buffer_size(ROW_BUFFER)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across a crash of this process in WAL mode;
            // only a power loss can roll back the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(busy_timeout)
            .foreign_keys(true)
            .pragma("cache_size", cache_kib.clone())
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", autocheckpoint_pages.to_string())
    });

    let db = Database::connect(options)
        .await
        .map_err(|source| DbSetupError::Connect {
            url: settings.redacted_url(),
            source,
        })?;
    if let Some(file) = sqlite_file(&db) {
        register_write_gate(file, busy_timeout);
    }
    Ok(db)
}

/// Applies every pending migration; returns how many ran.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize, DbSetupError> {
    let pending = Migrator::get_pending_migrations(db)
        .await
        .map_err(DbSetupError::Migrate)?
        .len();
    Migrator::up(db, None)
        .await
        .map_err(DbSetupError::Migrate)?;
    Ok(pending)
}

/// Creates the data directory and checks that SQLite will be able to write
/// the database (the directory, for its `-wal` and `-shm` files, and the
/// file when it exists), WITHOUT opening the file: closing any descriptor
/// of a file drops every POSIX lock this process holds on it, SQLite's
/// included, after which an outside connection (`sqlite3`, a backup) takes
/// itself for the last user and deletes the live WAL. The second pool
/// (the log writer's) runs this while the first holds its locks.
fn prepare_sqlite_file(path: &Path) -> Result<(), DbSetupError> {
    let dir = directory_of(path);
    if let Some(dir) = dir {
        fs::create_dir_all(dir).map_err(|source| DbSetupError::DataDir {
            dir: dir.display().to_string(),
            source,
        })?;
    }
    let not_writable = |target: &Path, source| DbSetupError::NotWritable {
        path: target.display().to_string(),
        source,
    };
    let dir = dir.unwrap_or(Path::new("."));
    writable(dir).map_err(|source| not_writable(dir, source))?;
    match fs::metadata(path) {
        Ok(_) => writable(path).map_err(|source| not_writable(path, source)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(not_writable(path, source)),
    }
}

/// Whether this process may write `path`, asked of the kernel without
/// opening it.
fn writable(path: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::Access;
        rustix::fs::access(path, Access::READ_OK | Access::WRITE_OK)?;
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        if fs::metadata(path)?.permissions().readonly() {
            return Err(std::io::ErrorKind::PermissionDenied.into());
        }
        Ok(())
    }
}

/// Copies a live SQLite database into a new file at `to`, consistent as of
/// one moment (`VACUUM INTO`: a read transaction, so the server keeps
/// writing meanwhile). Refuses an existing `to`; PostgreSQL has `pg_dump`.
pub async fn backup_into(db: &DatabaseConnection, to: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        db.get_database_backend() == DbBackend::Sqlite,
        "backup copies SQLite databases; for PostgreSQL use pg_dump"
    );
    anyhow::ensure!(
        !to.exists(),
        "{} exists already; choose a new file",
        to.display()
    );
    let to = to.to_str().context("the backup path is not valid UTF-8")?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [to.into()],
    ))
    .await
    .with_context(|| format!("backup into {to} failed"))?;
    Ok(())
}

/// The directory a file path names, `None` for a bare file name (the
/// working directory).
fn directory_of(path: &Path) -> Option<&Path> {
    path.parent().filter(|dir| !dir.as_os_str().is_empty())
}

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`:
/// it takes the write lock up front (waiting up to `busy_timeout`), instead
/// of reading first and failing at once with SQLITE_BUSY when another
/// connection committed in between. PostgreSQL ignores the option.
///
/// On SQLite it first waits for its turn at the file's [`write_gate`]:
/// a connection that finds SQLite's write lock taken polls for it, asleep
/// up to 100 ms between tries (the `busy_timeout` handler), so under steady
/// writes from several tasks (the message log writer, webhook deliveries,
/// use cases) the lock sat free while its waiters slept. Writers queue in
/// the process instead, first come first served, and each begins as the
/// one before ends.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, sea_orm::DbErr> {
    let turn = match write_gate(db) {
        Some(gate) => Some(gate.turn().await?),
        None => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTransaction { txn, _turn: turn })
}

/// Runs `write`, statements on `db` outside any transaction (each commits
/// on its own), in its turn at the file's [`write_gate`] on SQLite, as
/// [`begin_write`]'s transactions take theirs. Without a turn such a
/// statement polls SQLite's write lock while the queued transactions hand
/// it from one to the next with no gap its poll finds: during a webhook
/// catch-up a heartbeat waited 1.8 s for it, and one waiting past
/// `busy_timeout` fails as locked. `write` must not itself wait for a turn
/// (`begin_write`): the gate has one.
pub async fn write_alone<T, E: From<sea_orm::DbErr>>(
    db: &DatabaseConnection,
    write: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let _turn = match write_gate(db) {
        Some(gate) => Some(gate.turn().await?),
        None => None,
    };
    write.await
}

/// The queue of the writers of one SQLite file in this process, and how
/// long one waits in it (the file's `busy_timeout`, as SQLite would).
#[derive(Clone)]
struct WriteGate {
    queue: Arc<Semaphore>,
    wait: Duration,
}

impl WriteGate {
    fn new(wait: Duration) -> Self {
        Self {
            queue: Arc::new(Semaphore::new(1)),
            wait,
        }
    }

    async fn turn(self) -> Result<OwnedSemaphorePermit, sea_orm::DbErr> {
        match tokio::time::timeout(self.wait, self.queue.acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(closed)) => Err(sea_orm::DbErr::Custom(closed.to_string())),
            Err(_) => Err(sea_orm::DbErr::Custom(format!(
                "database is locked: another write of this process held it for {} s",
                self.wait.as_secs_f64()
            ))),
        }
    }
}

/// One queue per SQLite file (keyed by its path), made when a pool of it
/// connects: one in production, one per test database in the test binary.
static WRITE_GATES: LazyLock<Mutex<HashMap<PathBuf, WriteGate>>> = LazyLock::new(Mutex::default);

fn write_gates() -> std::sync::MutexGuard<'static, HashMap<PathBuf, WriteGate>> {
    WRITE_GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes `file`'s queue (or keeps it), waiting at most `wait` in it.
fn register_write_gate(file: PathBuf, wait: Duration) {
    write_gates()
        .entry(file)
        .and_modify(|gate| gate.wait = wait)
        .or_insert_with(|| WriteGate::new(wait));
}

/// The file a SQLite pool opens, as its options name it (the key of its
/// writers' queue); `None` on PostgreSQL.
fn sqlite_file(db: &DatabaseConnection) -> Option<PathBuf> {
    (db.get_database_backend() == DbBackend::Sqlite).then(|| {
        db.get_sqlite_connection_pool()
            .connect_options()
            .get_filename()
            .to_path_buf()
    })
}

/// `db`'s file's queue of writers; `None` on PostgreSQL, whose writers
/// wait for row locks, not for the database.
fn write_gate(db: &DatabaseConnection) -> Option<WriteGate> {
    let file = sqlite_file(db)?;
    let gate = write_gates()
        .entry(file)
        .or_insert_with(|| WriteGate::new(Duration::from_secs(5)))
        .clone();
    Some(gate)
}

/// A transaction begun by [`begin_write`]: used as any connection, ended
/// by `commit` (or `rollback`, or drop, which rolls back); its SQLite
/// writer's turn ends with it.
pub struct WriteTransaction {
    txn: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTransaction {
    pub async fn commit(self) -> Result<(), sea_orm::DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), sea_orm::DbErr> {
        self.txn.rollback().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: Statement,
    ) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_placeholders_number_every_value_row_after_row_on_postgres_only() {
        use sea_orm::DatabaseBackend::{Postgres, Sqlite};
        assert_eq!(
            values_placeholders(Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(values_placeholders(Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(values_placeholders(Sqlite, 0, 2), "");
    }
}
