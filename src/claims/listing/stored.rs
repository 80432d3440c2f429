//! Posting lists of the terms in many claims, stored in the database
//! (`claim_term_lists`, SQLite), so that a server has them for the first
//! search of two such words without ranking every match by FTS5.
//!
//! A server keeps the lists of two words' terms in memory once a second
//! search wants them (see [`crate::db::postings`]): the first search of a
//! pair on a server is ranked by FTS5, 300–650 ms at a million claims for
//! two words in most claims, and reading a list row by row from
//! `claim_terms` costs about as much again. The same lists, stored as the
//! bytes a kept list holds (`PostingList::to_bytes`, eight bytes a
//! document), are one blob each: the first search reads them, carries them
//! over the documents logged in `claim_terms_log` since they were stored
//! ([`super::top::patched_all`], as a kept list is carried over a commit)
//! and keeps them, all inside its own snapshot.
//!
//! Only lists of terms in at least `--stored-lists-min-claims` claims are
//! stored: two rarer words are ranked by FTS5 within about 15 ms at a
//! million claims. A server finds which are due when it starts ([`due`]):
//! those missing, those the log no longer reaches back to (more than 4,000
//! documents changed since, or a bulk write that filled `claim_terms`
//! again), and those of another format; it writes them on a thread
//! of its own, one list at a time ([`store_due`]). It stores a list it
//! reads whole for searches too ([`store`]). [`write`] and
//! [`forget_uncommon`] are the table's only writes; the table is derived
//! data, never exported.

use diesel::deserialize::FromSql;
use diesel::sql_types::{BigInt, Binary, Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection, SqliteValue};
use diesel::{QueryableByName, RunQueryDsl};

use super::top::{log_seq, logged_since, patched_all, posting_list};
use crate::db::postings::{self, List, PostingList, Stored};
use crate::db::write::StoreResult;
use crate::db::{Db, DbConnection};

#[derive(QueryableByName)]
struct Place {
    #[diesel(sql_type = Text)]
    term: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    format: i64,
}

#[derive(QueryableByName)]
struct StoredList {
    #[diesel(sql_type = Text)]
    term: String,
    #[diesel(sql_type = Binary)]
    list: Decoded,
}

/// A stored list, read from the bytes SQLite holds for the column, without
/// copying them first: a list of 830,000 documents is 6.6 MB, and at that
/// size each copy costs a few milliseconds, most of it the first touch of
/// fresh memory. `None` if the bytes are not a list.
struct Decoded(Option<PostingList>);

impl FromSql<Binary, Sqlite> for Decoded {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> diesel::deserialize::Result<Decoded> {
        Ok(Decoded(PostingList::from_bytes(value.read_blob())))
    }
}

/// The terms as a JSON array, for `json_each`.
fn json_terms<S: AsRef<str>>(terms: &[S]) -> String {
    serde_json::json!(terms.iter().map(AsRef::as_ref).collect::<Vec<&str>>()).to_string()
}

/// The stored lists of `terms` as of the caller's snapshot: each read,
/// and carried over the documents logged since it was stored. Those not
/// stored are left out, and so are those out of date (counted `stale`,
/// and not read): the log no longer tells what changed since, or the
/// bytes are not a list. Call it inside a transaction, with the log's
/// place read in it.
pub fn fetch(
    conn: &mut SqliteConnection,
    cache: &postings::PostingCache,
    terms: &[&str],
) -> StoreResult<Vec<(String, List)>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let places: Vec<Place> = diesel::sql_query(
        "SELECT term, seq, format FROM claim_term_lists WHERE term IN (SELECT value FROM json_each(?))",
    )
    .bind::<Text, _>(json_terms(terms))
    .load(conn)?;
    // What changed since each was stored, for those the log can tell.
    let mut current = Vec::with_capacity(places.len());
    for place in places.iter().filter(|place| place.format == FORMAT) {
        if let Some((_, changed)) = logged_since(conn, place.seq)? {
            current.push((place.term.as_str(), changed));
        }
    }
    let mut stale = places.len() - current.len();
    let mut fetched = Vec::with_capacity(current.len());
    if !current.is_empty() {
        let names: Vec<&str> = current.iter().map(|(term, _)| *term).collect();
        let lists: Vec<StoredList> =
            diesel::sql_query("SELECT term, list FROM claim_term_lists WHERE term IN (SELECT value FROM json_each(?))")
                .bind::<Text, _>(json_terms(&names))
                .load(conn)?;
        for StoredList { term, list } in lists {
            let changed = current.iter().find(|(t, _)| *t == term).map(|(_, changed)| changed.as_slice());
            match (list.0, changed) {
                (Some(list), Some(changed)) => {
                    fetched.extend(patched_all(conn, [(term, std::sync::Arc::new(list))], changed)?);
                }
                _ => stale += 1,
            }
        }
    }
    cache.count_stored(Stored::Loaded, fetched.len());
    cache.count_stored(Stored::Stale, stale);
    Ok(fetched)
}

