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
//! Rows go in as JSON arrays expanded by the database (`json_each` on
//! SQLite, `json_populate_recordset` on PostgreSQL): one statement and one
//! parameter per table and batch, since the multi-backend connection has no
//! batch insert. On SQLite a batch's attributions go in before its claims
//! (foreign keys are checked at commit), so that the trigger that indexes a
//! new claim for search already sees its quotes and each claim is indexed
//! once.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::db::{Db, DbConnection, write_transaction};

/// Claims per transaction: large enough to amortise the commit, small
/// enough to keep the write-ahead log and the memory in check.
const BATCH: usize = 10_000;

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
pub fn generate(db: &Db, claims: usize, seed: u64) -> anyhow::Result<GenerateReport> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let world = World::new(&mut rng, claims);
    let mut conn = db.get()?;
    let conn: &mut DbConnection = &mut conn;
    write_transaction(conn, |conn| -> anyhow::Result<()> {
        insert(conn, Table::Agents, &world.agents)?;
        insert(conn, Table::Sources, &world.sources)?;
        Ok(())
    })?;
    let mut report = GenerateReport {
        agents: world.agents.len(),
        sources: world.sources.len(),
        claims: 0,
        attributions: 0,
        tags: 0,
        elapsed: Duration::ZERO,
    };
    let mut made = 0;
    while made < claims {
        let count = BATCH.min(claims - made);
        let batch = world.claims(&mut rng, made, count);
        write_transaction(conn, |conn| -> anyhow::Result<()> {
            match conn {
                DbConnection::Sqlite(c) => {
                    c.batch_execute("PRAGMA defer_foreign_keys = ON")?;
                    insert(conn, Table::Attributions, &batch.attributions)?;
                    insert(conn, Table::ClaimTags, &batch.tags)?;
                    insert(conn, Table::Claims, &batch.claims)?;
                }
                DbConnection::Pg(_) => {
                    insert(conn, Table::Claims, &batch.claims)?;
                    insert(conn, Table::Attributions, &batch.attributions)?;
                    insert(conn, Table::ClaimTags, &batch.tags)?;
                }
            }
            Ok(())
        })?;
        made += count;
        report.claims += batch.claims.len();
        crate::progress::advance(batch.claims.len() as u64);
        report.attributions += batch.attributions.len();
        report.tags += batch.tags.len();
        if claims >= 100_000 && made % 100_000 == 0 {
            tracing::info!(made, elapsed_s = started.elapsed().as_secs(), "generating claims");
        }
    }
    finish(conn)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// After a bulk load: merge the full-text index into one segment and
/// refresh the planner's statistics, both of which the query plans of the
/// claim list rely on.
fn finish(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Sqlite(c) => {
            c.batch_execute("INSERT INTO claims_fts (claims_fts) VALUES ('optimize')")?;
            c.batch_execute("PRAGMA analysis_limit = 2000")?;
            c.batch_execute("ANALYZE")?;
            c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
        }
        DbConnection::Pg(c) => c.batch_execute("ANALYZE")?,
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Table {
    Agents,
    Sources,
    Claims,
    ClaimTags,
    Attributions,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Agents => "agents",
            Table::Sources => "sources",
            Table::Claims => "claims",
            Table::ClaimTags => "claim_tags",
            Table::Attributions => "attributions",
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Agents => &[
                "id",
                "kind",
                "name",
                "description",
                "anonymous",
                "affiliation_id",
                "url",
                "wikidata_id",
                "created_at",
                "updated_at",
                "version",
            ],
            Table::Sources => &[
                "id",
                "kind",
                "title",
                "url",
                "publisher_id",
                "byline",
                "published_on",
                "language",
                "content",
                "content_sha256",
                "archived_url",
                "created_at",
                "updated_at",
                "version",
            ],
            Table::Claims => &[
                "id",
                "text",
                "kind",
                "subject",
                "quantity_value",
                "quantity_upper",
                "quantity_unit",
                "quantity_comparator",
                "period_start",
                "period_end",
                "place",
                "status",
                "language",
                "created_at",
                "updated_at",
                "version",
            ],
            Table::ClaimTags => &["claim_id", "tag"],
            Table::Attributions => &[
                "id",
                "claim_id",
                "source_id",
                "speaker_id",
                "mode",
                "stance",
                "cited_source_id",
                "quote_exact",
                "quote_prefix",
                "quote_suffix",
                "quote_status",
                "quote_start",
                "quote_end",
                "locator",
                "stated_on",
                "created_at",
                "updated_at",
                "version",
            ],
        }
    }
}

