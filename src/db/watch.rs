//! Whether anything was committed to a SQLite database since a moment,
//! told in a microsecond on the async worker itself: no pooled connection,
//! no hop to the blocking thread pool.
//!
//! SQLite's `PRAGMA data_version` on a connection returns a different
//! number whenever any *other* connection has committed a change in the
//! meantime, in this process or another one
//! (<https://sqlite.org/pragma.html#pragma_data_version>). The watch keeps
//! one connection of its own that never writes, so every commit to the
//! file moves the number it reads, and turns each move into a new
//! [`Epoch`]. Two reads of the same epoch therefore mean that nothing was
//! committed between them; the card cache uses that to send a card it has
//! already found current without reading its claim's stamp again.
//!
//! The pragma reads the WAL's shared index and the file's first page, both
//! in memory, in a microsecond or two; the connection waits for no lock
//! (`busy_timeout` 0), so a read that would wait, or any other failure,
//! answers "unknown" (`None`) and the caller does the full check. That is
//! why this, alone of the database work, runs on the async worker rather
//! than in [`super::Db::run`]. One worker reads at a time; another that
//! finds the watch taken waits at most 50 µs for it (a read's time many
//! times over), then answers "unknown". (SQLite may still retry inside a
//! read while another process recovers the WAL after a crash; then one
//! worker waits, as the pool's connections would.) On PostgreSQL, and for
//! a database in memory (each connection its own), there is no such
//! number, and every answer is `None`.
//!
//! The watch follows the file it opened: a database file replaced under a
//! running server (rather than restored as "Durability and backups" in the
//! README says, with the servers stopped) is not seen.

use std::sync::{Mutex, TryLockError};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::Backend;

/// A span of time in which nothing was committed to the database, as the
/// watch saw it: equal epochs, read at two moments, mean no commit between
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(u64);

impl Epoch {
    /// As one number, for an atomic; never 0 (see [`Epoch::from_raw`]).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// The epoch [`Epoch::raw`] gave; `None` for 0, which no epoch is.
    pub fn from_raw(raw: u64) -> Option<Epoch> {
        (raw != 0).then_some(Epoch(raw))
    }
}

/// The watch of one database, shared by a server's workers.
pub struct Watch {
    /// `None` on PostgreSQL.
    sqlite: Option<Mutex<Watcher>>,
}

struct Watcher {
    url: String,
    conn: Option<SqliteConnection>,
    /// The `data_version` last read on `conn`; `None` while `conn` is new:
    /// its first read begins an epoch.
    seen: Option<i64>,
    /// The current epoch; moves whenever `seen` does.
    epoch: u64,
    /// When opening the connection last failed: it is not tried again
    /// for [`RETRY_AFTER`], so that a database that cannot be opened costs
    /// each request nothing.
    failed_at: Option<Instant>,
    /// Reads that failed in a row on `conn`.
    failures: u32,
}

/// How long after a failed open the watch tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long a worker waits for the watch while another reads it.
const WAIT_FOR_WATCH: Duration = Duration::from_micros(50);

#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = BigInt)]
    data_version: i64,
}

impl Watch {
    /// The watch of the database `url` names. It opens its connection in
    /// [`Watch::open`] or when first asked, so that commands that never ask
    /// open none.
    pub fn new(url: &str, backend: Backend) -> Watch {
        let in_memory = url.is_empty() || url == ":memory:" || url.contains("mode=memory");
        let sqlite = (backend == Backend::Sqlite && !in_memory).then(|| {
            Mutex::new(Watcher { url: url.to_string(), conn: None, seen: None, epoch: 0, failed_at: None, failures: 0 })
        });
        Watch { sqlite }
    }

    /// Opens the connection now (the server does, on a blocking thread,
    /// before it serves), so that no request opens it.
    pub fn open(&self) {
        if let Some(watcher) = &self.sqlite {
            watcher.lock().unwrap_or_else(std::sync::PoisonError::into_inner).connect();
        }
    }

