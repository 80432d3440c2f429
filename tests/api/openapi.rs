use reqwest::StatusCode;
use serde_json::Value;

use crate::on_both_backends;

const COMMITTED: &str = include_str!("../../openapi/openapi.json");
const REGENERATE: &str = "openapi/openapi.json is not what the code generates; regenerate it with \
    `cargo run -- openapi > openapi/openapi.json` and commit it";

#[test]
fn the_committed_openapi_document_is_the_one_the_code_generates() {
    let generated = claimtrail::startup::openapi_document().to_pretty_json().expect("the document serializes");
    assert!(generated.trim() == COMMITTED.trim(), "{REGENERATE}");
}

#[test]
fn every_operation_has_an_operation_id_a_summary_a_tag_and_problem_responses() {
    let document: Value = serde_json::from_str(COMMITTED).expect("the committed document is JSON");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10, "only {} paths", paths.len());
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let name = format!("{method} {path}");
            assert!(operation["operationId"].is_string(), "{name} has no operationId");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name} has no summary");
            assert!(operation["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name} has no tag");
            let responses = operation["responses"].as_object().expect("responses");
            let problem = &responses["500"]["content"]["application/problem+json"];
            assert!(problem.is_object(), "{name} does not document its problem responses");
        }
    }
}

on_both_backends! {
    async fn the_served_openapi_document_is_the_committed_one(app: TestApp) {
        let response = app.get("/openapi.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        let served: Value = response.json().await.unwrap();
        let committed: Value = serde_json::from_str(COMMITTED).unwrap();
        assert!(served == committed, "{REGENERATE}");
    }

    async fn the_swagger_ui_is_served_at_docs_without_any_cdn(app: TestApp) {
        let response = app.get("/docs/").await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        assert!(page.contains("swagger-ui"), "{page}");
        assert!(!page.contains("https://"), "the page loads something from elsewhere: {page}");
        let redirect = app.get("/docs").await;
        assert!(redirect.status().is_redirection());
    }
}
