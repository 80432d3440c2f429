//! `GET /v1/claims`: filters, full-text search, sorts and keyset cursors.
//!
//! A request goes through these parts, in this order:
//!
//! - [`request`] checks the query parameters (a bad one is a 400 naming
//!   it) and turns them into a [`request::Request`]: the search, the
//!   filters on the claim's own columns, the membership filters (a tag, a
//!   source, a speaker, a publisher), the sort and the position to start
//!   from;
//! - [`position`] is that position: the sort key of the previous page's
//!   last claim, carried in a [`crate::cursor`];
//! - a [`Dialect`] reads the page. Each database has one, in its own file:
//!   [`sqlite`] (FTS5, BM25, and the [`plan`] it picks because SQLite's
//!   planner cannot count matches) and [`postgres`] (`tsquery`,
//!   `ts_rank`). Both build their SQL from the backend-neutral pieces of
//!   [`sql`], and only they know which database they speak to;
//! - back here, the page is cut at `limit`, the next cursor made, and the
//!   claims get their tags and, when asked for, their [`snippet`]s.
//!
//! The search indexes are in the `2026-11-21-000002_search` migrations (the
//! FTS5 tables on SQLite, the tsvector column on PostgreSQL), and
//! `2026-11-21-000003_search_facets` on SQLite.
//!
//! **Relevance** paging is exact on PostgreSQL, where `ts_rank` depends on
//! the claim and the query only. On SQLite, BM25 weighs words by how rare
//! they are across all claims, so a write between two page requests moves
//! every rank a little: paging by relevance is then best-effort (a claim
//! near a page boundary may show twice or be skipped). Paging by any other
//! order is exact on both backends.

pub mod backing;
mod items;
mod plan;
mod position;
mod postgres;
mod request;
mod snippet;
pub(crate) mod sql;
mod sqlite;
mod stored;
mod top;

pub use sqlite::RANK_WEIGHTS;

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use super::model::{BackedClaim, ClaimListItem, ClaimQuery, ClaimSort};
use super::store::{ClaimRow, with_tags};
use crate::cursor;
use crate::db::DbConnection;
use crate::db::write::StoreResult;
use crate::http::Page;
use crate::ids::ClaimId;
use crate::search::SearchQuery;
use crate::validate::PartialDate;
use backing::Backing;
use request::Request;

pub use plan::DRIVER_MAX_ROWS;

/// Lists claims: validates the query (a bad parameter is a 400 naming it),
/// then reads one page.
pub fn list(conn: &mut DbConnection, query: ClaimQuery, limit: i64) -> StoreResult<Page<ClaimListItem>> {
    let request = Request::new(query, limit)?;
    read_page(conn, &request)
}

/// [`list`], with the posting lists of common search terms kept in memory
/// while nothing is committed (the server's; see `top::by_postings`).
pub fn list_kept(
    conn: &mut DbConnection,
    query: ClaimQuery,
    limit: i64,
    terms: crate::db::postings::Terms,
) -> StoreResult<Page<ClaimListItem>> {
    let mut request = Request::new(query, limit)?;
    request.terms = Some(terms);
    read_page(conn, &request)
}

/// [`list_kept`], with the threshold algorithm wanting the posting lists
/// once it has read more than `far_rows` rows of `claim_terms` for two
/// words, and giving up past `max_rows`; for the tests of those paths.
#[doc(hidden)]
pub fn list_kept_reading(
    conn: &mut DbConnection,
    query: ClaimQuery,
    limit: i64,
    terms: crate::db::postings::Terms,
    far_rows: usize,
    max_rows: usize,
) -> StoreResult<Page<ClaimListItem>> {
    let mut request = Request::new(query, limit)?;
    request.terms = Some(terms);
    request.reading = Some(top::Reading { far_rows, max_rows, ..top::Reading::SERVER });
    read_page(conn, &request)
}

/// [`list`], with the page read by walking the sort's index and checking
/// each claim, whatever SQLite's counts would choose (PostgreSQL plans for
/// itself: the same as [`list`]). For tests that hold one plan to the
/// other's results; a search with few matches is otherwise never walked.
#[doc(hidden)]
pub fn list_walking(conn: &mut DbConnection, query: ClaimQuery, limit: i64) -> StoreResult<Page<ClaimListItem>> {
    let mut request = Request::new(query, limit)?;
    request.plan = Some(plan::Plan::Ordered);
    read_page(conn, &request)
}

/// A page's matches by relevance, `(row in the search index, rank)` each.
pub type RankedRows = Vec<(i64, f64)>;

