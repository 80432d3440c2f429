//! Claim rows and their queries: lists with filters, and the claim card.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    AgentSummary, CardAttribution, Claim, ClaimCard, ClaimKind, ClaimStatus, Comparator, NewClaim, Quantity,
    SourceSummary,
};
use crate::agents::model::AgentKind;
use crate::agents::store::AgentRow;
use crate::attributions::store::{self as attribution_store, AttributionRow};
use crate::db::refs::{self, Target};
use crate::db::schema::{agents, attributions, claim_tags, claims, sources};
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::{MergePatch, Precondition};
use crate::sources::model::SourceKind;
use crate::sources::store as source_store;
use crate::validate::PartialDate;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = claims, treat_none_as_null = true)]
pub struct ClaimRow {
    pub id: String,
    pub text: String,
    pub kind: String,
    pub subject: Option<String>,
    pub quantity_value: Option<f64>,
    pub quantity_upper: Option<f64>,
    pub quantity_unit: Option<String>,
    pub quantity_comparator: Option<String>,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub place: Option<String>,
    pub status: String,
    pub language: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl ClaimRow {
    pub(crate) fn new(
        id: String,
        body: &NewClaim,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
        version: i32,
    ) -> ClaimRow {
        let q = body.quantity.as_ref();
        ClaimRow {
            id,
            text: body.text.clone(),
            kind: body.kind.as_str().to_string(),
            subject: body.subject.clone(),
            // `+ 0.0` turns -0.0 into 0.0: SQLite drops the sign and
            // PostgreSQL keeps it, and a value must read back the same from both.
            quantity_value: q.map(|q| q.value + 0.0),
            quantity_upper: q.and_then(|q| q.upper).map(|upper| upper + 0.0),
            quantity_unit: q.map(|q| q.unit.clone()),
            quantity_comparator: q.map(|q| q.comparator.as_str().to_string()),
            period_start: body.period_start.as_ref().map(|d| d.as_str().to_string()),
            period_end: body.period_end.as_ref().map(|d| d.as_str().to_string()),
            place: body.place.clone(),
            status: body.status.as_str().to_string(),
            language: body.language.clone(),
            created_at,
            updated_at,
            version,
        }
    }

    fn quantity(&self) -> Result<Option<Quantity>, ApiError> {
        let (Some(value), Some(unit), Some(comparator)) =
            (self.quantity_value, &self.quantity_unit, &self.quantity_comparator)
        else {
            return Ok(None);
        };
        Ok(Some(Quantity {
            value,
            upper: self.quantity_upper,
            unit: unit.clone(),
            comparator: Comparator::from_db(comparator)?,
        }))
    }

    pub fn into_api(self, tags: Vec<String>) -> Result<Claim, ApiError> {
        Ok(Claim {
            id: db::uuid(&self.id)?,
            quantity: self.quantity()?,
            text: self.text,
            kind: ClaimKind::from_db(&self.kind)?,
            subject: self.subject,
            period_start: PartialDate::from_db(self.period_start),
            period_end: PartialDate::from_db(self.period_end),
            place: self.place,
            tags,
            status: ClaimStatus::from_db(&self.status)?,
            language: self.language,
            created_at: db::utc(self.created_at),
            updated_at: db::utc(self.updated_at),
            version: self.version,
        })
    }

    fn writable(&self, tags: Vec<String>) -> Result<NewClaim, ApiError> {
        Ok(NewClaim {
            id: None,
            text: self.text.clone(),
            kind: ClaimKind::from_db(&self.kind)?,
            subject: self.subject.clone(),
            quantity: self.quantity()?,
            period_start: PartialDate::from_db(self.period_start.clone()),
            period_end: PartialDate::from_db(self.period_end.clone()),
            place: self.place.clone(),
            tags,
            status: ClaimStatus::from_db(&self.status)?,
            language: self.language.clone(),
        })
    }
}

/// Tags without repeats, sorted: the order [`tags_of`] reads them back in,
/// so that a write answers what a later read shows.
pub(crate) fn distinct_tags(tags: &[String]) -> Vec<String> {
    tags.iter().collect::<BTreeSet<_>>().into_iter().cloned().collect()
}

fn replace_tags(conn: &mut DbConnection, claim_id: &str, tags: &[String]) -> Result<(), ApiError> {
    diesel::delete(claim_tags::table.filter(claim_tags::claim_id.eq(claim_id))).execute(conn)?;
    // One statement per tag: the multi-backend connection has no batch
    // insert, and a claim has at most 50 tags.
    for tag in tags {
        diesel::insert_into(claim_tags::table)
            .values((claim_tags::claim_id.eq(claim_id), claim_tags::tag.eq(tag)))
            .execute(conn)?;
    }
    Ok(())
}

/// Tags of these claims, by claim id (one query).
fn tags_of(conn: &mut DbConnection, claim_ids: &[String]) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let rows: Vec<(String, String)> = claim_tags::table
        .filter(claim_tags::claim_id.eq_any(claim_ids))
        .order((claim_tags::claim_id, claim_tags::tag))
        .select((claim_tags::claim_id, claim_tags::tag))
        .load(conn)?;
    let mut by_claim: HashMap<String, Vec<String>> = HashMap::new();
    for (claim_id, tag) in rows {
        by_claim.entry(claim_id).or_default().push(tag);
    }
    Ok(by_claim)
}

