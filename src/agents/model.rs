//! Agents as the API shows and accepts them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::Body;
use crate::ids::AgentId;
use crate::validate::{Check, text_enum};

text_enum! {
    /// Whether the agent is a person or an organisation.
    AgentKind { Person = "person", Organization = "organization" }
}

/// A person or organisation that publishes or says things.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "c038f996-4e0a-5882-a1f0-33d95bd6f176", "kind": "person", "name": "Ulf Laessing",
    "description": "Bamako-based head of the Sahel programme at the German think tank Konrad Adenauer Foundation",
    "anonymous": false, "affiliation_id": "d8542137-0f73-582e-a9e8-00e004cc31d9", "url": null, "wikidata_id": null,
    "created_at": "2025-11-18T09:30:00Z", "updated_at": "2025-11-18T09:30:00Z", "version": 1
}))]
pub struct Agent {
    #[schema(value_type = Uuid)]
    pub id: AgentId,
    pub kind: AgentKind,
    /// The name as sources give it: "Ulf Laessing", "Human Rights Watch", "A former Malian minister".
    pub name: String,
    /// The role as the source gives it.
    #[schema(required = true)]
    pub description: Option<String>,
    /// True for unnamed speakers.
    pub anonymous: bool,
    /// The organisation the person speaks for.
    #[schema(required = true, value_type = Option<Uuid>)]
    pub affiliation_id: Option<AgentId>,
    /// The agent's own web address.
    #[schema(required = true)]
    pub url: Option<String>,
    /// Wikidata item id (`Q…`) for entity linking.
    #[schema(required = true)]
    pub wikidata_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 on create, +1 on every change; the ETag.
    pub version: i32,
}

/// The writable fields of an agent, as sent to create one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "organization", "name": "Human Rights Watch", "wikidata_id": "Q187052"}))]
pub struct NewAgent {
    /// Optional client-chosen id (for imports); the server makes a UUID v7 otherwise.
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<Uuid>)]
    pub id: Option<AgentId>,
    pub kind: AgentKind,
    /// 1 to 300 characters.
    #[schema(min_length = 1, max_length = 300)]
    pub name: String,
    /// At most 2000 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub description: Option<String>,
    /// Default false.
    #[serde(default)]
    pub anonymous: bool,
    /// Id of an existing agent.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub affiliation_id: Option<AgentId>,
    /// An http or https URL.
    #[serde(default)]
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub url: Option<String>,
    /// A Wikidata item id such as `Q187052`.
    #[serde(default)]
    #[schema(pattern = "^Q[1-9][0-9]{0,11}$")]
    pub wikidata_id: Option<String>,
}

impl Body for NewAgent {
    const REQUIRED: &'static [&'static str] = &["kind", "name"];

    fn check(&self, check: &mut Check) {
        check.text("name", &self.name, 1, 300);
        check.opt_text("description", self.description.as_deref(), 2000);
        check.url("url", self.url.as_deref());
        if let Some(q) = &self.wikidata_id
            && !is_wikidata_id(q)
        {
            check.fail("wikidata_id", "must be a Wikidata item id such as Q187052");
        }
        if self.id.is_some() && self.id == self.affiliation_id {
            check.fail("affiliation_id", "an agent cannot be its own affiliation");
        }
    }
}

fn is_wikidata_id(value: &str) -> bool {
    value
        .strip_prefix('Q')
        .is_some_and(|n| (1..=12).contains(&n.len()) && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A JSON Merge Patch of an agent: absent fields stay, `null` clears an
/// optional field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "former Malian minister, now in exile"}))]
pub struct AgentPatch {
    #[schema(nullable = false)]
    pub kind: Option<AgentKind>,
    #[schema(nullable = false, min_length = 1, max_length = 300)]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 2000)]
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub anonymous: Option<bool>,
    pub affiliation_id: Option<Uuid>,
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub url: Option<String>,
    #[schema(pattern = "^Q[1-9][0-9]{0,11}$")]
    pub wikidata_id: Option<String>,
}

/// Filters of `GET /v1/agents`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgentQuery {
    /// Only agents of this kind.
    pub kind: Option<AgentKind>,
    /// Only agents affiliated with this organisation.
    #[param(value_type = Option<Uuid>)]
    pub affiliation_id: Option<AgentId>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