/// How [`ranked_by`] ranks a page by relevance, on SQLite.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum RankedBy {
    /// From `claim_terms`, reading `first_batch` rows of each group first
    /// (small, to make the bound do the work) and giving up past
    /// `max_rows`; `None` when that path does not answer the search.
    Terms { first_batch: i64, max_rows: usize },
    /// From `claim_terms` as the server does: two words only when that is
    /// cheaper (see `top::Words`); `None` otherwise.
    TermsWhenCheaper,
    /// Ranking every match in memory, from the posting lists of the search's
    /// terms read from `claim_terms` (as the server ranks two words of
    /// like weight, lists it keeps aside); `None` when that path does not
    /// answer the search.
    Postings,
    /// Ranking every match, with the IDFs `claim_term_docs` knows given to
    /// `claimtrail_bm25`.
    KnownIdfs,
    /// Ranking every match, every IDF counted (or kept) by `claimtrail_bm25`.
    Counted,
}

/// SQLite's plan of the relevance search's lookup of what documents hold
/// of a search's terms (`top::lookup_plan`); for a test.
#[doc(hidden)]
pub fn terms_lookup_plan(conn: &mut DbConnection, docs: &[i64], terms: &[&str]) -> StoreResult<Vec<String>> {
    match conn {
        DbConnection::Sqlite(c) => top::lookup_plan(c, docs, terms),
        DbConnection::Pg(_) => Err(crate::db::write::StoreError::bad_parameter("q", "claim_terms is SQLite's")),
    }
}

/// A relevance page's matches as `(row in the search index, rank)`, ranked
/// one of the ways SQLite can; for the tests that hold them to each other.
#[doc(hidden)]
pub fn ranked_by(
    conn: &mut DbConnection,
    query: ClaimQuery,
    limit: i64,
    how: RankedBy,
) -> StoreResult<Option<RankedRows>> {
    let request = Request::new(query, limit)?;
    match conn {
        DbConnection::Sqlite(c) => sqlite::ranked_by(c, &request, how),
        DbConnection::Pg(_) => Err(crate::db::write::StoreError::bad_parameter("sort", "ranks rows on SQLite only")),
    }
}

/// The claims an agent or a source is behind, in the roles of `backing`,
/// in `sort` (newest first by default), each with every role it has.
pub fn list_backed(
    conn: &mut DbConnection,
    backing: Backing,
    sort: Option<ClaimSort>,
    cursor: Option<&str>,
    fingerprint: String,
    limit: i64,
) -> StoreResult<Page<BackedClaim>> {
    let request = Request::of_backing(backing, sort, cursor, fingerprint, limit)?;
    let page = read_page(conn, &request)?;
    let ids: Vec<ClaimId> = page.items.iter().map(|item| item.claim.id.clone()).collect();
    let mut roles = match request.backing() {
        Some(backing) => backing.roles_of(conn, &ids)?,
        None => HashMap::new(),
    };
    let items = page
        .items
        .into_iter()
        .map(|item| {
            let roles = roles.remove(&item.claim.id).unwrap_or_default();
            BackedClaim { item, roles }
        })
        .collect();
    Ok(Page { items, next_cursor: page.next_cursor })
}

/// One page of a request, as list items, in a fixed number of queries
/// whatever its size: the page, the claims' tags, their stating sources
/// and counts, and, when asked for, the snippets.
fn read_page(conn: &mut DbConnection, request: &Request) -> StoreResult<Page<ClaimListItem>> {
    let dialect = dialect(conn);
    let rows = dialect.page(request)?;
    let (rows, next_cursor) =
        cursor::paginate(rows, request.limit, &request.fingerprint, |row| request.position_of(row));
    let ids: Vec<ClaimId> = rows.iter().map(|row| row.claim.id.clone()).collect();
    let mut snippets = match (&request.search, request.snippet) {
        (Some(search), true) if !rows.is_empty() => dialect.snippets(search, &ids)?,
        _ => HashMap::new(),
    };
    let mut stated_on: HashMap<ClaimId, Option<PartialDate>> =
        rows.iter().map(|row| (row.claim.id.clone(), row.stated_on.clone())).collect();
    let mut statings = items::statings(conn, &ids)?;
    let claims = with_tags(conn, rows.into_iter().map(|row| row.claim).collect())?;
    let items = claims
        .into_iter()
        .map(|claim| {
            let statings = statings.remove(&claim.id).unwrap_or_default();
            ClaimListItem {
                stated_on: stated_on.remove(&claim.id).flatten(),
                snippet: snippets.remove(&claim.id),
                sources: statings.sources,
                attribution_count: statings.attribution_count,
                source_count: statings.source_count,
                claim,
            }
        })
        .collect();
    Ok(Page { items, next_cursor })
}

/// The plans of the queries [`list`] runs for this query (`EXPLAIN QUERY
/// PLAN` on SQLite, `EXPLAIN` on PostgreSQL), one line per row: for tests
/// and for operators who wonder why a query is slow.
pub fn explain(conn: &mut DbConnection, query: ClaimQuery) -> StoreResult<Vec<String>> {
    let request = Request::new(query, 50)?;
    dialect(conn).explain(&request)
}

/// The plans of the queries [`list_walking`] runs.
pub fn explain_walking(conn: &mut DbConnection, query: ClaimQuery) -> StoreResult<Vec<String>> {
    let mut request = Request::new(query, 50)?;
    request.plan = Some(plan::Plan::Ordered);
    dialect(conn).explain(&request)
}

