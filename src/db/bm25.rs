//! Relevance on SQLite: `claimtrail_bm25`, FTS5's own `bm25` with the
//! statistics a query needs kept between queries.
//!
//! FTS5's `bm25` starts every query by counting, for each phrase of it, the
//! rows that hold the phrase (the phrase's IDF): a walk of each phrase's
//! whole posting list, the facet terms' too. On a common word at a million
//! claims that is about 7 ms before the first match is ranked, whatever the
//! number of matches (a search narrowed to one publisher's 1,714 matches
//! spent half its time there). The counts only change when the database
//! does, so this function keeps them, per connection, by the query's text,
//! for as long as the connection's data version (`SQLITE_FCNTL_DATA_VERSION`,
//! which any commit by any connection moves) is the one they were counted
//! at; and it counts a phrase only once a row holds it in a column with a
//! weight, so a facet term (weight 0) is never counted. Everything else is
//! `bm25`'s arithmetic, in its order, so the scores are the same numbers
//! (a test holds them to the configured `rank`).
//!
//! `claimtrail_bm25(claims_fts, <the MATCH text>, <column weights>...[,
//! <IDFs>])`. The text names what is kept: it must be the statement's MATCH
//! expression, on `claims_fts` only (the one caller,
//! `claims::listing::sqlite`, binds the same string to both). The last,
//! optional argument, after one weight per column, gives IDFs the caller
//! counted elsewhere (from `claim_term_docs`, see
//! `claims::listing::top::known_idfs`): a JSON array with a number or
//! `null` per phrase; a `null` is counted here.
//! Registered on every SQLite connection this process opens, through an
//! automatic extension, like [`super::deadline`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Once;

use libsqlite3_sys as ffi;

/// The function's SQL name.
pub const FUNCTION: &str = "claimtrail_bm25";
const FUNCTION_C: &CStr = c"claimtrail_bm25";

/// BM25's constants, as FTS5 has them.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Queries whose counts a connection keeps; past that it starts afresh.
const KEPT_QUERIES: usize = 512;

/// Installs the extension for every SQLite connection opened from now on.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `on_open` has the signature SQLite calls entry points with.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(on_open)) };
        if rc != ffi::SQLITE_OK {
            tracing::error!(rc, "could not install the SQLite relevance function");
        }
    });
}

/// One connection's kept counts. Only the thread running a statement on
/// the connection touches it (a connection is used by one thread at a
/// time), so a `RefCell` does.
struct Connection {
    db: *mut ffi::sqlite3,
    kept: RefCell<HashMap<Box<str>, Kept>>,
}

/// The IDF of each phrase of one query text, those counted so far, at one
/// data version.
struct Kept {
    data_version: u32,
    idf: Vec<Option<f64>>,
}

/// What one run of a query needs across its rows (FTS5's auxiliary data).
struct Query {
    key: Option<Box<str>>,
    data_version: Option<u32>,
    avgdl: f64,
    rows: i64,
    idf: Vec<Option<f64>>,
    freq: Vec<f64>,
    columns: usize,
    sizes: Sizes,
}

/// Where a query reads each row's length from: a read-only blob handle on
/// `claims_fts_docsize`, moved from row to row, or (if it cannot be opened
/// or moved) FTS5's `xColumnSize`.
///
/// FTS5's `xColumnSize` reads the same record, but through a prepared
/// statement it steps and resets for every row. Ranking a common word at
/// a million claims spent 66 % of its time there (`perf`), most of it the
/// statement's machinery around one B-tree seek: a reset, a halt, and the
/// statement trace of [`super::deadline`], which SQLite formats anew for
/// each nested statement. `sqlite3_blob_reopen` is the seek alone.
struct Sizes {
    blob: *mut ffi::sqlite3_blob,
    /// The handle could not be opened or moved, or its first length was
    /// not FTS5's: `xColumnSize` from now on.
    unusable: bool,
    /// Room for one record: at most one 9-byte varint per column.
    record: Vec<u8>,
}

impl Drop for Sizes {
    fn drop(&mut self) {
        if !self.blob.is_null() {
            // SAFETY: opened by `sqlite3_blob_open`, closed once, here.
            unsafe { ffi::sqlite3_blob_close(self.blob) };
        }
    }
}

