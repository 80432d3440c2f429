//! The synthetic world: agents, sources and claims drawn from Zipf-like
//! distributions, as API create bodies turned into rows by each table's own
//! constructor (so generated rows are the rows a create would write).

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use rand::Rng;
use rand::rngs::StdRng;
use uuid::Uuid;

use super::words::*;
use crate::agents::model::{AgentKind, NewAgent};
use crate::agents::store::AgentRow;
use crate::attributions::model::{Mode, NewAttribution, Stance};
use crate::claims::model::{ClaimKind, ClaimStatus, Comparator, NewClaim, Quantity};
use crate::claims::store::{ClaimRow, TagRow, tag_rows};
use crate::db::write::Stamp;
use crate::ids::{AgentId, AttributionId, ClaimId, SourceId};
use crate::quotes::Quote;
use crate::sources::model::{NewSource, SourceKind};
use crate::sources::store::SourceRow;
use crate::validate::PartialDate;

/// Rows of one batch of claims; the attributions' quotes are checked when
/// they are written.
pub struct Batch {
    pub claims: Vec<ClaimRow>,
    pub tags: Vec<TagRow>,
    pub attributions: Vec<(AttributionId, NewAttribution, Stamp)>,
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

/// A UUID v7 for this time, its random part from the seeded generator.
fn id_at<Id: From<Uuid>>(rng: &mut StdRng, at: NaiveDateTime) -> Id {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    let millis = at.and_utc().timestamp_millis().max(0) as u64;
    Id::from(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
}

fn base_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2023, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

/// The agents and sources, and what claims draw from.
pub struct World {
    pub agents: Vec<AgentRow>,
    pub sources: Vec<SourceRow>,
    person_ids: Vec<AgentId>,
    source_ids: Vec<SourceId>,
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
    pub fn new(rng: &mut StdRng, claims: usize) -> World {
        let scale = |per: usize, min: usize, max: usize| (claims / per).clamp(min, max);
        let publishers = scale(2500, 10, 400);
        let organizations = scale(5000, 5, 200);
        let persons = scale(400, 20, 2500);
        let sources = scale(200, 30, 5000);
        let mut clock = Clock(base_time() - TimeDelta::days(400));
        let mut agents = Vec::new();
        let publisher_ids = make_publishers(rng, &mut clock, publishers, &mut agents);
        let organization_ids = make_organizations(rng, &mut clock, organizations, &mut agents);
        let person_ids = make_persons(rng, &mut clock, persons, &organization_ids, &mut agents);
        let source_rows = make_sources(rng, &mut clock, sources, &publisher_ids);
        let source_ids = source_rows.iter().map(|s| s.meta.id.clone()).collect();
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
    pub fn claims(&self, rng: &mut StdRng, first: usize, count: usize) -> Batch {
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
        let id: ClaimId = id_at(rng, created);
        let kind = weighted(
            rng,
            &[
                (ClaimKind::Statement, 40),
                (ClaimKind::Quantity, 20),
                (ClaimKind::Event, 20),
                (ClaimKind::Prediction, 8),
                (ClaimKind::Opinion, 12),
            ],
        );
        let place = rng.random_bool(0.85).then(|| PLACES[self.place_pick.sample(rng)]);
        let where_ = place.unwrap_or("the Sahel");
        let (mut text, quantity) = opening(rng, kind, where_);
        let (period_start, period_end) = if rng.random_bool(0.75) {
            let start = partial_date(rng, 2010, 2025);
            let from = start.as_ref().map_or("2010", |s| &s.as_str()[..4]).to_string();
            let end = rng.random_bool(0.3).then(|| {
                let year = rng.random_range(from.parse().unwrap_or(2010) + 1..=2026);
                PartialDate::parse(&year.to_string()).ok()
            });
            text.push_str(&format!(" since {from}"));
            (start, end.flatten())
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
        let status = weighted(
            rng,
            &[
                (ClaimStatus::Unreviewed, 60),
                (ClaimStatus::Supported, 15),
                (ClaimStatus::Disputed, 10),
                (ClaimStatus::Refuted, 8),
                (ClaimStatus::Unverifiable, 5),
                (ClaimStatus::Retracted, 2),
            ],
        );
        let language = Some(if rng.random_bool(0.8) { "en" } else { "fr" }.to_string());
        let tag_count = weighted(rng, &[(0usize, 20), (1, 35), (2, 25), (3, 12), (4, 8)]);
        let tags: Vec<String> = (0..tag_count).map(|_| self.tags[self.tag_pick.sample(rng)].clone()).collect();
        let body = NewClaim {
            id: None,
            text,
            kind,
            subject,
            quantity,
            period_start,
            period_end,
            place: place.map(str::to_string),
            tags,
            status,
            language,
        };
        batch.tags.extend(tag_rows(&id, &body.tags));
        batch.claims.push(ClaimRow::new(id.clone(), &body, Stamp::created(created)));
        self.attributions(rng, &id, &body.text, created, batch);
    }

    /// One to four attributions, from distinct sources; often a citation
    /// chain, each source crediting the next and the last stating it
    /// directly, sometimes ending in a source with no attribution on record.
    fn attributions(
        &self,
        rng: &mut StdRng,
        claim_id: &ClaimId,
        text: &str,
        created: NaiveDateTime,
        batch: &mut Batch,
    ) {
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
                (Mode::Citation, Some(self.source_ids[sources[i + 1]].clone()))
            } else if let Some(other) = other {
                (Mode::Citation, Some(self.source_ids[other].clone()))
            } else {
                (weighted(rng, &[(Mode::Direct, 50), (Mode::Quote, 25), (Mode::Paraphrase, 25)]), None)
            };
            let speaker = (mode == Mode::Quote || rng.random_bool(0.2))
                .then(|| self.person_ids[self.person_pick.sample(rng)].clone());
            let quote = (mode == Mode::Quote || rng.random_bool(0.35)).then(|| {
                let len = rng.random_range(4..=10).min(words.len());
                let start = rng.random_range(0..=words.len() - len);
                let mut quote: Vec<String> = words[start..start + len].iter().map(|w| w.to_string()).collect();
                // Sources word things their own way.
                for _ in 0..rng.random_range(0..3) {
                    let at = rng.random_range(0..=quote.len());
                    quote.insert(at, self.vocabulary[self.words.sample(rng)].clone());
                }
                Quote { exact: quote.join(" "), prefix: None, suffix: None }
            });
            let id: AttributionId = id_at(rng, at);
            let stance = weighted(rng, &[(Stance::Affirms, 85), (Stance::Denies, 10), (Stance::Questions, 5)]);
            let locator = rng.random_bool(0.5).then(|| format!("paragraph {}", rng.random_range(1..40)));
            let stated_on = rng.random_bool(0.1).then(|| partial_date(rng, 2015, 2025)).flatten();
            let body = NewAttribution {
                id: None,
                claim_id: claim_id.clone(),
                source_id: self.source_ids[source].clone(),
                speaker_id: speaker,
                mode,
                stance,
                cited_source_id: cited,
                quote,
                locator,
                stated_on,
            };
            batch.attributions.push((id, body, Stamp::created(at)));
        }
    }
}

/// How a claim of this kind starts, and its figure for a quantity.
fn opening(rng: &mut StdRng, kind: ClaimKind, where_: &str) -> (String, Option<Quantity>) {
    match kind {
        ClaimKind::Quantity => {
            let unit = *pick(rng, UNITS);
            let magnitude = rng.random_range(0.0..7.0f64);
            let value = (10f64.powf(magnitude)).round().max(1.0);
            let comparator = weighted(
                rng,
                &[
                    (Comparator::Eq, 40),
                    (Comparator::Approx, 25),
                    (Comparator::Gt, 15),
                    (Comparator::Gte, 5),
                    (Comparator::Lt, 5),
                    (Comparator::Lte, 5),
                    (Comparator::Between, 5),
                ],
            );
            let upper = (comparator == Comparator::Between).then(|| (value * rng.random_range(1.1..3.0f64)).round());
            let text = format!("{} counted {} {} in {}", pick(rng, ACTORS), value, unit, where_);
            (text, Some(Quantity { value, upper, unit: unit.to_string(), comparator }))
        }
        ClaimKind::Prediction => (
            format!("{} will {} {} in {}", pick(rng, ACTORS), pick(rng, FUTURE_VERBS), pick(rng, OBJECTS), where_),
            None,
        ),
        _ => (format!("{} {} {} in {}", pick(rng, ACTORS), pick(rng, VERBS), pick(rng, OBJECTS), where_), None),
    }
}

/// When the agents and sources were made: one after the other, a few
/// minutes apart.
struct Clock(NaiveDateTime);

impl Clock {
    fn next(&mut self, rng: &mut StdRng) -> NaiveDateTime {
        self.0 += TimeDelta::seconds(rng.random_range(1..600));
        self.0
    }
}

/// News outlets, the first ones real names.
fn make_publishers(rng: &mut StdRng, clock: &mut Clock, n: usize, agents: &mut Vec<AgentRow>) -> Vec<AgentId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let when = clock.next(rng);
        let id: AgentId = id_at(rng, when);
        let name = match OUTLETS.get(i) {
            Some(name) => (*name).to_string(),
            None => format!("{} {}", pick(rng, OUTLET_WORDS), i),
        };
        let slug: String = name.to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
        let body = NewAgent {
            aliases: Vec::new(),
            id: None,
            kind: AgentKind::Organization,
            name,
            description: Some("news outlet".to_string()),
            anonymous: false,
            affiliation_id: None,
            url: Some(format!("https://{slug}.example")),
            wikidata_id: (i < OUTLETS.len()).then(|| format!("Q{}", 100_000 + i)),
        };
        agents.push(AgentRow::new(id.clone(), body, Stamp::created(when)));
        ids.push(id);
    }
    ids
}

