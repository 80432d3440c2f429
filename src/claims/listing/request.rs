//! The query parameters of the claim list, checked and turned into what
//! the SQL is built from.

use super::backing::Backing;
use super::position::Position;
use crate::claims::model::{ClaimKind, ClaimQuery, ClaimSort, ClaimStatus};
use crate::cursor;
use crate::db::write::{StoreError, StoreResult};
use crate::ids::{AgentId, SourceId};
use crate::search::SearchQuery;

/// A validated list request.
pub struct Request {
    pub search: Option<SearchQuery>,
    /// Conditions on the claim's own columns, cheap to check on a claim
    /// that is read anyway.
    pub columns: Vec<Column>,
    /// "Claims in this set" conditions, which can also supply a page's
    /// candidates (see [`super::plan`]).
    pub members: Vec<Member>,
    pub sort: ClaimSort,
    /// Where the page starts; `None` for the first page.
    pub after: Option<Position>,
    pub limit: i64,
    pub snippet: bool,
    /// The fingerprint of the filters and sort, which cursors carry.
    pub fingerprint: String,
    /// The claims an agent or a source is behind, in some roles: a list of
    /// its own, with no other filter (see [`super::backing`]).
    pub backing: Option<Backing>,
    /// Where the rows come from, when a test fixes it instead of SQLite's
    /// counts (see [`super::list_walking`]).
    pub plan: Option<super::plan::Plan>,
    /// The posting lists kept in memory, for a search by relevance that
    /// ranks every match (see `top::by_postings`); `None` reads
    /// them from the database each time.
    pub terms: Option<crate::db::postings::Terms>,
    /// How far the relevance search reads `claim_terms`, when a test fixes
    /// it (see [`super::list_kept_reading`]); `None`: as the server does.
    pub reading: Option<super::top::Reading>,
}

/// A condition on the claim's own columns.
pub enum Column {
    Kind(ClaimKind),
    Status(ClaimStatus),
    Place(String),
    Unit(String),
    ValueMin(f64),
    ValueMax(f64),
    /// The claim has a period at all; with either period bound.
    HasPeriod,
    /// The period starts no later than this day (`YYYY-MM-DD`).
    StartsBy(String),
    /// The period ends no earlier than this day.
    EndsFrom(String),
    /// The claim has no published review (`reviewed=false`).
    Unreviewed,
}

/// A set of claims, held by other tables.
pub enum Member {
    Tag(String),
    Source(SourceId),
    Speaker(AgentId),
    Publisher(AgentId),
    /// Has a published review (`reviewed=true`).
    Reviewed,
    /// Has a published review by this reviewer.
    Reviewer(AgentId),
    /// Has a published review with this rating key (see
    /// `reviews::store::rating_key`).
    RatingLabel(String),
}

/// One query of a page: most sorts read a page in one, the `period_start`
/// sorts in two (the claims with a period, then those without).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// By `(created_at, id)`.
    Created,
    /// By `(period_start, id)`, the claims with a period…
    WithPeriod,
    /// …then those without one, by `id`.
    WithoutPeriod,
    /// By `(stated_on, id)`, the claims with a date…
    WithStated,
    /// …then those without one, by `id`.
    WithoutStated,
    /// By `(rank, id)`; how a rank is computed, and where a page after a
    /// position starts, is each dialect's own.
    Ranked,
}

impl Request {
    pub fn new(mut query: ClaimQuery, limit: i64) -> StoreResult<Request> {
        let search = match query.q.as_deref() {
            Some(q) => SearchQuery::parse(q).map_err(|e| StoreError::bad_parameter("q", e.0))?,
            None => None,
        };
        let sort = query.sort.unwrap_or_default();
        if sort == ClaimSort::Relevance && search.is_none() {
            return Err(StoreError::bad_parameter("sort", "`relevance` needs a search: give `q` as well"));
        }
        let (columns, members) = filters(&query)?;
        let fingerprint = fingerprint(&mut query, sort);
        let after = match query.cursor.as_deref() {
            Some(cursor) => Some(Position::from_cursor(cursor, &fingerprint, sort)?),
            None => None,
        };
        Ok(Request {
            search,
            columns,
            members,
            sort,
            after,
            limit,
            snippet: query.snippet.unwrap_or(false),
            fingerprint,
            backing: None,
            plan: None,
            terms: None,
            reading: None,
        })
    }

    /// The list of the claims an agent or a source is behind: that one
    /// membership filter, in `sort` (not by relevance: there is no search),
    /// from `cursor` on; `fingerprint` names the list and its parameters.
    pub fn of_backing(
        backing: Backing,
        sort: Option<ClaimSort>,
        cursor: Option<&str>,
        fingerprint: String,
        limit: i64,
    ) -> StoreResult<Request> {
        let sort = sort.unwrap_or_default();
        if sort == ClaimSort::Relevance {
            return Err(StoreError::bad_parameter("sort", "`relevance` needs a search, which this list has not"));
        }
        let after = match cursor {
            Some(cursor) => Some(Position::from_cursor(cursor, &fingerprint, sort)?),
            None => None,
        };
        Ok(Request {
            search: None,
            columns: Vec::new(),
            members: Vec::new(),
            sort,
            after,
            limit,
            snippet: false,
            fingerprint,
            backing: Some(backing),
            plan: None,
            terms: None,
            reading: None,
        })
    }

