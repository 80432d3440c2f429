//! Bulk writes (an import, the generator): claims' derived data refreshed
//! once per claim at the end, on both backends; on SQLite also the indexes
//! of a nearly empty database built once at the end, and the connection's
//! settings for a write of hundreds of megabytes.

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;

use super::DbConnection;

/// SQLite's page cache during a bulk write through the WAL, in KiB (the
/// default is 2,000 KiB). Refreshing 100,000 imported claims inserts their
/// backers into indexes that outgrow the default cache: pages were written
/// to the WAL and read back. 64 MiB: 94 s to 76 s for that import, 1 GiB
/// only 70 s. With a rollback journal, see [`JOURNAL_BULK_CACHE_KIB`].
const BULK_CACHE_KIB: u32 = 64 * 1024;

/// SQLite's page cache during a bulk write with a rollback journal
/// ([`FileUse::Sole`]), in KiB. A page the cache lets go is written into
/// the file itself, where reading it back is a read of the system's page
/// cache, not a lookup in the write-ahead log: a small cache costs little,
/// and a large one costs its own upkeep. The import of 100,000 claims into
/// a new database took 18.4 s with 64 MiB, 17.4 s with 24 MiB, 17.0–17.3 s
/// with 8 MiB, and 20.0 s with 256 MiB; its peak RSS 434, 361, 320 and
/// 639 MiB.
const JOURNAL_BULK_CACHE_KIB: u32 = 8 * 1024;

/// Threads besides its own that a bulk write's connection may sort with
/// (`PRAGMA threads`): filling `claim_terms` in order and building an
/// index are sorts, which SQLite splits between them.
const BULK_SORT_THREADS: u32 = 2;

/// A SQLite connection's settings that a bulk write changes, as its
/// `PRAGMA`s tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Pages, or KiB when negative.
    pub cache_size: i64,
    /// Bytes.
    pub mmap_size: i64,
    /// Threads besides the connection's own that it may sort with.
    pub threads: i64,
    /// The statement deadline, in milliseconds (0 for none; see
    /// [`super::deadline`]).
    pub statement_timeout_ms: i64,
    /// Whether the file is in WAL mode (`PRAGMA journal_mode`), as the
    /// server keeps it; a bulk write from the command line leaves it for
    /// a rollback journal while it runs (see [`FileUse::Sole`]).
    pub wal: bool,
}

/// Who else may use the database file while a bulk write runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileUse {
    /// Other connections may read it meanwhile (a server's import): the
    /// bulk write goes through the write-ahead log like any other.
    Shared,
    /// The caller holds the only connection it opened (`claimtrail import`
    /// and `generate`): the bulk write tries to take the file for itself
    /// and write it with a rollback journal instead of the WAL, and gives
    /// it back in WAL mode at its end.
    ///
    /// Through the WAL, every page is written twice: into the log at the
    /// commit, then into the file by the checkpoint that follows. A
    /// rollback journal holds only the pages the write changes, as they
    /// were; pages new to the file go there once. In the import of 100,000
    /// claims into a new database, the revisions' write and the commit took
    /// 1.35 s instead of 3.9 s; the import as a whole went from 13,471 to
    /// 16,187 records/s (medians of three rounds). All or nothing still
    /// holds: a write cut off leaves the journal behind, and the next
    /// connection to open the file rolls it back.
    ///
    /// SQLite leaves WAL mode only when no other connection has the file
    /// open. When one has (a server runs on it), the switch fails at once
    /// and the bulk write goes through the WAL as [`FileUse::Shared`]. A
    /// connection that opens the file while the write runs waits for it:
    /// readers cannot read beside a rollback journal's writer.
    Sole,
}

impl Settings {
    pub fn of(c: &mut SqliteConnection) -> diesel::QueryResult<Settings> {
        #[derive(diesel::QueryableByName)]
        struct CacheSize {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            cache_size: i64,
        }
        #[derive(diesel::QueryableByName)]
        struct MmapSize {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            mmap_size: i64,
        }
        #[derive(diesel::QueryableByName)]
        struct Threads {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            threads: i64,
        }
        #[derive(diesel::QueryableByName)]
        struct JournalMode {
            #[diesel(sql_type = diesel::sql_types::Text)]
            journal_mode: String,
        }
        #[derive(diesel::QueryableByName)]
        struct Timeout {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            ms: i64,
        }
        Ok(Settings {
            cache_size: diesel::sql_query("PRAGMA cache_size").get_result::<CacheSize>(c)?.cache_size,
            mmap_size: diesel::sql_query("PRAGMA mmap_size").get_result::<MmapSize>(c)?.mmap_size,
            threads: diesel::sql_query("PRAGMA threads").get_result::<Threads>(c)?.threads,
            statement_timeout_ms: diesel::sql_query(format!(
                "SELECT {}() AS ms",
                super::deadline::SET_TIMEOUT_FUNCTION
            ))
            .get_result::<Timeout>(c)?
            .ms,
            wal: diesel::sql_query("PRAGMA journal_mode").get_result::<JournalMode>(c)?.journal_mode == "wal",
        })
    }
}

