//! The `agents` table: its row, and the one write path that the API, the
//! seed loader, import and the generator all take.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Agent, AgentQuery, NewAgent};
use crate::card;
use crate::cursor::{self, newest_first};
use crate::db::refs::{self, Target};
use crate::db::schema::agents;
use crate::db::write::{self, ResourceType, Revision, RevisionAction, Stamp, StoreError, StoreResult, Tombstone, Tx};
use crate::db::{self, DbConnection};
use crate::http::{MergePatch, Page, Precondition};
use crate::ids::AgentId;
use crate::names::{self, NameSearch, Names};
use crate::revisions::store as revision_store;

use super::model::AgentKind;

#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset, serde::Deserialize,
)]
#[diesel(table_name = agents, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct AgentRow {
    pub id: AgentId,
    pub kind: AgentKind,
    pub name: String,
    pub description: Option<String>,
    pub anonymous: bool,
    pub affiliation_id: Option<AgentId>,
    pub url: Option<String>,
    pub wikidata_id: Option<String>,
    pub aliases: Aliases,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// An agent's other names, stored as a JSON array of strings (the name
/// search's triggers read them from there).
#[derive(Debug, Clone, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Aliases(String);

/// As the column's text (PostgreSQL's card reads rows as JSON), checked as
/// [`FromSql`](diesel::deserialize::FromSql) checks it.
impl<'de> serde::Deserialize<'de> for Aliases {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Aliases, D::Error> {
        let text = String::deserialize(deserializer)?;
        serde_json::from_str::<Vec<String>>(&text).map_err(serde::de::Error::custom)?;
        Ok(Aliases(text))
    }
}

impl Aliases {
    pub fn of(aliases: &[String]) -> Aliases {
        Aliases(serde_json::to_string(aliases).unwrap_or_else(|_| "[]".to_string()))
    }

    /// The aliases; the text was checked to be a JSON array of strings
    /// when it was read.
    pub fn list(&self) -> Vec<String> {
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for Aliases
where
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
        self.0.to_sql(out)
    }
}

impl<DB: diesel::backend::Backend> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for Aliases
where
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Aliases> {
        let text = String::from_sql(bytes)?;
        serde_json::from_str::<Vec<String>>(&text)?;
        Ok(Aliases(text))
    }
}

impl AgentRow {
    /// Its columns, for queries written as text (the same as `as_select`'s;
    /// a test compares them).
    pub const COLUMNS: &str = "agents.id, agents.kind, agents.name, agents.description, agents.anonymous, \
        agents.affiliation_id, agents.url, agents.wikidata_id, agents.aliases, agents.created_at, agents.updated_at, \
        agents.version";

    pub fn new(id: AgentId, body: NewAgent, stamp: Stamp) -> AgentRow {
        AgentRow {
            id,
            kind: body.kind,
            name: body.name,
            description: body.description,
            anonymous: body.anonymous,
            affiliation_id: body.affiliation_id,
            url: body.url,
            wikidata_id: body.wikidata_id,
            aliases: Aliases::of(&super::model::distinct_aliases(body.aliases)),
            created_at: stamp.created_at,
            updated_at: stamp.updated_at,
            version: stamp.version,
        }
    }

    pub fn stamp(&self) -> Stamp {
        Stamp { created_at: self.created_at, updated_at: self.updated_at, version: self.version }
    }

    pub fn into_api(self) -> Agent {
        Agent {
            id: self.id,
            kind: self.kind,
            name: self.name,
            description: self.description,
            anonymous: self.anonymous,
            affiliation_id: self.affiliation_id,
            url: self.url,
            wikidata_id: self.wikidata_id,
            aliases: self.aliases.list(),
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        }
    }

    /// The writable fields, as a create body (what a merge patch applies to).
    fn writable(&self) -> NewAgent {
        NewAgent {
            id: None,
            kind: self.kind,
            name: self.name.clone(),
            description: self.description.clone(),
            anonymous: self.anonymous,
            affiliation_id: self.affiliation_id.clone(),
            url: self.url.clone(),
            wikidata_id: self.wikidata_id.clone(),
            aliases: self.aliases.list(),
        }
    }
}

