//! Name search in PostgreSQL's dialect: the weighted `search_names`
//! tsvector of agents and sources (GIN-indexed), a `tsquery` assembled in
//! SQL, `ts_rank` (name or title A, aliases or publisher B, URL C,
//! description D).

use super::{NameSearch, Names};
use crate::claims::listing::sql::Sql;

/// `ts_rank`, negated so that, as with BM25 on SQLite, lower sorts first.
const RANK: &str = "-ts_rank(search_names, name_query)";

/// The page's matches, best first, ties by id.
pub fn matches_sql(search: &NameSearch) -> Sql {
    let table = match search.target {
        Names::Agents => "agents",
        Names::Sources => "sources",
    };
    let mut sql = Sql::new();
    sql.push("SELECT ").push(table).push(".id AS id, CAST(").push(RANK).push(" AS double precision) AS rank FROM ");
    sql.push(table).push(", (SELECT ");
    write_tsquery(&mut sql, search);
    sql.push(") AS search (name_query) WHERE search_names @@ name_query");
    search.write_filters(&mut sql);
    if let Some((rank, after)) = search.after() {
        // `ts_rank` is a `real`: the position's rank, read back as one,
        // compares equal to the row's own.
        sql.push(" AND (").push(RANK).push(", ").push(table).push(".id) > (CAST(");
        sql.double(rank).push(" AS real), ").text(after).push(")");
    }
    sql.push(" ORDER BY 2, 1");
    sql.limit(search.limit + 1);
    sql
}

/// The search as a `tsquery`: each word normalised as the documents were
/// (`claim_search_words`) and quoted, phrases joined by `<->`, a prefix
/// ending in `:*`, items by `&`.
fn write_tsquery(sql: &mut Sql, search: &NameSearch) {
    sql.push("to_tsquery('simple', ");
    for (i, item) in search.search.items.iter().enumerate() {
        if i > 0 {
            sql.push(" || ' & ' || ");
        }
        sql.push("'(' || ");
        for (j, word) in item.words.iter().enumerate() {
            if j > 0 {
                sql.push(" || ' <-> ' || ");
            }
            sql.push("quote_literal(claim_search_words(").text(word.as_str()).push("))");
            if item.prefix && j + 1 == item.words.len() {
                sql.push(" || ':*'");
            }
        }
        sql.push(" || ')'");
    }
    sql.push(")");
}
