//! The queries behind provenance: the claim's attributions and the summaries
//! of what they name, and the reverse look-ups from a source or an agent to
//! its claims.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::Provenance;
use super::trail::Trail;
use crate::agents::model::AgentKind;
use crate::agents::store::AgentRow;
use crate::attributions::store as attribution_store;
use crate::claims::model::{AgentSummary, Claim, SourceSummary};
use crate::claims::store::{self as claim_store, ClaimRow};
use crate::db::refs::{self, Target};
use crate::db::schema::{agents, attributions, claims, sources};
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::{Page, decode_cursor, paginate};
use crate::sources::model::SourceKind;
use crate::sources::store::{self as source_store, SourceRow};
use crate::validate::PartialDate;

/// The claim's provenance graph, in five queries whatever its size: the
/// claim and its tags, its attributions, the sources on the trail, and the
/// agents (speakers and publishers) they name.
pub fn provenance(conn: &mut DbConnection, claim_id: &str, max_depth: i32) -> Result<Provenance, ApiError> {
    let claim = claim_store::get(conn, claim_id)?;
    let rows = attribution_store::of_claims(conn, &[claim_id.to_string()])?;
    let trail = Trail::walk(&rows, max_depth)?;
    let sources = source_store::by_ids(conn, &trail.source_ids())?;
    let agent_ids: BTreeSet<String> =
        trail.speaker_ids().into_iter().chain(sources.iter().filter_map(|s| s.publisher_id.clone())).collect();
    let agent_ids: Vec<String> = agent_ids.into_iter().collect();
    let agents: HashMap<String, AgentSummary> = agents::table
        .filter(agents::id.eq_any(&agent_ids))
        .select(AgentRow::as_select())
        .load::<AgentRow>(conn)?
        .into_iter()
        .map(|a| Ok((a.id.clone(), agent_summary(a)?)))
        .collect::<Result<_, ApiError>>()?;
    let sources: HashMap<String, SourceSummary> = sources
        .into_iter()
        .map(|s| Ok((s.id.clone(), source_summary(s, &agents)?)))
        .collect::<Result<_, ApiError>>()?;
    trail.into_provenance(claim, &sources, &agents)
}

fn agent_summary(agent: AgentRow) -> Result<AgentSummary, ApiError> {
    Ok(AgentSummary {
        id: db::uuid(&agent.id)?,
        kind: AgentKind::from_db(&agent.kind)?,
        name: agent.name,
        description: agent.description,
        anonymous: agent.anonymous,
    })
}

fn source_summary(source: SourceRow, agents: &HashMap<String, AgentSummary>) -> Result<SourceSummary, ApiError> {
    Ok(SourceSummary {
        id: db::uuid(&source.id)?,
        kind: SourceKind::from_db(&source.kind)?,
        title: source.title,
        url: source.url,
        published_on: PartialDate::from_db(source.published_on),
        publisher: source.publisher_id.and_then(|p| agents.get(&p).cloned()),
    })
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
