//! `/v1/agents`: people and organisations that publish or say things.

pub mod model;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{ReadAccess, WriteAccess};
use crate::db::Db;
use crate::error::ApiError;
use crate::http::{self, MergePatch, Page, Params, Precondition, Valid};
use crate::ids::AgentId;
use model::{Agent, AgentPatch, AgentQuery, NewAgent};

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_agents).service(create_agent).service(get_agent).service(update_agent).service(delete_agent);
}

/// List agents
///
/// Newest first, in pages of `limit` (keyset cursors: a deep page costs what
/// the first one does).
#[utoipa::path(
    tag = "agents", operation_id = "listAgents", params(AgentQuery),
    responses((status = 200, description = "A page of agents", body = Page<Agent>))
)]
#[get("/agents")]
async fn list_agents(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<AgentQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let page = db.run(move |conn| store::list(conn, &query, limit)).await?;
    Ok(http::page(&req, page))
}

/// Create an agent
///
/// Needs a `write` key. The id may be chosen by the client (a UUID not yet
/// used); the server makes a UUID v7 otherwise. `affiliation_id` must name
/// an existing agent.
#[utoipa::path(
    tag = "agents", operation_id = "createAgent", request_body = NewAgent,
    responses((status = 201, description = "The agent was created", body = Agent,
        headers(("Location" = String, description = "The agent's URL"), ("ETag" = String, description = "Its version"))))
)]
#[post("/agents")]
async fn create_agent(access: WriteAccess, db: web::Data<Db>, body: Valid<NewAgent>) -> Result<HttpResponse, ApiError> {
    let agent = db.write(access.change, move |tx| store::create(tx, body.0)).await?;
    Ok(http::created(format!("/v1/agents/{}", agent.id), agent.version, &agent))
}

/// Get an agent
///
/// With its `ETag`; `If-None-Match` with it answers `304` while the agent
/// is unchanged.
#[utoipa::path(
    tag = "agents", operation_id = "getAgent", params(("id" = Uuid, Path, description = "The agent's id", example = "dadc5658-6eb7-549b-892b-ebf148ec0882")),
    responses((status = 200, description = "The agent", body = Agent,
        headers(("ETag" = String, description = "The agent's version"))))
)]
#[get("/agents/{id}")]
async fn get_agent(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<AgentId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let agent = db.run(move |conn| store::get(conn, &id)).await?;
    Ok(http::resource(&req, agent.version, &agent))
}

/// Change an agent
///
/// A JSON Merge Patch (RFC 7396); needs `If-Match` with the current ETag.
#[utoipa::path(
    tag = "agents", operation_id = "updateAgent", params(("id" = Uuid, Path, description = "The agent's id", example = "dadc5658-6eb7-549b-892b-ebf148ec0882")),
    request_body(content((AgentPatch = "application/merge-patch+json"), (AgentPatch = "application/json"))),
    responses((status = 200, description = "The changed agent", body = Agent,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/agents/{id}")]
async fn update_agent(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<AgentId>,
    patch: MergePatch,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    let agent = db.write(access.change, move |tx| store::update(tx, &id, precondition, &patch)).await?;
    Ok(http::resource(&req, agent.version, &agent))
}

/// Delete an agent
///
/// Refused with 409 while sources, attributions, reviews or other agents refer to it.
#[utoipa::path(
    tag = "agents", operation_id = "deleteAgent", params(("id" = Uuid, Path, description = "The agent's id", example = "dadc5658-6eb7-549b-892b-ebf148ec0882")),
    responses((status = 204, description = "The agent was deleted"))
)]
#[delete("/agents/{id}")]
async fn delete_agent(
    access: WriteAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<AgentId>,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::required(&req)?;
    let id = id.into_inner();
    db.write(access.change, move |tx| store::delete(tx, &id, precondition)).await?;
    Ok(HttpResponse::NoContent().finish())
}
