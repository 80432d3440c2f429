//! What every resource promises alike, checked once and called from each
//! resource's tests: `201` with `Location` and `ETag`, conditional GETs,
//! pages that follow `Link` headers, merge patches guarded by `If-Match`,
//! deletes, unknown ids and wrong methods.

use std::collections::BTreeSet;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_fields, problem};

/// A response header as text; fails when it is missing.
pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in the {} answer", response.status()))
        .to_str()
        .expect("a readable header")
        .to_string()
}

/// The body of a response of the expected status.
pub async fn read_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let url = response.url().to_string();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "{url} answered {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{url} answered no JSON: {text}"))
}

/// The id of a resource as a path segment.
pub fn id(resource: &Value) -> &str {
    resource["id"].as_str().expect("an id")
}

/// Checks a create answer: `201`, `Location` naming the new resource, `ETag: "1"`,
/// version 1, a UUID v7 id unless the client chose one, equal timestamps.
pub async fn created(response: Response, collection: &str) -> Value {
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    let created = read_json(response, StatusCode::CREATED).await;
    assert_eq!(location, Some(format!("{collection}/{}", id(&created))));
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(created["version"], 1);
    assert_eq!(created["created_at"], created["updated_at"]);
    uuid::Uuid::parse_str(id(&created)).expect("the id is a UUID");
    created
}

/// An RFC 3339 timestamp of a body.
pub fn time(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a timestamp")).expect("an RFC 3339 timestamp")
}

/// The fields of `resource` other than those named.
pub fn without(resource: &Value, fields: &[&str]) -> Value {
    let mut object = resource.as_object().expect("an object").clone();
    for field in fields {
        object.remove(*field);
    }
    Value::Object(object)
}

/// `GET` answers `ETag: "<version>"`; `If-None-Match` with it (or `*`) is a
/// `304` without a body; with an older version, a `200` with the body.
pub async fn conditional_get(app: &TestApp, path: &str) {
    let response = app.get(path).await;
    let etag = header(&response, "etag");
    let current = read_json(response, StatusCode::OK).await;
    assert_eq!(etag, format!("\"{}\"", current["version"]));
    for tag in [etag.clone(), "*".to_string(), format!("\"7\", {etag}")] {
        let response = app.anonymous(Method::GET, path).header("if-none-match", &tag).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "If-None-Match: {tag}");
        assert_eq!(header(&response, "etag"), etag);
        assert!(response.bytes().await.unwrap().is_empty(), "a 304 has no body");
    }
    let stale = format!("\"{}\"", current["version"].as_i64().unwrap() - 1);
    let response = app.anonymous(Method::GET, path).header("if-none-match", &stale).send().await.unwrap();
    assert_eq!(header(&response, "etag"), etag);
    assert_eq!(read_json(response, StatusCode::OK).await, current);
}

/// The `next` URL of a `Link` header.
pub fn next_link(response: &Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().expect("a readable Link header");
    let (url, rel) = link.split_once(';').expect("Link: <url>; rel=\"next\"");
    assert_eq!(rel.trim(), "rel=\"next\"", "{link}");
    Some(url.trim().strip_prefix('<').and_then(|u| u.strip_suffix('>')).expect("<url>").to_string())
}

/// Follows `Link: <…>; rel="next"` from `first` to the end, checking that
/// each page holds `limit` items but the last, that the header and
/// `next_cursor` agree and that the header keeps the query's other
/// parameters. Returns the ids in the order served.
pub async fn follow_pages(app: &TestApp, first: &str, limit: usize, kept: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut url = Some(first.to_string());
    let mut pages = 0;
    while let Some(current) = url {
        pages += 1;
        assert!(pages < 100, "the pages never end");
        let response = app.get(&current).await;
        let link = next_link(&response);
        let page = read_json(response, StatusCode::OK).await;
        let items = page["items"].as_array().expect("items");
        ids.extend(items.iter().map(|item| id(item).to_string()));
        match (&link, page["next_cursor"].as_str()) {
            (Some(link), Some(cursor)) => {
                assert_eq!(items.len(), limit, "a page before the last one is full");
                let (path, query) = link.split_once('?').expect("a query in the Link URL");
                assert_eq!(path, first.split('?').next().unwrap());
                let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("a query string");
                assert!(pairs.contains(&("cursor".to_string(), cursor.to_string())), "{link} lacks the cursor");
                assert_eq!(pairs.iter().filter(|(k, _)| k == "cursor").count(), 1, "{link}");
                for param in kept {
                    let (k, v) = param.split_once('=').unwrap();
                    assert!(pairs.contains(&(k.to_string(), v.to_string())), "{link} dropped {param}");
                }
            }
            (None, None) => assert!(items.len() <= limit),
            (link, cursor) => panic!("Link {link:?} and next_cursor {cursor:?} disagree"),
        }
        url = link;
    }
    ids
}

