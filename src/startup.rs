//! Builds the HTTP application: routes, middleware, extractor settings.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{ResourceDef, Server, ServerHandle, ServiceFactory, ServiceRequest};
use actix_web::middleware::from_fn;
use actix_web::{App, Error, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::AuthPolicy;
use crate::card::cache::CardCache;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{ApiError, extractors};
use crate::idempotency;
use crate::metrics::Metrics;
use crate::openapi::ApiDoc;
use crate::revisions::feed::Shutdown;
use crate::{agents, attributions, claims, health, keys, openapi, provenance, reviews, revisions, sources, transfer};

/// Registers every documented route. Only `.service(..)` registrations of
/// macro handlers are collected into the OpenAPI document.
fn routes<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = Error, InitError = ()>,
{
    app.service(
        scope("/v1")
            .configure(health::configure_root)
            .configure(agents::configure)
            .configure(sources::configure)
            .configure(claims::configure)
            .configure(attributions::configure)
            .configure(reviews::configure)
            .configure(provenance::configure)
            .configure(transfer::configure)
            .configure(revisions::configure)
            .configure(keys::configure),
    )
    .configure(health::configure)
}

/// The generated OpenAPI document, as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, document) = routes(App::new().into_utoipa_app().openapi(ApiDoc::openapi())).split_for_parts();
    openapi::complete(document)
}

/// The running server and the port it listens on; with `--metrics-bind`,
/// the metrics listener too.
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(u16, Server)>,
    /// Tells long-lived responses (change streams) that the server is
    /// shutting down, so that they end instead of holding it up.
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Application {
    /// Connects and migrates the database, binds the listener (port 0 picks
    /// a free one) and builds the server; it runs once awaited.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let database_url = settings.database_url.clone();
        let options = settings.db_options();
        let db = web::block(move || {
            let db = Db::connect_with(&database_url, &options)?;
            db.open_watch();
            anyhow::Ok(db)
        })
        .await??;
        if !settings.no_seed {
            let seeder = db.clone();
            let loaded = web::block(move || crate::seed::load_if_empty(&seeder)).await??;
            if let Some(report) = loaded {
                tracing::info!(%report, "loaded the seed data into the empty database");
            }
        }
        let listener = bind(&settings.bind, "--bind / CLAIMTRAIL_BIND")?;
        let port = listener.local_addr()?.port();
        let metrics = Metrics::new(&settings.metrics)?;
        let cards = CardCache::new(settings.card_cache_mib)?;
        metrics.register(Box::new(cards.counter()))?;
        metrics.register(Box::new(db.terms().cache().counter()))?;
        metrics.register(Box::new(db.terms().cache().gauge()))?;
        metrics.register(Box::new(db.terms().cache().stored_counter()))?;
        metrics.register(Box::new(db.terms().cache().indexed_counter()))?;
        let metrics = web::Data::new(metrics);
        let cards = web::Data::new(cards);
        let metrics_server = match &settings.metrics.metrics_bind {
            Some(address) => {
                let listener = bind(address, "--metrics-bind / CLAIMTRAIL_METRICS_BIND")?;
                let port = listener.local_addr()?.port();
                Some((port, serve_metrics(listener, db.clone(), metrics.clone())?))
            }
            None => None,
        };
        let (shutdown, signal) = tokio::sync::watch::channel(false);
        let storing = db.clone();
        let server = serve(listener, db, cards, metrics, settings, Shutdown(signal))?;
        web::block(move || crate::claims::listing::prepare_posting_lists(&storing)).await?;
        Ok(Application { port, server, metrics: metrics_server, shutdown })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when `--metrics-bind` asked for one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serves until SIGTERM (graceful) or SIGINT; the metrics listener, if
    /// any, stops with the API.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let shutdown = self.shutdown;
        tokio::spawn(async move {
            stop_signal().await;
            let _ = shutdown.send(true);
        });
        let metrics: Option<ServerHandle> = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(true).await;
        }
        result
    }

    /// A handle that stops the server gracefully, as SIGTERM does.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { server: self.server.handle(), shutdown: self.shutdown.clone() }
    }
}

/// Stops a running [`Application`] gracefully.
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl StopHandle {
    pub async fn stop(&self) {
        let _ = self.shutdown.send(true);
        self.server.stop(true).await;
    }
}

