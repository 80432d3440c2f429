//! The OpenAPI document: collected from the handlers by utoipa-actix-web,
//! completed here with what every operation of a kind shares: security, the
//! problem responses (each status with its own example), preconditions,
//! conditional requests, the `Link`, `ETag` and `X-Request-Id` headers, and
//! links from creations to what they created.
//!
//! The tests hold the document to the server: every response they observe
//! must be declared here, status, media type, headers and body schema
//! (`tests/api/spec_truth.rs`).

use serde_json::{Value, json};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "claimtrail",
        description = "Stores individual factual claims, each linked to the sources that state them, \
and answers where a claim comes from: who said it, in which document, quoting whom.\n\n\
Reads are open unless the server requires a key; every write needs `Authorization: Bearer <key>` \
(keys are made with `claimtrail keys create`). Single resources carry `ETag: \"<version>\"`: \
`GET` with `If-None-Match` answers `304` while it is current, and `PATCH` and `DELETE` need \
`If-Match`. Lists are pages with a `next_cursor` and a `Link: <…>; rel=\"next\"` header. \
Errors are RFC 9457 `application/problem+json`.\n\n\
`HEAD` is answered wherever `GET` is, with the same status and headers and no body. Every response \
carries `X-Request-Id`: the client's own when it sent a valid one (1 to 128 visible ASCII \
characters), else one the server made; a W3C `traceparent` header is honoured in the server's \
logs. The server names its version in the `Server` header, in `GET /v1` and in `GET /readyz`.",
        contact(name = "claimtrail maintainers"),
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = "agents", description = "People and organisations that publish or say things"),
        (name = "sources", description = "Documents and statements in which claims appear"),
        (name = "claims", description = "Checkable statements, worded neutrally"),
        (name = "attributions", description = "One source stating (or denying) one claim: the edges of provenance"),
        (name = "reviews", description = "Fact-check verdicts by named reviewers, and their schema.org ClaimReview form, out and in"),
        (name = "provenance", description = "Where a claim comes from, and the claims a source or an agent is behind"),
        (name = "transfer", description = "Moving a whole database: NDJSON export and bulk import (admin keys only)"),
        (name = "revisions", description = "Every change of every resource: who, when, why, what it was; restore; the change feed"),
        (name = "keys", description = "API keys: list, make, revoke (admin)"),
        (name = "operations", description = "Liveness, readiness and the API's version")
    ),
    components(schemas(Problem)),
    modifiers(&Completion)
)]
pub struct ApiDoc;

/// Adds the security scheme; [`complete`] does the rest once the handlers'
/// operations are in.
struct Completion;

impl Modify for Completion {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "An API key, `ct_<id>_<secret>`, made with `claimtrail keys create --scope read|write|admin`. \
             Reads need none unless the server requires keys for reads; writes need `write`; \
             export and import need `admin`."
                .to_string(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.headers.insert(
            REQUEST_ID.to_string(),
            text_header(
                "The request's id, for quoting in a support request and finding its log lines: \
                 the client's `X-Request-Id` when it was valid, else one the server made.",
            ),
        );
        components.headers.insert(
            RATE_LIMIT.to_string(),
            text_header(
                "While per-client limits are on: what is left of this client's quota, e.g. \
                 `\"per-client\";r=2999;t=1` (`r` requests left, `t` seconds until the whole quota is back).",
            ),
        );
        components.headers.insert(
            RATE_LIMIT_POLICY.to_string(),
            text_header(
                "While per-client limits are on: the quota, e.g. `\"per-client\";q=3000;w=60` \
                 (`q` requests per `w` seconds).",
            ),
        );
        components.headers.insert(RETRY_AFTER.to_string(), text_header("Seconds to wait before trying again."));
    }
}

/// A text header of a response.
fn text_header(description: &str) -> RefOr<Header> {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
        .into()
}

/// The header every response carries, declared once in the components.
const REQUEST_ID: &str = "X-Request-Id";

/// The rate limit fields of the IETF draft, on every response of a limited
/// operation while limits are on (`src/limits.rs`).
const RATE_LIMIT: &str = "RateLimit";
const RATE_LIMIT_POLICY: &str = "RateLimit-Policy";

