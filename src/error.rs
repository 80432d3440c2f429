//! The one error type of the API and the one place that turns it into an
//! RFC 9457 `application/problem+json` response.

use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::failure::Failure;
use crate::db::write::StoreError;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:claimtrail:problem:validation",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "The request body has 1 invalid field.",
    "errors": [{"field": "text", "message": "must be 1 to 5000 characters"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:claimtrail:problem:<slug>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person to read.
    pub detail: String,
    /// Every offending field, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// The field's name; a dotted path for nested fields (`quantity.unit`),
    /// a query parameter's name for query errors.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Every failure a handler can return.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// For a 5xx: what went wrong, for the log line written when the
    /// response is built; never sent.
    cause: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, slug, detail: detail.into(), errors: Vec::new(), headers: Vec::new(), cause: None }
    }

    fn with_header(mut self, name: HeaderName, value: &str) -> ApiError {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// The same problem, told with another `detail`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> ApiError {
        self.detail = detail.into();
        self
    }

    /// The same problem, listing what is wrong in `errors`.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> ApiError {
        self.errors = errors;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// A bad query parameter, named in `errors`.
    pub fn bad_parameter(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let error = FieldError::new(field, message);
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            format!("Query parameter `{}`: {}.", error.field, error.message),
        );
        e.errors.push(error);
        e
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", format!("No {what} with that id."))
    }

    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", format!("Nothing is served at {path}."))
    }

    pub fn method_not_allowed(allowed: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("This resource answers {allowed} only."),
        )
        .with_header(header::ALLOW, allowed)
    }

    /// Invalid fields; the list names every one of them.
    pub fn unprocessable(errors: Vec<FieldError>) -> ApiError {
        let detail = match errors.len() {
            1 => "The request has 1 invalid field.".to_string(),
            n => format!("The request has {n} invalid fields."),
        };
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail);
        e.errors = errors;
        e
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::unprocessable(vec![FieldError::new(field, message)])
    }

    pub fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn precondition_required() -> ApiError {
        ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "This request needs an If-Match header with the resource's current ETag.",
        )
    }

    pub fn precondition_failed(current: i32) -> ApiError {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            format!("The resource has changed: its current version is {current}. Read it again and retry."),
        )
        .with_header(header::ETAG, &format!("\"{current}\""))
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", detail)
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    pub fn not_acceptable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_ACCEPTABLE, "not-acceptable", detail)
    }

    /// The database could not be reached in time; the cause is logged on
    /// the request's log line, not sent.
    pub fn unavailable(cause: impl fmt::Display) -> ApiError {
        let mut e = ApiError::unavailable_for(Duration::from_secs(1), "The database is not available; try again.");
        e.cause = Some(format!("database unavailable: {cause}"));
        e
    }

    /// 503 with `Retry-After` (whole seconds, at least 1), not logged: the
    /// circuit breaker turning requests away while the database is down.
    pub fn unavailable_for(retry_after: Duration, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
            .with_header(header::RETRY_AFTER, &retry_seconds(retry_after).to_string())
    }

    /// A statement ran past the server's deadline and was stopped (503 with
    /// `Retry-After`); nothing it would have written was kept.
    pub fn deadline_exceeded(cause: impl fmt::Display) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "deadline-exceeded",
            "The request's database work ran past the server's time limit and was stopped; \
             nothing was changed. Try again later, or ask for less (a smaller `limit`, no `snippet`).",
        )
        .with_header(header::RETRY_AFTER, "1");
        e.cause = Some(format!("a statement ran past its deadline: {cause}"));
        e
    }

    /// The database has no room left for the write (507); reads go on.
    pub fn insufficient_storage(cause: impl fmt::Display) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient-storage",
            "The database's disk is full: nothing was written. Reads still work; writes will once space is freed.",
        );
        e.cause = Some(format!("the database's disk is full: {cause}"));
        e
    }

    /// 429: the key (or client address) is over its rate or concurrency limit.
    pub fn too_many_requests(retry_after: Duration, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", detail)
            .with_header(header::RETRY_AFTER, &retry_seconds(retry_after).to_string())
    }

    /// A bug or an unexpected failure; the cause is logged on the request's
    /// log line, not sent.
    pub fn internal(cause: impl fmt::Display) -> ApiError {
        let mut e = ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side.");
        e.cause = Some(cause.to_string());
        e
    }

    /// What the response tells the client.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// What went wrong behind a 5xx, for logs; `None` for the client's errors.
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:claimtrail:problem:{}", self.slug),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

