//! The claim list in PostgreSQL's dialect: the `search_document` tsvector
//! of each claim, a `tsquery` assembled in SQL, `ts_rank` and
//! `ts_headline`. PostgreSQL's planner picks where a page's rows come from
//! itself, from its statistics, so every filter is simply a condition.

use std::collections::HashMap;

use diesel::pg::PgConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

use super::position::Position;
use super::request::{Phase, Request};
use super::snippet::marked_html;
use super::sql::{self, Sql};
use super::{Dialect, ListedRow};
use crate::db::write::StoreResult;
use crate::ids::ClaimId;
use crate::search::{Item, SearchQuery};

/// `ts_rank` with length normalisation, negated so that, as with BM25 on
/// SQLite, lower sorts first.
const RANK: &str = "-ts_rank(claims.search_document, search_query, 1)";

/// Partial dates compare as text in byte order, whatever the database's
/// locale.
const BYTE_ORDER: &str = " COLLATE \"C\"";

impl Dialect for PgConnection {
    fn page(&mut self, request: &Request) -> StoreResult<Vec<ListedRow>> {
        request.read_phases(|phase, limit| load(self, page_sql(request, phase, limit).cached_if(request.is_plain())))
    }

    fn snippets(&mut self, search: &SearchQuery, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, String>> {
        let mut sql = Sql::new();
        sql.push(
            "SELECT claims.id AS claim_id, ts_headline('claimtrail_english', \
             concat_ws(' … ', claims.text, claims.subject, claim_quotes(claims.id)), ",
        );
        write_headline_tsquery(&mut sql, search);
        sql.push(
            ", 'StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=24, MinWords=12, ShortWord=0, \
             MaxFragments=1, FragmentDelimiter=\" … \"') AS snippet FROM claims WHERE claims.id",
        )
        .in_list(claims.iter().map(ClaimId::as_str));
        let found: Vec<SnippetRow> = load(self, sql)?;
        Ok(found.into_iter().filter_map(|r| Some((r.claim_id, marked_html(&r.snippet?)))).collect())
    }

    fn explain(&mut self, request: &Request) -> StoreResult<Vec<String>> {
        let mut lines = Vec::new();
        for phase in request.phases() {
            let sql = page_sql(request, phase, request.limit + 1).prefixed("EXPLAIN ");
            let plan: Vec<PlanLine> = load(self, sql)?;
            lines.extend(plan.into_iter().map(|line| line.line));
        }
        Ok(lines)
    }
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct SnippetRow {
    #[diesel(sql_type = Text)]
    claim_id: ClaimId,
    #[diesel(sql_type = Nullable<Text>)]
    snippet: Option<String>,
}

fn load<R: QueryableByName<diesel::pg::Pg> + 'static>(conn: &mut PgConnection, sql: Sql) -> StoreResult<Vec<R>> {
    sql.for_postgres().load(conn).map_err(|e| sql::search_error(e, refused_query))
}

/// Whether PostgreSQL refused the `tsquery` itself.
fn refused_query(message: &str) -> bool {
    message.contains("syntax error in tsquery")
        || message.contains("unterminated quoted string")
        || message.contains("no operand in tsquery")
}

/// One phase of a page; every filter is a plain condition.
fn page_sql(request: &Request, phase: Phase, limit: i64) -> Sql {
    if let Some(backing) = request.backing() {
        return backing.page_sql(request, phase, limit, "JOIN");
    }
    let rank = (phase == Phase::Ranked).then_some(RANK);
    let mut sql = sql::select_listed(rank, None);
    match &request.search {
        Some(search) => {
            sql.push("claims, (SELECT ");
            write_tsquery(&mut sql, search);
            sql.push(") AS search (search_query) WHERE claims.search_document @@ search_query");
        }
        None => {
            sql.push("claims WHERE TRUE");
        }
    }
    sql::column_conditions(&mut sql, request, BYTE_ORDER);
    for member in &request.members {
        sql.push(" AND ");
        member.write_in(&mut sql);
    }
    if let (Phase::Ranked, Some(Position::Relevance { rank, id, .. })) = (phase, &request.after) {
        // `ts_rank` is a `real`: the position's rank, read back as one,
        // compares equal to the claim's own.
        sql.push(" AND (").push(RANK).push(", claims.id) > (CAST(");
        sql.double(*rank).push(" AS real), ").text(id.as_str()).push(")");
    }
    sql::after_and_order(&mut sql, request, phase);
    sql.limit(limit);
    sql
}

/// The `tsquery` of a search, assembled in SQL: each word goes through
/// `claim_search_words` (unaccent, punctuation to spaces), the
/// normalisation the documents went through, and `quote_literal`, so it is
/// one quoted lexeme (or a phrase, if normalising split it); phrases join
/// words with `<->`, a prefix ends in `:*`. Each item matches its words as
/// written (weight A of the search document) or, unless it is a prefix,
/// their English stems (weight B, `claimtrail_english`; see the
/// `findability` migration); items join with `&&`.
fn write_tsquery(sql: &mut Sql, search: &SearchQuery) {
    sql.push("(");
    for (i, item) in search.items.iter().enumerate() {
        if i > 0 {
            sql.push(" && ");
        }
        sql.push("(");
        write_item(sql, item, "simple", "A");
        if !item.prefix {
            sql.push(" || ");
            write_item(sql, item, "claimtrail_english", "B");
        }
        sql.push(")");
    }
    sql.push(")");
}

/// The search for `ts_headline`, which stems the text it marks: every
/// item's stems (or prefix), whatever the weight.
fn write_headline_tsquery(sql: &mut Sql, search: &SearchQuery) {
    sql.push("(");
    for (i, item) in search.items.iter().enumerate() {
        if i > 0 {
            sql.push(" && ");
        }
        write_item(sql, item, "claimtrail_english", "");
    }
    sql.push(")");
}

/// One item as a `tsquery` in this configuration, its lexemes restricted
/// to this weight (none if empty).
fn write_item(sql: &mut Sql, item: &Item, config: &str, weight: &str) {
    sql.push("to_tsquery('").push(config).push("', '(' || ");
    for (j, word) in item.words.iter().enumerate() {
        if j > 0 {
            sql.push(" || ' <-> ' || ");
        }
        sql.push("quote_literal(claim_search_words(").text(word.as_str()).push("))");
        let prefix = item.prefix && j + 1 == item.words.len();
        match (prefix, weight.is_empty()) {
            (true, _) => sql.push(" || ':*").push(weight).push("'"),
            (false, false) => sql.push(" || ':").push(weight).push("'"),
            (false, true) => sql,
        };
    }
    sql.push(" || ')')");
}