/// Seconds to wait before retrying, on 429 and on 503.
const RETRY_AFTER: &str = "Retry-After";

fn header_ref(name: &str) -> RefOr<Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

/// Paths the per-client limits leave alone (`limits::is_exempt`): probes.
fn is_limited(path: &str) -> bool {
    !matches!(path, "/healthz" | "/readyz")
}

/// What a problem of each status says, as an example for clients and for
/// Swagger UI: the same `type`, `title` and wording the server sends.
/// `what` names the resource of the path (`claim`, `source`, `import`, ...).
fn problem_example(status: u16, method: &HttpMethod, what: &str) -> Value {
    let deleting = matches!(method, HttpMethod::Delete);
    let (slug, detail) = match status {
        400 => ("invalid-parameter", "Query parameter `limit`: must be between 1 and 200.".to_string()),
        401 => ("unauthorized", "This request needs `Authorization: Bearer <key>`.".to_string()),
        403 => {
            let needed = if what == "export" || what == "import" { "admin" } else { "write" };
            ("forbidden", format!("This key has scope `read`; this request needs `{needed}`."))
        }
        404 => ("not-found", format!("No {what} with that id.")),
        406 => (
            "not-acceptable",
            "The provenance graph is available as application/json, application/prov+json, text/vnd.graphviz, \
             image/svg+xml; or choose with the `format` parameter."
                .to_string(),
        ),
        409 if deleting => (
            "conflict",
            format!("This {what} is still referred to by 2 attributions (claim_id); delete or change those first."),
        ),
        409 if what == "import" => {
            ("conflict", "1 records have ids that already exist; nothing was imported.".to_string())
        }
        409 => ("conflict", format!("A {what} with id 8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338 already exists.")),
        412 => (
            "precondition-failed",
            "The resource has changed: its current version is 3. Read it again and retry.".to_string(),
        ),
        413 => ("payload-too-large", "The request body is larger than the limit of 2097152 bytes.".to_string()),
        415 if what == "import" => (
            "unsupported-media-type",
            "Send the records as application/x-ndjson: one JSON object per line.".to_string(),
        ),
        415 => (
            "unsupported-media-type",
            "Send the body as application/json (or application/merge-patch+json for PATCH).".to_string(),
        ),
        422 if what == "import" => ("validation", "1 problems in the file; nothing was imported.".to_string()),
        422 => ("validation", "The request has 2 invalid fields.".to_string()),
        429 => (
            "too-many-requests",
            "Over the limit of 3000 requests per 60 s for this client; retry after the time in Retry-After."
                .to_string(),
        ),
        507 => (
            "insufficient-storage",
            "The database's disk is full: nothing was written. Reads still work; writes will once space is freed."
                .to_string(),
        ),
        428 => (
            "precondition-required",
            "This request needs an If-Match header with the resource's current ETag.".to_string(),
        ),
        503 => ("unavailable", "The database is not available; try again.".to_string()),
        _ => ("internal", "Something went wrong on our side.".to_string()),
    };
    let title =
        actix_web::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    let mut example = json!({
        "type": format!("urn:claimtrail:problem:{slug}"),
        "title": title,
        "status": status,
        "detail": detail,
    });
    let errors = match (status, what) {
        (400, _) => json!([{"field": "limit", "message": "must be between 1 and 200"}]),
        (409, "import") => json!([{"field": "line 2", "message": "id: agent with id \
            dadc5658-6eb7-549b-892b-ebf148ec0882 already exists (in the database, or earlier in this file)"}]),
        (422, "import") => json!([{"field": "line 3", "message": "name: must be 1 to 300 characters"}]),
        (422, _) => json!([
            {"field": "text", "message": "must be 1 to 5000 characters"},
            {"field": "period_end", "message": "must not be before period_start"}
        ]),
        _ => Value::Null,
    };
    if !errors.is_null() {
        example["errors"] = errors;
    }
    example
}

