//! The `reviews` table: its row, and the one write path that the API,
//! ClaimReview import and the NDJSON import all take.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::model::{NewReview, Rating, Review, ReviewQuery, ReviewStatus};
use super::visibility::Audience;
use crate::agents::model::AgentKind;
use crate::card;
use crate::claims::listing::sql::Sql;
use crate::cursor::{self, newest_first};
use crate::db::refs::{self, Target};
use crate::db::schema::{agents, reviews};
use crate::db::write::{self, ResourceType, Revision, RevisionAction, Stamp, StoreError, StoreResult, Tombstone, Tx};
use crate::db::{self, DbConnection};
use crate::http::{MergePatch, Page, Precondition};
use crate::ids::{AgentId, ClaimId, ReviewId};
use crate::revisions::store as revision_store;
use crate::validate::PartialDate;

#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset, serde::Deserialize,
)]
#[diesel(table_name = reviews, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ReviewRow {
    pub id: ReviewId,
    pub claim_id: ClaimId,
    pub reviewer_id: AgentId,
    pub author_id: Option<AgentId>,
    pub rating_label: String,
    pub rating_key: String,
    pub rating_value: Option<f64>,
    pub rating_best: Option<f64>,
    pub rating_worst: Option<f64>,
    pub summary: Option<String>,
    pub url: Option<String>,
    pub language: Option<String>,
    #[serde(deserialize_with = "crate::validate::stored_partial_date")]
    pub published_on: Option<PartialDate>,
    pub status: ReviewStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// What the claim list's `rating_label` compares: the label without case
/// (Unicode lowercase, computed here so that both backends agree) or
/// surrounding blanks.
pub fn rating_key(label: &str) -> String {
    label.trim().to_lowercase()
}

/// `+ 0.0` turns -0.0 into 0.0: SQLite drops the sign and PostgreSQL keeps
/// it, and a value must read back the same from both.
fn number(n: Option<f64>) -> Option<f64> {
    n.map(|n| n + 0.0)
}

impl ReviewRow {
    /// Its columns, for queries written as text (the same as `as_select`'s;
    /// a test compares them).
    pub const COLUMNS: &str = "reviews.id, reviews.claim_id, reviews.reviewer_id, reviews.author_id, \
        reviews.rating_label, reviews.rating_key, reviews.rating_value, reviews.rating_best, reviews.rating_worst, \
        reviews.summary, reviews.url, reviews.language, reviews.published_on, reviews.status, reviews.created_at, \
        reviews.updated_at, reviews.version";

    pub fn new(id: ReviewId, body: NewReview, stamp: Stamp) -> ReviewRow {
        ReviewRow {
            id,
            claim_id: body.claim_id,
            reviewer_id: body.reviewer_id,
            author_id: body.author_id,
            rating_key: rating_key(&body.rating.label),
            rating_label: body.rating.label,
            rating_value: number(body.rating.value),
            rating_best: number(body.rating.best),
            rating_worst: number(body.rating.worst),
            summary: body.summary,
            url: body.url,
            language: body.language,
            published_on: body.published_on,
            status: body.status,
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
            version: stamp.version,
        }
    }

    pub fn stamp(&self) -> Stamp {
        Stamp { created_at: self.created_at, updated_at: self.updated_at, version: self.version }
    }

    fn rating(&self) -> Rating {
        Rating {
            label: self.rating_label.clone(),
            value: self.rating_value,
            best: self.rating_best,
            worst: self.rating_worst,
        }
    }

    pub fn into_api(self) -> Review {
        Review {
            rating: self.rating(),
            id: self.id,
            claim_id: self.claim_id,
            reviewer_id: self.reviewer_id,
            author_id: self.author_id,
            summary: self.summary,
            url: self.url,
            language: self.language,
            published_on: self.published_on,
            status: self.status,
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        }
    }

    /// The writable fields, as a create body (what a merge patch applies to).
    fn writable(&self) -> NewReview {
        NewReview {
            id: None,
            claim_id: self.claim_id.clone(),
            reviewer_id: self.reviewer_id.clone(),
            author_id: self.author_id.clone(),
            rating: self.rating(),
            summary: self.summary.clone(),
            url: self.url.clone(),
            language: self.language.clone(),
            published_on: self.published_on.clone(),
            status: self.status,
        }
    }
}

/// Writes rows as they are, many per statement, each with its revision.
/// Every review enters the table here; callers have checked the rows
/// against the API's rules (references, one active review per claim and
/// reviewer). The cards of their claims are not touched: `create` bumps
/// them, an import brings the claims' versions with it.
pub fn insert(tx: &mut Tx, rows: &[ReviewRow]) -> StoreResult<()> {
    let written: StoreResult<usize> = (|| Ok(write::insert_rows!(tx.conn, reviews::table, rows)))();
    written.map_err(unique_violation)?;
    for row in rows {
        tx.record(|| revision(row, RevisionAction::Create));
    }
    Ok(())
}

