//! Bulk writes: an import derives what single writes derive, on both
//! backends, whatever it drops and builds again or defers for speed
//! (indexes, triggers, the refresh of each claim), and a failed, refused or
//! dry-run import leaves the schema and the pooled connection's settings
//! as they were.

use claimtrail::db::write::{Actor, Change};
use claimtrail::{attributions, claims};
use diesel::connection::SimpleConnection;
use std::time::Duration;

use claimtrail::db::{Backend, Db, DbOptions, FileUse, write_tx};
use claimtrail::http::{MergePatch, Precondition};
use serde_json::{Value, json};

use crate::helpers::{fresh_database, lines_of, run_sql};
use crate::transfer::{body, export_of, fill, lines, ndjson};

/// What SQLite derives from a database's records: each claim's search
/// document, its `stated_on`, its backers and its list item's sources, one
/// line per row, in id order (the documents' rowids left out: they number
/// insertions), each document's terms (`claim_terms`); and the definitions
/// of the indexes a bulk write drops and builds again (the backers' and
/// the terms' in a large one; the claims', tags' and attributions' in a
/// nearly empty database), checked against their tables, and of the
/// triggers a bulk write drops and makes again (the statings' and the
/// backers'; the terms' in a large one).
fn derived_rows(db: &Db) -> Vec<String> {
    let queries = [
        "SELECT 'doc ' || claim_id || ' ' || text || ' ' || coalesce(subject, '-') || ' ' || coalesce(quotes, '-')
            || ' ' || coalesce(facets, '-') || ' ' || coalesce(language, '-') || ' ' || coalesce(stems, '-') AS line
         FROM claim_documents ORDER BY claim_id",
        "SELECT 'claim ' || id || ' ' || coalesce(stated_on, '-') AS line FROM claims ORDER BY id",
        "SELECT 'backer ' || claim_id || ' ' || backer_id || ' ' || roles || ' ' || created_at || ' '
            || coalesce(period_start, '-') || ' ' || coalesce(stated_on, '-') AS line
         FROM claim_backers ORDER BY claim_id, backer_id",
        "SELECT 'statings ' || claim_id || ' ' || attribution_count || ' ' || source_count || ' ' || first_sources AS line
         FROM claim_statings ORDER BY claim_id",
        "SELECT 'terms ' || d.claim_id || ' ' || t.term || ' ' || t.written || ' ' || t.stemmed || ' ' || t.length AS line
         FROM claim_terms t JOIN claim_documents d ON d.doc = t.doc ORDER BY d.claim_id, t.term",
        "SELECT 'index ' || name || ' ' || sql AS line FROM sqlite_schema
         WHERE type = 'index' AND tbl_name IN ('claim_backers', 'claim_terms', 'claims', 'claim_tags', 'attributions')
         AND sql IS NOT NULL ORDER BY name",
        "SELECT 'trigger ' || name || ' ' || sql AS line FROM sqlite_schema
         WHERE type = 'trigger' AND tbl_name IN ('claim_terms', 'claim_statings_stale', 'claim_backers_stale')
         ORDER BY name",
        "SELECT 'integrity ' || integrity_check AS line FROM pragma_integrity_check('claim_backers')",
        "SELECT 'integrity ' || integrity_check AS line FROM pragma_integrity_check('claim_terms')",
        "SELECT 'integrity ' || integrity_check AS line FROM pragma_integrity_check('claims')",
        "SELECT 'integrity ' || integrity_check AS line FROM pragma_integrity_check('claim_tags')",
        "SELECT 'integrity ' || integrity_check AS line FROM pragma_integrity_check('attributions')",
    ];
    let mut rows: Vec<String> = queries.iter().flat_map(|query| lines_of(db, query)).collect();
    // `claim_terms` holds what FTS5 indexed: a "rows N" line, no other.
    rows.extend(crate::relevance::claim_terms_against_fts5(db));
    // The full-text index holds exactly the documents (an error if not).
    run_sql(db, "INSERT INTO claims_fts (claims_fts, rank) VALUES ('integrity-check', 1)");
    rows
}

fn import_into(db: &Db, file: &str) {
    let mut conn = db.get().expect("a connection");
    let report =
        claimtrail::transfer::import(&mut conn, file.as_bytes(), false, Change::now(Actor::Import), FileUse::Shared)
            .expect("the import runs");
    assert_eq!(report.errors.len(), 0, "{:?}", report.errors);
}

