//! The claim list in SQLite's dialect: the FTS5 index `claims_fts` (its
//! rows are claims' documents, mapped to claims by `claim_documents`), its
//! `facets` field for membership filters, BM25 ranks, and the [`Plan`]
//! that picks where a page's rows come from.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};
use diesel::sqlite::SqliteConnection;
use diesel::{QueryableByName, RunQueryDsl};

use super::plan::{Candidates, Plan};
use super::position::Position;
use super::request::{Member, Phase, Request};
use super::snippet::marked_html;
use super::sql::{self, Sql};
use super::{Dialect, ListedRow};
use crate::claims::model::ClaimSort;
use crate::db::write::StoreResult;
use crate::ids::ClaimId;
use crate::search::{Item, SearchQuery};

/// A join SQLite's planner keeps in the order written: the left table is
/// read first.
const JOIN_IN_ORDER: &str = "CROSS JOIN";

impl Dialect for SqliteConnection {
    fn page(&mut self, request: &Request) -> StoreResult<Vec<ListedRow>> {
        if let Some(backing) = request.backing() {
            return request
                .read_phases(|phase, limit| load(self, backing.page_sql(request, phase, limit, JOIN_IN_ORDER)));
        }
        if request.sort == ClaimSort::Relevance {
            return fetch_by_rank(self, request);
        }
        let plan = plan_of(self, request)?;
        if walks_in_windows(request, plan) {
            return walk_in_windows(self, request);
        }
        request
            .read_phases(|phase, limit| load(self, page_sql(request, plan, phase, limit).cached_if(request.is_plain())))
    }