/// Readies a connection for a bulk write, before its first transaction:
/// a page cache of [`BULK_CACHE_KIB`], [`BULK_SORT_THREADS`] threads to
/// sort with, no memory map, and no statement deadline. A server's
/// connections stop any statement after a few seconds; one statement of a
/// bulk write refreshes every claim it wrote (6 s for 100,000), and an
/// import sent to the server was stopped so, and rolled back, halfway.
/// On PostgreSQL [`begin_bulk_write`] lifts the deadline for the
/// transaction (`SET LOCAL`).
///
/// Without the map, SQLite looks for a page in its own cache first; with
/// it, every page it reads is first looked up in the write-ahead log, which
/// a bulk write fills with hundreds of thousands of pages. In the import of
/// 100,000 claims, that lookup (`walFindFrame`) was a tenth of the claims'
/// refresh, and the refresh took 7.0 s instead of 8.0 s without the map.
/// With [`FileUse::Sole`], the file is also taken from the WAL for a
/// rollback journal, when no other connection has it open.
///
/// Gives the settings as they were (none on PostgreSQL), for
/// [`after_bulk_write`] to set back.
pub fn before_bulk_write(conn: &mut DbConnection, file: FileUse) -> diesel::QueryResult<Option<Settings>> {
    match conn {
        DbConnection::Sqlite(c) => {
            let saved = Settings::of(c)?;
            let set = match file {
                FileUse::Sole if saved.wal => leave_wal(c),
                _ => Ok(false),
            }
            .and_then(|journal| {
                let cache = if journal { JOURNAL_BULK_CACHE_KIB } else { BULK_CACHE_KIB };
                c.batch_execute(&format!(
                    "PRAGMA cache_size = -{cache}; PRAGMA mmap_size = 0; PRAGMA threads = {BULK_SORT_THREADS}; \
                     SELECT {}(0);",
                    super::deadline::SET_TIMEOUT_FUNCTION
                ))
            });
            if set.is_err() {
                // Some may have taken: not lent again with them.
                super::pool::discard(conn);
            }
            set.map(|()| Some(saved))
        }
        DbConnection::Pg(_) => Ok(None),
    }
}

/// After a bulk write's transactions, committed or rolled back (a dry run,
/// a failed import): sets back what [`before_bulk_write`] changed, so that
/// a pooled connection does not keep a large cache, and gives a file taken
/// from the WAL back to it. A connection whose settings cannot be set back
/// is dropped by the pool when it comes back; a file that stays out of WAL
/// mode is a warning, not an error, since the write is done and the next
/// start asks for WAL mode again.
pub fn after_bulk_write(conn: &mut DbConnection, saved: Option<Settings>) -> diesel::QueryResult<()> {
    let Some(settings) = saved else { return Ok(()) };
    let DbConnection::Sqlite(c) = conn else { return Ok(()) };
    let restored = c.batch_execute(&format!(
        "PRAGMA cache_size = {}; PRAGMA mmap_size = {}; PRAGMA threads = {}; SELECT {}({});",
        settings.cache_size,
        settings.mmap_size,
        settings.threads,
        super::deadline::SET_TIMEOUT_FUNCTION,
        settings.statement_timeout_ms
    ));
    if settings.wal {
        match c.batch_execute("PRAGMA journal_mode = WAL") {
            Ok(()) => {
                if let Err(e) = empty_wal(c) {
                    // Its busy timeout may not be set back: not lent again.
                    tracing::warn!(error = %e, "after a bulk write: the connection's busy timeout was not set back");
                    super::pool::discard(conn);
                }
            }
            Err(e) => {
                // What was written stays written: the next connection to
                // open the file (`Db::connect`) asks for WAL mode again.
                tracing::warn!(error = %e, "after a bulk write: the file could not go back to WAL mode");
                super::pool::discard(conn);
            }
        }
    }
    if restored.is_err() {
        // Not lent again with a bulk write's settings, which the next bulk
        // write would take for the connection's own.
        super::pool::discard(conn);
    }
    restored
}