/// A transfer file of some of an export's records, with their counts.
fn part_of(records: &[Value], kinds: &[&str]) -> String {
    let mut counts = json!({"agents": 0, "sources": 0, "claims": 0, "attributions": 0});
    let mut part = vec![records[0].clone()];
    for record in records.iter().filter(|r| kinds.contains(&r["type"].as_str().unwrap_or_default())) {
        let key = format!("{}s", record["type"].as_str().unwrap_or_default());
        counts[&key] = json!(counts[&key].as_u64().unwrap_or(0) + 1);
        part.push(record.clone());
    }
    part.push(json!({"type": "end", "data": counts}));
    ndjson(&part)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_derives_the_search_documents_dates_and_backers_that_single_writes_derived() {
    // Single writes: every claim, tag and attribution refreshes its claim.
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let original = Db::connect(&url, 2).expect("the SQLite database opens");
    // More claims than a bulk write defers indexes below: the split import's
    // second part keeps the claims' indexes, its first part does not.
    fill(&original, claimtrail::db::DEFER_INDEXES_BELOW as usize + 200);
    let expected = derived_rows(&original);
    assert!(expected.iter().any(|r| r.starts_with("backer ")), "the sample has backers");
    assert!(expected.iter().any(|r| r.starts_with("claim ") && !r.ends_with(" -")), "and dated claims");
    assert_eq!(expected.iter().filter(|r| r.starts_with("index ")).count(), 19, "{expected:?}");
    assert_eq!(expected.iter().filter(|r| *r == "integrity ok").count(), 5, "{expected:?}");
    assert_eq!(expected.iter().filter(|r| r.starts_with("trigger ")).count(), 4, "{expected:?}");
    assert!(expected.iter().any(|r| r.starts_with("terms ")), "the sample has terms");
    let records = lines(&export_of(&original));

    // One bulk write: each claim refreshed once, at the end.
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let whole = Db::connect(&url, 2).expect("the SQLite database opens");
    import_into(&whole, &ndjson(&records));
    assert_eq!(derived_rows(&whole), expected, "one import of the whole file");

    // Attributions added by a bulk write to claims already stored. Both
    // imports go into a database with planner statistics: it keeps them for
    // the indexes each builds again. The first, into an empty database,
    // builds the claims' and tags' indexes at its end; the second, into more
    // claims than that is done below, the backers' and the terms' (a large
    // refresh).
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let split = Db::connect(&url, 2).expect("the SQLite database opens");
    run_sql(&split, "ANALYZE");
    let analysed =
        "SELECT DISTINCT idx AS line FROM sqlite_stat1 WHERE idx IN (SELECT name FROM sqlite_schema) ORDER BY idx";
    let indexes_of = |tables: &str| {
        format!(
            "SELECT name AS line FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
             AND NOT sql LIKE 'CREATE UNIQUE%' AND tbl_name IN ({tables}) ORDER BY name"
        )
    };
    import_into(&split, &part_of(&records, &["agent", "source", "claim"]));
    let after_first = lines_of(&split, analysed);
    let deferred = lines_of(&split, &indexes_of("'claims', 'claim_tags'"));
    assert_eq!(deferred.len(), 10, "{deferred:?}");
    let missing: Vec<&String> = deferred.iter().filter(|i| !after_first.contains(i)).collect();
    assert!(missing.is_empty(), "indexes built again without statistics: {missing:?}");
    // An index built again gets a new root page; one kept keeps its own.
    let roots = "SELECT name || ' ' || rootpage AS line FROM sqlite_schema
        WHERE type = 'index' AND tbl_name IN ('claims', 'claim_tags', 'attributions') ORDER BY name";
    let roots_before = lines_of(&split, roots);
    import_into(&split, &part_of(&records, &["attribution", "review", "revision"]));
    assert_eq!(lines_of(&split, roots), roots_before, "a database of over 1,000 claims keeps its indexes");
    assert_eq!(derived_rows(&split), expected, "claims, then their attributions");
    let after_second = lines_of(&split, analysed);
    let rebuilt = lines_of(&split, &indexes_of("'claim_backers', 'claim_terms'"));
    assert_eq!(rebuilt.len(), 4, "{rebuilt:?}");
    let missing: Vec<&String> = after_first.iter().chain(&rebuilt).filter(|i| !after_second.contains(i)).collect();
    assert!(missing.is_empty(), "indexes that lost or lack statistics: {missing:?}");

    // The terms' triggers, dropped for the large refresh and made again,
    // keep `claim_term_docs` in step with a single write after it.
    let claim = records.iter().find(|r| r["type"] == "claim").expect("a claim record");
    let id: claimtrail::ids::ClaimId = serde_json::from_value(claim["data"]["id"].clone()).expect("a claim id");
    let mut conn = split.get().expect("a connection");
    write_tx(&mut conn, Change::now(Actor::Cli), |tx| {
        let patch = MergePatch(json!({"text": "Une phrase entièrement nouvelle, zyxwvut compris."}));
        claims::store::update(tx, &id, Precondition::Any, &patch).map(drop)
    })
    .expect("the claim is changed");
    drop(conn);
    let checked = crate::relevance::claim_terms_against_fts5(&split);
    assert!(checked.len() == 1 && checked[0].starts_with("rows "), "{checked:?}");
    let counted = lines_of(&split, "SELECT term || ' ' || docs AS line FROM claim_term_docs WHERE term = 'zyxwvut'");
    assert_eq!(counted, ["zyxwvut 1"]);
}

/// What PostgreSQL derives from a database's records, one line per row in
/// id order: each claim's `stated_on` and search document, its backers and
/// its list item's sources; and how many notes of a bulk write are left.
fn derived_rows_on_postgres(db: &Db) -> Vec<String> {
    let queries = [
        "SELECT 'claim ' || id || ' ' || coalesce(stated_on, '-') || ' ' || coalesce(search_document::text, '-') AS line
         FROM claims ORDER BY id",
        "SELECT 'backer ' || claim_id || ' ' || backer_id || ' ' || roles || ' ' || created_at || ' '
            || coalesce(period_start, '-') || ' ' || coalesce(stated_on, '-') AS line
         FROM claim_backers ORDER BY claim_id, backer_id",
        "SELECT 'statings ' || claim_id || ' ' || attribution_count || ' ' || source_count || ' ' || first_sources AS line
         FROM claim_statings ORDER BY claim_id",
        "SELECT 'notes ' || count(*) AS line FROM bulk_claims",
    ];
    queries.iter().flat_map(|query| lines_of(db, query)).collect()
}

/// The same rows, or a failure naming the first that differs.
fn assert_same_rows(actual: &[String], expected: &[String], what: &str) {
    let cut = |s: &str| s.chars().take(400).collect::<String>();
    for (a, e) in actual.iter().zip(expected) {
        assert!(a == e, "{what}: a row differs:\n  got      {}\n  expected {}", cut(a), cut(e));
    }
    assert_eq!(actual.len(), expected.len(), "{what}: as many rows");
}

/// The bulk write's setting on a connection the pool lends after it.
fn bulk_write_setting(db: &Db) -> Vec<String> {
    lines_of(db, "SELECT coalesce(current_setting('claimtrail.bulk_write', true), 'unset') AS line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_on_postgres_derives_the_search_documents_dates_statings_and_backers_that_single_writes_derived() {
    // Single writes: every insert of attributions refreshes its claims.
    let (url, _dir) = fresh_database(Backend::Postgres);
    let original = Db::connect(&url, 1).expect("the PostgreSQL database opens");
    fill(&original, 300);
    let expected = derived_rows_on_postgres(&original);
    assert!(expected.iter().any(|r| r.starts_with("backer ")), "the sample has backers");
    assert!(expected.iter().any(|r| r.starts_with("statings ")), "and list items' sources");
    assert!(expected.iter().any(|r| r.starts_with("claim ") && r.contains("'fait':")), "and quotes in documents");
    assert!(expected.iter().any(|r| r.starts_with("claim ") && r.contains(" 2025-11 ")), "and dated claims");
    assert_eq!(expected.last().map(String::as_str), Some("notes 0"));
    let records = lines(&export_of(&original));

    // One bulk write: each claim noted, and refreshed once at its end.
    let (url, _dir) = fresh_database(Backend::Postgres);
    let whole = Db::connect(&url, 1).expect("the PostgreSQL database opens");
    import_into(&whole, &ndjson(&records));
    assert_same_rows(&derived_rows_on_postgres(&whole), &expected, "one import of the whole file");
    assert_ne!(bulk_write_setting(&whole), ["on"], "the setting ended with the transaction");

    // Attributions added by a bulk write to claims already stored.
    let (url, _dir) = fresh_database(Backend::Postgres);
    let split = Db::connect(&url, 1).expect("the PostgreSQL database opens");
    import_into(&split, &part_of(&records, &["agent", "source", "claim"]));
    let undocumented =
        "SELECT count(*) || ' claims without a document' AS line FROM claims WHERE search_document IS NULL";
    assert_eq!(lines_of(&split, undocumented), ["0 claims without a document"], "claims without attributions");
    import_into(&split, &part_of(&records, &["attribution", "review", "revision"]));
    assert_same_rows(&derived_rows_on_postgres(&split), &expected, "claims, then their attributions");

    // After it, the same connection's single writes refresh at once again:
    // an attribution's quote is in its claim's document when it commits.
    assert_ne!(bulk_write_setting(&split), ["on"]);
    let claim = records.iter().find(|r| r["type"] == "claim").expect("a claim record");
    let source = records.iter().find(|r| r["type"] == "source").expect("a source record");
    let attribution = json!({"claim_id": claim["data"]["id"], "source_id": source["data"]["id"],
        "mode": "paraphrase", "quote": {"exact": "zyxwvut"}});
    let mut conn = split.get().expect("a connection");
    write_tx(&mut conn, Change::now(Actor::Cli), |tx| attributions::store::create(tx, body(attribution)).map(drop))
        .expect("the attribution is written");
    drop(conn);
    let found = lines_of(&split, "SELECT id AS line FROM claims WHERE search_document @@ 'zyxwvut'::tsquery");
    assert_eq!(found, [claim["data"]["id"].as_str().expect("an id")]);
}

/// On PostgreSQL, an import adds a quoted attribution to a claim while a
/// single write that added another holds its transaction open, and then
/// commits: both commit, and the claim's document has both quotes. With
/// `carries_revisions`, the file also carries a revision, which the import
/// writes (taking the change feed's turn) before it ends.
async fn import_beside_a_writer_of_its_claim(carries_revisions: bool) {
    let (url, _dir) = fresh_database(Backend::Postgres);
    let db = Db::connect(&url, 2).expect("the PostgreSQL database opens");
    fill(&db, 5);
    let records = lines(&export_of(&db));
    let claim = records.iter().find(|r| r["type"] == "claim").expect("a claim record")["data"]["id"].clone();
    let source = records.iter().find(|r| r["type"] == "source").expect("a source record")["data"]["id"].clone();

    // The single write's trigger holds the claim's row until it commits.
    let (held, is_held) = std::sync::mpsc::channel();
    let (commit, may_commit) = std::sync::mpsc::channel::<()>();
    let writer = {
        let (db, claim, source) = (db.clone(), claim.clone(), source.clone());
        std::thread::spawn(move || {
            let mut conn = db.get().expect("a connection");
            write_tx(&mut conn, Change::now(Actor::Cli), |tx| {
                let attribution = json!({"claim_id": claim, "source_id": source, "mode": "paraphrase",
                    "quote": {"exact": "writerquote"}});
                attributions::store::create(tx, body(attribution))?;
                held.send(()).expect("the test listens");
                may_commit.recv_timeout(Duration::from_secs(30)).expect("told to commit");
                Ok::<_, claimtrail::db::write::StoreError>(())
            })
            .expect("the single write commits");
        })
    };
    is_held.recv_timeout(Duration::from_secs(30)).expect("the writer holds the claim");

    let mut lines = vec![json!({"type": "attribution", "data": {
        "id": "0193a7e0-7c1e-7000-8000-000000000042", "claim_id": claim, "source_id": source,
        "mode": "paraphrase", "quote": {"exact": "importedquote"}}})];
    if carries_revisions {
        lines.push(json!({"type": "revision", "data": {"resource_type": "agent",
            "resource_id": "0193a7e0-7c1e-7000-8000-000000000043", "version": 1, "action": "create",
            "data": {}, "actor": "cli", "created_at": "2025-11-18T12:00:00Z"}}));
    }
    let file = crate::transfer::transfer_file(&lines);
    let importer = {
        let db = db.clone();
        std::thread::spawn(move || import_into(&db, &file))
    };
    std::thread::sleep(Duration::from_millis(500));
    commit.send(()).expect("the writer listens");
    writer.join().expect("the single write commits");
    importer.join().expect("the import commits");

    let id = claim.as_str().expect("an id");
    let document = lines_of(&db, &format!("SELECT search_document::text AS line FROM claims WHERE id = '{id}'"));
    assert!(document.len() == 1 && document[0].contains("'writerquote'"), "{document:?}");
    assert!(document[0].contains("'importedquote'"), "{document:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_on_postgres_waits_for_a_writer_of_its_claims_and_keeps_what_that_writer_wrote() {
    import_beside_a_writer_of_its_claim(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_on_postgres_that_carries_revisions_and_a_writer_of_its_claims_do_not_wait_for_each_other() {
    import_beside_a_writer_of_its_claim(true).await;
}

/// A connection's page cache, memory map, sorting threads, statement
/// deadline and journal mode.
fn connection_settings(conn: &mut claimtrail::db::DbConnection) -> claimtrail::db::Settings {
    let claimtrail::db::DbConnection::Sqlite(c) = conn else { panic!("a SQLite database") };
    claimtrail::db::Settings::of(c).expect("the settings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_refused_import_or_a_dry_run_leaves_the_schema_and_the_connection_as_they_were() {
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let original = Db::connect(&url, 2).expect("the SQLite database opens");
    fill(&original, 40);
    let mut records = lines(&export_of(&original));
    let good = ndjson(&records);
    // A last attribution of a claim that is nowhere: the whole file is refused.
    let end = records.pop().expect("the end line");
    let claims = end["data"]["claims"].as_u64().expect("a count");
    let mut stray = records.iter().find(|r| r["type"] == "attribution").expect("an attribution").clone();
    stray["data"]["id"] = json!(claimtrail::ids::AttributionId::generate().to_string());
    stray["data"]["claim_id"] = json!(claimtrail::ids::ClaimId::generate().to_string());
    records.push(stray);
    let mut end = end;
    end["data"]["attributions"] = json!(end["data"]["attributions"].as_u64().expect("a count") + 1);
    records.push(end);
    let bad = ndjson(&records);

    let (url, _dir) = fresh_database(Backend::Sqlite);
    let db = Db::connect(&url, 1).expect("the SQLite database opens");
    let schema = "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS line FROM sqlite_schema ORDER BY name";
    let before = lines_of(&db, schema);
    assert!(before.iter().any(|l| l.starts_with("index attributions_by_claim ")), "{before:?}");
    let mut conn = db.get().expect("a connection");
    let settings = connection_settings(&mut conn);
    assert_eq!(settings.mmap_size, claimtrail::db::DEFAULT_MMAP_MIB as i64 * 1024 * 1024, "the pool's: {settings:?}");
    assert!(settings.wal, "the pool's connections are in WAL mode");

    // Input that stops halfway with a read error: the import fails (an
    // error, not a report) after writing half the records.
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the disk went away"))
        }
    }
    let half = std::io::BufReader::new(std::io::Read::chain(&good.as_bytes()[..good.len() / 2], Broken));
    let failed = claimtrail::transfer::import(&mut conn, half, false, Change::now(Actor::Import), FileUse::Sole)
        .expect_err("a read error ends the import");
    assert!(format!("{failed:?}").contains("the disk went away"), "{failed:?}");
    assert_eq!(connection_settings(&mut conn), settings, "after a failed import");
    let report =
        claimtrail::transfer::import(&mut conn, bad.as_bytes(), false, Change::now(Actor::Import), FileUse::Sole)
            .expect("the import runs");
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(connection_settings(&mut conn), settings, "after a refused file");
    let report =
        claimtrail::transfer::import(&mut conn, good.as_bytes(), true, Change::now(Actor::Import), FileUse::Sole)
            .expect("the dry run runs");
    assert_eq!((report.dry_run, report.errors.len(), report.imported.claims), (true, 0, claims));
    assert_eq!(connection_settings(&mut conn), settings, "after a dry run");
    let report =
        claimtrail::transfer::import(&mut conn, good.as_bytes(), false, Change::now(Actor::Import), FileUse::Sole)
            .expect("the import runs");
    assert_eq!((report.errors.len(), report.imported.claims), (0, claims));
    assert_eq!(connection_settings(&mut conn), settings, "after an import");
    drop(conn);
    assert_eq!(lines_of(&db, schema), before, "every table, index and trigger is as it was");
}

/// The statement deadline of a connection, in milliseconds.
fn statement_timeout_ms(conn: &mut claimtrail::db::DbConnection) -> i64 {
    match conn {
        claimtrail::db::DbConnection::Sqlite(c) => {
            claimtrail::db::Settings::of(c).expect("the settings").statement_timeout_ms
        }
        claimtrail::db::DbConnection::Pg(c) => {
            #[derive(diesel::QueryableByName)]
            struct Timeout {
                #[diesel(sql_type = diesel::sql_types::Text)]
                statement_timeout: String,
            }
            let shown: Timeout =
                diesel::RunQueryDsl::get_result(diesel::sql_query("SHOW statement_timeout"), c).expect("shown");
            shown.statement_timeout.trim_end_matches("ms").parse().expect("milliseconds")
        }
    }
}

/// A server's connections stop a statement past their deadline; an import
/// on one (`POST /v1/import`) runs without it, and gives it back after.
async fn an_import_on_a_server_connection_runs_past_its_statement_deadline_and_gives_it_back(backend: Backend) {
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let original = Db::connect(&url, 2).expect("the SQLite database opens");
    fill(&original, 1200);
    let file = ndjson(&lines(&export_of(&original)));
    let claims: u64 =
        lines_of(&original, "SELECT CAST(count(*) AS TEXT) AS line FROM claims")[0].parse().expect("a count");

    let (url, _dir) = fresh_database(backend);
    drop(Db::connect(&url, 1).expect("the database is made"));
    let options = DbOptions { statement_timeout: Some(Duration::from_millis(10)), ..DbOptions::new(1) };
    let db = Db::connect_with(&url, &options).expect("the database opens");
    let mut conn = db.get().expect("a connection");
    assert_eq!(statement_timeout_ms(&mut conn), 10, "the pool's deadline");
    // Refreshing 1,200 claims in one statement takes far longer than 10 ms.
    let report =
        claimtrail::transfer::import(&mut conn, file.as_bytes(), false, Change::now(Actor::Import), FileUse::Shared)
            .expect("the import is not stopped");
    assert_eq!((report.errors.len(), report.imported.claims), (0, claims));
    assert_eq!(statement_timeout_ms(&mut conn), 10, "the deadline is back");
    let endless = match backend {
        Backend::Sqlite => "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        Backend::Postgres => "SELECT pg_sleep(60)",
    };
    let stopped = diesel::RunQueryDsl::execute(diesel::sql_query(endless), &mut *conn);
    assert!(stopped.is_err(), "a statement past the deadline is stopped again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_on_a_server_connection_runs_past_its_statement_deadline_and_gives_it_back_on_sqlite() {
    an_import_on_a_server_connection_runs_past_its_statement_deadline_and_gives_it_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_on_a_server_connection_runs_past_its_statement_deadline_and_gives_it_back_on_postgres() {
    an_import_on_a_server_connection_runs_past_its_statement_deadline_and_gives_it_back(Backend::Postgres).await;
}

/// A batch of rows is one statement on SQLite: diesel writes a batch row by
/// row, each in a savepoint, for a row type that may leave a column to its
/// default, and inside an import's one transaction every savepoint copies
/// the pages it touches to a journal. No savepoint is taken importing a
/// file with every kind of record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_writes_its_rows_without_a_savepoint() {
    use diesel::connection::{Connection, InstrumentationEvent};
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let original = Db::connect(&url, 2).expect("the SQLite database opens");
    fill(&original, 40);
    let records = lines(&export_of(&original));
    for kind in ["agent", "source", "claim", "attribution", "review", "revision"] {
        assert!(records.iter().any(|r| r["type"] == kind), "the file has a {kind}");
    }
    assert!(records.iter().any(|r| r["type"] == "claim" && r["data"]["tags"] != json!([])), "and tags");

    let (url, _dir) = fresh_database(Backend::Sqlite);
    let db = Db::connect(&url, 1).expect("the SQLite database opens");
    let mut conn = db.get().expect("a connection");
    let claimtrail::db::DbConnection::Sqlite(c) = &mut *conn else { panic!("a SQLite database") };
    let seen = std::sync::Arc::new(std::sync::Mutex::new((0usize, Vec::new())));
    let recording = seen.clone();
    c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        let mut seen = recording.lock().expect("the record");
        match event {
            InstrumentationEvent::StartQuery { query, .. } if query.to_string().starts_with("INSERT INTO") => {
                seen.0 += 1
            }
            InstrumentationEvent::BeginTransaction { depth, .. } => seen.1.push(depth.get()),
            _ => {}
        }
    });
    let report = claimtrail::transfer::import(
        &mut conn,
        ndjson(&records).as_bytes(),
        false,
        Change::now(Actor::Import),
        FileUse::Shared,
    )
    .expect("the import runs");
    assert_eq!(report.errors.len(), 0, "{:?}", report.errors);
    let (inserts, transactions) = seen.lock().expect("the record").clone();
    assert!(inserts > 0, "the INSERTs are seen");
    assert_eq!(transactions, [1], "one transaction, no savepoint");
}

/// Bytes in a SQLite database's write-ahead log (none when it has none).
fn wal_bytes(url: &str) -> u64 {
    std::fs::metadata(format!("{url}-wal")).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_import_writes_a_file_it_has_alone_with_a_rollback_journal_and_one_open_elsewhere_through_the_wal()
 {
    let (url, _dir) = fresh_database(Backend::Sqlite);
    let original = Db::connect(&url, 2).expect("the SQLite database opens");
    fill(&original, 40);
    let file = export_of(&original);
    let claims: u64 = lines_of(&original, "SELECT count(*) AS line FROM claims")[0].parse().expect("a count");

    // Alone: the log is emptied and left at the start, the pages go to the
    // file itself, and the file is in WAL mode again at the end.
    let (alone_url, _alone_dir) = fresh_database(Backend::Sqlite);
    let alone = Db::connect(&alone_url, 1).expect("the SQLite database opens");
    let mut conn = alone.get().expect("a connection");
    let before = connection_settings(&mut conn);
    let report =
        claimtrail::transfer::import(&mut conn, file.as_slice(), false, Change::now(Actor::Import), FileUse::Sole)
            .expect("the import runs");
    assert_eq!((report.errors.len(), report.imported.claims), (0, claims), "{:?}", report.errors);
    assert_eq!(wal_bytes(&alone_url), 0, "nothing went through the log");
    assert!(!std::path::Path::new(&format!("{alone_url}-journal")).exists(), "the journal is gone with the commit");
    assert_eq!(connection_settings(&mut conn), before, "WAL mode again, and the rest as it was");
    drop(conn);
    assert_eq!(export_of(&alone), file, "the same records, byte for byte");
    run_sql(&alone, "INSERT INTO claims_fts (claims_fts, rank) VALUES ('integrity-check', 1)");
    assert_eq!(lines_of(&alone, "SELECT integrity_check AS line FROM pragma_integrity_check"), ["ok"]);

    // Beside another connection, which has the file open and is reading
    // it (a snapshot begun before the import): the switch is refused at
    // once, the import goes through the log, which it cannot empty at its
    // end while that reader is in it, and the other connection reads what
    // it wrote once its snapshot ends.
    let (shared_url, _shared_dir) = fresh_database(Backend::Sqlite);
    let shared = Db::connect(&shared_url, 1).expect("the SQLite database opens");
    let elsewhere = Db::connect(&shared_url, 1).expect("the SQLite database opens again");
    assert_eq!(lines_of(&elsewhere, "SELECT count(*) AS line FROM claims"), ["0"]);
    // The pool keeps its one connection open while the import runs.
    let mut held = elsewhere.get().expect("a connection held open");
    held.batch_execute("BEGIN; SELECT count(*) FROM claims;").expect("a snapshot");
    let mut conn = shared.get().expect("a connection");
    let report =
        claimtrail::transfer::import(&mut conn, file.as_slice(), false, Change::now(Actor::Import), FileUse::Sole)
            .expect("the import runs");
    assert_eq!((report.errors.len(), report.imported.claims), (0, claims), "{:?}", report.errors);
    assert!(wal_bytes(&shared_url) > 0, "the pages went through the log");
    assert!(connection_settings(&mut conn).wal);
    drop(conn);
    held.batch_execute("COMMIT").expect("the snapshot ended");
    drop(held);
    assert_eq!(lines_of(&elsewhere, "SELECT count(*) AS line FROM claims"), [claims.to_string()]);
    assert_eq!(export_of(&shared), file, "the same records, byte for byte");
}
