//! The provenance graph as a W3C PROV-JSON document.
//!
//! The claim and the sources are entities; speakers and publishers are
//! agents. What a speaker said is an entity of its own (`speech:<attribution
//! id>`), attributed to the speaker, because PROV derives entities from
//! entities, not from agents. The steps map to PROV relations:
//! - `states` → `wasDerivedFrom(claim, source)`: the claim as recorded here is
//!   taken from the source;
//! - `cites` → `wasDerivedFrom(source, cited source)`;
//! - `says` → `wasAttributedTo(speech, speaker)` and
//!   `wasDerivedFrom(source, speech)`, a `prov:Quotation` (PROV's
//!   `wasQuotedFrom`) when the mode is `quote`;
//! - each origin → `wasDerivedFrom(claim, origin)` of type
//!   `prov:PrimarySource` (PROV's `hadPrimarySource`), the origin being a
//!   source or a speaker's speech;
//! - publishers → `wasAttributedTo(source, publisher)`.
//!
//! Relations that come from an attribution carry `ct:attribution`,
//! `ct:mode` and `ct:stance`: PROV has no notion of denial, so a denying
//! step is a derivation with `ct:stance` `denies`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::model::{EdgeType, Node, Provenance};
use crate::agents::model::AgentKind;
use crate::attributions::model::{Mode, Stance};
use crate::card::AgentSummary;

/// A PROV qualified-name value.
fn qualified_name(name: &str) -> Value {
    json!({"$": name, "type": "prov:QUALIFIED_NAME"})
}

fn agent_record(agent: &AgentSummary) -> Value {
    let kind = match agent.kind {
        AgentKind::Person => "prov:Person",
        AgentKind::Organization => "prov:Organization",
    };
    json!({"prov:type": qualified_name(kind), "prov:label": agent.name, "ct:anonymous": agent.anonymous})
}

/// Collects the records of one relation kind under blank-node ids.
struct Relations {
    prefix: &'static str,
    records: Map<String, Value>,
}

impl Relations {
    fn new(prefix: &'static str) -> Relations {
        Relations { prefix, records: Map::new() }
    }

    fn add(&mut self, record: Value) {
        let id = format!("_:{}{}", self.prefix, self.records.len() + 1);
        self.records.insert(id, record);
    }
}

/// The PROV-JSON document of the graph.
pub fn document(graph: &Provenance) -> Value {
    let claim = format!("claim:{}", graph.claim.id);
    let mut entities = Map::new();
    let mut agents = Map::new();
    let mut derivations = Relations::new("derivation");
    let mut attributions = Relations::new("attribution");

    entities.insert(
        claim.clone(),
        json!({
            "prov:type": qualified_name("ct:Claim"),
            "prov:label": graph.claim.text,
            "ct:status": graph.claim.status.as_str(),
        }),
    );
    let mut speakers: HashMap<Uuid, &AgentSummary> = HashMap::new();
    for node in &graph.nodes {
        match node {
            Node::Source(s) => {
                let source = &s.source;
                let mut record = json!({
                    "prov:type": qualified_name("ct:Source"),
                    "prov:label": source.title,
                    "ct:kind": source.kind.as_str(),
                    "ct:depth": s.depth,
                });
                if let Some(url) = &source.url {
                    record["prov:location"] = json!(url);
                }
                if let Some(date) = &source.published_on {
                    record["ct:publishedOn"] = json!(date.as_str());
                }
                entities.insert(format!("source:{}", source.id), record);
                if let Some(publisher) = &source.publisher {
                    agents.insert(format!("agent:{}", publisher.id), agent_record(publisher));
                    attributions.add(json!({
                        "prov:entity": format!("source:{}", source.id),
                        "prov:agent": format!("agent:{}", publisher.id),
                        "prov:role": "publisher",
                    }));
                }
            }
            Node::Agent(agent) => {
                agents.insert(format!("agent:{}", agent.id), agent_record(agent));
                speakers.insert(agent.id.uuid(), agent);
            }
        }
    }

    let origins: HashSet<Uuid> = graph.origins.iter().copied().collect();
    // Origins that are speakers: their affirming speeches, in edge order.
    let mut origin_speeches: BTreeMap<usize, String> = BTreeMap::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let step = |record: Value| {
            let mut record = record;
            record["ct:step"] = json!(edge.edge_type.as_str());
            record["ct:attribution"] = json!(format!("attribution:{}", edge.attribution_id));
            record["ct:mode"] = json!(edge.mode.as_str());
            record["ct:stance"] = json!(edge.stance.as_str());
            record
        };
        match edge.edge_type {
            EdgeType::States => derivations.add(step(json!({
                "prov:generatedEntity": claim,
                "prov:usedEntity": format!("source:{}", edge.to),
            }))),
            EdgeType::Cites => derivations.add(step(json!({
                "prov:generatedEntity": format!("source:{}", edge.from),
                "prov:usedEntity": format!("source:{}", edge.to),
            }))),
            EdgeType::Says => {
                let speech = format!("speech:{}", edge.attribution_id);
                let name = speakers.get(&edge.to).map_or("the speaker", |a| a.name.as_str());
                entities.insert(
                    speech.clone(),
                    json!({
                        "prov:type": qualified_name("ct:Speech"),
                        "prov:label": format!("What {name} said ({})", edge.mode.as_str()),
                    }),
                );
                attributions.add(step(json!({"prov:entity": speech, "prov:agent": format!("agent:{}", edge.to)})));
                let mut derivation = json!({
                    "prov:generatedEntity": format!("source:{}", edge.from),
                    "prov:usedEntity": speech,
                });
                if edge.mode == Mode::Quote {
                    derivation["prov:type"] = qualified_name("prov:Quotation");
                }
                derivations.add(step(derivation));
                if origins.contains(&edge.to) && edge.stance == Stance::Affirms {
                    origin_speeches.insert(i, speech);
                }
            }
        }
    }
    for origin in &graph.origins {
        let is_source = graph.nodes.iter().any(|n| matches!(n, Node::Source(s) if s.source.id.uuid() == *origin));
        if is_source {
            derivations.add(json!({
                "prov:generatedEntity": claim,
                "prov:usedEntity": format!("source:{origin}"),
                "prov:type": qualified_name("prov:PrimarySource"),
            }));
        }
    }
    for speech in origin_speeches.values() {
        derivations.add(json!({
            "prov:generatedEntity": claim,
            "prov:usedEntity": speech,
            "prov:type": qualified_name("prov:PrimarySource"),
        }));
    }

    let mut document = Map::new();
    document.insert(
        "prefix".to_string(),
        json!({
            "ct": "urn:claimtrail:ns#",
            "claim": "urn:claimtrail:claim:",
            "source": "urn:claimtrail:source:",
            "agent": "urn:claimtrail:agent:",
            "attribution": "urn:claimtrail:attribution:",
            "speech": "urn:claimtrail:speech:",
        }),
    );
    document.insert("entity".to_string(), Value::Object(entities));
    if !agents.is_empty() {
        document.insert("agent".to_string(), Value::Object(agents));
    }
    if !derivations.records.is_empty() {
        document.insert("wasDerivedFrom".to_string(), Value::Object(derivations.records));
    }
    if !attributions.records.is_empty() {
        document.insert("wasAttributedTo".to_string(), Value::Object(attributions.records));
    }
    Value::Object(document)
}

