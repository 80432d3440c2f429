//! The connection pool and what bounds it: how long a request waits for a
//! connection, how long `/readyz` waits, the circuit breaker that turns
//! requests away while the database is down, each statement's deadline, and
//! how durable a commit is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, HandleError, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;

use super::breaker::{Breaker, Tripped};
use super::{DbConnection, deadline, establish};
use crate::error::ApiError;

/// What a commit survives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// SQLite `synchronous = NORMAL` (in WAL mode): a commit survives the
    /// process crashing or being killed; on power loss or an OS crash the
    /// last commits before it may be lost, never the database's
    /// consistency. PostgreSQL: the server's own `synchronous_commit`.
    #[default]
    Normal,
    /// SQLite `synchronous = FULL`: every commit is on disk (fsync of the
    /// WAL) before it is acknowledged, so it survives power loss too; writes
    /// cost an fsync each. PostgreSQL: `synchronous_commit = on` for the
    /// server's sessions, whatever the server's default.
    Full,
}

/// How the pool behaves. [`DbOptions::new`] gives what the command-line
/// tools use: no statement deadline, the default waits.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections the pool opens.
    pub pool_size: u32,
    /// How long a request waits for a free connection before its 503.
    pub acquire_timeout: Duration,
    /// How long `/readyz` waits for a connection before its 503.
    pub health_timeout: Duration,
    /// How long requests are turned away (503 + `Retry-After`) after a
    /// connection attempt failed, before one may try again.
    pub retry_after: Duration,
    /// Every statement's deadline; `None` for none.
    pub statement_timeout: Option<Duration>,
    pub durability: Durability,
    /// SQLite: how much of the file is read through a memory map, in MiB.
    pub mmap_mib: u64,
    /// A connection whose last use succeeded longer ago than this is asked
    /// a `SELECT 1` before it is lent; one used more recently is lent as it
    /// is (see [`checkout`]).
    pub check_after_idle: Duration,
    /// SQLite: the posting lists of terms in at least this many claims
    /// are stored in the database (`0`: none; see
    /// `claims::listing::stored`).
    pub stored_lists_min_claims: u64,
}

/// How much of a SQLite file is memory-mapped unless said otherwise, in
/// MiB. At a million claims (a 7,619 MiB file) the query benchmark measured
/// the same latencies with 256 MiB as with SQLite's largest map (2047 MiB)
/// but one row of eighteen, and the server's resident memory at 236 MiB
/// instead of 1.4 GB after every row; with no map at all the card took 1.5
/// times as long (README, "Memory").
pub const DEFAULT_MMAP_MIB: u64 = 256;

/// How long a connection may have been idle (since its last successful
/// use) and still be lent without a `SELECT 1` first.
pub const DEFAULT_CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long a statement waits for a lock another connection holds.
pub const BUSY_TIMEOUT_MS: i32 = 10_000;

/// SQLite's largest memory map (its `SQLITE_MAX_MMAP_SIZE`, 0x7fff0000
/// bytes), in whole MiB.
const MAX_MMAP_MIB: u64 = 2047;

/// The size a SQLite file's write-ahead log is cut back to once it has
/// been checkpointed whole (`PRAGMA journal_size_limit`), in bytes. The
/// log grows to hold the largest transaction written through it (an
/// import of 100,000 claims sent to a server: 930 MB, as large as the
/// database), and SQLite otherwise keeps the file at that size for as long
/// as any connection has the database open, writing over it from the
/// start. Cut back, it is this size at most after the next write. Four
/// times what SQLite's automatic checkpoint lets it grow to (1,000 pages
/// of 4 KiB), so that ordinary writes do not grow and cut it each time.
pub const WAL_SIZE_LIMIT_BYTES: i64 = 16 * 1024 * 1024;

impl DbOptions {
    pub fn new(pool_size: u32) -> DbOptions {
        DbOptions {
            pool_size,
            acquire_timeout: Duration::from_secs(10),
            health_timeout: Duration::from_millis(500),
            retry_after: Duration::from_secs(2),
            statement_timeout: None,
            durability: Durability::Normal,
            mmap_mib: DEFAULT_MMAP_MIB,
            check_after_idle: DEFAULT_CHECK_AFTER_IDLE,
            stored_lists_min_claims: 0,
        }
    }
}

