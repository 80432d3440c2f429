//! One line of a transfer file, read and checked on its own: the envelope,
//! the read-only fields every record carries, and the record's create body
//! under the API's own rules.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::agents::model::NewAgent;
use crate::attributions::model::NewAttribution;
use crate::claims::model::NewClaim;
use crate::db::write::{ResourceType, RevisionAction, Stamp};
use crate::error::FieldError;
use crate::http::{Body, parse_body};
use crate::ids::{AgentId, AttributionId, ClaimId, ReviewId, SourceId};
use crate::quotes::{QuoteStatus, Verification};
use crate::reviews::model::NewReview;
use crate::revisions::store::RevisionRow;
use crate::sources::model::NewSource;
use crate::transfer::format::{FORMAT, Header, KeyData, RecordType, VERSION};

/// A field's value as the file gives it: absent, null, or a value.
pub type Stated<T> = Option<Option<T>>;

pub struct AgentRecord {
    pub line: u64,
    pub id: AgentId,
    pub body: NewAgent,
    pub stamp: Stamp,
}

pub struct SourceRecord {
    pub line: u64,
    pub id: SourceId,
    pub body: NewSource,
    pub stamp: Stamp,
}

pub struct ClaimRecord {
    pub line: u64,
    pub id: ClaimId,
    pub body: NewClaim,
    pub stamp: Stamp,
}

pub struct AttributionRecord {
    pub line: u64,
    pub id: AttributionId,
    pub body: NewAttribution,
    pub stamp: Stamp,
    pub quote_status: Stated<QuoteStatus>,
    pub quote_start: Stated<i32>,
    pub quote_end: Stated<i32>,
}

pub struct ReviewRecord {
    pub line: u64,
    pub id: ReviewId,
    pub body: NewReview,
    pub stamp: Stamp,
}

pub struct KeyRecord {
    pub line: u64,
    pub data: KeyData,
}

pub struct RevisionRecord {
    pub line: u64,
    pub row: RevisionRow,
}

/// A revision line's `data`: a revision as `GET …/revisions/{version}` shows it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevisionData {
    resource_type: ResourceType,
    resource_id: String,
    version: i32,
    action: RevisionAction,
    data: Option<Value>,
    #[serde(default)]
    cause: Option<String>,
    actor: String,
    #[serde(default)]
    comment: Option<String>,
    created_at: DateTime<Utc>,
}

/// A parsed, self-consistent record of any kind.
pub enum Record {
    Agent(AgentRecord),
    Source(SourceRecord),
    Claim(ClaimRecord),
    Attribution(AttributionRecord),
    Review(ReviewRecord),
    Key(KeyRecord),
    Revision(RevisionRecord),
}

/// Reads the `data` of one kind of record: its own checks and its create
/// body's, every failure listed.
pub type RecordParser = fn(u64, Map<String, Value>, NaiveDateTime) -> Result<Record, Vec<FieldError>>;

/// The parser of a kind of record; `None` for the framing lines.
pub fn parser(kind: RecordType) -> Option<RecordParser> {
    match kind {
        RecordType::Agent => Some(agent_record),
        RecordType::Source => Some(source_record),
        RecordType::Claim => Some(claim_record),
        RecordType::Attribution => Some(attribution_record),
        RecordType::Review => Some(review_record),
        RecordType::Key => Some(key_record),
        RecordType::Revision => Some(revision_record),
        RecordType::Header | RecordType::End => None,
    }
}

/// A create body with a client-chosen id, as every record's is.
trait WithId: Body {
    type Id: Clone;
    fn id(&self) -> Option<&Self::Id>;
}

macro_rules! with_id {
    ($($body:ty => $id:ty),+) => {$(
        impl WithId for $body {
            type Id = $id;
            fn id(&self) -> Option<&$id> {
                self.id.as_ref()
            }
        }
    )+};
}

with_id!(
    NewAgent => AgentId,
    NewSource => SourceId,
    NewClaim => ClaimId,
    NewAttribution => AttributionId,
    NewReview => ReviewId
);

fn agent_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let (stamp, errors) = common(&mut map, now);
    let (id, body, stamp) = finish(parse_body::<NewAgent>(Value::Object(map)), stamp, errors)?;
    Ok(Record::Agent(AgentRecord { line, id, body, stamp }))
}

fn source_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let mut errors = Vec::new();
    let stated_digest: Stated<String> = take(&mut map, "content_sha256", &mut errors);
    let (stamp, common_errors) = common(&mut map, now);
    errors.extend(common_errors);
    let parsed = parse_body::<NewSource>(Value::Object(map));
    if let (Ok(source), Some(stated)) = (&parsed, &stated_digest) {
        let digest = source.content.as_deref().map(|c| hex::encode(Sha256::digest(c.as_bytes())));
        if *stated != digest {
            errors.push(FieldError::new(
                "content_sha256",
                "is not the SHA-256 of `content` (null when there is no content)",
            ));
        }
    }
    let (id, body, stamp) = finish(parsed, stamp, errors)?;
    Ok(Record::Source(SourceRecord { line, id, body, stamp }))
}

