//! Loads the seed data (`seeds/`): every attributed claim of the two Mali
//! articles the project started from. Records refer to each other by `key`;
//! ids are UUID v5 of the key, so loading again finds the same rows and
//! changes nothing. Every record goes through the API's own validation.

use std::fmt;
use std::path::{Path, PathBuf};

use diesel::dsl::count_star;
use diesel::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::agents::store as agent_store;
use crate::attributions::store as attribution_store;
use crate::claims::store as claim_store;
use crate::db::schema::{agents, claims};
use crate::db::write::{Actor, Change, StoreError, StoreResult, Tx};
use crate::db::{Db, DbConnection, setup_transaction};
use crate::http::{Body, parse_body};
use crate::sources::store as source_store;

/// The namespace of seed ids: `uuid_v5(SEED_NAMESPACE, "<kind>:<key>")`.
pub const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x6c1a_17a1_0000_4c7e_9a3e_5eed_da7a_0001);

/// The seed id of a record.
pub fn seed_id(kind: &str, key: &str) -> Uuid {
    Uuid::new_v5(&SEED_NAMESPACE, format!("{kind}:{key}").as_bytes())
}

/// Where the seed files come from.
enum Files {
    /// The copy compiled into the binary, so it seeds from any directory.
    Embedded,
    /// A directory laid out like `seeds/`.
    Dir(PathBuf),
}

impl Files {
    fn read(&self, name: &str) -> anyhow::Result<String> {
        match self {
            Files::Embedded => EMBEDDED
                .iter()
                .find(|(file, _)| *file == name)
                .map(|(_, text)| text.to_string())
                .ok_or_else(|| anyhow::anyhow!("no embedded seed file {name}")),
            Files::Dir(dir) => std::fs::read_to_string(dir.join(name))
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.join(name).display())),
        }
    }
}

const EMBEDDED: &[(&str, &str)] = &[
    ("agents.json", include_str!("../seeds/agents.json")),
    ("sources.json", include_str!("../seeds/sources.json")),
    ("claims.json", include_str!("../seeds/claims.json")),
    ("attributions.json", include_str!("../seeds/attributions.json")),
    (
        "articles/guardian-jnim-mali-to-its-knees.txt",
        include_str!("../seeds/articles/guardian-jnim-mali-to-its-knees.txt"),
    ),
    ("articles/mali-on-edge-blog-2025-12-03.txt", include_str!("../seeds/articles/mali-on-edge-blog-2025-12-03.txt")),
];

/// How many records a load created and how many were already there.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub created: [usize; 4],
    pub present: [usize; 4],
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = ["agents", "sources", "claims", "attributions"];
        let parts: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name}: {} created, {} already present", self.created[i], self.present[i]))
            .collect();
        write!(f, "Seed data loaded ({}).", parts.join("; "))
    }
}

/// Loads the seed data when the database holds no agents and no claims.
pub fn load_if_empty(db: &Db) -> anyhow::Result<Option<SeedReport>> {
    load_from(&mut *db.get()?, &Files::Embedded, true)
}

/// Loads the compiled-in seed data; loading twice changes nothing.
pub fn load(db: &Db) -> anyhow::Result<SeedReport> {
    Ok(load_from(&mut *db.get()?, &Files::Embedded, false)?.unwrap_or_default())
}

/// Loads seed files from a directory laid out like `seeds/`.
pub fn load_dir(db: &Db, dir: &Path) -> anyhow::Result<SeedReport> {
    Ok(load_from(&mut *db.get()?, &Files::Dir(dir.to_path_buf()), false)?.unwrap_or_default())
}

/// One seed record as the API's create body, in load order.
#[derive(Debug, Clone)]
pub struct SeedRecord {
    /// `agent`, `source`, `claim` or `attribution`.
    pub kind: &'static str,
    /// The record's key in its seed file.
    pub key: String,
    /// The create body, with `id` and reference ids filled in.
    pub body: Value,
}

const FILES: [(&str, &str); 4] = [
    ("agents.json", "agent"),
    ("sources.json", "source"),
    ("claims.json", "claim"),
    ("attributions.json", "attribution"),
];

/// The compiled-in seed data as API create bodies, in dependency order.
pub fn records() -> anyhow::Result<Vec<SeedRecord>> {
    records_from(&Files::Embedded)
}