/// Lists `collection` (with `filter`, e.g. `kind=person`) three at a time:
/// the pages together are `expected_newest_first`, without duplicates or gaps.
pub async fn pages_hold_every_item_once(
    app: &TestApp,
    collection: &str,
    filter: Option<&str>,
    expected_newest_first: &[String],
) {
    let kept: Vec<&str> = filter.into_iter().chain(["limit=3"]).collect();
    let first = format!("{collection}?{}", kept.join("&"));
    let ids = follow_pages(app, &first, 3, &kept).await;
    assert_eq!(ids, expected_newest_first, "paging {first}");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}

/// The merge-patch contract on a resource at version 1: `428` without
/// `If-Match`, `412` with a stale one, `422` for unknown, read-only and
/// `id` changes, all leaving it as it was; then `change` (sent as plain
/// `application/json`) applies, version +1 and a new ETag, every field it
/// does not name kept. Returns the changed resource.
pub async fn merge_patch(app: &TestApp, path: &str, change: &Value, read_only: &[&str]) -> Value {
    let before = read_json(app.get(path).await, StatusCode::OK).await;
    assert_eq!(before["version"], 1);

    let response = app.request(Method::PATCH, path).json(change).send().await.unwrap();
    let required = problem(response, 428).await;
    assert!(required["detail"].as_str().unwrap().contains("If-Match"), "{required}");

    let response = app.patch(path, 5, change).await;
    assert_eq!(header(&response, "etag"), "\"1\"", "a 412 names the current version");
    problem(response, 412).await;

    let refused = ["no_such_field", "version", "created_at", "updated_at"].iter().chain(read_only);
    for field in refused {
        let patch = Value::Object(serde_json::Map::from_iter([(field.to_string(), json!("2"))]));
        let body = problem(app.patch(path, 1, &patch).await, 422).await;
        assert_eq!(error_fields(&body), [*field], "{patch} answered {body}");
    }
    let other_id = uuid::Uuid::now_v7().to_string();
    let body_422 = problem(app.patch(path, 1, &json!({"id": other_id})).await, 422).await;
    assert_eq!(error_fields(&body_422), ["id"]);
    assert_eq!(read_json(app.get(path).await, StatusCode::OK).await, before, "refused patches changed the resource");

    let response = app
        .request(Method::PATCH, path)
        .header("if-match", "\"1\"")
        .header("content-type", "application/json")
        .body(change.to_string())
        .send()
        .await
        .unwrap();
    let etag = header(&response, "etag");
    let after = read_json(response, StatusCode::OK).await;
    assert_eq!(etag, "\"2\"");
    assert_eq!(after["version"], 2);
    for (field, value) in change.as_object().unwrap() {
        assert_eq!(&after[field], value, "{field} was not changed");
    }
    // Read-only fields may follow from the change (a digest, a quote's status).
    let mut unchanged: Vec<&str> = change.as_object().unwrap().keys().map(String::as_str).collect();
    unchanged.extend(["version", "updated_at", "attributions", "reviews"]);
    // The card shows a claim's `stated_on`, which a patch answer (the claim) does not.
    if after.get("stated_on").is_none() {
        unchanged.push("stated_on");
    }
    unchanged.extend(read_only);
    assert_eq!(without(&after, &unchanged), without(&before, &unchanged), "fields the patch did not name changed");
    assert_eq!(after["created_at"], before["created_at"]);
    assert!(time(&after["updated_at"]) > time(&before["updated_at"]), "updated_at moves on");
    let fetched = read_json(app.get(path).await, StatusCode::OK).await;
    let card_only: &[&str] = if after.get("stated_on").is_none() {
        &["attributions", "reviews", "stated_on"]
    } else {
        &["attributions", "reviews"]
    };
    assert_eq!(without(&fetched, card_only), without(&after, card_only));
    after
}