    /// The epoch now, or `None` when it cannot be told (PostgreSQL, the
    /// watch read by another worker this moment, a lock held elsewhere, a
    /// database that cannot be opened).
    pub fn epoch(&self) -> Option<Epoch> {
        let watch = self.sqlite.as_ref()?;
        let mut waited: Option<Instant> = None;
        let mut watcher = loop {
            match watch.try_lock() {
                Ok(watcher) => break watcher,
                Err(TryLockError::Poisoned(poisoned)) => break poisoned.into_inner(),
                // Another worker reads it: a read takes microseconds, so
                // wait that long, not for a read stuck on a lock.
                Err(TryLockError::WouldBlock) => {
                    if waited.get_or_insert_with(Instant::now).elapsed() > WAIT_FOR_WATCH {
                        return None;
                    }
                    std::hint::spin_loop();
                }
            }
        };
        watcher.read()
    }
}

impl Watcher {
    /// Opens the connection unless it is open, or failed to open less than
    /// [`RETRY_AFTER`] ago. A file that is not there is not made.
    fn connect(&mut self) {
        if self.conn.is_some() || self.failed_at.is_some_and(|at| at.elapsed() < RETRY_AFTER) {
            return;
        }
        let plain_path = !self.url.starts_with("file:");
        let opened = if plain_path && !std::path::Path::new(&self.url).exists() {
            Err("the file is not there".to_string())
        } else {
            // The server's automatic extensions give every connection the
            // pool's busy timeout (`bm25::install`): this one waits for no lock.
            SqliteConnection::establish(&self.url).map_err(|e| e.to_string()).and_then(|mut conn| {
                conn.batch_execute("PRAGMA busy_timeout = 0").map(|()| conn).map_err(|e| e.to_string())
            })
        };
        match opened {
            Ok(conn) => (self.conn, self.seen, self.failed_at, self.failures) = (Some(conn), None, None, 0),
            Err(error) => {
                tracing::warn!(%error, "the database watch cannot open its connection; cards are checked by their stamps");
                self.failed_at = Some(Instant::now());
            }
        }
    }

    fn read(&mut self) -> Option<Epoch> {
        self.connect();
        let conn = self.conn.as_mut()?;
        match diesel::sql_query("PRAGMA data_version").get_result::<DataVersion>(conn) {
            Ok(DataVersion { data_version }) => {
                self.failures = 0;
                if self.seen != Some(data_version) {
                    self.epoch += 1;
                    self.seen = Some(data_version);
                }
                Some(Epoch(self.epoch))
            }
            // Busy (a lock that keeps readers out): unknown now. The
            // connection's numbers stay comparable, so a commit made
            // meanwhile is seen by its next read. It is not opened again
            // (opening reads the schema, which would wait for that lock).
            Err(error) => {
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    tracing::warn!(%error, failures = self.failures, "the database watch cannot read; cards are checked by their stamps");
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(QueryableByName)]
    struct BusyTimeout {
        #[diesel(sql_type = BigInt)]
        timeout: i64,
    }

    fn database() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = dir.path().join("watch.db").to_string_lossy().into_owned();
        let mut conn = SqliteConnection::establish(&url).expect("the database opens");
        conn.batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);").expect("a table");
        (dir, url)
    }

    #[test]
    fn the_epoch_moves_with_each_commit_by_another_connection_and_only_then() {
        let (_dir, url) = database();
        let watch = Watch::new(&url, Backend::Sqlite);
        let first = watch.epoch().expect("an epoch");
        assert_eq!(watch.epoch(), Some(first));
        let mut writer = SqliteConnection::establish(&url).expect("a second connection");
        writer.batch_execute("INSERT INTO t VALUES (1)").expect("a commit");
        let second = watch.epoch().expect("an epoch");
        assert_ne!(second, first);
        assert_eq!(watch.epoch(), Some(second));
        // A transaction rolled back commits nothing.
        writer.batch_execute("BEGIN; INSERT INTO t VALUES (2); ROLLBACK;").expect("a rollback");
        assert_eq!(watch.epoch(), Some(second));
        writer.batch_execute("UPDATE t SET x = 3").expect("a commit");
        assert_ne!(watch.epoch(), Some(second));
    }

