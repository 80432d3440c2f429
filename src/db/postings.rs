//! Posting lists of search terms kept in memory while nothing is committed
//! (SQLite): for each term, every document that holds it, in document
//! order, with its counts and length, as `claim_terms` stores them.
//!
//! Ranking two common words of like weight means visiting every document
//! that holds both: FTS5 does it in 40–60 ms at a million claims, most of
//! it walking four posting lists on disk (see
//! `claims::listing::top::by_postings`). Held in memory, the same lists
//! are merged in a few milliseconds. The lists are only as good as the
//! moment they were read, so each is kept with the [`Epoch`] in which it
//! was read; the first commit anywhere ends the epoch and with it every
//! list. Reading a list costs several times what FTS5's walk does, so it
//! is read only for the second search in an epoch that wants it (the
//! first is ranked by FTS5): under a stream of commits the searches cost
//! what they did, and between commits all but two are fast. Lists used
//! least lately are dropped to stay within [`BUDGET_BYTES`]. Nothing is
//! kept when the epoch cannot be told (PostgreSQL, a database in memory, a
//! watch that is busy).
//!
//! A read is labelled with an epoch only when the epoch was the same just
//! before the read's snapshot began and just after: then no commit fell
//! between, and the snapshot is the database as of that epoch (see
//! [`Terms::epoch`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::watch::{Epoch, Watch};

/// One document holding a term: its row in the search index, how often
/// the term is written in it and is a stem in it, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub doc: i64,
    pub written: u16,
    pub stemmed: u16,
    pub length: u32,
}

/// A term's posting list, in document order.
pub type List = Arc<[Posting]>;

/// Bytes of posting lists kept at most: 32 MiB is the lists of about two
/// million (document, term) pairs, the four lists of two common words at
/// a million claims several times over.
pub const BUDGET_BYTES: usize = 32 * 1024 * 1024;

/// The lists kept, all of one epoch, each with the moment it was last
/// used (a count of uses).
#[derive(Default)]
struct Kept {
    epoch: Option<Epoch>,
    lists: HashMap<String, (List, u64)>,
    bytes: usize,
    uses: u64,
    /// Terms a search wanted in this epoch and did not find kept.
    wanted: std::collections::HashSet<String>,
}

/// The memory a kept list takes, as counted against the budget.
fn size(term: &str, list: &List) -> usize {
    std::mem::size_of_val(&**list) + term.len()
}

/// The posting lists a server keeps, shared by its workers.
pub struct PostingCache {
    kept: Mutex<Kept>,
    budget: usize,
}

impl PostingCache {
    pub fn new(budget: usize) -> PostingCache {
        PostingCache { kept: Mutex::new(Kept::default()), budget }
    }

    /// The term's list as of `epoch`, if it is kept.
    pub fn get(&self, epoch: Epoch, term: &str) -> Option<List> {
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.epoch != Some(epoch) {
            return None;
        }
        kept.uses += 1;
        let now = kept.uses;
        let (list, used) = kept.lists.get_mut(term)?;
        *used = now;
        Some(list.clone())
    }

    /// Notes that a search in `epoch` wanted the term's list and did not
    /// find it kept; true if one had already.
    pub fn wanted_before(&self, epoch: Epoch, term: &str) -> bool {
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.epoch != Some(epoch) {
            *kept = Kept { epoch: Some(epoch), ..Kept::default() };
        }
        !kept.wanted.insert(term.to_string())
    }

    /// Keeps the term's list, read as of `epoch`. Lists of an earlier epoch
    /// are dropped, and then those used least lately until this one fits
    /// the budget (a list larger than the budget is not kept).
    pub fn put(&self, epoch: Epoch, term: &str, list: List) {
        let bytes = size(term, &list);
        if bytes > self.budget {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.epoch != Some(epoch) {
            *kept = Kept { epoch: Some(epoch), ..Kept::default() };
        }
        if let Some((old, _)) = kept.lists.remove(term) {
            kept.bytes -= size(term, &old);
        }
        while kept.bytes + bytes > self.budget {
            let Some(oldest) = kept.lists.iter().min_by_key(|(_, (_, used))| *used).map(|(t, _)| t.clone()) else {
                break;
            };
            if let Some((old, _)) = kept.lists.remove(&oldest) {
                kept.bytes -= size(&oldest, &old);
            }
        }
        kept.uses += 1;
        let now = kept.uses;
        kept.lists.insert(term.to_string(), (list, now));
        kept.bytes += bytes;
    }

    /// Bytes of lists kept now.
    pub fn bytes(&self) -> usize {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).bytes
    }
}