/// The table FTS5 keeps each row's column lengths in (`<table>_docsize`),
/// of the one table this function ranks. A query on another table finds
/// its first row's length differ from FTS5's (or no such table) and asks
/// FTS5 for every length.
const DOCSIZE_TABLE: &CStr = c"claims_fts_docsize";

/// Runs inside `sqlite3_open` for each new connection: finds FTS5's API
/// and adds the function to it, and `claimtrail_terms`,
/// `claimtrail_term_rows` and `claimtrail_sorted_terms` (see
/// [`super::terms`]) to the connection.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the connection being opened; `fts5_api` is FTS5's,
    // valid while the connection is open. The user data is freed by FTS5
    // when the connection closes, through `free_connection`.
    unsafe {
        let Some(api) = fts5_api(db) else { return ffi::SQLITE_OK };
        let Some(create) = (*api).xCreateFunction else { return ffi::SQLITE_OK };
        let state = Box::into_raw(Box::new(Connection { db, kept: RefCell::new(HashMap::new()) }));
        let rc = create(api, FUNCTION_C.as_ptr(), state.cast::<c_void>(), Some(rank), Some(free_connection));
        if rc != ffi::SQLITE_OK {
            drop(Box::from_raw(state));
            return rc;
        }
        super::terms::register(db, api)
    }
}

