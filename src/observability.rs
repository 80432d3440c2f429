//! What an operator sees of the server: the log set-up, and the middleware
//! that gives every request its id and trace context, answers `HEAD` as
//! `GET` without the body, names the server's version, writes one log line
//! per request (numeric duration; 4xx at INFO, 5xx at ERROR with the cause,
//! once) and counts the request in the metrics.

use std::convert::Infallible;
use std::io::IsTerminal;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, web};
use rand::RngCore;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// The version of this build, as `Cargo.toml` gives it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `Server` header of every response: `claimtrail/<version>`.
pub fn server_name() -> String {
    format!("claimtrail/{VERSION}")
}

/// Sets up logging to stderr: `text` for people (colours only on a
/// terminal), `json` for collectors (one object per line). A filter that
/// does not parse falls back to `info`, and says so.
pub fn init_logging(settings: &Settings) {
    let (filter, bad_filter) = match EnvFilter::try_new(&settings.log) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new("info"), Some(error)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Some(error) = bad_filter {
        tracing::warn!(filter = %settings.log, %error, "the log filter does not parse; logging at info");
    }
}

/// The id a request is known by, in its extensions: the client's
/// `X-Request-Id` when valid, else a fresh UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The client's id when it is 1 to 128 visible ASCII characters (no
    /// spaces, no control characters), else a new one: a client may
    /// correlate with its own ids, but cannot put arbitrary text into
    /// headers and log lines.
    pub fn from_header(value: Option<&HeaderValue>) -> RequestId {
        let valid = value
            .map(HeaderValue::as_bytes)
            .filter(|id| (1..=128).contains(&id.len()) && id.iter().all(|b| (0x21..=0x7e).contains(b)));
        match valid {
            Some(id) => RequestId(String::from_utf8_lossy(id).into_owned()),
            None => RequestId(uuid::Uuid::new_v4().to_string()),
        }
    }
}

/// The W3C Trace Context of a request: the caller's trace, or a new one
/// when the request carries no valid `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The caller's span (`parent-id`), when it sent one.
    pub parent_id: Option<String>,
    /// This request's span: 16 lowercase hex digits.
    pub span_id: String,
    /// The caller's `sampled` flag.
    pub sampled: bool,
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

impl TraceContext {
    /// Reads `traceparent` (`version-traceid-parentid-flags`) as the W3C
    /// Trace Context recommendation says: version `ff` and all-zero ids are
    /// invalid; version `00` is exactly four fields; a later version may
    /// add fields after the fourth.
    pub fn parse(value: &str) -> Option<(String, String, bool)> {
        let mut fields = value.trim().split('-');
        let (version, trace_id, parent_id, flags) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        let rest_ok = match version {
            "00" => fields.next().is_none(),
            _ => true,
        };
        let valid = rest_ok
            && is_lower_hex(version, 2)
            && version != "ff"
            && is_lower_hex(trace_id, 32)
            && trace_id.bytes().any(|b| b != b'0')
            && is_lower_hex(parent_id, 16)
            && parent_id.bytes().any(|b| b != b'0')
            && is_lower_hex(flags, 2);
        let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
        valid.then(|| (trace_id.to_string(), parent_id.to_string(), sampled))
    }

    /// The caller's trace when `traceparent` is valid, else a new trace.
    pub fn from_header(value: Option<&HeaderValue>) -> TraceContext {
        let span_id = random_hex(8);
        match value.and_then(|v| v.to_str().ok()).and_then(TraceContext::parse) {
            Some((trace_id, parent_id, sampled)) => {
                TraceContext { trace_id, parent_id: Some(parent_id), span_id, sampled }
            }
            None => TraceContext { trace_id: random_hex(16), parent_id: None, span_id, sampled: false },
        }
    }
}

