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

use crate::cursor::{self, newest_first};
use crate::db::schema::api_keys;
use crate::db::write::{self, Actor, Change, ResourceType, Revision, RevisionAction, StoreError, StoreResult, Tx};
use crate::db::{self, Db, DbConnection};
use crate::error::ApiError;
use crate::http::Page;
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
    pub info: KeyInfo,
}

const PREFIX: &str = "ct";

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A key as the `api_keys` table holds it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys, treat_none_as_default_value = false)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub secret_sha256: String,
    pub created_at: chrono::NaiveDateTime,
    pub revoked_at: Option<chrono::NaiveDateTime>,
    pub last_used_at: Option<chrono::NaiveDateTime>,
}

/// A key as `GET /v1/keys` and `claimtrail keys list` show it: never its
/// secret, nor the secret's hash.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// The key's id: the part between `ct_` and the secret in its token.
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the key was revoked (`null` while it is valid); it is refused
    /// (401) since.
    #[schema(required = true)]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// About when the key was last used (kept to the minute); `null` if
    /// never.
    #[schema(required = true)]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl KeyRow {
    pub fn info(&self) -> KeyInfo {
        KeyInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            scope: self.scope,
            created_at: db::utc(self.created_at),
            revoked_at: self.revoked_at.map(db::utc),
            last_used_at: self.last_used_at.map(db::utc),
        }
    }

    fn revision(&self, action: RevisionAction) -> Revision {
        // The last use is not a change of the key.
        let info = KeyInfo { last_used_at: None, ..self.info() };
        Revision::of(ResourceType::Key, &self.id, self.version(), action, &info)
    }

    /// Keys have two versions: 1 as made, 2 once revoked.
    pub fn version(&self) -> i32 {
        if self.revoked_at.is_some() { 2 } else { 1 }
    }
}

/// Writes key rows, each with its revision; every key enters the table
/// here (`keys create`, `POST /v1/keys`, import).
pub fn insert_keys(tx: &mut Tx, rows: &[KeyRow]) -> StoreResult<()> {
    write::insert_rows!(tx.conn, api_keys::table, rows);
    for row in rows {
        tx.record(|| row.revision(RevisionAction::Create));
    }
    Ok(())
}

/// Which of these key ids the table holds.
pub fn existing_keys(conn: &mut DbConnection, ids: &[String]) -> StoreResult<HashSet<String>> {
    write::existing(ids, |chunk| api_keys::table.filter(api_keys::id.eq_any(chunk)).select(api_keys::id).load(conn))
}

/// Makes a key in a transaction of its own, by the CLI (`keys create`, tests).
pub fn create_key(conn: &mut DbConnection, name: &str, scope: Scope) -> StoreResult<CreatedKey> {
    db::write_tx(conn, Change::now(Actor::Cli), |tx| new_key(tx, name, scope))
}

/// Makes a key: `ct_<id>_<secret>`, where the id finds the row and the
/// 256-bit secret is compared, hashed, in constant time.
pub fn new_key(tx: &mut Tx, name: &str, scope: Scope) -> StoreResult<CreatedKey> {
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
        created_at: tx.at(),
        revoked_at: None,
        last_used_at: None,
    };
    insert_keys(tx, std::slice::from_ref(&row))?;
    Ok(CreatedKey { token: format!("{PREFIX}_{id}_{secret}"), id, info: row.info() })
}

/// Every key, newest first.
pub fn list_keys(conn: &mut DbConnection, cursor_token: Option<&str>, limit: i64) -> StoreResult<Page<KeyInfo>> {
    let fingerprint = cursor::fingerprint(&"keys");
    let select = api_keys::table.select(KeyRow::as_select()).into_boxed();
    let (rows, next_cursor) = newest_first!(conn, select, api_keys, KeyRow, &fingerprint, cursor_token, limit);
    Ok(Page { items: rows.iter().map(KeyRow::info).collect(), next_cursor })
}

/// Revokes a key: it is refused from the next request on, on every
/// instance (keys are checked against the database on each request).
pub fn revoke_key(tx: &mut Tx, id: &str) -> StoreResult<KeyInfo> {
    let mut row: KeyRow = api_keys::table
        .filter(api_keys::id.eq(id))
        .select(KeyRow::as_select())
        .first(tx.conn)
        .optional()?
        .ok_or(StoreError::NotFound("API key"))?;
    if row.revoked_at.is_none() {
        let at = tx.at();
        diesel::update(api_keys::table.filter(api_keys::id.eq(id)))
            .set(api_keys::revoked_at.eq(at))
            .execute(tx.conn)?;
        row.revoked_at = Some(at);
        tx.record(|| row.revision(RevisionAction::Revoke));
    }
    Ok(row.info())
}

