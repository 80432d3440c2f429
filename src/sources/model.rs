//! Sources as the API shows and accepts them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::Body;
use crate::ids::{AgentId, SourceId};
use crate::validate::{Check, PartialDate, text_enum};

text_enum! {
    /// What kind of document or statement the source is.
    SourceKind {
        Article = "article",
        Report = "report",
        Dataset = "dataset",
        Broadcast = "broadcast",
        Statement = "statement",
        Interview = "interview",
        SocialPost = "social_post",
        WebPage = "web_page",
        Other = "other",
    }
}

/// A document or statement in which claims appear.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "c6a8706d-f757-568a-bb3a-bda55545ee21", "kind": "article",
    "title": "How al-Qaida-linked jihadist group JNIM is bringing Mali to its knees",
    "url": null, "publisher_id": "dadc5658-6eb7-549b-892b-ebf148ec0882", "byline": null,
    "published_on": "2025", "language": "en",
    "content_sha256": "6012f60e53604ac44ca7f5525fd56cb22d1369d5b29022b98809795c06150c72", "archived_url": null,
    "created_at": "2025-11-18T09:30:00Z", "updated_at": "2025-11-18T09:30:00Z", "version": 1
}))]
pub struct Source {
    #[schema(value_type = Uuid)]
    pub id: SourceId,
    pub kind: SourceKind,
    pub title: String,
    /// Where the source is published (http or https).
    #[schema(required = true)]
    pub url: Option<String>,
    /// The agent that published it: The Guardian, France 24, ...
    #[schema(required = true, value_type = Option<Uuid>)]
    pub publisher_id: Option<AgentId>,
    /// Authors as printed.
    #[schema(required = true)]
    pub byline: Option<String>,
    /// Publication date, as precise as known.
    #[schema(required = true)]
    pub published_on: Option<PartialDate>,
    /// BCP 47 language tag.
    #[schema(required = true)]
    pub language: Option<String>,
    /// Archived plain text, which quotes are verified against. Present on
    /// single sources that have it; lists leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub content: Option<String>,
    /// Hex SHA-256 of `content`; read-only.
    #[schema(required = true)]
    pub content_sha256: Option<String>,
    /// A copy in a web archive.
    #[schema(required = true)]
    pub archived_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 on create, +1 on every change; the ETag.
    pub version: i32,
}

/// The writable fields of a source, as sent to create one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "dataset", "title": "ACLED-based fatality data on militant Islamist violence in the Sahel", "language": "en"}))]
pub struct NewSource {
    /// Optional client-chosen id (for imports); the server makes a UUID v7 otherwise.
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<Uuid>)]
    pub id: Option<SourceId>,
    pub kind: SourceKind,
    /// 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub title: String,
    /// An http or https URL.
    #[serde(default)]
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub url: Option<String>,
    /// Id of an existing agent.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub publisher_id: Option<AgentId>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1000)]
    pub byline: Option<String>,
    #[serde(default)]
    pub published_on: Option<PartialDate>,
    /// BCP 47 language tag such as `en`.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", example = "en")]
    pub language: Option<String>,
    /// Archived plain text; attributions' quotes are verified against it.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1000000)]
    pub content: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub archived_url: Option<String>,
}

impl Body for NewSource {
    const REQUIRED: &'static [&'static str] = &["kind", "title"];

    fn check(&self, check: &mut Check) {
        check.text("title", &self.title, 1, 1000);
        check.url("url", self.url.as_deref());
        check.opt_text("byline", self.byline.as_deref(), 1000);
        check.language("language", self.language.as_deref());
        check.opt_text("content", self.content.as_deref(), 1_000_000);
        check.url("archived_url", self.archived_url.as_deref());
    }
}

/// A JSON Merge Patch of a source: absent fields stay, `null` clears an
/// optional field. Changing `content` re-verifies the quotes of every
/// attribution of the source.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"published_on": "2025-10-30"}))]
pub struct SourcePatch {
    #[schema(nullable = false)]
    pub kind: Option<SourceKind>,
    #[schema(nullable = false, min_length = 1, max_length = 1000)]
    pub title: Option<String>,
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub url: Option<String>,
    pub publisher_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 1000)]
    pub byline: Option<String>,
    pub published_on: Option<PartialDate>,
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
    pub language: Option<String>,
    #[schema(min_length = 1, max_length = 1000000)]
    pub content: Option<String>,
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub archived_url: Option<String>,
}

/// Filters of `GET /v1/sources`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SourceQuery {
    /// Only sources of this kind.
    pub kind: Option<SourceKind>,
    /// Only sources of this publisher.
    #[param(value_type = Option<Uuid>)]
    pub publisher_id: Option<AgentId>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
