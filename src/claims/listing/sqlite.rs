//! The claim list in SQLite's dialect: the FTS5 index `claims_fts` (its
//! rows are claims' documents, mapped to claims by `claim_documents`), its
//! `facets` field for membership filters, BM25 ranks, and the [`Plan`]
//! that picks where a page's rows come from.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Double, Nullable, Text};
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
        let plan = match request.plan {
            Some(plan) => plan,
            None => choose_plan(self, request)?,
        };
        request
            .read_phases(|phase, limit| load(self, page_sql(request, plan, phase, limit).cached_if(request.is_plain())))
    }

    fn snippets(&mut self, search: &SearchQuery, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, String>> {
        let in_claims = || claims.iter().map(ClaimId::as_str);
        // The words of these claims' documents, for the inflections to mark.
        let mut sql = Sql::new();
        sql.push(
            "SELECT coalesce(text, '') || ' ' || coalesce(subject, '') || ' ' || coalesce(quotes, '') AS words \
             FROM claim_documents WHERE claim_id IN ",
        )
        .list(in_claims());
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
        .push(" AND claims_fts.rowid IN (SELECT doc FROM claim_documents WHERE claim_id IN ")
        .list(in_claims())
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
            vec![ranked_sql(request), ranked_claims_sql(request, &[])]
        } else {
            let plan = choose_plan(self, request)?;
            request.phases().into_iter().map(|phase| page_sql(request, plan, phase, request.limit + 1)).collect()
        };
        let mut lines = Vec::new();
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
            // list per word either way (see `stems_expression`).
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
                    sql.push("(");
                    probe(&mut sql, with_facets(stems, request));
                    sql.push(
                        " OR (NOT (claims.language IS NULL OR claims.language LIKE 'en' \
                         OR claims.language LIKE 'en-%') AND ",
                    );
                    probe(&mut sql, with_facets(written_expression(search), request));
                    sql.push("))");
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

/// Relevance, in two steps. Every match's BM25 rank comes from the
/// full-text index alone (the facet terms apply the tag, source, speaker
/// and publisher filters there), sorted by rank and then by the match's row
/// in the index. Only then are claims read, in that order, in batches that
/// grow fourfold, each checked against the filters on the claim's own
/// columns, until the page is full: a page reads about as many claims as it
/// shows, not one per match.
fn fetch_by_rank(conn: &mut SqliteConnection, request: &Request) -> StoreResult<Vec<ListedRow>> {
    let ranked: Vec<Ranked> = load(conn, ranked_sql(request))?;
    let want = (request.limit + 1) as usize;
    let mut rows: Vec<ListedRow> = Vec::with_capacity(want);
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

/// Every match of the search after the position, best first.
fn ranked_sql(request: &Request) -> Sql {
    let mut sql = Sql::new();
    sql.push("SELECT claims_fts.rowid AS doc, claims_fts.rank AS rank FROM claims_fts WHERE claims_fts MATCH ")
        .text(fts5_expression(request));
    if let Some(Position::Relevance { rank, doc, .. }) = &request.after {
        sql.push(" AND (claims_fts.rank, claims_fts.rowid) > (");
        sql.double(*rank).push(", ").big_int(doc.unwrap_or(i64::MIN)).push(")");
    }
    sql.push(" ORDER BY claims_fts.rank, claims_fts.rowid");
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
    .text(format!("[{}]", docs.iter().map(i64::to_string).collect::<Vec<_>>().join(",")))
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
