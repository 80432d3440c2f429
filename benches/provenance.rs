//! How long a provenance graph takes, and how many SQL statements, in a
//! database of 100,000 claims: a 10-hop citation chain and a 50-source
//! fan-in, walked by the library function behind the endpoint and drawn as
//! SVG.
//!
//!     cargo bench --bench provenance
//!     CLAIMTRAIL_BENCH_PG_URL=postgres://user@host/postgres cargo bench --bench provenance
//!     bash scripts/test.sh --release --bench provenance
//!
//! SQLite runs always (a temp file); PostgreSQL too when
//! `CLAIMTRAIL_BENCH_PG_URL` (or `CLAIMTRAIL_TEST_PG_URL`, which
//! `scripts/test.sh` sets for the throwaway cluster it starts) names a server
//! where the user may create a database.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use claimtrail::attributions::store::AttributionRow;
use claimtrail::claims::store::ClaimRow;
use claimtrail::db::schema::{attributions, claims, sources};
use claimtrail::db::{self, Db, DbConnection};
use claimtrail::provenance::{store, svg};
use diesel::connection::InstrumentationEvent;
use diesel::prelude::*;

const CLAIMS: usize = 100_000;
/// Sources the filler claims are spread over (one attribution each).
const FILLER_SOURCES: usize = 2_000;
const CALLS: usize = 400;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut targets = vec![("sqlite", dir.path().join("bench.db").to_string_lossy().into_owned())];
    if let Ok(base) = std::env::var("CLAIMTRAIL_BENCH_PG_URL").or_else(|_| std::env::var("CLAIMTRAIL_TEST_PG_URL")) {
        targets.push(("postgres", fresh_pg_database(&base)?));
    }
    println!("provenance benchmark: {CLAIMS} claims, {CALLS} calls per row (after 20 warm-up calls)\n");
    println!(
        "{:<9} {:<26} {:>6} {:>10} {:>10} {:>11} {:>11} {:>11}",
        "backend", "graph", "nodes", "walk p50", "walk p99", "statements", "svg p50", "svg p99"
    );
    for (backend, url) in targets {
        let db = Db::connect(&url, 2)?;
        let mut conn = db.get()?;
        let started = Instant::now();
        let graphs = fill(&mut conn)?;
        eprintln!("({backend}: database built in {:.1} s)", started.elapsed().as_secs_f64());
        for (name, claim) in graphs {
            let row = measure(&mut conn, &claim)?;
            println!(
                "{backend:<9} {name:<26} {:>6} {:>10} {:>10} {:>11} {:>11} {:>11}",
                row.nodes,
                ms(row.walk.0),
                ms(row.walk.1),
                row.statements,
                ms(row.svg.0),
                ms(row.svg.1)
            );
        }
    }
    Ok(())
}

struct Row {
    nodes: usize,
    walk: (Duration, Duration),
    statements: usize,
    svg: (Duration, Duration),
}

fn measure(conn: &mut DbConnection, claim: &str) -> anyhow::Result<Row> {
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = statements.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let graph = store::provenance(conn, claim, 16)?;
    let per_call = statements.swap(0, Ordering::Relaxed);
    for _ in 0..20 {
        store::provenance(conn, claim, 16)?;
    }
    let mut walks = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        std::hint::black_box(store::provenance(conn, claim, 16)?);
        walks.push(started.elapsed());
    }
    let mut drawings = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        std::hint::black_box(svg::render(&graph)?);
        drawings.push(started.elapsed());
    }
    Ok(Row { nodes: graph.nodes.len(), walk: percentiles(walks), statements: per_call, svg: percentiles(drawings) })
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn fresh_pg_database(base: &str) -> anyhow::Result<String> {
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(base)?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
    let (server, _) = base.rsplit_once('/').ok_or_else(|| anyhow::anyhow!("the URL must end in /<database>"))?;
    Ok(format!("{server}/{name}"))
}

/// Builds the database in one write transaction: 100,000 claims, each stated
/// by one of the filler sources, plus the two graphs measured. Returns the
/// graphs' names and claim ids.
fn fill(conn: &mut DbConnection) -> anyhow::Result<Vec<(&'static str, String)>> {
    db::write_transaction(conn, |conn| {
        let at = db::now();
        let mut source_ids = Vec::with_capacity(FILLER_SOURCES);
        for i in 0..FILLER_SOURCES {
            source_ids.push(insert_source(conn, &format!("Filler source {i}"), at)?);
        }
        for i in 0..CLAIMS - 2 {
            let claim = insert_claim(conn, &format!("Filler claim number {i}"), at)?;
            insert_attribution(conn, &claim, &source_ids[i % FILLER_SOURCES], None, at)?;
        }

        let chain_claim = insert_claim(conn, "A claim relayed along ten citations", at)?;
        let chain: Vec<String> =
            (0..=10).map(|i| insert_source(conn, &format!("Chain link {i}"), at)).collect::<Result<_, _>>()?;
        for hop in chain.windows(2) {
            insert_attribution(conn, &chain_claim, &hop[0], Some(&hop[1]), at)?;
        }
        insert_attribution(conn, &chain_claim, &chain[10], None, at)?;

        let fan_claim = insert_claim(conn, "A claim fifty outlets repeat from one report", at)?;
        let report = insert_source(conn, "The one report", at)?;
        insert_attribution(conn, &fan_claim, &report, None, at)?;
        for i in 0..50 {
            let outlet = insert_source(conn, &format!("Outlet {i}"), at)?;
            insert_attribution(conn, &fan_claim, &outlet, Some(&report), at)?;
        }
        Ok::<_, anyhow::Error>(vec![("10-hop chain", chain_claim), ("50-source fan-in", fan_claim)])
    })
}

fn insert_source(conn: &mut DbConnection, title: &str, at: chrono::NaiveDateTime) -> anyhow::Result<String> {
    let id = db::new_id().to_string();
    diesel::insert_into(sources::table)
        .values((
            sources::id.eq(&id),
            sources::kind.eq("article"),
            sources::title.eq(title),
            sources::created_at.eq(at),
            sources::updated_at.eq(at),
            sources::version.eq(1),
        ))
        .execute(conn)?;
    Ok(id)
}

fn insert_claim(conn: &mut DbConnection, text: &str, at: chrono::NaiveDateTime) -> anyhow::Result<String> {
    let row = ClaimRow {
        id: db::new_id().to_string(),
        text: text.to_string(),
        kind: "statement".to_string(),
        subject: None,
        quantity_value: None,
        quantity_upper: None,
        quantity_unit: None,
        quantity_comparator: None,
        period_start: None,
        period_end: None,
        place: None,
        status: "unreviewed".to_string(),
        language: None,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    diesel::insert_into(claims::table).values(&row).execute(conn)?;
    Ok(row.id)
}

fn insert_attribution(
    conn: &mut DbConnection,
    claim: &str,
    source: &str,
    cited: Option<&str>,
    at: chrono::NaiveDateTime,
) -> anyhow::Result<()> {
    let row = AttributionRow {
        id: db::new_id().to_string(),
        claim_id: claim.to_string(),
        source_id: source.to_string(),
        speaker_id: None,
        mode: if cited.is_some() { "citation" } else { "direct" }.to_string(),
        stance: "affirms".to_string(),
        cited_source_id: cited.map(str::to_string),
        quote_exact: None,
        quote_prefix: None,
        quote_suffix: None,
        quote_status: None,
        quote_start: None,
        quote_end: None,
        locator: None,
        stated_on: None,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    diesel::insert_into(attributions::table).values(&row).execute(conn)?;
    Ok(())
}