    fn snippets(&mut self, search: &SearchQuery, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, String>> {
        let in_claims = || claims.iter().map(ClaimId::as_str);
        // The words of these claims' documents, for the inflections to mark.
        let mut sql = Sql::new();
        sql.push(
            "SELECT coalesce(text, '') || ' ' || coalesce(subject, '') || ' ' || coalesce(quotes, '') AS words \
             FROM claim_documents WHERE claim_id",
        )
        .in_list(in_claims());
        let documents: Vec<DocumentWords> = load(self, sql)?;
        let texts: Vec<&str> = documents.iter().map(|d| d.words.as_str()).collect();
        // The rowid lookup lets FTS5 seek each listed document instead of
        // walking every match.
        let mut sql = Sql::new();
        sql.push(
            "SELECT claim_documents.claim_id AS claim_id, \
             snippet(claims_fts, -1, char(57344), char(57345), '…', 24) AS snippet \
             FROM claims_fts JOIN claim_documents ON claim_documents.doc = claims_fts.rowid \
             WHERE claims_fts MATCH ",
        )
        .text(highlight_expression(search, &texts))
        .push(" AND claims_fts.rowid IN (SELECT doc FROM claim_documents WHERE claim_id")
        .in_list(in_claims())
        .push(")");
        let found: Vec<SnippetRow> = load(self, sql)?;
        Ok(found.into_iter().filter_map(|r| Some((r.claim_id, marked_html(&r.snippet?)))).collect())
    }

    fn explain(&mut self, request: &Request) -> StoreResult<Vec<String>> {
        let queries = if let Some(backing) = request.backing() {
            request
                .phases()
                .into_iter()
                .map(|phase| backing.page_sql(request, phase, request.limit + 1, JOIN_IN_ORDER))
                .collect()
        } else if request.sort == ClaimSort::Relevance {
            vec![
                ranked_sql(request, every_match_listed(request).then_some(request.limit as usize + 1), None),
                ranked_claims_sql(request, &[]),
            ]
        } else {
            let plan = plan_of(self, request)?;
            if walks_in_windows(request, plan) {
                vec![
                    window_sql(request, request.after.as_ref(), FIRST_WINDOW),
                    span_sql(request, 0, 1),
                    probe_sql(request, &[0, 1]),
                    claims_sql(&[]),
                ]
            } else {
                request.phases().into_iter().map(|phase| page_sql(request, plan, phase, request.limit + 1)).collect()
            }
        };
        let mut lines = Vec::new();
        if request.sort == ClaimSort::Relevance && every_match_listed(request) && super::top::answers(request) {
            lines.push(
                "BEST MATCHES FROM claim_terms (one or two words: src/claims/listing/top.rs); \
                 the plan below ranks every match, if that gives up"
                    .to_string(),
            );
        }
        for sql in queries {
            let plan: Vec<PlanLine> = load(self, sql.prefixed("EXPLAIN QUERY PLAN "))?;
            lines.extend(plan.into_iter().map(|line| line.detail));
        }
        Ok(lines)
    }
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct DocumentWords {
    #[diesel(sql_type = Text)]
    words: String,
}

#[derive(QueryableByName)]
struct SnippetRow {
    #[diesel(sql_type = Text)]
    claim_id: ClaimId,
    #[diesel(sql_type = Nullable<Text>)]
    snippet: Option<String>,
}

/// A match of a search and its BM25 rank.
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

fn load<R: QueryableByName<diesel::sqlite::Sqlite> + 'static>(
    conn: &mut SqliteConnection,
    sql: Sql,
) -> StoreResult<Vec<R>> {
    sql.for_sqlite().load(conn).map_err(|e| sql::search_error(e, |message| message.starts_with("fts5:")))
}

/// The plan a test fixed, else the one the counts choose.
fn plan_of(conn: &mut SqliteConnection, request: &Request) -> StoreResult<Plan> {
    match request.plan {
        Some(plan) => Ok(plan),
        None => choose_plan(conn, request),
    }
}

/// Counts the candidates of each plan that could read them (see
/// [`Plan::choose`]).
fn choose_plan(conn: &mut SqliteConnection, request: &Request) -> StoreResult<Plan> {
    Plan::choose(request, |candidates, cap| {
        let mut sql = Sql::new();
        match candidates {
            Candidates::Matches => {
                sql.push("SELECT count(*) AS n FROM (SELECT 1 FROM claims_fts WHERE claims_fts MATCH ")
                    .text(fts5_expression(request));
            }
            Candidates::Members(i) => {
                // Its rows, which may name a claim twice: about as many.
                sql.push("SELECT count(*) AS n FROM (");
                request.members[i].write_set(&mut sql, false);
            }
        }
        sql.limit(cap).push(")");
        let counted: Vec<Count> = load(conn, sql)?;
        Ok(counted.first().map_or(0, |c| c.n))
    })
}

/// One phase of a page, read the way `plan` says.
fn page_sql(request: &Request, plan: Plan, phase: Phase, limit: i64) -> Sql {
    let mut sql = sql::select_listed(None, None);
    match (&request.search, plan) {
        (Some(_), Plan::Read(Candidates::Matches)) => {
            // CROSS JOIN fixes the join order: matches first.
            sql.push(
                "claims_fts CROSS JOIN claim_documents ON claim_documents.doc = claims_fts.rowid \
                 CROSS JOIN claims ON claims.id = claim_documents.claim_id WHERE claims_fts MATCH ",
            )
            .text(fts5_expression(request));
        }
        (Some(search), _) => {
            // Checked claim by claim: a stemmed claim (most are) by its
            // stems, an unstemmed one by the words as written; one posting
            // list per word, and one probe per claim, either way (see
            // `stems_expression`). The claim's language picks the probe.
            let probe = |sql: &mut Sql, expression: String| {
                sql.push(
                    "EXISTS (SELECT 1 FROM claim_documents JOIN claims_fts \
                     ON claims_fts.rowid = claim_documents.doc \
                     WHERE claim_documents.claim_id = claims.id AND claims_fts MATCH ",
                )
                .text(expression)
                .push(")");
            };
            sql.push("claims WHERE ");
            match stems_expression(search) {
                Some(stems) => {
                    sql.push(
                        "(CASE WHEN claims.language IS NULL OR claims.language LIKE 'en' \
                         OR claims.language LIKE 'en-%' THEN ",
                    );
                    probe(&mut sql, with_facets(stems, request));
                    sql.push(" ELSE ");
                    probe(&mut sql, with_facets(written_expression(search), request));
                    sql.push(" END)");
                }
                None => probe(&mut sql, fts5_expression(request)),
            }
        }
        (None, Plan::Read(Candidates::Members(i))) => {
            sql.push("(");
            request.members[i].write_set(&mut sql, true);
            sql.push(") AS candidates CROSS JOIN claims ON claims.id = candidates.claim_id WHERE TRUE");
        }
        (None, _) => {
            sql.push("claims WHERE TRUE");
        }
    }
    sql::column_conditions(&mut sql, request, "");
    // With a search, the membership filters that have a facet are part of
    // the full-text query; a filter whose set supplies the candidates holds
    // anyway.
    for (i, member) in request.members.iter().enumerate() {
        let in_search = request.search.is_some() && facet(member).is_some();
        if !in_search && !plan.reads_members(i) {
            sql.push(" AND ");
            member.write_probe(&mut sql);
        }
    }
    sql::after_and_order(&mut sql, request, phase);
    sql.limit(limit);
    sql
}

/// Claims read in the first window of a search walked newest or oldest
/// first; each further window is four times as large, up to
/// [`MAX_WINDOW`].
const FIRST_WINDOW: i64 = 512;
const MAX_WINDOW: i64 = 16_384;

/// The widest span of search-index rows, per claim of a window, whose
/// matches are read in one range: claims' documents are written in the
/// order the claims are, so the documents of claims created one after the
/// other are neighbours in the index. Where they are not (claims whose
/// text was edited later have newer documents), the window's claims are
/// probed one by one instead.
const MAX_SPAN_PER_CLAIM: i64 = 4;

/// Whether a page is read by [`walk_in_windows`]: a search with many
/// matches, newest or oldest first.
fn walks_in_windows(request: &Request, plan: Plan) -> bool {
    request.search.is_some()
        && plan == Plan::Ordered
        && matches!(request.sort, ClaimSort::NewestFirst | ClaimSort::OldestFirst)
}

/// A search with many matches, newest or oldest first, read in windows:
/// the next claims in the sort's index that pass the other filters, a
/// window at a time (their ids, creation times and documents' rows, from
/// the indexes alone), and then which of them match, from one read of the
/// full-text index over the range of rows their documents are in. Probing
/// the index claim by claim (what the other sorts do) costs a parse of the
/// query and a seek into every posting list per claim; a range is one
/// stretch of each list per window. Stops when the page is full, and then
/// reads the page's claims.
fn walk_in_windows(conn: &mut SqliteConnection, request: &Request) -> StoreResult<Vec<ListedRow>> {
    let want = (request.limit + 1) as usize;
    let mut found: Vec<ClaimId> = Vec::with_capacity(want);
    let mut after = request.after.clone();
    let mut window = FIRST_WINDOW;
    'walk: loop {
        let candidates: Vec<WindowRow> = load(conn, window_sql(request, after.as_ref(), window))?;
        let Some(last) = candidates.last() else { break };
        after = Some(Position::Created { at: last.created_at, id: last.id.clone() });
        let exhausted = (candidates.len() as i64) < window;
        let matching = matching_docs(conn, request, &candidates)?;
        for row in candidates {
            if matching.contains(&row.doc) {
                found.push(row.id);
                if found.len() == want {
                    break 'walk;
                }
            }
        }
        if exhausted {
            break;
        }
        window = (window * 4).min(MAX_WINDOW);
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: HashMap<ClaimId, ListedRow> =
        load::<ListedRow>(conn, claims_sql(&found))?.into_iter().map(|row| (row.claim.id.clone(), row)).collect();
    Ok(found.iter().filter_map(|id| rows.remove(id)).collect())
}

/// A claim of a window: where it is in the sort, and its document's row in
/// the full-text index.
#[derive(QueryableByName)]
struct WindowRow {
    #[diesel(sql_type = Text)]
    id: ClaimId,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = BigInt)]
    doc: i64,
}

