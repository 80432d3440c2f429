use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::Connection;
use diesel::connection::InstrumentationEvent;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_fields, problem};
use crate::on_both_backends;

async fn source(app: &TestApp, title: &str) -> String {
    let source = app.create("/v1/sources", json!({"kind": "article", "title": title})).await;
    source["id"].as_str().unwrap().to_string()
}

async fn claim(app: &TestApp, text: &str) -> String {
    app.create_claim(text).await["id"].as_str().unwrap().to_string()
}

/// An attribution of `claim` in `source`: `direct` unless `extra` says
/// otherwise.
async fn attribute(app: &TestApp, claim: &str, source: &str, extra: Value) -> String {
    let mut body = json!({"claim_id": claim, "source_id": source, "mode": "direct"});
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    app.create_attribution(body).await["id"].as_str().unwrap().to_string()
}

async fn cite(app: &TestApp, claim: &str, source: &str, cited: &str) -> String {
    attribute(app, claim, source, json!({"mode": "citation", "cited_source_id": cited})).await
}

async fn provenance(app: &TestApp, claim: &str, query: &str) -> Value {
    let response = app.get(&format!("/v1/claims/{claim}/provenance{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// The ids of a list of ids, or of objects with an `id` (origins).
fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_else(|| v["id"].as_str().unwrap()).to_string())
        .collect()
}

fn node_ids(graph: &Value) -> HashSet<String> {
    graph["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect()
}

fn edges_of_type(graph: &Value, edge_type: &str) -> Vec<(String, String)> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == edge_type)
        .map(|e| (e["from"].as_str().unwrap().to_string(), e["to"].as_str().unwrap().to_string()))
        .collect()
}

/// A chain of `hops` citations: source 0 cites 1, ..., and the last states
/// the claim directly. Returns the claim and the sources in order.
async fn chain(app: &TestApp, hops: usize) -> (String, Vec<String>) {
    let claim = claim(app, &format!("A claim relayed {hops} times")).await;
    let mut sources = Vec::new();
    for i in 0..=hops {
        sources.push(source(app, &format!("Link {i}")).await);
    }
    for i in 0..hops {
        cite(app, &claim, &sources[i], &sources[i + 1]).await;
    }
    attribute(app, &claim, &sources[hops], json!({})).await;
    (claim, sources)
}

