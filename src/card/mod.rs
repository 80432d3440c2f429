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

pub mod cache;
pub mod reviews;

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agents::model::AgentKind;
use crate::agents::store::AgentRow;
use crate::attributions::model::Attribution;
use crate::attributions::store::{self as attribution_store, AttributionRow};
use crate::claims::listing::sql::CLAIM_COLUMNS;
use crate::claims::listing::sql::Sql;
use crate::claims::model::Claim;
use crate::claims::store::{self as claim_store, ClaimRow};
use crate::db::DbConnection;
use crate::db::schema::{agents, attributions, sources};
use crate::db::write::{StoreError, StoreResult, Tx};
use crate::ids::{AgentId, ClaimId, SourceId};
use crate::reviews::store::{self as review_store, ReviewRow};
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

/// The card of a claim, in a fixed number of queries whatever the number
/// of attributions and reviews, all reading one snapshot, so that a write
/// committed meanwhile cannot show an attribution whose source a later
/// query no longer finds.
///
/// On SQLite, five queries in one read transaction: the claim with its
/// tags, its attributions, its reviews (`drafts`: drafts too), the sources
/// the attributions name and the agents those and the reviews name. (The
/// transaction's cost measured as noise: `perf` put each statement's own
/// read transaction at about a tenth of the card's CPU, and one
/// transaction in place of one per statement showed no difference in
/// cards per second.) On PostgreSQL, where each statement is a round trip,
/// the same five reads are one statement ([`read_in_one_statement`]).
pub fn load_with(conn: &mut DbConnection, id: &ClaimId, drafts: bool) -> StoreResult<ClaimCard> {
    match conn {
        DbConnection::Sqlite(_) => crate::db::in_snapshot(conn, |conn| read(conn, id, drafts)),
        DbConnection::Pg(_) => read_in_one_statement(conn, id, drafts),
    }
}

