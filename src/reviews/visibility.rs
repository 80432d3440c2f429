//! Who sees draft reviews: only requests with a key of scope `write` or
//! more (the desk). Everyone else (a `read` key, or no key where reads are
//! open) sees published and withdrawn reviews, everywhere a review shows:
//! `/v1/reviews`, the claim card, ClaimReview, a review's revisions and the
//! change feed.

use actix_web::HttpRequest;

use super::model::ReviewStatus;
use crate::db::write::ResourceType;
use crate::revisions::model::RevisionOut;

/// Who is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// No key, or a `read` key: no drafts.
    Public,
    /// A `write` or `admin` key: drafts too.
    Desk,
}

impl Audience {
    /// The audience of a request, from the key the `authenticate`
    /// middleware verified.
    pub fn of(req: &HttpRequest) -> Audience {
        if crate::auth::may_write(req) { Audience::Desk } else { Audience::Public }
    }

    /// Whether a review in this state is shown to this audience.
    pub fn sees(self, status: ReviewStatus) -> bool {
        self == Audience::Desk || status != ReviewStatus::Draft
    }

    /// Whether a revision is shown to this audience: every revision but, for
    /// the public, those of reviews that were drafts at that version.
    pub fn sees_revision(self, revision: &RevisionOut) -> bool {
        if self == Audience::Desk || revision.resource_type != ResourceType::Review {
            return true;
        }
        let status = revision.data.as_ref().and_then(|d| d.get("status")).and_then(|s| s.as_str());
        status != Some(ReviewStatus::Draft.as_str())
    }
}
