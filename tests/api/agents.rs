use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::contract::{self, id, read_json};
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

    async fn create_agent_returns_every_field_it_was_sent_and_a_v7_id(app: TestApp) {
        let org = app.create_agent("Konrad Adenauer Foundation").await;
        let sent = json!({
            "kind": "person", "name": "A former Malian minister", "description": "now in exile",
            "anonymous": true, "affiliation_id": org["id"], "url": "https://example.org/minister",
            "wikidata_id": "Q42"
        });
        let agent = contract::created(app.post("/v1/agents", &sent).await, "/v1/agents").await;
        for (field, value) in sent.as_object().unwrap() {
            assert_eq!(&agent[field], value, "{field}");
        }
        assert_eq!(uuid::Uuid::parse_str(id(&agent)).unwrap().get_version_num(), 7);
        let fetched = read_json(app.get(&format!("/v1/agents/{}", id(&agent))).await, StatusCode::OK).await;
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
        let body = problem(app.post("/v1/agents", &json!({})).await, 422).await;
        assert_eq!(error_fields(&body), ["kind", "name"]);
    }

    async fn create_agent_returns_422_naming_an_affiliation_that_does_not_exist(app: TestApp) {
        let missing = uuid::Uuid::now_v7();
        let body = problem(app.post("/v1/agents", &json!({"kind": "person", "name": "X", "affiliation_id": missing})).await, 422).await;
        assert_eq!(error_fields(&body), ["affiliation_id"]);
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(&missing.to_string()), "{body}");
        assert!(app.list_all("/v1/agents").await.is_empty());
    }

    async fn create_agent_keeps_a_client_chosen_id_and_refuses_it_twice(app: TestApp) {
        contract::client_ids(&app, "/v1/agents", json!({"kind": "person", "name": "Ulf Laessing"})).await;
    }

    async fn get_agent_answers_its_etag_and_304_when_if_none_match_names_it(app: TestApp) {
        let agent = app.create_agent("France 24").await;
        let path = format!("/v1/agents/{}", id(&agent));
        assert_eq!(app.patch(&path, 1, &json!({"url": "https://www.france24.com"})).await.status(), StatusCode::OK);
        contract::conditional_get(&app, &path).await;
    }

    async fn list_agents_pages_newest_first_and_link_headers_keep_the_filters(app: TestApp) {
        let mut organizations = Vec::new();
        let mut everyone = Vec::new();
        for i in 0..7 {
            let org = app.create_agent(&format!("Outlet {i}")).await;
            organizations.push(id(&org).to_string());
            everyone.push(id(&org).to_string());
            if i % 3 == 0 {
                let person = app.create("/v1/agents", json!({"kind": "person", "name": format!("Reporter {i}")})).await;
                everyone.push(id(&person).to_string());
            }
        }
        organizations.reverse();
        everyone.reverse();
        contract::pages_hold_every_item_once(&app, "/v1/agents", Some("kind=organization"), &organizations).await;
        contract::pages_hold_every_item_once(&app, "/v1/agents", None, &everyone).await;
        let page = read_json(app.get("/v1/agents?limit=200").await, StatusCode::OK).await;
        assert_eq!(page["items"].as_array().unwrap().len(), everyone.len());
        assert_eq!(page["next_cursor"], Value::Null);
    }

    async fn list_agents_filters_by_affiliation(app: TestApp) {
        let kas = app.create_agent("Konrad Adenauer Foundation").await;
        let hrw = app.create_agent("Human Rights Watch").await;
        let ulf = app.create("/v1/agents", json!({"kind": "person", "name": "Ulf Laessing", "affiliation_id": kas["id"]})).await;
        app.create("/v1/agents", json!({"kind": "person", "name": "Ilaria Allegrozzi", "affiliation_id": hrw["id"]})).await;
        let page = read_json(app.get(&format!("/v1/agents?affiliation_id={}", id(&kas))).await, StatusCode::OK).await;
        assert_eq!(page["items"], json!([ulf]));
    }

    async fn patch_agent_merges_needs_if_match_and_null_clears_an_optional_field(app: TestApp) {
        let agent = app.create("/v1/agents", json!({"kind": "person", "name": "Ulf Laessing", "description": "analyst", "url": "https://example.org"})).await;
        let path = format!("/v1/agents/{}", id(&agent));
        let changed = contract::merge_patch(&app, &path, &json!({"description": "head of the Sahel programme", "anonymous": true}), &[]).await;
        assert_eq!(changed["url"], "https://example.org");

        let cleared = read_json(app.patch(&path, 2, &json!({"description": null})).await, StatusCode::OK).await;
        assert_eq!(cleared["description"], Value::Null);
        assert_eq!(cleared["url"], "https://example.org");
        assert_eq!(cleared["version"], 3);

        let same_id = read_json(app.patch(&path, 3, &json!({"id": agent["id"], "name": "Ulf Laessing (KAS)"})).await, StatusCode::OK).await;
        assert_eq!(same_id["id"], agent["id"]);
        assert_eq!(same_id["version"], 4);

        let required = problem(app.patch(&path, 4, &json!({"name": null})).await, 422).await;
        assert_eq!(error_fields(&required), ["name"]);
        let star = app.request(reqwest::Method::PATCH, &path).header("if-match", "*").json(&json!({"wikidata_id": "Q1"})).send().await.unwrap();
        assert_eq!(read_json(star, StatusCode::OK).await["version"], 5);
    }

    async fn patch_agent_refuses_an_unknown_affiliation_and_itself_as_affiliation(app: TestApp) {
        let agent = app.create_agent("Human Rights Watch").await;
        let path = format!("/v1/agents/{}", id(&agent));
        let missing = problem(app.patch(&path, 1, &json!({"affiliation_id": uuid::Uuid::now_v7()})).await, 422).await;
        assert_eq!(error_fields(&missing), ["affiliation_id"]);
        let itself = problem(app.patch(&path, 1, &json!({"affiliation_id": agent["id"]})).await, 422).await;
        assert_eq!(error_fields(&itself), ["affiliation_id"]);
        assert_eq!(read_json(app.get(&path).await, StatusCode::OK).await, agent);
    }

    async fn delete_agent_needs_if_match_and_then_it_is_gone(app: TestApp) {
        let agent = app.create_agent("Defunct outlet").await;
        contract::delete(&app, &format!("/v1/agents/{}", id(&agent))).await;
        assert!(app.list_all("/v1/agents").await.is_empty());
    }

    async fn delete_agent_returns_409_naming_what_still_refers_to_it(app: TestApp) {
        let guardian = app.create_agent("The Guardian").await;
        app.create("/v1/sources", json!({"kind": "article", "title": "JNIM", "publisher_id": guardian["id"]})).await;
        contract::delete_refused_while_referenced(&app, &format!("/v1/agents/{}", id(&guardian)), "sources (publisher_id)").await;

        let kas = app.create_agent("Konrad Adenauer Foundation").await;
        app.create("/v1/agents", json!({"kind": "person", "name": "Ulf Laessing", "affiliation_id": kas["id"]})).await;
        contract::delete_refused_while_referenced(&app, &format!("/v1/agents/{}", id(&kas)), "agents (affiliation_id)").await;

        let speaker = app.create("/v1/agents", json!({"kind": "person", "name": "A former minister", "anonymous": true})).await;
        let source = app.create_source("Interview", None).await;
        let claim = app.create_claim("The junta has lost control of the north.").await;
        app.create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "speaker_id": speaker["id"], "mode": "quote"})).await;
        contract::delete_refused_while_referenced(&app, &format!("/v1/agents/{}", id(&speaker)), "attributions (speaker_id)").await;
    }

    async fn agent_ids_that_are_unknown_or_not_uuids_are_404(app: TestApp) {
        contract::unknown_ids(&app, "/v1/agents").await;
    }

    async fn wrong_methods_on_agent_paths_are_405_with_allow(app: TestApp) {
        let agent = app.create_agent("Reuters").await;
        contract::wrong_methods(&app, "/v1/agents", id(&agent)).await;
    }

    async fn if_match_takes_any_tag_of_a_list_but_never_a_weak_one(app: TestApp) {
        let agent = app.create_agent("Africanews").await;
        let path = format!("/v1/agents/{}", id(&agent));
        let send = |tags: &'static str| {
            app.request(reqwest::Method::PATCH, &path)
                .header("content-type", "application/merge-patch+json")
                .header("if-match", tags)
                .body(json!({"description": "pan-African news channel"}).to_string())
                .send()
        };
        problem(send("W/\"1\"").await.unwrap(), 412).await;
        problem(send("not-a-tag").await.unwrap(), 400).await;
        let response = send("\"7\", \"1\"").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["etag"], "\"2\"");
        let changed = read_json(app.get(&path).await, StatusCode::OK).await;
        assert_eq!(changed["description"], "pan-African news channel");
    }
}
