//! Claims as the API shows and accepts them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::Body;
use crate::ids::{AgentId, ClaimId, SourceId};
use crate::quotes::QuoteStatus;
use crate::validate::{Check, PartialDate, text_enum};

text_enum! {
    /// What sort of statement the claim is.
    ClaimKind {
        Statement = "statement",
        Quantity = "quantity",
        Event = "event",
        Quote = "quote",
        Prediction = "prediction",
        Opinion = "opinion",
    }
}

text_enum! {
    /// The newsroom's working verdict: the desk's own state of the claim,
    /// one value changed by any `write` key, with no author, date or
    /// explanation. It is not a published verdict: those are reviews
    /// (`/v1/reviews`), signed by a named reviewer with its own rating,
    /// date and URL, several per claim, shown on the card and exported as
    /// ClaimReview. Neither changes the other.
    ClaimStatus {
        Unreviewed = "unreviewed",
        Supported = "supported",
        Disputed = "disputed",
        Refuted = "refuted",
        Unverifiable = "unverifiable",
        Retracted = "retracted",
    }
}

text_enum! {
    /// How the figure relates to `value`: "exceeded 17,700" is `gt`,
    /// "as many as 50" is `lte`, "between 10 and 20" is `between` with `upper`.
    Comparator {
        Eq = "eq",
        Approx = "approx",
        Gt = "gt",
        Gte = "gte",
        Lt = "lt",
        Lte = "lte",
        Between = "between",
    }
}

/// A figure the claim states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": 17700, "upper": null, "unit": "deaths", "comparator": "gt"}))]
pub struct Quantity {
    pub value: f64,
    /// The upper bound, for `between` only.
    #[serde(default)]
    #[schema(required = true)]
    pub upper: Option<f64>,
    /// What is counted or measured: `deaths`, `USD`, `officers`. 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub unit: String,
    pub comparator: Comparator,
}

/// A figure as sent to create a claim: `upper` only for `between`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": 17700, "unit": "deaths", "comparator": "gt"}))]
pub struct NewQuantity {
    pub value: f64,
    /// The upper bound, for `between` only (then required, not below `value`).
    #[serde(default)]
    pub upper: Option<f64>,
    /// What is counted or measured: `deaths`, `USD`, `officers`. 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub unit: String,
    pub comparator: Comparator,
}

/// A merge patch of a claim's figure: each member present replaces the
/// stored one, `upper: null` removes the upper bound. Merged into a claim
/// without a figure, the result must be a whole figure (`value`, `unit`,
/// `comparator`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comparator": "approx"}))]
pub struct QuantityPatch {
    #[schema(nullable = false)]
    pub value: Option<f64>,
    /// The upper bound, for `between` only.
    pub upper: Option<f64>,
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    pub unit: Option<String>,
    #[schema(nullable = false)]
    pub comparator: Option<Comparator>,
}

/// One checkable statement, worded neutrally.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338",
    "text": "More than 17,700 people have died in Mali's insurgency since 2012.",
    "kind": "quantity", "subject": "Deaths in Mali's insurgency since 2012",
    "quantity": {"value": 17700, "upper": null, "unit": "deaths", "comparator": "gt"},
    "period_start": "2012", "period_end": null, "place": "Mali", "tags": ["death-toll", "insurgency"],
    "status": "unreviewed", "language": "en",
    "created_at": "2025-11-18T09:30:00Z", "updated_at": "2025-11-18T09:30:00Z", "version": 1
}))]
pub struct Claim {
    #[schema(value_type = Uuid)]
    pub id: ClaimId,
    pub text: String,
    pub kind: ClaimKind,
    /// What the claim is about.
    #[schema(required = true)]
    pub subject: Option<String>,
    #[schema(required = true)]
    pub quantity: Option<Quantity>,
    /// Start of the time the claim is about ("since 2012" → `"2012"`).
    #[schema(required = true)]
    pub period_start: Option<PartialDate>,
    /// End of the time the claim is about.
    #[schema(required = true)]
    pub period_end: Option<PartialDate>,
    #[schema(required = true)]
    pub place: Option<String>,
    pub tags: Vec<String>,
    pub status: ClaimStatus,
    #[schema(required = true)]
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 on create, +1 on every change of its claim card: the claim, its
    /// attributions, and what the card shows of their sources, speakers
    /// and publishers (a renamed publisher changes the version of every
    /// claim whose card names it). The ETag.
    pub version: i32,
}

