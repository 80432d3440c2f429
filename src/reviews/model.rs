//! Reviews as the API shows and accepts them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::Body;
use crate::ids::{AgentId, ClaimId, ReviewId};
use crate::validate::{Check, PartialDate, text_enum};

text_enum! {
    /// Where a review is in its life. Only `published` reviews are public:
    /// on the claim card, in ClaimReview, and behind the claim list's
    /// `reviewed`, `reviewer_id` and `rating_label` filters.
    ReviewStatus {
        /// Being written: seen only with a `write` key.
        Draft = "draft",
        /// Public: the reviewer's verdict.
        Published = "published",
        /// Taken back by the reviewer after publication; kept for the
        /// record, shown nowhere a published review is.
        Withdrawn = "withdrawn",
    }
}

/// The verdict: the reviewer's own words for it, and optionally where it
/// sits on the reviewer's numeric scale (schema.org `Rating`). The numbers
/// are left out when the rating has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"label": "Misleading", "value": 2, "best": 5, "worst": 1}))]
pub struct Rating {
    /// The textual verdict as the reviewer publishes it: "False",
    /// "Misleading", "Accurate". 1 to 100 characters. ClaimReview's
    /// `reviewRating.alternateName`, the one value search engines show.
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    /// The verdict on the reviewer's numeric scale; needs `best` and
    /// `worst`, with `worst ≤ value ≤ best`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The best value of the scale (the claim is wholly accurate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<f64>,
    /// The worst value of the scale (the claim is wholly false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst: Option<f64>,
}

/// A fact-check review: one reviewer's published verdict on one claim.
///
/// **Reviews and the claim's `status`.** A claim's `status` is the
/// newsroom's own working state (`unreviewed`, `supported`, `disputed`,
/// …): one value, changed by anyone with a write key, with no author, no
/// date and no explanation. A review is a verdict someone signs: by a
/// named reviewer (the fact-checking organisation) and optionally its
/// author, with the reviewer's own rating words and scale, a date and the
/// URL of the article that explains it. A claim can have reviews by
/// several organisations that disagree; none of them changes `status`,
/// and `status` changes none of them. Published reviews are what the
/// claim card shows, what ClaimReview exports and what the claim list's
/// review filters look at.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a7e0-7c1e-7000-8000-000000000001",
    "claim_id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338",
    "reviewer_id": "dadc5658-6eb7-549b-892b-ebf148ec0882", "author_id": null,
    "rating": {"label": "Accurate", "value": 5, "best": 5, "worst": 1},
    "summary": "The Africa Center's count of 17,700 deaths since 2012 is what the Guardian reports.",
    "url": "https://factcheck.example.org/2025/mali-death-toll", "language": "en",
    "published_on": "2025-11-20", "status": "published",
    "created_at": "2025-11-20T09:30:00Z", "updated_at": "2025-11-20T09:30:00Z", "version": 1
}))]
pub struct Review {
    #[schema(value_type = Uuid)]
    pub id: ReviewId,
    /// The claim reviewed.
    #[schema(value_type = Uuid)]
    pub claim_id: ClaimId,
    /// The fact-checking organisation (an agent) whose verdict this is.
    #[schema(value_type = Uuid)]
    pub reviewer_id: AgentId,
    /// The person (an agent of kind `person`) who wrote it, when named.
    #[schema(required = true, value_type = Option<Uuid>)]
    pub author_id: Option<AgentId>,
    pub rating: Rating,
    /// The verdict explained in a few sentences.
    #[schema(required = true)]
    pub summary: Option<String>,
    /// The article that explains the verdict (required once published).
    #[schema(required = true)]
    pub url: Option<String>,
    /// The language of the review (BCP 47).
    #[schema(required = true)]
    pub language: Option<String>,
    /// When the reviewer published it.
    #[schema(required = true)]
    pub published_on: Option<PartialDate>,
    pub status: ReviewStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 on create, +1 on every change; the ETag.
    pub version: i32,
}

