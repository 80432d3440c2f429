//! How the command line ends: exit codes, and the error kind that picks
//! them. Every failure prints one `error: ...` line naming what failed
//! (file, address, URL) and what to do; never a backtrace.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | usage or input error: bad arguments or settings, a missing, empty or invalid input file, an unsupported database URL, a bad query |
//! | 2 | the command could not be carried out: the database cannot be opened or fails, the address is in use, an output file cannot be written |
//!
//! (A panic, which is a bug, exits with Rust's 101.)

use std::fmt;

/// Done.
pub const OK: u8 = 0;
/// The user's arguments, settings or input are wrong.
pub const INPUT: u8 = 1;
/// The command could not be carried out.
pub const FAILED: u8 = 2;

/// An error in what the user gave: arguments, settings, an input file.
/// Anywhere in an error's chain, it makes the exit code [`INPUT`].
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// The exit code of a failed command.
pub fn code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|e| e.is::<InputError>()) { INPUT } else { FAILED }
}