/// Organisations people speak for.
fn make_organizations(rng: &mut StdRng, clock: &mut Clock, n: usize, agents: &mut Vec<AgentRow>) -> Vec<AgentId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let when = clock.next(rng);
        let id: AgentId = id_at(rng, when);
        let body = NewAgent {
            aliases: Vec::new(),
            id: None,
            kind: AgentKind::Organization,
            name: format!("{} {}", pick(rng, ORGANIZATION_KINDS), i + 1),
            description: None,
            anonymous: false,
            affiliation_id: None,
            url: None,
            wikidata_id: None,
        };
        agents.push(AgentRow::new(id.clone(), body, Stamp::created(when)));
        ids.push(id);
    }
    ids
}

/// Speakers, some anonymous, most affiliated with an organisation.
fn make_persons(
    rng: &mut StdRng,
    clock: &mut Clock,
    n: usize,
    organization_ids: &[AgentId],
    agents: &mut Vec<AgentRow>,
) -> Vec<AgentId> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let when = clock.next(rng);
        let id: AgentId = id_at(rng, when);
        let anonymous = rng.random_bool(0.1);
        let name = if anonymous {
            pick(rng, ANONYMOUS).to_string()
        } else {
            format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES))
        };
        let body = NewAgent {
            aliases: Vec::new(),
            id: None,
            kind: AgentKind::Person,
            name,
            description: Some(pick(rng, ROLES).to_string()),
            anonymous,
            affiliation_id: rng.random_bool(0.6).then(|| pick(rng, organization_ids).clone()),
            url: None,
            wikidata_id: None,
        };
        agents.push(AgentRow::new(id.clone(), body, Stamp::created(when)));
        ids.push(id);
    }
    ids
}