/// Runs `f` with the connection's `busy_timeout` at 0 (a lock another
/// connection holds fails at once), and sets the timeout back after it.
/// The outer error is the timeout's; `f`'s own result is inside.
fn without_waiting<T>(
    c: &mut SqliteConnection,
    f: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<diesel::QueryResult<T>> {
    #[derive(diesel::QueryableByName)]
    struct Timeout {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        timeout: i64,
    }
    let waits = diesel::sql_query("PRAGMA busy_timeout").get_result::<Timeout>(c)?.timeout;
    c.batch_execute("PRAGMA busy_timeout = 0")?;
    let done = f(c);
    c.batch_execute(&format!("PRAGMA busy_timeout = {waits}"))?;
    Ok(done)
}

/// After a bulk write through the write-ahead log ([`FileUse::Shared`]: a
/// server's import), empties the log if no other connection is reading or
/// writing through it just then: asked without waiting (`busy_timeout` 0),
/// so that no reader holds the write up. The log held the whole write (as
/// large as the database it wrote), and the commit's automatic checkpoint
/// copied it into the file but kept the log's size; emptied, it does not
/// take that room on disk until the next write cuts it back
/// ([`super::pool::WAL_SIZE_LIMIT_BYTES`]). Whether it could is only logged:
/// the write is done either way. After a bulk write with a rollback journal
/// the log is empty already, and this costs nothing. An error is the busy
/// timeout's, which may not have been set back.
fn empty_wal(c: &mut SqliteConnection) -> diesel::QueryResult<()> {
    #[derive(diesel::QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        busy: i32,
    }
    let emptied =
        without_waiting(c, |c| diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result::<Checkpoint>(c));
    match emptied? {
        Ok(checkpoint) if checkpoint.busy == 0 => tracing::debug!("after a bulk write: the write-ahead log emptied"),
        Ok(_) => tracing::debug!("after a bulk write: the write-ahead log is in use; the next write cuts it back"),
        Err(e) => tracing::warn!(error = %e, "after a bulk write: the write-ahead log could not be emptied"),
    }
    Ok(())
}

