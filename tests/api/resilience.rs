//! The service at its edges: PostgreSQL stopped and started under a running
//! server, statements past their deadline, a disk that fills up.

use std::time::{Duration, Instant};

use claimtrail::db::write::{Actor, Change};
use claimtrail::db::{Backend, Db, DbOptions};
use claimtrail::error::ApiError;
use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::{Cluster, SmallDisk};
use crate::helpers::{TestApp, fresh_database, problem, spawn_app_at};

/// Times `n` reads of the claim list: each answer's status and latency.
async fn timed_reads(app: &TestApp, n: usize) -> Vec<(StatusCode, Option<String>, Duration)> {
    let mut answers = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let response = app.get("/v1/claims").await;
        let took = started.elapsed();
        let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
        answers.push((response.status(), retry, took));
    }
    answers
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgresql_stopped_requests_fail_fast_with_retry_after_and_recover_when_it_starts() {
    let Some(cluster) = Cluster::start_new() else { return };
    let url = cluster.new_database("claimtrail");
    let dir = tempfile::tempdir().expect("a temp dir");
    // A long wait for a connection, so that answering fast proves the
    // breaker answered, not the pool's timeout.
    let app = spawn_app_at(Backend::Postgres, url, dir, |s| {
        s.db_acquire_timeout = Duration::from_secs(30);
        s.db_retry_after = Duration::from_secs(1);
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(app.get("/v1/claims").await.status(), StatusCode::OK);

    cluster.stop();

    let started = Instant::now();
    let response = app.get("/readyz").await;
    let took = started.elapsed();
    let body = problem(response, 503).await;
    assert!(took < Duration::from_secs(1), "/readyz took {took:?}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("The database is not reachable: "), "{body}");
    assert!(detail.to_lowercase().contains("connect"), "the reason is given: {body}");

    let answers = timed_reads(&app, 20).await;
    for (status, retry, took) in &answers {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry.as_deref().and_then(|r| r.parse::<u64>().ok()).is_some_and(|r| r >= 1), "{retry:?}");
        assert!(*took < Duration::from_secs(1), "a read while down took {took:?}");
    }
    let times: Vec<Duration> = answers.iter().map(|a| a.2).collect();
    let (typical, worst) = (median(times.clone()), times.iter().max().copied().unwrap_or_default());
    eprintln!("while PostgreSQL was down: /readyz {took:?}; 20 reads: median {typical:?}, slowest {worst:?}");
    assert!(typical < Duration::from_millis(100), "median {typical:?}");
    let write = app.post("/v1/claims", &json!({"text": "Written while the database was down."})).await;
    let body = problem(write, 503).await;
    assert_eq!(body["type"], "urn:claimtrail:problem:unavailable");

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get("/readyz").await.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz did not recover within 20 s of PostgreSQL starting");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "/readyz answered 200 again {:?} after PostgreSQL started",
        Instant::now() + Duration::from_secs(20) - deadline
    );
    let created = app.create_claim("Written once the database was back.").await;
    let id = created["id"].as_str().expect("an id");
    assert_eq!(app.get(&format!("/v1/claims/{id}")).await.status(), StatusCode::OK);
}

/// A statement that would run for ever on each backend.
fn endless(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        Backend::Postgres => "SELECT pg_sleep(60)",
    }
}

/// A write that would run for ever on each backend, into `scratch (x)`.
fn endless_write(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "INSERT INTO scratch WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
        }
        Backend::Postgres => "INSERT INTO scratch SELECT 1 FROM pg_sleep(60)",
    }
}

