//! Hostile input, as a table: every row is answered with the 4xx problem it
//! deserves, and nothing stored changes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::contract::{self, id};
use crate::helpers::{TestApp, problem};
use crate::on_both_backends;

/// One hostile request and the status it must get.
struct Row {
    what: String,
    method: Method,
    path: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Option<Vec<u8>>,
    status: u16,
}

const JSON: (&str, &[u8]) = ("content-type", b"application/json");

/// A JSON body with `Content-Type: application/json`.
fn json_row(what: &str, method: Method, path: &str, body: Value, status: u16) -> Row {
    raw(what, method, path, vec![JSON], body.to_string().into_bytes(), status)
}

/// Raw bytes with the given headers.
fn raw(what: &str, method: Method, path: &str, headers: Vec<(&'static str, &[u8])>, body: Vec<u8>, status: u16) -> Row {
    let headers = headers.into_iter().map(|(k, v)| (k, v.to_vec())).collect();
    Row { what: what.to_string(), method, path: path.to_string(), headers, body: Some(body), status }
}

/// A request without a body.
fn bare(what: &str, method: Method, path: &str, headers: Vec<(&'static str, &[u8])>, status: u16) -> Row {
    let headers = headers.into_iter().map(|(k, v)| (k, v.to_vec())).collect();
    Row { what: what.to_string(), method, path: path.to_string(), headers, body: None, status }
}

/// A merge patch with `If-Match: *`, so that only the body is at fault.
fn patch(what: &str, path: &str, body: Value, status: u16) -> Row {
    raw(what, Method::PATCH, path, vec![JSON, ("if-match", b"*")], body.to_string().into_bytes(), status)
}

fn cursor_of(key: Value) -> String {
    URL_SAFE_NO_PAD.encode(key.to_string())
}

/// A few of everything: agents, sources with and without content, claims
/// with tags and quantities, quoted and citing attributions.
async fn populate(app: &TestApp) -> (Value, Value, Value, Value, Value) {
    let guardian = app.create_agent("The Guardian").await;
    let analyst = app
        .create("/v1/agents", json!({"kind": "person", "name": "Ulf Laessing", "affiliation_id": guardian["id"]}))
        .await;
    let article = app.create("/v1/sources", json!({"kind": "article", "title": "JNIM", "publisher_id": guardian["id"], "content": "“The junta’s hold is slipping,” said Ulf Laessing."})).await;
    let data = app.create_source("ACSS fatality data", None).await;
    let claim = app.create("/v1/claims", json!({"text": "Deaths exceeded 17,700.", "kind": "quantity", "quantity": {"value": 17700, "unit": "deaths", "comparator": "gt"}, "tags": ["mali", "sahel"], "period_start": "2012"})).await;
    let other = app.create_claim("The junta’s hold is slipping.").await;
    app.create_attribution(json!({"claim_id": other["id"], "source_id": article["id"], "speaker_id": analyst["id"], "mode": "quote", "quote": {"exact": "The junta’s hold is slipping"}})).await;
    let citing = app.create_attribution(json!({"claim_id": claim["id"], "source_id": article["id"], "mode": "citation", "cited_source_id": data["id"]})).await;
    (guardian, article, data, claim, citing)
}

fn table(guardian: &Value, article: &Value, data: &Value, claim: &Value, citing: &Value) -> Vec<Row> {
    let agent_path = format!("/v1/agents/{}", id(guardian));
    let source_path = format!("/v1/sources/{}", id(article));
    let data_path = format!("/v1/sources/{}", id(data));
    let claim_path = format!("/v1/claims/{}", id(claim));
    let attribution_path = format!("/v1/attributions/{}", id(citing));
    let huge = "x".repeat(100_000);
    let over_limit = json!({"kind": "person", "name": "x".repeat(3 * 1024 * 1024)});
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested_member =
        format!("{{\"kind\":\"person\",\"name\":\"x\",\"description\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    let unknown = uuid::Uuid::now_v7();
    let attribution = |extra: Value| {
        let mut body = json!({"claim_id": claim["id"], "source_id": article["id"], "mode": "direct"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let claim_with = |extra: Value| {
        let mut body = json!({"text": "x"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let post = Method::POST;
    let get = Method::GET;
    vec![
        // Agents: types, sizes, characters, references, shapes.
        json_row(
            "agent name of the wrong type",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": 42}),
            422,
        ),
        json_row("agent kind as an array", post.clone(), "/v1/agents", json!({"kind": ["person"], "name": "x"}), 422),
        json_row(
            "agent anonymous as a string",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "anonymous": "yes"}),
            422,
        ),
        json_row("agent name of 100 kB", post.clone(), "/v1/agents", json!({"kind": "person", "name": huge}), 422),
        json_row(
            "agent name with a NUL byte",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "a\u{0}b"}),
            422,
        ),
        json_row(
            "agent description with a NUL byte",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "description": "\u{0}"}),
            422,
        ),
        json_row(
            "agent javascript: URL",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "url": "javascript:alert(1)"}),
            422,
        ),
        json_row(
            "agent data: URL",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "url": "data:text/html,<script>alert(1)</script>"}),
            422,
        ),
        json_row(
            "agent URL with a space",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "url": "https://exa mple.org"}),
            422,
        ),
        json_row(
            "agent affiliation that is not a UUID",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "affiliation_id": "' OR 1=1 --"}),
            422,
        ),
        json_row(
            "agent affiliation that does not exist",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "affiliation_id": unknown}),
            422,
        ),
        json_row(
            "agent with an unknown field",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "is_admin": true}),
            422,
        ),
        json_row(
            "agent wikidata id Q0",
            post.clone(),
            "/v1/agents",
            json!({"kind": "person", "name": "x", "wikidata_id": "Q0"}),
            422,
        ),
        json_row(
            "agent with a duplicate id",
            post.clone(),
            "/v1/agents",
            json!({"id": guardian["id"], "kind": "organization", "name": "Copy"}),
            409,
        ),
        json_row(
            "a JSON array instead of an object",
            post.clone(),
            "/v1/agents",
            json!([{"kind": "person", "name": "x"}]),
            422,
        ),
        json_row("a JSON string instead of an object", post.clone(), "/v1/agents", json!("kind=person"), 422),
        json_row("JSON null instead of an object", post.clone(), "/v1/agents", Value::Null, 422),
        json_row("a JSON number instead of an object", post.clone(), "/v1/agents", json!(1e300), 422),
        json_row("an empty object", post.clone(), "/v1/agents", json!({}), 422),
        raw("truncated JSON", post.clone(), "/v1/agents", vec![JSON], br#"{"kind": "person", "na"#.to_vec(), 400),
        raw(
            "JSON followed by garbage",
            post.clone(),
            "/v1/agents",
            vec![JSON],
            br#"{"kind": "person", "name": "x"} trailing"#.to_vec(),
            400,
        ),
        raw("an empty body", post.clone(), "/v1/agents", vec![JSON], Vec::new(), 400),
        raw("no content type", post.clone(), "/v1/agents", vec![], br#"{"kind": "person", "name": "x"}"#.to_vec(), 415),
        raw(
            "text/plain",
            post.clone(),
            "/v1/agents",
            vec![("content-type", b"text/plain")],
            br#"{"kind": "person", "name": "x"}"#.to_vec(),
            415,
        ),
        raw(
            "a form",
            post.clone(),
            "/v1/agents",
            vec![("content-type", b"application/x-www-form-urlencoded")],
            b"kind=person&name=x".to_vec(),
            415,
        ),
        raw(
            "an unreadable content type",
            post.clone(),
            "/v1/agents",
            vec![("content-type", b"json please")],
            br#"{"kind": "person", "name": "x"}"#.to_vec(),
            415,
        ),
        json_row("a body over the 2 MiB limit", post.clone(), "/v1/agents", over_limit.clone(), 413),
        raw("JSON nested 10,000 deep", post.clone(), "/v1/agents", vec![JSON], nested.clone().into_bytes(), 400),
        raw("a member nested 100 deep", post.clone(), "/v1/agents", vec![JSON], nested_member.into_bytes(), 422),
        raw(
            "bytes that are not UTF-8",
            post.clone(),
            "/v1/agents",
            vec![JSON],
            b"{\"kind\": \"person\", \"name\": \"\xff\xfe\"}".to_vec(),
            400,
        ),
        raw(
            "a lone UTF-16 surrogate",
            post.clone(),
            "/v1/agents",
            vec![JSON],
            br#"{"kind": "person", "name": "\ud800"}"#.to_vec(),
            400,
        ),
        raw(
            "a NaN literal",
            post.clone(),
            "/v1/agents",
            vec![JSON],
            br#"{"kind": "person", "name": NaN}"#.to_vec(),
            400,
        ),
        // Sources.
        json_row(
            "published_on 2025-13",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "published_on": "2025-13"}),
            422,
        ),
        json_row(
            "published_on 2025-02-30",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "published_on": "2025-02-30"}),
            422,
        ),
        json_row(
            "published_on as a number",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "published_on": 2025}),
            422,
        ),
        json_row(
            "a publisher that does not exist",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "publisher_id": unknown}),
            422,
        ),
        json_row(
            "source content with a NUL byte",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "content": "a\u{0}b"}),
            422,
        ),
        json_row("source title of 100 kB", post.clone(), "/v1/sources", json!({"kind": "article", "title": huge}), 422),
        json_row(
            "source language that is no language tag",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "language": "english"}),
            422,
        ),
        json_row(
            "source with content_sha256 sent",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "content_sha256": "00"}),
            422,
        ),
        json_row(
            "source archived_url javascript:",
            post.clone(),
            "/v1/sources",
            json!({"kind": "article", "title": "x", "archived_url": "JavaScript:alert(1)"}),
            422,
        ),
        // Claims.
        json_row("claim text of 5001 characters", post.clone(), "/v1/claims", json!({"text": "a".repeat(5001)}), 422),
        json_row(
            "51 tags",
            post.clone(),
            "/v1/claims",
            claim_with(json!({"tags": (0..51).map(|i| i.to_string()).collect::<Vec<_>>()})),
            422,
        ),
        json_row("a tag with a NUL byte", post.clone(), "/v1/claims", claim_with(json!({"tags": ["a\u{0}"]})), 422),
        json_row(
            "between without upper",
            post.clone(),
            "/v1/claims",
            claim_with(json!({"quantity": {"value": 1, "unit": "x", "comparator": "between"}})),
            422,
        ),
        json_row(
            "quantity value \"NaN\"",
            post.clone(),
            "/v1/claims",
            claim_with(json!({"quantity": {"value": "NaN", "unit": "x", "comparator": "eq"}})),
            422,
        ),
        raw(
            "quantity value 1e999",
            post.clone(),
            "/v1/claims",
            vec![JSON],
            br#"{"text": "x", "quantity": {"value": 1e999, "unit": "x", "comparator": "eq"}}"#.to_vec(),
            400,
        ),
        json_row(
            "upper below a huge value",
            post.clone(),
            "/v1/claims",
            claim_with(json!({"quantity": {"value": 1e308, "upper": -1e308, "unit": "x", "comparator": "between"}})),
            422,
        ),
        json_row(
            "period_end before period_start",
            post.clone(),
            "/v1/claims",
            claim_with(json!({"period_start": "2025-06", "period_end": "2025-05-31"})),
            422,
        ),
        json_row("claim with version sent", post.clone(), "/v1/claims", claim_with(json!({"version": 7})), 422),
        json_row(
            "claim status that does not exist",
            post.clone(),
            "/v1/claims",
            claim_with(json!({"status": "fake"})),
            422,
        ),
        json_row("claim with a duplicate id", post.clone(), "/v1/claims", claim_with(json!({"id": claim["id"]})), 409),
        // Attributions.
        json_row(
            "attribution claim id that is not a UUID",
            post.clone(),
            "/v1/attributions",
            attribution(json!({"claim_id": "12345"})),
            422,
        ),
        json_row(
            "attribution of a claim that does not exist",
            post.clone(),
            "/v1/attributions",
            attribution(json!({"claim_id": unknown})),
            422,
        ),
        json_row(
            "citation without cited_source_id",
            post.clone(),
            "/v1/attributions",
            attribution(json!({"mode": "citation"})),
            422,
        ),
        json_row(
            "a source citing itself",
            post.clone(),
            "/v1/attributions",
            attribution(json!({"mode": "citation", "cited_source_id": article["id"]})),
            422,
        ),
        json_row(
            "a quote of 100 kB",
            post.clone(),
            "/v1/attributions",
            attribution(json!({"quote": {"exact": huge}})),
            422,
        ),
        json_row(
            "stated_on 2025-02-30",
            post.clone(),
            "/v1/attributions",
            attribution(json!({"stated_on": "2025-02-30"})),
            422,
        ),
        json_row(
            "quote_status sent",
            post.clone(),
            "/v1/attributions",
            attribution(json!({"quote_status": "verified"})),
            422,
        ),
        // Merge patches and preconditions.
        raw("PATCH without If-Match", Method::PATCH, &agent_path, vec![JSON], br#"{"name": "x"}"#.to_vec(), 428),
        raw(
            "PATCH with a stale If-Match",
            Method::PATCH,
            &agent_path,
            vec![JSON, ("if-match", b"\"99\"")],
            br#"{"name": "x"}"#.to_vec(),
            412,
        ),
        raw(
            "PATCH with a stale If-Match and an unknown member",
            Method::PATCH,
            &source_path,
            vec![JSON, ("if-match", b"\"10\"")],
            br#"{"": null}"#.to_vec(),
            422,
        ),
        raw(
            "If-Match that is no ETag",
            Method::PATCH,
            &agent_path,
            vec![JSON, ("if-match", b"abc")],
            br#"{"name": "x"}"#.to_vec(),
            400,
        ),
        raw(
            "If-Match with a quoted word",
            Method::PATCH,
            &agent_path,
            vec![JSON, ("if-match", b"\"abc\"")],
            br#"{"name": "x"}"#.to_vec(),
            400,
        ),
        raw(
            "If-Match with bytes that are not ASCII",
            Method::PATCH,
            &agent_path,
            vec![JSON, ("if-match", b"\"1\xff\"")],
            br#"{"name": "x"}"#.to_vec(),
            400,
        ),
        patch("a merge patch that is an array", &agent_path, json!([{"name": "x"}]), 422),
        patch("a merge patch that is a string", &agent_path, json!("x"), 422),
        patch("a merge patch setting version", &agent_path, json!({"version": 99}), 422),
        patch("a merge patch changing id", &agent_path, json!({"id": unknown}), 422),
        patch("a merge patch clearing a required field", &agent_path, json!({"name": null}), 422),
        patch("a merge patch removing a field that does not exist", &source_path, json!({"": null}), 422),
        patch("a merge patch removing an unknown claim field", &claim_path, json!({"verdict": null}), 422),
        patch("a merge patch setting content_sha256", &source_path, json!({"content_sha256": "00"}), 422),
        patch("a merge patch with content of NUL", &source_path, json!({"content": "\u{0}"}), 422),
        patch(
            "a merge patch with 51 tags",
            &claim_path,
            json!({"tags": (0..51).map(|i| i.to_string()).collect::<Vec<_>>()}),
            422,
        ),
        patch("a merge patch clearing the claim text", &claim_path, json!({"text": null}), 422),
        patch("a merge patch making a quote citation", &attribution_path, json!({"cited_source_id": null}), 422),
        raw(
            "a merge patch as text/plain",
            Method::PATCH,
            &agent_path,
            vec![("content-type", b"text/plain"), ("if-match", b"*")],
            br#"{"name": "x"}"#.to_vec(),
            415,
        ),
        raw(
            "a truncated merge patch",
            Method::PATCH,
            &agent_path,
            vec![("content-type", b"application/merge-patch+json"), ("if-match", b"*")],
            br#"{"name": "#.to_vec(),
            400,
        ),
        patch("a merge patch over the limit", &agent_path, over_limit, 413),
        // Deletes.
        bare("DELETE without If-Match", Method::DELETE, &data_path, vec![], 428),
        bare("DELETE with a stale If-Match", Method::DELETE, &data_path, vec![("if-match", b"\"2\"")], 412),
        bare("DELETE of a cited source", Method::DELETE, &data_path, vec![("if-match", b"*")], 409),
        bare("DELETE of a publishing agent", Method::DELETE, &agent_path, vec![("if-match", b"*")], 409),
        bare("DELETE of a claim with attributions", Method::DELETE, &claim_path, vec![("if-match", b"*")], 409),
        // Paths.
        bare("a path id that is not a UUID", get.clone(), "/v1/agents/not-a-uuid", vec![], 404),
        bare("a path id of SQL", get.clone(), "/v1/sources/1%27%20OR%20%271%27=%271", vec![], 404),
        bare("a path id with a NUL byte", get.clone(), "/v1/claims/%00", vec![], 404),
        bare("a PATCH of a path id that is not a UUID", Method::PATCH, "/v1/claims/123", vec![("if-match", b"*")], 404),
        bare("an id that does not exist", get.clone(), &format!("/v1/attributions/{unknown}"), vec![], 404),
        bare("an unknown route", get.clone(), "/v1/nothing", vec![], 404),
        bare("a wrong method", Method::PUT, "/v1/claims", vec![], 405),
        // Query parameters.
        bare("limit=0", get.clone(), "/v1/agents?limit=0", vec![], 400),
        bare("limit=-1", get.clone(), "/v1/sources?limit=-1", vec![], 400),
        bare("limit=201", get.clone(), "/v1/claims?limit=201", vec![], 400),
        bare("a limit beyond 64 bits", get.clone(), "/v1/attributions?limit=99999999999999999999", vec![], 400),
        bare("limit=ten", get.clone(), "/v1/agents?limit=ten", vec![], 400),
        bare("an empty limit", get.clone(), "/v1/agents?limit=", vec![], 400),
        bare("limit twice", get.clone(), "/v1/agents?limit=1&limit=2", vec![], 400),
        bare("an unknown query parameter", get.clone(), "/v1/sources?sort=title", vec![], 400),
        bare("a query UUID that is not one", get.clone(), "/v1/attributions?claim_id=abc", vec![], 400),
        bare("a kind that does not exist", get.clone(), "/v1/agents?kind=robot", vec![], 400),
        bare("a tampered cursor", get.clone(), "/v1/agents?cursor=not-a-cursor!", vec![], 400),
        bare(
            "a cursor of other JSON",
            get.clone(),
            &format!("/v1/sources?cursor={}", cursor_of(json!({"offset": 0}))),
            vec![],
            400,
        ),
        bare(
            "a cursor with a NUL byte",
            get.clone(),
            &format!("/v1/attributions?cursor={}", cursor_of(json!(["2025-01-01T00:00:00", "\u{0}"]))),
            vec![],
            400,
        ),
        bare("a query parameter with a NUL byte", get.clone(), "/v1/claims?tag=a%00b", vec![], 400),
    ]
}

