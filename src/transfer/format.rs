//! The NDJSON transfer format: one `{"type": ..., "data": ...}` record per
//! line, framed by a `header` line and an `end` line.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `format` a header names.
pub const FORMAT: &str = "claimtrail";

/// The version of the format this build writes and reads.
pub const VERSION: u32 = 1;

/// The kinds of line a transfer file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    Header,
    Agent,
    Source,
    Claim,
    Attribution,
    /// A fact-check review (after the attributions: it refers to claims
    /// and agents).
    Review,
    /// An API key, stored hash and all (`claimtrail export --with-keys`).
    Key,
    /// A revision: one change of a resource, in commit order.
    Revision,
    End,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Header => "header",
            RecordType::Agent => "agent",
            RecordType::Source => "source",
            RecordType::Claim => "claim",
            RecordType::Attribution => "attribution",
            RecordType::Review => "review",
            RecordType::Key => "key",
            RecordType::Revision => "revision",
            RecordType::End => "end",
        }
    }

    pub fn parse(value: &str) -> Option<RecordType> {
        [
            RecordType::Header,
            RecordType::Agent,
            RecordType::Source,
            RecordType::Claim,
            RecordType::Attribution,
            RecordType::Review,
            RecordType::Key,
            RecordType::Revision,
            RecordType::End,
        ]
        .into_iter()
        .find(|t| t.as_str() == value)
    }
}

/// One line as written.
#[derive(Serialize)]
pub struct Line<'a, T> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: &'a T,
}

/// The first line: what the file is.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// True when the file carries every revision (`revision` lines after
    /// the records): an import writes those instead of making its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
}

/// How many records of each kind; the `end` line of a file, and what an
/// import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Agent records.
    pub agents: u64,
    /// Source records.
    pub sources: u64,
    /// Claim records.
    pub claims: u64,
    /// Attribution records.
    pub attributions: u64,
    /// Review records, left out of the counts when there are none (files
    /// from before reviews existed have none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reviews: u64,
    /// API key records: only in exports made with `--with-keys`, and left
    /// out of the counts when there are none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keys: u64,
    /// Revision records: only in files that carry history.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub revisions: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An API key as a transfer file holds it: the SHA-256 of its secret, never
/// the secret, so the same tokens work on the server it is imported into.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyData {
    pub id: String,
    pub name: String,
    pub scope: crate::auth::Scope,
    pub secret_sha256: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the key was revoked; absent for a key in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Counts {
    pub fn add(&mut self, kind: RecordType) {
        match kind {
            RecordType::Agent => self.agents += 1,
            RecordType::Source => self.sources += 1,
            RecordType::Claim => self.claims += 1,
            RecordType::Attribution => self.attributions += 1,
            RecordType::Review => self.reviews += 1,
            RecordType::Key => self.keys += 1,
            RecordType::Revision => self.revisions += 1,
            RecordType::Header | RecordType::End => {}
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} agents, {} sources, {} claims, {} attributions",
            self.agents, self.sources, self.claims, self.attributions
        )?;
        if self.reviews > 0 {
            write!(f, ", {} reviews", self.reviews)?;
        }
        if self.keys > 0 {
            write!(f, ", {} API keys", self.keys)?;
        }
        if self.revisions > 0 {
            write!(f, ", {} revisions", self.revisions)?;
        }
        Ok(())
    }
}
