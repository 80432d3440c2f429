//! Accountability: every change is a revision, attributed and restorable;
//! the change feed lists them once each, in commit order, also live; keys
//! can be revoked; a retried POST with an Idempotency-Key is answered once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use claimtrail::db::Backend;
use diesel::RunQueryDsl;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{TestApp, error_fields, fresh_database, problem};
use crate::instances::{Server, make_key};
use crate::on_both_backends;

/// The id part of a `ct_<id>_<secret>` token.
fn key_id(token: &str) -> String {
    token.split('_').nth(1).expect("a key id").to_string()
}

async fn revisions(app: &TestApp, path: &str) -> Vec<Value> {
    app.list_all(&format!("{path}/revisions")).await
}

/// Every change the feed has, from the start, following cursors.
async fn feed(app: &TestApp, types: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut since = String::new();
    loop {
        let page: Value =
            app.get(&format!("/v1/changes?types={types}&limit=50&since={since}")).await.json().await.unwrap();
        let got = page["items"].as_array().unwrap().clone();
        since = page["next_cursor"].as_str().unwrap().to_string();
        if got.is_empty() {
            return items;
        }
        items.extend(got);
    }
}

async fn send(app: &TestApp, method: Method, path: &str, if_match: i64, comment: &str, body: Option<Value>) -> Value {
    let mut request = app.request(method.clone(), path).header("if-match", format!("\"{if_match}\""));
    if !comment.is_empty() {
        request = request.header("x-change-comment", comment);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/merge-patch+json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{method} {path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

on_both_backends! {
    async fn an_export_without_history_moves_the_current_state_and_the_import_starts_its_history(app: TestApp) {
        let agent = app.create_agent("Le Monde").await;
        let path = format!("/v1/agents/{}", agent["id"].as_str().unwrap());
        send(&app, Method::PATCH, &path, 1, "", Some(json!({"name": "Le Monde Afrique"}))).await;
        let db = app.db.clone();
        let file = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            claimtrail::transfer::export(
                &mut db.get().unwrap(),
                &mut out,
                claimtrail::transfer::Keys::Leave,
                claimtrail::transfer::History::Leave,
            )
            .unwrap();
            out
        })
        .await
        .unwrap();
        let text = String::from_utf8(file.clone()).unwrap();
        assert!(!text.contains("\"revision\"") && !text.contains("history"), "{text}");

        let (url, _dir) = fresh_database(app.backend);
        let id = agent["id"].as_str().unwrap().to_string();
        let history = tokio::task::spawn_blocking(move || {
            let db = claimtrail::db::Db::connect(&url, 1).unwrap();
            let mut conn = db.get().unwrap();
            let change = claimtrail::db::write::Change::now(claimtrail::db::write::Actor::Import);
            let report = claimtrail::transfer::import(&mut conn, file.as_slice(), false, change, claimtrail::db::FileUse::Shared).unwrap();
            assert!(report.errors.is_empty(), "{:?}", report.errors);
            let kind = claimtrail::db::write::ResourceType::Agent;
            claimtrail::revisions::store::of_resource(&mut conn, kind, &id, None, 10).unwrap().items
        })
        .await
        .unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!((history[0].version, history[0].actor.as_str()), (2, "import"));
        assert_eq!(history[0].data.as_ref().unwrap()["name"], "Le Monde Afrique");
    }

    async fn a_claims_life_reads_the_same_in_its_revisions_and_in_the_feed(app: TestApp) {
        let created = app
            .request(Method::POST, "/v1/claims")
            .header("x-change-comment", "from the Guardian piece")
            .json(&json!({"text": "The toll exceeded 17,700.", "status": "unreviewed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let claim: Value = created.json().await.unwrap();
        let path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        send(&app, Method::PATCH, &path, 1, "checked", Some(json!({"status": "supported"}))).await;
        send(&app, Method::PATCH, &path, 2, "", Some(json!({"text": "The toll exceeded 17,000."}))).await;
        send(&app, Method::DELETE, &path, 3, "a duplicate", None).await;
        assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
        // Deleted, and its history is still there; version 2 comes back as version 5.
        let restored = send(&app, Method::POST, &format!("{path}/revisions/2/restore"), 4, "not a duplicate", None).await;
        assert_eq!((restored["version"].as_i64(), restored["status"].as_str()), (Some(5), Some("supported")));
        assert_eq!(restored["text"], claim["text"]);
        assert_eq!(restored["created_at"], claim["created_at"], "restored with its id and creation time");
        let card: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(card["version"], 5);

        let history = revisions(&app, &path).await;
        let summary: Vec<(i64, &str, Option<&str>)> = history
            .iter()
            .map(|r| (r["version"].as_i64().unwrap(), r["action"].as_str().unwrap(), r["comment"].as_str()))
            .collect();
        assert_eq!(summary, [
            (5, "restore", Some("not a duplicate")),
            (4, "delete", Some("a duplicate")),
            (3, "update", None),
            (2, "update", Some("checked")),
            (1, "create", Some("from the Guardian piece")),
        ]);
        let writer = format!("key:{}", key_id(&app.write_key));
        assert!(history.iter().all(|r| r["actor"] == writer.as_str()), "{history:?}");
        assert_eq!(history[1]["data"], Value::Null, "a deletion is a tombstone");
        assert_eq!(history[2]["data"]["text"], "The toll exceeded 17,000.");
        assert_eq!(history[0]["data"], restored);
        let one: Value = app.get(&format!("{path}/revisions/3")).await.json().await.unwrap();
        assert_eq!(one, history[2]);

        // The feed tells the same story, oldest first.
        let of_claim: Vec<Value> =
            feed(&app, "claim").await.into_iter().filter(|c| c["resource_id"] == claim["id"]).collect();
        let mut newest_first = of_claim.clone();
        newest_first.reverse();
        assert_eq!(newest_first, history);
    }

    async fn a_card_only_change_is_a_revision_that_says_what_caused_it(app: TestApp) {
        let source = app.create_source("Report", Some("the toll exceeded 17,700")).await;
        let claim = app.create_claim("The toll exceeded 17,700.").await;
        let attribution = app
            .create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "direct",
                "quote": {"exact": "exceeded 17,700"}}))
            .await;
        let path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        let history = revisions(&app, &path).await;
        assert_eq!(history[0]["action"], "card");
        assert_eq!(history[0]["version"], 2);
        let cause = format!("attribution {} created", attribution["id"].as_str().unwrap());
        assert_eq!(history[0]["cause"], cause.as_str());
        // Renaming the source changes the card too, and says so.
        let source_path = format!("/v1/sources/{}", source["id"].as_str().unwrap());
        send(&app, Method::PATCH, &source_path, 1, "", Some(json!({"title": "The report"}))).await;
        let history = revisions(&app, &path).await;
        assert_eq!(history[0]["cause"], format!("source {} changed", source["id"].as_str().unwrap()).as_str());
        // Changing the text re-checks the quote: the attribution gets a revision saying why.
        send(&app, Method::PATCH, &source_path, 2, "", Some(json!({"content": "other words"}))).await;
        let of_attribution = revisions(&app, &format!("/v1/attributions/{}", attribution["id"].as_str().unwrap())).await;
        assert_eq!(of_attribution[0]["data"]["quote_status"], "not_found");
        assert!(of_attribution[0]["cause"].as_str().unwrap().contains("content of source"), "{of_attribution:?}");
    }

    async fn restoring_an_attribution_whose_source_is_gone_is_a_409_naming_it(app: TestApp) {
        let source = app.create_source("Gone soon", None).await;
        let claim = app.create_claim("A claim.").await;
        let attribution = app
            .create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "direct"}))
            .await;
        let path = format!("/v1/attributions/{}", attribution["id"].as_str().unwrap());
        send(&app, Method::DELETE, &path, 1, "", None).await;
        send(&app, Method::DELETE, &format!("/v1/sources/{}", source["id"].as_str().unwrap()), 1, "", None).await;
        let response = app
            .request(Method::POST, &format!("{path}/revisions/1/restore"))
            .header("if-match", "\"2\"")
            .send()
            .await
            .unwrap();
        let body = problem(response, 409).await;
        assert_eq!(error_fields(&body), ["source_id"]);
        assert!(body["detail"].as_str().unwrap().contains(source["id"].as_str().unwrap()), "{body}");
        assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND, "nothing was restored");
    }

    async fn restoring_a_source_or_an_attribution_takes_back_its_fields_as_a_new_version(app: TestApp) {
        let source = app.create_source("First title", None).await;
        let source_path = format!("/v1/sources/{}", source["id"].as_str().unwrap());
        send(&app, Method::PATCH, &source_path, 1, "", Some(json!({"title": "Second title"}))).await;
        let restored = send(&app, Method::POST, &format!("{source_path}/revisions/1/restore"), 2, "", None).await;
        assert_eq!((restored["title"].as_str(), restored["version"].as_i64()), (Some("First title"), Some(3)));
        let current: Value = app.get(&source_path).await.json().await.unwrap();
        assert_eq!(current["title"], "First title");

        let claim = app.create_claim("A claim.").await;
        let attribution = app
            .create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "direct"}))
            .await;
        assert_eq!(attribution["stance"], "affirms");
        let path = format!("/v1/attributions/{}", attribution["id"].as_str().unwrap());
        send(&app, Method::PATCH, &path, 1, "", Some(json!({"stance": "denies"}))).await;
        let restored = send(&app, Method::POST, &format!("{path}/revisions/1/restore"), 2, "", None).await;
        assert_eq!((restored["stance"].as_str(), restored["version"].as_i64()), (Some("affirms"), Some(3)));
        let history = revisions(&app, &path).await;
        let actions: Vec<_> = history.iter().map(|r| r["action"].as_str().unwrap_or_default()).collect();
        assert_eq!(actions, ["restore", "update", "create"]);
    }

    async fn restore_needs_the_current_etag_and_a_version_with_data(app: TestApp) {
        let agent = app.create_agent("Le Monde").await;
        let path = format!("/v1/agents/{}", agent["id"].as_str().unwrap());
        send(&app, Method::PATCH, &path, 1, "", Some(json!({"name": "Le Monde Afrique"}))).await;
        let restore = format!("{path}/revisions/1/restore");
        problem(app.request(Method::POST, &restore).send().await.unwrap(), 428).await;
        let stale = app.request(Method::POST, &restore).header("if-match", "\"1\"").send().await.unwrap();
        problem(stale, 412).await;
        let missing = app.request(Method::POST, &format!("{path}/revisions/9/restore")).header("if-match", "\"2\"");
        problem(missing.send().await.unwrap(), 404).await;
        send(&app, Method::DELETE, &path, 2, "", None).await;
        let of_delete = app.request(Method::POST, &format!("{path}/revisions/3/restore")).header("if-match", "\"3\"");
        let body = problem(of_delete.send().await.unwrap(), 422).await;
        assert_eq!(error_fields(&body), ["version"]);
        let anonymous = app.anonymous(Method::POST, &restore).header("if-match", "\"3\"").send().await.unwrap();
        problem(anonymous, 401).await;
        let restored = send(&app, Method::POST, &restore, 3, "", None).await;
        assert_eq!((restored["name"].as_str(), restored["version"].as_i64()), (Some("Le Monde"), Some(4)));
        // A comment is text of at most 500 characters.
        let long = app
            .request(Method::PATCH, &path)
            .header("if-match", "\"4\"")
            .header("x-change-comment", "x".repeat(501))
            .header("content-type", "application/merge-patch+json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(error_fields(&problem(long, 400).await), ["X-Change-Comment"]);
    }

    async fn a_revoked_key_is_refused_at_its_next_request_and_both_are_revisions(app: TestApp) {
        let made = app
            .anonymous(Method::POST, "/v1/keys")
            .bearer_auth(&app.admin_key)
            .json(&json!({"name": "frontend", "scope": "write"}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::CREATED);
        let made: Value = made.json().await.unwrap();
        let token = made["token"].as_str().unwrap().to_string();
        let id = made["id"].as_str().unwrap().to_string();
        let with_key = |method, path: &str| app.anonymous(method, path).bearer_auth(&token);
        let created = with_key(Method::POST, "/v1/agents").json(&json!({"kind": "person", "name": "A"})).send().await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        problem(app.request(Method::GET, "/v1/keys").send().await.unwrap(), 403).await;

        let revoked = app.anonymous(Method::DELETE, &format!("/v1/keys/{id}")).bearer_auth(&app.admin_key).send().await.unwrap();
        assert_eq!(revoked.status(), StatusCode::OK);
        let refused = with_key(Method::POST, "/v1/agents").json(&json!({"kind": "person", "name": "B"})).send().await.unwrap();
        let body = problem(refused, 401).await;
        assert!(body["detail"].as_str().unwrap().contains("revoked"), "{body}");

        let keys: Vec<Value> = {
            let page: Value =
                app.anonymous(Method::GET, "/v1/keys").bearer_auth(&app.admin_key).send().await.unwrap().json().await.unwrap();
            page["items"].as_array().unwrap().clone()
        };
        let listed = keys.iter().find(|k| k["id"] == id.as_str()).expect("the key is listed");
        assert!(listed["revoked_at"].is_string() && listed["last_used_at"].is_string(), "{listed}");
        assert!(keys.iter().all(|k| k.get("secret_sha256").is_none() && k.get("token").is_none()));
        let changes: Vec<Value> = feed(&app, "key").await.into_iter().filter(|c| c["resource_id"] == id.as_str()).collect();
        let actions: Vec<&str> = changes.iter().map(|c| c["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["create", "revoke"]);
        let admin = format!("key:{}", key_id(&app.admin_key));
        assert!(changes.iter().all(|c| c["actor"] == admin.as_str()));
        // The agent it made says which key made it.
        let agent: Value = created.json().await.unwrap();
        let history = revisions(&app, &format!("/v1/agents/{}", agent["id"].as_str().unwrap())).await;
        assert_eq!(history[0]["actor"], format!("key:{id}").as_str());
    }

    async fn a_retried_post_with_an_idempotency_key_is_answered_once(app: TestApp) {
        let post = |key: &str, body: Value| {
            app.request(Method::POST, "/v1/claims").header("idempotency-key", key).json(&body).send()
        };
        let first = post("retry-1", json!({"text": "Once only."})).await.unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        let location = first.headers()["location"].clone();
        let first: Value = first.json().await.unwrap();
        let again = post("retry-1", json!({"text": "Once only."})).await.unwrap();
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()["location"], location);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.unwrap(), first);
        let claims: Vec<Value> =
            app.list_all("/v1/claims").await.into_iter().filter(|c| c["text"] == "Once only.").collect();
        assert_eq!(claims.len(), 1, "the retry made no second claim");

        // Another body with the same key is refused; the key is another key's to use.
        let other = post("retry-1", json!({"text": "Something else."})).await.unwrap();
        assert_eq!(error_fields(&problem(other, 422).await), ["Idempotency-Key"]);
        let admins = app
            .anonymous(Method::POST, "/v1/claims")
            .bearer_auth(&app.admin_key)
            .header("idempotency-key", "retry-1")
            .json(&json!({"text": "Something else."}))
            .send()
            .await
            .unwrap();
        assert_eq!(admins.status(), StatusCode::CREATED, "keys are per API key");
        let bad = post("not visible ascii", json!({"text": "x"})).await.unwrap();
        assert_eq!(error_fields(&problem(bad, 400).await), ["Idempotency-Key"]);

        // While the first request is still being answered, a duplicate is a 409.
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || {
            diesel::sql_query("UPDATE idempotency_keys SET status = NULL").execute(&mut db.get().unwrap()).unwrap()
        })
        .await
        .unwrap();
        problem(post("retry-1", json!({"text": "Once only."})).await.unwrap(), 409).await;

        // Two at once: one claim, whatever the order.
        let (a, b) = tokio::join!(post("race", json!({"text": "Raced."})), post("race", json!({"text": "Raced."})));
        let statuses: HashSet<u16> = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()].into();
        assert!(statuses.contains(&201) && statuses.is_subset(&[201, 409].into()), "{statuses:?}");
        let raced = app.list_all("/v1/claims").await.into_iter().filter(|c| c["text"] == "Raced.").count();
        assert_eq!(raced, 1);
    }

    async fn the_event_stream_sends_changes_live_and_resumes_after_the_last_event_id(app: TestApp) {
        for name in ["One", "Two", "Three"] {
            app.create_agent(name).await;
        }
        let mut stream = EventStream::open(&app, None).await;
        let first: Vec<(String, Value)> = stream.next(3).await;
        let names: Vec<&str> = first.iter().map(|(_, e)| e["data"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["One", "Two", "Three"]);
        // Live: a change made now arrives on the open stream.
        app.create_agent("Four").await;
        let live = stream.next(1).await;
        assert_eq!(live[0].1["data"]["name"], "Four");
        // Reconnecting with the id of the second event resumes with the third.
        let mut resumed = EventStream::open(&app, Some(&first[1].0)).await;
        let again = resumed.next(2).await;
        let names: Vec<&str> = again.iter().map(|(_, e)| e["data"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Three", "Four"]);
        let refused = app.anonymous(Method::GET, "/v1/changes/stream").header("last-event-id", "nonsense").send().await.unwrap();
        assert_eq!(error_fields(&problem(refused, 400).await), ["cursor"]);
    }
}

/// A Server-Sent Events stream, read as it comes.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, last_event_id: Option<&str>) -> EventStream {
        let mut request = app.anonymous(Method::GET, "/v1/changes/stream?types=agent");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventStream { response, buffer: String::new() }
    }

    /// The next `n` events, as (id, data).
    async fn next(&mut self, n: usize) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        while events.len() < n {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_string);
                if let (Some(id), Some(data)) = (field("id: "), field("data: ")) {
                    events.push((id, serde_json::from_str(&data).unwrap()));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream goes on");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        events
    }
}