on_both_backends! {
    async fn hostile_requests_get_4xx_problems_and_change_nothing(app: TestApp) {
        let (guardian, article, data, claim, citing) = populate(&app).await;
        let rows = table(&guardian, &article, &data, &claim, &citing);
        assert!(rows.len() >= 40);
        let before = app.snapshot().await;
        for row in rows {
            let mut request = app.request(row.method.clone(), &row.path);
            for (name, value) in &row.headers {
                request = request.header(*name, value.as_slice());
            }
            if let Some(body) = row.body {
                request = request.body(body);
            }
            let response = request.send().await.unwrap_or_else(|e| panic!("{}: no answer: {e}", row.what));
            let content_type = response.headers().get("content-type").map(|v| v.as_bytes().to_vec());
            assert_eq!(response.status().as_u16(), row.status, "{}: {} {}", row.what, row.method, row.path);
            assert_eq!(content_type.as_deref(), Some(b"application/problem+json".as_slice()), "{}", row.what);
            let body = problem(response, row.status).await;
            let text = body.to_string();
            assert!(!text.contains("SQL") && !text.contains("diesel") && !text.contains(".rs"), "{}: {text}", row.what);
        }
        assert_eq!(app.snapshot().await, before, "a hostile request changed what is stored");
    }

    async fn unknown_routes_are_404_problems_and_wrong_methods_405_with_allow(app: TestApp) {
        for path in ["/nothing", "/v1/", "/v1/claim", "/v2/claims", "/v1/agents/", "/v1/claims/x/y/z"] {
            let body = problem(app.get(path).await, 404).await;
            assert!(body["detail"].as_str().unwrap().contains("Nothing is served"), "{path}: {body}");
        }
        for path in ["/healthz", "/openapi.json", "/docs/", "/docs/index.html"] {
            for method in [Method::POST, Method::DELETE] {
                let response = app.request(method.clone(), path).send().await.unwrap();
                assert_eq!(contract::header(&response, "allow"), "GET, HEAD", "{method} {path}");
                problem(response, 405).await;
            }
        }
    }
}