/// The terms whose stored lists hold `least` documents or more and can be
/// read now, those of the most first: of this build's format, and the log
/// reaches back to when they were stored (read once for each place lists
/// were stored at). The field break's is never among them.
pub fn current(conn: &mut SqliteConnection, least: i64) -> StoreResult<Vec<String>> {
    let places: Vec<Place> = diesel::sql_query(
        "SELECT term, seq, format FROM claim_term_lists WHERE docs >= ? AND term <> ? ORDER BY docs DESC, term",
    )
    .bind::<BigInt, _>(least)
    .bind::<Text, _>(crate::stems::FIELD_BREAK_TERM)
    .load(conn)?;
    let mut log = Reach::default();
    let mut terms = Vec::with_capacity(places.len());
    for Place { term, seq, format } in places {
        if format == FORMAT && log.reaches_back_to(conn, seq)? {
            terms.push(term);
        }
    }
    Ok(terms)
}

/// Whether `claim_terms_log` reaches back to places lists were stored at,
/// the log read once for each place (lists stored at once share one).
#[derive(Default)]
struct Reach(std::collections::HashMap<i64, bool>);

impl Reach {
    fn reaches_back_to(&mut self, conn: &mut SqliteConnection, seq: i64) -> StoreResult<bool> {
        if let Some(reaches) = self.0.get(&seq) {
            return Ok(*reaches);
        }
        let reaches = logged_since(conn, seq)?.is_some();
        self.0.insert(seq, reaches);
        Ok(reaches)
    }
}

/// The `format` of the lists this build writes and reads: the bytes of
/// [`PostingList::to_bytes`], marked [`postings::STORED_FORMAT`].
const FORMAT: i64 = 1;

/// Stores `list`, read as of `seq` (the log's place in its snapshot), as
/// `term`'s, unless a list of a later snapshot is stored (one of another
/// format is replaced whatever its snapshot): with
/// [`forget_uncommon`], the only writes to `claim_term_lists`. Whether it
/// was written.
pub fn write(conn: &mut SqliteConnection, term: &str, seq: i64, list: &PostingList) -> StoreResult<bool> {
    let Some(bytes) = list.to_bytes() else { return Ok(false) };
    let docs = i64::try_from(list.docs().len()).unwrap_or(i64::MAX);
    let written = diesel::sql_query(
        "INSERT INTO claim_term_lists (term, seq, format, docs, list) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (term) DO UPDATE SET seq = excluded.seq, format = excluded.format, docs = excluded.docs, \
         list = excluded.list WHERE excluded.seq > claim_term_lists.seq OR claim_term_lists.format <> excluded.format",
    )
    .bind::<Text, _>(term)
    .bind::<BigInt, _>(seq)
    .bind::<BigInt, _>(FORMAT)
    .bind::<BigInt, _>(docs)
    .bind::<Binary, _>(bytes)
    .execute(conn)?;
    Ok(written > 0)
}

/// Stores those of `lists` (each read whole as of `seq`) whose terms are
/// in enough claims to be stored, in one write transaction on `conn`, if
/// it is this process's turn to write now: the caller holds `conn`, and
/// waiting for the turn could keep the writer that holds it from the
/// connection it waits for. Lists not stored now are stored by the next
/// server that starts. A failure is logged: the lists are kept in memory
/// all the same.
pub fn store(db: &Db, conn: &mut DbConnection, seq: i64, lists: &[(String, List)]) {
    let Some(min) = db.stored_lists_min_claims() else { return };
    let worth: Vec<&(String, List)> =
        lists.iter().filter(|(term, list)| worth_storing(term, list.docs().len(), min)).collect();
    if worth.is_empty() {
        return;
    }
    let Some(_turn) = db.writer_turn_now() else {
        tracing::debug!(lists = worth.len(), "posting lists not stored: another write is under way");
        return;
    };
    let written = crate::db::write_transaction(conn, |conn| {
        let DbConnection::Sqlite(conn) = conn else { return Ok(0) };
        let mut written = 0;
        for (term, list) in &worth {
            written += usize::from(write(conn, term, seq, list)?);
        }
        StoreResult::Ok(written)
    });
    match written {
        Ok(written) => db.terms().cache().count_stored(Stored::Written, written),
        Err(error) => tracing::warn!(%error, "posting lists read for a search were not stored"),
    }
}

