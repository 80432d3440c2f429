//! HTTP plumbing shared by the resource modules: request bodies that report
//! every bad field, JSON Merge Patch, ETags and preconditions, and pages with
//! keyset cursors and `Link` headers.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::db::write::StoreError;
use crate::error::{ApiError, FieldError};
use crate::validate::Check;

/// A request body type: its required fields and its field rules.
pub trait Body: DeserializeOwned + Sized {
    /// Fields that must be present (named in the 422 when missing).
    const REQUIRED: &'static [&'static str];

    /// Rules beyond the types: lengths, URLs, cross-field constraints.
    fn check(&self, check: &mut Check);
}

/// Reads a JSON object into `T`. When it does not fit, every offending field
/// is listed: each member is tried on its own, because serde stops at the
/// first error.
pub fn parse_body<T: Body>(value: Value) -> Result<T, Vec<FieldError>> {
    let Value::Object(members) = &value else {
        return Err(vec![FieldError::new("", "the body must be a JSON object")]);
    };
    // Read from the value in place: a good body is not copied.
    let first_error = match serde_path_to_error::deserialize::<_, T>(&value) {
        Ok(body) => {
            let mut check = Check::new();
            body.check(&mut check);
            let errors = check.into_errors();
            return if errors.is_empty() { Ok(body) } else { Err(errors) };
        }
        Err(e) => e,
    };
    let mut errors: Vec<FieldError> = T::REQUIRED
        .iter()
        .filter(|field| !members.contains_key(**field))
        .map(|field| FieldError::new(*field, "is required"))
        .collect();
    let mut readable = members.clone();
    for (name, member) in members {
        let alone = Value::Object(Map::from_iter([(name.clone(), member.clone())]));
        if let Err(e) = serde_path_to_error::deserialize::<_, T>(alone) {
            let message = e.inner().to_string();
            if !message.starts_with("missing field") {
                errors.push(field_error(&e, name, message));
                readable.remove(name);
            }
        }
    }
    // The field rules need a whole body: they run on the members that did
    // parse when those make one, so that one 422 still names every field.
    if let Ok(body) = serde_json::from_value::<T>(Value::Object(readable)) {
        let mut check = Check::new();
        body.check(&mut check);
        errors.extend(check.into_errors());
    }
    if errors.is_empty() {
        let message = first_error.inner().to_string();
        errors.push(field_error(&first_error, "", message));
    }
    Err(errors)
}

fn field_error(e: &serde_path_to_error::Error<serde_json::Error>, fallback: &str, message: String) -> FieldError {
    let path = e.path().to_string();
    let field = if path.is_empty() || path == "." { fallback.to_string() } else { path };
    FieldError::new(field, message)
}

/// A request body checked field by field (see [`parse_body`]).
pub struct Valid<T>(pub T);

impl<T: Body + 'static> FromRequest for Valid<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(value) = json.await?;
            Ok(Valid(parse_body::<T>(value).map_err(ApiError::unprocessable)?))
        })
    }
}

/// A JSON Merge Patch (RFC 7396) document: a JSON object.
pub struct MergePatch(pub Value);

impl FromRequest for MergePatch {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(value) = json.await?;
            if !value.is_object() {
                return Err(ApiError::invalid_field("", "a merge patch must be a JSON object").into());
            }
            Ok(MergePatch(value))
        })
    }
}

impl MergePatch {
    /// Applies the patch to the writable fields of the current resource and
    /// checks the result as if it were sent whole. `id` cannot change.
    pub fn apply<T: Body + Serialize>(&self, current: &T, id: &str) -> Result<T, StoreError> {
        if let Some(new_id) = self.0.get("id")
            && new_id.as_str() != Some(id)
        {
            return Err(StoreError::invalid("id", "is read-only"));
        }
        self.check_members::<T>()?;
        let mut document = serde_json::to_value(current).map_err(|e| StoreError::invalid("", e.to_string()))?;
        json_patch::merge(&mut document, &self.0);
        parse_body(document).map_err(StoreError::Invalid)
    }

