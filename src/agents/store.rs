//! Agent rows and their queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Agent, AgentKind, AgentQuery, NewAgent};
use crate::claims;
use crate::db::refs::{self, Target};
use crate::db::schema::agents;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::{MergePatch, Page, Precondition, decode_cursor, paginate};

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = agents, treat_none_as_null = true)]
pub struct AgentRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub anonymous: bool,
    pub affiliation_id: Option<String>,
    pub url: Option<String>,
    pub wikidata_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl AgentRow {
    pub(crate) fn new(id: String, body: NewAgent, at: NaiveDateTime, version: i32) -> AgentRow {
        AgentRow {
            id,
            kind: body.kind.as_str().to_string(),
            name: body.name,
            description: body.description,
            anonymous: body.anonymous,
            affiliation_id: body.affiliation_id.map(|u| u.to_string()),
            url: body.url,
            wikidata_id: body.wikidata_id,
            created_at: at,
            updated_at: at,
            version,
        }
    }

    pub fn into_api(self) -> Result<Agent, ApiError> {
        Ok(Agent {
            id: db::uuid(&self.id)?,
            kind: AgentKind::from_db(&self.kind)?,
            name: self.name,
            description: self.description,
            anonymous: self.anonymous,
            affiliation_id: db::opt_uuid(self.affiliation_id.as_deref())?,
            url: self.url,
            wikidata_id: self.wikidata_id,
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        })
    }

    fn writable(&self) -> Result<NewAgent, ApiError> {
        Ok(NewAgent {
            id: None,
            kind: AgentKind::from_db(&self.kind)?,
            name: self.name.clone(),
            description: self.description.clone(),
            anonymous: self.anonymous,
            affiliation_id: db::opt_uuid(self.affiliation_id.as_deref())?,
            url: self.url.clone(),
            wikidata_id: self.wikidata_id.clone(),
        })
    }
}

fn check_references(conn: &mut DbConnection, body: &NewAgent) -> Result<(), ApiError> {
    let missing =
        refs::missing(conn, &[("affiliation_id", Target::Agent, body.affiliation_id.map(|u| u.to_string()))])?;
    if missing.is_empty() { Ok(()) } else { Err(ApiError::unprocessable(missing)) }
}

fn find(conn: &mut DbConnection, id: &str) -> Result<AgentRow, ApiError> {
    agents::table
        .find(id)
        .select(AgentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("agent"))
}

pub fn create(conn: &mut DbConnection, body: NewAgent) -> Result<Agent, ApiError> {
    let id = body.id.unwrap_or_else(db::new_id).to_string();
    if refs::exists(conn, Target::Agent, &id)? {
        return Err(ApiError::conflict(format!("An agent with id {id} already exists.")));
    }
    check_references(conn, &body)?;
    let row = AgentRow::new(id, body, db::now(), 1);
    diesel::insert_into(agents::table).values(&row).execute(conn)?;
    row.into_api()
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Agent, ApiError> {
    find(conn, id)?.into_api()
}

pub fn list(conn: &mut DbConnection, query: AgentQuery, limit: i64) -> Result<Page<Agent>, ApiError> {
    let mut select = agents::table.select(AgentRow::as_select()).into_boxed();
    if let Some(kind) = query.kind {
        select = select.filter(agents::kind.eq(kind.as_str()));
    }
    if let Some(affiliation) = query.affiliation_id {
        select = select.filter(agents::affiliation_id.eq(affiliation.to_string()));
    }
    if let Some(cursor) = &query.cursor {
        let (at, id): (NaiveDateTime, String) = decode_cursor(cursor)?;
        select = select.filter(agents::created_at.lt(at).or(agents::created_at.eq(at).and(agents::id.lt(id))));
    }
    let rows = select.order((agents::created_at.desc(), agents::id.desc())).limit(limit + 1).load(conn)?;
    let (rows, next_cursor) = paginate(rows, limit, |r: &AgentRow| (r.created_at, r.id.clone()));
    let items = rows.into_iter().map(AgentRow::into_api).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    precondition: Precondition,
    patch: &MergePatch,
) -> Result<Agent, ApiError> {
    let current = find(conn, id)?;
    let before = current.writable()?;
    let body = patch.apply(&before, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    precondition.check(current.version)?;
    if body.affiliation_id.is_some_and(|a| a.to_string() == id) {
        return Err(ApiError::invalid_field("affiliation_id", "an agent cannot be its own affiliation"));
    }
    check_references(conn, &body)?;
    let row = AgentRow::new(id.to_string(), body, current.created_at, current.version + 1);
    let row = AgentRow { updated_at: db::now(), ..row };
    let changed = diesel::update(agents::table.filter(agents::id.eq(id)).filter(agents::version.eq(current.version)))
        .set(&row)
        .execute(conn)?;
    if changed == 0 {
        // A concurrent writer got there first (PostgreSQL let us read the
        // row before it committed): name the version it left, or 404.
        return Err(ApiError::precondition_failed(find(conn, id)?.version));
    }
    // What claim cards show of an agent (`AgentSummary`).
    let agent = row.into_api()?;
    if agent.kind != before.kind
        || agent.name != before.name
        || agent.description != before.description
        || agent.anonymous != before.anonymous
    {
        claims::store::touch_showing_agent(conn, id)?;
    }
    Ok(agent)
}

pub fn delete(conn: &mut DbConnection, id: &str, precondition: Precondition) -> Result<(), ApiError> {
    let current = find(conn, id)?;
    precondition.check(current.version)?;
    refs::ensure_unreferenced(conn, Target::Agent, id)?;
    let deleted = diesel::delete(agents::table.filter(agents::id.eq(id)).filter(agents::version.eq(current.version)))
        .execute(conn)?;
    if deleted == 0 {
        return Err(ApiError::precondition_failed(find(conn, id)?.version));
    }
    Ok(())
}
