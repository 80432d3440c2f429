//! The best matches of a search by relevance on SQLite, without ranking
//! every match: the threshold algorithm (Fagin, Lotem and Naor, 2001) over
//! `claim_terms`, the table of every document's terms that the triggers of
//! `claim_documents` keep (the `claim_terms` migration).
//!
//! FTS5 ranks a search by visiting every match: at a million claims a
//! common word (one claim in eight) costs 55–90 ms however few results a
//! page shows. But BM25 of one phrase is a function of two numbers per
//! match: how often the document holds the phrase (in columns with weights)
//! and the document's length; it grows with the first and falls as the
//! second grows. `claim_terms` holds both per term and document, ordered by
//! term, then the counts, then length. So for each phrase of a search and
//! each pair of counts (a handful per term), the rows in that order are the
//! group's matches best first, and the phrase's next unread row of each
//! group bounds what any match not read yet can score for that phrase.
//!
//! The search reads each group's rows in batches that double, looks up the
//! documents it has not seen in `claim_terms_by_doc` (what each holds of
//! the search's terms, and its length), scores them in Rust, and stops once
//! it holds `want` matches that all score above what any unread document
//! can: such a document is no shorter than the last row read in each group
//! it is in, so a choice of one group (or none) per phrase bounds it at
//! the longest of their lengths. The IDFs are counted as `claimtrail_bm25`
//! counts them, from the documents per term in `claim_term_docs` instead of
//! a walk of each posting list, the average length is FTS5's, and the
//! score is `claimtrail_bm25`'s arithmetic in its order, so the ranks are
//! those of the full ranking, bit for bit, and so are ties (by row),
//! cursors and pages; a test holds this path to it.
//!
//! It answers a search of one or two words (their stems included), with
//! no filter. A match of two words holds both (FTS5's `AND`), so only the
//! combinations of groups with a phrase of each word bound what an unread
//! document can score: a group of one word is read only as deep as a
//! document of that length holding the other word could still beat the
//! page. Anything else (more words, a phrase, a prefix, a filter, a search
//! whose bound does not fall within [`MAX_ROWS`] rows) returns `None` and
//! is ranked whole, as before.

use std::collections::{HashMap, HashSet};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::sql_types::{BigInt, Binary, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, OptionalExtension, QueryableByName, RunQueryDsl};

mod pruned;

use super::position::Position;
use super::request::Request;
use super::sql::Sql;
use super::stored;
use crate::db::postings::{self, List, Plan, Posting, PostingList};
use crate::db::watch::Epoch;
use crate::db::write::StoreResult;
use crate::search::Item;

/// The weight of the text, subject and quotes columns in [`super::RANK_WEIGHTS`].
pub const WRITTEN_WEIGHT: f64 = 1.0;
/// The weight of the `stems` column in [`super::RANK_WEIGHTS`].
pub const STEMS_WEIGHT: f64 = 0.5;

/// Rows read from each group in the first round; each round reads twice
/// as many as the one before.
pub const FIRST_BATCH: i64 = 64;
/// Rows read in all, past which the search is ranked whole instead: the
/// matches that beat the bounds are too thinly spread (words that rarely
/// occur together, or a page deep into the results).
const MAX_ROWS: usize = 20_000;
/// Most results one search returns this way (a page and one more).
const MAX_WANT: usize = 1_001;
/// How far above the bound the last result must score: the bound is
/// summed in another order than the ranks, which may differ in the last
/// bits.
const MARGIN: f64 = 1e-9;

/// How [`best`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// Rows read from each group in the first round.
    pub first_batch: i64,
    /// Rows read in all, past which it gives up.
    pub max_rows: usize,
    /// Rows read for two words past which their posting lists are wanted
    /// (see [`FAR_ROWS`]).
    pub far_rows: usize,
    /// Which searches of two words it answers.
    pub words: Words,
}

impl Reading {
    /// The server's: [`FIRST_BATCH`], [`MAX_ROWS`], two words when cheaper.
    pub const SERVER: Reading =
        Reading { first_batch: FIRST_BATCH, max_rows: MAX_ROWS, far_rows: FAR_ROWS, words: Words::WhenCheaper };
}

/// What one phrase of the search counts, of a term's occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counts {
    /// In the text, subject and quotes (`{text subject quotes} : "w"`).
    Written,
    /// In `stems` (`stems : "s"`).
    Stems,
    /// In all four (`{text subject quotes stems} : "w"`).
    Both,
}

impl Counts {
    /// The phrase's weighted frequency in a document with these counts.
    fn frequency(self, written: i64, stemmed: i64) -> f64 {
        let (w, s) = (written as f64 * WRITTEN_WEIGHT, stemmed as f64 * STEMS_WEIGHT);
        match self {
            Counts::Written => w,
            Counts::Stems => s,
            Counts::Both => w + s,
        }
    }
}

/// The phrases of one item of a search, in the order the FTS5 expression
/// of `claims::listing::sqlite` (`words_expression`) writes them: one over
/// all four fields for a word that is its own stem, else the words as
/// written and their stems. Each is `Some((word, counts))` when it is one
/// word, `None` when it is several or a prefix.
fn item_phrases(item: &Item) -> Vec<Option<(String, Counts)>> {
    let word = match item.words.as_slice() {
        [word] if !item.prefix => Some(word),
        _ => None,
    };
    match (item.prefix, item.stems()) {
        (true, _) => vec![None],
        (false, None) => vec![word.map(|w| (w.clone(), Counts::Both))],
        (false, Some(stems)) => vec![
            word.map(|w| (w.clone(), Counts::Written)),
            match (word, stems.as_slice()) {
                (Some(_), [stem]) => Some((stem.clone(), Counts::Stems)),
                _ => None,
            },
        ],
    }
}

/// Once the threshold algorithm has read more rows than this for two
/// words, their posting lists are merged if they are kept, else wanted
/// (see [`by_postings`]); and later searches of the same words, until the
/// next commit, merge them without the threshold algorithm. At a million
/// claims `q=the security` finishes after 692 rows (4.5 ms), where merging
/// its lists takes 8 ms; `q=the convoys` reads 1,061 (12 ms), where
/// merging takes 8–9 ms.
const FAR_ROWS: usize = 1_000;

/// Most words (items) a search this path answers may have.
const MAX_WORDS: usize = 2;

/// Two words take this path (unless forced, see [`Words`]) only when one
/// weighs at most this share of the other (the ratio of their IDFs): then
/// the other word's best matches are nearly the search's, and the bound
/// falls as fast as for one word. Two words of similar weight make the
/// bound fall slowly: at a million claims `q=security officials` read
/// 13,447 rows here (86 ms; that was reading every group of a
/// combination, before each was read in one group; it now gives up past
/// [`MAX_ROWS`]) where ranking every match took 50 ms, while
/// `q=mali security` (Mali in 56 % of the claims) read 1,094 rows (13 ms;
/// 692 now) against 77–115 ms.
const MAX_IDF_RATIO: f64 = 0.25;

/// Which searches of two words this path answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    /// Those it answers faster than ranking every match, by
    /// [`MAX_IDF_RATIO`] (what the server does).
    WhenCheaper,
    /// Every one (for the tests that hold the ranks to the full ranking).
    Always,
    /// Every one, and one word too, by ranking every match from the
    /// posting lists of the search's terms read from `claim_terms`, none
    /// kept (for the tests that hold [`by_postings`] to the full ranking).
    Postings,
}

/// The phrases of a search this path answers: one or two items, each of
/// one word (no phrase of several, no prefix), no filter; each phrase with
/// the index of its item. `None` for any other.
fn phrases(request: &Request) -> Option<Vec<(String, Counts, usize)>> {
    if !request.columns.is_empty() || !request.members.is_empty() || request.plan.is_some() {
        return None;
    }
    let items = &request.search.as_ref()?.items;
    if items.is_empty() || items.len() > MAX_WORDS {
        return None;
    }
    let mut phrases = Vec::new();
    for (i, item) in items.iter().enumerate() {
        for phrase in item_phrases(item) {
            let (word, counts) = phrase?;
            phrases.push((word, counts, i));
        }
    }
    Some(phrases)
}

/// Whether [`best`] answers this request (unless it gives up).
pub fn answers(request: &Request) -> bool {
    phrases(request).is_some()
}

#[derive(QueryableByName)]
struct Terms {
    #[diesel(sql_type = Text)]
    terms: String,
}

/// A word as FTS5 indexes it (folded case, no diacritics), through the
/// tokeniser `claim_terms` is written with; `None` unless it is one token.
fn term_of(conn: &mut SqliteConnection, word: &str) -> StoreResult<Option<String>> {
    let mut sql = Sql::new();
    sql.push("SELECT ")
        .push(crate::db::terms::FUNCTION)
        .push("(")
        .text(word)
        .push(", NULL, NULL, NULL, NULL) AS terms");
    let rows: Vec<Terms> = sql.cached().for_sqlite().load(conn)?;
    let Some(row) = rows.first() else { return Ok(None) };
    let found: Vec<(String, i64, i64, i64)> = serde_json::from_str(&row.terms).unwrap_or_default();
    Ok(match found.as_slice() {
        [(term, 1, 0, 1)] => Some(term.clone()),
        _ => None,
    })
}

/// One pair of counts of a phrase's term: its rows, best first.
struct Group {
    written: i64,
    stemmed: i64,
    frequency: f64,
    /// The last row read: the next ones come after it, and are no shorter.
    last: Option<(i64, i64)>,
    done: bool,
    /// Rows its next read asks for (doubled at each read).
    batch: i64,
}

/// One phrase: its term and its groups.
struct Stream {
    term: String,
    groups: Vec<Group>,
}

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = BigInt)]
    written: i64,
    #[diesel(sql_type = BigInt)]
    stemmed: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    length: i64,
    #[diesel(sql_type = BigInt)]
    doc: i64,
}

