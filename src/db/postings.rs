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
//! was read, and used only in that epoch. After a commit, a search carries
//! the lists it needs into the new epoch ([`PostingCache::carryable`]):
//! `claim_terms_log` names the documents whose terms changed since the
//! lists were read, and only those are read again
//! ([`PostingList::patched`]); when the log cannot tell (every document
//! changed, or its rows since then are gone), the lists are dropped and
//! read again whole, as below. Reading a list
//! costs several times what FTS5's walk does, so it is read only when a
//! second search in an epoch wants it (the first is ranked by FTS5), in
//! the background, on a connection of its own ([`Terms::in_background`]),
//! one read at a time for the whole cache; the searches meanwhile are
//! ranked by FTS5. No
//! request waits for a list; under a stream of commits the searches cost
//! what they did, and between commits all but the first few are fast.
//! Lists used least lately are dropped to stay within [`BUDGET_BYTES`].
//!
//! Lists that could not be carried over a commit are read again at once,
//! in the background, before any search asks ([`PostingCache::preload`]);
//! and the terms of the lists kept are written to a file beside the
//! database ([`Terms::remember`]), whose lists a server started on it
//! reads the same way. The first searches after a bulk write or a restart
//! are then ranked from lists too, once they are read, if they are the
//! searches that were made before.
//! Nothing is kept when the epoch cannot be told (PostgreSQL, a database
//! in memory, a watch that is busy).
//!
//! A read is labelled with an epoch only when the epoch was the same just
//! before the read's snapshot began and just after: then no commit fell
//! between, and the snapshot is the database as of that epoch (see
//! [`Terms::epoch`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

use super::watch::{Epoch, Watch};
use super::{Db, DbConnection};

/// One document holding a term: its row in the search index, how often
/// the term is written in it and is a stem in it, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub doc: i64,
    pub written: u32,
    pub stemmed: u32,
    pub length: u32,
}

impl Posting {
    /// A posting from a `claim_terms` row's columns; `None` if a count or
    /// the length does not fit a `u32`.
    pub fn of(doc: i64, written: i64, stemmed: i64, length: i64) -> Option<Posting> {
        Some(Posting {
            doc,
            written: u32::try_from(written).ok()?,
            stemmed: u32::try_from(stemmed).ok()?,
            length: u32::try_from(length).ok()?,
        })
    }
}

/// A document's counts as a [`PostingList`] holds them: four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    length: u16,
    written: u8,
    stemmed: u8,
}

/// The counts of a document whose counts do not fit [`Counts`] (a
/// document of 65,535 tokens or more, a term 255 times in one): they are
/// in the list's `outsized` postings.
const OUTSIZED: Counts = Counts { length: u16::MAX, written: u8::MAX, stemmed: u8::MAX };

/// A term's posting list, in document order, in eight bytes a document:
/// its row as four bytes and its counts as four ([`Counts`]), each in an
/// array of its own, so that seeking a document reads only the first.
/// The few documents whose counts do not fit are also kept whole, in
/// document order. At 24 bytes a document (a [`Posting`] each), the
/// lists of two words both in most claims took 33–53 MB at a million
/// claims and were never kept.
#[derive(Debug, Default)]
pub struct PostingList {
    /// (Vectors with room to grow: see [`with_room`].)
    docs: Vec<u32>,
    counts: Vec<Counts>,
    outsized: Box<[Posting]>,
    /// Its documents by class, and where each is, worked out the first
    /// time they are asked for (`None` if they cannot be).
    index: OnceLock<Option<Index>>,
    /// How many searches wanted its index, up to 2
    /// ([`PostingList::want_index`]).
    index_wanted: AtomicU8,
}

impl PartialEq for PostingList {
    /// The same documents with the same counts (whether their index was
    /// worked out yet or not).
    fn eq(&self, other: &PostingList) -> bool {
        self.docs == other.docs && self.counts == other.counts && self.outsized == other.outsized
    }
}

impl Eq for PostingList {}

/// The documents of a list with the same counts and length, which a
/// phrase scores alike: how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub written: u32,
    pub stemmed: u32,
    pub length: u32,
    pub documents: u32,
}

/// A list's documents by [`Class`], and where in the list each document
/// is: what pruning a search needs (`claims::listing::top::pruned`).
#[derive(Debug)]
struct Index {
    classes: Box<[Class]>,
    /// Every document of the list, class after class (in the order of
    /// `classes`), each class's in order (with room, see [`with_room`]).
    docs: Vec<u32>,
    /// Where each class's documents begin in `docs`.
    starts: Box<[u32]>,
    /// A bit a row, from row 0 to the list's last document: whether the
    /// list holds it; empty when that takes more than
    /// [`INDEX_BYTES_PER_POSTING`] less 4 a document (a list of few
    /// documents, which a binary search finds).
    held: Box<[u64]>,
    /// For each word of `held`, how many documents the list holds before it.
    before: Box<[u32]>,
}

impl Index {
    /// Document `doc` moved from the class of counts `was` (none: the list
    /// did not hold it) to that of `now` (none: it holds it no more), its
    /// counts never outsized; `held` is set right by [`Index::rehold`].
    fn moved(&mut self, doc: u32, was: Option<Counts>, now: Option<Counts>) {
        if was == now {
            return;
        }
        if let Some(c) = was.and_then(|counts| self.class_of(counts)) {
            self.leave(c, doc);
        }
        if let Some(counts) = now {
            let c = match self.class_of(counts) {
                Some(c) => c,
                None => {
                    let end = self.starts.last().copied().unwrap_or(0);
                    let mut classes = std::mem::take(&mut self.classes).into_vec();
                    classes.push(Class {
                        written: u32::from(counts.written),
                        stemmed: u32::from(counts.stemmed),
                        length: u32::from(counts.length),
                        documents: 0,
                    });
                    self.classes = classes.into_boxed_slice();
                    let mut starts = std::mem::take(&mut self.starts).into_vec();
                    starts.push(end);
                    self.starts = starts.into_boxed_slice();
                    self.classes.len() - 1
                }
            };
            self.join(c, doc);
        }
    }

    /// The place of the class of these counts, if the list has one.
    fn class_of(&self, counts: Counts) -> Option<usize> {
        let (written, stemmed, length) =
            (u32::from(counts.written), u32::from(counts.stemmed), u32::from(counts.length));
        self.classes.iter().position(|c| (c.written, c.stemmed, c.length) == (written, stemmed, length))
    }

    /// The documents of class `c`, as places in `docs`.
    fn run(&self, c: usize) -> std::ops::Range<usize> {
        let bound = |i: usize| self.starts.get(i).and_then(|at| usize::try_from(*at).ok()).unwrap_or(0);
        bound(c)..bound(c + 1)
    }

    /// Takes `doc` out of class `c`, and the class out of the index once
    /// it holds none.
    fn leave(&mut self, c: usize, doc: u32) {
        let run = self.run(c);
        let Some(at) = self.docs.get(run.clone()).and_then(|docs| docs.binary_search(&doc).ok()) else { return };
        self.docs.remove(run.start + at);
        for start in self.starts.iter_mut().skip(c + 1) {
            *start -= 1;
        }
        if let Some(class) = self.classes.get_mut(c) {
            class.documents -= 1;
            if class.documents == 0 {
                let mut classes = std::mem::take(&mut self.classes).into_vec();
                classes.remove(c);
                self.classes = classes.into_boxed_slice();
                let mut starts = std::mem::take(&mut self.starts).into_vec();
                starts.remove(c);
                self.starts = starts.into_boxed_slice();
            }
        }
    }

    /// Puts `doc` in class `c`, in order.
    fn join(&mut self, c: usize, doc: u32) {
        let run = self.run(c);
        let at = self.docs.get(run.clone()).map_or(0, |docs| docs.partition_point(|d| *d < doc));
        self.docs.insert(run.start + at, doc);
        for start in self.starts.iter_mut().skip(c + 1) {
            *start += 1;
        }
        if let Some(class) = self.classes.get_mut(c) {
            class.documents += 1;
        }
    }

    /// The bitmap of rows of the list whose documents are now `docs`
    /// ([`bitmap`]).
    fn rehold(&mut self, docs: &[u32], words: usize) {
        (self.held, self.before) = bitmap(docs, words);
    }
}

/// An [`Index`]'s `held` and `before` for these documents (in order), in
/// `words` words: none when the list goes without (see
/// [`PostingList::held_words`], which gives enough words for its last
/// document).
fn bitmap(docs: &[u32], words: usize) -> (Box<[u64]>, Box<[u32]>) {
    let mut held = vec![0u64; words];
    if words > 0 {
        for doc in docs {
            if let Some(bits) = usize::try_from(doc / 64).ok().and_then(|word| held.get_mut(word)) {
                *bits |= 1u64 << (doc % 64);
            }
        }
    }
    let mut before = Vec::with_capacity(held.len());
    let mut count = 0u32;
    for bits in &held {
        before.push(count);
        count += bits.count_ones();
    }
    (held.into_boxed_slice(), before.into_boxed_slice())
}

/// An empty vector with room for `len` items and a few more (one in 256,
/// and 16): the documents a few commits add to a list patched in place
/// ([`PostingList::patch_in_place`]) fit without moving the vector (a
/// copy of megabytes into fresh memory), at 0.4 % more memory.
fn with_room<T>(len: usize) -> Vec<T> {
    Vec::with_capacity(len + len / 256 + 16)
}

/// Documents changed past which a list is patched by a copy
/// ([`PostingList::patched`]) rather than in place
/// ([`PostingList::patch_in_place`]): each document taken out of or put
/// into the list moves the rest of its arrays by one.
pub const IN_PLACE_CHANGES: usize = 16;

/// The counts below this, as written and as a stem, and the lengths
/// below [`CLASS_LENGTHS`], are counted in a table when classes are
/// counted: nearly every document's; the others in a map.
const CLASS_COUNTS: u32 = 16;
const CLASS_LENGTHS: u32 = 1024;
const CLASS_KEYS: usize = (CLASS_COUNTS * CLASS_COUNTS * CLASS_LENGTHS) as usize;

