//! Holds the committed OpenAPI document to what the server does. Every
//! response a test receives through [`crate::helpers::TestApp`] passes
//! through [`check`]: its operation, status, media type and headers must be
//! declared in `openapi/openapi.json`, and a JSON body must validate against
//! the declared schema (the `jsonschema` crate, draft 2020-12, formats
//! checked). A violation fails the test that made the request.
//!
//! Each response also leaves a line in a file per test process (in
//! `CLAIMTRAIL_SPEC_OBSERVATIONS`, which `scripts/test.sh` sets): which
//! operation and status it was, and which optional properties of its
//! schemas were present. After the whole suite, `scripts/test.sh` runs
//! [`every_operation_is_exercised_and_no_optional_response_field_is_always_present`]
//! over those files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

/// Where each test process writes its observations, when set.
const OBSERVATIONS: &str = "CLAIMTRAIL_SPEC_OBSERVATIONS";

/// Headers every HTTP response may carry whatever the operation: transport,
/// CORS, caching and security headers, which an API description does not
/// repeat per response.
const GENERIC_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "date",
    "server",
    "vary",
    "cache-control",
    "x-content-type-options",
    "content-security-policy",
    "referrer-policy",
    "x-frame-options",
    "strict-transport-security",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "cross-origin-embedder-policy",
    "permissions-policy",
];

/// Paths served beside the API rather than described in it.
fn undocumented(path: &str) -> bool {
    path == "/openapi.json" || path == "/docs" || path.starts_with("/docs/") || path == "/metrics"
}

struct Operation {
    method: String,
    template: Vec<String>,
    id: String,
    value: Value,
}

struct Spec {
    document: Value,
    operations: Vec<Operation>,
    templates: Vec<Vec<String>>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

static SPEC: LazyLock<Spec> = LazyLock::new(|| {
    let document: Value = serde_json::from_str(COMMITTED).expect("the committed document is JSON");
    let mut operations = Vec::new();
    let mut templates = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let template: Vec<String> = path.split('/').map(String::from).collect();
        templates.push(template.clone());
        for (method, operation) in item.as_object().expect("a path item") {
            let id = operation["operationId"].as_str().unwrap_or(method).to_string();
            operations.push(Operation {
                method: method.to_uppercase(),
                template: template.clone(),
                id,
                value: operation.clone(),
            });
        }
    }
    Spec { document, operations, templates, validators: Mutex::new(HashMap::new()) }
});

fn matches(template: &[String], path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    segments.len() == template.len()
        && template
            .iter()
            .zip(&segments)
            .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
}

/// `$ref`s within the document, followed.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    let mut value = value;
    while let Some(pointer) = value.get("$ref").and_then(Value::as_str) {
        value = document.pointer(pointer.trim_start_matches('#')).expect("a $ref into the document");
    }
    value
}

/// One response as a test saw it.
pub struct Observed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Checks a response against the committed document; panics on a
/// difference, naming it.
pub fn check(observed: &Observed<'_>) {
    let started = std::time::Instant::now();
    let spec = &*SPEC;
    let path = observed.path;
    if undocumented(path) || observed.method == "OPTIONS" {
        return;
    }
    // HEAD is GET without the body (RFC 9110); the document says so once.
    let method = if observed.method == "HEAD" { "GET" } else { observed.method };
    let what = format!("{} {path} answered {}", observed.method, observed.status.as_u16());
    let content_type = observed
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let Some(operation) = spec.operations.iter().find(|o| o.method == method && matches(&o.template, path)) else {
        // Not an operation: the server must say so as the contract says.
        let known_path = spec.templates.iter().any(|t| matches(t, path));
        let expected = if known_path { StatusCode::METHOD_NOT_ALLOWED } else { StatusCode::NOT_FOUND };
        assert_eq!(observed.status, expected, "{what}, but the document has no such operation");
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{what}");
        if known_path {
            assert!(observed.headers.contains_key("allow"), "{what} without Allow");
        }
        return;
    };
    let responses = &operation.value["responses"];
    let status = observed.status.as_u16().to_string();
    let range = format!("{}XX", &status[..1]);
    let declared = [status.as_str(), range.as_str(), "default"].into_iter().find_map(|key| responses.get(key));
    let Some(declared) = declared else {
        panic!(
            "spec lie: {what}; `{}` declares {:?}",
            operation.id,
            responses.as_object().map(|r| r.keys().collect::<Vec<_>>())
        );
    };
    let declared = resolve(&spec.document, declared);
    check_headers(&spec.document, declared, observed.headers, &what, &operation.id);
    let content = declared.get("content").and_then(Value::as_object);
    if observed.body.is_empty() {
        let allowed = observed.method == "HEAD" || content.is_none_or(|c| c.is_empty());
        assert!(allowed, "spec lie: {what} without a body; `{}` declares one", operation.id);
        record(operation, &status, None, &[], started);
        return;
    }
    let Some(content) = content else {
        panic!("spec lie: {what} with a body; `{}` declares none for {status}", operation.id);
    };
    let media = content_type.unwrap_or_default();
    let Some(media_object) = content.get(&media) else {
        panic!("spec lie: {what} as {media}; `{}` declares {:?}", operation.id, content.keys().collect::<Vec<_>>());
    };
    let mut facts = Vec::new();
    if media.ends_with("json") && !media.ends_with("ndjson") {
        let body: Value =
            serde_json::from_slice(observed.body).unwrap_or_else(|e| panic!("{what}: {media} that is not JSON: {e}"));
        let schema = &media_object["schema"];
        validate(spec, &format!("{} {status} {media}", operation.id), schema, &body, &what);
        walk(&spec.document, schema, format!("{} {status} {media}", operation.id), &body, &mut facts);
    }
    record(operation, &status, Some(&media), &facts, started);
}

