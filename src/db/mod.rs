//! Storage: one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations and the one helper that runs blocking database work.

pub mod bm25;
pub mod breaker;
mod bulk;
pub mod deadline;
pub mod failure;
pub mod pool;
pub mod postings;
pub mod refs;
pub mod schema;
pub mod terms;
pub mod watch;
pub mod write;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::web;
use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use self::breaker::Breaker;
pub use self::bulk::{
    BulkWrite, DEFER_INDEXES_BELOW, FileUse, Settings, after_bulk_load, after_bulk_write, before_bulk_write,
    begin_bulk_write, end_bulk_write,
};
pub use self::pool::{DEFAULT_CHECK_AFTER_IDLE, DEFAULT_MMAP_MIB, DbOptions, Durability, PooledDb, answered};
use crate::error::ApiError;
use write::{Change, StoreError, Tx};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend. Query code is written once against this
/// type; backend-specific SQL matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Which database a URL names: `postgres://` and `postgresql://` are
/// PostgreSQL, anything else is a SQLite file path (SQLite would accept any
/// string, so the scheme decides, not `establish`'s trial order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Refuses a URL with a scheme (`…://`) other than PostgreSQL's: without
/// this, `mysql://…` would be taken for the name of a SQLite file.
pub fn check_url(url: &str) -> Result<Backend, crate::exit::InputError> {
    match url.split_once("://") {
        Some(("postgres" | "postgresql", _)) | None => Ok(Backend::of_url(url)),
        Some((scheme, _)) => Err(crate::exit::InputError(format!(
            "the database URL {} has the scheme `{scheme}`, which claimtrail does not speak: \
             give a postgres:// or postgresql:// URL, or the path of a SQLite file (e.g. claimtrail.db), \
             with --database-url or CLAIMTRAIL_DATABASE_URL",
            redact(url)
        ))),
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_string(),
    };
    match path {
        Some(path) => format!("{scheme}://{authority}/{path}"),
        None => format!("{scheme}://{authority}"),
    }
}

/// Why the database cannot be opened, naming it, with what to check.
fn cannot_open(url: &str, cause: impl std::fmt::Display) -> anyhow::Error {
    match Backend::of_url(url) {
        Backend::Postgres => anyhow::anyhow!(
            "cannot connect to PostgreSQL at {} ({cause}); is the server running, and are the host, port, \
             database, user and password right?",
            redact(url)
        ),
        // A command-line import or `generate` that has the file alone takes
        // it from the WAL (`FileUse::Sole`): no other connection can open it
        // until that write ends, and the busy timeout ran out waiting.
        Backend::Sqlite if cause.to_string().contains("locked") => anyhow::anyhow!(
            "cannot open the SQLite database {url} ({cause}): another process is writing it and holds it alone \
             (a `claimtrail import` or `generate`?); try again when that ends"
        ),
        Backend::Sqlite => anyhow::anyhow!(
            "cannot open the SQLite database {url} ({cause}); does its directory exist, and may this user write there?"
        ),
    }
}

