//! Per-client limits, the headers every response carries, and how boolean
//! settings are read.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use claimtrail::db::Backend;
use claimtrail::limits::{Limit, Rate};
use claimtrail::security_headers::{DATA_POLICY, DOCS_POLICY, SVG_POLICY};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{problem, spawn_app_with};

/// Runs an `async fn(Backend)` as two tests, one per backend.
macro_rules! on_each_backend {
    ($($body:ident),* $(,)?) => {
        $(
            mod $body {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    super::$body(claimtrail::db::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    super::$body(claimtrail::db::Backend::Postgres).await
                }
            }
        )*
    };
}

on_each_backend!(
    over_the_rate_limit_is_a_429_with_retry_after_and_ratelimit_fields,
    over_the_concurrency_limit_is_a_429_until_a_request_ends,
    every_response_carries_nosniff_a_content_security_policy_and_cache_control,
);

fn header(response: &Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

async fn over_the_rate_limit_is_a_429_with_retry_after_and_ratelimit_fields(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = Limit::Set(Rate { requests: 3, window: Duration::from_secs(60) });
    })
    .await;
    for remaining in [2, 1, 0] {
        let response = app.get("/v1/claims").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-policy"), "\"per-client\";q=3;w=60");
        let field = header(&response, "ratelimit");
        assert!(field.starts_with(&format!("\"per-client\";r={remaining};t=")), "{field}");
    }
    let refused = app.get("/v1/claims").await;
    let retry_after: u64 = header(&refused, "retry-after").parse().expect("Retry-After in seconds");
    assert!((1..=20).contains(&retry_after), "one request comes back every 20 s: {retry_after}");
    assert_eq!(header(&refused, "ratelimit-policy"), "\"per-client\";q=3;w=60");
    assert_eq!(header(&refused, "ratelimit"), format!("\"per-client\";r=0;t={retry_after}"));
    let body = problem(refused, 429).await;
    assert_eq!(body["type"], "urn:claimtrail:problem:too-many-requests");

    // A key has a quota of its own; probes are never limited.
    let keyed = app.anonymous(Method::GET, "/v1/claims").bearer_auth(&app.read_key).send().await.expect("answers");
    assert_eq!(keyed.status(), StatusCode::OK);
    assert!(header(&keyed, "ratelimit").starts_with("\"per-client\";r=2;"));
    let probe = app.get("/healthz").await;
    assert_eq!(probe.status(), StatusCode::OK);
    assert!(probe.headers().get("ratelimit").is_none());
}