/// What BM25 needs besides a document's counts and length.
struct Stats {
    avgdl: f64,
    idf: Vec<f64>,
    /// The documents of each distinct term of the search, summed: the
    /// length of their posting lists together.
    postings: i64,
}

/// The groups of a term whose phrase weighs them, each to read `batch`
/// rows first: each distinct pair of counts, found by seeking past the
/// previous one (a skip scan; `DISTINCT` would read every row of the term). Each seek compares one column at a
/// time: SQLite seeks a row value `(a, b) > (?, ?)` by `a` alone, and then
/// walks every row of the previous pair.
fn groups_of(conn: &mut SqliteConnection, term: &str, counts: Counts, batch: i64) -> StoreResult<Vec<Group>> {
    let mut groups = Vec::new();
    let mut after: Option<(i64, i64)> = None;
    loop {
        let mut pair = None;
        if let Some((written, stemmed)) = after {
            let mut sql = Sql::new();
            sql.push("SELECT written, stemmed FROM claim_terms WHERE term = ")
                .text(term)
                .push(" AND written = ")
                .big_int(written)
                .push(" AND stemmed > ")
                .big_int(stemmed)
                .push(" ORDER BY stemmed LIMIT 1");
            pair = sql.cached().for_sqlite().load::<Pair>(conn)?.into_iter().next();
        }
        if pair.is_none() {
            let mut sql = Sql::new();
            sql.push("SELECT written, stemmed FROM claim_terms WHERE term = ")
                .text(term)
                .push(" AND written > ")
                .big_int(after.map_or(-1, |(written, _)| written))
                .push(" ORDER BY written, stemmed LIMIT 1");
            pair = sql.cached().for_sqlite().load::<Pair>(conn)?.into_iter().next();
        }
        let Some(pair) = pair else { break };
        after = Some((pair.written, pair.stemmed));
        let frequency = counts.frequency(pair.written, pair.stemmed);
        if frequency > 0.0 {
            groups.push(Group {
                written: pair.written,
                stemmed: pair.stemmed,
                frequency,
                last: None,
                done: false,
                batch,
            });
        }
    }
    Ok(groups)
}

