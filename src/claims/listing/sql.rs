//! SQL assembly: the builder both dialects write their queries with, and
//! the pieces of the claim list that are the same SQL on both databases
//! (the columns, the filters, the keyset conditions and orders).
//!
//! The builder does not write bind markers itself: it is a diesel query
//! fragment, and diesel's query builder for the connection's backend writes
//! `?` on SQLite and `$n` on PostgreSQL.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Double, Text, Timestamp, Untyped};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::position::Position;
use super::request::{Column, Member, Phase, Request};
use crate::db::DbConnection;
use crate::db::write::StoreError;

/// SQL text with its bound values, in the order they appear.
#[derive(Default)]
pub struct Sql {
    parts: Vec<Part>,
    /// Whether the statement may be kept prepared (see [`Sql::cached`]).
    cached: bool,
}

enum Part {
    Text(String),
    Bind(Bind),
    /// `IN` a list of text values, bound as one JSON array, or the value
    /// itself when there is one (see [`Sql::in_list`]).
    List {
        json: String,
        single: Option<String>,
    },
}

/// A value bound to a query parameter.
enum Bind {
    Text(String),
    Double(f64),
    BigInt(i64),
    Timestamp(NaiveDateTime),
}

impl Sql {
    pub fn new() -> Sql {
        Sql::default()
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Sql {
        match self.parts.last_mut() {
            Some(Part::Text(text)) => text.push_str(sql),
            _ => self.parts.push(Part::Text(sql.to_string())),
        }
        self
    }

    /// Prepends SQL text (`EXPLAIN …`).
    pub fn prefixed(mut self, sql: &str) -> Sql {
        self.parts.insert(0, Part::Text(sql.to_string()));
        self
    }

    pub fn text(&mut self, value: impl Into<String>) -> &mut Sql {
        self.parts.push(Part::Bind(Bind::Text(value.into())));
        self
    }

    pub fn double(&mut self, value: f64) -> &mut Sql {
        self.parts.push(Part::Bind(Bind::Double(value)));
        self
    }

    pub fn big_int(&mut self, value: i64) -> &mut Sql {
        self.parts.push(Part::Bind(Bind::BigInt(value)));
        self
    }

    pub fn timestamp(&mut self, value: NaiveDateTime) -> &mut Sql {
        self.parts.push(Part::Bind(Bind::Timestamp(value)));
        self
    }

    /// Appends ` IN <these values>`, after a column: the values are bound as
    /// one JSON array, so the statement's text is the same however many
    /// there are (but one, see below) and it can be kept prepared. Each
    /// dialect writes the test its planner estimates as a short list (see
    /// [`Sql::for_postgres`]).
    /// For text columns, and for `IN` only: PostgreSQL's form compares with
    /// a `text[]`, and `NOT` before it would not be SQL there.
    ///
    /// A list of one value is written ` = <value>` instead (a second
    /// statement text, kept prepared too): SQLite reads an `IN (SELECT …)`
    /// list into a temporary b-tree, which it opens, fills and frees at
    /// every run, and a card's lists (its claim's attributions, its
    /// reviews' status) are mostly one value.
    pub fn in_list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Sql {
        let values: Vec<&str> = values.into_iter().collect();
        let single = match values.as_slice() {
            [value] => Some(value.to_string()),
            _ => None,
        };
        self.parts.push(Part::List { json: serde_json::json!(values).to_string(), single });
        self
    }

    /// Keeps the statement prepared on its connection, for statements whose
    /// text does not depend on the request (a fixed shape, lists bound with
    /// [`Sql::in_list`]): the next run skips SQLite's parsing and planning, and
    /// PostgreSQL's. Statements built per request are not kept, or the
    /// cache would grow with every new shape.
    pub fn cached(mut self) -> Sql {
        self.cached = true;
        self
    }

    /// [`Sql::cached`] when `keep` holds.
    pub fn cached_if(self, keep: bool) -> Sql {
        if keep { self.cached() } else { self }
    }

    /// Runs the query on either database: the SQL is the same on both, only
    /// diesel's multi-backend connection cannot run a hand-written query.
    pub fn load_any<R>(self, conn: &mut DbConnection) -> QueryResult<Vec<R>>
    where
        R: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
    {
        match conn {
            DbConnection::Sqlite(c) => self.for_sqlite().load(c),
            DbConnection::Pg(c) => self.for_postgres().load(c),
        }
    }

    /// The query as SQLite runs it (`IN (SELECT value FROM json_each(?))`).
    pub fn for_sqlite(self) -> Sql {
        self.in_dialect(" IN (SELECT value FROM json_each(", "))")
    }

    /// The query as PostgreSQL runs it: `= ANY(ARRAY(SELECT
    /// json_array_elements_text(…)))`. Not `IN (SELECT
    /// json_array_elements_text(…))`: PostgreSQL cannot see into a JSON
    /// function and plans it as 100 rows, so whether it sought the index or
    /// hashed the whole table depended on the table's statistics (on 3,000
    /// freshly generated claims it scanned all of `claim_statings` and
    /// `claim_tags` for every page). An array of values it seeks in the
    /// index whatever the statistics say.
    pub fn for_postgres(self) -> Sql {
        self.in_dialect(" = ANY(ARRAY(SELECT json_array_elements_text(CAST(", " AS json))))")
    }

    /// Writes each [`Part::List`] as the dialect reads a JSON array.
    fn in_dialect(self, open: &str, close: &str) -> Sql {
        let mut out = Sql { parts: Vec::with_capacity(self.parts.len()), cached: self.cached };
        for part in self.parts {
            match part {
                Part::List { single: Some(value), .. } => {
                    out.push(" = ");
                    out.parts.push(Part::Bind(Bind::Text(value)));
                }
                Part::List { json, single: None } => {
                    out.push(open);
                    out.parts.push(Part::Bind(Bind::Text(json)));
                    out.push(close);
                }
                Part::Text(text) => {
                    out.push(&text);
                }
                bind => out.parts.push(bind),
            }
        }
        out
    }

    /// Appends ` LIMIT <limit>`.
    pub fn limit(&mut self, limit: i64) -> &mut Sql {
        self.push(" LIMIT ").big_int(limit)
    }
}

impl<DB> QueryFragment<DB> for Sql
where
    DB: Backend,
    String: ToSql<Text, DB>,
    f64: ToSql<Double, DB>,
    i64: ToSql<BigInt, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if !self.cached {
            out.unsafe_to_cache_prepared();
        }
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_sql(text),
                // `for_sqlite`/`for_postgres` write lists in their dialect first.
                Part::List { .. } => {
                    return Err(diesel::result::Error::QueryBuilderError("a list not written for a dialect".into()));
                }
                Part::Bind(Bind::Text(value)) => out.push_bind_param::<Text, _>(value)?,
                Part::Bind(Bind::Double(value)) => out.push_bind_param::<Double, _>(value)?,
                Part::Bind(Bind::BigInt(value)) => out.push_bind_param::<BigInt, _>(value)?,
                Part::Bind(Bind::Timestamp(value)) => out.push_bind_param::<Timestamp, _>(value)?,
            }
        }
        Ok(())
    }
}

