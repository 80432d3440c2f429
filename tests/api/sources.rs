use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::contract::{self, id, read_json};
use crate::helpers::{error_fields, problem};
use crate::on_both_backends;

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

const CONTENT: &str = "Mali’s junta is losing ground. “The state is retreating,” said an analyst.";

on_both_backends! {
    async fn create_source_returns_201_with_its_content_and_the_sha256_of_it(app: TestApp) {
        let guardian = app.create_agent("The Guardian").await;
        let sent = json!({
            "kind": "article", "title": "How JNIM is bringing Mali to its knees",
            "url": "https://www.theguardian.com/world/2025/nov/jnim-mali", "publisher_id": guardian["id"],
            "byline": "Jason Burke", "published_on": "2025-11", "language": "en", "content": CONTENT,
            "archived_url": "https://web.archive.org/web/2025/https://www.theguardian.com/world/2025/nov/jnim-mali"
        });
        let source = contract::created(app.post("/v1/sources", &sent).await, "/v1/sources").await;
        for (field, value) in sent.as_object().unwrap() {
            assert_eq!(&source[field], value, "{field}");
        }
        assert_eq!(source["content_sha256"], sha256_hex(CONTENT));
        let fetched = read_json(app.get(&format!("/v1/sources/{}", id(&source))).await, StatusCode::OK).await;
        assert_eq!(fetched, source);
    }

    async fn a_source_without_content_has_no_digest(app: TestApp) {
        let source = app.create_source("Press conference", None).await;
        assert_eq!(source["content_sha256"], Value::Null);
        let fetched = read_json(app.get(&format!("/v1/sources/{}", id(&source))).await, StatusCode::OK).await;
        assert!(fetched.get("content").is_none_or(Value::is_null), "{fetched}");
        assert_eq!(fetched["content_sha256"], Value::Null);
    }

    async fn create_source_returns_422_listing_every_invalid_field(app: TestApp) {
        let sent = json!({
            "kind": "article", "title": "", "url": "javascript:alert(1)", "language": "english!",
            "published_on": "2025-13", "content": "", "archived_url": "ftp://example.org/x", "byline": "a\u{0}b"
        });
        let body = problem(app.post("/v1/sources", &sent).await, 422).await;
        let mut fields = error_fields(&body);
        fields.sort();
        assert_eq!(fields, ["archived_url", "byline", "content", "language", "published_on", "title", "url"], "{body}");
        for date in ["2025-02-30", "2025-1", "25", "2025-11-18T10:00:00Z"] {
            let body = problem(app.post("/v1/sources", &json!({"kind": "report", "title": "x", "published_on": date})).await, 422).await;
            assert_eq!(error_fields(&body), ["published_on"], "{date}");
        }
        let body = problem(app.post("/v1/sources", &json!({"kind": "blog", "title": "x"})).await, 422).await;
        assert_eq!(error_fields(&body), ["kind"]);
        assert!(app.list_all("/v1/sources").await.is_empty());
    }

    async fn create_source_returns_422_naming_a_publisher_that_does_not_exist(app: TestApp) {
        let body = problem(app.post("/v1/sources", &json!({"kind": "article", "title": "x", "publisher_id": uuid::Uuid::now_v7()})).await, 422).await;
        assert_eq!(error_fields(&body), ["publisher_id"]);
        assert!(app.list_all("/v1/sources").await.is_empty());
    }

    async fn create_source_keeps_a_client_chosen_id_and_refuses_it_twice(app: TestApp) {
        contract::client_ids(&app, "/v1/sources", json!({"kind": "report", "title": "Sahel fatalities"})).await;
    }

    async fn get_source_answers_its_etag_and_304_when_if_none_match_names_it(app: TestApp) {
        let source = app.create_source("Report", Some(CONTENT)).await;
        let path = format!("/v1/sources/{}", id(&source));
        assert_eq!(app.patch(&path, 1, &json!({"language": "en"})).await.status(), StatusCode::OK);
        contract::conditional_get(&app, &path).await;
    }

    async fn list_sources_leaves_out_content_and_pages_newest_first(app: TestApp) {
        let guardian = app.create_agent("The Guardian").await;
        let mut published = Vec::new();
        let mut all = Vec::new();
        for i in 0..7 {
            let source = app.create("/v1/sources", json!({"kind": "article", "title": format!("Story {i}"), "publisher_id": guardian["id"], "content": format!("{CONTENT} {i}")})).await;
            published.push(id(&source).to_string());
            all.push(id(&source).to_string());
            if i % 2 == 0 {
                all.push(id(&app.create("/v1/sources", json!({"kind": "dataset", "title": format!("Data {i}")})).await).to_string());
            }
        }
        published.reverse();
        all.reverse();
        let filter = format!("publisher_id={}", id(&guardian));
        contract::pages_hold_every_item_once(&app, "/v1/sources", Some(&filter), &published).await;
        contract::pages_hold_every_item_once(&app, "/v1/sources", Some("kind=article"), &published).await;
        contract::pages_hold_every_item_once(&app, "/v1/sources", None, &all).await;
        let page = read_json(app.get("/v1/sources?kind=article&limit=1").await, StatusCode::OK).await;
        let item = &page["items"][0];
        assert!(item.get("content").is_none(), "list items leave out content: {item}");
        assert_eq!(item["content_sha256"], sha256_hex(&format!("{CONTENT} 6")));
        let single = read_json(app.get(&format!("/v1/sources/{}", id(item))).await, StatusCode::OK).await;
        assert_eq!(single["content"], format!("{CONTENT} 6"));
        assert_eq!(contract::without(&single, &["content"]), *item);
    }

    async fn patch_source_merges_and_a_new_content_gets_a_new_digest(app: TestApp) {
        let source = app.create("/v1/sources", json!({"kind": "article", "title": "JNIM", "byline": "Jason Burke", "content": CONTENT})).await;
        let path = format!("/v1/sources/{}", id(&source));
        let changed = contract::merge_patch(&app, &path, &json!({"content": "New text", "title": "JNIM, updated"}), &["content_sha256"]).await;
        assert_eq!(changed["content_sha256"], sha256_hex("New text"));
        assert_eq!(changed["byline"], "Jason Burke");

        let cleared = read_json(app.patch(&path, 2, &json!({"content": null, "byline": null})).await, StatusCode::OK).await;
        assert_eq!(cleared["content_sha256"], Value::Null);
        assert_eq!(cleared["byline"], Value::Null);
        assert_eq!(cleared["version"], 3);
        let fetched = read_json(app.get(&path).await, StatusCode::OK).await;
        assert!(fetched.get("content").is_none_or(Value::is_null), "{fetched}");

        let body = problem(app.patch(&path, 3, &json!({"publisher_id": uuid::Uuid::now_v7(), "url": "javascript:x"})).await, 422).await;
        let mut fields = error_fields(&body);
        fields.sort();
        assert_eq!(fields, ["url"], "field rules come before references: {body}");
        let body = problem(app.patch(&path, 3, &json!({"publisher_id": uuid::Uuid::now_v7()})).await, 422).await;
        assert_eq!(error_fields(&body), ["publisher_id"]);
    }

    async fn delete_source_needs_if_match_and_then_it_is_gone(app: TestApp) {
        let source = app.create_source("Gone", Some(CONTENT)).await;
        contract::delete(&app, &format!("/v1/sources/{}", id(&source))).await;
    }

    async fn delete_source_returns_409_while_attributions_state_or_cite_it(app: TestApp) {
        let stating = app.create_source("France 24", None).await;
        let cited = app.create_source("ACSS data", None).await;
        let claim = app.create_claim("Deaths exceeded 17,700.").await;
        app.create_attribution(json!({"claim_id": claim["id"], "source_id": stating["id"], "mode": "citation", "cited_source_id": cited["id"]})).await;
        contract::delete_refused_while_referenced(&app, &format!("/v1/sources/{}", id(&stating)), "attributions (source_id)").await;
        contract::delete_refused_while_referenced(&app, &format!("/v1/sources/{}", id(&cited)), "attributions (cited_source_id)").await;
    }

    async fn source_ids_that_are_unknown_or_not_uuids_are_404(app: TestApp) {
        contract::unknown_ids(&app, "/v1/sources").await;
    }

    async fn wrong_methods_on_source_paths_are_405_with_allow(app: TestApp) {
        let source = app.create_source("x", None).await;
        contract::wrong_methods(&app, "/v1/sources", id(&source)).await;
    }
}
