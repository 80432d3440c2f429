//! Writes the whole database as NDJSON, in dependency order, a keyset page
//! at a time: memory stays the same whatever the size of the database.

use std::collections::HashMap;
use std::io::Write;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};
use serde::Serialize;

use super::format::{Counts, FORMAT, Header, KeyData, Line, RecordType, VERSION};
use crate::agents::store::AgentRow;
use crate::attributions::store::AttributionRow;
use crate::auth::KeyRow;
use crate::claims::store::{ClaimRow, with_tags};
use crate::db::schema::{agents, api_keys, attributions, claims, reviews, sources};
use crate::db::write::ResourceType;
use crate::db::{self, DbConnection};
use crate::ids::SourceId;
use crate::reviews::store::ReviewRow;
use crate::revisions::store as revision_store;
use crate::sources::store::SourceMeta;

/// Rows read per query.
const PAGE: i64 = 1000;

/// The most source text (in characters) held in memory at once: sources are
/// read a page at a time without their content, which is then fetched for as
/// many sources as fit in this budget.
const CONTENT_BUDGET: i64 = 4 * 1024 * 1024;

diesel::define_sql_function! {
    /// SQL `length`, in characters on both backends.
    fn length(x: Nullable<Text>) -> Nullable<Integer>;
}

/// Writes every agent, source, claim, attribution and review to `out`, framed by a
/// header and an `end` line with the counts; says how many of each it wrote.
/// Everything is read from one snapshot, so concurrent writes never leave the
/// file with a reference to a row it does not hold.
///
/// With `keys`, the API keys follow (their hashes: the tokens stay secret
/// and keep working on the server the file is imported into). The HTTP
/// export never includes them. With `history`, every revision follows, in
/// commit order (those of keys only with the keys).
pub fn export(conn: &mut DbConnection, out: &mut impl Write, keys: Keys, history: History) -> anyhow::Result<Counts> {
    let counts = db::in_snapshot(conn, |conn| {
        let header = Header { format: FORMAT.to_string(), version: VERSION, history: history == History::Include };
        write_line(out, RecordType::Header, &header)?;
        let mut counts = Counts {
            agents: export_agents(conn, out)?,
            sources: export_sources(conn, out)?,
            claims: export_claims(conn, out)?,
            attributions: export_attributions(conn, out)?,
            reviews: export_reviews(conn, out)?,
            keys: match keys {
                Keys::Include => export_keys(conn, out)?,
                Keys::Leave => 0,
            },
            revisions: 0,
        };
        if history == History::Include {
            counts.revisions = export_revisions(conn, out, keys)?;
        }
        write_line(out, RecordType::End, &counts)?;
        Ok::<_, anyhow::Error>(counts)
    })?;
    out.flush()?;
    Ok(counts)
}

/// Whether an export holds the API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    Include,
    Leave,
}

/// Whether an export holds the revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    Include,
    Leave,
}

/// Every API key, by id; there are few.
fn export_keys(conn: &mut DbConnection, out: &mut impl Write) -> anyhow::Result<u64> {
    let rows: Vec<KeyRow> = api_keys::table.order(api_keys::id).select(KeyRow::as_select()).load(conn)?;
    let count = rows.len() as u64;
    for row in rows {
        let data = KeyData {
            id: row.id,
            name: row.name,
            scope: row.scope,
            secret_sha256: row.secret_sha256,
            created_at: row.created_at.and_utc(),
            revoked_at: row.revoked_at.map(|at| at.and_utc()),
        };
        write_line(out, RecordType::Key, &data)?;
    }
    Ok(count)
}

/// Every revision, in commit order, a page at a time.
fn export_revisions(conn: &mut DbConnection, out: &mut impl Write, keys: Keys) -> anyhow::Result<u64> {
    let mut count = 0;
    let mut after = 0;
    loop {
        let page = revision_store::page_after(conn, after, PAGE)?;
        let Some(last) = page.last() else { return Ok(count) };
        after = last.seq;
        for row in page {
            if row.resource_type == ResourceType::Key && keys == Keys::Leave {
                continue;
            }
            write_line(out, RecordType::Revision, &row.into_api())?;
            count += 1;
        }
    }
}

fn write_line<T: Serialize>(out: &mut impl Write, kind: RecordType, data: &T) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, &Line { kind: kind.as_str(), data })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// An agent's place in the export: its depth in the affiliation forest.
#[derive(QueryableByName)]
struct RankedAgent {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Integer)]
    depth: i32,
}