/// Sources, most from a few outlets.
fn make_sources(rng: &mut StdRng, clock: &mut Clock, n: usize, publisher_ids: &[AgentId]) -> Vec<SourceRow> {
    let publisher_pick = Zipf::new(publisher_ids.len(), 1.0);
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let when = clock.next(rng);
        let id: SourceId = id_at(rng, when);
        let publisher = publisher_ids[publisher_pick.sample(rng)].clone();
        let kind = weighted(
            rng,
            &[
                (SourceKind::Article, 60),
                (SourceKind::Report, 10),
                (SourceKind::Dataset, 3),
                (SourceKind::Broadcast, 7),
                (SourceKind::Statement, 8),
                (SourceKind::Interview, 5),
                (SourceKind::SocialPost, 5),
                (SourceKind::WebPage, 2),
            ],
        );
        let topic = format!("{} {} {}", pick(rng, ACTORS), pick(rng, VERBS), pick(rng, OBJECTS));
        let body = NewSource {
            id: None,
            kind,
            title: capitalize(&topic),
            url: Some(format!("https://news.example/{}/{}", i, topic.replace(' ', "-").to_lowercase())),
            publisher_id: rng.random_bool(0.95).then_some(publisher),
            byline: rng.random_bool(0.5).then(|| format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES))),
            published_on: partial_date(rng, 2012, 2025),
            language: Some(if rng.random_bool(0.8) { "en" } else { "fr" }.to_string()),
            content: None,
            archived_url: None,
        };
        rows.push(SourceRow::new(id, body, Stamp::created(when)));
    }
    rows
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A year, month or day between the years, as the sources would give it.
/// (Every date made here is valid: days go up to 28.)
fn partial_date(rng: &mut StdRng, from: i32, to: i32) -> Option<PartialDate> {
    let year = rng.random_range(from..=to);
    let text = match weighted(rng, &[(0, 50), (1, 30), (2, 20)]) {
        0 => format!("{year}"),
        1 => format!("{year}-{:02}", rng.random_range(1..=12)),
        _ => format!("{year}-{:02}-{:02}", rng.random_range(1..=12), rng.random_range(1..=28)),
    };
    PartialDate::parse(&text).ok()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

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
            let claims: Vec<(ClaimId, String)> = batch.claims.iter().map(|c| (c.id.clone(), c.text.clone())).collect();
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
