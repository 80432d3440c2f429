//! Revisions and the change feed as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::db::write::{ResourceType, RevisionAction};

/// One change of one resource: what it was after the change, who made it,
/// when and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "resource_type": "claim", "resource_id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338", "version": 3,
    "action": "update", "data": {"id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338", "status": "supported", "version": 3},
    "cause": null, "actor": "key:Nq3xk8Lm2Ab7", "comment": "checked against the Africa Center's dataset",
    "created_at": "2026-12-01T10:30:00Z"
}))]
pub struct RevisionOut {
    pub resource_type: ResourceType,
    /// The resource's id (a UUID; for an API key, the key's id).
    pub resource_id: String,
    /// The resource's version after the change.
    pub version: i32,
    pub action: RevisionAction,
    /// The resource as the API showed it after the change (as
    /// `GET /v1/{resources}/{id}` shows it; for a claim, without its
    /// attributions, which have revisions of their own); `null` for a
    /// deletion.
    #[schema(required = true, value_type = Option<Object>)]
    pub data: Option<Value>,
    /// For `card` revisions: what changed the claim's card; `null` for the
    /// others.
    #[schema(required = true)]
    pub cause: Option<String>,
    /// Who made the change: `key:<id>` for an API key, or `cli`, `seed`,
    /// `import`, `generate` for claimtrail's own commands.
    pub actor: String,
    /// The `X-Change-Comment` the change was made with; `null` without one.
    #[schema(required = true)]
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A page of the change feed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    /// Changes in commit order.
    pub items: Vec<RevisionOut>,
    /// Where to continue: pass as `since` next time. Always present, also
    /// when `items` is empty, so a client that keeps it misses nothing.
    pub next_cursor: String,
}

/// Parameters of a resource's revision list.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevisionsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Parameters of the change feed.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The `next_cursor` of the previous page; from the first change without it.
    pub since: Option<String>,
    /// Only changes of these resource types, comma-separated: `agent`,
    /// `source`, `claim`, `attribution`, `review`, `key`. Revisions of
    /// draft reviews are listed to keys of scope `write` only.
    #[param(example = "claim,source")]
    pub types: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<i64>,
}

impl ChangesQuery {
    /// The `types` filter, each name checked.
    pub fn types(&self) -> Result<Vec<ResourceType>, String> {
        let Some(types) = self.types.as_deref() else { return Ok(Vec::new()) };
        types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| ResourceType::parse(t).ok_or_else(|| format!("`{t}` is not a resource type")))
            .collect()
    }

    pub fn limit(&self) -> Result<i64, String> {
        match self.limit {
            None => Ok(100),
            Some(n @ 1..=1000) => Ok(n),
            Some(_) => Err("must be between 1 and 1000".to_string()),
        }
    }
}