/// Leaves WAL mode for a rollback journal, if no other connection has the
/// file open: asked without waiting (`busy_timeout` 0), since one that has
/// it open would keep it until it closes. Refused so, the connection stays
/// in WAL mode, and that is not an error. Says whether it left.
fn leave_wal(c: &mut SqliteConnection) -> diesel::QueryResult<bool> {
    match without_waiting(c, |c| c.batch_execute("PRAGMA journal_mode = DELETE"))? {
        Ok(()) => Ok(true),
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("locked") => {
            tracing::debug!("bulk write: the file is open elsewhere; it goes through the WAL");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// A bulk write under way in a transaction: the statements that make again
/// the indexes it dropped at its start, with their tables.
#[derive(Debug)]
pub struct BulkWrite {
    deferred: Vec<(&'static str, String)>,
}

/// A bulk write into a database of fewer claims than this drops the
/// secondary indexes of `claims`, `claim_tags` and `attributions` at its
/// start and builds them at its end.
///
/// Built at the end, each index is one sort of its table, instead of an
/// insert at a random place of it for every row: the import of 100,000
/// claims wrote its records in 5.2 s instead of 7.7 s without those
/// indexes, and built them in 1.1 s. Below this many claims, building them
/// again costs a few milliseconds, even when the write is small.
pub const DEFER_INDEXES_BELOW: i64 = 1000;

/// The tables whose indexes a bulk write into a nearly empty database
/// builds at its end: those an import or the generator writes most rows of.
const DEFERRED_TABLES: [&str; 3] = ["claims", "claim_tags", "attributions"];

/// Starts a bulk write in the current transaction. On SQLite the triggers
/// that keep a claim's search document, `stated_on` and backers then only
/// note the claim (`claims_stale`), and [`end_bulk_write`] refreshes each
/// noted claim once: an import or a generated batch writes a claim, its
/// tags and its attributions in separate statements, and refreshing at
/// every row rewrote each claim's full-text document three to five times.
/// In a database of fewer than [`DEFER_INDEXES_BELOW`] claims, the
/// secondary indexes of the tables it writes most are dropped until
/// [`end_bulk_write`] (unique ones, which are rules, stay).
///
/// On PostgreSQL it lifts the statement deadline for the transaction and
/// sets `claimtrail.bulk_write` for it: the inserts' statement-level
/// triggers, which refresh the claims of every statement's attributions,
/// then only note them (`bulk_claims`, migration
/// `2026-12-04-000140_bulk_writes`), and [`end_bulk_write`] refreshes each
/// noted claim once. An import writes a claim's attributions in several
/// statements, and its search document was made at its insert and again
/// at each statement that brought one of its quotes.
pub fn begin_bulk_write(conn: &mut DbConnection) -> diesel::QueryResult<BulkWrite> {
    match conn {
        DbConnection::Sqlite(c) => {
            c.batch_execute("INSERT INTO bulk_write (id) VALUES (1)")?;
            let mut deferred = Vec::new();
            if stored_claims(c)? < DEFER_INDEXES_BELOW {
                for table in DEFERRED_TABLES {
                    deferred.extend(drop_indexes(c, table)?.into_iter().map(|sql| (table, sql)));
                }
            }
            Ok(BulkWrite { deferred })
        }
        DbConnection::Pg(c) => {
            // Both until the transaction ends, committed or not.
            c.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL claimtrail.bulk_write = 'on'")?;
            Ok(BulkWrite { deferred: Vec::new() })
        }
    }
}

fn stored_claims(c: &mut SqliteConnection) -> diesel::QueryResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        claims: i64,
    }
    // Counted up to the bound only: a large database is not counted whole.
    let count = format!("SELECT count(*) AS claims FROM (SELECT 1 FROM claims LIMIT {DEFER_INDEXES_BELOW})");
    Ok(diesel::sql_query(count).get_result::<Count>(c)?.claims)
}

/// Ends a bulk write begun by [`begin_bulk_write`]: builds the indexes it
/// dropped (the claims' own after the refresh, which writes each claim's
/// `stated_on`), refreshes every claim it noted, once, and writes their
/// statings and backers in one statement each ([`STATINGS_REFRESH`],
/// [`BACKERS_REFRESH`]); a large refresh also rebuilds the backers'
/// indexes and `claim_terms` (see [`Refresh::is_large`]). On PostgreSQL it
/// refreshes every claim noted in `bulk_claims` (from
/// [`PG_QUOTES_AND_DATES`] to [`PG_CLAIMS_REFRESH`], then the statings and
/// the backers) and clears the notes. Must run before the transaction
/// commits.
pub fn end_bulk_write(conn: &mut DbConnection, bulk: BulkWrite) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => {
            // The refresh reads attributions by claim: their indexes first.
            // It writes each claim's `stated_on`, so the claims' indexes
            // come after it, each one sort instead of an entry moved per
            // claim in `claims_by_stated_on`.
            let (claims_indexes, first): (Vec<_>, Vec<_>) =
                bulk.deferred.iter().partition(|(table, _)| *table == "claims");
            for (_, index) in first {
                step(c, "index built", index)?;
            }
            let refresh = Refresh::of(c)?;
            let large = refresh.is_large();
            // The statings' and backers' triggers, which would write each
            // claim's rows as its note comes: the notes pile up during the
            // refresh, and [`STATINGS_REFRESH`] and [`BACKERS_REFRESH`] write them
            // all after it.
            let mut rebuilt = drop_triggers(c, "claim_statings_stale")?;
            rebuilt.extend(drop_triggers(c, "claim_backers_stale")?);
            if large {
                rebuilt.extend(drop_indexes(c, "claim_backers")?);
                rebuilt.extend(drop_indexes(c, "claim_terms")?);
                // Its triggers, which count each row's term in
                // `claim_term_docs`, would run once per row even paused:
                // a fifth of the fill. Made again after it.
                rebuilt.extend(drop_triggers(c, "claim_terms")?);
                step(
                    c,
                    "claim_terms emptied",
                    "INSERT INTO claim_terms_paused (id) VALUES (1); DELETE FROM claim_terms;",
                )?;
            }
            // The per-claim refresh (`claims_stale`'s triggers) gives way
            // to the same statements run once for every noted claim.
            rebuilt.extend(drop_triggers(c, "claims_stale")?);
            step(c, "claims refreshed", CLAIMS_REFRESH)?;
            for (_, index) in claims_indexes {
                step(c, "index built", index)?;
            }
            step(c, "statings written", STATINGS_REFRESH)?;
            step(c, "backers written", BACKERS_REFRESH)?;
            if large {
                step(c, "claim_terms filled", CLAIM_TERMS_REBUILD)?;
                // Every document changed: lists kept in memory are read again whole.
                c.batch_execute("DELETE FROM claim_terms_paused; INSERT INTO claim_terms_log (doc) VALUES (-1)")?;
            }
            for made in &rebuilt {
                step(c, "index or trigger made again", made)?;
            }
            // Dropping an index drops its planner statistics: a database
            // that had them gets the new indexes' back.
            if refresh.analysed {
                let mut tables: Vec<&str> = Vec::new();
                if !bulk.deferred.is_empty() {
                    tables.extend(DEFERRED_TABLES);
                }
                if large {
                    tables.extend(["claim_backers", "claim_terms"]);
                }
                if !tables.is_empty() {
                    let analyse: String = tables.iter().map(|t| format!(" ANALYZE {t};")).collect();
                    step(c, "analysed", &format!("PRAGMA analysis_limit = 2000;{analyse}"))?;
                }
            }
            tracing::debug!(claims = refresh.stale, large, "bulk write refreshed");
            Ok(())
        }
        DbConnection::Pg(c) => {
            step(c, "quotes and dates read", PG_QUOTES_AND_DATES)?;
            step(c, "documents made", PG_DOCUMENTS)?;
            step(c, "claims refreshed", PG_CLAIMS_REFRESH)?;
            step(c, "statings written", PG_STATINGS_REFRESH)?;
            step(c, "backers written", PG_BACKERS_REFRESH)?;
            // The notes go before the commit, and the setting now: what
            // the transaction writes after this refreshes at once.
            step(
                c,
                "notes cleared",
                "DELETE FROM bulk_claims; DELETE FROM bulk_documents; DROP TABLE bulk_search_documents; \
                 SET LOCAL claimtrail.bulk_write = 'off'",
            )
        }
    }
}