/// The place of these counts and length in the table of classes.
fn class_key(written: u32, stemmed: u32, length: u32) -> Option<usize> {
    if written >= CLASS_COUNTS || stemmed >= CLASS_COUNTS || length >= CLASS_LENGTHS {
        return None;
    }
    usize::try_from((written * CLASS_COUNTS + stemmed) * CLASS_LENGTHS + length).ok()
}

impl PostingList {
    /// The list of these postings, given in document order, one per
    /// document; `None` if they are not (a row given twice or out of
    /// order), or a document's row is negative or past `u32::MAX` (then
    /// the search is ranked some other way).
    pub fn new(postings: impl ExactSizeIterator<Item = Posting>) -> Option<PostingList> {
        let mut docs: Vec<u32> = with_room(postings.len());
        let mut counts = with_room(postings.len());
        let mut outsized = Vec::new();
        for posting in postings {
            let doc = u32::try_from(posting.doc).ok()?;
            if docs.last().is_some_and(|last| *last >= doc) {
                return None;
            }
            docs.push(doc);
            let small = (u16::try_from(posting.length), u8::try_from(posting.written), u8::try_from(posting.stemmed));
            match small {
                (Ok(length), Ok(written), Ok(stemmed)) if (Counts { length, written, stemmed }) != OUTSIZED => {
                    counts.push(Counts { length, written, stemmed });
                }
                _ => {
                    counts.push(OUTSIZED);
                    outsized.push(posting);
                }
            }
        }
        Some(PostingList { docs, counts, outsized: outsized.into(), ..Default::default() })
    }

    /// Each document's row, in order.
    pub fn docs(&self) -> &[u32] {
        &self.docs
    }

    /// The `i`th document and its counts.
    pub fn get(&self, i: usize) -> Option<Posting> {
        let doc = *self.docs.get(i)?;
        let counts = *self.counts.get(i)?;
        if counts == OUTSIZED {
            let at = self.outsized.binary_search_by_key(&i64::from(doc), |posting| posting.doc).ok()?;
            return self.outsized.get(at).copied();
        }
        Some(Posting {
            doc: i64::from(doc),
            written: u32::from(counts.written),
            stemmed: u32::from(counts.stemmed),
            length: u32::from(counts.length),
        })
    }

