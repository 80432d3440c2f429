//! Reads an NDJSON transfer file into the database in one transaction: every
//! record goes through the API's own rules, every bad line is reported, and
//! nothing is written unless every line is good.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::format::{Counts, FORMAT, Header, KeyData, RecordType, VERSION};
use crate::agents::model::NewAgent;
use crate::agents::store::AgentRow;
use crate::attributions::model::NewAttribution;
use crate::attributions::store::AttributionRow;
use crate::claims::model::NewClaim;
use crate::claims::store::{ClaimRow, distinct_tags};
use crate::db::schema::{agents, api_keys, attributions, claim_tags, claims, sources};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, FieldError};
use crate::http::{Body, parse_body};
use crate::quotes::{QuoteStatus, Verification, verify_quote};
use crate::sources::model::NewSource;
use crate::sources::store::SourceWrite;

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
pub fn import(conn: &mut DbConnection, input: impl BufRead, dry_run: bool) -> Result<ImportReport, ApiError> {
    enum Stop {
        /// Checked through, but not to be kept.
        Rollback(ImportReport),
        Failed(ApiError),
    }
    impl From<diesel::result::Error> for Stop {
        fn from(error: diesel::result::Error) -> Stop {
            Stop::Failed(error.into())
        }
    }
    let outcome = db::write_transaction(conn, |conn| {
        let report = Importer::new(conn, dry_run).run(input).map_err(Stop::Failed)?;
        if dry_run || !report.errors.is_empty() { Err(Stop::Rollback(report)) } else { Ok(report) }
    });
    match outcome {
        Ok(report) | Err(Stop::Rollback(report)) => Ok(report),
        Err(Stop::Failed(error)) => Err(error),
    }
}

/// The read-only fields every record carries. Absent ones take what a
/// create would give: now, and version 1.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

/// A field's value as the file gives it: absent, null, or a value.
type Stated<T> = Option<Option<T>>;

struct AgentRecord {
    line: u64,
    id: String,
    body: NewAgent,
    stamp: Stamp,
}

struct SourceRecord {
    line: u64,
    id: String,
    body: NewSource,
    stamp: Stamp,
}

struct ClaimRecord {
    line: u64,
    id: String,
    body: NewClaim,
    stamp: Stamp,
}

struct AttributionRecord {
    line: u64,
    id: String,
    body: NewAttribution,
    stamp: Stamp,
    quote_status: Stated<QuoteStatus>,
    quote_start: Stated<i32>,
    quote_end: Stated<i32>,
}

struct KeyRecord {
    line: u64,
    data: KeyData,
}

/// Good records waiting to be checked against the database and written;
/// all of one kind, in file order.
enum Batch {
    Empty,
    Agents(Vec<AgentRecord>),
    Sources(Vec<SourceRecord>),
    Claims(Vec<ClaimRecord>),
    Attributions(Vec<AttributionRecord>),
    Keys(Vec<KeyRecord>),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::Empty => 0,
            Batch::Agents(v) => v.len(),
            Batch::Sources(v) => v.len(),
            Batch::Claims(v) => v.len(),
            Batch::Attributions(v) => v.len(),
            Batch::Keys(v) => v.len(),
        }
    }
}

/// A parsed, self-consistent record of any kind.
enum Record {
    Agent(AgentRecord),
    Source(SourceRecord),
    Claim(ClaimRecord),
    Attribution(AttributionRecord),
    Key(KeyRecord),
}

struct Importer<'c> {
    conn: &'c mut DbConnection,
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
    forward_affiliations: Vec<(u64, String, String)>,
    header_allowed: bool,
    had_header: bool,
    ended: Option<(u64, Counts)>,
}

