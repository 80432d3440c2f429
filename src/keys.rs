//! `/v1/keys`: API keys, for admins: list them, make one, revoke one.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{self, AdminAccess, KeyInfo, Scope};
use crate::db::Db;
use crate::error::ApiError;
use crate::http::{self, Body, Page, Params, Valid};
use crate::validate::Check;

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_keys).service(create_key).service(revoke_key);
}

/// A key to make.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "newsroom-frontend", "scope": "write"}))]
pub struct NewKey {
    /// What the key is for. 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub scope: Scope,
}

impl Body for NewKey {
    const REQUIRED: &'static [&'static str] = &["name", "scope"];

    fn check(&self, check: &mut Check) {
        check.text("name", &self.name, 1, 200);
    }
}

/// A key just made, with its token: shown this once, stored only as a hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedKeyOut {
    #[serde(flatten)]
    pub key: KeyInfo,
    /// The bearer token, `ct_<id>_<secret>`. It cannot be shown again.
    pub token: String,
}

/// Parameters of the key list.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeysQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List API keys
///
/// Every key, newest first: id, name, scope, when it was made, last used
/// and revoked. Never a secret. Needs an `admin` key.
#[utoipa::path(
    tag = "keys", operation_id = "listKeys", params(KeysQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of keys", body = Page<KeyInfo>,
        headers(("Link" = String, description = "`<…>; rel=\"next\"`: the next page, when there is one"))))
)]
#[get("/keys")]
async fn list_keys(
    _: AdminAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<KeysQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let page = db.run(move |conn| auth::list_keys(conn, query.cursor.as_deref(), limit)).await?;
    Ok(http::page(&req, page))
}

/// Create an API key
///
/// The answer holds the token, shown this once. Needs an `admin` key.
#[utoipa::path(
    tag = "keys", operation_id = "createKey", request_body = NewKey,
    responses((status = 201, description = "The key was made", body = CreatedKeyOut,
        headers(("Location" = String, description = "The key list"))))
)]
#[post("/keys")]
async fn create_key(access: AdminAccess, db: web::Data<Db>, body: Valid<NewKey>) -> Result<HttpResponse, ApiError> {
    let NewKey { name, scope } = body.0;
    let created = db.write(access.change, move |tx| auth::new_key(tx, &name, scope)).await?;
    let out = CreatedKeyOut { key: created.info, token: created.token };
    Ok(HttpResponse::Created().insert_header(("location", "/v1/keys")).json(out))
}

/// Revoke an API key
///
/// The key is refused (401) from its next request on, on every server
/// instance. Revoking a revoked key changes nothing. Needs an `admin` key.
#[utoipa::path(
    tag = "keys", operation_id = "revokeKey",
    params(("id" = String, Path, description = "The key's id", example = "Nq3xk8Lm2Ab7")),
    responses((status = 200, description = "The revoked key", body = KeyInfo))
)]
#[delete("/keys/{id}")]
async fn revoke_key(access: AdminAccess, db: web::Data<Db>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let key = db.write(access.change, move |tx| auth::revoke_key(tx, &id)).await?;
    Ok(HttpResponse::Ok().json(key))
}
