//! schema.org ClaimReview, the exchange format of fact-checkers, search
//! engines and the Google Fact Check Tools API: published reviews out
//! ([`out`], with `appearance` and `firstAppearance` derived from the
//! claim's provenance), and ClaimReview documents in ([`parse`], then
//! [`ingest`]).

pub mod ingest;
pub mod out;
pub mod parse;

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::model::ReviewStatus;
use super::store as review_store;
use crate::auth::{ReadAccess, WriteAccess};
use crate::db::Db;
use crate::db::write::{StoreError, StoreResult};
use crate::error::ApiError;
use crate::http::Params;
use crate::ids::{ClaimId, ReviewId};
use ingest::ClaimReviewImport;
use out::ClaimReviewDoc;

/// The media type of JSON-LD.
pub const LD_JSON: &str = "application/ld+json";

pub fn configure(config: &mut ServiceConfig) {
    config.service(get_review_claimreview).service(get_claim_claimreviews).service(import_claimreview);
}

fn ld_json<T: serde::Serialize>(body: &T) -> Result<HttpResponse, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type(LD_JSON).body(text))
}

/// Get a review as schema.org ClaimReview
///
/// The published review as a ClaimReview JSON-LD document
/// (`application/ld+json`), ready for a fact-check page's
/// script element of type `application/ld+json`: `claimReviewed` is the claim's
/// text, `reviewRating` the verdict (`alternateName` its label,
/// `ratingValue`/`bestRating`/`worstRating` its scale), `author` the
/// reviewer (`creator` the person who wrote it), `url` the article that
/// explains it. `itemReviewed` is the Claim, described from its
/// provenance, which no other system has:
///
/// - `appearance`: every source that states the claim (an attribution
///   with stance `affirms`), each with its URL as `@id`, or
///   `urn:uuid:<source id>` when it has none, its title, date and
///   publisher; `isBasedOn` names the source it says it took the claim from;
/// - `firstAppearance`: the earliest-dated origin of the claim's trail
///   (see `GET /v1/claims/{id}/provenance`): where the claim first
///   appeared, not the outlet a reader met first. Partial dates compare by
///   their first day; on a tie, the more precise date, then the origin
///   further upstream, then the source id; undated origins come last;
/// - `author`: the speaker, when the supporting attributions name exactly one;
/// - `datePublished`: the date of `firstAppearance`, or else of the
///   earliest appearance.
///
/// Only published reviews have one: a draft or a withdrawn review is a 404.
#[utoipa::path(
    tag = "reviews", operation_id = "getReviewClaimReview",
    params(("id" = Uuid, Path, description = "The review's id", example = "0193a7e0-7c1e-7000-8000-000000000001")),
    responses((status = 200, description = "The review as ClaimReview", content((ClaimReviewDoc = "application/ld+json"))))
)]
#[get("/reviews/{id}/claimreview")]
async fn get_review_claimreview(
    _: ReadAccess,
    db: web::Data<Db>,
    id: web::Path<ReviewId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let document = db
        .run(move |conn| -> StoreResult<ClaimReviewDoc> {
            let review = review_store::find(conn, &id)?;
            if review.status != ReviewStatus::Published {
                return Err(StoreError::NotFound("published review"));
            }
            let reviewed = out::reviewed(conn, &review.claim_id)?;
            let agents = out::agents_of(conn, std::slice::from_ref(&review))?;
            out::document(&review, &reviewed, &agents)
        })
        .await?;
    ld_json(&document)
}