    /// Refuses members that are not fields of the resource. The merged
    /// document catches most of them, but not `"name": null`: merging it
    /// removes a member that was never there.
    fn check_members<T: Body>(&self) -> Result<(), StoreError> {
        let Value::Object(members) = &self.0 else { return Ok(()) };
        let errors: Vec<FieldError> = members
            .iter()
            .filter_map(|(name, member)| {
                let alone = Value::Object(Map::from_iter([(name.clone(), member.clone())]));
                let message = serde_json::from_value::<T>(alone).err()?.to_string();
                message.starts_with("unknown field").then(|| FieldError::new(name.clone(), message))
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(StoreError::Invalid(errors)) }
    }
}

/// The `X-Change-Comment` header: the author's note on a write, kept with
/// its revision; at most 500 characters, no control characters.
pub fn change_comment(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("x-change-comment") else { return Ok(None) };
    let refuse = |message: &str| {
        ApiError::bad_request(format!("X-Change-Comment {message}."))
            .with_errors(vec![FieldError::new("X-Change-Comment", message)])
    };
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| refuse("must be UTF-8 text"))?.trim();
    if text.chars().count() > 500 || text.chars().any(char::is_control) {
        return Err(refuse("must be at most 500 characters, without control characters"));
    }
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// The strong ETag of a resource version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

fn tag_version(tag: &str) -> Option<i32> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// What an `If-Match` header demands.
#[derive(Debug, Clone)]
pub enum Precondition {
    /// `If-Match: *`: the resource must exist.
    Any,
    /// One of these versions. `If-Match` compares strongly (RFC 9110), so
    /// weak tags (`W/"3"`) are not among them and never match.
    Versions(Vec<i32>),
}

impl Precondition {
    /// `PATCH` and `DELETE` need `If-Match`: 428 without it.
    pub fn required(req: &HttpRequest) -> Result<Precondition, ApiError> {
        let Some(value) = req.headers().get(header::IF_MATCH) else {
            return Err(ApiError::precondition_required());
        };
        let value = value.to_str().map_err(|_| ApiError::bad_request("The If-Match header is not readable."))?;
        if value.trim() == "*" {
            return Ok(Precondition::Any);
        }
        let tags: Vec<&str> = value.split(',').map(str::trim).collect();
        if !tags.iter().all(|tag| tag_version(tag).is_some()) {
            return Err(ApiError::bad_request("If-Match must hold ETags such as \"3\", or *."));
        }
        let strong = tags.iter().filter(|tag| !tag.starts_with("W/")).filter_map(|tag| tag_version(tag)).collect();
        Ok(Precondition::Versions(strong))
    }

    /// Stale (412) unless the current version satisfies the precondition.
    pub fn check(&self, current: i32) -> Result<(), StoreError> {
        match self {
            Precondition::Versions(versions) if !versions.contains(&current) => Err(StoreError::Stale { current }),
            _ => Ok(()),
        }
    }
}

fn none_match(headers: &HeaderMap, version: i32) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*" || v.split(',').any(|t| tag_version(t) == Some(version)))
}

/// A single resource with its ETag; `304 Not Modified` when the client's
/// `If-None-Match` already names this version.
pub fn resource<T: Serialize>(req: &HttpRequest, version: i32, body: &T) -> HttpResponse {
    not_modified(req, version)
        .unwrap_or_else(|| HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(body))
}

/// A resource already written as JSON (a kept claim card): `200` with its
/// `ETag`, or `304` as [`resource`] answers.
pub fn resource_json(req: &HttpRequest, version: i32, body: actix_web::web::Bytes) -> HttpResponse {
    not_modified(req, version).unwrap_or_else(|| {
        HttpResponse::Ok()
            .insert_header((header::ETAG, etag(version)))
            .content_type(actix_web::http::header::ContentType::json())
            .body(body)
    })
}

/// `304 Not Modified` with the ETag, when the client's `If-None-Match`
/// already names this version.
fn not_modified(req: &HttpRequest, version: i32) -> Option<HttpResponse> {
    none_match(req.headers(), version)
        .then(|| HttpResponse::NotModified().insert_header((header::ETAG, etag(version))).finish())
}

/// A resource just created: `201` with `Location` and `ETag`.
pub fn created<T: Serialize>(location: String, version: i32, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// A page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page, in the list's order.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Page size: 1..=200, default 50.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=200) => Ok(n),
        Some(_) => Err(ApiError::bad_parameter("limit", "must be between 1 and 200")),
    }
}

/// Answers a page with a `Link: <…>; rel="next"` header when there is more.
pub fn page<T: Serialize>(req: &HttpRequest, page: Page<T>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = &page.next_cursor {
        let mut query: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
        query.retain(|(name, _)| name != "cursor");
        query.push(("cursor".to_string(), cursor.clone()));
        let query = serde_urlencoded::to_string(&query).unwrap_or_default();
        response.insert_header((header::LINK, format!("<{}?{}>; rel=\"next\"", req.path(), query)));
    }
    response.json(page)
}

/// Query parameters; a bad one is a 400 that names it.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Params<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // An empty cursor (`?cursor=`) asks for the first page, as clients
        // that always send the parameter do.
        let present = form_urlencoded::parse(req.query_string().as_bytes())
            .filter(|(name, value)| !(name == "cursor" && value.is_empty()));
        // PostgreSQL cannot store or compare text holding NUL.
        if let Some((name, _)) = present.clone().find(|(_, value)| value.contains('\0')) {
            return std::future::ready(Err(ApiError::bad_parameter(name, "must not contain NUL characters").into()));
        }
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(present).finish();
        let pairs = form_urlencoded::parse(query.as_bytes());
        let result =
            serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map(Params).map_err(|e| {
                let message = e.inner().to_string();
                let path = e.path().to_string();
                // serde names an unknown parameter only inside its message.
                let unknown = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next());
                let field = match unknown {
                    Some(name) => name.to_string(),
                    None if path != "." => path,
                    None => String::new(),
                };
                let message =
                    if unknown.is_some() { "is not a parameter of this resource".to_string() } else { message };
                ApiError::bad_parameter(field, message).into()
            });
        std::future::ready(result)
    }
}
