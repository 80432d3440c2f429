//! Storage: one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations and the one helper that runs blocking database work.

pub mod breaker;
pub mod deadline;
pub mod failure;
pub mod pool;
pub mod refs;
pub mod schema;

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::web;
use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use self::breaker::Breaker;
pub use self::pool::{DbOptions, Durability, PooledDb};
use crate::error::ApiError;

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

/// Opens one connection of the backend the URL names, with the default
/// settings (the pool's connections get theirs in [`pool`]).
pub fn establish(url: &str) -> diesel::ConnectionResult<DbConnection> {
    deadline::install();
    match Backend::of_url(url) {
        Backend::Postgres => PgConnection::establish(url).map(DbConnection::Pg),
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(url)?;
            pool::configure_sqlite(&mut conn, Durability::Normal)
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
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
        let backend = Backend::of_url(url);
        let mut conn = establish(url)?;
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
            health_timeout: options.health_timeout,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks out a connection for synchronous callers (the CLI).
    pub fn get(&self) -> Result<PooledDb, ApiError> {
        pool::checkout(&self.pool, &self.breaker, self.acquire_timeout, false)
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
        let answered = web::block(move || {
            let mut conn = pool::checkout(&pool, &breaker, timeout, true).map_err(|_| match breaker.tripped() {
                Some(tripped) => tripped.reason,
                None => format!("no free connection within {} ms", timeout.as_millis()),
            })?;
            diesel::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut *conn).map_err(|e| e.to_string())
        })
        .await
        .map_err(ApiError::internal)?;
        answered.map(|_| ()).map_err(|reason| not_ready(&reason))
    }

    /// Runs `f` with a pooled connection on the blocking thread pool: the
    /// checkout and the queries happen there together, so no connection is
    /// ever held across an `.await`.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.blocking(None, f).await
    }

    /// Like [`Db::run`], inside a write transaction; on SQLite, one at a
    /// time in this process (see `writer`).
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let writer = (self.backend == Backend::Sqlite).then(|| self.writer.clone());
        self.blocking(writer, move |conn| write_transaction(conn, f)).await
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
        web::block(move || {
            let _turn = turn.as_ref().map(|w| w.lock().unwrap_or_else(PoisonError::into_inner));
            let mut conn = pool::checkout(&pool, &breaker, timeout, false)?;
            f(&mut conn)
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
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(error)
        }
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

/// Reads a stored id; stored ids were written as UUIDs.
pub fn uuid(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::internal(format!("malformed id `{id}` in the database")))
}

/// Reads an optional stored id.
pub fn opt_uuid(id: Option<&str>) -> Result<Option<uuid::Uuid>, ApiError> {
    id.map(uuid).transpose()
}

/// A fresh server-made id: UUID v7, so ids sort by creation time.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
