//! `Idempotency-Key` on POST: a client that retries a request (after a
//! timeout, say) with the same key gets the first answer again instead of
//! a second resource.
//!
//! The first request with a key claims it, per API key, in a row of its own
//! committed before the request is handled; its answer (status, the
//! headers that matter, body) is stored when it is done. Then, for as long
//! as the answer is kept (24 hours by default):
//! - the same request again (same method, path, query, content type and
//!   body) gets the stored answer, with `Idempotent-Replayed: true`;
//! - another request with the key is a 422: keys are not to be reused;
//! - the same key while the first request is still being answered is a
//!   409: try again in a moment.
//!
//! A 5xx answer is not kept (the key is freed), so that a retry can
//! succeed. A request without a valid API key is passed on untouched: it
//! is refused with 401 anyway.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use sha2::{Digest, Sha256};

use crate::auth::Key;
use crate::db::schema::idempotency_keys;
use crate::db::{self, Db, DbConnection};
use crate::error::{ApiError, FieldError};

/// The header.
pub const HEADER: &str = "idempotency-key";

/// What the middleware needs to know: how long answers are kept and how
/// large a body it reads.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub keep: Duration,
    pub max_body: usize,
    pub max_import: usize,
}

/// Headers of a stored answer that a replay gives back.
const KEPT_HEADERS: [&str; 4] = ["content-type", "location", "etag", "link"];

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
struct Claim {
    key_id: String,
    idempotency_key: String,
    request_sha256: String,
    status: Option<i32>,
    headers: Option<String>,
    body: Option<Vec<u8>>,
    created_at: NaiveDateTime,
}

/// What happened when a request tried to claim its key.
enum Claimed {
    /// The key is this request's: handle it and store the answer.
    New,
    /// The same request, answered before: its answer (status, headers, body).
    Replay(i32, Option<String>, Vec<u8>),
    InFlight,
    Reused,
}

/// The middleware; see the module's documentation.
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let header = req.headers().get(HEADER).cloned();
    let key = req.extensions().get::<Key>().cloned();
    let (Some(header), Some(key), true) = (header, key, req.method() == Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let idempotency_key = match checked_key(&header) {
        Ok(k) => k,
        Err(e) => return Ok(req.error_response(e)),
    };
    // The request's other headers are checked as the handler would check
    // them, before any answer is replayed: a bad comment is a 400 whether
    // or not the key was seen, and a restore without If-Match a 428.
    if let Err(e) = crate::http::change_comment(req.request()) {
        return Ok(req.error_response(e));
    }
    if req.path().ends_with("/restore") && !req.headers().contains_key(actix_web::http::header::IF_MATCH) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let settings = req.app_data::<web::Data<Settings>>().map(|s| ***s).unwrap_or(Settings {
        keep: Duration::from_secs(24 * 3600),
        max_body: 2 * 1024 * 1024,
        max_import: 256 * 1024 * 1024,
    });
    let limit = if req.path() == "/v1/import" { settings.max_import } else { settings.max_body };
    let payload = req.extract::<web::Payload>().await?;
    let body = match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return Ok(req.error_response(ApiError::bad_request(format!("The body could not be read: {e}")))),
        Err(_) => return Ok(req.error_response(ApiError::payload_too_large(limit))),
    };
    let fingerprint = request_fingerprint(&req, &body);
    req.set_payload(actix_web::dev::Payload::from(body));

    let Some(db) = req.app_data::<web::Data<Db>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let claim = Claim {
        key_id: key.id.clone(),
        idempotency_key: idempotency_key.clone(),
        request_sha256: fingerprint,
        status: None,
        headers: None,
        body: None,
        created_at: db::now(),
    };
    let keep = settings.keep;
    let claimed = db.run(move |conn| claim_key(conn, claim, keep)).await;
    match claimed {
        Err(e) => Ok(req.error_response(e)),
        Ok(Claimed::Replay(status, headers, body)) => Ok(req.into_response(replay(status, headers.as_deref(), body))),
        Ok(Claimed::InFlight) => Ok(req.error_response(ApiError::conflict(
            "A request with this Idempotency-Key is still being answered; try again in a moment.",
        ))),
        Ok(Claimed::Reused) => Ok(req.error_response(
            ApiError::unprocessable(vec![FieldError::new(
                "Idempotency-Key",
                "was used with another request; use a new key for a new request",
            )])
            .with_detail("This Idempotency-Key was used with another request."),
        )),
        Ok(Claimed::New) => {
            let response = next.call(req).await?;
            remember(db, key.id, idempotency_key, response).await
        }
    }
}