/// Drops the stored lists of terms in fewer than `min` claims now (or in
/// none), and that of the field break ([`crate::stems::FIELD_BREAK_TERM`],
/// stored by builds before it was left out): they would never be used,
/// or only after being found stale each time. How many were dropped.
fn forget_uncommon(conn: &mut SqliteConnection, min: i64) -> StoreResult<usize> {
    Ok(diesel::sql_query(format!("DELETE FROM claim_term_lists WHERE {UNCOMMON}"))
        .bind::<Text, _>(crate::stems::FIELD_BREAK_TERM)
        .bind::<BigInt, _>(min)
        .execute(conn)?)
}

/// The stored lists [`forget_uncommon`] drops: the field break's (bound
/// first) and those of terms in fewer claims than the second parameter.
const UNCOMMON: &str = "term = ? OR term NOT IN (SELECT term FROM claim_term_docs WHERE docs >= ?)";

/// Whether `term`'s list, of `docs` documents, is worth storing with
/// `--stored-lists-min-claims` at `min`: the field break's never is (no
/// search reads it).
fn worth_storing(term: &str, docs: usize, min: u64) -> bool {
    term != crate::stems::FIELD_BREAK_TERM && u64::try_from(docs).is_ok_and(|docs| docs >= min)
}

/// What the job at start is to do, found when a server starts
/// ([`due`]), and what it did.
#[derive(Debug, Default)]
pub struct Stocking {
    /// The terms in at least `--stored-lists-min-claims` claims whose lists
    /// are to be written, those in the most claims first, each with
    /// whether a list is stored for it now (that the log no longer reaches
    /// back to, or of another format).
    pub due: Vec<(String, bool)>,
    /// Lists stored and carried by the log to now: nothing to do.
    pub current: usize,
    /// Lists stored of terms in too few claims now, to be dropped.
    pub uncommon: usize,
    /// Lists written.
    pub written: usize,
    /// Lists dropped (of terms in too few claims now).
    pub dropped: usize,
    /// Lists that could not be read or written (logged).
    pub failed: usize,
}

/// Runs `f` on a pooled connection to a SQLite file (`None` on
/// PostgreSQL), which is marked as having answered or not.
fn on_sqlite<T>(db: &Db, f: impl FnOnce(&mut DbConnection) -> StoreResult<T>) -> Result<Option<T>, String> {
    let mut conn = db.get().map_err(|error| error.to_string())?;
    if !matches!(&*conn, DbConnection::Sqlite(_)) {
        return Ok(None);
    }
    let done = f(&mut conn);
    crate::db::answered(&mut conn, done.is_ok());
    done.map(Some).map_err(|error| error.to_string())
}

/// Runs `write` in a write transaction on a pooled connection to a SQLite
/// file, in this process's turn to write, taken before the connection as
/// [`Db::write`] takes it; `T::default()` on PostgreSQL.
fn write_in_turn<T: Default>(
    db: &Db,
    write: impl FnOnce(&mut SqliteConnection) -> StoreResult<T>,
) -> Result<T, String> {
    let _turn = db.writer_turn();
    let written = on_sqlite(db, |conn| {
        crate::db::write_transaction(conn, |conn| match conn {
            DbConnection::Sqlite(conn) => write(conn),
            DbConnection::Pg(_) => Ok(T::default()),
        })
    });
    written.map(Option::unwrap_or_default)
}