impl QueryId for Sql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Sql {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Sql {}

/// A search the engine refused (`refused` says so from its message) is the
/// user's query, not our failure: the translation in [`crate::search`]
/// should make this unreachable, and this keeps it a 400 if it is not.
pub fn search_error(error: diesel::result::Error, refused: fn(&str) -> bool) -> StoreError {
    let message = error.to_string();
    if refused(&message) {
        tracing::warn!(error = %message, "the search engine refused a translated query");
        StoreError::bad_parameter("q", "could not be searched; use words, \"phrases\" and word* only")
    } else {
        error.into()
    }
}

/// The columns of a claim row, in [`crate::claims::store::ClaimRow`]'s
/// order, and its `stated_on`.
pub const CLAIM_COLUMNS: &str = "claims.id, claims.text, claims.kind, claims.subject, claims.quantity_value, \
    claims.quantity_upper, claims.quantity_unit, claims.quantity_comparator, claims.period_start, \
    claims.period_end, claims.place, claims.status, claims.language, claims.created_at, claims.updated_at, \
    claims.version, claims.stated_on";

/// `SELECT <a listed row> FROM `: the claim's columns, its `rank` (this
/// SQL expression, or null) and its `doc` (this one, or null).
pub fn select_listed(rank: Option<&str>, doc: Option<&str>) -> Sql {
    let mut sql = Sql::new();
    sql.push("SELECT ").push(CLAIM_COLUMNS);
    sql.push(", CAST(").push(rank.unwrap_or("NULL")).push(" AS double precision) AS rank");
    match doc {
        Some(doc) => sql.push(", ").push(doc).push(" AS doc"),
        None => sql.push(", CAST(NULL AS bigint) AS doc"),
    };
    sql.push(" FROM ");
    sql
}

/// ` AND <condition>` for every filter on the claim's own columns.
/// `byte_order` is the dialect's collation clause that makes text compare
/// byte by byte (empty where that is the default).
pub fn column_conditions(sql: &mut Sql, request: &Request, byte_order: &str) {
    for column in &request.columns {
        sql.push(" AND ");
        column_condition(sql, column, byte_order);
    }
}

fn column_condition(sql: &mut Sql, column: &Column, byte_order: &str) {
    match column {
        Column::Kind(kind) => sql.push("claims.kind = ").text(kind.as_str()),
        Column::Status(status) => sql.push("claims.status = ").text(status.as_str()),
        Column::Place(place) => sql.push("claims.place = ").text(place),
        Column::Unit(unit) => sql.push("claims.quantity_unit = ").text(unit),
        Column::ValueMin(v) => sql.push("claims.quantity_value >= ").double(*v),
        Column::ValueMax(v) => sql.push("claims.quantity_value <= ").double(*v),
        Column::HasPeriod => sql.push("(claims.period_start IS NOT NULL OR claims.period_end IS NOT NULL)"),
        // Partial dates compare as text: "2012" sorts before every day of
        // 2012, and "2020~" after every day of 2020; in byte order, in any
        // locale.
        Column::StartsBy(day) => sql
            .push("(claims.period_start IS NULL OR claims.period_start")
            .push(byte_order)
            .push(" <= ")
            .text(day)
            .push(")"),
        Column::EndsFrom(day) => sql
            .push("(claims.period_end IS NULL OR (claims.period_end || '~')")
            .push(byte_order)
            .push(" >= ")
            .text(day)
            .push(")"),
        Column::Unreviewed => sql.push(
            "NOT EXISTS (SELECT 1 FROM reviews WHERE reviews.claim_id = claims.id AND reviews.status = 'published')",
        ),
    };
}

impl Member {
    /// The value the filter compares with, if any.
    fn value(&self) -> Option<&str> {
        match self {
            Member::Tag(tag) | Member::RatingLabel(tag) => Some(tag),
            Member::Source(id) => Some(id.as_str()),
            Member::Speaker(id) | Member::Publisher(id) | Member::Reviewer(id) => Some(id.as_str()),
            Member::Reviewed => None,
        }
    }

