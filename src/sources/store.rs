//! The `sources` table: its row, and the one write path that the API, the
//! seed loader, import and the generator all take.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::model::{NewSource, Source, SourceKind, SourceQuery};
use crate::attributions::store as attribution_store;
use crate::card;
use crate::claims::listing::sql::Sql;
use crate::cursor::{self, newest_first};
use crate::db::refs::{self, Target};
use crate::db::schema::sources;
use crate::db::write::{self, ResourceType, Revision, RevisionAction, Stamp, StoreError, StoreResult, Tombstone, Tx};
use crate::db::{self, DbConnection};
use crate::http::{MergePatch, Page, Precondition};
use crate::ids::{AgentId, SourceId};
use crate::names::{self, NameSearch, Names};
use crate::revisions::store as revision_store;
use crate::validate::PartialDate;

/// Every column of a source, as written and as read whole: its content
/// and the rest.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sources, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct SourceRow {
    #[diesel(embed)]
    pub meta: SourceMeta,
    pub content: Option<String>,
}

/// A source without its content, which can be large and which lists and
/// summaries never show.
#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset, serde::Deserialize,
)]
#[diesel(table_name = sources, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct SourceMeta {
    pub id: SourceId,
    pub kind: SourceKind,
    pub title: String,
    pub url: Option<String>,
    pub publisher_id: Option<AgentId>,
    pub byline: Option<String>,
    #[serde(deserialize_with = "crate::validate::stored_partial_date")]
    pub published_on: Option<PartialDate>,
    pub language: Option<String>,
    pub content_sha256: Option<String>,
    pub archived_url: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl SourceRow {
    pub fn new(id: SourceId, body: NewSource, stamp: Stamp) -> SourceRow {
        let meta = SourceMeta {
            id,
            kind: body.kind,
            title: body.title,
            url: body.url,
            publisher_id: body.publisher_id,
            byline: body.byline,
            published_on: body.published_on,
            language: body.language,
            content_sha256: body.content.as_deref().map(|c| hex::encode(Sha256::digest(c.as_bytes()))),
            archived_url: body.archived_url,
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
            version: stamp.version,
        };
        SourceRow { meta, content: body.content }
    }

    pub fn stamp(&self) -> Stamp {
        let m = &self.meta;
        Stamp { created_at: m.created_at, updated_at: m.updated_at, version: m.version }
    }

    pub fn into_api(self) -> Source {
        self.meta.into_api(self.content)
    }

    /// The writable fields, as a create body (what a merge patch applies to).
    fn writable(&self) -> NewSource {
        let m = &self.meta;
        NewSource {
            id: None,
            kind: m.kind,
            title: m.title.clone(),
            url: m.url.clone(),
            publisher_id: m.publisher_id.clone(),
            byline: m.byline.clone(),
            published_on: m.published_on.clone(),
            language: m.language.clone(),
            content: self.content.clone(),
            archived_url: m.archived_url.clone(),
        }
    }
}

impl SourceMeta {
    /// Its columns, for queries written as text (the same as `as_select`'s;
    /// a test compares them).
    pub const COLUMNS: &str = "sources.id, sources.kind, sources.title, sources.url, sources.publisher_id, \
        sources.byline, sources.published_on, sources.language, sources.content_sha256, sources.archived_url, \
        sources.created_at, sources.updated_at, sources.version";

    /// The source as the API shows it; lists leave `content` out.
    pub fn into_api(self, content: Option<String>) -> Source {
        Source {
            id: self.id,
            kind: self.kind,
            title: self.title,
            url: self.url,
            publisher_id: self.publisher_id,
            byline: self.byline,
            published_on: self.published_on,
            language: self.language,
            content,
            content_sha256: self.content_sha256,
            archived_url: self.archived_url,
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        }
    }
}

/// Writes rows as they are, many per statement, each with its revision.
/// Every source enters the table here; callers have checked the rows
/// against the API's rules.
pub fn insert(tx: &mut Tx, rows: &[SourceRow]) -> StoreResult<()> {
    write::insert_rows!(tx.conn, sources::table, rows);
    for row in rows {
        tx.record(|| revision(row, RevisionAction::Create));
    }
    Ok(())
}

fn revision(row: &SourceRow, action: RevisionAction) -> Revision {
    Revision::of(ResourceType::Source, row.meta.id.as_str(), row.meta.version, action, &row.clone().into_api())
}

/// Which of these ids the table holds.
pub fn existing(conn: &mut DbConnection, ids: &[SourceId]) -> StoreResult<HashSet<SourceId>> {
    write::existing(ids, |chunk| sources::table.filter(sources::id.eq_any(chunk)).select(sources::id).load(conn))
}

pub fn find(conn: &mut DbConnection, id: &SourceId) -> StoreResult<SourceRow> {
    sources::table.find(id).select(SourceRow::as_select()).first(conn).optional()?.ok_or(StoreError::NotFound("source"))
}

/// Sources by id, without their content (one query whatever the number).
pub fn metas(conn: &mut DbConnection, ids: &[SourceId]) -> StoreResult<Vec<SourceMeta>> {
    // One statement text for any number of sources, kept prepared.
    let mut sql = Sql::new();
    sql.push("SELECT ")
        .push(SourceMeta::COLUMNS)
        .push(" FROM sources WHERE sources.id")
        .in_list(ids.iter().map(SourceId::as_str));
    Ok(sql.cached().load_any(conn)?)
}