impl<'c> Importer<'c> {
    fn new(conn: &'c mut DbConnection, dry_run: bool) -> Importer<'c> {
        Importer {
            conn,
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

    fn run(mut self, mut input: impl BufRead) -> Result<ImportReport, ApiError> {
        let mut buffer = Vec::new();
        let mut line = 0u64;
        loop {
            buffer.clear();
            let read = input
                .read_until(b'\n', &mut buffer)
                .map_err(|e| ApiError::bad_request(format!("The input could not be read after line {line}: {e}")))?;
            if read == 0 {
                break;
            }
            line += 1;
            let text = match std::str::from_utf8(&buffer) {
                Ok(text) => text.trim_end_matches(['\n', '\r']),
                Err(_) => {
                    self.fail(line, "is not valid UTF-8");
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            self.read_line(line, text)?;
        }
        self.flush()?;
        self.set_forward_affiliations()?;
        match self.ended {
            Some((end_line, stated)) if stated != self.seen => self.fail(
                end_line,
                format!("the `end` line counts {stated}, but the file holds {}: lines are missing", self.seen),
            ),
            None if self.had_header => {
                self.fail(line, "the file has a header but no `end` line: it was cut short");
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

    fn read_line(&mut self, line: u64, text: &str) -> Result<(), ApiError> {
        let (kind, data) = match envelope(text) {
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
        let parse: RecordParser = match kind {
            RecordType::Header => {
                if !header_allowed {
                    self.fail(line, "a `header` line must be the first line");
                } else if let Err(message) = check_header(data) {
                    self.fail(line, message);
                } else {
                    self.had_header = true;
                }
                return Ok(());
            }
            RecordType::End => {
                match serde_json::from_value::<Counts>(data) {
                    Ok(counts) => self.ended = Some((line, counts)),
                    Err(e) => self.fail(line, format!("data: must be the counts of each kind of record: {e}")),
                }
                return Ok(());
            }
            RecordType::Agent => agent_record,
            RecordType::Source => source_record,
            RecordType::Claim => claim_record,
            RecordType::Attribution => attribution_record,
            RecordType::Key => key_record,
        };
        let Value::Object(map) = data else {
            self.fail(line, "data: must be a JSON object");
            return Ok(());
        };
        let id = map.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let record = parse(line, map, self.now);
        match record {
            Ok(record) => self.push(record, text.len()),
            Err(errors) => {
                self.reject(line, &id, errors);
                Ok(())
            }
        }
    }

    fn push(&mut self, record: Record, bytes: usize) -> Result<(), ApiError> {
        let same_kind = matches!(
            (&self.batch, &record),
            (Batch::Agents(_), Record::Agent(_))
                | (Batch::Sources(_), Record::Source(_))
                | (Batch::Claims(_), Record::Claim(_))
                | (Batch::Attributions(_), Record::Attribution(_))
                | (Batch::Keys(_), Record::Key(_))
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
            (Batch::Keys(v), Record::Key(r)) => v.push(r),
            (batch, Record::Agent(r)) => *batch = Batch::Agents(vec![r]),
            (batch, Record::Source(r)) => *batch = Batch::Sources(vec![r]),
            (batch, Record::Claim(r)) => *batch = Batch::Claims(vec![r]),
            (batch, Record::Attribution(r)) => *batch = Batch::Attributions(vec![r]),
            (batch, Record::Key(r)) => *batch = Batch::Keys(vec![r]),
        }
        Ok(())
    }

    /// Checks the waiting records against the database and writes the good ones.
    fn flush(&mut self) -> Result<(), ApiError> {
        self.batch_bytes = 0;
        match std::mem::replace(&mut self.batch, Batch::Empty) {
            Batch::Empty => Ok(()),
            Batch::Agents(records) => self.write_agents(records),
            Batch::Sources(records) => self.write_sources(records),
            Batch::Claims(records) => self.write_claims(records),
            Batch::Attributions(records) => self.write_attributions(records),
            Batch::Keys(records) => self.write_keys(records),
        }
    }

    /// The ids among `ids` that `table` already holds (one query).
    fn existing(&mut self, target: RecordType, ids: Vec<String>) -> Result<HashSet<String>, ApiError> {
        let found: Vec<String> = match target {
            RecordType::Agent => agents::table.filter(agents::id.eq_any(&ids)).select(agents::id).load(self.conn)?,
            RecordType::Source => {
                sources::table.filter(sources::id.eq_any(&ids)).select(sources::id).load(self.conn)?
            }
            RecordType::Claim => claims::table.filter(claims::id.eq_any(&ids)).select(claims::id).load(self.conn)?,
            RecordType::Attribution => {
                attributions::table.filter(attributions::id.eq_any(&ids)).select(attributions::id).load(self.conn)?
            }
            RecordType::Key => {
                api_keys::table.filter(api_keys::id.eq_any(&ids)).select(api_keys::id).load(self.conn)?
            }
            RecordType::Header | RecordType::End => Vec::new(),
        };
        Ok(found.into_iter().collect())
    }

    fn write_agents(&mut self, records: Vec<AgentRecord>) -> Result<(), ApiError> {
        let taken = self.existing(RecordType::Agent, records.iter().map(|r| r.id.clone()).collect())?;
        let targets = records.iter().filter_map(|r| r.body.affiliation_id.map(|a| a.to_string())).collect();
        let mut known = self.existing(RecordType::Agent, targets)?;
        let mut written = HashSet::new();
        for record in records {
            if taken.contains(&record.id) || written.contains(&record.id) {
                self.conflict(record.line, &record.id, "an agent");
                continue;
            }
            let affiliation = record.body.affiliation_id.map(|a| a.to_string());
            if let Some(target) = &affiliation
                && !known.contains(target)
                && let Some(line) = self.rejected.get(target).copied()
            {
                let error = FieldError::new(
                    "affiliation_id",
                    format!("agent {target} is on line {line}, which was not imported"),
                );
                self.reject(record.line, &record.id, vec![error]);
                continue;
            }
            let mut row = AgentRow::new(record.id.clone(), record.body, record.stamp.created_at, record.stamp.version);
            row.updated_at = record.stamp.updated_at;
            if let Some(target) = affiliation.filter(|t| !known.contains(t)) {
                // Written without it for now; set once every agent is in.
                row.affiliation_id = None;
                self.forward_affiliations.push((record.line, record.id.clone(), target));
            }
            diesel::insert_into(agents::table).values(&row).execute(self.conn)?;
            written.insert(record.id.clone());
            known.insert(record.id);
            self.imported.agents += 1;
        }
        Ok(())
    }

    /// Sets the affiliations that pointed forward; one that points nowhere
    /// is an error on its agent's line.
    fn set_forward_affiliations(&mut self) -> Result<(), ApiError> {
        let pending = std::mem::take(&mut self.forward_affiliations);
        for chunk in pending.chunks(BATCH) {
            let known = self.existing(RecordType::Agent, chunk.iter().map(|(_, _, t)| t.clone()).collect())?;
            for (line, id, target) in chunk {
                if known.contains(target) {
                    diesel::update(agents::table.filter(agents::id.eq(id)))
                        .set(agents::affiliation_id.eq(target))
                        .execute(self.conn)?;
                } else {
                    let error = match self.rejected.get(target) {
                        Some(at) => format!("agent {target} is on line {at}, which was not imported"),
                        None => format!("no agent with id {target} in the file or in the database"),
                    };
                    let error = FieldError::new("affiliation_id", error);
                    self.imported.agents -= 1;
                    self.reject(*line, id, vec![error]);
                }
            }
        }
        Ok(())
    }

    fn write_sources(&mut self, records: Vec<SourceRecord>) -> Result<(), ApiError> {
        let taken = self.existing(RecordType::Source, records.iter().map(|r| r.id.clone()).collect())?;
        let publishers = records.iter().filter_map(|r| r.body.publisher_id.map(|p| p.to_string())).collect();
        let known = self.existing(RecordType::Agent, publishers)?;
        let mut written = HashSet::new();
        for record in records {
            if taken.contains(&record.id) || written.contains(&record.id) {
                self.conflict(record.line, &record.id, "a source");
                continue;
            }
            if let Some(publisher) = record.body.publisher_id.map(|p| p.to_string())
                && !known.contains(&publisher)
            {
                let error = self.missing("publisher_id", "agent", &publisher);
                self.reject(record.line, &record.id, vec![error]);
                continue;
            }
            let Stamp { created_at, updated_at, version } = record.stamp;
            let row = SourceWrite::new(record.id.clone(), record.body, created_at, updated_at, version);
            diesel::insert_into(sources::table).values(&row).execute(self.conn)?;
            written.insert(record.id);
            self.imported.sources += 1;
        }
        Ok(())
    }

    fn write_claims(&mut self, records: Vec<ClaimRecord>) -> Result<(), ApiError> {
        let taken = self.existing(RecordType::Claim, records.iter().map(|r| r.id.clone()).collect())?;
        let mut written = HashSet::new();
        for record in records {
            if taken.contains(&record.id) || written.contains(&record.id) {
                self.conflict(record.line, &record.id, "a claim");
                continue;
            }
            let Stamp { created_at, updated_at, version } = record.stamp;
            let row = ClaimRow::new(record.id.clone(), &record.body, created_at, updated_at, version);
            diesel::insert_into(claims::table).values(&row).execute(self.conn)?;
            // One statement per tag: the multi-backend connection has no
            // batch insert, and a claim has at most 50 tags.
            for tag in distinct_tags(&record.body.tags) {
                diesel::insert_into(claim_tags::table)
                    .values((claim_tags::claim_id.eq(&record.id), claim_tags::tag.eq(tag)))
                    .execute(self.conn)?;
            }
            written.insert(record.id);
            self.imported.claims += 1;
        }
        Ok(())
    }

    fn write_attributions(&mut self, records: Vec<AttributionRecord>) -> Result<(), ApiError> {
        let taken = self.existing(RecordType::Attribution, records.iter().map(|r| r.id.clone()).collect())?;
        let claim_ids = records.iter().map(|r| r.body.claim_id.to_string()).collect();
        let known_claims = self.existing(RecordType::Claim, claim_ids)?;
        let source_ids = records
            .iter()
            .flat_map(|r| std::iter::once(r.body.source_id).chain(r.body.cited_source_id))
            .map(|s| s.to_string())
            .collect();
        let known_sources = self.existing(RecordType::Source, source_ids)?;
        let speaker_ids = records.iter().filter_map(|r| r.body.speaker_id.map(|s| s.to_string())).collect();
        let known_agents = self.existing(RecordType::Agent, speaker_ids)?;

        let mut good = Vec::with_capacity(records.len());
        let mut written = HashSet::new();
        for record in records {
            if taken.contains(&record.id) || !written.insert(record.id.clone()) {
                self.conflict(record.line, &record.id, "an attribution");
                continue;
            }
            let body = &record.body;
            let references = [
                ("claim_id", "claim", Some(body.claim_id), &known_claims),
                ("source_id", "source", Some(body.source_id), &known_sources),
                ("speaker_id", "agent", body.speaker_id, &known_agents),
                ("cited_source_id", "source", body.cited_source_id, &known_sources),
            ];
            let errors: Vec<FieldError> = references
                .into_iter()
                .filter_map(|(field, what, id, known)| {
                    let id = id?.to_string();
                    (!known.contains(&id)).then(|| self.missing(field, what, &id))
                })
                .collect();
            if errors.is_empty() {
                good.push(record);
            } else {
                self.reject(record.line, &record.id, errors);
            }
        }

        // Quotes are verified a source at a time, so that one source's text
        // at most is in memory.
        let mut verifications: Vec<Option<Verification>> = vec![None; good.len()];
        let mut by_source: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, record) in good.iter().enumerate() {
            if record.body.quote.is_some() {
                by_source.entry(record.body.source_id.to_string()).or_default().push(i);
            }
        }
        for (source_id, indices) in by_source {
            let content: Option<String> = sources::table.find(&source_id).select(sources::content).first(self.conn)?;
            for i in indices {
                verifications[i] = good[i].body.quote.as_ref().map(|q| verify_quote(q, content.as_deref()));
            }
        }

        for (record, verification) in good.into_iter().zip(verifications) {
            let errors = check_verification(&record, verification);
            if !errors.is_empty() {
                self.reject(record.line, &record.id, errors);
                continue;
            }
            let Stamp { created_at, updated_at, version } = record.stamp;
            let mut row = AttributionRow::new(record.id.clone(), record.body, verification, created_at, version);
            row.updated_at = updated_at;
            diesel::insert_into(attributions::table).values(&row).execute(self.conn)?;
            self.imported.attributions += 1;
        }
        Ok(())
    }

    fn write_keys(&mut self, records: Vec<KeyRecord>) -> Result<(), ApiError> {
        let taken = self.existing(RecordType::Key, records.iter().map(|r| r.data.id.clone()).collect())?;
        let mut written = HashSet::new();
        for KeyRecord { line, data } in records {
            if taken.contains(&data.id) || !written.insert(data.id.clone()) {
                self.conflict(line, &data.id, "an API key");
                continue;
            }
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::id.eq(&data.id),
                    api_keys::name.eq(&data.name),
                    api_keys::scope.eq(data.scope.as_str()),
                    api_keys::secret_sha256.eq(&data.secret_sha256),
                    api_keys::created_at.eq(data.created_at.naive_utc()),
                ))
                .execute(self.conn)?;
            self.imported.keys += 1;
        }
        Ok(())
    }
}

/// Reads the `data` of one kind of record: its own checks and its create
/// body's, every failure listed.
type RecordParser = fn(u64, Map<String, Value>, NaiveDateTime) -> Result<Record, Vec<FieldError>>;

fn agent_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let (id, stamp, errors) = common(&mut map, now);
    let body = parse_body::<NewAgent>(Value::Object(map));
    finish(id, stamp, body, errors).map(|(id, body, stamp)| Record::Agent(AgentRecord { line, id, body, stamp }))
}

fn source_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let mut errors = Vec::new();
    let stated_digest: Stated<String> = take(&mut map, "content_sha256", &mut errors);
    let (id, stamp, common_errors) = common(&mut map, now);
    errors.extend(common_errors);
    let body = parse_body::<NewSource>(Value::Object(map));
    if let (Ok(source), Some(stated)) = (&body, &stated_digest) {
        let digest = source.content.as_deref().map(|c| hex::encode(Sha256::digest(c.as_bytes())));
        if *stated != digest {
            errors.push(FieldError::new(
                "content_sha256",
                "is not the SHA-256 of `content` (null when there is no content)",
            ));
        }
    }
    finish(id, stamp, body, errors).map(|(id, body, stamp)| Record::Source(SourceRecord { line, id, body, stamp }))
}

fn claim_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let (id, stamp, errors) = common(&mut map, now);
    let body = parse_body::<NewClaim>(Value::Object(map));
    finish(id, stamp, body, errors).map(|(id, body, stamp)| Record::Claim(ClaimRecord { line, id, body, stamp }))
}

fn attribution_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let mut errors = Vec::new();
    let quote_status = take(&mut map, "quote_status", &mut errors);
    let quote_start = take(&mut map, "quote_start", &mut errors);
    let quote_end = take(&mut map, "quote_end", &mut errors);
    let (id, stamp, common_errors) = common(&mut map, now);
    errors.extend(common_errors);
    let body = parse_body::<NewAttribution>(Value::Object(map));
    finish(id, stamp, body, errors).map(|(id, body, stamp)| {
        Record::Attribution(AttributionRecord { line, id, body, stamp, quote_status, quote_start, quote_end })
    })
}

/// An API key: an id as `keys create` makes them (letters and digits, as
/// the token `ct_<id>_<secret>` needs), a name, a scope, and a SHA-256.
fn key_record(line: u64, map: Map<String, Value>, _now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let data: KeyData = serde_json::from_value(Value::Object(map))
        .map_err(|e| vec![FieldError::new("", format!("not an API key record: {e}"))])?;
    let mut errors = Vec::new();
    if data.id.is_empty() || data.id.len() > 64 || !data.id.chars().all(|c| c.is_ascii_alphanumeric()) {
        errors.push(FieldError::new("id", "must be 1 to 64 ASCII letters and digits"));
    }
    if data.name.is_empty() || data.name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    }
    if data.secret_sha256.len() != 64 || !data.secret_sha256.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        errors.push(FieldError::new("secret_sha256", "must be 64 lowercase hexadecimal digits"));
    }
    if errors.is_empty() { Ok(Record::Key(KeyRecord { line, data })) } else { Err(errors) }
}