/// The writable fields of a claim, as sent to create one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "text": "Barrick Mining will pay Mali $430 million to settle a dispute over a gold mine.",
    "kind": "quantity", "quantity": {"value": 430000000, "unit": "USD", "comparator": "eq"},
    "place": "Mali", "tags": ["mining", "barrick"]
}))]
pub struct NewClaim {
    /// Optional client-chosen id (for imports); the server makes a UUID v7 otherwise.
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<Uuid>)]
    pub id: Option<ClaimId>,
    /// 1 to 5000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub text: String,
    /// Default `statement`.
    #[serde(default = "default_kind")]
    pub kind: ClaimKind,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub subject: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<NewQuantity>)]
    pub quantity: Option<Quantity>,
    #[serde(default)]
    pub period_start: Option<PartialDate>,
    #[serde(default)]
    pub period_end: Option<PartialDate>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 300)]
    pub place: Option<String>,
    /// At most 50 tags of 1 to 100 characters; duplicates are dropped and
    /// the rest kept in sorted order.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
    /// Default `unreviewed`.
    #[serde(default = "default_status")]
    pub status: ClaimStatus,
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", example = "en")]
    pub language: Option<String>,
}

fn default_kind() -> ClaimKind {
    ClaimKind::Statement
}

fn default_status() -> ClaimStatus {
    ClaimStatus::Unreviewed
}

impl Body for NewClaim {
    const REQUIRED: &'static [&'static str] = &["text"];

    fn check(&self, check: &mut Check) {
        check.text("text", &self.text, 1, 5000);
        check.opt_text("subject", self.subject.as_deref(), 500);
        check.opt_text("place", self.place.as_deref(), 300);
        check.language("language", self.language.as_deref());
        if let Some(q) = &self.quantity {
            check.text("quantity.unit", &q.unit, 1, 100);
            if !q.value.is_finite() {
                check.fail("quantity.value", "must be a finite number");
            }
            match (q.comparator, q.upper) {
                (Comparator::Between, None) => check.fail("quantity.upper", "is required when comparator is `between`"),
                (Comparator::Between, Some(upper)) if !upper.is_finite() || upper < q.value => {
                    check.fail("quantity.upper", "must be a finite number not below `value`")
                }
                (Comparator::Between, Some(_)) => {}
                (_, Some(_)) => check.fail("quantity.upper", "is only for comparator `between`"),
                (_, None) => {}
            }
        }
        if let (Some(start), Some(end)) = (&self.period_start, &self.period_end)
            && start.earliest() > end.latest()
        {
            check.fail("period_end", "must not be before period_start");
        }
        if self.tags.len() > 50 {
            check.fail("tags", "at most 50 tags");
        }
        for (i, tag) in self.tags.iter().enumerate() {
            check.text(&format!("tags[{i}]"), tag, 1, 100);
        }
    }
}

/// A JSON Merge Patch of a claim: absent fields stay, `null` clears an
/// optional field; `tags` is replaced whole, while `quantity` merges member
/// by member (RFC 7396): `{"quantity": {"comparator": "approx"}}` keeps the
/// value and unit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "supported"}))]
pub struct ClaimPatch {
    #[schema(nullable = false, min_length = 1, max_length = 5000)]
    pub text: Option<String>,
    #[schema(nullable = false)]
    pub kind: Option<ClaimKind>,
    #[schema(min_length = 1, max_length = 500)]
    pub subject: Option<String>,
    /// Merged member by member into the stored figure; `null` removes it.
    pub quantity: Option<QuantityPatch>,
    pub period_start: Option<PartialDate>,
    pub period_end: Option<PartialDate>,
    #[schema(min_length = 1, max_length = 300)]
    pub place: Option<String>,
    #[schema(nullable = false, max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub status: Option<ClaimStatus>,
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
    pub language: Option<String>,
}

