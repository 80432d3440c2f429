//! The `revisions` table: one row per change of a resource, numbered in
//! commit order (`seq`), and the reads behind revision lists and the feed.

use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;

use super::model::{ChangesPage, RevisionOut};
use crate::cursor;
use crate::db::schema::revisions;
use crate::db::write::{self, Actor, Change, ResourceType, Revision, RevisionAction, Stamp, StoreError, StoreResult};
use crate::db::{self, DbConnection};
use crate::http::Page;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = revisions, treat_none_as_default_value = false)]
pub struct RevisionRow {
    pub seq: i64,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub version: i32,
    pub action: RevisionAction,
    pub data: Option<String>,
    pub cause: Option<String>,
    pub actor: String,
    pub comment: Option<String>,
    pub created_at: NaiveDateTime,
}

impl RevisionRow {
    pub fn into_api(self) -> RevisionOut {
        RevisionOut {
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            version: self.version,
            action: self.action,
            data: self.data.and_then(|d| serde_json::from_str(&d).ok()),
            cause: self.cause,
            actor: self.actor,
            comment: self.comment,
            created_at: db::utc(self.created_at),
        }
    }

    /// Who made it.
    pub fn actor(&self) -> Actor {
        Actor::from_db(&self.actor)
    }
}

/// The last `seq` written; 0 for none.
fn last_seq(conn: &mut DbConnection) -> StoreResult<i64> {
    Ok(revisions::table.select(max(revisions::seq)).first::<Option<i64>>(conn)?.unwrap_or(0))
}

/// Writes a transaction's revisions, numbered after the last one. The
/// transaction takes the change feed's turn first (`db::take_feed_turn`):
/// no other transaction can number revisions until this one commits, so
/// `seq` is commit order and a reader never sees a later change without
/// the earlier ones.
pub fn append(conn: &mut DbConnection, change: &Change, pending: Vec<Revision>) -> StoreResult<()> {
    if pending.is_empty() {
        return Ok(());
    }
    db::take_feed_turn(conn)?;
    let first = last_seq(conn)? + 1;
    let actor = change.actor.to_db();
    let rows: Vec<RevisionRow> = pending
        .into_iter()
        .zip(first..)
        .map(|(r, seq)| RevisionRow {
            seq,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            version: r.version,
            action: r.action,
            data: r.data,
            cause: r.cause,
            actor: actor.clone(),
            comment: change.comment.clone(),
            created_at: change.at,
        })
        .collect();
    tracing::info!(actor = %actor, revisions = rows.len(), first_seq = first, "change committed");
    write::insert_rows!(conn, revisions::table, rows, copy on postgres);
    Ok(())
}

/// Writes revisions carried by an import, numbered after the last one in
/// the order given (the file's order, which was commit order).
pub fn append_imported(conn: &mut DbConnection, mut rows: Vec<RevisionRow>) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    db::take_feed_turn(conn)?;
    let first = last_seq(conn)? + 1;
    for (row, seq) in rows.iter_mut().zip(first..) {
        row.seq = seq;
    }
    write::insert_rows!(conn, revisions::table, rows, copy on postgres);
    Ok(())
}

