//! The change feed: every revision in commit order, as pages
//! (`GET /v1/changes`) or as a live Server-Sent Events stream
//! (`GET /v1/changes/stream`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use tokio::sync::{mpsc, watch};

use super::model::{ChangesPage, ChangesQuery};
use super::store;
use crate::auth::ReadAccess;
use crate::db::Db;
use crate::db::write::ResourceType;
use crate::error::ApiError;
use crate::http::Params;
use crate::reviews::Audience;

/// How often a stream looks for new changes, and how often it sends a
/// comment line to keep proxies from closing a quiet connection.
const POLL: Duration = Duration::from_millis(500);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Changes read per query of a stream.
const STREAM_PAGE: i64 = 200;

/// Set when the server starts shutting down: streams then end, so that
/// the graceful shutdown is not held up by them.
#[derive(Clone)]
pub struct Shutdown(pub watch::Receiver<bool>);

fn checked(query: &ChangesQuery) -> Result<(Vec<ResourceType>, i64), ApiError> {
    let types = query.types().map_err(|e| ApiError::bad_parameter("types", e))?;
    let limit = query.limit().map_err(|e| ApiError::bad_parameter("limit", e))?;
    Ok((types, limit))
}

/// List changes
///
/// Every create, change and deletion of every resource, in the order they
/// were committed, from the place `since` names. Keep the answer's
/// `next_cursor` and ask again with it: nothing is missed and nothing comes
/// twice, also with many writers and several server instances. `types`
/// keeps some resource types only; the cursor still marks a place in the
/// whole feed.
#[utoipa::path(
    tag = "revisions", operation_id = "listChanges", params(ChangesQuery),
    responses((status = 200, description = "Changes in commit order", body = ChangesPage))
)]
#[get("/changes")]
pub async fn list_changes(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let (types, limit) = checked(&query)?;
    // An empty `since` is the start, as clients that always send it expect.
    let since = query.since.filter(|s| !s.is_empty());
    let mut page = db.run(move |conn| store::changes(conn, since.as_deref(), &types, limit)).await?;
    // Draft reviews are the desk's; the cursor still marks the place after them.
    let audience = Audience::of(&req);
    page.items.retain(|revision| audience.sees_revision(revision));
    Ok(HttpResponse::Ok().json(page))
}

/// One Server-Sent Event of the change stream, as an SSE parser hands it
/// over (comment lines, which keep the connection open, are not events).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only described: the stream writes the event's lines itself.
pub struct ChangeEvent {
    /// The cursor after this change: send it as `Last-Event-ID` (or `since`) to resume.
    id: String,
    /// Always `change`.
    #[schema(example = "change")]
    event: String,
    /// The change as `GET /v1/changes` lists it (a `RevisionOut`), as JSON text.
    data: String,
}

/// Stream changes
///
/// The change feed as Server-Sent Events (`text/event-stream`): one `change`
/// event per revision, its `id` the cursor after it, so a client that
/// reconnects with `Last-Event-ID` (or `since`) resumes where it stopped.
/// New changes arrive within about half a second. A comment line every 15
/// seconds keeps the connection open; the stream ends when the server
/// shuts down.
#[utoipa::path(
    tag = "revisions", operation_id = "streamChanges", params(ChangesQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received: resume after it (wins over `since`)")),
    responses((status = 200, description = "Server-Sent Events, one per change", content_type = "text/event-stream", body = ChangeEvent))
)]
#[get("/changes/stream")]
pub async fn stream_changes(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    Params(query): Params<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let (types, _) = checked(&query)?;
    let last_event = req.headers().get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let since = last_event.or(query.since).filter(|s| !s.is_empty());
    let after = store::feed_position(since.as_deref()).map_err(ApiError::from)?;
    let shutdown = req.app_data::<web::Data<Shutdown>>().map(|s| s.0.clone());
    let (sender, receiver) = mpsc::channel(16);
    let audience = Audience::of(&req);
    actix_web::rt::spawn(pump((**db).clone(), after, types, audience, sender, shutdown));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .body(EventBody(receiver)))
}

/// Sends the changes after `after` as events, then waits for more, until
/// the client goes away or the server shuts down.
async fn pump(
    db: Db,
    mut after: i64,
    types: Vec<ResourceType>,
    audience: Audience,
    sender: mpsc::Sender<Bytes>,
    mut shutdown: Option<watch::Receiver<bool>>,
) {
    let mut quiet_since = Instant::now();
    loop {
        if shutdown.as_ref().is_some_and(|s| *s.borrow()) {
            return;
        }
        let types_now = types.clone();
        let rows = match db.run(move |conn| store::changes_after(conn, after, &types_now, STREAM_PAGE)).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "the change stream could not read the feed");
                return;
            }
        };
        for row in &rows {
            let revision = row.clone().into_api();
            if !audience.sees_revision(&revision) {
                after = row.seq;
                continue;
            }
            let event =
                format!("id: {}\nevent: change\ndata: {}\n\n", store::feed_cursor(row.seq), event_data(&revision));
            if sender.send(Bytes::from(event)).await.is_err() {
                return;
            }
            after = row.seq;
        }
        if rows.len() as i64 == STREAM_PAGE {
            continue;
        }
        if !rows.is_empty() {
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= KEEP_ALIVE {
            if sender.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                return;
            }
            quiet_since = Instant::now();
        }
        let sleep = tokio::time::sleep(POLL);
        match shutdown.as_mut() {
            Some(signal) => {
                tokio::select! {
                    () = sleep => {}
                    _ = signal.changed() => return,
                }
            }
            None => sleep.await,
        }
    }
}

/// A revision as one line of JSON (an event's `data` must not span lines;
/// JSON without pretty-printing never does).
fn event_data(revision: &super::model::RevisionOut) -> String {
    serde_json::to_string(revision).unwrap_or_default()
}

/// The events, as they come.
struct EventBody(mpsc::Receiver<Bytes>);

impl MessageBody for EventBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.get_mut().0.poll_recv(cx).map(|event| event.map(Ok))
    }
}
