//! Per-client limits: a rate limit (GCRA, from the `governor` crate) and a
//! limit on requests in flight at once, each counted per API key, or per
//! client address for requests without a valid key. Over either limit the
//! answer is `429` problem+json with `Retry-After`. Responses under a rate
//! limit carry the IETF draft's `RateLimit-Policy` and `RateLimit` fields
//! (draft-ietf-httpapi-ratelimit-headers, -08 onwards):
//!
//! ```text
//! RateLimit-Policy: "per-client";q=3000;w=60
//! RateLimit: "per-client";r=2999;t=1
//! ```
//!
//! `q` requests per `w` seconds, `r` left now, `t` seconds until all `q`
//! are available again (on a 429: until the next request is allowed).
//! The client's address is the TCP peer's: behind a proxy every anonymous
//! client shares the proxy's (give clients keys, or limit at the proxy).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// A limit setting: `auto` (off when the server listens on a loopback
/// address only, else a default), `off`, or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit<T> {
    Auto,
    Off,
    Set(T),
}

impl<T> Limit<T> {
    /// The limit in force for a server bound to `bind`.
    pub fn resolve(self, bind: &str, default: T) -> Option<T> {
        match self {
            Limit::Off => None,
            Limit::Set(value) => Some(value),
            Limit::Auto if is_loopback(bind) => None,
            Limit::Auto => Some(default),
        }
    }
}

impl<T: FromStr> FromStr for Limit<T>
where
    T::Err: fmt::Display,
{
    type Err = String;

    fn from_str(value: &str) -> Result<Limit<T>, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Limit::Auto),
            "off" | "0" | "none" => Ok(Limit::Off),
            other => other.parse().map(Limit::Set).map_err(|e| format!("{e}; or `auto`, or `off`")),
        }
    }
}

/// `requests` per `window`, e.g. `3000/1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub window: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(value: &str) -> Result<Rate, String> {
        let wrong = || format!("`{value}` is not a rate such as 3000/1m or 20/1s");
        let (requests, window) = value.split_once('/').ok_or_else(wrong)?;
        let requests: u32 = requests.trim().parse().map_err(|_| wrong())?;
        let window = humantime::parse_duration(window.trim()).map_err(|_| wrong())?;
        if requests == 0 || window.as_secs() == 0 || window.subsec_nanos() != 0 {
            return Err(format!("{}: at least 1 request per a whole number of seconds", wrong()));
        }
        Ok(Rate { requests, window })
    }
}

/// The default rate of a server that listens beyond loopback.
pub const DEFAULT_RATE: Rate = Rate { requests: 3000, window: Duration::from_secs(60) };
/// The default concurrency of a server that listens beyond loopback.
pub const DEFAULT_CONCURRENCY: u32 = 16;

fn is_loopback(bind: &str) -> bool {
    let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

type Limiter = DefaultKeyedRateLimiter<String, StateInformationMiddleware>;

/// The limits of one server, shared by its workers.
pub struct Limits {
    rate: Option<(Rate, Limiter)>,
    concurrency: Option<(u32, Mutex<HashMap<String, u32>>)>,
    policy: Option<HeaderValue>,
    checks: AtomicU64,
}

/// How often (in requests) the rate limiter forgets clients it has not
/// seen for a full window, so that its memory stays bounded.
const FORGET_EVERY: u64 = 4096;

impl Limits {
    pub fn new(rate: Option<Rate>, concurrency: Option<u32>) -> Limits {
        let rate = rate.and_then(|rate| {
            let burst = NonZeroU32::new(rate.requests)?;
            let quota = Quota::with_period(rate.window / rate.requests)?.allow_burst(burst);
            Some((rate, RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()))
        });
        let policy = rate.as_ref().and_then(|(rate, _)| {
            HeaderValue::from_str(&format!("\"per-client\";q={};w={}", rate.requests, rate.window.as_secs())).ok()
        });
        Limits {
            rate,
            concurrency: concurrency.filter(|n| *n > 0).map(|n| (n, Mutex::new(HashMap::new()))),
            policy,
            checks: AtomicU64::new(0),
        }
    }

    /// The limits the settings put in force, logged once.
    pub fn from_settings(settings: &crate::config::Settings) -> Limits {
        let rate = settings.rate_limit.resolve(&settings.bind, DEFAULT_RATE);
        let concurrency = settings.concurrency_limit.resolve(&settings.bind, DEFAULT_CONCURRENCY);
        tracing::info!(
            rate = %rate.map_or("off".to_string(), |r| format!("{}/{}s", r.requests, r.window.as_secs())),
            concurrency = %concurrency.map_or("off".to_string(), |n| n.to_string()),
            "per-client limits"
        );
        Limits::new(rate, concurrency)
    }

    pub fn is_off(&self) -> bool {
        self.rate.is_none() && self.concurrency.is_none()
    }

    /// Counts one request of `client` against the rate: the `RateLimit`
    /// field's value, or the 429 with it.
    fn check_rate(&self, client: &str) -> Result<Option<HeaderValue>, Box<(ApiError, HeaderValue)>> {
        let Some((rate, limiter)) = &self.rate else { return Ok(None) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let per_request = rate.window / rate.requests;
        match limiter.check_key(&client.to_string()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let refill = per_request * (rate.requests - remaining.min(rate.requests));
                Ok(Some(rate_field(remaining, refill)))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let error = ApiError::too_many_requests(
                    wait,
                    format!(
                        "Over the limit of {} requests per {} s for this client; retry after the time in Retry-After.",
                        rate.requests,
                        rate.window.as_secs()
                    ),
                );
                Err(Box::new((error, rate_field(0, wait))))
            }
        }
    }

    /// Takes one of `client`'s places in flight, given back when the
    /// returned guard drops; the 429 when all are taken.
    fn enter(self: &Arc<Self>, client: &str) -> Result<Option<InFlight>, ApiError> {
        let Some((max, in_flight)) = &self.concurrency else { return Ok(None) };
        let mut in_flight = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let count = in_flight.entry(client.to_string()).or_insert(0);
        if *count >= *max {
            return Err(ApiError::too_many_requests(
                Duration::from_secs(1),
                format!("This client already has {max} requests in progress, the most it may; retry when one ends."),
            ));
        }
        *count += 1;
        Ok(Some(InFlight { limits: self.clone(), client: client.to_string() }))
    }

    fn leave(&self, client: &str) {
        if let Some((_, in_flight)) = &self.concurrency {
            let mut in_flight = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = in_flight.get_mut(client) {
                *count -= 1;
                if *count == 0 {
                    in_flight.remove(client);
                }
            }
        }
    }
}

/// One request in flight; leaving drops it.
struct InFlight {
    limits: Arc<Limits>,
    client: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.limits.leave(&self.client);
    }
}

