//! Headers on every response, as defence in depth (escaping is what keeps
//! the data inert; these make a slip in it harmless):
//!
//! - `X-Content-Type-Options: nosniff`, so that a browser never reads a
//!   body as another type than the one declared.
//! - `Content-Security-Policy`: the provenance picture (`image/svg+xml`)
//!   may use its inline styles and nothing else; Swagger UI under `/docs/`
//!   may load its own scripts, styles and images and fetch the document;
//!   everything else (JSON, NDJSON, DOT) may load nothing and be framed by
//!   nobody.
//! - `Cache-Control`, unless the handler set one: single resources and
//!   lists `no-cache` (a cache may keep them, but asks every time: a card is
//!   revalidated with its ETag, `304` when unchanged); errors, writes, the
//!   export and the probes `no-store`; Swagger UI's files an hour.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

/// The provenance picture: its `<style>` and nothing else.
pub const SVG_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Swagger UI: its own files, the images its stylesheet inlines as `data:`
/// URLs, and requests to this server (the document, and "Try it out").
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Everything else is data: nothing to load, no framing.
pub const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The middleware; outside every other one but logging, so that it sees
/// every response, errors and CORS answers included.
/// (Handlers' and extractors' errors reach it as responses. It keeps no
/// clone of the request across `next`: routing needs the request alone.)
pub async fn add(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (method, path) = (req.method().clone(), req.path().to_string());
    let mut response = next.call(req).await?.map_into_boxed_body();
    let status = response.status();
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let policy = policy(&path, headers);
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control(&method, &path, status)));
    }
    Ok(response)
}

fn policy(path: &str, headers: &HeaderMap) -> &'static str {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("image/svg+xml") {
        SVG_POLICY
    } else if path == "/docs" || path.starts_with("/docs/") {
        DOCS_POLICY
    } else {
        DATA_POLICY
    }
}

fn cache_control(method: &Method, path: &str, status: StatusCode) -> &'static str {
    let is_read = method == Method::GET || method == Method::HEAD;
    let succeeded = status.is_success() || status == StatusCode::NOT_MODIFIED;
    if !is_read || !succeeded || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/v1/export") {
        "no-store"
    } else if path.starts_with("/docs/") {
        "public, max-age=3600"
    } else {
        "no-cache"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_revalidate_and_everything_else_is_not_stored() {
        assert_eq!(cache_control(&Method::GET, "/v1/claims/x", StatusCode::OK), "no-cache");
        assert_eq!(cache_control(&Method::GET, "/v1/claims/x", StatusCode::NOT_MODIFIED), "no-cache");
        assert_eq!(cache_control(&Method::GET, "/v1/claims/x", StatusCode::NOT_FOUND), "no-store");
        assert_eq!(cache_control(&Method::POST, "/v1/claims", StatusCode::CREATED), "no-store");
        assert_eq!(cache_control(&Method::GET, "/v1/export", StatusCode::OK), "no-store");
        assert_eq!(cache_control(&Method::GET, "/readyz", StatusCode::OK), "no-store");
        assert_eq!(cache_control(&Method::GET, "/docs/swagger-ui.css", StatusCode::OK), "public, max-age=3600");
    }
}