fn problem(status: u16, description: &str, method: &HttpMethod, what: &str) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .example(Some(problem_example(status, method, what)))
                .build(),
        )
        .build();
    match status {
        401 => {
            response.headers.insert("WWW-Authenticate".to_string(), text_header("`Bearer`: send an API key."));
        }
        412 => {
            response.headers.insert("ETag".to_string(), text_header("The resource's current version."));
        }
        429 | 503 => {
            response.headers.insert(RETRY_AFTER.to_string(), header_ref(RETRY_AFTER));
        }
        _ => {}
    }
    response
}

/// The resource a path is about, for examples: `/v1/claims/{id}` is a claim.
fn resource_of(path: &str) -> &'static str {
    let segment = path.trim_start_matches("/v1/").split('/').next().unwrap_or("");
    match segment {
        "agents" if path.ends_with("/claims") => "agent",
        "sources" if path.ends_with("/claims") => "source",
        "agents" => "agent",
        "sources" => "source",
        "claims" => "claim",
        "attributions" => "attribution",
        "export" => "export",
        "import" => "import",
        _ => "resource",
    }
}

/// Who may call an operation: reads are open by default (no key, or a
/// bearer key) unless the handler declared otherwise; writes need a key;
/// the probes and the root document are open always.
fn set_security(path: &str, method: &HttpMethod, operation: &mut Operation) {
    if operation.security.is_some() {
        return;
    }
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    operation.security = Some(match method {
        _ if !path.starts_with("/v1/") => Vec::new(),
        HttpMethod::Get => vec![SecurityRequirement::default(), bearer],
        _ => vec![bearer],
    });
}

/// True when the operation can be called without a key.
fn is_open(operation: &Operation) -> bool {
    operation.security.as_ref().is_none_or(|alternatives| {
        alternatives.is_empty() || alternatives.iter().any(|s| s == &SecurityRequirement::default())
    })
}

fn add_problems(path: &str, method: &HttpMethod, operation: &mut Operation) {
    let has_id = path.contains('{');
    let is_v1 = path.starts_with("/v1/");
    let what = resource_of(path);
    let needs_key = !is_open(operation);
    let mut add = |status: u16, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem(status, description, method, what).into());
    };
    // A 400 needs something to be malformed: query parameters, a body, or
    // the `If-Match` header of PATCH and DELETE.
    let takes_query = operation
        .parameters
        .as_ref()
        .is_some_and(|p| p.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query)));
    let takes_input = takes_query || operation.request_body.is_some() || matches!(method, HttpMethod::Delete);
    if is_v1 && takes_input {
        add(400, "Malformed request: bad JSON, an unknown or invalid query parameter, a bad cursor or header");
    }
    if is_v1 {
        add(401, "No valid API key (writes always need one; reads when the server requires it)");
    }
    if needs_key && is_v1 {
        add(403, "The key's scope is too low");
    }
    if is_limited(path) {
        add(429, "Over this client's rate limit, or too many of its requests at once (when limits are on)");
    }
    if matches!(method, HttpMethod::Post | HttpMethod::Patch | HttpMethod::Delete) {
        add(507, "The database's disk is full: nothing was written");
    }
    match method {
        HttpMethod::Get if is_v1 && has_id => add(404, "No such resource"),
        HttpMethod::Post if path.ends_with("/restore") => {
            add(400, "A malformed If-Match, X-Change-Comment or Idempotency-Key header");
            add(404, "No such resource or revision");
            add(409, "The revision refers to something since deleted, named in `errors`");
            add(412, "If-Match names another version");
            add(422, "The revision is the deletion, or its fields no longer pass the rules");
            add(428, "If-Match is missing");
        }
        HttpMethod::Post => {
            add(409, "A resource with that id already exists");
            add(413, "The body is too large");
            add(415, "The body is not of the media type this operation takes");
            add(422, "Invalid fields, all listed in `errors`");
        }
        HttpMethod::Patch => {
            add(404, "No such resource");
            add(412, "If-Match names an older version");
            add(413, "The body is too large");
            add(415, "The body is not JSON");
            add(422, "Invalid fields, all listed in `errors`");
            add(428, "If-Match is missing");
        }
        // Keys have no versions: revoking one needs no If-Match.
        HttpMethod::Delete if path == KEY_PATH => add(404, "No such key"),
        HttpMethod::Delete => {
            add(404, "No such resource");
            add(409, "Other resources still refer to it");
            add(412, "If-Match names an older version");
            add(428, "If-Match is missing");
        }
        _ => {}
    }
    add(500, "An unexpected failure on the server");
    add(503, "The database is not reachable, or the request's database work ran past its deadline");
}

