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
//! million claims. A server stores them when it starts, in the background,
//! one list at a time ([`store_common`]): those missing, and those the log
//! no longer reaches back to (more than 4,000 documents changed since, or
//! a bulk write that filled `claim_terms` again). It stores a list it
//! reads whole for searches too ([`store`]). [`write`] is the table's only
//! write path; the table is derived data, never exported.

use diesel::deserialize::FromSql;
use diesel::sql_types::{BigInt, Binary, Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection, SqliteValue};
use diesel::{QueryableByName, RunQueryDsl};

use super::top::{log_seq, logged_since, patched_all, posting_list};
use crate::db::postings::{self, List, PostingList, Stored};
use crate::db::write::StoreResult;
use crate::db::{Db, DbConnection};

#[derive(QueryableByName)]
struct StoredRow {
    #[diesel(sql_type = Text)]
    term: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
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

/// The stored lists of `terms` as of the caller's snapshot: each read,
/// and carried over the documents logged since it was stored. Those not
/// stored are left out, and so are those out of date (counted `stale`):
/// the log no longer tells what changed since, or the bytes are not a
/// list. Call it inside a transaction, with the log's place read in it.
pub fn fetch(
    conn: &mut SqliteConnection,
    cache: &postings::PostingCache,
    terms: &[&str],
) -> StoreResult<Vec<(String, List)>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<StoredRow> = diesel::sql_query(
        "SELECT term, seq, list FROM claim_term_lists WHERE term IN (SELECT value FROM json_each(?))",
    )
    .bind::<Text, _>(serde_json::json!(terms).to_string())
    .load(conn)?;
    let mut fetched = Vec::with_capacity(rows.len());
    let mut stale = 0;
    for row in rows {
        let list = row.list.0;
        let since = match list {
            Some(_) => logged_since(conn, row.seq)?,
            None => None,
        };
        match (list, since) {
            (Some(list), Some((_, changed))) => {
                fetched.extend(patched_all(conn, [(row.term, std::sync::Arc::new(list))], &changed)?);
            }
            _ => stale += 1,
        }
    }
    cache.count_stored(Stored::Loaded, fetched.len());
    cache.count_stored(Stored::Stale, stale);
    Ok(fetched)
}

/// Stores `list`, read as of `seq` (the log's place in its snapshot), as
/// `term`'s, unless a list of a later snapshot is stored: the only write
/// to `claim_term_lists`. Whether it was written.
pub fn write(conn: &mut SqliteConnection, term: &str, seq: i64, list: &PostingList) -> StoreResult<bool> {
    let Some(bytes) = list.to_bytes() else { return Ok(false) };
    let docs = i64::try_from(list.docs().len()).unwrap_or(i64::MAX);
    let written = diesel::sql_query(
        "INSERT INTO claim_term_lists (term, seq, docs, list) VALUES (?, ?, ?, ?) \
         ON CONFLICT (term) DO UPDATE SET seq = excluded.seq, docs = excluded.docs, list = excluded.list \
         WHERE excluded.seq > claim_term_lists.seq",
    )
    .bind::<Text, _>(term)
    .bind::<BigInt, _>(seq)
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
        lists.iter().filter(|(_, list)| u64::try_from(list.docs().len()).is_ok_and(|docs| docs >= min)).collect();
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

/// What [`store_common`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stocked {
    /// Lists written.
    pub written: usize,
    /// Lists already stored and carried by the log to now.
    pub current: usize,
    /// Lists stored that the log no longer reaches back to (written anew).
    pub stale: usize,
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

/// Stores the list of every term in at least `--stored-lists-min-claims`
/// claims that is not stored, or whose stored list the log no longer
/// reaches back to, the terms in the most claims first: each read whole
/// in a snapshot of its own, then written in a transaction of its own,
/// the writer's turn taken before the connection, as [`Db::write`] takes
/// it. Run by a server when it starts, in the background. Nothing on
/// PostgreSQL, for a database in memory, or when storing is off.
pub fn store_common(db: &Db) -> Result<Stocked, String> {
    let mut stocked = Stocked::default();
    let Some(min) = db.stored_lists_min_claims() else { return Ok(stocked) };
    #[derive(QueryableByName)]
    struct Common {
        #[diesel(sql_type = Text)]
        term: String,
        #[diesel(sql_type = Nullable<BigInt>)]
        seq: Option<i64>,
    }
    let common = on_sqlite(db, |conn| {
        let DbConnection::Sqlite(conn) = conn else { return Ok(Vec::new()) };
        let common: Vec<Common> = diesel::sql_query(
            "SELECT d.term, l.seq FROM claim_term_docs AS d LEFT JOIN claim_term_lists AS l ON l.term = d.term \
             WHERE d.docs >= ? ORDER BY d.docs DESC, d.term",
        )
        .bind::<BigInt, _>(i64::try_from(min).unwrap_or(i64::MAX))
        .load(conn)?;
        Ok(common)
    })?
    .unwrap_or_default();
    if common.is_empty() {
        return Ok(stocked);
    }
    let started = std::time::Instant::now();
    let mut announced = false;
    for Common { term, seq: stored_at } in common {
        // In one snapshot: whether the stored list is current, else the
        // list whole and the log's place.
        let read = on_sqlite(db, |conn| {
            let DbConnection::Sqlite(conn) = conn else { return Ok(None) };
            diesel::Connection::transaction(conn, |conn| {
                if let Some(seq) = stored_at
                    && logged_since(conn, seq)?.is_some()
                {
                    return StoreResult::Ok(None);
                }
                Ok(Some((log_seq(conn)?, posting_list(conn, &term)?)))
            })
        })?
        .flatten();
        let Some((seq, list)) = read else {
            stocked.current += 1;
            continue;
        };
        if stored_at.is_some() {
            stocked.stale += 1;
            db.terms().cache().count_stored(Stored::Stale, 1);
        }
        let Some(list) = list else { continue };
        if !announced {
            tracing::info!(min_claims = min, "storing posting lists of the terms in many claims");
            announced = true;
        }
        let turn = db.writer_turn();
        let written = on_sqlite(db, |conn| {
            crate::db::write_transaction(conn, |conn| match conn {
                DbConnection::Sqlite(conn) => write(conn, &term, seq, &list),
                DbConnection::Pg(_) => Ok(false),
            })
        })?;
        drop(turn);
        if written == Some(true) {
            stocked.written += 1;
            db.terms().cache().count_stored(Stored::Written, 1);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (written, current, stale) = (stocked.written, stocked.current, stocked.stale);
    tracing::info!(written, current, stale, seconds, "posting lists stored");
    Ok(stocked)
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
    }
}