/// Eight writers on two server processes sharing one PostgreSQL database,
/// and a reader following the feed while they write: every change appears
/// once, and each resource's versions in order; the reader saw what a read
/// from the start sees afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_lists_every_change_once_in_commit_order_under_concurrent_writers_on_two_instances() {
    let (url, _dir) = fresh_database(Backend::Postgres);
    let first = Server::start(&url);
    let key = make_key(&url, "write");
    let second = Server::start(&url);
    let servers = [first.address.clone(), second.address.clone()];
    let client = Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let shared: Value = client
        .post(format!("{}/v1/claims", servers[0]))
        .bearer_auth(&key)
        .json(&json!({"text": "Everyone cites this."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(follow(client.clone(), servers[1].clone(), stopped));
    let mut writers = JoinSet::new();
    for writer in 0..8 {
        let (client, servers, key, shared) = (client.clone(), servers.clone(), key.clone(), shared.clone());
        writers.spawn(async move {
            for round in 0..15 {
                let base = &servers[(writer + round) % 2];
                let post =
                    |path: &str, body: Value| client.post(format!("{base}{path}")).bearer_auth(&key).json(&body).send();
                let source: Value =
                    post("/v1/sources", json!({"kind": "article", "title": format!("{writer}/{round}")}))
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                // Every attribution of the shared claim changes its card: all writers contend for it.
                let status = post(
                    "/v1/attributions",
                    json!({"claim_id": shared["id"], "source_id": source["id"], "mode": "direct"}),
                )
                .await
                .unwrap()
                .status();
                assert_eq!(status, StatusCode::CREATED);
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("a writer");
    }
    stop.send(true).unwrap();
    let followed = follower.await.expect("the follower saw every version in order");

    let all = read_feed(&client, &servers[0], "").await;
    let keys: Vec<(String, String, i64)> = all
        .iter()
        .map(|c| {
            (
                c["resource_type"].as_str().unwrap().into(),
                c["resource_id"].as_str().unwrap().into(),
                c["version"].as_i64().unwrap(),
            )
        })
        .collect();
    let distinct: HashSet<&(String, String, i64)> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "a change appears twice");
    // 1 shared claim; 8 × 15 sources and attributions, and as many card changes of the claim.
    assert_eq!(keys.len(), 1 + 8 * 15 * 3);
    let mut last_version: HashMap<(&str, &str), i64> = HashMap::new();
    for (kind, id, version) in &keys {
        let last = last_version.insert((kind, id), *version).unwrap_or(0);
        assert_eq!(*version, last + 1, "{kind} {id}: version {version} after {last}");
    }
    let database_count: i64 = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let mut conn = claimtrail::db::establish(&url).unwrap();
            diesel::sql_query("SELECT count(*) AS n FROM revisions WHERE resource_type <> 'key'")
                .load::<Count>(&mut conn)
                .unwrap()[0]
                .n
        })
        .await
        .unwrap()
    };
    assert_eq!(database_count as usize, keys.len());
    // What the follower read while the writers wrote is what a read from
    // the start gives now, in the same order.
    let without_keys: Vec<(String, String, i64)> = keys.iter().filter(|(kind, _, _)| kind != "key").cloned().collect();
    assert_eq!(followed, without_keys);

    // A key revoked with the CLI is refused by both instances at once.
    let id = key_id(&key);
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_claimtrail"))
            .args(["--database-url", &url])
            .args(args)
            .output()
            .unwrap()
    };
    let revoked = cli(&["keys", "revoke", &id]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    for base in &servers {
        let response = client
            .post(format!("{base}/v1/claims"))
            .bearer_auth(&key)
            .json(&json!({"text": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{base}");
    }
    let listed = String::from_utf8(cli(&["keys", "list"]).stdout).unwrap();
    let line = listed.lines().find(|l| l.starts_with(&id)).expect("the key is listed");
    // Columns: id (14), scope (6), created, last used, revoked (20 each).
    let revoked_column = line.get(64..84).unwrap_or_default().trim();
    assert!(revoked_column.starts_with("20"), "a revocation time in the list: {line}");
    drop((first, second));
}

/// Follows the feed while the writers write, as a syncing client does:
/// keeps its cursor, asks again, and checks at every step that what it got
/// continues what it had (no version of a resource skipped or repeated).
/// Once told to stop, reads to the end and answers everything it saw.
async fn follow(client: Client, base: String, stop: tokio::sync::watch::Receiver<bool>) -> Vec<(String, String, i64)> {
    let mut since = String::new();
    let mut last_version: HashMap<(String, String), i64> = HashMap::new();
    let mut seen = Vec::new();
    loop {
        let stopping = *stop.borrow();
        let page: Value = client
            .get(format!("{base}/v1/changes?types=claim,source,attribution&limit=7&since={since}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for change in page["items"].as_array().unwrap() {
            let id = (
                change["resource_type"].as_str().unwrap().to_string(),
                change["resource_id"].as_str().unwrap().to_string(),
            );
            let version = change["version"].as_i64().unwrap();
            let last = last_version.insert(id.clone(), version).unwrap_or(0);
            assert_eq!(version, last + 1, "the follower saw {id:?} go from version {last} to {version}");
            seen.push((id.0, id.1, version));
        }
        since = page["next_cursor"].as_str().unwrap().to_string();
        if stopping && page["items"].as_array().unwrap().is_empty() {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn read_feed(client: &Client, base: &str, types: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut since = String::new();
    loop {
        let page: Value = client
            .get(format!("{base}/v1/changes?types={types}&limit=100&since={since}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got = page["items"].as_array().unwrap().clone();
        since = page["next_cursor"].as_str().unwrap().to_string();
        if got.is_empty() {
            return items.into_iter().filter(|c: &Value| c["resource_type"] != "key").collect();
        }
        items.extend(got);
    }
}

/// A server that shuts down ends its event streams (the last chunk sent,
/// the response complete) instead of waiting out its shutdown timeout or
/// cutting them off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_ends_cleanly_when_the_server_shuts_down() {
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let mut settings = claimtrail::Settings::for_database(&url);
    settings.pool_size = 2;
    let app = claimtrail::Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let stop = app.stop_handle();
    let server = tokio::spawn(app.run_until_stopped());
    let mut stream = reqwest::get(format!("{address}/v1/changes/stream")).await.expect("the stream opens");
    assert_eq!(stream.status(), StatusCode::OK);
    let stopping = tokio::spawn(async move { stop.stop().await });
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue,
                other => break other,
            }
        }
    })
    .await
    .expect("the stream ends within 10 s of the shutdown, well inside the 30 s shutdown timeout");
    assert!(matches!(ended, Ok(None)), "the stream ended cleanly: {ended:?}");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("the server stops").expect("stop runs");
    let result = tokio::time::timeout(Duration::from_secs(10), server).await.expect("the server returns");
    assert!(result.expect("the server task").is_ok());
}
