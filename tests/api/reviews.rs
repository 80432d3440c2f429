//! Reviews: the resource, its conflicts, who sees drafts, the claim card
//! that shows them, and the claim list's review filters.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_fields, problem};
use crate::on_both_backends;

/// A fact-checking organisation, a person, and a claim.
async fn parties(app: &TestApp) -> (Value, Value, Value) {
    let reviewer = app
        .create("/v1/agents", json!({"kind": "organization", "name": "Desk Check", "url": "https://check.example.org"}))
        .await;
    let author = app.create("/v1/agents", json!({"kind": "person", "name": "Awa Diallo"})).await;
    let claim = app.create_claim("More than 17,700 people have died in Mali's insurgency since 2012.").await;
    (reviewer, author, claim)
}

fn published(claim: &Value, reviewer: &Value, label: &str) -> Value {
    json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"], "status": "published",
        "rating": {"label": label, "value": 4, "best": 5, "worst": 1},
        "url": format!("https://check.example.org/{}", label.to_lowercase().replace(' ', "-")),
        "published_on": "2025-11-20", "language": "en", "summary": "What the record shows."})
}

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("an id")
}

async fn json_of(app: &TestApp, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.anonymous(Method::GET, path);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("GET answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ids_listed(app: &TestApp, path: &str) -> Vec<String> {
    let mut ids: Vec<String> = app.list_all(path).await.iter().map(|c| id(c).to_string()).collect();
    ids.sort();
    ids
}

on_both_backends! {
    async fn a_review_is_created_read_changed_deleted_and_restored_like_every_resource(app: TestApp) {
        let (reviewer, author, claim) = parties(&app).await;
        let mut body = published(&claim, &reviewer, "Accurate");
        body["author_id"] = author["id"].clone();
        let response = app.post("/v1/reviews", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["etag"], "\"1\"");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let review: Value = response.json().await.unwrap();
        assert_eq!(location, format!("/v1/reviews/{}", id(&review)));
        assert_eq!(review["rating"], json!({"label": "Accurate", "value": 4.0, "best": 5.0, "worst": 1.0}));
        assert_eq!((review["status"].as_str(), review["author_id"].as_str()), (Some("published"), author["id"].as_str()));

        let (status, read) = json_of(&app, &location, None).await;
        assert_eq!((status, &read), (StatusCode::OK, &review));
        problem(app.request(Method::PATCH, &location).json(&json!({"summary": "x"})).send().await.unwrap(), 428).await;
        problem(app.patch(&location, 7, &json!({"summary": "x"})).await, 412).await;
        let changed = app.patch(&location, 1, &json!({"rating": {"label": "Mostly accurate"}, "summary": null})).await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(changed.headers()["etag"], "\"2\"");
        let changed: Value = changed.json().await.unwrap();
        assert_eq!(changed["rating"]["label"], "Mostly accurate");
        assert_eq!(changed["rating"]["best"], 5.0, "the rating merges member by member");
        assert!(changed["summary"].is_null());

        let page: Value = app.get(&format!("/v1/reviews?claim_id={}", id(&claim))).await.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(app.delete(&location, 2).await.status(), StatusCode::NO_CONTENT);
        problem(app.get(&location).await, 404).await;
        let history: Value = app.get(&format!("{location}/revisions")).await.json().await.unwrap();
        let actions: Vec<&str> = history["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["delete", "update", "create"]);
        let restored = app.request(Method::POST, &format!("{location}/revisions/2/restore"))
            .header("if-match", "\"3\"").send().await.unwrap();
        assert_eq!(restored.status(), StatusCode::OK);
        let restored: Value = restored.json().await.unwrap();
        assert_eq!((restored["version"].as_i64(), restored["rating"]["label"].as_str()), (Some(4), Some("Mostly accurate")));
        let feed: Value = app.get("/v1/changes?types=review").await.json().await.unwrap();
        assert_eq!(feed["items"].as_array().unwrap().len(), 4, "create, update, delete, restore: {feed}");
    }

    async fn one_reviewer_has_at_most_one_review_of_a_claim_that_is_not_withdrawn(app: TestApp) {
        let (reviewer, _, claim) = parties(&app).await;
        let first = app.create("/v1/reviews", published(&claim, &reviewer, "False")).await;
        let mut draft = published(&claim, &reviewer, "Misleading");
        draft["status"] = json!("draft");
        let refused = problem(app.post("/v1/reviews", &draft).await, 409).await;
        assert!(refused["detail"].as_str().unwrap().contains(id(&first)), "{refused}");
        let other = app.create_agent("Another Check").await;
        app.create("/v1/reviews", published(&claim, &other, "Misleading")).await;

        let path = format!("/v1/reviews/{}", id(&first));
        assert_eq!(app.patch(&path, 1, &json!({"status": "withdrawn"})).await.status(), StatusCode::OK);
        let second = app.create("/v1/reviews", draft).await;
        problem(app.patch(&path, 2, &json!({"status": "published"})).await, 409).await;
        let page: Value = app
            .request(Method::GET, &format!("/v1/reviews?reviewer_id={}", id(&reviewer)))
            .send().await.unwrap().json().await.unwrap();
        let statuses: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["draft", "withdrawn"], "newest first");
        assert_eq!(page["items"][0]["id"], second["id"]);
    }

    async fn a_review_that_breaks_a_rule_is_a_422_naming_every_field(app: TestApp) {
        let (reviewer, _, claim) = parties(&app).await;
        let organisation = app.create_agent("Not a person").await;
        let bad = json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"], "status": "published",
            "rating": {"label": " ", "value": 7, "best": 5, "worst": 1}, "language": "english!", "url": "ftp://x"});
        let refused = problem(app.post("/v1/reviews", &bad).await, 422).await;
        let mut fields = error_fields(&refused);
        fields.sort();
        assert_eq!(fields, ["language", "rating.label", "rating.value", "url"], "{refused}");
        let unscaled = json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"], "status": "published",
            "rating": {"label": "False", "value": 1}});
        let refused = problem(app.post("/v1/reviews", &unscaled).await, 422).await;
        assert_eq!(error_fields(&refused), ["rating.value", "url"], "{refused}");
        let missing = json!({"claim_id": uuid::Uuid::now_v7(), "reviewer_id": reviewer["id"],
            "author_id": organisation["id"], "rating": {"label": "False"}});
        let refused = problem(app.post("/v1/reviews", &missing).await, 422).await;
        assert_eq!(error_fields(&refused), ["claim_id"], "{refused}");
        let by_organisation = json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"],
            "author_id": organisation["id"], "rating": {"label": "False"}});
        let refused = problem(app.post("/v1/reviews", &by_organisation).await, 422).await;
        assert_eq!(error_fields(&refused), ["author_id"], "{refused}");
        let unknown = json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"], "rating": {"label": "x"}, "verdict": 1});
        assert_eq!(error_fields(&problem(app.post("/v1/reviews", &unknown).await, 422).await), ["verdict"]);
        let page: Value = app.request(Method::GET, "/v1/reviews").send().await.unwrap().json().await.unwrap();
        assert_eq!(page["items"], json!([]), "nothing was stored");
    }

    async fn deleting_a_claim_or_an_agent_a_review_names_is_a_409(app: TestApp) {
        let (reviewer, author, claim) = parties(&app).await;
        let mut body = published(&claim, &reviewer, "False");
        body["author_id"] = author["id"].clone();
        let review = app.create("/v1/reviews", body).await;
        for (path, by) in [
            (format!("/v1/claims/{}", id(&claim)), "reviews (claim_id)"),
            (format!("/v1/agents/{}", id(&reviewer)), "reviews (reviewer_id)"),
            (format!("/v1/agents/{}", id(&author)), "reviews (author_id)"),
        ] {
            let current: Value = app.get(&path).await.json().await.unwrap();
            let refused = problem(app.delete(&path, current["version"].as_i64().unwrap()).await, 409).await;
            assert!(refused["detail"].as_str().unwrap().contains(by), "{refused}");
        }
        assert_eq!(app.delete(&format!("/v1/reviews/{}", id(&review)), 1).await.status(), StatusCode::NO_CONTENT);
        let current: Value = app.get(&format!("/v1/claims/{}", id(&claim))).await.json().await.unwrap();
        let deleted = app.delete(&format!("/v1/claims/{}", id(&claim)), current["version"].as_i64().unwrap()).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }

    async fn drafts_are_seen_only_with_a_write_key(app: TestApp) {
        let (reviewer, _, claim) = parties(&app).await;
        let mut body = published(&claim, &reviewer, "Unproven");
        body["status"] = json!("draft");
        let draft = app.create("/v1/reviews", body).await;
        let path = format!("/v1/reviews/{}", id(&draft));
        let card = format!("/v1/claims/{}", id(&claim));
        for key in [None, Some(app.read_key.as_str())] {
            assert_eq!(json_of(&app, &path, key).await.0, StatusCode::NOT_FOUND);
            assert_eq!(json_of(&app, &format!("{path}/revisions"), key).await.0, StatusCode::NOT_FOUND);
            assert_eq!(json_of(&app, &format!("{path}/revisions/1"), key).await.0, StatusCode::NOT_FOUND);
            assert_eq!(json_of(&app, "/v1/reviews", key).await.1["items"], json!([]));
            assert_eq!(json_of(&app, "/v1/reviews?status=draft", key).await.0, StatusCode::FORBIDDEN);
            assert_eq!(json_of(&app, &card, key).await.1["reviews"], json!([]));
            assert_eq!(json_of(&app, &format!("{card}?include=drafts"), key).await.0, StatusCode::FORBIDDEN);
            assert_eq!(json_of(&app, "/v1/changes?types=review", key).await.1["items"], json!([]));
            assert_eq!(json_of(&app, &format!("{path}/claimreview"), key).await.0, StatusCode::NOT_FOUND);
        }
        let desk = Some(app.write_key.as_str());
        assert_eq!(json_of(&app, &path, desk).await.0, StatusCode::OK);
        assert_eq!(json_of(&app, "/v1/reviews?status=draft", desk).await.1["items"][0]["id"], draft["id"]);
        let (status, desk_card) = json_of(&app, &format!("{card}?include=drafts"), desk).await;
        assert_eq!((status, &desk_card["reviews"][0]["id"]), (StatusCode::OK, &draft["id"]));
        assert_eq!(json_of(&app, "/v1/changes?types=review", desk).await.1["items"].as_array().unwrap().len(), 1);

        // Published, it is everyone's; its draft revision stays the desk's.
        assert_eq!(app.patch(&path, 1, &json!({"status": "published"})).await.status(), StatusCode::OK);
        assert_eq!(json_of(&app, &path, None).await.0, StatusCode::OK);
        let history = json_of(&app, &format!("{path}/revisions"), None).await.1;
        let versions: Vec<i64> = history["items"].as_array().unwrap().iter().map(|r| r["version"].as_i64().unwrap()).collect();
        assert_eq!(versions, [2]);
        assert_eq!(json_of(&app, &card, None).await.1["reviews"][0]["rating"]["label"], "Unproven");
    }

    async fn a_card_shows_reviews_by_two_organisations_and_its_version_follows_them(app: TestApp) {
        let (reviewer, author, claim) = parties(&app).await;
        let other = app.create("/v1/agents", json!({"kind": "organization", "name": "Sahel Facts"})).await;
        let source = app.create_source("The story", None).await;
        app.create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "direct"})).await;
        let card_path = format!("/v1/claims/{}", id(&claim));
        let version = |card: &Value| card["version"].as_i64().unwrap();
        let before: Value = app.get(&card_path).await.json().await.unwrap();

        let mut first = published(&claim, &reviewer, "Accurate");
        first["author_id"] = author["id"].clone();
        let first = app.create("/v1/reviews", first).await;
        let after_first: Value = app.get(&card_path).await.json().await.unwrap();
        assert!(version(&after_first) > version(&before), "a review changes the card");
        let second = app.create("/v1/reviews", published(&claim, &other, "Misleading")).await;
        let card: Value = app.get(&card_path).await.json().await.unwrap();
        assert!(version(&card) > version(&after_first));
        let reviews = card["reviews"].as_array().unwrap();
        assert_eq!(reviews.len(), 2, "{card}");
        assert_eq!((reviews[0]["id"].as_str(), reviews[1]["id"].as_str()), (first["id"].as_str(), second["id"].as_str()));
        assert_eq!(reviews[0]["reviewer"]["name"], "Desk Check");
        assert_eq!(reviews[0]["author"]["name"], "Awa Diallo");
        assert_eq!((reviews[1]["reviewer"]["name"].as_str(), reviews[1]["author"].as_str()), (Some("Sahel Facts"), None));
        assert_eq!(reviews[1]["rating"]["label"], "Misleading");
        assert_eq!(card["attributions"].as_array().unwrap().len(), 1);

        // The ETag follows: a renamed reviewer, a changed or deleted review.
        let etag = format!("\"{}\"", version(&card));
        let unchanged = app.anonymous(Method::GET, &card_path).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(app.patch(&format!("/v1/agents/{}", id(&other)), 1, &json!({"name": "Sahel Facts Desk"})).await.status(), StatusCode::OK);
        let renamed = app.anonymous(Method::GET, &card_path).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(renamed.status(), StatusCode::OK);
        let renamed: Value = renamed.json().await.unwrap();
        assert_eq!(renamed["reviews"][1]["reviewer"]["name"], "Sahel Facts Desk");
        assert!(version(&renamed) > version(&card));
        let review_path = format!("/v1/reviews/{}", id(&second));
        assert_eq!(app.patch(&review_path, 1, &json!({"status": "withdrawn"})).await.status(), StatusCode::OK);
        let withdrawn: Value = app.get(&card_path).await.json().await.unwrap();
        assert!(version(&withdrawn) > version(&renamed));
        assert_eq!(withdrawn["reviews"].as_array().unwrap().len(), 1, "a withdrawn review leaves the card");
        assert_eq!(app.delete(&review_path, 2).await.status(), StatusCode::NO_CONTENT);
        let deleted: Value = app.get(&card_path).await.json().await.unwrap();
        assert!(version(&deleted) > version(&withdrawn));
        let history: Value = app.get(&format!("{card_path}/revisions")).await.json().await.unwrap();
        assert!(history["items"][0]["cause"].as_str().unwrap().contains(&format!("review {}", id(&second))), "{history}");
    }

    async fn the_claim_list_filters_by_published_reviews_their_reviewer_and_rating_label(app: TestApp) {
        let (x, _, a) = parties(&app).await;
        let y = app.create_agent("Sahel Facts").await;
        let b = app.create_claim("The fuel blockade of Bamako began in September.").await;
        let c = app.create_claim("The fuel blockade was lifted in October.").await;
        let d = app.create_claim("Nothing reviewed here.").await;
        app.create("/v1/reviews", published(&a, &x, "False")).await;
        app.create("/v1/reviews", published(&b, &y, "Misleading")).await;
        let mut draft = published(&c, &x, "False");
        draft["status"] = json!("draft");
        app.create("/v1/reviews", draft).await;
        let mut withdrawn = published(&d, &y, "False");
        withdrawn["status"] = json!("withdrawn");
        app.create("/v1/reviews", withdrawn).await;
        let sorted = |claims: &[&Value]| {
            let mut ids: Vec<String> = claims.iter().map(|c| id(c).to_string()).collect();
            ids.sort();
            ids
        };
        let (xid, yid) = (id(&x), id(&y));
        for (query, expected) in [
            ("reviewed=true".to_string(), sorted(&[&a, &b])),
            ("reviewed=false".to_string(), sorted(&[&c, &d])),
            (format!("reviewer_id={xid}"), sorted(&[&a])),
            (format!("reviewer_id={yid}"), sorted(&[&b])),
            ("rating_label=false".to_string(), sorted(&[&a])),
            ("rating_label=%20MISLEADING%20".to_string(), sorted(&[&b])),
            (format!("rating_label=False&reviewer_id={yid}"), vec![]),
            ("reviewed=true&q=fuel".to_string(), sorted(&[&b])),
            ("reviewed=false&q=fuel".to_string(), sorted(&[&c])),
            (format!("reviewer_id={xid}&q=fuel"), vec![]),
            ("rating_label=misleading&q=fuel&sort=relevance".to_string(), sorted(&[&b])),
        ] {
            assert_eq!(ids_listed(&app, &format!("/v1/claims?{query}")).await, expected, "{query}");
        }
        // Pages of one filter, with its cursor.
        let first: Value = app.get("/v1/claims?reviewed=false&limit=1").await.json().await.unwrap();
        let cursor = first["next_cursor"].as_str().expect("a second page");
        let second: Value = app.get(&format!("/v1/claims?reviewed=false&limit=1&cursor={cursor}")).await.json().await.unwrap();
        assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
        problem(app.get(&format!("/v1/claims?reviewed=true&limit=1&cursor={cursor}")).await, 400).await;
        let blank = problem(app.get("/v1/claims?rating_label=%20").await, 400).await;
        assert_eq!(error_fields(&blank), ["rating_label"]);
        assert_eq!(error_fields(&problem(app.get("/v1/claims?reviewed=maybe").await, 400).await), ["reviewed"]);
    }
}