/// Get a claim's published reviews as schema.org ClaimReview
///
/// Every published review of the claim, oldest first, as a JSON-LD array
/// of ClaimReview documents (`application/ld+json`; see
/// `getReviewClaimReview` for what each holds); `[]` when it has none.
#[utoipa::path(
    tag = "reviews", operation_id = "getClaimClaimReviews",
    params(("id" = Uuid, Path, description = "The claim's id", example = "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338")),
    responses((status = 200, description = "The claim's published reviews as ClaimReview",
        content((Vec<ClaimReviewDoc> = "application/ld+json"))))
)]
#[get("/claims/{id}/claimreview")]
async fn get_claim_claimreviews(
    _: ReadAccess,
    db: web::Data<Db>,
    id: web::Path<ClaimId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let documents = db
        .run(move |conn| -> StoreResult<Vec<ClaimReviewDoc>> {
            let reviewed = out::reviewed(conn, &id)?;
            let reviews = review_store::of_claims(conn, std::slice::from_ref(&id), false)?;
            let agents = out::agents_of(conn, &reviews)?;
            reviews.iter().map(|review| out::document(review, &reviewed, &agents)).collect()
        })
        .await?;
    ld_json(&documents)
}

/// Options of `POST /v1/import/claimreview`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClaimReviewImportQuery {
    /// Check and match everything, answer what would be done, and write nothing.
    pub dry_run: Option<bool>,
}

/// Import ClaimReview documents
///
/// Takes what fact-checkers publish (`application/json` or
/// `application/ld+json`): one ClaimReview object, an array of them, a
/// JSON-LD document whose `@graph` holds them (other nodes are skipped,
/// `{"@id": …}` references to them followed), or the Google Fact Check
/// Tools API's answer (`{"claims": [{"text", "claimReview": [{"publisher",
/// "url", "textualRating", "reviewDate", "languageCode", "title"}]}]}`).
/// At most 100 reviews and 50 appearances per claim.
///
/// For each review it finds or makes, in one transaction (all or
/// nothing): the reviewer (`author`; `creator`, or a person after the
/// organisation in `author`, is the review's author), the claim
/// (`claimReviewed`), a source for each `appearance` and the
/// `firstAppearance`, with their publishers, an attribution of the claim to
/// each, and the review, published. Records are found before any is made:
/// an agent by URL, then by exact name; a claim by its `urn:uuid:` `@id`,
/// then by exact text; a source by `urn:uuid:` `@id`, URL, then title and
/// publisher; a review by `urn:uuid:` `@id`, or as the reviewer's active
/// review of the claim with the same URL (another URL is a 409). Made
/// records keep a `urn:uuid:` `@id` as their id, so a document from
/// `GET …/claimreview` comes back as it went out. An appearance that
/// `isBasedOn` another work cites it; with a Claim `author`, the
/// attributions made name that speaker.
///
/// The answer lists, per review, every record found (`matched`) or made
/// (`created`), and `notes` on what was left out (the Fact Check Tools
/// API's `claimant` and `claimDate`, which need a source to be recorded).
/// A document that breaks a rule is a 422 listing every problem at its
/// JSON path (`$[0].reviewRating.alternateName`); nothing is written.
/// `dry_run=true` does everything but keep it.
#[utoipa::path(
    tag = "reviews", operation_id = "importClaimReviews", params(ClaimReviewImportQuery),
    request_body(content = Object, content_type = "application/ld+json",
        description = "ClaimReview JSON-LD (one object, an array, a `@graph`), or a Fact Check Tools API answer; `application/json` too."),
    responses((status = 200, description = "What was found and made (in a dry run: would be)", body = ClaimReviewImport))
)]
#[post("/import/claimreview")]
async fn import_claimreview(
    access: WriteAccess,
    db: web::Data<Db>,
    Params(query): Params<ClaimReviewImportQuery>,
    document: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let read = parse::read(&document).map_err(|errors| {
        let problems = if errors.len() == 1 { "1 problem".to_string() } else { format!("{} problems", errors.len()) };
        ApiError::unprocessable(errors)
            .with_detail(format!("The document has {problems}, each named at its JSON path; nothing was imported."))
    })?;
    let dry_run = query.dry_run.unwrap_or(false);
    let report = db.write_deciding(access.change, move |tx| ingest::run(tx, read, dry_run)).await?;
    Ok(HttpResponse::Ok().json(report))
}
