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
//! and reused), `BENCH_REQUESTS` (timed requests per row, default 500),
//! `BENCH_COMPARE` (other builds to time alongside this one, as
//! `name=binary …`, e.g. `before=/tmp/claimtrail-e9249eb`: each gets a
//! server of its own on the same database, and every row's requests
//! alternate between the builds; a query an older build does not have
//! shows `n/a`), `BENCH_ROWS` (only the rows whose name contains one of
//! these comma-separated words, e.g. `first page,depth`; the walks to the
//! deep pages are skipped when no `depth` row is asked for).
//!
//! The server runs as its own process (so that its peak RSS can be read
//! from /proc) with its default settings; one client sends one request at
//! a time over a kept-alive connection. Printed: p50 and p99 per query, the
//! deep-page / first-page ratio, the database size and the server's peak
//! RSS. Goals: every p99 ≤ 20 ms (but informational rows: two common words
//! by relevance, unfiltered, which ranks every match, an uncommon word
//! newest first, and a search never run before, whose IDFs SQLite's
//! relevance counts, see `src/db/bm25.rs`), deep / first ≤ 1.5 (newest first and `-stated_on`).

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
    /// p50 and p99 per build; none where a compared build failed it.
    figures: Vec<Option<(Duration, Duration)>>,
    results: String,
    /// Not one of the goals.
    informational: bool,
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
    // one claim in eight), an uncommon one (about one in a hundred: enough
    // matches that a page walks the claims rather than reading them), a
    // middling one and a rare one.
    let common = vocabulary_word(6);
    let common2 = vocabulary_word(7);
    let uncommon = vocabulary_word(100);
    let middling = vocabulary_word(250);
    let rare = vocabulary_word(40_000);
    let hits = |conn: &mut DbConnection, word: &str| {
        count(conn, &format!("SELECT count(*) AS n FROM claims_fts WHERE claims_fts MATCH '\"{word}\"'"))
    };
    let common_hits = hits(&mut conn, &common)?;
    let uncommon_hits = hits(&mut conn, &uncommon)?;
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

    // This build, and the builds to compare it with, each a server of its
    // own on the same database; every row's requests alternate between
    // them (A B A B), so that a slower moment of the machine costs each the
    // same.
    let mut builds: Vec<(String, String)> = std::env::var("BENCH_COMPARE")
        .unwrap_or_default()
        .split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((name, binary)) => (name.to_string(), binary.to_string()),
            None => (pair.to_string(), pair.to_string()),
        })
        .collect();
    builds.push(("this".to_string(), env!("CARGO_BIN_EXE_claimtrail").to_string()));
    let mut servers = Vec::new();
    for (name, binary) in &builds {
        let port = free_port()?;
        servers.push((name.clone(), start_server(binary, &url, port)?, format!("http://127.0.0.1:{port}")));
    }
    let bases: Vec<String> = servers.iter().map(|(_, _, base)| base.clone()).collect();
    let only: Vec<String> = std::env::var("BENCH_ROWS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|word| name.contains(word.as_str()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(bases.len()).build()?;
        for base in &bases {
            wait_until_ready(&client, base).await?;
        }
        // A failed request is an error for this build; a build compared
        // with it may not have that query yet, and shows no figures for it.
        let get = |base: String, path: String| {
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

        // The deep pages: each build walks a list by cursor to ~90% of it
        // (cursors are each build's own).
        let depth = claims * 9 / 10;
        let walk_to = |base: String, list: &'static str| {
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
                    let page: serde_json::Value = serde_json::from_slice(&get(base.clone(), path).await?)?;
                    walked += page["items"].as_array().map_or(0, Vec::len);
                    cursor = page["next_cursor"].as_str().unwrap_or_default().to_string();
                }
                let deep = if cursor.is_empty() { String::new() } else { format!("&cursor={cursor}") };
                Ok::<_, anyhow::Error>((deep, walked))
            }
        };
        let mut walks = Vec::new();
        let mut deep = Vec::new();
        let mut deep_stated = Vec::new();
        let mut walked = 0;
        let mut walked_stated = 0;
        for base in bases.iter().filter(|_| wanted("depth")) {
            let walk_started = Instant::now();
            let (cursor, n) = walk_to(base.clone(), "/v1/claims?").await?;
            walks.push(walk_started.elapsed());
            deep.push(cursor);
            walked = n;
            match walk_to(base.clone(), "/v1/claims?sort=-stated_on&").await {
                Ok((cursor, n)) => {
                    deep_stated.push(Some(cursor));
                    walked_stated = n;
                }
                Err(_) => deep_stated.push(None),
            }
        }

        let period = "period_from=2020&period_to=2021";
        // The same paths for every build.
        let all = |paths: Vec<String>| vec![Some(paths); bases.len()];
        let scenarios: Vec<(String, Vec<Option<Vec<String>>>)> = vec![
            ("claim card by id".into(), all(claim_ids.iter().map(|id| format!("/v1/claims/{id}")).collect())),
            ("first page (50, newest first)".into(), all(vec!["/v1/claims".into()])),
            (
                format!("page at depth {walked} by cursor"),
                deep.iter().map(|cursor| Some(vec![format!("/v1/claims?limit=50{cursor}")])).collect(),
            ),
            (format!("q={common} (common: {common_hits} claims)"), all(vec![format!("/v1/claims?q={common}")])),
            (format!("q={uncommon} (uncommon: {uncommon_hits} claims)"), all(vec![format!("/v1/claims?q={uncommon}")])),
            (format!("q={rare} (rare: {rare_hits} claims)"), all(vec![format!("/v1/claims?q={rare}")])),
            (
                format!("publisher ({publisher_claims} claims) + period"),
                all(vec![format!("/v1/claims?publisher_id={publisher}&{period}")]),
            ),
            (
                format!("publisher + period + q={common}, relevance"),
                all(vec![format!("/v1/claims?publisher_id={publisher}&{period}&q={common}&sort=relevance")]),
            ),
            // The same search written another way each time (the word's
            // letters in other cases: the same matches, another query
            // text), so that no IDF kept from an earlier run of it helps.
            (
                format!("publisher + period + q={common}, relevance, new query text each time"),
                all(case_variants(&common, 256)
                    .into_iter()
                    .map(|word| format!("/v1/claims?publisher_id={publisher}&{period}&q={word}&sort=relevance"))
                    .collect()),
            ),
            (
                format!("publisher + period + q={middling} ({middling_hits} claims), relevance"),
                all(vec![format!("/v1/claims?publisher_id={publisher}&{period}&q={middling}&sort=relevance")]),
            ),
            // Relevance unfiltered (the performance issue's goal): one word
            // from `claim_terms` (src/claims/listing/top.rs), two ranked whole.
            (format!("q={common}, relevance"), all(vec![format!("/v1/claims?q={common}&sort=relevance")])),
            (
                format!("q={common}, relevance, new query text each time"),
                all(case_variants(&common, 256)
                    .into_iter()
                    .map(|word| format!("/v1/claims?q={word}&sort=relevance"))
                    .collect()),
            ),
            (format!("q={uncommon}, relevance"), all(vec![format!("/v1/claims?q={uncommon}&sort=relevance")])),
            (
                format!("q={common} {common2} (two words), relevance"),
                all(vec![format!("/v1/claims?q={common}%20{common2}&sort=relevance")]),
            ),
            (
                format!("q={common} {uncommon} (two words), relevance"),
                all(vec![format!("/v1/claims?q={common}%20{uncommon}&sort=relevance")]),
            ),
            // "Mali", which the generator's templates put in most claims,
            // and a common word: one weighs far less than the other, so the
            // server takes the pair from `claim_terms`.
            (
                format!("q=mali {common} (two words, one in most claims), relevance"),
                all(vec![format!("/v1/claims?q=mali%20{common}&sort=relevance")]),
            ),
            // Words in most claims ("the" in 83 %, "since" in 75 % at a
            // million generated claims, "mali" in 56 %), two together and
            // beside a common word: ranked from posting lists kept in
            // memory once they are read.
            (
                "q=mali the (two words in most claims), relevance".into(),
                all(vec!["/v1/claims?q=mali%20the&sort=relevance".into()]),
            ),
            (
                "q=the since (two words in most claims), relevance".into(),
                all(vec!["/v1/claims?q=the%20since&sort=relevance".into()]),
            ),
            (
                format!("q=the {common} (two words, one in most claims), relevance"),
                all(vec![format!("/v1/claims?q=the%20{common}&sort=relevance")]),
            ),
            (
                format!("q={common} since (two words, one in most claims), relevance"),
                all(vec![format!("/v1/claims?q={common}%20since&sort=relevance")]),
            ),
            (format!("q={rare}, relevance"), all(vec![format!("/v1/claims?q={rare}&sort=relevance")])),
            (
                format!("q={common}, relevance, snippets"),
                all(vec![format!("/v1/claims?q={common}&sort=relevance&snippet=true")]),
            ),
            // Findability (issue 13).
            (format!("agents by name, as typed: q={agent_q}"), all(vec![format!("/v1/agents?q={agent_q}")])),
            (format!("sources by name, as typed: q={source_q}"), all(vec![format!("/v1/sources?q={source_q}")])),
            (
                format!("an agent's claims, all roles ({publisher_backs} claims)"),
                all(vec![format!("/v1/agents/{publisher}/claims")]),
            ),
            (
                format!("an agent's claims, role=cited_publisher ({cited_publisher_claims})"),
                all(vec![format!("/v1/agents/{publisher}/claims?role=cited_publisher")]),
            ),
            (
                format!("a speaker's claims, role=speaker ({speaker_claims})"),
                all(vec![format!("/v1/agents/{speaker}/claims?role=speaker")]),
            ),
            (
                format!("a source's claims, role=cited_source ({cited_claims})"),
                all(vec![format!("/v1/sources/{cited_source}/claims?role=cited_source")]),
            ),
            (
                "an agent's claims, all roles, -stated_on".to_string(),
                all(vec![format!("/v1/agents/{publisher}/claims?sort=-stated_on")]),
            ),
            ("sort=-stated_on, first page".into(), all(vec!["/v1/claims?sort=-stated_on".into()])),
            (
                format!("sort=-stated_on, page at depth {walked_stated}"),
                deep_stated
                    .iter()
                    .map(|cursor| cursor.as_ref().map(|c| vec![format!("/v1/claims?sort=-stated_on&limit=50{c}")]))
                    .collect(),
            ),
        ];
        let this = bases.len() - 1;
        let mut rows = Vec::new();
        // Rows that are not met goals: an uncommon word newest first, whose
        // page walks thousands of claims, and query texts never run before.
        // (Two common words of like weight, ranked whole by FTS5 until
        // they were ranked from posting lists kept in memory, were
        // informational and ran 20 requests; the first such search after
        // a commit reads the lists, in the warm-up here.)
        let informational = |name: &str| name.contains("(uncommon:") || name.contains("new query text");
        for (name, paths) in scenarios {
            if !wanted(&name) {
                continue;
            }
            let mut requests = requests;
            let warmup = 20.min(requests);
            // A row of distinct paths never repeats one.
            if name.contains("new query text") {
                let distinct = paths.iter().flatten().map(Vec::len).min().unwrap_or(0);
                requests = requests.min(distinct.saturating_sub(warmup));
            }
            let mut timings: Vec<Vec<Duration>> = vec![Vec::with_capacity(requests); bases.len()];
            let mut failed = vec![false; bases.len()];
            let mut results = 0;
            for i in 0..warmup + requests {
                for (build, base) in bases.iter().enumerate() {
                    let Some(paths) = paths[build].as_ref().filter(|_| !failed[build]) else { continue };
                    let path = paths[i % paths.len()].clone();
                    let started = Instant::now();
                    let body = match get(base.clone(), path).await {
                        Ok(body) => body,
                        Err(error) if build == this => return Err(error),
                        Err(_) => {
                            failed[build] = true;
                            continue;
                        }
                    };
                    let elapsed = started.elapsed();
                    if i >= warmup {
                        timings[build].push(elapsed);
                    }
                    if i == 0 && build == this {
                        let page: serde_json::Value = serde_json::from_slice(&body)?;
                        results = page["items"].as_array().map_or(1, Vec::len);
                    }
                }
            }
            let figures = timings
                .into_iter()
                .zip(&failed)
                .map(|(mut timings, failed)| {
                    if *failed || timings.is_empty() {
                        return None;
                    }
                    timings.sort();
                    let at = |q: f64| timings[((timings.len() as f64 * q) as usize).min(timings.len() - 1)];
                    Some((at(0.50), at(0.99)))
                })
                .collect();
            let informational = informational(&name);
            rows.push(Row { name, figures, results: results.to_string(), informational });
        }
        Ok::<_, anyhow::Error>((rows, walks, walked))
    });
    let mut memory = Vec::new();
    for (name, mut server, _) in servers {
        let pid = server.id();
        let now = ["VmRSS", "RssAnon"].map(|field| status_kib(pid, field));
        let pss = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok().and_then(|rollup| {
            rollup.lines().find(|l| l.starts_with("Pss:"))?.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        memory.push((name, status_kib(pid, "VmHWM"), status_kib(pid, "RssFile"), now, pss));
        let _ = server.kill();
        let _ = server.wait();
    }
    let (rows, walks, walked) = result?;
    let this = builds.len() - 1;

    println!();
    println!(
        "claimtrail claim list, SQLite, {claims} claims, {requests} requests per row, one client{}",
        if pinning() { " (servers on core 0, client on core 1)" } else { "" }
    );
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    if builds.len() > 1 {
        println!(
            "builds, each row's requests alternating between them: {}",
            builds.iter().map(|(name, binary)| format!("{name} ({binary})")).collect::<Vec<_>>().join(", ")
        );
    }
    let mut header = format!("{:<60}", "query");
    for (name, _) in &builds {
        let tag = if builds.len() > 1 { format!(" {name}") } else { String::new() };
        header.push_str(&format!(" {:>14} {:>14}", format!("p50 ms{tag}"), format!("p99 ms{tag}")));
    }
    // Each build's p50 over the one before it.
    for pair in builds.windows(2) {
        header.push_str(&format!(" {:>22}", format!("p50 {}/{}", pair[1].0, pair[0].0)));
    }
    header.push_str(&format!(" {:>6}", "items"));
    println!("{header}");
    println!("{}", "-".repeat(header.chars().count()));
    for row in &rows {
        let mut line = format!("{:<60}", row.name);
        for figures in &row.figures {
            match figures {
                Some((p50, p99)) => line.push_str(&format!(" {:>14} {:>14}", ms(*p50), ms(*p99))),
                None => line.push_str(&format!(" {:>14} {:>14}", "n/a", "n/a")),
            }
        }
        for pair in row.figures.windows(2) {
            match (pair[0], pair[1]) {
                (Some((before, _)), Some((after, _))) => {
                    line.push_str(&format!(" {:>22.2}", after.as_secs_f64() / before.as_secs_f64()))
                }
                _ => line.push_str(&format!(" {:>22}", "n/a")),
            }
        }
        line.push_str(&format!(" {:>6}", row.results));
        println!("{line}");
    }
    println!("{}", "-".repeat(header.chars().count()));
    let this_figures = |row: &Row| row.figures[this].unwrap_or_default();
    let ratio = |deep: &Row, first: &Row| {
        let ((deep50, deep99), (first50, first99)) = (this_figures(deep), this_figures(first));
        (deep50.as_secs_f64() / first50.as_secs_f64(), deep99.as_secs_f64() / first99.as_secs_f64())
    };
    let named = |prefix: &str| rows.iter().find(|row| row.name.starts_with(prefix));
    if let (Some(deep), Some(first)) = (named("page at depth"), named("first page")) {
        let (p50, p99) = ratio(deep, first);
        println!("deep page / first page (p50): {p50:.2}; p99: {p99:.2}");
    }
    if let (Some(deep), Some(first)) = (named("sort=-stated_on, page at depth"), named("sort=-stated_on, first page")) {
        let (p50, p99) = ratio(deep, first);
        println!("-stated_on deep page / first page (p50): {p50:.2}; p99: {p99:.2}");
    }
    for ((name, _), walk) in builds.iter().zip(&walks) {
        println!("walk to depth {walked} in pages of 200 ({name}): {:.1} s", walk.as_secs_f64());
    }
    println!("database on disk: {:.1} MiB ({url})", db_bytes as f64 / (1024.0 * 1024.0));
    let mib = |kib: Option<u64>| kib.map_or("n/a".to_string(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0));
    for (name, peak, file, [rss, anon], pss) in memory {
        println!("server memory at the end ({name}): VmRSS {}, PSS {}, RssAnon {}", mib(rss), mib(pss), mib(anon));
        match (peak, file) {
            (Some(peak), Some(file)) => println!(
                "server peak RSS (VmHWM, {name}): {:.1} MiB; at the end {:.1} MiB of it were pages of the \
                 memory-mapped database file (shared with the OS file cache)",
                peak as f64 / 1024.0,
                file as f64 / 1024.0
            ),
            (Some(peak), None) => println!("server peak RSS (VmHWM, {name}): {:.1} MiB", peak as f64 / 1024.0),
            _ => println!("server peak RSS ({name}): not available"),
        }
    }
    // Every row but the informational ones is a goal.
    let worst = rows.iter().filter(|row| !row.informational).map(|row| this_figures(row).1).max().unwrap_or_default();
    println!("goals: every p99 ≤ 20 ms (worst of the required rows: {} ms), deep / first ≤ 1.5", ms(worst));
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

fn start_server(binary: &str, url: &str, port: u16) -> anyhow::Result<Child> {
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

/// Up to `n` spellings of `word` with its letters in other cases (the
/// first is the word as it is).
fn case_variants(word: &str, n: usize) -> Vec<String> {
    let letters: Vec<char> = word.chars().collect();
    let count = 1usize.checked_shl(letters.len().min(20) as u32).unwrap_or(usize::MAX).min(n);
    (0..count)
        .map(|mask| {
            letters
                .iter()
                .enumerate()
                .map(|(i, c)| if i < 20 && mask & (1 << i) != 0 { c.to_ascii_uppercase() } else { *c })
                .collect()
        })
        .collect()
}
