//! The claim card, a read model: a claim with every attribution and the
//! summaries of the sources, speakers and publishers they name, which is
//! what `GET /v1/claims/{id}` answers and what provenance graphs show.
//!
//! **Which changes change a card.** A claim's version (its ETag) follows
//! its card, so that `If-None-Match` never answers `304` for a card that
//! reads differently now. The claim's own fields and its attributions are
//! followed by their write paths ([`attributions_changed`]); agents and
//! sources by comparing what the card shows of them before and after the
//! write ([`agent_changed`], [`source_changed`]). Those compare the
//! summaries themselves, so a field added to [`AgentSummary`] or
//! [`SourceSummary`] is followed without another line anywhere. The card
//! shows the claim's reviews too (see [`reviews`]): every write of a review
//! changes its claim's card, whatever the review's status, as the desk's
//! view of the card shows drafts; and a reviewer or author is an agent the
//! card shows.

pub mod reviews;

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agents::model::AgentKind;
use crate::agents::store::AgentRow;
use crate::attributions::model::Attribution;
use crate::attributions::store::{self as attribution_store, AttributionRow};
use crate::claims::listing::sql::Sql;
use crate::claims::model::Claim;
use crate::claims::store as claim_store;
use crate::db::DbConnection;
use crate::db::schema::{agents, attributions, sources};
use crate::db::write::{StoreError, StoreResult, Tx};
use crate::ids::{AgentId, ClaimId, SourceId};
use crate::reviews::store as review_store;
use crate::sources::model::SourceKind;
use crate::sources::store::{self as source_store, SourceMeta};
use crate::validate::PartialDate;

/// A source as a claim card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SourceSummary {
    #[schema(value_type = Uuid)]
    pub id: SourceId,
    pub kind: SourceKind,
    pub title: String,
    #[schema(required = true)]
    pub url: Option<String>,
    #[schema(required = true)]
    pub published_on: Option<PartialDate>,
    /// The publisher, when known.
    #[schema(required = true)]
    pub publisher: Option<AgentSummary>,
}

/// An agent as a claim card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentSummary {
    #[schema(value_type = Uuid)]
    pub id: AgentId,
    pub kind: AgentKind,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    pub anonymous: bool,
}

/// One attribution of a claim card, with who and where.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CardAttribution {
    #[serde(flatten)]
    pub attribution: Attribution,
    /// The source that states the claim.
    pub source: SourceSummary,
    /// Who says it inside the source.
    #[schema(required = true)]
    pub speaker: Option<AgentSummary>,
    /// The source this one says it took the claim from.
    #[schema(required = true)]
    pub cited_source: Option<SourceSummary>,
}

/// A claim with every attribution, its source and speaker: everything a
/// claim card shows, in one response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimCard {
    #[serde(flatten)]
    pub claim: Claim,
    /// When the claim entered public discourse: the earliest date of its
    /// attributions (an attribution's own `stated_on`, else its source's
    /// `published_on`); null while no dated source states it.
    #[schema(required = true, value_type = Option<String>, example = "2025")]
    pub stated_on: Option<PartialDate>,
    pub attributions: Vec<CardAttribution>,
    /// The claim's published reviews, oldest first, each with its reviewer
    /// and author; with `?include=drafts` (a `write` key), drafts too.
    /// Withdrawn reviews are not on the card (`GET /v1/reviews?claim_id=…`
    /// lists them).
    pub reviews: Vec<reviews::CardReview>,
}

impl AgentSummary {
    /// What a card shows of an agent.
    pub fn of(agent: &AgentRow) -> AgentSummary {
        AgentSummary {
            id: agent.id.clone(),
            kind: agent.kind,
            name: agent.name.clone(),
            description: agent.description.clone(),
            anonymous: agent.anonymous,
        }
    }
}

impl SourceSummary {
    /// What a card shows of a source, its publisher's summary given.
    pub fn of(source: &SourceMeta, publisher: Option<AgentSummary>) -> SourceSummary {
        SourceSummary {
            id: source.id.clone(),
            kind: source.kind,
            title: source.title.clone(),
            url: source.url.clone(),
            published_on: source.published_on.clone(),
            publisher,
        }
    }
}

/// The card of a claim as the public sees it (published reviews only).
pub fn load(conn: &mut DbConnection, id: &ClaimId) -> StoreResult<ClaimCard> {
    load_with(conn, id, false)
}