/// 1 to 255 visible ASCII characters.
fn checked_key(header: &HeaderValue) -> Result<String, ApiError> {
    let text =
        header.to_str().ok().filter(|t| !t.is_empty() && t.len() <= 255 && t.bytes().all(|b| b.is_ascii_graphic()));
    text.map(str::to_string).ok_or_else(|| {
        ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters.")
            .with_errors(vec![FieldError::new("Idempotency-Key", "must be 1 to 255 visible ASCII characters")])
    })
}

/// What makes two requests the same: method, path, query, content type, body.
fn request_fingerprint(req: &ServiceRequest, body: &[u8]) -> String {
    let content_type = req.headers().get("content-type").map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    let mut hash = Sha256::new();
    for part in [req.method().as_str().as_bytes(), req.path().as_bytes(), req.query_string().as_bytes(), &content_type]
    {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Claims the key for this request, or says what became of an earlier one.
fn claim_key(conn: &mut DbConnection, claim: Claim, keep: Duration) -> Result<Claimed, ApiError> {
    let expired = claim.created_at - chrono::TimeDelta::from_std(keep).unwrap_or(chrono::TimeDelta::days(1));
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(expired))).execute(conn)?;
    match diesel::insert_into(idempotency_keys::table).values(&claim).execute(conn) {
        Ok(_) => return Ok(Claimed::New),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
        Err(e) => return Err(e.into()),
    }
    let earlier: Option<Claim> = idempotency_keys::table
        .filter(idempotency_keys::key_id.eq(&claim.key_id))
        .filter(idempotency_keys::idempotency_key.eq(&claim.idempotency_key))
        .select(Claim::as_select())
        .first(conn)
        .optional()?;
    // Freed between the insert and this read (a 5xx, or expiry): claim again.
    let Some(earlier) = earlier else { return claim_key(conn, claim, keep) };
    if earlier.request_sha256 != claim.request_sha256 {
        return Ok(Claimed::Reused);
    }
    let Some(status) = earlier.status else { return Ok(Claimed::InFlight) };
    Ok(Claimed::Replay(status, earlier.headers, earlier.body.unwrap_or_default()))
}

fn replay(status: i32, headers: Option<&str>, body: Vec<u8>) -> HttpResponse {
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    let headers: Vec<(String, String)> = headers.and_then(|h| serde_json::from_str(h).ok()).unwrap_or_default();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.insert_header((name, value));
        }
    }
    response.insert_header(("idempotent-replayed", "true"));
    response.body(body)
}

/// Stores the answer for replays (or frees the key after a 5xx) and hands
/// it on.
async fn remember(
    db: web::Data<Db>,
    key_id: String,
    idempotency_key: String,
    response: ServiceResponse<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (req, response) = response.into_parts();
    let status = response.status();
    let headers: Vec<(String, String)> = KEPT_HEADERS
        .iter()
        .filter_map(|name| Some((name.to_string(), response.headers().get(*name)?.to_str().ok()?.to_string())))
        .collect();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => Bytes::new(),
    };
    let stored = bytes.to_vec();
    let saved = db
        .run(move |conn| -> Result<(), ApiError> {
            let row = idempotency_keys::table
                .filter(idempotency_keys::key_id.eq(&key_id))
                .filter(idempotency_keys::idempotency_key.eq(&idempotency_key));
            if status.is_server_error() {
                diesel::delete(row).execute(conn)?;
            } else {
                diesel::update(row)
                    .set((
                        idempotency_keys::status.eq(i32::from(status.as_u16())),
                        idempotency_keys::headers.eq(serde_json::to_string(&headers).ok()),
                        idempotency_keys::body.eq(stored),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await;
    if let Err(error) = saved {
        tracing::error!(%error, "could not keep the answer to an idempotent request");
    }
    Ok(ServiceResponse::new(req, head.set_body(bytes).map_into_boxed_body()))
}
