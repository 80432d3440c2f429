//! `claimtrail_terms`: a claim document's terms as FTS5 indexes them, for
//! the `claim_terms` table that ranks a common word without ranking all its
//! matches (see `claims::listing::top`).
//!
//! `claimtrail_terms(text, subject, quotes, facets, stems)` tokenises the
//! five columns of `claims_fts` with FTS5's own tokeniser, made with the
//! table's arguments (`unicode61 remove_diacritics 2`), so a term is the
//! exact string FTS5 keeps. It returns a JSON array with one
//! `[term, written, stemmed, length]` per term of the document: how often
//! the term occurs in the text, subject and quotes (`written`), how often
//! in `stems`, and the document's length in tokens, every column counted
//! as FTS5's `xColumnSize(-1)` counts it. Facet terms (weight 0: they never
//! rank) count towards the length only. `claimtrail_term_rows` gives the
//! same rows as a table ([`ROWS_TABLE`]); `claim_documents`' triggers
//! (`2026-12-04-000120_claim_terms_from_rows`) and a bulk write's refill
//! keep `claim_terms` from it, and the JSON function is left to the
//! `claim_terms` migration.
//!
//! Registered on every SQLite connection this process opens, by the
//! automatic extension of [`super::bm25`].

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::mpsc::{Receiver, sync_channel};

use libsqlite3_sys as ffi;

/// The function's SQL name.
pub const FUNCTION: &str = "claimtrail_terms";
const FUNCTION_C: &CStr = c"claimtrail_terms";

/// The same rows as a table-valued function, one row per term:
/// `SELECT term, written, stemmed, length FROM claimtrail_term_rows(text,
/// subject, quotes, facets, stems)`. `claim_documents`' triggers and a bulk
/// write's refill of `claim_terms` read it (`CLAIM_TERMS_REBUILD` in
/// [`super::bulk`]): through the JSON of [`FUNCTION`], each term's array
/// was written, then read again once per field (`->>`), a third of the
/// refill's own time. The JSON function stays for the `claim_terms`
/// migration, which reads it when a database is made.
pub const ROWS_TABLE: &str = "claimtrail_term_rows";
const ROWS_TABLE_C: &CStr = c"claimtrail_term_rows";

/// Every claim document's terms at once, as `claim_terms` orders them:
/// `SELECT term, written, stemmed, length, doc FROM claimtrail_sorted_terms
/// ORDER BY 1, 2, 3, 4, 5` (the order is the table's own, so SQLite does not
/// sort). A bulk write's refill of `claim_terms` reads it
/// (`CLAIM_TERMS_REBUILD` in [`super::bulk`]): SQLite's sorter, comparing
/// each row's fields as a record, took nearly half of that refill's
/// instructions (callgrind, an import of 10,000 claims), and the rows come
/// out of the same tokenisation as [`ROWS_TABLE`]'s, sorted here as
/// numbers (each term replaced by its rank among the terms).
pub const SORTED_TABLE: &str = "claimtrail_sorted_terms";
const SORTED_TABLE_C: &CStr = c"claimtrail_sorted_terms";

/// The documents [`SORTED_TABLE`] reads, with the columns of `claims_fts`.
const SORTED_DOCUMENTS: &CStr = c"SELECT doc, text, subject, quotes, facets, stems FROM claim_documents";

/// The tokeniser of `claims_fts` and its arguments (the `findability`
/// migration).
const TOKENIZER: &CStr = c"unicode61";
const TOKENIZER_ARGS: [&CStr; 2] = [c"remove_diacritics", c"2"];

/// FTS5 cuts a term at this many bytes before it indexes it
/// (`FTS5_MAX_TOKEN_SIZE`).
const MAX_TOKEN_BYTES: usize = 32768;

/// `FTS5_TOKENIZE_DOCUMENT`: the text is a document being indexed.
const TOKENIZE_DOCUMENT: c_int = 0x0004;
/// `FTS5_TOKEN_COLOCATED`: a synonym at the previous token's place, which
/// FTS5 does not count in a column's length.
const TOKEN_COLOCATED: c_int = 0x0001;

/// The columns of `claims_fts`, in order, and what each counts towards.
const COLUMNS: [Column; 5] = [Column::Written, Column::Written, Column::Written, Column::Facets, Column::Stems];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Written,
    Facets,
    Stems,
}

/// One connection's tokeniser, made once with the table's arguments.
struct Tokenizer {
    api: ffi::fts5_tokenizer,
    instance: *mut ffi::Fts5Tokenizer,
}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        if let Some(delete) = self.api.xDelete {
            // SAFETY: made by this tokeniser's `xCreate`, deleted once, here.
            unsafe { delete(self.instance) };
        }
    }
}

/// Adds the function and the table of rows ([`ROWS_TABLE`]) to a
/// connection being opened, through its FTS5 API (called by
/// [`super::bm25`]'s automatic extension, which finds the API once for
/// both). A connection without FTS5 or the tokeniser gets neither.
///
/// # Safety
/// `db` is the connection being opened and `api` its FTS5 API.
pub(super) unsafe fn register(db: *mut ffi::sqlite3, api: *mut ffi::fts5_api) -> c_int {
    // SAFETY: each tokeniser is made through the connection's FTS5 API and
    // freed with the function or the module (`free_tokenizer`,
    // `free_tokenizers`).
    unsafe {
        let Some(state) = tokenizer(api) else { return ffi::SQLITE_OK };
        let rc = ffi::sqlite3_create_function_v2(
            db,
            FUNCTION_C.as_ptr(),
            COLUMNS.len() as c_int,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
            Box::into_raw(Box::new(state)).cast::<c_void>(),
            Some(terms),
            None,
            None,
            Some(free_tokenizer),
        );
        // On failure SQLite has already called the destructor.
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let Some(state) = tokenizer(api) else { return ffi::SQLITE_OK };
        // On failure too SQLite calls the destructor.
        let rc = ffi::sqlite3_create_module_v2(
            db,
            ROWS_TABLE_C.as_ptr(),
            &ROWS_MODULE,
            Box::into_raw(Box::new(state)).cast::<c_void>(),
            Some(free_tokenizer),
        );
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let Some(tokenizers) = (0..TOKENIZING_THREADS).map(|_| tokenizer(api)).collect::<Option<Vec<Tokenizer>>>()
        else {
            return ffi::SQLITE_OK;
        };
        ffi::sqlite3_create_module_v2(
            db,
            SORTED_TABLE_C.as_ptr(),
            &SORTED_MODULE,
            Box::into_raw(Box::new(tokenizers)).cast::<c_void>(),
            Some(free_tokenizers),
        )
    }
}

