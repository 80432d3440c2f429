//! Moving a whole database between servers and backends: `claimtrail export`
//! (or `GET /v1/export`) writes every agent, source, claim and attribution as
//! NDJSON, and `claimtrail import` (or `POST /v1/import`) loads such a file,
//! ids, versions and timestamps unchanged.
//!
//! The format, one JSON object per line:
//!
//! ```text
//! {"type":"header","data":{"format":"claimtrail","version":1}}
//! {"type":"agent","data":{...the agent as GET /v1/agents/{id} shows it}}
//! {"type":"source","data":{...as GET /v1/sources/{id} shows it, content included}}
//! {"type":"claim","data":{...as in GET /v1/claims, tags included}}
//! {"type":"attribution","data":{...as GET /v1/attributions/{id} shows it}}
//! {"type":"review","data":{...as GET /v1/reviews/{id} shows it}}
//! {"type":"key","data":{"id":…,"name":…,"scope":"write","secret_sha256":…,"created_at":…}}
//! {"type":"end","data":{"agents":1,"sources":1,"claims":1,"attributions":1,"keys":1}}
//! ```
//!
//! Records come in dependency order: agents (an affiliation before the agents
//! affiliated with it), sources, claims, attributions, reviews; within a
//! kind by id.
//! API keys come last, and only from `claimtrail export --with-keys`: the
//! HTTP export never holds them, and `keys` is left out of the counts when
//! there are none.
//! The export is deterministic: the same data gives the same bytes from
//! either backend.

pub mod export;
pub mod format;
pub mod import;
pub mod upload;

use std::io::{BufRead, Cursor, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminAccess;
use crate::db::Db;
use crate::error::{ApiError, FieldError};
use crate::http::Params;
pub use export::{History, Keys, export};
pub use format::Counts;
pub use import::{ImportReport, LineError, import};

/// The media type of transfer files.
pub const NDJSON: &str = "application/x-ndjson";

/// Refuses input that is empty or does not start with a `header` line: it
/// is not a transfer file, and importing it would either write nothing and
/// call that a success, or take records without knowing their format.
/// Reads up to the first line that is not blank; hands back a reader that
/// still yields everything, that line included.
pub fn require_header<R: BufRead>(mut input: R) -> Result<impl BufRead, ApiError> {
    let mut seen = Vec::new();
    let mut line_number = 0u64;
    let first = loop {
        let start = seen.len();
        let read = input
            .read_until(b'\n', &mut seen)
            .map_err(|e| ApiError::bad_request(format!("The input could not be read: {e}")))?;
        if read == 0 {
            return Err(ApiError::unprocessable(vec![FieldError::new(
                "line 1",
                "the file is empty: a claimtrail export starts with a `header` line",
            )])
            .with_detail("The file is empty; nothing was imported."));
        }
        line_number += 1;
        if !seen[start..].trim_ascii().is_empty() {
            break seen[start..].trim_ascii().to_vec();
        }
    };
    let is_header = serde_json::from_slice::<serde_json::Value>(&first).is_ok_and(|line| line["type"] == "header");
    if !is_header {
        return Err(ApiError::unprocessable(vec![FieldError::new(
            format!("line {line_number}"),
            "is not a `header` line: a claimtrail export starts with \
             {\"type\":\"header\",\"data\":{\"format\":\"claimtrail\",\"version\":1}}",
        )])
        .with_detail("The file does not start with a header line; nothing was imported."));
    }
    Ok(Cursor::new(seen).chain(input))
}

/// The largest body `POST /v1/import` accepts, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimit(pub usize);

impl Default for ImportLimit {
    fn default() -> ImportLimit {
        ImportLimit(256 * 1024 * 1024)
    }
}

pub fn configure(config: &mut ServiceConfig) {
    config.service(export_records).service(import_records);
}

/// Export everything
///
/// Streams the whole database as NDJSON, exactly as `claimtrail export`
/// writes it: a `header` line, agents (an affiliation before its members),
/// sources with their content, claims with their tags, attributions,
/// reviews (drafts included), and an
/// `end` line with the counts, all from one snapshot. A response that stops
/// before its `end` line was cut short by a failure; `POST /v1/import`
/// refuses such a file. API keys are never in it (`claimtrail export
/// --with-keys` writes them). Needs an `admin` key.
#[utoipa::path(
    tag = "transfer", operation_id = "exportRecords", params(ExportQuery), security(("bearer" = [])),
    responses((status = 200, description = "Every record, one JSON object per line",
        content_type = "application/x-ndjson", body = String))
)]
#[get("/export")]
async fn export_records(
    _: AdminAccess,
    db: web::Data<Db>,
    Params(query): Params<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let history = if query.without_history.unwrap_or(false) { History::Leave } else { History::Include };
    // Checked out before answering, so that a database that is down is a
    // 503 rather than an empty 200.
    let pool = db.clone();
    let mut conn = web::block(move || pool.get()).await.map_err(ApiError::internal)??;
    let (sender, receiver) = mpsc::channel(8);
    actix_web::rt::task::spawn_blocking(move || {
        let mut out = ChunkSender { sender, chunk: Vec::with_capacity(CHUNK) };
        let exported = export(&mut conn, &mut out, Keys::Leave, history);
        crate::db::answered(&mut conn, exported.is_ok());
        if let Err(error) = exported {
            // The client sees the body end without its `end` line.
            tracing::warn!(%error, "the export stopped");
            let _ = out.sender.blocking_send(Err(std::io::Error::other("the export stopped")));
        }
    });
    Ok(HttpResponse::Ok().content_type(NDJSON).body(ExportBody(receiver)))
}