    /// Writes the filter's value, when it has one, and `suffix`.
    fn bind_value(&self, sql: &mut Sql, suffix: &str) {
        if let Some(value) = self.value() {
            sql.text(value);
        }
        sql.push(suffix);
    }

    /// The set as a query: `SELECT [DISTINCT] claim_id …`.
    pub fn write_set(&self, sql: &mut Sql, distinct: bool) {
        let from = match self {
            Member::Tag(_) => "claim_tags.claim_id AS claim_id FROM claim_tags WHERE claim_tags.tag = ",
            Member::Source(_) => "attributions.claim_id AS claim_id FROM attributions WHERE attributions.source_id = ",
            Member::Speaker(_) => {
                "attributions.claim_id AS claim_id FROM attributions WHERE attributions.speaker_id = "
            }
            Member::Publisher(_) => {
                "attributions.claim_id AS claim_id FROM sources \
                 CROSS JOIN attributions ON attributions.source_id = sources.id WHERE sources.publisher_id = "
            }
            Member::Reviewed => "reviews.claim_id AS claim_id FROM reviews WHERE reviews.status = 'published'",
            Member::Reviewer(_) => {
                "reviews.claim_id AS claim_id FROM reviews \
                 WHERE reviews.status = 'published' AND reviews.reviewer_id = "
            }
            Member::RatingLabel(_) => {
                "reviews.claim_id AS claim_id FROM reviews \
                 WHERE reviews.status = 'published' AND reviews.rating_key = "
            }
        };
        sql.push(if distinct { "SELECT DISTINCT " } else { "SELECT " }).push(from);
        self.bind_value(sql, "");
    }

