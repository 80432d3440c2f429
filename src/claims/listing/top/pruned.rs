//! [`super::merge`] without scoring every match: only the documents
//! that can still make the page.
//!
//! A phrase scores alike the documents of its list with the same counts
//! and length (a [`Class`]); a list of a million documents has a few
//! hundred classes. So each phrase's best score, and how many documents
//! score above any floor, are known from its classes alone, before a
//! document is read (this is the threshold algorithm, Fagin, Lotem and
//! Naor, 2001, with the classes read best first in place of the rows).
//!
//! - **A first `kth`.** The documents of each phrase's best classes (at
//!   least [`SEED`] a phrase) are scored in full, from every list: the
//!   `want`th best of them is `kth`, and the page's last match scores at
//!   least that.
//! - **Floors.** Each phrase gets a floor, its classes from the best down
//!   to the floor are selected, and the best class of each phrase left
//!   unselected (its ceiling) is such that the ceilings add up to less
//!   than `kth`. A document no phrase selects scores less than the
//!   ceilings' sum, so it cannot make the page. Classes are taken one at
//!   a time, from the phrase whose next class holds the fewest documents
//!   for what it lowers the sum by ([`floors_below`]).
//! - **Scoring.** Each selected document is scored in full: its other
//!   phrases are looked up in their lists (a bitmap of rows says where).
//!   A document whose selected scores plus the other phrases' ceilings
//!   cannot beat `kth`, or the page once it is full, is passed over.
//!
//! At a million claims: `the since` (three lists, 2.18 million documents,
//! every IDF 1e-6: the scores are set apart by counts and lengths alone)
//! selects 35,055 documents, and scores 34,412 of them in full; `mali
//! the` (1.39 million) 27,331 and 14,599; `security officials` (512,608)
//! 20,584 and 17,035.
//!
//! Scores are [`Search::score`]'s, so ranks are the full ranking's to the
//! bit, ties by row. `None` (and the caller ranks every match) when a
//! list cannot be indexed, when the seed holds fewer than `want` matches
//! past `after` (a page deep in the results), or when more than
//! [`MAX_SHARE`] of the postings would be selected, for the seed or
//! after it. [`best`] works out an index it finds missing; the server's
//! searches come here only once their lists' are worked out
//! (`super::merge`).

use super::{Best, Found, MARGIN, Ranked, Search, Stats};
use crate::db::bm25::{LengthNorms, scaled_score};
use crate::db::postings::{Class, List};
use prometheus::IntCounter;

/// Documents of each phrase's best classes scored first, at least.
pub(super) const SEED: usize = 1_024;

/// Past this share of the postings left to score, adding them all up
/// costs less.
const MAX_SHARE: f64 = 0.25;

/// Postings below which the lists are merged as they are: the seed alone
/// would be a good share of them.
pub(super) const MIN_POSTINGS: usize = 64 * SEED;

