//! `/v1/attributions`: one source stating (or denying) one claim.

pub mod model;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{ReadAccess, WriteAccess};
use crate::db::Db;
use crate::error::ApiError;
use crate::http::{self, MergePatch, Page, Params, Precondition, Valid};
use crate::ids::AttributionId;
use model::{Attribution, AttributionPatch, AttributionQuery, NewAttribution};

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_attributions)
        .service(create_attribution)
        .service(get_attribution)
        .service(update_attribution)
        .service(delete_attribution);
}

/// List attributions
///
/// Filter by claim, source, speaker or cited source. Newest first, in pages of `limit` (keyset cursors: a deep page costs what
/// the first one does).
#[utoipa::path(
    tag = "attributions", operation_id = "listAttributions", params(AttributionQuery),
    responses((status = 200, description = "A page of attributions", body = Page<Attribution>))
)]
#[get("/attributions")]
async fn list_attributions(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<AttributionQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let page = db.run(move |conn| store::list(conn, &query, limit)).await?;
    Ok(http::page(&req, page))
}

/// Create an attribution
///
/// Its quote is verified against the source's content at once.
#[utoipa::path(
    tag = "attributions", operation_id = "createAttribution", request_body = NewAttribution,
    responses((status = 201, description = "The attribution was created", body = Attribution,
        headers(("Location" = String, description = "The attribution's URL"), ("ETag" = String, description = "Its version"))))
)]
#[post("/attributions")]
async fn create_attribution(
    access: WriteAccess,
    db: web::Data<Db>,
    body: Valid<NewAttribution>,
) -> Result<HttpResponse, ApiError> {
    let attribution = db.write(access.change, move |tx| store::create(tx, body.0)).await?;
    Ok(http::created(format!("/v1/attributions/{}", attribution.id), attribution.version, &attribution))
}

/// Get an attribution
///
/// With its `ETag`; `If-None-Match` with it answers `304` while the
/// attribution is unchanged.
#[utoipa::path(
    tag = "attributions", operation_id = "getAttribution", params(("id" = Uuid, Path, description = "The attribution's id", example = "b80a7a2b-e755-5ecb-bfa1-880fd9890af8")),
    responses((status = 200, description = "The attribution", body = Attribution,
        headers(("ETag" = String, description = "The attribution's version"))))
)]
#[get("/attributions/{id}")]
async fn get_attribution(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<AttributionId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let attribution = db.run(move |conn| store::get(conn, &id)).await?;
    Ok(http::resource(&req, attribution.version, &attribution))
}

/// Change an attribution
///
/// A JSON Merge Patch (RFC 7396); needs `If-Match` with the current ETag.
#[utoipa::path(
    tag = "attributions", operation_id = "updateAttribution", params(("id" = Uuid, Path, description = "The attribution's id", example = "b80a7a2b-e755-5ecb-bfa1-880fd9890af8")),
    request_body(content((AttributionPatch = "application/merge-patch+json"), (AttributionPatch = "application/json"))),
    responses((status = 200, description = "The changed attribution", body = Attribution,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/attributions/{id}")]
async fn update_attribution(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<AttributionId>,
    patch: MergePatch,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    let attribution = db.write(access.change, move |tx| store::update(tx, &id, precondition, &patch)).await?;
    Ok(http::resource(&req, attribution.version, &attribution))
}

/// Delete an attribution
///
/// Needs `If-Match`. The claim's card changes, so the claim's version goes
/// up.
#[utoipa::path(
    tag = "attributions", operation_id = "deleteAttribution", params(("id" = Uuid, Path, description = "The attribution's id", example = "b80a7a2b-e755-5ecb-bfa1-880fd9890af8")),
    responses((status = 204, description = "The attribution was deleted"))
)]
#[delete("/attributions/{id}")]
async fn delete_attribution(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<AttributionId>,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    db.write(access.change, move |tx| store::delete(tx, &id, precondition)).await?;
    Ok(HttpResponse::NoContent().finish())
}