/// The stated quote verification must be what verifying the quote against
/// its source's content gives now; absent fields take that value.
fn check_verification(record: &AttributionRecord, verification: Option<Verification>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let computed_status = verification.map(|v| v.status);
    if let Some(stated) = record.quote_status
        && stated != computed_status
    {
        let name = |s: Option<QuoteStatus>| s.map_or("null", QuoteStatus::as_str);
        errors.push(FieldError::new(
            "quote_status",
            format!(
                "is {} in the file, but checking the quote against the source gives {}",
                name(stated),
                name(computed_status)
            ),
        ));
    }
    for (field, stated, computed) in [
        ("quote_start", record.quote_start, verification.and_then(|v| v.start)),
        ("quote_end", record.quote_end, verification.and_then(|v| v.end)),
    ] {
        if let Some(stated) = stated
            && stated != computed
        {
            let show = |v: Option<i32>| v.map_or("null".to_string(), |v| v.to_string());
            errors.push(FieldError::new(
                field,
                format!("is {} in the file, but the quote is at {} in the source", show(stated), show(computed)),
            ));
        }
    }
    errors
}

fn describe(error: &FieldError) -> String {
    if error.field.is_empty() { error.message.clone() } else { format!("{}: {}", error.field, error.message) }
}

/// Splits a line into its record type and data.
fn envelope(text: &str) -> Result<(RecordType, Value), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}"))?;
    let Value::Object(mut members) = value else {
        return Err("must be a JSON object with `type` and `data`".to_string());
    };
    if let Some(extra) = members.keys().find(|k| *k != "type" && *k != "data") {
        return Err(format!("`{extra}` is not a member of a record line; only `type` and `data` are"));
    }
    let kind = members.remove("type").ok_or("`type` is missing")?;
    let data = members.remove("data").ok_or("`data` is missing")?;
    let kind = kind
        .as_str()
        .and_then(RecordType::parse)
        .ok_or("`type` must be one of header, agent, source, claim, attribution, key, end")?;
    Ok((kind, data))
}