fn records_from(files: &Files) -> anyhow::Result<Vec<SeedRecord>> {
    let mut out = Vec::new();
    for (file, kind) in FILES {
        let records: Vec<Map<String, Value>> = serde_json::from_str(&files.read(file)?)
            .map_err(|e| anyhow::anyhow!("seeds/{file} is not a JSON array of objects: {e}"))?;
        for record in records {
            let key = record.get("key").and_then(Value::as_str).unwrap_or("").to_string();
            let body = to_body(kind, record, files).map_err(|e| anyhow::anyhow!("seeds/{file}, `{key}`: {e}"))?;
            out.push(SeedRecord { kind, key, body });
        }
    }
    Ok(out)
}

/// Loads every record in one transaction, taken as setup work so that
/// instances starting together on an empty database seed it once. With
/// `only_if_empty`, a database holding any agent or claim is left alone
/// (`None`).
fn load_from(conn: &mut DbConnection, files: &Files, only_if_empty: bool) -> anyhow::Result<Option<SeedReport>> {
    let records = records_from(files)?;
    let report = setup_transaction(conn, |conn| -> anyhow::Result<Option<SeedReport>> {
        if only_if_empty {
            let agents: i64 = agents::table.select(count_star()).first(conn)?;
            let claims: i64 = claims::table.select(count_star()).first(conn)?;
            if agents > 0 || claims > 0 {
                return Ok(None);
            }
        }
        let mut report = SeedReport::default();
        let mut tx = Tx::new(conn, Change::now(Actor::Seed));
        for record in records {
            let i = FILES.iter().position(|(_, kind)| *kind == record.kind).unwrap_or(0);
            let created =
                insert(&mut tx, record.kind, record.body).map_err(|e| describe(record.kind, &record.key, e))?;
            if created { report.created[i] += 1 } else { report.present[i] += 1 }
        }
        tx.finish()?;
        Ok(Some(report))
    })?;
    Ok(report)
}

fn describe(kind: &str, key: &str, error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Invalid(fields) => {
            let fields: Vec<String> = fields.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            anyhow::anyhow!("seed {kind} `{key}` was refused: {}", fields.join("; "))
        }
        other => anyhow::anyhow!("seed {kind} `{key}` was refused: {other}"),
    }
}

/// Turns a seed record into the API's create body: `key` becomes `id`,
/// reference keys become ids, `content_file` becomes `content`.
fn to_body(kind: &str, mut record: Map<String, Value>, files: &Files) -> anyhow::Result<Value> {
    let key = match record.remove("key") {
        Some(Value::String(key)) if !key.is_empty() => key,
        _ => anyhow::bail!("every record needs a non-empty string `key`"),
    };
    record.insert("id".into(), Value::String(seed_id(kind, &key).to_string()));
    let references: &[(&str, &str, &str)] = &[
        ("affiliation", "affiliation_id", "agent"),
        ("publisher", "publisher_id", "agent"),
        ("claim", "claim_id", "claim"),
        ("source", "source_id", "source"),
        ("speaker", "speaker_id", "agent"),
        ("cited_source", "cited_source_id", "source"),
    ];
    for (field, id_field, target) in references {
        if let Some(value) = record.remove(*field) {
            let Value::String(target_key) = value else { anyhow::bail!("`{field}` must be a key") };
            record.insert(id_field.to_string(), Value::String(seed_id(target, &target_key).to_string()));
        }
    }
    if let Some(value) = record.remove("content_file") {
        let Value::String(path) = value else { anyhow::bail!("`content_file` must be a path") };
        record.insert("content".into(), Value::String(files.read(&path)?));
    }
    Ok(Value::Object(record))
}

/// Validates a body as the API does and creates it, through the table's
/// write path, unless its id exists.
fn insert(tx: &mut Tx, kind: &str, body: Value) -> StoreResult<bool> {
    fn parsed<T: Body>(body: Value) -> StoreResult<T> {
        parse_body::<T>(body).map_err(StoreError::Invalid)
    }
    let created = match kind {
        "agent" => agent_store::create(tx, parsed(body)?).map(drop),
        "source" => source_store::create(tx, parsed(body)?).map(drop),
        "claim" => claim_store::create(tx, parsed(body)?).map(drop),
        _ => attribution_store::create(tx, parsed(body)?).map(drop),
    };
    match created {
        Ok(()) => Ok(true),
        Err(StoreError::Exists { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}