/// Opens one connection of the backend the URL names, with the default
/// settings (the pool's connections get theirs in [`pool`]).
pub fn establish(url: &str) -> diesel::ConnectionResult<DbConnection> {
    deadline::install();
    bm25::install();
    match Backend::of_url(url) {
        Backend::Postgres => PgConnection::establish(url).map(DbConnection::Pg),
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(url)?;
            pool::configure_sqlite(&mut conn, Durability::Normal, DEFAULT_MMAP_MIB)
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            register_sqlite_functions(&mut conn).map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

#[diesel::declare_sql_function]
extern "SQL" {
    /// See [`crate::stems::document_stems`].
    fn claimtrail_stems(
        text: diesel::sql_types::Nullable<diesel::sql_types::Text>,
        subject: diesel::sql_types::Nullable<diesel::sql_types::Text>,
        quotes: diesel::sql_types::Nullable<diesel::sql_types::Text>,
        language: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// The functions SQLite's migrations and triggers call that the server
/// provides: every connection needs them before it writes a claim or an
/// attribution (the search index's triggers stem the documents).
fn register_sqlite_functions(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    claimtrail_stems_utils::register_impl(
        conn,
        |text: Option<String>, subject: Option<String>, quotes: Option<String>, language: Option<String>| {
            crate::stems::document_stems(text.as_deref(), subject.as_deref(), quotes.as_deref(), language.as_deref())
        },
    )
}

/// Shared handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: pool::Pool,
    backend: Backend,
    /// On SQLite, held by [`Db::write`] for the whole write transaction.
    /// SQLite lets one writer in at a time anyway, and a writer that finds
    /// the lock taken backs off in sleeps of up to 100 ms (its busy
    /// handler) rather than waking when the lock frees; queueing on this
    /// mutex instead hands the lock over at once.
    writer: Arc<Mutex<()>>,
    /// Turns requests away at once while the database cannot be reached.
    breaker: Arc<Breaker>,
    acquire_timeout: std::time::Duration,
    health_timeout: std::time::Duration,
    check_after_idle: std::time::Duration,
    /// Callers waiting for a pooled connection now, for the metrics.
    waiting: Arc<AtomicU32>,
    /// Whether anything was committed since a moment (SQLite).
    watch: Arc<watch::Watch>,
    /// Search terms' posting lists, kept while nothing is committed (SQLite).
    postings: Arc<postings::PostingCache>,
    /// The file that names the terms of the lists kept (a SQLite file).
    remembered: Option<Arc<postings::Remembered>>,
    /// Terms in at least this many claims have their posting lists stored
    /// (SQLite; `0`: none).
    stored_lists_min_claims: u64,
}

/// The pool's connections at one moment, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections lent out.
    pub in_use: u32,
    /// Open connections waiting to be lent.
    pub idle: u32,
    /// Callers waiting for a connection.
    pub waiting: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

impl Db {
    /// Migrates the database and builds the pool. WAL is a property of the
    /// SQLite file, so it is set once here rather than per connection.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Db> {
        Db::connect_with(url, &DbOptions::new(pool_size))
    }

    /// Like [`Db::connect`], with the pool's timeouts, statement deadline
    /// and durability chosen (the server's come from its settings).
    pub fn connect_with(url: &str, options: &DbOptions) -> anyhow::Result<Db> {
        let backend = check_url(url)?;
        let mut conn = establish(url).map_err(|e| cannot_open(url, e))?;
        if let DbConnection::Sqlite(conn) = &mut conn {
            conn.batch_execute("PRAGMA journal_mode = WAL;")?;
        }
        migrate(&mut conn)?;
        drop(conn);
        let breaker = Arc::new(Breaker::new(options.retry_after, options.health_timeout));
        let pool = pool::build(url, options, breaker.clone());
        Ok(Db {
            pool,
            backend,
            writer: Arc::new(Mutex::new(())),
            breaker,
            acquire_timeout: options.acquire_timeout,
            check_after_idle: options.check_after_idle,
            health_timeout: options.health_timeout,
            waiting: Arc::new(AtomicU32::new(0)),
            watch: Arc::new(watch::Watch::new(url, backend)),
            postings: Arc::new(postings::PostingCache::new(postings::BUDGET_BYTES)?),
            remembered: match backend {
                Backend::Sqlite => postings::Remembered::of(url).map(Arc::new),
                Backend::Postgres => None,
            },
            stored_lists_min_claims: options.stored_lists_min_claims,
        })
    }

    /// How the pool's connections are used right now.
    pub fn pool_status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            in_use: state.connections.saturating_sub(state.idle_connections),
            idle: state.idle_connections,
            waiting: self.waiting.load(Ordering::Relaxed),
            max: self.pool.max_size(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's current [`watch::Epoch`], told on the calling
    /// thread without a pooled connection; `None` when it cannot be told
    /// (always on PostgreSQL).
    pub fn epoch(&self) -> Option<watch::Epoch> {
        self.watch.epoch()
    }

    /// The posting lists searches keep, and the watch that tells whether
    /// they are current.
    pub fn terms(&self) -> postings::Terms {
        postings::Terms::new(self.postings.clone(), self.watch.clone(), self.clone())
    }

    /// The least number of claims a term is in for its posting list to be
    /// stored in the database; `None` when none is (PostgreSQL, a database
    /// in memory, or turned off).
    pub fn stored_lists_min_claims(&self) -> Option<u64> {
        let stored = self.backend == Backend::Sqlite && self.remembered.is_some();
        Some(self.stored_lists_min_claims).filter(|min| stored && *min > 0)
    }

    /// This process's turn to write to a SQLite file (see `writer`), for
    /// writes that do not go through [`Db::write`]: taken before the
    /// connection's own `BEGIN IMMEDIATE`.
    pub fn writer_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// [`Db::writer_turn`] if no one holds it now, for a caller that holds
    /// a pooled connection already: waiting for the turn then could keep
    /// the writer that holds it from the connection it waits for.
    pub fn writer_turn_now(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        match self.writer.try_lock() {
            Ok(turn) => Some(turn),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Opens the connection [`Db::epoch`] reads (blocking: call it where
    /// blocking is allowed), so that no request opens it.
    pub fn open_watch(&self) {
        self.watch.open();
    }

    /// Checks out a connection for synchronous callers (the CLI).
    pub fn get(&self) -> Result<PooledDb, ApiError> {
        pool::checkout(&self.pool, &self.breaker, self.acquire_timeout, self.check_after_idle, false)
    }

    /// Whether the database answers, within the health timeout; the 503
    /// says why not. While the breaker is open this answers at once.
    pub async fn ready(&self) -> Result<(), ApiError> {
        let not_ready = |reason: &str| {
            ApiError::unavailable_for(self.health_timeout, format!("The database is not reachable: {reason}"))
        };
        if let Err(tripped) = self.breaker.admit() {
            return Err(not_ready(&tripped.reason));
        }
        let (pool, breaker, timeout) = (self.pool.clone(), self.breaker.clone(), self.health_timeout);
        let check_after_idle = self.check_after_idle;
        let answered = web::block(move || {
            let mut conn =
                pool::checkout(&pool, &breaker, timeout, check_after_idle, true).map_err(|_| {
                    match breaker.tripped() {
                        Some(tripped) => tripped.reason,
                        None => format!("no free connection within {} ms", timeout.as_millis()),
                    }
                })?;
            let answer = diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut *conn);
            pool::answered(&mut conn, answer.is_ok());
            answer.map_err(|e| e.to_string())
        })
        .await
        .map_err(ApiError::internal)?;
        answered.map(|_| ()).map_err(|reason| not_ready(&reason))
    }

    /// Runs `f` with a pooled connection on the blocking thread pool: the
    /// checkout and the queries happen there together, so no connection is
    /// ever held across an `.await`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError>,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        self.blocking(None, move |conn| f(conn).map_err(Into::into)).await
    }

    /// Like [`Db::run`], inside a write transaction; on SQLite, one at a
    /// time in this process (see `writer`).
    pub async fn write<T, E, F>(&self, change: Change, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + From<diesel::result::Error> + From<StoreError>,
        F: FnOnce(&mut Tx) -> Result<T, E> + Send + 'static,
    {
        let writer = (self.backend == Backend::Sqlite).then(|| self.writer.clone());
        self.blocking(writer, move |conn| write_tx(conn, change, f).map_err(Into::into)).await
    }

    /// Like [`Db::write`], but `f` decides whether what it wrote is kept
    /// (a dry run answers what it would have done, and keeps nothing).
    pub async fn write_deciding<T, E, F>(&self, change: Change, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + From<diesel::result::Error> + From<StoreError>,
        F: FnOnce(&mut Tx) -> Result<(T, bool), E> + Send + 'static,
    {
        let writer = (self.backend == Backend::Sqlite).then(|| self.writer.clone());
        self.blocking(writer, move |conn| write_tx_deciding(conn, change, f).map_err(Into::into)).await
    }

    /// The one place database work leaves the async workers. With `turn`,
    /// the mutex is taken before the connection, so that waiting writers
    /// hold no connection readers could use. A writer that panicked left
    /// nothing half-done (its transaction rolled back), so a poisoned mutex
    /// is still good.
    async fn blocking<T, F>(&self, turn: Option<Arc<Mutex<()>>>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        // While the database is down, answer without queueing for it.
        self.breaker.admit().map_err(pool::turned_away)?;
        let (pool, breaker, timeout) = (self.pool.clone(), self.breaker.clone(), self.acquire_timeout);
        let (waiting, check_after_idle) = (self.waiting.clone(), self.check_after_idle);
        web::block(move || {
            let _turn = turn.as_ref().map(|w| w.lock().unwrap_or_else(PoisonError::into_inner));
            waiting.fetch_add(1, Ordering::Relaxed);
            let conn = pool::checkout(&pool, &breaker, timeout, check_after_idle, false);
            waiting.fetch_sub(1, Ordering::Relaxed);
            let mut conn = conn?;
            let done = f(&mut conn);
            pool::answered(&mut conn, done.is_ok());
            done
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// Runs the pending migrations of the connection's backend.
pub fn migrate(conn: &mut DbConnection) -> anyhow::Result<()> {
    let migrations = match conn {
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        DbConnection::Pg(_) => POSTGRES_MIGRATIONS,
    };
    // Instances starting together on a new database take turns: the first
    // migrates, the others then find nothing pending.
    setup_transaction(conn, |conn| {
        conn.run_pending_migrations(migrations).map(|_| ()).map_err(|e| anyhow::anyhow!("{e}"))
    })
    .map_err(|e| anyhow::anyhow!("migrating the database failed: {e}"))
}

/// Runs `f` in a write transaction that no other instance's setup work
/// (migrating, seeding) runs beside: on SQLite `BEGIN IMMEDIATE` already
/// excludes every other writer; on PostgreSQL a transaction-scoped
/// advisory lock does.
pub fn setup_transaction<T, F>(conn: &mut DbConnection, f: F) -> anyhow::Result<T>
where
    F: FnOnce(&mut DbConnection) -> anyhow::Result<T>,
{
    write_transaction(conn, |conn| {
        if let DbConnection::Pg(pg) = conn {
            // Any constant will do, as long as every instance uses this one.
            pg.batch_execute("SELECT pg_advisory_xact_lock(7406311529438015232)")?;
        }
        f(conn)
    })
}

/// Runs `f` in a transaction meant for writing. On SQLite it begins with
/// `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction
/// that later upgrades to a write fails with SQLITE_BUSY instead of waiting.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    write_transaction_deciding(conn, |conn| f(conn).map(|value| (value, true)))
}

/// Runs `f` in a write transaction that makes `change`: every revision the
/// write paths record in the [`Tx`] is written just before it commits.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, change: Change, f: F) -> Result<T, E>
where
    E: From<diesel::result::Error> + From<StoreError>,
    F: FnOnce(&mut Tx) -> Result<T, E>,
{
    write_tx_deciding(conn, change, |tx| f(tx).map(|value| (value, true)))
}

/// Like [`write_tx`], but `f` decides whether what it wrote is kept (see
/// [`write_transaction_deciding`]).
pub fn write_tx_deciding<T, E, F>(conn: &mut DbConnection, change: Change, f: F) -> Result<T, E>
where
    E: From<diesel::result::Error> + From<StoreError>,
    F: FnOnce(&mut Tx) -> Result<(T, bool), E>,
{
    write_transaction_deciding(conn, |conn| {
        let mut tx = Tx::new(conn, change);
        let (value, keep) = f(&mut tx)?;
        if keep {
            tx.finish()?;
        }
        Ok((value, keep))
    })
}

/// Like [`write_transaction`], but `f` decides whether what it wrote is
/// kept: with `(value, false)` everything is rolled back and `value` still
/// returned (a dry run, or a check that found problems).
pub fn write_transaction_deciding<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<(T, bool), E>,
{
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok((value, true)) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Ok((value, false)) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                // SQLite rolls a transaction back itself when one of its
                // writes is interrupted (a statement past its deadline): the
                // error that ended it is the one to report. The connection
                // is not lent again, whatever state it is in.
                tracing::warn!(%rollback, "a failed write transaction could not be rolled back");
                pool::discard(conn);
            }
            Err(error)
        }
    }
}

/// Runs `f` in a read-only transaction that sees one snapshot: PostgreSQL's
/// default READ COMMITTED would give every statement its own.
pub fn in_snapshot<T, E: From<diesel::result::Error>>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?,
        DbConnection::Pg(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    }
    let result = f(conn);
    // Nothing was written: ending with a rollback is the same as a commit.
    <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
    result
}

/// Makes this transaction the one that numbers revisions until it commits
/// (see `revisions::store::append`). SQLite has one writer at a time
/// already; on PostgreSQL a transaction-scoped advisory lock does it, taken
/// at the very end of the transaction so that it is held only for the last
/// few statements.
pub fn take_feed_turn(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(_) => Ok(()),
        // Any constant will do, as long as every instance uses this one.
        DbConnection::Pg(c) => c.batch_execute("SELECT pg_advisory_xact_lock(7406311529438015233)"),
    }
}

/// The `n`th bind parameter's marker in hand-written SQL: `?n` on SQLite,
/// `$n` on PostgreSQL.
pub fn bind_marker(conn: &DbConnection, n: usize) -> String {
    match conn {
        DbConnection::Sqlite(_) => format!("?{n}"),
        DbConnection::Pg(_) => format!("${n}"),
    }
}

/// The current time as stored: UTC, truncated to microseconds so that it
/// reads back the same from both backends.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::microseconds(1)).unwrap_or(now)
}

/// A stored time as the API shows it.
pub fn utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    at.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_file_locked_by_another_writer_is_named_as_such_and_not_as_a_missing_directory() {
        let locked = cannot_open("claims.db", "The database file is locked").to_string();
        assert!(locked.contains("another process is writing it") && !locked.contains("directory"), "{locked}");
        let missing = cannot_open("nowhere/claims.db", "unable to open database file").to_string();
        assert!(missing.contains("does its directory exist") && !missing.contains("another process"), "{missing}");
    }
}