/// The next `batch` rows of a group: the rest of the last row's length,
/// then the longer ones (two seeks, for the reason given at [`groups_of`]).
fn read(conn: &mut SqliteConnection, term: &str, group: &Group, batch: i64) -> StoreResult<Vec<Row>> {
    let group_sql = |sql: &mut Sql| {
        sql.push("SELECT length, doc FROM claim_terms WHERE term = ")
            .text(term)
            .push(" AND written = ")
            .big_int(group.written)
            .push(" AND stemmed = ")
            .big_int(group.stemmed);
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut longer_than = i64::MIN;
    if let Some((length, doc)) = group.last {
        let mut sql = Sql::new();
        group_sql(&mut sql);
        sql.push(" AND length = ")
            .big_int(length)
            .push(" AND doc > ")
            .big_int(doc)
            .push(" ORDER BY doc LIMIT ")
            .big_int(batch);
        rows = sql.cached().for_sqlite().load(conn)?;
        longer_than = length;
    }
    let rest = batch - rows.len() as i64;
    if rest > 0 {
        let mut sql = Sql::new();
        group_sql(&mut sql);
        sql.push(" AND length > ").big_int(longer_than).push(" ORDER BY length, doc LIMIT ").big_int(rest);
        rows.extend(sql.cached().for_sqlite().load::<Row>(conn)?);
    }
    Ok(rows)
}

/// BM25 of one phrase, as `claimtrail_bm25` computes it.
fn bm25(idf: f64, frequency: f64, length: i64, avgdl: f64) -> f64 {
    crate::db::bm25::phrase_score(idf, frequency, length as f64, avgdl)
}

#[derive(QueryableByName)]
struct DocTerm {
    #[diesel(sql_type = BigInt)]
    doc: i64,
    #[diesel(sql_type = Text)]
    term: String,
    #[diesel(sql_type = BigInt)]
    written: i64,
    #[diesel(sql_type = BigInt)]
    stemmed: i64,
    #[diesel(sql_type = BigInt)]
    length: i64,
}

/// What one document holds of the search's terms.
struct Found {
    length: i64,
    /// Per phrase: its weighted frequency in the document.
    frequencies: Vec<f64>,
}

/// The search's phrases: those of each of its words (as written and as a
/// stem, or one over all fields), words in order; a document matches when
/// it holds a phrase of every word.
struct Search {
    streams: Vec<Stream>,
    /// Per phrase, what it counts.
    counts: Vec<Counts>,
    /// Per phrase, the index of its word.
    items: Vec<usize>,
    /// How many words.
    words: usize,
}

impl Search {
    /// Its terms, each once, sorted.
    fn distinct_terms(&self) -> Vec<&str> {
        let mut terms: Vec<&str> = self.streams.iter().map(|s| s.term.as_str()).collect();
        terms.sort_unstable();
        terms.dedup();
        terms
    }

    /// A document matches when it holds a phrase of every word.
    fn matches(&self, found: &Found) -> bool {
        self.covers(|p| found.frequencies[p] > 0.0)
    }

    /// Whether a choice of phrases (`chosen(p)`) has one of every word.
    fn covers(&self, chosen: impl Fn(usize) -> bool) -> bool {
        (0..self.words).all(|word| (0..self.items.len()).any(|p| self.items[p] == word && chosen(p)))
    }

    /// The document's score, as `claimtrail_bm25` adds it up: phrase by
    /// phrase, in order, those it holds.
    fn score(&self, found: &Found, stats: &Stats) -> f64 {
        let mut score = 0.0;
        for (p, frequency) in found.frequencies.iter().enumerate() {
            if *frequency == 0.0 {
                continue;
            }
            score += bm25(stats.idf[p], *frequency, found.length, stats.avgdl);
        }
        score
    }
}

/// The best `want` matches of the search after the request's position, as
/// `(doc, rank)` best first, exactly those the full ranking gives; `None`
/// when this search is not one this path answers, or gave up.
pub fn best(
    conn: &mut SqliteConnection,
    request: &Request,
    want: usize,
    reading: Reading,
) -> StoreResult<Option<Vec<(i64, f64)>>> {
    let Some(phrases) = phrases(request) else { return Ok(None) };
    if want == 0 || want > MAX_WANT {
        return Ok(None);
    }
    // Before the snapshot begins, for the posting lists kept in memory (two
    // words only; and only on a connection with no transaction open, whose
    // snapshot begins in the one below).
    let outside = matches!(AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(), Ok(None));
    let two_words = request.search.as_ref().is_some_and(|search| search.items.len() == 2);
    let before = request.terms.as_ref().filter(|_| outside && two_words).and_then(postings::Terms::epoch);
    // One snapshot for the rows, the lookups and the statistics: a commit
    // between them would score rows of one version with counts of another.
    conn.transaction(|conn| read_best(conn, request, phrases, want, reading, before))
}

fn read_best(
    conn: &mut SqliteConnection,
    request: &Request,
    phrases: Vec<(String, Counts, usize)>,
    want: usize,
    reading: Reading,
    before: Option<Epoch>,
) -> StoreResult<Option<Vec<(i64, f64)>>> {
    let after = match &request.after {
        None => None,
        Some(Position::Relevance { rank, doc: Some(doc), .. }) => Some((*rank, *doc)),
        Some(_) => return Ok(None),
    };
    let words = phrases.iter().map(|(_, _, item)| item + 1).max().unwrap_or(0);
    let mut search = Search { streams: Vec::new(), counts: Vec::new(), items: Vec::new(), words };
    for (word, counts, item) in phrases {
        let Some(term) = term_of(conn, &word)? else { return Ok(None) };
        let groups = groups_of(conn, &term, counts, reading.first_batch.max(1))?;
        search.streams.push(Stream { term, groups });
        search.counts.push(counts);
        search.items.push(item);
    }
    // A word no claim holds (nor its stem): nothing matches the search.
    let held = |word: usize| search.streams.iter().zip(&search.items).any(|(s, i)| *i == word && !s.groups.is_empty());
    if !(0..words).all(held) {
        return Ok(Some(Vec::new()));
    }
    let Some(stats) = stats_of(conn, &search)? else { return Ok(None) };
    if reading.words == Words::Postings {
        return by_postings(conn, &search, &stats, want, after, None);
    }
    // Two words on a server that keeps posting lists, when theirs fit and
    // the snapshot's epoch can be told: the lists, and where they are kept.
    let mut lists = None;
    if words > 1 && reading.words == Words::WhenCheaper {
        let terms = request.terms.as_ref();
        let epoch = terms.and_then(|terms| postings::unchanged(before, terms.epoch()));
        lists = terms.zip(epoch).filter(|_| stats.postings <= max_postings());
        let distinct = search.distinct_terms();
        // Lists kept before the last commits, carried over them.
        if let Some((terms, epoch)) = lists {
            carry(conn, terms, epoch, &distinct)?;
        }
        // Read far for before in this epoch, and kept: merged at once.
        if let Some((terms, epoch)) = lists
            && let Some(kept) = terms.cache().kept_if_far(epoch, &distinct)
            && let Some(merged) = merge(&search, &stats, want, after, &kept, Some(terms))
        {
            return Ok(Some(merged));
        }
        // Each word's weight: the IDF of its rarer phrase.
        let weight = |word: usize| {
            stats.idf.iter().zip(&search.items).filter(|(_, i)| **i == word).map(|(idf, _)| *idf).fold(0.0, f64::max)
        };
        let (a, b) = (weight(0), weight(1));
        if a.min(b) > MAX_IDF_RATIO * a.max(b) {
            // Every match is ranked: from the lists kept in memory when
            // they can be kept and fit, else by FTS5.
            return match lists {
                Some(kept) => by_postings(conn, &search, &stats, want, after, Some(kept)),
                None => {
                    if let Some(terms) = terms {
                        terms.cache().count_fts5();
                    }
                    Ok(None)
                }
            };
        }
    }
    let terms: Vec<String> = search.streams.iter().map(|s| s.term.clone()).collect();
    // Every document seen: `Some` if it matches the search.
    let mut seen: HashMap<i64, Option<Found>> = HashMap::new();
    let mut rows_read = 0usize;
    let mut rounds = 0usize;
    loop {
        let ranked = ordered(&search, &seen, &stats, after);
        let kth = ranked.get(want - 1).map(|(_, rank)| -rank);
        // Read far: noted, so that the next search of these words merges
        // their lists at once; merged now if they are kept, else wanted
        // (read in the background from the second such search).
        if let Some((terms, epoch)) = lists.filter(|_| rows_read > reading.far_rows) {
            lists = None;
            let distinct = search.distinct_terms();
            load_stored(conn, terms, epoch, &distinct);
            match terms.cache().far(epoch, &distinct) {
                Plan::Kept(kept) => {
                    if let Some(merged) = merge(&search, &stats, want, after, &kept, Some(terms)) {
                        return Ok(Some(merged));
                    }
                }
                Plan::Read(missing) => {
                    read_in_background(terms, postings::Reading::new(terms, epoch, missing), Asked::BySearch)
                }
                Plan::Fts5 => {}
            }
        }
        let (unread, per_group) = unread_bounds(&search, &stats);
        // An unread document that matches is in an unread group of a
        // phrase of every word; once one word's groups are all read (a word
        // in fewer claims than the page holds, beside a common one), there
        // is none, however few matches were found.
        let unread_may_match = search.covers(|p| search.streams[p].groups.iter().any(|g| !g.done));
        if !unread_may_match || kth.is_some_and(|kth| beats(kth, unread)) {
            tracing::debug!(rows_read, rounds, documents = seen.len(), "best matches from claim_terms");
            return Ok(Some(ranked.into_iter().take(want).collect()));
        }
        if rows_read > reading.max_rows {
            tracing::debug!(rows_read, rounds, documents = seen.len(), "claim_terms gave up; ranked whole");
            return Ok(None);
        }
        // Read on where the bound is: in each combination an unread
        // document could score most in, the group whose floor bounds it
        // (see `unread_bounds`). Small groups of many
        // occurrences hold the bound up however long their documents
        // are; read to their end, they let it fall, without reading the
        // large groups of one occurrence further than the page needs.
        rounds += 1;
        let mut fresh: Vec<i64> = Vec::new();
        for (p, stream) in search.streams.iter_mut().enumerate() {
            for (g, group) in stream.groups.iter_mut().enumerate() {
                if group.done || per_group[p][g] < unread * (1.0 - MARGIN) {
                    continue;
                }
                let rows = read(conn, &stream.term, group, group.batch)?;
                rows_read += rows.len();
                if (rows.len() as i64) < group.batch {
                    group.done = true;
                }
                group.batch = group.batch.saturating_mul(2);
                if let Some(last) = rows.last() {
                    group.last = Some((last.length, last.doc));
                }
                fresh.extend(rows.iter().map(|r| r.doc).filter(|doc| !seen.contains_key(doc)));
            }
        }
        fresh.sort_unstable();
        fresh.dedup();
        if !fresh.is_empty() {
            for (doc, found) in found_in(conn, &search, &terms, &fresh)? {
                let matched = search.matches(&found);
                seen.insert(doc, matched.then_some(found));
            }
        }
    }
}

/// Every match of a search of one or two words ranked from its terms'
/// posting lists, in memory: the best `want` after `after`, as
/// `(doc, rank)` best first, exactly as the full ranking gives them.
///
/// Two common words of like weight make the threshold algorithm above
/// read far: the best matches of each word seldom hold the other. FTS5
/// ranks such a search by walking its phrases' posting lists (four for
/// two words: each as written and as a stem) and looking up every match's
/// length, 40–60 ms at a million claims. The same lists, from
/// `claim_terms` in document order with each document's counts and length,
/// are merged here in one pass, and each match is scored with
/// `claimtrail_bm25`'s arithmetic, as [`Search::score`] does for the
/// threshold algorithm. Read from the database each time they would cost
/// several times FTS5's walk (120–180 ms for `security officials`);
/// `kept` holds them while nothing is committed (see
/// [`crate::db::postings`]), and a search after a commit carries them
/// over it ([`carry`]). When a list is not kept, the first search that
/// needs it is ranked by FTS5 instead (`None`); so is the second, which
/// has the lists read in the background, and any that comes while they
/// are read; the ones after use them. Without `kept` (tests) the lists
/// are read here.
fn by_postings(
    conn: &mut SqliteConnection,
    search: &Search,
    stats: &Stats,
    want: usize,
    after: Option<(f64, i64)>,
    kept: Option<(&postings::Terms, Epoch)>,
) -> StoreResult<Option<Vec<(i64, f64)>>> {
    let terms = search.distinct_terms();
    // Each distinct term's list, in the order of `terms`.
    let term_lists: Vec<List> = match kept {
        // Reading the lists costs several times FTS5's walk, which is worth
        // it only if they are used again before the next commit (see
        // `PostingCache::plan`), and is done in the background; those
        // stored in the database are read at once.
        Some((handle, epoch)) => {
            load_stored(conn, handle, epoch, &terms);
            match handle.cache().plan(epoch, &terms) {
                Plan::Kept(lists) => lists,
                Plan::Read(missing) => {
                    read_in_background(handle, postings::Reading::new(handle, epoch, missing), Asked::BySearch);
                    return Ok(None);
                }
                Plan::Fts5 => return Ok(None),
            }
        }
        None => {
            let mut lists = Vec::with_capacity(terms.len());
            for term in &terms {
                let Some(list) = posting_list(conn, term)? else { return Ok(None) };
                lists.push(list);
            }
            lists
        }
    };
    Ok(merge(search, stats, want, after, &term_lists, kept.map(|(terms, _)| terms)))
}

/// The best `want` matches of `search` after `after` from its distinct
/// terms' posting lists (`term_lists`, in the order of
/// [`Search::distinct_terms`]), merged: see [`by_postings`]. `None` if a
/// term has no list there. `kept`: where the lists are kept, whose
/// counter of lists indexed counts those this search has indexed.
fn merge(
    search: &Search,
    stats: &Stats,
    want: usize,
    after: Option<(f64, i64)>,
    term_lists: &[List],
    kept: Option<&postings::Terms>,
) -> Option<Vec<(i64, f64)>> {
    let terms = search.distinct_terms();
    let mut lists: Vec<List> = Vec::with_capacity(search.streams.len());
    for stream in &search.streams {
        let list = terms.binary_search(&stream.term.as_str()).ok().and_then(|i| term_lists.get(i))?;
        lists.push(list.clone());
    }
    // Pruned once the lists' indexes are worked out: each list's once a
    // second search wanted it, in the background, once that search has
    // ranked its matches (10-15 ms a list of 800,000 documents, which
    // slowed the search it ran beside by half); until then every match
    // is ranked.
    let postings: usize = lists.iter().map(|list| list.docs().len()).sum();
    let prunable = postings >= pruned::MIN_POSTINGS;
    if prunable
        && lists.iter().all(|list| list.indexed())
        && let Some(found) = pruned::best(search, stats, want, after, &lists, pruned::SEED)
    {
        return Some(found);
    }
    let mut best = Best::new(want, after);
    let walk = Walk::of(search, &lists);
    tracing::debug!(?walk, lists = lists.len(), "posting lists merged");
    match walk {
        Walk::Accumulate => accumulate(search, stats, &lists, &mut best),
        Walk::Pair => {
            if let [a, b] = lists.as_slice() {
                merge_pair(search, stats, a, b, &mut best);
            }
        }
        Walk::Leapfrog => leapfrog(search, stats, &lists, &mut best),
    }
    if prunable {
        let due: Vec<List> = lists.iter().filter(|list| !list.indexed() && list.want_index()).cloned().collect();
        if !due.is_empty() {
            pruned::index_in_background(due, kept.map(|terms| terms.cache().indexed_counter()), None);
        }
    }
    Some(best.into_vec())
}

/// How [`merge`] goes through the lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// [`accumulate`]: when every word is in at least half the rows the
    /// lists span (two words both in most claims).
    Accumulate,
    /// [`merge_pair`]: two words of one phrase each.
    Pair,
    /// [`leapfrog`]: any other.
    Leapfrog,
}

impl Walk {
    /// The walk for these lists, one per phrase of `search`. At a million
    /// claims (curl, medians of 16, the walks forced in turn), every list
    /// added up costs less than the leapfrog once the rarer word is in more
    /// than half the claims: `the since` 11.3 ms against 24.8, `mali the`
    /// 9.2 against 10.9 (by `merge_pair`); and more below: `security
    /// officials` (a quarter of the claims) 6.6 against 5.6, `the convoys`
    /// 8.3 against 7.5, `reported the` 9.3 against 7.7.
    fn of(search: &Search, lists: &[List]) -> Walk {
        // Rows the lists span, from 0: the size of `accumulate`'s array.
        let end = lists.iter().filter_map(|list| list.docs().last()).max().map_or(0, |last| u64::from(*last) + 1);
        // Each word's documents, at least: its longest list's (a document
        // may be in both of a word's lists, as written and as a stem).
        let postings = |word: usize| -> u64 {
            let lists = lists.iter().zip(&search.items).filter(|(_, i)| **i == word);
            lists.map(|(list, _)| list.docs().len() as u64).max().unwrap_or(0)
        };
        let rarest = (0..search.words).map(postings).min().unwrap_or(0);
        // `accumulate` tells the words apart by the sign of a score: two
        // at most, their phrases in order.
        let ordered = search.words <= 2 && search.items.is_sorted();
        if ordered && rarest * 2 >= end {
            Walk::Accumulate
        } else if lists.len() == 2 && search.items == [0, 1] {
            Walk::Pair
        } else {
            Walk::Leapfrog
        }
    }
}