/// The seed-like trail: the Guardian cites an Africa Center dataset that
/// states the figure; a blog cites Business Insider Africa, which has
/// nothing on record; the Guardian quotes an anonymous former minister; a
/// minister's denial. Returns the claim id.
async fn mali_trail(app: &TestApp) -> String {
    let guardian = app.create_agent("The Guardian").await["id"].clone();
    let acss = app.create_agent("Africa Center for Strategic Studies").await["id"].clone();
    let minister = app
        .create(
            "/v1/agents",
            json!({"kind": "person", "name": "A former Malian minister", "anonymous": true, "description": "now in exile"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let article = app
        .create(
            "/v1/sources",
            json!({"kind": "article", "title": "How al-Qaida-linked jihadist group JNIM is bringing Mali to its knees",
                "publisher_id": guardian, "published_on": "2025-10"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dataset = app
        .create(
            "/v1/sources",
            json!({"kind": "dataset", "title": "Fatalities from militant Islamist violence in the Sahel", "publisher_id": acss}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let blog = source(app, "Mali on the edge").await;
    let insider = source(app, "Barrick to pay Mali $430 million").await;
    let claim = claim(app, "The death toll from Mali's insurgency since 2012 has exceeded 17,700.").await;
    cite(app, &claim, &article, &dataset).await;
    attribute(app, &claim, &dataset, json!({})).await;
    cite(app, &claim, &blog, &insider).await;
    attribute(app, &claim, &article, json!({"mode": "quote", "speaker_id": minister})).await;
    claim
}

on_both_backends! {
    async fn ten_outlets_citing_one_report_are_one_independent_origin(app: TestApp) {
        let claim = claim(&app, "JNIM has imposed a fuel blockade on Bamako.").await;
        let report = source(&app, "France 24 report").await;
        attribute(&app, &claim, &report, json!({})).await;
        let mut outlets = HashSet::new();
        for i in 0..10 {
            let outlet = source(&app, &format!("Outlet {i}")).await;
            cite(&app, &claim, &outlet, &report).await;
            outlets.insert(outlet);
        }
        let graph = provenance(&app, &claim, "").await;
        assert_eq!(graph["independent_origins"], 1, "{graph}");
        assert_eq!(ids(&graph["origins"]), [report.as_str()]);
        assert_eq!(graph["max_depth_reached"], 1);
        let starts: HashSet<String> = edges_of_type(&graph, "states").into_iter().map(|(_, to)| to).collect();
        assert_eq!(starts, outlets, "the trail starts at the outlets, not at the report they cite");
        let cites = edges_of_type(&graph, "cites");
        assert_eq!(cites.len(), 10);
        assert!(cites.iter().all(|(from, to)| outlets.contains(from) && *to == report));
        assert_eq!(node_ids(&graph).len(), 11);
        assert_eq!(graph["claim"]["id"], claim.as_str());
        assert_eq!(graph["unresolved"], json!([]));
        assert_eq!(graph["denials"], json!([]));
    }

    async fn two_unrelated_direct_sources_are_two_independent_origins(app: TestApp) {
        let claim = claim(&app, "Mali's junta broke with Ecowas.").await;
        let first = source(&app, "First").await;
        let second = source(&app, "Second").await;
        let a = attribute(&app, &claim, &first, json!({})).await;
        let b = attribute(&app, &claim, &second, json!({})).await;
        let graph = provenance(&app, &claim, "").await;
        assert_eq!(graph["independent_origins"], 2);
        let origins: HashSet<String> = ids(&graph["origins"]).into_iter().collect();
        assert_eq!(origins, HashSet::from([first.clone(), second.clone()]));
        let edges = graph["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 2);
        for edge in edges {
            assert_eq!(edge["type"], "states");
            assert_eq!(edge["from"], claim.as_str());
            assert_eq!(edge["mode"], "direct");
            assert_eq!(edge["stance"], "affirms");
            assert!([a.as_str(), b.as_str()].contains(&edge["attribution_id"].as_str().unwrap()));
        }
        for node in graph["nodes"].as_array().unwrap() {
            assert_eq!(node["type"], "source");
            assert_eq!(node["depth"], 0);
            assert!(node["title"].is_string() && node["kind"] == "article");
        }
    }

    async fn a_twelve_hop_chain_stops_at_max_depth_and_says_so(app: TestApp) {
        let (claim, sources) = chain(&app, 12).await;
        let cut = provenance(&app, &claim, "?max_depth=5").await;
        assert_eq!(cut["max_depth_reached"], 5);
        assert_eq!(node_ids(&cut), sources[..=5].iter().cloned().collect::<HashSet<_>>());
        assert_eq!(ids(&cut["truncated"]), [sources[5].as_str()]);
        assert_eq!(cut["independent_origins"], 0, "a trail cut short ends in no origin");
        assert_eq!(edges_of_type(&cut, "cites").len(), 5);
        let depths: Vec<i64> = cut["nodes"].as_array().unwrap().iter().map(|n| n["depth"].as_i64().unwrap()).collect();
        assert_eq!(depths, [0, 1, 2, 3, 4, 5]);

        let whole = provenance(&app, &claim, "").await;
        assert_eq!(whole["max_depth_reached"], 12);
        assert_eq!(whole["truncated"], json!([]));
        assert_eq!(ids(&whole["origins"]), [sources[12].as_str()]);
        assert_eq!(edges_of_type(&whole, "states"), [(claim.clone(), sources[0].clone())]);

        let none = provenance(&app, &claim, "?max_depth=0").await;
        assert_eq!(ids(&none["truncated"]), [sources[0].as_str()]);
        assert_eq!(none["max_depth_reached"], 0);
    }

    async fn a_citation_loop_terminates_and_has_no_origin(app: TestApp) {
        let claim = claim(&app, "A rumour that goes round in circles.").await;
        let a = source(&app, "A").await;
        let b = source(&app, "B").await;
        cite(&app, &claim, &a, &b).await;
        cite(&app, &claim, &b, &a).await;
        let graph = provenance(&app, &claim, "?max_depth=64").await;
        assert_eq!(node_ids(&graph), HashSet::from([a.clone(), b.clone()]));
        assert_eq!(graph["independent_origins"], 0);
        assert_eq!(graph["truncated"], json!([]));
        let cites: HashSet<(String, String)> = edges_of_type(&graph, "cites").into_iter().collect();
        assert_eq!(cites, HashSet::from([(a.clone(), b.clone()), (b.clone(), a.clone())]));
        assert_eq!(edges_of_type(&graph, "states").len(), 2, "a closed loop is entered at each of its sources");

        // Entered from outside, the loop is walked once and the entry is the only start.
        let reader = source(&app, "Reader-facing outlet").await;
        cite(&app, &claim, &reader, &a).await;
        let graph = provenance(&app, &claim, "").await;
        assert_eq!(edges_of_type(&graph, "states"), [(claim.clone(), reader.clone())]);
        assert_eq!(graph["max_depth_reached"], 2);
        assert_eq!(edges_of_type(&graph, "cites").len(), 3);
    }

    async fn a_cited_source_without_attributions_is_unresolved_and_an_origin(app: TestApp) {
        let claim = claim(&app, "Barrick will pay Mali $430 million.").await;
        let blog = source(&app, "Mali on the edge").await;
        let bia = source(&app, "Business Insider Africa").await;
        cite(&app, &claim, &blog, &bia).await;
        let graph = provenance(&app, &claim, "").await;
        assert_eq!(ids(&graph["unresolved"]), [bia.as_str()]);
        assert_eq!(ids(&graph["origins"]), [bia.as_str()]);
        assert_eq!(graph["independent_origins"], 1);
        assert_eq!(edges_of_type(&graph, "cites"), [(blog.clone(), bia.clone())]);

        // A speaker named by the citation carries the trail past the cold source.
        let goita = app.create("/v1/agents", json!({"kind": "person", "name": "Assimi Goïta"})).await["id"].as_str().unwrap().to_string();
        let second = source(&app, "Another blog").await;
        attribute(&app, &claim, &second, json!({"mode": "citation", "cited_source_id": bia, "speaker_id": goita})).await;
        let graph = provenance(&app, &claim, "").await;
        assert!(edges_of_type(&graph, "says").contains(&(bia.clone(), goita.clone())), "the speaker spoke in the cited source");
        let origins: HashSet<String> = ids(&graph["origins"]).into_iter().collect();
        assert_eq!(origins, HashSet::from([bia.clone(), goita.clone()]));
        let speaker = graph["nodes"].as_array().unwrap().iter().find(|n| n["id"] == goita.as_str()).unwrap();
        assert_eq!(speaker["type"], "agent");
        assert_eq!(speaker["name"], "Assimi Goïta");
    }

    async fn a_denial_is_not_an_origin_of_support(app: TestApp) {
        let claim = claim(&app, "France supported the jihadists.").await;
        let affirming = source(&app, "Affirms").await;
        let denying = source(&app, "Denies").await;
        attribute(&app, &claim, &affirming, json!({})).await;
        let denial = attribute(&app, &claim, &denying, json!({"stance": "denies"})).await;
        // A denial that cites a source with nothing on record makes no origin either.
        let rebuttal = source(&app, "Rebuttal").await;
        let cold = source(&app, "Cited by the rebuttal").await;
        attribute(&app, &claim, &rebuttal, json!({"mode": "citation", "cited_source_id": cold, "stance": "denies"})).await;
        let doubter = source(&app, "Doubts").await;
        attribute(&app, &claim, &doubter, json!({"stance": "questions"})).await;

        let graph = provenance(&app, &claim, "").await;
        assert_eq!(ids(&graph["origins"]), [affirming.as_str()]);
        assert_eq!(graph["independent_origins"], 1);
        let denials: HashSet<String> = ids(&graph["denials"]).into_iter().collect();
        assert_eq!(denials, HashSet::from([denying.clone(), rebuttal.clone()]));
        assert_eq!(ids(&graph["unresolved"]), [cold.as_str()]);
        let edge = graph["edges"].as_array().unwrap().iter().find(|e| e["attribution_id"] == denial.as_str()).unwrap();
        assert_eq!(edge["stance"], "denies", "the denial appears as such");
        assert!(node_ids(&graph).contains(&doubter));
    }

    async fn a_quoted_speaker_is_the_origin_of_what_the_source_quotes(app: TestApp) {
        let claim = mali_trail(&app).await;
        let graph = provenance(&app, &claim, "").await;
        let names: HashSet<String> = graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().or(n["title"].as_str()).unwrap().to_string())
            .collect();
        for name in ["A former Malian minister", "Mali on the edge", "Barrick to pay Mali $430 million",
            "Fatalities from militant Islamist violence in the Sahel"] {
            assert!(names.contains(name), "{name} is missing from {names:?}");
        }
        // Africa Center dataset, the cold Business Insider piece and the minister.
        assert_eq!(graph["independent_origins"], 3, "{graph}");
        assert_eq!(graph["unresolved"].as_array().unwrap().len(), 1);
        let says = edges_of_type(&graph, "says");
        assert_eq!(says.len(), 1);
        let article = graph["nodes"].as_array().unwrap().iter().find(|n| n["publisher"]["name"] == "The Guardian").unwrap();
        assert_eq!(says[0].0, article["id"].as_str().unwrap());
    }

    async fn prov_json_has_the_prov_structure(app: TestApp) {
        let claim = mali_trail(&app).await;
        let graph = provenance(&app, &claim, "").await;
        let response = app.get(&format!("/v1/claims/{claim}/provenance?format=prov-json")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/prov+json");
        let document: Value = response.json().await.unwrap();

        let prefix = document["prefix"].as_object().expect("a prefix map");
        for name in ["ct", "claim", "source", "agent"] {
            assert!(prefix[name].as_str().is_some_and(|iri| iri.contains(':')), "prefix {name}");
        }
        let entities = document["entity"].as_object().expect("an entity map");
        let agents = document["agent"].as_object().expect("an agent map");
        let claim_entity = format!("claim:{claim}");
        assert_eq!(entities[&claim_entity]["prov:label"], graph["claim"]["text"]);
        for node in graph["nodes"].as_array().unwrap() {
            let id = node["id"].as_str().unwrap();
            match node["type"].as_str().unwrap() {
                "source" => assert!(entities.contains_key(&format!("source:{id}")), "source {id}"),
                _ => assert!(agents.contains_key(&format!("agent:{id}")), "agent {id}"),
            }
        }
        for (id, agent) in agents {
            let kind = agent["prov:type"]["$"].as_str().unwrap();
            assert!(["prov:Person", "prov:Organization"].contains(&kind), "{id}: {kind}");
        }

        let derivations = document["wasDerivedFrom"].as_object().expect("wasDerivedFrom");
        for (id, d) in derivations {
            assert!(id.starts_with("_:"));
            let generated = d["prov:generatedEntity"].as_str().unwrap();
            let used = d["prov:usedEntity"].as_str().unwrap();
            assert!(entities.contains_key(generated) && entities.contains_key(used), "{id} links unknown entities");
        }
        let typed = |kind: &str| derivations.values().filter(|d| d["prov:type"]["$"] == kind).count();
        assert_eq!(typed("prov:PrimarySource"), 3, "hadPrimarySource, one per origin");
        assert_eq!(typed("prov:Quotation"), 1, "wasQuotedFrom, for the minister's quote");
        let primary: HashSet<&str> = derivations
            .values()
            .filter(|d| d["prov:type"]["$"] == "prov:PrimarySource")
            .map(|d| {
                assert_eq!(d["prov:generatedEntity"], claim_entity.as_str());
                d["prov:usedEntity"].as_str().unwrap()
            })
            .collect();
        assert_eq!(primary.len(), 3);

        let attributed = document["wasAttributedTo"].as_object().expect("wasAttributedTo");
        for (id, a) in attributed {
            let entity = a["prov:entity"].as_str().unwrap();
            let agent = a["prov:agent"].as_str().unwrap();
            assert!(entities.contains_key(entity) && agents.contains_key(agent), "{id} links unknown records");
        }
        let publishers = attributed.values().filter(|a| a["prov:role"] == "publisher").count();
        assert_eq!(publishers, 2, "the Guardian and the Africa Center publish their sources");
    }

    async fn the_svg_parses_as_xml_and_names_every_node(app: TestApp) {
        let claim = mali_trail(&app).await;
        let graph = provenance(&app, &claim, "").await;
        let response = app.get(&format!("/v1/claims/{claim}/provenance?format=svg")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        let svg = response.text().await.unwrap();
        let document = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let drawn: HashSet<&str> = document.descendants().filter_map(|n| n.attribute("data-id")).collect();
        assert!(drawn.contains(claim.as_str()));
        let text: String = document.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect::<Vec<_>>().join(" ");
        for node in graph["nodes"].as_array().unwrap() {
            assert!(drawn.contains(node["id"].as_str().unwrap()), "{node} is not drawn");
            let name = node["publisher"]["name"].as_str().or(node["name"].as_str()).or(node["title"].as_str()).unwrap();
            assert!(text.contains(name), "{name} is not written in the picture");
        }
        for label in ["ORIGIN", "COLD TRAIL", "quotes", "cites", "Legend"] {
            assert!(text.contains(label), "{label} is not in the picture");
        }
        let arrows = document.descendants().filter(|n| n.has_tag_name("path") && n.attribute("class").is_some_and(|c| c.starts_with("edge"))).count();
        // Parallel steps between the same two figures share one arrow.
        let pairs: HashSet<(String, String)> = graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let (from, to) = (e["from"].as_str().unwrap().to_string(), e["to"].as_str().unwrap().to_string());
                if from < to { (from, to) } else { (to, from) }
            })
            .collect();
        assert_eq!(arrows, pairs.len());
    }

    async fn the_svg_escapes_titles_and_draws_a_claim_without_attributions(app: TestApp) {
        let claim = claim(&app, "Nothing on record <yet> & \"quoted\"").await;
        let response = app.get(&format!("/v1/claims/{claim}/provenance?format=svg")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let svg = response.text().await.unwrap();
        let document = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let text: String = document.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
        assert!(text.contains("<yet> & \"quoted\""), "{text}");
        assert!(text.contains("0 independent origins"));
    }

    async fn a_graph_too_large_to_draw_is_a_422_for_svg_and_still_served_as_dot(app: TestApp) {
        let claim = claim(&app, "Repeated everywhere").await;
        let report = source(&app, "The report").await;
        attribute(&app, &claim, &report, json!({})).await;
        for i in 0..claimtrail::provenance::svg::MAX_NODES {
            let outlet = source(&app, &format!("Outlet {i}")).await;
            cite(&app, &claim, &outlet, &report).await;
        }
        let path = format!("/v1/claims/{claim}/provenance");
        let body = problem(app.get(&format!("{path}?format=svg")).await, 422).await;
        assert_eq!(error_fields(&body), ["format"]);
        let dot = app.get(&format!("{path}?format=dot")).await;
        assert_eq!(dot.status(), StatusCode::OK);
        let svg = app.get(&format!("{path}?format=svg&max_depth=0")).await;
        assert_eq!(svg.status(), StatusCode::OK, "with fewer nodes the picture is drawn");
    }

    async fn the_dot_output_contains_every_node(app: TestApp) {
        let claim = mali_trail(&app).await;
        let graph = provenance(&app, &claim, "").await;
        let response = app.get(&format!("/v1/claims/{claim}/provenance?format=dot")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/vnd.graphviz"));
        let dot = response.text().await.unwrap();
        assert!(dot.starts_with("digraph provenance {") && dot.trim_end().ends_with('}'), "{dot}");
        assert!(dot.contains(&format!("\"{claim}\" [")));
        for node in graph["nodes"].as_array().unwrap() {
            let id = node["id"].as_str().unwrap();
            assert!(dot.contains(&format!("\"{id}\" [")), "node {id} is not declared");
        }
        for (from, to) in edges_of_type(&graph, "cites") {
            assert!(dot.contains(&format!("\"{from}\" -> \"{to}\"")), "edge {from} -> {to} is missing");
        }
    }

    async fn the_accept_header_chooses_the_format_and_the_format_parameter_wins(app: TestApp) {
        let claim = claim(&app, "Negotiated").await;
        let path = format!("/v1/claims/{claim}/provenance");
        let fetch = |accept: &'static str, query: &'static str| {
            app.anonymous(Method::GET, &format!("{path}{query}")).header("accept", accept).send()
        };
        let cases = [
            ("image/svg+xml", "image/svg+xml"),
            ("text/vnd.graphviz", "text/vnd.graphviz; charset=utf-8"),
            ("application/prov+json", "application/prov+json"),
            ("application/json; profile=\"http://www.w3.org/ns/prov#\"", "application/prov+json"),
            ("application/json", "application/json"),
            ("*/*", "application/json"),
            ("nonsense", "application/json"),
            ("text/html, image/*;q=0.9, */*;q=0.1", "image/svg+xml"),
            ("application/json;q=0.2, text/vnd.graphviz", "text/vnd.graphviz; charset=utf-8"),
        ];
        for (accept, expected) in cases {
            let response = fetch(accept, "").await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "Accept: {accept}");
            assert_eq!(response.headers()["content-type"], expected, "Accept: {accept}");
            let vary = response.headers()["vary"].to_str().unwrap();
            assert!(vary.split(',').any(|v| v.trim() == "Accept"), "Vary: {vary}");
        }
        let response = fetch("image/svg+xml", "?format=json").await.unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        let response = fetch("text/html", "?format=dot").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        let body = problem(fetch("text/html", "").await.unwrap(), 406).await;
        assert!(body["detail"].as_str().unwrap().contains("image/svg+xml"), "{body}");
        problem(fetch("application/json;q=0", "").await.unwrap(), 406).await;
    }

    async fn bad_provenance_parameters_are_400s_naming_them(app: TestApp) {
        let claim = claim(&app, "Parameters").await;
        for (query, field) in [
            ("?max_depth=65", "max_depth"),
            ("?max_depth=-1", "max_depth"),
            ("?max_depth=deep", "max_depth"),
            ("?format=png", "format"),
            ("?depth=3", "depth"),
        ] {
            let body = problem(app.get(&format!("/v1/claims/{claim}/provenance{query}")).await, 400).await;
            assert_eq!(error_fields(&body), [field], "{query}: {body}");
        }
        let graph = provenance(&app, &claim, "?max_depth=64").await;
        assert_eq!(graph["nodes"], json!([]));
    }

    async fn the_provenance_of_an_unknown_claim_is_404(app: TestApp) {
        let unknown = uuid::Uuid::now_v7();
        let body = problem(app.get(&format!("/v1/claims/{unknown}/provenance")).await, 404).await;
        assert!(body["detail"].as_str().unwrap().contains("claim"), "{body}");
        problem(app.get(&format!("/v1/claims/{unknown}/provenance?format=svg")).await, 404).await;
        problem(app.get("/v1/claims/not-a-uuid/provenance").await, 404).await;
    }

    async fn the_claims_of_a_source_come_in_pages_with_link_headers(app: TestApp) {
        let outlet = source(&app, "Busy outlet").await;
        let other = source(&app, "Other outlet").await;
        let mut stated = HashSet::new();
        for i in 0..5 {
            let claim = claim(&app, &format!("Claim {i}")).await;
            attribute(&app, &claim, &outlet, json!({"stance": if i == 0 { "denies" } else { "affirms" }})).await;
            stated.insert(claim);
        }
        let elsewhere = claim(&app, "Stated elsewhere").await;
        attribute(&app, &elsewhere, &other, json!({})).await;

        let first = app.get(&format!("/v1/sources/{outlet}/claims?limit=2")).await;
        assert_eq!(first.status(), StatusCode::OK);
        let link = first.headers()["link"].to_str().unwrap().to_string();
        assert!(link.starts_with(&format!("</v1/sources/{outlet}/claims?limit=2&cursor=")) && link.ends_with("rel=\"next\""), "{link}");
        let page: Value = first.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 2);

        let all = app.list_all(&format!("/v1/sources/{outlet}/claims")).await;
        let listed: HashSet<String> = all.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(listed, stated);
        let mut seen = HashSet::new();
        let mut next = format!("/v1/sources/{outlet}/claims?limit=2");
        loop {
            let page: Value = app.get(&next).await.json().await.unwrap();
            for item in page["items"].as_array().unwrap() {
                assert!(seen.insert(item["id"].as_str().unwrap().to_string()), "a claim is listed twice");
                assert!(item["tags"].is_array() && item["text"].is_string());
            }
            match page["next_cursor"].as_str() {
                Some(cursor) => next = format!("/v1/sources/{outlet}/claims?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, stated);

        let unknown = uuid::Uuid::now_v7();
        problem(app.get(&format!("/v1/sources/{unknown}/claims")).await, 404).await;
        let body = problem(app.get(&format!("/v1/sources/{outlet}/claims?limit=0")).await, 400).await;
        assert_eq!(error_fields(&body), ["limit"]);
        problem(app.get(&format!("/v1/sources/{outlet}/claims?cursor=nonsense")).await, 400).await;
    }

    async fn the_claims_of_an_agent_are_those_it_says_or_publishes(app: TestApp) {
        let publisher = app.create_agent("France 24").await["id"].as_str().unwrap().to_string();
        let speaker = app.create("/v1/agents", json!({"kind": "person", "name": "Ulf Laessing"})).await["id"].as_str().unwrap().to_string();
        let bystander = app.create_agent("Bystander").await["id"].as_str().unwrap().to_string();
        let report = app.create("/v1/sources", json!({"kind": "broadcast", "title": "Report", "publisher_id": publisher})).await["id"].as_str().unwrap().to_string();
        let interview = source(&app, "Interview").await;
        let published = claim(&app, "Published by France 24").await;
        let said = claim(&app, "Said by Laessing").await;
        let both = claim(&app, "Said by Laessing on France 24").await;
        let neither = claim(&app, "Neither").await;
        attribute(&app, &published, &report, json!({})).await;
        attribute(&app, &said, &interview, json!({"mode": "quote", "speaker_id": speaker})).await;
        attribute(&app, &both, &report, json!({"mode": "paraphrase", "speaker_id": speaker})).await;
        attribute(&app, &neither, &interview, json!({})).await;

        let listed = |items: Vec<Value>| items.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect::<HashSet<_>>();
        assert_eq!(listed(app.list_all(&format!("/v1/agents/{publisher}/claims")).await), HashSet::from([published.clone(), both.clone()]));
        assert_eq!(listed(app.list_all(&format!("/v1/agents/{speaker}/claims")).await), HashSet::from([said.clone(), both.clone()]));
        assert!(app.list_all(&format!("/v1/agents/{bystander}/claims")).await.is_empty());

        let page: Value = app.get(&format!("/v1/agents/{publisher}/claims?limit=1")).await.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert!(page["next_cursor"].is_string());
        problem(app.get(&format!("/v1/agents/{}/claims", uuid::Uuid::now_v7())).await, 404).await;
    }

    async fn the_provenance_query_count_does_not_grow_with_the_trail(app: TestApp) {
        let (short, _) = chain(&app, 2).await;
        let (long, _) = chain(&app, 10).await;
        let count = |claim: String| {
            let mut conn = app.db.get().expect("a connection");
            let statements = Arc::new(AtomicUsize::new(0));
            let counter = statements.clone();
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { .. } = event {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            let graph = claimtrail::provenance::store::provenance(&mut conn, &claim.parse().expect("a claim id"), 16).expect("a graph");
            (statements.load(Ordering::SeqCst), graph.max_depth_reached)
        };
        let (short_statements, short_depth) = count(short);
        let (long_statements, long_depth) = count(long);
        assert_eq!((short_depth, long_depth), (2, 10));
        assert_eq!(short_statements, long_statements, "the statement count grows with the trail");
        // PostgreSQL reads the graph in one statement (one round trip).
        let most = if app.backend == claimtrail::db::Backend::Postgres { 1 } else { 6 };
        assert!(short_statements <= most, "{short_statements} statements for one graph on {:?}", app.backend);
    }
}
