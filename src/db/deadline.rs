//! Statement deadlines. On PostgreSQL, `statement_timeout` does it. SQLite
//! has no such setting, and diesel gives no access to the raw connection; so
//! every SQLite connection this process opens gets, through an automatic
//! extension, a progress handler that interrupts a statement once it has
//! run past its connection's deadline (`SQLITE_INTERRUPT`, "interrupted"),
//! and a statement trace that starts the clock when a statement begins.
//! The deadline is off until a connection sets it, with
//! `SELECT claimtrail_statement_timeout(<milliseconds>)` (0 turns it off),
//! which gives the timeout it replaces; `claimtrail_statement_timeout()`
//! gives the timeout without changing it. The server's pool sets it, the
//! CLI's long jobs (migrations, imports, backups) do not, and a bulk write
//! turns it off until it ends (`db::before_bulk_write`).

use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::sync::Once;
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;

/// The SQL function that sets a connection's statement timeout.
pub const SET_TIMEOUT_FUNCTION: &str = "claimtrail_statement_timeout";
const SET_TIMEOUT_FUNCTION_C: &CStr = c"claimtrail_statement_timeout";

/// Virtual machine instructions between two looks at the clock: a few
/// microseconds of work, so a deadline is overrun by no more than that.
const CHECK_EVERY: c_int = 1000;

const CLIENT_DATA_NAME: &CStr = c"claimtrail_deadline";

/// One connection's deadline. Only ever touched by the thread running a
/// statement on that connection (a connection is used by one thread at a
/// time), so plain cells do.
#[derive(Default)]
struct Deadline {
    timeout: Cell<Option<Duration>>,
    started: Cell<Option<Instant>>,
}

/// Installs the extension for every SQLite connection opened from now on.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `on_open` has the signature SQLite calls entry points with.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(on_open)) };
        if rc != ffi::SQLITE_OK {
            tracing::error!(rc, "could not install the SQLite statement deadline");
        }
    });
}

/// Runs inside `sqlite3_open` for each new connection.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    let deadline = Box::into_raw(Box::<Deadline>::default()).cast::<c_void>();
    // SAFETY: `db` is the connection being opened. The client data owns the
    // box and frees it when the connection closes; the handlers and the
    // function below only run while it is open.
    unsafe {
        let rc = ffi::sqlite3_set_clientdata(db, CLIENT_DATA_NAME.as_ptr(), deadline, Some(free_deadline));
        if rc != ffi::SQLITE_OK {
            free_deadline(deadline);
            return rc;
        }
        ffi::sqlite3_progress_handler(db, CHECK_EVERY, Some(on_progress), deadline);
        ffi::sqlite3_trace_v2(db, ffi::SQLITE_TRACE_STMT as c_uint, Some(on_statement), deadline);
        ffi::sqlite3_create_function_v2(
            db,
            SET_TIMEOUT_FUNCTION_C.as_ptr(),
            -1,
            ffi::SQLITE_UTF8,
            deadline,
            Some(set_timeout),
            None,
            None,
            None,
        )
    }
}

unsafe extern "C" fn free_deadline(deadline: *mut c_void) {
    // SAFETY: made by `Box::into_raw` in `on_open`, freed once, here.
    drop(unsafe { Box::from_raw(deadline.cast::<Deadline>()) });
}

/// Starts the clock when a statement begins. Triggers' sub-programs report
/// as `-- TRIGGER name`: they run inside their statement, on its clock.
unsafe extern "C" fn on_statement(_mask: c_uint, deadline: *mut c_void, _stmt: *mut c_void, sql: *mut c_void) -> c_int {
    // SAFETY: `deadline` is the connection's `Deadline`; `sql` is the
    // statement's NUL-terminated text, or null.
    unsafe {
        let deadline = &*deadline.cast::<Deadline>();
        let sql = sql.cast::<c_char>();
        let is_trigger = !sql.is_null() && CStr::from_ptr(sql).to_bytes().starts_with(b"--");
        if !is_trigger {
            deadline.started.set(Some(Instant::now()));
        }
    }
    0
}

/// Non-zero interrupts the running statement.
unsafe extern "C" fn on_progress(deadline: *mut c_void) -> c_int {
    // SAFETY: `deadline` is the connection's `Deadline`.
    let deadline = unsafe { &*deadline.cast::<Deadline>() };
    match (deadline.timeout.get(), deadline.started.get()) {
        (Some(timeout), Some(started)) if started.elapsed() > timeout => 1,
        _ => 0,
    }
}

/// `claimtrail_statement_timeout(ms)`: sets (or, with 0, clears) the
/// deadline and gives the one it replaces, in milliseconds (0 for none);
/// with no argument, gives the deadline and leaves it.
unsafe extern "C" fn set_timeout(context: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes `argc` values and the user data given at creation.
    unsafe {
        let deadline = &*ffi::sqlite3_user_data(context).cast::<Deadline>();
        let previous = deadline.timeout.get().map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        match argc {
            0 => {}
            1 => {
                let millis = ffi::sqlite3_value_int64(*argv);
                let timeout = u64::try_from(millis).ok().filter(|ms| *ms > 0).map(Duration::from_millis);
                deadline.timeout.set(timeout);
            }
            _ => {
                ffi::sqlite3_result_error(context, c"one argument at most".as_ptr(), -1);
                return;
            }
        }
        ffi::sqlite3_result_int64(context, previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_has_one_name() {
        assert_eq!(SET_TIMEOUT_FUNCTION_C.to_str(), Ok(SET_TIMEOUT_FUNCTION));
    }
}