/// The one versionless resource that can be deleted.
const KEY_PATH: &str = "/v1/keys/{id}";

/// The `If-Match` header that `PATCH` and `DELETE` need.
fn if_match() -> Parameter {
    ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some("The resource's current ETag, e.g. `\"3\"` (or `*` for any version)."))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r#"^(\*|(W/)?"[1-9][0-9]{0,8}")$"#))))
        .build()
}

fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A key of your choosing (1 to 255 visible ASCII characters) that makes a retry safe: the same \
             request again with the same key, within 24 hours, gets the first answer again (with \
             `Idempotent-Replayed: true`) instead of doing it twice. Another request with the key is a 422; \
             the same one while the first is still being answered, a 409. Keys are per API key.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
        ))
        .build()
}

fn change_comment() -> Parameter {
    ParameterBuilder::new()
        .name("X-Change-Comment")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Why the change is made; kept with its revision. At most 500 characters, none of them control \
             characters.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(500))
                .pattern(Some("^[^\\u0000-\\u001f\\u007f-\\u009f]*$")),
        ))
        .build()
}

/// The `If-None-Match` header a `GET` of a versioned resource honours.
fn if_none_match() -> Parameter {
    ParameterBuilder::new()
        .name("If-None-Match")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "ETags the client holds, e.g. `\"3\"` or `\"2\", \"3\"` (or `*`): `304 Not Modified` when one \
             names the current version.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// Conditional reads: a `GET` whose `200` carries an `ETag` takes
/// `If-None-Match` and may answer `304` without a body.
fn add_conditional_get(operation: &mut Operation) {
    let versioned = matches!(
        operation.responses.responses.get("200"),
        Some(RefOr::T(ok)) if ok.headers.contains_key("ETag")
    );
    if !versioned {
        return;
    }
    operation.parameters.get_or_insert_with(Vec::new).push(if_none_match().into());
    let mut not_modified =
        ResponseBuilder::new().description("Not modified: `If-None-Match` names the current version").build();
    not_modified.headers.insert("ETag".to_string(), text_header("The current version."));
    operation.responses.responses.insert("304".to_string(), not_modified.into());
}

/// Lists answer pages; the `Link` header points to the next one.
fn add_page_link(operation: &mut Operation) {
    let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") else { return };
    let is_page = ok.content.get("application/json").and_then(|c| match c {
        RefOr::T(content) => content.schema.as_ref(),
        RefOr::Ref(_) => None,
    });
    let is_page = is_page.is_some_and(
        |schema| matches!(schema, RefOr::Ref(r) if r.ref_location.starts_with("#/components/schemas/Page_")),
    );
    if is_page {
        ok.headers.insert(
            "Link".to_string(),
            text_header("`<…>; rel=\"next\"`: the next page, with the same parameters, when there is one"),
        );
    }
}

/// Every response names its request; those of limited operations carry
/// the rate limit fields while limits are on.
fn add_common_headers(path: &str, operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.headers.insert(REQUEST_ID.to_string(), header_ref(REQUEST_ID));
            if is_limited(path) {
                response.headers.insert(RATE_LIMIT.to_string(), header_ref(RATE_LIMIT));
                response.headers.insert(RATE_LIMIT_POLICY.to_string(), header_ref(RATE_LIMIT_POLICY));
            }
        }
    }
}

/// A POST sent again with its `Idempotency-Key` gets the first answer
/// again, marked as a replay.
fn add_replayed_header(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.headers.insert(
                "Idempotent-Replayed".to_string(),
                text_header(
                    "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`",
                ),
            );
        }
    }
}