/// The partial unique index behind "one active review per claim and
/// reviewer" caught a race the store's own check could not see (two
/// writers on PostgreSQL): the same 409 the check gives.
fn unique_violation(error: StoreError) -> StoreError {
    match error {
        StoreError::Db(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.constraint_name() == Some("reviews_one_active_per_reviewer")
                || info.message().contains("reviews.claim_id, reviews.reviewer_id") =>
        {
            StoreError::Conflict("The reviewer already has a review of this claim that is not withdrawn.".to_string())
        }
        other => other,
    }
}

fn revision(row: &ReviewRow, action: RevisionAction) -> Revision {
    Revision::of(ResourceType::Review, row.id.as_str(), row.version, action, &row.clone().into_api())
}

/// Which of these ids the table holds.
pub fn existing(conn: &mut DbConnection, ids: &[ReviewId]) -> StoreResult<HashSet<ReviewId>> {
    write::existing(ids, |chunk| reviews::table.filter(reviews::id.eq_any(chunk)).select(reviews::id).load(conn))
}

pub fn find(conn: &mut DbConnection, id: &ReviewId) -> StoreResult<ReviewRow> {
    reviews::table.find(id).select(ReviewRow::as_select()).first(conn).optional()?.ok_or(StoreError::NotFound("review"))
}

/// References exist (422 naming the field), and the author is a person.
fn check_references(conn: &mut DbConnection, body: &NewReview) -> StoreResult<()> {
    refs::require(
        conn,
        &[
            ("claim_id", Target::Claim, Some(body.claim_id.as_str())),
            ("reviewer_id", Target::Agent, Some(body.reviewer_id.as_str())),
            ("author_id", Target::Agent, body.author_id.as_ref().map(AgentId::as_str)),
        ],
    )?;
    if let Some(author) = &body.author_id {
        let kind: AgentKind = agents::table.find(author).select(agents::kind).first(conn)?;
        if kind != AgentKind::Person {
            return Err(StoreError::invalid("author_id", format!("agent {author} is an organization, not a person")));
        }
    }
    Ok(())
}

/// The active review (not withdrawn) of this claim by this reviewer, other
/// than `except`.
pub fn active_review(
    conn: &mut DbConnection,
    claim_id: &ClaimId,
    reviewer_id: &AgentId,
    except: Option<&ReviewId>,
) -> StoreResult<Option<ReviewRow>> {
    let mut select = reviews::table
        .filter(reviews::claim_id.eq(claim_id))
        .filter(reviews::reviewer_id.eq(reviewer_id))
        .filter(reviews::status.ne(ReviewStatus::Withdrawn))
        .select(ReviewRow::as_select())
        .into_boxed();
    if let Some(except) = except {
        select = select.filter(reviews::id.ne(except));
    }
    Ok(select.first(conn).optional()?)
}

/// At most one review per claim and reviewer is not withdrawn: a second
/// one is a conflict naming the first.
fn ensure_one_active(conn: &mut DbConnection, body: &NewReview, id: &ReviewId) -> StoreResult<()> {
    if body.status == ReviewStatus::Withdrawn {
        return Ok(());
    }
    match active_review(conn, &body.claim_id, &body.reviewer_id, Some(id))? {
        None => Ok(()),
        Some(other) => Err(StoreError::Conflict(format!(
            "Reviewer {} already has a review of claim {} that is not withdrawn (review {}, {}); \
             change that one, or withdraw it first.",
            body.reviewer_id,
            body.claim_id,
            other.id,
            other.status.as_str()
        ))),
    }
}

/// Creates a review from a create body, its id free and its references
/// there; the claim's card changes.
pub fn create(tx: &mut Tx, body: NewReview) -> StoreResult<Review> {
    let id = body.id.clone().unwrap_or_else(ReviewId::generate);
    if reviews::table.find(&id).count().get_result::<i64>(tx.conn)? > 0 {
        return Err(StoreError::Exists { what: "review", id: id.to_string() });
    }
    check_references(tx.conn, &body)?;
    ensure_one_active(tx.conn, &body, &id)?;
    let stamp = revision_store::stamp_for_new(tx.conn, ResourceType::Review, id.as_str(), tx.at())?;
    let row = ReviewRow::new(id, body, stamp);
    insert(tx, std::slice::from_ref(&row))?;
    card::reviews::changed(tx, std::slice::from_ref(&row.claim_id), &format!("review {} created", row.id))?;
    Ok(row.into_api())
}

/// A review, if this audience may see it: a draft is not found without a
/// `write` key.
pub fn get(conn: &mut DbConnection, id: &ReviewId, audience: Audience) -> StoreResult<Review> {
    let row = find(conn, id)?;
    if !audience.sees(row.status) {
        return Err(StoreError::NotFound("review"));
    }
    Ok(row.into_api())
}

pub fn list(conn: &mut DbConnection, query: &ReviewQuery, limit: i64, audience: Audience) -> StoreResult<Page<Review>> {
    let mut select = reviews::table.select(ReviewRow::as_select()).into_boxed();
    if let Some(id) = &query.claim_id {
        select = select.filter(reviews::claim_id.eq(id));
    }
    if let Some(id) = &query.reviewer_id {
        select = select.filter(reviews::reviewer_id.eq(id));
    }
    if let Some(id) = &query.author_id {
        select = select.filter(reviews::author_id.eq(id));
    }
    if let Some(status) = query.status {
        select = select.filter(reviews::status.eq(status));
    }
    if audience == Audience::Public {
        select = select.filter(reviews::status.ne(ReviewStatus::Draft));
    }
    // Drafts are part of what the list selects: a cursor made for one
    // audience is not good for the other.
    let fingerprint = cursor::fingerprint(&(query, audience == Audience::Desk));
    let (rows, next_cursor) =
        newest_first!(conn, select, reviews, ReviewRow, &fingerprint, query.cursor.as_deref(), limit);
    Ok(Page { items: rows.into_iter().map(ReviewRow::into_api).collect(), next_cursor })
}

/// The statuses of the reviews a card shows: the published ones, and the
/// drafts too with `drafts`.
pub fn shown(drafts: bool) -> &'static [ReviewStatus] {
    if drafts { &[ReviewStatus::Published, ReviewStatus::Draft] } else { &[ReviewStatus::Published] }
}