fn check_headers(document: &Value, declared: &Value, headers: &HeaderMap, what: &str, operation: &str) {
    let names: BTreeSet<String> = declared
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    for name in headers.keys() {
        let name = name.as_str();
        if GENERIC_HEADERS.contains(&name) || name.starts_with("access-control-") {
            continue;
        }
        assert!(names.contains(name), "spec lie: {what} with header {name}, which `{operation}` does not declare");
    }
    // Declared headers are descriptions of text; each must resolve.
    for header in declared.get("headers").and_then(Value::as_object).into_iter().flat_map(|h| h.values()) {
        assert!(resolve(document, header).get("schema").is_some(), "{operation}: a header without a schema");
    }
}

/// Validates `body` against `schema` (which may hold `$ref`s into the
/// document), compiling each distinct schema once per process.
fn validate(spec: &Spec, key: &str, schema: &Value, body: &Value, what: &str) {
    let validator = {
        let mut validators = spec.validators.lock().unwrap_or_else(|p| p.into_inner());
        validators
            .entry(key.to_string())
            .or_insert_with(|| {
                // The document is the root, so `#/components/...` resolves;
                // the schema to check sits under `$defs`.
                let mut root = spec.document.clone();
                root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
                root["$defs"] = json!({"target": schema});
                root["$ref"] = json!("#/$defs/target");
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("the schema of {key} does not compile: {e}"));
                Arc::new(validator)
            })
            .clone()
    };
    let errors: Vec<String> =
        validator.iter_errors(body).map(|e| format!("at `{}`: {e}", e.instance_path())).take(10).collect();
    let shown = body.to_string();
    let shown: String = shown.chars().take(1500).collect();
    assert!(
        errors.is_empty(),
        "spec lie: {what}, a body its schema refuses:\n  {}\nbody: {shown}",
        errors.join("\n  ")
    );
}

/// Whether `instance` fits `schema` closely enough to walk it as that
/// alternative of a `oneOf`/`anyOf`: the JSON type, the required members,
/// and the values of members with an `enum` (discriminators).
fn fits(document: &Value, schema: &Value, instance: &Value) -> bool {
    let schema = resolve(document, schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        return all.iter().all(|s| fits(document, s, instance));
    }
    let type_ok = match schema.get("type") {
        None => true,
        Some(Value::String(t)) => type_fits(t, instance),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).any(|t| type_fits(t, instance)),
        Some(_) => true,
    };
    let required_ok = schema
        .get("required")
        .and_then(Value::as_array)
        .is_none_or(|r| r.iter().filter_map(Value::as_str).all(|k| instance.get(k).is_some()));
    let enums_ok = schema.get("properties").and_then(Value::as_object).is_none_or(|properties| {
        properties.iter().all(|(name, property)| {
            match (resolve(document, property).get("enum").and_then(Value::as_array), instance.get(name)) {
                (Some(values), Some(value)) => values.contains(value),
                _ => true,
            }
        })
    });
    type_ok && required_ok && enums_ok
}

