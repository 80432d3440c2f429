//! Liveness and readiness probes, and the API's root document; each names
//! the server's version.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::Db;
use crate::error::ApiError;
use crate::observability::VERSION;

pub fn configure(config: &mut ServiceConfig) {
    config.service(healthz).service(readyz);
}

/// The root document, under `/v1`.
pub fn configure_root(config: &mut ServiceConfig) {
    config.service(api_root);
}

/// A probe's answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the probe passes.
    #[schema(example = "ok")]
    pub status: String,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: String,
}

impl Health {
    fn ok() -> Health {
        Health { status: "ok".to_string(), version: VERSION.to_string() }
    }
}

/// What the API is and where its description lives.
#[derive(Serialize, ToSchema)]
pub struct ApiRoot {
    /// Always `claimtrail`.
    #[schema(example = "claimtrail")]
    pub name: String,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: String,
    /// The OpenAPI document.
    #[schema(example = "/openapi.json")]
    pub openapi: String,
    /// Swagger UI.
    #[schema(example = "/docs/")]
    pub docs: String,
}

/// Liveness
///
/// 200 while the process serves requests.
#[utoipa::path(tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "The process is alive", body = Health)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health::ok())
}

/// Readiness
///
/// 200 when the database answers, 503 when it does not.
#[utoipa::path(tag = "operations", operation_id = "readyz",
    responses((status = 200, description = "The database answers", body = Health)))]
#[get("/readyz")]
async fn readyz(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    // Within the health timeout (500 ms by default), with the reason when not.
    db.ready().await?;
    Ok(HttpResponse::Ok().json(Health::ok()))
}

/// The API's root
///
/// The API's name and version, and where its OpenAPI document and Swagger
/// UI are. Open to every caller.
#[utoipa::path(tag = "operations", operation_id = "getApiRoot",
    responses((status = 200, description = "The API's name and version", body = ApiRoot)))]
#[get("")]
async fn api_root() -> HttpResponse {
    HttpResponse::Ok().json(ApiRoot {
        name: "claimtrail".to_string(),
        version: VERSION.to_string(),
        openapi: "/openapi.json".to_string(),
        docs: "/docs/".to_string(),
    })
}
