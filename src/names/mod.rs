//! Name search: `q` on `GET /v1/agents` (name, aliases, description) and
//! `GET /v1/sources` (title, publisher's name, URL), as a user types it:
//! the words of `q` must all occur (case and accents aside, the syntax of
//! the claim search), the last one also as the start of a word (`souf`
//! finds "The Soufan Center"); best match first.
//!
//! The indexes are in the `findability` migrations: on SQLite an FTS5
//! table per resource (with prefix indexes), kept by triggers; on
//! PostgreSQL a weighted `tsvector` column with a GIN index. Each database
//! ranks in its own file ([`sqlite`], [`postgres`]); both give the ids of
//! one page of matches, best first, and this module pages them with the
//! one keyset cursor (`(rank, id)`).

mod postgres;
mod sqlite;

use serde::{Deserialize, Serialize};

use crate::claims::listing::sql::Sql;
use crate::cursor;
use crate::db::DbConnection;
use crate::db::write::{StoreError, StoreResult};
use crate::search::SearchQuery;

/// Which names are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Agents,
    Sources,
}

/// A name search: what to find, among which rows, from where.
pub struct NameSearch {
    pub target: Names,
    pub search: SearchQuery,
    /// `(column, value)` equality filters on the target's own table, e.g.
    /// `("agents.kind", "person")`.
    pub filters: Vec<(&'static str, String)>,
    pub after: Option<Position>,
    pub limit: i64,
}

/// Where a page of matches starts: the rank of the previous page's last
/// match (as its bit pattern, so it reads back as the very same float) and
/// its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    rank: u64,
    id: String,
}

/// A match: the row's id and its rank (lower is better).
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Match {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub id: String,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub rank: f64,
}

impl NameSearch {
    /// The search `q` asks for, or `None` when it is blank; a `q` that
    /// cannot be searched is a 400 naming `q`. `cursor` must come from
    /// the same query (`fingerprint`).
    pub fn new(
        target: Names,
        q: Option<&str>,
        filters: Vec<(&'static str, String)>,
        fingerprint: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> StoreResult<Option<NameSearch>> {
        let Some(q) = q else { return Ok(None) };
        let Some(search) = SearchQuery::parse(q).map_err(|e| StoreError::bad_parameter("q", e.0))? else {
            return Ok(None);
        };
        let after = match cursor {
            Some(cursor) => {
                let position: Position = cursor::decode(cursor, fingerprint)?;
                if !f64::from_bits(position.rank).is_finite() {
                    return Err(StoreError::bad_parameter("cursor", "is not a cursor this list handed out"));
                }
                Some(position)
            }
            None => None,
        };
        Ok(Some(NameSearch { target, search: search.as_typed(), filters, after, limit }))
    }

    /// Up to `limit + 1` matches after the position, best first.
    pub fn matches(&self, conn: &mut DbConnection) -> StoreResult<Vec<Match>> {
        let sql = match conn {
            DbConnection::Sqlite(_) => sqlite::matches_sql(self),
            DbConnection::Pg(_) => postgres::matches_sql(self),
        };
        sql.load_any(conn).map_err(|e| {
            crate::claims::listing::sql::search_error(e, |m| m.starts_with("fts5:") || m.contains("tsquery"))
        })
    }

    /// The plan of the search's query, one line per row (`EXPLAIN QUERY
    /// PLAN` on SQLite, `EXPLAIN` on PostgreSQL): for the plan tests.
    pub fn explain(&self, conn: &mut DbConnection) -> StoreResult<Vec<String>> {
        #[derive(diesel::QueryableByName)]
        struct SqliteLine {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        #[derive(diesel::QueryableByName)]
        struct PgLine {
            #[diesel(sql_type = diesel::sql_types::Text)]
            #[diesel(column_name = "QUERY PLAN")]
            line: String,
        }
        Ok(match conn {
            DbConnection::Sqlite(_) => {
                let lines: Vec<SqliteLine> =
                    sqlite::matches_sql(self).prefixed("EXPLAIN QUERY PLAN ").load_any(conn)?;
                lines.into_iter().map(|l| l.detail).collect()
            }
            DbConnection::Pg(_) => {
                let lines: Vec<PgLine> = postgres::matches_sql(self).prefixed("EXPLAIN ").load_any(conn)?;
                lines.into_iter().map(|l| l.line).collect()
            }
        })
    }

    /// ` AND <filter>` for each equality filter.
    fn write_filters(&self, sql: &mut Sql) {
        for (column, value) in &self.filters {
            sql.push(" AND ").push(column).push(" = ").text(value.as_str());
        }
    }

    /// The rank and id of the position, if any.
    fn after(&self) -> Option<(f64, &str)> {
        self.after.as_ref().map(|p| (f64::from_bits(p.rank), p.id.as_str()))
    }
}

/// One page of rows found by name, best first: the matches, then the rows
/// themselves (`load`, one query for the page's ids), in the matches'
/// order, and the cursor of the next page.
pub fn page<R>(
    conn: &mut DbConnection,
    search: &NameSearch,
    fingerprint: &str,
    load: impl FnOnce(&mut DbConnection, &[String]) -> StoreResult<Vec<R>>,
    id_of: impl Fn(&R) -> &str,
) -> StoreResult<(Vec<R>, Option<String>)> {
    let matches = search.matches(conn)?;
    let (matches, next) =
        cursor::paginate(matches, search.limit, fingerprint, |m| Position { rank: m.rank.to_bits(), id: m.id.clone() });
    let ids: Vec<String> = matches.iter().map(|m| m.id.clone()).collect();
    let mut rows = load(conn, &ids)?;
    rows.sort_by_key(|row| ids.iter().position(|id| id == id_of(row)));
    Ok((rows, next))
}