/// The next `window` claims after `after` that pass every filter but the
/// search's (and the membership filters that are terms of it).
fn window_sql(request: &Request, after: Option<&Position>, window: i64) -> Sql {
    let mut sql = Sql::new();
    sql.push(
        "SELECT claims.id AS id, claims.created_at AS created_at, claim_documents.doc AS doc \
         FROM claims CROSS JOIN claim_documents ON claim_documents.claim_id = claims.id WHERE TRUE",
    );
    sql::column_conditions(&mut sql, request, "");
    for member in request.members.iter().filter(|m| facet(m).is_none()) {
        sql.push(" AND ");
        member.write_probe(&mut sql);
    }
    sql::after_position_and_order(&mut sql, request, after, Phase::Created, sql::SortKeys::CLAIMS);
    sql.limit(window);
    sql
}

/// Which of a window's documents match the search (and its membership
/// filters' terms): read as a range of the full-text index when they are
/// close together in it, else sought one by one.
fn matching_docs(conn: &mut SqliteConnection, request: &Request, window: &[WindowRow]) -> StoreResult<HashSet<i64>> {
    let docs = || window.iter().map(|row| row.doc);
    let (Some(low), Some(high)) = (docs().min(), docs().max()) else {
        return Ok(HashSet::new());
    };
    let sql = if high - low < MAX_SPAN_PER_CLAIM * window.len() as i64 {
        span_sql(request, low, high)
    } else {
        probe_sql(request, &docs().collect::<Vec<_>>())
    };
    let found: Vec<Doc> = load(conn, sql)?;
    Ok(found.into_iter().map(|row| row.doc).collect())
}

