//! Cards kept as the JSON they were sent as, so that a card read again is
//! one indexed read of its claim's stamp instead of the card's five.
//!
//! **Why the stamp says when a card is stale.** A claim's version follows
//! its card (see the module above): every write that changes what a card
//! shows moves the claim's version, in the same transaction, whichever
//! process makes it. A kept card is sent only while its claim's stamp
//! (version, `created_at` and `updated_at`, read from the database on each
//! request) is the one it was made at; otherwise it is made again. The
//! creation time tells a claim deleted and made again under the same id
//! (an import may bring back an old version number) from the one kept.
//! Nothing is invalidated from here: a write by another process, or
//! another server on the same PostgreSQL database, is seen as soon as it
//! commits, as the stamp is read on each request.
//!
//! **When the stamp is not read.** On SQLite the database's
//! [`Epoch`](crate::db::watch::Epoch) tells, without a pooled connection,
//! whether anything at all was committed since a moment. A kept card
//! remembers the epoch at which it was last found current (read before its
//! stamp was, or before it was made); while the epoch is still that one,
//! nothing has been committed since, by any connection of any process, and
//! the card is sent as kept without reading anything. The first commit
//! anywhere in the database ends the epoch, and each kept card is then
//! checked by its stamp once more.
//!
//! **What it keeps.** Up to `--card-cache-mib` MiB of response bodies
//! (`CLAIMTRAIL_CARD_CACHE_MIB`, default 32; `0` keeps none), the public
//! card and the desk's card (`include=drafts`) apart, evicted by
//! `quick_cache`'s policy (a modified CLOCK-Pro: a card read once does not
//! push out cards read often). `claimtrail_card_cache_total{result}`
//! counts reads by what the cache answered: `unchanged` (sent without a
//! read: nothing committed since it was found current), `hit` (sent after
//! reading its stamp), `stale` (kept at another stamp, made again) and
//! `miss`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web::Bytes;
use diesel::prelude::*;
use prometheus::{IntCounter, IntCounterVec, Opts};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::claims::model::Claim;
use crate::db::DbConnection;
use crate::db::schema::claims;
use crate::db::watch::Epoch;
use crate::db::write::{Stamp, StoreError, StoreResult};
use crate::ids::ClaimId;

/// A card as sent: its claim's stamp and the JSON body.
#[derive(Debug)]
pub struct Rendered {
    pub stamp: Stamp,
    pub body: Bytes,
    /// The epoch at which the card was last found current
    /// ([`Epoch::raw`]; 0 for none).
    current_in: AtomicU64,
}

impl Rendered {
    /// Whether the card was found current in the epoch `now`.
    fn current_in(&self, now: Epoch) -> bool {
        Epoch::from_raw(self.current_in.load(Ordering::Relaxed)) == Some(now)
    }

    /// Notes that the card was found current by a read begun in `epoch`.
    /// Two requests may note different epochs in either order; an older
    /// one only costs the next read a check.
    fn found_current(&self, epoch: Option<Epoch>) {
        self.current_in.store(epoch.map_or(0, Epoch::raw), Ordering::Relaxed);
    }
}

/// A card's key: the claim and whether drafts are shown.
type Key = (ClaimId, bool);

#[derive(Clone)]
struct BodyBytes;

impl Weighter<Key, Arc<Rendered>> for BodyBytes {
    fn weight(&self, key: &Key, card: &Arc<Rendered>) -> u64 {
        // The body and what keeping it costs besides (the key, the stamp,
        // the allocations' headers), so that no entry weighs nothing.
        (card.body.len() + key.0.as_str().len() + 128) as u64
    }
}

/// The kept cards of one server, shared by its workers.
pub struct CardCache {
    cards: Option<Cache<Key, Arc<Rendered>, BodyBytes>>,
    reads: IntCounterVec,
    unchanged: IntCounter,
    hits: IntCounter,
    stale: IntCounter,
    misses: IntCounter,
}

/// A kept card weighs about this much (a card of two attributions is 3
/// to 4 kB of JSON): sizes the cache's table.
const TYPICAL_CARD_BYTES: u64 = 3 * 1024;