/// [`merge`] of any lists: each word in turn has its phrases moved on to
/// the first document at or past a target (see below).
fn leapfrog(search: &Search, stats: &Stats, lists: &[List], best: &mut Best) {
    // Each word's phrases.
    let phrases_of: Vec<Vec<usize>> =
        (0..search.words).map(|word| (0..lists.len()).filter(|p| search.items[*p] == word).collect()).collect();
    let mut at = vec![0usize; lists.len()];
    let mut found = Found { length: 0, frequencies: vec![0.0; lists.len()] };
    // Leapfrog: each word in turn has its phrases moved on to the first
    // document at or past `target`, and the first of those becomes the
    // target; once every word in a row has found the target, it is in a
    // list of every word, and scored if its phrases match.
    let mut target: u32 = 0;
    let mut agreed = 0;
    for word in (0..search.words).cycle() {
        let mut first: Option<u32> = None;
        for &p in &phrases_of[word] {
            let docs = lists[p].docs();
            at[p] = seek(docs, at[p], target);
            if let Some(&doc) = docs.get(at[p]) {
                first = Some(first.map_or(doc, |f| f.min(doc)));
            }
        }
        let Some(first) = first else { break };
        if first == target {
            agreed += 1;
        } else {
            target = first;
            agreed = 1;
        }
        if agreed < search.words {
            continue;
        }
        for (p, list) in lists.iter().enumerate() {
            found.frequencies[p] =
                match list.docs().get(at[p]).filter(|doc| **doc == target).and_then(|_| list.get(at[p])) {
                    Some(posting) => {
                        found.length = i64::from(posting.length);
                        search.counts[p].frequency(i64::from(posting.written), i64::from(posting.stemmed))
                    }
                    None => 0.0,
                };
        }
        // A phrase may not count what its term's row holds (the stem
        // phrase of a word, in a claim without stems that has the stem as
        // a word): its list held the document, the phrase does not match.
        if search.matches(&found) {
            best.offer(Ranked { rank: -search.score(&found, stats), doc: i64::from(target) });
        }
        let Some(next) = target.checked_add(1) else { break };
        target = next;
        agreed = 0;
    }
}

/// [`merge`] of two words of one phrase each (a word that is its own
/// stem, as most common words are: `security officials`, `the convoys`):
/// the two lists walked side by side, the one behind moved on to the
/// other's document. It does what [`leapfrog`] does for them, without its
/// loops over words and phrases, which took half the time of `mali the`
/// (lists of 560,000 and 830,000 documents; [`accumulate`] takes those
/// now).
fn merge_pair(search: &Search, stats: &Stats, a: &PostingList, b: &PostingList, best: &mut Best) {
    let (docs_a, docs_b) = (a.docs(), b.docs());
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (docs_a.get(i), docs_b.get(j)) {
        if x < y {
            i = seek(docs_a, i, y);
            continue;
        }
        if y < x {
            j = seek(docs_b, j, x);
            continue;
        }
        if let (Some(first), Some(second)) = (a.get(i), b.get(j)) {
            let frequencies = [
                search.counts[0].frequency(i64::from(first.written), i64::from(first.stemmed)),
                search.counts[1].frequency(i64::from(second.written), i64::from(second.stemmed)),
            ];
            // As `Search::score` adds them up: from 0, phrase by phrase.
            if frequencies.iter().all(|f| *f > 0.0) {
                let length = i64::from(first.length);
                let mut score = 0.0;
                for (p, frequency) in frequencies.into_iter().enumerate() {
                    score += bm25(stats.idf[p], frequency, length, stats.avgdl);
                }
                best.offer(Ranked { rank: -score, doc: i64::from(x) });
            }
        }
        i += 1;
        j += 1;
    }
}

/// [`merge`] by adding up each document's score in an array by row, list
/// after list, each read straight through; then the array is read once
/// for the best. Two words both in most claims make the leapfrog stop at
/// most documents, at about 40 ns each (its seeks and the branches it
/// mispredicts); this costs a few ns a posting, and an array of eight
/// bytes a row (8 MB at a million claims, for the request's time).
///
/// The sums are [`Search::score`]'s, bit for bit: each phrase's share is
/// added in phrase order, from 0, with `claimtrail_bm25`'s arithmetic
/// (the length's part looked up, [`crate::db::bm25::LengthNorms`]). A
/// score is positive once a phrase of the first word is added; a phrase of
/// the second adds to it only there, and leaves it negative, so that with
/// two words the negative ones are the matches (with one word, the
/// positive ones). Needs at most two words, their phrases in order
/// ([`Walk::of`]).
fn accumulate(search: &Search, stats: &Stats, lists: &[List], best: &mut Best) {
    let Some(end) = lists.iter().filter_map(|list| list.docs().last()).max() else { return };
    let end = usize::try_from(*end).map_or(0, |end| end + 1);
    let mut scores = vec![0.0f64; end];
    let norms = crate::db::bm25::LengthNorms::new(stats.avgdl);
    for (p, list) in lists.iter().enumerate() {
        let (counts, idf) = (search.counts[p], stats.idf[p]);
        let second = search.items[p] == 1;
        for posting in list.iter() {
            let frequency = counts.frequency(i64::from(posting.written), i64::from(posting.stemmed));
            let Ok(doc) = usize::try_from(posting.doc) else { continue };
            let Some(score) = scores.get_mut(doc) else { continue };
            if frequency == 0.0 {
                continue;
            }
            let add = crate::db::bm25::scaled_score(idf, frequency, norms.get(posting.length));
            if second {
                // 0 where the first word is not held (no branch either way).
                let first = f64::from(u8::from(*score != 0.0));
                *score = -(score.abs() + add) * first;
            } else {
                *score += add;
            }
        }
    }
    // A match's rank is below 0; once the page is full, below its worst
    // (a later row on a tie ranks after it). Tested so, the rows that
    // cannot make the page cost no mispredicted branch.
    let sign = if search.words == 1 { -1.0 } else { 1.0 };
    let mut bar = 0.0;
    for (doc, score) in (0i64..).zip(&scores) {
        let rank = *score * sign;
        if rank < bar {
            best.offer(Ranked { rank, doc });
            if best.heap.len() == best.want {
                bar = best.heap.peek().map_or(bar, |worst| worst.rank);
            }
        }
    }
}

/// The best `want` matches so far past `after`, worst on top.
struct Best {
    heap: std::collections::BinaryHeap<Ranked>,
    want: usize,
    after: Option<(f64, i64)>,
}

impl Best {
    /// None yet: the best `want` past `after` to come.
    fn new(want: usize, after: Option<(f64, i64)>) -> Best {
        Best { heap: std::collections::BinaryHeap::with_capacity(want.saturating_add(1)), want, after }
    }

    fn offer(&mut self, ranked: Ranked) {
        if self.after.is_some_and(|(rank, doc)| (ranked.rank, ranked.doc) <= (rank, doc)) {
            return;
        }
        if self.heap.len() < self.want {
            self.heap.push(ranked);
        } else if self.heap.peek().is_some_and(|worst| ranked < *worst) {
            self.heap.pop();
            self.heap.push(ranked);
        }
    }

    /// Best first, as `(doc, rank)`.
    fn into_vec(self) -> Vec<(i64, f64)> {
        self.heap.into_sorted_vec().into_iter().map(|r| (r.doc, r.rank)).collect()
    }
}

/// More postings than this in all (half the budget: 3.1 million), and the
/// lists are not read: they would push out most others, and reading them
/// costs seconds, so FTS5 ranks the search. At a million claims the
/// largest search, two words both in most claims (`the since`), has 2.2
/// million.
fn max_postings() -> i64 {
    i64::try_from(postings::BUDGET_BYTES / 2 / postings::KEPT_BYTES_PER_POSTING).unwrap_or(i64::MAX)
}

/// The first place at or after `from` in `list` whose document is at
/// least `target` (the list's length if none is): a few steps forward,
/// then doubling strides and a binary search within the last one.
fn seek(docs: &[u32], from: usize, target: u32) -> usize {
    let before = |doc: &u32| *doc < target;
    let mut low = from;
    let mut step = 1;
    while low < docs.len() && before(&docs[low]) {
        let high = (low + step).min(docs.len());
        if high == docs.len() || !before(&docs[high]) {
            return low + 1 + docs[low + 1..high].partition_point(before);
        }
        low = high;
        step *= 2;
    }
    low
}

/// Runs `read` in a snapshot of its own on `conn`, which has no
/// transaction open, with the epoch that snapshot is of and where
/// `claim_terms_log` was in it, when the epoch can be told: read before
/// the snapshot began and again once it has (its first statement reads the
/// log), as a search reads it. `None` when the epoch cannot be told, or a
/// commit came between the two readings.
fn in_one_epoch<T>(
    conn: &mut SqliteConnection,
    handle: &postings::Terms,
    read: impl FnOnce(&mut SqliteConnection, Epoch, i64) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let Some(before) = handle.epoch_patiently() else { return Ok(None) };
    conn.transaction(|conn| {
        // The snapshot begins here.
        let seq = log_seq(conn)?;
        match postings::unchanged(Some(before), handle.epoch_patiently()) {
            Some(epoch) => read(conn, epoch, seq).map(Some),
            None => Ok(None),
        }
    })
}

/// The lists of `terms` that are not kept in `epoch` (the snapshot's) but
/// are stored in the database ([`stored`]): read, carried over the
/// documents changed since they were stored, and kept, so that the search
/// finds them kept. A failure is logged, and the search goes on without
/// them.
fn load_stored(conn: &mut SqliteConnection, handle: &postings::Terms, epoch: Epoch, terms: &[&str]) {
    if handle.db().stored_lists_min_claims().is_none() {
        return;
    }
    let missing = handle.cache().missing(epoch, terms);
    if missing.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let names: Vec<&str> = missing.iter().map(String::as_str).collect();
    let loaded = match stored::fetch(conn, handle.cache(), &names) {
        Ok(lists) if lists.is_empty() => return,
        fetched => fetched.and_then(|lists| Ok((log_seq(conn)?, lists))),
    };
    match loaded {
        Ok((seq, lists)) => {
            let seconds = started.elapsed().as_secs_f64();
            tracing::debug!(lists = lists.len(), seconds, "posting lists loaded from the database");
            handle.cache().put_all(epoch, lists, Some(seq));
            handle.remember();
        }
        Err(error) => tracing::warn!(%error, "the posting lists stored in the database could not be read"),
    }
}

