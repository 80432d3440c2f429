//! `GET /v1/claims`: filters, full-text search, sorts and keyset cursors.
//!
//! The list is one SQL query (two for the `period_start` sorts, which read
//! the claims with a period and then those without), written here for both
//! backends. Everything backend-specific about searching claims lives in
//! this module: the FTS5 tables on SQLite, the tsvector column on
//! PostgreSQL (see the `2026-11-21-000002_search` migrations, and
//! `2026-11-21-000003_search_facets` on SQLite).
//!
//! **Cursors** are keyset positions: the sort key of the last claim of a
//! page and its id, which breaks ties. A page reads "the next `limit` claims
//! after this position" straight off an index, so page 10,000 costs what
//! page 1 costs, and claims created meanwhile never shift the pages. Per
//! sort the position is `(created_at, id)`; `(period_start, id)` where a
//! claim without a period has `period_start` null and the claims without
//! one follow all others, ordered by id; and `(rank, id)` for relevance
//! (on SQLite `(rank, doc)`, the claim's row in the search index).
//! A cursor also carries a fingerprint of the filters and sort it was made
//! for and a checksum, so that a cursor used with other filters or edited
//! by hand is a 400 rather than a silently wrong page.
//!
//! **Relevance** paging is exact on PostgreSQL, where `ts_rank` depends on
//! the claim and the query only. On SQLite, BM25 weighs words by how rare
//! they are across all claims, so a write between two page requests moves
//! every rank a little: paging by relevance is then best-effort (a claim
//! near a page boundary may show twice or be skipped). Paging by any other
//! order is exact on both backends.
//!
//! **Plans on SQLite.** SQLite's planner cannot tell how many claims a
//! search matches, nor how many a publisher has, so this module asks, by
//! counting up to [`DRIVER_MAX_ROWS`]. With a search, the tag, source,
//! speaker and publisher filters are terms of the full-text query itself
//! (the index holds them as facets), so FTS5 intersects posting lists
//! instead of the tables being checked match by match. Few matches are read
//! from the index and sorted (cheap whatever the sort); many are found by
//! walking the sort's index and probing the full-text index claim by claim,
//! stopping as soon as the page is full. Relevance ranks every match, as
//! each one's rank is needed, but from the full-text index alone; claims
//! are read afterwards, best first, only as many as the page needs (see
//! `Request::fetch_by_rank`). Ranking costs what the matches cost: a
//! word in one claim in eight, unfiltered, takes about 170 ms at a million
//! claims; with a publisher and a period, about 13 ms. Without a search,
//! the smallest membership set under the bound supplies the candidates, or
//! the sort's index is walked with per-claim probes.

use chrono::NaiveDateTime;
use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{ClaimListItem, ClaimQuery, ClaimSort};
use super::store::{ClaimRow, with_tags};
use crate::db::{Backend, DbConnection, MultiBackend};
use crate::error::ApiError;
use crate::http::Page;
use crate::search::SearchQuery;
use crate::validate::PartialDate;

/// On SQLite, a membership condition (the search, a tag, a source, a
/// speaker, a publisher) with fewer claims than this supplies a page's
/// candidates; beyond it, reading the sort's index in order is cheaper
/// (see [`Request::plan`]).
pub const DRIVER_MAX_ROWS: i64 = 5000;

/// Lists claims: validates the query (a bad parameter is a 400 naming it),
/// then reads one page.
pub fn list(conn: &mut DbConnection, query: ClaimQuery, limit: i64) -> Result<Page<ClaimListItem>, ApiError> {
    let request = Request::new(query, limit)?;
    let backend = backend_of(conn);
    let plan = request.plan(conn, backend)?;
    let mut rows = request.fetch(conn, backend, plan)?;
    let more = rows.len() as i64 > request.limit;
    rows.truncate(request.limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if more => Some(request.cursor_after(last)),
        _ => None,
    };
    let snippets = match (&request.search, request.snippet) {
        (Some(search), true) if !rows.is_empty() => snippets(conn, backend, search, &rows)?,
        _ => Vec::new(),
    };
    let claims = with_tags(conn, rows.into_iter().map(|r| r.claim).collect())?;
    let items = claims
        .into_iter()
        .map(|claim| {
            let id = claim.id.to_string();
            let snippet = snippets.iter().find(|(claim_id, _)| *claim_id == id).map(|(_, s)| s.clone());
            ClaimListItem { claim, snippet }
        })
        .collect();
    Ok(Page { items, next_cursor })
}