fn check_header(data: Value) -> Result<(), String> {
    let header: Header = serde_json::from_value(data).map_err(|e| format!("data: not a header of this format: {e}"))?;
    if header.format != FORMAT {
        return Err(format!("data.format: is `{}`; this program reads `{FORMAT}` files", header.format));
    }
    if header.version != VERSION {
        return Err(format!(
            "data.version: the file is of format version {}; this claimtrail reads version {VERSION}",
            header.version
        ));
    }
    Ok(())
}

/// Removes `field` from the record and reads it: `None` when absent.
fn take<T: DeserializeOwned>(map: &mut Map<String, Value>, field: &str, errors: &mut Vec<FieldError>) -> Stated<T> {
    let value = map.remove(field)?;
    match serde_json::from_value::<Option<T>>(value) {
        Ok(value) => Some(value),
        Err(e) => {
            errors.push(FieldError::new(field, e.to_string()));
            None
        }
    }
}

/// The id and the read-only fields every record has; the id stays in the map
/// for the create body, which checks it too.
fn common(map: &mut Map<String, Value>, now: NaiveDateTime) -> (String, Stamp, Vec<FieldError>) {
    let mut errors = Vec::new();
    let id = map.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    if map.get("id").is_none_or(Value::is_null) {
        errors.push(FieldError::new("id", "is required: records refer to each other by id"));
    }
    let created_at = time(map, "created_at", &mut errors).unwrap_or(now);
    let updated_at = time(map, "updated_at", &mut errors).unwrap_or(created_at);
    let version = match map.remove("version") {
        None => 1,
        Some(value) => match value.as_i64().and_then(|v| i32::try_from(v).ok()).filter(|v| *v >= 1) {
            Some(version) => version,
            None => {
                errors.push(FieldError::new("version", "must be an integer from 1 to 2147483647"));
                1
            }
        },
    };
    if updated_at < created_at {
        errors.push(FieldError::new("updated_at", "must not be before created_at"));
    }
    (id, Stamp { created_at, updated_at, version }, errors)
}

/// A stored time: RFC 3339, at most microsecond precision (what both
/// backends keep), no leap second.
fn time(map: &mut Map<String, Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDateTime> {
    let value = map.remove(field)?;
    let invalid = |errors: &mut Vec<FieldError>, message: &str| {
        errors.push(FieldError::new(field, message));
        None
    };
    let Ok(at) = serde_json::from_value::<DateTime<Utc>>(value) else {
        return invalid(errors, "must be an RFC 3339 time such as 2025-11-18T09:30:00Z");
    };
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return invalid(errors, "must not be a leap second");
    }
    if nanos % 1000 != 0 {
        return invalid(errors, "must have at most microsecond precision (6 decimals)");
    }
    Some(at.naive_utc())
}

/// Joins the record's own checks with its body's; the record when both pass.
fn finish<T: Body>(
    id: String,
    stamp: Stamp,
    body: Result<T, ApiError>,
    mut errors: Vec<FieldError>,
) -> Result<(String, T, Stamp), Vec<FieldError>> {
    match body {
        Ok(body) if errors.is_empty() => Ok((id, body, stamp)),
        Ok(_) => Err(errors),
        Err(error) => {
            errors.extend(error.field_errors().iter().cloned());
            Err(errors)
        }
    }
}
