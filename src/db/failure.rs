//! Database failures that are not the request's fault and not a bug: the
//! disk is full, a statement ran past its deadline, the connection was lost.
//! Each is told apart here, from the error diesel returns, so that
//! `error.rs` answers 507 or 503 instead of a generic 500.
//!
//! diesel exposes neither SQLite's result code nor PostgreSQL's SQLSTATE,
//! only the messages, so these are matched on the messages' text:
//! SQLite's are fixed English strings (`sqlite3_errstr`); PostgreSQL's are
//! the server's, in English unless the server's `lc_messages` translates
//! them (then these conditions fall back to a 500, still logged).

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

/// A failure of the database rather than of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No space left for the write: SQLite's `SQLITE_FULL` ("database or
    /// disk is full"), PostgreSQL's `disk_full` (SQLSTATE 53100).
    DiskFull,
    /// The statement ran past the deadline and was stopped: SQLite's
    /// `SQLITE_INTERRUPT` from the deadline's progress handler, PostgreSQL's
    /// `query_canceled` (57014) from `statement_timeout`.
    Deadline,
    /// The connection broke (the server stopped or restarted).
    ConnectionLost,
}

/// What kind of database failure `error` is, if it is one of these.
pub fn classify(error: &DieselError) -> Option<Failure> {
    let DieselError::DatabaseError(kind, info) = error else { return None };
    classify_database_error(kind, info.as_ref())
}

fn classify_database_error(kind: &DatabaseErrorKind, info: &dyn DatabaseErrorInformation) -> Option<Failure> {
    let message = info.message();
    let hint = info.hint().unwrap_or_default();
    if message == "database or disk is full"
        || message.contains("No space left on device")
        || hint.contains("Check free disk space")
    {
        Some(Failure::DiskFull)
    } else if message == "interrupted" || message.starts_with("canceling statement due to statement timeout") {
        Some(Failure::Deadline)
    } else if matches!(kind, DatabaseErrorKind::ClosedConnection) {
        Some(Failure::ConnectionLost)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error as a driver reports it: a message and maybe a hint.
    struct Reported(&'static str, Option<&'static str>);

    impl DatabaseErrorInformation for Reported {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            self.1
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn error(kind: DatabaseErrorKind, message: &'static str, hint: Option<&'static str>) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(Reported(message, hint)))
    }

    #[test]
    fn sqlite_full_is_disk_full() {
        let e = error(DatabaseErrorKind::Unknown, "database or disk is full", None);
        assert_eq!(classify(&e), Some(Failure::DiskFull));
    }

    #[test]
    fn postgres_disk_full_is_disk_full_by_message_or_by_hint() {
        let e = error(
            DatabaseErrorKind::Unknown,
            "could not extend file \"base/16384/16385\": No space left on device",
            Some("Check free disk space."),
        );
        assert_eq!(classify(&e), Some(Failure::DiskFull));
        let e = error(
            DatabaseErrorKind::Unknown,
            "could not extend file \"base/1/2\": wrote only 4096 of 8192 bytes at block 7",
            Some("Check free disk space."),
        );
        assert_eq!(classify(&e), Some(Failure::DiskFull));
    }

    #[test]
    fn an_interrupted_or_cancelled_statement_is_a_deadline() {
        assert_eq!(classify(&error(DatabaseErrorKind::Unknown, "interrupted", None)), Some(Failure::Deadline));
        let e = error(DatabaseErrorKind::Unknown, "canceling statement due to statement timeout", None);
        assert_eq!(classify(&e), Some(Failure::Deadline));
    }

    #[test]
    fn a_closed_connection_is_connection_lost() {
        let e = error(DatabaseErrorKind::ClosedConnection, "server closed the connection unexpectedly", None);
        assert_eq!(classify(&e), Some(Failure::ConnectionLost));
    }

    #[test]
    fn other_errors_are_none_of_these() {
        assert_eq!(classify(&error(DatabaseErrorKind::UniqueViolation, "duplicate key", None)), None);
        assert_eq!(classify(&error(DatabaseErrorKind::Unknown, "syntax error", None)), None);
        assert_eq!(classify(&DieselError::NotFound), None);
    }
}