/// The SQL that [`list`] runs for this query, prefixed with `EXPLAIN QUERY
/// PLAN` on SQLite (`EXPLAIN` on PostgreSQL): one plan line per row, for
/// tests and for operators who wonder why a query is slow.
pub fn explain(conn: &mut DbConnection, query: ClaimQuery) -> Result<Vec<String>, ApiError> {
    let request = Request::new(query, 50)?;
    let backend = backend_of(conn);
    let plan = request.plan(conn, backend)?;
    let mut lines = Vec::new();
    if backend == Backend::Sqlite && request.sort == ClaimSort::Relevance {
        for mut sql in [request.ranked_sql(), request.ranked_claims_sql(&[])] {
            sql.text.insert_str(0, "EXPLAIN QUERY PLAN ");
            lines.extend(sql.load::<SqlitePlanLine>(conn)?.into_iter().map(|l| l.detail));
        }
        return Ok(lines);
    }
    for phase in request.phases() {
        let mut sql = request.page_sql(backend, plan, phase, request.limit + 1);
        let prefix = match backend {
            Backend::Sqlite => "EXPLAIN QUERY PLAN ",
            Backend::Postgres => "EXPLAIN ",
        };
        sql.text.insert_str(0, prefix);
        lines.extend(match backend {
            Backend::Sqlite => sql.load::<SqlitePlanLine>(conn)?.into_iter().map(|l| l.detail).collect::<Vec<_>>(),
            Backend::Postgres => sql.load::<PgPlanLine>(conn)?.into_iter().map(|l| l.line).collect(),
        });
    }
    Ok(lines)
}

#[derive(QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

fn backend_of(conn: &DbConnection) -> Backend {
    match conn {
        DbConnection::Sqlite(_) => Backend::Sqlite,
        DbConnection::Pg(_) => Backend::Postgres,
    }
}

/// A validated list request.
struct Request {
    search: Option<SearchQuery>,
    filters: Vec<Filter>,
    sort: ClaimSort,
    after: Option<Position>,
    limit: i64,
    snippet: bool,
    fingerprint: String,
}

/// One filter, as SQL over the `claims` row.
enum Filter {
    Kind(String),
    Status(String),
    Tag(String),
    Source(String),
    Speaker(String),
    Publisher(String),
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
}

/// Where a page starts: the sort key of the previous page's last claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "s")]
enum Position {
    #[serde(rename = "c")]
    Created { at: NaiveDateTime, id: String },
    /// `start` is null for claims without a period, which come last.
    #[serde(rename = "p")]
    Period { start: Option<String>, id: String },
    /// The rank travels as its bit pattern: a decimal rendering might not
    /// read back as the very same float, and the page would repeat a claim.
    /// `doc` is the claim's row in the SQLite search index, which breaks
    /// ties there (see [`Request::fetch_by_rank`]); PostgreSQL uses `id`.
    #[serde(rename = "r")]
    Relevance {
        #[serde(with = "float_bits")]
        rank: f64,
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        doc: Option<i64>,
    },
}

mod float_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        u64::deserialize(deserializer).map(f64::from_bits)
    }
}

/// What a cursor holds.
#[derive(Serialize, Deserialize)]
struct CursorData {
    /// The fingerprint of the filters and sort the cursor was made for.
    f: String,
    #[serde(flatten)]
    position: Position,
}

/// Not a secret: the checksum catches edited or truncated cursors, and a
/// cursor only ever selects what the same query could select anyway.
const CURSOR_CHECK_KEY: &[u8] = b"claimtrail claim list cursor v1";

fn text_param(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.contains('\0') => Err(ApiError::bad_parameter(name, "must not contain NUL characters")),
        other => Ok(other),
    }
}

fn number_param(name: &str, value: Option<f64>) -> Result<Option<f64>, ApiError> {
    match value {
        Some(v) if !v.is_finite() => Err(ApiError::bad_parameter(name, "must be a finite number")),
        other => Ok(other),
    }
}

impl Request {
    fn new(query: ClaimQuery, limit: i64) -> Result<Request, ApiError> {
        let fingerprint = fingerprint(&query);
        let search = match query.q.as_deref() {
            Some(q) => SearchQuery::parse(q).map_err(|e| ApiError::bad_parameter("q", e.0))?,
            None => None,
        };
        let sort = query.sort.unwrap_or_default();
        if sort == ClaimSort::Relevance && search.is_none() {
            return Err(ApiError::bad_parameter("sort", "`relevance` needs a search: give `q` as well"));
        }
        let mut filters = Vec::new();
        if let Some(kind) = query.kind {
            filters.push(Filter::Kind(kind.as_str().to_string()));
        }
        if let Some(status) = query.status {
            filters.push(Filter::Status(status.as_str().to_string()));
        }
        if let Some(tag) = text_param("tag", query.tag)? {
            filters.push(Filter::Tag(tag));
        }
        if let Some(id) = query.source_id {
            filters.push(Filter::Source(id.to_string()));
        }
        if let Some(id) = query.speaker_id {
            filters.push(Filter::Speaker(id.to_string()));
        }
        if let Some(id) = query.publisher_id {
            filters.push(Filter::Publisher(id.to_string()));
        }
        if let Some(place) = text_param("place", query.place)? {
            filters.push(Filter::Place(place));
        }
        if let Some(unit) = text_param("unit", query.unit)? {
            filters.push(Filter::Unit(unit));
        }
        let value_min = number_param("value_min", query.value_min)?;
        let value_max = number_param("value_max", query.value_max)?;
        if let (Some(min), Some(max)) = (value_min, value_max)
            && min > max
        {
            return Err(ApiError::bad_parameter("value_max", "must not be below value_min"));
        }
        filters.extend(value_min.map(Filter::ValueMin));
        filters.extend(value_max.map(Filter::ValueMax));
        if let (Some(from), Some(to)) = (&query.period_from, &query.period_to)
            && from.earliest() > to.latest()
        {
            return Err(ApiError::bad_parameter("period_to", "must not be before period_from"));
        }
        if query.period_from.is_some() || query.period_to.is_some() {
            filters.push(Filter::HasPeriod);
        }
        filters.extend(query.period_to.as_ref().map(|to| Filter::StartsBy(to.latest())));
        filters.extend(query.period_from.as_ref().map(|from| Filter::EndsFrom(from.earliest())));
        let after = query.cursor.as_deref().map(|c| decode_cursor(c, &fingerprint, sort)).transpose()?;
        Ok(Request { search, filters, sort, after, limit, snippet: query.snippet.unwrap_or(false), fingerprint })
    }

