//! The `claims` and `claim_tags` tables: their rows, and the one write path
//! that the API, the seed loader, import and the generator all take.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::listing::sql::{CLAIM_COLUMNS, Sql};
use super::model::{Claim, ClaimKind, ClaimStatus, Comparator, NewClaim, Quantity};
use crate::db::refs::{self, Target};
use crate::db::schema::{claim_tags, claims};
use crate::db::write::{self, ResourceType, Revision, RevisionAction, Stamp, StoreError, StoreResult, Tombstone, Tx};
use crate::db::{self, DbConnection};
use crate::http::{MergePatch, Precondition};
use crate::ids::ClaimId;
use crate::revisions::store as revision_store;
use crate::validate::PartialDate;

#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset, serde::Deserialize,
)]
#[diesel(table_name = claims, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ClaimRow {
    pub id: ClaimId,
    pub text: String,
    pub kind: ClaimKind,
    pub subject: Option<String>,
    pub quantity_value: Option<f64>,
    pub quantity_upper: Option<f64>,
    pub quantity_unit: Option<String>,
    pub quantity_comparator: Option<Comparator>,
    #[serde(deserialize_with = "crate::validate::stored_partial_date")]
    pub period_start: Option<PartialDate>,
    #[serde(deserialize_with = "crate::validate::stored_partial_date")]
    pub period_end: Option<PartialDate>,
    pub place: Option<String>,
    pub status: ClaimStatus,
    pub language: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// One tag of one claim.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Insertable)]
#[diesel(table_name = claim_tags, treat_none_as_default_value = false)]
pub struct TagRow {
    pub claim_id: ClaimId,
    pub tag: String,
}

impl ClaimRow {
    /// The claim's row; its tags are [`tag_rows`].
    pub fn new(id: ClaimId, body: &NewClaim, stamp: Stamp) -> ClaimRow {
        let q = body.quantity.as_ref();
        ClaimRow {
            id,
            text: body.text.clone(),
            kind: body.kind,
            subject: body.subject.clone(),
            // `+ 0.0` turns -0.0 into 0.0: SQLite drops the sign and
            // PostgreSQL keeps it, and a value must read back the same from both.
            quantity_value: q.map(|q| q.value + 0.0),
            quantity_upper: q.and_then(|q| q.upper).map(|upper| upper + 0.0),
            quantity_unit: q.map(|q| q.unit.clone()),
            quantity_comparator: q.map(|q| q.comparator),
            period_start: body.period_start.clone(),
            period_end: body.period_end.clone(),
            place: body.place.clone(),
            status: body.status,
            language: body.language.clone(),
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
            version: stamp.version,
        }
    }

    pub fn stamp(&self) -> Stamp {
        Stamp { created_at: self.created_at, updated_at: self.updated_at, version: self.version }
    }

    fn quantity(&self) -> Option<Quantity> {
        let (Some(value), Some(unit), Some(comparator)) =
            (self.quantity_value, &self.quantity_unit, self.quantity_comparator)
        else {
            return None;
        };
        Some(Quantity { value, upper: self.quantity_upper, unit: unit.clone(), comparator })
    }

    /// The claim as the API shows it, its tags in bytes' order whichever
    /// way they were read (SQLite's `BINARY` order; PostgreSQL's database
    /// collation may differ), so that both backends answer and export alike.
    pub fn into_api(self, mut tags: Vec<String>) -> Claim {
        tags.sort_unstable();
        Claim {
            quantity: self.quantity(),
            id: self.id,
            text: self.text,
            kind: self.kind,
            subject: self.subject,
            period_start: self.period_start,
            period_end: self.period_end,
            place: self.place,
            tags,
            status: self.status,
            language: self.language,
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        }
    }

    /// The writable fields, as a create body (what a merge patch applies to).
    fn writable(&self, tags: Vec<String>) -> NewClaim {
        NewClaim {
            id: None,
            text: self.text.clone(),
            kind: self.kind,
            subject: self.subject.clone(),
            quantity: self.quantity(),
            period_start: self.period_start.clone(),
            period_end: self.period_end.clone(),
            place: self.place.clone(),
            tags,
            status: self.status,
            language: self.language.clone(),
        }
    }
}

/// The tag rows of a claim: without repeats, sorted, which is the order
/// [`tags_of`] reads them back in, so that a write answers what a later
/// read shows.
pub fn tag_rows(claim_id: &ClaimId, tags: &[String]) -> Vec<TagRow> {
    let distinct: BTreeSet<&String> = tags.iter().collect();
    distinct.into_iter().map(|tag| TagRow { claim_id: claim_id.clone(), tag: tag.clone() }).collect()
}

