//! Reads an NDJSON transfer file into the database in one transaction: every
//! record goes through the API's own rules, every bad line is reported, and
//! nothing is written unless every line is good.

mod batches;
mod records;

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::mpsc::SyncSender;

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::format::{Counts, RecordType};
use crate::db::write::{Change, StoreError, StoreResult, Tx};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, FieldError};
use crate::ids::AgentId;
use batches::Batch;
use records::{Record, check_header, describe, envelope};

/// Records checked against the database together, with one query per kind
/// of reference.
const BATCH: usize = 500;

/// Bytes of record lines held before a batch is written, so that a run of
/// large sources does not pile up in memory.
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Bad lines listed in a report; the rest are only counted.
const LISTED_ERRORS: usize = 1000;

/// What an import wrote, or would write.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// True when this was a dry run: everything was checked, nothing written.
    pub dry_run: bool,
    /// The records of each kind that were written (in a dry run: that would be).
    pub imported: Counts,
    /// Every bad line (the first 1000 of them), in file order. When there is
    /// one, nothing was written.
    pub errors: Vec<LineError>,
    /// Bad lines past the first 1000: counted, not listed.
    pub errors_not_listed: u64,
}

/// One thing wrong with one line of the file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineError {
    /// The line's number, from 1.
    pub line: u64,
    /// What is wrong, starting with the field when one is to blame.
    pub message: String,
    /// The record's id is taken: a conflict (409) rather than bad input (422).
    #[serde(skip)]
    pub conflict: bool,
}

impl ImportReport {
    /// Every bad line, counted.
    pub fn error_count(&self) -> u64 {
        self.errors.len() as u64 + self.errors_not_listed
    }

    /// The report when every line was good; else the problem: 422 listing the
    /// bad lines when any line is invalid, 409 when the only trouble is ids
    /// that already exist.
    pub fn into_result(self) -> Result<ImportReport, ApiError> {
        if self.errors.is_empty() {
            return Ok(self);
        }
        let bad = self.error_count();
        let written = if self.dry_run { "an import would write nothing" } else { "nothing was imported" };
        let listed =
            self.errors.iter().map(|e| FieldError::new(format!("line {}", e.line), e.message.clone())).collect();
        let error = if self.errors.iter().all(|e| e.conflict) {
            ApiError::conflict(format!("{bad} records have ids that already exist; {written}."))
        } else {
            ApiError::unprocessable(Vec::new()).with_detail(format!("{bad} problems in the file; {written}."))
        };
        Err(error.with_errors(listed))
    }
}

/// Loads a transfer file in one transaction: all or nothing. With `dry_run`
/// every line is checked exactly as in an import (references to records
/// earlier in the file included), and then everything is rolled back.
///
/// Lines are records in dependency order, as `export` writes them: a record
/// may refer to what the database already holds or to records on earlier
/// lines; only an agent's `affiliation_id` may point forward (affiliations
/// can form cycles). An id that already exists is an error, not a skip.
///
/// A file that carries history (its header says so; `claimtrail export`
/// writes one unless `--without-history`) brings its revisions, written as
/// they were; otherwise each record gets a `create` revision by `change`'s
/// author.
///
/// `file` says whether other connections may use the database meanwhile
/// (see [`db::FileUse`]): the server's import shares it, the command
/// line's takes it for itself when it can.
pub fn import(
    conn: &mut DbConnection,
    input: impl BufRead + Send,
    dry_run: bool,
    change: Change,
    file: db::FileUse,
) -> StoreResult<ImportReport> {
    let started = std::time::Instant::now();
    let saved = db::before_bulk_write(conn, file)?;
    let imported: StoreResult<ImportReport> = db::write_tx_deciding(conn, change, |tx| {
        tx.bulk()?;
        let report = Importer::new(tx, dry_run).run(input)?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "import: records read and written");
        let keep = !dry_run && report.errors.is_empty();
        Ok((report, keep))
    });
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "import: transaction ended");
    // The import's own error, if any, is the one to report.
    let restored = db::after_bulk_write(conn, saved);
    let report = imported?;
    restored?;
    Ok(report)
}

struct Importer<'t, 'c> {
    tx: &'t mut Tx<'c>,
    dry_run: bool,
    now: NaiveDateTime,
    imported: Counts,
    /// Record lines of each kind, good or bad, to compare with the `end` line.
    seen: Counts,
    errors: Vec<LineError>,
    errors_not_listed: u64,
    batch: Batch,
    batch_bytes: usize,
    /// Ids of records that were not written, and their lines, so that a
    /// reference to one can say why it is missing.
    rejected: HashMap<String, u64>,
    /// Agents written without their affiliation because it comes later in
    /// the file: (line, agent id, affiliation id), set at the end.
    forward_affiliations: Vec<(u64, AgentId, AgentId)>,
    header_allowed: bool,
    had_header: bool,
    ended: Option<(u64, Counts)>,
}