/// The matches among the full-text index's rows `low` to `high`: a
/// stretch of each posting list. This and the next two statements are
/// the same text for any request (the query and the values are bound),
/// so they are kept prepared.
fn span_sql(request: &Request, low: i64, high: i64) -> Sql {
    let mut sql = Sql::new();
    sql.push("SELECT claims_fts.rowid AS doc FROM claims_fts WHERE claims_fts MATCH ")
        .text(fts5_expression(request))
        .push(" AND claims_fts.rowid BETWEEN ")
        .big_int(low)
        .push(" AND ")
        .big_int(high);
    sql.cached()
}

/// The matches among these rows of the full-text index, each one sought.
fn probe_sql(request: &Request, docs: &[i64]) -> Sql {
    let mut sql = Sql::new();
    sql.push("SELECT claims_fts.rowid AS doc FROM claims_fts WHERE claims_fts MATCH ")
        .text(fts5_expression(request))
        .push(" AND claims_fts.rowid IN (SELECT value FROM json_each(")
        .text(json_list(docs))
        .push("))");
    sql.cached()
}

/// These claims, whole.
fn claims_sql(ids: &[ClaimId]) -> Sql {
    let mut sql = sql::select_listed(None, None);
    sql.push("claims WHERE claims.id").in_list(ids.iter().map(ClaimId::as_str));
    sql.cached()
}

