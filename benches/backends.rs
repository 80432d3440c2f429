//! The same read and write benchmark on SQLite and PostgreSQL, over HTTP:
//! the server runs in this process on a fresh database of each backend, and
//! a few concurrent clients create claims with an attribution, read claim
//! cards and list pages. Prints ops/s, p50 and p99 side by side, and the
//! PostgreSQL/SQLite throughput ratio for reads and for writes.
//!
//!     bash benches/backends.sh        # starts a throwaway PostgreSQL 15
//!     CLAIMTRAIL_BENCH_PG_URL=postgres://user@127.0.0.1:5432/postgres cargo bench --bench backends
//!
//! The PostgreSQL URL must allow `CREATE DATABASE`; without one, only SQLite runs.
//! `CLAIMTRAIL_DB_CHECK_AFTER_IDLE` sets the server's setting of that name
//! (e.g. `0s`: a `SELECT 1` before every checkout, as before the pool
//! checked only connections idle for longer), to compare runs with and
//! without the check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use claimtrail::auth::{Scope, create_key};
use claimtrail::db::{Backend, Db};
use claimtrail::{Application, Settings};
use diesel::{Connection, RunQueryDsl};
use serde_json::{Value, json};

/// Clients sending requests at once.
const CONCURRENCY: usize = 4;
/// Claims created, each with one attribution (two requests per operation).
const WRITES: usize = 2_000;
/// Claim cards read, and list pages read.
const READS: usize = 5_000;
const LISTS: usize = 2_000;

/// Latencies of one operation, and the wall time they took together.
struct Measure {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Measure {
    fn ops_per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

struct Results {
    write: Measure,
    card: Measure,
    list: Measure,
}

impl Results {
    /// Reads of both kinds per second.
    fn reads_per_second(&self) -> f64 {
        let ops = self.card.latencies.len() + self.list.latencies.len();
        ops as f64 / (self.card.wall + self.list.wall).as_secs_f64()
    }
}

/// A fresh database URL of the backend; the temp dir holds a SQLite file.
fn fresh_database(backend: Backend, pg_base: Option<&str>) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = match (backend, pg_base) {
        (Backend::Sqlite, _) => dir.path().join("bench.db").to_string_lossy().into_owned(),
        (Backend::Postgres, Some(base)) => {
            let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let mut admin = diesel::PgConnection::establish(base).expect("the PostgreSQL server answers");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("a bench database");
            let (server, _) = base.rsplit_once('/').expect("the URL ends in /<database>");
            format!("{server}/{name}")
        }
        (Backend::Postgres, None) => unreachable!("PostgreSQL runs only with a URL"),
    };
    (url, dir)
}

/// Runs `ops` operations from `CONCURRENCY` tasks; `op(i)` is the i-th.
async fn measure<F, Fut>(ops: usize, op: F) -> Measure
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in (worker..ops).step_by(CONCURRENCY) {
                let t = Instant::now();
                op(i).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(ops);
    for task in tasks {
        latencies.extend(task.await.expect("a bench task"));
    }
    Measure { latencies, wall: started.elapsed() }
}

async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
    let response = client.post(url).bearer_auth(key).json(&body).send().await.expect("POST answers");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED, "a write failed");
    response.json().await.expect("a JSON body")
}