fn rate_field(remaining: u32, reset: Duration) -> HeaderValue {
    let seconds = reset.as_millis().div_ceil(1000);
    HeaderValue::from_str(&format!("\"per-client\";r={remaining};t={seconds}"))
        .unwrap_or_else(|_| HeaderValue::from_static("\"per-client\";r=0;t=1"))
}

/// Probes are for load balancers and monitoring: never limited.
fn is_exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Who a request counts against: its verified key, else its peer address.
fn client(req: &ServiceRequest) -> String {
    match crate::auth::verified_key_id(req) {
        Some(key) => format!("key:{key}"),
        None => format!("ip:{}", req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()),
    }
}

/// The middleware. It runs after [`crate::auth::authenticate`], which
/// tells it whose key a request carries.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limits = req.app_data::<web::Data<Limits>>().map(|l| l.clone().into_inner());
    let Some(limits) = limits.filter(|l| !l.is_off() && !is_exempt(req.path())) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let client = client(&req);
    let refuse = |req: ServiceRequest, error: ApiError, field: Option<HeaderValue>| {
        let mut response = req.into_response(error.error_response()).map_into_right_body();
        add_fields(response.headers_mut(), limits.policy.clone(), field);
        Ok(response)
    };
    let field = match limits.check_rate(&client) {
        Ok(field) => field,
        Err(refused) => {
            let (error, field) = *refused;
            return refuse(req, error, Some(field));
        }
    };
    let _in_flight = match limits.enter(&client) {
        Ok(guard) => guard,
        Err(error) => return refuse(req, error, field),
    };
    let mut response = next.call(req).await?.map_into_left_body();
    add_fields(response.headers_mut(), limits.policy.clone(), field);
    Ok(response)
}

fn add_fields(
    headers: &mut actix_web::http::header::HeaderMap,
    policy: Option<HeaderValue>,
    field: Option<HeaderValue>,
) {
    if let Some(policy) = policy {
        headers.insert(HeaderName::from_static("ratelimit-policy"), policy);
    }
    if let Some(field) = field {
        headers.insert(HeaderName::from_static("ratelimit"), field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_requests_per_window() {
        assert_eq!("20/1s".parse(), Ok(Rate { requests: 20, window: Duration::from_secs(1) }));
        assert_eq!("3000/1m".parse(), Ok(Rate { requests: 3000, window: Duration::from_secs(60) }));
        for bad in ["", "20", "0/1s", "20/0s", "20/500ms", "x/1s", "20/soon"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_is_off_on_loopback_only() {
        for bind in ["127.0.0.1:8080", "localhost:80", "[::1]:8080", "127.0.0.2:1"] {
            assert_eq!(Limit::Auto.resolve(bind, 7), None, "{bind}");
        }
        for bind in ["0.0.0.0:8080", "[::]:8080", "10.1.2.3:80", "example.org:80"] {
            assert_eq!(Limit::Auto.resolve(bind, 7), Some(7), "{bind}");
        }
        assert_eq!(Limit::Set(3).resolve("127.0.0.1:1", 7), Some(3));
        assert_eq!(Limit::<u32>::Off.resolve("0.0.0.0:1", 7), None);
    }

    #[test]
    fn the_rate_limit_counts_down_then_refuses_with_the_wait() {
        let limits = Limits::new(Some(Rate { requests: 2, window: Duration::from_secs(10) }), None);
        let first = limits.check_rate("a").expect("allowed").expect("a field");
        assert_eq!(first, "\"per-client\";r=1;t=5");
        assert!(limits.check_rate("a").is_ok());
        let (error, field) = *limits.check_rate("a").expect_err("refused");
        assert_eq!(error.status().as_u16(), 429);
        assert!(field.to_str().is_ok_and(|f| f.starts_with("\"per-client\";r=0;t=")), "{field:?}");
        assert!(limits.check_rate("b").is_ok(), "another client has its own quota");
    }

    #[test]
    fn the_concurrency_limit_frees_a_place_when_a_request_ends() {
        let limits = Arc::new(Limits::new(None, Some(1)));
        let first = limits.enter("a").expect("a place");
        assert!(limits.enter("a").is_err());
        assert!(limits.enter("b").is_ok());
        drop(first);
        assert!(limits.enter("a").is_ok());
    }
}