    /// The filter checked for one claim (`claims.id`) by seeking the
    /// claim's own rows.
    pub fn write_probe(&self, sql: &mut Sql) {
        let probe = match self {
            Member::Tag(_) => {
                "EXISTS (SELECT 1 FROM claim_tags WHERE claim_tags.claim_id = claims.id AND claim_tags.tag = "
            }
            Member::Source(_) => {
                "EXISTS (SELECT 1 FROM attributions WHERE attributions.claim_id = claims.id \
                 AND attributions.source_id = "
            }
            Member::Speaker(_) => {
                "EXISTS (SELECT 1 FROM attributions WHERE attributions.claim_id = claims.id \
                 AND attributions.speaker_id = "
            }
            Member::Publisher(_) => {
                "EXISTS (SELECT 1 FROM attributions JOIN sources ON sources.id = attributions.source_id \
                 WHERE attributions.claim_id = claims.id AND sources.publisher_id = "
            }
            Member::Reviewed => {
                "EXISTS (SELECT 1 FROM reviews WHERE reviews.claim_id = claims.id AND reviews.status = 'published'"
            }
            Member::Reviewer(_) => {
                "EXISTS (SELECT 1 FROM reviews WHERE reviews.claim_id = claims.id \
                 AND reviews.status = 'published' AND reviews.reviewer_id = "
            }
            Member::RatingLabel(_) => {
                "EXISTS (SELECT 1 FROM reviews WHERE reviews.claim_id = claims.id \
                 AND reviews.status = 'published' AND reviews.rating_key = "
            }
        };
        sql.push(probe);
        self.bind_value(sql, ")");
    }