/// Inserts rows, serialised as a JSON array of objects keyed by column, in
/// one statement.
fn insert<T: Serialize>(conn: &mut DbConnection, table: Table, rows: &[T]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_string(rows)?;
    let columns = table.columns().join(", ");
    match conn {
        DbConnection::Sqlite(c) => {
            let values: Vec<String> = table.columns().iter().map(|c| format!("value ->> '{c}'")).collect();
            let sql =
                format!("INSERT INTO {} ({columns}) SELECT {} FROM json_each(?)", table.name(), values.join(", "));
            diesel::sql_query(sql).bind::<Text, _>(json).execute(c)?;
        }
        DbConnection::Pg(c) => {
            let sql = format!(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{table}, $1::json)",
                table = table.name()
            );
            diesel::sql_query(sql).bind::<Text, _>(json).execute(c)?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct AgentRow {
    id: String,
    kind: &'static str,
    name: String,
    description: Option<String>,
    anonymous: bool,
    affiliation_id: Option<String>,
    url: Option<String>,
    wikidata_id: Option<String>,
    created_at: String,
    updated_at: String,
    version: i32,
}

#[derive(Serialize)]
struct SourceRow {
    id: String,
    kind: &'static str,
    title: String,
    url: Option<String>,
    publisher_id: Option<String>,
    byline: Option<String>,
    published_on: Option<String>,
    language: Option<&'static str>,
    content: Option<String>,
    content_sha256: Option<String>,
    archived_url: Option<String>,
    created_at: String,
    updated_at: String,
    version: i32,
}

#[derive(Serialize)]
struct ClaimRow {
    id: String,
    text: String,
    kind: &'static str,
    subject: Option<String>,
    quantity_value: Option<f64>,
    quantity_upper: Option<f64>,
    quantity_unit: Option<&'static str>,
    quantity_comparator: Option<&'static str>,
    period_start: Option<String>,
    period_end: Option<String>,
    place: Option<&'static str>,
    status: &'static str,
    language: Option<&'static str>,
    created_at: String,
    updated_at: String,
    version: i32,
}

#[derive(Serialize)]
struct TagRow {
    claim_id: String,
    tag: String,
}

#[derive(Serialize)]
struct AttributionRow {
    id: String,
    claim_id: String,
    source_id: String,
    speaker_id: Option<String>,
    mode: &'static str,
    stance: &'static str,
    cited_source_id: Option<String>,
    quote_exact: Option<String>,
    quote_prefix: Option<String>,
    quote_suffix: Option<String>,
    quote_status: Option<&'static str>,
    quote_start: Option<i32>,
    quote_end: Option<i32>,
    locator: Option<String>,
    stated_on: Option<String>,
    created_at: String,
    updated_at: String,
    version: i32,
}

/// Rows of one batch of claims.
struct Batch {
    claims: Vec<ClaimRow>,
    attributions: Vec<AttributionRow>,
    tags: Vec<TagRow>,
}

/// Picks indexes 0..n with probability proportional to 1 / (i + 1)^s.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(s);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c < x).min(self.cumulative.len() - 1)
    }
}

/// Picks from `(item, weight)` pairs.
fn weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for &(item, w) in choices {
        if x < w {
            return item;
        }
        x -= w;
    }
    choices[0].0
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Stored time format of both backends (diesel writes SQLite timestamps so).
fn stamp(at: NaiveDateTime) -> String {
    at.format("%F %T%.f").to_string()
}

/// A UUID v7 for this time, its random part from the seeded generator.
fn id_at(rng: &mut StdRng, at: NaiveDateTime) -> String {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    let millis = at.and_utc().timestamp_millis().max(0) as u64;
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid().to_string()
}

fn base_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2023, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

/// The agents and sources, and what claims draw from.
struct World {
    agents: Vec<AgentRow>,
    sources: Vec<SourceRow>,
    person_ids: Vec<String>,
    source_ids: Vec<String>,
    total_claims: usize,
    words: Zipf,
    vocabulary: Vec<String>,
    source_pick: Zipf,
    person_pick: Zipf,
    place_pick: Zipf,
    tag_pick: Zipf,
    tags: Vec<String>,
}