/// The reviews of these claims that this audience sees, published and (for
/// the desk, when asked) drafts, oldest first (one query).
pub fn of_claims(conn: &mut DbConnection, claim_ids: &[ClaimId], drafts: bool) -> StoreResult<Vec<ReviewRow>> {
    let shown = shown(drafts);
    // One statement text for any number of claims, kept prepared.
    let mut sql = Sql::new();
    sql.push("SELECT ")
        .push(ReviewRow::COLUMNS)
        .push(" FROM reviews WHERE reviews.claim_id")
        .in_list(claim_ids.iter().map(ClaimId::as_str))
        .push(" AND reviews.status")
        .in_list(shown.iter().map(|s| s.as_str()))
        .push(" ORDER BY reviews.created_at, reviews.id");
    Ok(sql.cached().load_any(conn)?)
}

/// Applies a merge patch; the cards of the claim (and of the one it moved
/// from) change.
pub fn update(tx: &mut Tx, id: &ReviewId, precondition: Precondition, patch: &MergePatch) -> StoreResult<Review> {
    let before = find(tx.conn, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    let body = patch.apply(&before.writable(), id.as_str())?;
    replace(tx, before, body, &precondition, RevisionAction::Update)
}

/// Makes `body` the review's fields, as its next version.
fn replace(
    tx: &mut Tx,
    before: ReviewRow,
    body: NewReview,
    precondition: &Precondition,
    action: RevisionAction,
) -> StoreResult<Review> {
    precondition.check(before.version)?;
    check_references(tx.conn, &body)?;
    let id = before.id.clone();
    ensure_one_active(tx.conn, &body, &id)?;
    let after = ReviewRow::new(id.clone(), body, before.stamp().next(tx.at()));
    let changed =
        diesel::update(reviews::table.filter(reviews::id.eq(&id)).filter(reviews::version.eq(before.version)))
            .set(&after)
            .execute(tx.conn)
            .map_err(|e| unique_violation(e.into()))?;
    write::guarded(changed, || Ok(find(tx.conn, &id)?.version))?;
    tx.record(|| revision(&after, action));
    card::reviews::changed(tx, &[before.claim_id, after.claim_id.clone()], &format!("review {id} changed"))?;
    Ok(after.into_api())
}

/// Makes an earlier revision's fields current again, as the next version;
/// a deleted review (its `tombstone` given) is made again with its id.
pub fn restore(
    tx: &mut Tx,
    id: &ReviewId,
    body: NewReview,
    precondition: Precondition,
    tombstone: Option<Tombstone>,
) -> StoreResult<Review> {
    check_references(tx.conn, &body).map_err(write::dangling)?;
    let Some(tombstone) = tombstone else {
        let before = find(tx.conn, id)?;
        return replace(tx, before, body, &precondition, RevisionAction::Restore);
    };
    precondition.check(tombstone.version)?;
    ensure_one_active(tx.conn, &body, id)?;
    let row = ReviewRow::new(id.clone(), body, tombstone.revived(tx.at()));
    let written: StoreResult<usize> =
        (|| Ok(write::insert_rows!(tx.conn, reviews::table, std::slice::from_ref(&row))))();
    written.map_err(unique_violation)?;
    tx.record(|| revision(&row, RevisionAction::Restore));
    card::reviews::changed(tx, std::slice::from_ref(&row.claim_id), &format!("review {id} restored"))?;
    Ok(row.into_api())
}

pub fn delete(tx: &mut Tx, id: &ReviewId, precondition: Precondition) -> StoreResult<()> {
    let current = find(tx.conn, id)?;
    precondition.check(current.version)?;
    let deleted =
        diesel::delete(reviews::table.filter(reviews::id.eq(id)).filter(reviews::version.eq(current.version)))
            .execute(tx.conn)?;
    write::guarded(deleted, || Ok(find(tx.conn, id)?.version))?;
    tx.record(|| Revision::tombstone(ResourceType::Review, id.as_str(), current.version));
    card::reviews::changed(tx, &[current.claim_id], &format!("review {id} deleted"))
}