    /// Every document and its counts, in order.
    pub fn iter(&self) -> impl Iterator<Item = Posting> + '_ {
        let mut outsized = self.outsized.iter();
        self.docs.iter().zip(self.counts.iter()).filter_map(move |(doc, counts)| {
            if *counts == OUTSIZED {
                // The outsized are in document order too: the next one is this one's.
                return outsized.next().copied();
            }
            Some(Posting {
                doc: i64::from(*doc),
                written: u32::from(counts.written),
                stemmed: u32::from(counts.stemmed),
                length: u32::from(counts.length),
            })
        })
    }

    /// The list after the documents `changed` (sorted) changed: their
    /// postings dropped, and `fresh` (what they now hold of the term, in
    /// document order, each one of `changed`) put in their places; the
    /// runs of documents between them are copied whole. `None` as for
    /// [`PostingList::new`], or if a fresh posting is of a document not
    /// in `changed` that the list holds. Its index is not carried: it is
    /// worked out again for the first search to want it, when this list's
    /// was ([`PostingList::want_index`]).
    pub fn patched(&self, changed: &[i64], fresh: &[Posting]) -> Option<PostingList> {
        let fresh = PostingList::new(fresh.iter().copied())?;
        let gone = |doc: u32| changed.binary_search(&i64::from(doc)).is_ok();
        // Where the list changes: each changed document it may hold, and
        // each fresh one, in order.
        let mut at: Vec<u32> = changed.iter().filter_map(|doc| u32::try_from(*doc).ok()).collect();
        at.extend_from_slice(&fresh.docs);
        at.sort_unstable();
        at.dedup();
        let mut docs = with_room(self.docs.len() + fresh.docs.len());
        let mut counts = with_room(self.docs.len() + fresh.docs.len());
        let mut i = 0;
        let mut j = 0;
        for doc in at {
            let end = i + self.docs[i..].partition_point(|d| *d < doc);
            docs.extend_from_slice(&self.docs[i..end]);
            counts.extend_from_slice(&self.counts[i..end]);
            i = end;
            let held = self.docs.get(i) == Some(&doc);
            if held && !gone(doc) {
                // Not changed: kept as it was, and not given fresh.
                if fresh.docs.get(j) == Some(&doc) {
                    return None;
                }
                continue;
            }
            if held {
                i += 1;
            }
            if fresh.docs.get(j) == Some(&doc) {
                docs.push(doc);
                counts.push(fresh.counts[j]);
                j += 1;
            }
        }
        docs.extend_from_slice(&self.docs[i..]);
        counts.extend_from_slice(&self.counts[i..]);
        let outsized = (self.outsized.iter())
            .filter(|posting| u32::try_from(posting.doc).is_ok_and(|doc| !gone(doc)))
            .chain(fresh.outsized.iter())
            .copied();
        let mut outsized: Vec<Posting> = outsized.collect();
        outsized.sort_unstable_by_key(|posting| posting.doc);
        // Searches wanted this list's index: the next one to want the new
        // list's has it worked out (an index is not patched).
        // (A want of 2 whose index is still being worked out counts as
        // one: the new list's would otherwise never be.)
        let wanted = if self.indexed() { 1 } else { self.index_wanted.load(Ordering::Relaxed).min(1) };
        Some(PostingList {
            docs,
            counts,
            outsized: outsized.into(),
            index_wanted: AtomicU8::new(wanted),
            ..Default::default()
        })
    }

    /// [`PostingList::patched`] done in place, on a list no one else
    /// holds: its memory is changed instead of copied whole, and its index,
    /// if it was worked out, is patched too instead of dropped. A commit
    /// of a claim or two changes a few documents, but a copy of the lists
    /// of `the since` (2.2 million documents) into fresh memory took 13 ms,
    /// and the first search after it ranked every match while the copy's
    /// index was worked out again. Whether it was done: not (and the list
    /// is as it was) for more than [`IN_PLACE_CHANGES`] documents changed,
    /// an outsized posting among those changed, fresh postings that are
    /// not each of a document of `changed`, in order, or more documents
    /// added than the arrays have room for; then [`PostingList::patched`]
    /// is the way.
    pub fn patch_in_place(&mut self, changed: &[i64], fresh: &[Posting]) -> bool {
        if changed.len() > IN_PLACE_CHANGES || !changed.windows(2).all(|pair| pair[0] < pair[1]) {
            return false;
        }
        let Ok(changed) = changed.iter().map(|doc| u32::try_from(*doc)).collect::<Result<Vec<u32>, _>>() else {
            return false;
        };
        let mut counts_of = Vec::with_capacity(fresh.len());
        for (i, posting) in fresh.iter().enumerate() {
            let Ok(doc) = u32::try_from(posting.doc) else { return false };
            let small = (u16::try_from(posting.length), u8::try_from(posting.written), u8::try_from(posting.stemmed));
            let (Ok(length), Ok(written), Ok(stemmed)) = small else { return false };
            let counts = Counts { length, written, stemmed };
            let ordered = i == 0 || fresh[i - 1].doc < posting.doc;
            if counts == OUTSIZED || !ordered || changed.binary_search(&doc).is_err() {
                return false;
            }
            counts_of.push((doc, counts));
        }
        let held_outsized =
            changed.iter().any(|doc| self.docs.binary_search(doc).is_ok_and(|i| self.counts.get(i) == Some(&OUTSIZED)));
        // The documents put in must fit the room the arrays have left
        // (see [`with_room`]): a vector that grew would double, which the
        // budget does not count; a copy starts again with room.
        let added = counts_of.iter().filter(|(doc, _)| self.docs.binary_search(doc).is_err()).count();
        let fits = |len: usize, capacity: usize| len + added <= capacity;
        let index_fits =
            self.index.get().and_then(Option::as_ref).is_none_or(|i| fits(i.docs.len(), i.docs.capacity()));
        if held_outsized
            || !fits(self.docs.len(), self.docs.capacity())
            || !fits(self.counts.len(), self.counts.capacity())
            || !index_fits
        {
            return false;
        }
        // As a copy would (see [`PostingList::patched`]): a list whose
        // index is not worked out wants it at most once more.
        if self.index.get().is_none() {
            let wanted = self.index_wanted.get_mut();
            *wanted = (*wanted).min(1);
        }
        let (docs, counts) = (&mut self.docs, &mut self.counts);
        // From the last document changed to the first, so that the places
        // of those still to come do not move.
        for doc in changed.iter().rev() {
            let now = counts_of.binary_search_by_key(doc, |(d, _)| *d).ok().and_then(|at| counts_of.get(at));
            let place = docs.binary_search(doc);
            let was = place.ok().and_then(|i| counts.get(i).copied());
            match (place, now) {
                (Ok(i), Some((_, new))) => counts[i] = *new,
                (Ok(i), None) => {
                    docs.remove(i);
                    counts.remove(i);
                }
                (Err(i), Some((_, new))) => {
                    docs.insert(i, *doc);
                    counts.insert(i, *new);
                }
                (Err(_), None) => {}
            }
            if let Some(index) = self.index.get_mut().and_then(Option::as_mut) {
                index.moved(*doc, was, now.map(|(_, new)| *new));
            }
        }
        let words = self.held_words();
        if let Some(index) = self.index.get_mut().and_then(Option::as_mut) {
            index.rehold(&self.docs, words);
        }
        true
    }

    /// The list as bytes, to be stored (`claims::listing::stored`): the
    /// format's mark ([`STORED_FORMAT`]), the
    /// number of documents and of outsized postings (each a `u32`), each
    /// document's row (`u32`), each document's counts (length `u16`,
    /// written and stemmed a `u8` each), then each outsized posting (row
    /// `i64`, written, stemmed and length a `u32` each); little-endian.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let docs = u32::try_from(self.docs.len()).ok()?;
        let outsized = u32::try_from(self.outsized.len()).ok()?;
        let mut bytes = Vec::with_capacity(
            HEADER_BYTES + self.docs.len() * BYTES_PER_POSTING + self.outsized.len() * OUTSIZED_BYTES,
        );
        bytes.extend_from_slice(&STORED_FORMAT);
        bytes.extend_from_slice(&docs.to_le_bytes());
        bytes.extend_from_slice(&outsized.to_le_bytes());
        for doc in self.docs.iter() {
            bytes.extend_from_slice(&doc.to_le_bytes());
        }
        for counts in self.counts.iter() {
            bytes.extend_from_slice(&counts.length.to_le_bytes());
            bytes.extend_from_slice(&[counts.written, counts.stemmed]);
        }
        for posting in self.outsized.iter() {
            bytes.extend_from_slice(&posting.doc.to_le_bytes());
            for count in [posting.written, posting.stemmed, posting.length] {
                bytes.extend_from_slice(&count.to_le_bytes());
            }
        }
        Some(bytes)
    }

    /// The list [`PostingList::to_bytes`] gave; `None` if `bytes` are not
    /// such a list (another format, cut short, too long, rows out of
    /// order, outsized postings that are not those of the documents marked
    /// so).
    pub fn from_bytes(bytes: &[u8]) -> Option<PostingList> {
        if bytes.get(..STORED_FORMAT.len()) != Some(STORED_FORMAT.as_slice()) {
            return None;
        }
        let word = |at: usize| -> Option<u32> { Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?)) };
        let n = usize::try_from(word(4)?).ok()?;
        let m = usize::try_from(word(8)?).ok()?;
        let counts_at = n.checked_mul(4)?.checked_add(HEADER_BYTES)?;
        let outsized_at = n.checked_mul(4)?.checked_add(counts_at)?;
        if bytes.len() != m.checked_mul(OUTSIZED_BYTES)?.checked_add(outsized_at)? {
            return None;
        }
        let mut docs: Vec<u32> = with_room(n);
        docs.extend(
            bytes[HEADER_BYTES..counts_at].chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        if docs.windows(2).any(|pair| pair[0] >= pair[1]) {
            return None;
        }
        let mut counts: Vec<Counts> = with_room(n);
        counts.extend((bytes[counts_at..outsized_at].chunks_exact(4)).map(|b| Counts {
            length: u16::from_le_bytes([b[0], b[1]]),
            written: b[2],
            stemmed: b[3],
        }));
        let outsized: Box<[Posting]> = (bytes[outsized_at..].chunks_exact(OUTSIZED_BYTES))
            .map(|b| {
                let count = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                let doc = i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                Posting { doc, written: count(8), stemmed: count(12), length: count(16) }
            })
            .collect();
        // The outsized postings are those of the documents marked so, in order.
        let marked = docs.iter().zip(counts.iter()).filter(|(_, counts)| **counts == OUTSIZED).map(|(doc, _)| *doc);
        if !marked.map(i64::from).eq(outsized.iter().map(|posting| posting.doc)) {
            return None;
        }
        Some(PostingList { docs, counts, outsized, ..Default::default() })
    }

    /// Its documents by class, in no order. Worked out once, the first
    /// time this or [`PostingList::place_of`] is asked for, with where
    /// each document is: 10-15 ms for a list of 830,000 documents.
    /// `None` if the list is past what an index holds (`u32` places).
    pub fn classes(&self) -> Option<&[Class]> {
        Some(&self.index()?.classes)
    }

    /// Whether its index was worked out (or found impossible) already.
    pub fn indexed(&self) -> bool {
        self.index.get().is_some()
    }

    /// Notes that a search wanted its index: `true` for the second such
    /// search only, which is to have it worked out.
    pub fn want_index(&self) -> bool {
        let wanted =
            self.index_wanted.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_add(1).min(2)));
        wanted == Ok(1)
    }

    /// The documents of the classes (by their place in
    /// [`PostingList::classes`]) that `keep` holds, each with its class's
    /// place, in document order.
    pub fn select(&self, mut keep: impl FnMut(usize) -> bool) -> Option<Vec<(u32, u32)>> {
        let index = self.index()?;
        let mut selected = Vec::new();
        for (c, bounds) in (0u32..).zip(index.starts.windows(2)) {
            let (Ok(start), Ok(end)) = (usize::try_from(bounds[0]), usize::try_from(bounds[1])) else { continue };
            if keep(c as usize) {
                let docs = index.docs.get(start..end).unwrap_or_default();
                selected.extend(docs.iter().map(|doc| (*doc, c)));
            }
        }
        selected.sort_unstable();
        Some(selected)
    }

    /// Where the list holds document `doc`, if it does.
    pub fn place_of(&self, doc: u32) -> Option<usize> {
        let index = self.index()?;
        if index.held.is_empty() {
            return self.docs.binary_search(&doc).ok();
        }
        let word = usize::try_from(doc / 64).ok()?;
        let bits = *index.held.get(word)?;
        let bit = 1u64 << (doc % 64);
        if bits & bit == 0 {
            return None;
        }
        let before = usize::try_from(*index.before.get(word)?).ok()?;
        usize::try_from((bits & (bit - 1)).count_ones()).ok().map(|n| before + n)
    }

    fn index(&self) -> Option<&Index> {
        self.index.get_or_init(|| self.build_index()).as_ref()
    }

    /// The list's [`Index`]: its classes counted (most in a table, the
    /// few others in a map), then each document put in its class's run.
    /// `None` past `u32` places (never for a list that fits a search).
    fn build_index(&self) -> Option<Index> {
        let mut outsized = self.outsized.iter();
        let mut others: HashMap<(u32, u32, u32), usize> = HashMap::new();
        // Each place's class: a table key, or one past the table for the others.
        let mut keys: Vec<u32> = Vec::with_capacity(self.counts.len());
        for counts in self.counts.iter() {
            let (written, stemmed, length) = match (*counts == OUTSIZED).then(|| outsized.next()).flatten() {
                Some(posting) => (posting.written, posting.stemmed, posting.length),
                None => (u32::from(counts.written), u32::from(counts.stemmed), u32::from(counts.length)),
            };
            let key = match class_key(written, stemmed, length) {
                Some(key) => key,
                None => {
                    let next = others.len();
                    CLASS_KEYS + *others.entry((written, stemmed, length)).or_insert(next)
                }
            };
            keys.push(u32::try_from(key).ok()?);
        }
        let mut documents = vec![0u32; CLASS_KEYS + others.len()];
        for key in &keys {
            *documents.get_mut(*key as usize)? += 1;
        }
        let mut others: Vec<((u32, u32, u32), usize)> = others.into_iter().collect();
        others.sort_unstable_by_key(|(_, key)| *key);
        // The classes in key order; `documents` becomes where each begins.
        let mut classes = Vec::new();
        let mut starts = Vec::new();
        let mut next = 0u32;
        for (key, n) in documents.iter_mut().enumerate() {
            if *n == 0 {
                continue;
            }
            let (written, stemmed, length) = match key.checked_sub(CLASS_KEYS) {
                Some(other) => others.get(other)?.0,
                None => {
                    let key = u32::try_from(key).ok()?;
                    (key / CLASS_LENGTHS / CLASS_COUNTS, key / CLASS_LENGTHS % CLASS_COUNTS, key % CLASS_LENGTHS)
                }
            };
            classes.push(Class { written, stemmed, length, documents: *n });
            starts.push(next);
            next = next.checked_add(*n)?;
            *n = *starts.last()?;
        }
        starts.push(next);
        let mut docs = with_room(self.docs.len());
        docs.resize(self.docs.len(), 0u32);
        for (doc, key) in self.docs.iter().zip(&keys) {
            let at = documents.get_mut(*key as usize)?;
            *docs.get_mut(usize::try_from(*at).ok()?)? = *doc;
            *at += 1;
        }
        // Where each document is.
        let (held, before) = bitmap(&self.docs, self.held_words());
        Some(Index { classes: classes.into(), docs, starts: starts.into(), held, before })
    }

    /// The words of its [`Index`]'s `held` (and of `before`): none when
    /// they would take more than 2 bytes a document.
    fn held_words(&self) -> usize {
        let words = self.docs.last().map_or(0, |last| (*last as usize + 1).div_ceil(64));
        let bytes = words * (std::mem::size_of::<u64>() + std::mem::size_of::<u32>());
        if bytes <= self.docs.len() * (INDEX_BYTES_PER_POSTING - 4) { words } else { 0 }
    }

    /// Bytes the list takes, its [`Index`] counted whether it was worked
    /// out yet or not (but for its classes, a few hundred).
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.docs)
            + std::mem::size_of_val(&*self.counts)
            + std::mem::size_of_val(&*self.outsized)
            + self.docs.len() * std::mem::size_of::<u32>()
            + self.held_words() * (std::mem::size_of::<u64>() + std::mem::size_of::<u32>())
    }
}

/// What a [`PostingList`] holds of a document (but for outsized counts).
pub const BYTES_PER_POSTING: usize = std::mem::size_of::<u32>() + std::mem::size_of::<Counts>();

/// What a list's [`Index`] takes a document at most: the document by
/// class (4 bytes), and where it is (2 at most).
pub const INDEX_BYTES_PER_POSTING: usize = 6;

/// What a kept list takes a document at most, counted against the budget
/// ([`PostingList::bytes`]), for sizing searches against it.
pub const KEPT_BYTES_PER_POSTING: usize = BYTES_PER_POSTING + INDEX_BYTES_PER_POSTING;

/// What [`PostingList::to_bytes`] writes of an outsized posting.
const OUTSIZED_BYTES: usize = 8 + 3 * 4;

/// The first bytes of a list [`PostingList::to_bytes`] writes: a list in
/// another format (of a later version) is not read as one.
pub const STORED_FORMAT: [u8; 4] = *b"CTL1";

/// What [`PostingList::to_bytes`] writes before the documents: the format's
/// mark, the number of documents and of outsized postings.
const HEADER_BYTES: usize = 12;

/// A term's posting list, shared.
pub type List = Arc<PostingList>;