/// A new instance of the tokeniser of `claims_fts`, with its arguments;
/// `None` when FTS5 has no such tokeniser.
///
/// # Safety
/// `api` is a connection's FTS5 API.
unsafe fn tokenizer(api: *mut ffi::fts5_api) -> Option<Tokenizer> {
    // SAFETY: FTS5's own calls, as its documentation gives them.
    unsafe {
        let find = (*api).xFindTokenizer?;
        let mut user: *mut c_void = std::ptr::null_mut();
        let mut methods: ffi::fts5_tokenizer = std::mem::zeroed();
        if find(api, TOKENIZER.as_ptr(), &mut user, &mut methods) != ffi::SQLITE_OK {
            return None;
        }
        let create = methods.xCreate?;
        let mut args: Vec<*const c_char> = TOKENIZER_ARGS.iter().map(|a| a.as_ptr()).collect();
        let mut instance: *mut ffi::Fts5Tokenizer = std::ptr::null_mut();
        if create(user, args.as_mut_ptr(), args.len() as c_int, &mut instance) != ffi::SQLITE_OK {
            return None;
        }
        Some(Tokenizer { api: methods, instance })
    }
}

unsafe extern "C" fn free_tokenizer(state: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `register`, freed once, here.
    drop(unsafe { Box::from_raw(state.cast::<Tokenizer>()) });
}

unsafe extern "C" fn free_tokenizers(state: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `register`, freed once, here.
    drop(unsafe { Box::from_raw(state.cast::<Vec<Tokenizer>>()) });
}

/// What tokenising one column adds to.
struct Counting<'a> {
    terms: &'a mut BTreeMap<Vec<u8>, (i64, i64)>,
    column: Column,
    length: i64,
}

unsafe extern "C" fn on_token(
    context: *mut c_void,
    flags: c_int,
    token: *const c_char,
    bytes: c_int,
    _start: c_int,
    _end: c_int,
) -> c_int {
    // SAFETY: `context` is the `Counting` `tokenize` passed; the token is
    // `bytes` bytes long, valid for this call.
    unsafe {
        let counting = &mut *context.cast::<Counting>();
        if flags & TOKEN_COLOCATED == 0 {
            counting.length += 1;
        }
        if counting.column == Column::Facets || token.is_null() {
            return ffi::SQLITE_OK;
        }
        let bytes = usize::try_from(bytes).unwrap_or(0).min(MAX_TOKEN_BYTES);
        let term = std::slice::from_raw_parts(token.cast::<u8>(), bytes);
        let counts = match counting.terms.get_mut(term) {
            Some(counts) => counts,
            None => counting.terms.entry(term.to_vec()).or_default(),
        };
        match counting.column {
            Column::Written => counts.0 += 1,
            Column::Stems => counts.1 += 1,
            Column::Facets => {}
        }
        ffi::SQLITE_OK
    }
}

/// A document's terms, in byte order, with how often each occurs in the
/// text, subject and quotes and how often in `stems`, and the document's
/// length in tokens; from the values of the columns of `claims_fts`, each
/// with its column (one left out counts as NULL). An error is SQLite's
/// code.
///
/// # Safety
/// Each value is a valid `sqlite3_value` for this call.
unsafe fn document_terms(
    tokenizer: &Tokenizer,
    args: impl Iterator<Item = (*mut ffi::sqlite3_value, Column)>,
) -> Result<Terms, c_int> {
    // SAFETY: the values are valid for this call, and so is each text
    // until the next value is read (the tokeniser reads it at once).
    unsafe {
        tokenize_columns(
            tokenizer,
            args.map(|(value, column)| {
                // FTS5 indexes a column's value as text; NULL has no tokens.
                if ffi::sqlite3_value_type(value) == ffi::SQLITE_NULL {
                    return (None, column);
                }
                let text = ffi::sqlite3_value_text(value);
                (Some((text, ffi::sqlite3_value_bytes(value))), column)
            }),
        )
    }
}

/// [`document_terms`] from each column's text as a pointer and a length in
/// bytes (`None` for NULL).
///
/// # Safety
/// Each text is valid for its length while it is tokenised.
unsafe fn tokenize_columns(
    tokenizer: &Tokenizer,
    args: impl Iterator<Item = (Option<(*const u8, c_int)>, Column)>,
) -> Result<Terms, c_int> {
    // SAFETY: the texts are valid while tokenised; the tokeniser is the
    // connection's, used by the thread running its statement.
    unsafe {
        let Some(tokenize) = tokenizer.api.xTokenize else {
            return Err(ffi::SQLITE_ERROR);
        };
        let mut found: BTreeMap<Vec<u8>, (i64, i64)> = BTreeMap::new();
        let mut length: i64 = 0;
        for (text, column) in args {
            let Some((text, bytes)) = text else { continue };
            if text.is_null() || bytes <= 0 {
                continue;
            }
            let mut counting = Counting { terms: &mut found, column, length: 0 };
            let rc = tokenize(
                tokenizer.instance,
                (&mut counting as *mut Counting).cast::<c_void>(),
                TOKENIZE_DOCUMENT,
                text.cast::<c_char>(),
                bytes,
                Some(on_token),
            );
            if rc != ffi::SQLITE_OK {
                return Err(rc);
            }
            length += counting.length;
        }
        Ok(Terms {
            terms: found.into_iter().map(|(term, (written, stemmed))| (term, written, stemmed)).collect(),
            length,
        })
    }
}