/// Writes claims and their tags as they are, many per statement, each
/// claim with its revision. Every claim and tag enters its table here;
/// callers have checked the rows against the API's rules.
pub fn insert(tx: &mut Tx, rows: &[ClaimRow], tags: &[TagRow]) -> StoreResult<()> {
    write::insert_rows!(tx.conn, claims::table, rows, copy on postgres);
    write::insert_rows!(tx.conn, claim_tags::table, tags);
    if tx.recording() {
        let mut by_claim: HashMap<&ClaimId, Vec<String>> = HashMap::new();
        for tag in tags {
            by_claim.entry(&tag.claim_id).or_default().push(tag.tag.clone());
        }
        for row in rows {
            let tags = by_claim.remove(&row.id).unwrap_or_default();
            tx.record(|| revision(&row.clone().into_api(tags), RevisionAction::Create));
        }
    }
    Ok(())
}

fn revision(claim: &Claim, action: RevisionAction) -> Revision {
    Revision::of(ResourceType::Claim, claim.id.as_str(), claim.version, action, claim)
}

fn replace_tags(tx: &mut Tx, id: &ClaimId, tags: &[String]) -> StoreResult<Vec<String>> {
    diesel::delete(claim_tags::table.filter(claim_tags::claim_id.eq(id))).execute(tx.conn)?;
    let rows = tag_rows(id, tags);
    write::insert_rows!(tx.conn, claim_tags::table, rows);
    Ok(rows.into_iter().map(|t| t.tag).collect())
}

/// Tags of these claims, by claim id (one query).
fn tags_of(conn: &mut DbConnection, claim_ids: &[ClaimId]) -> StoreResult<HashMap<ClaimId, Vec<String>>> {
    // One statement text for any number of claims, kept prepared.
    let mut sql = Sql::new();
    sql.push("SELECT claim_id, tag FROM claim_tags WHERE claim_id").in_list(claim_ids.iter().map(ClaimId::as_str));
    let rows: Vec<TagRow> = sql.cached().load_any(conn)?;
    let mut by_claim: HashMap<ClaimId, Vec<String>> = HashMap::new();
    for TagRow { claim_id, tag } in rows {
        by_claim.entry(claim_id).or_default().push(tag);
    }
    Ok(by_claim)
}

/// Turns rows into API claims with their tags, in one more query.
pub fn with_tags(conn: &mut DbConnection, rows: Vec<ClaimRow>) -> StoreResult<Vec<Claim>> {
    let ids: Vec<ClaimId> = rows.iter().map(|r| r.id.clone()).collect();
    let mut tags = tags_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let t = tags.remove(&row.id).unwrap_or_default();
            row.into_api(t)
        })
        .collect())
}

/// Which of these ids the table holds.
pub fn existing(conn: &mut DbConnection, ids: &[ClaimId]) -> StoreResult<HashSet<ClaimId>> {
    write::existing(ids, |chunk| claims::table.filter(claims::id.eq_any(chunk)).select(claims::id).load(conn))
}

pub fn find(conn: &mut DbConnection, id: &ClaimId) -> StoreResult<ClaimRow> {
    claims::table.find(id).select(ClaimRow::as_select()).first(conn).optional()?.ok_or(StoreError::NotFound("claim"))
}

/// A claim's row, its `stated_on` (kept by triggers, not a field of the
/// row) and its tags as a JSON array.
#[derive(QueryableByName)]
struct RowWithTags {
    #[diesel(embed)]
    claim: ClaimRow,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    stated_on: Option<PartialDate>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    tags: String,
}

/// A claim with its `stated_on`, in one statement kept prepared: the row
/// and its tags (aggregated into a JSON array by the database; ordered by
/// [`ClaimRow::into_api`]).
pub fn get_with_stated_on(conn: &mut DbConnection, id: &ClaimId) -> StoreResult<(Claim, Option<PartialDate>)> {
    let tags = match conn {
        // No `ORDER BY` in the aggregate: it costs SQLite a temporary
        // b-tree at every run.
        DbConnection::Sqlite(_) => {
            "(SELECT json_group_array(tag) FROM claim_tags WHERE claim_tags.claim_id = claims.id)"
        }
        DbConnection::Pg(_) => {
            "(SELECT coalesce(CAST(json_agg(tag) AS text), '[]') \
             FROM claim_tags WHERE claim_tags.claim_id = claims.id)"
        }
    };
    let mut sql = Sql::new();
    sql.push("SELECT ")
        .push(CLAIM_COLUMNS)
        .push(", ")
        .push(tags)
        .push(" AS tags FROM claims WHERE claims.id = ")
        .text(id.as_str());
    let row = sql.cached().load_any::<RowWithTags>(conn)?.pop().ok_or(StoreError::NotFound("claim"))?;
    let tags: Vec<String> = serde_json::from_str(&row.tags)
        .map_err(|e| StoreError::Broken(format!("the tags of claim {id} read back as {}: {e}", row.tags)))?;
    Ok((row.claim.into_api(tags), row.stated_on))
}

fn tags_of_one(conn: &mut DbConnection, id: &ClaimId) -> StoreResult<Vec<String>> {
    Ok(tags_of(conn, std::slice::from_ref(id))?.remove(id).unwrap_or_default())
}

