//! The queries behind provenance: the claim's attributions and the summaries
//! of what they name, and the reverse look-ups from a source or an agent to
//! its claims.

use super::model::{ClaimsOfQuery, Provenance};
use super::trail::Trail;
use crate::card::{self, Summaries};
use crate::claims::listing::{
    self,
    backing::{Backer, Backing},
};
use crate::claims::model::BackedClaim;
use crate::cursor;
use crate::db::DbConnection;
use crate::db::refs::{self, Target};
use crate::db::write::{StoreError, StoreResult};
use crate::http::Page;
use crate::ids::{AgentId, ClaimId, SourceId};

/// The claim's provenance graph, in a fixed number of queries whatever its
/// size (see [`card::claim_with_attributions`]).
pub fn provenance(conn: &mut DbConnection, claim_id: &ClaimId, max_depth: i32) -> StoreResult<Provenance> {
    let (claim, rows, Summaries { sources, agents }) = card::claim_with_attributions(conn, claim_id)?;
    Trail::walk(&rows, max_depth).into_provenance(claim, &sources, &agents)
}

/// The claims a source states or is cited for, in the roles `query` asks
/// for, each with its roles.
pub fn claims_of_source(
    conn: &mut DbConnection,
    source_id: &SourceId,
    query: &ClaimsOfQuery,
    limit: i64,
) -> StoreResult<Page<BackedClaim>> {
    if !refs::exists(conn, Target::Source, source_id.as_str())? {
        return Err(StoreError::NotFound("source"));
    }
    let backing = Backing::new(Backer::Source(source_id.clone()), query.role.as_deref())?;
    let fingerprint = cursor::fingerprint(&("source", source_id, query));
    listing::list_backed(conn, backing, query.sort, query.cursor.as_deref(), fingerprint, limit)
}

/// The claims an agent says, publishes, or publishes a cited source of, in
/// the roles `query` asks for, each with its roles.
pub fn claims_of_agent(
    conn: &mut DbConnection,
    agent_id: &AgentId,
    query: &ClaimsOfQuery,
    limit: i64,
) -> StoreResult<Page<BackedClaim>> {
    if !refs::exists(conn, Target::Agent, agent_id.as_str())? {
        return Err(StoreError::NotFound("agent"));
    }
    let backing = Backing::new(Backer::Agent(agent_id.clone()), query.role.as_deref())?;
    let fingerprint = cursor::fingerprint(&("agent", agent_id, query));
    listing::list_backed(conn, backing, query.sort, query.cursor.as_deref(), fingerprint, limit)
}
