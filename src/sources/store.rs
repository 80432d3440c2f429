//! Source rows and their queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::model::{NewSource, Source, SourceKind, SourceQuery};
use crate::db::refs::{self, Target};
use crate::db::schema::sources;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::{MergePatch, Page, Precondition, decode_cursor, paginate};
use crate::validate::PartialDate;
use crate::{attributions, claims};

/// A source without its content, which can be large and which lists and
/// summaries never show.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sources)]
pub struct SourceRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub url: Option<String>,
    pub publisher_id: Option<String>,
    pub byline: Option<String>,
    pub published_on: Option<String>,
    pub language: Option<String>,
    pub content_sha256: Option<String>,
    pub archived_url: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// Every column, as written.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = sources, treat_none_as_null = true)]
pub(crate) struct SourceWrite {
    id: String,
    kind: String,
    title: String,
    url: Option<String>,
    publisher_id: Option<String>,
    byline: Option<String>,
    published_on: Option<String>,
    language: Option<String>,
    content: Option<String>,
    content_sha256: Option<String>,
    archived_url: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

impl SourceWrite {
    pub(crate) fn new(
        id: String,
        body: NewSource,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
        version: i32,
    ) -> SourceWrite {
        SourceWrite {
            id,
            kind: body.kind.as_str().to_string(),
            title: body.title,
            url: body.url,
            publisher_id: body.publisher_id.map(|u| u.to_string()),
            byline: body.byline,
            published_on: body.published_on.map(|d| d.as_str().to_string()),
            language: body.language,
            content_sha256: body.content.as_deref().map(|c| hex::encode(Sha256::digest(c.as_bytes()))),
            content: body.content,
            archived_url: body.archived_url,
            created_at,
            updated_at,
            version,
        }
    }

    fn into_api(self) -> Result<Source, ApiError> {
        let row = SourceRow {
            id: self.id,
            kind: self.kind,
            title: self.title,
            url: self.url,
            publisher_id: self.publisher_id,
            byline: self.byline,
            published_on: self.published_on,
            language: self.language,
            content_sha256: self.content_sha256,
            archived_url: self.archived_url,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        };
        row.into_api(self.content)
    }
}

impl SourceRow {
    pub fn into_api(self, content: Option<String>) -> Result<Source, ApiError> {
        Ok(Source {
            id: db::uuid(&self.id)?,
            kind: SourceKind::from_db(&self.kind)?,
            title: self.title,
            url: self.url,
            publisher_id: db::opt_uuid(self.publisher_id.as_deref())?,
            byline: self.byline,
            published_on: PartialDate::from_db(self.published_on),
            language: self.language,
            content,
            content_sha256: self.content_sha256,
            archived_url: self.archived_url,
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        })
    }

    fn writable(&self, content: Option<String>) -> Result<NewSource, ApiError> {
        Ok(NewSource {
            id: None,
            kind: SourceKind::from_db(&self.kind)?,
            title: self.title.clone(),
            url: self.url.clone(),
            publisher_id: db::opt_uuid(self.publisher_id.as_deref())?,
            byline: self.byline.clone(),
            published_on: PartialDate::from_db(self.published_on.clone()),
            language: self.language.clone(),
            content,
            archived_url: self.archived_url.clone(),
        })
    }
}

fn check_references(conn: &mut DbConnection, body: &NewSource) -> Result<(), ApiError> {
    let missing = refs::missing(conn, &[("publisher_id", Target::Agent, body.publisher_id.map(|u| u.to_string()))])?;
    if missing.is_empty() { Ok(()) } else { Err(ApiError::unprocessable(missing)) }
}

fn find(conn: &mut DbConnection, id: &str) -> Result<(SourceRow, Option<String>), ApiError> {
    sources::table
        .find(id)
        .select((SourceRow::as_select(), sources::content))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("source"))
}

pub fn create(conn: &mut DbConnection, body: NewSource) -> Result<Source, ApiError> {
    let id = body.id.unwrap_or_else(db::new_id).to_string();
    if refs::exists(conn, Target::Source, &id)? {
        return Err(ApiError::conflict(format!("A source with id {id} already exists.")));
    }
    check_references(conn, &body)?;
    let now = db::now();
    let row = SourceWrite::new(id, body, now, now, 1);
    diesel::insert_into(sources::table).values(&row).execute(conn)?;
    row.into_api()
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Source, ApiError> {
    let (row, content) = find(conn, id)?;
    row.into_api(content)
}

pub fn list(conn: &mut DbConnection, query: SourceQuery, limit: i64) -> Result<Page<Source>, ApiError> {
    let mut select = sources::table.select(SourceRow::as_select()).into_boxed();
    if let Some(kind) = query.kind {
        select = select.filter(sources::kind.eq(kind.as_str()));
    }
    if let Some(publisher) = query.publisher_id {
        select = select.filter(sources::publisher_id.eq(publisher.to_string()));
    }
    if let Some(cursor) = &query.cursor {
        let (at, id): (NaiveDateTime, String) = decode_cursor(cursor)?;
        select = select.filter(sources::created_at.lt(at).or(sources::created_at.eq(at).and(sources::id.lt(id))));
    }
    let rows = select.order((sources::created_at.desc(), sources::id.desc())).limit(limit + 1).load(conn)?;
    let (rows, next_cursor) = paginate(rows, limit, |r: &SourceRow| (r.created_at, r.id.clone()));
    let items = rows.into_iter().map(|r| r.into_api(None)).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Sources by id, for summaries (one query whatever the number).
pub fn by_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<SourceRow>, ApiError> {
    Ok(sources::table.filter(sources::id.eq_any(ids)).select(SourceRow::as_select()).load(conn)?)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    precondition: Precondition,
    patch: &MergePatch,
) -> Result<Source, ApiError> {
    let (current, content) = find(conn, id)?;
    let before = current.writable(content.clone())?;
    let body = patch.apply(&before, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    precondition.check(current.version)?;
    check_references(conn, &body)?;
    let content_changed = body.content != content;
    // What claim cards show of a source (`SourceSummary`).
    let summary_changed = body.kind != before.kind
        || body.title != before.title
        || body.url != before.url
        || body.published_on != before.published_on
        || body.publisher_id != before.publisher_id;
    let row = SourceWrite::new(id.to_string(), body, current.created_at, db::now(), current.version + 1);
    let changed =
        diesel::update(sources::table.filter(sources::id.eq(id)).filter(sources::version.eq(current.version)))
            .set(&row)
            .execute(conn)?;
    if changed == 0 {
        // A concurrent writer got there first (PostgreSQL let us read the
        // row before it committed): name the version it left, or 404.
        return Err(ApiError::precondition_failed(find(conn, id)?.0.version));
    }
    if content_changed {
        attributions::store::reverify_quotes_of_source(conn, id, row.content.as_deref())?;
    }
    if summary_changed {
        claims::store::touch_showing_source(conn, id)?;
    }
    row.into_api()
}

pub fn delete(conn: &mut DbConnection, id: &str, precondition: Precondition) -> Result<(), ApiError> {
    let (current, _) = find(conn, id)?;
    precondition.check(current.version)?;
    refs::ensure_unreferenced(conn, Target::Source, id)?;
    let deleted =
        diesel::delete(sources::table.filter(sources::id.eq(id)).filter(sources::version.eq(current.version)))
            .execute(conn)?;
    if deleted == 0 {
        return Err(ApiError::precondition_failed(find(conn, id)?.0.version));
    }
    Ok(())
}
