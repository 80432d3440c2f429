//! Export and import: a database moves between backends byte for byte, and
//! a bad file is refused whole, every bad line named.

use std::collections::HashMap;
use std::process::Command;

use claimtrail::db::write::StoreError;
use claimtrail::db::write::{Actor, Change, Tx};
use claimtrail::db::{Backend, Db, write_tx};
use claimtrail::http::{Body, MergePatch, Precondition, parse_body};
use claimtrail::{agents, attributions, claims, reviews, sources};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_fields, fresh_database, problem, spawn_app, spawn_app_with};
use crate::on_both_backends;

/// Claims in the round trip made by hand, with every edge case `fill` knows.
const CLAIMS: usize = 2_000;

/// Claims in the round trip made by `claimtrail generate`'s generator.
const GENERATED: usize = 10_000;

/// A create body, checked as the API checks it.
pub fn body<T: Body>(value: Value) -> T {
    let text = value.to_string();
    parse_body(value).unwrap_or_else(|e| panic!("{e:?} for {text}"))
}

fn patch_agent(tx: &mut Tx, id: &claimtrail::ids::AgentId, patch: Value) -> Result<(), StoreError> {
    agents::store::update(tx, id, Precondition::Any, &MergePatch(patch)).map(drop)
}

/// Archived text with many scripts, emoji, combining marks and right-to-left
/// text, long enough that quote offsets are far from the start.
fn long_content() -> String {
    (0..400)
        .map(|p| {
            format!(
                "¶{p} Selon l'ACSS, les violences ont fait 17 700 morts depuis 2012 — « un record ». \
                 😀 漢字 עברית e\u{301}té\ttab \"guillemets\" \\ barre.\n\n"
            )
        })
        .collect()
}

