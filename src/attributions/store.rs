//! The `attributions` table: its row, quote verification, and the one
//! write path that the API, the seed loader, import and the generator all
//! take.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Attribution, AttributionQuery, Mode, NewAttribution, Stance};
use crate::card;
use crate::claims::listing::sql::Sql;
use crate::cursor::{self, newest_first};
use crate::db::refs::{self, Target};
use crate::db::schema::{attributions, sources};
use crate::db::write::{self, ResourceType, Revision, RevisionAction, Stamp, StoreError, StoreResult, Tombstone, Tx};
use crate::db::{self, DbConnection};
use crate::http::{MergePatch, Page, Precondition};
use crate::ids::{AgentId, AttributionId, ClaimId, SourceId};
use crate::quotes::{Quote, QuoteStatus, Verification, verify_quote};
use crate::revisions::store as revision_store;
use crate::validate::PartialDate;

#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset, serde::Deserialize,
)]
#[diesel(table_name = attributions, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct AttributionRow {
    pub id: AttributionId,
    pub claim_id: ClaimId,
    pub source_id: SourceId,
    pub speaker_id: Option<AgentId>,
    pub mode: Mode,
    pub stance: Stance,
    pub cited_source_id: Option<SourceId>,
    pub quote_exact: Option<String>,
    pub quote_prefix: Option<String>,
    pub quote_suffix: Option<String>,
    pub quote_status: Option<QuoteStatus>,
    pub quote_start: Option<i32>,
    pub quote_end: Option<i32>,
    pub locator: Option<String>,
    #[serde(deserialize_with = "crate::validate::stored_partial_date")]
    pub stated_on: Option<PartialDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// An attribution body whose quote was checked against its source's
/// content ([`verify`]): the only way to make an attribution row.
#[derive(Debug, Clone)]
pub struct Verified {
    body: NewAttribution,
    verification: Option<Verification>,
}

impl Verified {
    pub fn body(&self) -> &NewAttribution {
        &self.body
    }

    /// The quote's status and place in the source; `None` without a quote.
    pub fn verification(&self) -> Option<Verification> {
        self.verification
    }
}

impl AttributionRow {
    /// Its columns, for queries written as text (the same as `as_select`'s;
    /// a test compares them).
    pub const COLUMNS: &str = "attributions.id, attributions.claim_id, attributions.source_id, \
        attributions.speaker_id, attributions.mode, attributions.stance, attributions.cited_source_id, \
        attributions.quote_exact, attributions.quote_prefix, attributions.quote_suffix, attributions.quote_status, \
        attributions.quote_start, attributions.quote_end, attributions.locator, attributions.stated_on, \
        attributions.created_at, attributions.updated_at, attributions.version";

    pub fn new(id: AttributionId, attribution: Verified, stamp: Stamp) -> AttributionRow {
        let Verified { body, verification } = attribution;
        let (exact, prefix, suffix) = match body.quote {
            Some(q) => (Some(q.exact), q.prefix, q.suffix),
            None => (None, None, None),
        };
        AttributionRow {
            id,
            claim_id: body.claim_id,
            source_id: body.source_id,
            speaker_id: body.speaker_id,
            mode: body.mode,
            stance: body.stance,
            cited_source_id: body.cited_source_id,
            quote_exact: exact,
            quote_prefix: prefix,
            quote_suffix: suffix,
            quote_status: verification.map(|v| v.status),
            quote_start: verification.and_then(|v| v.start),
            quote_end: verification.and_then(|v| v.end),
            locator: body.locator,
            stated_on: body.stated_on,
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
            version: stamp.version,
        }
    }

    pub fn stamp(&self) -> Stamp {
        Stamp { created_at: self.created_at, updated_at: self.updated_at, version: self.version }
    }

    fn quote(&self) -> Option<Quote> {
        self.quote_exact.clone().map(|exact| Quote {
            exact,
            prefix: self.quote_prefix.clone(),
            suffix: self.quote_suffix.clone(),
        })
    }

