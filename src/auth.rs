//! API keys: random bearer tokens stored only as SHA-256 hashes, each with a
//! scope (`read` < `write` < `admin`), checked by the extractors below.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::schema::api_keys;
use crate::db::write::{self, StoreResult};
use crate::db::{Db, DbConnection};
use crate::error::ApiError;
use crate::validate::text_enum;

text_enum! {
    /// What a key may do; each scope includes the ones below it.
    #[derive(PartialOrd, Ord, clap::ValueEnum)]
    Scope {
        /// Read everything (useful when reads require a key).
        Read = "read",
        /// Create, change and delete resources.
        Write = "write",
        /// Everything, including bulk import.
        Admin = "admin",
    }
}

/// Settings the extractors read from the app data.
#[derive(Debug, Clone, Copy)]
pub struct AuthPolicy {
    /// When true, reads need a key of scope `read` too.
    pub require_key_for_reads: bool,
}

/// A key as created: the token is shown once and never stored.
pub struct CreatedKey {
    pub id: String,
    pub token: String,
}

const PREFIX: &str = "ct";

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A key as the `api_keys` table holds it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub secret_sha256: String,
    pub created_at: chrono::NaiveDateTime,
}

/// Writes key rows; every key enters the table here (`keys create`, import).
pub fn insert_keys(conn: &mut DbConnection, rows: &[KeyRow]) -> StoreResult<()> {
    write::insert_rows!(conn, api_keys::table, rows);
    Ok(())
}

/// Which of these key ids the table holds.
pub fn existing_keys(conn: &mut DbConnection, ids: &[String]) -> StoreResult<HashSet<String>> {
    write::existing(ids, |chunk| api_keys::table.filter(api_keys::id.eq_any(chunk)).select(api_keys::id).load(conn))
}

/// Makes a key: `ct_<id>_<secret>`, where the id finds the row and the
/// 256-bit secret is compared, hashed, in constant time.
pub fn create_key(conn: &mut DbConnection, name: &str, scope: Scope) -> StoreResult<CreatedKey> {
    let mut id_bytes = [0u8; 9];
    let mut secret_bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut id_bytes);
    rand::rng().fill_bytes(&mut secret_bytes);
    let id = URL_SAFE_NO_PAD.encode(id_bytes).replace(['-', '_'], "x");
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    let row = KeyRow {
        id: id.clone(),
        name: name.to_string(),
        scope,
        secret_sha256: sha256_hex(&secret),
        created_at: crate::db::now(),
    };
    insert_keys(conn, &[row])?;
    Ok(CreatedKey { token: format!("{PREFIX}_{id}_{secret}"), id })
}

/// The scope of a presented token, or 401.
fn verify(conn: &mut DbConnection, token: &str) -> Result<Scope, ApiError> {
    let invalid = || ApiError::unauthorized("The API key is not valid.");
    let mut parts = token.splitn(3, '_');
    let (Some(PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let row: Option<(Scope, String)> = api_keys::table
        .filter(api_keys::id.eq(id))
        .select((api_keys::scope, api_keys::secret_sha256))
        .first(conn)
        .optional()?;
    let Some((scope, stored)) = row else { return Err(invalid()) };
    let presented = sha256_hex(secret);
    if bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) { Ok(scope) } else { Err(invalid()) }
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ApiError::unauthorized("The Authorization header is not readable."))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim().to_string())),
        _ => Err(ApiError::unauthorized("Use `Authorization: Bearer <key>`.")),
    }
}

/// The scope of the request's bearer token; `None` without one.
async fn identify(req: &HttpRequest) -> Result<Option<Scope>, ApiError> {
    let Some(token) = bearer(req)? else { return Ok(None) };
    let db = req.app_data::<web::Data<Db>>().ok_or_else(|| ApiError::internal("no database in app data"))?.clone();
    db.run(move |conn| verify(conn, &token)).await.map(Some)
}

/// What [`authenticate`] found out about a request's key.
#[derive(Clone)]
struct Identified(Result<Option<Scope>, ApiError>);

/// Middleware that checks the bearer token before any extractor runs.
/// actix polls a handler's extractors together and answers the first error
/// among those ready; an access check that still waited on the database
/// would lose to a bad body or path, and a caller without the right key
/// would learn what is wrong with its request instead of getting 401/403.
/// With the key checked here, the access extractors decide at once.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let identified = identify(req.request()).await;
    req.extensions_mut().insert(Identified(identified));
    next.call(req).await
}

/// The id of the request's API key, once [`authenticate`] has verified it;
/// `None` without a key or with one that is not valid.
pub fn verified_key_id(req: &ServiceRequest) -> Option<String> {
    let verified = matches!(req.extensions().get::<Identified>(), Some(Identified(Ok(Some(_)))));
    let token = bearer(req.request()).ok().flatten().filter(|_| verified)?;
    token.split('_').nth(1).map(str::to_string)
}

async fn authorize(req: HttpRequest, needed: Scope) -> Result<Option<Scope>, ApiError> {
    let identified = req.extensions().get::<Identified>().cloned();
    let scope = match identified {
        Some(Identified(scope)) => scope?,
        None => identify(&req).await?,
    };
    let policy = req.app_data::<web::Data<AuthPolicy>>().map(|p| **p.clone());
    if needed == Scope::Read && scope.is_none() && !policy.is_some_and(|p| p.require_key_for_reads) {
        return Ok(None);
    }
    let Some(scope) = scope else {
        return Err(ApiError::unauthorized("This request needs `Authorization: Bearer <key>`."));
    };
    if scope < needed {
        return Err(ApiError::forbidden(format!(
            "This key has scope `{}`; this request needs `{}`.",
            scope.as_str(),
            needed.as_str()
        )));
    }
    Ok(Some(scope))
}

macro_rules! access_extractor {
    ($(#[$meta:meta])* $name:ident, $scope:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl FromRequest for $name {
            type Error = actix_web::Error;
            type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let req = req.clone();
                Box::pin(async move {
                    authorize(req, $scope).await?;
                    Ok($name)
                })
            }
        }
    };
}

access_extractor!(
    /// Passes reads: open, unless the server requires a key for them.
    ReadAccess,
    Scope::Read
);
access_extractor!(
    /// Passes a key of scope `write` or more.
    WriteAccess,
    Scope::Write
);
access_extractor!(
    /// Passes a key of scope `admin`.
    AdminAccess,
    Scope::Admin
);