/// The plans of the queries [`list_backed`] runs for these roles and sort.
pub fn explain_backed(conn: &mut DbConnection, backing: Backing, sort: Option<ClaimSort>) -> StoreResult<Vec<String>> {
    let request = Request::of_backing(backing, sort, None, String::new(), 50)?;
    dialect(conn).explain(&request)
}

/// What the claim list needs from a database that is written differently
/// for each: everything else in this module is the same SQL on both.
trait Dialect {
    /// Up to `request.limit + 1` claims from the request's position on, in
    /// the request's order.
    fn page(&mut self, request: &Request) -> StoreResult<Vec<ListedRow>>;

    /// The best-matching passage of each of these claims, as HTML with the
    /// matches marked (see [`snippet::marked_html`]).
    fn snippets(&mut self, search: &SearchQuery, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, String>>;

    /// The plan lines of the queries [`Dialect::page`] runs.
    fn explain(&mut self, request: &Request) -> StoreResult<Vec<String>>;
}

/// The one place that asks which database the connection speaks to.
fn dialect(conn: &mut DbConnection) -> &mut dyn Dialect {
    match conn {
        DbConnection::Sqlite(conn) => conn,
        DbConnection::Pg(conn) => conn,
    }
}

/// A claim row as a list query returns it.
#[derive(QueryableByName)]
pub(crate) struct ListedRow {
    #[diesel(embed)]
    claim: ClaimRow,
    /// The claim's rank, when sorting by relevance (lower is better).
    #[diesel(sql_type = Nullable<Double>)]
    rank: Option<f64>,
    /// The row in SQLite's search index, when ranking by relevance there.
    #[diesel(sql_type = Nullable<BigInt>)]
    doc: Option<i64>,
    /// When the claim entered public discourse (kept by triggers).
    #[diesel(sql_type = Nullable<Text>)]
    stated_on: Option<PartialDate>,
}

/// A server's start (SQLite), once its job that stores lists has ended
/// ([`prepare_posting_lists`]): has read in the background the posting
/// lists a server kept on this database before (named in the file beside
/// it, see [`crate::db::postings::Terms::remember`]), so that the
/// searches made before are ranked from lists from the first, and the
/// stored lists of the terms in a quarter of the claims or more (see
/// [`top::preload_at_start`]). A failure is logged, not raised: searches
/// read the lists they need as before.
fn preload_posting_lists(db: &crate::db::Db) {
    let terms = db.terms();
    let remembered = terms.remembered();
    if remembered.is_empty() && db.stored_lists_min_claims().is_none() {
        return;
    }
    let Some(epoch) = terms.epoch_patiently() else { return };
    let noted = db.get().map_err(|e| e.to_string()).and_then(|mut conn| match &mut *conn {
        DbConnection::Sqlite(conn) => top::preload_at_start(conn, &terms, epoch, remembered).map_err(|e| e.to_string()),
        DbConnection::Pg(_) => Ok(()),
    });
    if let Err(error) = noted {
        tracing::warn!(%error, "the posting lists kept before could not be read again");
    }
}

/// A server's start: stores in the database the posting lists of the
/// terms in many claims that are not stored or are out of date (see
/// [`stored::due`]), then reads into memory those it will want
/// ([`preload_posting_lists`]). Which lists are due is found here, before
/// the server serves; the rest runs on a thread of its own (so that a
/// server that stops does not wait for it). The read comes after the
/// writes, so that their commits do not make it useless (its lists would
/// be of a snapshot already past), and so that it finds current the lists
/// just written. A failure is logged.
pub fn prepare_posting_lists(db: &crate::db::Db) {
    let stocking = match stored::due(db) {
        Ok(stocking) => stocking,
        Err(error) => {
            tracing::warn!(%error, "the posting lists to store could not be told");
            None
        }
    };
    let stocking = stocking.filter(|stocking| {
        let idle = stocking.due.is_empty() && stocking.uncommon == 0;
        if idle && stocking.current > 0 {
            tracing::info!(written = 0, current = stocking.current, "posting lists stored");
        }
        !idle
    });
    let db = db.clone();
    let job = move || {
        if let Some(stocking) = stocking {
            stored::store_due(&db, stocking);
        }
        preload_posting_lists(&db);
    };
    if let Err(error) = std::thread::Builder::new().name("stored-lists".into()).spawn(job) {
        tracing::warn!(%error, "no thread to store and read posting lists on");
    }
}

/// After an import by this server (SQLite): the posting lists it kept are
/// carried over the import, or read again at once (see
/// [`top::carry_kept`]). A failure is logged, not raised: the import is
/// done, and searches read the lists they need as before.
pub fn carry_posting_lists(conn: &mut DbConnection, terms: &crate::db::postings::Terms) {
    let DbConnection::Sqlite(conn) = conn else { return };
    if let Err(error) = top::carry_kept(conn, terms) {
        tracing::warn!(%error, "the posting lists kept were not carried over an import");
    }
}