/// Bytes of posting lists kept at most: 84 MiB is the lists of about 6.3
/// million (document, term) pairs, with their indexes
/// ([`KEPT_BYTES_PER_POSTING`]). At a million claims a search may use
/// half of it (see `claims::listing::top::by_postings`): the three lists of
/// `the since` (both in most claims, `since` with its stem `sinc`) hold
/// 2.2 million, the four of two common words such as `security officials`
/// about 480,000.
pub const BUDGET_BYTES: usize = 84 * 1024 * 1024;

/// What a kept list costs besides its postings: its term, the map's entry.
pub const ENTRY_BYTES: usize = 128;

/// Terms noted as wanted in one epoch at most; past that, none is read.
const MAX_WANTED: usize = 4096;

/// The memory a kept list takes, as counted against the budget.
fn size(term: &str, list: &List) -> usize {
    list.bytes() + term.len() + ENTRY_BYTES
}

/// The lists kept, all of one epoch, each with the moment it was last
/// used (a count of uses).
#[derive(Default)]
struct Kept {
    epoch: Option<Epoch>,
    lists: HashMap<String, (List, u64)>,
    bytes: usize,
    uses: u64,
    /// Terms a search wanted in this epoch and did not find kept.
    wanted: HashSet<String>,
    /// Terms a search is reading now.
    reading: HashSet<String>,
    /// The terms of searches the threshold algorithm read far for in
    /// this epoch, each search's joined by spaces.
    far: HashSet<String>,
    /// Where `claim_terms_log` was in this epoch (its last `seq`), once a
    /// list kept in it told.
    seq: Option<i64>,
    /// Lists of an earlier epoch, not yet carried into this one (counted
    /// in `bytes`).
    previous: Option<Previous>,
}

/// Lists kept in an earlier epoch, and where `claim_terms_log` was then:
/// each can be carried into a later epoch by reading again only the
/// documents logged since ([`PostingList::patched`]).
#[derive(Debug)]
pub struct Previous {
    pub seq: i64,
    pub lists: HashMap<String, List>,
}

impl Previous {
    fn bytes(&self) -> usize {
        self.lists.iter().map(|(term, list)| size(term, list)).sum()
    }
}

impl Kept {
    /// The lists of `terms`, in that order, marked as used now, if every
    /// one is kept.
    fn take(&mut self, terms: &[&str]) -> Option<Vec<List>> {
        if !terms.iter().all(|term| self.lists.contains_key(*term)) {
            return None;
        }
        self.uses += 1;
        let now = self.uses;
        let mut lists = Vec::with_capacity(terms.len());
        for term in terms {
            let (list, used) = self.lists.get_mut(*term)?;
            *used = now;
            lists.push(list.clone());
        }
        Some(lists)
    }

    /// The plan of a search of `terms` in this epoch (see [`Plan`]): the
    /// lists if all are kept; else the first search to want one is ranked
    /// by FTS5, and the second has the missing ones read, unless a read is
    /// under way.
    fn decide(&mut self, terms: &[&str]) -> Plan {
        if let Some(lists) = self.take(terms) {
            return Plan::Kept(lists);
        }
        let missing: Vec<&str> = terms.iter().copied().filter(|t| !self.lists.contains_key(*t)).collect();
        if !self.reading.is_empty() || self.wanted.len() + missing.len() > MAX_WANTED {
            return Plan::Fts5;
        }
        let mut first = false;
        for term in &missing {
            first |= self.wanted.insert(term.to_string());
        }
        if first {
            return Plan::Fts5;
        }
        let missing: Vec<String> = missing.iter().map(|t| t.to_string()).collect();
        self.reading.extend(missing.iter().cloned());
        Plan::Read(missing)
    }
}

/// What a search in an epoch does with its terms' lists ([`PostingCache::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every list is kept: these, in the order of the terms asked for.
    Kept(Vec<List>),
    /// Rank by FTS5, and read these lists, which are not kept, in the
    /// background: they are noted as being read until a [`Reading`] made
    /// of them is dropped.
    Read(Vec<String>),
    /// Rank by FTS5: the first search in the epoch to want a list, lists
    /// are being read (one read at a time), or the epoch is past.
    Fts5,
}

/// The places of `claimtrail_posting_lists_total`'s results in
/// [`PostingCache`]'s counters, in the order of their labels.
const KEPT: usize = 0;
const READ: usize = 1;
const FTS5: usize = 2;
const TERMS: usize = 3;

/// The posting lists a server keeps, shared by its workers.
pub struct PostingCache {
    kept: Mutex<Kept>,
    budget: usize,
    searches: IntCounterVec,
    by_plan: [IntCounter; 4],
    /// The bytes of lists kept, for `/metrics`.
    kept_bytes: IntGauge,
    /// Lists stored in the database, by what befell them.
    stored: IntCounterVec,
    /// Lists whose index was worked out.
    indexed: IntCounter,
}

/// What befalls a list stored in the database, as
/// `claimtrail_stored_posting_lists_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Read from the database (and carried over the documents changed
    /// since it was stored) for a search, or for a read of lists.
    Loaded,
    /// Found out of date: the log no longer tells what changed since it
    /// was stored (or it does not read as a list); read again whole.
    Stale,
    /// Written to the database.
    Written,
}

impl Stored {
    fn label(self) -> &'static str {
        match self {
            Stored::Loaded => "loaded",
            Stored::Stale => "stale",
            Stored::Written => "written",
        }
    }
}

impl PostingCache {
    pub fn new(budget: usize) -> Result<PostingCache, prometheus::Error> {
        let searches = IntCounterVec::new(
            Opts::new(
                "claimtrail_posting_lists_total",
                "Searches of two words by relevance (SQLite) that posting lists kept in memory \
                 may rank, by how they were ranked: kept (from the lists), read (by FTS5, their \
                 lists then read in the background), fts5 (by FTS5: the first such search since \
                 a commit, lists being read, or none can be kept) or terms (by the threshold \
                 algorithm over claim_terms, or by FTS5 if it gave up, having read far enough \
                 that their lists are wanted, and read in the background from the second such \
                 search).",
            ),
            &["result"],
        )?;
        let by_plan = ["kept", "read", "fts5", "terms"].map(|result| searches.with_label_values(&[result]));
        let kept_bytes = IntGauge::new(
            "claimtrail_posting_lists_bytes",
            "Bytes of posting lists kept in memory (SQLite), as counted against their budget.",
        )?;
        let stored = IntCounterVec::new(
            Opts::new(
                "claimtrail_stored_posting_lists_total",
                "Posting lists stored in the database (SQLite, terms in many claims), by what \
                 befell them: loaded (read from the database and carried over the documents \
                 changed since, for a search or a read of lists), stale (the log no longer \
                 tells what changed since it was stored: read again whole) or written.",
            ),
            &["event"],
        )?;
        let indexed = IntCounter::new(
            "claimtrail_posting_lists_indexed_total",
            "Posting lists kept in memory (SQLite) whose index by class, which prunes a search \
             of two words in many claims, was worked out: once a second search wanted them, or \
             as soon as they were read before a search asked (at a server's start, or after a \
             commit they could not be carried over).",
        )?;
        Ok(PostingCache { kept: Mutex::new(Kept::default()), budget, searches, by_plan, kept_bytes, stored, indexed })
    }

    /// The counter of lists indexed, for `/metrics`; counted by the
    /// threads that index them.
    pub fn indexed_counter(&self) -> IntCounter {
        self.indexed.clone()
    }

    /// The counter of lists stored in the database, for `/metrics`.
    pub fn stored_counter(&self) -> IntCounterVec {
        self.stored.clone()
    }

    /// Counts `lists` lists stored in the database that `event` befell.
    pub fn count_stored(&self, event: Stored, lists: usize) {
        self.stored.with_label_values(&[event.label()]).inc_by(u64::try_from(lists).unwrap_or(u64::MAX));
    }

    /// Those of `terms` whose lists are not kept in `epoch`.
    pub fn missing(&self, epoch: Epoch, terms: &[&str]) -> Vec<String> {
        let Some(kept) = self.state(epoch) else { return Vec::new() };
        terms.iter().filter(|term| !kept.lists.contains_key(**term)).map(|term| term.to_string()).collect()
    }

    /// The counter of searches by how they were ranked, for `/metrics`.
    pub fn counter(&self) -> IntCounterVec {
        self.searches.clone()
    }

    /// The gauge of bytes kept, for `/metrics`.
    pub fn gauge(&self) -> IntGauge {
        self.kept_bytes.clone()
    }

    /// Counts a search ranked by FTS5 without asking for a plan (its lists
    /// would not fit, or the epoch could not be told).
    pub fn count_fts5(&self) {
        self.by_plan[FTS5].inc();
    }