/// Sort orders of `GET /v1/claims`. Every order ends with the claim id, so
/// that claims with equal keys still have a fixed order between pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ClaimSort {
    /// Newest first (the default).
    #[default]
    #[serde(rename = "-created_at")]
    NewestFirst,
    /// Oldest first.
    #[serde(rename = "created_at")]
    OldestFirst,
    /// By the start of the period the claim is about, earliest first.
    /// Partial dates sort as text (`"2012"` before `"2012-01"` before
    /// `"2012-01-05"` before `"2013"`); claims without a period come last.
    #[serde(rename = "period_start")]
    PeriodStart,
    /// By the start of the period, latest first; claims without a period
    /// still come last.
    #[serde(rename = "-period_start")]
    PeriodStartDesc,
    /// By `stated_on`, when the claim entered public discourse, earliest
    /// first; partial dates sort as for `period_start`, and claims no
    /// dated source states come last.
    #[serde(rename = "stated_on")]
    StatedOn,
    /// By `stated_on`, latest first; undated claims still come last.
    #[serde(rename = "-stated_on")]
    StatedOnDesc,
    /// Best match for `q` first (BM25 on SQLite, `ts_rank` on PostgreSQL);
    /// only with `q`.
    #[serde(rename = "relevance")]
    Relevance,
}

impl ClaimSort {
    /// The name clients send, as it appears in `sort`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimSort::NewestFirst => "-created_at",
            ClaimSort::OldestFirst => "created_at",
            ClaimSort::PeriodStart => "period_start",
            ClaimSort::PeriodStartDesc => "-period_start",
            ClaimSort::StatedOn => "stated_on",
            ClaimSort::StatedOnDesc => "-stated_on",
            ClaimSort::Relevance => "relevance",
        }
    }
}

/// Filters of `GET /v1/claims`, combined with AND.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClaimQuery {
    /// Full-text search over the claim's text, its subject and the quotes
    /// of its attributions. Words must all occur (any order, any case,
    /// accents ignored: `menaka` finds "Ménaka"), in any English inflection
    /// (`coup` finds "coups", `kill` finds "killed": claims in English or
    /// of no stated language are stemmed; others match words as written);
    /// `"fuel blockade"` is a phrase (of those words or their inflections,
    /// in that order); `jihad*` matches words starting with `jihad` (at
    /// least 2 letters before `*`; as written, not stemmed); words joined
    /// by punctuation (`al-Qaida`) are a phrase of their parts. Anything else is not syntax: `-`, `OR`,
    /// `NOT`, brackets and other punctuation only separate words. At most
    /// 2000 characters and 64 words; a `q` without any letter or digit is
    /// a 400. Blank means no search.
    #[param(max_length = 2000, example = "\"fuel blockade\" Bamako")]
    pub q: Option<String>,
    pub kind: Option<ClaimKind>,
    pub status: Option<ClaimStatus>,
    /// Claims carrying this tag.
    pub tag: Option<String>,
    /// Claims that this source states.
    #[param(value_type = Option<Uuid>)]
    pub source_id: Option<SourceId>,
    /// Claims stated in sources of this publisher.
    #[param(value_type = Option<Uuid>)]
    pub publisher_id: Option<AgentId>,
    /// Claims this agent says.
    #[param(value_type = Option<Uuid>)]
    pub speaker_id: Option<AgentId>,
    /// Claims about this place (exact match).
    pub place: Option<String>,
    /// Claims whose period overlaps the time from this date on (a period
    /// without an end is open; claims without any period never match).
    #[param(value_type = Option<String>, example = "2020")]
    pub period_from: Option<PartialDate>,
    /// Claims whose period overlaps the time up to this date (a period
    /// without a start is open).
    #[param(value_type = Option<String>, example = "2025-12")]
    pub period_to: Option<PartialDate>,
    /// Claims with a quantity in this unit.
    pub unit: Option<String>,
    /// Claims with a quantity value of at least this.
    pub value_min: Option<f64>,
    /// Claims with a quantity value of at most this.
    pub value_max: Option<f64>,
    /// `true`: claims with at least one published review; `false`: claims
    /// with none (drafts and withdrawn reviews do not count).
    pub reviewed: Option<bool>,
    /// Claims with a published review by this reviewer.
    #[param(value_type = Option<Uuid>)]
    pub reviewer_id: Option<AgentId>,
    /// Claims with a published review whose rating label is this (case and
    /// surrounding blanks ignored: `false` finds "False").
    pub rating_label: Option<String>,
    /// Order of the list: `-created_at` (default), `created_at`,
    /// `period_start`, `-period_start`, `stated_on`, `-stated_on`, or
    /// `relevance` (only with `q`; a word as written ranks above an
    /// inflection of it).
    #[param(inline)]
    pub sort: Option<ClaimSort>,
    /// With `q`: add to each claim a `snippet` of the best-matching passage,
    /// matches wrapped in `<mark>`…`</mark>`. Ignored without `q`.
    pub snippet: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page, with the same filters and
    /// sort. Cursors are keyset positions: later pages are as fast as the
    /// first, and claims created while paging never shift the pages.
    pub cursor: Option<String>,
}

