//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::Db;
use crate::error::ApiError;

pub fn configure(config: &mut ServiceConfig) {
    config.service(healthz).service(readyz);
}

/// A probe's answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the probe passes.
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness
///
/// 200 while the process serves requests.
#[utoipa::path(tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "The process is alive", body = Health)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".to_string() })
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
    Ok(HttpResponse::Ok().json(Health { status: "ok".to_string() }))
}