    /// The state for a search in `epoch`: moved on to it if it is newer
    /// than the one kept (dropping every list); `None` if it is older (a
    /// search that began before a commit another has seen).
    fn state(&self, epoch: Epoch) -> Option<MutexGuard<'_, Kept>> {
        let mut kept = self.lock();
        match kept.epoch {
            Some(current) if current.raw() > epoch.raw() => return None,
            Some(current) if current == epoch => {}
            _ => {
                // This epoch's lists, if it is known where the log was,
                // may be carried into the new one; else those that could
                // be before, if any.
                let previous = match kept.seq {
                    Some(seq) if !kept.lists.is_empty() => Some(Previous {
                        seq,
                        lists: kept.lists.drain().map(|(term, (list, _))| (term, list)).collect(),
                    }),
                    _ => kept.previous.take(),
                };
                let bytes = previous.as_ref().map_or(0, Previous::bytes);
                *kept = Kept { epoch: Some(epoch), previous, bytes, ..Kept::default() };
                self.show_bytes(bytes);
            }
        }
        Some(kept)
    }

    /// The lists of `terms` that are not kept in `epoch` but were in an
    /// earlier one, with where the log was then, taken out of the cache,
    /// for the search to carry them into `epoch` and keep them again
    /// ([`PostingCache::put_all`]); `None` if there are none.
    pub fn carryable(&self, epoch: Epoch, terms: &[&str]) -> Option<Previous> {
        let mut kept = self.state(epoch)?;
        let kept = &mut *kept;
        let previous = kept.previous.as_mut()?;
        let mut taken = HashMap::new();
        for term in terms {
            if kept.lists.contains_key(*term) || kept.reading.contains(*term) {
                continue;
            }
            if let Some(list) = previous.lists.remove(*term) {
                kept.bytes -= size(term, &list);
                taken.insert(term.to_string(), list);
            }
        }
        let seq = previous.seq;
        if previous.lists.is_empty() {
            kept.previous = None;
        }
        self.show_bytes(kept.bytes);
        (!taken.is_empty()).then_some(Previous { seq, lists: taken })
    }

    /// The earlier epoch's lists cannot be carried into `epoch` (the log
    /// no longer reaches back to them, or every document changed): dropped.
    /// Gives their terms, for [`PostingCache::preload`] to read them again.
    pub fn forget_previous(&self, epoch: Epoch) -> Vec<String> {
        let Some(mut kept) = self.state(epoch) else { return Vec::new() };
        let Some(previous) = kept.previous.take() else { return Vec::new() };
        kept.bytes -= previous.bytes();
        self.show_bytes(kept.bytes);
        previous.lists.into_keys().collect()
    }

    /// Notes `terms` as being read in `epoch` for a read that no search
    /// asked for (lists that could not be carried over a commit, or those
    /// a server kept before it restarted), and gives those noted: the ones
    /// neither kept nor being read. None while another read is under way
    /// (one at a time, as for searches), or in an epoch that is past.
    /// Searches meanwhile are ranked by FTS5, as while any read runs.
    pub fn preload(&self, epoch: Epoch, terms: Vec<String>) -> Vec<String> {
        let Some(mut kept) = self.state(epoch) else { return Vec::new() };
        if !kept.reading.is_empty() {
            return Vec::new();
        }
        let missing: Vec<String> = terms.into_iter().filter(|term| !kept.lists.contains_key(term)).collect();
        kept.reading.extend(missing.iter().cloned());
        missing
    }

    /// The terms whose lists are kept, in this epoch or (not yet carried)
    /// the one before, sorted.
    pub fn terms(&self) -> Vec<String> {
        let kept = self.lock();
        let previous = kept.previous.iter().flat_map(|previous| previous.lists.keys());
        let mut terms: Vec<String> = kept.lists.keys().chain(previous).cloned().collect();
        terms.sort_unstable();
        terms.dedup();
        terms
    }

    /// What a search in `epoch` does with the lists of `terms`, counted.
    pub fn plan(&self, epoch: Epoch, terms: &[&str]) -> Plan {
        let plan = match self.state(epoch) {
            Some(mut kept) => kept.decide(terms),
            None => Plan::Fts5,
        };
        let counter = match plan {
            Plan::Kept(_) => KEPT,
            Plan::Read(_) => READ,
            Plan::Fts5 => FTS5,
        };
        self.by_plan[counter].inc();
        plan
    }

    /// For a search the threshold algorithm has read far for: noted, so
    /// that the next search of these terms in `epoch` merges their lists
    /// at once ([`PostingCache::kept_if_far`]); and what to do with the
    /// lists, as [`PostingCache::plan`] says, counted as `kept` when they
    /// are, else as `terms` (the search goes on with the threshold
    /// algorithm whatever the plan).
    pub fn far(&self, epoch: Epoch, terms: &[&str]) -> Plan {
        let plan = match self.state(epoch) {
            Some(mut kept) => {
                if kept.far.len() < MAX_WANTED {
                    kept.far.insert(terms.join(" "));
                }
                kept.decide(terms)
            }
            None => Plan::Fts5,
        };
        self.by_plan[if matches!(plan, Plan::Kept(_)) { KEPT } else { TERMS }].inc();
        plan
    }

    /// The lists of `terms`, in that order, if the threshold algorithm has
    /// read far for them in `epoch` ([`PostingCache::far`]) and every one
    /// is kept (counted as `kept`); else `None`, and nothing is noted.
    pub fn kept_if_far(&self, epoch: Epoch, terms: &[&str]) -> Option<Vec<List>> {
        let mut kept = self.state(epoch)?;
        if !kept.far.contains(&terms.join(" ")) {
            return None;
        }
        let lists = kept.take(terms)?;
        drop(kept);
        self.by_plan[KEPT].inc();
        Some(lists)
    }

    /// Sets the gauge of bytes kept.
    fn show_bytes(&self, bytes: usize) {
        self.kept_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The term's list as of `epoch`, if it is kept.
    #[cfg(test)]
    fn get(&self, epoch: Epoch, term: &str) -> Option<List> {
        let kept = self.lock();
        if kept.epoch != Some(epoch) {
            return None;
        }
        kept.lists.get(term).map(|(list, _)| list.clone())
    }

    /// [`PostingCache::put_all`] of one list.
    #[cfg(test)]
    fn put(&self, epoch: Epoch, term: &str, list: List) {
        self.put_all(epoch, vec![(term.to_string(), list)], None);
    }

    /// Keeps these lists, all read as of `epoch`, at once, so that a search
    /// sees all of them or none; unless a newer epoch has begun (an older
    /// one is dropped, lists and all). `seq` is where `claim_terms_log` was
    /// in the snapshot they were read in, if told (the same for every
    /// snapshot of an epoch). An earlier epoch's lists are dropped first,
    /// then those used least lately, until each fits the budget (a list
    /// larger than the budget is not kept). Whether they were kept (not
    /// when a newer epoch has begun).
    pub fn put_all(&self, epoch: Epoch, lists: Vec<(String, List)>, seq: Option<i64>) -> bool {
        let Some(mut kept) = self.state(epoch) else { return false };
        if seq.is_some() {
            kept.seq = seq;
        }
        for (term, list) in lists {
            kept.reading.remove(&term);
            let bytes = size(&term, &list);
            if bytes > self.budget {
                continue;
            }
            if let Some((old, _)) = kept.lists.remove(&term) {
                kept.bytes -= size(&term, &old);
            }
            if kept.bytes + bytes > self.budget
                && let Some(previous) = kept.previous.take()
            {
                kept.bytes -= previous.bytes();
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
            kept.lists.insert(term, (list, now));
            kept.bytes += bytes;
        }
        self.show_bytes(kept.bytes);
        true
    }

    /// A search that was to read these lists did not (it failed, or a list
    /// could not be kept): another may.
    pub fn abandon(&self, epoch: Epoch, terms: &[&str]) {
        let mut kept = self.lock();
        if kept.epoch == Some(epoch) {
            for term in terms {
                kept.reading.remove(*term);
            }
        }
    }

    /// Bytes of lists kept now, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

/// What a search needs to use the kept lists: the cache, the watch that
/// tells whether they are still current, and the database to read them
/// from in the background.
#[derive(Clone)]
pub struct Terms {
    cache: Arc<PostingCache>,
    watch: Arc<Watch>,
    db: Db,
}

/// The largest file of terms a server reads at start: the lists' budget
/// holds a few hundred lists, and their terms take a few kilobytes.
pub const REMEMBERED_MAX_BYTES: u64 = 1024 * 1024;

/// The file beside a SQLite database that names the terms whose posting
/// lists a server keeps, and what it last wrote there.
pub struct Remembered {
    file: std::path::PathBuf,
    written: Mutex<Option<Vec<String>>>,
}

impl Remembered {
    /// The file for the database at `url`: `<file>.posting-lists.json`;
    /// none for a database in memory or named by a `file:` URI.
    pub fn of(url: &str) -> Option<Remembered> {
        let plain = !url.is_empty() && url != ":memory:" && !url.starts_with("file:");
        plain.then(|| Remembered { file: format!("{url}.posting-lists.json").into(), written: Mutex::new(None) })
    }

    /// The terms the file names; none if there is no file, or it is not a
    /// plain file of at most [`REMEMBERED_MAX_BYTES`] that reads as a JSON
    /// array of strings (logged). Its kind and size are checked before it
    /// is opened: a pipe put there would hold the server's start.
    pub fn read(&self) -> Vec<String> {
        let refused = match std::fs::metadata(&self.file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(error) => Some(error.to_string()),
            Ok(meta) if !meta.is_file() => Some("not a plain file".to_string()),
            Ok(meta) if meta.len() > REMEMBERED_MAX_BYTES => Some(format!("larger than {REMEMBERED_MAX_BYTES} bytes")),
            Ok(_) => None,
        };
        let read = match refused {
            Some(error) => Err(error),
            None => std::fs::read(&self.file).map_err(|e| e.to_string()),
        };
        let text = match read {
            Ok(text) => text,
            Err(error) => {
                tracing::warn!(file = %self.file.display(), %error, "the terms of posting lists to read could not be read");
                return Vec::new();
            }
        };
        match serde_json::from_slice::<Vec<String>>(&text) {
            Ok(terms) => terms,
            Err(error) => {
                tracing::warn!(file = %self.file.display(), %error, "the terms of posting lists to read are not a list of terms");
                Vec::new()
            }
        }
    }

    /// Writes `terms` to the file, unless they are what it last wrote: to
    /// a file of this process beside it first, then moved over it, so that
    /// a reader never sees half of it. A failure (a read-only directory)
    /// is logged.
    fn write(&self, terms: Vec<String>) {
        let mut written = self.written.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if written.as_ref() == Some(&terms) {
            return;
        }
        // One per process: two servers on one database may write at once.
        let mut partial = self.file.clone().into_os_string();
        partial.push(format!(".{}.partial", std::process::id()));
        let saved = serde_json::to_vec(&terms)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(&partial, json))
            .and_then(|()| std::fs::rename(&partial, &self.file));
        match saved {
            Ok(()) => *written = Some(terms),
            Err(error) => {
                // Not left behind; there may be none to remove.
                let _ = std::fs::remove_file(&partial);
                tracing::warn!(file = %self.file.display(), %error, "the terms of the posting lists kept could not be written")
            }
        }
    }
}

impl Terms {
    pub fn new(cache: Arc<PostingCache>, watch: Arc<Watch>, db: Db) -> Terms {
        Terms { cache, watch, db }
    }

    /// Writes the terms of the lists kept now to the file beside the
    /// database, if they changed since it was last written: a server
    /// started on the database reads their lists before any search asks.
    pub fn remember(&self) {
        if let Some(remembered) = &self.db.remembered {
            remembered.write(self.cache.terms());
        }
    }

    /// The terms the file beside the database names (see [`Terms::remember`]).
    pub fn remembered(&self) -> Vec<String> {
        self.db.remembered.as_ref().map(|r| r.read()).unwrap_or_default()
    }

    /// Runs `read` on a blocking thread of its own, with a pooled
    /// connection (`None` if none could be had), so that no request waits
    /// for it; `read` tells whether the connection answered.
    pub fn in_background(&self, read: impl FnOnce(Option<&mut DbConnection>) -> bool + Send + 'static) {
        let db = self.db.clone();
        let job = move || match db.get() {
            Ok(mut conn) => {
                let answered = read(Some(&mut conn));
                super::answered(&mut conn, answered);
            }
            Err(error) => {
                tracing::warn!(%error, "no connection to read posting lists with");
                read(None);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(job)),
            // A thread that cannot be made drops the job, and with it what
            // it was to read (see [`Reading`]).
            Err(_) => drop(std::thread::Builder::new().name("posting-lists".into()).spawn(job)),
        }
    }

    /// The database's epoch now. A search reads it before its snapshot
    /// begins (on a connection with no transaction open: a transaction
    /// already open may have begun its snapshot earlier) and again once
    /// the snapshot has begun: when both are the same ([`unchanged`]),
    /// nothing was committed between them, and the snapshot is the
    /// database as of that epoch.
    pub fn epoch(&self) -> Option<Epoch> {
        self.watch.epoch()
    }

    /// [`Terms::epoch`], off the request path: asked again, a millisecond
    /// apart, while the watch is busy with a request (a hundred times at
    /// most).
    pub fn epoch_patiently(&self) -> Option<Epoch> {
        for _ in 0..100 {
            if let Some(epoch) = self.watch.epoch() {
                return Some(epoch);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        None
    }

    pub fn cache(&self) -> &PostingCache {
        &self.cache
    }

    /// The database the lists are read from.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// Lists a search noted as being read, for the read in the background:
/// dropped, it gives up those not kept by then (the read failed, could not
/// tell its epoch, or never ran), so that a later search may read them.
pub struct Reading {
    cache: Arc<PostingCache>,
    epoch: Epoch,
    pub terms: Vec<String>,
}

impl Reading {
    pub fn new(terms: &Terms, epoch: Epoch, lists: Vec<String>) -> Reading {
        Reading { cache: terms.cache.clone(), epoch, terms: lists }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        let terms: Vec<&str> = self.terms.iter().map(String::as_str).collect();
        self.cache.abandon(self.epoch, &terms);
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
        let postings = docs.iter().map(|&doc| Posting { doc, written: 1, stemmed: 0, length: 3 });
        Arc::new(PostingList::new(postings).expect("a list"))
    }

    fn epoch(n: u64) -> Epoch {
        Epoch::from_raw(n).expect("an epoch")
    }

    fn cache() -> PostingCache {
        PostingCache::new(BUDGET_BYTES).expect("a cache")
    }

    #[test]
    fn a_list_patched_drops_the_changed_documents_and_puts_in_what_they_hold_now() {
        let posting = |doc, written| Posting { doc, written, stemmed: 0, length: 3 };
        let list = PostingList::new([1, 3, 5, 7].map(|doc| posting(doc, 1)).into_iter()).expect("a list");
        // 3 holds the term twice now, 4 holds it, 7 no longer, 9 is new.
        let patched = list.patched(&[3, 4, 7, 9], &[posting(3, 2), posting(4, 1), posting(9, 1)]).expect("a list");
        assert_eq!(
            patched.iter().collect::<Vec<_>>(),
            vec![posting(1, 1), posting(3, 2), posting(4, 1), posting(5, 1), posting(9, 1)]
        );
        assert_eq!(list.patched(&[], &[]).expect("a list"), list, "nothing changed");
        assert!(list.patched(&[], &[posting(5, 2)]).is_none(), "a document twice: not a list");
        // Outsized counts, in and out.
        let big = |doc| Posting { doc, written: 300, stemmed: 0, length: 3 };
        let list = PostingList::new([posting(1, 1), big(2), big(4), posting(6, 1)].into_iter()).expect("a list");
        let patched = list.patched(&[-1, 2, 3, 6, 1 << 40], &[posting(2, 1), big(3)]).expect("a list");
        assert_eq!(patched.iter().collect::<Vec<_>>(), vec![posting(1, 1), posting(2, 1), big(3), big(4)]);
        assert_eq!(
            patched,
            PostingList::new(patched.iter().collect::<Vec<_>>().into_iter()).expect("a list"),
            "as if made anew"
        );
    }

    #[test]
    fn the_lists_of_an_epoch_whose_log_place_is_known_are_carried_into_the_next_once() {
        let cache = cache();
        cache.put_all(epoch(1), vec![("mali".into(), list(&[1, 2])), ("the".into(), list(&[2]))], Some(10));
        let bytes = cache.bytes();
        assert!(bytes > 0);
        assert_eq!(cache.carryable(epoch(1), &["mali"]).map(|p| p.seq), None, "kept in this epoch");
        // A commit: the lists are no longer kept, but may be carried over it.
        assert_eq!(cache.plan(epoch(2), &["mali", "the"]), Plan::Fts5);
        assert_eq!(cache.bytes(), bytes, "the lists of the epoch before still count");
        let previous = cache.carryable(epoch(2), &["mali", "gold"]).expect("mali's list");
        assert_eq!(previous.seq, 10);
        assert_eq!(previous.lists.keys().collect::<Vec<_>>(), ["mali"]);
        assert!(cache.carryable(epoch(2), &["mali"]).is_none(), "taken once");
        cache.put_all(epoch(2), previous.lists.into_iter().collect(), Some(12));
        assert_eq!(cache.get(epoch(2), "mali"), Some(list(&[1, 2])));
        // Two commits on, `mali` may still be carried (from 12); `the`, not
        // carried into epoch 2, went when epoch 2's lists became the
        // earlier ones.
        cache.put_all(epoch(3), Vec::new(), None);
        let previous = cache.carryable(epoch(4), &["mali", "the"]).expect("mali's list");
        assert_eq!((previous.seq, previous.lists.len()), (12, 1));
        // Taken and not kept again (say the log could not tell what changed): gone.
        assert!(cache.carryable(epoch(5), &["mali", "the"]).is_none());
        cache.put_all(epoch(6), vec![("the".into(), list(&[2]))], Some(20));
        assert!(cache.bytes() > 0);
        assert!(cache.plan(epoch(7), &["the"]) == Plan::Fts5);
        assert_eq!(cache.forget_previous(epoch(7)), ["the"], "for them to be read again");
        assert_eq!(cache.bytes(), 0);
        assert!(cache.carryable(epoch(7), &["the"]).is_none());
    }

    #[test]
    fn lists_no_search_asked_for_are_noted_as_being_read_unless_kept_or_a_read_runs() {
        let cache = cache();
        cache.put(epoch(1), "a", list(&[1]));
        assert_eq!(cache.preload(epoch(1), vec!["a".into(), "b".into()]), ["b"], "a is kept");
        assert!(cache.preload(epoch(1), vec!["c".into()]).is_empty(), "one read at a time");
        assert_eq!(cache.plan(epoch(1), &["a", "b"]), Plan::Fts5, "searches meanwhile by FTS5");
        cache.put_all(epoch(1), vec![("b".into(), list(&[2]))], Some(3));
        assert_eq!(cache.terms(), ["a", "b"]);
        assert!(matches!(cache.plan(epoch(1), &["a", "b"]), Plan::Kept(_)));
        // A commit: the lists of the epoch before are named until carried
        // or forgotten; a past epoch notes nothing.
        assert!(cache.preload(epoch(2), vec!["c".into()]) == ["c"]);
        assert_eq!(cache.terms(), ["a", "b"]);
        assert!(cache.preload(epoch(1), vec!["d".into()]).is_empty());
    }

    #[test]
    fn the_terms_kept_are_written_beside_the_database_when_they_change() {
        let dir = tempfile::tempdir().expect("a dir");
        let url = dir.path().join("c.db").to_string_lossy().into_owned();
        let remembered = Remembered::of(&url).expect("a file");
        assert_eq!(remembered.file, std::path::PathBuf::from(format!("{url}.posting-lists.json")));
        assert!(remembered.read().is_empty(), "no file yet");
        remembered.write(vec!["a".into(), "b".into()]);
        assert_eq!(remembered.read(), ["a", "b"]);
        // The same terms are not written again: the file changed by hand stays.
        std::fs::write(&remembered.file, r#"["x"]"#).expect("written");
        remembered.write(vec!["a".into(), "b".into()]);
        assert_eq!(remembered.read(), ["x"]);
        remembered.write(vec!["c".into()]);
        assert_eq!(remembered.read(), ["c"]);
        std::fs::write(&remembered.file, "not a list").expect("written");
        assert!(remembered.read().is_empty(), "a file that is not a list names nothing");
        let huge = format!("[{}\"x\"]", "\"x\",".repeat(300_000));
        std::fs::write(&remembered.file, huge).expect("written");
        assert!(remembered.read().is_empty(), "a file too large is not read");
        std::fs::remove_file(&remembered.file).expect("removed");
        std::fs::create_dir(&remembered.file).expect("a directory in its place");
        assert!(remembered.read().is_empty(), "nor what is not a plain file");
        remembered.write(vec!["d".into()]);
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("the dir").filter_map(Result::ok).collect();
        assert!(
            left.iter().all(|entry| !entry.file_name().to_string_lossy().ends_with(".partial")),
            "a write that could not be moved into place leaves nothing behind"
        );
        assert!(Remembered::of(":memory:").is_none());
        assert!(Remembered::of("file:cards?mode=memory&cache=shared").is_none());
    }

    #[test]
    fn a_list_is_kept_for_its_epoch_only() {
        let cache = cache();
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
    fn a_list_of_an_older_epoch_is_not_kept_and_drops_nothing() {
        let cache = cache();
        assert_eq!(cache.plan(epoch(2), &["gold"]), Plan::Fts5);
        cache.put(epoch(2), "mali", list(&[1]));
        cache.put(epoch(1), "army", list(&[2]));
        assert!(cache.get(epoch(1), "army").is_none(), "read before a commit another search has seen");
        assert!(cache.get(epoch(2), "mali").is_some(), "the newer epoch's lists stay");
        assert_eq!(cache.plan(epoch(2), &["gold"]), Plan::Read(vec!["gold".into()]), "and what it wanted");
        assert_eq!(cache.plan(epoch(1), &["mali"]), Plan::Fts5, "a search of an older epoch reads nothing");
    }

    #[test]
    fn a_list_is_read_when_a_second_search_wants_it_and_one_read_at_a_time() {
        let cache = cache();
        let pair = ["officials", "security"];
        let both = || vec!["officials".to_string(), "security".to_string()];
        assert_eq!(cache.plan(epoch(1), &pair), Plan::Fts5, "the first");
        assert_eq!(cache.plan(epoch(1), &pair), Plan::Read(both()), "the second");
        assert_eq!(cache.plan(epoch(1), &pair), Plan::Fts5, "while they are read");
        assert_eq!(cache.plan(epoch(1), &["gold"]), Plan::Fts5, "gold: the first");
        assert_eq!(cache.plan(epoch(1), &["gold"]), Plan::Fts5, "gold waits: one read at a time");
        cache.put(epoch(1), "security", list(&[1, 2]));
        assert_eq!(cache.plan(epoch(1), &["officials"]), Plan::Fts5, "officials is still being read");
        cache.abandon(epoch(1), &["officials"]);
        assert_eq!(cache.plan(epoch(1), &pair), Plan::Read(vec!["officials".into()]), "read again once abandoned");
        cache.put_all(epoch(1), vec![("officials".into(), list(&[2]))], None);
        assert!(matches!(cache.plan(epoch(1), &pair), Plan::Kept(lists) if lists == [list(&[2]), list(&[1, 2])]));
        assert_eq!(cache.plan(epoch(2), &pair), Plan::Fts5, "a commit starts over");
        let counts: Vec<u64> = cache.by_plan.iter().map(IntCounter::get).collect();
        assert_eq!(counts, vec![1, 2, 6, 0], "kept, read, fts5, terms");
    }

    #[test]
    fn a_search_read_far_for_merges_its_lists_next_time_they_are_kept() {
        let cache = cache();
        let pair = ["convoys", "the"];
        let both = || vec![list(&[3]), list(&[1, 3])];
        assert_eq!(cache.kept_if_far(epoch(1), &pair), None, "not read far for, none kept");
        assert_eq!(cache.far(epoch(1), &pair), Plan::Fts5, "the first to want them");
        assert_eq!(cache.far(epoch(1), &pair), Plan::Read(vec!["convoys".into(), "the".into()]), "the second");
        cache.put_all(epoch(1), vec![("convoys".into(), list(&[3])), ("the".into(), list(&[1, 3]))], None);
        assert_eq!(cache.kept_if_far(epoch(1), &pair), Some(both()), "read far for, and kept");
        assert_eq!(cache.kept_if_far(epoch(1), &["the"]), None, "the other terms were not read far for");
        assert_eq!(cache.kept_if_far(epoch(2), &pair), None, "nor in another epoch");
        assert!(cache.put_all(epoch(2), vec![("convoys".into(), list(&[3])), ("the".into(), list(&[1, 3]))], None));
        assert!(!cache.put_all(epoch(1), vec![("gao".into(), list(&[4]))], None), "a past epoch's are not kept");
        assert_eq!(cache.kept_if_far(epoch(2), &pair), None, "a new epoch forgets what was read far for");
        assert_eq!(cache.far(epoch(2), &pair), Plan::Kept(both()), "read far for, its lists kept");
        assert_eq!(cache.kept_if_far(epoch(2), &pair), Some(both()));
        let counts: Vec<u64> = cache.by_plan.iter().map(IntCounter::get).collect();
        assert_eq!(counts, vec![3, 0, 0, 2], "kept, read, fts5, terms");
    }

    #[test]
    fn a_reading_dropped_gives_up_what_was_not_kept() {
        let cache = Arc::new(cache());
        assert_eq!(cache.plan(epoch(1), &["mali"]), Plan::Fts5);
        let Plan::Read(terms) = cache.plan(epoch(1), &["mali"]) else { panic!("a read") };
        drop(Reading { cache: cache.clone(), epoch: epoch(1), terms });
        assert!(matches!(cache.plan(epoch(1), &["mali"]), Plan::Read(_)), "another search may read it");
    }

    #[test]
    fn the_lists_stay_within_the_budget_dropping_those_used_least_lately() {
        let hundred: Vec<i64> = (0..100).collect();
        let one = list(&hundred).bytes() + "a".len() + ENTRY_BYTES;
        let cache = PostingCache::new(2 * one).expect("a cache");
        cache.put(epoch(1), "a", list(&hundred));
        cache.put(epoch(1), "b", list(&hundred));
        assert_eq!(cache.bytes(), 2 * one);
        assert!(matches!(cache.plan(epoch(1), &["a"]), Plan::Kept(_)), "a is used after b");
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
        assert_eq!(cache.bytes(), one + list(&[1]).bytes() + 1 + ENTRY_BYTES);
    }

    type IndexSaid = (Vec<(u32, u32, u32, Vec<u32>)>, Vec<Option<usize>>, usize);

    /// What a list's index says, to compare two indexes: each class
    /// (sorted) with its documents, where each document is, and the
    /// bitmap's length.
    fn index_of(list: &PostingList) -> IndexSaid {
        let classes = list.classes().expect("an index").to_vec();
        let mut by_class: Vec<(u32, u32, u32, Vec<u32>)> = (0..classes.len())
            .map(|c| {
                let docs = list.select(|k| k == c).expect("an index").into_iter().map(|(doc, _)| doc).collect();
                (classes[c].written, classes[c].stemmed, classes[c].length, docs)
            })
            .collect();
        by_class.sort_unstable();
        assert!(classes.iter().zip(0..).all(|(class, c)| {
            let docs = list.select(|k| k == c).expect("an index");
            class.documents as usize == docs.len() && class.documents > 0
        }));
        let last = list.docs().last().copied().unwrap_or(0);
        let places = (0..=last + 70).map(|doc| list.place_of(doc)).collect();
        let held = list.index.get().and_then(Option::as_ref).expect("an index").held.len();
        (by_class, places, held)
    }

    #[test]
    fn a_list_patched_in_place_is_the_list_and_the_index_a_copy_would_be() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(31);
        let mut in_place = 0;
        for case in 0..300 {
            // Dense lists (a bitmap) and sparse ones (none), a few classes.
            let (rows, share) = if case % 3 == 0 { (4000, 0.05) } else { (600, 0.7) };
            let mut postings = Vec::new();
            for doc in 0..rows {
                if rng.random_bool(share) {
                    let (written, stemmed) = (rng.random_range(0..3), rng.random_range(0..3));
                    postings.push(Posting { doc, written, stemmed, length: rng.random_range(4..8) });
                }
            }
            let list = PostingList::new(postings.iter().copied()).expect("a list");
            // Documents changed: held or not, past the last one too.
            let mut changed: Vec<i64> =
                (0..rng.random_range(0..=IN_PLACE_CHANGES + 2)).map(|_| rng.random_range(0..rows + 200)).collect();
            changed.sort_unstable();
            changed.dedup();
            let mut fresh = Vec::new();
            for doc in &changed {
                if rng.random_bool(0.6) {
                    let (written, stemmed) = (rng.random_range(0..4), rng.random_range(0..4));
                    fresh.push(Posting { doc: *doc, written, stemmed, length: rng.random_range(4..10) });
                }
            }
            let copied = list.patched(&changed, &fresh).expect("patched");
            let mut patched = PostingList::new(postings.iter().copied()).expect("a list");
            let indexed = case % 2 == 0;
            if indexed {
                assert!(patched.classes().is_some());
            }
            if !patched.patch_in_place(&changed, &fresh) {
                assert!(changed.len() > IN_PLACE_CHANGES, "case {case}: only too many changes are copied");
                assert_eq!(patched, list, "case {case}: left as it was");
                continue;
            }
            in_place += 1;
            assert_eq!(patched, copied, "case {case}: the same documents and counts");
            assert_eq!(patched.indexed(), indexed, "case {case}: an index is patched, none worked out");
            if indexed {
                assert_eq!(index_of(&patched), index_of(&copied), "case {case}: the index a copy works out");
            }
        }
        assert!(in_place > 200, "{in_place}");
        // A class emptied (doc 3's, alone in it), and one made (doc 4's).
        let class = |doc, length| Posting { doc, written: 1, stemmed: 1, length };
        let postings = [class(1, 5), class(2, 5), class(3, 6), class(4, 5), class(5, 5)];
        let fresh = [Posting { doc: 4, written: 2, stemmed: 2, length: 9 }];
        let mut patched = PostingList::new(postings.into_iter()).expect("a list");
        assert_eq!(patched.classes().map(<[Class]>::len), Some(2));
        assert!(patched.patch_in_place(&[3, 4], &fresh));
        let copied = PostingList::new(postings.into_iter()).expect("a list").patched(&[3, 4], &fresh).expect("patched");
        assert_eq!(index_of(&patched), index_of(&copied));
        assert_eq!(patched.classes().map(<[Class]>::len), Some(2), "(1, 1, 5) and (2, 2, 9)");
        // Not in place: an outsized posting, fresh postings out of order
        // or of a document not changed.
        let mut list =
            PostingList::new([Posting { doc: 1, written: 1, stemmed: 1, length: 5 }].into_iter()).expect("a list");
        let outsized = Posting { doc: 1, written: 300, stemmed: 1, length: 5 };
        assert!(!list.patch_in_place(&[1], &[outsized]));
        let at = |doc| Posting { doc, written: 1, stemmed: 1, length: 5 };
        assert!(!list.patch_in_place(&[1, 2], &[at(2), at(1)]));
        assert!(!list.patch_in_place(&[1], &[at(2)]));
        assert_eq!(list.docs(), [1]);
        // Room for 16 documents more (and one in 256): then a copy.
        let mut grown = PostingList::new((0..10i32).map(|doc| at(i64::from(doc)))).expect("a list");
        assert!(grown.classes().is_some());
        let added = |from: i64| -> (Vec<i64>, Vec<Posting>) {
            ((from..from + 16).collect(), (from..from + 16).map(at).collect())
        };
        let (changed, fresh) = added(100);
        assert!(grown.patch_in_place(&changed, &fresh), "room for them");
        let (changed, fresh) = added(200);
        assert!(!grown.patch_in_place(&changed, &fresh), "no room left");
        assert_eq!(grown.docs().len(), 26, "left as it was");
        // A list wanted twice, never indexed, wants it once more, as a copy.
        let mut twice = PostingList::new((0..10i32).map(|doc| at(i64::from(doc)))).expect("a list");
        assert_eq!([twice.want_index(), twice.want_index()], [false, true]);
        assert!(twice.patch_in_place(&[3], &[]));
        assert!(twice.want_index(), "the next search to want it has it worked out");
    }

    #[test]
    fn a_lists_classes_count_its_documents_and_select_them_in_order() {
        let postings: Vec<Posting> = (0..3000)
            .map(|doc| Posting {
                doc: doc * 3,
                written: (doc % 4) as u32,
                stemmed: (doc % 3) as u32,
                length: 5 + (doc % 7) as u32,
            })
            .collect();
        let list = PostingList::new(postings.iter().copied()).expect("a list");
        let classes = list.classes().expect("an index");
        let mut counted: Vec<(u32, u32, u32, u32)> =
            classes.iter().map(|c| (c.written, c.stemmed, c.length, c.documents)).collect();
        counted.sort_unstable();
        let mut expected: HashMap<(u32, u32, u32), u32> = HashMap::new();
        for p in &postings {
            *expected.entry((p.written, p.stemmed, p.length)).or_default() += 1;
        }
        let mut expected: Vec<(u32, u32, u32, u32)> = expected.into_iter().map(|((w, s, l), n)| (w, s, l, n)).collect();
        expected.sort_unstable();
        assert_eq!(counted, expected);
        let stemmed_twice_and_long = |c: usize| classes.get(c).is_some_and(|c| c.stemmed == 2 && c.length >= 10);
        let selected = list.select(stemmed_twice_and_long).expect("an index");
        let wanted: Vec<u32> = (postings.iter().filter(|p| p.stemmed == 2 && p.length >= 10))
            .map(|p| u32::try_from(p.doc).expect("a row"))
            .collect();
        assert_eq!(selected.iter().map(|(doc, _)| *doc).collect::<Vec<_>>(), wanted, "in document order");
        assert!(selected.iter().all(|(_, c)| stemmed_twice_and_long(*c as usize)), "each with its class");
        for (place, doc) in list.docs().iter().enumerate() {
            assert_eq!(list.place_of(*doc), Some(place));
            assert_eq!(list.place_of(doc + 1), None);
        }
        // The second search that wants the index has it worked out, once.
        let fresh = PostingList::new(postings.iter().copied()).expect("a list");
        assert_eq!([fresh.want_index(), fresh.want_index(), fresh.want_index()], [false, true, false]);
        assert!(!fresh.indexed(), "wanting it works nothing out");

        // Carried over a change, an indexed list's successor has its index
        // worked out for the first search that wants it; a list wanted once
        // keeps that want; one never wanted starts again.
        let change = |list: &PostingList| list.patched(&[3], &[]).expect("patched");
        let carried = change(&list);
        assert!(!carried.indexed(), "an index is not carried");
        assert_eq!([carried.want_index(), carried.want_index()], [true, false]);
        let once = PostingList::new(postings.iter().copied()).expect("a list");
        assert!(!once.want_index());
        assert_eq!([change(&once).want_index(), change(&once).want_index()], [true, true]);
        let never = PostingList::new(postings.iter().copied()).expect("a list");
        assert_eq!([change(&never).want_index()], [false]);
        // Wanted twice, its index still being worked out when it changed.
        let twice = PostingList::new(postings.iter().copied()).expect("a list");
        assert_eq!([twice.want_index(), twice.want_index()], [false, true]);
        assert!(!twice.indexed());
        assert!(change(&twice).want_index(), "the first search to want the new list has it worked out");
        let carried_twice = change(&change(&never));
        assert_eq!([carried_twice.want_index(), carried_twice.want_index()], [false, true]);
    }

    #[test]
    fn a_list_gives_back_every_posting_in_document_order_outsized_counts_too() {
        let posting = |doc, written, stemmed, length| Posting { doc, written, stemmed, length };
        let postings = vec![
            posting(9, 1, 0, 12),
            posting(2, 300, 1, 40),
            posting(4, 255, 255, 65_535),
            posting(7, 254, 254, 65_534),
            posting(5, 2, 2, 70_000),
            posting(3, 1, 256, 3),
        ];
        let mut sorted = postings;
        sorted.sort_by_key(|p| p.doc);
        let list = PostingList::new(sorted.iter().copied()).expect("a list");
        assert_eq!(list.docs(), &[2, 3, 4, 5, 7, 9]);
        assert_eq!(
            (0..6).map(|i| list.get(i)).collect::<Vec<_>>(),
            sorted.iter().copied().map(Some).collect::<Vec<_>>()
        );
        assert_eq!(list.iter().collect::<Vec<_>>(), sorted);
        assert_eq!(list.get(6), None);
        // Four outsized; the index: six documents by class, one word of
        // `held` and of `before`.
        let index = 6 * 4 + 8 + 4;
        assert_eq!(list.bytes(), 6 * BYTES_PER_POSTING + 4 * std::mem::size_of::<Posting>() + index);
        assert_eq!(BYTES_PER_POSTING, 8);
        // Its classes (the outsized with their own counts), and where each document is.
        let mut classes: Vec<(u32, u32, u32, u32)> =
            list.classes().expect("an index").iter().map(|c| (c.written, c.stemmed, c.length, c.documents)).collect();
        classes.sort_unstable();
        let mut expected: Vec<(u32, u32, u32, u32)> =
            sorted.iter().map(|p| (p.written, p.stemmed, p.length, 1)).collect();
        expected.sort_unstable();
        assert_eq!(classes, expected);
        for (place, doc) in list.docs().iter().enumerate() {
            assert_eq!(list.place_of(*doc), Some(place));
        }
        assert_eq!(list.place_of(6), None);
        assert_eq!(list.place_of(10), None);
        let classes = list.classes().expect("an index");
        let outsized = |c: usize| classes.get(c).is_some_and(|c| c.length >= 1024 || c.written > 255);
        let selected: Vec<u32> = list.select(outsized).expect("an index").into_iter().map(|(doc, _)| doc).collect();
        assert_eq!(selected, [2, 4, 5, 7], "in document order");
        let one = |doc| PostingList::new(std::iter::once(posting(doc, 1, 0, 3)));
        assert!(one(-1).is_none(), "a negative row");
        assert!(one(1 << 32).is_none(), "a row past u32");
        assert!(one(u32::MAX.into()).is_some());
        let two = |a, b| PostingList::new([posting(a, 1, 0, 3), posting(b, 1, 0, 3)].into_iter());
        assert!(two(3, 2).is_none(), "out of order");
        assert!(two(2, 2).is_none(), "a row twice");
    }

    #[test]
    fn a_list_stored_as_bytes_reads_back_the_same_and_bytes_that_are_not_one_read_as_none() {
        let posting = |doc, written, stemmed, length| Posting { doc, written, stemmed, length };
        let postings = [posting(2, 300, 1, 40), posting(3, 1, 0, 3), posting(5, 2, 2, 70_000), posting(9, 1, 0, 12)];
        let list = PostingList::new(postings.into_iter()).expect("a list");
        let bytes = list.to_bytes().expect("bytes");
        assert_eq!(bytes.len(), HEADER_BYTES + 4 * BYTES_PER_POSTING + 2 * OUTSIZED_BYTES);
        assert_eq!(PostingList::from_bytes(&bytes).as_ref(), Some(&list));
        let empty = PostingList::default();
        assert_eq!(PostingList::from_bytes(&empty.to_bytes().expect("bytes")), Some(empty));

        assert_eq!(PostingList::from_bytes(&bytes[..bytes.len() - 1]), None, "cut short");
        assert_eq!(PostingList::from_bytes(&[bytes.as_slice(), &[0]].concat()), None, "a byte too many");
        assert_eq!(PostingList::from_bytes(&bytes[..10]), None, "no header");
        let mut other = bytes.clone();
        other[3] = b'2';
        assert_eq!(PostingList::from_bytes(&other), None, "another format");
        let mut swapped = bytes.clone();
        swapped[12..20].copy_from_slice(&[3, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(PostingList::from_bytes(&swapped), None, "rows out of order");
        let mut unmarked = bytes.clone();
        // The first document's counts (outsized) made ordinary.
        unmarked[28..32].copy_from_slice(&[40, 0, 1, 1]);
        assert_eq!(PostingList::from_bytes(&unmarked), None, "an outsized posting of a document not marked so");
        let mut huge = bytes;
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(PostingList::from_bytes(&huge), None, "a count past the bytes");
    }

    #[test]
    fn a_snapshot_is_of_an_epoch_only_when_both_readings_agree() {
        assert_eq!(unchanged(Some(epoch(3)), Some(epoch(3))), Some(epoch(3)));
        assert_eq!(unchanged(Some(epoch(3)), Some(epoch(4))), None);
        assert_eq!(unchanged(None, Some(epoch(3))), None);
        assert_eq!(unchanged(Some(epoch(3)), None), None);
    }
}
