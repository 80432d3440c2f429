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

use claimtrail::attributions::model::NewAttribution;
use claimtrail::attributions::store::AttributionRow;
use claimtrail::claims::store::ClaimRow;
use claimtrail::db::write::{Actor, Change, Stamp};
use claimtrail::db::{self, Db, DbConnection};
use claimtrail::http::{Body, parse_body};
use claimtrail::ids::{AttributionId, ClaimId, SourceId};
use claimtrail::provenance::{store, svg};
use claimtrail::sources::store::SourceRow;
use claimtrail::{attributions, claims, sources};
use diesel::connection::InstrumentationEvent;
use diesel::prelude::*;
use serde_json::json;

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

fn measure(conn: &mut DbConnection, claim: &ClaimId) -> anyhow::Result<Row> {
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

/// Builds the database in one write transaction, through the tables' write
/// paths: 100,000 claims, each stated by one of the filler sources, plus the
/// two graphs measured. Returns the graphs' names and claim ids.
fn fill(conn: &mut DbConnection) -> anyhow::Result<Vec<(&'static str, ClaimId)>> {
    db::write_tx(conn, Change::now(Actor::Cli), |tx| {
        let mut rows = Rows { at: db::now(), ..Rows::default() };
        let source_ids: Vec<SourceId> =
            (0..FILLER_SOURCES).map(|i| rows.source(&format!("Filler source {i}"))).collect();
        for i in 0..CLAIMS - 2 {
            let claim = rows.claim(&format!("Filler claim number {i}"));
            rows.attribution(&claim, &source_ids[i % FILLER_SOURCES], None);
        }

        let chain_claim = rows.claim("A claim relayed along ten citations");
        let chain: Vec<SourceId> = (0..=10).map(|i| rows.source(&format!("Chain link {i}"))).collect();
        for hop in chain.windows(2) {
            rows.attribution(&chain_claim, &hop[0], Some(&hop[1]));
        }
        rows.attribution(&chain_claim, &chain[10], None);

        let fan_claim = rows.claim("A claim fifty outlets repeat from one report");
        let report = rows.source("The one report");
        rows.attribution(&fan_claim, &report, None);
        for i in 0..50 {
            let outlet = rows.source(&format!("Outlet {i}"));
            rows.attribution(&fan_claim, &outlet, Some(&report));
        }
        sources::store::insert(tx, &rows.sources)?;
        claims::store::insert(tx, &rows.claims, &[])?;
        let bodies = rows.attributions.iter().map(|(_, b)| b.clone()).collect();
        let verified = attributions::store::verify(tx.conn, bodies)?;
        let attribution_rows: Vec<AttributionRow> = rows
            .attributions
            .into_iter()
            .zip(verified)
            .map(|((id, _), verified)| AttributionRow::new(id, verified, Stamp::created(rows.at)))
            .collect();
        attributions::store::insert(tx, &attribution_rows)?;
        Ok::<_, anyhow::Error>(vec![("10-hop chain", chain_claim), ("50-source fan-in", fan_claim)])
    })
}

/// Rows to write, made by each table's own constructor.
#[derive(Default)]
struct Rows {
    at: chrono::NaiveDateTime,
    sources: Vec<SourceRow>,
    claims: Vec<ClaimRow>,
    attributions: Vec<(AttributionId, NewAttribution)>,
}

fn body<T: Body>(value: serde_json::Value) -> T {
    parse_body(value).unwrap_or_else(|errors| panic!("a valid body: {errors:?}"))
}

impl Rows {
    fn source(&mut self, title: &str) -> SourceId {
        let id = SourceId::generate();
        let row = SourceRow::new(id.clone(), body(json!({"kind": "article", "title": title})), Stamp::created(self.at));
        self.sources.push(row);
        id
    }

    fn claim(&mut self, text: &str) -> ClaimId {
        let id = ClaimId::generate();
        self.claims.push(ClaimRow::new(id.clone(), &body(json!({"text": text})), Stamp::created(self.at)));
        id
    }

    fn attribution(&mut self, claim: &ClaimId, source: &SourceId, cited: Option<&SourceId>) {
        let mode = if cited.is_some() { "citation" } else { "direct" };
        let body = body(json!({"claim_id": claim, "source_id": source, "mode": mode, "cited_source_id": cited}));
        self.attributions.push((AttributionId::generate(), body));
    }
}
