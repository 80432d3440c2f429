//! `claimtrail generate --claims N`: fills a database with realistic
//! synthetic data, for benchmarks and for trying the API at scale.
//!
//! The shape follows the seed data: a few thousand agents (outlets,
//! organisations, named and anonymous people) and sources; claims with one
//! to four attributions, citation chains of varying depth between their
//! sources, quotes, quantities, partial-date periods, places and tags.
//! Popularity is Zipf-like everywhere: a few outlets publish most sources,
//! and claim text draws words from a vocabulary in which a few words are in
//! most claims and most words are in a handful ([`vocabulary_word`] names
//! them by rank, so a benchmark can search a common and a rare one).
//!
//! The same seed gives the same rows, ids included. Claims are created one
//! after the other over three years, in creation order.
//!
//! The generator is a client of the write path like any other: it makes
//! API create bodies, turns them into rows with each table's constructor
//! and writes them with each table's batched insert, quotes checked as an
//! API create checks them. Each batch is a bulk write: its claims, then
//! their tags and attributions, and each claim's search document, date,
//! backers and first sources made once, when the batch ends.

mod words;
mod world;

use std::fmt;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::agents::store as agents;
use crate::attributions::store::{self as attributions, AttributionRow};
use crate::claims::store as claims;
use crate::db::write::{Actor, Change, StoreError, Tx};
use crate::db::{self, Db, DbConnection, write_tx};
use crate::sources::store as sources;
pub use words::{VOCABULARY_SIZE, vocabulary_word};
use world::{Batch, World};

/// Claims per transaction. Into a new database, the first transaction is
/// a bulk write like an import's, with the indexes built at its end and
/// `claim_terms` filled in order; the next ones refresh what they add.
/// 100,000 claims: 17.3 s in one transaction, 35.8 s in ten of 10,000
/// (one run each); the peak RSS went from 404 to 645 MiB, the batch's
/// claims and attributions held in memory until they are written.
const BATCH: usize = 100_000;

/// What [`generate`] made.
#[derive(Debug, Clone)]
pub struct GenerateReport {
    pub agents: usize,
    pub sources: usize,
    pub claims: usize,
    pub attributions: usize,
    pub tags: usize,
    pub elapsed: Duration,
}

impl fmt::Display for GenerateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Generated {} agents, {} sources, {} claims, {} attributions and {} tags in {:.1} s.",
            self.agents,
            self.sources,
            self.claims,
            self.attributions,
            self.tags,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Adds `claims` synthetic claims, with the agents and sources they need,
/// to the database. Deterministic for a seed; two runs with the same seed
/// make the same ids, so run it on an empty database or with a new seed.
///
/// Writes as a command-line bulk write ([`db::FileUse::Sole`]): when no
/// other connection has the file open, with a rollback journal.
pub fn generate(db: &Db, claims: usize, seed: u64) -> anyhow::Result<GenerateReport> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let world = World::new(&mut rng, claims);
    let mut conn = db.get()?;
    let conn: &mut DbConnection = &mut conn;
    let mut report = GenerateReport {
        agents: world.agents.len(),
        sources: world.sources.len(),
        claims: 0,
        attributions: 0,
        tags: 0,
        elapsed: Duration::ZERO,
    };
    let saved = db::before_bulk_write(conn, db::FileUse::Sole)?;
    let written = write_world(conn, &world, &mut rng, claims, &mut report, started);
    // The write's own error, if any, is the one to report.
    let restored = db::after_bulk_write(conn, saved);
    written?;
    restored?;
    db::after_bulk_load(conn)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Writes the world's agents and sources, then its claims in batches of
/// [`BATCH`], each batch one transaction, counting them in `report`.
fn write_world(
    conn: &mut DbConnection,
    world: &World,
    rng: &mut StdRng,
    claims: usize,
    report: &mut GenerateReport,
    started: Instant,
) -> Result<(), StoreError> {
    write_tx(conn, Change::now(Actor::Generate), |tx| -> Result<(), StoreError> {
        agents::insert(tx, &world.agents)?;
        sources::insert(tx, &world.sources)
    })?;
    let mut made = 0;
    while made < claims {
        let count = BATCH.min(claims - made);
        let batch = world.claims(rng, made, count);
        report.claims += batch.claims.len();
        report.attributions += batch.attributions.len();
        report.tags += batch.tags.len();
        write_tx(conn, Change::now(Actor::Generate), |tx| write_batch(tx, batch))?;
        made += count;
        crate::progress::advance(count as u64);
        if claims >= 100_000 && made % 100_000 == 0 {
            tracing::info!(made, elapsed_s = started.elapsed().as_secs(), "generating claims");
        }
    }
    Ok(())
}

/// Writes one batch through the tables' write paths, as a bulk write: each
/// claim's search document, `stated_on` and backers are made once, when the
/// batch commits.
fn write_batch(tx: &mut Tx, batch: Batch) -> Result<(), StoreError> {
    tx.bulk()?;
    let (keys, bodies): (Vec<_>, Vec<_>) =
        batch.attributions.into_iter().map(|(id, body, stamp)| ((id, stamp), body)).unzip();
    let verified = attributions::verify(tx.conn, bodies)?;
    let rows: Vec<AttributionRow> = keys
        .into_iter()
        .zip(verified)
        .map(|((id, stamp), verified)| AttributionRow::new(id, verified, stamp))
        .collect();
    claims::insert(tx, &batch.claims, &batch.tags)?;
    attributions::insert(tx, &rows)
}