/// `Retry-After` takes whole seconds: round up, and never say 0.
fn retry_seconds(after: Duration) -> u64 {
    after.as_millis().div_ceil(1000).max(1) as u64
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)?;
        // Outside a request (the CLI) this is the only place the cause shows.
        match &self.cause {
            Some(cause) => write!(f, " ({cause})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // A 5xx is logged once, with its cause, on the request's log line
        // (`observability::observe`), which finds this error on the response.
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.json(self.problem())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Exists { what, id } => {
                ApiError::conflict(format!("{} {what} with id {id} already exists.", article(what)))
            }
            StoreError::Invalid(errors) => ApiError::unprocessable(errors),
            StoreError::Stale { current } => ApiError::precondition_failed(current),
            StoreError::Referenced { what, by } => ApiError::conflict(format!(
                "This {what} is still referred to by {}; delete or change those first.",
                by.join(", ")
            )),
            StoreError::BadParameter { field, message } => ApiError::bad_parameter(field, message),
            StoreError::Conflict(detail) => ApiError::conflict(detail),
            StoreError::Dangling(errors) => ApiError::conflict(format!(
                "{}; restore or create what it refers to first.",
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
            ))
            .with_errors(errors),
            StoreError::Broken(cause) => ApiError::internal(cause),
            StoreError::Db(error) => error.into(),
        }
    }
}

/// "A" or "An", for a resource's name.
fn article(what: &str) -> &'static str {
    if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "An" } else { "A" }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> ApiError {
        if let Some(failure) = crate::db::failure::classify(&error) {
            return match failure {
                Failure::DiskFull => ApiError::insufficient_storage(error),
                Failure::Deadline => ApiError::deadline_exceeded(error),
                Failure::ConnectionLost => ApiError::unavailable(error),
            };
        }
        match error {
            DieselError::NotFound => ApiError::not_found("resource"),
            // Handlers check references and duplicates first and say which
            // field is wrong; these are the backstop for races between them.
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::conflict("A resource with that id already exists.")
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                ApiError::conflict("The change conflicts with a reference between resources.")
            }
            other => ApiError::internal(other),
        }
    }
}

/// Extractor failures (bad JSON, wrong content type, bad path) answered as problems rather than actix's plain-text defaults.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError};
    use actix_web::{Error, HttpRequest};

    use super::ApiError;

    pub fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> Error {
        match error {
            JsonPayloadError::OverflowKnownLength { limit, .. } | JsonPayloadError::Overflow { limit } => {
                ApiError::payload_too_large(limit)
            }
            JsonPayloadError::ContentType => ApiError::unsupported_media_type(
                "Send the body as application/json (or application/merge-patch+json for PATCH).",
            ),
            JsonPayloadError::Deserialize(e) if e.is_data() => {
                ApiError::bad_request(format!("The body is not valid: {e}"))
            }
            JsonPayloadError::Deserialize(e) => ApiError::bad_request(format!("The body is not valid JSON: {e}")),
            other => ApiError::bad_request(format!("The body could not be read: {other}")),
        }
        .into()
    }

    pub fn path_error(_error: PathError, req: &HttpRequest) -> Error {
        // An id that is not a UUID cannot name anything: not found.
        ApiError::no_route(req.path()).into()
    }
}