impl<'t, 'c> Importer<'t, 'c> {
    fn new(tx: &'t mut Tx<'c>, dry_run: bool) -> Importer<'t, 'c> {
        Importer {
            tx,
            dry_run,
            now: db::now(),
            imported: Counts::default(),
            seen: Counts::default(),
            errors: Vec::new(),
            errors_not_listed: 0,
            batch: Batch::Empty,
            batch_bytes: 0,
            rejected: HashMap::new(),
            forward_affiliations: Vec::new(),
            header_allowed: true,
            had_header: false,
            ended: None,
        }
    }

    fn run(mut self, input: impl BufRead + Send) -> StoreResult<ImportReport> {
        let now = self.now;
        let mut last_line = 0;
        std::thread::scope(|scope| -> StoreResult<()> {
            let (sender, chunks) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
            scope.spawn(move || read_lines(input, now, &sender));
            // Dropped on an early return, which stops the reading thread.
            for read in chunks {
                match read {
                    Read::Lines(lines) => {
                        for (line, parsed) in lines {
                            self.take(line, parsed)?;
                        }
                    }
                    Read::Failed(line, message) => return Err(StoreError::invalid(format!("line {line}"), message)),
                    Read::End(lines) => last_line = lines,
                }
            }
            Ok(())
        })?;
        self.flush()?;
        self.set_forward_affiliations()?;
        match self.ended {
            Some((end_line, stated)) if stated != self.seen => self.fail(
                end_line,
                format!("the `end` line counts {stated}, but the file holds {}: lines are missing", self.seen),
            ),
            None if self.had_header => {
                self.fail(last_line, "the file has a header but no `end` line: it was cut short");
            }
            _ => {}
        }
        // Forward affiliations are checked last; the report reads in file order.
        self.errors.sort_by_key(|e| e.line);
        Ok(ImportReport {
            dry_run: self.dry_run,
            imported: self.imported,
            errors: self.errors,
            errors_not_listed: self.errors_not_listed,
        })
    }

    fn fail(&mut self, line: u64, message: impl Into<String>) {
        self.report(LineError { line, message: message.into(), conflict: false });
    }

    fn report(&mut self, error: LineError) {
        if self.errors.len() < LISTED_ERRORS {
            self.errors.push(error);
        } else {
            self.errors_not_listed += 1;
        }
    }

    fn reject(&mut self, line: u64, id: &str, errors: Vec<FieldError>) {
        if !id.is_empty() {
            self.rejected.insert(id.to_string(), line);
        }
        for error in errors {
            self.fail(line, describe(&error));
        }
    }

    fn conflict(&mut self, line: u64, id: &str, what: &str) {
        self.rejected.insert(id.to_string(), line);
        self.report(LineError {
            line,
            message: format!("id: {what} with id {id} already exists (in the database, or earlier in this file)"),
            conflict: true,
        });
    }

    /// Why a referenced id is missing, for the error on the referring line.
    fn missing(&self, field: &str, what: &str, id: &str) -> FieldError {
        match self.rejected.get(id) {
            Some(line) => FieldError::new(field, format!("{what} {id} is on line {line}, which was not imported")),
            None => FieldError::new(field, format!("no {what} with id {id} earlier in the file or in the database")),
        }
    }

    /// Takes one parsed line, in file order: what only the lines before it
    /// can tell (a header after the first line, anything after the `end`
    /// line) is checked here, and a good record joins the batch.
    fn take(&mut self, line: u64, parsed: Parsed) -> StoreResult<()> {
        let (kind, content) = match parsed {
            Ok(parts) => parts,
            Err(message) => {
                self.fail(line, message);
                return Ok(());
            }
        };
        if let Some((end_line, _)) = self.ended {
            self.fail(line, format!("comes after the `end` line ({end_line})"));
            return Ok(());
        }
        let header_allowed = std::mem::replace(&mut self.header_allowed, false);
        self.seen.add(kind);
        match content {
            Content::Frame(data) if kind == RecordType::Header => {
                if !header_allowed {
                    self.fail(line, "a `header` line must be the first line");
                    return Ok(());
                }
                match check_header(data) {
                    Err(message) => self.fail(line, message),
                    Ok(header) => {
                        self.had_header = true;
                        if header.history {
                            self.tx.carry_history();
                        }
                    }
                }
                Ok(())
            }
            Content::Frame(data) => {
                match serde_json::from_value::<Counts>(data) {
                    Ok(counts) => self.ended = Some((line, counts)),
                    Err(e) => self.fail(line, format!("data: must be the counts of each kind of record: {e}")),
                }
                Ok(())
            }
            Content::Record { record: Ok(record), bytes, .. } => self.push(record, bytes),
            Content::Record { id, record: Err(errors), .. } => {
                self.reject(line, &id, errors);
                Ok(())
            }
        }
    }