/// The delete contract on an unreferenced resource: `428` without
/// `If-Match`, `412` with a stale one, then `204` without a body, and the
/// resource is gone (`404` on GET and on a second DELETE).
pub async fn delete(app: &TestApp, path: &str) {
    let current = read_json(app.get(path).await, StatusCode::OK).await;
    let version = current["version"].as_i64().unwrap();
    problem(app.request(Method::DELETE, path).send().await.unwrap(), 428).await;
    problem(app.delete(path, version + 1).await, 412).await;
    assert_eq!(read_json(app.get(path).await, StatusCode::OK).await, current, "a refused delete changed it");
    let response = app.delete(path, version).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    problem(app.get(path).await, 404).await;
    problem(app.delete(path, version).await, 404).await;
}

/// A resource that others still refer to: `409`, with a detail naming
/// `referrer`, and it is still there.
pub async fn delete_refused_while_referenced(app: &TestApp, path: &str, referrer: &str) {
    let current = read_json(app.get(path).await, StatusCode::OK).await;
    let version = current["version"].as_i64().unwrap();
    let conflict = problem(app.delete(path, version).await, 409).await;
    let detail = conflict["detail"].as_str().unwrap();
    assert!(detail.contains(referrer), "the 409 does not say that {referrer} refers to it: {detail}");
    assert_eq!(read_json(app.get(path).await, StatusCode::OK).await, current);
}

/// Unknown and malformed ids in the path: `404` problems for every method.
pub async fn unknown_ids(app: &TestApp, collection: &str) {
    let unknown = uuid::Uuid::now_v7();
    for id in [unknown.to_string(), "not-a-uuid".to_string(), "123".to_string(), format!("{unknown}x")] {
        let path = format!("{collection}/{id}");
        problem(app.get(&path).await, 404).await;
        problem(app.patch(&path, 1, &json!({})).await, 404).await;
        problem(app.delete(&path, 1).await, 404).await;
    }
}

/// Methods a path does not answer: `405` with `Allow` listing the ones it does.
pub async fn wrong_methods(app: &TestApp, collection: &str, existing: &str) {
    let item = format!("{collection}/{existing}");
    let cases = [
        (Method::PUT, collection.to_string(), ["GET", "HEAD", "POST"].as_slice()),
        (Method::DELETE, collection.to_string(), ["GET", "HEAD", "POST"].as_slice()),
        (Method::PATCH, collection.to_string(), ["GET", "HEAD", "POST"].as_slice()),
        (Method::PUT, item.clone(), ["DELETE", "GET", "HEAD", "PATCH"].as_slice()),
        (Method::POST, item, ["DELETE", "GET", "HEAD", "PATCH"].as_slice()),
    ];
    for (method, path, allowed) in cases {
        let response = app.request(method.clone(), &path).json(&json!({})).send().await.unwrap();
        let allow = header(&response, "allow");
        let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        methods.sort();
        assert_eq!(methods, allowed, "{method} {path}");
        problem(response, 405).await;
    }
}

/// A client-chosen id is kept; sending it again is a `409`.
pub async fn client_ids(app: &TestApp, collection: &str, mut new: Value) {
    let chosen = uuid::Uuid::new_v4().to_string();
    new["id"] = json!(chosen);
    let created = created(app.post(collection, &new).await, collection).await;
    assert_eq!(id(&created), chosen);
    let conflict = problem(app.post(collection, &new).await, 409).await;
    assert!(conflict["detail"].as_str().unwrap().contains(&chosen), "{conflict}");
    new["id"] = json!("not-a-uuid");
    let invalid = problem(app.post(collection, &new).await, 422).await;
    assert_eq!(error_fields(&invalid), ["id"]);
}