    #[test]
    fn a_write_lock_held_elsewhere_does_not_stop_the_watch() {
        let (_dir, url) = database();
        let watch = Watch::new(&url, Backend::Sqlite);
        let before = watch.epoch().expect("an epoch");
        let mut writer = SqliteConnection::establish(&url).expect("a second connection");
        writer.batch_execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (1);").expect("a write begun");
        assert_eq!(watch.epoch(), Some(before), "nothing is committed yet");
        writer.batch_execute("COMMIT").expect("a commit");
        assert_ne!(watch.epoch(), Some(before));
    }

    #[test]
    fn a_lock_that_keeps_readers_out_answers_unknown_at_once_and_then_a_new_epoch() {
        // In WAL mode (the server's) readers are not kept out; a rollback
        // journal's exclusive lock does keep them out.
        crate::db::bm25::install();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = dir.path().join("journal.db").to_string_lossy().into_owned();
        let mut holder = SqliteConnection::establish(&url).expect("the database opens");
        holder.batch_execute("CREATE TABLE t (x INTEGER)").expect("a table");
        let watch = Watch::new(&url, Backend::Sqlite);
        let before = watch.epoch().expect("an epoch");
        holder.batch_execute("BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);").expect("an exclusive lock");
        for _ in 0..3 {
            assert_eq!(watch.epoch(), None, "a reader is kept out");
        }
        // It waits for no lock: its connection's busy timeout is 0, though
        // the server's automatic extensions (installed above, as the
        // server's first connection installs them) set the pool's.
        let mut watcher = watch.sqlite.as_ref().expect("a SQLite watch").lock().expect("the watch");
        let conn = watcher.conn.as_mut().expect("its connection");
        let timeout: Vec<BusyTimeout> = diesel::sql_query("PRAGMA busy_timeout").load(conn).expect("the timeout");
        assert_eq!(timeout.iter().map(|t| t.timeout).collect::<Vec<_>>(), [0]);
        drop(watcher);
        holder.batch_execute("COMMIT").expect("a commit");
        let after = watch.epoch().expect("an epoch again");
        assert_ne!(after, before);
        assert_eq!(watch.epoch(), Some(after));
    }

    #[test]
    fn a_worker_that_finds_the_watch_taken_waits_only_briefly_for_it() {
        let (_dir, url) = database();
        let watch = Watch::new(&url, Backend::Sqlite);
        watch.open();
        let taken = watch.sqlite.as_ref().expect("a SQLite watch").lock().expect("the watch");
        let started = Instant::now();
        assert_eq!(watch.epoch(), None);
        assert!(started.elapsed() >= WAIT_FOR_WATCH, "it waits that long for the watch before it answers");
        drop(taken);
        assert!(watch.epoch().is_some());
    }

    #[test]
    fn a_database_file_that_is_not_there_is_not_made() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("gone.db");
        let watch = Watch::new(&path.to_string_lossy(), Backend::Sqlite);
        watch.open();
        assert_eq!(watch.epoch(), None);
        assert!(!path.exists());
    }

    #[test]
    fn postgres_and_databases_in_memory_have_no_epoch() {
        assert_eq!(Watch::new("postgres://nowhere/none", Backend::Postgres).epoch(), None);
        assert_eq!(Watch::new(":memory:", Backend::Sqlite).epoch(), None);
        assert_eq!(Watch::new("file:cards?mode=memory&cache=shared", Backend::Sqlite).epoch(), None);
    }

    #[test]
    fn epochs_round_trip_through_one_number_and_none_is_zero() {
        assert_eq!(Epoch::from_raw(0), None);
        assert_eq!(Epoch::from_raw(Epoch(7).raw()), Some(Epoch(7)));
    }
}