/// The middleware around every request (see the module's doc).
pub async fn observe<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, EndedStream>>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    // HEAD is GET without the body: the router sees GET, and the HTTP layer,
    // which read the method before this, leaves the body out.
    if method == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let id = RequestId::from_header(req.headers().get("x-request-id"));
    let trace = TraceContext::from_header(req.headers().get("traceparent"));
    let path = req.path().to_string();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %id.0,
        trace_id = %trace.trace_id,
        span_id = %trace.span_id,
        parent_id = trace.parent_id.as_deref().unwrap_or(""),
    );
    req.extensions_mut().insert(id.clone());
    req.extensions_mut().insert(trace);
    let outcome = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let duration_ms = elapsed.as_micros() as f64 / 1000.0;
    let _entered = span.enter();
    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => {
            // Errors that no service turned into a response; actix answers
            // them after this middleware, so they are logged here.
            let status = error.as_response_error().status_code();
            if status.is_server_error() {
                tracing::error!(%method, %path, status = status.as_u16(), duration_ms, error = %error, "request failed");
            } else {
                tracing::info!(%method, %path, status = status.as_u16(), duration_ms, error = %error, "request");
            }
            if let Some(metrics) = &metrics {
                metrics.observe_request(method.as_str(), "unmatched", status.as_u16(), elapsed);
            }
            return Err(error);
        }
    };
    let status = response.status();
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_string());
    let api_error = response.response().error().and_then(|e| e.as_error::<ApiError>()).cloned();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        headers.insert(HeaderName::from_static("x-request-id"), value);
    }
    if let Ok(value) = HeaderValue::from_str(&server_name()) {
        headers.insert(header::SERVER, value);
    }
    let code = status.as_u16();
    match &api_error {
        Some(error) if status.is_server_error() => {
            let cause = error.cause().unwrap_or("");
            tracing::error!(%method, %path, %route, status = code, duration_ms, problem = %error.detail(), cause, "request failed");
        }
        None if status.is_server_error() => {
            tracing::error!(%method, %path, %route, status = code, duration_ms, "request failed");
        }
        Some(error) => {
            tracing::info!(%method, %path, %route, status = code, duration_ms, problem = %error.detail(), "request")
        }
        None => tracing::info!(%method, %path, %route, status = code, duration_ms, "request"),
    }
    if let Some(metrics) = &metrics {
        metrics.observe_request(method.as_str(), &route, code, elapsed);
    }
    // The HTTP layer leaves a HEAD's body out but still drains it, and a
    // stream of events never ends: its head is answered, and the stream
    // dropped, at once.
    if method == Method::HEAD && matches!(response.response().body().size(), BodySize::Stream) {
        return Ok(response.map_body(|_, _| EitherBody::right(EndedStream)));
    }
    Ok(response.map_into_left_body())
}

/// A body of unknown length that has already ended: what a HEAD of a
/// stream sends in its place.
pub struct EndedStream;

impl MessageBody for EndedStream {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Bytes, Infallible>>> {
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_request_id_is_kept_and_anything_else_replaced() {
        let kept = |v: &str| RequestId::from_header(Some(&HeaderValue::from_str(v).unwrap())).0 == v;
        assert!(kept("abc-123"));
        assert!(kept(&"x".repeat(128)));
        assert!(kept("~!@#$%^&*()_+{}|:\"<>?"));
        assert!(!kept(&"x".repeat(129)));
        assert!(!kept("has space"));
        assert!(!kept(""));
        let bytes = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert_ne!(RequestId::from_header(Some(&bytes)).0.as_bytes(), b"caf\xc3\xa9");
        let made = RequestId::from_header(None).0;
        assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
    }

    #[test]
    fn traceparent_is_read_as_w3c_trace_context_says() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            TraceContext::parse(good),
            Some(("4bf92f3577b34da6a3ce929d0e0e4736".to_string(), "00f067aa0ba902b7".to_string(), true))
        );
        let later_version = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-next";
        assert_eq!(TraceContext::parse(later_version).map(|t| t.2), Some(false));
        for bad in [
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
        let fresh = TraceContext::from_header(None);
        assert!(is_lower_hex(&fresh.trace_id, 32) && is_lower_hex(&fresh.span_id, 16));
        let continued = TraceContext::from_header(Some(&HeaderValue::from_static(good)));
        assert_eq!(continued.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(continued.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(continued.span_id, "00f067aa0ba902b7");
    }
}
