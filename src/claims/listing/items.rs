//! What a list item shows besides the claim: its first stating sources and
//! its counts, for a whole page in one query (window functions, which both
//! databases have), so a result row costs no card request.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

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
    #[diesel(sql_type = BigInt)]
    attribution_count: i64,
    #[diesel(sql_type = BigInt)]
    source_count: i64,
}

/// For each of these claims (that has attributions), its first
/// [`FIRST_SOURCES`] stating sources, earliest first (an attribution's own
/// `stated_on`, else its source's `published_on`; undated last; then by
/// title), each source once with its earliest attribution's quote status,
/// and how many attributions and distinct sources it has. One query.
/// `byte_order` is the dialect's clause that makes text compare byte by
/// byte, as partial dates must.
pub fn statings(
    conn: &mut DbConnection,
    claims: &[ClaimId],
    byte_order: &str,
) -> StoreResult<HashMap<ClaimId, Statings>> {
    let mut out: HashMap<ClaimId, Statings> = HashMap::new();
    if claims.is_empty() {
        return Ok(out);
    }
    let dated = "coalesce(attributions.stated_on, sources.published_on)";
    let mut sql = Sql::new();
    sql.push(
        "SELECT claim_id, source_id, title, publisher_name, published_on, quote_status, \
         attribution_count, source_count FROM (\
         SELECT per_source.*, \
         row_number() OVER (PARTITION BY claim_id ORDER BY dated IS NULL, dated",
    )
    .push(byte_order)
    .push(
        ", title, source_id) AS place, count(*) OVER (PARTITION BY claim_id) AS source_count FROM (\
         SELECT attributions.claim_id AS claim_id, attributions.source_id AS source_id, sources.title AS title, \
         publishers.name AS publisher_name, sources.published_on AS published_on, \
         attributions.quote_status AS quote_status, ",
    )
    .push(dated)
    .push(" AS dated, row_number() OVER (PARTITION BY attributions.claim_id, attributions.source_id ORDER BY ")
    .push(dated)
    .push(" IS NULL, ")
    .push(dated)
    .push(byte_order)
    .push(
        ", attributions.created_at, attributions.id) AS nth, \
         count(*) OVER (PARTITION BY attributions.claim_id) AS attribution_count \
         FROM attributions JOIN sources ON sources.id = attributions.source_id \
         LEFT JOIN agents AS publishers ON publishers.id = sources.publisher_id \
         WHERE attributions.claim_id IN (",
    );
    for (i, claim) in claims.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.text(claim.as_str());
    }
    sql.push(")) AS per_source WHERE nth = 1) AS ranked WHERE place <= ")
        .big_int(FIRST_SOURCES as i64)
        .push(" ORDER BY claim_id, place");
    let rows: Vec<StatingRow> = sql.load_any(conn)?;
    for row in rows {
        let entry = out.entry(row.claim_id).or_default();
        entry.attribution_count = row.attribution_count;
        entry.source_count = row.source_count;
        entry.sources.push(StatingSource {
            id: row.source_id,
            title: row.title,
            publisher_name: row.publisher_name,
            published_on: row.published_on,
            quote_status: row.quote_status,
        });
    }
    Ok(out)
}
