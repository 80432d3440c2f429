//! The provenance graph as the API shows it, and the parameters of its
//! requests.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::attributions::model::{Mode, Stance};
use crate::card::{AgentSummary, SourceSummary};
use crate::claims::model::{Claim, ClaimSort};
use crate::validate::text_enum;

/// The deepest `max_depth` a request may ask for. Real citation chains are a
/// handful of hops long; the cap keeps a request's answer (and its drawing)
/// bounded however the records are linked.
pub const MAX_DEPTH_CAP: i32 = 64;

/// How many citation hops a walk follows when the request does not say.
pub const DEFAULT_MAX_DEPTH: i32 = 16;

text_enum! {
    /// A representation of the provenance graph.
    Format {
        /// The graph as this API's JSON (`application/json`).
        Json = "json",
        /// The graph as a W3C PROV-JSON document (`application/prov+json`).
        ProvJson = "prov-json",
        /// The graph in Graphviz DOT (`text/vnd.graphviz`).
        Dot = "dot",
        /// The graph drawn as an SVG picture (`image/svg+xml`).
        Svg = "svg",
    }
}

impl Format {
    /// Every format, in the order the server prefers them when a client's
    /// `Accept` header likes several equally.
    pub const ALL: [Format; 4] = [Format::Json, Format::ProvJson, Format::Dot, Format::Svg];

    /// The media type the format is served as.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::ProvJson => "application/prov+json",
            Format::Dot => "text/vnd.graphviz",
            Format::Svg => "image/svg+xml",
        }
    }
}

/// Parameters of `GET /v1/claims/{id}/provenance`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProvenanceQuery {
    /// How many citation hops to follow from the sources where the claim is
    /// first read: 0 to 64, default 16.
    #[param(minimum = 0, maximum = 64)]
    pub max_depth: Option<i64>,
    /// The representation to answer with; wins over `Accept`.
    #[param(inline)]
    pub format: Option<Format>,
}

/// Parameters of the reverse look-ups (`/v1/sources/{id}/claims`,
/// `/v1/agents/{id}/claims`).
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClaimsOfQuery {
    /// Only claims where the agent or source has one of these roles,
    /// comma-separated (all roles when absent). An agent's roles:
    /// `speaker`, `publisher` (of a stating source), `cited_publisher` (of
    /// a source a stating source cites); a source's: `stating_source`,
    /// `cited_source`. A role the other kind has is a 400.
    pub role: Option<String>,
    /// Order of the list, as for `GET /v1/claims` but without `relevance`:
    /// `-created_at` (default), `created_at`, `period_start`,
    /// `-period_start`, `stated_on`, `-stated_on`.
    #[param(inline)]
    pub sort: Option<ClaimSort>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

text_enum! {
    /// What an edge of the provenance graph says.
    EdgeType {
        /// From the claim to a source where the trail starts: the source
        /// states the claim and no other source on record cites it for it.
        States = "states",
        /// From a source to the source it says it took the claim from.
        Cites = "cites",
        /// From a source to the person or organisation it gives as the
        /// speaker (for a citation: the speaker inside the cited source).
        Says = "says",
    }
}

/// A source on the trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceNode {
    #[serde(flatten)]
    pub source: SourceSummary,
    /// Citation hops from the nearest source where the trail starts (0 for
    /// those).
    pub depth: i32,
}

/// A node of the provenance graph: a source or a speaker.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    /// A document or statement on the trail.
    Source(SourceNode),
    /// A person or organisation the trail reaches as a speaker.
    Agent(AgentSummary),
}

impl Node {
    pub fn id(&self) -> Uuid {
        match self {
            Node::Source(s) => s.source.id.uuid(),
            Node::Agent(a) => a.id.uuid(),
        }
    }
}

/// One step of the trail, taken from one attribution. Every edge points
/// upstream: from what relays the claim towards where it came from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Edge {
    /// The claim's id for `states`; a source's id otherwise.
    pub from: Uuid,
    /// A source's id, or an agent's for `says`.
    pub to: Uuid,
    #[serde(rename = "type")]
    pub edge_type: EdgeType,
    /// The attribution this step comes from.
    pub attribution_id: Uuid,
    /// The attribution's mode.
    pub mode: Mode,
    /// The attribution's stance: only `affirms` steps carry support.
    pub stance: Stance,
}

text_enum! {
    /// Why a node is an origin of the claim.
    OriginReason {
        /// A source that asserts the claim on its own authority: its
        /// attribution names neither a cited source nor a speaker.
        OwnAuthority = "own_authority",
        /// A person or organisation a source quotes or paraphrases.
        Speaker = "speaker",
        /// A cited source with no attribution of the claim on record: the
        /// trail goes cold there, and counts as one origin.
        ColdTrail = "cold_trail",
    }
}

/// An origin of the claim: a node of the graph where a supporting trail ends.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Origin {
    /// A source: its title.
    Source { id: Uuid, title: String, why: OriginReason },
    /// A speaker: its name.
    Agent { id: Uuid, name: String, why: OriginReason },
}

impl Origin {
    /// The node the origin is.
    pub fn id(&self) -> Uuid {
        match self {
            Origin::Source { id, .. } | Origin::Agent { id, .. } => *id,
        }
    }
}

/// Where a claim comes from: the sources that state it, what they cite,
/// whom they quote, and where each trail ends.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Provenance {
    /// The claim whose trail this is.
    pub claim: Claim,
    /// Every source and speaker on the trail: sources by depth, then speakers.
    pub nodes: Vec<Node>,
    /// Every step, each from one attribution.
    pub edges: Vec<Edge>,
    /// Where the trails end, each judged at the attribution that ends it,
    /// with why it is an origin: a source that names neither a cited source
    /// nor a speaker (`own_authority`), a speaker (`speaker`), or a cited
    /// source with nothing on record (`cold_trail`, see `unresolved`). Only
    /// attributions with stance `affirms` make origins. In the order of
    /// `nodes`, whose entries they name by `id`.
    pub origins: Vec<Origin>,
    /// How many distinct origins: ten outlets repeating one report are one.
    pub independent_origins: usize,
    /// Cited sources that have no attribution of this claim on record: the
    /// trail goes cold there.
    pub unresolved: Vec<Uuid>,
    /// Who denies the claim: for each attribution with stance `denies`, its
    /// speaker, or its source when it names none.
    pub denials: Vec<Uuid>,
    /// Sources at `max_depth` whose citations were not followed.
    pub truncated: Vec<Uuid>,
    /// The deepest hop walked: the largest `depth` of a source in `nodes`.
    pub max_depth_reached: i32,
}