/// The writable fields of a review, as sent to create one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "claim_id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338",
    "reviewer_id": "dadc5658-6eb7-549b-892b-ebf148ec0882",
    "rating": {"label": "Accurate", "value": 5, "best": 5, "worst": 1},
    "url": "https://factcheck.example.org/2025/mali-death-toll",
    "published_on": "2025-11-20", "status": "published"
}))]
pub struct NewReview {
    /// Optional client-chosen id (for imports); the server makes a UUID v7 otherwise.
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<Uuid>)]
    pub id: Option<ReviewId>,
    #[schema(value_type = Uuid)]
    pub claim_id: ClaimId,
    /// An existing agent: the fact-checking organisation. At most one of
    /// its reviews of a claim is not `withdrawn` (409 otherwise).
    #[schema(value_type = Uuid)]
    pub reviewer_id: AgentId,
    /// An existing agent of kind `person`, not the reviewer.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub author_id: Option<AgentId>,
    pub rating: Rating,
    /// At most 5000 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 5000)]
    pub summary: Option<String>,
    /// An http or https URL; required when `status` is `published`.
    #[serde(default)]
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", example = "en")]
    pub language: Option<String>,
    #[serde(default)]
    pub published_on: Option<PartialDate>,
    /// Default `draft`.
    #[serde(default = "default_status")]
    pub status: ReviewStatus,
}

fn default_status() -> ReviewStatus {
    ReviewStatus::Draft
}

impl Body for NewReview {
    const REQUIRED: &'static [&'static str] = &["claim_id", "reviewer_id", "rating"];

    fn check(&self, check: &mut Check) {
        check_rating(check, &self.rating);
        check.opt_text("summary", self.summary.as_deref(), 5000);
        check.url("url", self.url.as_deref());
        check.language("language", self.language.as_deref());
        if self.status == ReviewStatus::Published && self.url.is_none() {
            check.fail("url", "is required when status is `published`: a published verdict is explained somewhere");
        }
        if self.author_id.is_some() && self.author_id.as_ref() == Some(&self.reviewer_id) {
            check.fail("author_id", "must be a person other than the reviewer");
        }
    }
}

fn check_rating(check: &mut Check, rating: &Rating) {
    check.text("rating.label", &rating.label, 1, 100);
    for (field, number) in
        [("rating.value", rating.value), ("rating.best", rating.best), ("rating.worst", rating.worst)]
    {
        if number.is_some_and(|n| !n.is_finite()) {
            check.fail(field, "must be a finite number");
        }
    }
    let finite = |n: Option<f64>| n.filter(|n| n.is_finite());
    match (finite(rating.worst), finite(rating.value), finite(rating.best)) {
        (Some(worst), _, Some(best)) if worst > best => check.fail("rating.worst", "must not be above rating.best"),
        (Some(worst), Some(value), Some(best)) if value < worst || value > best => {
            check.fail("rating.value", "must be between rating.worst and rating.best")
        }
        _ => {}
    }
    if rating.value.is_some() && (rating.best.is_none() || rating.worst.is_none()) {
        check.fail("rating.value", "needs rating.best and rating.worst: a number means nothing without its scale");
    }
}

/// A JSON Merge Patch of a review: absent fields stay, `null` clears an
/// optional field; `rating` merges member by member (RFC 7396).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "published"}))]
pub struct ReviewPatch {
    #[schema(nullable = false)]
    pub claim_id: Option<Uuid>,
    #[schema(nullable = false)]
    pub reviewer_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    #[schema(nullable = false)]
    pub rating: Option<Rating>,
    #[schema(min_length = 1, max_length = 5000)]
    pub summary: Option<String>,
    #[schema(pattern = r"^[hH][tT][tT][pP][sS]?://[^/\s][^\s]*$", max_length = 2048)]
    pub url: Option<String>,
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
    pub language: Option<String>,
    pub published_on: Option<PartialDate>,
    #[schema(nullable = false)]
    pub status: Option<ReviewStatus>,
}

/// Filters of `GET /v1/reviews`, combined with AND.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    #[param(value_type = Option<Uuid>)]
    pub claim_id: Option<ClaimId>,
    #[param(value_type = Option<Uuid>)]
    pub reviewer_id: Option<AgentId>,
    #[param(value_type = Option<Uuid>)]
    pub author_id: Option<AgentId>,
    /// Only reviews in this state. Without a `write` key, drafts are
    /// never listed, and `status=draft` is a 403.
    pub status: Option<ReviewStatus>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