    fn cursor_after(&self, last: &ListedRow) -> String {
        let id = last.claim.id.to_string();
        let position = match self.sort {
            ClaimSort::NewestFirst | ClaimSort::OldestFirst => Position::Created { at: last.claim.created_at, id },
            ClaimSort::PeriodStart | ClaimSort::PeriodStartDesc => {
                Position::Period { start: last.claim.period_start.as_ref().map(|d| d.as_str().to_string()), id }
            }
            ClaimSort::Relevance => Position::Relevance { rank: last.rank.unwrap_or(0.0), id, doc: last.doc },
        };
        encode_cursor(&CursorData { f: self.fingerprint.clone(), position })
    }

    /// Where the rows of a page come from, on SQLite.
    ///
    /// With a search, the membership filters are part of the full-text
    /// query (as facet terms), so the one question is how many claims it
    /// matches: counted up to [`DRIVER_MAX_ROWS`], few matches are read from
    /// the index and sorted; more are found by walking the sort's index and
    /// probing the full-text index claim by claim, until the page is full.
    /// Relevance is read by `fetch_by_rank` whatever the count.
    ///
    /// Without a search, each membership filter is counted the same way and
    /// the smallest one under the bound supplies the candidates; when every
    /// one is larger, the page is read off the sort's index with per-claim
    /// probes.
    ///
    /// PostgreSQL's planner makes these choices itself, from its statistics.
    fn plan(&self, conn: &mut DbConnection, backend: Backend) -> Result<Plan, ApiError> {
        if backend == Backend::Postgres {
            return Ok(Plan::Ordered);
        }
        if self.search.is_some() {
            if self.sort == ClaimSort::Relevance {
                return Ok(Plan::Search);
            }
            let mut sql = Sql::new(backend);
            sql.push("SELECT count(*) AS n FROM (SELECT 1 FROM claims_fts WHERE claims_fts MATCH ")
                .bind(Bind::Text(self.fts5_expression()))
                .push(" LIMIT ")
                .bind(Bind::BigInt(DRIVER_MAX_ROWS))
                .push(")");
            return Ok(if count(conn, &sql)? < DRIVER_MAX_ROWS { Plan::Search } else { Plan::Ordered });
        }
        let mut best: Option<(i64, Plan)> = None;
        for (i, _) in self.filters.iter().enumerate().filter(|(_, f)| f.is_membership()) {
            let n = self.count_members(conn, i, DRIVER_MAX_ROWS)?;
            if best.is_none_or(|(least, _)| n < least) {
                best = Some((n, Plan::Member(i)));
            }
        }
        Ok(match best {
            Some((n, plan)) if n < DRIVER_MAX_ROWS => plan,
            _ => Plan::Ordered,
        })
    }

    /// The FTS5 query of a search on SQLite: what the user typed, over the
    /// text, subject and quotes, and a facet term per membership filter.
    fn fts5_expression(&self) -> String {
        let mut expression = self.search.as_ref().map(words_expression).unwrap_or_default();
        for token in self.filters.iter().filter_map(Filter::facet) {
            expression.push_str(&format!(" AND facets : \"{token}\""));
        }
        expression
    }

    /// About how many claims a membership filter selects (its rows, which
    /// may name a claim twice), counting up to `cap`.
    fn count_members(&self, conn: &mut DbConnection, filter: usize, cap: i64) -> Result<i64, ApiError> {
        let mut sql = Sql::new(Backend::Sqlite);
        sql.push("SELECT count(*) AS n FROM (");
        self.filters[filter].write_members(&mut sql, false);
        sql.push(" LIMIT ").bind(Bind::BigInt(cap)).push(")");
        count(conn, &sql)
    }

    /// The queries a page may need, in order.
    fn phases(&self) -> Vec<Phase> {
        match (self.sort, &self.after) {
            (ClaimSort::PeriodStart | ClaimSort::PeriodStartDesc, Some(Position::Period { start: None, .. })) => {
                vec![Phase::WithoutPeriod]
            }
            (ClaimSort::PeriodStart | ClaimSort::PeriodStartDesc, _) => vec![Phase::WithPeriod, Phase::WithoutPeriod],
            _ => vec![Phase::All],
        }
    }

