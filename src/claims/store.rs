//! Claim rows and their queries: lists with filters, and the claim card.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    AgentSummary, CardAttribution, Claim, ClaimCard, ClaimKind, ClaimQuery, ClaimSort, ClaimStatus, Comparator,
    NewClaim, Quantity, SourceSummary,
};
use crate::agents::model::AgentKind;
use crate::agents::store::AgentRow;
use crate::attributions::store::{self as attribution_store, AttributionRow};
use crate::db::refs::{self, Target};
use crate::db::schema::{agents, attributions, claim_tags, claims, sources};
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::{MergePatch, Page, Precondition, decode_cursor, paginate};
use crate::sources::model::SourceKind;
use crate::sources::store::{self as source_store, SourceRow};
use crate::validate::PartialDate;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
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
    let sources: HashMap<String, SourceRow> =
        source_store::by_ids(conn, &source_ids)?.into_iter().map(|s| (s.id.clone(), s)).collect();
    let agent_ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r.speaker_id.clone())
        .chain(sources.values().filter_map(|s| s.publisher_id.clone()))
        .collect();
    let agents: HashMap<String, AgentRow> = agents::table
        .filter(agents::id.eq_any(&agent_ids))
        .select(AgentRow::as_select())
        .load::<AgentRow>(conn)?
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    let agent_summary = |id: Option<&String>| -> Result<Option<AgentSummary>, ApiError> {
        let Some(agent) = id.and_then(|id| agents.get(id)) else { return Ok(None) };
        Ok(Some(AgentSummary {
            id: db::uuid(&agent.id)?,
            kind: AgentKind::from_db(&agent.kind)?,
            name: agent.name.clone(),
            description: agent.description.clone(),
            anonymous: agent.anonymous,
        }))
    };
    let source_summary = |id: &String| -> Result<SourceSummary, ApiError> {
        let source =
            sources.get(id).ok_or_else(|| ApiError::internal(format!("attribution names missing source {id}")))?;
        Ok(SourceSummary {
            id: db::uuid(&source.id)?,
            kind: SourceKind::from_db(&source.kind)?,
            title: source.title.clone(),
            url: source.url.clone(),
            published_on: PartialDate::from_db(source.published_on.clone()),
            publisher: agent_summary(source.publisher_id.as_ref())?,
        })
    };
    rows.into_iter()
        .map(|row| {
            let source = source_summary(&row.source_id)?;
            let cited_source = row.cited_source_id.as_ref().map(&source_summary).transpose()?;
            let speaker = agent_summary(row.speaker_id.as_ref())?;
            Ok(CardAttribution { attribution: row.into_api()?, source, speaker, cited_source })
        })
        .collect()
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as escape.
fn like_pattern(words: &str) -> String {
    let mut pattern = String::from("%");
    for c in words.chars().flat_map(char::to_lowercase) {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

diesel::define_sql_function! {
    /// SQL `lower`, on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub fn list(conn: &mut DbConnection, query: ClaimQuery, limit: i64) -> Result<Page<Claim>, ApiError> {
    let mut select = claims::table.select(ClaimRow::as_select()).into_boxed();
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 2000 || q.contains('\0') {
            return Err(ApiError::bad_parameter("q", "must be at most 2000 characters, without NUL"));
        }
        let pattern = like_pattern(q);
        let in_quotes = attributions::table
            .filter(lower(attributions::quote_exact.assume_not_null()).like(pattern.clone()).escape('\\'))
            .select(attributions::claim_id);
        select = select.filter(
            lower(claims::text)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(claims::subject.assume_not_null()).like(pattern).escape('\\'))
                .or(claims::id.eq_any(in_quotes)),
        );
    }
    if let Some(kind) = query.kind {
        select = select.filter(claims::kind.eq(kind.as_str()));
    }
    if let Some(status) = query.status {
        select = select.filter(claims::status.eq(status.as_str()));
    }
    if let Some(tag) = &query.tag {
        select = select.filter(
            claims::id.eq_any(claim_tags::table.filter(claim_tags::tag.eq(tag.clone())).select(claim_tags::claim_id)),
        );
    }
    if let Some(source) = query.source_id {
        select = select.filter(claims::id.eq_any(
            attributions::table.filter(attributions::source_id.eq(source.to_string())).select(attributions::claim_id),
        ));
    }
    if let Some(speaker) = query.speaker_id {
        select = select.filter(claims::id.eq_any(
            attributions::table.filter(attributions::speaker_id.eq(speaker.to_string())).select(attributions::claim_id),
        ));
    }
    if let Some(publisher) = query.publisher_id {
        let published = sources::table.filter(sources::publisher_id.eq(publisher.to_string())).select(sources::id);
        select = select.filter(claims::id.eq_any(
            attributions::table.filter(attributions::source_id.eq_any(published)).select(attributions::claim_id),
        ));
    }
    if let Some(place) = &query.place {
        select = select.filter(claims::place.eq(place.clone()));
    }
    if let Some(unit) = &query.unit {
        select = select.filter(claims::quantity_unit.eq(unit.clone()));
    }
    if let Some(min) = query.value_min {
        select = select.filter(claims::quantity_value.ge(min));
    }
    if let Some(max) = query.value_max {
        select = select.filter(claims::quantity_value.le(max));
    }
    if let (Some(from), Some(to)) = (&query.period_from, &query.period_to)
        && from.earliest() > to.latest()
    {
        return Err(ApiError::bad_parameter("period_to", "must not be before period_from"));
    }
    if query.period_from.is_some() || query.period_to.is_some() {
        // A claim's period runs from the first day of period_start to the
        // last day of period_end; a missing end is open. Partial dates
        // compare as text: "2012" sorts before every day of 2012, and
        // "2020~" after every day of 2020.
        select = select.filter(claims::period_start.is_not_null().or(claims::period_end.is_not_null()));
        if let Some(to) = &query.period_to {
            select = select.filter(claims::period_start.is_null().or(claims::period_start.le(to.latest())));
        }
        if let Some(from) = &query.period_from {
            select = select.filter(claims::period_end.is_null().or(claims::period_end.concat("~").ge(from.earliest())));
        }
    }
    let sort = query.sort.unwrap_or_default();
    if let Some(cursor) = &query.cursor {
        let (at, id): (NaiveDateTime, String) = decode_cursor(cursor)?;
        select = match sort {
            ClaimSort::NewestFirst => {
                select.filter(claims::created_at.lt(at).or(claims::created_at.eq(at).and(claims::id.lt(id))))
            }
            ClaimSort::OldestFirst => {
                select.filter(claims::created_at.gt(at).or(claims::created_at.eq(at).and(claims::id.gt(id))))
            }
        };
    }
    select = match sort {
        ClaimSort::NewestFirst => select.order((claims::created_at.desc(), claims::id.desc())),
        ClaimSort::OldestFirst => select.order((claims::created_at.asc(), claims::id.asc())),
    };
    let rows = select.limit(limit + 1).load(conn)?;
    let (rows, next_cursor) = paginate(rows, limit, |r: &ClaimRow| (r.created_at, r.id.clone()));
    Ok(Page { items: with_tags(conn, rows)?, next_cursor })
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