/// A key as it authenticates a request.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub scope: Scope,
}

/// The key a presented token names, or 401. Notes its use, at most once a
/// minute, so that a key in constant use costs no write per request.
fn verify(conn: &mut DbConnection, token: &str) -> Result<Key, ApiError> {
    let invalid = || ApiError::unauthorized("The API key is not valid.");
    let mut parts = token.splitn(3, '_');
    let (Some(PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let row: Option<KeyRow> =
        api_keys::table.filter(api_keys::id.eq(id)).select(KeyRow::as_select()).first(conn).optional()?;
    let Some(row) = row else { return Err(invalid()) };
    let presented = sha256_hex(secret);
    if !bool::from(presented.as_bytes().ct_eq(row.secret_sha256.as_bytes())) {
        return Err(invalid());
    }
    if row.revoked_at.is_some() {
        return Err(ApiError::unauthorized("The API key was revoked."));
    }
    let now = db::now();
    if row.last_used_at.is_none_or(|used| now - used > chrono::TimeDelta::minutes(1)) {
        diesel::update(api_keys::table.filter(api_keys::id.eq(id)))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(Key { id: row.id, scope: row.scope })
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ApiError::unauthorized("The Authorization header is not readable."))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim().to_string())),
        _ => Err(ApiError::unauthorized("Use `Authorization: Bearer <key>`.")),
    }
}

/// The request's bearer key; `None` without one.
async fn identify(req: &HttpRequest) -> Result<Option<Key>, ApiError> {
    let Some(token) = bearer(req)? else { return Ok(None) };
    let db = req.app_data::<web::Data<Db>>().ok_or_else(|| ApiError::internal("no database in app data"))?.clone();
    db.run(move |conn| verify(conn, &token)).await.map(Some)
}

/// What [`authenticate`] found out about a request's key.
#[derive(Clone)]
struct Identified(Result<Option<Key>, ApiError>);

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
    if let Ok(Some(key)) = &identified {
        req.extensions_mut().insert(key.clone());
    }
    req.extensions_mut().insert(Identified(identified));
    next.call(req).await
}

/// The id of the request's API key, once [`authenticate`] has verified it;
/// `None` without a key or with one that is not valid.
pub fn verified_key_id(req: &ServiceRequest) -> Option<String> {
    req.extensions().get::<Key>().map(|key| key.id.clone())
}

/// Whether the request carries a verified key of scope `write` or more
/// (once [`authenticate`] has run): such requests see draft reviews.
pub fn may_write(req: &HttpRequest) -> bool {
    req.extensions().get::<Key>().is_some_and(|key| key.scope >= Scope::Write)
}

async fn authorize(req: &HttpRequest, needed: Scope) -> Result<Option<Key>, ApiError> {
    let identified = req.extensions().get::<Identified>().cloned();
    let key = match identified {
        Some(Identified(key)) => key?,
        None => identify(req).await?,
    };
    let policy = req.app_data::<web::Data<AuthPolicy>>().map(|p| **p.clone());
    if needed == Scope::Read && key.is_none() && !policy.is_some_and(|p| p.require_key_for_reads) {
        return Ok(None);
    }
    let Some(key) = key else {
        return Err(ApiError::unauthorized("This request needs `Authorization: Bearer <key>`."));
    };
    if key.scope < needed {
        return Err(ApiError::forbidden(format!(
            "This key has scope `{}`; this request needs `{}`.",
            key.scope.as_str(),
            needed.as_str()
        )));
    }
    Ok(Some(key))
}

/// The change a request with this key makes: now, by the key, with the
/// request's `X-Change-Comment`.
fn change_by(req: &HttpRequest, key: Option<Key>) -> Result<Change, ApiError> {
    let actor = key.map_or(Actor::Cli, |k| Actor::Key(k.id));
    Ok(Change::now(actor).with_comment(crate::http::change_comment(req)?))
}

macro_rules! access_extractor {
    ($(#[$meta:meta])* $name:ident, $scope:expr) => {
        $(#[$meta])*
        pub struct $name {
            /// The change a write made with this request makes: its time,
            /// the key and the `X-Change-Comment`.
            pub change: Change,
        }

        impl FromRequest for $name {
            type Error = actix_web::Error;
            type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let req = req.clone();
                Box::pin(async move {
                    let key = authorize(&req, $scope).await?;
                    let change = if $scope == Scope::Read {
                        Change::now(key.map_or(Actor::Cli, |k| Actor::Key(k.id)))
                    } else {
                        change_by(&req, key)?
                    };
                    Ok($name { change })
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
