//! What operators and Swagger UI users rely on: `HEAD` wherever `GET` is,
//! request ids, the version, Prometheus metrics, the examples of the
//! document working on a fresh server, and the log lines of the binary.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use claimtrail::db::Backend;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::contract::header;
use crate::helpers::{TestApp, fresh_database, problem, spawn_app_with};
use crate::on_both_backends;

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

/// A server with the seed data, as a first start makes it.
async fn seeded(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.no_seed = false).await
}

/// The seed articles hold no fact-check verdicts, so the seed data has no
/// review: the review operations' examples name one that is made here
/// first, from the create example with the id the imports' way (an
/// optional `id` in the create body).
async fn with_the_example_review(app: &TestApp) {
    let document: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut body = document["components"]["schemas"]["NewReview"]["example"].clone();
    body["id"] = document["components"]["schemas"]["Review"]["example"]["id"].clone();
    let created = app.post("/v1/reviews", &body).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());
}

/// Every GET operation of the document, with its URL filled in from the
/// examples of its parameters as Swagger UI fills them, and whether it
/// needs a key.
fn documented_gets() -> Vec<(String, String, bool)> {
    let document: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut gets = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(operation) = item.get("get") else { continue };
        let mut url = path.clone();
        let mut query = Vec::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let Some(example) = parameter.get("example") else { continue };
            let value = match example {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match parameter["in"].as_str() {
                Some("path") => url = url.replace(&format!("{{{}}}", parameter["name"].as_str().unwrap()), &value),
                Some("query") => query.push((parameter["name"].as_str().unwrap().to_string(), value)),
                _ => {}
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", serde_urlencoded::to_string(&query).unwrap());
        }
        let open = operation["security"]
            .as_array()
            .is_none_or(|s| s.is_empty() || s.iter().any(|r| r == &Value::Object(Default::default())));
        gets.push((operation["operationId"].as_str().unwrap().to_string(), url, !open));
    }
    gets
}