/// Writes rows as they are, many per statement, each with its revision.
/// Every agent enters the table here; callers have checked the rows
/// against the API's rules.
pub fn insert(tx: &mut Tx, rows: &[AgentRow]) -> StoreResult<()> {
    write::insert_rows!(tx.conn, agents::table, rows);
    for row in rows {
        tx.record(|| revision(row, RevisionAction::Create));
    }
    Ok(())
}

fn revision(row: &AgentRow, action: RevisionAction) -> Revision {
    Revision::of(ResourceType::Agent, row.id.as_str(), row.version, action, &row.clone().into_api())
}

/// Which of these ids the table holds.
pub fn existing(conn: &mut DbConnection, ids: &[AgentId]) -> StoreResult<HashSet<AgentId>> {
    write::existing(ids, |chunk| agents::table.filter(agents::id.eq_any(chunk)).select(agents::id).load(conn))
}

/// Which of these ids are agents of kind `person`.
pub fn persons(conn: &mut DbConnection, ids: &[AgentId]) -> StoreResult<HashSet<AgentId>> {
    write::existing(ids, |chunk| {
        agents::table
            .filter(agents::id.eq_any(chunk))
            .filter(agents::kind.eq(AgentKind::Person))
            .select(agents::id)
            .load(conn)
    })
}

pub fn find(conn: &mut DbConnection, id: &AgentId) -> StoreResult<AgentRow> {
    agents::table.find(id).select(AgentRow::as_select()).first(conn).optional()?.ok_or(StoreError::NotFound("agent"))
}

/// Sets affiliations that could not be written with their agents: an
/// import writes an agent whose affiliation comes later in the file (or
/// forms a cycle with it) without it, and sets it once both are in. Only
/// rows of this same transaction are changed, so their stamps stay, and
/// their pending revisions are amended to show the affiliation.
pub fn set_affiliations(tx: &mut Tx, pairs: &[(AgentId, AgentId)]) -> StoreResult<()> {
    for (agent, affiliation) in pairs {
        diesel::update(agents::table.filter(agents::id.eq(agent)))
            .set(agents::affiliation_id.eq(affiliation))
            .execute(tx.conn)?;
        let row = find(tx.conn, agent)?;
        if let Some(pending) = tx.pending_mut(ResourceType::Agent, agent.as_str()) {
            *pending = revision(&row, pending.action);
        }
    }
    Ok(())
}

fn check_references(conn: &mut DbConnection, body: &NewAgent) -> StoreResult<()> {
    refs::require(conn, &[("affiliation_id", Target::Agent, body.affiliation_id.as_ref().map(AgentId::as_str))])
}

/// Creates an agent from a create body, its id free and its references there.
pub fn create(tx: &mut Tx, body: NewAgent) -> StoreResult<Agent> {
    let id = body.id.clone().unwrap_or_else(AgentId::generate);
    if refs::exists(tx.conn, Target::Agent, id.as_str())? {
        return Err(StoreError::Exists { what: "agent", id: id.to_string() });
    }
    check_references(tx.conn, &body)?;
    let stamp = revision_store::stamp_for_new(tx.conn, ResourceType::Agent, id.as_str(), tx.at())?;
    let row = AgentRow::new(id, body, stamp);
    insert(tx, std::slice::from_ref(&row))?;
    Ok(row.into_api())
}

pub fn get(conn: &mut DbConnection, id: &AgentId) -> StoreResult<Agent> {
    Ok(find(conn, id)?.into_api())
}