/// Who has lists read in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// A search that wanted them (its lists are indexed once a second
    /// search wants them, see [`merge`]).
    BySearch,
    /// No search yet ([`preload`]): they are indexed as soon as they are
    /// kept ([`pruned::index_in_background`]), and the read is logged at
    /// info when that is done, so that an operator (or a benchmark) can
    /// tell when a server has them.
    Before,
}

/// Reads the lists of `reading` on a connection of its own, off the
/// request, and keeps them for the epoch of the snapshot they were read
/// in, if one can be told ([`in_one_epoch`]); otherwise, or on failure,
/// `reading` gives them up when it is dropped, so that a later search may
/// read them. The terms of the lists kept are then written beside the
/// database ([`postings::Terms::remember`]); lists read [`Asked::Before`]
/// a search are then indexed, on a thread of their own (the connection
/// goes back to the pool meanwhile).
fn read_in_background(handle: &postings::Terms, reading: postings::Reading, asked: Asked) {
    let keeper = handle.clone();
    handle.in_background(move |conn| {
        let Some(conn) = conn else { return false };
        let crate::db::DbConnection::Sqlite(sqlite) = &mut *conn else { return false };
        let started = std::time::Instant::now();
        let storing = keeper.db().stored_lists_min_claims().is_some();
        let read = in_one_epoch(sqlite, &keeper, |conn, epoch, seq| {
            // Those stored in the database, carried to this snapshot; the
            // others read whole.
            let names: Vec<&str> = reading.terms.iter().map(String::as_str).collect();
            let fetched = if storing { stored::fetch(conn, keeper.cache(), &names) } else { Ok(Vec::new()) };
            let mut fetched = fetched.unwrap_or_else(|error| {
                tracing::warn!(%error, "the posting lists stored in the database could not be read");
                Vec::new()
            });
            let mut lists = Vec::with_capacity(reading.terms.len());
            let mut whole = Vec::new();
            for term in &reading.terms {
                if let Some(at) = fetched.iter().position(|(t, _)| t == term) {
                    lists.push(Some(fetched.swap_remove(at).1));
                    continue;
                }
                let list = posting_list(conn, term)?;
                if let Some(list) = &list {
                    whole.push((term.clone(), list.clone()));
                }
                lists.push(list);
            }
            Ok((epoch, seq, lists, whole))
        });
        match &read {
            Ok(Some((epoch, seq, lists, whole))) => {
                let kept = reading.terms.iter().zip(lists).filter_map(|(t, l)| Some((t.clone(), l.clone()?)));
                let kept = keeper.cache().put_all(*epoch, kept.collect(), Some(*seq));
                keeper.remember();
                let seconds = started.elapsed().as_secs_f64();
                tracing::debug!(lists = lists.len(), bytes = keeper.cache().bytes(), seconds, "posting lists read");
                stored::store(keeper.db(), conn, *seq, whole);
                match (asked, kept) {
                    (Asked::Before, true) => {
                        let counter = Some(keeper.cache().indexed_counter());
                        pruned::index_in_background(lists.iter().flatten().cloned().collect(), counter, Some(started));
                    }
                    (_, false) => tracing::debug!("posting lists read not kept: a commit came after their snapshot"),
                    (Asked::BySearch, true) => {}
                }
            }
            Ok(None) => tracing::debug!("posting lists not read: the epoch could not be told, or moved"),
            Err(error) => tracing::warn!(%error, "reading posting lists failed"),
        }
        drop(reading);
        read.is_ok()
    });
}

/// After a bulk write by this server (an import), in a snapshot of its
/// own ([`in_one_epoch`]; `conn` has no transaction open): the lists kept
/// before it are carried over it, or read again at once in the background
/// when the log cannot tell what it changed (see [`carry`]), so that the
/// first search after it finds them. Nothing when none are kept, or when
/// the snapshot's epoch cannot be told.
pub fn carry_kept(conn: &mut SqliteConnection, handle: &postings::Terms) -> StoreResult<()> {
    let terms = handle.cache().terms();
    if terms.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = terms.iter().map(String::as_str).collect();
    in_one_epoch(conn, handle, |conn, epoch, _| carry(conn, handle, epoch, &names)).map(|_| ())
}

/// Has the lists of `terms`, which no search has asked for in `epoch`,
/// read in the background, kept and indexed
/// ([`postings::PostingCache::preload`]): lists kept before that could not
/// be carried over a commit, or at a server's start ([`preload_at_start`]).
/// Only terms that some claim holds, those in the most documents first, as
/// many as fit the lists' budget. They are chosen and noted as being read
/// here, on `conn`; searches meanwhile are ranked by FTS5, as while any
/// read runs. Nothing is read while another read runs.
pub fn preload(
    conn: &mut SqliteConnection,
    handle: &postings::Terms,
    epoch: Epoch,
    terms: Vec<String>,
) -> StoreResult<()> {
    let (chosen, _) = most_common(conn, &terms, postings::BUDGET_BYTES)?;
    preload_chosen(handle, epoch, chosen);
    Ok(())
}

/// At a server's start, before any search asks ([`preload`]): the lists of
/// `remembered` (those a server kept on this database before, see
/// [`postings::Terms::remembered`]), then, in what is left of the budget,
/// the stored lists of the terms in at least a quarter of the claims
/// ([`common_stored`]). A pair of such words is the costliest first search
/// there is: at a million claims, `the since` read 17 MB of lists into
/// fresh memory and ranked 2.2 million postings, 46 ms.
pub fn preload_at_start(
    conn: &mut SqliteConnection,
    handle: &postings::Terms,
    epoch: Epoch,
    remembered: Vec<String>,
) -> StoreResult<()> {
    let (mut chosen, left) = most_common(conn, &remembered, postings::BUDGET_BYTES)?;
    let common: Vec<String> = common_stored(conn, handle)?.into_iter().filter(|term| !chosen.contains(term)).collect();
    chosen.extend(most_common(conn, &common, left)?.0);
    preload_chosen(handle, epoch, chosen);
    Ok(())
}

/// Notes `chosen` as being read and reads those that are neither kept nor
/// being read ([`postings::PostingCache::preload`]).
fn preload_chosen(handle: &postings::Terms, epoch: Epoch, chosen: Vec<String>) {
    if chosen.is_empty() {
        return;
    }
    let noted = handle.cache().preload(epoch, chosen);
    if !noted.is_empty() {
        tracing::debug!(lists = noted.len(), "posting lists to be read before a search asks");
        read_in_background(handle, postings::Reading::new(handle, epoch, noted), Asked::Before);
    }
}

/// The terms whose stored lists a server reads at its start, whatever
/// searches it had before ([`preload_at_start`]): those in at least this
/// share of the claims: one in four. At a million generated claims: `in`,
/// `the`, `since` and its stem `sinc`, `mali`, `of` and `and`, 4.4 million
/// postings, 54 MB as the budget counts them (their indexes included).
const PRELOADED_ONE_IN: u64 = 4;

/// The terms whose lists are stored in the database and can be read now
/// ([`stored::current`]), which at least one claim in
/// [`PRELOADED_ONE_IN`] holds; none when lists are not stored.
fn common_stored(conn: &mut SqliteConnection, handle: &postings::Terms) -> StoreResult<Vec<String>> {
    if handle.db().stored_lists_min_claims().is_none() {
        return Ok(Vec::new());
    }
    let Some((rows, _)) = averages(conn)? else { return Ok(Vec::new()) };
    let least = u64::try_from(rows).unwrap_or(0).div_ceil(PRELOADED_ONE_IN).max(1);
    stored::current(conn, i64::try_from(least).unwrap_or(i64::MAX))
}

/// Those of `terms` that some claim holds whose lists together fit in
/// `bytes` (as [`postings::PostingCache`] counts them), those in the most
/// documents first; a list too large for what is left is passed over for
/// smaller ones. With the bytes left.
fn most_common(conn: &mut SqliteConnection, terms: &[String], bytes: usize) -> StoreResult<(Vec<String>, usize)> {
    if terms.is_empty() {
        return Ok((Vec::new(), bytes));
    }
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = Text)]
        term: String,
        #[diesel(sql_type = BigInt)]
        docs: i64,
    }
    let rows: Vec<Held> = diesel::sql_query(
        "SELECT d.term, d.docs FROM json_each(?) AS t JOIN claim_term_docs AS d ON d.term = t.value \
         ORDER BY d.docs DESC, d.term",
    )
    .bind::<Text, _>(serde_json::json!(terms).to_string())
    .load(conn)?;
    let mut left = bytes;
    let mut chosen = Vec::new();
    for row in rows {
        let postings = usize::try_from(row.docs).unwrap_or(usize::MAX);
        let size = postings.saturating_mul(postings::KEPT_BYTES_PER_POSTING) + row.term.len() + postings::ENTRY_BYTES;
        if size <= left {
            left -= size;
            chosen.push(row.term);
        }
    }
    Ok((chosen, left))
}

/// Documents logged since a list was read past which it is read again
/// whole instead of carried over (the log keeps 4,096).
const MAX_CARRIED: usize = 4_000;

#[derive(QueryableByName)]
struct Logged {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    doc: i64,
}

/// Where `claim_terms_log` is in this snapshot: its last `seq`, 0 if it
/// is empty.
pub(super) fn log_seq(conn: &mut SqliteConnection) -> StoreResult<i64> {
    let last: Option<Logged> = diesel::sql_query("SELECT seq, doc FROM claim_terms_log ORDER BY seq DESC LIMIT 1")
        .get_result(conn)
        .optional()?;
    Ok(last.map_or(0, |logged| logged.seq))
}