/// What [`document_terms`] gives.
#[derive(Default)]
struct Terms {
    /// Each term's bytes, `written` and `stemmed` counts, in byte order.
    terms: Vec<(Vec<u8>, i64, i64)>,
    /// The document's length in tokens, every column counted.
    length: i64,
}

unsafe extern "C" fn terms(context: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes `argc` values and the user data `on_open` gave.
    unsafe {
        let tokenizer = &*ffi::sqlite3_user_data(context).cast::<Tokenizer>();
        let args: &[*mut ffi::sqlite3_value] =
            if argc > 0 && !argv.is_null() { std::slice::from_raw_parts(argv, argc as usize) } else { &[] };
        let found = match document_terms(tokenizer, args.iter().copied().zip(COLUMNS)) {
            Ok(found) => found,
            Err(rc) => {
                ffi::sqlite3_result_error_code(context, rc);
                return;
            }
        };
        // Written straight from tuples, each an array: no `Value` per term.
        let rows: Vec<(std::borrow::Cow<str>, i64, i64, i64)> = found
            .terms
            .iter()
            .map(|(term, written, stemmed)| (String::from_utf8_lossy(term), *written, *stemmed, found.length))
            .collect();
        let Ok(json) = serde_json::to_string(&rows) else {
            ffi::sqlite3_result_error_nomem(context);
            return;
        };
        result_text(context, &json);
    }
}

/// Sets a result to a copy of `text`, or to SQLite's "too big" error.
///
/// # Safety
/// `context` is the result being set.
unsafe fn result_text(context: *mut ffi::sqlite3_context, text: &str) {
    // SAFETY: SQLite copies the text (`SQLITE_TRANSIENT`) before returning.
    unsafe {
        match c_int::try_from(text.len()) {
            Ok(len) => ffi::sqlite3_result_text(context, text.as_ptr().cast::<c_char>(), len, ffi::SQLITE_TRANSIENT()),
            Err(_) => ffi::sqlite3_result_error_toobig(context),
        }
    }
}

/// `claimtrail_term_rows`' columns: the four of a row, then the five
/// arguments (hidden), in the order of `claims_fts`' columns.
const ROWS_SCHEMA: &CStr = c"CREATE TABLE x(term TEXT, written INTEGER, stemmed INTEGER, length INTEGER, \
    text HIDDEN, subject HIDDEN, quotes HIDDEN, facets HIDDEN, stems HIDDEN)";

/// The column of the first argument.
const FIRST_ARGUMENT: c_int = 4;

/// An eponymous-only virtual table: it exists on every connection without
/// `CREATE VIRTUAL TABLE`, and is only ever read as a function of its
/// arguments.
static ROWS_MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 0,
    xCreate: None,
    xConnect: Some(rows_connect),
    xBestIndex: Some(rows_best_index),
    xDisconnect: Some(rows_disconnect),
    xDestroy: None,
    xOpen: Some(rows_open),
    xClose: Some(close::<RowsCursor>),
    xFilter: Some(rows_filter),
    xNext: Some(next::<RowsCursor>),
    xEof: Some(eof::<RowsCursor>),
    xColumn: Some(rows_column),
    xRowid: Some(rowid::<RowsCursor>),
    // SAFETY: every other member is an optional function or a number: none.
    ..unsafe { std::mem::zeroed() }
};

#[repr(C)]
struct RowsTable {
    base: ffi::sqlite3_vtab,
    /// The module's, freed with it.
    tokenizer: *const Tokenizer,
}

#[repr(C)]
struct RowsCursor {
    base: ffi::sqlite3_vtab_cursor,
    tokenizer: *const Tokenizer,
    rows: Terms,
    at: usize,
}

