//! The OpenAPI document: collected from the handlers by utoipa-actix-web,
//! completed here with the API's description, security and the problem
//! responses every operation can give.

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
(keys are made with `claimtrail keys create`). Single resources carry `ETag: \"<version>\"`; \
`PATCH` and `DELETE` need `If-Match`. Errors are RFC 9457 `application/problem+json`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "agents", description = "People and organisations that publish or say things"),
        (name = "sources", description = "Documents and statements in which claims appear"),
        (name = "claims", description = "Checkable statements, worded neutrally"),
        (name = "attributions", description = "One source stating (or denying) one claim: the edges of provenance"),
        (name = "reviews", description = "Fact-check verdicts by named reviewers, and their schema.org ClaimReview form, out and in"),
        (name = "provenance", description = "Where a claim comes from, and the claims a source or an agent is behind"),
        (name = "transfer", description = "Moving a whole database: NDJSON export and bulk import"),
        (name = "revisions", description = "Every change of every resource: who, when, why, what it was; restore; the change feed"),
        (name = "keys", description = "API keys: list, make, revoke (admin)"),
        (name = "operations", description = "Liveness and readiness")
    ),
    components(schemas(Problem)),
    modifiers(&Completion)
)]
pub struct ApiDoc;

/// Adds the security scheme and, per operation, the problem responses its
/// method can give, so that handlers only declare their successes.
struct Completion;

impl Modify for Completion {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
}

fn add_problems(path: &str, method: &HttpMethod, operation: &mut Operation) {
    let has_id = path.contains('{');
    let is_v1 = path.starts_with("/v1/");
    let mut add = |status: &str, description: &str| {
        operation.responses.responses.entry(status.to_string()).or_insert_with(|| problem(description).into());
    };
    if is_v1 {
        add("400", "Malformed request: bad JSON, an unknown or invalid query parameter, a bad cursor");
        add("401", "No valid API key (writes always need one; reads when the server requires it)");
    }
    match method {
        HttpMethod::Get if is_v1 && has_id => add("404", "No such resource"),
        HttpMethod::Post => {
            add("403", "The key's scope is too low");
            add("409", "A resource with that id already exists");
            add("413", "The body is too large");
            add("415", "The body is not JSON");
            add("422", "Invalid fields, all listed in `errors`");
        }
        HttpMethod::Patch => {
            add("403", "The key's scope is too low");
            add("404", "No such resource");
            add("412", "If-Match names an older version");
            add("413", "The body is too large");
            add("415", "The body is not JSON");
            add("422", "Invalid fields, all listed in `errors`");
            add("428", "If-Match is missing");
        }
        HttpMethod::Delete => {
            add("403", "The key's scope is too low");
            add("404", "No such resource");
            add("409", "Other resources still refer to it");
            add("412", "If-Match names an older version");
            add("428", "If-Match is missing");
        }
        _ => {}
    }
    add("500", "An unexpected failure on the server");
    add("503", "The database is not available");
    if is_v1 {
        let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
        let security = match method {
            // Reads are open by default: no key, or a bearer key.
            HttpMethod::Get => vec![SecurityRequirement::default(), bearer],
            _ => vec![bearer],
        };
        operation.security = Some(security);
    }
}

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
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255))))
        .build()
}

fn change_comment() -> Parameter {
    ParameterBuilder::new()
        .name("X-Change-Comment")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some("Why the change is made; kept with its revision. At most 500 characters."))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(500))))
        .build()
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
            if kind != "get" {
                link = link.parameter("header.If-Match", "$response.header.ETag");
            }
            response.links.insert(operation_id, link.build().into());
        }
    }
}

/// The document with every operation's problem responses, preconditions
/// and links filled in.
pub fn complete(mut openapi: OpenApiDoc) -> OpenApiDoc {
    add_links(&mut openapi);
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                add_problems(path, &method, operation);
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                if matches!(method, HttpMethod::Patch | HttpMethod::Delete) || path.ends_with("/restore") {
                    parameters.push(if_match().into());
                }
                if method == HttpMethod::Post {
                    parameters.push(idempotency_key().into());
                }
                if !matches!(method, HttpMethod::Get) && path.starts_with("/v1/") {
                    parameters.push(change_comment().into());
                }
            }
        }
    }
    openapi
}

/// The methods each documented path answers, used to tell 405 from 404.
pub fn allowed_methods(openapi: &OpenApiDoc) -> Vec<(actix_web::dev::ResourceDef, String)> {
    openapi
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let mut methods = Vec::new();
            for (name, present) in [
                ("GET", item.get.is_some()),
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