/// Bytes sent to the client at a time.
const CHUNK: usize = 64 * 1024;

/// Hands the export's bytes, a chunk at a time, from the blocking thread
/// that writes them to the response; a full channel holds the writer back,
/// so a slow client never makes the export pile up in memory.
struct ChunkSender {
    sender: mpsc::Sender<std::io::Result<Bytes>>,
    chunk: Vec<u8>,
}

impl ChunkSender {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.sender
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.chunk.extend_from_slice(bytes);
        if self.chunk.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.chunk.is_empty() { Ok(()) } else { self.send() }
    }
}

/// The response body of an export: the chunks as they come.
struct ExportBody(mpsc::Receiver<std::io::Result<Bytes>>);

impl MessageBody for ExportBody {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// Options of `POST /v1/import`.
/// Parameters of `GET /v1/export`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Leave the revisions out: the current state only (default false:
    /// every revision follows the records, in commit order).
    pub without_history: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check every line as an import would, then write nothing.
    pub dry_run: Option<bool>,
}

/// Import records
///
/// Loads an NDJSON file as `claimtrail export` writes it, in one transaction:
/// all or nothing. Each line is `{"type": "header"|"agent"|"source"|"claim"|"attribution"|"review"|"key"|"end",
/// "data": {...}}`, the data being the resource as the API shows it, ids, versions and
/// timestamps included (absent `created_at`, `updated_at` and `version` take
/// what a create gives). Records pass the same checks as a create, and their
/// references must be to records on earlier lines or already stored (an
/// agent's `affiliation_id` may also point forward). Read-only fields must
/// agree with the data: `content_sha256` with `content`, `quote_status` and
/// the offsets with the quote checked against its source. `key` lines
/// (from `claimtrail export --with-keys`) add API keys by the SHA-256 of
/// their secrets, so their tokens work here with the same scopes.
///
/// The file starts with its `header` line and ends with its `end` line
/// (which counts the records): an empty file, or one without a header, is
/// a 422, as is a file cut short.
///
/// A bad line makes a 422 listing every bad line (`field` is `line N`); an
/// id that is already stored makes a 409 listing those lines. In both cases
/// nothing is written. Needs an `admin` key.
#[utoipa::path(
    tag = "transfer", operation_id = "importRecords", params(ImportQuery), security(("bearer" = [])),
    request_body(content = String, content_type = "application/x-ndjson",
        description = "One JSON record per line, as `claimtrail export` writes it."),
    responses((status = 200, description = "Every line was good: what was written (or, in a dry run, would be)",
        body = ImportReport))
)]
#[post("/import")]
async fn import_records(
    access: AdminAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let is_ndjson = req.mime_type().ok().flatten().is_some_and(|m| m.essence_str() == NDJSON);
    if !is_ndjson {
        return Err(ApiError::unsupported_media_type(format!(
            "Send the records as {NDJSON}: one JSON object per line."
        )));
    }
    let limit = req.app_data::<web::Data<ImportLimit>>().map(|l| ***l).unwrap_or_default().0;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    // In a temporary file, not in memory; read back line by line.
    let body = upload::receive(payload, limit).await?;
    let dry_run = query.dry_run.unwrap_or(false);
    let change = access.change;
    // The header is checked on the blocking pool too: the body is a file.
    let terms = db.terms();
    let report = db
        .run(move |conn| {
            let input = require_header(upload::reader(body))?;
            let report = import(conn, input, dry_run, change, crate::db::FileUse::Shared).map_err(ApiError::from)?;
            // The searches after it find their lists carried, or being read.
            if !dry_run {
                crate::claims::listing::carry_posting_lists(conn, &terms);
            }
            Ok::<_, ApiError>(report)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report.into_result()?))
}