async fn run(backend: Backend, pg_base: Option<&str>) -> Results {
    let (url, _dir) = fresh_database(backend, pg_base);
    let mut settings = Settings::for_database(&url);
    settings.workers = Some(1);
    settings.pool_size = 8;
    settings.log = "error".to_string();
    if let Some(check) = check_after_idle() {
        settings.db_check_after_idle = check;
    }
    let app = Application::build(settings).await.expect("the app builds");
    let base = Arc::new(format!("http://127.0.0.1:{}", app.port()));
    let server = tokio::spawn(app.run_until_stopped());
    let db = Db::connect(&url, 1).expect("a pool");
    let key = Arc::new(create_key(&mut db.get().expect("a connection"), "bench", Scope::Write).expect("a key").token);
    let client = reqwest::Client::new();

    let source = post(
        &client,
        format!("{base}/v1/sources"),
        &key,
        json!({"kind": "article", "title": "Bench", "content": "the death toll has exceeded 17,700 since 2012"}),
    )
    .await;
    let source_id = Arc::new(source["id"].clone());
    let claim_ids = Arc::new(std::sync::Mutex::new(vec![String::new(); WRITES]));

    let write = {
        let (client, base, key, ids) = (client.clone(), base.clone(), key.clone(), claim_ids.clone());
        measure(WRITES, move |i| {
            let (client, base, key, source_id, ids) =
                (client.clone(), base.clone(), key.clone(), source_id.clone(), ids.clone());
            async move {
                let claim = post(
                    &client,
                    format!("{base}/v1/claims"),
                    &key,
                    json!({
                    "text": format!("The death toll has exceeded {i} since 2012."), "kind": "quantity",
                    "quantity": {"value": i, "unit": "deaths", "comparator": "gt"}, "tags": ["bench", "mali"]}),
                )
                .await;
                post(
                    &client,
                    format!("{base}/v1/attributions"),
                    &key,
                    json!({"claim_id": claim["id"],
                    "source_id": *source_id, "mode": "quote", "quote": {"exact": "exceeded 17,700"}}),
                )
                .await;
                ids.lock().expect("ids")[i] = claim["id"].as_str().expect("an id").to_string();
            }
        })
        .await
    };
    let ids = Arc::new(claim_ids.lock().expect("ids").clone());

    let card = {
        let (client, base) = (client.clone(), base.clone());
        measure(READS, move |i| {
            // A fixed stride through the claims: every read a different card.
            let id = ids[(i * 7919) % ids.len()].clone();
            let (client, base) = (client.clone(), base.clone());
            async move {
                let response = client.get(format!("{base}/v1/claims/{id}")).send().await.expect("GET answers");
                assert!(response.status().is_success());
                response.bytes().await.expect("a body");
            }
        })
        .await
    };
    let list = {
        let (client, base) = (client.clone(), base.clone());
        measure(LISTS, move |_| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let response = client.get(format!("{base}/v1/claims?limit=50")).send().await.expect("GET answers");
                assert!(response.status().is_success());
                response.bytes().await.expect("a body");
            }
        })
        .await
    };
    server.abort();
    Results { write, card, list }
}

fn row(name: &str, sqlite: &Measure, pg: Option<&Measure>) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let cell = |m: &Measure| {
        format!("{:>8.0} {:>7.2} {:>7.2}", m.ops_per_second(), ms(m.percentile(0.5)), ms(m.percentile(0.99)))
    };
    match pg {
        Some(pg) => println!(
            "{name:<34} | {} | {} | {:>5.2}",
            cell(sqlite),
            cell(pg),
            pg.ops_per_second() / sqlite.ops_per_second()
        ),
        None => println!("{name:<34} | {} |", cell(sqlite)),
    }
}

/// `CLAIMTRAIL_DB_CHECK_AFTER_IDLE`, if set.
fn check_after_idle() -> Option<Duration> {
    let value = std::env::var("CLAIMTRAIL_DB_CHECK_AFTER_IDLE").ok()?;
    Some(humantime::parse_duration(value.trim()).expect("CLAIMTRAIL_DB_CHECK_AFTER_IDLE is a duration, e.g. 0s"))
}

fn main() {
    let pg_base = std::env::var("CLAIMTRAIL_BENCH_PG_URL").or_else(|_| std::env::var("CLAIMTRAIL_TEST_PG_URL")).ok();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let sqlite = runtime.block_on(run(Backend::Sqlite, None));
    let pg = pg_base.as_deref().map(|base| runtime.block_on(run(Backend::Postgres, Some(base))));
    if pg.is_none() {
        println!("(no CLAIMTRAIL_BENCH_PG_URL: SQLite only; `bash benches/backends.sh` starts a PostgreSQL)");
    }
    println!(
        "\n{CONCURRENCY} concurrent clients over HTTP, 1 server worker; {WRITES} writes, {READS} card reads, {LISTS} list pages"
    );
    println!(
        "connections checked when idle for more than {:?}",
        check_after_idle().unwrap_or(claimtrail::db::DEFAULT_CHECK_AFTER_IDLE)
    );
    println!("{:<34} | {:^24} | {:^24} | PG/SQLite", "", "SQLite", "PostgreSQL");
    println!(
        "{:<34} | {:>8} {:>7} {:>7} | {:>8} {:>7} {:>7} | ops/s",
        "operation", "ops/s", "p50 ms", "p99 ms", "ops/s", "p50 ms", "p99 ms"
    );
    row("create claim + attribution (2 req)", &sqlite.write, pg.as_ref().map(|p| &p.write));
    row("claim card read", &sqlite.card, pg.as_ref().map(|p| &p.card));
    row("list page (50 claims)", &sqlite.list, pg.as_ref().map(|p| &p.list));
    if let Some(pg) = &pg {
        println!(
            "\nPostgreSQL/SQLite throughput: reads {:.2}, writes {:.2}",
            pg.reads_per_second() / sqlite.reads_per_second(),
            pg.write.ops_per_second() / sqlite.write.ops_per_second()
        );
    }
}
