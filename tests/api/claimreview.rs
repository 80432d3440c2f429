//! ClaimReview out (checked against a JSON Schema of what Google needs, and
//! expanded by a JSON-LD processor) and in (a round trip through an empty
//! database, the Fact Check Tools API's shape, hostile documents).

use json_ld::syntax::Parse;
use json_ld::{IriBuf, JsonLdProcessor, RemoteDocument};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_fields, problem, spawn_app};
use crate::on_both_backends;

/// The 17,700 death-toll claim of the seed data: stated by the Guardian,
/// citing the Africa Center for Strategic Studies' data.
const DEATH_TOLL: &str = "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338";

fn seed(kind: &str, key: &str) -> String {
    claimtrail::seed::seed_id(kind, key).to_string()
}

async fn load_seeds(app: &TestApp) {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || claimtrail::seed::load(&db)).await.unwrap().expect("the seed data loads");
}

/// Fails unless `document` fits the JSON Schema of Google's ClaimReview rules.
fn assert_google_valid(document: &Value) {
    let schema: Value = serde_json::from_str(include_str!("../claimreview.schema.json")).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let problems: Vec<String> =
        validator.iter_errors(document).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(problems.is_empty(), "not a valid ClaimReview for Google: {problems:?}\n{document:#}");
}

/// Expands a ClaimReview with the `json-ld` crate and checks the graph it
/// means: one ClaimReview node whose `itemReviewed` is a Claim node with the
/// expected `firstAppearance`, and a Rating with an alternateName. The
/// schema.org context cannot be fetched here, so it is given inline as its
/// vocabulary (`@vocab`), which is what it maps these terms to.
async fn assert_expands_as_claimreview(document: &Value, first_appearance: &str) {
    let mut local = document.clone();
    local["@context"] = json!({"@vocab": "https://schema.org/"});
    let (json, _) = json_ld::syntax::Value::parse_str(&local.to_string()).expect("JSON-LD syntax");
    let input = RemoteDocument::new(None::<IriBuf>, None, json);
    let expanded = input.expand(&json_ld::NoLoader).await.expect("the document expands");
    let schema = |term: &str| IriBuf::new(format!("https://schema.org/{term}")).expect("an IRI");
    let nodes: Vec<_> = expanded.iter().filter_map(|o| o.as_node()).collect();
    assert_eq!(nodes.len(), 1, "one top node");
    let review = nodes[0];
    let type_names: Vec<String> = review.types().iter().map(|t| t.to_string()).collect();
    assert_eq!(type_names, ["https://schema.org/ClaimReview"]);
    let rating = review.get_any(&schema("reviewRating")).and_then(|o| o.as_node()).expect("a Rating node");
    assert!(rating.get_any(&schema("alternateName")).and_then(|o| o.as_str()).is_some_and(|s| !s.is_empty()));
    let claim = review.get_any(&schema("itemReviewed")).and_then(|o| o.as_node()).expect("a Claim node");
    let claim_types: Vec<String> = claim.types().iter().map(|t| t.to_string()).collect();
    assert_eq!(claim_types, ["https://schema.org/Claim"]);
    let first = claim.get_any(&schema("firstAppearance")).and_then(|o| o.as_node()).expect("a firstAppearance node");
    assert_eq!(first.id.as_ref().map(|id| id.to_string()).as_deref(), Some(first_appearance));
    assert!(claim.get(&schema("appearance")).count() >= 1, "appearances");
}

async fn ld(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    assert_eq!(response.headers()["content-type"], "application/ld+json");
    response.json().await.expect("JSON-LD")
}

async fn import(app: &TestApp, query: &str, document: &Value) -> Response {
    app.request(Method::POST, &format!("/v1/import/claimreview{query}"))
        .header("content-type", "application/ld+json")
        .body(document.to_string())
        .send()
        .await
        .expect("the import answers")
}

/// A fact-checker and its published review of the death-toll claim.
async fn review_death_toll(app: &TestApp) -> Value {
    let reviewer = app
        .create("/v1/agents", json!({"kind": "organization", "name": "Sahel Facts", "url": "https://sahelfacts.example.org", "wikidata_id": "Q42"}))
        .await;
    let author = app.create("/v1/agents", json!({"kind": "person", "name": "Awa Diallo"})).await;
    app.create(
        "/v1/reviews",
        json!({"claim_id": DEATH_TOLL, "reviewer_id": reviewer["id"], "author_id": author["id"],
        "status": "published", "rating": {"label": "Accurate", "value": 5, "best": 5, "worst": 1},
        "url": "https://sahelfacts.example.org/2025/death-toll", "published_on": "2025-11-20", "language": "en",
        "summary": "The Africa Center's count is what the Guardian reports."}),
    )
    .await
}

