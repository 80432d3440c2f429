//! `/v1/reviews`: fact-check verdicts by named reviewers, and their
//! schema.org ClaimReview form, out (`…/claimreview`) and in
//! (`POST /v1/import/claimreview`).
//!
//! A review is not the claim's `status`: see [`model::Review`].

pub mod claimreview;
pub mod model;
pub mod store;
pub mod visibility;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{ReadAccess, WriteAccess};
use crate::db::Db;
use crate::error::ApiError;
use crate::http::{self, MergePatch, Page, Params, Precondition, Valid};
use crate::ids::ReviewId;
use model::{NewReview, Review, ReviewPatch, ReviewQuery, ReviewStatus};
pub use visibility::Audience;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_reviews)
        .service(create_review)
        .service(get_review)
        .service(update_review)
        .service(delete_review);
    claimreview::configure(config);
}

/// List reviews
///
/// Filter by claim, reviewer, author or status. Newest first, in pages of
/// `limit` (keyset cursors). Drafts are listed to keys of scope `write`
/// only; without one, `status=draft` is a 403.
#[utoipa::path(
    tag = "reviews", operation_id = "listReviews", params(ReviewQuery),
    responses((status = 200, description = "A page of reviews", body = Page<Review>,
        headers(("Link" = String, description = "`<…>; rel=\"next\"`: the next page, when there is one"))),
        (status = 403, description = "`status=draft` without a `write` key: drafts are the desk's",
            body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/reviews")]
async fn list_reviews(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<ReviewQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let audience = Audience::of(&req);
    if query.status == Some(ReviewStatus::Draft) && audience == Audience::Public {
        return Err(ApiError::forbidden("Draft reviews are listed to keys of scope `write` only."));
    }
    let page = db.run(move |conn| store::list(conn, &query, limit, audience)).await?;
    Ok(http::page(&req, page))
}

/// Create a review
///
/// A reviewer's verdict on a claim; `draft` unless `status` says otherwise
/// (a `published` review needs `url`). At most one review per claim and
/// reviewer is not `withdrawn`: a second one is a 409 naming the first.
/// The claim's card changes (its version goes up).
#[utoipa::path(
    tag = "reviews", operation_id = "createReview", request_body = NewReview,
    responses((status = 201, description = "The review was created", body = Review,
        headers(("Location" = String, description = "The review's URL"), ("ETag" = String, description = "Its version"))))
)]
#[post("/reviews")]
async fn create_review(
    access: WriteAccess,
    db: web::Data<Db>,
    body: Valid<NewReview>,
) -> Result<HttpResponse, ApiError> {
    let review = db.write(access.change, move |tx| store::create(tx, body.0)).await?;
    Ok(http::created(format!("/v1/reviews/{}", review.id), review.version, &review))
}

/// Get a review
///
/// A draft is found only with a key of scope `write`.
#[utoipa::path(
    tag = "reviews", operation_id = "getReview", params(("id" = Uuid, Path, description = "The review's id", example = "0193a7e0-7c1e-7000-8000-000000000001")),
    responses((status = 200, description = "The review", body = Review,
        headers(("ETag" = String, description = "The review's version"))))
)]
#[get("/reviews/{id}")]
async fn get_review(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<ReviewId>,
) -> Result<HttpResponse, ApiError> {
    let (id, audience) = (id.into_inner(), Audience::of(&req));
    let review = db.run(move |conn| store::get(conn, &id, audience)).await?;
    Ok(http::resource(&req, review.version, &review))
}

/// Change a review
///
/// A JSON Merge Patch (RFC 7396); needs `If-Match` with the current ETag.
/// Publishing is `{"status": "published"}`; withdrawing,
/// `{"status": "withdrawn"}`.
#[utoipa::path(
    tag = "reviews", operation_id = "updateReview", params(("id" = Uuid, Path, description = "The review's id", example = "0193a7e0-7c1e-7000-8000-000000000001")),
    request_body(content((ReviewPatch = "application/merge-patch+json"), (ReviewPatch = "application/json"))),
    responses((status = 200, description = "The changed review", body = Review,
        headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "The change would give the reviewer a second review of the claim that is not \
            withdrawn, or names a claim or agent that does not exist", body = crate::error::Problem,
            content_type = "application/problem+json"))
)]
#[patch("/reviews/{id}")]
async fn update_review(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<ReviewId>,
    patch: MergePatch,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    let review = db.write(access.change, move |tx| store::update(tx, &id, precondition, &patch)).await?;
    Ok(http::resource(&req, review.version, &review))
}

/// Delete a review
///
/// Its revisions stay; a published verdict that was wrong is better
/// withdrawn (`status: withdrawn`), which keeps it on record.
#[utoipa::path(
    tag = "reviews", operation_id = "deleteReview", params(("id" = Uuid, Path, description = "The review's id", example = "0193a7e0-7c1e-7000-8000-000000000001")),
    responses((status = 204, description = "The review was deleted"))
)]
#[delete("/reviews/{id}")]
async fn delete_review(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<ReviewId>,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    db.write(access.change, move |tx| store::delete(tx, &id, precondition)).await?;
    Ok(HttpResponse::NoContent().finish())
}