/// The documents whose terms changed since the log was at `seq`, sorted,
/// and where the log is now; `None` if that cannot be told from the log
/// (its rows since then are no longer all there, every document changed,
/// or more than [`MAX_CARRIED`] did).
pub(super) fn logged_since(conn: &mut SqliteConnection, seq: i64) -> StoreResult<Option<(i64, Vec<i64>)>> {
    let rows: Vec<Logged> =
        diesel::sql_query("SELECT seq, doc FROM claim_terms_log WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind::<BigInt, _>(seq)
            .bind::<BigInt, _>(i64::try_from(MAX_CARRIED + 1).unwrap_or(i64::MAX))
            .load(conn)?;
    // Its rows since then all there: the first is the next, and with none
    // since, its last is still where it was (not emptied or made anew).
    let whole = match rows.first() {
        Some(first) => seq.checked_add(1) == Some(first.seq),
        None => log_seq(conn)? == seq,
    };
    if !whole || rows.len() > MAX_CARRIED || rows.iter().any(|logged| logged.doc < 0) {
        return Ok(None);
    }
    let now = rows.last().map_or(seq, |logged| logged.seq);
    let mut docs: Vec<i64> = rows.into_iter().map(|logged| logged.doc).collect();
    docs.sort_unstable();
    docs.dedup();
    Ok(Some((now, docs)))
}

/// Carries the lists of `terms` kept in an earlier epoch into `epoch`,
/// the snapshot's: only the documents logged since they were read are
/// read again, from `claim_terms_by_doc`, and put in their places
/// ([`postings::PostingList::patched`]); a few ms for a list of 830,000
/// documents, where reading it whole takes about a second. The lists are
/// then kept as of `epoch`; if the log cannot tell what changed, they are
/// dropped, and read again whole as any list is.
fn carry(conn: &mut SqliteConnection, handle: &postings::Terms, epoch: Epoch, terms: &[&str]) -> StoreResult<()> {
    let Some(previous) = handle.cache().carryable(epoch, terms) else { return Ok(()) };
    let started = std::time::Instant::now();
    let Some((seq, changed)) = logged_since(conn, previous.seq)? else {
        tracing::debug!(since = previous.seq, "posting lists not carried over: the log cannot tell what changed");
        // Read again whole, in the background, before a search asks.
        let mut terms: Vec<String> = previous.lists.into_keys().collect();
        terms.extend(handle.cache().forget_previous(epoch));
        // The search goes on without them either way.
        if let Err(error) = preload(conn, handle, epoch, terms) {
            tracing::warn!(%error, "the posting lists that could not be carried over a commit are not read again");
        }
        return Ok(());
    };
    let carried = patched_all(conn, previous.lists, &changed)?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::debug!(lists = carried.len(), documents = changed.len(), seconds, "posting lists carried over a commit");
    handle.cache().put_all(epoch, carried, Some(seq));
    handle.remember();
    Ok(())
}

/// These lists, each after the documents `changed` (sorted) changed: what
/// those documents hold of each term now is read from `claim_terms_by_doc`
/// and put in their places ([`postings::PostingList::patched`]). A list
/// that cannot be patched (a changed document's counts too large for one)
/// is left out. With no document changed, the lists are given as they are
/// (a copy of a list of 830,000 documents costs a few milliseconds); with
/// a few, a list no one else holds is patched in place, its index too
/// ([`postings::PostingList::patch_in_place`]).
pub(super) fn patched_all(
    conn: &mut SqliteConnection,
    lists: impl IntoIterator<Item = (String, List)>,
    changed: &[i64],
) -> StoreResult<Vec<(String, List)>> {
    let lists: Vec<(String, List)> = lists.into_iter().collect();
    if changed.is_empty() {
        return Ok(lists);
    }
    let names: Vec<&str> = lists.iter().map(|(term, _)| term.as_str()).collect();
    let rows: Vec<DocTerm> = lookup_sql(changed, &names).cached().for_sqlite().load(conn)?;
    // Each list's fresh postings, by its place in `lists`.
    let mut fresh: Vec<Vec<Posting>> = vec![Vec::new(); lists.len()];
    let mut outsized: HashSet<usize> = HashSet::new();
    for row in &rows {
        let Some(at) = names.iter().position(|name| *name == row.term) else { continue };
        match Posting::of(row.doc, row.written, row.stemmed, row.length) {
            Some(posting) => fresh[at].push(posting),
            None => {
                outsized.insert(at);
            }
        }
    }
    let mut patched_lists = Vec::with_capacity(lists.len());
    for (at, ((term, list), mut postings)) in lists.into_iter().zip(fresh).enumerate() {
        if outsized.contains(&at) {
            continue;
        }
        postings.sort_unstable_by_key(|posting| posting.doc);
        // In place when no one else holds the list (no search that began
        // before the commit still has it), else a copy.
        let patched = match std::sync::Arc::try_unwrap(list) {
            Ok(mut owned) => match owned.patch_in_place(changed, &postings) {
                true => Some(owned),
                false => owned.patched(changed, &postings),
            },
            Err(shared) => shared.patched(changed, &postings),
        };
        if let Some(patched) = patched {
            patched_lists.push((term, std::sync::Arc::new(patched)));
        }
    }
    Ok(patched_lists)
}

/// A match's place in the ranking: by rank, then by row.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    rank: f64,
    doc: i64,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> std::cmp::Ordering {
        self.rank.total_cmp(&other.rank).then(self.doc.cmp(&other.doc))
    }
}

/// A term's posting list from `claim_terms`, in document order; `None`
/// if it cannot be held as a [`postings::PostingList`].
pub(super) fn posting_list(conn: &mut SqliteConnection, term: &str) -> StoreResult<Option<List>> {
    // Columns by position, not by name: a list is 100,000 rows and more,
    // and diesel finding each column by its name took a fifth of the time.
    let columns = diesel::dsl::sql::<(BigInt, BigInt, BigInt, BigInt)>(
        "doc, written, stemmed, length FROM claim_terms WHERE term = ",
    )
    .bind::<Text, _>(term);
    let rows: Vec<(i64, i64, i64, i64)> = diesel::select(columns).load(conn)?;
    // In document order, in place: the rows are the most memory a read
    // takes (32 bytes a document, and the list's 8 while it is made).
    let mut rows = rows;
    rows.sort_unstable_by_key(|row| row.0);
    if rows.iter().any(|&(doc, written, stemmed, length)| Posting::of(doc, written, stemmed, length).is_none()) {
        return Ok(None);
    }
    let postings = rows.into_iter().map(|(doc, written, stemmed, length)| {
        Posting::of(doc, written, stemmed, length).unwrap_or(Posting { doc, written: 0, stemmed: 0, length: 0 })
    });
    Ok(postings::PostingList::new(postings).map(std::sync::Arc::new))
}

/// `kth` beats `bound` by more than the margin.
fn beats(kth: f64, bound: f64) -> bool {
    kth > bound * (1.0 + MARGIN)
}

/// What these documents hold of the search's terms (documents that hold
/// none of them are left out), through `claim_terms_by_doc`.
fn found_in(
    conn: &mut SqliteConnection,
    search: &Search,
    terms: &[String],
    docs: &[i64],
) -> StoreResult<HashMap<i64, Found>> {
    let mut distinct: Vec<&str> = terms.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let rows: Vec<DocTerm> = lookup_sql(docs, &distinct).cached().for_sqlite().load(conn)?;
    let mut found: HashMap<i64, Found> = HashMap::with_capacity(docs.len());
    for row in rows {
        let entry =
            found.entry(row.doc).or_insert_with(|| Found { length: row.length, frequencies: vec![0.0; terms.len()] });
        for (p, term) in terms.iter().enumerate() {
            if *term == row.term {
                entry.frequencies[p] = search.counts[p].frequency(row.written, row.stemmed);
            }
        }
    }
    Ok(found)
}

