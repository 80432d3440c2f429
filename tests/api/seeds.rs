use std::collections::{BTreeSet, HashMap};

use claimtrail::seed::{self, seed_id};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app_with;
use crate::on_both_backends;

async fn load(app: &crate::helpers::TestApp) -> seed::SeedReport {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || seed::load(&db)).await.unwrap().expect("the seed data loads")
}

async fn card(app: &crate::helpers::TestApp, kind: &str, key: &str) -> Value {
    let response = app.get(&format!("/v1/claims/{}", seed_id(kind, key))).await;
    assert_eq!(response.status(), StatusCode::OK, "claim {key}");
    response.json().await.unwrap()
}

fn attribution_in<'a>(card: &'a Value, source_key: &str) -> &'a Value {
    let source_id = seed_id("source", source_key).to_string();
    card["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source_id"] == source_id.as_str())
        .unwrap_or_else(|| panic!("no attribution in {source_key}: {card}"))
}

on_both_backends! {
    async fn every_seed_quote_verifies_against_its_article(app: TestApp) {
        let report = load(&app).await;
        assert_eq!(report.created, [21, 15, 104, 113]);
        let attributions = app.list_all("/v1/attributions").await;
        assert_eq!(attributions.len(), 113);
        // Every attribution is in one of the two articles, whose text is on
        // record: cited-only sources get none (seeds/README.md).
        for a in &attributions {
            assert_eq!(a["quote_status"], "verified", "{a}");
            assert!(a["quote_start"].as_i64().unwrap() < a["quote_end"].as_i64().unwrap(), "{a}");
        }
    }

    async fn the_death_toll_claim_is_the_guardian_citing_the_africa_center(app: TestApp) {
        load(&app).await;
        let card = card(&app, "claim", "mali-insurgency-death-toll-since-2012").await;
        assert_eq!(card["quantity"]["value"], 17700.0);
        assert_eq!(card["quantity"]["comparator"], "gt");
        assert_eq!(card["period_start"], "2012");
        let guardian = attribution_in(&card, "guardian-jnim-article");
        assert_eq!(guardian["mode"], "citation");
        assert_eq!(guardian["cited_source_id"], seed_id("source", "acss-mali-fatalities-data").to_string());
        assert_eq!(guardian["source"]["publisher"]["name"], "The Guardian");
        assert_eq!(guardian["cited_source"]["publisher"]["name"], "Africa Center for Strategic Studies");
        assert_eq!(guardian["quote_status"], "verified");
        assert!(guardian["quote"]["exact"].as_str().unwrap().contains("17,700"));
        assert_eq!(card["attributions"].as_array().unwrap().len(), 1, "the Africa Center's own text is not on record");
    }

    async fn more_than_two_thirds_is_stored_as_two_thirds_to_full_precision(app: TestApp) {
        load(&app).await;
        let card = card(&app, "claim", "mali-insurgency-deaths-share-after-2020").await;
        assert_eq!(card["quantity"]["comparator"], "gt");
        assert_eq!(card["quantity"]["value"].as_f64(), Some(2.0 / 3.0), "{}", card["quantity"]);
        assert_eq!(card["quantity"]["unit"], "share of deaths");
    }

    async fn every_seed_claims_provenance_builds_and_every_cited_only_source_is_a_cold_trail(app: TestApp) {
        load(&app).await;
        let articles: BTreeSet<String> =
            ["guardian-jnim-article", "mali-on-edge-blog-post"].iter().map(|k| seed_id("source", k).to_string()).collect();
        // Per claim, the sources its attributions cite, and where each supporting
        // citation ends: the cold source, or the speaker who spoke there.
        let mut cited: HashMap<String, (BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
        for a in app.list_all("/v1/attributions").await {
            let entry = cited.entry(a["claim_id"].as_str().unwrap().to_string()).or_default();
            if let Some(source) = a["cited_source_id"].as_str() {
                entry.0.insert(source.to_string());
                if a["stance"] == "affirms" {
                    entry.1.insert(a["speaker_id"].as_str().unwrap_or(source).to_string());
                }
            }
        }
        let claims = app.list_all("/v1/claims").await;
        assert_eq!(claims.len(), 104);
        let mut cold = BTreeSet::new();
        for claim in &claims {
            let id = claim["id"].as_str().unwrap();
            let response = app.get(&format!("/v1/claims/{id}/provenance")).await;
            assert_eq!(response.status(), StatusCode::OK, "provenance of {}", claim["text"]);
            let graph: Value = response.json().await.unwrap();
            let strings = |field: &str| -> BTreeSet<String> {
                let id = |v: &Value| v.as_str().unwrap_or_else(|| v["id"].as_str().unwrap()).to_string();
                graph[field].as_array().unwrap().iter().map(id).collect()
            };
            let (origins, unresolved) = (strings("origins"), strings("unresolved"));
            let (all_cited, trail_ends) = cited.get(id).cloned().unwrap_or_default();
            assert_eq!(unresolved, all_cited, "every source this claim's articles cite is a cold trail: {graph}");
            assert!(trail_ends.is_subset(&origins), "a supporting citation ends in an origin: {graph}");
            let speakers: BTreeSet<String> = graph["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["type"] != "source")
                .map(|n| n["id"].as_str().unwrap().to_string())
                .collect();
            for origin in &origins {
                assert!(
                    articles.contains(origin) || unresolved.contains(origin) || speakers.contains(origin),
                    "origin {origin} is neither an article on record, a speaker, nor a cold trail: {graph}"
                );
            }
            cold.extend(unresolved);
        }
        for source in ["acss-mali-fatalities-data", "business-insider-africa-report-barrick-deal", "soufan-center-analysis-jnim-fuel-blockade"] {
            assert!(cold.contains(&seed_id("source", source).to_string()), "{source} is a cold trail like every cited-only source");
        }
    }

    async fn the_readmes_example_ids_resolve_in_the_seed_data(app: TestApp) {
        load(&app).await;
        let readme = include_str!("../../README.md");
        let ids: BTreeSet<&str> = readme
            .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .filter(|w| uuid::Uuid::parse_str(w).is_ok_and(|id| id.get_version_num() == 5))
            .collect();
        assert!(ids.len() >= 4, "the README shows seed ids: {ids:?}");
        for id in ids {
            let mut found = false;
            for collection in ["agents", "sources", "claims", "attributions"] {
                found |= app.get(&format!("/v1/{collection}/{id}")).await.status() == StatusCode::OK;
            }
            assert!(found, "README.md shows {id}, which is no seed record");
        }
    }

    async fn the_barrick_payment_claim_is_the_blog_citing_business_insider_africa(app: TestApp) {
        load(&app).await;
        let card = card(&app, "claim", "barrick-to-pay-mali-430-million").await;
        assert_eq!(card["quantity"]["value"], 430000000.0);
        assert_eq!(card["quantity"]["unit"], "USD");
        let blog = attribution_in(&card, "mali-on-edge-blog-post");
        assert_eq!(blog["mode"], "citation");
        assert_eq!(blog["cited_source_id"], seed_id("source", "business-insider-africa-report-barrick-deal").to_string());
        assert_eq!(blog["quote_status"], "verified");
        assert!(blog["quote"]["exact"].as_str().unwrap().contains("$430 million"));
    }

    async fn loading_the_seeds_twice_changes_nothing(app: TestApp) {
        load(&app).await;
        let before = app.snapshot().await;
        let second = load(&app).await;
        assert_eq!(second.created, [0, 0, 0, 0]);
        assert_eq!(second.present, [21, 15, 104, 113]);
        assert_eq!(app.snapshot().await, before);
    }

    async fn every_seed_record_passes_the_apis_validation_over_http(app: TestApp) {
        for record in seed::records().unwrap() {
            let response = app.post(&format!("/v1/{}s", record.kind), &record.body).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{} `{}` was refused: {body}", record.kind, record.key);
        }
        assert_eq!(app.list_all("/v1/claims").await.len(), 104);
    }

    async fn a_new_server_seeds_an_empty_database_unless_told_not_to(app: TestApp) {
        assert!(app.list_all("/v1/claims").await.is_empty(), "the test server starts unseeded");
        let seeded = spawn_app_with(app.backend, |s| s.no_seed = false).await;
        assert_eq!(seeded.list_all("/v1/claims").await.len(), 104);
        assert_eq!(seeded.list_all("/v1/agents").await.len(), 21);
    }
}