/// The (type, id, version) of every revision of these resources.
pub fn versions_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> StoreResult<std::collections::HashSet<(ResourceType, String, i32)>> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(write::ROWS_PER_INSERT) {
        let rows: Vec<(ResourceType, String, i32)> = revisions::table
            .filter(revisions::resource_id.eq_any(chunk))
            .select((revisions::resource_type, revisions::resource_id, revisions::version))
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// The revisions of one resource, newest first.
pub fn of_resource(
    conn: &mut DbConnection,
    resource_type: ResourceType,
    id: &str,
    cursor_token: Option<&str>,
    limit: i64,
) -> StoreResult<Page<RevisionOut>> {
    let fingerprint = cursor::fingerprint(&("revisions", resource_type, id));
    let mut select = revisions::table
        .filter(revisions::resource_type.eq(resource_type))
        .filter(revisions::resource_id.eq(id))
        .select(RevisionRow::as_select())
        .into_boxed();
    if let Some(token) = cursor_token {
        let before: i32 = cursor::decode(token, &fingerprint)?;
        select = select.filter(revisions::version.lt(before));
    }
    let rows: Vec<RevisionRow> = select.order(revisions::version.desc()).limit(limit + 1).load(conn)?;
    if rows.is_empty() && cursor_token.is_none() {
        return Err(StoreError::NotFound(resource_type.as_str()));
    }
    let (rows, next_cursor) = cursor::paginate(rows, limit, &fingerprint, |r| r.version);
    Ok(Page { items: rows.into_iter().map(RevisionRow::into_api).collect(), next_cursor })
}

/// One revision of one resource.
pub fn find(conn: &mut DbConnection, resource_type: ResourceType, id: &str, version: i32) -> StoreResult<RevisionRow> {
    revisions::table
        .filter(revisions::resource_type.eq(resource_type))
        .filter(revisions::resource_id.eq(id))
        .filter(revisions::version.eq(version))
        .select(RevisionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound("revision"))
}

/// The newest revision of one resource: a tombstone when it was deleted.
pub fn latest(conn: &mut DbConnection, resource_type: ResourceType, id: &str) -> StoreResult<Option<RevisionRow>> {
    Ok(revisions::table
        .filter(revisions::resource_type.eq(resource_type))
        .filter(revisions::resource_id.eq(id))
        .order(revisions::version.desc())
        .select(RevisionRow::as_select())
        .first(conn)
        .optional()?)
}

/// The place in the feed a cursor names (0, the start, for none).
pub fn feed_position(cursor_token: Option<&str>) -> StoreResult<i64> {
    match cursor_token {
        Some(token) => cursor::decode(token, FEED),
        None => Ok(0),
    }
}

/// The cursor of the place after revision `seq`.
pub fn feed_cursor(seq: i64) -> String {
    cursor::encode(FEED, &seq)
}

/// The stamp of a resource created now: version 1, or, for an id that was
/// used before and deleted, the version after its tombstone, so that its
/// history reads on and an old ETag never names the new resource.
pub fn stamp_for_new(
    conn: &mut DbConnection,
    resource_type: ResourceType,
    id: &str,
    at: NaiveDateTime,
) -> StoreResult<Stamp> {
    let last: Option<i32> = revisions::table
        .filter(revisions::resource_type.eq(resource_type))
        .filter(revisions::resource_id.eq(id))
        .select(max(revisions::version))
        .first(conn)?;
    Ok(Stamp { created_at: at, updated_at: at, version: last.map_or(1, |v| v + 1) })
}

/// The feed: revisions after `after`, in commit order, optionally of some
/// resource types only.
pub fn changes_after(
    conn: &mut DbConnection,
    after: i64,
    types: &[ResourceType],
    limit: i64,
) -> StoreResult<Vec<RevisionRow>> {
    let mut select = revisions::table.filter(revisions::seq.gt(after)).select(RevisionRow::as_select()).into_boxed();
    if !types.is_empty() {
        select = select.filter(revisions::resource_type.eq_any(types.to_vec()));
    }
    Ok(select.order(revisions::seq.asc()).limit(limit).load(conn)?)
}

/// A page of the feed. Its cursor always names where to continue, also
/// when nothing came.
pub fn changes(
    conn: &mut DbConnection,
    since: Option<&str>,
    types: &[ResourceType],
    limit: i64,
) -> StoreResult<ChangesPage> {
    let after = feed_position(since)?;
    let rows = changes_after(conn, after, types, limit)?;
    let last = rows.last().map_or(after, |r| r.seq);
    Ok(ChangesPage { items: rows.into_iter().map(RevisionRow::into_api).collect(), next_cursor: feed_cursor(last) })
}

/// The feed's cursors hold a place in the whole log, whatever the `types`
/// filter: one fingerprint for all.
const FEED: &str = "changes";

/// Every revision, in commit order, a page at a time (for export).
pub fn page_after(conn: &mut DbConnection, after: i64, limit: i64) -> StoreResult<Vec<RevisionRow>> {
    Ok(revisions::table
        .filter(revisions::seq.gt(after))
        .order(revisions::seq.asc())
        .limit(limit)
        .select(RevisionRow::as_select())
        .load(conn)?)
}
