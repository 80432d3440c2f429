//! What a list item shows besides the claim: its first stating sources and
//! its counts, for a whole page in one query, so a result row costs no
//! card request.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text};

use super::sql::Sql;
use crate::claims::model::{FIRST_SOURCES, StatingSource};
use crate::db::DbConnection;
use crate::db::write::StoreResult;
use crate::ids::{ClaimId, SourceId};
use crate::quotes::QuoteStatus;
use crate::validate::PartialDate;

/// The stating sources and counts of some claims.
#[derive(Debug, Default, Clone)]
pub struct Statings {
    pub sources: Vec<StatingSource>,
    pub attribution_count: i64,
    pub source_count: i64,
}

#[derive(QueryableByName)]
struct StatingRow {
    #[diesel(sql_type = Text)]
    claim_id: ClaimId,
    #[diesel(sql_type = Text)]
    source_id: SourceId,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    publisher_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    published_on: Option<PartialDate>,
    #[diesel(sql_type = Nullable<Text>)]
    quote_status: Option<QuoteStatus>,
    /// The attribution's own date.
    #[diesel(sql_type = Nullable<Text>)]
    stated_on: Option<PartialDate>,
}

impl StatingRow {
    /// When the source stated the claim: the attribution's own date, else
    /// the source's.
    fn dated(&self) -> Option<&str> {
        self.stated_on.as_ref().or(self.published_on.as_ref()).map(PartialDate::as_str)
    }
}

/// For each of these claims (that has attributions), its first
/// [`FIRST_SOURCES`] stating sources, earliest first (an attribution's own
/// `stated_on`, else its source's `published_on`, compared as text byte by
/// byte, as partial dates must; undated last; then by title and id), each
/// source once with its earliest attribution's quote status, and how many
/// attributions and distinct sources it has. One query reads the claims'
/// attributions with their sources; the choosing is done here, which costs
/// a fraction of what window functions cost SQLite for the same rows.
pub fn statings(conn: &mut DbConnection, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, Statings>> {
    let mut out: HashMap<ClaimId, Statings> = HashMap::new();
    if claims.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::new();
    sql.push(
        "SELECT attributions.claim_id AS claim_id, attributions.source_id AS source_id, sources.title AS title, \
         publishers.name AS publisher_name, sources.published_on AS published_on, \
         attributions.quote_status AS quote_status, attributions.stated_on AS stated_on \
         FROM attributions JOIN sources ON sources.id = attributions.source_id \
         LEFT JOIN agents AS publishers ON publishers.id = sources.publisher_id \
         WHERE attributions.claim_id IN ",
    );
    sql.list(claims.iter().map(ClaimId::as_str));
    // The order in which a source's attributions of one claim were made:
    // of those with the same date, the first is kept.
    sql.push(" ORDER BY attributions.created_at, attributions.id");
    let rows: Vec<StatingRow> = sql.cached().load_any(conn)?;
    // Per claim, per source: its earliest attribution.
    let mut per_claim: HashMap<ClaimId, (i64, HashMap<SourceId, StatingRow>)> = HashMap::new();
    for row in rows {
        let (count, sources) = per_claim.entry(row.claim_id.clone()).or_default();
        *count += 1;
        match sources.get(&row.source_id) {
            Some(kept) if dated_order(kept) <= dated_order(&row) => {}
            _ => {
                sources.insert(row.source_id.clone(), row);
            }
        }
    }
    for (claim, (attribution_count, sources)) in per_claim {
        let source_count = sources.len() as i64;
        let mut sources: Vec<StatingRow> = sources.into_values().collect();
        sources.sort_by(|a, b| listed_order(a).cmp(&listed_order(b)));
        sources.truncate(FIRST_SOURCES);
        let sources = sources
            .into_iter()
            .map(|row| StatingSource {
                id: row.source_id,
                title: row.title,
                publisher_name: row.publisher_name,
                published_on: row.published_on,
                quote_status: row.quote_status,
            })
            .collect();
        out.insert(claim, Statings { sources, attribution_count, source_count });
    }
    Ok(out)
}

/// The order of a claim's sources: earliest first, undated last, then by
/// title and id.
fn listed_order(row: &StatingRow) -> (bool, Option<&str>, &str, &str) {
    (row.dated().is_none(), row.dated(), row.title.as_str(), row.source_id.as_str())
}

/// The order of a source's attributions of one claim, earliest first
/// (then as made: the rows come in that order).
fn dated_order(row: &StatingRow) -> (bool, Option<&str>) {
    (row.dated().is_none(), row.dated())
}
