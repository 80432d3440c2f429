//! Name search in SQLite's dialect: the FTS5 tables `agents_fts` and
//! `sources_fts` (rows mapped to agents and sources by `agent_documents`
//! and `source_documents`), ranked by BM25 with the name (or title)
//! weighing most.

use super::{NameSearch, Names};
use crate::claims::listing::sql::Sql;

/// The page's matches: every match's rank from the full-text index, the
/// filters checked on the row, best first, ties by id.
pub fn matches_sql(search: &NameSearch) -> Sql {
    let (fts, documents, id, table) = match search.target {
        Names::Agents => ("agents_fts", "agent_documents", "agent_id", "agents"),
        Names::Sources => ("sources_fts", "source_documents", "source_id", "sources"),
    };
    let expression: Vec<String> = search.search.items.iter().map(|item| item.fts5_phrase()).collect();
    let mut sql = Sql::new();
    sql.push("SELECT ").push(documents).push(".").push(id).push(" AS id, ");
    sql.push(fts).push(".rank AS rank FROM ").push(fts);
    sql.push(" CROSS JOIN ").push(documents).push(" ON ").push(documents).push(".doc = ").push(fts).push(".rowid");
    if !search.filters.is_empty() {
        sql.push(" CROSS JOIN ").push(table).push(" ON ").push(table).push(".id = ").push(documents).push(".").push(id);
    }
    sql.push(" WHERE ").push(fts).push(" MATCH ").text(expression.join(" AND "));
    search.write_filters(&mut sql);
    if let Some((rank, after)) = search.after() {
        sql.push(" AND (").push(fts).push(".rank, ").push(documents).push(".").push(id).push(") > (");
        sql.double(rank).push(", ").text(after).push(")");
    }
    sql.push(" ORDER BY rank, id");
    sql.limit(search.limit + 1);
    sql
}