/// On PostgreSQL, the first step of a bulk write's refresh: the noted
/// claims' quotes and earliest dates, read in one pass over their
/// attributions, grouped by claim: what `claim_quotes(id)` and
/// `claim_stated_on(id)` give one claim at a time (called so, they were 13
/// of the 48 s that refreshing 100,000 claims took). The claims were locked
/// when they were noted (`bulk_claims_note`, migration
/// `2026-12-04-000140_bulk_writes`), as the triggers lock them, so this
/// statement and those after it see every writer that held one of them
/// before: a search document made from an older snapshot would leave out
/// what such a writer wrote.
const PG_QUOTES_AND_DATES: &str = "INSERT INTO bulk_documents (claim_id, quotes, stated_on) \
     SELECT n.claim_id, string_agg(a.quote_exact, ' ' ORDER BY a.created_at, a.id), \
         min(coalesce(a.stated_on, s.published_on) COLLATE \"C\") \
     FROM (SELECT DISTINCT claim_id FROM bulk_claims) AS n \
     LEFT JOIN attributions a ON a.claim_id = n.claim_id \
     LEFT JOIN sources s ON s.id = a.source_id \
     GROUP BY n.claim_id";

/// On PostgreSQL, the noted claims' search documents, into a table of the
/// transaction's own: a `CREATE TABLE … AS` query may run on parallel
/// workers, where the `UPDATE` that writes them runs on one process. For
/// 100,000 claims, 7.9 s with one worker against 15.4 s without.
const PG_DOCUMENTS: &str = "CREATE TEMPORARY TABLE bulk_search_documents AS \
     SELECT c.id, claim_search_document(c.text, c.subject, d.quotes, c.language) AS document, d.stated_on \
     FROM claims c JOIN bulk_documents d ON d.claim_id = c.id";

/// On PostgreSQL, each noted claim's search document and `stated_on`, in
/// one update of each.
const PG_CLAIMS_REFRESH: &str = "UPDATE claims c SET search_document = t.document, stated_on = t.stated_on \
     FROM bulk_search_documents t WHERE c.id = t.id";

/// On PostgreSQL, the `claim_statings` rows of every noted claim (one row
/// each in `bulk_documents`), through the function the attributions'
/// triggers call after locking their claims: these are locked already,
/// since they were noted, or are the transaction's own new rows.
const PG_STATINGS_REFRESH: &str = "SELECT claim_statings_recompute(ARRAY(SELECT claim_id FROM bulk_documents))";

/// On PostgreSQL, the `claim_backers` rows of every noted claim, as
/// [`PG_STATINGS_REFRESH`] writes their statings, after their `stated_on`
/// ([`PG_CLAIMS_REFRESH`]), which the rows carry.
const PG_BACKERS_REFRESH: &str = "SELECT claim_backers_recompute(ARRAY(SELECT claim_id FROM bulk_documents))";

/// Runs one step of a bulk write's refresh, and logs how long it took (at
/// `debug`), so that an import's time can be told apart step by step.
fn step(c: &mut impl SimpleConnection, what: &str, sql: &str) -> diesel::QueryResult<()> {
    let started = std::time::Instant::now();
    c.batch_execute(sql)?;
    tracing::debug!(step = what, sql = %sql.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(80).collect::<String>(), seconds = started.elapsed().as_secs_f64(), "bulk write");
    Ok(())
}

/// Fills `claim_terms` from every claim document, in the table's order, and
/// `claim_term_docs` from it (as the `claim_terms` migration first filled
/// them): a large refresh pauses the triggers that keep them one document
/// at a time, empties `claim_terms`, and fills both so afterwards.
/// The terms come from `claimtrail_sorted_terms` (see
/// [`super::terms::SORTED_TABLE`]): the rows `claimtrail_term_rows` gives
/// the triggers, for every document, already in the table's order, so
/// SQLite inserts them without sorting them. At 100,000 claims that was
/// about 5 s, against 20 s for the triggers' inserts at random places in
/// the table and its index, before the sort moved out of SQLite.
const CLAIM_TERMS_REBUILD: &str = "INSERT INTO claim_terms (term, written, stemmed, length, doc) \
     SELECT term, written, stemmed, length, doc FROM claimtrail_sorted_terms ORDER BY 1, 2, 3, 4, 5; \
     DELETE FROM claim_term_docs; \
     INSERT INTO claim_term_docs (term, written, stemmed, docs) \
     SELECT term, sum(written > 0), sum(stemmed > 0), count(*) FROM claim_terms GROUP BY term";

