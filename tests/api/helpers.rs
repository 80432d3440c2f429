//! Shared test helpers: every test gets its own server on port 0 and its own
//! database, on SQLite (a temp file) or PostgreSQL (a fresh database in the
//! cluster that `scripts/test.sh` starts).

use std::sync::Once;

use claimtrail::Settings;
use claimtrail::auth::{Scope, create_key};
use claimtrail::db::{Backend, Db};
use diesel::{Connection, RunQueryDsl};
use reqwest::header::HeaderValue;
use reqwest::{Method, Response, ResponseBuilderExt, StatusCode};
use serde_json::{Value, json};

/// Runs each listed test body on SQLite and on PostgreSQL, as two tests
/// named `<test>::on_sqlite` and `<test>::on_postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($app: $crate::helpers::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    body($crate::helpers::spawn_app(claimtrail::db::Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    body($crate::helpers::spawn_app(claimtrail::db::Backend::Postgres).await).await
                }
            }
        )*
    };
}

/// A running server with keys of every scope.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub read_key: String,
    pub write_key: String,
    pub admin_key: String,
    pub db: Db,
    pub backend: Backend,
    /// The metrics listener's address, when the settings asked for one.
    pub metrics_address: Option<String>,
    _dir: tempfile::TempDir,
}

/// A fresh database URL of the backend, and the temp dir that holds it.
pub fn fresh_database(backend: Backend) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = match backend {
        Backend::Sqlite => dir.path().join("test.db").to_string_lossy().into_owned(),
        Backend::Postgres => {
            let base = std::env::var("CLAIMTRAIL_TEST_PG_URL").expect(
                "CLAIMTRAIL_TEST_PG_URL is not set: run the tests with `bash scripts/test.sh`, \
                 which starts a throwaway PostgreSQL cluster",
            );
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut admin = diesel::PgConnection::establish(&base).expect("the test PostgreSQL server answers");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create a test database");
            match base.rsplit_once('/') {
                Some((server, _)) => format!("{server}/{name}"),
                None => panic!("CLAIMTRAIL_TEST_PG_URL must end in /<database>"),
            }
        }
    };
    (url, dir)
}

static LOGGING: Once = Once::new();

/// Starts a server on its own database and makes one key per scope.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], with settings changed by `adjust`.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    LOGGING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
        }
    });
    let (url, dir) = fresh_database(backend);
    spawn_app_at(backend, url, dir, adjust).await
}

/// Like [`spawn_app_with`], on the database at `url` (kept alive by `dir`).
pub async fn spawn_app_at(
    backend: Backend,
    url: String,
    dir: tempfile::TempDir,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings::for_database(&url);
    settings.pool_size = 4;
    adjust(&mut settings);
    let app = claimtrail::Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(app.run_until_stopped());
    let db = Db::connect(&url, 2).expect("a second pool on the test database");
    let mut conn = db.get().expect("a connection");
    let mut key = |scope| create_key(&mut conn, "test", scope).expect("a key").token;
    let (read_key, write_key, admin_key) = (key(Scope::Read), key(Scope::Write), key(Scope::Admin));
    drop(conn);
    TestApp {
        address,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client"),
        read_key,
        write_key,
        admin_key,
        db,
        backend,
        metrics_address,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request without credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> Request {
        Request { method: method.clone(), builder: self.client.request(method, self.url(path)) }
    }

    /// A request with the write key.
    pub fn request(&self, method: Method, path: &str) -> Request {
        self.anonymous(method, path).bearer_auth(&self.write_key)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.anonymous(Method::GET, path).send().await.expect("GET answers")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path).json(body).send().await.expect("POST answers")
    }

    /// A merge patch with `If-Match: "<version>"`.
    pub async fn patch(&self, path: &str, version: i64, body: &Value) -> Response {
        self.request(Method::PATCH, path)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", format!("\"{version}\""))
            .body(body.to_string())
            .send()
            .await
            .expect("PATCH answers")
    }

    pub async fn delete(&self, path: &str, version: i64) -> Response {
        self.request(Method::DELETE, path)
            .header("if-match", format!("\"{version}\""))
            .send()
            .await
            .expect("DELETE answers")
    }

    /// POSTs and returns the created resource, failing unless it is a 201.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let response = self.post(path, &body).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, StatusCode::CREATED, "creating at {path} answered {body}");
        body
    }

    pub async fn create_agent(&self, name: &str) -> Value {
        self.create("/v1/agents", json!({"kind": "organization", "name": name})).await
    }

    pub async fn create_source(&self, title: &str, content: Option<&str>) -> Value {
        self.create("/v1/sources", json!({"kind": "article", "title": title, "content": content})).await
    }

    pub async fn create_claim(&self, text: &str) -> Value {
        self.create("/v1/claims", json!({"text": text})).await
    }

    pub async fn create_attribution(&self, body: Value) -> Value {
        self.create("/v1/attributions", body).await
    }

    /// Every item of a list, following cursors.
    pub async fn list_all(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut next = format!("{path}{separator}limit=200");
        loop {
            let response = self.get(&next).await;
            assert_eq!(response.status(), StatusCode::OK, "listing {next}");
            let page: Value = response.json().await.expect("a JSON page");
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => next = format!("{path}{separator}limit=200&cursor={cursor}"),
                None => return items,
            }
        }
    }

    /// Everything stored, for before/after comparisons.
    pub async fn snapshot(&self) -> Value {
        let mut claims = Vec::new();
        for claim in self.list_all("/v1/claims").await {
            let id = claim["id"].as_str().expect("an id");
            claims.push(self.get(&format!("/v1/claims/{id}")).await.json::<Value>().await.expect("a claim card"));
        }
        let mut sources = Vec::new();
        for source in self.list_all("/v1/sources").await {
            let id = source["id"].as_str().expect("an id");
            sources.push(self.get(&format!("/v1/sources/{id}")).await.json::<Value>().await.expect("a source"));
        }
        json!({
            "agents": self.list_all("/v1/agents").await,
            "sources": sources,
            "claims": claims,
            "attributions": self.list_all("/v1/attributions").await,
        })
    }
}

