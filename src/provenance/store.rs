//! The queries behind provenance: the claim's attributions and the summaries
//! of what they name, and the reverse look-ups from a source or an agent to
//! its claims.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::Provenance;
use super::trail::Trail;
use crate::attributions::store as attribution_store;
use crate::claims::model::Claim;
use crate::claims::store::{self as claim_store, ClaimRow, Summaries};
use crate::db::refs::{self, Target};
use crate::db::schema::{attributions, claims, sources};
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::{Page, decode_cursor, paginate};

/// The claim's provenance graph, in five queries whatever its size: the
/// claim and its tags, its attributions, the sources on the trail, and the
/// agents (speakers and publishers) they name.
pub fn provenance(conn: &mut DbConnection, claim_id: &str, max_depth: i32) -> Result<Provenance, ApiError> {
    let claim = claim_store::get(conn, claim_id)?;
    let rows = attribution_store::of_claims(conn, &[claim_id.to_string()])?;
    let trail = Trail::walk(&rows, max_depth)?;
    let Summaries { sources, agents } = claim_store::summaries(conn, &trail.source_ids(), trail.speaker_ids())?;
    trail.into_provenance(claim, &sources, &agents)
}

/// The claims a source states (it has an attribution of them), newest first.
pub fn claims_of_source(
    conn: &mut DbConnection,
    source_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<Claim>, ApiError> {
    if !refs::exists(conn, Target::Source, source_id)? {
        return Err(ApiError::not_found("source"));
    }
    let stated =
        attributions::table.filter(attributions::source_id.eq(source_id.to_string())).select(attributions::claim_id);
    page_of_claims(conn, claims::table.filter(claims::id.eq_any(stated)).into_boxed(), cursor, limit)
}

/// The claims an agent says (as the speaker of an attribution) or publishes
/// (as the publisher of a source that states them), newest first.
pub fn claims_of_agent(
    conn: &mut DbConnection,
    agent_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<Claim>, ApiError> {
    if !refs::exists(conn, Target::Agent, agent_id)? {
        return Err(ApiError::not_found("agent"));
    }
    let said =
        attributions::table.filter(attributions::speaker_id.eq(agent_id.to_string())).select(attributions::claim_id);
    let published = sources::table.filter(sources::publisher_id.eq(agent_id.to_string())).select(sources::id);
    let stated_in_published =
        attributions::table.filter(attributions::source_id.eq_any(published)).select(attributions::claim_id);
    let select = claims::table.filter(claims::id.eq_any(said).or(claims::id.eq_any(stated_in_published))).into_boxed();
    page_of_claims(conn, select, cursor, limit)
}

type ClaimSelect<'a> = claims::BoxedQuery<'a, db::MultiBackend>;

/// One page, newest first, of the claims `select` picks, with their tags.
fn page_of_claims(
    conn: &mut DbConnection,
    mut select: ClaimSelect<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<Claim>, ApiError> {
    if let Some(cursor) = cursor {
        let (at, id): (NaiveDateTime, String) = decode_cursor(cursor)?;
        select = select.filter(claims::created_at.lt(at).or(claims::created_at.eq(at).and(claims::id.lt(id))));
    }
    // The table's own column order is ClaimRow's field order.
    let rows: Vec<ClaimRow> =
        select.order((claims::created_at.desc(), claims::id.desc())).limit(limit + 1).load(conn)?;
    let (rows, next_cursor) = paginate(rows, limit, |r: &ClaimRow| (r.created_at, r.id.clone()));
    Ok(Page { items: claim_store::with_tags(conn, rows)?, next_cursor })
}