/// Per-connection SQLite settings. `busy_timeout` comes first so that the
/// statements after it already wait for a lock instead of failing at once.
pub(super) fn configure_sqlite(
    conn: &mut SqliteConnection,
    durability: Durability,
    mmap_mib: u64,
) -> diesel::QueryResult<()> {
    conn.batch_execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"))?;
    conn.batch_execute("PRAGMA foreign_keys = ON;")?;
    conn.batch_execute(match durability {
        Durability::Normal => "PRAGMA synchronous = NORMAL;",
        Durability::Full => "PRAGMA synchronous = FULL;",
    })?;
    // Reads through a memory map instead of a read() per page (see
    // `--sqlite-mmap-mib`). The pages are the OS's file cache, shared by all
    // connections; past the map, pages are read into SQLite's own cache.
    conn.batch_execute(&format!("PRAGMA mmap_size = {};", mmap_mib.min(MAX_MMAP_MIB) * 1024 * 1024))?;
    conn.batch_execute(&format!("PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES};"))?;
    Ok(())
}

/// Opens the pool's connections with [`establish`] (so that a failure says
/// what failed, which diesel's own manager does not) and gives each its
/// settings.
#[derive(Debug)]
pub struct Manager {
    url: String,
    durability: Durability,
    statement_timeout: Option<Duration>,
    mmap_mib: u64,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let mut conn = establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
        self.configure(&mut conn).map_err(r2d2::Error::QueryError)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

impl Manager {
    fn configure(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        let millis = self.statement_timeout.map_or(0, |t| t.as_millis().max(1));
        match conn {
            DbConnection::Sqlite(conn) => {
                configure_sqlite(conn, self.durability, self.mmap_mib)?;
                conn.batch_execute(&format!("SELECT {}({millis});", deadline::SET_TIMEOUT_FUNCTION))
            }
            DbConnection::Pg(conn) => {
                conn.batch_execute(&format!("SET statement_timeout = {millis};"))?;
                if self.durability == Durability::Full {
                    conn.batch_execute("SET synchronous_commit = on;")?;
                }
                Ok(())
            }
        }
    }
}

/// Trips the breaker whenever the pool fails to open or revive a connection.
#[derive(Debug)]
struct TripOnError(Arc<Breaker>);

impl HandleError<r2d2::Error> for TripOnError {
    fn handle_error(&self, error: r2d2::Error) {
        self.0.failure(&error.to_string());
    }
}

pub(super) type Pool = r2d2::Pool<Manager>;
pub type PooledDb = r2d2::PooledConnection<Manager>;

/// Builds the pool without waiting for its connections: the caller has
/// just opened one (to migrate), so the database is known to answer.
pub(super) fn build(url: &str, options: &DbOptions, breaker: Arc<Breaker>) -> Pool {
    let manager = Manager {
        url: url.to_string(),
        durability: options.durability,
        statement_timeout: options.statement_timeout,
        mmap_mib: options.mmap_mib,
    };
    r2d2::Pool::builder()
        .max_size(options.pool_size)
        // Also caps the back-off between reconnection attempts at half of
        // it, so a database that comes back is found within that.
        .connection_timeout(options.health_timeout.max(Duration::from_millis(100)))
        .error_handler(Box::new(TripOnError(breaker)))
        // `checkout` checks the connections that need it (see there).
        .test_on_check_out(false)
        .build_unchecked(manager)
}

/// How often a request waiting for a connection looks at the breaker.
const LOOK_AT_BREAKER_EVERY: Duration = Duration::from_millis(50);

/// When a pooled connection last did what it was lent for without an
/// error (or answered its check): kept with the connection in the pool
/// (r2d2's extensions).
struct Answered(Instant);

/// A connection within `timeout`; gives up at once when the breaker opens
/// meanwhile, so that requests do not queue for a database that is down.
/// When the whole wait passes without the pool holding a single connection,
/// the database is taken to be unreachable (a connection attempt that hangs
/// never reports a failure): the breaker opens, unless `probe_only`.
///
/// A connection is checked (`SELECT 1`) before it is lent only when it has
/// not answered within `check_after_idle`: when it is new, idle for longer,
/// or its last use failed (see [`answered`]). Checking every connection on
/// every checkout, as r2d2 does by default, costs PostgreSQL a round trip
/// per request, as much as the card's one statement. One that fails its
/// check is dropped and the next tried; a database that is down then shows
/// as new connections failing, which opens the breaker. A connection the
/// database closed within `check_after_idle` of its last use is lent as it
/// is: its request answers a 503 with `Retry-After` (as one does whose
/// connection is closed while it runs), and the connection is checked, and
/// dropped, at its next checkout.
pub(super) fn checkout(
    pool: &Pool,
    breaker: &Breaker,
    timeout: Duration,
    check_after_idle: Duration,
    probe_only: bool,
) -> Result<PooledDb, ApiError> {
    let deadline = Instant::now() + timeout;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now()).min(LOOK_AT_BREAKER_EVERY);
        match pool.get_timeout(wait.max(Duration::from_millis(1))) {
            Ok(mut conn) => {
                let fresh = r2d2::PooledConnection::extensions(&conn)
                    .get::<Answered>()
                    .is_some_and(|answered| answered.0.elapsed() < check_after_idle);
                if !fresh {
                    if let Err(error) = conn.ping() {
                        tracing::info!(%error, "a pooled connection failed its check; dropped");
                        discard(&mut conn);
                        drop(conn);
                        if Instant::now() >= deadline {
                            return Err(ApiError::unavailable(error));
                        }
                        continue;
                    }
                    answered(&mut conn, true);
                }
                breaker.success();
                return Ok(conn);
            }
            Err(error) => {
                if let Some(tripped) = breaker.tripped() {
                    return Err(turned_away(tripped));
                }
                if Instant::now() >= deadline {
                    if !probe_only && pool.state().connections == 0 {
                        // Not one connection could be opened in all that
                        // time: the database is unreachable, not busy.
                        breaker.failure(&format!("no connection could be opened within {timeout:?}"));
                    }
                    return Err(ApiError::unavailable(format!("no free connection within {timeout:?}: {error}")));
                }
            }
        }
    }
}

