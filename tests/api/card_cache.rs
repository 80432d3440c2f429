//! The card cache: a card read again is sent as kept while its claim's
//! stamp is the one it was made at, and made again as soon as any write,
//! by this server or another process, moves it. On SQLite a kept card is
//! sent without reading its stamp while nothing at all has been committed
//! since it was found current.

use std::collections::BTreeMap;

use diesel::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use claimtrail::db::Backend;

use crate::helpers::{TestApp, spawn_app_with};
use crate::on_both_backends;

/// A server with a metrics listener of its own, so that a test can read
/// what the cache answered.
async fn with_metrics(app: &TestApp, card_cache_mib: u64) -> TestApp {
    spawn_app_with(app.backend, |s| {
        s.metrics.metrics_bind = Some("127.0.0.1:0".to_string());
        s.card_cache_mib = card_cache_mib;
    })
    .await
}

/// `claimtrail_card_cache_total` by result: unchanged, hit, stale, miss.
async fn cache_counts(app: &TestApp) -> BTreeMap<String, f64> {
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    let text = app.client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
    ["unchanged", "hit", "stale", "miss"]
        .into_iter()
        .map(|result| {
            let name = format!(r#"claimtrail_card_cache_total{{result="{result}"}} "#);
            let count = text
                .lines()
                .find_map(|line| line.strip_prefix(name.as_str()))
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("no {name}in {text}"));
            (result.to_string(), count)
        })
        .collect()
}

fn counts(unchanged: f64, hit: f64, stale: f64, miss: f64) -> BTreeMap<String, f64> {
    BTreeMap::from([
        ("unchanged".to_string(), unchanged),
        ("hit".to_string(), hit),
        ("stale".to_string(), stale),
        ("miss".to_string(), miss),
    ])
}

/// The counts of `kept` cards sent as kept, and of the reads that found
/// nothing kept or a stale card: on SQLite a kept card sent while nothing
/// was committed since it was found current is `unchanged`; PostgreSQL
/// has no such shortcut, and reads every kept card's stamp (`hit`).
fn kept_counts(app: &TestApp, kept: f64, stale: f64, miss: f64) -> BTreeMap<String, f64> {
    per_backend(app, counts(kept, 0.0, stale, miss), counts(0.0, kept, stale, miss))
}

/// The value for the test's backend.
fn per_backend<T>(app: &TestApp, sqlite: T, postgres: T) -> T {
    match app.backend {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    }
}

/// A claim stated by a speaker in a source: its card shows both.
async fn claim_with_speaker(app: &TestApp) -> (Value, Value) {
    let speaker = app.create_agent("Assimi Goita").await;
    let source = app.create_source("Communiqué", None).await;
    let claim = app.create_claim("Barrick will pay Mali $430 million.").await;
    app.create_attribution(
        json!({"claim_id": claim["id"], "source_id": source["id"], "speaker_id": speaker["id"], "mode": "direct"}),
    )
    .await;
    (claim, speaker)
}

/// The card's status, ETag, content type and body as text.
async fn card(app: &TestApp, path: &str) -> (StatusCode, String, String, String) {
    let response = app.get(path).await;
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (etag, content_type) = (header("etag"), header("content-type"));
    (response.status(), etag, content_type, response.text().await.unwrap())
}