fn check_references(conn: &mut DbConnection, body: &NewSource) -> StoreResult<()> {
    refs::require(conn, &[("publisher_id", Target::Agent, body.publisher_id.as_ref().map(AgentId::as_str))])
}

/// Creates a source from a create body, its id free and its references there.
pub fn create(tx: &mut Tx, body: NewSource) -> StoreResult<Source> {
    let id = body.id.clone().unwrap_or_else(SourceId::generate);
    if refs::exists(tx.conn, Target::Source, id.as_str())? {
        return Err(StoreError::Exists { what: "source", id: id.to_string() });
    }
    check_references(tx.conn, &body)?;
    let stamp = revision_store::stamp_for_new(tx.conn, ResourceType::Source, id.as_str(), tx.at())?;
    let row = SourceRow::new(id, body, stamp);
    insert(tx, std::slice::from_ref(&row))?;
    Ok(row.into_api())
}

pub fn get(conn: &mut DbConnection, id: &SourceId) -> StoreResult<Source> {
    Ok(find(conn, id)?.into_api())
}

pub fn list(conn: &mut DbConnection, query: &SourceQuery, limit: i64) -> StoreResult<Page<Source>> {
    let fingerprint = cursor::fingerprint(query);
    let mut filters = Vec::new();
    filters.extend(query.kind.map(|kind| ("sources.kind", kind.as_str().to_string())));
    filters.extend(query.publisher_id.as_ref().map(|id| ("sources.publisher_id", id.to_string())));
    let by_name =
        NameSearch::new(Names::Sources, query.q.as_deref(), filters, &fingerprint, query.cursor.as_deref(), limit)?;
    if let Some(search) = by_name {
        let (rows, next_cursor) = names::page(
            conn,
            &search,
            &fingerprint,
            |conn, ids| {
                Ok(sources::table.filter(sources::id.eq_any(ids)).select(SourceMeta::as_select()).load(conn)?)
            },
            |row: &SourceMeta| row.id.as_str(),
        )?;
        return Ok(Page { items: rows.into_iter().map(|r| r.into_api(None)).collect(), next_cursor });
    }
    let mut select = sources::table.select(SourceMeta::as_select()).into_boxed();
    if let Some(kind) = query.kind {
        select = select.filter(sources::kind.eq(kind));
    }
    if let Some(publisher) = &query.publisher_id {
        select = select.filter(sources::publisher_id.eq(publisher));
    }
    let (rows, next_cursor) =
        newest_first!(conn, select, sources, SourceMeta, &fingerprint, query.cursor.as_deref(), limit);
    Ok(Page { items: rows.into_iter().map(|r| r.into_api(None)).collect(), next_cursor })
}

/// Applies a merge patch; the quotes checked against the content and the
/// cards that show the source follow.
pub fn update(tx: &mut Tx, id: &SourceId, precondition: Precondition, patch: &MergePatch) -> StoreResult<Source> {
    let before = find(tx.conn, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    let body = patch.apply(&before.writable(), id.as_str())?;
    replace(tx, before, body, &precondition, RevisionAction::Update)
}

/// Makes `body` the source's fields, as its next version.
fn replace(
    tx: &mut Tx,
    before: SourceRow,
    body: NewSource,
    precondition: &Precondition,
    action: RevisionAction,
) -> StoreResult<Source> {
    precondition.check(before.meta.version)?;
    check_references(tx.conn, &body)?;
    let id = before.meta.id.clone();
    let after = SourceRow::new(id.clone(), body, before.stamp().next(tx.at()));
    let changed =
        diesel::update(sources::table.filter(sources::id.eq(&id)).filter(sources::version.eq(before.meta.version)))
            .set(&after)
            .execute(tx.conn)?;
    write::guarded(changed, || Ok(find(tx.conn, &id)?.meta.version))?;
    tx.record(|| revision(&after, action));
    if after.content != before.content {
        attribution_store::reverify_quotes_of_source(tx, &id, after.content.as_deref())?;
    }
    card::source_changed(tx, &before.meta, &after.meta)?;
    Ok(after.into_api())
}

/// Makes an earlier revision's fields current again, as the next version;
/// a deleted source (its `tombstone` given) is made again with its id.
pub fn restore(
    tx: &mut Tx,
    id: &SourceId,
    body: NewSource,
    precondition: Precondition,
    tombstone: Option<Tombstone>,
) -> StoreResult<Source> {
    check_references(tx.conn, &body).map_err(write::dangling)?;
    let Some(tombstone) = tombstone else {
        let before = find(tx.conn, id)?;
        return replace(tx, before, body, &precondition, RevisionAction::Restore);
    };
    precondition.check(tombstone.version)?;
    let row = SourceRow::new(id.clone(), body, tombstone.revived(tx.at()));
    write::insert_rows!(tx.conn, sources::table, std::slice::from_ref(&row));
    tx.record(|| revision(&row, RevisionAction::Restore));
    Ok(row.into_api())
}

pub fn delete(tx: &mut Tx, id: &SourceId, precondition: Precondition) -> StoreResult<()> {
    let current = find(tx.conn, id)?;
    precondition.check(current.meta.version)?;
    refs::ensure_unreferenced(tx.conn, Target::Source, id.as_str())?;
    let deleted =
        diesel::delete(sources::table.filter(sources::id.eq(id)).filter(sources::version.eq(current.meta.version)))
            .execute(tx.conn)?;
    write::guarded(deleted, || Ok(find(tx.conn, id)?.meta.version))?;
    tx.record(|| Revision::tombstone(ResourceType::Source, id.as_str(), current.meta.version));
    Ok(())
}