    fn push(&mut self, record: Record, bytes: usize) -> StoreResult<()> {
        let same_kind = matches!(
            (&self.batch, &record),
            (Batch::Agents(_), Record::Agent(_))
                | (Batch::Sources(_), Record::Source(_))
                | (Batch::Claims(_), Record::Claim(_))
                | (Batch::Attributions(_), Record::Attribution(_))
                | (Batch::Reviews(_), Record::Review(_))
                | (Batch::Keys(_), Record::Key(_))
                | (Batch::Revisions(_), Record::Revision(_))
        );
        if !same_kind || self.batch.len() >= BATCH || self.batch_bytes + bytes > BATCH_BYTES {
            self.flush()?;
        }
        self.batch_bytes += bytes;
        match (&mut self.batch, record) {
            (Batch::Agents(v), Record::Agent(r)) => v.push(r),
            (Batch::Sources(v), Record::Source(r)) => v.push(r),
            (Batch::Claims(v), Record::Claim(r)) => v.push(r),
            (Batch::Attributions(v), Record::Attribution(r)) => v.push(r),
            (Batch::Reviews(v), Record::Review(r)) => v.push(r),
            (Batch::Keys(v), Record::Key(r)) => v.push(r),
            (Batch::Revisions(v), Record::Revision(r)) => v.push(r),
            (batch, Record::Agent(r)) => *batch = Batch::Agents(vec![r]),
            (batch, Record::Source(r)) => *batch = Batch::Sources(vec![r]),
            (batch, Record::Claim(r)) => *batch = Batch::Claims(vec![r]),
            (batch, Record::Attribution(r)) => *batch = Batch::Attributions(vec![r]),
            (batch, Record::Review(r)) => *batch = Batch::Reviews(vec![r]),
            (batch, Record::Key(r)) => *batch = Batch::Keys(vec![r]),
            (batch, Record::Revision(r)) => *batch = Batch::Revisions(vec![r]),
        }
        Ok(())
    }
}

/// Lines sent from the reading thread to the writing one at a time.
const CHUNK_LINES: usize = 256;

/// Chunks the reading thread may be ahead of the writing one.
const CHUNKS_AHEAD: usize = 4;

/// What the reading thread sends.
enum Read {
    /// Lines, in order, blank ones left out.
    Lines(Vec<(u64, Parsed)>),
    /// This line could not be read, for this reason; nothing follows.
    Failed(u64, String),
    /// The input ended after this many lines.
    End(u64),
}

/// One line as the reading thread leaves it: decoded and parsed, checked
/// on its own but not yet against the lines before it or the database;
/// `Err` is a line that is bad whatever comes before it.
type Parsed = Result<(RecordType, Content), String>;

// Nearly every line is a record: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Content {
    /// A `header` or `end` line's data.
    Frame(Value),
    /// A record line: its id (empty when it has none), the record or what
    /// is wrong with it, and the line's length in bytes.
    Record { id: String, record: Result<Record, Vec<FieldError>>, bytes: usize },
}

/// Reads and parses the file's lines on a thread of their own, while the
/// importer checks and writes the ones before: JSON and each record's own
/// checks were a quarter of the time an import of 100,000 claims took to
/// read and write its records. Blank lines are left out. Stops at the end
/// of the input, at a read error (sent as the line that could not be read
/// and why), or when the importer stops listening.
fn read_lines(mut input: impl BufRead, now: NaiveDateTime, chunks: &SyncSender<Read>) {
    let mut buffer = Vec::new();
    let mut line = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    loop {
        buffer.clear();
        match input.read_until(b'\n', &mut buffer) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = chunks.send(Read::Lines(std::mem::take(&mut chunk)));
                let _ = chunks.send(Read::Failed(line + 1, format!("the input could not be read: {e}")));
                return;
            }
        }
        line += 1;
        if let Some(parsed) = parse_line(line, &buffer, now) {
            chunk.push((line, parsed));
        }
        if chunk.len() == CHUNK_LINES
            && chunks.send(Read::Lines(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_LINES)))).is_err()
        {
            return;
        }
    }
    if chunks.send(Read::Lines(chunk)).is_ok() {
        let _ = chunks.send(Read::End(line));
    }
}