async fn a_statement_past_its_deadline_is_a_503_and_the_connection_is_returned_clean(backend: Backend) {
    let (url, _dir) = fresh_database(backend);
    // One connection: whatever runs next runs on the one that was interrupted.
    let options = DbOptions { statement_timeout: Some(Duration::from_millis(300)), ..DbOptions::new(1) };
    let db = Db::connect_with(&url, &options).expect("the database opens");

    let started = Instant::now();
    let read = db.run(move |conn| diesel::sql_query(endless(backend)).execute(conn).map_err(ApiError::from)).await;
    let took = started.elapsed();
    let error = read.expect_err("the endless read is stopped");
    assert_eq!(error.status().as_u16(), 503, "{error}");
    let response = actix_web::ResponseError::error_response(&error);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");

    // Inside a write transaction too: nothing of it is kept.
    let write = db
        .write(Change::now(Actor::Cli), move |tx| {
            diesel::sql_query("CREATE TABLE scratch (x INTEGER)").execute(tx.conn)?;
            diesel::sql_query(endless(backend)).execute(tx.conn).map_err(ApiError::from)
        })
        .await;
    assert_eq!(write.expect_err("stopped").status().as_u16(), 503);
    // A write statement stopped: SQLite rolls the whole transaction back
    // itself, and the error is still the deadline's.
    let write = db
        .write(Change::now(Actor::Cli), move |tx| {
            diesel::sql_query("CREATE TABLE scratch (x INTEGER)").execute(tx.conn)?;
            diesel::sql_query(endless_write(backend)).execute(tx.conn).map_err(ApiError::from)
        })
        .await;
    assert_eq!(write.expect_err("stopped").status().as_u16(), 503);

    // The connection is clean: out of any transaction, and it writes.
    let written = db
        .write(Change::now(Actor::Cli), |tx| {
            diesel::sql_query("CREATE TABLE scratch (x INTEGER)").execute(tx.conn)?;
            diesel::sql_query("INSERT INTO scratch VALUES (1)").execute(tx.conn).map_err(ApiError::from)
        })
        .await;
    assert_eq!(written.expect("the next write works"), 1);
    let quick = db.run(|conn| diesel::sql_query("SELECT 1").execute(conn).map_err(ApiError::from)).await;
    assert!(quick.is_ok(), "{quick:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_its_deadline_is_a_503_and_the_connection_is_returned_clean_on_sqlite() {
    a_statement_past_its_deadline_is_a_503_and_the_connection_is_returned_clean(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_its_deadline_is_a_503_and_the_connection_is_returned_clean_on_postgres() {
    a_statement_past_its_deadline_is_a_503_and_the_connection_is_returned_clean(Backend::Postgres).await;
}

#[derive(diesel::QueryableByName)]
struct BackendPid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// The PostgreSQL backend serving the pool's connection, read through it.
async fn pooled_backend(db: &Db) -> Result<i32, ApiError> {
    db.run(|conn| diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result::<BackendPid>(conn).map(|p| p.pid))
        .await
}

/// Closes a PostgreSQL backend from outside, as a restart or an
/// administrator would, and waits until it is gone.
fn terminate(url: &str, pid: i32) {
    use diesel::Connection;
    let mut admin = diesel::PgConnection::establish(url).expect("a second connection");
    diesel::sql_query(format!("SELECT pg_terminate_backend({pid})")).execute(&mut admin).expect("terminated");
    for _ in 0..100 {
        let left = diesel::sql_query(format!("SELECT {pid} AS pid FROM pg_stat_activity WHERE pid = {pid}"))
            .load::<BackendPid>(&mut admin)
            .expect("pg_stat_activity");
        if left.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("backend {pid} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_idle_past_the_check_interval_is_checked_and_replaced_if_the_database_closed_it() {
    let (url, _dir) = fresh_database(Backend::Postgres);
    let options = DbOptions { check_after_idle: Duration::ZERO, ..DbOptions::new(1) };
    let db = Db::connect_with(&url, &options).expect("the database opens");
    let first = pooled_backend(&db).await.expect("a backend");
    terminate(&url, first);
    let second = pooled_backend(&db).await.expect("the checkout finds the closed connection and opens another");
    assert_ne!(second, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_used_within_the_check_interval_is_lent_unchecked_and_checked_after_it_fails() {
    let (url, _dir) = fresh_database(Backend::Postgres);
    let options = DbOptions { check_after_idle: Duration::from_secs(3600), ..DbOptions::new(1) };
    let db = Db::connect_with(&url, &options).expect("the database opens");
    let first = pooled_backend(&db).await.expect("a backend");
    terminate(&url, first);
    // No `SELECT 1` before lending it (that round trip is what is saved):
    // the request meets the closed connection, and says to retry.
    let error = pooled_backend(&db).await.expect_err("the closed connection was lent as it was");
    assert_eq!(error.status().as_u16(), 503, "{error}");
    // Its failure gets it checked at the next checkout, and replaced.
    let second = pooled_backend(&db).await.expect("the failed connection is checked, dropped and replaced");
    assert_ne!(second, first);
}

/// A source whose content takes about `kib` KiB.
fn big_source(title: &str, kib: usize) -> Value {
    let content: String = (0..kib * 16).map(|i| format!("{:0>63} ", i * 7919 % 1_000_003)).collect();
    json!({"kind": "article", "title": title, "content": content})
}

/// Fills the disk under a running server, checks the 507 and that nothing
/// was written and reads go on, frees the space, and writes again.
async fn a_full_disk_is_a_507_and_writes_recover_once_space_is_freed(app: &TestApp, disk: &SmallDisk) {
    let before = app.list_all("/v1/sources").await.len();
    let filler = disk.fill();
    let mut refused = None;
    // The database's own free pages may take the first writes.
    for i in 0..20 {
        let response = app.post("/v1/sources", &big_source(&format!("Too big {i}"), 256)).await;
        if response.status() != StatusCode::CREATED {
            refused = Some(response);
            break;
        }
    }
    let body = problem(refused.expect("a write is refused once the disk is full"), 507).await;
    assert_eq!(body["type"], "urn:claimtrail:problem:insufficient-storage", "{body}");
    assert!(body["detail"].as_str().unwrap_or_default().contains("disk is full"), "{body}");
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK, "reads still work");
    let during = app.list_all("/v1/sources").await.len();

    std::fs::remove_file(filler).expect("the filler goes");
    let written = app.create("/v1/sources", big_source("Written once space was freed", 64)).await;
    assert!(written["id"].is_string());
    let after = app.list_all("/v1/sources").await.len();
    assert_eq!(after, during + 1);
    assert!(during >= before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_sqlite_is_a_507_naming_the_condition() {
    let Some(disk) = SmallDisk::mount(4096, "") else { return };
    let url = disk.path().join("claimtrail.db").to_string_lossy().into_owned();
    let dir = tempfile::tempdir().expect("a temp dir");
    let app = spawn_app_at(Backend::Sqlite, url, dir, |_| {}).await;
    a_full_disk_is_a_507_and_writes_recover_once_space_is_freed(&app, &disk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_postgresql_is_a_507_naming_the_condition() {
    let Ok(base) = std::env::var("CLAIMTRAIL_TEST_PG_URL") else {
        eprintln!("skipped: CLAIMTRAIL_TEST_PG_URL is not set");
        return;
    };
    // The database lives in a tablespace on the small disk, owned by the
    // server's user; its WAL stays on the cluster's own disk.
    let mut admin = <diesel::PgConnection as diesel::Connection>::establish(&base).expect("the test cluster");
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        data_directory: String,
    }
    let data: Setting = diesel::sql_query("SHOW data_directory").get_result(&mut admin).expect("data_directory");
    let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&data.data_directory).expect("its owner"));
    let Some(disk) = SmallDisk::mount(16 * 1024, &format!("uid={uid},mode=0700")) else { return };
    let name = format!("full_{}", uuid::Uuid::new_v4().simple());
    let location = disk.path().to_string_lossy().replace('\'', "''");
    diesel::sql_query(format!("CREATE TABLESPACE {name} LOCATION '{location}'"))
        .execute(&mut admin)
        .expect("a tablespace");
    diesel::sql_query(format!("CREATE DATABASE {name} TABLESPACE {name}")).execute(&mut admin).expect("a database");
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("CLAIMTRAIL_TEST_PG_URL must end in /<database>"),
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    {
        let app = spawn_app_at(Backend::Postgres, url, dir, |_| {}).await;
        a_full_disk_is_a_507_and_writes_recover_once_space_is_freed(&app, &disk).await;
        drop(app);
    }
    // The server's connections close with the app's pools; then clean up.
    for _ in 0..50 {
        if diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = diesel::sql_query(format!("DROP TABLESPACE IF EXISTS {name}")).execute(&mut admin);
}

#[derive(diesel::QueryableByName)]
struct MmapSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    mmap_size: i64,
}

#[test]
fn a_sqlite_connection_maps_as_much_of_the_file_as_the_setting_says() {
    let mapped = |options: &DbOptions| {
        let (url, _dir) = fresh_database(Backend::Sqlite);
        let db = Db::connect_with(&url, options).expect("the database opens");
        let mut conn = db.get().expect("a connection");
        let size: MmapSize = diesel::sql_query("PRAGMA mmap_size").get_result(&mut *conn).expect("mmap_size");
        size.mmap_size
    };
    assert_eq!(mapped(&DbOptions::new(1)), 256 * 1024 * 1024, "the default");
    assert_eq!(mapped(&DbOptions { mmap_mib: 0, ..DbOptions::new(1) }), 0, "none");
    // SQLite's limit holds whatever is asked.
    assert_eq!(mapped(&DbOptions { mmap_mib: 1 << 20, ..DbOptions::new(1) }), 2047 * 1024 * 1024);
    // The settings carry the flag to the pool.
    let settings = claimtrail::Settings { sqlite_mmap_mib: 64, ..claimtrail::Settings::for_database("x.db") };
    assert_eq!(settings.db_options().mmap_mib, 64);
}