    /// Up to `limit + 1` rows from the position on.
    fn fetch(&self, conn: &mut DbConnection, backend: Backend, plan: Plan) -> Result<Vec<ListedRow>, ApiError> {
        if backend == Backend::Sqlite && self.sort == ClaimSort::Relevance {
            return self.fetch_by_rank(conn);
        }
        let want = self.limit + 1;
        let mut rows: Vec<ListedRow> = Vec::new();
        for phase in self.phases() {
            let missing = want - rows.len() as i64;
            if missing <= 0 {
                break;
            }
            let sql = self.page_sql(backend, plan, phase, missing);
            rows.extend(sql.load::<ListedRow>(conn).map_err(search_error)?);
        }
        Ok(rows)
    }

    /// Relevance on SQLite, in two steps. Every match's BM25 rank comes
    /// from the full-text index alone (the facet terms apply the tag,
    /// source, speaker and publisher filters there), sorted by rank and
    /// then by the match's row in the index. Only then are claims read, in
    /// that order, in batches that grow fourfold, each checked against the
    /// filters on the claim's own columns, until the page is full: a page
    /// reads about as many claims as it shows, not one per match.
    fn fetch_by_rank(&self, conn: &mut DbConnection) -> Result<Vec<ListedRow>, ApiError> {
        let ranked = self.ranked_sql().load::<Ranked>(conn).map_err(search_error)?;
        let want = (self.limit + 1) as usize;
        let mut rows: Vec<ListedRow> = Vec::with_capacity(want);
        let mut rest = &ranked[..];
        let mut batch = 2 * want;
        while rows.len() < want && !rest.is_empty() {
            let (head, tail) = rest.split_at(batch.min(rest.len()));
            let docs: Vec<i64> = head.iter().map(|r| r.doc).collect();
            let mut found: std::collections::HashMap<i64, ListedRow> = self
                .ranked_claims_sql(&docs)
                .load::<ListedRow>(conn)?
                .into_iter()
                .filter_map(|row| Some((row.doc?, row)))
                .collect();
            for match_ in head {
                if let Some(mut row) = found.remove(&match_.doc) {
                    row.rank = Some(match_.rank);
                    rows.push(row);
                }
            }
            rest = tail;
            batch *= 4;
        }
        rows.truncate(want);
        Ok(rows)
    }

    /// Every match of the search on SQLite after the cursor, best first.
    fn ranked_sql(&self) -> Sql {
        let mut sql = Sql::new(Backend::Sqlite);
        sql.push("SELECT claims_fts.rowid AS doc, claims_fts.rank AS rank FROM claims_fts WHERE claims_fts MATCH ")
            .bind(Bind::Text(self.fts5_expression()));
        if let Some(Position::Relevance { rank, doc, .. }) = &self.after {
            sql.push(" AND (claims_fts.rank, claims_fts.rowid) > (")
                .bind(Bind::Double(*rank))
                .push(", ")
                .bind(Bind::BigInt(doc.unwrap_or(i64::MIN)))
                .push(")");
        }
        sql.push(" ORDER BY claims_fts.rank, claims_fts.rowid");
        sql
    }

    /// The claims of these search-index rows that pass the filters on the
    /// claim's own columns (the others are part of the full-text query).
    fn ranked_claims_sql(&self, docs: &[i64]) -> Sql {
        let mut sql = Sql::new(Backend::Sqlite);
        sql.push("SELECT ")
            .push(CLAIM_COLUMNS)
            .push(
                ", CAST(NULL AS double precision) AS rank, claim_documents.doc AS doc \
                 FROM claim_documents CROSS JOIN claims ON claims.id = claim_documents.claim_id \
                 WHERE claim_documents.doc IN (SELECT value FROM json_each(",
            )
            .bind(Bind::Text(format!("[{}]", docs.iter().map(i64::to_string).collect::<Vec<_>>().join(","))))
            .push("))");
        for filter in self.filters.iter().filter(|f| !f.is_membership()) {
            sql.push(" AND ");
            filter.write(&mut sql);
        }
        sql
    }

    fn descending(&self) -> bool {
        matches!(self.sort, ClaimSort::NewestFirst | ClaimSort::PeriodStartDesc)
    }

