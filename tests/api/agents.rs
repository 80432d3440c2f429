use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_fields, problem};
use crate::on_both_backends;

on_both_backends! {
    async fn create_agent_returns_201_with_location_etag_and_the_stored_agent(app: TestApp) {
        let response = app.post("/v1/agents", &json!({"kind": "person", "name": "Ulf Laessing", "description": "analyst"})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(response.headers()["etag"], "\"1\"");
        let agent: Value = response.json().await.unwrap();
        assert_eq!(location, format!("/v1/agents/{}", agent["id"].as_str().unwrap()));
        assert_eq!(agent["name"], "Ulf Laessing");
        assert_eq!(agent["kind"], "person");
        assert_eq!(agent["anonymous"], false);
        assert_eq!(agent["version"], 1);
        let fetched: Value = app.get(&location).await.json().await.unwrap();
        assert_eq!(fetched, agent);
    }

    async fn create_agent_returns_422_listing_every_invalid_field(app: TestApp) {
        let response = app.post("/v1/agents", &json!({"kind": "robot", "name": "", "url": "javascript:alert(1)", "extra": 1})).await;
        let body = problem(response, 422).await;
        let mut fields = error_fields(&body);
        fields.sort();
        assert_eq!(fields, ["extra", "kind"]);
        let response = app.post("/v1/agents", &json!({"kind": "person", "name": " ", "url": "javascript:alert(1)", "wikidata_id": "X1"})).await;
        let body = problem(response, 422).await;
        assert_eq!(error_fields(&body), ["name", "url", "wikidata_id"]);
    }
}
