//! Many instances, one database: two server processes (the built binary)
//! share a database, take writes concurrently, lose none of them, and agree
//! on versions: `If-Match` conflicts are caught across instances.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use claimtrail::db::Backend;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::fresh_database;

/// Concurrent writers, and the rounds each makes: a claim on one instance,
/// then an attribution of it on the other. 8 × 125 × 2 = 2,000 writes.
const WRITERS: usize = 8;
const ROUNDS: usize = 125;

/// Concurrent PATCHes of one claim per round, all with the same `If-Match`.
const RACERS: usize = 10;

/// A server process, killed when dropped, so a failing test leaves none behind.
pub struct Server {
    pub child: Child,
    pub address: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `claimtrail serve` on a port the kernel picks, and reads the
    /// port from its JSON "listening" log line.
    pub fn start(database_url: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_claimtrail"))
            .args(["--database-url", database_url, "--bind", "127.0.0.1:0", "--no-seed", "--workers", "2"])
            .args(["--pool-size", "4", "--log", "warn,claimtrail::cli=info", "--log-format", "json", "serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let stderr = child.stderr.take().expect("the server's stderr");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let mut server = Server { child, address: String::new(), log: log.clone() };
        let (port_tx, port_rx) = mpsc::channel();
        // Keeps reading to the end: a server whose stderr pipe fills up blocks.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["fields"]["message"] == "listening"
                    && let Some(port) = event["fields"]["port"].as_u64()
                {
                    let _ = port_tx.send(port);
                }
                let mut log = log.lock().expect("the log lock");
                log.push_back(line);
                if log.len() > 40 {
                    log.pop_front();
                }
            }
        });
        match port_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(port) => server.address = format!("http://127.0.0.1:{port}"),
            Err(_) => panic!("the server did not say where it listens; its log:\n{}", server.log_tail()),
        }
        server
    }

    fn log_tail(&self) -> String {
        self.log.lock().map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default()
    }
}