impl CardCache {
    /// A cache of at most `mib` MiB of cards; `0` keeps none (every read
    /// makes its card, and counts as a miss).
    pub fn new(mib: u64) -> Result<CardCache, prometheus::Error> {
        let bytes = mib.saturating_mul(1024 * 1024);
        let cards = (bytes > 0).then(|| {
            let items = usize::try_from((bytes / TYPICAL_CARD_BYTES).max(16)).unwrap_or(usize::MAX);
            Cache::with_weighter(items, bytes, BodyBytes)
        });
        let reads = IntCounterVec::new(
            Opts::new(
                "claimtrail_card_cache_total",
                "Claim cards read, by what the card cache answered: unchanged (sent as kept \
                 without a read, nothing committed since it was found current), hit (sent as kept \
                 after reading its claim's stamp), stale (kept at another version of the claim, \
                 made again) or miss (made).",
            ),
            &["result"],
        )?;
        let [unchanged, hits, stale, misses] =
            ["unchanged", "hit", "stale", "miss"].map(|result| reads.with_label_values(&[result]));
        Ok(CardCache { cards, reads, unchanged, hits, stale, misses })
    }

    /// The counter of reads by result, for `/metrics`.
    pub fn counter(&self) -> IntCounterVec {
        self.reads.clone()
    }

    /// The kept card of a claim, if it was found current in the epoch
    /// `now` (read before this call): nothing has been committed since, so
    /// it is still current, and no read is needed.
    pub fn unchanged(&self, id: &ClaimId, drafts: bool, now: Option<Epoch>) -> Option<Arc<Rendered>> {
        let (cards, now) = (self.cards.as_ref()?, now?);
        let kept = cards.get(&(id.clone(), drafts)).filter(|kept| kept.current_in(now))?;
        self.unchanged.inc();
        Some(kept)
    }

    /// The card of a claim as JSON (`drafts`: the desk's card, drafts
    /// shown): the kept one if its claim's stamp is still the one it was
    /// made at, else made (see [`super::load_with`]) and kept. `epoch` is
    /// the database's, read before this call: the card sent is noted as
    /// current in it.
    pub fn read(
        &self,
        conn: &mut DbConnection,
        id: &ClaimId,
        drafts: bool,
        epoch: Option<Epoch>,
    ) -> StoreResult<Arc<Rendered>> {
        let Some(cards) = &self.cards else {
            self.misses.inc();
            return render(conn, id, drafts);
        };
        let key = (id.clone(), drafts);
        match cards.get(&key) {
            Some(kept) => match stamp_of(conn, id)? {
                Some(stamp) if stamp == kept.stamp => {
                    self.hits.inc();
                    kept.found_current(epoch);
                    return Ok(kept);
                }
                Some(_) => self.stale.inc(),
                None => {
                    cards.remove(&key);
                    return Err(StoreError::NotFound("claim"));
                }
            },
            None => self.misses.inc(),
        }
        let card = render(conn, id, drafts)?;
        card.found_current(epoch);
        cards.insert(key, card.clone());
        Ok(card)
    }
}

/// A claim's stamp, read alone (one indexed read); `None` if there is no
/// such claim.
fn stamp_of(conn: &mut DbConnection, id: &ClaimId) -> StoreResult<Option<Stamp>> {
    let stamp = claims::table
        .find(id)
        .select((claims::created_at, claims::updated_at, claims::version))
        .first::<(chrono::NaiveDateTime, chrono::NaiveDateTime, i32)>(conn)
        .optional()?;
    Ok(stamp.map(|(created_at, updated_at, version)| Stamp { created_at, updated_at, version }))
}

/// The stamp a card was made at: its claim's, as the card shows it.
fn stamp_shown(claim: &Claim) -> Stamp {
    Stamp { created_at: claim.created_at.naive_utc(), updated_at: claim.updated_at.naive_utc(), version: claim.version }
}

/// Makes a card and its JSON body.
fn render(conn: &mut DbConnection, id: &ClaimId, drafts: bool) -> StoreResult<Arc<Rendered>> {
    let card = super::load_with(conn, id, drafts)?;
    let mut body = serde_json::to_vec(&card)
        .map_err(|e| StoreError::Broken(format!("the card of claim {id} could not be written as JSON: {e}")))?;
    // What the cache weighs is what it holds: a vector grown by doubling
    // may have room for nearly as much again.
    body.shrink_to_fit();
    Ok(Arc::new(Rendered { stamp: stamp_shown(&card.claim), body: Bytes::from(body), current_in: AtomicU64::new(0) }))
}