/// Records how a lent connection's work went: after a success it is lent
/// again unchecked for a while; after a failure it is checked first (see
/// [`checkout`]).
pub fn answered(conn: &mut PooledDb, ok: bool) {
    let extensions = r2d2::PooledConnection::extensions_mut(conn);
    if ok {
        extensions.insert(Answered(Instant::now()));
    } else {
        extensions.remove::<Answered>();
    }
}

/// Makes the pool drop the connection when it comes back: its transaction
/// manager is marked failed, which [`Manager::has_broken`] reports.
pub(crate) fn discard(conn: &mut DbConnection) {
    use diesel::connection::{Connection, TransactionManager};
    <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn).set_in_error();
}

/// The 503 of a request turned away by the breaker.
pub(super) fn turned_away(tripped: Tripped) -> ApiError {
    ApiError::unavailable_for(
        tripped.retry_after,
        "The database cannot be reached right now; try again after the time in Retry-After.",
    )
}

#[cfg(test)]
mod sqlite_build_tests {
    use diesel::sql_types::Text;
    use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

    #[derive(QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }

    /// The options the bundled SQLite was compiled with.
    fn compile_options() -> Vec<String> {
        let mut conn = SqliteConnection::establish(":memory:").expect("an in-memory database opens");
        diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut conn)
            .expect("compile options read")
            .into_iter()
            .map(|o| o.compile_options)
            .collect()
    }

    /// `.cargo/config.toml` compiles the bundled SQLite with the query
    /// planner stability guarantee on, so that a prepared statement is not
    /// planned again for every new bound value (STAT4 is on too).
    #[test]
    fn the_bundled_sqlite_plans_without_bound_values() {
        let options = compile_options();
        assert!(options.iter().any(|o| o == "ENABLE_STAT4"), "{options:?}");
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
    }

    /// Without allocation statistics, so without their global mutexes
    /// (`.cargo/config.toml`).
    #[test]
    fn the_bundled_sqlite_keeps_no_allocation_statistics() {
        let options = compile_options();
        assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
        assert!(options.iter().any(|o| o == "DISABLE_PAGECACHE_OVERFLOW_STATS"), "{options:?}");
    }

    /// Each connection's page cache its own, with no mutex shared by all
    /// (`.cargo/config.toml`).
    #[test]
    fn the_bundled_sqlite_gives_each_connection_its_own_page_cache() {
        let options = compile_options();
        assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "{options:?}");
    }

    /// And in multi-thread mode: no mutex around each call on a connection
    /// (the pool lends a connection to one thread at a time).
    #[test]
    fn the_bundled_sqlite_runs_in_multi_thread_mode() {
        assert_eq!(unsafe { libsqlite3_sys::sqlite3_threadsafe() }, 2);
        let options = compile_options();
        assert!(options.iter().any(|o| o == "THREADSAFE=2"), "{options:?}");
    }
}
