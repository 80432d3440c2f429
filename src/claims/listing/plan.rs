//! Where the rows of a page come from, on SQLite.
//!
//! SQLite's planner cannot tell how many claims a search matches, nor how
//! many a publisher has, so the SQLite dialect asks, by counting up to
//! [`DRIVER_MAX_ROWS`]. With a search, the tag, source, speaker and
//! publisher filters are terms of the full-text query itself (the index
//! holds them as facets), so FTS5 intersects posting lists instead of the
//! tables being checked match by match. Few matches are read from the index
//! and sorted (cheap whatever the sort); many are found by walking the
//! sort's index and probing the full-text index claim by claim, stopping as
//! soon as the page is full (newest and oldest first: a window of claims at
//! a time, their matches read from one range of the index, see
//! `sqlite::walk_in_windows`). Relevance ranks every match, as each one's
//! rank is needed, but from the full-text index alone; claims are read
//! afterwards, best first, only as many as the page needs (see
//! `sqlite::fetch_by_rank`). Ranking costs what the matches cost: a word in
//! one claim in eight, unfiltered, takes about 170 ms at a million claims;
//! with a publisher and a period, about 13 ms. Without a search, the
//! smallest membership set under the bound supplies the candidates, or the
//! sort's index is walked with per-claim probes.
//!
//! PostgreSQL's planner makes these choices itself, from its statistics.

use super::request::Request;
use crate::claims::model::ClaimSort;
use crate::db::write::StoreResult;

/// On SQLite, a membership condition (the search, a tag, a source, a
/// speaker, a publisher) with fewer claims than this supplies a page's
/// candidates; beyond it, reading the sort's index in order is cheaper.
pub const DRIVER_MAX_ROWS: i64 = 5000;

/// Where the rows of a page come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Walk the sort's index (or a column filter's), checking every other
    /// condition per claim; stops when the page is full.
    Ordered,
    /// Read every one of these candidates, then sort.
    Read(Candidates),
}

/// A set of claims small enough to read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidates {
    /// The matches of the search (its membership filters included).
    Matches,
    /// The claims of this membership filter (an index into
    /// `Request::members`).
    Members(usize),
}

impl Plan {
    /// Chooses the plan of a request. `count(candidates, cap)` says about
    /// how many rows the candidates are, counting up to `cap`.
    ///
    /// With a search, the one question is how many claims it matches:
    /// few matches are read from the index and sorted; more are found by
    /// walking the sort's index, until the page is full. Relevance reads
    /// every match's rank whatever the count. Without a search, each
    /// membership filter is counted and the smallest one under the bound
    /// supplies the candidates; when every one is larger, the page is read
    /// off the sort's index with per-claim probes.
    pub fn choose(request: &Request, mut count: impl FnMut(Candidates, i64) -> StoreResult<i64>) -> StoreResult<Plan> {
        if request.search.is_some() {
            if request.sort == ClaimSort::Relevance {
                return Ok(Plan::Read(Candidates::Matches));
            }
            let few = count(Candidates::Matches, DRIVER_MAX_ROWS)? < DRIVER_MAX_ROWS;
            return Ok(if few { Plan::Read(Candidates::Matches) } else { Plan::Ordered });
        }
        let mut best: Option<(i64, Candidates)> = None;
        for i in 0..request.members.len() {
            let n = count(Candidates::Members(i), DRIVER_MAX_ROWS)?;
            if best.is_none_or(|(least, _)| n < least) {
                best = Some((n, Candidates::Members(i)));
            }
        }
        Ok(match best {
            Some((n, candidates)) if n < DRIVER_MAX_ROWS => Plan::Read(candidates),
            _ => Plan::Ordered,
        })
    }

    /// Whether this plan reads the candidates of this membership filter,
    /// which then need no other check.
    pub fn reads_members(self, member: usize) -> bool {
        self == Plan::Read(Candidates::Members(member))
    }
}