fn type_fits(name: &str, instance: &Value) -> bool {
    match name {
        "null" => instance.is_null(),
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "boolean" => instance.is_boolean(),
        "integer" => instance.is_i64() || instance.is_u64(),
        "number" => instance.is_number(),
        _ => true,
    }
}

/// Notes, for every optional property of every object schema the body
/// goes through, whether it was present: `(schema, property, present)`.
fn walk(document: &Value, schema: &Value, location: String, instance: &Value, facts: &mut Vec<(String, String, bool)>) {
    let (schema, location) = match schema.get("$ref").and_then(Value::as_str) {
        Some(pointer) => (resolve(document, schema), pointer.to_string()),
        None => (schema, location),
    };
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for (i, part) in all.iter().enumerate() {
            walk(document, part, format!("{location}/allOf/{i}"), instance, facts);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
            for (i, alternative) in alternatives.iter().enumerate() {
                if fits(document, alternative, instance) {
                    walk(document, alternative, format!("{location}/{key}/{i}"), instance, facts);
                }
            }
        }
    }
    match instance {
        Value::Object(members) => {
            let required: BTreeSet<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    let present = members.get(name);
                    if !required.contains(name.as_str()) {
                        facts.push((location.clone(), name.clone(), present.is_some()));
                    }
                    if let Some(value) = present {
                        walk(document, property, format!("{location}/properties/{name}"), value, facts);
                    }
                }
            }
            if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for value in members.values() {
                    walk(document, extra, format!("{location}/additionalProperties"), value, facts);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for value in items {
                    walk(document, item, format!("{location}/items"), value, facts);
                }
            }
        }
        _ => {}
    }
}

static OUTPUT: LazyLock<Mutex<Option<std::fs::File>>> = LazyLock::new(|| {
    let file = std::env::var_os(OBSERVATIONS).map(|dir| {
        std::fs::create_dir_all(&dir).expect("the observations directory");
        let path = std::path::Path::new(&dir).join(format!("observed-{}.jsonl", std::process::id()));
        std::fs::OpenOptions::new().create(true).append(true).open(path).expect("an observations file")
    });
    Mutex::new(file)
});

fn record(
    operation: &Operation,
    status: &str,
    media: Option<&str>,
    facts: &[(String, String, bool)],
    started: std::time::Instant,
) {
    let mut output = OUTPUT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(file) = output.as_mut() {
        let micros = started.elapsed().as_micros() as u64;
        let line =
            json!({"operation": operation.id, "status": status, "media": media, "facts": facts, "check_us": micros});
        writeln!(file, "{line}").expect("an observation is written");
    }
}

/// The check over the whole suite's observations (`scripts/test.sh` runs it
/// after the suite): every operation of the document was exercised, and no
/// optional property of a response schema was present in every response
/// that could have had it (it would be always present, so required: a
/// generated client should not have to test for it). Prints which declared
/// responses no test observed.
#[test]
#[ignore = "reads the observations of a whole test run; scripts/test.sh runs it after the suite"]
fn every_operation_is_exercised_and_no_optional_response_field_is_always_present() {
    let dir = std::env::var_os(OBSERVATIONS).expect("CLAIMTRAIL_SPEC_OBSERVATIONS names the observations directory");
    let mut observed: BTreeSet<(String, String)> = BTreeSet::new();
    let mut presence: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut responses = 0u64;
    let mut checking_us = 0u64;
    for entry in std::fs::read_dir(&dir).expect("the observations directory") {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("an observations file");
        for line in text.lines() {
            let line: Value = serde_json::from_str(line).expect("an observation");
            responses += 1;
            checking_us += line["check_us"].as_u64().unwrap_or(0);
            let operation = line["operation"].as_str().unwrap_or_default().to_string();
            observed.insert((operation, line["status"].as_str().unwrap_or_default().to_string()));
            for fact in line["facts"].as_array().into_iter().flatten() {
                let key = (
                    fact[0].as_str().unwrap_or_default().to_string(),
                    fact[1].as_str().unwrap_or_default().to_string(),
                );
                let counts = presence.entry(key).or_default();
                if fact[2].as_bool() == Some(true) { counts.0 += 1 } else { counts.1 += 1 }
            }
        }
    }
    assert!(responses > 1000, "only {responses} responses observed: run the whole suite first");
    let mut declared = BTreeSet::new();
    let mut never_called = Vec::new();
    for operation in &SPEC.operations {
        let statuses: Vec<String> =
            operation.value["responses"].as_object().expect("responses").keys().cloned().collect();
        if !observed.iter().any(|(id, _)| *id == operation.id) {
            never_called.push(operation.id.clone());
        }
        for status in statuses {
            declared.insert((operation.id.clone(), status));
        }
    }
    let unseen: Vec<String> = declared.difference(&observed).map(|(id, status)| format!("{id} {status}")).collect();
    println!(
        "{responses} responses observed, checked in {:.1} s of test threads' time; {} of {} declared responses \
         seen. Never seen: {}",
        checking_us as f64 / 1e6,
        declared.len() - unseen.len(),
        declared.len(),
        unseen.join(", ")
    );
    assert!(never_called.is_empty(), "operations no test calls: {never_called:?}");
    let always: Vec<String> = presence
        .iter()
        .filter(|(_, (present, absent))| *present > 0 && *absent == 0)
        .map(|((schema, property), (present, _))| format!("{schema} `{property}` (present in all {present})"))
        .collect();
    assert!(
        always.is_empty(),
        "optional in the document, yet present in every response observed; make them required \
         (or add a test that observes them absent):\n  {}",
        always.join("\n  ")
    );
}