/// The card of a claim, in five queries whatever the number of
/// attributions and reviews: the claim with its tags, its attributions, its
/// reviews (`drafts`: drafts too), the sources the attributions name and
/// the agents those and the reviews name.
///
/// On SQLite the five run in one read transaction, so they see one
/// snapshot: otherwise a write committed between two of them could show an
/// attribution whose source the next one no longer finds. (Its cost
/// measured as noise: `perf` put each statement's own read transaction at
/// about a tenth of the card's CPU, and one transaction in place of one per
/// statement showed no difference in cards per second.) On PostgreSQL they
/// still run each in its own snapshot (READ COMMITTED): a transaction there
/// costs two more round trips a card.
pub fn load_with(conn: &mut DbConnection, id: &ClaimId, drafts: bool) -> StoreResult<ClaimCard> {
    match conn {
        DbConnection::Sqlite(_) => crate::db::in_snapshot(conn, |conn| read(conn, id, drafts)),
        DbConnection::Pg(_) => read(conn, id, drafts),
    }
}

fn read(conn: &mut DbConnection, id: &ClaimId, drafts: bool) -> StoreResult<ClaimCard> {
    let (claim, stated_on) = claim_store::get_with_stated_on(conn, id)?;
    let rows = attribution_store::of_claims(conn, std::slice::from_ref(id))?;
    let review_rows = review_store::of_claims(conn, std::slice::from_ref(id), drafts)?;
    let (source_ids, mut agent_ids) = named_by(&rows);
    agent_ids.extend(reviews::agents_named_by(&review_rows));
    let summaries = summaries(conn, &source_ids, agent_ids)?;
    let attributions = with_summaries(rows, &summaries)?;
    let reviews = reviews::with_summaries(review_rows, &summaries.agents)?;
    Ok(ClaimCard { claim, stated_on, attributions, reviews })
}

/// The sources and the speakers that attributions name.
fn named_by(rows: &[AttributionRow]) -> (Vec<SourceId>, Vec<AgentId>) {
    let source_ids: Vec<SourceId> =
        rows.iter().flat_map(|r| std::iter::once(r.source_id.clone()).chain(r.cited_source_id.clone())).collect();
    let speaker_ids: Vec<AgentId> = rows.iter().filter_map(|r| r.speaker_id.clone()).collect();
    (source_ids, speaker_ids)
}

/// Attributions with the summaries of the sources and agents they name.
pub fn card_attributions(conn: &mut DbConnection, rows: Vec<AttributionRow>) -> StoreResult<Vec<CardAttribution>> {
    let (source_ids, speaker_ids) = named_by(&rows);
    let summaries = summaries(conn, &source_ids, speaker_ids)?;
    with_summaries(rows, &summaries)
}

/// Attributions with the summaries of what they name, all in `summaries`.
fn with_summaries(rows: Vec<AttributionRow>, summaries: &Summaries) -> StoreResult<Vec<CardAttribution>> {
    let Summaries { sources, agents } = summaries;
    let source_summary = |id: &SourceId| {
        sources.get(id).cloned().ok_or_else(|| StoreError::Broken(format!("an attribution names missing source {id}")))
    };
    rows.into_iter()
        .map(|row| {
            let source = source_summary(&row.source_id)?;
            let cited_source = row.cited_source_id.as_ref().map(&source_summary).transpose()?;
            let speaker = row.speaker_id.as_ref().and_then(|id| agents.get(id).cloned());
            Ok(CardAttribution { attribution: row.into_api(), source, speaker, cited_source })
        })
        .collect()
}

/// What claim cards and provenance graphs show of sources and agents, by id.
pub struct Summaries {
    pub sources: HashMap<SourceId, SourceSummary>,
    pub agents: HashMap<AgentId, AgentSummary>,
}

/// The summaries of these sources, of their publishers and of these
/// speakers, in two queries.
pub fn summaries(
    conn: &mut DbConnection,
    source_ids: &[SourceId],
    speaker_ids: impl IntoIterator<Item = AgentId>,
) -> StoreResult<Summaries> {
    let sources = source_store::metas(conn, source_ids)?;
    let agent_ids: BTreeSet<AgentId> =
        speaker_ids.into_iter().chain(sources.iter().filter_map(|s| s.publisher_id.clone())).collect();
    // One statement text for any number of agents, kept prepared.
    let mut sql = Sql::new();
    sql.push("SELECT ")
        .push(AgentRow::COLUMNS)
        .push(" FROM agents WHERE agents.id IN ")
        .list(agent_ids.iter().map(AgentId::as_str));
    let agents: HashMap<AgentId, AgentSummary> = sql
        .cached()
        .load_any::<AgentRow>(conn)?
        .iter()
        .map(|agent| (agent.id.clone(), AgentSummary::of(agent)))
        .collect();
    let sources = sources
        .iter()
        .map(|source| {
            let publisher = source.publisher_id.as_ref().and_then(|p| agents.get(p).cloned());
            (source.id.clone(), SourceSummary::of(source, publisher))
        })
        .collect();
    Ok(Summaries { sources, agents })
}