    /// The filter as `claims.id IN (<the set>)`, for a planner that picks
    /// its own way to check it.
    pub fn write_in(&self, sql: &mut Sql) {
        let set = match self {
            Member::Tag(_) => "claims.id IN (SELECT claim_id FROM claim_tags WHERE tag = ",
            Member::Source(_) => "claims.id IN (SELECT claim_id FROM attributions WHERE source_id = ",
            Member::Speaker(_) => "claims.id IN (SELECT claim_id FROM attributions WHERE speaker_id = ",
            Member::Publisher(_) => {
                "claims.id IN (SELECT attributions.claim_id FROM sources \
                 JOIN attributions ON attributions.source_id = sources.id WHERE sources.publisher_id = "
            }
            Member::Reviewed => "claims.id IN (SELECT claim_id FROM reviews WHERE status = 'published'",
            Member::Reviewer(_) => {
                "claims.id IN (SELECT claim_id FROM reviews WHERE status = 'published' AND reviewer_id = "
            }
            Member::RatingLabel(_) => {
                "claims.id IN (SELECT claim_id FROM reviews WHERE status = 'published' AND rating_key = "
            }
        };
        sql.push(set);
        self.bind_value(sql, ")");
    }
}

/// ` AND <after the position> ORDER BY …` of a phase. For
/// [`Phase::Ranked`], the dialect has written the condition on the rank
/// already (a rank is computed differently by each); the order is by the
/// `rank` column, lower first.
pub fn after_and_order(sql: &mut Sql, request: &Request, phase: Phase) {
    after_and_order_by(sql, request, phase, SortKeys::CLAIMS);
}

/// Where the sort keys of a listed claim are read: the claim's own row, or
/// a row that copies them (`claim_backers`).
#[derive(Clone, Copy)]
pub struct SortKeys {
    /// The table, or its alias.
    pub table: &'static str,
    /// Its column holding the claim's id.
    pub id: &'static str,
}

impl SortKeys {
    pub const CLAIMS: SortKeys = SortKeys { table: "claims", id: "id" };
}

/// [`after_and_order`] over the sort keys of `keys`.
pub fn after_and_order_by(sql: &mut Sql, request: &Request, phase: Phase, keys: SortKeys) {
    after_position_and_order(sql, request, request.after.as_ref(), phase, keys);
}

/// [`after_and_order_by`] from another position than the request's: where
/// a page read in several steps has got to.
pub fn after_position_and_order(
    sql: &mut Sql,
    request: &Request,
    after: Option<&Position>,
    phase: Phase,
    keys: SortKeys,
) {
    let (cmp, dir) = if request.descending() { ("<", "DESC") } else { (">", "ASC") };
    let key = |name: &str| format!("{}.{}", keys.table, name);
    let id = key(keys.id);
    match phase {
        Phase::Ranked => {
            sql.push(" ORDER BY rank ASC, ").push(&id).push(" ASC");
        }
        Phase::Created => {
            let at = key("created_at");
            if let Some(Position::Created { at: after, id: after_id }) = after {
                sql.push(&format!(" AND ({at}, {id}) {cmp} ("));
                sql.timestamp(*after).push(", ").text(after_id.as_str()).push(")");
            }
            sql.push(&format!(" ORDER BY {at} {dir}, {id} {dir}"));
        }
        Phase::WithPeriod => {
            let start = key("period_start");
            sql.push(&format!(" AND {start} IS NOT NULL"));
            if let Some(Position::Period { start: Some(after), id: after_id }) = after {
                sql.push(&format!(" AND ({start}, {id}) {cmp} ("));
                sql.text(after.as_str()).push(", ").text(after_id.as_str()).push(")");
            }
            sql.push(&format!(" ORDER BY {start} {dir}, {id} {dir}"));
        }
        Phase::WithoutPeriod => {
            sql.push(&format!(" AND {} IS NULL", key("period_start")));
            if let Some(Position::Period { start: None, id: after_id }) = after {
                sql.push(&format!(" AND {id} {cmp} ")).text(after_id.as_str());
            }
            sql.push(&format!(" ORDER BY {id} {dir}"));
        }
        Phase::WithStated => {
            let on = key("stated_on");
            sql.push(&format!(" AND {on} IS NOT NULL"));
            if let Some(Position::Stated { on: Some(after), id: after_id }) = after {
                sql.push(&format!(" AND ({on}, {id}) {cmp} ("));
                sql.text(after.as_str()).push(", ").text(after_id.as_str()).push(")");
            }
            sql.push(&format!(" ORDER BY {on} {dir}, {id} {dir}"));
        }
        Phase::WithoutStated => {
            sql.push(&format!(" AND {} IS NULL", key("stated_on")));
            if let Some(Position::Stated { on: None, id: after_id }) = after {
                sql.push(&format!(" AND {id} {cmp} ")).text(after_id.as_str());
            }
            sql.push(&format!(" ORDER BY {id} {dir}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::Text;
    use diesel::{Connection, QueryableByName, SqliteConnection};

    use super::*;

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }

    fn names_in(conn: &mut SqliteConnection, values: &[&str]) -> (String, Vec<String>) {
        let mut sql = Sql::new();
        sql.push("SELECT name FROM t WHERE name").in_list(values.iter().copied()).push(" ORDER BY name");
        let sql = sql.for_sqlite();
        let text = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&sql).to_string();
        let rows: Vec<Name> = sql.load(conn).expect("the query runs");
        (text, rows.into_iter().map(|r| r.name).collect())
    }

    #[test]
    fn a_list_of_one_value_is_an_equality_and_longer_lists_one_json_array() {
        let mut conn = SqliteConnection::establish(":memory:").expect("an in-memory database opens");
        conn.batch_execute("CREATE TABLE t (name TEXT); INSERT INTO t VALUES ('a'), ('b'), ('c');").expect("a table");
        let (text, names) = names_in(&mut conn, &["b"]);
        assert!(text.starts_with("SELECT name FROM t WHERE name = ? ORDER BY name"), "{text}");
        assert_eq!(names, ["b"]);
        let (text, names) = names_in(&mut conn, &["c", "a", "x"]);
        assert!(text.contains("name IN (SELECT value FROM json_each(?))"), "{text}");
        assert_eq!(names, ["a", "c"]);
        let (text, names) = names_in(&mut conn, &[]);
        assert!(text.contains("json_each"), "{text}");
        assert!(names.is_empty());
    }
}
