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
//! rank) count towards the length only. The triggers of `claim_documents`
//! (the `claim_terms` migration) keep `claim_terms` with it.
//!
//! Registered on every SQLite connection this process opens, by the
//! automatic extension of [`super::bm25`].

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int, c_void};

use libsqlite3_sys as ffi;

/// The function's SQL name.
pub const FUNCTION: &str = "claimtrail_terms";
const FUNCTION_C: &CStr = c"claimtrail_terms";

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

/// Adds the function to a connection being opened, through its FTS5 API
/// (called by [`super::bm25`]'s automatic extension, which finds the API
/// once for both). A connection without FTS5 or the tokeniser gets none.
///
/// # Safety
/// `db` is the connection being opened and `api` its FTS5 API.
pub(super) unsafe fn register(db: *mut ffi::sqlite3, api: *mut ffi::fts5_api) -> c_int {
    // SAFETY: the tokeniser is made through the connection's FTS5 API and
    // freed with the function (`free_tokenizer`).
    unsafe {
        let Some(find) = (*api).xFindTokenizer else { return ffi::SQLITE_OK };
        let mut user: *mut c_void = std::ptr::null_mut();
        let mut methods: ffi::fts5_tokenizer = std::mem::zeroed();
        if find(api, TOKENIZER.as_ptr(), &mut user, &mut methods) != ffi::SQLITE_OK {
            return ffi::SQLITE_OK;
        }
        let Some(create) = methods.xCreate else { return ffi::SQLITE_OK };
        let mut args: Vec<*const c_char> = TOKENIZER_ARGS.iter().map(|a| a.as_ptr()).collect();
        let mut instance: *mut ffi::Fts5Tokenizer = std::ptr::null_mut();
        if create(user, args.as_mut_ptr(), args.len() as c_int, &mut instance) != ffi::SQLITE_OK {
            return ffi::SQLITE_OK;
        }
        let state = Box::into_raw(Box::new(Tokenizer { api: methods, instance }));
        let rc = ffi::sqlite3_create_function_v2(
            db,
            FUNCTION_C.as_ptr(),
            COLUMNS.len() as c_int,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
            state.cast::<c_void>(),
            Some(terms),
            None,
            None,
            Some(free_tokenizer),
        );
        // On failure SQLite has already called the destructor.
        rc
    }
}

unsafe extern "C" fn free_tokenizer(state: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `register`, freed once, here.
    drop(unsafe { Box::from_raw(state.cast::<Tokenizer>()) });
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

unsafe extern "C" fn terms(context: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes `argc` values and the user data `on_open` gave.
    unsafe {
        let tokenizer = &*ffi::sqlite3_user_data(context).cast::<Tokenizer>();
        let Some(tokenize) = tokenizer.api.xTokenize else {
            ffi::sqlite3_result_error_code(context, ffi::SQLITE_ERROR);
            return;
        };
        let args: &[*mut ffi::sqlite3_value] =
            if argc > 0 && !argv.is_null() { std::slice::from_raw_parts(argv, argc as usize) } else { &[] };
        let mut found: BTreeMap<Vec<u8>, (i64, i64)> = BTreeMap::new();
        let mut length: i64 = 0;
        for (value, column) in args.iter().zip(COLUMNS) {
            // FTS5 indexes a column's value as text; NULL has no tokens.
            if ffi::sqlite3_value_type(*value) == ffi::SQLITE_NULL {
                continue;
            }
            let text = ffi::sqlite3_value_text(*value);
            let bytes = ffi::sqlite3_value_bytes(*value);
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
                ffi::sqlite3_result_error_code(context, rc);
                return;
            }
            length += counting.length;
        }
        // Written straight from tuples, each an array: no `Value` per term.
        let rows: Vec<(std::borrow::Cow<str>, i64, i64, i64)> = found
            .iter()
            .map(|(term, &(written, stemmed))| (String::from_utf8_lossy(term), written, stemmed, length))
            .collect();
        let Ok(json) = serde_json::to_string(&rows) else {
            ffi::sqlite3_result_error_nomem(context);
            return;
        };
        let Ok(len) = c_int::try_from(json.len()) else {
            ffi::sqlite3_result_error_toobig(context);
            return;
        };
        ffi::sqlite3_result_text(context, json.as_ptr().cast::<c_char>(), len, ffi::SQLITE_TRANSIENT());
    }
}