/// Turns rows into API claims with their tags, in two queries in all.
pub fn with_tags(conn: &mut DbConnection, rows: Vec<ClaimRow>) -> Result<Vec<Claim>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut tags = tags_of(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            let t = tags.remove(&row.id).unwrap_or_default();
            row.into_api(t)
        })
        .collect()
}

fn find(conn: &mut DbConnection, id: &str) -> Result<ClaimRow, ApiError> {
    claims::table
        .find(id)
        .select(ClaimRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("claim"))
}

pub fn create(conn: &mut DbConnection, body: NewClaim) -> Result<Claim, ApiError> {
    let id = body.id.unwrap_or_else(db::new_id).to_string();
    if refs::exists(conn, Target::Claim, &id)? {
        return Err(ApiError::conflict(format!("A claim with id {id} already exists.")));
    }
    let now = db::now();
    let row = ClaimRow::new(id, &body, now, now, 1);
    diesel::insert_into(claims::table).values(&row).execute(conn)?;
    let tags = distinct_tags(&body.tags);
    replace_tags(conn, &row.id, &tags)?;
    row.into_api(tags)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Claim, ApiError> {
    let row = find(conn, id)?;
    let tags = tags_of(conn, std::slice::from_ref(&row.id))?.remove(&row.id).unwrap_or_default();
    row.into_api(tags)
}

/// The claim card: the claim, its attributions, and the sources and agents
/// they name, in five queries whatever the number of attributions.
pub fn card(conn: &mut DbConnection, id: &str) -> Result<ClaimCard, ApiError> {
    let claim = get(conn, id)?;
    let rows = attribution_store::of_claims(conn, &[id.to_string()])?;
    let attributions = card_attributions(conn, rows)?;
    Ok(ClaimCard { claim, attributions })
}

/// Attributions with the summaries of the sources and agents they name.
pub fn card_attributions(conn: &mut DbConnection, rows: Vec<AttributionRow>) -> Result<Vec<CardAttribution>, ApiError> {
    let source_ids: Vec<String> =
        rows.iter().flat_map(|r| std::iter::once(r.source_id.clone()).chain(r.cited_source_id.clone())).collect();
    let speaker_ids: Vec<String> = rows.iter().filter_map(|r| r.speaker_id.clone()).collect();
    let Summaries { sources, agents } = summaries(conn, &source_ids, speaker_ids)?;
    let source_summary = |id: &String| {
        sources.get(id).cloned().ok_or_else(|| ApiError::internal(format!("attribution names missing source {id}")))
    };
    rows.into_iter()
        .map(|row| {
            let source = source_summary(&row.source_id)?;
            let cited_source = row.cited_source_id.as_ref().map(&source_summary).transpose()?;
            let speaker = row.speaker_id.as_ref().and_then(|id| agents.get(id).cloned());
            Ok(CardAttribution { attribution: row.into_api()?, source, speaker, cited_source })
        })
        .collect()
}

/// What claim cards and provenance graphs show of sources and agents, by id.
pub struct Summaries {
    pub sources: HashMap<String, SourceSummary>,
    pub agents: HashMap<String, AgentSummary>,
}

/// The summaries of these sources, of their publishers and of these
/// speakers, in two queries.
pub fn summaries(
    conn: &mut DbConnection,
    source_ids: &[String],
    speaker_ids: impl IntoIterator<Item = String>,
) -> Result<Summaries, ApiError> {
    let sources = source_store::by_ids(conn, source_ids)?;
    let agent_ids: BTreeSet<String> =
        speaker_ids.into_iter().chain(sources.iter().filter_map(|s| s.publisher_id.clone())).collect();
    let agents: HashMap<String, AgentSummary> = agents::table
        .filter(agents::id.eq_any(&agent_ids))
        .select(AgentRow::as_select())
        .load::<AgentRow>(conn)?
        .into_iter()
        .map(|agent| {
            let summary = AgentSummary {
                id: db::uuid(&agent.id)?,
                kind: AgentKind::from_db(&agent.kind)?,
                name: agent.name,
                description: agent.description,
                anonymous: agent.anonymous,
            };
            Ok((agent.id, summary))
        })
        .collect::<Result<_, ApiError>>()?;
    let sources = sources
        .into_iter()
        .map(|source| {
            let summary = SourceSummary {
                id: db::uuid(&source.id)?,
                kind: SourceKind::from_db(&source.kind)?,
                title: source.title,
                url: source.url,
                published_on: PartialDate::from_db(source.published_on),
                publisher: source.publisher_id.and_then(|p| agents.get(&p).cloned()),
            };
            Ok((source.id, summary))
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Summaries { sources, agents })
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    precondition: Precondition,
    patch: &MergePatch,
) -> Result<Claim, ApiError> {
    let current = find(conn, id)?;
    let tags = tags_of(conn, std::slice::from_ref(&current.id))?.remove(&current.id).unwrap_or_default();
    let body = patch.apply(&current.writable(tags)?, id)?;
    // The body is checked first: an invalid patch is a 422 whatever the version.
    precondition.check(current.version)?;
    let row = ClaimRow::new(id.to_string(), &body, current.created_at, db::now(), current.version + 1);
    let changed = diesel::update(claims::table.filter(claims::id.eq(id)).filter(claims::version.eq(current.version)))
        .set(&row)
        .execute(conn)?;
    if changed == 0 {
        // A concurrent writer got there first (PostgreSQL let us read the
        // row before it committed): name the version it left, or 404.
        return Err(ApiError::precondition_failed(find(conn, id)?.version));
    }
    let tags = distinct_tags(&body.tags);
    replace_tags(conn, id, &tags)?;
    row.into_api(tags)
}

pub fn delete(conn: &mut DbConnection, id: &str, precondition: Precondition) -> Result<(), ApiError> {
    let current = find(conn, id)?;
    precondition.check(current.version)?;
    refs::ensure_unreferenced(conn, Target::Claim, id)?;
    diesel::delete(claim_tags::table.filter(claim_tags::claim_id.eq(id))).execute(conn)?;
    let deleted = diesel::delete(claims::table.filter(claims::id.eq(id)).filter(claims::version.eq(current.version)))
        .execute(conn)?;
    if deleted == 0 {
        return Err(ApiError::precondition_failed(find(conn, id)?.version));
    }
    Ok(())
}

/// Marks as changed the claims whose cards show this source, as the source
/// of an attribution or as the source it cites: its summary there changed.
pub fn touch_showing_source(conn: &mut DbConnection, source_id: &str) -> Result<(), ApiError> {
    let showing = attributions::table
        .select(attributions::claim_id)
        .filter(attributions::source_id.eq(source_id).or(attributions::cited_source_id.eq(source_id)));
    diesel::update(claims::table.filter(claims::id.eq_any(showing)))
        .set((claims::version.eq(claims::version + 1), claims::updated_at.eq(db::now())))
        .execute(conn)?;
    Ok(())
}

/// Marks as changed the claims whose cards show this agent: as a speaker,
/// or as the publisher of a source an attribution states or cites.
pub fn touch_showing_agent(conn: &mut DbConnection, agent_id: &str) -> Result<(), ApiError> {
    let published = || sources::table.select(sources::id.nullable()).filter(sources::publisher_id.eq(agent_id));
    let showing = attributions::table.select(attributions::claim_id).filter(
        attributions::speaker_id
            .eq(agent_id)
            .or(attributions::source_id.nullable().eq_any(published()))
            .or(attributions::cited_source_id.eq_any(published())),
    );
    diesel::update(claims::table.filter(claims::id.eq_any(showing)))
        .set((claims::version.eq(claims::version + 1), claims::updated_at.eq(db::now())))
        .execute(conn)?;
    Ok(())
}

/// Marks claims as changed (version +1) because their attributions, which
/// are part of the claim card, changed.
pub fn touch(conn: &mut DbConnection, claim_ids: &[String]) -> Result<(), ApiError> {
    let ids: BTreeSet<&String> = claim_ids.iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(claims::table.filter(claims::id.eq_any(ids)))
        .set((claims::version.eq(claims::version + 1), claims::updated_at.eq(db::now())))
        .execute(conn)?;
    Ok(())
}