/// Refreshes every claim noted in `claims_stale` and clears the notes, as
/// deleting each note did through its triggers (`claims_stale_ad` of the
/// `bulk_writes` migration and `claims_stale_statings_ad`), one statement
/// for all of them instead of five per claim: each claim's `stated_on`, its
/// search document (updated, or made in the order of the notes, as the
/// triggers made them), and notes for its statings and backers. Ends the
/// bulk write first (`bulk_write`), as before. [`end_bulk_write`] drops the
/// triggers for it and makes them again after. For the 100,000 claims of an
/// import this step took 4.4–5.9 s through the triggers, 3.5–4.5 s so, and
/// 3.2–3.7 s with each new document's quotes computed once (the triggers
/// compute them twice; three interleaved runs each). The test
/// `bulk_import::an_import_derives_the_search_documents_dates_and_backers_that_single_writes_derived`
/// compares what both give.
const CLAIMS_REFRESH: &str = "DELETE FROM bulk_write;
    UPDATE claims SET stated_on = (SELECT min(coalesce(a.stated_on, s.published_on)) FROM attributions a
        JOIN sources s ON s.id = a.source_id WHERE a.claim_id = claims.id)
    WHERE id IN (SELECT claim_id FROM claims_stale);
    UPDATE claim_documents
    SET quotes = (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = claim_documents.claim_id ORDER BY a.created_at, a.id)),
        facets = (
            coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = claim_documents.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                FROM attributions a WHERE a.claim_id = claim_documents.claim_id), '')
            || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = claim_documents.claim_id), '')),
        stems = claimtrail_stems(text, subject, (SELECT group_concat(quote_exact, ' ') FROM (
            SELECT a.quote_exact FROM attributions a WHERE a.claim_id = claim_documents.claim_id ORDER BY a.created_at, a.id)), language)
    WHERE claim_id IN (SELECT claim_id FROM claims_stale);
    INSERT INTO claim_documents (claim_id, text, subject, quotes, facets, language, stems)
    SELECT id, text, subject, quotes, facets, language, claimtrail_stems(text, subject, quotes, language)
    FROM (
        SELECT c.id, c.text, c.subject, c.language,
            (SELECT group_concat(quote_exact, ' ') FROM (
                SELECT a.quote_exact FROM attributions a WHERE a.claim_id = c.id ORDER BY a.created_at, a.id)) AS quotes,
            (
                coalesce((SELECT group_concat('t' || hex(t.tag), ' ') FROM claim_tags t WHERE t.claim_id = c.id), '')
                || ' ' || coalesce((SELECT group_concat('s' || replace(a.source_id, '-', '') || coalesce(' k' || replace(a.speaker_id, '-', ''), ''), ' ')
                    FROM attributions a WHERE a.claim_id = c.id), '')
                || ' ' || coalesce((SELECT group_concat('p' || replace(s.publisher_id, '-', ''), ' ')
                    FROM attributions a JOIN sources s ON s.id = a.source_id WHERE a.claim_id = c.id), '')) AS facets
        FROM claims_stale st CROSS JOIN claims c ON c.id = st.claim_id
        WHERE NOT EXISTS (SELECT 1 FROM claim_documents d WHERE d.claim_id = st.claim_id)
        ORDER BY st.claim_id
        -- Not merged into the query around it (an OFFSET keeps SQLite from
        -- it), which would then compute the quotes twice, for the column
        -- and for the stems.
        LIMIT -1 OFFSET 0);
    INSERT INTO claim_backers_stale (claim_id) SELECT claim_id FROM claims_stale;
    INSERT INTO claim_statings_stale (claim_id) SELECT claim_id FROM claims_stale;
    DELETE FROM claims_stale;";

/// Writes the `claim_statings` and `claim_backers` rows of every claim
/// noted in `claim_statings_stale` and `claim_backers_stale`, one
/// statement each (the views `claim_statings_due` and `claim_backers_due`,
/// which give the rows the tables' triggers give one claim at a time), and
/// clears the notes. [`end_bulk_write`] drops those triggers, so the refresh
/// leaves the notes. For the 100,000 claims of an import, with the stems
/// left out, the refresh took 6.9–7.3 s with the triggers and 6.1–6.5 s so
/// (two runs each); the statings alone 17,180 → 18,278 records/s for the
/// whole import.
const STATINGS_REFRESH: &str = "DELETE FROM claim_statings WHERE claim_id IN (SELECT claim_id FROM claim_statings_stale); \
     INSERT INTO claim_statings (claim_id, attribution_count, source_count, first_sources) \
     SELECT claim_id, attribution_count, source_count, first_sources FROM claim_statings_due; \
     DELETE FROM claim_statings_stale";

/// The backers' half of the refresh that [`STATINGS_REFRESH`] begins, a
/// step of its own so that the log tells the two apart.
const BACKERS_REFRESH: &str = "DELETE FROM claim_backers WHERE claim_id IN (SELECT claim_id FROM claim_backers_stale); \
     INSERT INTO claim_backers (claim_id, backer_id, roles, created_at, period_start, stated_on) \
     SELECT claim_id, backer_id, roles, created_at, period_start, stated_on FROM claim_backers_due; \
     DELETE FROM claim_backers_stale";

