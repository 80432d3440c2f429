//! Reviews as schema.org ClaimReview (JSON-LD), the claim they review
//! described from its provenance.
//!
//! **appearance** is every source that states the claim (an attribution
//! with stance `affirms`; sources that deny or question it are not where
//! it was made), each a CreativeWork whose `@id` is its URL, or
//! `urn:uuid:<source id>` without one, with its title, date and publisher.
//! A source that says it took the claim from another carries `isBasedOn`,
//! that source.
//!
//! **firstAppearance** is the earliest-dated *origin* of the claim's
//! provenance trail (where supporting trails end: a source asserting the
//! claim on its own authority, a cited source with nothing on record, or,
//! for a speaker, the source the speaker spoke in). Not the outlet a
//! reader met first: ten outlets relaying one report appear ten times,
//! and first appeared in the report. Dates are the sources' `published_on`,
//! partial dates compared by the first day they can mean ("2025" is
//! 2025-01-01); on a tie the more precise date comes first (it is known to
//! be that day; the year could be any of it), then the origin deeper in the
//! trail (further upstream), then the source id, so the choice is the same
//! on every call. Undated origins come after dated ones; a claim whose
//! trail has no origin has no firstAppearance.
//!
//! The Claim's **author** is the speaker when the supporting attributions
//! name exactly one; its **datePublished** is the firstAppearance's date,
//! or else the earliest appearance's.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::agents::model::AgentKind;
use crate::agents::store::AgentRow;
use crate::attributions::model::Stance;
use crate::card::{self, AgentSummary, SourceSummary, Summaries};
use crate::claims::model::Claim;
use crate::db::DbConnection;
use crate::db::schema::agents;
use crate::db::write::{StoreError, StoreResult};
use crate::ids::{AgentId, ClaimId, SourceId};
use crate::provenance::model::{EdgeType, MAX_DEPTH_CAP, Node, Provenance};
use crate::provenance::trail::Trail;
use crate::reviews::store::ReviewRow;
use crate::sources::model::SourceKind;
use crate::validate::PartialDate;

/// The schema.org context every document names.
pub const CONTEXT: &str = "https://schema.org";

/// A fact-checking review as schema.org ClaimReview, in JSON-LD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimReviewDoc {
    /// Always `https://schema.org`.
    #[serde(rename = "@context")]
    pub context: String,
    /// Always `ClaimReview`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// `urn:uuid:<review id>`.
    #[serde(rename = "@id")]
    pub id: String,
    /// The article that explains the verdict (the review's `url`).
    pub url: String,
    /// The claim's text.
    pub claim_reviewed: String,
    pub review_rating: RatingDoc,
    /// The reviewer: the fact-checking organisation.
    pub author: AgentDoc,
    /// The person who wrote the review, when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub creator: Option<AgentDoc>,
    /// The review's `published_on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub date_published: Option<String>,
    /// The review's `language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub in_language: Option<String>,
    /// The review's `summary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub review_body: Option<String>,
    pub item_reviewed: ClaimDoc,
}

/// schema.org `Rating`: the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatingDoc {
    /// Always `Rating`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// The textual verdict (the review's `rating.label`).
    pub alternate_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rating_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub best_rating: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub worst_rating: Option<f64>,
}

/// A person or organisation (schema.org `Person` or `Organization`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentDoc {
    /// `Organization` or `Person`.
    #[serde(rename = "@type")]
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    /// The agent's Wikidata item, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub same_as: Option<String>,
}

/// The claim reviewed (schema.org `Claim`), described from its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimDoc {
    /// Always `Claim`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// `urn:uuid:<claim id>`.
    #[serde(rename = "@id")]
    pub id: String,
    /// The speaker, when the attributions that support the claim name
    /// exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub author: Option<AgentDoc>,
    /// When the claim was first made: the date of `firstAppearance`, or
    /// else of the earliest appearance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub date_published: Option<String>,
    /// Every source that states the claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appearance: Vec<WorkDoc>,
    /// The earliest-dated origin of the claim's provenance trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub first_appearance: Option<WorkDoc>,
}

/// A source (a schema.org `CreativeWork` or one of its types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkDoc {
    /// `Article`, `Report`, `Dataset`, `BroadcastEvent`,
    /// `SocialMediaPosting`, `WebPage` or `CreativeWork`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// The source's URL, or `urn:uuid:<source id>` when it has none.
    #[serde(rename = "@id")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    /// The source's title.
    pub name: String,
    /// `statement` or `interview`, kinds of source schema.org has no type for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub genre: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub date_published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub publisher: Option<AgentDoc>,
    /// The source this one says it took the claim from (`cited_source_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, no_recursion)]
    pub is_based_on: Option<Box<WorkDoc>>,
}