/// Fills a database with the seed data and what an export has to carry:
/// affiliation chains
/// whose members were made before their organisations (so ids alone would
/// order them wrongly) and a cycle; sources with and without long Unicode
/// content; `claims` claims with every kind of quantity (0.1, 1/3, large,
/// tiny, negative, ranges, none), tags that sort differently by collation,
/// partial dates, nulls and 5000-character texts; attributions whose quotes
/// are verified, not found or unchecked, citations, speakers; and changes
/// that raise versions and move `updated_at`. One write transaction.
pub fn fill(db: &Db, claims: usize) {
    claimtrail::seed::load(db).expect("the seed data loads");
    let mut conn = db.get().expect("a connection");
    write_tx(&mut conn, Change::now(Actor::Cli), |tx| -> Result<(), StoreError> {
        let person = agents::store::create(tx,
            body(json!({"kind": "person", "name": "Aminata Traoré 🇲🇱", "wikidata_id": "Q271930",
                "description": "ancienne ministre — « porte-parole »\nsecond line"})))?;
        let desk = agents::store::create(tx,
            body(json!({"kind": "organization", "name": "Bureau Afrique de l'Ouest", "url": "https://example.org/desk"})))?;
        let outlet = agents::store::create(tx, body(json!({"kind": "organization", "name": "Le Monde Afrique"})))?;
        patch_agent(tx, &person.id, json!({"affiliation_id": desk.id}))?;
        patch_agent(tx, &desk.id, json!({"affiliation_id": outlet.id}))?;
        let cycle_a = agents::store::create(tx, body(json!({"kind": "organization", "name": "Cycle A"})))?;
        let cycle_b = agents::store::create(tx,
            body(json!({"kind": "organization", "name": "Cycle B", "affiliation_id": cycle_a.id})))?;
        patch_agent(tx, &cycle_a.id, json!({"affiliation_id": cycle_b.id}))?;
        let anonymous = agents::store::create(tx,
            body(json!({"kind": "person", "name": "Un ancien ministre malien", "anonymous": true})))?;

        let article = sources::store::create(tx,
            body(json!({"kind": "article", "title": "Au Mali, « un record » 📈", "publisher_id": outlet.id,
                "url": "https://example.org/mali?a=1&b=é", "byline": "A. Traoré, B. Diallo",
                "published_on": "2025-11-18", "language": "fr", "content": long_content()})))?;
        let report = sources::store::create(tx,
            body(json!({"kind": "report", "title": "Sahel report", "published_on": "2025", "language": "en",
                "archived_url": "https://web.archive.org/web/2025/https://example.org/r"})))?;
        sources::store::update(tx,
            &report.id,
            Precondition::Any,
            &MergePatch(json!({"title": "Sahel report (revised)"})),
        )?;
        let dataset = sources::store::create(tx,
            body(json!({"kind": "dataset", "title": "ACLED", "published_on": "2024-07",
                "content": "Données : 17 700 morts depuis 2012."})))?;

        let quantities = [
            json!({"value": 0.1, "unit": "deaths", "comparator": "eq"}),
            json!({"value": 1.0 / 3.0, "unit": "share", "comparator": "approx"}),
            json!({"value": 17700, "unit": "deaths", "comparator": "gt"}),
            json!({"value": -42.5, "unit": "°C", "comparator": "lt"}),
            json!({"value": 1e-7, "unit": "m", "comparator": "gte"}),
            json!({"value": 6.02214076e23, "unit": "atoms", "comparator": "lte"}),
            json!({"value": 0.1, "upper": 0.30000000000000004, "unit": "USD", "comparator": "between"}),
            Value::Null,
        ];
        let tag_sets = [json!([]), json!(["Zeta", "alpha", "élan", "_x", "Ω"]), json!(["mining"])];
        let periods = [(json!("2012"), Value::Null), (json!("2020-03"), json!("2025-11-18")), (Value::Null, Value::Null)];
        let statuses = ["unreviewed", "supported", "disputed", "refuted", "unverifiable", "retracted"];
        let checker = agents::store::create(tx,
            body(json!({"kind": "organization", "name": "Vérif' Sahel", "url": "https://verif.example.org"})))?;
        let other_checker = agents::store::create(tx, body(json!({"kind": "organization", "name": "Other Check"})))?;
        for i in 0..claims {
            let text = if i % 1000 == 0 {
                "Long « texte » 長い ".repeat(400).chars().take(5000).collect()
            } else {
                format!("Claim {i}: « cité » \"quoted\" \\ back\nslash — 数字 {i} ✓")
            };
            let (start, end) = &periods[i % periods.len()];
            let language = ["fr", "en", "pt-BR"].get(i % 4);
            let claim = claims::store::create(tx,
                body(json!({
                    "text": text,
                    "kind": if i % 8 == 7 { "statement" } else { "quantity" },
                    "subject": if i % 2 == 0 { json!(format!("Sujet {}", i % 17)) } else { Value::Null },
                    "quantity": quantities[i % quantities.len()],
                    "period_start": start, "period_end": end,
                    "place": if i % 3 == 0 { json!("Mali") } else { Value::Null },
                    "tags": tag_sets[i % tag_sets.len()],
                    "status": statuses[i % statuses.len()],
                    "language": language,
                })))?;
            let attribution = match i % 5 {
                0 => json!({"source_id": article.id, "speaker_id": person.id, "mode": "quote", "locator": "¶42",
                    "quote": {"exact": "fait 17 700 morts", "prefix": "¶42 Selon l'ACSS, les violences ont ", "suffix": " depuis"}}),
                1 => json!({"source_id": article.id, "mode": "paraphrase", "quote": {"exact": format!("absent {i}")}}),
                2 => json!({"source_id": report.id, "mode": "paraphrase", "stance": "denies", "quote": {"exact": "x"}}),
                3 => json!({"source_id": article.id, "mode": "citation", "cited_source_id": dataset.id,
                    "stance": "questions", "stated_on": "2025-11"}),
                _ => json!({"source_id": dataset.id, "mode": "direct", "speaker_id": anonymous.id}),
            };
            let mut attribution = attribution;
            attribution["claim_id"] = json!(claim.id);
            attributions::store::create(tx, body(attribution))?;
            if i % 40 == 0 {
                let review = match i % 120 {
                    0 => json!({"reviewer_id": checker.id, "author_id": person.id, "status": "published",
                        "rating": {"label": "Faux « trompeur »", "value": 1.0 / 3.0, "best": 1, "worst": 0},
                        "url": format!("https://verif.example.org/{i}?é=1"), "published_on": "2025-11",
                        "language": "fr", "summary": "Résumé\nsur deux lignes 😀"}),
                    40 => json!({"reviewer_id": checker.id, "rating": {"label": "Draft"}}),
                    _ => json!({"reviewer_id": other_checker.id, "status": "withdrawn", "rating": {"label": "-0"}}),
                };
                let mut review = review;
                review["claim_id"] = json!(claim.id);
                let made = reviews::store::create(tx, body(review))?;
                if i % 400 == 0 {
                    reviews::store::update(tx, &made.id, Precondition::Any, &MergePatch(json!({"rating": {"label": "Vrai"}})))?;
                }
            }
            if i % 97 == 0 {
                claims::store::update(tx,
                    &claim.id,
                    Precondition::Any,
                    &MergePatch(json!({"status": "supported", "tags": ["revised", "Zeta"]})),
                )?;
            }
        }
        Ok(())
    })
    .expect("the sample data is written");
}