/// Which lists the job at start is to write: those of the terms in at
/// least `--stored-lists-min-claims` claims that are not stored, or
/// whose stored list the log no longer reaches back to or is of another
/// format; and how many stored lists are of terms in too few claims. Two
/// queries and the log read once for each place lists were stored at, in
/// one snapshot, and no blob read: it runs before the server serves.
/// `None` when storing is off, on PostgreSQL or for a database in memory.
pub fn due(db: &Db) -> Result<Option<Stocking>, String> {
    let Some(min) = db.stored_lists_min_claims() else { return Ok(None) };
    let min = i64::try_from(min).unwrap_or(i64::MAX);
    #[derive(QueryableByName)]
    struct Common {
        #[diesel(sql_type = Text)]
        term: String,
        #[diesel(sql_type = Nullable<BigInt>)]
        seq: Option<i64>,
        #[diesel(sql_type = Nullable<BigInt>)]
        format: Option<i64>,
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    on_sqlite(db, |conn| {
        let DbConnection::Sqlite(conn) = conn else { return Ok(Stocking::default()) };
        diesel::Connection::transaction(conn, |conn| {
            let common: Vec<Common> = diesel::sql_query(
                "SELECT d.term, l.seq, l.format \
                 FROM claim_term_docs AS d LEFT JOIN claim_term_lists AS l ON l.term = d.term \
                 WHERE d.docs >= ? AND d.term <> ? ORDER BY d.docs DESC, d.term",
            )
            .bind::<BigInt, _>(min)
            .bind::<Text, _>(crate::stems::FIELD_BREAK_TERM)
            .load(conn)?;
            let mut stocking = Stocking::default();
            let mut log = Reach::default();
            for Common { term, seq, format } in common {
                let current = match (seq, format) {
                    (Some(seq), Some(FORMAT)) => log.reaches_back_to(conn, seq)?,
                    _ => false,
                };
                match current {
                    true => stocking.current += 1,
                    false => stocking.due.push((term, seq.is_some())),
                }
            }
            let uncommon: Count =
                diesel::sql_query(format!("SELECT count(*) AS count FROM claim_term_lists WHERE {UNCOMMON}"))
                    .bind::<Text, _>(crate::stems::FIELD_BREAK_TERM)
                    .bind::<BigInt, _>(min)
                    .get_result(conn)?;
            stocking.uncommon = usize::try_from(uncommon.count).unwrap_or(0);
            Ok(stocking)
        })
    })
}

/// Writes the lists [`due`] found due, the terms in the most claims first,
/// and drops those of terms in too few claims: each list read whole in a
/// snapshot of its own, then written in a transaction of its own, the
/// writer's turn taken before the connection, as [`Db::write`] takes it.
/// A list that cannot be read or written is logged and passed over (the
/// next server that starts tries it again); after three such failures the
/// job stops. Run by a server when it starts, on a thread of its own.
pub fn store_due(db: &Db, mut stocking: Stocking) -> Stocking {
    let Some(min) = db.stored_lists_min_claims() else { return stocking };
    let min = i64::try_from(min).unwrap_or(i64::MAX);
    let started = std::time::Instant::now();
    let due = std::mem::take(&mut stocking.due);
    if !due.is_empty() {
        tracing::info!(lists = due.len(), min_claims = min, "storing posting lists of the terms in many claims");
    }
    let stale = due.iter().filter(|(_, stored)| *stored).count();
    db.terms().cache().count_stored(Stored::Stale, stale);
    if stocking.uncommon > 0 {
        match write_in_turn(db, |conn| forget_uncommon(conn, min)) {
            Ok(forgotten) => stocking.dropped = forgotten,
            Err(error) => {
                tracing::warn!(%error, "the stored posting lists of terms in too few claims were not dropped")
            }
        }
    }
    for (term, _) in due {
        if stocking.failed >= 3 {
            break;
        }
        // In one snapshot: the list whole, and the log's place.
        let read = on_sqlite(db, |conn| {
            diesel::Connection::transaction(conn, |conn| match conn {
                DbConnection::Sqlite(conn) => Ok((log_seq(conn)?, posting_list(conn, &term)?)),
                DbConnection::Pg(_) => Ok((0, None)),
            })
        });
        let (seq, list) = match read {
            Ok(Some((seq, Some(list)))) => (seq, list),
            // On PostgreSQL, or a list that cannot be held as one.
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(%error, term, "a posting list to be stored could not be read");
                stocking.failed += 1;
                continue;
            }
        };
        match write_in_turn(db, |conn| write(conn, &term, seq, &list)) {
            Ok(true) => {
                stocking.written += 1;
                db.terms().cache().count_stored(Stored::Written, 1);
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, term, "a posting list could not be stored");
                stocking.failed += 1;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (written, current, dropped, failed) = (stocking.written, stocking.current, stocking.dropped, stocking.failed);
    tracing::info!(written, current, stale, dropped, failed, seconds, "posting lists stored");
    stocking
}

#[cfg(test)]
mod tests {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::db::postings::Posting;

    fn list(docs: &[i64]) -> PostingList {
        let postings = docs.iter().map(|&doc| Posting { doc, written: 1, stemmed: 0, length: 3 });
        PostingList::new(postings).expect("a list")
    }

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        seq: i64,
        #[diesel(sql_type = BigInt)]
        docs: i64,
        #[diesel(sql_type = Binary)]
        list: Decoded,
    }

    #[test]
    fn a_list_stored_is_replaced_only_by_one_of_a_later_snapshot() {
        let mut c = SqliteConnection::establish(":memory:").expect("a database");
        c.batch_execute(include_str!("../../../migrations/sqlite/2026-12-05-000150_claim_term_lists/up.sql"))
            .expect("the table");
        assert!(write(&mut c, "gao", 5, &list(&[1, 2])).expect("written"));
        assert!(!write(&mut c, "gao", 4, &list(&[3])).expect("not written"), "an earlier snapshot");
        assert!(!write(&mut c, "gao", 5, &list(&[3])).expect("not written"), "the same snapshot");
        let read = |c: &mut SqliteConnection| -> Row {
            diesel::sql_query("SELECT seq, docs, list FROM claim_term_lists WHERE term = 'gao'")
                .get_result(c)
                .expect("the stored list")
        };
        let row = read(&mut c);
        assert_eq!((row.seq, row.docs, row.list.0), (5, 2, Some(list(&[1, 2]))));
        assert!(write(&mut c, "gao", 6, &list(&[3])).expect("written"), "a later snapshot");
        let row = read(&mut c);
        assert_eq!((row.seq, row.docs, row.list.0), (6, 1, Some(list(&[3]))));

        // A list of another format (a later version's) is replaced, even
        // by a list of the same snapshot.
        c.batch_execute("UPDATE claim_term_lists SET format = 2").expect("updated");
        assert!(write(&mut c, "gao", 6, &list(&[4])).expect("written"), "another format, same snapshot");
        assert_eq!(read(&mut c).list.0, Some(list(&[4])));
        let format: Vec<Row> =
            diesel::sql_query("SELECT seq, format AS docs, list FROM claim_term_lists").load(&mut c).expect("the row");
        assert_eq!(format.iter().map(|row| row.docs).collect::<Vec<_>>(), [FORMAT], "this build's format");
    }

    #[test]
    fn the_lists_of_terms_in_too_few_claims_are_dropped() {
        let mut c = SqliteConnection::establish(":memory:").expect("a database");
        c.batch_execute(include_str!("../../../migrations/sqlite/2026-12-05-000150_claim_term_lists/up.sql"))
            .expect("the table");
        c.batch_execute(
            "CREATE TABLE claim_term_docs (term TEXT PRIMARY KEY, docs INTEGER NOT NULL);
             INSERT INTO claim_term_docs VALUES ('mali', 900), ('gao', 40);",
        )
        .expect("the counts");
        c.batch_execute(&format!("INSERT INTO claim_term_docs VALUES ('{}', 1000)", crate::stems::FIELD_BREAK_TERM))
            .expect("the field break's count");
        for term in ["mali", "gao", "bamako", crate::stems::FIELD_BREAK_TERM] {
            assert!(write(&mut c, term, 1, &list(&[1])).expect("written"));
        }
        assert_eq!(forget_uncommon(&mut c, 100).expect("dropped"), 3, "gao (40 claims), bamako (none), the break");
        #[derive(QueryableByName)]
        struct Term {
            #[diesel(sql_type = Text)]
            term: String,
        }
        let left: Vec<Term> = diesel::sql_query("SELECT term FROM claim_term_lists").load(&mut c).expect("the terms");
        assert_eq!(left.into_iter().map(|t| t.term).collect::<Vec<_>>(), ["mali"]);
    }

    #[test]
    fn only_lists_a_search_can_read_and_in_enough_claims_are_worth_storing() {
        assert!(worth_storing("mali", 100, 100));
        assert!(!worth_storing("mali", 99, 100), "too few claims");
        assert!(!worth_storing(crate::stems::FIELD_BREAK_TERM, 1000, 100), "no search reads the field break");
    }
}