    pub fn into_api(self) -> Attribution {
        Attribution {
            quote: self.quote(),
            id: self.id,
            claim_id: self.claim_id,
            source_id: self.source_id,
            speaker_id: self.speaker_id,
            mode: self.mode,
            stance: self.stance,
            cited_source_id: self.cited_source_id,
            quote_status: self.quote_status,
            quote_start: self.quote_start,
            quote_end: self.quote_end,
            locator: self.locator,
            stated_on: self.stated_on,
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        }
    }

    /// The writable fields, as a create body (what a merge patch applies to).
    fn writable(&self) -> NewAttribution {
        NewAttribution {
            id: None,
            claim_id: self.claim_id.clone(),
            source_id: self.source_id.clone(),
            speaker_id: self.speaker_id.clone(),
            mode: self.mode,
            stance: self.stance,
            cited_source_id: self.cited_source_id.clone(),
            quote: self.quote(),
            locator: self.locator.clone(),
            stated_on: self.stated_on.clone(),
        }
    }
}

/// Checks every body's quote against its source's content: one query finds
/// the sources with content, then one source's text at a time is read, so
/// that a batch of long articles is never in memory at once.
///
/// On PostgreSQL each content is read with a share lock, so that it cannot
/// change before this transaction ends: otherwise a concurrent change of
/// the content could re-verify the other attributions without seeing this
/// one, which would keep a status computed against the old text. SQLite
/// needs none: its write transactions run one at a time.
pub fn verify(conn: &mut DbConnection, bodies: Vec<NewAttribution>) -> StoreResult<Vec<Verified>> {
    let quoted: Vec<SourceId> = bodies.iter().filter(|b| b.quote.is_some()).map(|b| b.source_id.clone()).collect();
    let mut with_content: HashSet<SourceId> = HashSet::new();
    for chunk in quoted.chunks(write::ROWS_PER_INSERT) {
        with_content.extend(
            sources::table
                .filter(sources::id.eq_any(chunk))
                .filter(sources::content.is_not_null())
                .select(sources::id)
                .load::<SourceId>(conn)?,
        );
    }
    let mut contents: HashMap<SourceId, Option<String>> = HashMap::new();
    let mut verified = Vec::with_capacity(bodies.len());
    for body in bodies {
        let verification = match &body.quote {
            None => None,
            Some(quote) if !with_content.contains(&body.source_id) => Some(verify_quote(quote, None)),
            Some(quote) => {
                if !contents.contains_key(&body.source_id) {
                    // The previous source's text is dropped before the next is read.
                    contents.clear();
                    let content = source_content_locked(conn, &body.source_id)?;
                    contents.insert(body.source_id.clone(), content);
                }
                Some(verify_quote(quote, contents.get(&body.source_id).and_then(Option::as_deref)))
            }
        };
        verified.push(Verified { body, verification });
    }
    Ok(verified)
}

fn source_content_locked(conn: &mut DbConnection, id: &SourceId) -> StoreResult<Option<String>> {
    let query = sources::table.find(id).select(sources::content);
    Ok(match conn {
        DbConnection::Sqlite(c) => query.first(c)?,
        DbConnection::Pg(c) => query.for_share().first(c)?,
    })
}

/// Writes rows as they are, many per statement, each with its revision.
/// Every attribution enters the table here; callers have checked the rows
/// against the API's rules. The cards of their claims are not touched: a
/// new claim's card is new (`create` bumps an existing one's).
pub fn insert(tx: &mut Tx, rows: &[AttributionRow]) -> StoreResult<()> {
    write::insert_rows!(tx.conn, attributions::table, rows, copy on postgres);
    for row in rows {
        tx.record(|| revision(row, RevisionAction::Create));
    }
    Ok(())
}

fn revision(row: &AttributionRow, action: RevisionAction) -> Revision {
    Revision::of(ResourceType::Attribution, row.id.as_str(), row.version, action, &row.clone().into_api())
}

/// Which of these ids the table holds.
pub fn existing(conn: &mut DbConnection, ids: &[AttributionId]) -> StoreResult<HashSet<AttributionId>> {
    write::existing(ids, |chunk| {
        attributions::table.filter(attributions::id.eq_any(chunk)).select(attributions::id).load(conn)
    })
}

pub fn find(conn: &mut DbConnection, id: &AttributionId) -> StoreResult<AttributionRow> {
    attributions::table
        .find(id)
        .select(AttributionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound("attribution"))
}