/// What these documents hold of these terms: one seek in
/// `claim_terms_by_doc` per document and term, in that order of the joins
/// (`CROSS JOIN`) and through that index, whatever the statistics say.
/// Left to the planner, with `ANALYZE`'s sampled statistics (a bulk write
/// runs it under an `analysis_limit`) SQLite estimated a dozen rows per
/// term and read every row of each term instead, checking each against the
/// documents: a common word's 230,000 rows, 30 ms of a 31 ms search at a
/// million claims.
fn lookup_sql(docs: &[i64], terms: &[&str]) -> Sql {
    let mut sql = Sql::new();
    sql.push("SELECT c.doc AS doc, c.term AS term, c.written AS written, c.stemmed AS stemmed, c.length AS length ")
        .push("FROM json_each(")
        .text(json_numbers(docs))
        .push(") AS d CROSS JOIN json_each(")
        .text(serde_json::json!(terms).to_string())
        .push(") AS t CROSS JOIN claim_terms AS c INDEXED BY claim_terms_by_doc ")
        .push("WHERE c.doc = d.value AND c.term = t.value");
    sql
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// SQLite's plan of the lookup of these documents' terms; for the test
/// that holds it to `claim_terms_by_doc` whatever the statistics say.
pub fn lookup_plan(conn: &mut SqliteConnection, docs: &[i64], terms: &[&str]) -> StoreResult<Vec<String>> {
    let plan: Vec<PlanLine> = lookup_sql(docs, terms).prefixed("EXPLAIN QUERY PLAN ").for_sqlite().load(conn)?;
    Ok(plan.into_iter().map(|line| line.detail).collect())
}

fn json_numbers(values: &[i64]) -> String {
    format!("[{}]", values.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// The matches seen after the position, ranked (rank, then row).
fn ordered(
    search: &Search,
    seen: &HashMap<i64, Option<Found>>,
    stats: &Stats,
    after: Option<(f64, i64)>,
) -> Vec<(i64, f64)> {
    let mut ranked: Vec<(i64, f64)> = seen
        .iter()
        .filter_map(|(doc, found)| Some((*doc, -search.score(found.as_ref()?, stats))))
        .filter(|(doc, rank)| after.is_none_or(|(r, d)| (*rank, *doc) > (r, d)))
        .collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    ranked
}

/// Most combinations of groups the bound is worked out over; past that
/// each phrase is bounded alone (looser, still a bound).
const MAX_COMBINATIONS: usize = 50_000;

/// The most a document not read yet can score, and, per phrase and group,
/// the highest bound of the combinations that reading the group lowers.
///
/// Such a document is unread in every group it is in, so it is no shorter
/// than the last row read in each of them: a combination of one group (or
/// none) per phrase, at least one phrase of every word (a match holds
/// every word), scores at most its BM25 at the longest of those lengths.
/// Only reading on in the group of that longest length lowers it, so a
/// combination is counted for that group alone. Groups read to the end
/// hold no such document. (In the fallback past [`MAX_COMBINATIONS`] every
/// open group is to be read.)
fn unread_bounds(search: &Search, stats: &Stats) -> (f64, Vec<Vec<f64>>) {
    let streams = &search.streams;
    let mut per_group: Vec<Vec<f64>> = streams.iter().map(|s| vec![0.0; s.groups.len()]).collect();
    let floor = |g: &Group| g.last.map_or(g.written + g.stemmed, |(length, _)| length);
    let open: Vec<Vec<usize>> =
        streams.iter().map(|s| (0..s.groups.len()).filter(|g| !s.groups[*g].done).collect()).collect();
    let combinations = open.iter().try_fold(1usize, |n, o| n.checked_mul(o.len() + 1));
    if combinations.is_none_or(|n| n > MAX_COMBINATIONS) {
        // Each phrase alone: its best group at that group's own length.
        let mut total = 0.0;
        for (p, stream) in streams.iter().enumerate() {
            let mut best: f64 = 0.0;
            for g in &open[p] {
                let group = &stream.groups[*g];
                let bound = bm25(stats.idf[p], group.frequency, floor(group), stats.avgdl);
                best = best.max(bound);
                per_group[p][*g] = f64::INFINITY;
            }
            total += best;
        }
        return (total, per_group);
    }
    // Odometer over the choices: `choice[p]` is 0 for none, else 1 + the
    // index into `open[p]`.
    let mut choice = vec![0usize; streams.len()];
    let mut total: f64 = 0.0;
    loop {
        let chosen = |p: usize| (choice[p] > 0).then(|| open[p][choice[p] - 1]);
        if search.covers(|p| chosen(p).is_some()) {
            let length =
                (0..streams.len()).filter_map(|p| chosen(p).map(|g| floor(&streams[p].groups[g]))).max().unwrap_or(0);
            let bound: f64 = (0..streams.len())
                .filter_map(|p| {
                    chosen(p).map(|g| bm25(stats.idf[p], streams[p].groups[g].frequency, length, stats.avgdl))
                })
                .sum();
            total = total.max(bound);
            // Its bound falls only once the longest of its floors rises:
            // it is read in the group of that floor alone (of the rarer
            // phrase on a tie, which reaches longer documents sooner).
            let reader = (0..streams.len()).filter_map(|p| chosen(p).map(|g| (p, g))).max_by(|(p, g), (q, h)| {
                floor(&streams[*p].groups[*g])
                    .cmp(&floor(&streams[*q].groups[*h]))
                    .then(stats.idf[*p].total_cmp(&stats.idf[*q]))
                    .then(q.cmp(p))
            });
            if let Some((p, g)) = reader {
                per_group[p][g] = per_group[p][g].max(bound);
            }
        }
        // Next combination.
        let mut p = 0;
        loop {
            if p == choice.len() {
                return (total, per_group);
            }
            choice[p] += 1;
            if choice[p] <= open[p].len() {
                break;
            }
            choice[p] = 0;
            p += 1;
        }
    }
}

#[derive(QueryableByName)]
struct Averages {
    #[diesel(sql_type = Binary)]
    block: Vec<u8>,
}

#[derive(QueryableByName)]
struct TermDocs {
    #[diesel(sql_type = Text)]
    term: String,
    #[diesel(sql_type = BigInt)]
    written: i64,
    #[diesel(sql_type = BigInt)]
    stemmed: i64,
    #[diesel(sql_type = BigInt)]
    docs: i64,
}

/// The statistics `claimtrail_bm25` ranks the search with, without walking
/// a posting list: the rows and tokens of the index from FTS5's own
/// averages record, and each phrase's IDF from the documents
/// `claim_term_docs` counts for its term. `None` when the record is not
/// that.
fn stats_of(conn: &mut SqliteConnection, search: &Search) -> StoreResult<Option<Stats>> {
    let Some((rows, tokens)) = averages(conn)? else { return Ok(None) };
    let terms: Vec<&str> = search.streams.iter().map(|s| s.term.as_str()).collect();
    let documents = term_docs(conn, &terms)?;
    let idf = search
        .streams
        .iter()
        .zip(&search.counts)
        .map(|(stream, counts)| crate::db::bm25::idf(rows, counts_of(documents.get(&stream.term), *counts)))
        .collect();
    let postings = documents.values().map(|d| d.docs).sum();
    Ok(Some(Stats { avgdl: tokens as f64 / rows as f64, idf, postings }))
}

/// The rows of the full-text index and their tokens, all columns, from
/// FTS5's averages record (`claims_fts_data`, row 1: the row count, then
/// each column's tokens, as varints), as `xRowCount` and
/// `xColumnTotalSize(-1)` give them. `None` when the record is not that,
/// or the index is empty.
fn averages(conn: &mut SqliteConnection) -> StoreResult<Option<(i64, i64)>> {
    let mut sql = Sql::new();
    sql.push("SELECT block FROM claims_fts_data WHERE id = 1");
    let averages: Vec<Averages> = sql.cached().for_sqlite().load(conn)?;
    let Some(record) = averages.first().map(|a| a.block.as_slice()) else { return Ok(None) };
    let Some((rows, mut at)) = crate::db::bm25::varint(record) else { return Ok(None) };
    let mut tokens: i64 = 0;
    while at < record.len() {
        let Some((column, used)) = crate::db::bm25::varint(&record[at..]) else { return Ok(None) };
        tokens = tokens.wrapping_add(column as i64);
        at += used;
    }
    let rows = rows as i64;
    Ok((rows > 0).then_some((rows, tokens)))
}

/// The documents each of these terms is in, by `claim_term_docs`.
fn term_docs(conn: &mut SqliteConnection, terms: &[&str]) -> StoreResult<HashMap<String, TermDocs>> {
    let mut sql = Sql::new();
    sql.push("SELECT term, written, stemmed, docs FROM claim_term_docs WHERE term");
    sql.in_list(terms.iter().copied());
    Ok(sql.cached().for_sqlite().load::<TermDocs>(conn)?.into_iter().map(|c| (c.term.clone(), c)).collect())
}

/// The IDFs of the phrases of the request's FTS5 expression (as
/// `claims::listing::sqlite` writes it: each item's phrases, then one per
/// facet) that are one word, from `claim_term_docs`, as the JSON array
/// `claimtrail_bm25` takes after its weights: `null` for the others (a
/// phrase of several words, a prefix, a facet), which it counts itself.
/// `None` when no phrase is one word, or the counts cannot be read.
pub fn known_idfs(conn: &mut SqliteConnection, request: &Request) -> StoreResult<Option<String>> {
    let Some(search) = request.search.as_ref() else { return Ok(None) };
    let mut phrases: Vec<Option<(String, Counts)>> = search.items.iter().flat_map(item_phrases).collect();
    if phrases.iter().all(Option::is_none) {
        return Ok(None);
    }
    phrases.extend(request.members.iter().filter(|m| super::sqlite::facet_of(m)).map(|_| None));
    let Some((rows, _)) = averages(conn)? else { return Ok(None) };
    let mut terms: Vec<Option<(String, Counts)>> = Vec::with_capacity(phrases.len());
    for phrase in phrases {
        terms.push(match phrase {
            Some((word, counts)) => term_of(conn, &word)?.map(|term| (term, counts)),
            None => None,
        });
    }
    let wanted: Vec<&str> = terms.iter().flatten().map(|(term, _)| term.as_str()).collect();
    let documents = term_docs(conn, &wanted)?;
    let idfs: Vec<Option<f64>> = terms
        .iter()
        .map(|t| t.as_ref().map(|(term, counts)| crate::db::bm25::idf(rows, counts_of(documents.get(term), *counts))))
        .collect();
    Ok(Some(serde_json::to_string(&idfs).unwrap_or_default()).filter(|json| !json.is_empty()))
}

/// The documents that hold a phrase's term where the phrase looks.
fn counts_of(docs: Option<&TermDocs>, counts: Counts) -> i64 {
    docs.map_or(0, |d| match counts {
        Counts::Written => d.written,
        Counts::Stems => d.stemmed,
        Counts::Both => d.docs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_are_those_of_the_configured_rank() {
        assert_eq!(
            super::super::RANK_WEIGHTS,
            format!("{WRITTEN_WEIGHT:.1}, {WRITTEN_WEIGHT:.1}, {WRITTEN_WEIGHT:.1}, 0.0, {STEMS_WEIGHT:.1}")
        );
    }

    #[test]
    fn a_phrase_counts_its_columns() {
        assert_eq!(Counts::Written.frequency(2, 3), 2.0);
        assert_eq!(Counts::Stems.frequency(2, 3), 1.5);
        assert_eq!(Counts::Both.frequency(2, 3), 3.5);
    }

    /// A case of lists to walk: (phrases' counts, their words, each
    /// list's density, each phrase's IDF).
    type Case<'a> = (&'a [Counts], &'a [usize], &'a [f64], &'a [f64]);

    /// A search of `words` words whose phrases count `counts` and belong to `items`.
    fn search_of(counts: &[Counts], items: &[usize]) -> Search {
        Search {
            streams: (0..counts.len()).map(|p| Stream { term: format!("t{p}"), groups: Vec::new() }).collect(),
            counts: counts.to_vec(),
            items: items.to_vec(),
            words: items.iter().max().map_or(0, |last| last + 1),
        }
    }

    /// Each of `rows` documents' length: mostly short, some past the
    /// lengths tabulated, a few past what eight bytes hold.
    fn lengths_of(rng: &mut rand::rngs::StdRng, rows: u32) -> Vec<u32> {
        use rand::Rng;
        (0..rows)
            .map(|_| if rng.random_bool(0.02) { rng.random_range(1000..70_000) } else { rng.random_range(3..12) })
            .collect()
    }

    /// A list holding each document of `lengths` with the odds `density`,
    /// with counts of 0 to 2 (stemmed), 0 to 3 (written), a few past what
    /// eight bytes hold.
    fn list_of(rng: &mut rand::rngs::StdRng, lengths: &[u32], density: f64) -> List {
        use rand::Rng;
        let mut postings = Vec::new();
        for (doc, length) in (0i64..).zip(lengths) {
            if rng.random_bool(density) {
                postings.push(Posting {
                    doc,
                    written: if rng.random_bool(0.01) { 300 } else { rng.random_range(0..4) },
                    stemmed: rng.random_range(0..3),
                    length: *length,
                });
            }
        }
        std::sync::Arc::new(PostingList::new(postings.into_iter()).expect("rows in order"))
    }

    /// The best `want` after `after` by one walk.
    fn walked(
        walk: Walk,
        search: &Search,
        stats: &Stats,
        lists: &[List],
        want: usize,
        after: Option<(f64, i64)>,
    ) -> Vec<(i64, u64)> {
        let mut best = Best::new(want, after);
        match (walk, lists) {
            (Walk::Accumulate, _) => accumulate(search, stats, lists, &mut best),
            (Walk::Pair, [a, b]) => merge_pair(search, stats, a, b, &mut best),
            (Walk::Pair, _) => panic!("a pair needs two lists"),
            (Walk::Leapfrog, _) => leapfrog(search, stats, lists, &mut best),
        }
        best.into_vec().into_iter().map(|(doc, rank)| (doc, rank.to_bits())).collect()
    }

    #[test]
    fn every_walk_of_the_lists_gives_the_same_ranks_to_the_bit() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        // An IDF of 1e-6 (a word in most claims) makes many ties, broken by row.
        let cases: [Case; 5] = [
            (&[Counts::Both, Counts::Both], &[0, 1], &[0.9, 0.6], &[1e-6, 1e-6]),
            (&[Counts::Both, Counts::Both], &[0, 1], &[0.8, 0.05], &[1e-6, 2.5]),
            (&[Counts::Both, Counts::Written, Counts::Stems], &[0, 1, 1], &[0.85, 0.75, 0.6], &[1e-6, 1e-6, 1e-6]),
            (&[Counts::Written, Counts::Stems, Counts::Both], &[0, 0, 1], &[0.3, 0.4, 0.7], &[0.8, 1.1, 1e-6]),
            (&[Counts::Written, Counts::Stems], &[0, 0], &[0.5, 0.5], &[1.3, 0.9]),
        ];
        for (counts, items, densities, idf) in cases {
            let search = search_of(counts, items);
            let stats = Stats { avgdl: 7.5, idf: idf.to_vec(), postings: 0 };
            let lengths = lengths_of(&mut rng, 3000);
            let lists: Vec<List> = densities.iter().map(|d| list_of(&mut rng, &lengths, *d)).collect();
            let mut walks = vec![Walk::Accumulate, Walk::Leapfrog];
            if items == [0, 1] {
                walks.push(Walk::Pair);
            }
            let full = walked(Walk::Leapfrog, &search, &stats, &lists, 10_000, None);
            assert!(full.len() > 100, "{items:?}: {} matches", full.len());
            // From the start, and after a row of the ranking (on a tie, the next row).
            for at in [None, Some(0), Some(37), Some(full.len() - 30)] {
                let after = at.map(|i| (f64::from_bits(full[i].1), full[i].0));
                let expected: Vec<(i64, u64)> = full.iter().skip(at.map_or(0, |i| i + 1)).take(50).copied().collect();
                for walk in &walks {
                    let got = walked(*walk, &search, &stats, &lists, 50, after);
                    assert_eq!(got, expected, "{walk:?} of {items:?} after {after:?}");
                }
            }
        }
    }

    #[test]
    fn pruned_lists_give_the_ranks_of_every_walk_to_the_bit() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let cases: [Case; 6] = [
            (&[Counts::Both, Counts::Both], &[0, 1], &[0.9, 0.8], &[1e-6, 1e-6]),
            // A list too sparse for a bitmap of where each document is.
            (&[Counts::Both, Counts::Both], &[0, 1], &[0.9, 0.01], &[1e-6, 3.0]),
            (&[Counts::Both, Counts::Both], &[0, 1], &[0.7, 0.3], &[1e-6, 0.9]),
            (&[Counts::Both, Counts::Written, Counts::Stems], &[0, 1, 1], &[0.85, 0.75, 0.6], &[1e-6, 1e-6, 1e-6]),
            (&[Counts::Written, Counts::Stems, Counts::Both], &[0, 0, 1], &[0.3, 0.4, 0.7], &[0.8, 1.1, 1e-6]),
            (&[Counts::Written, Counts::Stems], &[0, 0], &[0.5, 0.5], &[1.3, 0.9]),
        ];
        for (counts, items, densities, idf) in cases {
            let mut pruned_pages = 0;
            let search = search_of(counts, items);
            let stats = Stats { avgdl: 7.5, idf: idf.to_vec(), postings: 0 };
            let lengths = lengths_of(&mut rng, 20_000);
            let lists: Vec<List> = densities.iter().map(|d| list_of(&mut rng, &lengths, *d)).collect();
            let full = walked(Walk::Leapfrog, &search, &stats, &lists, 100_000, None);
            let ats = [None, Some(0), Some(11), Some(200), Some(full.len().saturating_sub(30))];
            for at in ats.into_iter().filter(|at| at.is_none_or(|i| i < full.len())) {
                let after = at.map(|i| (f64::from_bits(full[i].1), full[i].0));
                for want in [1, 20, 50] {
                    let expected: Vec<(i64, u64)> =
                        full.iter().skip(at.map_or(0, |i| i + 1)).take(want).copied().collect();
                    for seed in [1, 16, 256] {
                        let Some(got) = pruned::best(&search, &stats, want, after, &lists, seed) else { continue };
                        let got: Vec<(i64, u64)> = got.into_iter().map(|(doc, rank)| (doc, rank.to_bits())).collect();
                        assert_eq!(got, expected, "{items:?} {idf:?} after {after:?}, {want} wanted, seed {seed}");
                        pruned_pages += 1;
                    }
                }
            }
            // Pages near the top are pruned (not handed back to a walk).
            assert!(pruned_pages >= 10, "{items:?} {idf:?}: {pruned_pages} pages pruned");
        }
    }

    #[test]
    fn merge_prunes_lists_once_a_second_search_had_them_indexed() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(18);
        let search = search_of(&[Counts::Both, Counts::Both], &[0, 1]);
        let stats = Stats { avgdl: 7.5, idf: vec![1e-6, 1e-6], postings: 0 };
        let lengths = lengths_of(&mut rng, 50_000);
        let lists = vec![list_of(&mut rng, &lengths, 0.9), list_of(&mut rng, &lengths, 0.8)];
        let expected: Vec<(i64, f64)> = walked(Walk::Leapfrog, &search, &stats, &lists, 50, None)
            .into_iter()
            .map(|(doc, rank)| (doc, f64::from_bits(rank)))
            .collect();
        let merged = || merge(&search, &stats, 50, None, &lists, None);
        assert_eq!(merged().as_deref(), Some(expected.as_slice()), "the first search");
        assert!(!lists.iter().any(|list| list.indexed()), "one search does not index the lists");
        assert_eq!(merged().as_deref(), Some(expected.as_slice()), "the second");
        let started = std::time::Instant::now();
        while !lists.iter().all(|list| list.indexed()) && started.elapsed().as_secs() < 30 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(lists.iter().all(|list| list.indexed()), "the second has them indexed");
        assert_eq!(merged().as_deref(), Some(expected.as_slice()), "a pruned search");
        assert!(pruned::best(&search, &stats, 50, None, &lists, pruned::SEED).is_some(), "which prunes");
    }

    #[test]
    fn the_lists_of_two_words_in_most_rows_are_added_up() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        let pair = search_of(&[Counts::Both, Counts::Both], &[0, 1]);
        let lengths = lengths_of(&mut rng, 1000);
        let (common, rare) = (list_of(&mut rng, &lengths, 0.9), list_of(&mut rng, &lengths, 0.1));
        let other_common = list_of(&mut rng, &lengths, 0.6);
        assert_eq!(Walk::of(&pair, &[common.clone(), other_common.clone()]), Walk::Accumulate);
        assert_eq!(Walk::of(&pair, &[common.clone(), rare.clone()]), Walk::Pair);
        let three = search_of(&[Counts::Both, Counts::Written, Counts::Stems], &[0, 1, 1]);
        assert_eq!(Walk::of(&three, &[common.clone(), other_common, rare.clone()]), Walk::Accumulate);
        assert_eq!(Walk::of(&three, &[common.clone(), rare.clone(), rare.clone()]), Walk::Leapfrog);
        // Phrases not in word order (no search makes them so) are leapfrogged.
        let unordered = search_of(&[Counts::Written, Counts::Both, Counts::Stems], &[0, 1, 0]);
        assert_eq!(Walk::of(&unordered, &[common.clone(), common.clone(), common]), Walk::Leapfrog);
    }

    #[test]
    fn bm25_grows_with_frequency_and_falls_with_length() {
        assert!(bm25(1.0, 2.0, 10, 20.0) > bm25(1.0, 1.0, 10, 20.0));
        assert!(bm25(1.0, 1.0, 10, 20.0) > bm25(1.0, 1.0, 30, 20.0));
    }
}