pub fn list(conn: &mut DbConnection, query: &AgentQuery, limit: i64) -> StoreResult<Page<Agent>> {
    let fingerprint = cursor::fingerprint(query);
    let mut filters = Vec::new();
    filters.extend(query.kind.map(|kind| ("agents.kind", kind.as_str().to_string())));
    filters.extend(query.affiliation_id.as_ref().map(|id| ("agents.affiliation_id", id.to_string())));
    let by_name =
        NameSearch::new(Names::Agents, query.q.as_deref(), filters, &fingerprint, query.cursor.as_deref(), limit)?;
    if let Some(search) = by_name {
        let (rows, next_cursor) = names::page(
            conn,
            &search,
            &fingerprint,
            |conn, ids| Ok(agents::table.filter(agents::id.eq_any(ids)).select(AgentRow::as_select()).load(conn)?),
            |row: &AgentRow| row.id.as_str(),
        )?;
        return Ok(Page { items: rows.into_iter().map(AgentRow::into_api).collect(), next_cursor });
    }
    let mut select = agents::table.select(AgentRow::as_select()).into_boxed();
    if let Some(kind) = query.kind {
        select = select.filter(agents::kind.eq(kind));
    }
    if let Some(affiliation) = &query.affiliation_id {
        select = select.filter(agents::affiliation_id.eq(affiliation));
    }
    let (rows, next_cursor) =
        newest_first!(conn, select, agents, AgentRow, &fingerprint, query.cursor.as_deref(), limit);
    Ok(Page { items: rows.into_iter().map(AgentRow::into_api).collect(), next_cursor })
}

/// Applies a merge patch; the cards that show the agent follow.
pub fn update(tx: &mut Tx, id: &AgentId, precondition: Precondition, patch: &MergePatch) -> StoreResult<Agent> {
    let before = find(tx.conn, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    let body = patch.apply(&before.writable(), id.as_str())?;
    replace(tx, before, body, &precondition, RevisionAction::Update)
}

/// Makes `body` the agent's fields, as its next version.
fn replace(
    tx: &mut Tx,
    before: AgentRow,
    body: NewAgent,
    precondition: &Precondition,
    action: RevisionAction,
) -> StoreResult<Agent> {
    precondition.check(before.version)?;
    if body.affiliation_id.as_ref() == Some(&before.id) {
        return Err(StoreError::invalid("affiliation_id", "an agent cannot be its own affiliation"));
    }
    check_references(tx.conn, &body)?;
    let id = before.id.clone();
    let after = AgentRow::new(id.clone(), body, before.stamp().next(tx.at()));
    let changed = diesel::update(agents::table.filter(agents::id.eq(&id)).filter(agents::version.eq(before.version)))
        .set(&after)
        .execute(tx.conn)?;
    write::guarded(changed, || Ok(find(tx.conn, &id)?.version))?;
    tx.record(|| revision(&after, action));
    card::agent_changed(tx, &before, &after)?;
    Ok(after.into_api())
}

/// Makes an earlier revision's fields current again, as the next version;
/// a deleted agent (its `tombstone` given) is made again with its id.
pub fn restore(
    tx: &mut Tx,
    id: &AgentId,
    body: NewAgent,
    precondition: Precondition,
    tombstone: Option<Tombstone>,
) -> StoreResult<Agent> {
    check_references(tx.conn, &body).map_err(write::dangling)?;
    let Some(tombstone) = tombstone else {
        let before = find(tx.conn, id)?;
        return replace(tx, before, body, &precondition, RevisionAction::Restore);
    };
    precondition.check(tombstone.version)?;
    let row = AgentRow::new(id.clone(), body, tombstone.revived(tx.at()));
    write::insert_rows!(tx.conn, agents::table, std::slice::from_ref(&row));
    tx.record(|| revision(&row, RevisionAction::Restore));
    Ok(row.into_api())
}

pub fn delete(tx: &mut Tx, id: &AgentId, precondition: Precondition) -> StoreResult<()> {
    let current = find(tx.conn, id)?;
    precondition.check(current.version)?;
    refs::ensure_unreferenced(tx.conn, Target::Agent, id.as_str())?;
    let deleted = diesel::delete(agents::table.filter(agents::id.eq(id)).filter(agents::version.eq(current.version)))
        .execute(tx.conn)?;
    write::guarded(deleted, || Ok(find(tx.conn, id)?.version))?;
    tx.record(|| Revision::tombstone(ResourceType::Agent, id.as_str(), current.version));
    Ok(())
}