on_both_backends! {
    async fn a_card_read_again_is_sent_as_kept_while_its_claim_is_unchanged(app: TestApp) {
        let app = with_metrics(&app, 64).await;
        let (claim, _) = claim_with_speaker(&app).await;
        let path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        let first = card(&app, &path).await;
        let second = card(&app, &path).await;
        assert_eq!(first, second);
        assert_eq!((first.0, first.2.as_str()), (StatusCode::OK, "application/json"));
        let body: Value = serde_json::from_str(&first.3).unwrap();
        assert_eq!(body["attributions"][0]["speaker"]["name"], "Assimi Goita");
        assert_eq!(cache_counts(&app).await, kept_counts(&app, 1.0, 0.0, 1.0));

        // A client holding the ETag gets 304 from the kept card.
        let not_modified = app.request(Method::GET, &path).header("if-none-match", &first.1).send().await.unwrap();
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(cache_counts(&app).await, kept_counts(&app, 2.0, 0.0, 1.0));
    }

    async fn a_kept_card_is_made_again_once_a_write_changes_what_it_shows(app: TestApp) {
        let app = with_metrics(&app, 64).await;
        let (claim, speaker) = claim_with_speaker(&app).await;
        let path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        let before: Value = serde_json::from_str(&card(&app, &path).await.3).unwrap();
        let agent = format!("/v1/agents/{}", speaker["id"].as_str().unwrap());
        let renamed = app.patch(&agent, 1, &json!({"name": "Col. Assimi Goita"})).await;
        assert_eq!(renamed.status(), StatusCode::OK);
        let after: Value = serde_json::from_str(&card(&app, &path).await.3).unwrap();
        assert_eq!(after["attributions"][0]["speaker"]["name"], "Col. Assimi Goita");
        assert!(after["version"].as_i64() > before["version"].as_i64(), "{before} → {after}");
        assert_eq!(cache_counts(&app).await, counts(0.0, 0.0, 1.0, 1.0));
    }

    async fn a_write_by_another_process_is_seen_by_the_next_read(app: TestApp) {
        let app = with_metrics(&app, 64).await;
        let (claim, _) = claim_with_speaker(&app).await;
        let id = claim["id"].as_str().unwrap();
        let path = format!("/v1/claims/{id}");
        card(&app, &path).await;
        // The test's own pool stands for another process on the database.
        let mut conn = app.db.get().unwrap();
        diesel::sql_query(format!(
            "UPDATE claims SET text = 'Barrick will pay Mali $438 million.', version = version + 1 WHERE id = '{id}'"
        ))
        .execute(&mut *conn)
        .unwrap();
        let after: Value = serde_json::from_str(&card(&app, &path).await.3).unwrap();
        assert_eq!(after["text"], "Barrick will pay Mali $438 million.");
        assert_eq!(cache_counts(&app).await, counts(0.0, 0.0, 1.0, 1.0));

        // A claim made again under the same id and version (as an import
        // of an old export can) is told apart by when it was made.
        diesel::sql_query(format!(
            "UPDATE claims SET text = 'Barrick will pay.', created_at = '2020-01-01 00:00:00' WHERE id = '{id}'"
        ))
        .execute(&mut *conn)
        .unwrap();
        drop(conn);
        let remade: Value = serde_json::from_str(&card(&app, &path).await.3).unwrap();
        assert_eq!((remade["text"].as_str(), remade["version"].as_i64()), (Some("Barrick will pay."), after["version"].as_i64()));
        assert_eq!(cache_counts(&app).await, counts(0.0, 0.0, 2.0, 1.0));
    }

    async fn a_claim_deleted_and_made_again_under_its_id_is_not_sent_as_it_was(app: TestApp) {
        let app = with_metrics(&app, 64).await;
        let (claim, _) = claim_with_speaker(&app).await;
        let id = claim["id"].as_str().unwrap();
        let path = format!("/v1/claims/{id}");
        let kept: Value = serde_json::from_str(&card(&app, &path).await.3).unwrap();
        let attribution = &kept["attributions"][0];
        let gone = app.delete(&format!("/v1/attributions/{}", attribution["id"].as_str().unwrap()), 1).await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT);
        let version = card(&app, &path).await.1.trim_matches('"').parse::<i64>().unwrap();
        assert_eq!(app.delete(&path, version).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(card(&app, &path).await.0, StatusCode::NOT_FOUND);
        let again = app.post("/v1/claims", &json!({"id": id, "text": "Barrick will not pay."})).await;
        assert_eq!(again.status(), StatusCode::CREATED);
        let made: Value = serde_json::from_str(&card(&app, &path).await.3).unwrap();
        assert_eq!((made["text"].as_str(), made["attributions"].as_array().map(Vec::len)), (Some("Barrick will not pay."), Some(0)));
        // Each read came after a commit: none was sent unread.
        assert_eq!(cache_counts(&app).await["unchanged"], 0.0);
    }

    async fn the_public_card_and_the_desks_card_are_kept_apart(app: TestApp) {
        let app = with_metrics(&app, 64).await;
        let (claim, speaker) = claim_with_speaker(&app).await;
        app.create("/v1/reviews", json!({"claim_id": claim["id"], "reviewer_id": speaker["id"], "status": "draft",
            "rating": {"label": "Unproven", "value": 2, "best": 5, "worst": 1},
            "url": "https://check.example.org/barrick", "language": "en"})).await;
        let path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        let reviews = |text: &str| serde_json::from_str::<Value>(text).unwrap()["reviews"].as_array().unwrap().len();
        let desk = |app: &TestApp| {
            app.anonymous(Method::GET, &format!("{path}?include=drafts")).bearer_auth(app.write_key.clone()).send()
        };
        assert_eq!(reviews(&card(&app, &path).await.3), 0);
        assert_eq!(reviews(&desk(&app).await.unwrap().text().await.unwrap()), 1);
        assert_eq!(reviews(&card(&app, &path).await.3), 0);
        assert_eq!(reviews(&desk(&app).await.unwrap().text().await.unwrap()), 1);
        assert_eq!(cache_counts(&app).await, kept_counts(&app, 2.0, 0.0, 2.0));
    }

    async fn after_any_commit_a_kept_card_is_checked_by_its_stamp_once_before_it_is_sent_unread_again(app: TestApp) {
        let app = with_metrics(&app, 64).await;
        let (claim, _) = claim_with_speaker(&app).await;
        let path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        let kept = card(&app, &path).await;
        assert_eq!(card(&app, &path).await, kept);
        assert_eq!(cache_counts(&app).await, kept_counts(&app, 1.0, 0.0, 1.0));

        // A commit through the API that leaves this claim as it was.
        app.create_claim("Mali's junta expelled the French ambassador.").await;
        assert_eq!(card(&app, &path).await, kept);
        assert_eq!(card(&app, &path).await, kept);
        let after_api = per_backend(&app, counts(2.0, 1.0, 0.0, 1.0), counts(0.0, 3.0, 0.0, 1.0));
        assert_eq!(cache_counts(&app).await, after_api);

        // A commit by another process, to a table no card shows.
        let mut conn = app.db.get().unwrap();
        diesel::sql_query("CREATE TABLE scratch (x INTEGER)").execute(&mut *conn).unwrap();
        drop(conn);
        assert_eq!(card(&app, &path).await, kept);
        assert_eq!(card(&app, &path).await, kept);
        let after_other = per_backend(&app, counts(3.0, 2.0, 0.0, 1.0), counts(0.0, 5.0, 0.0, 1.0));
        assert_eq!(cache_counts(&app).await, after_other);
    }

    async fn a_cache_of_no_room_keeps_no_card(app: TestApp) {
        let app = with_metrics(&app, 0).await;
        let (claim, _) = claim_with_speaker(&app).await;
        let path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        assert_eq!(card(&app, &path).await, card(&app, &path).await);
        assert_eq!(cache_counts(&app).await, counts(0.0, 0.0, 0.0, 2.0));
    }
}
