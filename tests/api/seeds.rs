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
        assert_eq!(report.created, [21, 15, 87, 102]);
        let attributions = app.list_all("/v1/attributions").await;
        assert_eq!(attributions.len(), 102);
        let quoted: Vec<&Value> = attributions.iter().filter(|a| !a["quote"].is_null()).collect();
        assert!(quoted.len() >= 100, "only {} quoted attributions", quoted.len());
        for a in quoted {
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
        assert_eq!(second.present, [21, 15, 87, 102]);
        assert_eq!(app.snapshot().await, before);
    }

    async fn every_seed_record_passes_the_apis_validation_over_http(app: TestApp) {
        for record in seed::records().unwrap() {
            let response = app.post(&format!("/v1/{}s", record.kind), &record.body).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{} `{}` was refused: {body}", record.kind, record.key);
        }
        assert_eq!(app.list_all("/v1/claims").await.len(), 87);
    }

    async fn a_new_server_seeds_an_empty_database_unless_told_not_to(app: TestApp) {
        assert!(app.list_all("/v1/claims").await.is_empty(), "the test server starts unseeded");
        let seeded = spawn_app_with(app.backend, |s| s.no_seed = false).await;
        assert_eq!(seeded.list_all("/v1/claims").await.len(), 87);
        assert_eq!(seeded.list_all("/v1/agents").await.len(), 21);
    }
}
