//! `/v1/claims`: checkable statements, and the claim card.

pub mod listing;
pub mod model;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{ReadAccess, WriteAccess};
use crate::card::ClaimCard;
use crate::card::cache::CardCache;
use crate::card::reviews::CardQuery;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::{self, MergePatch, Page, Params, Precondition, Valid};
use crate::ids::ClaimId;
use crate::reviews::Audience;
use model::{Claim, ClaimListItem, ClaimPatch, ClaimQuery, NewClaim};

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_claims).service(create_claim).service(get_claim).service(update_claim).service(delete_claim);
}

/// List and search claims
///
/// Filters combine with AND; `q` searches the claims' text, subject and
/// quotes. Newest first unless `sort` says otherwise, in pages of `limit`
/// (keyset cursors: a deep page costs what the first one does, and claims
/// created while paging do not shift the pages; by `relevance` on SQLite,
/// paging is best-effort while claims change, as every write moves the
/// BM25 ranks a little).
#[utoipa::path(
    tag = "claims", operation_id = "listClaims", params(ClaimQuery),
    responses((status = 200, description = "A page of claims", body = Page<ClaimListItem>))
)]
#[get("/claims")]
async fn list_claims(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<ClaimQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let terms = db.terms();
    let page = db.run(move |conn| listing::list_kept(conn, query, limit, terms)).await?;
    Ok(http::page(&req, page))
}

/// Create a claim
///
/// Needs a `write` key. The claim starts `unreviewed` unless `status` says
/// otherwise; its sources are linked by creating attributions.
#[utoipa::path(
    tag = "claims", operation_id = "createClaim", request_body = NewClaim,
    responses((status = 201, description = "The claim was created", body = Claim,
        headers(("Location" = String, description = "The claim's URL"), ("ETag" = String, description = "Its version"))))
)]
#[post("/claims")]
async fn create_claim(access: WriteAccess, db: web::Data<Db>, body: Valid<NewClaim>) -> Result<HttpResponse, ApiError> {
    let claim = db.write(access.change, move |tx| store::create(tx, body.0)).await?;
    Ok(http::created(format!("/v1/claims/{}", claim.id), claim.version, &claim))
}

/// Get a claim card
///
/// The claim with every attribution, each with its source, speaker and
/// cited source summaries, and its published reviews with their reviewers:
/// one request draws a claim card. `include=drafts` (a `write` key) adds
/// draft reviews.
#[utoipa::path(
    tag = "claims", operation_id = "getClaim", params(("id" = Uuid, Path, description = "The claim's id", example = "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338"), CardQuery),
    responses((status = 200, description = "The claim card", body = ClaimCard,
        headers(("ETag" = String, description = "The claim's version"))),
        (status = 403, description = "`include=drafts` without a `write` key: drafts are the desk's",
            body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/claims/{id}")]
async fn get_claim(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    cards: web::Data<CardCache>,
    id: web::Path<ClaimId>,
    Params(query): Params<CardQuery>,
) -> Result<HttpResponse, ApiError> {
    let drafts = query.drafts(Audience::of(&req))?;
    let id = id.into_inner();
    // Read before the card is looked at (see `card::cache`).
    let epoch = db.epoch();
    if let Some(card) = cards.unchanged(&id, drafts, epoch) {
        return Ok(http::resource_json(&req, card.stamp.version, card.body.clone()));
    }
    let cards = cards.into_inner();
    let card = db.run(move |conn| cards.read(conn, &id, drafts, epoch)).await?;
    Ok(http::resource_json(&req, card.stamp.version, card.body.clone()))
}

/// Change a claim
///
/// A JSON Merge Patch (RFC 7396); needs `If-Match` with the current ETag.
#[utoipa::path(
    tag = "claims", operation_id = "updateClaim", params(("id" = Uuid, Path, description = "The claim's id", example = "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338")),
    request_body(content((ClaimPatch = "application/merge-patch+json"), (ClaimPatch = "application/json"))),
    responses((status = 200, description = "The changed claim", body = Claim,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/claims/{id}")]
async fn update_claim(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<ClaimId>,
    patch: MergePatch,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    let claim = db.write(access.change, move |tx| store::update(tx, &id, precondition, &patch)).await?;
    Ok(http::resource(&req, claim.version, &claim))
}

/// Delete a claim
///
/// Refused with 409 while attributions or reviews refer to it.
#[utoipa::path(
    tag = "claims", operation_id = "deleteClaim", params(("id" = Uuid, Path, description = "The claim's id", example = "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338")),
    responses((status = 204, description = "The claim was deleted"))
)]
#[delete("/claims/{id}")]
async fn delete_claim(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<ClaimId>,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    db.write(access.change, move |tx| store::delete(tx, &id, precondition)).await?;
    Ok(HttpResponse::NoContent().finish())
}