on_both_backends! {
    async fn every_get_in_the_document_answers_2xx_with_its_examples_on_a_fresh_server(app: TestApp) {
        let app = seeded(app.backend).await;
        with_the_example_review(&app).await;
        let gets = documented_gets();
        assert!(gets.len() >= 14, "{gets:?}");
        for (operation, url, needs_key) in gets {
            assert!(!url.contains('{'), "{operation}: a path parameter without an example: {url}");
            let request = app.anonymous(Method::GET, &url);
            let request = if needs_key { request.bearer_auth(&app.admin_key) } else { request };
            let response = request.send().await.unwrap();
            let status = response.status();
            if operation == "streamChanges" {
                // A stream of events never ends: its head is what can be checked.
                assert!(status.is_success(), "{operation}: GET {url} answered {status}");
                assert_eq!(header(&response, "content-type"), "text/event-stream", "{operation}");
                continue;
            }
            let body = response.text().await.unwrap();
            assert!(status.is_success(), "{operation}: GET {url} answered {status}: {body}");
            if operation == "listClaims" {
                let page: Value = serde_json::from_str(&body).unwrap();
                assert!(!page["items"].as_array().unwrap().is_empty(), "listClaims' examples find nothing: {url}");
            }
        }
    }

    async fn head_answers_wherever_get_does_with_its_status_and_headers_and_no_body(app: TestApp) {
        let app = seeded(app.backend).await;
        with_the_example_review(&app).await;
        for (operation, url, needs_key) in documented_gets() {
            let key = if needs_key { app.admin_key.clone() } else { app.read_key.clone() };
            let get = app.anonymous(Method::GET, &url).bearer_auth(&key).send().await.unwrap();
            let head = app.anonymous(Method::HEAD, &url).bearer_auth(&key).send().await.unwrap();
            assert_eq!(head.status(), get.status(), "{operation}");
            for name in ["content-type", "etag", "link"] {
                assert_eq!(head.headers().get(name), get.headers().get(name), "{operation}: {name}");
            }
            assert!(head.bytes().await.unwrap().is_empty(), "{operation}: HEAD sent a body");
        }
        let missing = app.anonymous(Method::HEAD, "/v1/claims/0193a7e0-7c1e-7000-8000-000000000009").send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let card = app.get("/v1/claims/8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338").await;
        let etag = header(&card, "etag");
        let revalidated = app.anonymous(Method::HEAD, "/v1/claims/8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338").header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    }

    async fn a_valid_x_request_id_is_echoed_and_anything_else_replaced(app: TestApp) {
        let echoed = app.anonymous(Method::GET, "/healthz").header("x-request-id", "frontend-42:abc").send().await.unwrap();
        assert_eq!(header(&echoed, "x-request-id"), "frontend-42:abc");
        let missing = app.anonymous(Method::GET, "/v1/claims/nope").header("x-request-id", "on-a-404").send().await.unwrap();
        assert_eq!(header(&missing, "x-request-id"), "on-a-404", "problems carry it too");
        problem(missing, 404).await;
        for bad in ["has space", &"x".repeat(129), "tab\there"] {
            let response = app.anonymous(Method::GET, "/healthz").header("x-request-id", bad).send().await.unwrap();
            let id = header(&response, "x-request-id");
            assert_ne!(id, bad);
            uuid::Uuid::parse_str(&id).expect("a fresh UUID replaces it");
        }
        let plain = app.get("/healthz").await;
        let first = header(&plain, "x-request-id");
        let second = header(&app.get("/healthz").await, "x-request-id");
        assert_ne!(first, second, "every request gets its own id");
    }

    async fn the_version_is_in_readyz_the_root_document_and_the_server_header(app: TestApp) {
        let version = env!("CARGO_PKG_VERSION");
        let ready = app.get("/readyz").await;
        assert_eq!(header(&ready, "server"), format!("claimtrail/{version}"));
        let body: Value = ready.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok", "version": version}));
        let root: Value = app.get("/v1").await.json().await.unwrap();
        assert_eq!(root, serde_json::json!({"name": "claimtrail", "version": version, "openapi": "/openapi.json", "docs": "/docs/"}));
        let problem_response = app.get("/v1/nothing").await;
        assert_eq!(header(&problem_response, "server"), format!("claimtrail/{version}"));
    }

    async fn metrics_need_the_token_and_count_requests_by_route_and_status_with_the_pool_and_database_size(app: TestApp) {
        let app = spawn_app_with(app.backend, |s| s.metrics.metrics_token = Some("scrape-me".to_string())).await;
        app.get("/v1/claims/0193a7e0-7c1e-7000-8000-000000000009").await;
        app.get("/v1/claims/0193a7e0-7c1e-7000-8000-00000000000a").await;
        app.get("/v1/agents").await;
        let refused = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let wrong = app.anonymous(Method::GET, "/metrics").bearer_auth("scrape-you").send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let response = app.anonymous(Method::GET, "/metrics").bearer_auth("scrape-me").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "content-type").starts_with("text/plain; version=0.0.4"));
        let text = response.text().await.unwrap();
        let samples = samples(&text);
        assert_eq!(samples.get(r#"claimtrail_http_requests_total{method="GET",route="/v1/claims/{id}",status="404"}"#), Some(&2.0), "{text}");
        assert_eq!(samples.get(r#"claimtrail_http_requests_total{method="GET",route="/v1/agents",status="200"}"#), Some(&1.0), "{text}");
        assert_eq!(samples.get(r#"claimtrail_http_request_duration_seconds_count{method="GET",route="/v1/claims/{id}",status="404"}"#), Some(&2.0));
        assert!(samples.contains_key(r#"claimtrail_http_request_duration_seconds_bucket{method="GET",route="/v1/agents",status="200",le="0.005"}"#), "{text}");
        for state in ["in_use", "idle", "waiting"] {
            assert!(samples.contains_key(&format!(r#"claimtrail_db_pool_connections{{state="{state}"}}"#)), "{state}: {text}");
        }
        assert_eq!(samples.get("claimtrail_db_pool_max_connections"), Some(&4.0));
        assert!(samples.get("claimtrail_database_size_bytes").is_some_and(|bytes| *bytes > 10_000.0), "{text}");
        assert_eq!(samples.get(&format!(r#"claimtrail_build_info{{version="{}"}}"#, env!("CARGO_PKG_VERSION"))), Some(&1.0));
    }

    async fn metrics_are_off_unless_a_setting_turns_them_on(app: TestApp) {
        problem(app.get("/metrics").await, 404).await;
    }

    async fn metrics_can_have_a_listener_of_their_own_and_then_stay_off_the_api_address(app: TestApp) {
        let app = spawn_app_with(app.backend, |s| s.metrics.metrics_bind = Some("127.0.0.1:0".to_string())).await;
        app.get("/v1/agents").await;
        let metrics = app.metrics_address.clone().expect("a metrics listener");
        let text = app.client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(text.contains(r#"claimtrail_http_requests_total{method="GET",route="/v1/agents",status="200"} 1"#), "{text}");
        problem(app.get("/metrics").await, 404).await;
    }
}

/// `name{labels} value` lines of a Prometheus text exposition.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(name, value)| Some((name.to_string(), value.parse().ok()?)))
        .collect()
}

/// The binary serving on a port the kernel picks, its JSON log lines kept.
struct LoggedServer {
    child: Child,
    address: String,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LoggedServer {
    fn start(database_url: &str) -> LoggedServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_claimtrail"))
            .args(["--database-url", database_url, "--bind", "127.0.0.1:0", "--workers", "1", "--pool-size", "2"])
            .args(["--log", "info", "--log-format", "json", "serve"])
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let event: Value =
                    serde_json::from_str(&line).unwrap_or_else(|_| panic!("a log line that is not JSON: {line}"));
                let port = (event["fields"]["message"] == "listening").then(|| event["fields"]["port"].as_u64());
                // Kept before the port is announced: the test reads it next.
                kept.lock().unwrap().push(event);
                if let Some(port) = port {
                    let _ = port_tx.send(port.unwrap_or(0));
                }
            }
        });
        let port = port_rx.recv_timeout(Duration::from_secs(60)).expect("the server says it is listening");
        LoggedServer { child, address: format!("http://127.0.0.1:{port}"), lines }
    }

    /// The log lines of the request with this id, once its line is written.
    async fn lines_of(&self, request_id: &str) -> Vec<Value> {
        for _ in 0..100 {
            let found: Vec<Value> =
                self.lines.lock().unwrap().iter().filter(|l| l["span"]["request_id"] == request_id).cloned().collect();
            if found.iter().any(|l| l["fields"]["message"] == "request" || l["fields"]["message"] == "request failed") {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no log line for request {request_id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_carry_request_and_trace_ids_numeric_durations_4xx_at_info_and_5xx_once_at_error() {
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let server = LoggedServer::start(&url);
    let client = reqwest::Client::new();
    let listening =
        server.lines.lock().unwrap().iter().find(|l| l["fields"]["message"] == "listening").cloned().unwrap();
    assert_eq!(listening["fields"]["version"], env!("CARGO_PKG_VERSION"));

    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ok = client
        .get(format!("{}/v1/claims", server.address))
        .header("x-request-id", "log-ok")
        .header("traceparent", trace)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let lines = server.lines_of("log-ok").await;
    let line = lines.iter().find(|l| l["fields"]["message"] == "request").unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736", "{line}");
    assert_eq!(line["span"]["parent_id"], "00f067aa0ba902b7", "{line}");
    assert!(line["fields"]["duration_ms"].is_f64(), "a numeric duration: {line}");
    assert_eq!(line["fields"]["status"], 200);
    assert_eq!(line["fields"]["route"], "/v1/claims");

    let missing = client
        .get(format!("{}/v1/agents/0193a7e0-7c1e-7000-8000-000000000009", server.address))
        .header("x-request-id", "log-404")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let lines = server.lines_of("log-404").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "INFO", "a 4xx is not a server problem: {}", lines[0]);
    assert_eq!(lines[0]["fields"]["problem"], "No agent with that id.");
    assert!(!lines[0].to_string().contains("ApiError"), "a debug dump: {}", lines[0]);

    // A table gone from under the server: a 500, logged once, with its cause.
    let db = claimtrail::db::Db::connect(&url, 1).unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query("ALTER TABLE api_keys RENAME TO api_keys_gone"),
        &mut db.get().unwrap(),
    )
    .unwrap();
    let failed = client
        .get(format!("{}/v1/claims", server.address))
        .bearer_auth("ct_abc_def")
        .header("x-request-id", "log-500")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = failed.text().await.unwrap();
    assert!(!body.contains("api_keys"), "the cause leaked to the client: {body}");
    let lines = server.lines_of("log-500").await;
    let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "one ERROR line per 5xx: {lines:?}");
    assert!(errors[0]["fields"]["cause"].as_str().unwrap().contains("api_keys"), "{}", errors[0]);
    assert!(!errors[0].to_string().contains("stack backtrace"), "{}", errors[0]);
    let all = server.lines.lock().unwrap().clone();
    assert!(all.iter().all(|l| l["fields"].get("time.busy").is_none()), "string durations in the log");
}