/// The card's five reads, one statement each (what SQLite runs; a test
/// holds PostgreSQL's one statement to it).
pub fn read(conn: &mut DbConnection, id: &ClaimId, drafts: bool) -> StoreResult<ClaimCard> {
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

/// The five reads of [`read`] as one PostgreSQL statement (one round trip
/// and one snapshot): each a common table expression with the same
/// columns, filters and order, the rows handed back as JSON arrays and
/// read into the same row types.
fn read_in_one_statement(conn: &mut DbConnection, id: &ClaimId, drafts: bool) -> StoreResult<ClaimCard> {
    let Parts { claim, stated_on, attributions, reviews, summaries } = parts_in_one_statement(conn, id, drafts)?;
    let attributions = with_summaries(attributions, &summaries)?;
    let reviews = reviews::with_summaries(reviews, &summaries.agents)?;
    Ok(ClaimCard { claim, stated_on, attributions, reviews })
}

/// What a card is made of, as read: the claim, its attribution and review
/// rows, and the summaries of every source and agent they name.
pub struct Parts {
    pub claim: Claim,
    pub stated_on: Option<PartialDate>,
    pub attributions: Vec<AttributionRow>,
    pub reviews: Vec<ReviewRow>,
    pub summaries: Summaries,
}

/// A card's [`Parts`] in one PostgreSQL statement (see
/// [`read_in_one_statement`]); provenance graphs read theirs this way too.
pub fn parts_in_one_statement(conn: &mut DbConnection, id: &ClaimId, drafts: bool) -> StoreResult<Parts> {
    let mut sql = Sql::new();
    sql.push("WITH a AS (SELECT ")
        .push(AttributionRow::COLUMNS)
        .push(" FROM attributions WHERE attributions.claim_id = ")
        .text(id.as_str())
        .push("), r AS (SELECT ")
        .push(ReviewRow::COLUMNS)
        .push(" FROM reviews WHERE reviews.claim_id = ")
        .text(id.as_str())
        .push(" AND reviews.status")
        .in_list(review_store::shown(drafts).iter().map(|s| s.as_str()))
        .push("), s AS (SELECT ")
        .push(SourceMeta::COLUMNS)
        .push(" FROM sources WHERE sources.id IN (SELECT source_id FROM a UNION SELECT cited_source_id FROM a)")
        .push("), g AS (SELECT ")
        .push(AgentRow::COLUMNS)
        .push(
            " FROM agents WHERE agents.id IN (SELECT speaker_id FROM a UNION SELECT publisher_id FROM s \
             UNION SELECT reviewer_id FROM r UNION SELECT author_id FROM r)",
        )
        .push("), c AS (SELECT ")
        .push(CLAIM_COLUMNS)
        .push(
            ", (SELECT coalesce(json_agg(tag), '[]') FROM claim_tags \
             WHERE claim_tags.claim_id = claims.id) AS tags FROM claims WHERE claims.id = ",
        )
        .text(id.as_str())
        .push(
            ") SELECT (SELECT CAST(row_to_json(c) AS text) FROM c) AS claim, \
             (SELECT CAST(coalesce(json_agg(a ORDER BY a.created_at, a.id), '[]') AS text) FROM a) AS attributions, \
             (SELECT CAST(coalesce(json_agg(r ORDER BY r.created_at, r.id), '[]') AS text) FROM r) AS reviews, \
             (SELECT CAST(coalesce(json_agg(s), '[]') AS text) FROM s) AS sources, \
             (SELECT CAST(coalesce(json_agg(g), '[]') AS text) FROM g) AS agents",
        );
    let row = sql.cached().load_any::<CardJson>(conn)?.pop().ok_or(StoreError::NotFound("claim"))?;
    let claim: ClaimJson = decode(id, "claim", &row.claim.ok_or(StoreError::NotFound("claim"))?)?;
    let rows: Vec<AttributionRow> = decode(id, "attributions", &row.attributions)?;
    let review_rows: Vec<ReviewRow> = decode(id, "reviews", &row.reviews)?;
    let sources: Vec<SourceMeta> = decode(id, "sources", &row.sources)?;
    let agents: Vec<AgentRow> = decode(id, "agents", &row.agents)?;
    Ok(Parts {
        claim: claim.row.into_api(claim.tags),
        stated_on: claim.stated_on,
        attributions: rows,
        reviews: review_rows,
        summaries: summaries_of(&sources, &agents),
    })
}

/// A claim, its attribution rows and the summaries of every source and
/// agent they name: what a provenance graph and ClaimReview's description
/// of a claim are drawn from. On SQLite five queries (the claim, its tags,
/// its attributions, their sources, the agents); on PostgreSQL, where each
/// is a round trip, the card's one statement ([`parts_in_one_statement`]).
pub fn claim_with_attributions(
    conn: &mut DbConnection,
    id: &ClaimId,
) -> StoreResult<(Claim, Vec<AttributionRow>, Summaries)> {
    if let DbConnection::Pg(_) = conn {
        let Parts { claim, attributions, summaries, .. } = parts_in_one_statement(conn, id, false)?;
        return Ok((claim, attributions, summaries));
    }
    let claim = claim_store::get(conn, id)?;
    let rows = attribution_store::of_claims(conn, std::slice::from_ref(id))?;
    let (source_ids, speaker_ids) = named_by(&rows);
    let summaries = summaries(conn, &source_ids, speaker_ids)?;
    Ok((claim, rows, summaries))
}

/// The card's reads as [`read_in_one_statement`] gets them: JSON, one
/// column each (`claim` is null when there is no such claim).
#[derive(QueryableByName)]
struct CardJson {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    claim: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    attributions: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    reviews: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sources: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    agents: String,
}

/// The claim's row, its `stated_on` and its tags, as one JSON object.
#[derive(Deserialize)]
struct ClaimJson {
    #[serde(flatten)]
    row: ClaimRow,
    #[serde(deserialize_with = "crate::validate::stored_partial_date")]
    stated_on: Option<PartialDate>,
    tags: Vec<String>,
}

fn decode<T: serde::de::DeserializeOwned>(id: &ClaimId, what: &str, json: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| {
        let start: String = json.chars().take(200).collect();
        StoreError::Broken(format!("the card of claim {id}: its {what} read back as {start}…: {e}"))
    })
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
        .push(" FROM agents WHERE agents.id")
        .in_list(agent_ids.iter().map(AgentId::as_str));
    let agents: Vec<AgentRow> = sql.cached().load_any::<AgentRow>(conn)?;
    Ok(summaries_of(&sources, &agents))
}

/// The summaries of these sources (with their publishers, when among
/// `agents`) and of these agents.
fn summaries_of(sources: &[SourceMeta], agents: &[AgentRow]) -> Summaries {
    let agents: HashMap<AgentId, AgentSummary> =
        agents.iter().map(|agent| (agent.id.clone(), AgentSummary::of(agent))).collect();
    let sources = sources
        .iter()
        .map(|source| {
            let publisher = source.publisher_id.as_ref().and_then(|p| agents.get(p).cloned());
            (source.id.clone(), SourceSummary::of(source, publisher))
        })
        .collect();
    Summaries { sources, agents }
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