/// A claim in a list: the claim, when it entered public discourse, the
/// first sources that state it and how many do, and its search snippet
/// when one was asked for. Enough to draw a result row ("claim — stated by
/// The Guardian, 2025") without reading the card.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimListItem {
    #[serde(flatten)]
    pub claim: Claim,
    /// When the claim entered public discourse: the earliest date of its
    /// attributions (an attribution's own `stated_on`, else its source's
    /// `published_on`); null while no dated source states it.
    #[schema(required = true, value_type = Option<String>, example = "2025")]
    pub stated_on: Option<PartialDate>,
    /// The first sources that state the claim (at most
    /// [`FIRST_SOURCES`]), earliest first (undated last), each once.
    #[schema(value_type = Vec<StatingSource>)]
    pub sources: FirstSources,
    /// How many attributions the claim has.
    pub attribution_count: i64,
    /// How many distinct sources state it.
    pub source_count: i64,
    /// The passage that best matches `q` (from the text, subject or a
    /// quote), HTML-escaped, with each match wrapped in `<mark>`…`</mark>`;
    /// only when `snippet=true` and `q` are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "JNIM is <mark>blockading</mark> <mark>fuel</mark> supplies in Mali…")]
    pub snippet: Option<String>,
}

/// How many stating sources a list item shows: the `claim_statings`
/// migrations (`LIMIT 3`) keep that many per claim.
pub const FIRST_SOURCES: usize = 3;

/// A list item's `sources`: a JSON array of [`StatingSource`]s, as the
/// `claim_statings` triggers wrote it (both backends, migration
/// `2026-12-02-000070_claim_statings`), passed through without being read
/// into values and written out again, which took a tenth of a page's time.
/// The list tests and the spec checks hold it to [`StatingSource`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FirstSources(Box<serde_json::value::RawValue>);

impl FirstSources {
    /// The array as stored; an error when it is not JSON.
    pub fn from_stored(json: String) -> serde_json::Result<FirstSources> {
        serde_json::value::RawValue::from_string(json).map(FirstSources)
    }
}

/// The sources of a claim that has none.
impl Default for FirstSources {
    fn default() -> FirstSources {
        FirstSources(serde_json::value::RawValue::from_string("[]".to_string()).expect("`[]` is JSON"))
    }
}

// The `claim_statings` migrations write these fields, in this order, as
// the JSON that `FirstSources` passes through.
/// A source that states a claim, as a list item shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatingSource {
    #[schema(value_type = Uuid)]
    pub id: SourceId,
    pub title: String,
    /// The publisher's name, when the source has a publisher.
    #[schema(required = true)]
    pub publisher_name: Option<String>,
    #[schema(required = true, value_type = Option<String>)]
    pub published_on: Option<PartialDate>,
    /// The check of the quote of the source's first attribution of the
    /// claim; null when that attribution quotes nothing.
    #[schema(required = true)]
    pub quote_status: Option<QuoteStatus>,
}

text_enum! {
    /// What an agent or a source is to a claim.
    Role {
        /// The agent says it: the speaker of an attribution.
        Speaker = "speaker",
        /// The agent publishes a source that states it.
        Publisher = "publisher",
        /// The agent publishes a source that a stating source cites for it.
        CitedPublisher = "cited_publisher",
        /// The source states it: it has an attribution of the claim.
        StatingSource = "stating_source",
        /// A stating source cites this source for it.
        CitedSource = "cited_source",
    }
}

/// A claim an agent or a source is behind, with its roles.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackedClaim {
    #[serde(flatten)]
    pub item: ClaimListItem,
    /// Every role the agent or source has for the claim (whatever `role`
    /// asked for): for an agent `speaker`, `publisher` (of a stating
    /// source), `cited_publisher` (of a cited source); for a source
    /// `stating_source`, `cited_source`.
    pub roles: Vec<Role>,
}
