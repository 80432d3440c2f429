use claimtrail::db::schema::api_keys;
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::contract::{self, id, read_json};
use crate::helpers::{TestApp, problem, spawn_app_with};
use crate::on_both_backends;

/// Every kind of write, each with a body that would succeed.
async fn writes(app: &TestApp) -> Vec<(Method, String, Value)> {
    let agent = app.create_agent("Reuters").await;
    let path = format!("/v1/agents/{}", id(&agent));
    vec![
        (Method::POST, "/v1/agents".to_string(), json!({"kind": "person", "name": "x"})),
        (Method::POST, "/v1/sources".to_string(), json!({"kind": "article", "title": "x"})),
        (Method::POST, "/v1/claims".to_string(), json!({"text": "x"})),
        (Method::POST, "/v1/attributions".to_string(), json!({})),
        (Method::PATCH, path.clone(), json!({"name": "Reuters UK"})),
        (Method::DELETE, path, Value::Null),
    ]
}

fn write(app: &TestApp, method: &Method, path: &str, sent: &Value) -> crate::helpers::Request {
    let request = app.anonymous(method.clone(), path).header("if-match", "\"1\"");
    if sent.is_null() { request } else { request.json(sent) }
}

/// A 401 problem that asks for a bearer token.
async fn unauthorized(response: reqwest::Response) -> Value {
    assert_eq!(contract::header(&response, "www-authenticate"), "Bearer");
    problem(response, 401).await
}