/// What a bulk write's refresh is about to do, read in one query.
#[derive(diesel::QueryableByName)]
struct Refresh {
    /// Claims it refreshes.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    stale: i64,
    /// Claims stored.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    claims: i64,
    /// Whether `ANALYZE` has ever run on the database (`sqlite_stat1` exists).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    analysed: bool,
}

impl Refresh {
    fn of(c: &mut SqliteConnection) -> diesel::QueryResult<Refresh> {
        diesel::sql_query(
            "SELECT (SELECT count(*) FROM claims_stale) AS stale, (SELECT count(*) FROM claims) AS claims, \
             EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1') AS analysed",
        )
        .get_result(c)
    }

    /// Whether the refresh rewrites most of `claim_backers` and
    /// `claim_terms`: at least [`BULK_REBUILD_MIN`] claims, and at least
    /// half of those stored. Then the backers' three secondary indexes are
    /// dropped before the refresh and built again after it, from the
    /// schema's own statements, in the same transaction: one sort per index
    /// instead of three inserts at random places per backer row (an import
    /// of 100,000 claims writes 1.2 million index entries so); and
    /// `claim_terms` is filled again whole ([`CLAIM_TERMS_REBUILD`]). A
    /// smaller write into a larger database keeps them, as rebuilding
    /// costs the whole table.
    fn is_large(&self) -> bool {
        self.stale >= BULK_REBUILD_MIN && self.stale * 2 >= self.claims
    }
}

/// A refresh of at least this many claims may rebuild indexes.
const BULK_REBUILD_MIN: i64 = 100;