unsafe extern "C" fn rows_connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    table: *mut *mut ffi::sqlite3_vtab,
    _error: *mut *mut c_char,
) -> c_int {
    // SAFETY: SQLite's arguments to `xConnect`; the table is freed by
    // `rows_disconnect`.
    unsafe {
        let rc = ffi::sqlite3_declare_vtab(db, ROWS_SCHEMA.as_ptr());
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        // Safe to read from triggers and views (it only tokenises its
        // arguments), as `claim_documents`' triggers do.
        ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_INNOCUOUS);
        let made = Box::new(RowsTable { base: std::mem::zeroed(), tokenizer: aux.cast::<Tokenizer>() });
        *table = Box::into_raw(made).cast::<ffi::sqlite3_vtab>();
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn rows_disconnect(table: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: made by `rows_connect`, freed once, here.
    drop(unsafe { Box::from_raw(table.cast::<RowsTable>()) });
    ffi::SQLITE_OK
}

/// Takes each argument given by equality as a filter argument, in the
/// order of the columns (`idxNum` says which were given). A plan where an
/// argument cannot be known yet (it comes from a table joined later) is
/// refused, so that SQLite joins that table first.
unsafe extern "C" fn rows_best_index(_table: *mut ffi::sqlite3_vtab, info: *mut ffi::sqlite3_index_info) -> c_int {
    // SAFETY: SQLite's index information, with `nConstraint` constraints
    // and as many usages.
    unsafe {
        let info = &mut *info;
        let count = usize::try_from(info.nConstraint).unwrap_or(0);
        if count == 0 || info.aConstraint.is_null() || info.aConstraintUsage.is_null() {
            info.idxNum = 0;
            info.estimatedCost = 1.0;
            info.estimatedRows = 1;
            return ffi::SQLITE_OK;
        }
        let constraints = std::slice::from_raw_parts(info.aConstraint, count);
        let usages = std::slice::from_raw_parts_mut(info.aConstraintUsage, count);
        let mut given = [None; COLUMNS.len()];
        let mut waiting = 0u32;
        for (at, constraint) in constraints.iter().enumerate() {
            let Ok(argument) = usize::try_from(constraint.iColumn - FIRST_ARGUMENT) else { continue };
            if argument >= COLUMNS.len() || c_int::from(constraint.op) != ffi::SQLITE_INDEX_CONSTRAINT_EQ {
                continue;
            }
            if constraint.usable == 0 {
                waiting |= 1 << argument;
            } else {
                given[argument] = Some(at);
            }
        }
        let mut mask = 0u32;
        let mut next = 1;
        for (argument, at) in given.iter().enumerate() {
            if let Some(at) = at {
                usages[*at].argvIndex = next;
                usages[*at].omit = 1;
                next += 1;
                mask |= 1 << argument;
            }
        }
        if waiting & !mask != 0 {
            return ffi::SQLITE_CONSTRAINT;
        }
        info.idxNum = mask as c_int;
        info.estimatedCost = 10.0;
        info.estimatedRows = 30;
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn rows_open(table: *mut ffi::sqlite3_vtab, cursor: *mut *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `table` was made by `rows_connect`; the cursor is freed by
    // `close`.
    unsafe {
        let tokenizer = (*table.cast::<RowsTable>()).tokenizer;
        let made = Box::new(RowsCursor { base: std::mem::zeroed(), tokenizer, rows: Terms::default(), at: 0 });
        *cursor = Box::into_raw(made).cast::<ffi::sqlite3_vtab_cursor>();
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn rows_filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    given: c_int,
    _name: *const c_char,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    // SAFETY: `cursor` was made by `rows_open`; SQLite passes the values
    // `rows_best_index` asked for, in its order.
    unsafe {
        let cursor = &mut *cursor.cast::<RowsCursor>();
        let values: &[*mut ffi::sqlite3_value] =
            if argc > 0 && !argv.is_null() { std::slice::from_raw_parts(argv, argc as usize) } else { &[] };
        let columns = COLUMNS.iter().enumerate().filter(|(argument, _)| given & (1 << argument) != 0);
        let args = values.iter().copied().zip(columns.map(|(_, column)| *column));
        let read = document_terms(&*cursor.tokenizer, args);
        cursor.start(read)
    }
}

unsafe extern "C" fn rows_column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    context: *mut ffi::sqlite3_context,
    column: c_int,
) -> c_int {
    // SAFETY: made by `rows_open`; `context` is the column's result.
    unsafe {
        let cursor = &*cursor.cast::<RowsCursor>();
        let Some((term, written, stemmed)) = cursor.rows.terms.get(cursor.at) else {
            ffi::sqlite3_result_null(context);
            return ffi::SQLITE_OK;
        };
        match column {
            // As `claimtrail_terms` writes it into its JSON.
            0 => result_text(context, &String::from_utf8_lossy(term)),
            1 => ffi::sqlite3_result_int64(context, *written),
            2 => ffi::sqlite3_result_int64(context, *stemmed),
            3 => ffi::sqlite3_result_int64(context, cursor.rows.length),
            _ => ffi::sqlite3_result_null(context),
        }
        ffi::SQLITE_OK
    }
}

const SORTED_SCHEMA: &CStr =
    c"CREATE TABLE x(term TEXT, written INTEGER, stemmed INTEGER, length INTEGER, doc INTEGER)";

/// An eponymous-only virtual table of every document's terms, sorted.
static SORTED_MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 0,
    xCreate: None,
    xConnect: Some(sorted_connect),
    xBestIndex: Some(sorted_best_index),
    xDisconnect: Some(sorted_disconnect),
    xDestroy: None,
    xOpen: Some(sorted_open),
    xClose: Some(close::<SortedCursor>),
    xFilter: Some(sorted_filter),
    xNext: Some(next::<SortedCursor>),
    xEof: Some(eof::<SortedCursor>),
    xColumn: Some(sorted_column),
    xRowid: Some(rowid::<SortedCursor>),
    // SAFETY: every other member is an optional function or a number: none.
    ..unsafe { std::mem::zeroed() }
};

#[repr(C)]
struct SortedTable {
    base: ffi::sqlite3_vtab,
    /// The module's, freed with it.
    tokenizers: *const Vec<Tokenizer>,
    /// The connection, which the table reads `claim_documents` through.
    db: *mut ffi::sqlite3,
}

#[repr(C)]
struct SortedCursor {
    base: ffi::sqlite3_vtab_cursor,
    table: *const SortedTable,
    sorted: Sorted,
    at: usize,
}

/// One row of [`SORTED_TABLE`]: its fields in `claim_terms`' key order, the
/// term as its rank among the terms (so that rows sort as numbers).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SortedRow {
    term: u32,
    written: u32,
    stemmed: u32,
    length: u32,
    doc: i64,
}

/// Every document's terms: the terms in byte order (SQLite's `BINARY`
/// order) and the rows, sorted.
#[derive(Default)]
struct Sorted {
    terms: Vec<String>,
    rows: Vec<SortedRow>,
}

impl Sorted {
    /// Reads and tokenises every document of `claim_documents` and sorts
    /// their rows, one thread per tokeniser (see [`TOKENIZING_THREADS`]).
    /// An error is SQLite's code.
    ///
    /// # Safety
    /// `db` is the open connection the table was made on, and `tokenizers`
    /// its tokenisers, used by no other statement meanwhile.
    unsafe fn read(db: *mut ffi::sqlite3, tokenizers: &[Tokenizer]) -> Result<Sorted, c_int> {
        // SAFETY: a statement prepared, stepped and finalized here, on the
        // connection running the statement that reads this table.
        unsafe {
            let mut statement: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v2(db, SORTED_DOCUMENTS.as_ptr(), -1, &mut statement, std::ptr::null_mut());
            if rc != ffi::SQLITE_OK {
                return Err(rc);
            }
            let read = tokenize_all(statement, tokenizers);
            let finalized = ffi::sqlite3_finalize(statement);
            let parts = read?;
            if finalized != ffi::SQLITE_OK {
                return Err(finalized);
            }
            Ok(Sorted::of(parts))
        }
    }

    /// The terms of every part in byte order, and every part's rows with
    /// each term as its rank there, sorted: each part's on its own thread,
    /// then merged.
    fn of(parts: Vec<Collected>) -> Sorted {
        let mut terms: Vec<String> = parts.iter().flat_map(|part| part.seen.keys().cloned()).collect();
        terms.sort_unstable();
        terms.dedup();
        let sorted_parts: Vec<Vec<SortedRow>> = std::thread::scope(|scope| {
            let terms = &terms;
            let mut parts = parts.into_iter();
            let own = parts.next();
            let others: Vec<_> = parts.map(|part| scope.spawn(move || part.ranked(terms))).collect();
            let mut sorted: Vec<Vec<SortedRow>> = own.map(|part| part.ranked(terms)).into_iter().collect();
            // A thread that panicked has no rows to give: its panic goes on.
            sorted.extend(
                others.into_iter().map(|thread| thread.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
            );
            sorted
        });
        let rows = sorted_parts.into_iter().reduce(merge).unwrap_or_default();
        Sorted { terms, rows }
    }
}

/// Two sorted lists of rows, as one, merged from their ends into the
/// first one's room: no third list. No row is in both (a document's rows
/// are in one part).
fn merge(mut a: Vec<SortedRow>, b: Vec<SortedRow>) -> Vec<SortedRow> {
    let Some(&filler) = b.first() else { return a };
    let (mut from_a, mut from_b) = (a.len(), b.len());
    a.resize(from_a + from_b, filler);
    for at in (0..a.len()).rev() {
        if from_b == 0 {
            // What is left of `a` is already in its place.
            break;
        }
        if from_a > 0 && a[from_a - 1] > b[from_b - 1] {
            a[at] = a[from_a - 1];
            from_a -= 1;
        } else {
            a[at] = b[from_b - 1];
            from_b -= 1;
        }
    }
    a
}

/// Threads that tokenise the documents of [`SORTED_TABLE`]: the one running
/// the statement and one more (a machine of this kind has two cores), each
/// with its own instance of the tokeniser, which keeps its own buffers.
/// At 100,000 claims, the refill of `claim_terms` took 3.1–3.8 s with one
/// thread and 2.7–2.9 s with two (five runs of six; the sixth 3.7 s), for
/// 37 MiB more at the import's peak: the second thread's terms and rows.
const TOKENIZING_THREADS: usize = 2;

/// Documents handed to one thread at a time (two in unit tests, so that a
/// handful of documents is shared out).
const CHUNK_DOCUMENTS: usize = if cfg!(test) { 2 } else { 256 };

/// What one thread's documents gave: the terms it saw, each numbered (first
/// seen first), and its rows with those numbers.
#[derive(Default)]
struct Collected {
    seen: HashMap<String, u32>,
    rows: Vec<SortedRow>,
}

impl Collected {
    /// Tokenises one document and adds its rows.
    ///
    /// # Safety
    /// Each text is valid for its length while it is tokenised, and the
    /// tokeniser is used by this thread alone.
    unsafe fn add(
        &mut self,
        tokenizer: &Tokenizer,
        doc: i64,
        columns: impl Iterator<Item = (Option<(*const u8, c_int)>, Column)>,
    ) -> Result<(), c_int> {
        // SAFETY: as the caller promises.
        let found = unsafe { tokenize_columns(tokenizer, columns)? };
        let length = u32::try_from(found.length).map_err(|_| ffi::SQLITE_TOOBIG)?;
        for (term, written, stemmed) in found.terms {
            // As `claimtrail_term_rows` gives the term.
            let text = String::from_utf8_lossy(&term);
            let term = match self.seen.get(text.as_ref()) {
                Some(term) => *term,
                None => {
                    let next = u32::try_from(self.seen.len()).map_err(|_| ffi::SQLITE_TOOBIG)?;
                    self.seen.insert(text.into_owned(), next);
                    next
                }
            };
            self.rows.push(SortedRow {
                term,
                written: u32::try_from(written).map_err(|_| ffi::SQLITE_TOOBIG)?,
                stemmed: u32::try_from(stemmed).map_err(|_| ffi::SQLITE_TOOBIG)?,
                length,
                doc,
            });
        }
        Ok(())
    }

    /// The rows, each term as its rank in `terms` (every term of every
    /// part, in byte order), sorted.
    fn ranked(self, terms: &[String]) -> Vec<SortedRow> {
        let mut rank = vec![0u32; self.seen.len()];
        for (term, number) in &self.seen {
            // Every term seen is among `terms`, whose length fits a `u32`
            // as each part's numbers do.
            rank[*number as usize] = terms.binary_search(term).unwrap_or_default() as u32;
        }
        let mut rows = self.rows;
        for row in &mut rows {
            row.term = rank[row.term as usize];
        }
        rows.sort_unstable();
        rows
    }
}

/// Where each column of a copied document is in its chunk's text, as a
/// start and an end (`None` for NULL).
type Places = [Option<(usize, usize)>; COLUMNS.len()];

/// Documents copied out of the statement for another thread: each one's
/// number and its columns' places in `text` (`None` for NULL).
#[derive(Default)]
struct Chunk {
    documents: Vec<(i64, Places)>,
    text: Vec<u8>,
}

/// A tokeniser lent to one thread, which alone uses it until it is given
/// back (the thread ends).
struct Lent<'a>(&'a Tokenizer);

// SAFETY: an FTS5 tokeniser instance may be used from any thread, one at a
// time (SQLite is built thread-safe; `unicode61` keeps its state in the
// instance); each instance is lent to one thread only.
unsafe impl Send for Lent<'_> {}

impl<'a> Lent<'a> {
    fn tokenizer(self) -> &'a Tokenizer {
        self.0
    }
}