    fn page_sql(&self, backend: Backend, plan: Plan, phase: Phase, limit: i64) -> Sql {
        let mut sql = Sql::new(backend);
        let relevance = self.sort == ClaimSort::Relevance;
        sql.push("SELECT ").push(CLAIM_COLUMNS);
        // Relevance on SQLite is read by `fetch_by_rank` instead.
        if relevance && backend == Backend::Postgres {
            sql.push(", CAST(").push(PG_RANK).push(" AS double precision) AS rank");
        } else {
            sql.push(", CAST(NULL AS double precision) AS rank");
        }
        sql.push(", CAST(NULL AS bigint) AS doc");
        sql.push(" FROM ");
        match (backend, &self.search, plan) {
            (Backend::Sqlite, Some(_), Plan::Search) => {
                // CROSS JOIN fixes the join order: matches first.
                sql.push(
                    "claims_fts CROSS JOIN claim_documents ON claim_documents.doc = claims_fts.rowid \
                     CROSS JOIN claims ON claims.id = claim_documents.claim_id WHERE claims_fts MATCH ",
                )
                .bind(Bind::Text(self.fts5_expression()));
            }
            (Backend::Sqlite, Some(_), _) => {
                sql.push(
                    "claims WHERE EXISTS (SELECT 1 FROM claim_documents JOIN claims_fts \
                     ON claims_fts.rowid = claim_documents.doc \
                     WHERE claim_documents.claim_id = claims.id AND claims_fts MATCH ",
                )
                .bind(Bind::Text(self.fts5_expression()))
                .push(")");
            }
            (Backend::Sqlite, None, Plan::Member(i)) => {
                sql.push("(");
                self.filters[i].write_members(&mut sql, true);
                sql.push(") AS candidates CROSS JOIN claims ON claims.id = candidates.claim_id WHERE TRUE");
            }
            (Backend::Postgres, Some(search), _) => {
                sql.push("claims, ");
                write_tsquery(&mut sql, search);
                sql.push(" AS search_query WHERE claims.search_document @@ search_query");
            }
            _ => {
                sql.push("claims WHERE TRUE");
            }
        }
        // Conditions on the claim's own columns first: they are the cheap
        // ones to check on a claim that is read anyway.
        for filter in self.filters.iter().filter(|f| !f.is_membership()) {
            sql.push(" AND ");
            filter.write(&mut sql);
        }
        for (i, filter) in self.filters.iter().enumerate().filter(|(_, f)| f.is_membership()) {
            match backend {
                Backend::Postgres => {
                    sql.push(" AND ");
                    filter.write(&mut sql);
                }
                // Part of the full-text query, or the candidates themselves.
                Backend::Sqlite if self.search.is_some() || plan == Plan::Member(i) => {}
                Backend::Sqlite => {
                    sql.push(" AND ");
                    filter.write_probe(&mut sql);
                }
            }
        }
        let (cmp, dir) = if self.descending() { ("<", "DESC") } else { (">", "ASC") };
        match phase {
            Phase::All if self.sort == ClaimSort::Relevance => {
                if let Some(Position::Relevance { rank: after, id, .. }) = &self.after {
                    sql.push(" AND (").push(PG_RANK).push(", claims.id) > (CAST(");
                    sql.bind(Bind::Double(*after)).push(" AS real), ").bind(Bind::Text(id.clone())).push(")");
                }
                sql.push(" ORDER BY rank ASC, claims.id ASC");
            }
            Phase::All => {
                if let Some(Position::Created { at, id }) = &self.after {
                    sql.push(" AND (claims.created_at, claims.id) ")
                        .push(cmp)
                        .push(" (")
                        .bind(Bind::Timestamp(*at))
                        .push(", ")
                        .bind(Bind::Text(id.clone()))
                        .push(")");
                }
                sql.push(" ORDER BY claims.created_at ").push(dir).push(", claims.id ").push(dir);
            }
            Phase::WithPeriod => {
                sql.push(" AND claims.period_start IS NOT NULL");
                if let Some(Position::Period { start: Some(start), id }) = &self.after {
                    sql.push(" AND (claims.period_start, claims.id) ")
                        .push(cmp)
                        .push(" (")
                        .bind(Bind::Text(start.clone()))
                        .push(", ")
                        .bind(Bind::Text(id.clone()))
                        .push(")");
                }
                sql.push(" ORDER BY claims.period_start ").push(dir).push(", claims.id ").push(dir);
            }
            Phase::WithoutPeriod => {
                sql.push(" AND claims.period_start IS NULL");
                if let Some(Position::Period { start: None, id }) = &self.after {
                    sql.push(" AND claims.id ").push(cmp).push(" ").bind(Bind::Text(id.clone()));
                }
                sql.push(" ORDER BY claims.id ").push(dir);
            }
        }
        sql.push(" LIMIT ").bind(Bind::BigInt(limit));
        sql
    }
}

/// Where the rows of a page come from (see [`Request::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Walk the sort's index (or a column filter's), checking every other
    /// condition per claim; stops when the page is full.
    Ordered,
    /// Read every match of the search from the full-text index, then sort.
    Search,
    /// Read the claims of this membership filter (an index into
    /// `Request::filters`), then sort.
    Member(usize),
}

fn count(conn: &mut DbConnection, sql: &Sql) -> Result<i64, ApiError> {
    Ok(sql.load::<Count>(conn).map_err(search_error)?.first().map_or(0, |c| c.n))
}

/// One query of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    All,
    /// `period_start` sorts: the claims with a period…
    WithPeriod,
    /// …then those without one.
    WithoutPeriod,
}

/// `ts_rank` with length normalisation, negated so that, as with BM25 on
/// SQLite, lower sorts first.
const PG_RANK: &str = "-ts_rank(claims.search_document, search_query, 1)";

const CLAIM_COLUMNS: &str = "claims.id, claims.text, claims.kind, claims.subject, claims.quantity_value, \
    claims.quantity_upper, claims.quantity_unit, claims.quantity_comparator, claims.period_start, \
    claims.period_end, claims.place, claims.status, claims.language, claims.created_at, claims.updated_at, \
    claims.version";

