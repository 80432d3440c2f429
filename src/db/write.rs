//! What every table's write path shares: the stamp every row carries, the
//! storage error, and the batch size of multi-row inserts.

use std::collections::HashSet;
use std::hash::Hash;

use chrono::NaiveDateTime;

use crate::db::DbConnection;
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
    /// The change would leave a reference to a row that is gone (restoring
    /// a revision that names a deleted source, say): every one is listed.
    #[error("{} references to missing rows", .0.len())]
    Dangling(Vec<FieldError>),
    /// The change would break a rule over several rows (a second review of
    /// a claim by one reviewer, say): what is in the way, for a person.
    #[error("{0}")]
    Conflict(String),
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
/// that no statement binds more than [`ROWS_PER_INSERT`] ids. Each id is
/// asked once: a batch of 500 imported attributions names the same few
/// sources hundreds of times, and PostgreSQL compares every row it reads
/// with every element of a bound array (`= ANY($1)`): the sources' check
/// was 2.0 s of an import of 100,000 claims.
pub fn existing<Id: Eq + Hash + Clone>(
    ids: &[Id],
    mut query: impl FnMut(&[Id]) -> diesel::QueryResult<Vec<Id>>,
) -> StoreResult<HashSet<Id>> {
    let mut asked = HashSet::new();
    let ids: Vec<Id> = ids.iter().filter(|id| asked.insert(*id)).cloned().collect();
    let mut found = HashSet::new();
    for chunk in ids.chunks(ROWS_PER_INSERT) {
        found.extend(query(chunk)?);
    }
    Ok(found)
}

/// Rows per `INSERT` whose prepared statement is kept, on SQLite: an
/// import writes its rows in runs of this many, through one statement per
/// table that SQLite parses once. A multi-row `INSERT` of any other length
/// is parsed anew each time, and parsing was 15 % of an import's writing of
/// its records (100,000 claims, their tags and attributions, in batches of
/// 500): the parser's work grows with the rows.
pub const ROWS_PER_KEPT_INSERT: usize = 100;

/// Inserts rows into a table and says how many went in. A multi-row
/// `INSERT` cannot go through the multi-backend connection (diesel's
/// `MultiBackend` has no batch insert), so each backend's own connection
/// runs it.
///
/// On SQLite, runs of [`ROWS_PER_KEPT_INSERT`] rows go through a statement
/// diesel keeps prepared (the length is part of its type), the rest at
/// most [`ROWS_PER_INSERT`] per statement. A run is one statement, because
/// every row type written in batches derives `Insertable` with
/// `treat_none_as_default_value = false` (a `None` is written as `NULL`,
/// which no nullable column's default differs from), even one without
/// optional fields (`claims::store::TagRow`: diesel took its batches row
/// by row too). Otherwise diesel writes a chunk row by row inside a
/// savepoint, and in a large transaction
/// (an import) SQLite then copies every page those rows touch into its
/// statement journal, row after row: a fifth of an import's time under
/// `perf`. A single row is written as its own statement, whose text diesel
/// keeps prepared.
///
/// On PostgreSQL, [`ROWS_PER_INSERT`] rows per statement: its triggers run
/// once per statement, and runs of 100 made the import of 100,000 claims
/// take 232 s instead of 119 s. With `copy on postgres` after the rows,
/// the tables an import writes most (claims, attributions, revisions) take
/// several rows on PostgreSQL through `COPY … FROM STDIN` in its binary
/// format instead (`diesel::copy_from`): no statement text for the server
/// to parse and plan, and no bound parameters. Their statement-level
/// triggers run once per `COPY` as once per `INSERT`, with the same
/// transition tables. (A row type that embeds another, as `SourceRow`
/// does, cannot go through diesel's `COPY`.)
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr, copy on postgres) => {{
        match &mut *$conn {
            $crate::db::DbConnection::Pg(c) if $rows.len() > 1 => {
                diesel::copy_from($table).from_insertable(&$rows[..]).execute(c)?
            }
            _ => $crate::db::write::insert_rows!($conn, $table, $rows),
        }
    }};
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        let mut written = 0usize;
        let rest = match &mut *$conn {
            $crate::db::DbConnection::Sqlite(c) => {
                let (runs, rest) = $rows.as_chunks::<{ $crate::db::write::ROWS_PER_KEPT_INSERT }>();
                for run in runs {
                    written += diesel::insert_into($table).values(run).execute(c)?;
                }
                rest
            }
            $crate::db::DbConnection::Pg(_) => &$rows[..],
        };
        for chunk in rest.chunks($crate::db::write::ROWS_PER_INSERT) {
            written += match (&mut *$conn, chunk) {
                ($crate::db::DbConnection::Sqlite(c), [row]) => diesel::insert_into($table).values(row).execute(c)?,
                ($crate::db::DbConnection::Pg(c), [row]) => diesel::insert_into($table).values(row).execute(c)?,
                ($crate::db::DbConnection::Sqlite(c), _) => diesel::insert_into($table).values(chunk).execute(c)?,
                ($crate::db::DbConnection::Pg(c), _) => diesel::insert_into($table).values(chunk).execute(c)?,
            };
        }
        written
    }};
}
pub(crate) use insert_rows;