/// Tokenises the chunks sent to this thread, until the sender is done.
fn tokenize_chunks(tokenizer: Lent<'_>, chunks: Receiver<Chunk>) -> Result<Collected, c_int> {
    let tokenizer = tokenizer.tokenizer();
    let mut collected = Collected::default();
    for chunk in chunks {
        for (doc, places) in &chunk.documents {
            let columns = places.iter().zip(COLUMNS).map(|(place, column)| {
                let text = place.map(|(start, end)| {
                    let text = &chunk.text[start..end];
                    // A column's length came from SQLite as a `c_int`.
                    (text.as_ptr(), c_int::try_from(text.len()).unwrap_or(c_int::MAX))
                });
                (text, column)
            });
            // SAFETY: the texts are the chunk's, alive meanwhile; the
            // tokeniser is lent to this thread.
            unsafe { collected.add(tokenizer, *doc, columns)? };
        }
    }
    Ok(collected)
}

/// Every document the statement gives, tokenised: chunks of
/// [`CHUNK_DOCUMENTS`] taken in turn by this thread and by one thread per
/// other tokeniser, each part numbering its own terms.
///
/// # Safety
/// `statement` is [`SORTED_DOCUMENTS`], prepared and not yet stepped; the
/// tokenisers are used by nothing else meanwhile.
unsafe fn tokenize_all(statement: *mut ffi::sqlite3_stmt, tokenizers: &[Tokenizer]) -> Result<Vec<Collected>, c_int> {
    let Some((own_tokenizer, others)) = tokenizers.split_first() else {
        return Err(ffi::SQLITE_ERROR);
    };
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(others.len());
        let mut threads = Vec::with_capacity(others.len());
        for tokenizer in others {
            let (sender, chunks) = sync_channel::<Chunk>(2);
            let lent = Lent(tokenizer);
            threads.push(scope.spawn(move || tokenize_chunks(lent, chunks)));
            senders.push(sender);
        }
        let mut own = Collected::default();
        let mut pending: Vec<Chunk> = others.iter().map(|_| Chunk::default()).collect();
        let mut read = 0usize;
        // SAFETY: the statement's columns, read between its steps; a text
        // is tokenised or copied before the next step.
        let stepped = unsafe {
            loop {
                match ffi::sqlite3_step(statement) {
                    ffi::SQLITE_ROW => {}
                    ffi::SQLITE_DONE => break Ok(()),
                    rc => break Err(rc),
                }
                let doc = ffi::sqlite3_column_int64(statement, 0);
                let columns = COLUMNS.iter().enumerate().map(|(at, column)| {
                    let at = at as c_int + 1;
                    if ffi::sqlite3_column_type(statement, at) == ffi::SQLITE_NULL {
                        return (None, *column);
                    }
                    let text = ffi::sqlite3_column_text(statement, at);
                    (Some((text, ffi::sqlite3_column_bytes(statement, at))), *column)
                });
                let turn = (read / CHUNK_DOCUMENTS) % tokenizers.len();
                read += 1;
                if turn == 0 {
                    if let Err(rc) = own.add(own_tokenizer, doc, columns) {
                        break Err(rc);
                    }
                    continue;
                }
                let chunk = &mut pending[turn - 1];
                let mut places = [None; COLUMNS.len()];
                for (place, (text, _)) in places.iter_mut().zip(columns) {
                    if let Some((text, bytes)) = text
                        && !text.is_null()
                    {
                        let start = chunk.text.len();
                        chunk.text.extend_from_slice(std::slice::from_raw_parts(text, bytes.max(0) as usize));
                        *place = Some((start, chunk.text.len()));
                    }
                }
                chunk.documents.push((doc, places));
                // A thread that stopped has an error to give, below.
                if chunk.documents.len() == CHUNK_DOCUMENTS && senders[turn - 1].send(std::mem::take(chunk)).is_err() {
                    break Ok(());
                }
            }
        };
        for (sender, chunk) in senders.into_iter().zip(pending) {
            if !chunk.documents.is_empty() {
                let _ = sender.send(chunk);
            }
        }
        let mut parts = vec![own];
        for thread in threads {
            parts.push(thread.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?);
        }
        stepped.map(|()| parts)
    })
}