/// Numbers as a JSON array, bound as one value (for `json_each`).
fn json_list(values: &[i64]) -> String {
    format!("[{}]", values.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// A row of the full-text index.
#[derive(QueryableByName)]
struct Doc {
    #[diesel(sql_type = BigInt)]
    doc: i64,
}

/// Relevance, in two steps. The BM25 ranks come from the full-text index
/// alone (the facet terms apply the tag, source, speaker and publisher
/// filters there), sorted by rank and then by the match's row in the
/// index. Only then are claims read, in that order, in batches that grow
/// fourfold, each checked against the filters on the claim's own columns,
/// until the page is full: a page reads about as many claims as it shows,
/// not one per match.
///
/// FTS5 ranks every match either way. When nothing is checked on the
/// claims themselves, every match is listed and the page is the best
/// `limit + 1` of them: SQLite keeps only those as it goes instead of
/// sorting every match and handing each one over. Otherwise every match is
/// ranked and sorted, since the filters may set any number aside (asking
/// for more only when they did would rank them all a second time).
fn fetch_by_rank(conn: &mut SqliteConnection, request: &Request) -> StoreResult<Vec<ListedRow>> {
    let want = (request.limit + 1) as usize;
    let best = match every_match_listed(request) {
        true => super::top::best(conn, request, want, request.reading.unwrap_or(super::top::Reading::SERVER))?,
        false => None,
    };
    let ranked: Vec<Ranked> = match best {
        Some(best) => best.into_iter().map(|(doc, rank)| Ranked { doc, rank }).collect(),
        None => {
            let idfs = super::top::known_idfs(conn, request)?;
            load(conn, ranked_sql(request, every_match_listed(request).then_some(want), idfs))?
        }
    };
    let mut rows: Vec<ListedRow> = Vec::with_capacity(want.min(ranked.len()));
    let mut rest = &ranked[..];
    let mut batch = 2 * want;
    while rows.len() < want && !rest.is_empty() {
        let (head, tail) = rest.split_at(batch.min(rest.len()));
        let docs: Vec<i64> = head.iter().map(|r| r.doc).collect();
        let mut found: HashMap<i64, ListedRow> = load::<ListedRow>(conn, ranked_claims_sql(request, &docs))?
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

/// See [`super::ranked_by`].
pub(super) fn ranked_by(
    conn: &mut SqliteConnection,
    request: &Request,
    how: super::RankedBy,
) -> StoreResult<Option<super::RankedRows>> {
    let want = (request.limit + 1) as usize;
    let idfs = match how {
        super::RankedBy::Terms { first_batch, max_rows } => {
            let reading = super::top::Reading {
                first_batch,
                max_rows,
                words: super::top::Words::Always,
                ..super::top::Reading::SERVER
            };
            return super::top::best(conn, request, want, reading);
        }
        super::RankedBy::Postings => {
            let reading = super::top::Reading { words: super::top::Words::Postings, ..super::top::Reading::SERVER };
            return super::top::best(conn, request, want, reading);
        }
        super::RankedBy::TermsWhenCheaper => {
            return super::top::best(conn, request, want, super::top::Reading::SERVER);
        }
        super::RankedBy::KnownIdfs => super::top::known_idfs(conn, request)?,
        super::RankedBy::Counted => None,
    };
    let all: Vec<Ranked> = load(conn, ranked_sql(request, Some(want), idfs))?;
    Ok(Some(all.into_iter().map(|r| (r.doc, r.rank)).collect()))
}

/// Every match of the full-text query is a listed claim: no filter is
/// checked on the claims themselves.
fn every_match_listed(request: &Request) -> bool {
    request.columns.is_empty() && request.members.iter().all(|m| facet(m).is_some())
}

/// The column weights of relevance: those of `claims_fts`'s configured
/// `rank` (the `findability` migration), which a test holds them to.
pub const RANK_WEIGHTS: &str = "1.0, 1.0, 1.0, 0.0, 0.5";

/// The matches of the search after the position, best first; the best
/// `limit` of them if given. Ranked by [`crate::db::bm25`]: FTS5's `bm25`
/// with the IDFs of a query text kept between runs of it, and those given
/// in `idfs` (see `top::known_idfs`).
fn ranked_sql(request: &Request, limit: Option<usize>, idfs: Option<String>) -> Sql {
    let expression = fts5_expression(request);
    let mut sql = Sql::new();
    sql.push("SELECT doc, rank FROM (SELECT claims_fts.rowid AS doc, ")
        .push(crate::db::bm25::FUNCTION)
        .push("(claims_fts, ")
        .text(expression.clone())
        .push(", ")
        .push(RANK_WEIGHTS);
    if let Some(idfs) = idfs {
        sql.push(", ").text(idfs);
    }
    sql.push(") AS rank FROM claims_fts WHERE claims_fts MATCH ").text(expression).push(")");
    if let Some(Position::Relevance { rank, doc, .. }) = &request.after {
        sql.push(" WHERE (rank, doc) > (");
        sql.double(*rank).push(", ").big_int(doc.unwrap_or(i64::MIN)).push(")");
    }
    sql.push(" ORDER BY rank, doc");
    if let Some(limit) = limit {
        sql.limit(limit as i64);
    }
    sql
}

/// The claims of these search-index rows that pass the filters on the
/// claim's own columns (the others are part of the full-text query).
fn ranked_claims_sql(request: &Request, docs: &[i64]) -> Sql {
    let mut sql = sql::select_listed(None, Some("claim_documents.doc"));
    sql.push(
        "claim_documents CROSS JOIN claims ON claims.id = claim_documents.claim_id \
         WHERE claim_documents.doc IN (SELECT value FROM json_each(",
    )
    .text(json_list(docs))
    .push("))");
    sql::column_conditions(&mut sql, request, "");
    for member in request.members.iter().filter(|m| facet(m).is_none()) {
        sql.push(" AND ");
        member.write_probe(&mut sql);
    }
    sql
}

/// What the user typed, as an FTS5 query: each item as written in the
/// text, subject or quotes, or its stems in `stems` (a claim's English
/// stems, see the `findability` migration). An item whose words are their
/// own stems is one phrase over all four fields, so that a word costs one
/// posting list; BM25 weighs `stems` at half, so that a claim with the word
/// as written ranks above one with an inflection of it.
fn words_expression(search: &SearchQuery) -> String {
    let items: Vec<String> = search
        .items
        .iter()
        .map(|item| match item.stems() {
            _ if item.prefix => as_written(item),
            None => format!("{{text subject quotes stems}} : {}", item.fts5_phrase()),
            Some(stems) => {
                format!("({{text subject quotes}} : {} OR stems : \"{}\")", item.fts5_phrase(), stems.join(" "))
            }
        })
        .collect();
    items.join(" AND ")
}

/// The FTS5 query that marks the matches in a snippet: each item's words
/// as written, or any of their inflections that occur in `texts` (the
/// listed claims' documents): words whose English stem is the item's.
/// Those are exact words, each one posting list sought by row id; a prefix
/// (`"secur"*`) would mark the same, but FTS5 answers it by merging the
/// posting lists of every word with that prefix in the whole index, on each
/// listed claim. A phrase with too many combinations of inflections keeps
/// the prefix. Stems are not words, so the text is marked, not `stems`.
fn highlight_expression(search: &SearchQuery, texts: &[&str]) -> String {
    /// Phrases of inflections tried before falling back to a prefix.
    const MAX_VARIANTS: usize = 16;
    let mut stems_of: HashMap<String, String> = HashMap::new();
    for text in texts {
        for word in crate::search::words(text) {
            stems_of.entry(word.to_lowercase()).or_insert_with_key(|word| crate::stems::stem(word));
        }
    }
    let items: Vec<String> = search
        .items
        .iter()
        .map(|item| {
            if item.prefix {
                return as_written(item);
            }
            // Per word of the item: itself and the inflections present.
            let forms: Vec<Vec<String>> = item
                .words
                .iter()
                .map(|word| {
                    let word = word.to_lowercase();
                    let stem = crate::stems::stem(&word);
                    let mut forms: Vec<String> =
                        stems_of.iter().filter(|(w, s)| **s == stem && **w != word).map(|(w, _)| w.clone()).collect();
                    forms.sort();
                    forms.insert(0, word);
                    forms
                })
                .collect();
            let variants = forms.iter().map(Vec::len).try_fold(1usize, |n, len| n.checked_mul(len));
            match variants {
                Some(n) if n <= MAX_VARIANTS => {
                    let mut phrases = vec![String::new()];
                    for word_forms in &forms {
                        phrases = phrases
                            .iter()
                            .flat_map(|start| {
                                word_forms.iter().map(move |form| {
                                    if start.is_empty() { form.clone() } else { format!("{start} {form}") }
                                })
                            })
                            .collect();
                    }
                    let phrases: Vec<String> = phrases.into_iter().map(|p| format!("\"{p}\"")).collect();
                    format!("{{text subject quotes}} : ({})", phrases.join(" OR "))
                }
                _ => {
                    let stems: Vec<String> = item.words.iter().map(|w| crate::stems::stem(w)).collect();
                    if stems.last().is_none_or(|stem| stem.chars().count() < 3) {
                        as_written(item)
                    } else {
                        format!("{{text subject quotes}} : ({} OR \"{}\"*)", item.fts5_phrase(), stems.join(" "))
                    }
                }
            }
        })
        .collect();
    items.join(" AND ")
}

/// What the user typed as it matches a stemmed claim: an item with stems
/// by its stems alone, since a stemmed claim that has the words as written
/// has their stems too (both come from the same text, and the `stems`
/// column keeps the fields' words in order), so one posting list per word
/// instead of two. `None` when no item has stems (the words expression is
/// then the same). An unstemmed claim (see [`crate::stems::is_stemmed`])
/// has no stems and is checked with [`written_expression`].
fn stems_expression(search: &SearchQuery) -> Option<String> {
    let mut any = false;
    let items: Vec<String> = search
        .items
        .iter()
        .map(|item| match item.stems() {
            _ if item.prefix => as_written(item),
            None => format!("{{text subject quotes stems}} : {}", item.fts5_phrase()),
            Some(stems) => {
                any = true;
                format!("stems : \"{}\"", stems.join(" "))
            }
        })
        .collect();
    any.then(|| items.join(" AND "))
}

/// An item as written (a prefix with its `*`), in the text, subject or
/// quotes.
fn as_written(item: &Item) -> String {
    format!("{{text subject quotes}} : {}", item.fts5_phrase())
}

/// What the user typed as it matches an unstemmed claim, which has no
/// stems: the words as written, one posting list per word.
fn written_expression(search: &SearchQuery) -> String {
    let items: Vec<String> = search.items.iter().map(as_written).collect();
    items.join(" AND ")
}

/// The FTS5 query of a request: what the user typed, over the text,
/// subject and quotes, and a facet term per membership filter.
fn fts5_expression(request: &Request) -> String {
    with_facets(request.search.as_ref().map(words_expression).unwrap_or_default(), request)
}

/// A words expression and a facet term per membership filter.
fn with_facets(mut expression: String, request: &Request) -> String {
    for facet in request.members.iter().filter_map(facet) {
        expression.push_str(&format!(" AND facets : \"{facet}\""));
    }
    expression
}

/// A membership filter's term in the `facets` field of the full-text index
/// (see the `search_facets` migration); an agent's or a source's backing
/// has none (it is checked per claim).
/// Whether a membership filter is a facet term of the search (see [`facet`]).
pub(super) fn facet_of(member: &Member) -> bool {
    facet(member).is_some()
}

fn facet(member: &Member) -> Option<String> {
    let compact = |id: &str| id.replace('-', "");
    Some(match member {
        Member::Tag(tag) => format!("t{}", hex::encode(tag.as_bytes())),
        Member::Source(id) => format!("s{}", compact(id.as_str())),
        Member::Speaker(id) => format!("k{}", compact(id.as_str())),
        Member::Publisher(id) => format!("p{}", compact(id.as_str())),
        // Not facets: checked on their own tables.
        Member::Reviewed | Member::Reviewer(_) | Member::RatingLabel(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(q: &str) -> SearchQuery {
        SearchQuery::parse(q).expect("a query").expect("not blank")
    }

    #[test]
    fn a_snippet_marks_the_inflections_the_listed_claims_hold_as_exact_words() {
        let texts = ["Securities were sold; security tightened.", "Mali's fuel blockades and a blockade of fuel"];
        assert_eq!(
            highlight_expression(&search("security"), &texts),
            "{text subject quotes} : (\"security\" OR \"securities\")"
        );
        assert_eq!(
            highlight_expression(&search("\"fuel blockade\" sold"), &texts),
            "{text subject quotes} : (\"fuel blockade\" OR \"fuel blockades\") AND {text subject quotes} : (\"sold\")"
        );
        assert_eq!(highlight_expression(&search("secur*"), &texts), "{text subject quotes} : \"secur\"*");
    }

    #[test]
    fn a_phrase_with_too_many_inflections_is_marked_by_its_stems_prefix() {
        let text = "kill kills killed killing killings; coup coups couped couping";
        let expression = highlight_expression(&search("\"coup kill\""), &[text]);
        assert_eq!(expression, "{text subject quotes} : (\"coup kill\" OR \"coup kill\"*)");
    }
}