/// After an attribution was created, changed or deleted, or its quote
/// checked again: the cards of these claims changed.
pub fn attributions_changed(tx: &mut Tx, claim_ids: &[ClaimId], cause: &str) -> StoreResult<()> {
    claim_store::bump_versions(tx, claim_ids, cause)
}

/// After an agent was changed: when what cards show of it changed, every
/// card that shows it (as a speaker, or as the publisher of a source an
/// attribution states or cites) changed.
pub fn agent_changed(tx: &mut Tx, before: &AgentRow, after: &AgentRow) -> StoreResult<()> {
    if AgentSummary::of(before) == AgentSummary::of(after) {
        return Ok(());
    }
    let published = || sources::table.select(sources::id.nullable()).filter(sources::publisher_id.eq(&after.id));
    let showing: Vec<ClaimId> = attributions::table
        .select(attributions::claim_id)
        .filter(
            attributions::speaker_id
                .eq(&after.id)
                .or(attributions::source_id.nullable().eq_any(published()))
                .or(attributions::cited_source_id.eq_any(published())),
        )
        .distinct()
        .load(tx.conn)?;
    let showing = [showing, reviews::claims_naming(tx.conn, &after.id)?].concat();
    claim_store::bump_versions(tx, &showing, &format!("agent {} changed", after.id))
}

/// After a source was changed: when what cards show of it changed (its
/// publisher included), every card that shows it (as the source of an
/// attribution, or as the source one cites) changed.
pub fn source_changed(tx: &mut Tx, before: &SourceMeta, after: &SourceMeta) -> StoreResult<()> {
    let publisher_ids: Vec<AgentId> =
        [&before.publisher_id, &after.publisher_id].into_iter().flatten().cloned().collect();
    let publishers: HashMap<AgentId, AgentSummary> = agents::table
        .filter(agents::id.eq_any(&publisher_ids))
        .select(AgentRow::as_select())
        .load::<AgentRow>(tx.conn)?
        .iter()
        .map(|agent| (agent.id.clone(), AgentSummary::of(agent)))
        .collect();
    let summary = |source: &SourceMeta| {
        SourceSummary::of(source, source.publisher_id.as_ref().and_then(|p| publishers.get(p).cloned()))
    };
    if summary(before) == summary(after) {
        return Ok(());
    }
    let showing: Vec<ClaimId> = attributions::table
        .select(attributions::claim_id)
        .filter(attributions::source_id.eq(&after.id).or(attributions::cited_source_id.eq(&after.id)))
        .distinct()
        .load(tx.conn)?;
    claim_store::bump_versions(tx, &showing, &format!("source {} changed", after.id))
}

#[cfg(test)]
mod tests {
    use diesel::query_builder::QueryFragment;
    use diesel::sqlite::Sqlite;

    use super::*;
    use crate::db::schema::reviews;
    use crate::reviews::store::ReviewRow;

    /// The columns a query selects, as `table.column, …`.
    fn selected(query: impl QueryFragment<Sqlite>) -> String {
        let sql = diesel::debug_query::<Sqlite, _>(&query).to_string();
        let columns = sql.strip_prefix("SELECT ").and_then(|s| s.split(" FROM ").next()).unwrap_or_default();
        columns.replace('`', "")
    }

    #[test]
    fn the_column_lists_the_card_queries_are_written_with_are_the_rows_own() {
        assert_eq!(AgentRow::COLUMNS, selected(agents::table.select(AgentRow::as_select())));
        assert_eq!(SourceMeta::COLUMNS, selected(sources::table.select(SourceMeta::as_select())));
        assert_eq!(AttributionRow::COLUMNS, selected(attributions::table.select(AttributionRow::as_select())));
        assert_eq!(ReviewRow::COLUMNS, selected(reviews::table.select(ReviewRow::as_select())));
    }
}
