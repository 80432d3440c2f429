//! Prometheus metrics at `GET /metrics`: requests by route, method and
//! status, their latency, the connection pool and the database's size.
//!
//! Off unless a setting turns it on: `--metrics-bind ADDR` serves it on a
//! listener of its own (keep that address private), `--metrics-token
//! TOKEN` serves it on the API's address to `Authorization: Bearer TOKEN`
//! (and requires the token on the metrics listener too, when both are set).

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use clap::Args;
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use subtle::ConstantTimeEq;

use crate::db::{Db, DbConnection};
use crate::error::ApiError;

/// Where `/metrics` is served, if anywhere.
#[derive(Debug, Clone, Default, Args)]
pub struct MetricsSettings {
    /// Serve `GET /metrics` on this address, on a listener of its own (for a
    /// private network; not on the API's address).
    #[arg(long, env = "CLAIMTRAIL_METRICS_BIND", global = true)]
    pub metrics_bind: Option<String>,

    /// Serve `GET /metrics` to `Authorization: Bearer <this token>` (on the
    /// API's address unless `--metrics-bind` is set).
    #[arg(long, env = "CLAIMTRAIL_METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<String>,
}

impl MetricsSettings {
    /// True when `/metrics` is served on the API's own address.
    pub fn on_api_address(&self) -> bool {
        self.metrics_bind.is_none() && self.metrics_token.is_some()
    }
}

/// The server's metrics, shared by every worker.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    pool_max: IntGauge,
    database_bytes: IntGauge,
    token: Option<String>,
}

impl Metrics {
    pub fn new(settings: &MetricsSettings) -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("claimtrail_http_requests_total", "HTTP requests answered, by route, method and status."),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "claimtrail_http_request_duration_seconds",
                "Time from receiving a request to its response's headers, by route, method and status.",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["route", "method", "status"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "claimtrail_db_pool_connections",
                "Database connections by state: in_use, idle, and waiting (callers waiting for one).",
            ),
            &["state"],
        )?;
        let pool_max = IntGauge::new("claimtrail_db_pool_max_connections", "The most connections the pool opens.")?;
        let database_bytes = IntGauge::new(
            "claimtrail_database_size_bytes",
            "Size of the database: SQLite's main file (pages times page size), or PostgreSQL's pg_database_size.",
        )?;
        let build =
            IntGaugeVec::new(Opts::new("claimtrail_build_info", "Always 1; the version in a label."), &["version"])?;
        build.with_label_values(&[crate::observability::VERSION]).set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(database_bytes.clone()))?;
        registry.register(Box::new(build))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            pool,
            pool_max,
            database_bytes,
            token: settings.metrics_token.clone(),
        })
    }

    /// Adds a collector kept elsewhere (the card cache's counts).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) -> Result<(), prometheus::Error> {
        self.registry.register(collector)
    }

    /// Counts one answered request. `route` is the matched pattern
    /// (`/v1/claims/{id}`), never the raw path, so the label set stays small.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [route, method, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the pool and the database's size read now.
    fn render(&self, db: &Db, database_bytes: Option<i64>) -> Result<String, ApiError> {
        let status = db.pool_status();
        self.pool.with_label_values(&["in_use"]).set(i64::from(status.in_use));
        self.pool.with_label_values(&["idle"]).set(i64::from(status.idle));
        self.pool.with_label_values(&["waiting"]).set(i64::from(status.waiting));
        self.pool_max.set(i64::from(status.max));
        if let Some(bytes) = database_bytes {
            self.database_bytes.set(bytes);
        }
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer).map_err(ApiError::internal)?;
        String::from_utf8(buffer).map_err(ApiError::internal)
    }

    fn authorized(&self, req: &HttpRequest) -> bool {
        let Some(token) = &self.token else { return true };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().as_bytes().to_vec())
            .unwrap_or_default();
        bool::from(presented.ct_eq(token.as_bytes()))
    }
}

/// The size of the database in bytes.
fn database_size(conn: &mut DbConnection) -> diesel::QueryResult<i64> {
    let expression = match conn {
        DbConnection::Sqlite(_) => "(SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())",
        DbConnection::Pg(_) => "pg_database_size(current_database())",
    };
    diesel::select(diesel::dsl::sql::<BigInt>(expression)).get_result(conn)
}

/// `GET /metrics`: the Prometheus text format (version 0.0.4).
pub async fn serve_metrics(
    req: HttpRequest,
    db: web::Data<Db>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    if !metrics.authorized(&req) {
        return Err(ApiError::unauthorized("/metrics needs `Authorization: Bearer <the metrics token>`."));
    }
    // A database that does not answer leaves the size at its last value;
    // the pool figures still tell what is wrong.
    let bytes = db.run(|conn| database_size(conn).map_err(ApiError::internal)).await.ok();
    let body = metrics.render(&db, bytes)?;
    Ok(HttpResponse::Ok().content_type(TextEncoder::new().format_type()).body(body))
}

/// Registers `/metrics` on an app (the API's, or the metrics listener's).
pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/metrics", web::get().to(serve_metrics));
}
