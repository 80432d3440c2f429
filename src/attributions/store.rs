//! Attribution rows and their queries, quote verification included.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Attribution, AttributionQuery, Mode, NewAttribution, Stance};
use crate::claims;
use crate::db::refs::{self, Target};
use crate::db::schema::{attributions, sources};
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::{MergePatch, Page, Precondition, decode_cursor, paginate};
use crate::quotes::{Quote, QuoteStatus, Verification, verify_quote};
use crate::validate::PartialDate;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = attributions, treat_none_as_null = true)]
pub struct AttributionRow {
    pub id: String,
    pub claim_id: String,
    pub source_id: String,
    pub speaker_id: Option<String>,
    pub mode: String,
    pub stance: String,
    pub cited_source_id: Option<String>,
    pub quote_exact: Option<String>,
    pub quote_prefix: Option<String>,
    pub quote_suffix: Option<String>,
    pub quote_status: Option<String>,
    pub quote_start: Option<i32>,
    pub quote_end: Option<i32>,
    pub locator: Option<String>,
    pub stated_on: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl AttributionRow {
    pub(crate) fn new(
        id: String,
        body: NewAttribution,
        verification: Option<Verification>,
        at: NaiveDateTime,
        version: i32,
    ) -> AttributionRow {
        let (exact, prefix, suffix) = match body.quote {
            Some(q) => (Some(q.exact), q.prefix, q.suffix),
            None => (None, None, None),
        };
        AttributionRow {
            id,
            claim_id: body.claim_id.to_string(),
            source_id: body.source_id.to_string(),
            speaker_id: body.speaker_id.map(|u| u.to_string()),
            mode: body.mode.as_str().to_string(),
            stance: body.stance.as_str().to_string(),
            cited_source_id: body.cited_source_id.map(|u| u.to_string()),
            quote_exact: exact,
            quote_prefix: prefix,
            quote_suffix: suffix,
            quote_status: verification.map(|v| v.status.as_str().to_string()),
            quote_start: verification.and_then(|v| v.start),
            quote_end: verification.and_then(|v| v.end),
            locator: body.locator,
            stated_on: body.stated_on.map(|d| d.as_str().to_string()),
            created_at: at,
            updated_at: at,
            version,
        }
    }

    fn quote(&self) -> Option<Quote> {
        self.quote_exact.clone().map(|exact| Quote {
            exact,
            prefix: self.quote_prefix.clone(),
            suffix: self.quote_suffix.clone(),
        })
    }

    pub fn into_api(self) -> Result<Attribution, ApiError> {
        Ok(Attribution {
            id: db::uuid(&self.id)?,
            claim_id: db::uuid(&self.claim_id)?,
            source_id: db::uuid(&self.source_id)?,
            speaker_id: db::opt_uuid(self.speaker_id.as_deref())?,
            mode: Mode::from_db(&self.mode)?,
            stance: Stance::from_db(&self.stance)?,
            cited_source_id: db::opt_uuid(self.cited_source_id.as_deref())?,
            quote: self.quote(),
            quote_status: self.quote_status.as_deref().map(QuoteStatus::from_db).transpose()?,
            quote_start: self.quote_start,
            quote_end: self.quote_end,
            locator: self.locator,
            stated_on: PartialDate::from_db(self.stated_on),
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        })
    }

    fn writable(&self) -> Result<NewAttribution, ApiError> {
        Ok(NewAttribution {
            id: None,
            claim_id: db::uuid(&self.claim_id)?,
            source_id: db::uuid(&self.source_id)?,
            speaker_id: db::opt_uuid(self.speaker_id.as_deref())?,
            mode: Mode::from_db(&self.mode)?,
            stance: Stance::from_db(&self.stance)?,
            cited_source_id: db::opt_uuid(self.cited_source_id.as_deref())?,
            quote: self.quote(),
            locator: self.locator.clone(),
            stated_on: PartialDate::from_db(self.stated_on.clone()),
        })
    }
}

fn check_references(conn: &mut DbConnection, body: &NewAttribution) -> Result<(), ApiError> {
    let missing = refs::missing(
        conn,
        &[
            ("claim_id", Target::Claim, Some(body.claim_id.to_string())),
            ("source_id", Target::Source, Some(body.source_id.to_string())),
            ("speaker_id", Target::Agent, body.speaker_id.map(|u| u.to_string())),
            ("cited_source_id", Target::Source, body.cited_source_id.map(|u| u.to_string())),
        ],
    )?;
    if missing.is_empty() { Ok(()) } else { Err(ApiError::unprocessable(missing)) }
}

/// Checks the body's quote against its source's content.
fn verification(conn: &mut DbConnection, body: &NewAttribution) -> Result<Option<Verification>, ApiError> {
    let Some(quote) = &body.quote else { return Ok(None) };
    let content = source_content_locked(conn, &body.source_id.to_string())?;
    Ok(Some(verify_quote(quote, content.as_deref())))
}

/// The source's content, read so that it cannot change before this
/// transaction ends: otherwise a concurrent change of the content could
/// re-verify the other attributions without seeing this one, which would
/// keep a status computed against the old text. SQLite needs no lock
/// because its write transactions run one at a time; PostgreSQL takes a
/// share lock on the source row.
fn source_content_locked(conn: &mut DbConnection, source_id: &str) -> Result<Option<String>, ApiError> {
    let query = sources::table.find(source_id).select(sources::content);
    Ok(match conn {
        DbConnection::Sqlite(c) => query.first(c)?,
        DbConnection::Pg(c) => query.for_share().first(c)?,
    })
}

fn find(conn: &mut DbConnection, id: &str) -> Result<AttributionRow, ApiError> {
    attributions::table
        .find(id)
        .select(AttributionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("attribution"))
}

pub fn create(conn: &mut DbConnection, body: NewAttribution) -> Result<Attribution, ApiError> {
    let id = body.id.unwrap_or_else(db::new_id).to_string();
    if attributions::table.find(&id).count().get_result::<i64>(conn)? > 0 {
        return Err(ApiError::conflict(format!("An attribution with id {id} already exists.")));
    }
    check_references(conn, &body)?;
    let verification = verification(conn, &body)?;
    let row = AttributionRow::new(id, body, verification, db::now(), 1);
    diesel::insert_into(attributions::table).values(&row).execute(conn)?;
    claims::store::touch(conn, std::slice::from_ref(&row.claim_id))?;
    row.into_api()
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Attribution, ApiError> {
    find(conn, id)?.into_api()
}

pub fn list(conn: &mut DbConnection, query: AttributionQuery, limit: i64) -> Result<Page<Attribution>, ApiError> {
    let mut select = attributions::table.select(AttributionRow::as_select()).into_boxed();
    if let Some(id) = query.claim_id {
        select = select.filter(attributions::claim_id.eq(id.to_string()));
    }
    if let Some(id) = query.source_id {
        select = select.filter(attributions::source_id.eq(id.to_string()));
    }
    if let Some(id) = query.speaker_id {
        select = select.filter(attributions::speaker_id.eq(id.to_string()));
    }
    if let Some(id) = query.cited_source_id {
        select = select.filter(attributions::cited_source_id.eq(id.to_string()));
    }
    if let Some(cursor) = &query.cursor {
        let (at, id): (NaiveDateTime, String) = decode_cursor(cursor)?;
        select = select
            .filter(attributions::created_at.lt(at).or(attributions::created_at.eq(at).and(attributions::id.lt(id))));
    }
    let rows = select.order((attributions::created_at.desc(), attributions::id.desc())).limit(limit + 1).load(conn)?;
    let (rows, next_cursor) = paginate(rows, limit, |r: &AttributionRow| (r.created_at, r.id.clone()));
    let items = rows.into_iter().map(AttributionRow::into_api).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Every attribution of these claims, oldest first (one query).
pub fn of_claims(conn: &mut DbConnection, claim_ids: &[String]) -> Result<Vec<AttributionRow>, ApiError> {
    Ok(attributions::table
        .filter(attributions::claim_id.eq_any(claim_ids))
        .order((attributions::created_at.asc(), attributions::id.asc()))
        .select(AttributionRow::as_select())
        .load(conn)?)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    precondition: Precondition,
    patch: &MergePatch,
) -> Result<Attribution, ApiError> {
    let current = find(conn, id)?;
    let body = patch.apply(&current.writable()?, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    precondition.check(current.version)?;
    check_references(conn, &body)?;
    let verification = verification(conn, &body)?;
    let row = AttributionRow::new(id.to_string(), body, verification, db::now(), current.version + 1);
    let row = AttributionRow { created_at: current.created_at, ..row };
    let changed = diesel::update(
        attributions::table.filter(attributions::id.eq(id)).filter(attributions::version.eq(current.version)),
    )
    .set(&row)
    .execute(conn)?;
    if changed == 0 {
        // A concurrent writer got there first (PostgreSQL let us read the
        // row before it committed): name the version it left, or 404.
        return Err(ApiError::precondition_failed(find(conn, id)?.version));
    }
    claims::store::touch(conn, &[current.claim_id.clone(), row.claim_id.clone()])?;
    row.into_api()
}

pub fn delete(conn: &mut DbConnection, id: &str, precondition: Precondition) -> Result<(), ApiError> {
    let current = find(conn, id)?;
    precondition.check(current.version)?;
    let deleted = diesel::delete(
        attributions::table.filter(attributions::id.eq(id)).filter(attributions::version.eq(current.version)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(ApiError::precondition_failed(find(conn, id)?.version));
    }
    claims::store::touch(conn, &[current.claim_id])?;
    Ok(())
}

/// After a source's content changed: verifies every quote of its
/// attributions again, and bumps the version of those whose result changed.
pub fn reverify_quotes_of_source(
    conn: &mut DbConnection,
    source_id: &str,
    content: Option<&str>,
) -> Result<(), ApiError> {
    let rows: Vec<AttributionRow> = attributions::table
        .filter(attributions::source_id.eq(source_id))
        .filter(attributions::quote_exact.is_not_null())
        .select(AttributionRow::as_select())
        .load(conn)?;
    let now = db::now();
    let mut touched_claims = Vec::new();
    for row in rows {
        let Some(quote) = row.quote() else { continue };
        let v = verify_quote(&quote, content);
        let unchanged = row.quote_status.as_deref() == Some(v.status.as_str())
            && row.quote_start == v.start
            && row.quote_end == v.end;
        if unchanged {
            continue;
        }
        diesel::update(attributions::table.filter(attributions::id.eq(&row.id)))
            .set((
                attributions::quote_status.eq(v.status.as_str()),
                attributions::quote_start.eq(v.start),
                attributions::quote_end.eq(v.end),
                attributions::updated_at.eq(now),
                attributions::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        touched_claims.push(row.claim_id);
    }
    claims::store::touch(conn, &touched_claims)
}