unsafe extern "C" fn sorted_connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    table: *mut *mut ffi::sqlite3_vtab,
    _error: *mut *mut c_char,
) -> c_int {
    // SAFETY: SQLite's arguments to `xConnect`; the table is freed by
    // `sorted_disconnect`.
    unsafe {
        let rc = ffi::sqlite3_declare_vtab(db, SORTED_SCHEMA.as_ptr());
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        // It reads a table: only statements written by this program use it,
        // never a trigger or a view.
        ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_DIRECTONLY);
        let made = Box::new(SortedTable { base: std::mem::zeroed(), tokenizers: aux.cast::<Vec<Tokenizer>>(), db });
        *table = Box::into_raw(made).cast::<ffi::sqlite3_vtab>();
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn sorted_disconnect(table: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: made by `sorted_connect`, freed once, here.
    drop(unsafe { Box::from_raw(table.cast::<SortedTable>()) });
    ffi::SQLITE_OK
}

/// Takes no arguments, and says the rows come in the order asked when that
/// is the table's own (every column in turn, ascending).
unsafe extern "C" fn sorted_best_index(_table: *mut ffi::sqlite3_vtab, info: *mut ffi::sqlite3_index_info) -> c_int {
    // SAFETY: SQLite's index information, with `nOrderBy` terms.
    unsafe {
        let info = &mut *info;
        let count = usize::try_from(info.nOrderBy).unwrap_or(0);
        let own_order = count > 0
            && !info.aOrderBy.is_null()
            && std::slice::from_raw_parts(info.aOrderBy, count)
                .iter()
                .enumerate()
                .all(|(at, term)| term.iColumn == at as c_int && term.desc == 0);
        info.orderByConsumed = c_int::from(own_order);
        info.idxNum = 0;
        info.estimatedCost = 1_000_000.0;
        info.estimatedRows = 1_000_000;
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn sorted_open(table: *mut ffi::sqlite3_vtab, cursor: *mut *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: the cursor is freed by `close`.
    unsafe {
        let made = Box::new(SortedCursor {
            base: std::mem::zeroed(),
            table: table.cast::<SortedTable>(),
            sorted: Sorted::default(),
            at: 0,
        });
        *cursor = Box::into_raw(made).cast::<ffi::sqlite3_vtab_cursor>();
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn sorted_filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    _given: c_int,
    _name: *const c_char,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    // SAFETY: `cursor` was made by `sorted_open` on a table made by
    // `sorted_connect`, alive while the cursor is.
    unsafe {
        let cursor = &mut *cursor.cast::<SortedCursor>();
        let table = &*cursor.table;
        cursor.start(Sorted::read(table.db, &*table.tokenizers))
    }
}

unsafe extern "C" fn sorted_column(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    context: *mut ffi::sqlite3_context,
    column: c_int,
) -> c_int {
    // SAFETY: made by `sorted_open`; `context` is the column's result.
    unsafe {
        let cursor = &*cursor.cast::<SortedCursor>();
        let Some(row) = cursor.sorted.rows.get(cursor.at) else {
            ffi::sqlite3_result_null(context);
            return ffi::SQLITE_OK;
        };
        match column {
            0 => {
                result_text(context, cursor.sorted.terms.get(row.term as usize).map(String::as_str).unwrap_or_default())
            }
            1 => ffi::sqlite3_result_int64(context, i64::from(row.written)),
            2 => ffi::sqlite3_result_int64(context, i64::from(row.stemmed)),
            3 => ffi::sqlite3_result_int64(context, i64::from(row.length)),
            4 => ffi::sqlite3_result_int64(context, row.doc),
            _ => ffi::sqlite3_result_null(context),
        }
        ffi::SQLITE_OK
    }
}

/// What the two tables' cursors share: a place in their rows.
trait Cursor {
    /// What `xFilter` reads for the cursor to walk.
    type Read: Default;
    fn at(&mut self) -> &mut usize;
    fn rows(&self) -> usize;
    fn read(&mut self) -> &mut Self::Read;

    /// Puts the cursor on the first of the rows just read, or on none when
    /// they could not be read; gives SQLite's code.
    fn start(&mut self, read: Result<Self::Read, c_int>) -> c_int {
        *self.at() = 0;
        let (rows, rc) = match read {
            Ok(rows) => (rows, ffi::SQLITE_OK),
            Err(rc) => (Self::Read::default(), rc),
        };
        *self.read() = rows;
        rc
    }
}

impl Cursor for RowsCursor {
    type Read = Terms;
    fn at(&mut self) -> &mut usize {
        &mut self.at
    }
    fn rows(&self) -> usize {
        self.rows.terms.len()
    }
    fn read(&mut self) -> &mut Terms {
        &mut self.rows
    }
}

impl Cursor for SortedCursor {
    type Read = Sorted;
    fn at(&mut self) -> &mut usize {
        &mut self.at
    }
    fn rows(&self) -> usize {
        self.sorted.rows.len()
    }
    fn read(&mut self) -> &mut Sorted {
        &mut self.sorted
    }
}

unsafe extern "C" fn close<C: Cursor>(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: made by the table's `xOpen` as a boxed `C`, freed once, here.
    drop(unsafe { Box::from_raw(cursor.cast::<C>()) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn next<C: Cursor>(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: made by the table's `xOpen` as a boxed `C`.
    unsafe { *(*cursor.cast::<C>()).at() += 1 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn eof<C: Cursor>(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: made by the table's `xOpen` as a boxed `C`.
    let cursor = unsafe { &mut *cursor.cast::<C>() };
    c_int::from(*cursor.at() >= cursor.rows())
}

unsafe extern "C" fn rowid<C: Cursor>(cursor: *mut ffi::sqlite3_vtab_cursor, rowid: *mut ffi::sqlite3_int64) -> c_int {
    // SAFETY: made by the table's `xOpen` as a boxed `C`; `rowid` is
    // SQLite's to fill.
    unsafe { *rowid = *(*cursor.cast::<C>()).at() as ffi::sqlite3_int64 };
    ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    use diesel::{Connection, RunQueryDsl, sqlite::SqliteConnection};

    /// One line per term, from either form.
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }

    #[test]
    fn the_table_of_rows_gives_what_the_json_function_gives_for_every_document() {
        super::super::bm25::install();
        let mut c = SqliteConnection::establish(":memory:").expect("a database");
        diesel::sql_query(
            "CREATE TABLE docs (doc INTEGER PRIMARY KEY, text TEXT, subject TEXT, quotes TEXT, facets TEXT, stems TEXT)",
        )
        .execute(&mut c)
        .expect("the table");
        diesel::sql_query(
            "INSERT INTO docs (text, subject, quotes, facets, stems) VALUES
             ('Barrick will pay Mali $430 million', 'Barrick Gold', 'we will pay', 'tx sabc pdef', 'barrick pay mali'),
             ('Él dijo: «Mali» — ÉTÉ été', NULL, NULL, NULL, NULL),
             ('', '', '', 'facets only', ''),
             ('the the the', NULL, 'the', NULL, 'the')",
        )
        .execute(&mut c)
        .expect("the documents");
        let through_json: Vec<Row> = diesel::sql_query(
            "SELECT d.doc || ' ' || (t.value ->> 0) || ' ' || (t.value ->> 1) || ' ' || (t.value ->> 2) || ' '
                 || (t.value ->> 3) AS line
             FROM docs d, json_each(claimtrail_terms(d.text, d.subject, d.quotes, d.facets, d.stems)) t
             ORDER BY d.doc, t.key",
        )
        .load(&mut c)
        .expect("the JSON's rows");
        let through_table: Vec<Row> = diesel::sql_query(
            "SELECT d.doc || ' ' || t.term || ' ' || t.written || ' ' || t.stemmed || ' ' || t.length AS line
             FROM docs d, claimtrail_term_rows(d.text, d.subject, d.quotes, d.facets, d.stems) t
             ORDER BY d.doc, t.rowid",
        )
        .load(&mut c)
        .expect("the table's rows");
        assert!(through_json.len() > 10, "{through_json:?}");
        assert!(through_json.iter().any(|r| r.line == "1 pay 2 1 17"), "{through_json:?}");
        assert!(through_json.iter().any(|r| r.line.starts_with("2 ete 2 0 ")), "diacritics removed: {through_json:?}");
        assert!(!through_json.iter().any(|r| r.line.starts_with("3 ")), "facets count but are no terms");
        assert_eq!(through_table, through_json);
        // Arguments left out are NULL.
        let short: Vec<Row> =
            diesel::sql_query("SELECT t.term || ' ' || t.length AS line FROM claimtrail_term_rows('Mali mali') t")
                .load(&mut c)
                .expect("one argument");
        assert_eq!(short, [Row { line: "mali 2".to_string() }]);
    }

    #[test]
    fn two_sorted_lists_merge_into_one_sorted_list_of_all_their_rows() {
        let row = |term: u32, doc: i64| super::SortedRow { term, written: 1, stemmed: 0, length: 3, doc };
        let a = vec![row(0, 1), row(0, 4), row(2, 1), row(5, 9)];
        let b = vec![row(0, 2), row(1, 3), row(2, 0), row(7, 7), row(8, 1)];
        let mut expected: Vec<_> = a.iter().chain(&b).copied().collect();
        expected.sort_unstable();
        assert!(super::merge(a.clone(), b.clone()) == expected);
        assert!(super::merge(b.clone(), a.clone()) == expected);
        assert!(super::merge(a.clone(), Vec::new()) == a);
        assert!(super::merge(Vec::new(), b.clone()) == b);
    }

    #[test]
    fn the_sorted_table_gives_every_documents_rows_in_the_order_of_claim_terms() {
        super::super::bm25::install();
        let mut c = SqliteConnection::establish(":memory:").expect("a database");
        diesel::sql_query(
            "CREATE TABLE claim_documents (doc INTEGER PRIMARY KEY, text TEXT, subject TEXT, quotes TEXT,
                 facets TEXT, stems TEXT)",
        )
        .execute(&mut c)
        .expect("the table");
        diesel::sql_query(
            "INSERT INTO claim_documents (doc, text, subject, quotes, facets, stems) VALUES
             (7, 'Barrick will pay Mali $430 million', 'Barrick Gold', 'we will pay', 'tx sabc pdef', 'barrick pay mali'),
             (3, 'Él dijo: «Mali» — ÉTÉ été', NULL, NULL, NULL, NULL),
             (12, '', '', '', 'facets only', ''),
             (5, 'the the the mali', NULL, 'the', NULL, 'the'),
             (40, 'Mali mali Zebra zebra aardvark', 'pay', NULL, NULL, 'mali zebra'),
             (2, 42, NULL, NULL, NULL, NULL)",
        )
        .execute(&mut c)
        .expect("the documents");
        let line = "term || ' ' || written || ' ' || stemmed || ' ' || length || ' ' || doc AS line";
        let sorted: Vec<Row> = diesel::sql_query(format!("SELECT {line} FROM claimtrail_sorted_terms"))
            .load(&mut c)
            .expect("the sorted rows");
        let per_document: Vec<Row> = diesel::sql_query(format!(
            "SELECT {line} FROM (SELECT t.term, t.written, t.stemmed, t.length, d.doc
                 FROM claim_documents d, claimtrail_term_rows(d.text, d.subject, d.quotes, d.facets, d.stems) t
                 ORDER BY 1, 2, 3, 4, 5)"
        ))
        .load(&mut c)
        .expect("the rows document by document, sorted by SQLite");
        assert!(per_document.len() > 15, "{per_document:?}");
        assert!(per_document.iter().any(|r| r.line == "42 1 0 1 2"), "a number is tokenised as text");
        assert_eq!(sorted, per_document);

        // SQLite leaves the order to the table when it is the table's own.
        let mut plan = |order: &str| -> String {
            #[derive(diesel::QueryableByName)]
            struct Step {
                #[diesel(sql_type = diesel::sql_types::Text)]
                detail: String,
            }
            let steps: Vec<Step> =
                diesel::sql_query(format!("EXPLAIN QUERY PLAN SELECT * FROM claimtrail_sorted_terms ORDER BY {order}"))
                    .load(&mut c)
                    .expect("a plan");
            steps.into_iter().map(|s| s.detail).collect::<Vec<_>>().join("; ")
        };
        let own = plan("1, 2, 3, 4, 5");
        assert!(!own.contains("TEMP B-TREE"), "{own}");
        assert!(plan("5, 1").contains("TEMP B-TREE"), "another order is sorted by SQLite");

        // It reads a table, so triggers and views may not call it.
        diesel::sql_query("CREATE VIEW all_terms AS SELECT * FROM claimtrail_sorted_terms").execute(&mut c).ok();
        assert!(diesel::sql_query("SELECT term AS line FROM all_terms").load::<Row>(&mut c).is_err());
    }
}
