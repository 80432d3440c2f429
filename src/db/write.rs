//! What every table's write path shares: the stamp every row carries, the
//! storage error, and the batch size of multi-row inserts.

use std::collections::HashSet;
use std::hash::Hash;

use chrono::NaiveDateTime;

use crate::error::FieldError;

/// The read-only fields of every resource row: when it was created and last
/// changed, and its version (1 on create, +1 on every change; the ETag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl Stamp {
    /// The stamp of a row created now.
    pub fn created(at: NaiveDateTime) -> Stamp {
        Stamp { created_at: at, updated_at: at, version: 1 }
    }

    /// The stamp of the next version of a row, changed now.
    pub fn next(self, at: NaiveDateTime) -> Stamp {
        Stamp { created_at: self.created_at, updated_at: at, version: self.version + 1 }
    }
}

/// Rows per multi-row `INSERT`: the widest table (attributions, 18 columns)
/// stays well under SQLite's 32,766 bound parameters per statement.
pub const ROWS_PER_INSERT: usize = 1000;

/// Why a read or a write of the store did not happen. `error.rs` alone turns
/// it into an HTTP problem.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row of this kind (`"claim"`, `"source"`, …) has the id.
    #[error("no {0} with that id")]
    NotFound(&'static str),
    /// A row of this kind already has the id.
    #[error("a {what} with id {id} already exists")]
    Exists { what: &'static str, id: String },
    /// The fields break the resource's rules; every one is listed.
    #[error("{} invalid fields", .0.len())]
    Invalid(Vec<FieldError>),
    /// The row is at another version than the client's `If-Match` names.
    #[error("the current version is {current}")]
    Stale { current: i32 },
    /// Rows still refer to the one to delete: what they are, counted.
    #[error("this {what} is still referred to by {}", .by.join(", "))]
    Referenced { what: &'static str, by: Vec<String> },
    /// A query parameter of a list cannot be used (a bad cursor, a search
    /// the engine refuses).
    #[error("query parameter `{field}`: {message}")]
    BadParameter { field: String, message: String },
    /// What the database holds breaks an invariant the code keeps (a
    /// reference to a missing row, say): a bug, answered as a 500.
    #[error("the database breaks an invariant: {0}")]
    Broken(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl StoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn bad_parameter(field: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::BadParameter { field: field.into(), message: message.into() }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The outcome of an `UPDATE` or `DELETE` guarded by `version = <the version
/// read>`: when it changed nothing, a concurrent writer got there first
/// (PostgreSQL let us read the row before it committed), and `current`
/// names the version it left, or finds the row gone.
pub fn guarded(changed: usize, current: impl FnOnce() -> StoreResult<i32>) -> StoreResult<()> {
    if changed > 0 { Ok(()) } else { Err(StoreError::Stale { current: current()? }) }
}

/// Which of `ids` a table holds: `query` answers for a chunk of them, so
/// that no statement binds more than [`ROWS_PER_INSERT`] ids.
pub fn existing<Id: Eq + Hash>(
    ids: &[Id],
    mut query: impl FnMut(&[Id]) -> diesel::QueryResult<Vec<Id>>,
) -> StoreResult<HashSet<Id>> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(ROWS_PER_INSERT) {
        found.extend(query(chunk)?);
    }
    Ok(found)
}

/// Inserts rows into a table, [`ROWS_PER_INSERT`] per statement, and says
/// how many went in. A multi-row `INSERT` cannot go through the
/// multi-backend connection (diesel's `MultiBackend` has no batch insert),
/// so each backend's own connection runs it.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        let mut written = 0usize;
        for chunk in $rows.chunks($crate::db::write::ROWS_PER_INSERT) {
            written += match &mut *$conn {
                $crate::db::DbConnection::Sqlite(c) => diesel::insert_into($table).values(chunk).execute(c)?,
                $crate::db::DbConnection::Pg(c) => diesel::insert_into($table).values(chunk).execute(c)?,
            };
        }
        written
    }};
}
pub(crate) use insert_rows;