fn check_references(conn: &mut DbConnection, body: &NewAttribution) -> StoreResult<()> {
    refs::require(
        conn,
        &[
            ("claim_id", Target::Claim, Some(body.claim_id.as_str())),
            ("source_id", Target::Source, Some(body.source_id.as_str())),
            ("speaker_id", Target::Agent, body.speaker_id.as_ref().map(AgentId::as_str)),
            ("cited_source_id", Target::Source, body.cited_source_id.as_ref().map(SourceId::as_str)),
        ],
    )
}

fn verify_one(conn: &mut DbConnection, body: NewAttribution) -> StoreResult<Verified> {
    let mut verified = verify(conn, vec![body])?;
    verified.pop().ok_or_else(|| StoreError::Broken("verifying one quote gave no result".to_string()))
}

/// Creates an attribution from a create body, its id free and its
/// references there; the claim's card changes.
pub fn create(tx: &mut Tx, body: NewAttribution) -> StoreResult<Attribution> {
    let id = body.id.clone().unwrap_or_else(AttributionId::generate);
    if attributions::table.find(&id).count().get_result::<i64>(tx.conn)? > 0 {
        return Err(StoreError::Exists { what: "attribution", id: id.to_string() });
    }
    check_references(tx.conn, &body)?;
    let stamp = revision_store::stamp_for_new(tx.conn, ResourceType::Attribution, id.as_str(), tx.at())?;
    let row = AttributionRow::new(id, verify_one(tx.conn, body)?, stamp);
    insert(tx, std::slice::from_ref(&row))?;
    card::attributions_changed(tx, std::slice::from_ref(&row.claim_id), &format!("attribution {} created", row.id))?;
    Ok(row.into_api())
}

pub fn get(conn: &mut DbConnection, id: &AttributionId) -> StoreResult<Attribution> {
    Ok(find(conn, id)?.into_api())
}

pub fn list(conn: &mut DbConnection, query: &AttributionQuery, limit: i64) -> StoreResult<Page<Attribution>> {
    let mut select = attributions::table.select(AttributionRow::as_select()).into_boxed();
    if let Some(id) = &query.claim_id {
        select = select.filter(attributions::claim_id.eq(id));
    }
    if let Some(id) = &query.source_id {
        select = select.filter(attributions::source_id.eq(id));
    }
    if let Some(id) = &query.speaker_id {
        select = select.filter(attributions::speaker_id.eq(id));
    }
    if let Some(id) = &query.cited_source_id {
        select = select.filter(attributions::cited_source_id.eq(id));
    }
    let fingerprint = cursor::fingerprint(query);
    let (rows, next_cursor) =
        newest_first!(conn, select, attributions, AttributionRow, &fingerprint, query.cursor.as_deref(), limit);
    Ok(Page { items: rows.into_iter().map(AttributionRow::into_api).collect(), next_cursor })
}

/// Every attribution of these claims, oldest first (one query).
pub fn of_claims(conn: &mut DbConnection, claim_ids: &[ClaimId]) -> StoreResult<Vec<AttributionRow>> {
    // One statement text for any number of claims, kept prepared.
    let mut sql = Sql::new();
    sql.push("SELECT ")
        .push(AttributionRow::COLUMNS)
        .push(" FROM attributions WHERE attributions.claim_id")
        .in_list(claim_ids.iter().map(ClaimId::as_str))
        .push(" ORDER BY attributions.created_at, attributions.id");
    Ok(sql.cached().load_any(conn)?)
}

