//! What a list item shows besides the claim: its first stating sources and
//! its counts, for a whole page in one query, so a result row costs no
//! card request.
//!
//! They are read, not computed: the `claim_statings` table holds one row
//! per claim that has attributions, with the counts and the first
//! [`FIRST_SOURCES`] sources as the JSON array the item carries, kept by
//! triggers on attributions, sources and agents (both backends, migration
//! `2026-12-02-000070_claim_statings`, where the choosing and ordering of
//! the sources is written). Choosing them here from every attribution of
//! the page's claims cost a third of a page's time at a million claims.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use super::sql::Sql;
#[cfg(doc)]
use crate::claims::model::FIRST_SOURCES;
use crate::claims::model::FirstSources;
use crate::db::DbConnection;
use crate::db::write::{StoreError, StoreResult};
use crate::ids::ClaimId;

/// The stating sources and counts of some claims.
#[derive(Debug, Default, Clone)]
pub struct Statings {
    pub sources: FirstSources,
    pub attribution_count: i64,
    pub source_count: i64,
}

#[derive(QueryableByName)]
struct StatingsRow {
    #[diesel(sql_type = Text)]
    claim_id: ClaimId,
    #[diesel(sql_type = BigInt)]
    attribution_count: i64,
    #[diesel(sql_type = BigInt)]
    source_count: i64,
    /// A JSON array of [`crate::claims::model::StatingSource`]s.
    #[diesel(sql_type = Text)]
    first_sources: String,
}

/// For each of these claims that has attributions, its first
/// [`FIRST_SOURCES`] stating sources, earliest first (undated last), each
/// source once with its earliest attribution's quote status, and how many
/// attributions and distinct sources it has. A claim without attributions
/// is not in the map.
pub fn statings(conn: &mut DbConnection, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, Statings>> {
    if claims.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = Sql::new();
    sql.push("SELECT claim_id, attribution_count, source_count, first_sources FROM claim_statings WHERE claim_id");
    sql.in_list(claims.iter().map(ClaimId::as_str));
    let rows: Vec<StatingsRow> = sql.cached().load_any(conn)?;
    rows.into_iter()
        .map(|row| {
            let sources = FirstSources::from_stored(row.first_sources).map_err(|e| {
                StoreError::Broken(format!("claim {} has first sources that are not JSON: {e}", row.claim_id))
            })?;
            let statings =
                Statings { sources, attribution_count: row.attribution_count, source_count: row.source_count };
            Ok((row.claim_id, statings))
        })
        .collect()
}