/// The export of a database, as bytes.
pub fn export_of(db: &Db) -> Vec<u8> {
    let mut conn = db.get().expect("a connection");
    let mut out = Vec::new();
    claimtrail::transfer::export(
        &mut conn,
        &mut out,
        claimtrail::transfer::Keys::Leave,
        claimtrail::transfer::History::Include,
    )
    .expect("the export runs");
    out
}

pub fn lines(export: &[u8]) -> Vec<Value> {
    std::str::from_utf8(export)
        .expect("an export is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

/// Byte equality, failing with the first differing line rather than megabytes.
fn assert_same_export(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let (a, e) = (String::from_utf8_lossy(actual), String::from_utf8_lossy(expected));
    let cut = |s: &str| s.chars().take(600).collect::<String>();
    for (n, (x, y)) in a.lines().zip(e.lines()).enumerate() {
        assert!(x == y, "{what}: line {} differs:\n  got      {}\n  expected {}", n + 1, cut(x), cut(y));
    }
    panic!("{what}: {} lines, expected {}", a.lines().count(), e.lines().count());
}

fn cli(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_claimtrail")).args(args).output().expect("the binary runs");
    assert!(
        output.status.success(),
        "claimtrail {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub async fn post_import(app: &TestApp, query: &str, ndjson: impl Into<reqwest::Body>) -> Response {
    app.anonymous(Method::POST, &format!("/v1/import{query}"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .expect("POST /v1/import answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_moves_from_sqlite_to_postgresql_and_back_byte_for_byte() {
    let (sqlite_url, _sqlite_dir) = fresh_database(Backend::Sqlite);
    let original = Db::connect(&sqlite_url, 2).expect("the SQLite database opens");
    fill(&original, CLAIMS);
    let generated = claimtrail::generate::generate(&original, GENERATED, 7).expect("the generator runs");
    assert_eq!(generated.claims, GENERATED);
    let first = export_of(&original);

    // The file itself: framed, in dependency order, affiliations first.
    let records = lines(&first);
    assert_eq!(records[0], json!({"type": "header", "data": {"format": "claimtrail", "version": 1, "history": true}}));
    let end = &records[records.len() - 1];
    assert_eq!(end["type"], "end");
    let seeded =
        |kind: &str| claimtrail::seed::records().expect("the seed records").iter().filter(|r| r.kind == kind).count();
    let expected = json!({"agents": 8 + generated.agents + seeded("agent"), "sources": 3 + generated.sources + seeded("source"),
        "claims": CLAIMS + GENERATED + seeded("claim"), "attributions": CLAIMS + generated.attributions + seeded("attribution"),
        "reviews": CLAIMS / 40,
        "revisions": records.iter().filter(|r| r["type"] == "revision").count()});
    assert_eq!(end["data"], expected);
    // History travels too: every record has at least its `create` revision.
    let records_made =
        ["agents", "sources", "claims", "attributions", "reviews"].iter().map(|k| expected[k].as_u64().unwrap()).sum();
    assert!(expected["revisions"].as_u64().unwrap() > records_made, "{expected}");
    assert!(seeded("claim") > 0 && seeded("attribution") > 0, "the seed data is part of the trip");
    let kinds: Vec<&str> = records.iter().map(|r| r["type"].as_str().expect("a type")).collect();
    let rank = |k: &str| {
        ["header", "agent", "source", "claim", "attribution", "review", "revision", "end"].iter().position(|x| *x == k)
    };
    assert!(kinds.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "records are not in dependency order");
    let agents: Vec<&Value> = records.iter().filter(|r| r["type"] == "agent").map(|r| &r["data"]).collect();
    let position: HashMap<&str, usize> =
        agents.iter().enumerate().map(|(i, a)| (a["id"].as_str().expect("an id"), i)).collect();
    let name_at = |i: usize| agents[i]["name"].as_str().expect("a name");
    for (i, agent) in agents.iter().enumerate() {
        if let Some(affiliation) = agent["affiliation_id"].as_str()
            && !name_at(i).starts_with("Cycle")
        {
            assert!(position[affiliation] < i, "{} comes before its affiliation", name_at(i));
        }
    }
    let last = agents.len() - 1;
    assert!(name_at(last - 1).starts_with("Cycle") && name_at(last).starts_with("Cycle"), "the cycle comes last");
    let text = String::from_utf8_lossy(&first);
    assert!(text.contains(r#""quantity":{"value":0.1,"upper":null,"unit":"deaths","comparator":"eq"}"#));
    assert!(text.contains(r#""quote_status":"verified""#) && text.contains(r#""quote_status":"not_found""#));
    assert!(text.contains(r#""quote_status":"unchecked""#));
    assert!(
        text.contains(r#""status":"draft""#) && text.contains(r#""status":"withdrawn""#),
        "every review state travels"
    );

    // SQLite → PostgreSQL, through the command line.
    let (pg_url, pg_dir) = fresh_database(Backend::Postgres);
    let first_file = pg_dir.path().join("first.ndjson");
    std::fs::write(&first_file, &first).expect("the export is written");
    let imported = cli(&["--database-url", &pg_url, "import", first_file.to_str().expect("a path")]);
    let summary = String::from_utf8_lossy(&imported.stdout);
    let counts = &end["data"];
    let expected = format!(
        "Imported {} agents, {} sources, {} claims, {} attributions",
        counts["agents"], counts["sources"], counts["claims"], counts["attributions"]
    );
    assert!(summary.contains(&expected), "{summary}");
    let second_file = pg_dir.path().join("second.ndjson");
    cli(&["--database-url", &pg_url, "export", "--output", second_file.to_str().expect("a path")]);
    let second = std::fs::read(&second_file).expect("the export was written");
    assert_same_export(&second, &first, "the export from PostgreSQL");

    // PostgreSQL → SQLite, through POST /v1/import.
    let app = spawn_app(Backend::Sqlite).await;
    let response = post_import(&app, "", second).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.expect("a report");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["imported"], end["data"]);
    assert_eq!(report["errors"], json!([]));
    let third = export_of(&app.db);
    assert_same_export(&third, &first, "the export after SQLite → PostgreSQL → SQLite");

    // The API serves the moved records as the original did.
    let claim = records.iter().find(|r| r["type"] == "claim").expect("a claim");
    let id = claim["data"]["id"].as_str().expect("an id");
    let response = app.get(&format!("/v1/claims/{id}")).await;
    assert_eq!(response.headers()["etag"], format!("\"{}\"", claim["data"]["version"]));
    let card: Value = response.json().await.expect("a claim card");
    for (field, value) in claim["data"].as_object().expect("an object") {
        assert_eq!(&card[field], value, "{field} of the claim card");
    }
}

/// A small file of good records, as an export writes them.
async fn small_export(app: &TestApp) -> (Vec<u8>, Value) {
    let outlet = app.create_agent("Le Monde").await;
    let source = app
        .create(
            "/v1/sources",
            json!({"kind": "article", "title": "T", "publisher_id": outlet["id"], "content": "il a dit « oui »"}),
        )
        .await;
    let claim = app.create("/v1/claims", json!({"text": "Il a dit oui.", "tags": ["b", "a"]})).await;
    app.create_attribution(
        json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "quote", "quote": {"exact": "oui"}}),
    )
    .await;
    (export_of(&app.db), outlet)
}

pub fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// A transfer file of these records: its header line first, its end line
/// (counting them) last.
pub fn transfer_file(records: &[Value]) -> String {
    let mut counts = json!({"agents": 0, "sources": 0, "claims": 0, "attributions": 0});
    for record in records {
        let kind = format!("{}s", record["type"].as_str().unwrap_or("thing"));
        if let Some(n) = counts.get_mut(&kind) {
            *n = json!(n.as_u64().unwrap() + 1);
        } else {
            counts[kind] = json!(1);
        }
    }
    let mut lines = vec![json!({"type": "header", "data": {"format": "claimtrail", "version": 1}})];
    lines.extend_from_slice(records);
    lines.push(json!({"type": "end", "data": counts}));
    ndjson(&lines)
}

on_both_backends! {
    async fn import_names_every_bad_line_and_writes_nothing(app: TestApp) {
        let id = |n: u32| format!("0193a7e0-7c1e-7000-8000-{n:012}");
        let good_agent = json!({"type": "agent", "data": {"id": id(1), "kind": "person", "name": "Good"}});
        let file = format!(
            "{}{}not json\n{}",
            ndjson(&[json!({"type": "header", "data": {"format": "claimtrail", "version": 1}}), good_agent]),
            "", // line 3 is the bad JSON
            ndjson(&[
                json!({"type": "agent", "data": {"id": id(2), "kind": "person", "name": "", "url": "javascript:x"}}),
                json!({"type": "source", "data": {"id": id(3), "kind": "article", "title": "T", "publisher_id": id(99)}}),
                json!({"type": "claim", "data": {"id": id(4), "text": "x", "created_at": "2025-01-01T00:00:00.0000001Z"}}),
                json!({"type": "attribution", "data": {"id": id(5), "claim_id": id(4), "source_id": id(3), "mode": "direct"}}),
                json!({"type": "source", "data": {"id": id(6), "kind": "article", "title": "T", "content": "abc", "content_sha256": "00"}}),
                json!({"type": "source", "data": {"id": id(7), "kind": "article", "title": "U", "content": "abc"}}),
                json!({"type": "claim", "data": {"id": id(8), "text": "y"}}),
                json!({"type": "attribution", "data": {"id": id(9), "claim_id": id(8), "source_id": id(7), "mode": "quote",
                    "quote": {"exact": "b"}, "quote_status": "not_found"}}),
                json!({"type": "claim", "data": {"id": id(10), "text": "z", "version": 0}}),
                json!({"type": "thing", "data": {}}),
                json!({"type": "end", "data": {"agents": 2, "sources": 3, "claims": 3, "attributions": 2}}),
            ])
        );
        let response = post_import(&app, "", file.clone()).await;
        let body = problem(response, 422).await;
        let fields = error_fields(&body);
        assert_eq!(
            fields,
            ["line 3", "line 4", "line 4", "line 5", "line 6", "line 7", "line 7", "line 8", "line 11", "line 12", "line 13"],
            "{body}"
        );
        let messages: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert!(messages[0].starts_with("is not valid JSON"), "{}", messages[0]);
        assert!(messages[1].starts_with("name:") && messages[2].starts_with("url:"), "{messages:?}");
        assert!(messages[3].starts_with("publisher_id: no agent with id"), "{}", messages[3]);
        assert!(messages[4].starts_with("created_at: must have at most microsecond precision"), "{}", messages[4]);
        assert!(messages[5..7].iter().any(|m| m.contains("claim") && m.contains("is on line 6")), "{messages:?}");
        assert!(messages[5..7].iter().any(|m| m.contains("source") && m.contains("is on line 5")), "{messages:?}");
        assert!(messages[7].starts_with("content_sha256:"), "{}", messages[7]);
        assert!(messages[8].contains("checking the quote against the source gives verified"), "{}", messages[8]);
        assert!(messages[9].starts_with("version:"), "{}", messages[9]);
        assert!(messages[10].starts_with("`type` must be one of"), "{}", messages[10]);
        assert!(app.list_all("/v1/agents").await.is_empty(), "the good agent was written");
        assert!(app.list_all("/v1/sources").await.is_empty());

        // A dry run finds the same lines, with the same answer.
        let dry = problem(post_import(&app, "?dry_run=true", file).await, 422).await;
        assert_eq!(dry["errors"], body["errors"]);
    }

    async fn a_dry_run_checks_everything_and_writes_nothing_then_the_import_keeps_ids_versions_and_times(app: TestApp) {
        let (file, outlet) = small_export(&app).await;
        let target = spawn_app(app.backend).await;
        let response = post_import(&target, "?dry_run=true", file.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = response.json().await.unwrap();
        // Five revisions: four creates, and the claim's card gaining the attribution.
        let imported = json!({"agents": 1, "sources": 1, "claims": 1, "attributions": 1, "revisions": 5});
        assert_eq!(report, json!({"dry_run": true, "imported": imported, "errors": [], "errors_not_listed": 0}));
        assert!(target.list_all("/v1/claims").await.is_empty(), "a dry run wrote");

        let response = post_import(&target, "", file.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(target.snapshot().await, app.snapshot().await);
        let moved: Value = target.get(&format!("/v1/agents/{}", outlet["id"].as_str().unwrap())).await.json().await.unwrap();
        assert_eq!(moved, outlet);
        assert_eq!(export_of(&target.db), file);
    }

    async fn importing_an_id_that_is_already_stored_is_a_409_naming_the_line_and_writes_nothing(app: TestApp) {
        let (file, _) = small_export(&app).await;
        let file = String::from_utf8(file).unwrap();
        let response = post_import(&app, "", file.clone()).await;
        let body = problem(response, 409).await;
        // The four records, and their five revisions.
        let taken: Vec<String> = (2..=10).map(|n| format!("line {n}")).collect();
        assert_eq!(error_fields(&body), taken);
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("already exists"), "{body}");
        // A file that mixes a taken id with bad lines is a 422: bad input first.
        let broken = file.replacen("\"name\":\"Le Monde\"", "\"name\":\"\"", 1);
        let body = problem(post_import(&app, "", broken).await, 422).await;
        assert!(error_fields(&body).contains(&"line 2".to_string()), "{body}");
        assert_eq!(app.list_all("/v1/agents").await.len(), 1);
    }

    async fn a_file_cut_short_or_missing_lines_is_refused(app: TestApp) {
        let (file, _) = small_export(&app).await;
        let target = spawn_app(app.backend).await;
        let text = String::from_utf8(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cut: String = lines[..lines.len() - 2].iter().map(|l| format!("{l}\n")).collect();
        let body = problem(post_import(&target, "", cut).await, 422).await;
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("cut short"), "{body}");
        let without_claim: String = lines.iter().filter(|l| !l.starts_with("{\"type\":\"claim\"")).map(|l| format!("{l}\n")).collect();
        let body = problem(post_import(&target, "", without_claim).await, 422).await;
        let messages = body["errors"].to_string();
        assert!(messages.contains("lines are missing"), "{body}");
        assert!(target.list_all("/v1/agents").await.is_empty());
    }

    async fn the_export_endpoint_streams_what_the_command_writes_to_admin_keys_only(app: TestApp) {
        // Content larger than a chunk of the stream.
        app.create("/v1/sources", json!({"kind": "report", "title": "Long", "content": "é ✓ ".repeat(40_000)})).await;
        let (file, _) = small_export(&app).await;
        assert!(file.len() > 3 * 64 * 1024, "the export fits in one chunk");
        let response = app.anonymous(Method::GET, "/v1/export").bearer_auth(&app.admin_key).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let streamed = response.bytes().await.unwrap();
        assert_same_export(&streamed, &file, "GET /v1/export");
        problem(app.anonymous(Method::GET, "/v1/export").send().await.unwrap(), 401).await;
        problem(app.request(Method::GET, "/v1/export").send().await.unwrap(), 403).await;
    }

    async fn an_export_with_keys_moves_the_keys_and_their_tokens_keep_working_with_their_scopes(app: TestApp) {
        let mut out = Vec::new();
        let counts = claimtrail::transfer::export(&mut app.db.get().unwrap(), &mut out, claimtrail::transfer::Keys::Include, claimtrail::transfer::History::Include)
            .expect("the export runs");
        assert_eq!(counts.keys, 3, "the test app's read, write and admin keys");
        let text = String::from_utf8(out.clone()).unwrap();
        for token in [&app.read_key, &app.write_key, &app.admin_key] {
            let secret = token.splitn(3, '_').nth(2).unwrap();
            assert!(!text.contains(secret), "the file holds a key's secret");
        }
        let keys: Vec<Value> = lines(&out).into_iter().filter(|l| l["type"] == "key").collect();
        assert_eq!(keys.len(), 3);
        assert_eq!(lines(&out).last().unwrap()["data"]["keys"], 3);
        // Without `--with-keys`, and over HTTP, no key leaves the database.
        assert!(!String::from_utf8(export_of(&app.db)).unwrap().contains("\"type\":\"key\""));
        let streamed = app.anonymous(Method::GET, "/v1/export").bearer_auth(&app.admin_key).send().await.unwrap();
        assert!(!streamed.text().await.unwrap().contains("\"type\":\"key\""));

        let target = spawn_app(app.backend).await;
        problem(target.anonymous(Method::GET, "/v1/export").bearer_auth(&app.admin_key).send().await.unwrap(), 401).await;
        let report: Value = post_import(&target, "", out.clone()).await.json().await.unwrap();
        assert_eq!(report["imported"]["keys"], 3, "{report}");
        // The moved tokens work, each with its own scope.
        let created = target
            .anonymous(Method::POST, "/v1/agents")
            .bearer_auth(&app.write_key)
            .json(&json!({"kind": "organization", "name": "Reuters"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let denied = target.anonymous(Method::POST, "/v1/agents").bearer_auth(&app.read_key).json(&json!({})).send().await.unwrap();
        problem(denied, 403).await;
        let exported = target.anonymous(Method::GET, "/v1/export").bearer_auth(&app.admin_key).send().await.unwrap();
        assert_eq!(exported.status(), StatusCode::OK);

        // Again: the ids are taken. A malformed key is a 422 naming its fields.
        let body = problem(post_import(&target, "", out).await, 409).await;
        // The three keys, and the revisions that made them.
        assert_eq!(error_fields(&body), ["line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]);
        let mut bad = keys[0].clone();
        bad["data"]["id"] = json!("has_underscore");
        bad["data"]["secret_sha256"] = json!("ABC");
        let file = transfer_file(&[bad]);
        let body = problem(post_import(&target, "", file).await, 422).await;
        let messages = body["errors"].to_string();
        assert!(messages.contains("id: must be 1 to 64 ASCII letters and digits"), "{body}");
        assert!(messages.contains("secret_sha256: must be 64 lowercase hexadecimal digits"), "{body}");
    }

    async fn a_quantity_of_minus_zero_is_stored_as_zero_on_both_backends(app: TestApp) {
        let body = json!({"text": "Nothing changed.", "quantity": {"value": -0.0, "unit": "%", "comparator": "eq"}});
        let response = app.post("/v1/claims", &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let claim: Value = response.json().await.unwrap();
        let export = String::from_utf8(export_of(&app.db)).unwrap();
        assert!(export.contains(r#""quantity":{"value":0.0,"#), "{export}");
        let fetched: Value = app.get(&format!("/v1/claims/{}", claim["id"].as_str().unwrap())).await.json().await.unwrap();
        assert_eq!(fetched["quantity"]["value"].to_string(), "0.0");
    }

    async fn import_needs_an_admin_key_and_an_ndjson_body(app: TestApp) {
        let file = transfer_file(&[json!({"type": "agent", "data": {"id": "0193a7e0-7c1e-7000-8000-000000000001", "kind": "person", "name": "A"}})]);
        let response = app.anonymous(Method::POST, "/v1/import").header("content-type", "application/x-ndjson").body(file.clone()).send().await.unwrap();
        problem(response, 401).await;
        let response = app.request(Method::POST, "/v1/import").header("content-type", "application/x-ndjson").body(file.clone()).send().await.unwrap();
        problem(response, 403).await;
        let response = app.anonymous(Method::POST, "/v1/import").bearer_auth(&app.admin_key).json(&json!({})).send().await.unwrap();
        problem(response, 415).await;
        let response = post_import(&app, "?dry_run=maybe", file.clone()).await;
        assert_eq!(error_fields(&problem(response, 400).await), ["dry_run"]);
        let response = post_import(&app, "", file).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(app.list_all("/v1/agents").await.len(), 1);
    }

    async fn an_agent_file_in_any_order_imports_with_forward_affiliations(app: TestApp) {
        let id = |n: u32| format!("0193a7e0-7c1e-7000-8000-{n:012}");
        let records = [
            json!({"type": "agent", "data": {"id": id(1), "kind": "person", "name": "Member", "affiliation_id": id(2)}}),
            json!({"type": "agent", "data": {"id": id(2), "kind": "organization", "name": "Org", "affiliation_id": id(3),
                "created_at": "2020-01-01T00:00:00Z", "updated_at": "2021-06-01T12:00:00.5Z", "version": 4}}),
            json!({"type": "agent", "data": {"id": id(3), "kind": "organization", "name": "Parent"}}),
            json!({"type": "agent", "data": {"id": id(4), "kind": "person", "name": "Nowhere", "affiliation_id": id(5)}}),
        ];
        let file = transfer_file(&records);
        let body = problem(post_import(&app, "", file).await, 422).await;
        assert_eq!(error_fields(&body), ["line 5"]);
        assert!(body["errors"][0]["message"].as_str().unwrap().starts_with("affiliation_id: no agent with id"), "{body}");
        let good = transfer_file(&records[..3]);
        assert_eq!(post_import(&app, "", good).await.status(), StatusCode::OK);
        let org: Value = app.get(&format!("/v1/agents/{}", id(2))).await.json().await.unwrap();
        assert_eq!(org["affiliation_id"], id(3));
        assert_eq!((org["version"].as_i64(), org["created_at"].as_str()), (Some(4), Some("2020-01-01T00:00:00Z")));
        assert_eq!(org["updated_at"], "2021-06-01T12:00:00.500Z");
        let names: Vec<String> = lines(&export_of(&app.db))
            .iter()
            .filter(|l| l["type"] == "agent")
            .map(|l| l["data"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["Parent", "Org", "Member"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_body_over_the_configured_limit_is_a_413() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.max_import_bytes = 64).await;
    let file = ndjson(&[
        json!({"type": "agent", "data": {"id": "0193a7e0-7c1e-7000-8000-000000000001", "kind": "person", "name": "A long enough name"}}),
    ]);
    problem(post_import(&app, "", file).await, 413).await;
}

#[test]
fn the_import_command_lists_bad_lines_and_fails_and_a_dry_run_writes_nothing() {
    let (url, dir) = fresh_database(Backend::Sqlite);
    let file = dir.path().join("in.ndjson");
    let agent =
        json!({"type": "agent", "data": {"id": "0193a7e0-7c1e-7000-8000-000000000001", "kind": "person", "name": "A"}});
    std::fs::write(
        &file,
        transfer_file(&[agent.clone(), json!({"type": "agent", "data": {"kind": "person", "name": "B"}})]),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_claimtrail"))
        .args(["--database-url", &url, "import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3: id: is required"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "bad input exits with 1");

    std::fs::write(&file, transfer_file(&[agent])).unwrap();
    let output = cli(&["--database-url", &url, "import", "--dry-run", file.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("Dry run: every line is good; an import would write 1 agents")
    );
    let export = cli(&["--database-url", &url, "export"]);
    assert!(!String::from_utf8_lossy(&export.stdout).contains("\"type\":\"agent\""), "the dry run wrote");

    cli(&["--database-url", &url, "keys", "create", "--name", "desk", "--scope", "write"]);
    let without = cli(&["--database-url", &url, "export"]);
    assert!(!String::from_utf8_lossy(&without.stdout).contains("\"type\":\"key\""));
    let with = cli(&["--database-url", &url, "export", "--with-keys"]);
    let keys: Vec<Value> = lines(&with.stdout).into_iter().filter(|l| l["type"] == "key").collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["data"]["name"], "desk");
    assert_eq!(keys[0]["data"]["scope"], "write");
}