/// FTS5's API object of a connection (`SELECT fts5(?1)`, as its
/// documentation says to get it).
unsafe fn fts5_api(db: *mut ffi::sqlite3) -> Option<*mut ffi::fts5_api> {
    let mut api: *mut ffi::fts5_api = std::ptr::null_mut();
    let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
    // SAFETY: the statement is finalised before returning; the pointer
    // bound lives until then.
    unsafe {
        // Preparing reads the schema, which another connection may have
        // locked (one migrating the same new file): wait for it as every
        // later statement does (`pool::configure_sqlite` sets the same
        // timeout). An error here is the open's error: SQLite fails an
        // open whose automatic extensions leave one.
        ffi::sqlite3_busy_timeout(db, super::pool::BUSY_TIMEOUT_MS);
        if ffi::sqlite3_prepare_v2(db, c"SELECT fts5(?1)".as_ptr(), -1, &mut stmt, std::ptr::null_mut())
            != ffi::SQLITE_OK
        {
            ffi::sqlite3_finalize(stmt);
            return None;
        }
        ffi::sqlite3_bind_pointer(
            stmt,
            1,
            (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
            c"fts5_api_ptr".as_ptr(),
            None,
        );
        ffi::sqlite3_step(stmt);
        ffi::sqlite3_finalize(stmt);
    }
    (!api.is_null()).then_some(api)
}

unsafe extern "C" fn free_connection(state: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `on_open`, freed once, here.
    drop(unsafe { Box::from_raw(state.cast::<Connection>()) });
}

unsafe extern "C" fn free_query(query: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `query_of`, freed once, by FTS5.
    drop(unsafe { Box::from_raw(query.cast::<Query>()) });
}

/// The data version of the connection's main database, if it may stand
/// for what a query reads: not inside a write transaction, whose own
/// changes do not move it until they commit.
unsafe fn data_version(db: *mut ffi::sqlite3) -> Option<u32> {
    let mut version: u32 = 0;
    // SAFETY: `db` is open; the file control writes one unsigned int.
    unsafe {
        if ffi::sqlite3_txn_state(db, c"main".as_ptr()) == ffi::SQLITE_TXN_WRITE {
            return None;
        }
        let rc = ffi::sqlite3_file_control(
            db,
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_DATA_VERSION,
            (&mut version as *mut u32).cast::<c_void>(),
        );
        (rc == ffi::SQLITE_OK).then_some(version)
    }
}

/// The query's auxiliary data, made on its first row: the table's row
/// count and average length, and the IDFs kept for this query text or
/// given by the caller (`seeds`: a JSON array with one number or `null`
/// per phrase; used outside write transactions only, as kept ones are).
unsafe fn query_of(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    connection: &Connection,
    key: Option<&[u8]>,
    seeds: Option<&[u8]>,
) -> Result<*mut Query, c_int> {
    // SAFETY: the API's functions are called with the context they were
    // given with; the auxiliary data is ours and lives as long as the query.
    unsafe {
        let existing = (api.xGetAuxdata.ok_or(ffi::SQLITE_ERROR)?)(fts, 0).cast::<Query>();
        if !existing.is_null() {
            return Ok(existing);
        }
        let phrases = usize::try_from((api.xPhraseCount.ok_or(ffi::SQLITE_ERROR)?)(fts)).unwrap_or(0);
        let mut rows: i64 = 0;
        check((api.xRowCount.ok_or(ffi::SQLITE_ERROR)?)(fts, &mut rows))?;
        let mut tokens: i64 = 0;
        check((api.xColumnTotalSize.ok_or(ffi::SQLITE_ERROR)?)(fts, -1, &mut tokens))?;
        let key: Option<Box<str>> = key.and_then(|k| std::str::from_utf8(k).ok()).map(Box::from);
        let data_version = key.as_ref().and_then(|_| data_version(connection.db));
        let idf = match (&key, data_version) {
            (Some(key), Some(version)) => connection
                .kept
                .borrow()
                .get(key)
                .filter(|kept| kept.data_version == version && kept.idf.len() == phrases)
                .map(|kept| kept.idf.clone()),
            _ => None,
        }
        .unwrap_or_else(|| vec![None; phrases]);
        let mut idf = idf;
        let seeded: Option<Vec<Option<f64>>> = seeds.and_then(|s| serde_json::from_slice(s).ok());
        if let (Some(seeded), Some(_)) = (seeded, data_version)
            && seeded.len() == phrases
        {
            for (kept, seed) in idf.iter_mut().zip(seeded) {
                if kept.is_none() {
                    *kept = seed;
                }
            }
        }
        let columns = usize::try_from((api.xColumnCount.ok_or(ffi::SQLITE_ERROR)?)(fts)).unwrap_or(0);
        let query = Box::into_raw(Box::new(Query {
            key,
            data_version,
            avgdl: tokens as f64 / rows as f64,
            rows,
            idf,
            freq: vec![0.0; phrases],
            columns,
            sizes: Sizes { blob: std::ptr::null_mut(), unusable: false, record: vec![0; columns * 9] },
        }));
        let rc = (api.xSetAuxdata.ok_or(ffi::SQLITE_ERROR)?)(fts, query.cast::<c_void>(), Some(free_query));
        check(rc)?;
        Ok(query)
    }
}

fn check(rc: c_int) -> Result<(), c_int> {
    if rc == ffi::SQLITE_OK { Ok(()) } else { Err(rc) }
}

unsafe extern "C" fn count_row(_: *const ffi::Fts5ExtensionApi, _: *mut ffi::Fts5Context, n: *mut c_void) -> c_int {
    // SAFETY: `n` is the `i64` `idf_of` passed.
    unsafe { *n.cast::<i64>() += 1 };
    ffi::SQLITE_OK
}

/// BM25 of one phrase in one row: its IDF, its weighted frequency there,
/// the row's length in tokens and the average length. FTS5's arithmetic,
/// in its order; `claims::listing::top` scores with the same function, so
/// that its ranks are these to the bit.
pub fn phrase_score(idf: f64, frequency: f64, length: f64, avgdl: f64) -> f64 {
    scaled_score(idf, frequency, length_norm(length, avgdl))
}

/// [`phrase_score`] with its document's length already scaled by
/// [`length_norm`]: the same operations, so the same number.
pub fn scaled_score(idf: f64, frequency: f64, norm: f64) -> f64 {
    idf * ((frequency * (K1 + 1.0)) / (frequency + norm))
}

/// What BM25 adds to a phrase's frequency for a document of `length`
/// tokens where the average is `avgdl`.
pub fn length_norm(length: f64, avgdl: f64) -> f64 {
    K1 * (1.0 - B + B * length / avgdl)
}

/// [`length_norm`] of every length up to [`LengthNorms::TABULATED`], worked
/// out once for a search that scores many documents; longer ones are
/// worked out each time.
pub struct LengthNorms {
    avgdl: f64,
    table: Vec<f64>,
}

impl LengthNorms {
    /// Lengths tabulated: nearly every claim's (generated ones run to about 60).
    pub const TABULATED: u32 = 1024;

    pub fn new(avgdl: f64) -> LengthNorms {
        LengthNorms { avgdl, table: (0..Self::TABULATED).map(|length| length_norm(f64::from(length), avgdl)).collect() }
    }

    pub fn get(&self, length: u32) -> f64 {
        match usize::try_from(length).ok().and_then(|i| self.table.get(i)) {
            Some(norm) => *norm,
            None => length_norm(f64::from(length), self.avgdl),
        }
    }
}

/// BM25's IDF of a phrase `hits` of `rows` rows hold, as FTS5 computes it
/// (at least 1e-6, so that a phrase in most rows still counts).
pub fn idf(rows: i64, hits: i64) -> f64 {
    let (rows, hits) = (rows as f64, hits as f64);
    let idf = ((rows - hits + 0.5) / (hits + 0.5)).ln();
    if idf <= 0.0 { 1e-6 } else { idf }
}

/// The IDF of phrase `i`: kept, or counted now (and kept).
unsafe fn idf_of(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    connection: &Connection,
    query: &mut Query,
    i: usize,
) -> Result<f64, c_int> {
    if let Some(idf) = query.idf[i] {
        return Ok(idf);
    }
    let mut hits: i64 = 0;
    // SAFETY: as in `query_of`; `count_row` adds one per row to `hits`.
    unsafe {
        let phrase = c_int::try_from(i).map_err(|_| ffi::SQLITE_ERROR)?;
        let run = api.xQueryPhrase.ok_or(ffi::SQLITE_ERROR)?;
        check(run(fts, phrase, (&mut hits as *mut i64).cast::<c_void>(), Some(count_row)))?;
    }
    let idf = idf(query.rows, hits);
    query.idf[i] = Some(idf);
    // Kept only if the database is still the one the query started on (a
    // write on this connection while the statement steps would make the
    // count belong to neither version).
    // SAFETY: the connection is open while its function runs.
    let unchanged = query.data_version.is_some() && unsafe { data_version(connection.db) } == query.data_version;
    if let (Some(key), Some(version), true) = (&query.key, query.data_version, unchanged) {
        let mut kept = connection.kept.borrow_mut();
        if kept.len() >= KEPT_QUERIES && !kept.contains_key(key) {
            kept.clear();
        }
        // The query started from what was kept at this version, so its
        // IDFs are those and the ones counted since.
        kept.insert(key.clone(), Kept { data_version: version, idf: query.idf.clone() });
    }
    Ok(idf)
}

/// The function: `-score`, as FTS5's `bm25` returns it (best first when
/// sorted ascending).
unsafe extern "C" fn rank(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    context: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: SQLite passes its API, the query's context and `argc` values;
    // the user data is the connection's `Connection`.
    unsafe {
        match score(&*api, fts, argc, argv) {
            Ok(score) => ffi::sqlite3_result_double(context, -score),
            Err(rc) => ffi::sqlite3_result_error_code(context, rc),
        }
    }
}

/// The query text a call names (its first argument), if it is text.
unsafe fn key_of<'a>(args: &[*mut ffi::sqlite3_value]) -> Option<&'a [u8]> {
    // SAFETY: the values are the call's, valid while it runs.
    unsafe {
        match args.first() {
            Some(value) if ffi::sqlite3_value_type(*value) == ffi::SQLITE_TEXT => {
                let text = ffi::sqlite3_value_text(*value);
                let len = usize::try_from(ffi::sqlite3_value_bytes(*value)).unwrap_or(0);
                (!text.is_null()).then(|| std::slice::from_raw_parts(text, len))
            }
            _ => None,
        }
    }
}

unsafe fn score(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> Result<f64, c_int> {
    // SAFETY: see `rank`.
    unsafe {
        let connection = &*(api.xUserData.ok_or(ffi::SQLITE_ERROR)?)(fts).cast::<Connection>();
        let args: &[*mut ffi::sqlite3_value] =
            if argc > 0 && !argv.is_null() { std::slice::from_raw_parts(argv, argc as usize) } else { &[] };
        let key = key_of(args);
        let weights = args.get(1..).unwrap_or(&[]);
        // After one weight per column, the IDFs the caller already knows.
        let columns = usize::try_from((api.xColumnCount.ok_or(ffi::SQLITE_ERROR)?)(fts)).unwrap_or(0);
        let seeds = weights.get(columns..).and_then(|rest| key_of(rest));
        let query = &mut *query_of(api, fts, connection, key, seeds)?;
        query.freq.iter_mut().for_each(|f| *f = 0.0);
        let mut instances: c_int = 0;
        check((api.xInstCount.ok_or(ffi::SQLITE_ERROR)?)(fts, &mut instances))?;
        let inst = api.xInst.ok_or(ffi::SQLITE_ERROR)?;
        for i in 0..instances {
            let (mut phrase, mut column, mut offset) = (0, 0, 0);
            check(inst(fts, i, &mut phrase, &mut column, &mut offset))?;
            let weight = usize::try_from(column)
                .ok()
                .and_then(|c| weights.get(c))
                .map_or(1.0, |value| ffi::sqlite3_value_double(*value));
            if let Some(freq) = usize::try_from(phrase).ok().and_then(|p| query.freq.get_mut(p)) {
                *freq += weight;
            }
        }
        let length = match row_length(api, fts, connection, query) {
            Some(length) => length,
            None => {
                let mut length: c_int = 0;
                check((api.xColumnSize.ok_or(ffi::SQLITE_ERROR)?)(fts, -1, &mut length))?;
                length
            }
        };
        let length = f64::from(length);
        let mut score = 0.0;
        for i in 0..query.freq.len() {
            let freq = query.freq[i];
            // A phrase no column with a weight holds adds nothing: its
            // IDF is not needed (and not counted).
            if freq == 0.0 {
                continue;
            }
            let idf = idf_of(api, fts, connection, query, i)?;
            score += phrase_score(idf, freq, length, query.avgdl);
        }
        Ok(score)
    }
}

/// The current row's length in tokens, all columns, as `xColumnSize(-1)`
/// counts it: read through the query's blob handle. `None` when the handle
/// cannot give it (then the caller asks FTS5, which reports what is wrong).
unsafe fn row_length(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    connection: &Connection,
    query: &mut Query,
) -> Option<c_int> {
    let sizes = &mut query.sizes;
    if sizes.unusable {
        return None;
    }
    // SAFETY: the API's functions are called with their context; the blob
    // handle is this query's, on this connection, and read within its size.
    unsafe {
        let rowid = (api.xRowid?)(fts);
        let first = sizes.blob.is_null();
        let rc = if first {
            ffi::sqlite3_blob_open(
                connection.db,
                c"main".as_ptr(),
                DOCSIZE_TABLE.as_ptr(),
                c"sz".as_ptr(),
                rowid,
                0,
                &mut sizes.blob,
            )
        } else {
            ffi::sqlite3_blob_reopen(sizes.blob, rowid)
        };
        let bytes = ffi::sqlite3_blob_bytes(sizes.blob);
        let read = rc == ffi::SQLITE_OK
            && usize::try_from(bytes).is_ok_and(|n| n <= sizes.record.len())
            && ffi::sqlite3_blob_read(sizes.blob, sizes.record.as_mut_ptr().cast::<c_void>(), bytes, 0)
                == ffi::SQLITE_OK;
        let mut length = read.then(|| total_length(&sizes.record[..bytes as usize], query.columns)).flatten();
        if first && length.is_some() {
            // The table's name is fixed here, but the function could be
            // called on another FTS5 table: its first length must be the
            // one FTS5 gives, or the handle reads some other table's.
            let mut theirs: c_int = 0;
            let fts5 = (api.xColumnSize?)(fts, -1, &mut theirs);
            if fts5 != ffi::SQLITE_OK || length != Some(theirs) {
                length = None;
            }
        }
        if length.is_none() {
            // An aborted handle stays aborted: close it and ask FTS5 from
            // now on.
            ffi::sqlite3_blob_close(sizes.blob);
            sizes.blob = std::ptr::null_mut();
            sizes.unusable = true;
        }
        length
    }
}

/// The sum of a docsize record's column lengths: one SQLite varint per
/// column, nothing after them (FTS5's own check). `None` when the record
/// is not that.
fn total_length(record: &[u8], columns: usize) -> Option<c_int> {
    let mut at = 0;
    let mut total: c_int = 0;
    for _ in 0..columns {
        let (value, used) = varint(record.get(at..)?)?;
        at += used;
        // FTS5 reads each as a 31-bit int (`sqlite3Fts5GetVarint32`) and
        // adds them as ints.
        total = total.wrapping_add((value as u32 & 0x7fff_ffff) as c_int);
    }
    (at == record.len()).then_some(total)
}

/// An SQLite varint: big-endian groups of 7 bits, the high bit set on
/// every byte but the last; a ninth byte gives all 8 of its bits.
pub fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().take(9).enumerate() {
        if i == 8 {
            return Some(((value << 8) | u64::from(*byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_read_as_sqlite_writes_them() {
        assert_eq!(varint(&[0x00]), Some((0, 1)));
        assert_eq!(varint(&[0x7f]), Some((127, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x82, 0x2c]), Some((300, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81]), None);
        assert_eq!(varint(&[]), None);
    }

    /// On a table whose lengths are not in `claims_fts_docsize` the blob
    /// handle cannot open, or (another table's lengths at the same row ids)
    /// its first length is not FTS5's, and the function asks FTS5 for each
    /// length: the scores are still `bm25`'s.
    #[test]
    fn on_another_table_lengths_come_from_fts5() {
        use diesel::connection::SimpleConnection;
        use diesel::sql_types::{Double, Text};
        use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

        #[derive(QueryableByName, Debug, PartialEq)]
        struct Scores {
            #[diesel(sql_type = Text)]
            a: String,
            #[diesel(sql_type = Double)]
            ours: f64,
            #[diesel(sql_type = Double)]
            theirs: f64,
        }

        install();
        let mut conn = SqliteConnection::establish(":memory:").expect("a database");
        conn.batch_execute(
            "CREATE VIRTUAL TABLE notes USING fts5(a, b);
             INSERT INTO notes VALUES ('fuel fuel prices', 'rose'), ('fuel', 'a long second column of words'),
                                      ('prices of bread', 'fuel'), ('nothing here', 'at all');",
        )
        .expect("a table");
        let scores_of = |conn: &mut SqliteConnection| -> Vec<Scores> {
            diesel::sql_query(
                "SELECT a, claimtrail_bm25(notes, 'fuel', 1.0, 0.5) AS ours, bm25(notes, 1.0, 0.5) AS theirs \
                 FROM notes WHERE notes MATCH 'fuel' ORDER BY rowid",
            )
            .load(conn)
            .expect("scores")
        };
        let scores = scores_of(&mut conn);
        assert_eq!(scores.len(), 3);
        for row in &scores {
            assert_eq!(row.ours.to_bits(), row.theirs.to_bits(), "{row:?}");
        }
        // Now a `claims_fts` whose rows at the same ids are other lengths.
        conn.batch_execute(
            "CREATE VIRTUAL TABLE claims_fts USING fts5(a, b);
             INSERT INTO claims_fts VALUES ('one', 'two'), ('three four five six', 'seven eight'),
                                           ('nine', ''), ('ten', '');",
        )
        .expect("another table");
        assert_eq!(scores_of(&mut conn), scores);
    }

    #[test]
    fn a_docsize_record_is_its_columns_lengths_and_nothing_else() {
        assert_eq!(total_length(&[3, 0x81, 0x00, 5], 3), Some(3 + 128 + 5));
        assert_eq!(total_length(&[3, 4], 3), None, "too short");
        assert_eq!(total_length(&[3, 4, 5, 6], 3), None, "too long");
        assert_eq!(total_length(&[], 0), Some(0));
    }
}