impl Filter {
    /// Whether the filter is "claims in this set" (of a tag, a source, a
    /// speaker, a publisher), which can supply a page's candidates.
    fn is_membership(&self) -> bool {
        matches!(self, Filter::Tag(_) | Filter::Source(_) | Filter::Speaker(_) | Filter::Publisher(_))
    }

    /// A membership filter's term in the `facets` field of the full-text
    /// index (see the SQLite search migration).
    fn facet(&self) -> Option<String> {
        let compact = |id: &String| id.replace('-', "");
        match self {
            Filter::Tag(tag) => Some(format!("t{}", hex::encode(tag.as_bytes()))),
            Filter::Source(id) => Some(format!("s{}", compact(id))),
            Filter::Speaker(id) => Some(format!("k{}", compact(id))),
            Filter::Publisher(id) => Some(format!("p{}", compact(id))),
            _ => None,
        }
    }

    /// A membership filter's set, as `SELECT [DISTINCT] claim_id …`.
    fn write_members(&self, sql: &mut Sql, distinct: bool) {
        let (from, value) = match self {
            Filter::Tag(v) => ("claim_tags.claim_id AS claim_id FROM claim_tags WHERE claim_tags.tag = ", v),
            Filter::Source(v) => {
                ("attributions.claim_id AS claim_id FROM attributions WHERE attributions.source_id = ", v)
            }
            Filter::Speaker(v) => {
                ("attributions.claim_id AS claim_id FROM attributions WHERE attributions.speaker_id = ", v)
            }
            Filter::Publisher(v) => (
                "attributions.claim_id AS claim_id FROM sources \
                 CROSS JOIN attributions ON attributions.source_id = sources.id WHERE sources.publisher_id = ",
                v,
            ),
            _ => return,
        };
        sql.push(if distinct { "SELECT DISTINCT " } else { "SELECT " }).push(from).bind(Bind::Text(value.clone()));
    }

    /// A membership filter checked for one claim (`claims.id`) by seeking
    /// the claim's own rows.
    fn write_probe(&self, sql: &mut Sql) {
        let (probe, value) = match self {
            Filter::Tag(v) => {
                ("EXISTS (SELECT 1 FROM claim_tags WHERE claim_tags.claim_id = claims.id AND claim_tags.tag = ", v)
            }
            Filter::Source(v) => (
                "EXISTS (SELECT 1 FROM attributions WHERE attributions.claim_id = claims.id \
                 AND attributions.source_id = ",
                v,
            ),
            Filter::Speaker(v) => (
                "EXISTS (SELECT 1 FROM attributions WHERE attributions.claim_id = claims.id \
                 AND attributions.speaker_id = ",
                v,
            ),
            Filter::Publisher(v) => (
                "EXISTS (SELECT 1 FROM attributions JOIN sources ON sources.id = attributions.source_id \
                 WHERE attributions.claim_id = claims.id AND sources.publisher_id = ",
                v,
            ),
            _ => return self.write(sql),
        };
        sql.push(probe).bind(Bind::Text(value.clone())).push(")");
    }

    fn write(&self, sql: &mut Sql) {
        let text = |s: &String| Bind::Text(s.clone());
        let collate_c = match sql.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " COLLATE \"C\"",
        };
        match self {
            Filter::Kind(v) => sql.push("claims.kind = ").bind(text(v)),
            Filter::Status(v) => sql.push("claims.status = ").bind(text(v)),
            Filter::Tag(v) => {
                sql.push("claims.id IN (SELECT claim_id FROM claim_tags WHERE tag = ").bind(text(v)).push(")")
            }
            Filter::Source(v) => {
                sql.push("claims.id IN (SELECT claim_id FROM attributions WHERE source_id = ").bind(text(v)).push(")")
            }
            Filter::Speaker(v) => {
                sql.push("claims.id IN (SELECT claim_id FROM attributions WHERE speaker_id = ").bind(text(v)).push(")")
            }
            Filter::Publisher(v) => sql
                .push(
                    "claims.id IN (SELECT attributions.claim_id FROM sources \
                     JOIN attributions ON attributions.source_id = sources.id WHERE sources.publisher_id = ",
                )
                .bind(text(v))
                .push(")"),
            Filter::Place(v) => sql.push("claims.place = ").bind(text(v)),
            Filter::Unit(v) => sql.push("claims.quantity_unit = ").bind(text(v)),
            Filter::ValueMin(v) => sql.push("claims.quantity_value >= ").bind(Bind::Double(*v)),
            Filter::ValueMax(v) => sql.push("claims.quantity_value <= ").bind(Bind::Double(*v)),
            Filter::HasPeriod => sql.push("(claims.period_start IS NOT NULL OR claims.period_end IS NOT NULL)"),
            // Partial dates compare as text: "2012" sorts before every day
            // of 2012, and "2020~" after every day of 2020. Byte order
            // (COLLATE "C" on PostgreSQL) keeps that true in any locale.
            Filter::StartsBy(day) => sql
                .push("(claims.period_start IS NULL OR claims.period_start")
                .push(collate_c)
                .push(" <= ")
                .bind(text(day))
                .push(")"),
            Filter::EndsFrom(day) => sql
                .push("(claims.period_end IS NULL OR (claims.period_end || '~')")
                .push(collate_c)
                .push(" >= ")
                .bind(text(day))
                .push(")"),
        };
    }
}