/// Who made a change: an API key, or one of claimtrail's own commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A request made with this API key (its id).
    Key(String),
    /// A CLI command (`claimtrail import`, `keys create`, …).
    Cli,
    /// The seed loader.
    Seed,
    /// An import that carried no history of its own.
    Import,
    /// `claimtrail generate`.
    Generate,
}

impl Actor {
    /// As stored: `key:<id>`, or the command's name.
    pub fn to_db(&self) -> String {
        match self {
            Actor::Key(id) => format!("key:{id}"),
            Actor::Cli => "cli".to_string(),
            Actor::Seed => "seed".to_string(),
            Actor::Import => "import".to_string(),
            Actor::Generate => "generate".to_string(),
        }
    }

    pub fn from_db(text: &str) -> Actor {
        match text {
            "cli" => Actor::Cli,
            "seed" => Actor::Seed,
            "import" => Actor::Import,
            "generate" => Actor::Generate,
            other => Actor::Key(other.strip_prefix("key:").unwrap_or(other).to_string()),
        }
    }
}

/// One change: when, by whom, and the author's comment.
#[derive(Debug, Clone)]
pub struct Change {
    pub at: NaiveDateTime,
    pub actor: Actor,
    pub comment: Option<String>,
}

impl Change {
    /// A change made now.
    pub fn now(actor: Actor) -> Change {
        Change { at: crate::db::now(), actor, comment: None }
    }

    pub fn with_comment(mut self, comment: Option<String>) -> Change {
        self.comment = comment;
        self
    }
}

/// What a revision records of one change of one resource; the change's
/// author, time and comment are added when the transaction commits.
#[derive(Debug, Clone)]
pub struct Revision {
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub version: i32,
    pub action: RevisionAction,
    /// The resource as the API shows it after the change; `None` for a
    /// deletion (a tombstone).
    pub data: Option<String>,
    /// For a claim whose card changed without the claim: what changed it.
    pub cause: Option<String>,
}

crate::validate::text_enum! {
    /// The kinds of resource revisions are kept of.
    ResourceType {
        Agent = "agent",
        Source = "source",
        Claim = "claim",
        Attribution = "attribution",
        Key = "key",
        Review = "review",
    }
}

crate::validate::text_enum! {
    /// What a revision did.
    RevisionAction {
        /// The resource was created (through the API, the seed loader, an
        /// import or the generator).
        Create = "create",
        /// Its fields were changed.
        Update = "update",
        /// It was deleted; the revision is a tombstone without data.
        Delete = "delete",
        /// An earlier revision was made current again.
        Restore = "restore",
        /// A claim's card changed while the claim did not: `cause` says how.
        Card = "card",
        /// An API key was revoked.
        Revoke = "revoke",
    }
}

/// A write transaction: its connection, the change it makes, and the
/// revisions of that change, written just before it commits.
pub struct Tx<'c> {
    pub conn: &'c mut DbConnection,
    change: Change,
    pending: Vec<Revision>,
    /// False while an import loads a file that carries its own history.
    record: bool,
    /// A bulk write: claims' derived data is refreshed when it finishes.
    bulk: Option<crate::db::BulkWrite>,
}

