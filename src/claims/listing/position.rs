//! Where a page starts: the sort key of the previous page's last claim and
//! its id, which breaks ties. A page reads "the next `limit` claims after
//! this position" straight off an index, so page 10,000 costs what page 1
//! costs, and claims created meanwhile never shift the pages.
//!
//! The position travels in a [`crate::cursor`], which binds it to the
//! filters and sort it was made for and checksums it: a cursor used with
//! other filters or edited by hand is a 400 naming `cursor` rather than a
//! silently wrong page.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::ListedRow;
use super::request::Request;
use crate::claims::model::ClaimSort;
use crate::cursor;
use crate::db::write::{StoreError, StoreResult};
use crate::ids::ClaimId;
use crate::validate::PartialDate;

/// The position after a claim, per sort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "s")]
pub enum Position {
    /// `(created_at, id)`.
    #[serde(rename = "c")]
    Created { at: NaiveDateTime, id: ClaimId },
    /// `(period_start, id)`; `start` is null for claims without a period,
    /// which come after all others, ordered by id.
    #[serde(rename = "p")]
    Period { start: Option<PartialDate>, id: ClaimId },
    /// `(stated_on, id)`; `on` is null for claims without one, which come
    /// after all others, ordered by id.
    #[serde(rename = "d")]
    Stated { on: Option<PartialDate>, id: ClaimId },
    /// `(rank, id)`. The rank travels as its bit pattern: a decimal
    /// rendering might not read back as the very same float, and the page
    /// would repeat a claim. `doc` is the claim's row in the SQLite search
    /// index, which breaks ties there (see `sqlite::fetch_by_rank`);
    /// PostgreSQL uses `id`.
    #[serde(rename = "r")]
    Relevance {
        #[serde(with = "float_bits")]
        rank: f64,
        id: ClaimId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        doc: Option<i64>,
    },
}

mod float_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        u64::deserialize(deserializer).map(f64::from_bits)
    }
}

impl Position {
    /// The position a cursor holds, if this list handed it out for this
    /// query and it fits the sort.
    pub fn from_cursor(cursor: &str, fingerprint: &str, sort: ClaimSort) -> StoreResult<Position> {
        let position: Position = cursor::decode(cursor, fingerprint)?;
        let fits = match (&position, sort) {
            (Position::Created { .. }, ClaimSort::NewestFirst | ClaimSort::OldestFirst) => true,
            (Position::Period { .. }, ClaimSort::PeriodStart | ClaimSort::PeriodStartDesc) => true,
            (Position::Stated { .. }, ClaimSort::StatedOn | ClaimSort::StatedOnDesc) => true,
            (Position::Relevance { rank, .. }, ClaimSort::Relevance) => rank.is_finite(),
            _ => false,
        };
        if fits {
            Ok(position)
        } else {
            Err(StoreError::bad_parameter("cursor", "is not a cursor this list handed out"))
        }
    }
}

impl Request {
    /// The position right after a listed claim.
    pub fn position_of(&self, row: &ListedRow) -> Position {
        let id = row.claim.id.clone();
        match self.sort {
            ClaimSort::NewestFirst | ClaimSort::OldestFirst => Position::Created { at: row.claim.created_at, id },
            ClaimSort::PeriodStart | ClaimSort::PeriodStartDesc => {
                Position::Period { start: row.claim.period_start.clone(), id }
            }
            ClaimSort::StatedOn | ClaimSort::StatedOnDesc => Position::Stated { on: row.stated_on.clone(), id },
            ClaimSort::Relevance => Position::Relevance { rank: row.rank.unwrap_or(0.0), id, doc: row.doc },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_a_cursor_and_must_fit_the_sort() {
        let id: ClaimId = "0193a7e0-0000-7000-8000-00000000c001".parse().unwrap();
        let position = Position::Relevance { rank: -1.234_567_890_123_456_7, id, doc: Some(7) };
        let token = cursor::encode("abc", &position);
        assert_eq!(Position::from_cursor(&token, "abc", ClaimSort::Relevance).ok(), Some(position));
        assert!(Position::from_cursor(&token, "other", ClaimSort::Relevance).is_err());
        assert!(Position::from_cursor(&token, "abc", ClaimSort::NewestFirst).is_err());
        let not_a_rank = cursor::encode(
            "abc",
            &serde_json::json!({"s": "r", "rank": f64::NAN.to_bits(), "id": "0193a7e0-0000-7000-8000-00000000c001"}),
        );
        assert!(Position::from_cursor(&not_a_rank, "abc", ClaimSort::Relevance).is_err());
    }

    #[test]
    fn a_position_without_a_period_reads_back_as_one() {
        let id: ClaimId = "0193a7e0-0000-7000-8000-00000000c002".parse().unwrap();
        let position = Position::Period { start: None, id };
        let token = cursor::encode("f", &position);
        assert_eq!(Position::from_cursor(&token, "f", ClaimSort::PeriodStartDesc).ok(), Some(position));
    }
}
