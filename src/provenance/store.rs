//! The queries behind provenance: the claim's attributions and the summaries
//! of what they name, and the reverse look-ups from a source or an agent to
//! its claims.

use diesel::prelude::*;

use super::model::{ClaimsOfQuery, Provenance};
use super::trail::Trail;
use crate::attributions::store as attribution_store;
use crate::card::{self, Summaries};
use crate::claims::model::Claim;
use crate::claims::store::{self as claim_store, ClaimRow};
use crate::cursor::{self, newest_first};
use crate::db::refs::{self, Target};
use crate::db::schema::{attributions, claims, sources};
use crate::db::write::{StoreError, StoreResult};
use crate::db::{DbConnection, MultiBackend};
use crate::http::Page;
use crate::ids::{AgentId, ClaimId, SourceId};

/// The claim's provenance graph, in five queries whatever its size: the
/// claim and its tags, its attributions, the sources on the trail, and the
/// agents (speakers and publishers) they name.
pub fn provenance(conn: &mut DbConnection, claim_id: &ClaimId, max_depth: i32) -> StoreResult<Provenance> {
    let claim = claim_store::get(conn, claim_id)?;
    let rows = attribution_store::of_claims(conn, std::slice::from_ref(claim_id))?;
    let trail = Trail::walk(&rows, max_depth);
    let Summaries { sources, agents } = card::summaries(conn, &trail.source_ids(), trail.speaker_ids())?;
    trail.into_provenance(claim, &sources, &agents)
}

/// The claims a source states (it has an attribution of them), newest first.
pub fn claims_of_source(
    conn: &mut DbConnection,
    source_id: &SourceId,
    query: &ClaimsOfQuery,
    limit: i64,
) -> StoreResult<Page<Claim>> {
    if !refs::exists(conn, Target::Source, source_id.as_str())? {
        return Err(StoreError::NotFound("source"));
    }
    let stated = attributions::table.filter(attributions::source_id.eq(source_id)).select(attributions::claim_id);
    let select = claims::table.filter(claims::id.eq_any(stated)).into_boxed();
    page_of_claims(conn, select, &cursor::fingerprint(&("source", source_id, query)), query, limit)
}

/// The claims an agent says (as the speaker of an attribution) or publishes
/// (as the publisher of a source that states them), newest first.
pub fn claims_of_agent(
    conn: &mut DbConnection,
    agent_id: &AgentId,
    query: &ClaimsOfQuery,
    limit: i64,
) -> StoreResult<Page<Claim>> {
    if !refs::exists(conn, Target::Agent, agent_id.as_str())? {
        return Err(StoreError::NotFound("agent"));
    }
    let said = attributions::table.filter(attributions::speaker_id.eq(agent_id)).select(attributions::claim_id);
    let published = sources::table.filter(sources::publisher_id.eq(agent_id)).select(sources::id);
    let stated_in_published =
        attributions::table.filter(attributions::source_id.eq_any(published)).select(attributions::claim_id);
    let select = claims::table.filter(claims::id.eq_any(said).or(claims::id.eq_any(stated_in_published))).into_boxed();
    page_of_claims(conn, select, &cursor::fingerprint(&("agent", agent_id, query)), query, limit)
}

/// The table's own column order is `ClaimRow`'s field order.
type ClaimSelect<'a> = claims::BoxedQuery<'a, MultiBackend>;

/// One page, newest first, of the claims `select` picks, with their tags.
fn page_of_claims(
    conn: &mut DbConnection,
    select: ClaimSelect<'_>,
    fingerprint: &str,
    query: &ClaimsOfQuery,
    limit: i64,
) -> StoreResult<Page<Claim>> {
    let (rows, next_cursor) =
        newest_first!(conn, select, claims, ClaimRow, fingerprint, query.cursor.as_deref(), limit);
    Ok(Page { items: claim_store::with_tags(conn, rows)?, next_cursor })
}