    /// The queries a page may need, in order.
    pub fn phases(&self) -> Vec<Phase> {
        match (self.sort, &self.after) {
            (ClaimSort::Relevance, _) => vec![Phase::Ranked],
            (ClaimSort::NewestFirst | ClaimSort::OldestFirst, _) => vec![Phase::Created],
            (ClaimSort::StatedOn | ClaimSort::StatedOnDesc, Some(Position::Stated { on: None, .. })) => {
                vec![Phase::WithoutStated]
            }
            (ClaimSort::StatedOn | ClaimSort::StatedOnDesc, _) => vec![Phase::WithStated, Phase::WithoutStated],
            (_, Some(Position::Period { start: None, .. })) => vec![Phase::WithoutPeriod],
            _ => vec![Phase::WithPeriod, Phase::WithoutPeriod],
        }
    }

    /// Whether the request lists every claim (no search, no filter, in
    /// any sort, from any position): its statements come in a few dozen
    /// shapes (sort × phase × first or later page), few enough to keep
    /// prepared on each connection. Other requests' statements are built
    /// and dropped: kept, a client could grow every connection's cache
    /// with each combination of filters.
    pub fn is_plain(&self) -> bool {
        self.search.is_none() && self.columns.is_empty() && self.members.is_empty() && self.backing.is_none()
    }

    /// The backing filter of the request, if it lists an agent's or a
    /// source's claims.
    pub fn backing(&self) -> Option<&Backing> {
        self.backing.as_ref()
    }

    /// Reads up to `limit + 1` rows, phase after phase, asking each phase
    /// for as many rows as are still missing.
    pub fn read_phases<R>(&self, mut read: impl FnMut(Phase, i64) -> StoreResult<Vec<R>>) -> StoreResult<Vec<R>> {
        let want = self.limit + 1;
        let mut rows = Vec::new();
        for phase in self.phases() {
            let missing = want - rows.len() as i64;
            if missing <= 0 {
                break;
            }
            rows.extend(read(phase, missing)?);
        }
        Ok(rows)
    }

    pub fn descending(&self) -> bool {
        matches!(self.sort, ClaimSort::NewestFirst | ClaimSort::PeriodStartDesc | ClaimSort::StatedOnDesc)
    }
}

/// The filters of a query, in the order their SQL is written.
fn filters(query: &ClaimQuery) -> StoreResult<(Vec<Column>, Vec<Member>)> {
    let mut columns = Vec::new();
    let mut members = Vec::new();
    columns.extend(query.kind.map(Column::Kind));
    columns.extend(query.status.map(Column::Status));
    members.extend(text_param("tag", query.tag.clone())?.map(Member::Tag));
    members.extend(query.source_id.clone().map(Member::Source));
    members.extend(query.speaker_id.clone().map(Member::Speaker));
    members.extend(query.publisher_id.clone().map(Member::Publisher));
    review_filters(query, &mut columns, &mut members)?;
    columns.extend(text_param("place", query.place.clone())?.map(Column::Place));
    columns.extend(text_param("unit", query.unit.clone())?.map(Column::Unit));
    let value_min = number_param("value_min", query.value_min)?;
    let value_max = number_param("value_max", query.value_max)?;
    if let (Some(min), Some(max)) = (value_min, value_max)
        && min > max
    {
        return Err(StoreError::bad_parameter("value_max", "must not be below value_min"));
    }
    columns.extend(value_min.map(Column::ValueMin));
    columns.extend(value_max.map(Column::ValueMax));
    let (from, to) = (&query.period_from, &query.period_to);
    if let (Some(from), Some(to)) = (from, to)
        && from.earliest() > to.latest()
    {
        return Err(StoreError::bad_parameter("period_to", "must not be before period_from"));
    }
    if from.is_some() || to.is_some() {
        columns.push(Column::HasPeriod);
    }
    columns.extend(to.as_ref().map(|to| Column::StartsBy(to.latest())));
    columns.extend(from.as_ref().map(|from| Column::EndsFrom(from.earliest())));
    Ok((columns, members))
}

/// `reviewed`, `reviewer_id` and `rating_label`: published reviews only.
fn review_filters(query: &ClaimQuery, columns: &mut Vec<Column>, members: &mut Vec<Member>) -> StoreResult<()> {
    match query.reviewed {
        Some(true) => members.push(Member::Reviewed),
        Some(false) => columns.push(Column::Unreviewed),
        None => {}
    }
    members.extend(query.reviewer_id.clone().map(Member::Reviewer));
    if let Some(label) = text_param("rating_label", query.rating_label.clone())? {
        let key = crate::reviews::store::rating_key(&label);
        if key.is_empty() {
            return Err(StoreError::bad_parameter("rating_label", "must not be blank"));
        }
        members.push(Member::RatingLabel(key));
    }
    Ok(())
}

fn text_param(name: &str, value: Option<String>) -> StoreResult<Option<String>> {
    match value {
        Some(v) if v.contains('\0') => Err(StoreError::bad_parameter(name, "must not contain NUL characters")),
        other => Ok(other),
    }
}

fn number_param(name: &str, value: Option<f64>) -> StoreResult<Option<f64>> {
    match value {
        Some(v) if !v.is_finite() => Err(StoreError::bad_parameter(name, "must be a finite number")),
        other => Ok(other),
    }
}

/// The fingerprint of everything that selects and orders the list (see
/// [`cursor::fingerprint`]). A `q` padded with blanks searches what the
/// trimmed one does, and no `sort` is the default sort: the same list, so
/// their cursors are interchangeable.
fn fingerprint(query: &mut ClaimQuery, sort: ClaimSort) -> String {
    query.q = query.q.take().map(|q| q.trim().to_string());
    query.sort = Some(sort);
    cursor::fingerprint(query)
}