/// A key made with the command line, which prints it as its last line.
pub fn make_key(database_url: &str, scope: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_claimtrail"))
        .args(["--database-url", database_url, "keys", "create", "--name", "instances-test", "--scope", scope])
        .output()
        .expect("the key command runs");
    assert!(output.status.success(), "keys create failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().last().expect("a key").trim().to_string()
}

async fn post(client: &Client, base: &str, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = client.post(format!("{base}{path}")).bearer_auth(key).json(body).send().await.expect("POST answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An acknowledged claim and the attribution written for it, and which
/// instance wrote each.
struct Written {
    claim: Value,
    claim_by: usize,
    attribution: Value,
}

async fn many_instances_share_one_database(backend: Backend) {
    let (url, _dir) = fresh_database(backend);
    let first = Server::start(&url); // migrates the fresh database
    let key = make_key(&url, "write");
    let second = Server::start(&url);
    let servers = Arc::new([first.address.clone(), second.address.clone()]);
    let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("a client");

    let (status, source) = post(
        &client,
        &servers[0],
        &key,
        "/v1/sources",
        &json!({"kind": "article", "title": "Shared", "content": "the shared text"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{source}");
    let (status, speaker) =
        post(&client, &servers[1], &key, "/v1/agents", &json!({"kind": "person", "name": "Speaker"})).await;
    assert_eq!(status, StatusCode::CREATED, "{speaker}");

    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let (client, servers, key) = (client.clone(), servers.clone(), key.clone());
        let (source_id, speaker_id) = (source["id"].clone(), speaker["id"].clone());
        writers.spawn(async move {
            let mut written = Vec::new();
            let mut refused = Vec::new();
            for round in 0..ROUNDS {
                let claim_by = (writer + round) % 2;
                let text = format!("writer {writer} round {round}");
                let (status, claim) =
                    post(&client, &servers[claim_by], &key, "/v1/claims", &json!({"text": text})).await;
                if status != StatusCode::CREATED {
                    refused.push(format!("claim: {status} {claim}"));
                    continue;
                }
                let body = json!({"claim_id": claim["id"], "source_id": source_id, "speaker_id": speaker_id,
                    "mode": "quote", "quote": {"exact": "shared"}});
                let (status, attribution) =
                    post(&client, &servers[1 - claim_by], &key, "/v1/attributions", &body).await;
                if status != StatusCode::CREATED {
                    refused.push(format!("attribution: {status} {attribution}"));
                    continue;
                }
                written.push(Written { claim, claim_by, attribution });
            }
            (written, refused)
        });
    }
    let mut written = Vec::new();
    let mut refused = Vec::new();
    while let Some(result) = writers.join_next().await {
        let (w, r) = result.expect("a writer task");
        written.extend(w);
        refused.extend(r);
    }
    assert!(
        refused.is_empty(),
        "{} writes refused, e.g. {:?}\n{}\n{}",
        refused.len(),
        refused.first(),
        first.log_tail(),
        second.log_tail()
    );
    assert_eq!(written.len() * 2, WRITERS * ROUNDS * 2);

    // Every acknowledged write reads back through the instance that did not
    // take the claim, with the attribution the other instance took.
    let written = Arc::new(written);
    let mut readers = JoinSet::new();
    for reader in 0..WRITERS {
        let (client, servers, written) = (client.clone(), servers.clone(), written.clone());
        readers.spawn(async move {
            for w in written.iter().skip(reader).step_by(WRITERS) {
                let id = w.claim["id"].as_str().expect("an id");
                let response =
                    client.get(format!("{}/v1/claims/{id}", servers[1 - w.claim_by])).send().await.expect("GET");
                assert_eq!(response.status(), StatusCode::OK, "claim {id} is missing");
                let card: Value = response.json().await.expect("a claim card");
                assert_eq!(card["text"], w.claim["text"]);
                assert_eq!(card["version"], 2, "one attribution makes version 2: {card}");
                let attributions = card["attributions"].as_array().expect("attributions");
                assert_eq!(attributions.len(), 1, "{card}");
                assert_eq!(attributions[0]["id"], w.attribution["id"]);
                assert_eq!(attributions[0]["quote_status"], "verified");
            }
        });
    }
    while let Some(result) = readers.join_next().await {
        result.expect("a reader task");
    }
    for server in servers.iter() {
        let mut count = 0;
        let mut next = format!("{server}/v1/claims?limit=200");
        loop {
            let page: Value = client.get(&next).send().await.expect("a list").json().await.expect("a page");
            count += page["items"].as_array().expect("items").len();
            match page["next_cursor"].as_str() {
                Some(cursor) => next = format!("{server}/v1/claims?limit=200&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(count, WRITERS * ROUNDS, "claims listed by {server}");
    }

    // Concurrent PATCHes with one If-Match through both instances: one wins.
    let (status, claim) = post(&client, &servers[0], &key, "/v1/claims", &json!({"text": "contested"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = claim["id"].as_str().expect("an id").to_string();
    let mut version = claim["version"].as_i64().expect("a version");
    for round in 0..5 {
        let mut racers = JoinSet::new();
        for racer in 0..RACERS {
            let (client, servers, key, id) = (client.clone(), servers.clone(), key.clone(), id.clone());
            racers.spawn(async move {
                let response = client
                    .patch(format!("{}/v1/claims/{id}", servers[racer % 2]))
                    .bearer_auth(&key)
                    .header("content-type", "application/merge-patch+json")
                    .header("if-match", format!("\"{version}\""))
                    .body(json!({"place": format!("round {round} racer {racer}")}).to_string())
                    .send()
                    .await
                    .expect("PATCH answers");
                let status = response.status();
                (racer, status, response.json::<Value>().await.unwrap_or(Value::Null))
            });
        }
        let mut outcomes = Vec::new();
        while let Some(result) = racers.join_next().await {
            outcomes.push(result.expect("a racer task"));
        }
        let winners: Vec<&(usize, StatusCode, Value)> =
            outcomes.iter().filter(|(_, s, _)| *s == StatusCode::OK).collect();
        let losers = outcomes.iter().filter(|(_, s, _)| *s == StatusCode::PRECONDITION_FAILED).count();
        assert_eq!(
            (winners.len(), losers),
            (1, RACERS - 1),
            "round {round}: {:?}\nanswers other than 200 and 412: {:?}\n{}\n{}",
            outcomes.iter().map(|(r, s, _)| (r, s.as_u16())).collect::<Vec<_>>(),
            outcomes
                .iter()
                .filter(|(_, s, _)| *s != StatusCode::OK && *s != StatusCode::PRECONDITION_FAILED)
                .collect::<Vec<_>>(),
            first.log_tail(),
            second.log_tail()
        );
        let (winner, _, changed) = winners[0];
        assert_eq!(changed["version"], version + 1);
        for server in servers.iter() {
            let card: Value =
                client.get(format!("{server}/v1/claims/{id}")).send().await.expect("GET").json().await.expect("a card");
            assert_eq!(card["place"], format!("round {round} racer {winner}"), "as {server} sees it");
            assert_eq!(card["version"], version + 1);
        }
        version = changed["version"].as_i64().expect("the new version");
    }
    drop((first, second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_on_one_postgresql_database_lose_no_write_and_catch_every_conflict() {
    many_instances_share_one_database(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_on_one_sqlite_file_lose_no_write_and_catch_every_conflict() {
    many_instances_share_one_database(Backend::Sqlite).await;
}

/// Instances that start together on a new database: each one migrates and
/// seeds an empty database on start, and they must take turns at it, or the
/// second fails on tables or rows the first has just made.
fn instances_starting_together_migrate_and_seed_once(backend: Backend) {
    let (url, _dir) = fresh_database(backend);
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || -> anyhow::Result<bool> {
                let db = claimtrail::db::Db::connect(&url, 1)?;
                Ok(claimtrail::seed::load_if_empty(&db)?.is_some())
            })
        })
        .collect();
    let seeded: Vec<bool> = starts
        .into_iter()
        .map(|start| start.join().expect("a start does not panic").expect("every instance starts"))
        .collect();
    assert_eq!(seeded.iter().filter(|s| **s).count(), 1, "exactly one instance seeds: {seeded:?}");
    let db = claimtrail::db::Db::connect(&url, 1).expect("the database opens");
    let again = claimtrail::seed::load(&db).expect("the seeds load again");
    assert_eq!(again.created, [0; 4], "the first seeding was complete: {again}");
    assert!(again.present.iter().all(|n| *n > 0), "{again}");
}

#[test]
fn instances_starting_together_migrate_and_seed_once_on_sqlite() {
    instances_starting_together_migrate_and_seed_once(Backend::Sqlite);
}

#[test]
fn instances_starting_together_migrate_and_seed_once_on_postgres() {
    instances_starting_together_migrate_and_seed_once(Backend::Postgres);
}