#[cfg(test)]
mod the_check_itself {
    use super::*;

    const CARD: &str = "/v1/claims/8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn observe(method: &str, path: &str, status: u16, headers: &HeaderMap, body: &str) {
        check(&Observed {
            method,
            path,
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: body.as_bytes(),
        });
    }

    const HEALTH: &str = r#"{"status": "ok", "version": "0.1.0"}"#;

    #[test]
    fn a_declared_answer_passes_and_head_is_get_without_the_body() {
        let json = headers(&[("content-type", "application/json"), ("x-request-id", "a")]);
        observe("GET", "/healthz", 200, &json, HEALTH);
        observe("HEAD", "/healthz", 200, &json, "");
        observe("GET", "/docs/index.html", 200, &headers(&[("content-type", "text/html")]), "<html>");
        let problem = headers(&[("content-type", "application/problem+json"), ("allow", "GET, HEAD")]);
        observe("PUT", "/healthz", 405, &problem, "{}");
    }

    #[test]
    #[should_panic(expected = "spec lie: GET /healthz answered 418")]
    fn an_undeclared_status_is_refused() {
        observe("GET", "/healthz", 418, &headers(&[("content-type", "application/json")]), HEALTH);
    }

    #[test]
    #[should_panic(expected = "as text/plain")]
    fn an_undeclared_media_type_is_refused() {
        observe("GET", "/healthz", 200, &headers(&[("content-type", "text/plain")]), "ok");
    }

    #[test]
    #[should_panic(expected = "with header etag, which `healthz` does not declare")]
    fn an_undeclared_header_is_refused() {
        observe("GET", "/healthz", 200, &headers(&[("content-type", "application/json"), ("etag", "\"1\"")]), HEALTH);
    }

    #[test]
    #[should_panic(expected = "a body its schema refuses")]
    fn a_body_missing_a_required_nullable_field_is_refused() {
        let card = r#"{"id": "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338", "text": "x", "kind": "statement",
            "tags": [], "status": "unreviewed", "created_at": "2025-11-18T09:30:00Z",
            "updated_at": "2025-11-18T09:30:00Z", "version": 1, "attributions": []}"#;
        observe("GET", CARD, 200, &headers(&[("content-type", "application/json"), ("etag", "\"1\"")]), card);
    }

    #[test]
    #[should_panic(expected = "a body its schema refuses")]
    fn a_field_of_the_wrong_type_is_refused() {
        let health = r#"{"status": "ok", "version": 1}"#;
        observe("GET", "/readyz", 200, &headers(&[("content-type", "application/json")]), health);
    }

    #[test]
    #[should_panic(expected = "the document has no such operation")]
    fn an_unknown_path_must_be_a_404() {
        observe("GET", "/v2/things", 200, &headers(&[("content-type", "application/json")]), "{}");
    }

    #[test]
    fn optional_properties_are_noted_present_or_absent() {
        let document = &SPEC.document;
        let schema = json!({"$ref": "#/components/schemas/Problem"});
        let mut facts = Vec::new();
        walk(
            document,
            &schema,
            String::new(),
            &json!({"type": "t", "title": "t", "status": 404, "detail": "d"}),
            &mut facts,
        );
        assert_eq!(facts, [("#/components/schemas/Problem".to_string(), "errors".to_string(), false)]);
    }
}
