//! Attributions as the API shows and accepts them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::Body;
use crate::ids::{AgentId, AttributionId, ClaimId, SourceId};
use crate::quotes::{NewQuote, Quote, QuotePatch, QuoteStatus};
use crate::validate::{Check, PartialDate, text_enum};

text_enum! {
    /// How the source carries the claim.
    Mode {
        /// The source asserts it on its own authority.
        Direct = "direct",
        /// The source quotes a speaker's words.
        Quote = "quote",
        /// The source restates a speaker's words.
        Paraphrase = "paraphrase",
        /// The source relays another source (`cited_source_id`).
        Citation = "citation",
    }
}

text_enum! {
    /// Whether the source states, denies or doubts the claim.
    Stance { Affirms = "affirms", Denies = "denies", Questions = "questions" }
}

/// One source stating (or denying) one claim: the edge provenance is made of.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "b80a7a2b-e755-5ecb-bfa1-880fd9890af8",
    "claim_id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338", "source_id": "c6a8706d-f757-568a-bb3a-bda55545ee21",
    "speaker_id": null, "mode": "citation", "stance": "affirms",
    "cited_source_id": "6a6cbfb7-2a16-5ff0-91a3-e2f3f61c049e",
    "quote": {"exact": "the total since 2012 has exceeded 17,700", "prefix": null, "suffix": null},
    "quote_status": "verified", "quote_start": 5115, "quote_end": 5155,
    "locator": "paragraph 23", "stated_on": null,
    "created_at": "2025-11-18T09:30:00Z", "updated_at": "2025-11-18T09:30:00Z", "version": 1
}))]
pub struct Attribution {
    #[schema(value_type = Uuid)]
    pub id: AttributionId,
    #[schema(value_type = Uuid)]
    pub claim_id: ClaimId,
    /// Where the claim appears.
    #[schema(value_type = Uuid)]
    pub source_id: SourceId,
    /// Who says it inside the source.
    #[schema(required = true, value_type = Option<Uuid>)]
    pub speaker_id: Option<AgentId>,
    pub mode: Mode,
    pub stance: Stance,
    /// The upstream source this source says it took the claim from.
    #[schema(required = true, value_type = Option<Uuid>)]
    pub cited_source_id: Option<SourceId>,
    /// The words in the source.
    #[schema(required = true)]
    pub quote: Option<Quote>,
    /// Read-only: whether `quote` occurs in the source's `content`; null without a quote.
    #[schema(required = true)]
    pub quote_status: Option<QuoteStatus>,
    /// Read-only: character offset where a verified quote starts in `content`.
    #[schema(required = true)]
    pub quote_start: Option<i32>,
    /// Read-only: character offset where a verified quote ends (exclusive).
    #[schema(required = true)]
    pub quote_end: Option<i32>,
    /// Where in the source: "paragraph 14".
    #[schema(required = true)]
    pub locator: Option<String>,
    /// When the statement was made, if not the source's date.
    #[schema(required = true)]
    pub stated_on: Option<PartialDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 on create, +1 on every change (a re-verified quote included); the ETag.
    pub version: i32,
}

/// The writable fields of an attribution, as sent to create one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "claim_id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338", "source_id": "c6a8706d-f757-568a-bb3a-bda55545ee21",
    "mode": "citation", "cited_source_id": "6a6cbfb7-2a16-5ff0-91a3-e2f3f61c049e",
    "quote": {"exact": "the total since 2012 has exceeded 17,700"}
}))]
pub struct NewAttribution {
    /// Optional client-chosen id (for imports); the server makes a UUID v7 otherwise.
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<Uuid>)]
    pub id: Option<AttributionId>,
    #[schema(value_type = Uuid)]
    pub claim_id: ClaimId,
    #[schema(value_type = Uuid)]
    pub source_id: SourceId,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub speaker_id: Option<AgentId>,
    /// `citation` needs `cited_source_id`.
    pub mode: Mode,
    /// Default `affirms`.
    #[serde(default = "default_stance")]
    pub stance: Stance,
    /// Another source than `source_id`.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub cited_source_id: Option<SourceId>,
    #[serde(default)]
    #[schema(value_type = Option<NewQuote>)]
    pub quote: Option<Quote>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub locator: Option<String>,
    #[serde(default)]
    pub stated_on: Option<PartialDate>,
}

fn default_stance() -> Stance {
    Stance::Affirms
}

impl Body for NewAttribution {
    const REQUIRED: &'static [&'static str] = &["claim_id", "source_id", "mode"];

    fn check(&self, check: &mut Check) {
        if self.mode == Mode::Citation && self.cited_source_id.is_none() {
            check.fail("cited_source_id", "is required when mode is `citation`");
        }
        if self.cited_source_id.as_ref() == Some(&self.source_id) {
            check.fail("cited_source_id", "must be another source than source_id");
        }
        if let Some(quote) = &self.quote {
            check.text("quote.exact", &quote.exact, 1, 5000);
            check.opt_text("quote.prefix", quote.prefix.as_deref(), 500);
            check.opt_text("quote.suffix", quote.suffix.as_deref(), 500);
        }
        check.opt_text("locator", self.locator.as_deref(), 200);
    }
}

/// A JSON Merge Patch of an attribution: absent fields stay, `null` clears
/// an optional field; `quote` merges member by member (RFC 7396) and is
/// verified again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"stance": "questions"}))]
pub struct AttributionPatch {
    #[schema(nullable = false)]
    pub claim_id: Option<Uuid>,
    #[schema(nullable = false)]
    pub source_id: Option<Uuid>,
    pub speaker_id: Option<Uuid>,
    #[schema(nullable = false)]
    pub mode: Option<Mode>,
    #[schema(nullable = false)]
    pub stance: Option<Stance>,
    pub cited_source_id: Option<Uuid>,
    /// Merged member by member into the stored quote; `null` removes it.
    pub quote: Option<QuotePatch>,
    #[schema(min_length = 1, max_length = 200)]
    pub locator: Option<String>,
    pub stated_on: Option<PartialDate>,
}

/// Filters of `GET /v1/attributions`, combined with AND.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttributionQuery {
    #[param(value_type = Option<Uuid>)]
    pub claim_id: Option<ClaimId>,
    #[param(value_type = Option<Uuid>)]
    pub source_id: Option<SourceId>,
    #[param(value_type = Option<Uuid>)]
    pub speaker_id: Option<AgentId>,
    /// Attributions that cite this source.
    #[param(value_type = Option<Uuid>)]
    pub cited_source_id: Option<SourceId>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