fn claim_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let (stamp, errors) = common(&mut map, now);
    let (id, body, stamp) = finish(parse_body::<NewClaim>(Value::Object(map)), stamp, errors)?;
    Ok(Record::Claim(ClaimRecord { line, id, body, stamp }))
}

fn attribution_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let mut errors = Vec::new();
    let quote_status = take(&mut map, "quote_status", &mut errors);
    let quote_start = take(&mut map, "quote_start", &mut errors);
    let quote_end = take(&mut map, "quote_end", &mut errors);
    let (stamp, common_errors) = common(&mut map, now);
    errors.extend(common_errors);
    let (id, body, stamp) = finish(parse_body::<NewAttribution>(Value::Object(map)), stamp, errors)?;
    Ok(Record::Attribution(AttributionRecord { line, id, body, stamp, quote_status, quote_start, quote_end }))
}

fn review_record(line: u64, mut map: Map<String, Value>, now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let (stamp, errors) = common(&mut map, now);
    let (id, body, stamp) = finish(parse_body::<NewReview>(Value::Object(map)), stamp, errors)?;
    Ok(Record::Review(ReviewRecord { line, id, body, stamp }))
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

/// A revision carried by a file with history, checked on its own: a known
/// type and action, an id of the type's form, data for everything but a
/// deletion, an author, a comment of at most 500 characters.
fn revision_record(line: u64, map: Map<String, Value>, _now: NaiveDateTime) -> Result<Record, Vec<FieldError>> {
    let data: RevisionData = serde_json::from_value(Value::Object(map))
        .map_err(|e| vec![FieldError::new("", format!("not a revision record: {e}"))])?;
    let mut errors = Vec::new();
    let id_ok = match data.resource_type {
        ResourceType::Key => {
            !data.resource_id.is_empty() && data.resource_id.chars().all(|c| c.is_ascii_alphanumeric())
        }
        _ => uuid::Uuid::parse_str(&data.resource_id).is_ok_and(|u| u.hyphenated().to_string() == data.resource_id),
    };
    if !id_ok {
        errors.push(FieldError::new("resource_id", "is not an id of this resource type"));
    }
    if data.version < 1 {
        errors.push(FieldError::new("version", "must be at least 1"));
    }
    match (&data.data, data.action) {
        (None | Some(Value::Null), RevisionAction::Delete) => {}
        (Some(Value::Object(_)), action) if action != RevisionAction::Delete => {}
        _ => errors.push(FieldError::new("data", "must be an object, or null for a deletion (and only then)")),
    }
    if data.actor.is_empty() || data.actor.chars().count() > 100 {
        errors.push(FieldError::new("actor", "must be 1 to 100 characters"));
    }
    if data.comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
        errors.push(FieldError::new("comment", "must be at most 500 characters"));
    }
    let nanos = data.created_at.timestamp_subsec_nanos();
    if !nanos.is_multiple_of(1000) || nanos >= 1_000_000_000 {
        errors.push(FieldError::new("created_at", "must have at most microsecond precision, no leap second"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let row = RevisionRow {
        seq: 0,
        resource_type: data.resource_type,
        resource_id: data.resource_id,
        version: data.version,
        action: data.action,
        data: data.data.filter(|d| !d.is_null()).map(|d| d.to_string()),
        cause: data.cause,
        actor: data.actor,
        comment: data.comment,
        created_at: data.created_at.naive_utc(),
    };
    Ok(Record::Revision(RevisionRecord { line, row }))
}

/// The stated quote verification must be what verifying the quote against
/// its source's content gives now; absent fields take that value.
pub fn check_verification(record: &AttributionRecord, verification: Option<Verification>) -> Vec<FieldError> {
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

/// A field error as one line of a report.
pub fn describe(error: &FieldError) -> String {
    if error.field.is_empty() { error.message.clone() } else { format!("{}: {}", error.field, error.message) }
}

/// Splits a line into its record type and data.
pub fn envelope(text: &str) -> Result<(RecordType, Value), String> {
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
        .ok_or("`type` must be one of header, agent, source, claim, attribution, review, key, revision, end")?;
    Ok((kind, data))
}

pub fn check_header(data: Value) -> Result<Header, String> {
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
    Ok(header)
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

/// The read-only fields every record has (absent ones take what a create
/// would give: now, and version 1), and that its id is there; the id stays
/// in the map for the create body, which checks it too.
fn common(map: &mut Map<String, Value>, now: NaiveDateTime) -> (Stamp, Vec<FieldError>) {
    let mut errors = Vec::new();
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
    (Stamp { created_at, updated_at, version }, errors)
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

/// Joins the record's own checks with its create body's; the record's id,
/// body and stamp when both pass.
fn finish<T: WithId>(
    parsed: Result<T, Vec<FieldError>>,
    stamp: Stamp,
    mut errors: Vec<FieldError>,
) -> Result<(T::Id, T, Stamp), Vec<FieldError>> {
    match parsed {
        Ok(body) if errors.is_empty() => match body.id().cloned() {
            Some(id) => Ok((id, body, stamp)),
            None => Err(vec![FieldError::new("id", "is required: records refer to each other by id")]),
        },
        Ok(_) => Err(errors),
        Err(body_errors) => {
            errors.extend(body_errors);
            Err(errors)
        }
    }
}