/// utoipa inlines the item schema into each `Page_<Item>`; point it at the
/// item's own component instead, so that clients get one type per item.
fn reference_page_items(openapi: &mut OpenApiDoc) {
    let Some(components) = openapi.components.as_mut() else { return };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("Page_") else { continue };
        if !components.schemas.contains_key(item) {
            continue;
        }
        let item_ref = Ref::from_schema_name(item);
        let Some(RefOr::T(utoipa::openapi::schema::Schema::Object(page))) = components.schemas.get_mut(&name) else {
            continue;
        };
        if let Some(RefOr::T(utoipa::openapi::schema::Schema::Array(items))) = page.properties.get_mut("items") {
            items.items = utoipa::openapi::schema::ArrayItems::RefOrSchema(Box::new(item_ref.into()));
        }
    }
}

/// Links from each create operation to the operations on what it created,
/// so clients (and stateful API testers) can follow `id` and `ETag`.
fn add_links(openapi: &mut OpenApiDoc) {
    let item_operations: Vec<(String, Vec<(&'static str, String)>)> = openapi
        .paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let collection = path.strip_suffix("/{id}")?;
            let mut ops = Vec::new();
            for (kind, op) in [("get", &item.get), ("update", &item.patch), ("delete", &item.delete)] {
                if let Some(id) = op.as_ref().and_then(|o| o.operation_id.clone()) {
                    ops.push((kind, id));
                }
            }
            Some((collection.to_string(), ops))
        })
        .collect();
    for (collection, ops) in item_operations {
        let Some(created) = openapi
            .paths
            .paths
            .get_mut(&collection)
            .and_then(|item| item.post.as_mut())
            .and_then(|post| post.responses.responses.get_mut("201"))
        else {
            continue;
        };
        let RefOr::T(response) = created else { continue };
        for (kind, operation_id) in ops {
            let mut link = LinkBuilder::new().operation_id(&operation_id).parameter("id", "$response.body#/id");
            if kind != "get" && collection != "/v1/keys" {
                link = link.parameter("header.If-Match", "$response.header.ETag");
            }
            response.links.insert(operation_id, link.build().into());
        }
    }
}

/// The document with every operation's security, problem responses,
/// preconditions, headers and links filled in.
pub fn complete(mut openapi: OpenApiDoc) -> OpenApiDoc {
    add_links(&mut openapi);
    reference_page_items(&mut openapi);
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            set_security(path, &method, operation);
            add_problems(path, &method, operation);
            let parameters = operation.parameters.get_or_insert_with(Vec::new);
            if method == HttpMethod::Post {
                parameters.push(idempotency_key().into());
            }
            if !matches!(method, HttpMethod::Get) && path.starts_with("/v1/") {
                parameters.push(change_comment().into());
            }
            match method {
                HttpMethod::Delete if path == KEY_PATH => {}
                HttpMethod::Patch | HttpMethod::Delete => {
                    operation.parameters.get_or_insert_with(Vec::new).push(if_match().into());
                }
                HttpMethod::Post if path.ends_with("/restore") => {
                    operation.parameters.get_or_insert_with(Vec::new).push(if_match().into());
                }
                HttpMethod::Get => {
                    add_conditional_get(operation);
                    add_page_link(operation);
                }
                _ => {}
            }
            add_common_headers(path, operation);
            if method == HttpMethod::Post {
                add_replayed_header(operation);
            }
        }
    }
    openapi
}

/// The methods each documented path answers (`HEAD` wherever `GET` is), used
/// to tell 405 from 404 and to fill `Allow`.
pub fn allowed_methods(openapi: &OpenApiDoc) -> Vec<(actix_web::dev::ResourceDef, String)> {
    openapi
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let mut methods = Vec::new();
            for (name, present) in [
                ("GET", item.get.is_some()),
                ("HEAD", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ] {
                if present {
                    methods.push(name);
                }
            }
            (actix_web::dev::ResourceDef::new(path.as_str()), methods.join(", "))
        })
        .collect()
}