impl World {
    fn new(rng: &mut StdRng, claims: usize) -> World {
        let scale = |per: usize, min: usize, max: usize| (claims / per).clamp(min, max);
        let publishers = scale(2500, 10, 400);
        let organizations = scale(5000, 5, 200);
        let persons = scale(400, 20, 2500);
        let sources = scale(200, 30, 5000);
        let founded = base_time() - TimeDelta::days(400);
        let mut agents = Vec::new();
        let mut publisher_ids = Vec::new();
        let mut organization_ids = Vec::new();
        let mut person_ids = Vec::new();
        let mut at = founded;
        let mut next_time = |rng: &mut StdRng| {
            at += TimeDelta::seconds(rng.random_range(1..600));
            at
        };
        for i in 0..publishers {
            let when = next_time(rng);
            let id = id_at(rng, when);
            let name = match OUTLETS.get(i) {
                Some(name) => (*name).to_string(),
                None => format!("{} {}", pick(rng, OUTLET_WORDS), i),
            };
            let slug: String = name.to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
            agents.push(AgentRow {
                id: id.clone(),
                kind: "organization",
                name,
                description: Some("news outlet".to_string()),
                anonymous: false,
                affiliation_id: None,
                url: Some(format!("https://{slug}.example")),
                wikidata_id: (i < OUTLETS.len()).then(|| format!("Q{}", 100_000 + i)),
                created_at: stamp(when),
                updated_at: stamp(when),
                version: 1,
            });
            publisher_ids.push(id);
        }
        for i in 0..organizations {
            let when = next_time(rng);
            let id = id_at(rng, when);
            agents.push(AgentRow {
                id: id.clone(),
                kind: "organization",
                name: format!("{} {}", pick(rng, ORGANIZATION_KINDS), i + 1),
                description: None,
                anonymous: false,
                affiliation_id: None,
                url: None,
                wikidata_id: None,
                created_at: stamp(when),
                updated_at: stamp(when),
                version: 1,
            });
            organization_ids.push(id);
        }
        for _ in 0..persons {
            let when = next_time(rng);
            let id = id_at(rng, when);
            let anonymous = rng.random_bool(0.1);
            let name = if anonymous {
                pick(rng, ANONYMOUS).to_string()
            } else {
                format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES))
            };
            agents.push(AgentRow {
                id: id.clone(),
                kind: "person",
                name,
                description: Some(pick(rng, ROLES).to_string()),
                anonymous,
                affiliation_id: rng.random_bool(0.6).then(|| pick(rng, &organization_ids).clone()),
                url: None,
                wikidata_id: None,
                created_at: stamp(when),
                updated_at: stamp(when),
                version: 1,
            });
            person_ids.push(id);
        }
        let publisher_pick = Zipf::new(publishers, 1.0);
        let mut source_rows = Vec::new();
        let mut source_ids = Vec::new();
        for i in 0..sources {
            let when = next_time(rng);
            let id = id_at(rng, when);
            let publisher = publisher_ids[publisher_pick.sample(rng)].clone();
            let kind = weighted(
                rng,
                &[
                    ("article", 60),
                    ("report", 10),
                    ("dataset", 3),
                    ("broadcast", 7),
                    ("statement", 8),
                    ("interview", 5),
                    ("social_post", 5),
                    ("web_page", 2),
                ],
            );
            let topic = format!("{} {} {}", pick(rng, ACTORS), pick(rng, VERBS), pick(rng, OBJECTS));
            source_rows.push(SourceRow {
                id: id.clone(),
                kind,
                title: capitalize(&topic),
                url: Some(format!("https://news.example/{}/{}", i, topic.replace(' ', "-").to_lowercase())),
                publisher_id: rng.random_bool(0.95).then_some(publisher),
                byline: rng.random_bool(0.5).then(|| format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES))),
                published_on: Some(partial_date(rng, 2012, 2025)),
                language: Some(if rng.random_bool(0.8) { "en" } else { "fr" }),
                content: None,
                content_sha256: None,
                archived_url: None,
                created_at: stamp(when),
                updated_at: stamp(when),
                version: 1,
            });
            source_ids.push(id);
        }
        let tags: Vec<String> =
            TAGS.iter().map(|t| t.to_string()).chain((0..400).map(|i| format!("{}-{}", pick(rng, TAGS), i))).collect();
        World {
            agents,
            sources: source_rows,
            person_ids,
            source_ids,
            total_claims: claims.max(1),
            words: Zipf::new(VOCABULARY_SIZE, 1.0),
            vocabulary: (0..VOCABULARY_SIZE).map(vocabulary_word).collect(),
            source_pick: Zipf::new(sources, 0.8),
            person_pick: Zipf::new(persons, 0.9),
            place_pick: Zipf::new(PLACES.len(), 1.0),
            tag_pick: Zipf::new(tags.len(), 1.0),
            tags,
        }
    }

    /// Claims `first..first + count` of the whole run.
    fn claims(&self, rng: &mut StdRng, first: usize, count: usize) -> Batch {
        let mut batch =
            Batch { claims: Vec::with_capacity(count), attributions: Vec::new(), tags: Vec::with_capacity(count) };
        // Three years, evenly: claim i is created at a fixed time plus a
        // jitter below the step, so creation order is claim order.
        let span_micros: i64 = 3 * 365 * 24 * 3600 * 1_000_000;
        let step = (span_micros / self.total_claims as i64).max(2);
        for i in first..first + count {
            let created = base_time() + TimeDelta::microseconds(i as i64 * step + rng.random_range(0..step / 2));
            self.claim(rng, created, &mut batch);
        }
        batch
    }

    fn claim(&self, rng: &mut StdRng, created: NaiveDateTime, batch: &mut Batch) {
        let id = id_at(rng, created);
        let kind =
            weighted(rng, &[("statement", 40), ("quantity", 20), ("event", 20), ("prediction", 8), ("opinion", 12)]);
        let place = rng.random_bool(0.85).then(|| PLACES[self.place_pick.sample(rng)]);
        let where_ = place.unwrap_or("the Sahel");
        let mut quantity = (None, None, None, None);
        let mut text = match kind {
            "quantity" => {
                let unit = *pick(rng, UNITS);
                let magnitude = rng.random_range(0.0..7.0f64);
                let value = (10f64.powf(magnitude)).round().max(1.0);
                let comparator = weighted(
                    rng,
                    &[("eq", 40), ("approx", 25), ("gt", 15), ("gte", 5), ("lt", 5), ("lte", 5), ("between", 5)],
                );
                let upper = (comparator == "between").then(|| (value * rng.random_range(1.1..3.0f64)).round());
                quantity = (Some(value), upper, Some(unit), Some(comparator));
                format!("{} counted {} {} in {}", pick(rng, ACTORS), value, unit, where_)
            }
            "prediction" => {
                format!("{} will {} {} in {}", pick(rng, ACTORS), pick(rng, FUTURE_VERBS), pick(rng, OBJECTS), where_)
            }
            _ => format!("{} {} {} in {}", pick(rng, ACTORS), pick(rng, VERBS), pick(rng, OBJECTS), where_),
        };
        let (period_start, period_end) = if rng.random_bool(0.75) {
            let start = partial_date(rng, 2010, 2025);
            let end = rng.random_bool(0.3).then(|| {
                let from: i32 = start[..4].parse().unwrap_or(2010);
                format!("{}", rng.random_range(from + 1..=2026))
            });
            text.push_str(&format!(" since {}", &start[..4]));
            (Some(start), end)
        } else {
            (None, None)
        };
        text.push_str(", ");
        let extra = rng.random_range(5..16);
        let words: Vec<String> = (0..extra).map(|_| self.vocabulary[self.words.sample(rng)].clone()).collect();
        text.push_str(&words.join(" "));
        text.push('.');
        let text = capitalize(&text);
        let subject = rng.random_bool(0.5).then(|| capitalize(&format!("{} {} {}", pick(rng, OBJECTS), "in", where_)));
        let at = stamp(created);
        batch.claims.push(ClaimRow {
            id: id.clone(),
            text: text.clone(),
            kind,
            subject,
            quantity_value: quantity.0,
            quantity_upper: quantity.1,
            quantity_unit: quantity.2,
            quantity_comparator: quantity.3,
            period_start,
            period_end,
            place,
            status: weighted(
                rng,
                &[
                    ("unreviewed", 60),
                    ("supported", 15),
                    ("disputed", 10),
                    ("refuted", 8),
                    ("unverifiable", 5),
                    ("retracted", 2),
                ],
            ),
            language: Some(if rng.random_bool(0.8) { "en" } else { "fr" }),
            created_at: at.clone(),
            updated_at: at,
            version: 1,
        });
        let tag_count = weighted(rng, &[(0usize, 20), (1, 35), (2, 25), (3, 12), (4, 8)]);
        let mut tags: Vec<&String> = (0..tag_count).map(|_| &self.tags[self.tag_pick.sample(rng)]).collect();
        tags.sort();
        tags.dedup();
        batch.tags.extend(tags.into_iter().map(|tag| TagRow { claim_id: id.clone(), tag: tag.clone() }));
        self.attributions(rng, &id, &text, created, batch);
    }

    /// One to four attributions, from distinct sources; often a citation
    /// chain, each source crediting the next and the last stating it
    /// directly, sometimes ending in a source with no attribution on record.
    fn attributions(&self, rng: &mut StdRng, claim_id: &str, text: &str, created: NaiveDateTime, batch: &mut Batch) {
        let count = weighted(rng, &[(1usize, 40), (2, 30), (3, 20), (4, 10)]);
        let mut sources: Vec<usize> = Vec::with_capacity(count);
        while sources.len() < count {
            let s = self.source_pick.sample(rng);
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
        let chain = count > 1 && rng.random_bool(0.5);
        let words: Vec<&str> = text.split_whitespace().collect();
        for (i, &source) in sources.iter().enumerate() {
            let at = created + TimeDelta::microseconds(i as i64 + 1);
            // Now and then a citation of any other source (one citing itself
            // is refused by the API).
            let other = rng
                .random_bool(0.05)
                .then(|| (0..64).map(|_| self.source_pick.sample(rng)).find(|s| *s != source))
                .flatten();
            let (mode, cited) = if chain && i + 1 < count {
                ("citation", Some(self.source_ids[sources[i + 1]].clone()))
            } else if let Some(other) = other {
                ("citation", Some(self.source_ids[other].clone()))
            } else {
                (weighted(rng, &[("direct", 50), ("quote", 25), ("paraphrase", 25)]), None)
            };
            let speaker = (mode == "quote" || rng.random_bool(0.2))
                .then(|| self.person_ids[self.person_pick.sample(rng)].clone());
            let quote = (mode == "quote" || rng.random_bool(0.35)).then(|| {
                let len = rng.random_range(4..=10).min(words.len());
                let start = rng.random_range(0..=words.len() - len);
                let mut quote: Vec<String> = words[start..start + len].iter().map(|w| w.to_string()).collect();
                // Sources word things their own way.
                for _ in 0..rng.random_range(0..3) {
                    let at = rng.random_range(0..=quote.len());
                    quote.insert(at, self.vocabulary[self.words.sample(rng)].clone());
                }
                quote.join(" ")
            });
            batch.attributions.push(AttributionRow {
                id: id_at(rng, at),
                claim_id: claim_id.to_string(),
                source_id: self.source_ids[source].clone(),
                speaker_id: speaker,
                mode,
                stance: weighted(rng, &[("affirms", 85), ("denies", 10), ("questions", 5)]),
                cited_source_id: cited,
                quote_status: quote.as_ref().map(|_| "unchecked"),
                quote_exact: quote,
                quote_prefix: None,
                quote_suffix: None,
                quote_start: None,
                quote_end: None,
                locator: rng.random_bool(0.5).then(|| format!("paragraph {}", rng.random_range(1..40))),
                stated_on: rng.random_bool(0.1).then(|| partial_date(rng, 2015, 2025)),
                created_at: stamp(at),
                updated_at: stamp(at),
                version: 1,
            });
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A year, month or day between the years, as the sources would give it.
fn partial_date(rng: &mut StdRng, from: i32, to: i32) -> String {
    let year = rng.random_range(from..=to);
    match weighted(rng, &[(0, 50), (1, 30), (2, 20)]) {
        0 => format!("{year}"),
        1 => format!("{year}-{:02}", rng.random_range(1..=12)),
        _ => format!("{year}-{:02}-{:02}", rng.random_range(1..=12), rng.random_range(1..=28)),
    }
}

/// Words the claims are written with; word `r` is the `r`-th most common
/// (0-based). The first ones are real words of the domain, the rest are
/// made-up but pronounceable, so that a rare word is rare for sure.
pub const VOCABULARY_SIZE: usize = 50_000;

/// The vocabulary word of this frequency rank (0 = most common).
pub fn vocabulary_word(rank: usize) -> String {
    if let Some(word) = COMMON_WORDS.split_whitespace().nth(rank) {
        return word.to_string();
    }
    const ONSETS: [&str; 16] = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "dr"];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
    let mut n = rank;
    let mut word = String::new();
    loop {
        word.push_str(ONSETS[n % ONSETS.len()]);
        n /= ONSETS.len();
        word.push_str(VOWELS[n % VOWELS.len()]);
        n /= VOWELS.len();
        if n == 0 {
            break;
        }
    }
    if COMMON_WORDS.split_whitespace().any(|common| common == word) {
        word.push('n');
    }
    word
}

const COMMON_WORDS: &str = "the of and to in a security officials said forces army local people attack \
    government region village north fighters militants civilians town reported according military \
    groups armed jihadist fuel road week killed month attacks central humanitarian aid displaced \
    convoy blockade border gold mine junta coup elections minister president prices markets schools \
    trucks drivers water food farmers herders cattle river bridge airport capital troops base \
    mercenaries soldiers police checkpoint ambush drone strike witnesses residents sources report \
    data agency ministry statement interview analysts experts observers spokesman rights \
    abuses executions arrests detained released negotiations talks ceasefire agreement sanctions \
    embassy diplomats envoy mission peacekeepers withdrawal deployment recruitment training supply \
    shortage queues stations electricity power outages internet network radio journalists media \
    censorship protest demonstration walkout union students teachers hospital clinic doctors vaccine \
    cholera malaria famine drought floods harvest rainy season migration refugees camp registered \
    estimated figures toll casualties wounded missing kidnapped hostages ransom smuggling trafficking \
    weapons explosives mines roadside device patrol operation offensive counteroffensive siege \
    encircled cut supplied reinforced retreated advanced captured recaptured controlled occupied";

const OUTLETS: &[&str] = &[
    "The Guardian",
    "France 24",
    "BBC News",
    "Reuters",
    "Agence France-Presse",
    "Associated Press",
    "Al Jazeera",
    "Le Monde",
    "Radio France Internationale",
    "Africanews",
    "Jeune Afrique",
    "Deutsche Welle",
    "Business Insider Africa",
    "The New Humanitarian",
    "Africa Center for Strategic Studies",
    "ACLED",
    "Human Rights Watch",
    "Amnesty International",
    "Atlantic Council",
    "Crisis Group",
    "Studio Tamani",
    "Mali Web",
    "Le Républicain",
    "Sahel Intelligence",
];

const OUTLET_WORDS: &[&str] = &["Sahel Monitor", "Daily Courier", "Radio", "Observer", "Gazette", "Bulletin", "Blog"];

const ORGANIZATION_KINDS: &[&str] =
    &["Ministry", "Army Command", "Aid Agency", "Research Institute", "Human Rights League", "Embassy", "Union"];

const ANONYMOUS: &[&str] = &[
    "A former Malian minister",
    "A senior security source",
    "An aid worker",
    "A local official",
    "A diplomat in Bamako",
    "A truck driver",
    "A resident",
];

const ROLES: &[&str] = &[
    "analyst",
    "spokesperson",
    "minister",
    "researcher",
    "local official",
    "military officer",
    "journalist",
    "aid worker",
];

const FIRST_NAMES: &[&str] = &[
    "Aminata",
    "Moussa",
    "Fatoumata",
    "Ibrahim",
    "Mariam",
    "Oumar",
    "Awa",
    "Boubacar",
    "Kadidia",
    "Seydou",
    "Ulf",
    "Claire",
    "Jean",
    "Sophie",
    "Ahmed",
    "Hawa",
    "Assimi",
    "Abdoulaye",
    "Salif",
    "Nana",
];

const LAST_NAMES: &[&str] = &[
    "Traoré",
    "Keïta",
    "Coulibaly",
    "Diallo",
    "Maïga",
    "Touré",
    "Cissé",
    "Sangaré",
    "Konaté",
    "Diarra",
    "Laessing",
    "Dupont",
    "Martin",
    "Ag Ghaly",
    "Goïta",
    "Sidibé",
    "Bagayoko",
    "Dembélé",
];

const ACTORS: &[&str] = &[
    "JNIM fighters",
    "the junta",
    "Malian troops",
    "Wagner mercenaries",
    "the UN mission",
    "Ecowas leaders",
    "local officials",
    "the transitional government",
    "Islamic State Sahel",
    "Fulani militias",
    "Dozo hunters",
    "Burkinabe forces",
    "Niger's army",
    "French diplomats",
    "Russian instructors",
    "aid agencies",
    "human rights groups",
    "truck drivers",
    "gold miners",
    "farmers' unions",
];

const VERBS: &[&str] = &[
    "attacked",
    "blockaded",
    "seized",
    "withdrew from",
    "negotiated over",
    "accused others over",
    "denied involvement in",
    "reported on",
    "announced plans for",
    "closed",
    "reopened",
    "besieged",
    "taxed",
    "recruited near",
    "displaced residents near",
    "supplied",
    "banned",
    "suspended",
    "signed an agreement on",
    "warned about",
];

const FUTURE_VERBS: &[&str] = &["attack", "blockade", "seize", "withdraw from", "reopen", "close", "besiege"];

const OBJECTS: &[&str] = &[
    "fuel convoys",
    "the main road",
    "a military base",
    "gold mines",
    "the border crossing",
    "schools",
    "the airport",
    "aid deliveries",
    "local markets",
    "the dam",
    "radio stations",
    "mobile networks",
    "the river port",
    "cattle markets",
    "health centres",
];

const PLACES: &[&str] = &[
    "Mali",
    "Bamako, Mali",
    "Burkina Faso",
    "Niger",
    "Mopti, Mali",
    "Gao, Mali",
    "Timbuktu, Mali",
    "Kidal, Mali",
    "Ménaka, Mali",
    "Ségou, Mali",
    "Kayes, Mali",
    "Sikasso, Mali",
    "Ouagadougou, Burkina Faso",
    "Niamey, Niger",
    "Djibo, Burkina Faso",
    "Tillabéri, Niger",
    "Nouakchott, Mauritania",
    "Dakar, Senegal",
    "Abidjan, Côte d'Ivoire",
    "Conakry, Guinea",
    "Algiers, Algeria",
    "Paris, France",
    "Moscow, Russia",
    "Sahel",
    "West Africa",
];

const UNITS: &[&str] =
    &["deaths", "people", "USD", "tonnes", "litres", "soldiers", "displaced people", "schools", "percent", "trucks"];

const TAGS: &[&str] = &[
    "jnim",
    "fuel-blockade",
    "bamako",
    "junta",
    "wagner",
    "ecowas",
    "death-toll",
    "displacement",
    "gold",
    "mining",
    "economy",
    "schools",
    "prices",
    "elections",
    "coup",
    "human-rights",
    "russia",
    "france",
    "un-mission",
    "humanitarian",
    "drones",
    "kidnapping",
    "smuggling",
    "media",
    "health",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_words_are_distinct_and_rare_ones_are_made_up() {
        let words: std::collections::BTreeSet<String> = (0..VOCABULARY_SIZE).map(vocabulary_word).collect();
        assert_eq!(words.len(), VOCABULARY_SIZE);
        assert_eq!(vocabulary_word(0), "the");
        assert!(vocabulary_word(40_000).chars().all(|c| c.is_ascii_lowercase()));
    }

    #[test]
    fn the_same_seed_makes_the_same_claims() {
        let make = || {
            let mut rng = StdRng::seed_from_u64(7);
            let world = World::new(&mut rng, 100);
            let batch = world.claims(&mut rng, 0, 100);
            let claims: Vec<(String, String)> = batch.claims.iter().map(|c| (c.id.clone(), c.text.clone())).collect();
            (claims, batch.attributions.len(), batch.tags.len())
        };
        assert_eq!(make(), make());
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let zipf = Zipf::new(1000, 1.0);
        let mut rng = StdRng::seed_from_u64(1);
        let draws: Vec<usize> = (0..10_000).map(|_| zipf.sample(&mut rng)).collect();
        let top = draws.iter().filter(|&&d| d < 10).count();
        let tail = draws.iter().filter(|&&d| d >= 500).count();
        assert!(top > tail, "{top} draws in the top 10, {tail} in the bottom half");
    }
}