/// Works out the indexes of `lists` on a thread of its own, each counted
/// in `counted` (`claimtrail_posting_lists_indexed_total`) when given.
/// `read_before`: when lists read before a search asked began to be read
/// (`super::Asked::Before`), for the line at info that says they are
/// ready, counted from then.
pub(super) fn index_in_background(
    lists: Vec<List>,
    counted: Option<IntCounter>,
    read_before: Option<std::time::Instant>,
) {
    let spawned = std::thread::Builder::new().name("posting-index".into()).spawn(move || {
        let started = read_before.unwrap_or_else(std::time::Instant::now);
        let indexed = lists.iter().filter(|list| list.classes().is_some()).count();
        if let Some(counter) = counted {
            counter.inc_by(u64::try_from(indexed).unwrap_or(u64::MAX));
        }
        let (lists, seconds) = (lists.len(), started.elapsed().as_secs_f64());
        match read_before {
            Some(_) => tracing::info!(lists, indexed, seconds, "posting lists read before a search asks"),
            None => tracing::debug!(indexed, seconds, "posting lists indexed"),
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not index posting lists");
    }
}

/// The best `want` matches past `after` from the lists of `search`'s
/// phrases (one each, in order), as [`super::merge`] gives them, scoring
/// only the documents that can make the page (see the module's docs);
/// `None` if that would not pay. `seed`: documents of each phrase's best
/// classes scored first ([`SEED`]; tests take fewer).
pub(super) fn best(
    search: &Search,
    stats: &Stats,
    want: usize,
    after: Option<(f64, i64)>,
    lists: &[List],
    seed: usize,
) -> Option<Vec<(i64, f64)>> {
    let norms = LengthNorms::new(stats.avgdl);
    // Each phrase's classes, scored.
    let scored: Vec<Vec<(f64, &Class)>> = (lists.iter().enumerate())
        .map(|(p, list)| {
            let classes = list.classes()?.iter();
            Some(classes.map(|class| (class_score(search, stats, &norms, p, class), class)).collect())
        })
        .collect::<Option<_>>()?;
    let bests: Vec<f64> = scored.iter().map(|classes| classes.iter().map(|(s, _)| *s).fold(0.0, f64::max)).collect();
    // The seed's matches, each scored in full; not when the best classes
    // hold too many documents.
    let (floors, seeds): (Vec<f64>, Vec<usize>) = scored.iter().map(|classes| floor_holding(classes, seed)).unzip();
    let postings: usize = lists.iter().map(|list| list.docs().len()).sum();
    if seeds.iter().sum::<usize>() as f64 > postings as f64 * MAX_SHARE {
        return None;
    }
    let mut first = Best::new(want, after);
    score(search, stats, lists, &scored, &select(lists, &scored, &floors)?, None, &mut first);
    if want == 0 || first.heap.len() < want {
        return None;
    }
    let kth = -first.heap.peek()?.rank;
    // A document no phrase selects scores below what its phrases'
    // highest classes not selected add up to: taken below `kth`, a little
    // less (the classes are added up in another order than the scores).
    let slack = (kth.abs() + bests.iter().sum::<f64>()) * MARGIN;
    let (floors, ceilings, left) = floors_below(&scored, kth - slack);
    if left as f64 > postings as f64 * MAX_SHARE {
        tracing::debug!(kth, left, postings, "posting lists not pruned");
        return None;
    }
    let mut best = Best::new(want, after);
    let skip = Skip { ceilings, bar: kth - slack };
    let selected = select(lists, &scored, &floors)?;
    let scored_in_full = score(search, stats, lists, &scored, &selected, Some(&skip), &mut best);
    tracing::debug!(kth, left, scored_in_full, postings, "posting lists pruned");
    Some(best.into_vec())
}

/// Floors, one a phrase, for selecting the documents of its classes
/// scoring at least its floor (none: infinity), such that the highest
/// classes not selected (each phrase's ceiling, 0 if none is left) add
/// up to less than `total`; the ceilings; and how many documents the
/// floors select. Classes are taken one at a time, of the phrase whose
/// next class holds the fewest documents for what it lowers the sum by.
fn floors_below(scored: &[Vec<(f64, &Class)>], total: f64) -> (Vec<f64>, Vec<f64>, u64) {
    // Each phrase's scores, best first, with the documents of each.
    let levels: Vec<Vec<(f64, u64)>> = scored
        .iter()
        .map(|classes| {
            let mut levels: Vec<(f64, u64)> =
                classes.iter().filter(|(s, _)| *s > 0.0).map(|(s, c)| (*s, u64::from(c.documents))).collect();
            levels.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
            // Classes of one score are one level.
            let mut merged: Vec<(f64, u64)> = Vec::with_capacity(levels.len());
            for (score, documents) in levels {
                match merged.last_mut() {
                    Some(last) if last.0 == score => last.1 += documents,
                    _ => merged.push((score, documents)),
                }
            }
            merged
        })
        .collect();
    // Levels taken per phrase; the highest not taken, per phrase (0 past the last).
    let mut taken = vec![0usize; levels.len()];
    let unselected = |p: usize, taken: &[usize]| levels[p].get(taken[p]).map_or(0.0, |(s, _)| *s);
    let mut left = 0u64;
    loop {
        let sum: f64 = (0..levels.len()).map(|p| unselected(p, &taken)).sum();
        if sum < total {
            break;
        }
        // The cheapest level to take: fewest documents for the drop.
        let next = (0..levels.len())
            .filter_map(|p| {
                let (score, documents) = *levels[p].get(taken[p])?;
                let drop = score - levels[p].get(taken[p] + 1).map_or(0.0, |(s, _)| *s);
                Some((p, documents as f64 / drop.max(f64::MIN_POSITIVE), documents))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((p, _, documents)) = next else { break };
        taken[p] += 1;
        left += documents;
    }
    let floors = (0..levels.len())
        .map(|p| taken[p].checked_sub(1).and_then(|last| levels[p].get(last)).map_or(f64::INFINITY, |(s, _)| *s))
        .collect();
    let ceilings = (0..levels.len()).map(|p| unselected(p, &taken)).collect();
    (floors, ceilings, left)
}

/// A phrase's score of the documents of a class; 0 if it does not count
/// what they hold.
fn class_score(search: &Search, stats: &Stats, norms: &LengthNorms, p: usize, class: &Class) -> f64 {
    let frequency = search.counts[p].frequency(i64::from(class.written), i64::from(class.stemmed));
    if frequency == 0.0 {
        return 0.0;
    }
    scaled_score(stats.idf[p], frequency, norms.get(class.length))
}

/// The score of the class that makes the best classes hold at least
/// `documents` documents (the lowest class's if they all hold fewer;
/// infinity if no class scores), and how many they hold.
fn floor_holding(classes: &[(f64, &Class)], documents: usize) -> (f64, usize) {
    let mut scores: Vec<(f64, u32)> =
        classes.iter().filter(|(s, _)| *s > 0.0).map(|(s, c)| (*s, c.documents)).collect();
    scores.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let mut held = 0usize;
    let mut floor = f64::INFINITY;
    for (score, n) in scores {
        // Past enough, only the classes of the floor's score (selected with it).
        if held >= documents && score < floor {
            break;
        }
        floor = score;
        held = held.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
    }
    (floor, held)
}

/// The documents in each list of the classes scoring at least its
/// phrase's floor (and more than 0), with their classes, in order.
fn select(lists: &[List], scored: &[Vec<(f64, &Class)>], floors: &[f64]) -> Option<Vec<Vec<(u32, u32)>>> {
    (lists.iter().zip(scored).zip(floors))
        .map(|((list, classes), floor)| {
            list.select(|c| classes.get(c).is_some_and(|(score, _)| *score > 0.0 && *score >= *floor))
        })
        .collect()
}

/// What a document selected in some phrases can score at most: its
/// scores there, and each other phrase's ceiling (see [`floors_below`]).
/// A document whose most is below `bar` is not looked up in the other
/// lists, nor is one that cannot beat the page once it is full.
struct Skip {
    ceilings: Vec<f64>,
    bar: f64,
}

/// Offers `best` every match among the documents `selected` (with their
/// classes, in each list, in order), each scored in full: its other
/// phrases are looked up in their lists (unless `skip` tells it cannot
/// make the page). Returns how many it scored in full.
fn score(
    search: &Search,
    stats: &Stats,
    lists: &[List],
    scored: &[Vec<(f64, &Class)>],
    selected: &[Vec<(u32, u32)>],
    skip: Option<&Skip>,
    best: &mut Best,
) -> usize {
    let mut scored_in_full = 0;
    let mut next = vec![0usize; lists.len()];
    let mut found = Found { length: 0, frequencies: vec![0.0; lists.len()] };
    // Per phrase: the document's class there, if selected.
    let mut classes: Vec<Option<(f64, &Class)>> = vec![None; lists.len()];
    loop {
        // The next document selected in any list.
        let heads = (0..lists.len()).filter_map(|p| selected[p].get(next[p]));
        let Some(doc) = heads.map(|(doc, _)| *doc).min() else { break };
        for (p, class) in classes.iter_mut().enumerate() {
            *class = None;
            if let Some((_, c)) = selected[p].get(next[p]).filter(|(d, _)| *d == doc) {
                *class = usize::try_from(*c).ok().and_then(|c| scored[p].get(c)).copied();
                next[p] += 1;
            }
        }
        if let Some(skip) = skip {
            let most: f64 =
                (classes.iter().zip(&skip.ceilings)).map(|(class, ceiling)| class.map_or(*ceiling, |(s, _)| s)).sum();
            let full = (best.heap.len() == best.want).then(|| best.heap.peek().map(|worst| -worst.rank)).flatten();
            if most < skip.bar || full.is_some_and(|worst| most < worst * (1.0 - MARGIN)) {
                continue;
            }
        }
        scored_in_full += 1;
        for (p, list) in lists.iter().enumerate() {
            let counts = match classes[p] {
                Some((_, class)) => Some((class.written, class.stemmed, class.length)),
                None => list
                    .place_of(doc)
                    .and_then(|place| list.get(place))
                    .map(|found| (found.written, found.stemmed, found.length)),
            };
            found.frequencies[p] = match counts {
                Some((written, stemmed, length)) => {
                    found.length = i64::from(length);
                    search.counts[p].frequency(i64::from(written), i64::from(stemmed))
                }
                None => 0.0,
            };
        }
        if search.matches(&found) {
            best.offer(Ranked { rank: -search.score(&found, stats), doc: i64::from(doc) });
        }
    }
    scored_in_full
}