/// What the user typed, as an FTS5 query over the fields that hold words.
fn words_expression(search: &SearchQuery) -> String {
    format!("{{text subject quotes}} : ({})", search.to_fts5())
}

/// The `tsquery` of a search on PostgreSQL, assembled in SQL: each word
/// goes through `claim_search_words` (unaccent, punctuation to spaces), the
/// normalisation the documents went through, and `quote_literal`, so it
/// is one quoted lexeme (or a phrase, if normalising split it); phrases
/// join words with `<->`, a prefix ends in `:*`, items join with `&`.
fn write_tsquery(sql: &mut Sql, search: &SearchQuery) {
    sql.push("to_tsquery('simple', ");
    for (i, item) in search.items.iter().enumerate() {
        if i > 0 {
            sql.push(" || ' & ' || ");
        }
        sql.push("'(' || ");
        for (j, word) in item.words.iter().enumerate() {
            if j > 0 {
                sql.push(" || ' <-> ' || ");
            }
            sql.push("quote_literal(claim_search_words(").bind(Bind::Text(word.clone())).push("))");
            if item.prefix && j + 1 == item.words.len() {
                sql.push(" || ':*'");
            }
        }
        sql.push(" || ')'");
    }
    sql.push(")");
}

/// A search the engine refused is the user's query, not our failure: the
/// translation in [`crate::search`] should make this unreachable, and this
/// keeps it a 400 if it is not.
fn search_error(error: diesel::result::Error) -> ApiError {
    let message = error.to_string();
    let refused_query = message.starts_with("fts5:")
        || message.contains("syntax error in tsquery")
        || message.contains("unterminated quoted string")
        || message.contains("no operand in tsquery");
    if refused_query {
        tracing::warn!(error = %message, "the search engine refused a translated query");
        ApiError::bad_parameter("q", "could not be searched; use words, \"phrases\" and word* only")
    } else {
        error.into()
    }
}

/// A claim row as a list query returns it.
#[derive(QueryableByName)]
struct ListedRow {
    #[diesel(embed)]
    claim: ClaimRow,
    #[diesel(sql_type = Nullable<Double>)]
    rank: Option<f64>,
    /// The row in SQLite's search index, when ranking by relevance there.
    #[diesel(sql_type = Nullable<BigInt>)]
    doc: Option<i64>,
}

/// A match of a search on SQLite and its BM25 rank.
#[derive(QueryableByName)]
struct Ranked {
    #[diesel(sql_type = BigInt)]
    doc: i64,
    #[diesel(sql_type = Double)]
    rank: f64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct SnippetRow {
    #[diesel(sql_type = Text)]
    claim_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    snippet: Option<String>,
}

/// Marks the engines put around matches; private-use characters, so that
/// they cannot be confused with the text, which is escaped before the marks
/// become `<mark>` tags.
const MARK_START: char = '\u{E000}';
const MARK_END: char = '\u{E001}';

/// The best-matching passage of each listed claim, as `(claim id, HTML)`.
fn snippets(
    conn: &mut DbConnection,
    backend: Backend,
    search: &SearchQuery,
    rows: &[ListedRow],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut sql = Sql::new(backend);
    match backend {
        Backend::Sqlite => {
            // The rowid lookup lets FTS5 seek each listed document instead
            // of walking every match.
            sql.push(
                "SELECT claim_documents.claim_id AS claim_id, \
                 snippet(claims_fts, -1, char(57344), char(57345), '…', 24) AS snippet \
                 FROM claims_fts JOIN claim_documents ON claim_documents.doc = claims_fts.rowid \
                 WHERE claims_fts MATCH ",
            )
            .bind(Bind::Text(words_expression(search)))
            .push(" AND claims_fts.rowid IN (SELECT doc FROM claim_documents WHERE claim_id IN (");
        }
        Backend::Postgres => {
            sql.push(
                "SELECT claims.id AS claim_id, ts_headline('simple', \
                 concat_ws(' … ', claims.text, claims.subject, claim_quotes(claims.id)), ",
            );
            write_tsquery(&mut sql, search);
            sql.push(
                ", 'StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=24, MinWords=12, ShortWord=0, \
                 MaxFragments=1, FragmentDelimiter=\" … \"') AS snippet FROM claims WHERE claims.id IN (",
            );
        }
    }
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Bind::Text(row.claim.id.to_string()));
    }
    sql.push(match backend {
        Backend::Sqlite => "))",
        Backend::Postgres => ")",
    });
    let found = sql.load::<SnippetRow>(conn).map_err(search_error)?;
    Ok(found.into_iter().filter_map(|r| Some((r.claim_id, marked_html(&r.snippet?)))).collect())
}