/// A request of a test. Sending it checks the answer against the committed
/// OpenAPI document (`spec_truth::check`), so that every response any test
/// sees is one the document declares.
pub struct Request {
    method: Method,
    builder: reqwest::RequestBuilder,
}

impl Request {
    pub fn header(self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Request {
        let value = HeaderValue::from_bytes(value.as_ref()).expect("a header value");
        Request { builder: self.builder.header(name.as_ref(), value), ..self }
    }

    pub fn bearer_auth(self, token: impl std::fmt::Display) -> Request {
        Request { builder: self.builder.bearer_auth(token), ..self }
    }

    pub fn json<T: serde::Serialize + ?Sized>(self, body: &T) -> Request {
        Request { builder: self.builder.json(body), ..self }
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> Request {
        Request { builder: self.builder.body(body), ..self }
    }

    /// Sends the request; the whole answer is read (and checked) before it
    /// is handed back, unchanged.
    pub fn send(self) -> impl std::future::Future<Output = reqwest::Result<Response>> + Send + 'static {
        let Request { method, builder } = self;
        async move {
            let response = builder.send().await?;
            let (status, version, url) = (response.status(), response.version(), response.url().clone());
            let headers = response.headers().clone();
            // A stream of events never ends: its head is checked, and it is
            // handed back to be read as it comes.
            if headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")) {
                crate::spec_truth::check(&crate::spec_truth::Observed {
                    method: method.as_str(),
                    path: url.path(),
                    status,
                    headers: &headers,
                    // Not read; non-empty, so that its media type is checked.
                    body: b": a stream",
                });
                return Ok(response);
            }
            let body = response.bytes().await?;
            crate::spec_truth::check(&crate::spec_truth::Observed {
                method: method.as_str(),
                path: url.path(),
                status,
                headers: &headers,
                body: &body,
            });
            let mut rebuilt = http::Response::builder().status(status).version(version).url(url);
            if let Some(all) = rebuilt.headers_mut() {
                *all = headers;
            }
            Ok(Response::from(rebuilt.body(body).expect("the same response again")))
        }
    }
}

/// Reads a problem+json response, checking its content type and status.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status for {}", response.url());
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body: Value = response.json().await.expect("a JSON problem body");
    assert_eq!(content_type, "application/problem+json", "content type of {body}");
    assert_eq!(body["status"], status, "status member of {body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(), "{body}");
    body
}

/// The `field` names of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// Runs SQL on a SQLite test database.
pub fn run_sql(db: &Db, sql: &str) {
    let mut conn = db.get().expect("a connection");
    let claimtrail::db::DbConnection::Sqlite(conn) = &mut *conn else { panic!("a SQLite database") };
    diesel::connection::SimpleConnection::batch_execute(conn, sql).expect("the statement runs");
}

/// The `line` column of a query's rows, on either backend.
pub fn lines_of(db: &Db, query: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = db.get().expect("a connection");
    let lines: Vec<Line> = match &mut *conn {
        claimtrail::db::DbConnection::Sqlite(c) => diesel::RunQueryDsl::load(diesel::sql_query(query), c),
        claimtrail::db::DbConnection::Pg(c) => diesel::RunQueryDsl::load(diesel::sql_query(query), c),
    }
    .expect("the rows");
    lines.into_iter().map(|l| l.line).collect()
}