/// Agents by depth, then id: an organisation comes before every agent
/// affiliated with it, however long the chain. Agents on an affiliation cycle
/// (possible through PATCH) or hanging from one have no depth and come last;
/// an import sets the affiliations that point forward once all agents are in.
fn export_agents(conn: &mut DbConnection, out: &mut impl Write) -> anyhow::Result<u64> {
    // The recursive part only ever follows agents whose affiliation was
    // reached before, and each agent has one affiliation: it ends without a
    // depth limit, cycles included.
    let (depth, id) = (db::bind_marker(conn, 1), db::bind_marker(conn, 2));
    let sql = format!(
        "WITH RECURSIVE chain (id, depth) AS ( \
             SELECT id, 0 FROM agents WHERE affiliation_id IS NULL \
             UNION ALL \
             SELECT agents.id, chain.depth + 1 FROM agents JOIN chain ON agents.affiliation_id = chain.id \
         ) \
         SELECT id, depth FROM ( \
             SELECT agents.id AS id, COALESCE(chain.depth, 2147483647) AS depth \
             FROM agents LEFT JOIN chain ON chain.id = agents.id \
         ) ranked \
         WHERE depth > {depth} OR (depth = {depth} AND id > {id}) \
         ORDER BY depth, id LIMIT {PAGE}"
    );
    let mut count = 0;
    let mut after: (i32, String) = (-1, String::new());
    loop {
        let page: Vec<RankedAgent> =
            diesel::sql_query(&sql).bind::<Integer, _>(after.0).bind::<Text, _>(&after.1).load(conn)?;
        let Some(last) = page.last() else { return Ok(count) };
        after = (last.depth, last.id.clone());
        let ids: Vec<&String> = page.iter().map(|a| &a.id).collect();
        let mut rows: HashMap<String, AgentRow> = agents::table
            .filter(agents::id.eq_any(ids))
            .select(AgentRow::as_select())
            .load::<AgentRow>(conn)?
            .into_iter()
            .map(|row| (row.id.to_string(), row))
            .collect();
        for ranked in &page {
            let row = rows.remove(&ranked.id).ok_or_else(|| anyhow::anyhow!("agent {} vanished", ranked.id))?;
            write_line(out, RecordType::Agent, &row.into_api())?;
            count += 1;
        }
    }
}

fn export_sources(conn: &mut DbConnection, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let page: Vec<(SourceMeta, Option<i32>)> = sources::table
            .filter(sources::id.gt(&after))
            .order(sources::id.asc())
            .limit(PAGE)
            .select((SourceMeta::as_select(), length(sources::content)))
            .load(conn)?;
        let Some((last, _)) = page.last() else { return Ok(count) };
        after = last.id.to_string();
        // Split the page into runs whose content fits the budget (a run holds
        // at least one source, however large).
        let mut rest = page.as_slice();
        while !rest.is_empty() {
            let mut size = 0;
            let mut n = 0;
            while n < rest.len() && (n == 0 || size + i64::from(rest[n].1.unwrap_or(0)) <= CONTENT_BUDGET) {
                size += i64::from(rest[n].1.unwrap_or(0));
                n += 1;
            }
            let (run, tail) = rest.split_at(n);
            rest = tail;
            let ids: Vec<&SourceId> = run.iter().filter(|(_, len)| len.is_some()).map(|(row, _)| &row.id).collect();
            let mut contents: HashMap<SourceId, Option<String>> = if ids.is_empty() {
                HashMap::new()
            } else {
                sources::table
                    .filter(sources::id.eq_any(ids))
                    .select((sources::id, sources::content))
                    .load::<(SourceId, Option<String>)>(conn)?
                    .into_iter()
                    .collect()
            };
            for (row, _) in run {
                let content = contents.remove(&row.id).flatten();
                write_line(out, RecordType::Source, &row.clone().into_api(content))?;
                count += 1;
            }
        }
    }
}

fn export_claims(conn: &mut DbConnection, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let page: Vec<ClaimRow> = claims::table
            .filter(claims::id.gt(&after))
            .order(claims::id.asc())
            .limit(PAGE)
            .select(ClaimRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { return Ok(count) };
        after = last.id.to_string();
        // Tags come in bytes' order from either backend (`ClaimRow::into_api`).
        for claim in with_tags(conn, page)? {
            write_line(out, RecordType::Claim, &claim)?;
            count += 1;
        }
    }
}

fn export_attributions(conn: &mut DbConnection, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let page: Vec<AttributionRow> = attributions::table
            .filter(attributions::id.gt(&after))
            .order(attributions::id.asc())
            .limit(PAGE)
            .select(AttributionRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { return Ok(count) };
        after = last.id.to_string();
        for row in page {
            write_line(out, RecordType::Attribution, &row.into_api())?;
            count += 1;
        }
    }
}

fn export_reviews(conn: &mut DbConnection, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let page: Vec<ReviewRow> = reviews::table
            .filter(reviews::id.gt(&after))
            .order(reviews::id.asc())
            .limit(PAGE)
            .select(ReviewRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else { return Ok(count) };
        after = last.id.to_string();
        for row in page {
            write_line(out, RecordType::Review, &row.into_api())?;
            count += 1;
        }
    }
}