/// One line of the file, parsed; `None` when it is blank.
fn parse_line(line: u64, bytes: &[u8], now: NaiveDateTime) -> Option<Parsed> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some(Err("is not valid UTF-8".to_string()));
    };
    let text = text.trim_end_matches(['\n', '\r']);
    if text.trim().is_empty() {
        return None;
    }
    let (kind, data) = match envelope(text) {
        Ok(parts) => parts,
        Err(message) => return Some(Err(message)),
    };
    let Some(parse) = records::parser(kind) else {
        return Some(Ok((kind, Content::Frame(data))));
    };
    let record = match data {
        Value::Object(map) => {
            let id = map.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            Content::Record { id, record: parse(line, map, now), bytes: text.len() }
        }
        _ => Content::Record {
            id: String::new(),
            record: Err(vec![FieldError::new("", "data: must be a JSON object")]),
            bytes: text.len(),
        },
    };
    Some(Ok((kind, record)))
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;

    /// A line's number, and its kind or its problem.
    type Line = (u64, Result<RecordType, String>);

    /// Runs the reading thread over `input` and gives what it sent: each
    /// line as its number and either its kind or its problem, then how it
    /// ended.
    fn sent(input: impl BufRead + Send) -> (Vec<Line>, Vec<String>) {
        let now = crate::db::now();
        std::thread::scope(|scope| {
            let (sender, reads) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
            scope.spawn(move || read_lines(input, now, &sender));
            let mut lines = Vec::new();
            let mut ends = Vec::new();
            for read in reads {
                match read {
                    Read::Lines(chunk) => {
                        lines.extend(chunk.into_iter().map(|(line, parsed)| (line, parsed.map(|(kind, _)| kind))))
                    }
                    Read::Failed(line, message) => ends.push(format!("failed at line {line}: {message}")),
                    Read::End(count) => ends.push(format!("ended after {count} lines")),
                }
            }
            (lines, ends)
        })
    }

    #[test]
    fn the_reading_thread_numbers_every_line_in_order_leaves_out_blank_ones_and_counts_them_all() {
        let header = r#"{"type":"header","data":{"format":"claimtrail","version":1}}"#;
        let mut file = format!("{header}\n\n   \r\n").into_bytes();
        file.extend_from_slice(b"\xff\xfe\n");
        // More lines than one chunk holds.
        for _ in 0..CHUNK_LINES + 10 {
            file.extend_from_slice(b"{\"type\":\"claim\",\"data\":[]}\n");
        }
        file.extend_from_slice(b"{\"type\":\"end\",\"data\":{}}\n\n");
        let (lines, ends) = sent(file.as_slice());
        assert_eq!(lines.len(), 1 + 1 + CHUNK_LINES + 10 + 1, "the blank lines left out");
        assert_eq!(lines[0], (1, Ok(RecordType::Header)));
        assert_eq!(lines[1], (4, Err("is not valid UTF-8".to_string())));
        let numbers: Vec<u64> = lines.iter().map(|(line, _)| *line).collect();
        let expected: Vec<u64> = [1].into_iter().chain(4..=(4 + CHUNK_LINES as u64 + 11)).collect();
        assert_eq!(numbers, expected);
        assert_eq!(lines[2].1, Ok(RecordType::Claim), "data that is not an object is the record's own problem");
        assert_eq!(lines.last(), Some(&(CHUNK_LINES as u64 + 15, Ok(RecordType::End))));
        assert_eq!(ends, [format!("ended after {} lines", CHUNK_LINES + 16)], "the trailing blank line counted");
    }

    /// Gives its bytes, then an error.
    struct FailsAfter(&'static [u8]);

    impl std::io::Read for FailsAfter {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("the disk went away"));
            }
            self.0.read(out)
        }
    }

    #[test]
    fn a_read_error_comes_after_the_lines_before_it_and_names_the_line_it_stopped_at() {
        let input = BufReader::new(FailsAfter(b"{\"type\":\"end\",\"data\":{}}\n\nhalf a li"));
        let (lines, ends) = sent(input);
        assert_eq!(lines, [(1, Ok(RecordType::End))]);
        assert_eq!(ends, ["failed at line 3: the input could not be read: the disk went away"]);
    }

    /// The same line, for ever.
    struct Endless;

    impl std::io::Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let line = b"{\"type\":\"end\",\"data\":{}}\n";
            let n = out.len().min(line.len());
            out[..n].copy_from_slice(&line[..n]);
            Ok(n)
        }
    }

    #[test]
    fn the_reading_thread_stops_when_the_importer_stops_listening() {
        let now = crate::db::now();
        let first = std::thread::scope(|scope| {
            let (sender, reads) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
            let reader = scope.spawn(move || read_lines(BufReader::new(Endless), now, &sender));
            let first = reads.recv().expect("a first chunk");
            // As the importer does when a write fails: the thread ends.
            drop(reads);
            reader.join().expect("the reading thread ends");
            first
        });
        let Read::Lines(chunk) = first else { panic!("lines come first") };
        assert_eq!(chunk.len(), CHUNK_LINES);
    }
}