/// Drops a table's secondary indexes and gives back the statements that
/// make them again, as the schema holds them. Unique indexes stay: they
/// are rules that every row written must keep.
fn drop_indexes(c: &mut SqliteConnection, table: &str) -> diesel::QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Index {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let indexes: Vec<Index> = diesel::sql_query(
        "SELECT s.name, s.sql FROM pragma_index_list(?1) l JOIN sqlite_schema s ON s.name = l.name \
         WHERE l.origin = 'c' AND NOT l.\"unique\" ORDER BY s.name",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .load(c)?;
    for index in &indexes {
        c.batch_execute(&format!("DROP INDEX \"{}\"", index.name.replace('"', "\"\"")))?;
    }
    Ok(indexes.into_iter().map(|i| i.sql).collect())
}

/// Drops a table's triggers and gives back the statements that make them
/// again, as the schema holds them.
fn drop_triggers(c: &mut SqliteConnection, table: &str) -> diesel::QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Trigger {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let triggers: Vec<Trigger> =
        diesel::sql_query("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 ORDER BY name")
            .bind::<diesel::sql_types::Text, _>(table)
            .load(c)?;
    for trigger in &triggers {
        c.batch_execute(&format!("DROP TRIGGER \"{}\"", trigger.name.replace('"', "\"\"")))?;
    }
    Ok(triggers.into_iter().map(|t| t.sql).collect())
}

/// After a bulk load: merges SQLite's full-text index into one segment and
/// refreshes the planner's statistics, which the claim list's plans rely on.
pub fn after_bulk_load(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => {
            step(c, "full-text index merged", "INSERT INTO claims_fts (claims_fts) VALUES ('optimize')")?;
            step(c, "analysed", "PRAGMA analysis_limit = 2000; ANALYZE")?;
            step(c, "checkpointed", "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        DbConnection::Pg(c) => c.batch_execute("ANALYZE"),
    }
}

#[cfg(test)]
mod tests {
    use diesel::Connection;

    use super::*;

    fn index_names(c: &mut SqliteConnection) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let names: Vec<Name> = diesel::sql_query("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name")
            .load(c)
            .expect("the indexes");
        names.into_iter().map(|n| n.name).collect()
    }

    #[test]
    fn a_table_loses_its_plain_indexes_and_keeps_its_unique_ones_and_its_key() {
        let mut c = SqliteConnection::establish(":memory:").expect("a database");
        c.batch_execute(
            "CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b TEXT UNIQUE, c TEXT);
             CREATE INDEX t_by_a ON t (a);
             CREATE INDEX t_by_c_where ON t (c) WHERE c IS NOT NULL;
             CREATE UNIQUE INDEX t_one_c ON t (c, a);
             CREATE TABLE u (x TEXT); CREATE INDEX u_by_x ON u (x);",
        )
        .expect("the tables");
        let made = drop_indexes(&mut c, "t").expect("dropped");
        assert_eq!(made, ["CREATE INDEX t_by_a ON t (a)", "CREATE INDEX t_by_c_where ON t (c) WHERE c IS NOT NULL"]);
        assert_eq!(
            index_names(&mut c),
            ["sqlite_autoindex_t_1", "sqlite_autoindex_t_2", "t_one_c", "u_by_x"],
            "the key, the unique column and the unique index stay; the other table is untouched"
        );
        for sql in &made {
            c.batch_execute(sql).expect("made again");
        }
        assert_eq!(index_names(&mut c).len(), 6);
    }

    /// A SQLite file in WAL mode with a table of about 20 MB written in one
    /// transaction by `writer`, set up as the pool sets up its connections;
    /// and another connection on it, which keeps the file open (as a
    /// pool's other connections do) and, when `reading`, is in a read
    /// transaction begun before the write (its snapshot is in the log).
    fn written_through_the_log(
        dir: &tempfile::TempDir,
        reading: bool,
    ) -> (SqliteConnection, SqliteConnection, std::path::PathBuf) {
        let file = dir.path().join("t.db");
        let path = file.to_str().expect("a path");
        let mut writer = SqliteConnection::establish(path).expect("a database");
        crate::db::pool::configure_sqlite(&mut writer, crate::db::Durability::Normal, 0).expect("configured");
        writer.batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x BLOB);").expect("a table");
        let mut other = SqliteConnection::establish(path).expect("another connection");
        other
            .batch_execute(if reading { "BEGIN; SELECT count(*) FROM t;" } else { "SELECT count(*) FROM t" })
            .expect("read");
        writer
            .batch_execute(
                "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                 INSERT INTO t SELECT randomblob(1000) FROM n; COMMIT;",
            )
            .expect("written");
        (writer, other, dir.path().join("t.db-wal"))
    }

    fn bytes(file: &std::path::Path) -> u64 {
        std::fs::metadata(file).expect("the file").len()
    }

    #[test]
    fn the_log_is_cut_back_after_a_large_write_once_the_next_write_starts_it_over() {
        let dir = tempfile::tempdir().expect("a dir");
        let (mut writer, _other, wal) = written_through_the_log(&dir, false);
        let limit = u64::try_from(crate::db::pool::WAL_SIZE_LIMIT_BYTES).expect("a size");
        assert!(bytes(&wal) > limit, "the log held the whole write: {}", bytes(&wal));
        writer.batch_execute("INSERT INTO t VALUES (1)").expect("a small write");
        assert!(bytes(&wal) <= limit, "{} > {limit}", bytes(&wal));
    }

    #[test]
    fn a_bulk_write_empties_the_log_after_it_unless_a_reader_is_in_it() {
        let dir = tempfile::tempdir().expect("a dir");
        let (mut writer, mut other, wal) = written_through_the_log(&dir, true);
        writer.batch_execute("PRAGMA busy_timeout = 1234").expect("a timeout");
        // A reader in the log: left as it is.
        let before = bytes(&wal);
        assert!(before > 0);
        empty_wal(&mut writer).expect("the timeout set back");
        assert_eq!(bytes(&wal), before, "a reader still reads from it");
        other.batch_execute("COMMIT").expect("ended");
        empty_wal(&mut writer).expect("the timeout set back");
        assert_eq!(bytes(&wal), 0);
        let number = |c: &mut SqliteConnection, sql: &str| diesel::sql_query(sql).get_result::<Number>(c).expect(sql).n;
        assert_eq!(
            number(&mut writer, "SELECT timeout AS n FROM pragma_busy_timeout"),
            1234,
            "its own timeout, set back"
        );
        assert_eq!(number(&mut other, "SELECT count(*) AS n FROM t"), 20000, "what was written is in the file");
    }

    #[derive(diesel::QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    /// Segments of the full-text index after one transaction that indexes
    /// about 2.6 MB of text, in a migrated database.
    fn fts_segments_after_a_large_write(migrated_hashsize: bool) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = crate::db::establish(":memory:").expect("a database");
        crate::db::migrate(&mut conn).expect("migrated");
        let DbConnection::Sqlite(c) = &mut conn else { unreachable!("an in-memory SQLite database") };
        if !migrated_hashsize {
            c.batch_execute("INSERT INTO claims_fts (claims_fts, rank) VALUES ('hashsize', 1048576)")
                .expect("the default");
        }
        // 4,000 documents of 120 distinct words each: every word is new
        // to the index, so each takes room in FTS5's hash.
        c.batch_execute(
            "BEGIN;
             WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 4000),
                 w(n, i) AS (SELECT n, 1 FROM d UNION ALL SELECT n, i + 1 FROM w WHERE i < 120)
             INSERT INTO claims_fts (rowid, text, subject, quotes, facets)
             SELECT n, group_concat('w' || (n * 120 + i), ' '), NULL, NULL, '' FROM w GROUP BY n;
             COMMIT;",
        )
        .expect("indexed");
        let count: Count = diesel::sql_query("SELECT count(DISTINCT segid) AS n FROM claims_fts_idx")
            .get_result(c)
            .expect("the segments");
        count.n
    }

    #[test]
    fn a_large_write_keeps_its_full_text_terms_in_memory_until_it_ends() {
        assert_eq!(fts_segments_after_a_large_write(true), 1, "one segment, written at the end");
        // FTS5's default (1 MiB) writes the same terms out several times.
        let segments = fts_segments_after_a_large_write(false);
        assert!(segments > 1, "{segments}");
    }
}
