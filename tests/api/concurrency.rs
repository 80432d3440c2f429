use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contract::{id, read_json};
use crate::helpers::{TestApp, problem};
use crate::on_both_backends;

const RACERS: usize = 16;

/// One answer of a race, kept for the checks after it.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    content_type: Option<String>,
    text: String,
}

/// Sends `RACERS` requests at once, the `i`th made by `request(i)`.
async fn race(request: impl Fn(usize) -> crate::helpers::Request) -> Vec<Answer> {
    let tasks: Vec<_> = (0..RACERS).map(|i| tokio::spawn(request(i).send())).collect();
    let mut answers = Vec::new();
    for task in tasks {
        let response = task.await.expect("the task").expect("an answer");
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        let (status, etag, content_type) = (response.status(), header("etag"), header("content-type"));
        answers.push(Answer { status, etag, content_type, text: response.text().await.unwrap() });
    }
    answers
}

/// `RACERS` PATCHes of `path` at version 1, each with its own change:
/// exactly one wins, every other is a 412 naming version 2, and the stored
/// resource is the winner's.
async fn one_patch_wins(app: &TestApp, path: &str, change: impl Fn(usize) -> Value) {
    let answers = race(|i| {
        app.request(Method::PATCH, path)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "\"1\"")
            .body(change(i).to_string())
    })
    .await;
    let winners: Vec<usize> = (0..RACERS).filter(|&i| answers[i].status == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
        assert_eq!(answer.status, StatusCode::PRECONDITION_FAILED, "{answer:?}");
        assert_eq!(answer.content_type.as_deref(), Some("application/problem+json"));
        assert_eq!(answer.etag.as_deref(), Some("\"2\""), "a 412 names the version that won: {answer:?}");
    }
    let winner: Value = serde_json::from_str(&answers[winners[0]].text).unwrap();
    assert_eq!(winner["version"], 2);
    let stored = read_json(app.get(path).await, StatusCode::OK).await;
    assert_eq!(stored["version"], 2);
    for (field, value) in change(winners[0]).as_object().unwrap() {
        assert_eq!(&stored[field], value, "the stored {field} is the winner's");
    }
}

on_both_backends! {
    async fn parallel_patches_of_an_agent_with_the_same_if_match_leave_one_winner(app: TestApp) {
        let agent = app.create_agent("Reuters").await;
        one_patch_wins(&app, &format!("/v1/agents/{}", id(&agent)), |i| json!({"name": format!("Reuters {i}")})).await;
    }

    async fn parallel_patches_of_a_claim_with_the_same_if_match_leave_one_winner(app: TestApp) {
        let claim = app.create("/v1/claims", json!({"text": "x", "tags": ["a"]})).await;
        let path = format!("/v1/claims/{}", id(&claim));
        one_patch_wins(&app, &path, |i| json!({"text": format!("Version {i}"), "tags": [format!("tag-{i}")]})).await;
        let card = read_json(app.get(&path).await, StatusCode::OK).await;
        assert_eq!(card["tags"].as_array().unwrap().len(), 1, "only the winner's tags: {card}");
    }

    async fn parallel_deletes_with_the_same_if_match_delete_once(app: TestApp) {
        let source = app.create_source("Gone", Some("text")).await;
        let path = format!("/v1/sources/{}", id(&source));
        let answers = race(|_| app.request(Method::DELETE, &path).header("if-match", "\"1\"")).await;
        let deleted = answers.iter().filter(|a| a.status == StatusCode::NO_CONTENT).count();
        assert_eq!(deleted, 1, "{answers:?}");
        assert!(answers.iter().all(|a| matches!(a.status.as_u16(), 204 | 404)), "{answers:?}");
        problem(app.get(&path).await, 404).await;
    }

    async fn parallel_attributions_of_one_claim_each_bump_its_version(app: TestApp) {
        let claim = app.create_claim("x").await;
        let source = app.create_source("s", None).await;
        let sent = json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "direct"});
        let answers = race(|_| app.request(Method::POST, "/v1/attributions").json(&sent)).await;
        assert!(answers.iter().all(|a| a.status == StatusCode::CREATED), "{answers:?}");
        let card = read_json(app.get(&format!("/v1/claims/{}", id(&claim))).await, StatusCode::OK).await;
        assert_eq!(card["attributions"].as_array().unwrap().len(), RACERS);
        assert_eq!(card["version"], 1 + RACERS as i64);
    }
}