/// Creates a claim from a create body, its id free.
pub fn create(tx: &mut Tx, body: NewClaim) -> StoreResult<Claim> {
    let id = body.id.clone().unwrap_or_else(ClaimId::generate);
    if refs::exists(tx.conn, Target::Claim, id.as_str())? {
        return Err(StoreError::Exists { what: "claim", id: id.to_string() });
    }
    let stamp = revision_store::stamp_for_new(tx.conn, ResourceType::Claim, id.as_str(), tx.at())?;
    let row = ClaimRow::new(id, &body, stamp);
    let tags = tag_rows(&row.id, &body.tags);
    insert(tx, std::slice::from_ref(&row), &tags)?;
    Ok(row.into_api(tags.into_iter().map(|t| t.tag).collect()))
}

pub fn get(conn: &mut DbConnection, id: &ClaimId) -> StoreResult<Claim> {
    let row = find(conn, id)?;
    let tags = tags_of_one(conn, id)?;
    Ok(row.into_api(tags))
}

/// Applies a merge patch (its card changes with it: same version).
pub fn update(tx: &mut Tx, id: &ClaimId, precondition: Precondition, patch: &MergePatch) -> StoreResult<Claim> {
    let before = find(tx.conn, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    let body = patch.apply(&before.writable(tags_of_one(tx.conn, id)?), id.as_str())?;
    replace(tx, before, body, &precondition, RevisionAction::Update)
}

/// Makes `body` the claim's fields, as its next version.
fn replace(
    tx: &mut Tx,
    before: ClaimRow,
    body: NewClaim,
    precondition: &Precondition,
    action: RevisionAction,
) -> StoreResult<Claim> {
    precondition.check(before.version)?;
    let id = before.id.clone();
    let after = ClaimRow::new(id.clone(), &body, before.stamp().next(tx.at()));
    let changed = diesel::update(claims::table.filter(claims::id.eq(&id)).filter(claims::version.eq(before.version)))
        .set(&after)
        .execute(tx.conn)?;
    write::guarded(changed, || Ok(find(tx.conn, &id)?.version))?;
    let tags = replace_tags(tx, &id, &body.tags)?;
    let claim = after.into_api(tags);
    tx.record(|| revision(&claim, action));
    Ok(claim)
}

/// Makes an earlier revision's fields current again, as the next version;
/// a deleted claim (its `tombstone` given) is made again with its id.
pub fn restore(
    tx: &mut Tx,
    id: &ClaimId,
    body: NewClaim,
    precondition: Precondition,
    tombstone: Option<Tombstone>,
) -> StoreResult<Claim> {
    let Some(tombstone) = tombstone else {
        let before = find(tx.conn, id)?;
        return replace(tx, before, body, &precondition, RevisionAction::Restore);
    };
    precondition.check(tombstone.version)?;
    let row = ClaimRow::new(id.clone(), &body, tombstone.revived(tx.at()));
    write::insert_rows!(tx.conn, claims::table, std::slice::from_ref(&row));
    let tags = replace_tags(tx, id, &body.tags)?;
    let claim = row.into_api(tags);
    tx.record(|| revision(&claim, RevisionAction::Restore));
    Ok(claim)
}

pub fn delete(tx: &mut Tx, id: &ClaimId, precondition: Precondition) -> StoreResult<()> {
    let current = find(tx.conn, id)?;
    precondition.check(current.version)?;
    refs::ensure_unreferenced(tx.conn, Target::Claim, id.as_str())?;
    diesel::delete(claim_tags::table.filter(claim_tags::claim_id.eq(id))).execute(tx.conn)?;
    let deleted = diesel::delete(claims::table.filter(claims::id.eq(id)).filter(claims::version.eq(current.version)))
        .execute(tx.conn)?;
    write::guarded(deleted, || Ok(find(tx.conn, id)?.version))?;
    tx.record(|| Revision::tombstone(ResourceType::Claim, id.as_str(), current.version));
    Ok(())
}

/// The next version of each of these claims whose card changed while the
/// claim did not (see `crate::card`), each a `card` revision saying why.
pub fn bump_versions(tx: &mut Tx, ids: &[ClaimId], cause: &str) -> StoreResult<()> {
    let ids: Vec<&ClaimId> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
    let at = tx.at();
    for chunk in ids.chunks(write::ROWS_PER_INSERT) {
        diesel::update(claims::table.filter(claims::id.eq_any(chunk)))
            .set((claims::version.eq(claims::version + 1), claims::updated_at.eq(at)))
            .execute(tx.conn)?;
        if tx.recording() {
            let rows: Vec<ClaimRow> =
                claims::table.filter(claims::id.eq_any(chunk)).select(ClaimRow::as_select()).load(tx.conn)?;
            for claim in with_tags(tx.conn, rows)? {
                tx.record(|| revision(&claim, RevisionAction::Card).because(cause));
            }
        }
    }
    Ok(())
}