/// Every stored record of a database, counted by kind.
async fn counts(app: &TestApp) -> Vec<usize> {
    let mut counts = Vec::new();
    for list in ["/v1/agents", "/v1/sources", "/v1/claims", "/v1/attributions"] {
        counts.push(app.list_all(list).await.len());
    }
    let reviews: Value = app.request(Method::GET, "/v1/reviews?limit=200").send().await.unwrap().json().await.unwrap();
    counts.push(reviews["items"].as_array().unwrap().len());
    counts
}

on_both_backends! {
    async fn the_claimreview_of_a_seed_claim_gives_its_cited_origin_as_first_appearance(app: TestApp) {
        load_seeds(&app).await;
        let review = review_death_toll(&app).await;
        let document = ld(&app, &format!("/v1/reviews/{}/claimreview", review["id"].as_str().unwrap())).await;
        assert_google_valid(&document);
        let africa_center = format!("urn:uuid:{}", seed("source", "acss-mali-fatalities-data"));
        let guardian = format!("urn:uuid:{}", seed("source", "guardian-jnim-article"));
        assert_eq!(document["@context"], "https://schema.org");
        assert_eq!(document["claimReviewed"], "More than 17,700 people have died in Mali's insurgency since 2012.");
        assert_eq!(document["reviewRating"], json!({"@type": "Rating", "alternateName": "Accurate", "ratingValue": 5.0, "bestRating": 5.0, "worstRating": 1.0}));
        assert_eq!(document["author"], json!({"@type": "Organization", "name": "Sahel Facts", "url": "https://sahelfacts.example.org", "sameAs": "https://www.wikidata.org/wiki/Q42"}));
        assert_eq!(document["creator"], json!({"@type": "Person", "name": "Awa Diallo"}));
        assert_eq!((document["datePublished"].as_str(), document["url"].as_str()), (Some("2025-11-20"), Some("https://sahelfacts.example.org/2025/death-toll")));
        let claim = &document["itemReviewed"];
        assert_eq!(claim["@id"], format!("urn:uuid:{DEATH_TOLL}"));
        // The origin, not the outlet: the Guardian relays the Africa Center's data.
        assert_eq!(claim["firstAppearance"]["@id"], africa_center, "{claim:#}");
        assert_eq!(claim["firstAppearance"]["@type"], "Dataset");
        assert_eq!(claim["firstAppearance"]["publisher"]["name"], "Africa Center for Strategic Studies");
        let appearance = claim["appearance"].as_array().unwrap();
        assert_eq!(appearance.len(), 1, "{claim:#}");
        assert_eq!((appearance[0]["@id"].as_str(), appearance[0]["@type"].as_str()), (Some(guardian.as_str()), Some("Article")));
        assert_eq!(appearance[0]["publisher"]["name"], "The Guardian");
        assert_eq!(appearance[0]["isBasedOn"]["@id"], africa_center);
        assert_eq!(claim["datePublished"], "2025", "the origin is undated: the earliest appearance's date");
        assert_expands_as_claimreview(&document, &africa_center).await;

        // The claim's ClaimReviews: its published reviews only.
        let draft_reviewer = app.create_agent("Draft Desk").await;
        app.create("/v1/reviews", json!({"claim_id": DEATH_TOLL, "reviewer_id": draft_reviewer["id"], "rating": {"label": "False"}})).await;
        let all = ld(&app, &format!("/v1/claims/{DEATH_TOLL}/claimreview")).await;
        assert_eq!(all.as_array().map(Vec::len), Some(1));
        assert_eq!(all[0], document);
        let unreviewed = app.create_claim("Nobody reviewed this.").await;
        assert_eq!(ld(&app, &format!("/v1/claims/{}/claimreview", unreviewed["id"].as_str().unwrap())).await, json!([]));
        problem(app.get(&format!("/v1/claims/{}/claimreview", uuid::Uuid::now_v7())).await, 404).await;
    }

    async fn a_claim_no_source_states_is_reviewed_without_appearances(app: TestApp) {
        let claim = app.create_claim("A rumour nobody has published.").await;
        let reviewer = app.create_agent("Rumour Desk").await;
        let review = app
            .create(
                "/v1/reviews",
                json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"], "rating": {"label": "Unproven"},
                    "url": "https://rumours.example.org/1", "status": "published"}),
            )
            .await;
        assert_eq!(review["rating"], json!({"label": "Unproven"}), "a rating without numbers has none");
        let document = ld(&app, &format!("/v1/reviews/{}/claimreview", review["id"].as_str().unwrap())).await;
        assert_google_valid(&document);
        let item = document["itemReviewed"].as_object().unwrap();
        for absent in ["appearance", "firstAppearance", "datePublished", "author"] {
            assert!(!item.contains_key(absent), "{absent}: {item:?}");
        }
        assert_eq!(document["reviewRating"], json!({"@type": "Rating", "alternateName": "Unproven"}));
    }

    async fn a_speaker_origin_appears_first_where_it_spoke_and_ties_prefer_the_precise_date(app: TestApp) {
        let claim = app.create_claim("The convoy was attacked near Kayes.").await;
        let minister = app.create("/v1/agents", json!({"kind": "person", "name": "The minister"})).await;
        let statement = app.create("/v1/sources", json!({"kind": "statement", "title": "Press briefing", "published_on": "2025-03-01"})).await;
        let wire = app.create("/v1/sources", json!({"kind": "article", "title": "Wire story", "published_on": "2025-03", "url": "https://wire.example.org/story"})).await;
        let later = app.create("/v1/sources", json!({"kind": "article", "title": "Later story", "published_on": "2025-06"})).await;
        for (source, body) in [
            (&statement, json!({"mode": "quote", "speaker_id": minister["id"]})),
            (&wire, json!({"mode": "direct"})),
            (&later, json!({"mode": "citation", "cited_source_id": wire["id"]})),
        ] {
            let mut body = body;
            body["claim_id"] = claim["id"].clone();
            body["source_id"] = source["id"].clone();
            app.create_attribution(body).await;
        }
        let reviewer = app.create_agent("Desk").await;
        let review = app.create("/v1/reviews", json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"],
            "status": "published", "rating": {"label": "True"}, "url": "https://desk.example.org/r"})).await;
        let document = ld(&app, &format!("/v1/reviews/{}/claimreview", review["id"].as_str().unwrap())).await;
        assert_google_valid(&document);
        let claim_doc = &document["itemReviewed"];
        // Origins: the minister (who spoke in the briefing, 2025-03-01) and the
        // wire story ("2025-03": the same first day, but it could be any day
        // of March, so the precise date comes first).
        assert_eq!(claim_doc["firstAppearance"]["name"], "Press briefing", "{claim_doc:#}");
        assert_eq!(claim_doc["firstAppearance"]["genre"], "statement");
        assert_eq!(claim_doc["author"], json!({"@type": "Person", "name": "The minister"}));
        assert_eq!(claim_doc["datePublished"], "2025-03-01");
        assert_eq!(claim_doc["appearance"].as_array().unwrap().len(), 3);
        let wire_doc = claim_doc["appearance"].as_array().unwrap().iter().find(|a| a["name"] == "Wire story").unwrap();
        assert_eq!((wire_doc["@id"].as_str(), wire_doc["url"].as_str()), (Some("https://wire.example.org/story"), Some("https://wire.example.org/story")));
    }

    async fn a_claimreview_taken_out_and_brought_into_an_empty_database_comes_back_the_same(app: TestApp) {
        load_seeds(&app).await;
        review_death_toll(&app).await;
        let out = ld(&app, &format!("/v1/claims/{DEATH_TOLL}/claimreview")).await;

        let empty = spawn_app(app.backend).await;
        let dry = import(&empty, "?dry_run=true", &out).await;
        assert_eq!(dry.status(), StatusCode::OK);
        let dry: Value = dry.json().await.unwrap();
        assert_eq!(dry["dry_run"], true);
        assert!(dry["items"][0]["records"].as_array().unwrap().iter().all(|r| r["result"] == "created"), "{dry:#}");
        assert_eq!(counts(&empty).await, [0, 0, 0, 0, 0], "a dry run writes nothing");

        let report = import(&empty, "", &out).await;
        assert_eq!(report.status(), StatusCode::OK);
        let report: Value = report.json().await.unwrap();
        let records = report["items"][0]["records"].as_array().unwrap();
        let made = |kind: &str| records.iter().filter(|r| r["type"] == kind && r["result"] == "created").count();
        assert_eq!((made("review"), made("claim"), made("source"), made("attribution")), (1, 1, 2, 1), "{report:#}");
        assert_eq!(made("agent"), 4, "the reviewer, the review's author and the two publishers: {report:#}");
        assert_eq!(ld(&empty, &format!("/v1/claims/{DEATH_TOLL}/claimreview")).await, out, "out → in → out");
        let card: Value = empty.get(&format!("/v1/claims/{DEATH_TOLL}")).await.json().await.unwrap();
        let original: Value = app.get(&format!("/v1/claims/{DEATH_TOLL}")).await.json().await.unwrap();
        assert_eq!(card["text"], original["text"]);
        assert_eq!(card["attributions"][0]["source"]["title"], original["attributions"][0]["source"]["title"]);
        assert_eq!(card["attributions"][0]["cited_source"]["id"], original["attributions"][0]["cited_source"]["id"]);
        assert_eq!(card["attributions"][0]["mode"], "citation");
        assert_eq!(card["reviews"][0]["rating"], original["reviews"][0]["rating"]);
        assert_eq!(card["reviews"][0]["id"], original["reviews"][0]["id"]);

        // Again: everything is found, nothing made.
        let before = counts(&empty).await;
        let again: Value = import(&empty, "", &out).await.json().await.unwrap();
        let records = again["items"][0]["records"].as_array().unwrap();
        assert!(records.iter().all(|r| r["result"] == "matched"), "{again:#}");
        assert_eq!(counts(&empty).await, before);
    }

    async fn the_fact_check_tools_api_answer_is_imported(app: TestApp) {
        let answer = json!({"claims": [{
            "text": "The fuel blockade of Bamako ended in October.", "claimant": "Social media posts",
            "claimDate": "2025-10-02T00:00:00Z",
            "claimReview": [
                {"publisher": {"name": "Sahel Facts", "site": "sahelfacts.example.org"},
                 "url": "https://sahelfacts.example.org/blockade", "title": "No, the blockade did not end",
                 "reviewDate": "2025-10-05T08:00:00Z", "textualRating": "False", "languageCode": "en"},
                {"publisher": {"name": "Other Check", "site": "other.example.org"},
                 "url": "https://other.example.org/b", "textualRating": "Misleading", "languageCode": "fr"}
            ]}], "nextPageToken": "abc"});
        let report = import(&app, "", &answer).await;
        assert_eq!(report.status(), StatusCode::OK);
        let report: Value = report.json().await.unwrap();
        assert_eq!(report["items"].as_array().unwrap().len(), 2);
        let notes: Vec<&str> = report["notes"].as_array().unwrap().iter().map(|n| n["path"].as_str().unwrap()).collect();
        assert_eq!(notes, ["$.claims[0].claimant", "$.claims[0].claimDate"]);
        let claims = app.list_all("/v1/claims?reviewed=true").await;
        assert_eq!(claims.len(), 1, "one claim, two reviews");
        let card: Value = app.get(&format!("/v1/claims/{}", claims[0]["id"].as_str().unwrap())).await.json().await.unwrap();
        let reviews = card["reviews"].as_array().unwrap();
        assert_eq!(reviews.len(), 2);
        assert_eq!((reviews[0]["rating"]["label"].as_str(), reviews[0]["published_on"].as_str()), (Some("False"), Some("2025-10-05")));
        assert_eq!(reviews[0]["summary"], "No, the blockade did not end");
        assert_eq!(reviews[0]["reviewer"]["name"], "Sahel Facts");
        let reviewer: Value = app.get(&format!("/v1/agents/{}", reviews[0]["reviewer_id"].as_str().unwrap())).await.json().await.unwrap();
        assert_eq!(reviewer["url"], "https://sahelfacts.example.org");
        let bad = json!({"claims": [{"text": "x", "claimReview": [{"publisher": {"name": "P"}, "url": "https://p.example.org/1"}]}]});
        let refused = problem(import(&app, "", &bad).await, 422).await;
        assert_eq!(error_fields(&refused), ["$.claims[0].claimReview[0].textualRating"], "{refused}");
    }

    async fn hostile_claimreview_documents_are_a_422_at_each_json_path_and_store_nothing(app: TestApp) {
        let good = json!({"@context": "https://schema.org", "@type": "ClaimReview", "claimReviewed": "Water is wet.",
            "url": "https://check.example.org/wet", "author": {"@type": "Organization", "name": "Check"},
            "reviewRating": {"@type": "Rating", "alternateName": "True"},
            "itemReviewed": {"@type": "Claim", "appearance": [{"@type": "Article", "url": "https://news.example.org/a", "name": "A"}]}});
        let with = |path: &[&str], value: Value| {
            let mut document = good.clone();
            let (last, parents) = path.split_last().unwrap();
            let target = parents.iter().fold(&mut document, |v, key| &mut v[*key]);
            match value {
                Value::Null => { target.as_object_mut().unwrap().remove(*last); }
                value => target[*last] = value,
            }
            document
        };
        let many: Vec<Value> = (0..101).map(|_| good.clone()).collect();
        let appearances: Vec<Value> = (0..51).map(|i| json!(format!("https://news.example.org/{i}"))).collect();
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (with(&["claimReviewed"], json!(5)), vec!["$.claimReviewed"]),
            (with(&["reviewRating"], json!("True")), vec!["$.reviewRating"]),
            (with(&["reviewRating"], Value::Null), vec!["$.reviewRating"]),
            (with(&["reviewRating", "alternateName"], Value::Null), vec!["$.reviewRating.alternateName"]),
            (with(&["reviewRating", "ratingValue"], json!([1])), vec!["$.reviewRating.ratingValue"]),
            (with(&["reviewRating", "ratingValue"], json!(9)), vec!["$.reviewRating.ratingValue"]),
            (with(&["author"], json!(7)), vec!["$.author"]),
            (with(&["url"], json!("javascript:alert(1)")), vec!["$.url"]),
            (with(&["itemReviewed", "appearance"], json!([1])), vec!["$.itemReviewed.appearance[0]"]),
            (with(&["itemReviewed", "appearance"], json!(appearances)), vec!["$.itemReviewed.appearance"]),
            (with(&["itemReviewed", "@graph"], json!([good.clone()])), vec!["$.itemReviewed[\"@graph\"]"]),
            (json!({"@context": "https://schema.org", "@graph": [{"@graph": [good.clone()]}]}), vec!["$[\"@graph\"][0][\"@graph\"]"]),
            (json!(many), vec!["$"]),
            (json!("ClaimReview"), vec!["$"]),
            (json!([good.clone(), {"@type": "Person", "name": "x"}]), vec!["$[1][\"@type\"]"]),
            (json!([good.clone(), with(&["claimReviewed"], Value::Null)]), vec!["$[1].claimReviewed"]),
        ];
        for (document, fields) in cases {
            let refused = problem(import(&app, "", &document).await, 422).await;
            assert_eq!(error_fields(&refused), fields, "{refused}");
        }
        let not_json = app.request(Method::POST, "/v1/import/claimreview").header("content-type", "application/json").body("{").send().await.unwrap();
        problem(not_json, 400).await;
        let not_ld = app.request(Method::POST, "/v1/import/claimreview").header("content-type", "text/plain").body(good.to_string()).send().await.unwrap();
        problem(not_ld, 415).await;
        let read_only = app.anonymous(Method::POST, "/v1/import/claimreview").bearer_auth(&app.read_key).json(&good).send().await.unwrap();
        problem(read_only, 403).await;
        assert_eq!(counts(&app).await, [0, 0, 0, 0, 0], "nothing was stored");
        assert_eq!(import(&app, "", &good).await.status(), StatusCode::OK, "the good document imports");
        assert_eq!(counts(&app).await, [1, 1, 1, 1, 1]);
        // The same reviewer's second verdict with another URL: a conflict, all or nothing.
        let second = json!([with(&["claimReviewed"], json!("Fire is cold.")), with(&["url"], json!("https://check.example.org/other"))]);
        let refused = problem(import(&app, "", &second).await, 409).await;
        assert!(refused["detail"].as_str().unwrap().starts_with("$[1]"), "{refused}");
        assert_eq!(counts(&app).await, [1, 1, 1, 1, 1], "the first item was rolled back too");
    }
}