/// Applies a merge patch, checking the quote again; the cards of the claim
/// (and of the one it moved from) change.
pub fn update(
    tx: &mut Tx,
    id: &AttributionId,
    precondition: Precondition,
    patch: &MergePatch,
) -> StoreResult<Attribution> {
    let before = find(tx.conn, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    let body = patch.apply(&before.writable(), id.as_str())?;
    replace(tx, before, body, &precondition, RevisionAction::Update)
}

/// Makes `body` the attribution's fields, as its next version.
fn replace(
    tx: &mut Tx,
    before: AttributionRow,
    body: NewAttribution,
    precondition: &Precondition,
    action: RevisionAction,
) -> StoreResult<Attribution> {
    precondition.check(before.version)?;
    check_references(tx.conn, &body)?;
    let id = before.id.clone();
    let after = AttributionRow::new(id.clone(), verify_one(tx.conn, body)?, before.stamp().next(tx.at()));
    let changed = diesel::update(
        attributions::table.filter(attributions::id.eq(&id)).filter(attributions::version.eq(before.version)),
    )
    .set(&after)
    .execute(tx.conn)?;
    write::guarded(changed, || Ok(find(tx.conn, &id)?.version))?;
    tx.record(|| revision(&after, action));
    let cause = format!("attribution {id} changed");
    card::attributions_changed(tx, &[before.claim_id, after.claim_id.clone()], &cause)?;
    Ok(after.into_api())
}

/// Makes an earlier revision's fields current again, as the next version;
/// a deleted attribution (its `tombstone` given) is made again with its id.
pub fn restore(
    tx: &mut Tx,
    id: &AttributionId,
    body: NewAttribution,
    precondition: Precondition,
    tombstone: Option<Tombstone>,
) -> StoreResult<Attribution> {
    check_references(tx.conn, &body).map_err(write::dangling)?;
    let Some(tombstone) = tombstone else {
        let before = find(tx.conn, id)?;
        return replace(tx, before, body, &precondition, RevisionAction::Restore);
    };
    precondition.check(tombstone.version)?;
    let row = AttributionRow::new(id.clone(), verify_one(tx.conn, body)?, tombstone.revived(tx.at()));
    write::insert_rows!(tx.conn, attributions::table, std::slice::from_ref(&row));
    tx.record(|| revision(&row, RevisionAction::Restore));
    card::attributions_changed(tx, std::slice::from_ref(&row.claim_id), &format!("attribution {id} restored"))?;
    Ok(row.into_api())
}

pub fn delete(tx: &mut Tx, id: &AttributionId, precondition: Precondition) -> StoreResult<()> {
    let current = find(tx.conn, id)?;
    precondition.check(current.version)?;
    let deleted = diesel::delete(
        attributions::table.filter(attributions::id.eq(id)).filter(attributions::version.eq(current.version)),
    )
    .execute(tx.conn)?;
    write::guarded(deleted, || Ok(find(tx.conn, id)?.version))?;
    tx.record(|| Revision::tombstone(ResourceType::Attribution, id.as_str(), current.version));
    card::attributions_changed(tx, &[current.claim_id], &format!("attribution {id} deleted"))
}

/// After a source's content changed: verifies every quote of its
/// attributions again, and gives those whose result changed a new version
/// (and so their claims' cards).
pub fn reverify_quotes_of_source(tx: &mut Tx, source_id: &SourceId, content: Option<&str>) -> StoreResult<()> {
    let rows: Vec<AttributionRow> = attributions::table
        .filter(attributions::source_id.eq(source_id))
        .filter(attributions::quote_exact.is_not_null())
        .select(AttributionRow::as_select())
        .load(tx.conn)?;
    let mut changed_claims = Vec::new();
    for mut row in rows {
        let Some(quote) = row.quote() else { continue };
        let v = verify_quote(&quote, content);
        if row.quote_status == Some(v.status) && row.quote_start == v.start && row.quote_end == v.end {
            continue;
        }
        let stamp = row.stamp().next(tx.at());
        diesel::update(attributions::table.filter(attributions::id.eq(&row.id)))
            .set((
                attributions::quote_status.eq(v.status),
                attributions::quote_start.eq(v.start),
                attributions::quote_end.eq(v.end),
                attributions::updated_at.eq(stamp.updated_at),
                attributions::version.eq(stamp.version),
            ))
            .execute(tx.conn)?;
        (row.quote_status, row.quote_start, row.quote_end) = (Some(v.status), v.start, v.end);
        (row.updated_at, row.version) = (stamp.updated_at, stamp.version);
        let cause = format!("the content of source {source_id} changed");
        tx.record(|| revision(&row, RevisionAction::Update).because(cause));
        changed_claims.push(row.claim_id);
    }
    card::attributions_changed(tx, &changed_claims, &format!("quotes checked again: source {source_id} changed"))
}