on_both_backends! {
    async fn writes_without_a_key_are_401_asking_for_a_bearer_token(app: TestApp) {
        let before = app.snapshot().await;
        for (method, path, sent) in writes(&app).await {
            let refused = unauthorized(write(&app, &method, &path, &sent).send().await.unwrap()).await;
            assert!(refused["detail"].as_str().unwrap().contains("Bearer"), "{method} {path}: {refused}");
        }
        let after = app.snapshot().await;
        assert_eq!(after["agents"].as_array().unwrap().len(), before["agents"].as_array().unwrap().len() + 1);
        assert_eq!(after["agents"][0]["name"], "Reuters", "the agent was neither changed nor deleted");
        assert_eq!(after["agents"][0]["version"], 1);
        assert_eq!((&after["sources"], &after["claims"]), (&json!([]), &json!([])));
    }

    async fn malformed_or_unknown_keys_are_401(app: TestApp) {
        let valid_id = app.write_key.split('_').nth(1).unwrap().to_string();
        let headers = [
            format!("Bearer ct_{valid_id}_wrongsecret"),
            "Bearer ct_unknownid_c2VjcmV0".to_string(),
            "Bearer nonsense".to_string(),
            "Bearer ".to_string(),
            "Bearer".to_string(),
            format!("Basic {}", app.write_key),
            format!("Token {}", app.write_key),
            app.write_key.clone(),
            format!("Bearer {}x", app.write_key),
            format!("Bearer {}", &app.write_key[..app.write_key.len() - 1]),
        ];
        for value in headers {
            let response = app.anonymous(Method::POST, "/v1/agents").header("authorization", &value).json(&json!({"kind": "person", "name": "x"})).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "Authorization: {value}");
            unauthorized(response).await;
        }
        let response = app.anonymous(Method::POST, "/v1/agents").header("authorization", b"Bearer \xff\xfe".as_slice()).json(&json!({"kind": "person", "name": "x"})).send().await.unwrap();
        unauthorized(response).await;
        assert!(app.list_all("/v1/agents").await.is_empty());
    }

    async fn a_read_key_cannot_write_and_gets_403(app: TestApp) {
        for (method, path, sent) in writes(&app).await {
            let response = write(&app, &method, &path, &sent).bearer_auth(&app.read_key).send().await.unwrap();
            let refused = problem(response, 403).await;
            let detail = refused["detail"].as_str().unwrap();
            assert!(detail.contains("`read`") && detail.contains("`write`"), "{detail}");
        }
        assert_eq!(app.list_all("/v1/agents").await.len(), 1);
        assert!(app.list_all("/v1/claims").await.is_empty());
    }

    async fn write_and_admin_keys_can_write(app: TestApp) {
        for key in [&app.write_key, &app.admin_key] {
            let response = app.anonymous(Method::POST, "/v1/claims").bearer_auth(key).json(&json!({"text": "x"})).send().await.unwrap();
            contract::created(response, "/v1/claims").await;
        }
        let lower_case_scheme = app.anonymous(Method::POST, "/v1/claims").header("authorization", format!("bearer {}", app.write_key)).json(&json!({"text": "y"})).send().await.unwrap();
        contract::created(lower_case_scheme, "/v1/claims").await;
        assert_eq!(app.list_all("/v1/claims").await.len(), 3);
    }

    async fn reads_are_open_by_default(app: TestApp) {
        let claim = app.create_claim("x").await;
        for path in ["/v1/agents".to_string(), "/v1/sources".to_string(), "/v1/claims".to_string(), "/v1/attributions".to_string(), format!("/v1/claims/{}", id(&claim))] {
            assert_eq!(app.get(&path).await.status(), StatusCode::OK, "{path}");
            let with_key = app.anonymous(Method::GET, &path).bearer_auth(&app.read_key).send().await.unwrap();
            assert_eq!(with_key.status(), StatusCode::OK, "{path}");
        }
        let bad_key = app.anonymous(Method::GET, "/v1/claims").bearer_auth("ct_nope_nope").send().await.unwrap();
        unauthorized(bad_key).await;
    }

    async fn api_keys_are_stored_only_as_hashes(app: TestApp) {
        let db = app.db.clone();
        let rows: Vec<(String, String, String, String)> = tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("a connection");
            api_keys::table.select((api_keys::id, api_keys::name, api_keys::scope, api_keys::secret_sha256)).load(&mut *conn).expect("the keys")
        })
        .await
        .unwrap();
        assert_eq!(rows.len(), 3);
        let mut scopes: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        scopes.sort();
        assert_eq!(scopes, ["admin", "read", "write"]);
        for token in [&app.read_key, &app.write_key, &app.admin_key] {
            let (_, secret) = token.split_once('_').and_then(|(_, rest)| rest.split_once('_')).expect("ct_<id>_<secret>");
            let digest: String = Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            assert!(rows.iter().any(|r| r.3 == digest), "no row holds the digest of {token}");
            for (id, name, scope, stored) in &rows {
                for column in [id, name, scope, stored] {
                    assert!(!column.contains(secret) && !column.contains(token.as_str()), "a column holds the secret");
                }
            }
        }
        for (_, _, _, stored) in &rows {
            assert!(stored.len() == 64 && stored.bytes().all(|b| b.is_ascii_hexdigit()), "{stored} is not a hex SHA-256");
        }
    }
}

/// With reads required, each backend.
async fn reads_need_a_key_when_the_server_requires_one(backend: claimtrail::db::Backend) {
    let app = spawn_app_with(backend, |settings| settings.require_key_for_reads = true).await;
    let claim = app.create_claim("x").await;
    for path in ["/v1/agents".to_string(), "/v1/claims".to_string(), format!("/v1/claims/{}", id(&claim))] {
        unauthorized(app.get(&path).await).await;
        for key in [&app.read_key, &app.write_key] {
            let response = app.anonymous(Method::GET, &path).bearer_auth(key).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
        let bad = app.anonymous(Method::GET, &path).bearer_auth("ct_x_y").send().await.unwrap();
        unauthorized(bad).await;
    }
    let card = app
        .anonymous(Method::GET, &format!("/v1/claims/{}", id(&claim)))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(read_json(card, StatusCode::OK).await["text"], "x");
    let refused = app
        .anonymous(Method::POST, "/v1/claims")
        .bearer_auth(&app.read_key)
        .json(&json!({"text": "y"}))
        .send()
        .await
        .unwrap();
    problem(refused, 403).await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "probes stay open");
}

mod reads_need_a_key_when_the_server_requires_one {
    use claimtrail::db::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        super::reads_need_a_key_when_the_server_requires_one(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        super::reads_need_a_key_when_the_server_requires_one(Backend::Postgres).await
    }
}
