//! Keyset cursors, one kind for every list.
//!
//! A cursor holds the sort key of the last item of a page (its *position*:
//! `(created_at, id)` for most lists), a fingerprint of the filters and sort
//! it was made for, and a checksum. A page reads "the next `limit` items
//! after this position" off an index, so a deep page costs what the first
//! does, and items created meanwhile never shift the pages. A cursor edited
//! by hand, or used with other filters than its own, is a 400 naming
//! `cursor` rather than a silently wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::db::write::StoreError;

/// Not a secret: the checksum catches edited or truncated cursors, and a
/// cursor only ever selects what the same query could select anyway.
const CHECK_KEY: &[u8] = b"claimtrail list cursor v2";

/// Query parameters that do not select or order what a list holds.
const NOT_SELECTING: [&str; 3] = ["cursor", "limit", "snippet"];

/// A fingerprint of everything that selects and orders a list: its query
/// parameters (all of them, whatever the list, so a new filter cannot be
/// forgotten here) but `cursor`, `limit` and `snippet`.
pub fn fingerprint<Q: Serialize>(query: &Q) -> String {
    let mut value = serde_json::to_value(query).unwrap_or_default();
    strip_not_selecting(&mut value);
    let canonical = serde_json::to_vec(&value).unwrap_or_default();
    hex::encode(&Sha256::digest(&canonical)[..8])
}

fn strip_not_selecting(value: &mut Value) {
    match value {
        Value::Object(members) => {
            for name in NOT_SELECTING {
                members.remove(name);
            }
            members.values_mut().for_each(strip_not_selecting);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_not_selecting),
        _ => {}
    }
}

/// What a cursor holds: `f`, the fingerprint of the query it was made for,
/// and `p`, the position.
#[derive(Serialize)]
struct Written<'a, P> {
    f: &'a str,
    p: &'a P,
}

#[derive(Deserialize)]
struct Read {
    f: String,
    p: Value,
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let digest = Sha256::new().chain_update(CHECK_KEY).chain_update(payload).finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// The cursor of the page after `position`, for the query of `fingerprint`.
pub fn encode<P: Serialize>(fingerprint: &str, position: &P) -> String {
    let payload = serde_json::to_vec(&Written { f: fingerprint, p: position }).unwrap_or_default();
    let mut bytes = checksum(&payload).to_vec();
    bytes.extend_from_slice(&payload);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a cursor holds, if it was handed out for this query.
pub fn decode<P: DeserializeOwned>(cursor: &str, fingerprint: &str) -> Result<P, StoreError> {
    let invalid = || StoreError::bad_parameter("cursor", "is not a cursor this list handed out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    if bytes.len() < 8 || bytes[..8] != checksum(&bytes[8..]) {
        return Err(invalid());
    }
    let data: Read = serde_json::from_slice(&bytes[8..]).map_err(|_| invalid())?;
    if data.f != fingerprint {
        return Err(StoreError::bad_parameter(
            "cursor",
            "was made for other filters or another sort; start again without a cursor",
        ));
    }
    // Cursors we hand out never hold NUL, which PostgreSQL refuses in text.
    if holds_nul(&data.p) {
        return Err(invalid());
    }
    serde_json::from_value(data.p).map_err(|_| invalid())
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(members) => members.values().any(holds_nul),
        _ => false,
    }
}

/// Splits `limit + 1` fetched rows into the page and the cursor of the next
/// one (`None` on the last page).
pub fn paginate<R, P: Serialize>(
    mut rows: Vec<R>,
    limit: i64,
    fingerprint: &str,
    position: impl Fn(&R) -> P,
) -> (Vec<R>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more { rows.last().map(|last| encode(fingerprint, &position(last))) } else { None };
    (rows, next)
}

/// One page of a boxed select over `$table`, newest first: ordered by
/// `(created_at, id)` descending, after the cursor's position, with the
/// cursor of the next page. Every list but the claim list's pages so.
macro_rules! newest_first {
    ($conn:expr, $select:expr, $table:ident, $row:ty, $fingerprint:expr, $cursor:expr, $limit:expr) => {{
        let mut select = $select;
        if let Some(cursor) = $cursor {
            let (at, id): (chrono::NaiveDateTime, String) = $crate::cursor::decode(cursor, $fingerprint)?;
            select = select.filter($table::created_at.lt(at).or($table::created_at.eq(at).and($table::id.lt(id))));
        }
        let rows: Vec<$row> =
            select.order(($table::created_at.desc(), $table::id.desc())).limit($limit + 1).load($conn)?;
        $crate::cursor::paginate(rows, $limit, $fingerprint, |row: &$row| (row.created_at, row.id.clone()))
    }};
}
pub(crate) use newest_first;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_any_edit() {
        let position = ("2025-11-18T09:30:00".to_string(), "x".to_string(), 7u64);
        let token = encode("abc", &position);
        assert_eq!(decode::<(String, String, u64)>(&token, "abc").ok(), Some(position));
        for i in 0..token.len() {
            let mut edited: Vec<char> = token.chars().collect();
            edited[i] = if edited[i] == 'A' { 'B' } else { 'A' };
            let edited: String = edited.into_iter().collect();
            assert!(decode::<(String, String, u64)>(&edited, "abc").is_err(), "edit at {i} accepted");
        }
        assert!(decode::<(String, String, u64)>(&token, "other").is_err());
        assert!(decode::<(u64, u64)>(&token, "abc").is_err());
        assert!(decode::<(String, String, u64)>("", "abc").is_err());
    }

    #[test]
    fn a_cursor_holding_nul_is_refused_even_with_a_good_checksum() {
        let token = encode("abc", &("a\0b".to_string(),));
        assert!(decode::<(String,)>(&token, "abc").is_err());
    }

    #[test]
    fn fingerprints_differ_with_the_query() {
        assert_ne!(fingerprint(&("a", 1)), fingerprint(&("a", 2)));
        assert_eq!(fingerprint(&("a", 1)), fingerprint(&("a", 1)));
    }
}