/// SIGTERM or SIGINT, whichever comes first.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Binds a listener, saying which address failed and which setting names it.
fn bind(address: &str, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).with_context(|| {
        format!("cannot listen on {address}; stop what uses it, or choose another address with {setting}")
    })
}

/// The metrics listener: `/metrics` and nothing else.
fn serve_metrics(listener: TcpListener, db: Db, metrics: web::Data<Metrics>) -> anyhow::Result<Server> {
    let db = web::Data::new(db);
    let server = HttpServer::new(move || {
        App::new().app_data(db.clone()).app_data(metrics.clone()).configure(crate::metrics::configure)
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run();
    Ok(server)
}

fn serve(
    listener: TcpListener,
    db: Db,
    cards: web::Data<CardCache>,
    metrics: web::Data<Metrics>,
    settings: Settings,
    shutdown: Shutdown,
) -> anyhow::Result<Server> {
    let shutdown = web::Data::new(shutdown);
    let idempotency = web::Data::new(idempotency::Settings {
        keep: std::time::Duration::from_secs(settings.idempotency_hours.saturating_mul(3600)),
        max_body: settings.max_body_bytes,
        max_import: settings.max_import_bytes,
    });
    let document = openapi_document();
    let mut known_paths = openapi::allowed_methods(&document);
    let metrics_here = settings.metrics.on_api_address();
    // Served beside the document rather than described in it.
    let mut undocumented = vec!["/openapi.json", "/docs/{_:.*}"];
    if metrics_here {
        undocumented.push("/metrics");
    }
    for path in undocumented {
        known_paths.push((ResourceDef::new(path), "GET, HEAD".to_string()));
    }
    let known_paths = Arc::new(known_paths);
    let db = web::Data::new(db);
    let policy = web::Data::new(AuthPolicy { require_key_for_reads: settings.require_key_for_reads });
    let max_body = settings.max_body_bytes;
    let import_limit = web::Data::new(transfer::ImportLimit(settings.max_import_bytes));
    let origins = settings.cors_origins.clone();
    let limits = web::Data::new(crate::limits::Limits::from_settings(&settings));
    let mut server = HttpServer::new(move || {
        let known_paths = known_paths.clone();
        let app = routes(App::new().into_utoipa_app())
            .into_app()
            .app_data(db.clone())
            .app_data(cards.clone())
            .app_data(metrics.clone())
            .app_data(policy.clone())
            .app_data(import_limit.clone())
            .app_data(shutdown.clone())
            .app_data(idempotency.clone())
            .app_data(limits.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body)
                    .content_type(|mime| mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
                    .content_type_required(true)
                    .error_handler(extractors::json_error),
            )
            .app_data(web::PathConfig::default().error_handler(extractors::path_error))
            .configure(|config| {
                if metrics_here {
                    crate::metrics::configure(config);
                }
            })
            .service(web::redirect("/docs", "/docs/"))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document.clone()))
            .default_service(web::to(move |req: HttpRequest| {
                let known_paths = known_paths.clone();
                async move { unrouted(&req, &known_paths) }
            }));
        // Inside out: the key is known (authenticate) before it is limited,
        // and limited before an Idempotency-Key is claimed for it.
        app.wrap(from_fn(crate::idempotency::idempotent))
            .wrap(from_fn(crate::limits::enforce))
            .wrap(from_fn(crate::auth::authenticate))
            .wrap(cors(&origins))
            .wrap(from_fn(crate::security_headers::add))
            .wrap(from_fn(crate::observability::observe))
    })
    .listen(listener)?
    .shutdown_timeout(30);
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// 405 with `Allow` when the path exists for other methods, else 404.
fn unrouted(req: &HttpRequest, known_paths: &[(ResourceDef, String)]) -> Result<HttpResponse, ApiError> {
    match known_paths.iter().find(|(def, _)| def.is_match(req.path())) {
        Some((_, allowed)) => Err(ApiError::method_not_allowed(allowed)),
        None => Err(ApiError::no_route(req.path())),
    }
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            "authorization",
            "content-type",
            "if-match",
            "if-none-match",
            "x-request-id",
            "traceparent",
            "idempotency-key",
            "x-change-comment",
            "last-event-id",
        ])
        .expose_headers(["etag", "location", "link", "x-request-id", "idempotent-replayed"])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" { cors.allow_any_origin() } else { cors.allowed_origin(origin) };
    }
    cors
}