/// The schema.org type of a source kind, and the `genre` that tells the
/// kinds schema.org has no type for.
pub fn work_type(kind: SourceKind) -> (&'static str, Option<&'static str>) {
    match kind {
        SourceKind::Article => ("Article", None),
        SourceKind::Report => ("Report", None),
        SourceKind::Dataset => ("Dataset", None),
        SourceKind::Broadcast => ("BroadcastEvent", None),
        SourceKind::SocialPost => ("SocialMediaPosting", None),
        SourceKind::WebPage => ("WebPage", None),
        SourceKind::Statement => ("CreativeWork", Some("statement")),
        SourceKind::Interview => ("CreativeWork", Some("interview")),
        SourceKind::Other => ("CreativeWork", None),
    }
}

fn agent_type(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::Person => "Person",
        AgentKind::Organization => "Organization",
    }
}

fn urn(id: Uuid) -> String {
    format!("urn:uuid:{id}")
}

/// A source's `@id`: its URL, or its id as a URN.
pub fn work_id(source: &SourceSummary) -> String {
    source.url.clone().unwrap_or_else(|| urn(source.id.uuid()))
}

fn agent_doc(agent: &AgentRow) -> AgentDoc {
    AgentDoc {
        kind: agent_type(agent.kind).to_string(),
        name: agent.name.clone(),
        url: agent.url.clone(),
        same_as: agent.wikidata_id.as_ref().map(|q| format!("https://www.wikidata.org/wiki/{q}")),
    }
}

fn summary_doc(agent: &AgentSummary) -> AgentDoc {
    AgentDoc { kind: agent_type(agent.kind).to_string(), name: agent.name.clone(), url: None, same_as: None }
}

/// The origins of a trail, as ids. (Kept to one accessor: what an origin
/// holds may grow.)
fn origin_ids(provenance: &Provenance) -> Vec<Uuid> {
    provenance.origins.iter().map(crate::provenance::model::Origin::id).collect()
}

/// The claim as ClaimReview's `itemReviewed` describes it, and its text.
pub struct Reviewed {
    pub claim: Claim,
    pub item: ClaimDoc,
}

/// The claim reviewed, described from its trail (read by
/// [`card::claim_with_attributions`]).
pub fn reviewed(conn: &mut DbConnection, claim_id: &ClaimId) -> StoreResult<Reviewed> {
    let (claim, rows, Summaries { sources, agents }) = card::claim_with_attributions(conn, claim_id)?;
    let trail = Trail::walk(&rows, MAX_DEPTH_CAP);
    let supporting: Vec<_> = rows.iter().filter(|r| r.stance == Stance::Affirms).collect();
    let mut appearing: Vec<SourceId> = Vec::new();
    for row in &supporting {
        if !appearing.contains(&row.source_id) {
            appearing.push(row.source_id.clone());
        }
    }
    let provenance = trail.into_provenance(claim.clone(), &sources, &agents)?;
    let missing = |id: &SourceId| StoreError::Broken(format!("an attribution names missing source {id}"));

    // What each appearance says it took the claim from.
    let mut based_on: HashMap<&SourceId, &SourceId> = HashMap::new();
    for row in &supporting {
        if let Some(cited) = &row.cited_source_id {
            based_on.entry(&row.source_id).or_insert(cited);
        }
    }
    let appears: BTreeSet<&SourceId> = appearing.iter().collect();
    let work = |id: &SourceId, nested: bool| -> StoreResult<WorkDoc> {
        let source = sources.get(id).ok_or_else(|| missing(id))?;
        let mut doc = work_doc(source);
        if !nested && let Some(cited) = based_on.get(id) {
            let cited_source = sources.get(*cited).ok_or_else(|| missing(cited))?;
            // An appearance is in the document anyway: name it; anything
            // else is described where it is cited.
            doc.is_based_on = Some(Box::new(if appears.contains(cited) {
                WorkDoc { is_based_on: None, ..work_doc(cited_source) }
            } else {
                work_doc(cited_source)
            }));
        }
        Ok(doc)
    };
    let appearance = appearing.iter().map(|id| work(id, false)).collect::<StoreResult<Vec<_>>>()?;
    let first = first_appearance(&provenance);
    let first_appearance = first.as_ref().map(|source| work(&source.id, false)).transpose()?;

    let speakers: BTreeSet<&AgentId> = supporting.iter().filter_map(|r| r.speaker_id.as_ref()).collect();
    let author = match speakers.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => agents.get(*one).map(summary_doc),
        _ => None,
    };
    let earliest_appearance =
        appearing.iter().filter_map(|id| sources.get(id).and_then(|s| s.published_on.clone())).min_by_key(date_order);
    let date_published =
        first.and_then(|s| s.published_on).or(earliest_appearance).map(|date| date.as_str().to_string());
    let item = ClaimDoc {
        kind: "Claim".to_string(),
        id: urn(claim.id.uuid()),
        author,
        date_published,
        appearance,
        first_appearance,
    };
    Ok(Reviewed { claim, item })
}