/// What a search needs to use the kept lists: the cache and the watch
/// that tells whether they are still current.
#[derive(Clone)]
pub struct Terms {
    cache: Arc<PostingCache>,
    watch: Arc<Watch>,
}

impl Terms {
    pub fn new(cache: Arc<PostingCache>, watch: Arc<Watch>) -> Terms {
        Terms { cache, watch }
    }

    /// The database's epoch now. A search reads it before its snapshot
    /// begins and again once it has begun: when both are the same
    /// ([`unchanged`]), nothing was committed between them, and the
    /// snapshot is the database as of that epoch.
    pub fn epoch(&self) -> Option<Epoch> {
        self.watch.epoch()
    }

    pub fn cache(&self) -> &PostingCache {
        &self.cache
    }
}

/// The epoch a snapshot begun between these two readings is of, if both
/// were told and are the same.
pub fn unchanged(before: Option<Epoch>, after: Option<Epoch>) -> Option<Epoch> {
    before.filter(|_| before == after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(docs: &[i64]) -> List {
        docs.iter().map(|&doc| Posting { doc, written: 1, stemmed: 0, length: 3 }).collect()
    }

    fn epoch(n: u64) -> Epoch {
        Epoch::from_raw(n).expect("an epoch")
    }

    #[test]
    fn a_list_is_kept_for_its_epoch_only() {
        let cache = PostingCache::new(BUDGET_BYTES);
        cache.put(epoch(1), "mali", list(&[1, 2, 3]));
        assert_eq!(cache.get(epoch(1), "mali").as_deref(), Some(&*list(&[1, 2, 3])));
        assert!(cache.get(epoch(2), "mali").is_none(), "another epoch sees nothing");
        assert!(cache.get(epoch(1), "gold").is_none());
        cache.put(epoch(2), "gold", list(&[4]));
        assert!(cache.get(epoch(1), "mali").is_none(), "a new epoch drops the old lists");
        assert!(cache.get(epoch(2), "mali").is_none());
        assert_eq!(cache.get(epoch(2), "gold").as_deref(), Some(&*list(&[4])));
    }

    #[test]
    fn a_term_is_wanted_before_only_within_one_epoch() {
        let cache = PostingCache::new(BUDGET_BYTES);
        assert!(!cache.wanted_before(epoch(1), "mali"));
        assert!(cache.wanted_before(epoch(1), "mali"));
        assert!(!cache.wanted_before(epoch(1), "gold"));
        assert!(!cache.wanted_before(epoch(2), "mali"), "a new epoch forgets");
        assert!(cache.wanted_before(epoch(2), "mali"));
    }

    #[test]
    fn the_lists_stay_within_the_budget_dropping_those_used_least_lately() {
        let one = std::mem::size_of::<Posting>() * 100 + "a".len();
        let cache = PostingCache::new(2 * one);
        let hundred: Vec<i64> = (0..100).collect();
        cache.put(epoch(1), "a", list(&hundred));
        cache.put(epoch(1), "b", list(&hundred));
        assert_eq!(cache.bytes(), 2 * one);
        assert!(cache.get(epoch(1), "a").is_some(), "a is used after b");
        cache.put(epoch(1), "c", list(&hundred));
        assert_eq!(cache.bytes(), 2 * one);
        assert!(cache.get(epoch(1), "b").is_none(), "b, used least lately, was dropped");
        assert!(cache.get(epoch(1), "a").is_some());
        assert!(cache.get(epoch(1), "c").is_some(), "the newest list is kept");
        let too_large: Vec<i64> = (0..300).collect();
        cache.put(epoch(1), "d", list(&too_large));
        assert!(cache.get(epoch(1), "d").is_none(), "a list over the budget is not kept");
        assert!(cache.get(epoch(1), "a").is_some() && cache.get(epoch(1), "c").is_some(), "and drops nothing");
        cache.put(epoch(1), "c", list(&[1]));
        assert_eq!(cache.get(epoch(1), "c").as_deref(), Some(&*list(&[1])), "a list read again replaces it");
        assert_eq!(cache.bytes(), one + std::mem::size_of::<Posting>() + 1);
    }
}