async fn over_the_concurrency_limit_is_a_429_until_a_request_ends(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.concurrency_limit = Limit::Set(1)).await;
    // An import whose body never finishes stays in flight.
    let address = app.address.trim_start_matches("http://").to_string();
    let head = format!(
        "POST /v1/import HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n{{",
        app.admin_key
    );
    let as_admin = || app.anonymous(Method::GET, "/v1/claims").bearer_auth(&app.admin_key).send();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (refused, slow) = 'attempts: loop {
        assert!(Instant::now() < deadline, "the slow import never counted as in flight");
        let mut slow = tokio::net::TcpStream::connect(&address).await.expect("a connection");
        slow.write_all(head.as_bytes()).await.expect("the head is sent");
        for _ in 0..10 {
            let response = as_admin().await.expect("answers");
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                break 'attempts (response, slow);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A probe that was in flight when the import came in got the
        // import refused instead: send it again.
    };
    assert_eq!(header(&refused, "retry-after"), "1");
    let body = problem(refused, 429).await;
    assert!(body["detail"].as_str().unwrap_or_default().contains("in progress"), "{body}");
    // Another client is not held back.
    assert_eq!(app.get("/v1/claims").await.status(), StatusCode::OK);

    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(10);
    while as_admin().await.expect("answers").status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the place was not given back when the request ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_headers(response: &Response, policy: &str, cache: &str) {
    let what = format!("{} {}", response.status(), response.url());
    assert_eq!(header(response, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(response, "content-security-policy"), policy, "{what}");
    assert_eq!(header(response, "cache-control"), cache, "{what}");
}

async fn every_response_carries_nosniff_a_content_security_policy_and_cache_control(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let claim = app.create_claim("Headers are defence in depth.").await;
    let id = claim["id"].as_str().expect("an id");
    let source = app.create_source("A source", Some("Headers are defence in depth, says this source.")).await;
    app.create_attribution(json!({"claim_id": id, "source_id": source["id"], "mode": "direct"})).await;

    let created = app.post("/v1/claims", &json!({"text": "Another."})).await;
    assert_headers(&created, DATA_POLICY, "no-store");
    let list = app.get("/v1/claims").await;
    assert_headers(&list, DATA_POLICY, "no-cache");

    // A card is kept by caches only to be revalidated with its ETag.
    let card = app.get(&format!("/v1/claims/{id}")).await;
    assert_headers(&card, DATA_POLICY, "no-cache");
    let etag = header(&card, "etag");
    let revalidated = app
        .anonymous(Method::GET, &format!("/v1/claims/{id}"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("answers");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_headers(&revalidated, DATA_POLICY, "no-cache");

    let svg = app.get(&format!("/v1/claims/{id}/provenance?format=svg")).await;
    assert_eq!(header(&svg, "content-type"), "image/svg+xml");
    assert_headers(&svg, SVG_POLICY, "no-cache");
    assert_eq!(SVG_POLICY, "default-src 'none'; style-src 'unsafe-inline'");

    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert_headers(&docs, DOCS_POLICY, "public, max-age=3600");
    let script = app.get("/docs/swagger-ui-bundle.js").await;
    assert_headers(&script, DOCS_POLICY, "public, max-age=3600");
    assert_headers(&app.get("/openapi.json").await, DATA_POLICY, "no-cache");

    let missing = app.get("/v1/claims/00000000-0000-7000-8000-000000000000").await;
    assert_headers(&missing, DATA_POLICY, "no-store");
    assert_headers(&app.get("/nowhere").await, DATA_POLICY, "no-store");
    assert_headers(&app.get("/readyz").await, DATA_POLICY, "no-store");
    let export = app.anonymous(Method::GET, "/v1/export").bearer_auth(&app.admin_key).send().await.expect("answers");
    assert_headers(&export, DATA_POLICY, "no-store");
}

/// Starts `claimtrail serve` with `CLAIMTRAIL_REQUIRE_KEY_FOR_READS` set to
/// `value`: the address it listens on, or what it said when it refused.
fn serve_with_require_key(value: &str, dir: &std::path::Path) -> Result<(std::process::Child, String), String> {
    let log_path = dir.join(format!("server-{}.log", value.to_ascii_lowercase()));
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_claimtrail"))
        .args(["--bind", "127.0.0.1:0", "--no-seed", "--log-format", "json", "--log", "info", "serve"])
        .env("CLAIMTRAIL_DATABASE_URL", dir.join("settings.db"))
        .env("CLAIMTRAIL_REQUIRE_KEY_FOR_READS", value)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let said = std::fs::read_to_string(&log_path).unwrap_or_default();
        for line in said.lines() {
            if let Ok(event) = serde_json::from_str::<Value>(line)
                && event["fields"]["message"] == "listening"
                && let Some(port) = event["fields"]["port"].as_u64()
            {
                return Ok((child, format!("http://127.0.0.1:{port}")));
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{status}: {}", std::fs::read_to_string(&log_path).unwrap_or_default()));
        }
        assert!(Instant::now() < deadline, "the server neither listened nor stopped: {said}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boolean_settings_take_1_yes_on_in_any_case_and_refuse_other_words_by_name() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (value, reads_need_a_key) in [("1", true), ("YES", true), ("on", true), ("0", false), ("Off", false)] {
        let (mut server, address) =
            serve_with_require_key(value, dir.path()).unwrap_or_else(|e| panic!("{value}: {e}"));
        let status = reqwest::get(format!("{address}/v1/claims")).await.expect("answers").status();
        let _ = server.kill();
        let _ = server.wait();
        let expected = if reads_need_a_key { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
        assert_eq!(status, expected, "CLAIMTRAIL_REQUIRE_KEY_FOR_READS={value}");
    }
    let refused = serve_with_require_key("maybe", dir.path()).map(|(mut s, _)| s.kill()).expect_err("refused");
    assert!(refused.contains("CLAIMTRAIL_REQUIRE_KEY_FOR_READS"), "{refused}");
    assert!(refused.contains("1/0, true/false, yes/no, on/off"), "{refused}");
}