impl<'c> Tx<'c> {
    pub fn new(conn: &'c mut DbConnection, change: Change) -> Tx<'c> {
        Tx { conn, change, pending: Vec::new(), record: true, bulk: None }
    }

    pub fn change(&self) -> &Change {
        &self.change
    }

    /// When the change is made.
    pub fn at(&self) -> NaiveDateTime {
        self.change.at
    }

    /// Keeps a revision, to be written at commit.
    pub fn record(&mut self, revision: impl FnOnce() -> Revision) {
        if self.record {
            self.pending.push(revision());
        }
    }

    /// Whether revisions are being recorded (not while an import loads a
    /// file that carries its own).
    pub fn recording(&self) -> bool {
        self.record
    }

    /// The pending revision of this resource, to amend before it is written.
    pub fn pending_mut(&mut self, resource_type: ResourceType, resource_id: &str) -> Option<&mut Revision> {
        self.pending.iter_mut().rev().find(|r| r.resource_type == resource_type && r.resource_id == resource_id)
    }

    /// Stops recording revisions: what is written comes with its own.
    pub fn carry_history(&mut self) {
        self.record = false;
    }

    /// For bulk writes (an import, the generator): each claim's derived
    /// data is refreshed once, when the transaction finishes, instead of at
    /// every claim, tag and attribution row written for it (see
    /// [`crate::db::begin_bulk_write`]).
    pub fn bulk(&mut self) -> diesel::QueryResult<()> {
        if self.bulk.is_none() {
            self.bulk = Some(crate::db::begin_bulk_write(self.conn)?);
        }
        Ok(())
    }

    /// Refreshes what a bulk write left stale, then writes the pending
    /// revisions: the transaction's last statements before it commits.
    pub fn finish(self) -> StoreResult<()> {
        if let Some(bulk) = self.bulk {
            crate::db::end_bulk_write(self.conn, bulk)?;
        }
        crate::revisions::store::append(self.conn, &self.change, self.pending)
    }
}

impl Revision {
    /// A revision holding the resource as the API shows it.
    pub fn of<T: serde::Serialize>(
        resource_type: ResourceType,
        resource_id: &str,
        version: i32,
        action: RevisionAction,
        resource: &T,
    ) -> Revision {
        Revision {
            resource_type,
            resource_id: resource_id.to_string(),
            version,
            action,
            data: serde_json::to_string(resource).ok(),
            cause: None,
        }
    }

    /// The tombstone of a deleted resource: the version after its last.
    pub fn tombstone(resource_type: ResourceType, resource_id: &str, last_version: i32) -> Revision {
        Revision {
            resource_type,
            resource_id: resource_id.to_string(),
            version: last_version + 1,
            action: RevisionAction::Delete,
            data: None,
            cause: None,
        }
    }

    pub fn because(mut self, cause: impl Into<String>) -> Revision {
        self.cause = Some(cause.into());
        self
    }
}

/// The fields of a resource as a revision holds it that a create body does
/// not take: everything the server sets.
pub const READ_ONLY_FIELDS: [&str; 7] =
    ["created_at", "updated_at", "version", "content_sha256", "quote_status", "quote_start", "quote_end"];

/// A deleted resource, as its last revision tells: the tombstone's version
/// and when the resource was first created, for restoring it.
#[derive(Debug, Clone, Copy)]
pub struct Tombstone {
    pub version: i32,
    pub created_at: NaiveDateTime,
}

impl Tombstone {
    /// The stamp of the resource made again now: the version after the tombstone.
    pub fn revived(self, at: NaiveDateTime) -> Stamp {
        Stamp { created_at: self.created_at, updated_at: at, version: self.version + 1 }
    }
}

/// Reference errors met while restoring: the revision names rows that are
/// gone, a conflict (409) rather than bad input.
pub fn dangling(error: StoreError) -> StoreError {
    match error {
        StoreError::Invalid(errors) => StoreError::Dangling(errors),
        other => other,
    }
}