fn work_doc(source: &SourceSummary) -> WorkDoc {
    let (kind, genre) = work_type(source.kind);
    WorkDoc {
        kind: kind.to_string(),
        id: work_id(source),
        url: source.url.clone(),
        name: source.title.clone(),
        genre: genre.map(str::to_string),
        date_published: source.published_on.as_ref().map(|d| d.as_str().to_string()),
        publisher: source.publisher.as_ref().map(summary_doc),
        is_based_on: None,
    }
}

/// How partial dates order: by the first day they can mean, then the more
/// precise first.
fn date_order(date: &PartialDate) -> (String, std::cmp::Reverse<usize>) {
    (date.earliest(), std::cmp::Reverse(date.as_str().len()))
}

/// The earliest-dated origin of the trail (see the module's doc), as the
/// source it appeared in.
fn first_appearance(provenance: &Provenance) -> Option<SourceSummary> {
    let mut candidates: Vec<(SourceSummary, i32)> = Vec::new();
    let source_node = |id: Uuid| {
        provenance.nodes.iter().find_map(|node| match node {
            Node::Source(s) if s.source.id.uuid() == id => Some((s.source.clone(), s.depth)),
            _ => None,
        })
    };
    for origin in origin_ids(provenance) {
        if let Some(found) = source_node(origin) {
            candidates.push(found);
            continue;
        }
        // A speaker: the sources the trail reaches them in.
        let spoken_in = provenance.edges.iter().filter(|e| e.edge_type == EdgeType::Says && e.to == origin);
        candidates.extend(spoken_in.filter_map(|edge| source_node(edge.from)));
    }
    candidates
        .into_iter()
        .min_by_key(|(source, depth)| {
            let date = source.published_on.as_ref().map(date_order);
            (date.is_none(), date, std::cmp::Reverse(*depth), source.id.clone())
        })
        .map(|(source, _)| source)
}

/// The ClaimReview of one review of the claim `reviewed` describes; the
/// agents it names are in `agents`.
pub fn document(
    review: &ReviewRow,
    reviewed: &Reviewed,
    agents: &HashMap<AgentId, AgentRow>,
) -> StoreResult<ClaimReviewDoc> {
    let agent = |id: &AgentId| {
        agents.get(id).map(agent_doc).ok_or_else(|| StoreError::Broken(format!("a review names missing agent {id}")))
    };
    Ok(ClaimReviewDoc {
        context: CONTEXT.to_string(),
        kind: "ClaimReview".to_string(),
        id: urn(review.id.uuid()),
        url: review
            .url
            .clone()
            .ok_or_else(|| StoreError::Broken(format!("published review {} has no url", review.id)))?,
        claim_reviewed: reviewed.claim.text.clone(),
        review_rating: RatingDoc {
            kind: "Rating".to_string(),
            alternate_name: review.rating_label.clone(),
            rating_value: review.rating_value,
            best_rating: review.rating_best,
            worst_rating: review.rating_worst,
        },
        author: agent(&review.reviewer_id)?,
        creator: review.author_id.as_ref().map(agent).transpose()?,
        date_published: review.published_on.as_ref().map(|d| d.as_str().to_string()),
        in_language: review.language.clone(),
        review_body: review.summary.clone(),
        item_reviewed: reviewed.item.clone(),
    })
}

/// The reviewers and authors of these reviews, by id (one query).
pub fn agents_of(conn: &mut DbConnection, reviews: &[ReviewRow]) -> StoreResult<HashMap<AgentId, AgentRow>> {
    let ids: BTreeSet<AgentId> = card::reviews::agents_named_by(reviews).into_iter().collect();
    Ok(agents::table
        .filter(agents::id.eq_any(&ids))
        .select(AgentRow::as_select())
        .load::<AgentRow>(conn)?
        .into_iter()
        .map(|agent| (agent.id.clone(), agent))
        .collect())
}