/// Escapes a snippet for HTML and turns the engine's marks into `<mark>`.
fn marked_html(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 32);
    for c in snippet.chars() {
        match c {
            MARK_START => out.push_str("<mark>"),
            MARK_END => out.push_str("</mark>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A fingerprint of everything that selects and orders the list: a
/// cursor is only valid for the query it was made for.
fn fingerprint(query: &ClaimQuery) -> String {
    let canonical = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        query.q.as_deref().map(str::trim),
        query.kind,
        query.status,
        query.tag,
        query.source_id,
        query.publisher_id,
        query.speaker_id,
        query.place,
        query.period_from.as_ref().map(PartialDate::as_str),
        query.period_to.as_ref().map(PartialDate::as_str),
        query.unit,
        query.value_min,
        query.value_max,
        query.sort.unwrap_or_default().as_str(),
    );
    hex::encode(&Sha256::digest(canonical.as_bytes())[..8])
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    hasher.update(CURSOR_CHECK_KEY);
    hasher.update(payload);
    let digest = hasher.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn encode_cursor(data: &CursorData) -> String {
    use base64::Engine;
    let payload = serde_json::to_vec(data).unwrap_or_default();
    let mut bytes = checksum(&payload).to_vec();
    bytes.extend_from_slice(&payload);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_cursor(cursor: &str, fingerprint: &str, sort: ClaimSort) -> Result<Position, ApiError> {
    use base64::Engine;
    let invalid = || ApiError::bad_parameter("cursor", "is not a cursor this list handed out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    if bytes.len() < 8 || bytes[..8] != checksum(&bytes[8..]) {
        return Err(invalid());
    }
    let data: CursorData = serde_json::from_slice(&bytes[8..]).map_err(|_| invalid())?;
    if data.f != fingerprint {
        return Err(ApiError::bad_parameter(
            "cursor",
            "was made for other filters or another sort; start again without a cursor",
        ));
    }
    let fits = match (&data.position, sort) {
        (Position::Created { .. }, ClaimSort::NewestFirst | ClaimSort::OldestFirst) => true,
        (Position::Period { .. }, ClaimSort::PeriodStart | ClaimSort::PeriodStartDesc) => true,
        (Position::Relevance { rank, .. }, ClaimSort::Relevance) => rank.is_finite(),
        _ => false,
    };
    if fits { Ok(data.position) } else { Err(invalid()) }
}

/// A value bound to a query parameter.
enum Bind {
    Text(String),
    Double(f64),
    BigInt(i64),
    Timestamp(NaiveDateTime),
}

/// SQL text with its parameters, written for one backend: `?` placeholders
/// on SQLite, `$n` on PostgreSQL.
struct Sql {
    backend: Backend,
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn new(backend: Backend) -> Sql {
        Sql { backend, text: String::with_capacity(1024), binds: Vec::new() }
    }

    fn push(&mut self, sql: &str) -> &mut Sql {
        self.text.push_str(sql);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Sql {
        self.binds.push(value);
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                let n = self.binds.len();
                self.text.push_str(&format!("${n}"));
            }
        }
        self
    }

    fn load<R>(&self, conn: &mut DbConnection) -> diesel::QueryResult<Vec<R>>
    where
        R: QueryableByName<MultiBackend> + 'static,
    {
        let mut query = diesel::sql_query(self.text.clone()).into_boxed::<MultiBackend>();
        for bind in &self.binds {
            query = match bind {
                Bind::Text(v) => query.bind::<Text, _>(v.clone()),
                Bind::Double(v) => query.bind::<Double, _>(*v),
                Bind::BigInt(v) => query.bind::<BigInt, _>(*v),
                Bind::Timestamp(v) => query.bind::<Timestamp, _>(*v),
            };
        }
        query.load::<R>(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(position: Position) -> String {
        encode_cursor(&CursorData { f: "abc".to_string(), position })
    }

    #[test]
    fn cursors_round_trip_and_reject_any_edit() {
        let position = Position::Relevance { rank: -1.234_567_890_123_456_7, id: "x".to_string(), doc: Some(7) };
        let token = cursor(position.clone());
        assert_eq!(decode_cursor(&token, "abc", ClaimSort::Relevance).ok(), Some(position));
        for i in 0..token.len() {
            let mut edited: Vec<char> = token.chars().collect();
            edited[i] = if edited[i] == 'A' { 'B' } else { 'A' };
            let edited: String = edited.into_iter().collect();
            assert!(decode_cursor(&edited, "abc", ClaimSort::Relevance).is_err(), "edit at {i} accepted");
        }
        assert!(decode_cursor(&token, "other", ClaimSort::Relevance).is_err());
        assert!(decode_cursor(&token, "abc", ClaimSort::NewestFirst).is_err());
        assert!(decode_cursor("", "abc", ClaimSort::Relevance).is_err());
    }

    #[test]
    fn snippets_are_escaped_and_marked() {
        let raw = format!("a <b> & {MARK_START}fuel{MARK_END} \"x\"");
        assert_eq!(marked_html(&raw), "a &lt;b&gt; &amp; <mark>fuel</mark> &quot;x&quot;");
    }
}
