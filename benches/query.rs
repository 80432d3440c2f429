//! The claim list at scale: latency of the queries fact-checkers run, over
//! HTTP, against the release server on a generated SQLite database: the
//! claim list's filters, searches and pages, and (issue 13) name search,
//! the claims an agent or a source is behind by role, and `-stated_on`
//! pages.
//!
//! ```text
//! CLAIMS=1000000 cargo bench --bench query
//! ```
//!
//! Settings (environment): `CLAIMS` (default 10000, so that a stray `cargo
//! bench` stays quick; the goals are stated for 1000000), `BENCH_DB` (the
//! database file; default `target/bench/claims-<CLAIMS>.db`, generated once
//! and reused), `BENCH_REQUESTS` (timed requests per row, default 500).
//!
//! The server runs as its own process (so that its peak RSS can be read
//! from /proc) with its default settings; one client sends one request at
//! a time over a kept-alive connection. Printed: p50 and p99 per query, the
//! deep-page / first-page ratio, the database size and the server's peak
//! RSS. Goals: every p99 ≤ 20 ms (but the row that ranks every match of a
//! common word, which is informational), deep / first ≤ 1.5 (newest first
//! and `-stated_on`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use claimtrail::db::{Db, DbConnection};
use claimtrail::generate::{generate, vocabulary_word};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

