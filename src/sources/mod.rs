//! `/v1/sources`: documents and statements in which claims appear.

pub mod model;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{ReadAccess, WriteAccess};
use crate::db::Db;
use crate::error::ApiError;
use crate::http::{self, MergePatch, Page, Params, Precondition, Valid};
use crate::ids::SourceId;
use model::{NewSource, Source, SourcePatch, SourceQuery};

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_sources)
        .service(create_source)
        .service(get_source)
        .service(update_source)
        .service(delete_source);
}

/// List sources
///
/// Newest first, in pages of `limit` (keyset cursors: a deep page costs what
/// the first one does). Items leave out `content`.
#[utoipa::path(
    tag = "sources", operation_id = "listSources", params(SourceQuery),
    responses((status = 200, description = "A page of sources", body = Page<Source>))
)]
#[get("/sources")]
async fn list_sources(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<SourceQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let page = db.run(move |conn| store::list(conn, &query, limit)).await?;
    Ok(http::page(&req, page))
}

/// Create a source
///
/// Needs a `write` key. `content`, when given, is the archived text that
/// attributions' quotes are verified against; `content_sha256` is computed
/// from it.
#[utoipa::path(
    tag = "sources", operation_id = "createSource", request_body = NewSource,
    responses((status = 201, description = "The source was created", body = Source,
        headers(("Location" = String, description = "The source's URL"), ("ETag" = String, description = "Its version"))))
)]
#[post("/sources")]
async fn create_source(
    access: WriteAccess,
    db: web::Data<Db>,
    body: Valid<NewSource>,
) -> Result<HttpResponse, ApiError> {
    let source = db.write(access.change, move |tx| store::create(tx, body.0)).await?;
    Ok(http::created(format!("/v1/sources/{}", source.id), source.version, &source))
}

/// Get a source
///
/// With its archived `content`, when it has one.
#[utoipa::path(
    tag = "sources", operation_id = "getSource", params(("id" = Uuid, Path, description = "The source's id", example = "c6a8706d-f757-568a-bb3a-bda55545ee21")),
    responses((status = 200, description = "The source", body = Source,
        headers(("ETag" = String, description = "The source's version"))))
)]
#[get("/sources/{id}")]
async fn get_source(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<SourceId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let source = db.run(move |conn| store::get(conn, &id)).await?;
    Ok(http::resource(&req, source.version, &source))
}

/// Change a source
///
/// A JSON Merge Patch (RFC 7396); needs `If-Match` with the current ETag.
#[utoipa::path(
    tag = "sources", operation_id = "updateSource", params(("id" = Uuid, Path, description = "The source's id", example = "c6a8706d-f757-568a-bb3a-bda55545ee21")),
    request_body(content((SourcePatch = "application/merge-patch+json"), (SourcePatch = "application/json"))),
    responses((status = 200, description = "The changed source", body = Source,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/sources/{id}")]
async fn update_source(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<SourceId>,
    patch: MergePatch,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    let source = db.write(access.change, move |tx| store::update(tx, &id, precondition, &patch)).await?;
    Ok(http::resource(&req, source.version, &source))
}

/// Delete a source
///
/// Refused with 409 while attributions state or cite it.
#[utoipa::path(
    tag = "sources", operation_id = "deleteSource", params(("id" = Uuid, Path, description = "The source's id", example = "c6a8706d-f757-568a-bb3a-bda55545ee21")),
    responses((status = 204, description = "The source was deleted"))
)]
#[delete("/sources/{id}")]
async fn delete_source(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<SourceId>,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    db.write(access.change, move |tx| store::delete(tx, &id, precondition)).await?;
    Ok(HttpResponse::NoContent().finish())
}