/// The schema of [`document`]'s output, for the OpenAPI document: PROV-JSON
/// as the W3C note lays it out (records keyed by their identifiers under
/// each kind), narrowed to what this API writes.
pub struct ProvDocument;

impl utoipa::ToSchema for ProvDocument {}

impl utoipa::PartialSchema for ProvDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, ObjectBuilder, Schema, Type};
        let typed = |t: Type| ObjectBuilder::new().schema_type(t);
        let closed = || Some(AdditionalProperties::<Schema>::FreeForm(false));
        let qualified_name = typed(Type::Object)
            .description(Some("A PROV qualified name, such as `prov:Person`."))
            .property("$", typed(Type::String).description(Some("The name, `prefix:local`.")))
            .property("type", typed(Type::String).enum_values(Some(["prov:QUALIFIED_NAME"])))
            .required("$")
            .required("type")
            .additional_properties(closed());
        let value = AnyOfBuilder::new()
            .description(Some("An attribute value: text, a number, a truth value or a qualified name."))
            .item(typed(Type::String))
            .item(typed(Type::Number))
            .item(typed(Type::Boolean))
            .item(qualified_name);
        let record = typed(Type::Object)
            .description(Some(
                "A record's attributes: PROV's (`prov:type`, `prov:label`, `prov:generatedEntity`, \
                `prov:usedEntity`, `prov:entity`, `prov:agent`, `prov:role`, `prov:location`) and this \
                API's (`ct:kind`, `ct:depth`, `ct:step`, `ct:attribution`, `ct:mode`, `ct:stance`, ...).",
            ))
            .additional_properties(Some(Schema::from(value)))
            .build();
        let records = |what: &str| {
            typed(Type::Object).description(Some(what)).additional_properties(Some(Schema::Object(record.clone())))
        };
        typed(Type::Object)
            .description(Some(
                "The provenance graph as a W3C PROV-JSON document (<https://www.w3.org/submissions/prov-json/>): \
                the claim, its sources and what speakers said are entities, speakers and publishers are agents; \
                `states`, `cites` and `says` steps are derivations (a speaker's words are an entity attributed \
                to the speaker), and each origin is a derivation of type `prov:PrimarySource`.",
            ))
            .property(
                "prefix",
                typed(Type::Object)
                    .description(Some("Namespace prefixes: `ct`, `claim`, `source`, `agent`, `attribution`, `speech`."))
                    .additional_properties(Some(Schema::from(typed(Type::String)))),
            )
            .property(
                "entity",
                records(
                    "The claim (`claim:<id>`), its sources (`source:<id>`) and speeches (`speech:<attribution id>`).",
                ),
            )
            .property("agent", records("Speakers and publishers (`agent:<id>`); absent when there are none."))
            .property(
                "wasDerivedFrom",
                records("Derivations, keyed by blank-node ids (`_:derivation1`); absent when there are none."),
            )
            .property(
                "wasAttributedTo",
                records(
                    "Attributions to agents, keyed by blank-node ids (`_:attribution1`); absent when there are none.",
                ),
            )
            .required("prefix")
            .required("entity")
            .additional_properties(closed())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    #[test]
    fn the_prov_json_schema_types_every_record_attribute() {
        let schema = serde_json::to_value(super::ProvDocument::schema()).unwrap();
        assert_eq!(schema["required"], serde_json::json!(["prefix", "entity"]));
        let value = &schema["properties"]["entity"]["additionalProperties"]["additionalProperties"];
        assert_eq!(value["anyOf"].as_array().map(Vec::len), Some(4), "{value}");
    }
}