struct Row {
    name: String,
    p50: Duration,
    p99: Duration,
    results: String,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // useful either way: only run when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench --bench query` (CLAIMS=1000000 for the real thing)");
        return Ok(());
    }
    let claims = env_usize("CLAIMS", 10_000);
    let requests = env_usize("BENCH_REQUESTS", 500);
    let path = std::env::var("BENCH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench/claims-{claims}.db")));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let url = path.to_string_lossy().into_owned();
    let db = Db::connect(&url, 2)?;
    let mut conn = db.get()?;
    let existing = diesel::sql_query("SELECT count(*) AS n FROM claims").load::<Count>(&mut *conn)?[0].n as usize;
    if existing == 0 {
        println!("generating {claims} claims into {url} …");
        let report = generate(&db, claims, 1)?;
        println!("{report}");
    } else if existing != claims {
        anyhow::bail!("{url} holds {existing} claims, not {claims}: remove it or set BENCH_DB");
    }

    // What the queries ask for, taken from the data.
    let claim_ids: Vec<String> = diesel::sql_query("SELECT id FROM claims ORDER BY random() LIMIT 1000")
        .load::<Id>(&mut *conn)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    // A publisher of middling size: the 20th by number of sources.
    let publisher = diesel::sql_query(
        "SELECT publisher_id AS id FROM sources WHERE publisher_id IS NOT NULL \
         GROUP BY publisher_id ORDER BY count(*) DESC, publisher_id LIMIT 1 OFFSET 19",
    )
    .load::<Id>(&mut *conn)?
    .into_iter()
    .next()
    .map(|r| r.id)
    .ok_or_else(|| anyhow::anyhow!("no publisher"))?;
    let count = |conn: &mut DbConnection, sql: &str| -> anyhow::Result<i64> {
        Ok(diesel::sql_query(sql).load::<Count>(conn)?[0].n)
    };
    // Word ranks of the generator's Zipf vocabulary: a common word (in about
    // one claim in eight), a middling one and a rare one.
    let common = vocabulary_word(6);
    let middling = vocabulary_word(250);
    let rare = vocabulary_word(40_000);
    let hits = |conn: &mut DbConnection, word: &str| {
        count(conn, &format!("SELECT count(*) AS n FROM claims_fts WHERE claims_fts MATCH '\"{word}\"'"))
    };
    let common_hits = hits(&mut conn, &common)?;
    let middling_hits = hits(&mut conn, &middling)?;
    let rare_hits = hits(&mut conn, &rare)?;
    let publisher_claims = count(
        &mut conn,
        &format!(
            "SELECT count(DISTINCT a.claim_id) AS n FROM sources s JOIN attributions a ON a.source_id = s.id \
             WHERE s.publisher_id = '{publisher}'"
        ),
    )?;
    // Name search, as typed: the first word of that publisher's name cut
    // to four letters, and a source's title's first word and the start of
    // its second.
    let agent_name = diesel::sql_query(format!("SELECT name AS id FROM agents WHERE id = '{publisher}'"))
        .load::<Id>(&mut *conn)?
        .into_iter()
        .next()
        .map(|r| r.id)
        .unwrap_or_default();
    let agent_q: String = agent_name.split_whitespace().next().unwrap_or("a").chars().take(4).collect();
    let source_title = diesel::sql_query("SELECT title AS id FROM sources ORDER BY id LIMIT 1 OFFSET 77")
        .load::<Id>(&mut *conn)?
        .into_iter()
        .next()
        .map(|r| r.id)
        .unwrap_or_default();
    let title_words: Vec<&str> = source_title.split_whitespace().collect();
    let source_q = match title_words.as_slice() {
        [first, second, ..] => format!("{first}+{}", second.chars().take(3).collect::<String>()),
        [only] => only.chars().take(4).collect(),
        [] => "re".to_string(),
    };
    // The speaker of most claims, and the source cited for most.
    let speaker = diesel::sql_query(
        "SELECT speaker_id AS id FROM attributions WHERE speaker_id IS NOT NULL \
         GROUP BY speaker_id ORDER BY count(*) DESC, speaker_id LIMIT 1",
    )
    .load::<Id>(&mut *conn)?
    .into_iter()
    .next()
    .map(|r| r.id)
    .ok_or_else(|| anyhow::anyhow!("no speaker"))?;
    let cited_source = diesel::sql_query(
        "SELECT cited_source_id AS id FROM attributions WHERE cited_source_id IS NOT NULL \
         GROUP BY cited_source_id ORDER BY count(*) DESC, cited_source_id LIMIT 1",
    )
    .load::<Id>(&mut *conn)?
    .into_iter()
    .next()
    .map(|r| r.id)
    .ok_or_else(|| anyhow::anyhow!("no cited source"))?;
    let backed = |conn: &mut DbConnection, sql: String| count(conn, &sql);
    let publisher_backs = backed(
        &mut conn,
        format!(
            "SELECT count(*) AS n FROM (SELECT a.claim_id FROM sources s JOIN attributions a ON a.source_id = s.id \
             WHERE s.publisher_id = '{publisher}' UNION SELECT a.claim_id FROM sources s \
             JOIN attributions a ON a.cited_source_id = s.id WHERE s.publisher_id = '{publisher}' \
             UNION SELECT claim_id FROM attributions WHERE speaker_id = '{publisher}')"
        ),
    )?;
    let cited_publisher_claims = backed(
        &mut conn,
        format!(
            "SELECT count(DISTINCT a.claim_id) AS n FROM sources s JOIN attributions a ON a.cited_source_id = s.id \
             WHERE s.publisher_id = '{publisher}'"
        ),
    )?;
    let speaker_claims = backed(
        &mut conn,
        format!("SELECT count(DISTINCT claim_id) AS n FROM attributions WHERE speaker_id = '{speaker}'"),
    )?;
    let cited_claims = backed(
        &mut conn,
        format!("SELECT count(DISTINCT claim_id) AS n FROM attributions WHERE cited_source_id = '{cited_source}'"),
    )?;
    drop(conn);
    drop(db);
    let db_bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{url}{suffix}")).ok())
        .map(|m| m.len())
        .sum();

    let port = free_port()?;
    let mut server = start_server(&url, port)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
        let base = format!("http://127.0.0.1:{port}");
        wait_until_ready(&client, &base).await?;
        let get = |path: String| {
            let client = client.clone();
            let url = format!("{base}{path}");
            async move {
                let response = client.get(&url).send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                anyhow::ensure!(status.is_success(), "{url} answered {status}: {}", String::from_utf8_lossy(&body));
                Ok::<_, anyhow::Error>(body)
            }
        };

        // The deep pages: walk a list by cursor to ~90% of it.
        let depth = claims * 9 / 10;
        let walk_to = |list: &'static str| {
            let get = &get;
            async move {
                let mut cursor = String::new();
                let mut walked = 0;
                while walked + 200 <= depth {
                    let path = if cursor.is_empty() {
                        format!("{list}limit=200")
                    } else {
                        format!("{list}limit=200&cursor={cursor}")
                    };
                    let page: serde_json::Value = serde_json::from_slice(&get(path).await?)?;
                    walked += page["items"].as_array().map_or(0, Vec::len);
                    cursor = page["next_cursor"].as_str().unwrap_or_default().to_string();
                }
                let deep = if cursor.is_empty() { String::new() } else { format!("&cursor={cursor}") };
                Ok::<_, anyhow::Error>((deep, walked))
            }
        };
        let walk_started = Instant::now();
        let (deep, walked) = walk_to("/v1/claims?").await?;
        let walk = walk_started.elapsed();
        let (deep_stated, walked_stated) = walk_to("/v1/claims?sort=-stated_on&").await?;

        let period = "period_from=2020&period_to=2021";
        // The last row is informational (not one of the goals): ranking
        // every match of a common word costs what the matches cost.
        let scenarios: Vec<(String, Vec<String>)> = vec![
            ("claim card by id".into(), claim_ids.iter().map(|id| format!("/v1/claims/{id}")).collect()),
            ("first page (50, newest first)".into(), vec!["/v1/claims".into()]),
            (format!("page at depth {walked} by cursor"), vec![format!("/v1/claims?limit=50{deep}")]),
            (format!("q={common} (common: {common_hits} claims)"), vec![format!("/v1/claims?q={common}")]),
            (format!("q={rare} (rare: {rare_hits} claims)"), vec![format!("/v1/claims?q={rare}")]),
            (
                format!("publisher ({publisher_claims} claims) + period"),
                vec![format!("/v1/claims?publisher_id={publisher}&{period}")],
            ),
            (
                format!("publisher + period + q={common}, relevance"),
                vec![format!("/v1/claims?publisher_id={publisher}&{period}&q={common}&sort=relevance")],
            ),
            (
                format!("publisher + period + q={middling} ({middling_hits} claims), relevance"),
                vec![format!("/v1/claims?publisher_id={publisher}&{period}&q={middling}&sort=relevance")],
            ),
            (
                format!("q={common}, relevance, snippets (all {common_hits} ranked)"),
                vec![format!("/v1/claims?q={common}&sort=relevance&snippet=true")],
            ),
            // Findability (issue 13).
            (format!("agents by name, as typed: q={agent_q}"), vec![format!("/v1/agents?q={agent_q}")]),
            (format!("sources by name, as typed: q={source_q}"), vec![format!("/v1/sources?q={source_q}")]),
            (
                format!("an agent's claims, all roles ({publisher_backs} claims)"),
                vec![format!("/v1/agents/{publisher}/claims")],
            ),
            (
                format!("an agent's claims, role=cited_publisher ({cited_publisher_claims})"),
                vec![format!("/v1/agents/{publisher}/claims?role=cited_publisher")],
            ),
            (
                format!("a speaker's claims, role=speaker ({speaker_claims})"),
                vec![format!("/v1/agents/{speaker}/claims?role=speaker")],
            ),
            (
                format!("a source's claims, role=cited_source ({cited_claims})"),
                vec![format!("/v1/sources/{cited_source}/claims?role=cited_source")],
            ),
            (
                "an agent's claims, all roles, -stated_on".to_string(),
                vec![format!("/v1/agents/{publisher}/claims?sort=-stated_on")],
            ),
            ("sort=-stated_on, first page".into(), vec!["/v1/claims?sort=-stated_on".into()]),
            (
                format!("sort=-stated_on, page at depth {walked_stated}"),
                vec![format!("/v1/claims?sort=-stated_on&limit=50{deep_stated}")],
            ),
        ];
        let mut rows = Vec::new();
        let informational = 8;
        for (index, (name, paths)) in scenarios.into_iter().enumerate() {
            let requests = if index == informational { requests.min(20) } else { requests };
            let warmup = 20.min(requests);
            let mut timings = Vec::with_capacity(requests);
            let mut results = 0;
            for i in 0..warmup + requests {
                let path = paths[i % paths.len()].clone();
                let started = Instant::now();
                let body = get(path).await?;
                let elapsed = started.elapsed();
                if i >= warmup {
                    timings.push(elapsed);
                }
                if i == 0 {
                    let page: serde_json::Value = serde_json::from_slice(&body)?;
                    results = page["items"].as_array().map_or(1, Vec::len);
                }
            }
            timings.sort();
            let at = |q: f64| timings[((timings.len() as f64 * q) as usize).min(timings.len() - 1)];
            rows.push(Row { name, p50: at(0.50), p99: at(0.99), results: results.to_string() });
        }
        Ok::<_, anyhow::Error>((rows, walk, walked))
    });
    let peak_rss = status_kib(server.id(), "VmHWM");
    let file_rss = status_kib(server.id(), "RssFile");
    let _ = server.kill();
    let _ = server.wait();
    let (rows, walk, walked) = result?;

    println!();
    println!(
        "claimtrail claim list, SQLite, {claims} claims, {requests} requests per row, one client{}",
        if pinning() { " (server on core 0, client on core 1)" } else { "" }
    );
    println!("{:<60} {:>9} {:>9} {:>6}", "query", "p50 ms", "p99 ms", "items");
    println!("{}", "-".repeat(87));
    for row in &rows {
        println!(
            "{:<60} {:>9.2} {:>9.2} {:>6}",
            row.name,
            row.p50.as_secs_f64() * 1000.0,
            row.p99.as_secs_f64() * 1000.0,
            row.results
        );
    }
    println!("{}", "-".repeat(87));
    let ratio = |a: &Row, b: &Row| a.p50.as_secs_f64() / b.p50.as_secs_f64();
    println!(
        "deep page / first page (p50): {:.2}; p99: {:.2}",
        ratio(&rows[2], &rows[1]),
        rows[2].p99.as_secs_f64() / rows[1].p99.as_secs_f64()
    );
    let (first, deep) = (&rows[rows.len() - 2], &rows[rows.len() - 1]);
    println!(
        "-stated_on deep page / first page (p50): {:.2}; p99: {:.2}",
        ratio(deep, first),
        deep.p99.as_secs_f64() / first.p99.as_secs_f64()
    );
    println!("walk to depth {walked} in pages of 200: {:.1} s", walk.as_secs_f64());
    println!("database on disk: {:.1} MiB ({url})", db_bytes as f64 / (1024.0 * 1024.0));
    match (peak_rss, file_rss) {
        (Some(peak), Some(file)) => println!(
            "server peak RSS (VmHWM): {:.1} MiB; at the end {:.1} MiB of it were pages of the memory-mapped \
             database file (shared with the OS file cache)",
            peak as f64 / 1024.0,
            file as f64 / 1024.0
        ),
        (Some(peak), None) => println!("server peak RSS (VmHWM): {:.1} MiB", peak as f64 / 1024.0),
        _ => println!("server peak RSS: not available"),
    }
    // Every row but the informational one (ranking every match of a
    // common word) is a goal.
    let worst = rows.iter().enumerate().filter(|(i, _)| *i != 8).map(|(_, r)| r.p99).max().unwrap_or_default();
    println!(
        "goals: every p99 ≤ 20 ms (worst of the required rows: {:.2} ms), deep / first ≤ 1.5",
        worst.as_secs_f64() * 1000.0
    );
    Ok(())
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether server and client can run on cores of their own (`taskset`, two
/// or more cores): the server on core 0, this client on core 1.
fn pinning() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2 && Command::new("taskset").arg("-V").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn start_server(url: &str, port: u16) -> anyhow::Result<Child> {
    let binary = env!("CARGO_BIN_EXE_claimtrail");
    let mut command = if pinning() {
        let _ =
            Command::new("taskset").args(["-pc", "1", &std::process::id().to_string()]).stdout(Stdio::null()).status();
        let mut pinned = Command::new("taskset");
        pinned.args(["-c", "0", binary]);
        pinned
    } else {
        Command::new(binary)
    };
    command
        .args(["--database-url", url, "--bind", &format!("127.0.0.1:{port}"), "--no-seed", "--log", "warn", "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Ok(command.spawn()?)
}

async fn wait_until_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the server did not become ready")
}

/// A memory figure of a process (`VmHWM`: peak resident set; `RssFile`:
/// resident file-backed pages), in KiB, from /proc.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
